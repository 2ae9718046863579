/*
 * The plan model: one breaking change as an ordered list of steps, loaded
 * from a YAML file (plan.c, the only user of libyaml for plans), with every
 * value's file position kept for error messages and SQL findings.
 *
 * Ownership: a struct plan owns every string and array hanging off it;
 * plan_free() releases them all.  struct plan_set owns its plans.
 */
#ifndef EXCON_PLAN_H
#define EXCON_PLAN_H

#include <stddef.h>

#include "buf.h"
#include "pos.h"

enum phase {
	PHASE_EXPAND,
	PHASE_MIGRATE,
	PHASE_CONTRACT,
};

enum stage {
	STAGE_PRE,
	STAGE_CODE,
	STAGE_POST,
};

enum step_kind {
	KIND_ADD_COLUMN,
	KIND_CREATE_TABLE,
	KIND_CREATE_INDEX,
	KIND_ADD_CONSTRAINT,
	KIND_DUAL_WRITE,
	KIND_BACKFILL,
	KIND_VALIDATE_CONSTRAINT,
	KIND_SET_NOT_NULL,
	KIND_SWITCH_READS,
	KIND_STOP_OLD_WRITES,
	KIND_DROP_COLUMN,
	KIND_DROP_TABLE,
	KIND_DROP_INDEX,
	KIND_DROP_CONSTRAINT,
	KIND_DROP_TRIGGER,
	KIND_SQL,
	KIND_CODE,
	KIND__COUNT
};

/*
 * A string value with where it came from.  For block scalars (`|`, `>`)
 * `pos` is the first character of the content, and `pos.block` is set so
 * that a position inside the string maps to line pos.line + n, column
 * pos.col + c (literal blocks keep their line structure).
 */
struct pstr {
	char		*s;		/* NULL when absent */
	struct pos	 pos;
};

/* A column of a create_table step. */
struct plan_column {
	char	*name;
	char	*type;
	char	*default_;	/* expression, or NULL */
	int	 not_null;
	int	 primary_key;	/* column-level PRIMARY KEY */
};

struct step {
	struct pstr	 id;
	enum step_kind	 kind;
	enum phase	 phase;		/* from the kind, or `phase:` for sql/code */
	enum stage	 stage;		/* from the kind, or `stage:` */
	int		 stage_set;	/* 1 when `stage:` was given */
	int		 min_releases;	/* -1 = the kind's default */
	struct pstr	 note;
	struct pos	 pos;		/* of the step's mapping */

	/* Objects. */
	struct pstr	 schema;	/* NULL means public */
	struct pstr	 table;
	struct pstr	 column;
	struct pstr	 type;
	struct pstr	 default_;	/* add_column constant default */
	struct pstr	 name;		/* index / constraint / trigger name */
	int		 unique;	/* create_index */
	char		**columns;	/* create_index columns; NULL-terminated */
	struct pstr	 where;		/* create_index partial predicate; backfill filter */
	struct pstr	 using_;	/* create_index method, e.g. gin */
	struct pstr	 check;		/* add_constraint CHECK expression */
	char		**fk_columns;	/* add_constraint FOREIGN KEY columns */
	struct pstr	 references;	/* add_constraint referenced table */
	char		**ref_columns;	/* add_constraint referenced columns */
	struct plan_column *tcols;	/* create_table columns */
	size_t		 ntcols;
	char		**primary_key;	/* create_table PRIMARY KEY columns */

	/* dual_write */
	struct pstr	 from;
	struct pstr	 to;
	int		 trigger;	/* install the sync trigger */
	/* up: new = f(old) for dual_write; the statement(s) for sql steps */
	struct pstr	 up;
	struct pstr	 down;		/* dual_write: old = g(new); else undo SQL */

	/* backfill */
	struct pstr	 set;
	int		 batch_size;	/* 0 = config */
	int		 target_batch_ms; /* 0 = config */
	int		 pause_ms;	/* -1 = config */

	/* stop_old_writes */
	int		 drop_not_null;	/* DROP NOT NULL on table.column */

	/* Common. */
	struct pstr	 verify;
	struct pstr	 lock_timeout;	/* e.g. "2s"; NULL = config */
	struct pstr	 statement_timeout;
	int		 lock_retries;	/* -1 = config */
	int		 transaction;	/* 0 for `transaction: false` */

	/*
	 * Hex SHA-256 of the normalized step (64 digits): the step's own
	 * when loaded from its file, the cache's bytes when decoded.
	 */
	char		*checksum;
};

struct plan_dep {
	char		*plan;
	char		*step;		/* NULL = the whole plan */
	struct pos	 pos;
};

struct plan {
	char		*file;		/* path as given */
	struct pstr	 name;
	struct pstr	 description;
	struct pstr	 owner;
	int		 contract_after; /* -1 = config default */
	struct pos	 contract_after_pos;
	struct pstr	 deadline;	/* YYYY-MM-DD or NULL */
	struct plan_dep	*deps;
	size_t		 ndeps;
	struct step	*steps;
	size_t		 nsteps;
	int		 borrowed;	/* decoded from a plan cache: all of it in block */
	struct plan_block *block;	/* those bytes, shared; NULL if not borrowed */
};

/*
 * Bytes that borrowed plans point into, and the arena they are decoded
 * into (plan_decode), released with the last of them.
 */
struct plan_block {
	char	*bytes;
	size_t	 len;
	void	*arenas;	/* what the plans are decoded into (plancache.c) */
	size_t	 refs;		/* plans pointing into bytes */
	void	(*release)(struct plan_block *); /* frees bytes and the block */
};

/* Every plan found in the configured directories. */
struct plan_set {
	struct plan	**plans;
	size_t		 nplans;
	size_t		 cap;
};

/* A problem found while loading or linting plans. */
struct plan_diag {
	char		*file;
	struct pos	 pos;
	char		*msg;		/* "step \"x\": unknown field ..." */
};

struct plan_diags {
	struct plan_diag *v;
	size_t		 n;
	size_t		 cap;
};

/* Static facts about a kind. */
const char *step_kind_name(enum step_kind k);
int step_kind_from_name(const char *name, enum step_kind *out);
enum phase step_kind_phase(enum step_kind k);
enum stage step_kind_stage(enum step_kind k);
/* Default min_releases of a kind (see the README table). */
int step_kind_min_releases(enum step_kind k);
/* 1 when the kind changes the database (runs SQL). */
int step_kind_is_db(enum step_kind k);
const char *phase_name(enum phase p);
const char *stage_name(enum stage s);
int stage_from_name(const char *s, enum stage *out);

/*
 * 1 when s is a PostgreSQL duration excon accepts for lock_timeout and
 * statement_timeout: a number with an optional unit (us, ms, s, min, h,
 * d), e.g. "2s", "500ms", "1.5min", "0".
 */
int plan_duration_valid(const char *s);

/* The step's effective min_releases. */
int step_min_releases(const struct step *s);
/* The schema of the step's table, "public" when absent. */
const char *step_schema(const struct step *s);

/*
 * Loads one plan file.  Returns 0 and sets *out (owned by the caller) when
 * the file parses and every field is known and well typed; otherwise
 * returns -1 and appends file:line:col diagnostics to diags.  Plan-level
 * rules (lint) are separate: see plan_lint().
 */
int plan_load(struct plan **out, const char *path, struct plan_diags *diags);
/* Frees a plan (NULL-safe). */
void plan_free(struct plan *p);

/*
 * Loads every *.yaml / *.yml file of each directory in dirs (NULL-terminated)
 * into set, sorted by plan name.  Files that fail to load add diagnostics;
 * duplicate plan names across directories are diagnostics too.  Returns
 * -1 when any file failed (the plans that loaded are still in set).
 */
int plan_set_load(struct plan_set *set, char *const *dirs, struct plan_diags *diags);
/* Lists the plan files of dirs, sorted; free with plan_files_free. */
int plan_files(char *const *dirs, char ***files, size_t *n, struct plan_diags *diags);
void plan_files_free(char **files, size_t n);
/* Sorts set by name and reports duplicate names; -1 when there are any. */
int plan_set_finish(struct plan_set *set, struct plan_diags *diags);
/*
 * A loaded plan as bytes, and back, for the plan cache (plancache.c).
 * plan_decode advances *cur and returns -1 on malformed input.  The
 * decoded plan is borrowed: its strings point into the bytes, which must
 * stay unchanged while it lives and which nothing writes to (the cache maps
 * them read-only), and the plan itself, its steps and every
 * array of it are carved out of mem, memlen zeroed bytes aligned to
 * PLAN_ARENA_ALIGN that the caller sizes with plan_decode_need (0 for
 * malformed bytes) and never reuses; plan_hold makes the plan share the
 * block that holds both, which plan_free releases with the last plan.
 */
#define PLAN_ARENA_ALIGN 16
void plan_encode(const struct plan *p, struct buf *out);
size_t plan_decode_need(const char *cur, const char *end);
/* The name of the plan encoded at cur (borrowed from the bytes), or NULL. */
const char *plan_encoded_name(const char *cur, const char *end);
int plan_decode(const char **cur, const char *end, void *mem, size_t memlen,
    struct plan **out);
/* Adds one already loaded plan to set (which takes ownership). */
void plan_set_add(struct plan_set *set, struct plan *p);
/* Makes borrowed plan p hold a reference to the bytes it points into. */
void plan_hold(struct plan *p, struct plan_block *block);
/* Finds a plan by name (borrowed), or NULL. */
struct plan *plan_set_find(const struct plan_set *set, const char *name);
/* Frees every plan of the set and the set's array. */
void plan_set_free(struct plan_set *set);

/* Index of the step called id, or -1. */
int plan_step_index(const struct plan *p, const char *id);

/*
 * Plan-level rules of SPEC section 3.2 that need no SQL parser: contract
 * steps last, unique ids, post steps creating objects, contract_after below
 * default_contract_after, create_table without a primary key, unknown or
 * cyclic dependencies (checked against set, which may be NULL).  Appends
 * diagnostics; returns the number added.
 */
int plan_lint(const struct plan *p, const struct plan_set *set,
    int default_contract_after, struct plan_diags *diags);

void plan_diags_add(struct plan_diags *d, const char *file, struct pos pos,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void plan_diags_free(struct plan_diags *d);
/* The closest of n names to word, or NULL when none is close (borrowed). */
const char *plan_nearest_name(const char *word, const char *const *names,
    size_t n);

#endif
