/*
 * Backfill (see backfill.h).
 *
 * Why this shape: each batch is bounded by keys, not by "the next n rows
 * that still match where".  The batch's upper key is the n-th key after
 * the cursor (one index range scan on the primary key), and the UPDATE
 * covers exactly (cursor, upper].  No row lock is skipped (SKIP LOCKED
 * would silently miss rows a transaction happens to hold: the UPDATE waits
 * for them instead, bounded by lock_timeout and retried), no batch scans
 * rows done before, and the cursor that is committed with the batch says
 * exactly which rows are done.  Keys are compared as a row, (a, b) >
 * ($1, $2), which PostgreSQL answers from the primary-key index for
 * composite keys too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backfill.h"
#include "dbschema.h"
#include "xalloc.h"

/* A batch sent and not yet heard back. */
struct bf_sent {
	long long	  n;		/* its size */
	double		  at;		/* when it was sent, ms */
};

/* The statements of one run, built once, and where the walk stands. */
struct bf {
	const struct backfill_opts *o;
	char		**cols;
	char		**types;
	int		  nkeys;
	char		 *table;	/* "schema"."table" */
	char		 *keyarr;	/* {a,b} array literal of the column names */
	char		 *sql[2];	/* the batch: from the start, after the saved cursor */
	char		 *sql_cursor;	/* the cursor it saved (bf_sql_cursor) */
	char		**cursor;	/* last key done, nkeys strings, or NULL */
	long long	  n;		/* the next batch's size */
	long long	  done;		/* keys walked, all runs */
	long long	  updated;	/* rows updated, all runs */
	long long	  total;	/* estimate */
	struct bf_sent	  q[2];		/* batches in flight, oldest first */
	int		  nq;
	double		  last_recv;	/* when the last result came, ms, or 0 */
	int		  empty;	/* the last batch heard found no key left */
	int		  again;	/* a stretch stopped at a failure after progress */
	double		  t0;		/* when this run's walk started, ms */
	long long	  done0;	/* rows_done when it started */
	struct backfill_progress pr;
	struct buf	  cur;		/* pr.cursor's text */
	double		  health_at;	/* last health check, ms (0: none yet) */
	struct bf_track {
		struct bf_lsn {
			double		   t;	/* when, ms */
			unsigned long long lsn;	/* a WAL position then */
		}	 v[128];	/* positions not replayed yet, oldest first */
		int	 n;
	}		  lsn;		/* the primary's, against its slowest standby */
	struct buf	  why;		/* pr.waiting's text */
	double		  locks_at;	/* last look at who waits on the batch, ms */
	double		  calm_until;	/* batches do not grow before, ms */
	struct buf	  note;		/* pr.note's text */
	struct pg	**reps;		/* sessions on o->replicas, once opened */
	struct bf_track	 *rtrack;	/* their WAL positions, as lsn/nlsn */
	int		  nreps;
};

/* How often the walk looks at who waits on its batch's locks, ms. */
#define LOCKS_EVERY_MS 250
/* How long batches stay small after a session waited on one, ms. */
#define CALM_MS 5000

/* How often the walk looks at the database's health, ms. */
#define HEALTH_EVERY_MS 1000

/* Monotonic milliseconds. */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Sleeps ms milliseconds. */
static void
pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Appends "(v1, v2)" for messages. */
static void
key_display(struct buf *b, char *const *v, int n)
{
	int i;

	buf_putc(b, '(');
	for (i = 0; i < n; i++)
		buf_printf(b, "%s%s", i ? ", " : "", v[i]);
	buf_putc(b, ')');
}

/* Finds the primary key of schema.table. */
int
backfill_primary_key(struct pg *db, const char *schema, const char *table,
    char ***cols, char ***types, struct buf *err)
{
	struct buf t = BUF_INIT;
	struct pg_result *res = NULL;
	const char *params[1];
	int i, n, ret = -1;

	*cols = *types = NULL;
	pg_quote_ident(&t, schema ? schema : "public");
	buf_putc(&t, '.');
	pg_quote_ident(&t, table);
	params[0] = buf_cstr(&t);
	if (pg_exec(db, "SELECT to_regclass($1) IS NOT NULL", 1, params, &res, err) == -1)
		goto done;
	if (strcmp(pg_result_get(res, 0, 0), "t") != 0) {
		error_set(err, "table '%s.%s' does not exist", schema ? schema : "public", table);
		goto done;
	}
	pg_result_free(res);
	res = NULL;
	if (pg_exec(db,
	    "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)"
	    " FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a"
	    "  ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])"
	    " WHERE i.indrelid = $1::regclass AND i.indisprimary"
	    " ORDER BY array_position(i.indkey::int2[], a.attnum)",
	    1, params, &res, err) == -1)
		goto done;
	n = pg_result_nrows(res);
	*cols = xcalloc((size_t)n + 1, sizeof **cols);
	*types = xcalloc((size_t)n + 1, sizeof **types);
	for (i = 0; i < n; i++) {
		(*cols)[i] = xstrdup(pg_result_get(res, i, 0));
		(*types)[i] = xstrdup(pg_result_get(res, i, 1));
	}
	ret = 0;
done:
	pg_result_free(res);
	buf_free(&t);
	return ret;
}

/* Creates excon.backfill on first use (dbschema.h). */
static int
bf_ensure_table(struct pg *db, struct buf *err)
{
	return dbschema_ensure(db, DBSCHEMA_BACKFILL, err);
}

/* Removes the saved cursor of plan/step. */
int
backfill_forget(struct pg *db, const char *plan, const char *step, struct buf *err)
{
	const char *params[] = { plan, step };
	struct pg_result *res = NULL;
	int ret = -1;

	if (pg_exec(db, "SELECT to_regclass('excon.backfill') IS NOT NULL", 0, NULL,
	    &res, err) == -1)
		goto done;
	if (strcmp(pg_result_get(res, 0, 0), "t") == 0 &&
	    pg_exec(db, "DELETE FROM excon.backfill WHERE plan = $1 AND step = $2",
	    2, params, NULL, err) == -1)
		goto done;
	ret = 0;
done:
	pg_result_free(res);
	return ret;
}

/* Reads the saved cursor, if any; refuses one saved for other key columns. */
static int
bf_load(struct pg *db, struct bf *f, int *resumed, struct buf *err)
{
	const char *params[] = { f->o->plan, f->o->step, f->keyarr };
	struct pg_result *res = NULL;
	int i, ret = -1;

	*resumed = 0;
	if (pg_exec(db, "SELECT key_columns = $3::text[], rows_done, rows_updated, rows_total,"
	    " array_to_string(key_columns, ', '), cursor IS NULL"
	    " FROM excon.backfill WHERE plan = $1 AND step = $2",
	    3, params, &res, err) == -1)
		goto done;
	if (pg_result_nrows(res) == 0) {
		ret = 0;
		goto done;
	}
	if (strcmp(pg_result_get(res, 0, 0), "t") != 0) {
		error_set(err, "the saved backfill cursor of '%s/%s' is for key (%s), but the primary key of %s is now different: roll the step back to start over",
		    f->o->plan, f->o->step, pg_result_get(res, 0, 4), f->table);
		goto done;
	}
	f->done = atoll(pg_result_get(res, 0, 1));
	f->updated = atoll(pg_result_get(res, 0, 2));
	f->total = atoll(pg_result_get(res, 0, 3));
	if (strcmp(pg_result_get(res, 0, 5), "t") == 0) {
		ret = 0;
		goto done;
	}
	pg_result_free(res);
	res = NULL;
	if (pg_exec(db, "SELECT u.c FROM excon.backfill b, unnest(b.cursor) WITH ORDINALITY AS u(c, i)"
	    " WHERE b.plan = $1 AND b.step = $2 ORDER BY u.i",
	    2, params, &res, err) == -1)
		goto done;
	if (pg_result_nrows(res) != f->nkeys) {
		error_set(err, "the saved backfill cursor of '%s/%s' is damaged", f->o->plan, f->o->step);
		goto done;
	}
	f->cursor = xcalloc((size_t)f->nkeys + 1, sizeof *f->cursor);
	for (i = 0; i < f->nkeys; i++)
		f->cursor[i] = xstrdup(pg_result_get(res, i, 0));
	*resumed = 1;
	ret = 0;
done:
	pg_result_free(res);
	return ret;
}

/* Estimated rows of the table: pg_class.reltuples, or count(*) when unknown. */
static int
bf_estimate(struct pg *db, struct bf *f, struct buf *err)
{
	struct pg_result *res = NULL;
	const char *params[] = { f->table };
	struct buf q = BUF_INIT;
	int ret = -1;

	if (pg_exec(db, "SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE oid = $1::regclass",
	    1, params, &res, err) == -1)
		goto done;
	f->total = atoll(pg_result_get(res, 0, 0));
	if (f->total <= 0) {
		pg_result_free(res);
		res = NULL;
		buf_printf(&q, "SELECT count(*) FROM %s", f->table);
		if (pg_exec(db, buf_cstr(&q), 0, NULL, &res, err) == -1)
			goto done;
		f->total = atoll(pg_result_get(res, 0, 0));
	}
	ret = 0;
done:
	pg_result_free(res);
	buf_free(&q);
	return ret;
}

/*
 * The statements of a run, prepared once: parsing and planning the batch
 * statement each time cost about 4% of a batch.
 */
static const char *const stmt_name[] = {
	"excon_backfill_first", "excon_backfill_next", "excon_backfill_cursor"
};

/* Parameters of the batch statements (P_DONE: the first one only). */
enum {
	P_N = 1, P_PLAN, P_STEP, P_KEYS, P_UPDATED, P_TOTAL, P_DONE
};

/*
 * The batch statement, from the start (next 0) or after the cursor saved
 * in excon.backfill (next 1): walk the next n keys, save the last as the
 * new cursor, and update the rows in (cursor, upper] that match `where`.
 *
 * Why this shape: excon_w is the next n keys after the cursor, an
 * index-only walk of the primary key that stops after n; excon_b is its
 * last key and how many it holds (fewer than n only at the end of the
 * table).  Nothing in the statement reads or counts the rest of the
 * table, so neither its plan nor its cost depends on the table's size:
 * the UPDATE is an index range scan of the primary key between two
 * bounds that sub-selects give (PostgreSQL estimates such a range with a
 * fixed selectivity, and the first batch takes its lower bound from its
 * first key so that it is a range too, not a third of the table), and no
 * plan crosses the cost at which PostgreSQL would compile it (excon's
 * sessions turn JIT off besides, see pg.c).  The lower bound, the cursor,
 * comes from excon_a, the row the batch before committed.  Reading the
 * cursor from the table rather than from a parameter is what lets excon
 * send a batch before the previous one has answered (see bf_stretch):
 * whatever committed last, the next batch starts right after it.  The
 * UPDATE is the statement itself, not a CTE with RETURNING, so the rows it
 * changed come from its command tag: counting a RETURNING list cost about
 * 6% of the batch.  Every part sees one snapshot: a row inserted after it
 * is not updated by this batch, exactly as with separate statements in
 * READ COMMITTED, and the sync trigger (or the insert itself) has it right.
 */
static char *
bf_sql(const struct bf *f, int next)
{
	struct buf q = BUF_INIT, lo = BUF_INIT, keys = BUF_INIT, desc = BUF_INIT;
	struct buf ks = BUF_INIT;
	int i;

	for (i = 0; i < f->nkeys; i++) {
		if (i > 0) {
			buf_puts(&keys, ", ");
			buf_puts(&desc, ", ");
			buf_puts(&ks, ", ");
		}
		pg_quote_ident(&keys, f->cols[i]);
		pg_quote_ident(&desc, f->cols[i]);
		buf_puts(&desc, " DESC");
		buf_printf(&ks, "excon_k%d", i);
	}
	buf_puts(&q, "WITH ");
	if (next) {
		buf_puts(&q, "excon_a AS (SELECT ");
		for (i = 0; i < f->nkeys; i++)
			buf_printf(&q, "cursor[%d]::%s AS excon_c%d, ", i + 1, f->types[i], i);
		buf_printf(&q, "rows_done AS excon_d FROM excon.backfill"
		    " WHERE plan = $%d AND step = $%d), ", P_PLAN, P_STEP);
		buf_printf(&lo, "(%s) > (SELECT ", buf_cstr(&keys));
		for (i = 0; i < f->nkeys; i++)
			buf_printf(&lo, "%sexcon_c%d", i ? ", " : "", i);
		buf_puts(&lo, " FROM excon_a)");
		buf_printf(&q, "excon_w AS (SELECT %s FROM %s WHERE %s ORDER BY %s"
		    " LIMIT $%d::bigint), ", buf_cstr(&keys), f->table,
		    buf_cstr(&lo), buf_cstr(&keys), P_N);
	} else {
		buf_printf(&q, "excon_w AS (SELECT %s FROM %s ORDER BY %s"
		    " LIMIT $%d::bigint), ", buf_cstr(&keys), f->table,
		    buf_cstr(&keys), P_N);
		buf_printf(&lo, "(%s) >= (SELECT %s FROM excon_w ORDER BY %s LIMIT 1)",
		    buf_cstr(&keys), buf_cstr(&keys), buf_cstr(&keys));
	}
	if (f->nkeys == 1) {
		/* One aggregate pass, no sort; no row at all when no key is left. */
		buf_printf(&q, "excon_b AS (SELECT max(%s) AS excon_k0, count(*) AS excon_n"
		    " FROM excon_w HAVING count(*) > 0)", buf_cstr(&keys));
	} else {
		buf_puts(&q, "excon_b AS (SELECT ");
		for (i = 0; i < f->nkeys; i++) {
			pg_quote_ident(&q, f->cols[i]);
			buf_printf(&q, " AS excon_k%d, ", i);
		}
		buf_printf(&q, "(SELECT count(*) FROM excon_w) AS excon_n FROM excon_w"
		    " ORDER BY %s LIMIT 1)", buf_cstr(&desc));
	}

	buf_printf(&q, ", excon_c AS (INSERT INTO excon.backfill (plan, step, key_columns,"
	    " cursor, rows_done, rows_updated, rows_total)"
	    " SELECT $%d, $%d, $%d::text[], ARRAY[", P_PLAN, P_STEP, P_KEYS);
	for (i = 0; i < f->nkeys; i++)
		buf_printf(&q, "%sexcon_k%d::text", i ? ", " : "", i);
	if (next)
		buf_puts(&q, "], (SELECT excon_d FROM excon_a) + excon_n");
	else
		buf_printf(&q, "], $%d::bigint + excon_n", P_DONE);
	buf_printf(&q, ", $%d::bigint, $%d::bigint FROM excon_b"
	    " ON CONFLICT (plan, step) DO UPDATE SET cursor = EXCLUDED.cursor,"
	    " rows_done = EXCLUDED.rows_done, rows_updated = EXCLUDED.rows_updated,"
	    " rows_total = EXCLUDED.rows_total, updated_at = now())",
	    P_UPDATED, P_TOTAL);

	buf_printf(&q, " UPDATE %s SET %s WHERE %s AND (%s) <= (SELECT %s FROM excon_b)",
	    f->table, f->o->set, buf_cstr(&lo), buf_cstr(&keys), buf_cstr(&ks));
	if (f->o->where != NULL && f->o->where[0] != '\0')
		buf_printf(&q, " AND (%s)", f->o->where);

	buf_free(&lo);
	buf_free(&keys);
	buf_free(&desc);
	buf_free(&ks);
	return buf_detach(&q);
}

/* The second statement of a batch: reads back the cursor it saved, as text. */
static char *
bf_sql_cursor(const struct bf *f)
{
	struct buf q = BUF_INIT;
	int i;

	buf_puts(&q, "SELECT rows_done");
	for (i = 0; i < f->nkeys; i++)
		buf_printf(&q, ", cursor[%d]", i + 1);
	buf_puts(&q, " FROM excon.backfill WHERE plan = $1 AND step = $2");
	return buf_detach(&q);
}

/*
 * Sends one batch without waiting for it: the batch statement, then the
 * read-back of the cursor, as one implicit transaction.  Without a saved
 * cursor it is the first batch; otherwise the batch starts after whatever
 * cursor committed last.
 */
static int
bf_send(struct pg *db, struct bf *f, struct buf *err)
{
	const char *params[P_DONE], *p2[] = { f->o->plan, f->o->step };
	char n_s[32], done_s[32], upd_s[32], tot_s[32];
	int first = f->cursor == NULL;
	struct pg_stmt st[2];

	snprintf(n_s, sizeof n_s, "%lld", f->n);
	snprintf(done_s, sizeof done_s, "%lld", f->done);
	snprintf(upd_s, sizeof upd_s, "%lld", f->updated);
	snprintf(tot_s, sizeof tot_s, "%lld", f->total);
	params[P_N - 1] = n_s;
	params[P_PLAN - 1] = f->o->plan;
	params[P_STEP - 1] = f->o->step;
	params[P_KEYS - 1] = f->keyarr;
	params[P_UPDATED - 1] = upd_s;
	params[P_TOTAL - 1] = tot_s;
	params[P_DONE - 1] = done_s;
	st[0].sql = st[1].sql = NULL;
	st[0].name = stmt_name[!first];
	st[0].nparams = first ? P_DONE : P_DONE - 1;
	st[0].params = params;
	st[1].name = stmt_name[2];
	st[1].nparams = 2;
	st[1].params = p2;
	if (pg_pipeline_send(db, 2, st, err) == -1)
		return -1;
	f->q[f->nq].n = f->n;
	f->q[f->nq].at = now_ms();
	f->nq++;
	return 0;
}

/* Aims the next batch at target_batch_ms from one of n rows that took ms. */
static void
bf_adapt(struct bf *f, long long n, double ms)
{
	int minb = f->o->min_batch > 0 ? f->o->min_batch : 10;
	int maxb = f->o->max_batch > 0 ? f->o->max_batch : 100000;
	int target = f->o->target_batch_ms == 0 ? 25 : f->o->target_batch_ms;
	double want;

	if (target <= 0 && now_ms() >= f->calm_until)
		return;
	/* Changing at most 2x per batch. */
	want = target > 0 ? (double)n * target / (ms >= 1 ? ms : 1) : (double)f->n;
	if (want > n * 2.0)
		want = n * 2.0;
	/* While sessions recently waited on a batch, batches do not grow. */
	if (now_ms() < f->calm_until && want > (double)f->n)
		want = (double)f->n;
	if (want < n / 2.0)
		want = n / 2.0;
	f->n = (long long)want;
	if (f->n < minb)
		f->n = minb;
	if (f->n > maxb)
		f->n = maxb;
}

/* Tells the caller where the walk stands after a batch committed. */
static void
bf_report(struct bf *f, long ms)
{
	const struct backfill_opts *o = f->o;
	struct backfill_progress *pr = &f->pr;
	double t = now_ms();

	buf_reset(&f->cur);
	key_display(&f->cur, f->cursor, f->nkeys);
	pr->rows_done = f->done;
	pr->rows_updated = f->updated;
	pr->rows_total = f->total;
	pr->batch_size = (int)f->n;
	pr->last_batch_ms = ms;
	pr->rate = t > f->t0 ? (double)(f->done - f->done0) * 1000.0 / (t - f->t0) : 0;
	pr->eta_s = pr->rate > 0 ? (long)((double)(f->total - f->done) / pr->rate) : -1;
	pr->cursor = buf_cstr(&f->cur);
	if (o->progress != NULL)
		o->progress(o->arg, pr);
}

/*
 * Reads the oldest batch in flight.  *moved is 1 when it committed keys
 * after the cursor (which then moves to its upper key), 0 when it found
 * none left (it saved no new cursor, so rows_done did not move).
 */
static int
bf_recv(struct pg *db, struct bf *f, int *moved, struct buf *err)
{
	struct pg_result *r[2];
	struct bf_sent s = f->q[0];
	long long done, changed;
	double t, ms;
	char **cur = NULL;
	int i, got, ret = -1;

	*moved = 0;
	f->q[0] = f->q[1];
	f->nq--;
	got = pg_pipeline_recv(db, 2, r, err);
	/* Its own time on the server: since it was sent or the one before answered. */
	t = now_ms();
	ms = t - (f->last_recv > s.at ? f->last_recv : s.at);
	f->last_recv = t;
	if (got == -1)
		return -1;
	changed = pg_result_affected(r[0]);
	if (pg_result_nrows(r[1]) == 0 ||
	    (done = atoll(pg_result_get(r[1], 0, 0))) == f->done) {
		ret = 0;
		goto out;
	}
	cur = xcalloc((size_t)f->nkeys + 1, sizeof *cur);
	for (i = 0; i < f->nkeys; i++) {
		const char *v = pg_result_get(r[1], 0, i + 1);

		if (v == NULL) {
			error_set(err, "the saved backfill cursor of '%s/%s' is damaged",
			    f->o->plan, f->o->step);
			strv_free(cur);
			goto out;
		}
		cur[i] = xstrdup(v);
	}
	strv_free(f->cursor);
	f->cursor = cur;
	f->done = done;
	f->updated += changed;
	if (f->total < f->done)
		f->total = f->done;
	f->pr.batches++;
	bf_adapt(f, s.n, ms);
	*moved = 1;
	bf_report(f, (long)ms);
	ret = 0;
out:
	pg_result_free(r[0]);
	pg_result_free(r[1]);
	return ret;
}

/* 1 when the caller asked the walk to stop (Ctrl-C). */
static int
bf_stopped(const struct bf *f)
{
	return f->o->stop != NULL && *f->o->stop != 0;
}

/* 1 when the walk watches the database's health. */
static int
bf_watching(const struct bf *f)
{
	return f->o->max_replica_lag_ms > 0 || f->o->max_xact_age_ms > 0;
}

/* 1 when the next health check is due (the stretch then stops sending). */
static int
bf_health_due(const struct bf *f)
{
	return bf_watching(f) && now_ms() - f->health_at >= HEALTH_EVERY_MS;
}

/*
 * Remembers WAL position cur at time t, forgets the positions replay has
 * passed, and returns the lag in ms: the age of the oldest position not
 * replayed yet (0 when replay is level with cur).
 */
static double
lag_track(struct bf_track *k, double t, unsigned long long cur, unsigned long long replay)
{
	int i, keep, cap = (int)(sizeof k->v / sizeof k->v[0]);

	for (keep = 0, i = 0; i < k->n; i++)
		if (k->v[i].lsn > replay)
			k->v[keep++] = k->v[i];
	k->n = keep;
	if (k->n == cap) {
		/* Full: drop the second oldest, so the oldest keeps the lag's start. */
		memmove(&k->v[1], &k->v[2], (size_t)(k->n - 2) * sizeof k->v[0]);
		k->n--;
	}
	if (cur > replay && (k->n == 0 || k->v[k->n - 1].lsn < cur)) {
		k->v[k->n].t = t;
		k->v[k->n].lsn = cur;
		k->n++;
	}
	return k->n > 0 ? t - k->v[0].t : 0;
}

/*
 * Asks each of o->replicas how far its replay is behind (the age of the
 * oldest WAL position it had received at a check and has not replayed
 * yet, as for the primary's standbys) and adds the ones beyond
 * max_replica_lag to f->why.  A
 * replica that cannot be reached is named once through the retry notice
 * and not waited for.  Returns 0 (-1 only for an allocation failure,
 * which cannot happen with xalloc).
 */
static int
bf_replicas_lag(struct bf *f)
{
	int i;

	if (f->o->replicas == NULL)
		return 0;
	if (f->reps == NULL) {
		for (f->nreps = 0; f->o->replicas[f->nreps] != NULL; f->nreps++)
			;
		f->reps = xcalloc((size_t)f->nreps + 1, sizeof *f->reps);
		f->rtrack = xcalloc((size_t)f->nreps + 1, sizeof *f->rtrack);
		for (i = 0; i < f->nreps; i++) {
			struct buf e = BUF_INIT;

			if (pg_connect(&f->reps[i], f->o->replicas[i], "excon replica lag",
			    &e) == -1 && f->o->retry.notify != NULL)
				f->o->retry.notify(f->o->retry.arg, buf_cstr(&e));
			buf_free(&e);
		}
	}
	for (i = 0; i < f->nreps; i++) {
		struct pg_result *res = NULL;
		struct buf e = BUF_INIT;
		double lag;

		if (f->reps[i] == NULL)
			continue;
		if (pg_exec(f->reps[i], "SELECT (pg_catalog.pg_last_wal_receive_lsn() - '0/0')::text,"
		    " (pg_catalog.pg_last_wal_replay_lsn() - '0/0')::text",
		    0, NULL, &res, &e) == 0 && pg_result_get(res, 0, 0) != NULL &&
		    pg_result_get(res, 0, 1) != NULL) {
			lag = lag_track(&f->rtrack[i], now_ms(),
			    strtoull(pg_result_get(res, 0, 0), NULL, 10),
			    strtoull(pg_result_get(res, 0, 1), NULL, 10));
			if (lag > (double)f->o->max_replica_lag_ms) {
				char *safe = pg_conninfo_redact(f->o->replicas[i]);

				buf_printf(&f->why, "%sreplica '%s' replays %.1f s behind "
				    "(max_replica_lag %.1f s)", f->why.len ? "; " : "", safe,
				    lag / 1000, (double)f->o->max_replica_lag_ms / 1000);
				free(safe);
			}
		}
		pg_result_free(res);
		buf_free(&e);
	}
	return 0;
}

/*
 * Looks at the database's health once; leaves in f->why what the walk
 * must wait for (empty when nothing).
 *
 * Why the standby's lag is measured this way: pg_stat_replication's
 * replay_lag is only measured when a standby's replay moves, so it stays
 * small while replay is stuck (a paused or overloaded standby, a query
 * conflict).  Instead each check remembers the primary's WAL position;
 * a standby lags by the age of the oldest remembered position it has not
 * replayed yet.  The older transaction counts only in this database and
 * only when it holds a snapshot or an xid, as only then does it hold back
 * vacuum of the rows the batches leave dead.
 */
static int
bf_health(struct pg *db, struct bf *f, struct buf *err)
{
	struct pg_result *res = NULL;
	unsigned long long cur, replay;
	double t = now_ms(), lag = 0;
	int ret = -1;

	buf_reset(&f->why);
	if (pg_exec(db,
	    "SELECT (pg_catalog.pg_current_wal_lsn() - '0/0')::text,"
	    " (SELECT (min(replay_lsn) - '0/0')::text FROM pg_catalog.pg_stat_replication),"
	    " (SELECT coalesce(max(extract(epoch FROM replay_lag) * 1000), 0)::bigint::text"
	    "  FROM pg_catalog.pg_stat_replication),"
	    " (SELECT coalesce(application_name, '') || ' (pid ' || pid || ')'"
	    "  FROM pg_catalog.pg_stat_replication ORDER BY replay_lsn NULLS FIRST LIMIT 1),"
	    " o.pid::text, o.app, o.age::text"
	    " FROM (SELECT 1) AS one LEFT JOIN (SELECT pid, coalesce(application_name, '') AS app,"
	    "  (extract(epoch FROM now() - xact_start) * 1000)::bigint AS age"
	    "  FROM pg_catalog.pg_stat_activity WHERE datname = current_database()"
	    "  AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend'"
	    "  AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)"
	    "  AND xact_start IS NOT NULL ORDER BY xact_start LIMIT 1) AS o ON true",
	    0, NULL, &res, err) == -1)
		goto done;
	f->health_at = t;
	cur = strtoull(pg_result_get(res, 0, 0), NULL, 10);
	if (f->o->max_replica_lag_ms > 0 && pg_result_get(res, 0, 1) != NULL) {
		replay = strtoull(pg_result_get(res, 0, 1), NULL, 10);
		lag = lag_track(&f->lsn, t, cur, replay);
		if (atof(pg_result_get(res, 0, 2)) > lag)
			lag = atof(pg_result_get(res, 0, 2));
		if (lag > (double)f->o->max_replica_lag_ms)
			buf_printf(&f->why, "standby %s replays %.1f s behind (max_replica_lag "
			    "%.1f s)", pg_result_get(res, 0, 3), lag / 1000,
			    (double)f->o->max_replica_lag_ms / 1000);
	} else
		f->lsn.n = 0;
	if (f->o->max_replica_lag_ms > 0 && bf_replicas_lag(f) == -1)
		goto done;
	if (f->o->max_xact_age_ms > 0 && pg_result_get(res, 0, 4) != NULL &&
	    atof(pg_result_get(res, 0, 6)) > (double)f->o->max_xact_age_ms)
		buf_printf(&f->why, "%stransaction of pid %s ('%s') open for %.0f s holds "
		    "back vacuum (max_xact_age %.0f s)", f->why.len ? "; " : "",
		    pg_result_get(res, 0, 4), pg_result_get(res, 0, 5),
		    atof(pg_result_get(res, 0, 6)) / 1000,
		    (double)f->o->max_xact_age_ms / 1000);
	ret = 0;
done:
	pg_result_free(res);
	return ret;
}

/*
 * Waits, telling the caller through progress every check, until the
 * database's health lets the walk go on.  Never fails the walk for a
 * lagging standby or an old transaction: it pauses until they clear.
 */
static int
bf_health_wait(struct pg *db, struct bf *f, struct buf *err)
{
	double since = 0;

	for (;;) {
		if (bf_health(db, f, err) == -1)
			return -1;
		if (f->why.len == 0 || bf_stopped(f))
			break;
		if (since == 0)
			since = now_ms();
		f->pr.waiting = buf_cstr(&f->why);
		f->pr.waiting_s = (long)((now_ms() - since) / 1000);
		if (f->o->progress != NULL)
			f->o->progress(f->o->arg, &f->pr);
		pause_ms(HEALTH_EVERY_MS);
	}
	f->pr.waiting = NULL;
	f->pr.waiting_s = 0;
	return 0;
}

/*
 * Looks, from the watch session, whether application sessions wait on a
 * lock of the batch running now; if so, halves the next batches and keeps
 * them from growing for a while.  Why: a session that wants a row of the
 * batch waits for the whole batch, so a smaller batch is a shorter wait;
 * the batch's own duration shows this only after the fact, and not when
 * the batch is fast but the rows it holds are hot.
 */
static void
bf_watch_locks(struct pg *db, struct bf *f)
{
	struct pg_result *res = NULL;
	struct buf e = BUF_INIT;
	char pid[16];
	const char *params[] = { pid };
	int minb = f->o->min_batch > 0 ? f->o->min_batch : 10;
	long long waiters;
	double t = now_ms();

	if (f->o->watch == NULL || t - f->locks_at < LOCKS_EVERY_MS)
		return;
	f->locks_at = t;
	if (f->note.len > 0 && t >= f->calm_until) {
		buf_reset(&f->note);
		f->pr.note = NULL;
	}
	snprintf(pid, sizeof pid, "%d", pg_backend_pid(db));
	/* Best effort: a failure to look only means not shrinking. */
	if (pg_exec(f->o->watch, "SELECT count(*) FROM pg_catalog.pg_stat_activity"
	    " WHERE wait_event_type = 'Lock'"
	    " AND $1::int4 = ANY (pg_catalog.pg_blocking_pids(pid))",
	    1, params, &res, &e) == 0) {
		waiters = atoll(pg_result_get(res, 0, 0));
		if (waiters > 0) {
			f->n = f->n / 2 > minb ? f->n / 2 : minb;
			f->calm_until = t + CALM_MS;
			buf_reset(&f->note);
			buf_printf(&f->note, "%lld session%s waited on the batch's rows: "
			    "batches shrunk to %lld", waiters, waiters == 1 ? "" : "s", f->n);
			f->pr.note = buf_cstr(&f->note);
		}
	}
	pg_result_free(res);
	buf_free(&e);
}

/*
 * A stretch of batches (a pg_unit_fn): runs batches until no key is left
 * after the cursor, max_batches, or a failure.
 *
 * Why a batch in flight: a batch waits for nothing but the server, so
 * while one runs the next is already sent, and the server starts it the
 * moment the first commits instead of idling a round trip while excon
 * reads the answer, mirrors the progress in the state file and draws the
 * bar.  Each batch is still its own transaction (its own Sync) and starts
 * after the cursor committed before it, read from excon.backfill, so:
 *   - a failed batch is rolled back whole, and the one sent after it
 *     starts from the same cursor: it is that batch's immediate retry;
 *   - the outcome heard last decides: a failure followed by a batch that
 *     committed is no failure, and a batch that found no key left is the
 *     end only if the one in flight behind it (which started later and may
 *     see rows inserted since) found none either.
 * The first batch, with no cursor saved, goes alone.  With pause_ms
 * there is no point in queueing: batches go one at a time.
 *
 * A failure with no batch of the stretch committed returns -1, so that
 * pg_retry_run sleeps and retries; after progress the stretch returns 0
 * with f->again set and the caller starts a new one, so that the retries
 * count per batch, not per backfill.
 */
static int
bf_stretch(struct pg *db, void *arg, struct buf *err)
{
	struct bf *f = arg;
	struct buf berr = BUF_INIT;
	long long max = f->o->max_batches;
	int moved, progressed = 0, failed = 0, ret = -1;

	f->empty = f->again = 0;
	f->last_recv = 0;
	if (pg_pipeline_enter(db, err) == -1)
		return -1;
	for (;;) {
		int depth = f->cursor == NULL || f->o->pause_ms > 0 ? 1 : 2;

		while (!failed && !f->empty && f->nq < depth && !bf_health_due(f) &&
		    !bf_stopped(f) &&
		    (max <= 0 || f->pr.batches + f->nq < max)) {
			if (bf_send(db, f, err) == -1) {
				/* libpq could not send: the session is gone. */
				f->nq = 0;
				pg_pipeline_exit(db);
				goto done;
			}
		}
		if (f->nq == 0)
			break;
		/* While a batch runs, look now and then at who waits on it. */
		while (f->o->watch != NULL && pg_wait_result(db, LOCKS_EVERY_MS) == 0)
			bf_watch_locks(db, f);
		if (bf_recv(db, f, &moved, &berr) == -1) {
			failed = 1;
			continue;
		}
		failed = 0;
		if (!moved) {
			f->empty = 1;
			continue;
		}
		progressed = 1;
		f->empty = 0;
		if (f->o->pause_ms > 0 && (max <= 0 || f->pr.batches < max))
			pause_ms(f->o->pause_ms);
	}
	pg_pipeline_exit(db);
	if (failed) {
		error_set(err, "%s", buf_cstr(&berr));
		if (!progressed)
			goto done;
		f->again = 1;
	} else if (!f->empty && bf_health_due(f) && !bf_stopped(f) &&
	    (max <= 0 || f->pr.batches < max))
		f->again = 1;	/* stopped for a health check */
	ret = 0;
done:
	buf_free(&berr);
	return ret;
}

/* Builds the statements of a run from the primary key. */
static int
bf_prepare(struct bf *f, struct buf *err)
{
	struct buf t = BUF_INIT;

	pg_quote_ident(&t, f->o->schema ? f->o->schema : "public");
	buf_putc(&t, '.');
	pg_quote_ident(&t, f->o->table);
	f->table = buf_detach(&t);
	for (f->nkeys = 0; f->cols[f->nkeys] != NULL; f->nkeys++)
		;
	if (f->nkeys > 32)
		return error_set(err, "the primary key of %s has %d columns; backfill handles up to 32",
		    f->table, f->nkeys);
	f->keyarr = pg_array_literal(f->cols, (size_t)f->nkeys);
	f->sql[0] = bf_sql(f, 0);
	f->sql[1] = bf_sql(f, 1);
	f->sql_cursor = bf_sql_cursor(f);
	return 0;
}

/* Runs or resumes the backfill (see backfill.h). */
int
backfill_run(struct pg *db, const struct backfill_opts *o,
    struct backfill_progress *out, struct buf *err)
{
	struct bf f;
	struct backfill_progress *pr = &f.pr;
	struct pg_retry retry = o->retry;
	const char *schema = o->schema ? o->schema : "public";
	char *sync_prev = NULL;	/* the caller's synchronous_commit, once changed */
	int resumed = 0, prepared = 0, i, ret = -1;

	memset(&f, 0, sizeof f);
	buf_init(&f.cur);
	buf_init(&f.why);
	buf_init(&f.note);
	f.o = o;
	f.n = o->batch_size > 0 ? o->batch_size : 1000;
	if (o->set == NULL || o->set[0] == '\0') {
		error_set(err, "backfill of '%s' needs 'set'", o->table);
		goto done;
	}
	if (backfill_primary_key(db, schema, o->table, &f.cols, &f.types, err) == -1)
		goto done;
	if (f.cols[0] == NULL) {
		error_set(err, "table '%s.%s' has no primary key: backfill walks the table in primary-key order so that it can resume exactly where it stopped; add a primary key first (e.g. build a unique index concurrently, then ALTER TABLE ... ADD PRIMARY KEY USING INDEX), or update the rows with a sql step",
		    schema, o->table);
		goto done;
	}
	if (bf_prepare(&f, err) == -1 || bf_ensure_table(db, err) == -1 ||
	    bf_load(db, &f, &resumed, err) == -1)
		goto done;
	if (f.total == 0 && bf_estimate(db, &f, err) == -1)
		goto done;
	/* Nothing else runs on the session between batches: set them once. */
	if (pg_set_timeouts(db, &retry, err) == -1)
		goto done;
	/*
	 * excon.writer tells the sync trigger that this session is the
	 * backfill (see exec.c).  Batches commit without waiting for their WAL
	 * to be flushed: a batch that a server crash loses is lost together
	 * with its cursor, which commits in the same transaction, so the next
	 * run redoes it; and the step's ledger row, committed after the walk
	 * with the session's own setting, flushes every batch before it.  On a
	 * server with fsync on this spares a flush per batch.
	 */
	{
		struct pg_result *res = NULL;

		if (pg_exec(db, "SELECT s.prev, pg_catalog.set_config('excon.writer', 'backfill', false),"
		    " pg_catalog.set_config('synchronous_commit', 'off', false) FROM (SELECT"
		    " pg_catalog.current_setting('synchronous_commit') AS prev OFFSET 0) AS s",
		    0, NULL, &res, err) == -1)
			goto done;
		sync_prev = xstrdup(pg_result_get(res, 0, 0));
		pg_result_free(res);
	}
	if (pg_prepare(db, stmt_name[0], f.sql[0], P_DONE, err) == -1)
		goto done;
	prepared = 1;
	if (pg_prepare(db, stmt_name[1], f.sql[1], P_DONE - 1, err) == -1)
		goto done;
	prepared = 2;
	if (pg_prepare(db, stmt_name[2], f.sql_cursor, 2, err) == -1)
		goto done;
	prepared = 3;
	retry.timeouts_set = 1;
	f.done0 = f.done;
	pr->resumed = resumed;
	f.t0 = now_ms();
	do {
		if (bf_watching(&f) && bf_health_wait(db, &f, err) == -1)
			goto done;
		if (pg_retry_run(db, &retry, bf_stretch, &f, NULL, err) == -1) {
			struct buf m = BUF_INIT;

			buf_printf(&m, "backfill of '%s.%s' stopped at ", schema, o->table);
			if (f.cursor != NULL)
				key_display(&m, f.cursor, f.nkeys);
			else
				buf_puts(&m, "the start");
			buf_printf(&m, ": %s", buf_cstr(err));
			error_set(err, "%s", buf_cstr(&m));
			buf_free(&m);
			goto done;
		}
	} while (f.again && !bf_stopped(&f));
	if (!f.empty && bf_stopped(&f)) {
		struct buf m = BUF_INIT;

		if (f.cursor != NULL)
			key_display(&m, f.cursor, f.nkeys);
		else
			buf_puts(&m, "the start");
		error_set(err, "interrupted after %lld of ~%lld rows, at %s", f.done,
		    f.total, buf_cstr(&m));
		buf_free(&m);
		goto done;
	}
	if (f.empty) {
		char upd[32];
		const char *params[] = { o->plan, o->step, upd };

		snprintf(upd, sizeof upd, "%lld", f.updated);
		if (pg_exec(db, "UPDATE excon.backfill SET finished = true, rows_updated = $3,"
		    " updated_at = now() WHERE plan = $1 AND step = $2", 3, params, NULL, err) == -1)
			goto done;
		pr->finished = 1;
		pr->rows_total = f.total = f.done;
		pr->rows_done = f.done;
		pr->rows_updated = f.updated;
		pr->eta_s = 0;
		pr->cursor = NULL;
		if (o->progress != NULL)
			o->progress(o->arg, pr);
	}
	pr->cursor = NULL;
	if (out != NULL)
		*out = *pr;
	ret = 0;
done:
	/* The session may be gone, or run other steps next: best effort. */
	for (i = 0; i < prepared; i++) {
		struct buf e2 = BUF_INIT;

		(void)pg_deallocate(db, stmt_name[i], &e2);
		buf_free(&e2);
	}
	if (sync_prev != NULL) {
		struct buf e2 = BUF_INIT;
		const char *params[] = { sync_prev };

		(void)pg_exec(db, "SELECT pg_catalog.set_config('synchronous_commit', $1, false)",
		    1, params, NULL, &e2);
		(void)pg_exec(db, "RESET excon.writer", 0, NULL, NULL, &e2);
		buf_free(&e2);
		free(sync_prev);
	}
	strv_free(f.cols);
	strv_free(f.types);
	strv_free(f.cursor);
	free(f.table);
	free(f.sql[0]);
	free(f.sql[1]);
	free(f.sql_cursor);
	free(f.keyarr);
	buf_free(&f.cur);
	buf_free(&f.why);
	buf_free(&f.note);
	for (i = 0; i < f.nreps; i++)
		pg_close(f.reps[i]);
	free(f.reps);
	free(f.rtrack);
	return ret;
}

/*
 * EXPLAIN of the batch statement as backfill_run prepares it (the first
 * batch when next is 0, a later one when 1), for a batch of o->batch_size
 * rows, in PostgreSQL's JSON format, appended to out.  Creates
 * excon.backfill when missing; runs nothing else.
 */
int
backfill_explain(struct pg *db, const struct backfill_opts *o, int next,
    struct buf *out, struct buf *err)
{
	struct bf f;
	struct pg_result *res = NULL;
	struct buf q = BUF_INIT;
	const char *schema = o->schema ? o->schema : "public";
	int prepared = 0, i, ret = -1;

	memset(&f, 0, sizeof f);
	f.o = o;
	if (backfill_primary_key(db, schema, o->table, &f.cols, &f.types, err) == -1)
		goto done;
	if (f.cols[0] == NULL) {
		error_set(err, "table '%s.%s' has no primary key", schema, o->table);
		goto done;
	}
	if (bf_prepare(&f, err) == -1 || bf_ensure_table(db, err) == -1)
		goto done;
	if (pg_prepare(db, stmt_name[!!next], f.sql[!!next], next ? P_DONE - 1 :
	    P_DONE, err) == -1)
		goto done;
	prepared = 1;
	buf_printf(&q, "EXPLAIN (FORMAT JSON) EXECUTE %s(%d, ", stmt_name[!!next],
	    o->batch_size > 0 ? o->batch_size : 1000);
	pg_quote_literal(&q, o->plan ? o->plan : "");
	buf_puts(&q, ", ");
	pg_quote_literal(&q, o->step ? o->step : "");
	buf_puts(&q, ", ");
	pg_quote_literal(&q, f.keyarr);
	buf_puts(&q, next ? ", 0, 0)" : ", 0, 0, 0)");
	if (pg_exec(db, buf_cstr(&q), 0, NULL, &res, err) == -1)
		goto done;
	for (i = 0; i < pg_result_nrows(res); i++)
		buf_puts(out, pg_result_get(res, i, 0));
	ret = 0;
done:
	if (prepared) {
		struct buf e2 = BUF_INIT;

		(void)pg_deallocate(db, stmt_name[!!next], &e2);
		buf_free(&e2);
	}
	pg_result_free(res);
	buf_free(&q);
	strv_free(f.cols);
	strv_free(f.types);
	free(f.table);
	free(f.sql[0]);
	free(f.sql[1]);
	free(f.sql_cursor);
	free(f.keyarr);
	return ret;
}

/* The first value of sql's first row as a number (0 when NULL). */
static int
bf_number(struct pg *db, const char *sql, int n, const char *const *params,
    double *out, struct buf *err)
{
	struct pg_result *res = NULL;

	if (pg_exec(db, sql, n, params, &res, err) == -1)
		return -1;
	*out = pg_result_get(res, 0, 0) ? atof(pg_result_get(res, 0, 0)) : 0;
	pg_result_free(res);
	return 0;
}

/* Estimates a backfill (see backfill.h). */
int
backfill_estimate(struct pg *db, const struct backfill_opts *o, int exact,
    struct backfill_estimate *e, struct buf *err)
{
	struct bf f;
	struct buf q = BUF_INIT, keys = BUF_INIT;
	struct pg_result *res = NULL;
	const char *schema = o->schema ? o->schema : "public";
	const char *where = o->where && o->where[0] ? o->where : NULL;
	double v, wal0, wal1, t0;
	int i, n, in_tx = 0, ret = -1;

	memset(&f, 0, sizeof f);
	memset(e, 0, sizeof *e);
	e->seconds = -1;
	e->wal_bytes = -1;
	f.o = o;
	if (backfill_primary_key(db, schema, o->table, &f.cols, &f.types, err) == -1)
		goto done;
	if (f.cols[0] == NULL) {
		error_set(err, "table '%s.%s' has no primary key: backfill walks the "
		    "table in primary-key order", schema, o->table);
		goto done;
	}
	if (bf_prepare(&f, err) == -1)
		goto done;
	for (i = 0; i < f.nkeys; i++) {
		if (i > 0)
			buf_puts(&keys, ", ");
		pg_quote_ident(&keys, f.cols[i]);
	}
	/* Rows walked: the catalog, or a count when it knows nothing or exact. */
	{
		const char *params[] = { f.table };

		if (bf_number(db, "SELECT reltuples FROM pg_catalog.pg_class WHERE oid = $1::regclass",
		    1, params, &v, err) == -1)
			goto done;
	}
	e->exact = exact;
	if (exact || v < 0) {
		buf_printf(&q, "SELECT count(*) FROM %s", f.table);
		if (bf_number(db, buf_cstr(&q), 0, NULL, &v, err) == -1)
			goto done;
	}
	e->rows_walked = (long long)v;
	/* Rows touched: the planner's estimate of `where`, or a count. */
	e->rows_touched = e->rows_walked;
	if (where != NULL) {
		buf_reset(&q);
		if (exact) {
			buf_printf(&q, "SELECT count(*) FROM %s WHERE (%s)", f.table, where);
			if (bf_number(db, buf_cstr(&q), 0, NULL, &v, err) == -1)
				goto done;
			e->rows_touched = (long long)v;
		} else {
			const char *p;

			buf_printf(&q, "EXPLAIN (FORMAT JSON) SELECT 1 FROM %s WHERE (%s)",
			    f.table, where);
			if (pg_exec(db, buf_cstr(&q), 0, NULL, &res, err) == -1)
				goto done;
			p = strstr(pg_result_get(res, 0, 0), "\"Plan Rows\": ");
			if (p != NULL)
				e->rows_touched = atoll(p + strlen("\"Plan Rows\": "));
			pg_result_free(res);
			res = NULL;
		}
	}
	/*
	 * The sample: the first batch's keys, updated and rolled back.  WAL
	 * is written even for a transaction that rolls back, so the insert
	 * position before and after measures what a batch writes.
	 */
	n = o->batch_size > 0 ? o->batch_size : 1000;
	if (pg_exec(db, "BEGIN", 0, NULL, NULL, err) == -1)
		goto done;
	in_tx = 1;
	buf_reset(&q);
	buf_printf(&q, "SET LOCAL lock_timeout = '%ld'", o->retry.lock_timeout ?
	    (pg_timeout_ms(o->retry.lock_timeout) > 0 ?
	    pg_timeout_ms(o->retry.lock_timeout) : 2000) : 2000);
	if (pg_exec(db, buf_cstr(&q), 0, NULL, NULL, err) == -1 ||
	    bf_number(db, "SELECT pg_catalog.pg_current_wal_insert_lsn() - '0/0'", 0, NULL,
	    &wal0, err) == -1)
		goto done;
	buf_reset(&q);
	buf_printf(&q, "UPDATE %s SET %s WHERE (%s) IN (SELECT %s FROM %s ORDER BY %s"
	    " LIMIT %d)%s%s%s", f.table, o->set, buf_cstr(&keys), buf_cstr(&keys),
	    f.table, buf_cstr(&keys), n, where ? " AND (" : "", where ? where : "",
	    where ? ")" : "");
	t0 = now_ms();
	if (pg_exec(db, buf_cstr(&q), 0, NULL, NULL, err) == -1)
		goto done;
	e->sample_ms = now_ms() - t0;
	if (bf_number(db, "SELECT pg_catalog.pg_current_wal_insert_lsn() - '0/0'", 0, NULL,
	    &wal1, err) == -1)
		goto done;
	e->sample_rows = e->rows_walked < n ? e->rows_walked : n;
	if (e->sample_rows > 0) {
		e->seconds = (double)e->rows_walked * e->sample_ms / (double)e->sample_rows / 1000;
		e->wal_bytes = (long long)((wal1 - wal0) * (double)e->rows_walked /
		    (double)e->sample_rows);
	} else {
		e->seconds = 0;
		e->wal_bytes = 0;
	}
	ret = 0;
done:
	if (in_tx) {
		struct buf e2 = BUF_INIT;

		(void)pg_exec(db, "ROLLBACK", 0, NULL, NULL, &e2);
		buf_free(&e2);
	}
	pg_result_free(res);
	buf_free(&q);
	buf_free(&keys);
	strv_free(f.cols);
	strv_free(f.types);
	free(f.table);
	free(f.sql[0]);
	free(f.sql[1]);
	free(f.sql_cursor);
	free(f.keyarr);
	return ret;
}

/* The batch SQL with placeholders, for --dry-run. */
void
backfill_describe(const struct backfill_opts *o, struct buf *out)
{
	struct buf t = BUF_INIT;

	pg_quote_ident(&t, o->schema ? o->schema : "public");
	buf_putc(&t, '.');
	pg_quote_ident(&t, o->table);
	buf_printf(out,
	    "-- backfill in primary-key order (<pk> is found at run time; a table without one is refused),\n"
	    "-- batches of %d rows adapting to %d ms, pause %d ms, resumable from excon.backfill;\n"
	    "-- per batch, one transaction; the next batch is sent before this one answers\n"
	    "-- and starts after whatever cursor committed last:\n"
	    "WITH excon_b AS (<the n-th key after <cursor>, or the last one and how many are left>),\n"
	    "  excon_c AS (INSERT INTO excon.backfill (plan, step, key_columns, cursor, rows_done, rows_updated, rows_total)"
	    " SELECT ",
	    o->batch_size > 0 ? o->batch_size : 1000,
	    o->target_batch_ms > 0 ? o->target_batch_ms : 25,
	    o->pause_ms > 0 ? o->pause_ms : 0);
	pg_quote_literal(out, o->plan ? o->plan : "");
	buf_puts(out, ", ");
	pg_quote_literal(out, o->step ? o->step : "");
	buf_printf(out, ", <pk columns>, <key>, ... FROM excon_b ON CONFLICT (plan, step) DO UPDATE ...)\n"
	    "UPDATE %s SET %s WHERE (<pk>) > (<cursor>) AND (<pk>) <= (SELECT <key> FROM excon_b)%s%s%s;\n"
	    "SELECT rows_done, <cursor> FROM excon.backfill WHERE plan = ",
	    buf_cstr(&t), o->set ? o->set : "<set>",
	    o->where ? " AND (" : "", o->where ? o->where : "", o->where ? ")" : "");
	pg_quote_literal(out, o->plan ? o->plan : "");
	buf_puts(out, " AND step = ");
	pg_quote_literal(out, o->step ? o->step : "");
	buf_puts(out, ";\n"
	    "-- repeated until no key is left after the cursor (<cursor> is the one saved in excon.backfill)\n");
	buf_free(&t);
}
