/*
 * SQL safety analysis with PostgreSQL's own parser (libpg_query).
 *
 * The analysis reads SQL the way the server does, walks the parse tree
 * and reports statements that would lock or rewrite a busy table, break
 * the code of the running release, or not survive a re-run.  It knows
 * what the SQL is for (struct sqlctx): a step of a plan in some phase and
 * stage, or a plain migration file of another tool checked against the
 * contract steps of the plans ("covers").
 *
 * This module (sqlcheck.c and its rule families in src/lint/) is the only
 * user of pg_query.h.  Every public function appends to a struct findings
 * owned by the caller; functions return 0 on
 * success (whatever was found) and -1 with a message in err only when the
 * analysis itself could not run (unreadable file).
 *
 * Identifiers: the parser folds unquoted names to lower case and keeps
 * quoted names as written; names taken from SQL are compared exactly,
 * after that folding, with the names of covers (which are the exact
 * object names, as excon quotes them).  A name without a schema is in
 * "public".
 */
#ifndef EXCON_SQLCHECK_H
#define EXCON_SQLCHECK_H

#include <stddef.h>

#include "buf.h"
#include "plan.h"

/* Severities of findings and rules. */
#define SEV_ERROR	0
#define SEV_WARNING	1
#define SEV_NOTE	2	/* audit: worth knowing, not a problem */

/*
 * One problem found in SQL.  Every string is owned by the finding.
 * A suppressed finding (an `excon:allow` comment with a reason matched it)
 * stays in the list so that lint can show it; it does not fail lint.
 */
struct finding {
	char	*rule;		/* stable id, e.g. "E-DROP-COLUMN" */
	int	 severity;	/* SEV_ERROR or SEV_WARNING */
	char	*file;		/* as given by the caller; may be "" */
	int	 line;		/* from 1 */
	int	 col;		/* from 1, in characters */
	char	*msg;		/* lowercase, names quoted */
	char	*fix;		/* the safe alternative */
	int	 suppressed;	/* 1 when an excon:allow comment covers it */
	char	*reason;	/* the allow comment's reason, or NULL */
};

/* A growable list of findings; FINDINGS_INIT or zeroed memory is empty. */
struct findings {
	struct finding	*v;
	size_t		 n;
	size_t		 cap;
};

#define FINDINGS_INIT { NULL, 0, 0 }

/*
 * Appends a finding; every string is copied (fix may be NULL).
 * Returns the new finding, borrowed until the list changes.
 */
struct finding *findings_add(struct findings *f, const char *rule,
    int severity, const char *file, int line, int col, const char *msg,
    const char *fix);
/* Frees every finding and the array, leaving f empty (NULL-safe). */
void findings_free(struct findings *f);
/* Removes the findings of the rules named in ids (NULL-terminated; NULL = none). */
void findings_drop(struct findings *f, char *const *ids);
/* Sorts by file, line, column, then the order they were found. */
void findings_sort(struct findings *f);
/* Number of unsuppressed findings of severity sev (-1 = any severity). */
size_t findings_count(const struct findings *f, int sev);

/* One rule of the analysis. */
struct sqlrule {
	const char	*id;		/* stable, documented in the README */
	int		 severity;
	const char	*summary;	/* one line: what goes wrong */
	const char	*fix;		/* one line: the safe alternative */
};

/* The rule table (borrowed, static); *n gets its length. */
const struct sqlrule *sqlcheck_rules(size_t *n);
/* The rule called id (case-sensitive), or NULL. */
const struct sqlrule *sqlcheck_rule(const char *id);
/*
 * The fix text findings of rule id carry: the rule table's for SQL of a
 * plan (in_plan = 1), or one in the words of a plain migration file.
 */
const char *sqlcheck_fix(const char *id, int in_plan);

/* What kind of object a contract step destroys. */
enum cover_kind {
	COVER_COLUMN,		/* drop_column: table + column */
	COVER_TABLE,		/* drop_table: table */
	COVER_INDEX,		/* drop_index: name (table unused) */
	COVER_CONSTRAINT,	/* drop_constraint: table + name */
	COVER_NOT_NULL,		/* stop_old_writes drop_not_null: table + column */
	COVER_TRIGGER,		/* drop_trigger: table + name */
};

/*
 * An object that a contract step of a plan may destroy.  Strings are
 * borrowed from the caller (usually from the loaded plans).  `open` is
 * 1 when the gate rules say that step's window is open now; the command's
 * gate code computes it, this module only reads it.
 *
 * A plain SQL file may drop, rename or DROP NOT NULL an object only when
 * an open cover names that exact object: a dropped or renamed column
 * needs a COVER_COLUMN, a dropped or renamed table a COVER_TABLE, and so
 * on; a COVER_TABLE does not cover the columns of that table.
 */
struct cover {
	const char	*schema;	/* NULL = "public" */
	const char	*table;		/* NULL for COVER_INDEX */
	const char	*column;	/* COVER_COLUMN, COVER_NOT_NULL */
	const char	*name;		/* COVER_INDEX/CONSTRAINT/TRIGGER */
	enum cover_kind	 kind;
	const char	*plan;		/* plan name, for messages */
	const char	*step;		/* step id, for messages */
	int		 open;		/* 1 when the contract window is open */
};

/* sqlctx.transaction: decide from the SQL (plain files). */
#define SQL_TX_DETECT	(-1)

/*
 * What the SQL is for.  Zeroed memory is not a valid context: start from
 * sqlctx_plain() or sqlctx_step().
 *
 * transaction: 1 when the statements run inside one transaction, 0 when
 * each runs on its own (autocommit), SQL_TX_DETECT for a plain migration
 * file: as the tool runs it.  By default (squawk's convention, and how
 * Flyway runs a script of non-transactional statements) each statement
 * runs on its own; with assume_tx the file is one transaction unless it
 * manages its own (it contains BEGIN/COMMIT, or a
 * `-- +goose NO TRANSACTION`, `transaction:false` (dbmate) or
 * `excon:no-transaction` comment) or holds only statements that cannot
 * run in one (Flyway's rule).  Statements between BEGIN and COMMIT are in
 * a transaction either way.
 */
struct sqlctx {
	int		 in_plan;	/* 1 for a step of a plan */
	enum phase	 phase;		/* in_plan only */
	enum stage	 stage;		/* in_plan only */
	enum step_kind	 kind;		/* in_plan only */
	const char	*plan;		/* in_plan only: for messages; may be NULL */
	const char	*step;		/* in_plan only: for messages; may be NULL */
	int		 transaction;	/* 1, 0 or SQL_TX_DETECT */
	int		 assume_tx;	/* SQL_TX_DETECT: no marker and no BEGIN means one transaction */
	int		 rollback;	/* 1 for a step's `down`: undoing is not destroying */
	const struct cover *covers;	/* plain files: open/closed contract objects */
	size_t		 ncovers;
};

/* A context for a plain migration file with the given covers (borrowed). */
struct sqlctx sqlctx_plain(const struct cover *covers, size_t ncovers);
/* A context for the SQL of one step of plan p (phase, stage, kind, tx). */
struct sqlctx sqlctx_step(const struct plan *p, const struct step *s);

/*
 * Analyzes the statements in sql and appends findings.  `file` names the
 * file in findings; `base` is where sql starts in that file.  With
 * block = 1 (a YAML block scalar) line n of sql is file line
 * base.line + n and every line starts at column base.col; with block = 0
 * the text is laid out verbatim from base (a one-line scalar: line
 * base.line, column base.col + offset; a .sql file: base = 1:1).  A
 * statement that does not parse is a finding (E-SYNTAX) at the parser's
 * position; the other statements are still analyzed.  ctx NULL means
 * sqlctx_plain(NULL, 0).  Returns 0.
 */
int sqlcheck_sql(const char *sql, const char *file, struct pos base,
    int block, const struct sqlctx *ctx, struct findings *out,
    struct buf *err);

/*
 * Reads the plain migration file at path and analyzes it (base 1:1).
 * ctx NULL means sqlctx_plain(NULL, 0).  Returns -1 when the file cannot
 * be read.
 */
int sqlcheck_file(const char *path, const struct sqlctx *ctx,
    struct findings *out, struct buf *err);

/*
 * Analyzes every SQL-bearing field of every step of p in that step's
 * context (sqlctx_step): `up`, `down` (as a rollback), `verify`, the
 * backfill `set` (as `UPDATE table SET <set>`, batched by excon) and
 * `where`, `check`, `default`, `type`, and dual_write `up`/`down`
 * expressions; locations are in p->file.  Plan phase rules apply to
 * `sql` steps: new tables, columns and indexes in a post step are errors
 * (E-ADDITIVE-IN-POST), destructive statements outside a contract step
 * or in a pre step are errors, destructive statements in a contract step
 * are expected.  base_ctx may be NULL; only its covers are used (unused
 * today).  Returns 0.
 */
int sqlcheck_plan(const struct plan *p, const struct sqlctx *base_ctx,
    struct findings *out, struct buf *err);

/* sqlcheck_plan for the one step s of p (what advance checks before it runs). */
int sqlcheck_step(const struct plan *p, const struct step *s,
    const struct sqlctx *base_ctx, struct findings *out, struct buf *err);

/* The shapes of a plan's SQL fragments (SPEC section 6). */
enum sqlfrag {
	FRAG_EXPR,	/* one value expression: check, where, dual_write up/down, column default */
	FRAG_TYPE,	/* one type name, optionally with COLLATE: type */
	FRAG_SET,	/* one UPDATE assignment list: backfill set */
	FRAG_QUERY,	/* one SELECT (no INTO, FOR UPDATE or data-modifying WITH): verify */
};

/*
 * Parses text as exactly one fragment of shape k, the way excon embeds
 * it.  On success returns 0 and sets *clean (owned by the caller; NULL
 * when text is NULL) to the text the statement is built from: the tokens
 * the parser read, with comments turned into spaces and ';' removed, so
 * nothing in the text can change or extend the statement around it.
 * Returns -1 with a message when the text does not parse, is not of that
 * shape, holds more than one statement or the reserved '$excon$'.
 */
int sqlcheck_fragment(enum sqlfrag k, const char *text, char **clean,
    struct buf *err);

/* The libpg_query parser version (the PostgreSQL grammar it carries). */
const char *sqlcheck_lib_version(void);

/* What a contract removes, for the usage analysis of rule 9. */
enum use_kind {
	USE_COLUMN,		/* a column of a table */
	USE_RELATION,		/* a table, view or materialized view */
	USE_FUNCTION,		/* a function or procedure */
};

/*
 * The object whose use sqlcheck_uses looks for.  Strings are borrowed and
 * are the exact object names (as the catalog spells them).  A name
 * written without a schema in the statement matches whatever the schema,
 * because the server's search_path is not known here: the analysis errs
 * towards seeing use.
 */
struct use_target {
	enum use_kind	 kind;
	const char	*schema;	/* NULL = "public" */
	const char	*name;		/* table, view or function */
	const char	*column;	/* USE_COLUMN only */
};

/*
 * Whether the statement text sql (as pg_stat_statements records it:
 * constants replaced by $n placeholders; several statements allowed)
 * reads, writes or names the object t.  A column is used when it is
 * named through the table, an alias, a schema-qualified or quoted name,
 * from a CTE or a subquery, or when every column is: `SELECT *`, `t.*`,
 * a whole-row reference `t`, `RETURNING *`, `INSERT` or `COPY` without a
 * column list.  A table or view is used wherever it is named (not a CTE
 * of the same name); a function wherever it is called.  A text that does
 * not parse, or nests too deep to walk, counts as use when it contains
 * the name as a word (case-insensitive): unknown is not "unused".
 * Returns 1 when used, 0 when not.
 */
int sqlcheck_uses(const char *sql, const struct use_target *t);


/* Kinds of the tokens of sqlcheck_scan. */
enum sqltok {
	SQLTOK_IDENT,		/* identifier or keyword, unquoted */
	SQLTOK_QIDENT,		/* "quoted identifier" (or U&"...") */
	SQLTOK_STRING,		/* '...', E'...', $tag$...$tag$, B'...', X'...' */
	SQLTOK_COMMENT,		/* -- ... or a C-style comment */
	SQLTOK_CAST,		/* :: */
	SQLTOK_DOT,		/* . */
	SQLTOK_LPAREN,		/* ( */
	SQLTOK_SEMI,		/* ; */
	SQLTOK_OTHER,		/* numbers, operators, punctuation, $1 */
};

/* One token: its kind and its bytes [start, end) in the scanned text. */
struct sqltoken {
	enum sqltok	 kind;
	int		 start;
	int		 end;
};

/*
 * Splits sql into the tokens PostgreSQL's scanner (libpg_query's, the
 * grammar of sqlcheck_lib_version) reads; white space between tokens is
 * not a token.  *out (owned by the caller) gets *n tokens.  Returns 0, or
 * -1 with the scanner's message in err (an unterminated quote, comment or
 * dollar quote, a zero-length "" name...).
 */
int sqlcheck_scan(const char *sql, struct sqltoken **out, size_t *n,
    struct buf *err);

/*
 * The category of word in the scanner's keyword list, as pg_get_keywords()
 * spells it: 'R' reserved, 'T' type or function name, 'C' column name, 'U'
 * unreserved; 0 when word is not one keyword.  This is PostgreSQL 15's
 * list (the grammar libpg_query implements).
 */
int sqlcheck_keyword(const char *word);
/*
 * The same analysis for one text and many targets: sqlcheck_parse_uses
 * keeps sql (never NULL; owned by the caller, free with
 * sqlcheck_parsed_free), and sqlcheck_parsed_uses(sp, t) answers as
 * sqlcheck_uses(sql, t) would, parsing the text at most once, and not
 * at all for a target whose names do not occur in it.
 */
struct sqlcheck_parsed;
struct sqlcheck_parsed *sqlcheck_parse_uses(const char *sql);
int sqlcheck_parsed_uses(struct sqlcheck_parsed *sp,
    const struct use_target *t);
void sqlcheck_parsed_free(struct sqlcheck_parsed *sp);

#endif
