/*
 * The step executor: turns a plan step into idempotent SQL and runs it on
 * PostgreSQL (through pg.h), under lock_timeout with retries, holding the
 * plan's advisory lock, recording each applied step in the ledger table
 * excon.ledger of the target database.
 *
 * Naming conventions in the database:
 *   - schema `excon`, tables excon.ledger(plan, step, checksum, applied_at,
 *     applied_by) and excon.backfill (backfill cursors);
 *   - the dual_write sync trigger and its function are both called
 *     excon_sync_<from>_<to> (excon_sync_<hash> when that is longer than 63
 *     bytes), in the table's schema, declared BEFORE INSERT OR UPDATE OF
 *     <from>, <to>: PostgreSQL then records that the trigger depends on both
 *     columns, and excon finds it from pg_trigger.tgattr;
 *   - set_not_null's temporary CHECK is excon_nn_<column>.
 *
 * Plan values and how they are used:
 *   - identifiers (schema, table, column, index/constraint/trigger names)
 *     are always double-quoted;
 *   - `type`, `check`, `where`, `set`, `up`, `down`, `verify` are SQL text
 *     from the plan file and are used verbatim (lint checks them);
 *   - add_column `default` is a constant *value*, not an expression: it is
 *     written as a quoted literal cast to the column type, e.g.
 *     `default: active` gives DEFAULT 'active'::text, `default: 0` gives
 *     DEFAULT '0'::integer.  A constant keeps ADD COLUMN free of a table
 *     rewrite; an expression default needs a `sql` step;
 *   - dual_write `up` and `down` are expressions over the row as NEW:
 *     `up: NEW.amount::bigint` computes `to` from the row, `down:
 *     NEW.amount_big::integer` computes `from`; they default to NEW.<from>
 *     and NEW.<to>.
 *
 * Errors: functions return 0 or -1 with one message in err; they never
 * print.  Retry notices and server notices go to opts.notify.
 */
#ifndef EXCON_EXEC_H
#define EXCON_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "backfill.h"
#include "buf.h"
#include "plan.h"

struct exec_opts {
	const char	*conninfo;		/* "" or NULL = PG* environment */
	const char	*lock_timeout;		/* NULL = "2s" */
	const char	*statement_timeout;	/* NULL = server default */
	int		 lock_retries;		/* retries after a lock timeout */
	int		 retry_base_ms;		/* least backoff; 0 = 100 */
	int		 retry_cap_ms;		/* longest backoff; 0 = 10000 */
	int		 batch_size;		/* backfill defaults */
	int		 target_batch_ms;
	int		 pause_ms;
	/* One line per retry or server notice; may be NULL. */
	void		(*notify)(void *arg, const char *line);
	/* Backfill progress after each batch; may be NULL. */
	void		(*progress)(void *arg, const struct backfill_progress *p);
	void		*arg;			/* passed to both callbacks */
};

/* Sets the built-in defaults: 2s, no statement_timeout, 10 retries, 1000/200/0. */
void exec_opts_init(struct exec_opts *o);

/* A connection with, optionally, a plan's advisory lock. */
struct exec;

/* What exec_step did. */
enum exec_outcome {
	EXEC_APPLIED,		/* the step's SQL ran and is in the ledger */
	EXEC_ALREADY_APPLIED,	/* the ledger already held it: nothing ran */
	EXEC_NO_SQL,		/* the step does nothing on the database */
};

/* Connects (application_name "excon"); *out is owned by the caller. */
int exec_connect(struct exec **out, const struct exec_opts *o, struct buf *err);
/* Disconnects, releasing any plan lock (NULL-safe). */
void exec_close(struct exec *x);

/*
 * Takes the advisory lock of plan for this session (a no-op when held).
 * When another session holds it: -1 with e.g. "plan 'x' is being advanced
 * by another excon (pid 123 on host h, 'excon x/backfill')".
 */
int exec_lock_plan(struct exec *x, const char *plan, struct buf *err);

/*
 * Claims the database for a history before a step runs on it: sets the
 * session's history id, release and actor (which the ledger rows record)
 * and looks for ledger rows of another history.  Returns 0 when there are
 * none, 1 when there are (other says whose, and when it was last used),
 * -1 on error.
 */
int exec_history_claim(struct exec *x, const char *history_id,
    const char *release, const char *actor, struct buf *other,
    struct buf *err);

/* 1 when the step kind (with its options) runs SQL on the database. */
int exec_step_runs_sql(const struct step *s);

/*
 * Runs step s of plan p: takes the plan lock, checks the ledger (a step
 * found there with the same checksum is EXEC_ALREADY_APPLIED and does not
 * run again; a different checksum is an error), then runs its SQL and
 * records it.  A backfill step runs the whole backfill, reporting progress;
 * a backfill already in the ledger walks the table again when rows still
 * match its `where` (after a failed verify and a fix of the data).
 */
int exec_step(struct exec *x, const struct plan *p, const struct step *s,
    enum exec_outcome *out, struct buf *err);

/*
 * Undoes step s: runs its `down` (for a dual_write trigger step, drops the
 * trigger and its function; for a backfill, also forgets its cursor) and
 * deletes its ledger row in the same transaction.  A step without SQL does
 * nothing; a DB step without `down` is an error.
 */
int exec_rollback(struct exec *x, const struct plan *p, const struct step *s,
    struct buf *err);

/*
 * Runs the step's `verify` query in a read-only transaction.  It must
 * return exactly one boolean: *ok is 1 for true, 0 for false; on false,
 * detail (may be NULL) explains, e.g. for a backfill "12 rows still match
 * where 'x IS NULL'".  A step without verify is ok.
 */
int exec_verify(struct exec *x, const struct plan *p, const struct step *s,
    int *ok, struct buf *detail, struct buf *err);

/*
 * 1 and the ledger checksum in sum (may be NULL) when plan/step is in the
 * ledger.  Read-only: it creates nothing, not even the excon schema.
 */
int exec_ledger_get(struct exec *x, const char *plan, const char *step,
    int *found, struct buf *sum, struct buf *err);

/*
 * The statements exec_step (or exec_rollback when rollback is set) would
 * run, in order, each ending in ";", with the session settings first and
 * the ledger write; appended to out.  Needs no connection: work decided
 * at run time (a leftover INVALID index, the backfill's keys) is shown as
 * the query that decides it and "--" comments.
 */
int exec_dry_run(const struct exec_opts *o, const struct plan *p,
    const struct step *s, int rollback, struct buf *out, struct buf *err);

/* Lines of drift found by exec_drift. */
struct exec_drift {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

/* When a step shipped, to order the ships of different plans. */
struct exec_when {
	int64_t		 release_seq;
	int64_t		 at;		/* unix seconds */
};

/* A shipped step, of any plan, that may supersede another's effect. */
struct exec_shipped {
	const struct step	*step;
	struct exec_when	 when;
};

/*
 * Compares the database with the first nshipped steps of p (the shipped
 * ones; releases[i], may be NULL, names the release step i shipped in):
 * each expand/migrate effect must be present unless a later shipped step
 * removes it, each contract's object must be gone.  A later step is one of
 * p after it, or one in all[] (the shipped steps of every plan; p's own
 * are skipped) that shipped no earlier than it by when[i]: a column plan
 * A added and plan B dropped since is not drift.  when and all may be
 * NULL.  Appends lines such as "users.full_name: column missing
 * (add-column shipped in v2)" to d.
 */
int exec_drift(struct exec *x, const struct plan *p, size_t nshipped,
    const char *const *releases, const struct exec_when *when,
    const struct exec_shipped *all, size_t nall, struct exec_drift *d,
    struct buf *err);
void exec_drift_free(struct exec_drift *d);

#endif
