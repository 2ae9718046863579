/*
 * The SQL analysis's private interface: what its core (src/sqlcheck.c:
 * parsing, the walk over statements, excon:allow comments, fragments
 * and the usage analysis) shares with the rule families in
 * src/lint/rule-*.c.  Only these files include pg_query.h; everything
 * else sees the analysis through src/sqlcheck.h.
 *
 * Layering: everything declared here is defined in src/lint/ (an.c, the
 * analysis state's helpers; rules.c, the rule table; the families), and
 * this header takes its types from lint/lint.h, never from sqlcheck.h.
 * So the core calls down into src/lint/ and nothing there calls back up
 * into the core (scripts/check-layers.sh checks both).
 *
 * A rule family is one file that exports a `struct lint_family`: the
 * rows of the rule table it owns (id, severity, summary, fix) and the
 * statement kinds it checks (a parse-tree node case and a function).
 * rules.c lists the families once (families[]); it assembles the rule
 * table from their rows and, for every top-level statement the core
 * hands it (lint_check_stmt), calls the hooks whose node case matches.
 * Adding a rule is a row in its family's table and the code that
 * reports it; adding a family is a file and a row in families[].
 */
#ifndef EXCON_LINT_INT_H
#define EXCON_LINT_INT_H

#include <stddef.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "buf.h"
#include "lint/lint.h"
#include "pos.h"

/* Short names of the parse tree's enum values. */
#define NC(x)	PG_QUERY__NODE__NODE_##x
#define AT(x)	PG_QUERY__ALTER_TABLE_TYPE__AT_##x
#define CT(x)	PG_QUERY__CONSTR_TYPE__CONSTR_##x
#define OT(x)	PG_QUERY__OBJECT_TYPE__OBJECT_##x

/* A list of owned strings with linear lookup (inputs are small). */
struct strset {
	char	**v;
	size_t	  n;
	size_t	  cap;
	size_t	 *slots;	/* hash table of index + 1 into v; 0 = empty */
	size_t	  nslots;	/* a power of two, at least 2 * n */
};

/* ------------------------------------------------------------------ */
/* Analysis state                                                      */
/* ------------------------------------------------------------------ */

/* A CHECK constraint seen in the input. */
struct check {
	char	*table;		/* key "schema.table" */
	char	*name;		/* may be NULL when unnamed */
	char	*column;	/* set for CHECK (column IS NOT NULL) */
	int	 validated;
};

/* A column type declared in the input. */
struct coltype {
	char	*key;		/* "schema.table.column" */
	char	*type;		/* last name of the type, e.g. "varchar" */
	int	 ntypmods;
	int	 typmods[2];
};

/* A parsed excon:allow comment. */
struct allow {
	int	 off;		/* byte offset of the comment */
	int	 end;		/* byte offset just past it */
	char	*rules;		/* comma/space separated ids (owned) */
	char	*reason;	/* NULL when missing (owned) */
	int	 stmt;		/* index of the statement it applies to, -1 */
	int	 whole_file;	/* excon:allow-file: every statement */
};

/* One top-level statement of the input. */
struct stmt {
	const PgQuery__Node *node;	/* NULL when it failed to parse */
	int	 start;		/* byte offset of its first token */
	int	 end;		/* byte offset of its terminating ';' or end */
	int	 delta;		/* add to node locations to get offsets in sql */
	int	 errpos;	/* syntax error: byte offset; node == NULL */
	char	*errmsg;	/* syntax error message (owned) */
	int	 too_deep;	/* parsed, but nested beyond SQL_MAX_DEPTH */
};

/* One analysis run over one input string. */
struct an {
	const char	*sql;		/* the parsed text */
	int		 len;
	int		 shift;		/* bytes of sql before the user's text */
	const char	*file;
	struct pos	 base;
	int		 block;
	const struct sqlctx *ctx;
	const struct sqlrule *rules;	/* the rule table (sqlcheck_rules) */
	size_t		 nrules;
	struct findings	*out;
	int		 no_unbatched;	/* backfill `set`: excon batches it */

	struct stmt	*stmts;
	size_t		 nstmts, capstmts;
	size_t		 cstmt;		/* the statement being analyzed */

	struct allow	*allows;
	size_t		 nallows, capallows;
	int		 tx_marker;	/* a comment says: no transaction */

	int		 in_tx;
	struct strset	 created;	/* tables created in this input */
	struct strset	 locked;	/* ACCESS EXCLUSIVE in current tx */
	int		 lock_reported;	/* per statement */
	struct check	*checks;
	size_t		 nchecks, capchecks;
	struct coltype	*types;
	size_t		 ntypes, captypes;
	struct strset	 typekeys;	/* the keys of types, in the same order */

	/* Allows by statement: allow_by[allow_at[i] .. allow_at[i + 1]). */
	size_t		*allow_by;
	size_t		*allow_at;
	/* excon:allow-file comments with a reason: they cover every statement. */
	size_t		*file_allows;
	size_t		 nfile_allows;

	/* Offsets where each line of the user's text starts (an_pos). */
	int		*lines;
	size_t		 nlines;
};

/* A check a family runs on every top-level statement of one node case. */
struct lint_hook {
	PgQuery__Node__NodeCase	 node_case;
	void			(*check)(struct an *a, const PgQuery__Node *n);
};

/*
 * One rule family: the rows of the rule table it owns and the statements
 * it checks.  Hooks of every family run in the order of families[], then
 * of hooks[]; a finding may name a rule of another family.
 */
struct lint_family {
	const char		*name;		/* e.g. "index" */
	const struct sqlrule	*rules;
	size_t			 nrules;
	const struct lint_hook	*hooks;
	size_t			 nhooks;
};

/* The families (src/lint/rule-*.c). */
extern const struct lint_family lint_family_index;
extern const struct lint_family lint_family_transaction;
extern const struct lint_family lint_family_constraint;
extern const struct lint_family lint_family_column;
extern const struct lint_family lint_family_phase;
extern const struct lint_family lint_family_table;

/* The number of elements of a static array. */
#define LINT_N(v)	(sizeof (v) / sizeof (v)[0])

/* rules.c: runs every family's hooks for the node case of statement n. */
void lint_check_stmt(struct an *a, const PgQuery__Node *n);

/* ---- an.c: string sets, findings at offsets, parse-tree helpers ---- */

/* 1 when s is in set. */
int strset_has(const struct strset *set, const char *s);
/* 1 when the table "schema.table" was created earlier in this input. */
int is_new(const struct an *a, const char *key);
/* The index of s in set->v (the order of adding), or -1. */
long strset_index(const struct strset *set, const char *s);
/* Adds a copy of s unless present. */
void strset_add(struct strset *set, const char *s);
/* Empties set, keeping nothing. */
void strset_clear(struct strset *set);
/* Frees set. */
void strset_free(struct strset *set);

/*
 * The fix text of rule id for a plain migration file of another tool,
 * where the plan vocabulary means nothing; NULL when the rule table's
 * fix fits both.
 */
const char *lint_plain_fix(const char *id);
/* The position in the file of byte offset off of the parsed text. */
struct pos an_pos(struct an *a, int off);
/*
 * Adds a finding of rule id at byte offset off of the parsed text, with a
 * printf message; returns it (borrowed until the list changes).
 */
struct finding *an_report(struct an *a, const char *id, int off,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "schema.name" (owned). */
char *qual_key(const char *schema, const char *name);
/* The "schema.table" key of a RangeVar (owned). */
char *rv_key(const PgQuery__RangeVar *rv);
/* The last name of a type ("varchar" for pg_catalog.varchar). */
const char *type_base(const PgQuery__TypeName *t);
/* 1 when a type name is one of the serial pseudo-types. */
int is_serial(const char *base);
/* 1 when a DefElem list contains name (with no argument or a true one). */
int has_option(PgQuery__Node **opts, size_t n, const char *name);

/* 1 when s is NULL or "" (protobuf-c leaves unset strings as ""). */
static inline int
empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* The string of a String node, or NULL. */
static inline const char *
node_str(const PgQuery__Node *n)
{
	if (n == NULL || n->node_case != NC(STRING) || n->string == NULL)
		return NULL;
	return n->string->sval;
}

/* The schema of a RangeVar, "public" when not qualified. */
static inline const char *
rv_schema(const PgQuery__RangeVar *rv)
{
	return empty(rv->schemaname) ? "public" : rv->schemaname;
}

/* The current statement. */
static inline const struct stmt *
cur(const struct an *a)
{
	return &a->stmts[a->cstmt];
}

/* Byte offset in sql of a node location (statement start when unknown). */
static inline int
loc(const struct an *a, int location)
{
	if (location < 0)
		return cur(a)->start;
	return cur(a)->delta + location;
}

/* 1 when SQL of a plan step (not its rollback) is analyzed. */
static inline int
plan_forward(const struct an *a)
{
	return a->ctx->in_plan && !a->ctx->rollback;
}

/* ---- shared by the families ---- */

/* rule-transaction.c: an ACCESS EXCLUSIVE lock on key in the current tx. */
void lock_ae(struct an *a, const char *key, int off);
/* rule-transaction.c: locks every RangeVar of a list ACCESS EXCLUSIVE. */
void lock_list(struct an *a, PgQuery__Node **rels, size_t n, int off);
/* rule-phase.c: "a"/"an" phase name for messages. */
const char *phase_article(enum phase p);
/* rule-phase.c: a statement destroys an object (`what` names it). */
void destructive(struct an *a, const char *rule, enum cover_kind kind,
    const char *schema, const char *table, const char *column,
    const char *name, const char *what, int off);
/* rule-column.c: remembers the declared type of table.column. */
void remember_type(struct an *a, const char *tkey, const char *col,
    const PgQuery__TypeName *t);
/* rule-column.c: ALTER TABLE ... ADD COLUMN. */
void check_add_column(struct an *a, const char *key,
    const PgQuery__AlterTableCmd *cmd);
/* rule-column.c: ALTER TABLE ... ALTER COLUMN ... SET NOT NULL. */
void check_set_not_null(struct an *a, const char *key, const char *col,
    int off);
/* rule-column.c: ALTER TABLE ... ALTER COLUMN ... TYPE. */
void check_type_change(struct an *a, const char *key,
    const PgQuery__AlterTableCmd *cmd, int off);
/* rule-constraint.c: ADD CONSTRAINT; 1 when it takes ACCESS EXCLUSIVE. */
int check_add_constraint(struct an *a, const char *key,
    const PgQuery__Constraint *con);

#endif
