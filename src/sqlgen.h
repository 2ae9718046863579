/*
 * SQL generation: what a plan step turns into on PostgreSQL, as a script
 * of units (see exec.h for the naming conventions in the database).  Pure:
 * no connection and no I/O, so the statements a step runs can be tested
 * and shown (--dry-run) without a database; exec.c runs them.
 *
 * A script is a list of units, each either one transaction (BEGIN ...
 * COMMIT) or statements run outside a transaction.  Every unit is
 * idempotent on its own (IF [NOT] EXISTS, or a DO block that looks at the
 * catalog first), so a rerun after a crash between units is safe.  A
 * transactional step writes its ledger row in its last unit, a
 * non-transactional one in a unit of its own afterwards.
 *
 * Errors: functions return 0 or -1 with one message in err.
 */
#ifndef EXCON_SQLGEN_H
#define EXCON_SQLGEN_H

#include <stddef.h>

#include "buf.h"
#include "plan.h"

/* How a unit runs. */
enum sqlgen_unit_kind {
	SQLGEN_TX,		/* one transaction */
	SQLGEN_NOTX,		/* autocommit statements */
	SQLGEN_INDEX,		/* drop an INVALID leftover index, then build (autocommit) */
	SQLGEN_BACKFILL,	/* the batched backfill (backfill.h); no statements */
};

/* One statement; $1.. are bound to params[]. */
struct sqlgen_stmt {
	char	*sql;
	char	*params[4];
	int	 nparams;
	int	 script;	/* verbatim SQL from the plan: simple protocol */
};

/* Statements run together, as kind says. */
struct sqlgen_unit {
	enum sqlgen_unit_kind	 kind;
	struct sqlgen_stmt	*v;
	size_t			 n;
	size_t			 cap;
	char			*schema;	/* SQLGEN_INDEX: the index to check */
	char			*name;
};

/* What one step runs, in order.  Owns everything in it. */
struct sqlgen_script {
	struct sqlgen_unit	*v;
	size_t			 n;
	size_t			 cap;
};

/* Frees a script's units and statements; leaves it empty. */
void sqlgen_script_free(struct sqlgen_script *sc);

/*
 * A copy of a step whose SQL fragments are replaced by what the parser
 * read (sqlcheck_fragment): comments and ';' are gone, so no fragment can
 * change or extend the statement built around it.  Everything else is
 * borrowed from the plan's step; sqlgen_parsed_free() frees what the copy
 * owns.
 */
struct sqlgen_parsed {
	struct step		 s;
	char			*own[8];
	size_t			 nown;
	struct plan_column	*tcols;
};

/*
 * Fills ps with the parsed copy of s.  Returns -1 with a message when a
 * fragment is not of its shape or a name holds '$excon$'; ps is then empty
 * (sqlgen_parsed_free is safe).
 */
int sqlgen_parse(const struct step *s, struct sqlgen_parsed *ps, struct buf *err);
/* Frees what a parsed copy owns (NULL-safe). */
void sqlgen_parsed_free(struct sqlgen_parsed *ps);

/* 1 when the step kind (with its options) runs SQL on the database. */
int sqlgen_runs_sql(const struct step *s);

/*
 * Appends to sc the script of step s of plan p (s should be a parsed copy,
 * see sqlgen_parse), ending with its ledger INSERT.  A step without SQL
 * leaves sc empty.  -1 with e.g. "step 'x': missing 'column'".
 */
int sqlgen_step(const struct plan *p, const struct step *s,
    struct sqlgen_script *sc, struct buf *err);
/*
 * Appends to sc the script undoing step s: its `down` (for a dual_write
 * trigger step, dropping the trigger and its function) and the DELETE of
 * its ledger row.  -1 for a DB step without `down`.
 */
int sqlgen_rollback(const struct plan *p, const struct step *s,
    struct sqlgen_script *sc, struct buf *err);

/* Appends stmt ending in ";\n", its parameters inlined as literals. */
void sqlgen_render_stmt(struct buf *out, const struct sqlgen_stmt *st);
/*
 * Appends unit u as the dry run shows it: BEGIN/COMMIT around a
 * transaction, the leftover-index check of an index build as a query and
 * "--" comments.  A backfill unit appends nothing (see backfill_describe).
 */
void sqlgen_render_unit(struct buf *out, const struct sqlgen_unit *u);

/* The step's schema, "public" when absent (borrowed). */
const char *sqlgen_schema_of(const struct step *s);
/* Appends "schema"."name". */
void sqlgen_qualified(struct buf *b, const char *schema, const char *name);
/* Appends the step's quoted, schema-qualified table. */
void sqlgen_table(struct buf *b, const struct step *s);
/* Appends "table" or "schema.table" (when not public), for messages. */
void sqlgen_display_table(struct buf *b, const struct step *s);
/* Appends the sync trigger (and function) name of a dual_write step. */
void sqlgen_sync_name(struct buf *out, const struct step *s);
/* Appends an index name: the step's, or <table>_<col>..._idx. */
void sqlgen_index_name(struct buf *out, const struct step *s);
/* Appends a constraint name: the step's, or <table>_<col>_check / _fkey. */
void sqlgen_constraint_name(struct buf *out, const struct step *s);
/*
 * Cuts name to what PostgreSQL stores: at most 63 bytes, never inside a
 * UTF-8 character, as the server truncates a longer identifier.
 */
void sqlgen_catalog_name(struct buf *name);

#endif
