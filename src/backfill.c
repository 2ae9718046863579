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
#include "xalloc.h"

/* The statements of one run, built once. */
struct bf {
	const struct backfill_opts *o;
	char		**cols;
	char		**types;
	int		  nkeys;
	char		 *table;	/* "schema"."table" */
	char		 *keylist;	/* "a", "b" */
	char		 *keyrow;	/* ("a", "b") */
	char		 *keytext;	/* "a"::text AS excon_k0, ... */
	char		 *keyarr;	/* {a,b} array literal of the column names */
	char		**cursor;	/* last key done, nkeys strings, or NULL */
	char		**upper;	/* this batch's upper key */
	long long	  n;		/* this batch's size */
	long long	  done;		/* keys walked, all runs */
	long long	  updated;	/* rows updated, all runs */
	long long	  total;	/* estimate */
	long long	  batch_keys;	/* keys in the batch just run */
	long long	  batch_updated;
	int		  last;		/* no key after the cursor */
};

/* Frees a NULL-terminated vector; NULL-safe. */
void
backfill_strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

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

/* Appends s as an element of a text[] literal: "..." with \ and " escaped. */
static void
array_elem(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

/* A text[] literal of n strings, owned by the caller. */
static char *
array_literal(char *const *v, int n)
{
	struct buf b = BUF_INIT;
	int i;

	buf_putc(&b, '{');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		array_elem(&b, v[i]);
	}
	buf_putc(&b, '}');
	return buf_detach(&b);
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

/* Creates excon.backfill on first use (serialised like the ledger). */
static int
bf_ensure_table(struct pg *db, struct buf *err)
{
	struct pg_result *res = NULL;
	int ret = -1;

	if (pg_exec(db, "SELECT to_regclass('excon.backfill') IS NOT NULL", 0, NULL,
	    &res, err) == -1)
		goto done;
	if (strcmp(pg_result_get(res, 0, 0), "t") == 0) {
		ret = 0;
		goto done;
	}
	if (pg_exec_script(db,
	    "BEGIN;"
	    "SELECT pg_catalog.pg_advisory_xact_lock(1702388591, 0);"
	    "CREATE SCHEMA IF NOT EXISTS excon;"
	    "CREATE TABLE IF NOT EXISTS excon.backfill ("
	    " plan text NOT NULL, step text NOT NULL,"
	    " key_columns text[] NOT NULL, cursor text[],"
	    " rows_done bigint NOT NULL DEFAULT 0, rows_updated bigint NOT NULL DEFAULT 0,"
	    " rows_total bigint NOT NULL DEFAULT 0, finished boolean NOT NULL DEFAULT false,"
	    " started_at timestamptz NOT NULL DEFAULT now(),"
	    " updated_at timestamptz NOT NULL DEFAULT now(),"
	    " PRIMARY KEY (plan, step));"
	    "COMMIT", NULL, err) == -1) {
		if (pg_in_transaction(db))
			(void)pg_exec(db, "ROLLBACK", 0, NULL, NULL, NULL);
		goto done;
	}
	ret = 0;
done:
	pg_result_free(res);
	return ret;
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

/* Appends "($k::type1, $k+1::type2)" with parameters numbered from first. */
static void
param_row(struct buf *b, const struct bf *f, int first)
{
	int i;

	buf_putc(b, '(');
	for (i = 0; i < f->nkeys; i++)
		buf_printf(b, "%s$%d::%s", i ? ", " : "", first + i, f->types[i]);
	buf_putc(b, ')');
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

/* Collects row 0 of res as a key (nkeys strings). */
static char **
key_from(const struct pg_result *res, int nkeys)
{
	char **k = xcalloc((size_t)nkeys + 1, sizeof *k);
	int i;

	for (i = 0; i < nkeys; i++)
		k[i] = xstrdup(pg_result_get(res, 0, i));
	return k;
}

/*
 * One batch, in one transaction (a pg_unit_fn): find the upper key, update
 * (cursor, upper] where `where` holds, save the cursor.  Sets f->last when
 * no key is left after the cursor.
 */
static int
bf_batch(struct pg *db, void *arg, struct buf *err)
{
	struct bf *f = arg;
	const struct backfill_opts *o = f->o;
	struct buf q = BUF_INIT, lo = BUF_INIT, nbuf = BUF_INIT;
	struct pg_result *res = NULL;
	const char *params[64];
	char *curlit = NULL;
	char done_s[32], upd_s[32], tot_s[32];
	int i, np, ret = -1;

	backfill_strv_free(f->upper);
	f->upper = NULL;
	f->last = 0;
	f->batch_keys = f->batch_updated = 0;
	if (pg_exec(db, "BEGIN", 0, NULL, NULL, err) == -1)
		goto done;

	/* Lower bound: the cursor, parameters $1..$k. */
	if (f->cursor != NULL) {
		buf_printf(&lo, "%s > ", f->keyrow);
		param_row(&lo, f, 1);
	} else
		buf_puts(&lo, "true");
	np = f->cursor ? f->nkeys : 0;
	for (i = 0; i < np; i++)
		params[i] = f->cursor[i];

	/*
	 * The n-th key after the cursor.  The cast to text sits outside the
	 * subquery: in the scan's own target list it would run for each of the
	 * n keys that OFFSET skips, which doubles the cost of this walk.
	 */
	buf_printf(&nbuf, "%lld", f->n - 1);
	params[np] = buf_cstr(&nbuf);
	buf_printf(&q, "SELECT %s FROM (SELECT %s FROM %s WHERE %s ORDER BY %s"
	    " OFFSET $%d::bigint LIMIT 1) AS excon_s",
	    f->keytext, f->keylist, f->table, buf_cstr(&lo), f->keylist, np + 1);
	if (pg_exec(db, buf_cstr(&q), np + 1, params, &res, err) == -1)
		goto done;
	if (pg_result_nrows(res) == 1)
		f->batch_keys = f->n;
	else {
		/* Fewer than n keys left: the last one is the bound. */
		struct buf desc = BUF_INIT;

		for (i = 0; i < f->nkeys; i++) {
			if (i > 0)
				buf_puts(&desc, ", ");
			pg_quote_ident(&desc, f->cols[i]);
			buf_puts(&desc, " DESC");
		}
		pg_result_free(res);
		res = NULL;
		buf_reset(&q);
		buf_printf(&q, "SELECT %s, (SELECT count(*) FROM %s WHERE %s) FROM %s WHERE %s ORDER BY %s LIMIT 1",
		    f->keytext, f->table, buf_cstr(&lo), f->table, buf_cstr(&lo), buf_cstr(&desc));
		buf_free(&desc);
		if (pg_exec(db, buf_cstr(&q), np, params, &res, err) == -1)
			goto done;
		if (pg_result_nrows(res) == 0) {
			f->last = 1;
			if (pg_exec(db, "COMMIT", 0, NULL, NULL, err) == -1)
				goto done;
			ret = 0;
			goto done;
		}
		f->batch_keys = atoll(pg_result_get(res, 0, f->nkeys));
	}
	f->upper = key_from(res, f->nkeys);
	pg_result_free(res);
	res = NULL;

	/* The batch: (cursor, upper] where `where` holds. */
	for (i = 0; i < f->nkeys; i++)
		params[np + i] = f->upper[i];
	buf_reset(&q);
	buf_printf(&q, "WITH u AS (UPDATE %s SET %s WHERE %s AND %s <= ",
	    f->table, o->set, buf_cstr(&lo), f->keyrow);
	param_row(&q, f, np + 1);
	if (o->where != NULL && o->where[0] != '\0')
		buf_printf(&q, " AND (%s)", o->where);
	buf_puts(&q, " RETURNING 1) SELECT count(*) FROM u");
	if (pg_exec(db, buf_cstr(&q), np + f->nkeys, params, &res, err) == -1)
		goto done;
	f->batch_updated = atoll(pg_result_get(res, 0, 0));

	/* The cursor, committed with the batch. */
	curlit = array_literal(f->upper, f->nkeys);
	snprintf(done_s, sizeof done_s, "%lld", f->done + f->batch_keys);
	snprintf(upd_s, sizeof upd_s, "%lld", f->updated + f->batch_updated);
	snprintf(tot_s, sizeof tot_s, "%lld", f->total);
	{
		const char *p2[] = { o->plan, o->step, f->keyarr, curlit, done_s, upd_s, tot_s };

		if (pg_exec(db,
		    "INSERT INTO excon.backfill (plan, step, key_columns, cursor, rows_done,"
		    " rows_updated, rows_total) VALUES ($1, $2, $3::text[], $4::text[], $5, $6, $7)"
		    " ON CONFLICT (plan, step) DO UPDATE SET cursor = EXCLUDED.cursor,"
		    " rows_done = EXCLUDED.rows_done, rows_updated = EXCLUDED.rows_updated,"
		    " rows_total = EXCLUDED.rows_total, updated_at = now()",
		    7, p2, NULL, err) == -1)
			goto done;
	}
	if (pg_exec(db, "COMMIT", 0, NULL, NULL, err) == -1)
		goto done;
	ret = 0;
done:
	pg_result_free(res);
	buf_free(&q);
	buf_free(&lo);
	buf_free(&nbuf);
	free(curlit);
	return ret;
}

/* Builds the SQL fragments of a run from the primary key. */
static void
bf_prepare(struct bf *f)
{
	struct buf t = BUF_INIT, kl = BUF_INIT, kt = BUF_INIT;

	pg_quote_ident(&t, f->o->schema ? f->o->schema : "public");
	buf_putc(&t, '.');
	pg_quote_ident(&t, f->o->table);
	f->table = buf_detach(&t);
	for (f->nkeys = 0; f->cols[f->nkeys] != NULL; f->nkeys++) {
		if (f->nkeys > 0) {
			buf_puts(&kl, ", ");
			buf_puts(&kt, ", ");
		}
		pg_quote_ident(&kl, f->cols[f->nkeys]);
		pg_quote_ident(&kt, f->cols[f->nkeys]);
		/* Aliased: ORDER BY "id" would otherwise sort by the text output column. */
		buf_printf(&kt, "::text AS excon_k%d", f->nkeys);
	}
	f->keylist = buf_detach(&kl);
	f->keytext = buf_detach(&kt);
	f->keyrow = xasprintf("(%s)", f->keylist);
	f->keyarr = array_literal(f->cols, f->nkeys);
}

/* Runs or resumes the backfill (see backfill.h). */
int
backfill_run(struct pg *db, const struct backfill_opts *o,
    struct backfill_progress *out, struct buf *err)
{
	struct bf f;
	struct backfill_progress pr;
	struct buf cur = BUF_INIT;
	const char *schema = o->schema ? o->schema : "public";
	int minb = o->min_batch > 0 ? o->min_batch : 10;
	int maxb = o->max_batch > 0 ? o->max_batch : 100000;
	int target = o->target_batch_ms == 0 ? 200 : o->target_batch_ms;
	double t0, t1;
	long long done0;
	int resumed = 0, ret = -1;

	memset(&f, 0, sizeof f);
	memset(&pr, 0, sizeof pr);
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
	bf_prepare(&f);
	if (bf_ensure_table(db, err) == -1 || bf_load(db, &f, &resumed, err) == -1)
		goto done;
	if (f.total == 0 && bf_estimate(db, &f, err) == -1)
		goto done;
	done0 = f.done;
	pr.resumed = resumed;
	t0 = now_ms();
	for (;;) {
		double b0 = now_ms();
		long ms;

		if (o->max_batches > 0 && pr.batches >= o->max_batches)
			break;
		if (pg_retry_run(db, &o->retry, bf_batch, &f, NULL, err) == -1) {
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
		if (f.last)
			break;
		ms = (long)(now_ms() - b0);
		backfill_strv_free(f.cursor);
		f.cursor = f.upper;
		f.upper = NULL;
		f.done += f.batch_keys;
		f.updated += f.batch_updated;
		if (f.total < f.done)
			f.total = f.done;
		pr.batches++;
		/* Aim the next batch at target_batch_ms, changing at most 2x per batch. */
		if (target > 0) {
			double want = (double)f.n * target / (ms > 0 ? ms : 1);

			if (want > f.n * 2.0)
				want = f.n * 2.0;
			if (want < f.n / 2.0)
				want = f.n / 2.0;
			f.n = (long long)want;
			if (f.n < minb)
				f.n = minb;
			if (f.n > maxb)
				f.n = maxb;
		}
		t1 = now_ms();
		buf_reset(&cur);
		key_display(&cur, f.cursor, f.nkeys);
		pr.rows_done = f.done;
		pr.rows_updated = f.updated;
		pr.rows_total = f.total;
		pr.batch_size = (int)f.n;
		pr.last_batch_ms = ms;
		pr.rate = t1 > t0 ? (double)(f.done - done0) * 1000.0 / (t1 - t0) : 0;
		pr.eta_s = pr.rate > 0 ? (long)((double)(f.total - f.done) / pr.rate) : -1;
		pr.cursor = buf_cstr(&cur);
		if (o->progress != NULL)
			o->progress(o->arg, &pr);
		if (o->pause_ms > 0)
			pause_ms(o->pause_ms);
	}
	if (f.last) {
		const char *params[] = { o->plan, o->step };

		if (pg_exec(db, "UPDATE excon.backfill SET finished = true, updated_at = now()"
		    " WHERE plan = $1 AND step = $2", 2, params, NULL, err) == -1)
			goto done;
		pr.finished = 1;
		pr.rows_total = f.total = f.done;
		pr.rows_done = f.done;
		pr.rows_updated = f.updated;
		pr.eta_s = 0;
		pr.cursor = NULL;
		if (o->progress != NULL)
			o->progress(o->arg, &pr);
	}
	pr.cursor = NULL;
	if (out != NULL)
		*out = pr;
	ret = 0;
done:
	backfill_strv_free(f.cols);
	backfill_strv_free(f.types);
	backfill_strv_free(f.cursor);
	backfill_strv_free(f.upper);
	free(f.table);
	free(f.keylist);
	free(f.keyrow);
	free(f.keytext);
	free(f.keyarr);
	buf_free(&cur);
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
	    "-- batches of %d rows adapting to %d ms, pause %d ms, resumable from excon.backfill; per batch:\n"
	    "BEGIN;\n"
	    "SELECT <pk> FROM %s WHERE (<pk>) > (<cursor>) ORDER BY <pk> OFFSET <n - 1> LIMIT 1;\n"
	    "UPDATE %s SET %s WHERE (<pk>) > (<cursor>) AND (<pk>) <= (<upper>)%s%s%s;\n"
	    "INSERT INTO excon.backfill (plan, step, key_columns, cursor, rows_done, rows_updated, rows_total)"
	    " VALUES (",
	    o->batch_size > 0 ? o->batch_size : 1000,
	    o->target_batch_ms > 0 ? o->target_batch_ms : 200,
	    o->pause_ms > 0 ? o->pause_ms : 0,
	    buf_cstr(&t), buf_cstr(&t), o->set ? o->set : "<set>",
	    o->where ? " AND (" : "", o->where ? o->where : "", o->where ? ")" : "");
	pg_quote_literal(out, o->plan ? o->plan : "");
	buf_puts(out, ", ");
	pg_quote_literal(out, o->step ? o->step : "");
	buf_puts(out, ", <pk columns>, <upper>, ...) ON CONFLICT (plan, step) DO UPDATE ...;\n"
	    "COMMIT;\n"
	    "-- repeated until no key is left after the cursor\n");
	buf_free(&t);
}
