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
#include "lint/lint.h"
#include "plan.h"

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
