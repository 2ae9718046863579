/*
 * Backfill: a batched, resumable UPDATE of a table in primary-key order.
 *
 * Each batch is its own short transaction under lock_timeout: it finds the
 * batch's upper key (the n-th key after the cursor), updates the rows
 * between the cursor and that key that match `where`, and saves the new
 * cursor in excon.backfill (keyed by plan and step) in the same
 * transaction, so a killed backfill resumes exactly after the last
 * committed batch and never redoes one.  Batch size adapts towards
 * target_batch_ms.  The walk ends when no key is left after the cursor, so
 * rows inserted while it ran are covered too (with a sync trigger in place
 * they are right already).  While it runs, its session sets excon.writer
 * to 'backfill', so that a sync trigger does not copy the values it writes
 * back into the old column.
 */
#ifndef EXCON_BACKFILL_H
#define EXCON_BACKFILL_H

#include <signal.h>

#include "buf.h"
#include "pg.h"

/* Progress after each batch (and once at the end, with finished set). */
struct backfill_progress {
	long long	 rows_done;	/* keys walked, including earlier runs */
	long long	 rows_updated;	/* rows changed, including earlier runs
					   (whose count can miss the batch
					   committed last before a crash) */
	long long	 rows_total;	/* estimated rows in the table, 0 unknown */
	long long	 batches;	/* batches committed by this run */
	int		 batch_size;	/* size of the next batch */
	long		 last_batch_ms;
	double		 rate;		/* keys per second in this run */
	long		 eta_s;		/* seconds left, -1 unknown */
	const char	*cursor;	/* last key done, e.g. "(42)"; borrowed */
	const char	*waiting;	/* why the walk is paused, or NULL; borrowed */
	const char	*note;		/* why batches are kept small, or NULL; borrowed */
	long		 waiting_s;	/* for how long, seconds */
	int		 resumed;	/* 1 when this run started from a saved cursor */
	int		 finished;
};

typedef void (*backfill_progress_fn)(void *arg, const struct backfill_progress *p);

struct backfill_opts {
	const char	*plan;		/* cursor key in excon.backfill */
	const char	*step;
	const char	*schema;	/* NULL = public */
	const char	*table;
	const char	*set;		/* SQL after SET, verbatim from the plan */
	const char	*where;		/* SQL filter, verbatim; NULL = every row */
	int		 batch_size;	/* first batch; 0 = 1000 */
	int		 min_batch;	/* 0 = 10 */
	int		 max_batch;	/* 0 = 100000 */
	int		 target_batch_ms; /* 0 = 25; -1 = keep batch_size */
	int		 pause_ms;	/* sleep between batches */
	long long	 max_batches;	/* stop after this many (0 = all) */
	long		 max_replica_lag_ms; /* pause while a standby lags more; 0 = off */
	long		 max_xact_age_ms; /* pause while an older transaction is open; 0 = off */
	struct pg	*watch;		/* a second session of the caller's, to see who
					   waits on a batch's locks; NULL = do not look */
	char *const	*replicas;	/* conninfos of standbys to ask for their
					   replay lag (NULL-terminated; may be NULL) */
	const volatile sig_atomic_t *stop; /* when it becomes non-zero (a signal
					   handler), stop after the batches in flight:
					   -1 with "interrupted"; may be NULL */
	struct pg_retry	 retry;		/* lock_timeout, retries, notices */
	backfill_progress_fn progress;	/* may be NULL */
	void		*arg;
};

/*
 * Runs (or resumes) the backfill on db, whose session should hold the
 * plan's advisory lock.  Refuses a table without a primary key before any
 * work.  *out (may be NULL) receives the final progress (its cursor is
 * then NULL).  Returns 0 when the walk finished (or max_batches stopped
 * it), -1 with err set otherwise; a failed batch leaves the cursor at the
 * last committed one.
 */
int backfill_run(struct pg *db, const struct backfill_opts *o,
    struct backfill_progress *out, struct buf *err);

/* What a backfill would do, estimated before it runs (backfill_estimate). */
struct backfill_estimate {
	long long	 rows_walked;	/* keys in the table */
	long long	 rows_touched;	/* rows matching `where` (all without one) */
	int		 exact;		/* both counted, not estimated */
	long long	 sample_rows;	/* keys of the rolled-back sample */
	double		 sample_ms;	/* its time */
	double		 seconds;	/* expected duration, -1 unknown */
	long long	 wal_bytes;	/* expected WAL, -1 unknown */
};

/*
 * Estimates the backfill o on db without changing anything: rows walked
 * and touched from the catalog and the planner (counted when exact), and
 * the duration and WAL volume from a sample, the first batch's rows
 * updated in a transaction that is rolled back (it holds their row locks
 * for its few milliseconds, under lock_timeout).
 */
int backfill_estimate(struct pg *db, const struct backfill_opts *o, int exact,
    struct backfill_estimate *e, struct buf *err);

/*
 * Appends to out PostgreSQL's EXPLAIN (FORMAT JSON) of the batch statement
 * that backfill_run would run for o (next 0: the first batch, 1: a later
 * one), for a batch of o->batch_size rows.  Creates excon.backfill when
 * missing; changes nothing else.
 */
int backfill_explain(struct pg *db, const struct backfill_opts *o, int next,
    struct buf *out, struct buf *err);

/*
 * The primary-key columns of schema.table in key order, with their types
 * (format_type).  *cols and *types are NULL-terminated and owned by the
 * caller (strv_free, xalloc.h); *cols is an empty list when the table has
 * no primary key.
 */
int backfill_primary_key(struct pg *db, const char *schema, const char *table,
    char ***cols, char ***types, struct buf *err);

/* Removes the saved cursor of plan/step (for rollback and reruns). */
int backfill_forget(struct pg *db, const char *plan, const char *step,
    struct buf *err);

/* Appends the SQL one batch runs, with placeholders, for --dry-run. */
void backfill_describe(const struct backfill_opts *o, struct buf *out);

#endif
