/*
 * The vocabulary of the SQL analysis that its core (src/sqlcheck.c) and
 * its rule families (src/lint/) share, and the part of its API that
 * src/lint/ implements: findings and their list (findings.c), the rule
 * table (rules.c) and PostgreSQL's scanner (scan.c).  Everything here
 * is below the core: nothing in src/lint/ includes sqlcheck.h, so the
 * arrows run from the core down into src/lint/, never back.  Users of
 * the analysis include sqlcheck.h, which includes this header.
 */
#ifndef EXCON_LINT_H
#define EXCON_LINT_H

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

#endif
