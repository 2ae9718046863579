/*
 * The step executor (see exec.h for the API and the naming conventions).
 *
 * A step becomes a script (sqlgen.h): a list of units, each either one
 * transaction (BEGIN ... COMMIT) or statements run outside a transaction.
 * The same script is rendered by exec_dry_run and run by exec_step, so the
 * dry run shows what really runs.  Each unit is retried as a whole on lock
 * timeout or deadlock (pg_retry_run); a transactional step writes its
 * ledger row in its last unit, a non-transactional one in a unit of its own
 * afterwards.  Every unit is idempotent on its own, so a rerun after a
 * crash between units is safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backfill.h"
#include "dbschema.h"
#include "exec.h"
#include "pg.h"
#include "sqlgen.h"
#include "util.h"
#include "xalloc.h"

struct exec {
	struct exec_opts	 o;
	struct pg		*db;
	char			*locked;	/* plan whose lock we hold */
	int			 ledger_ok;
};

/* 1 when the kind writes its ledger row (every DB kind). */
int
exec_step_runs_sql(const struct step *s)
{
	return sqlgen_runs_sql(s);
}

/* Default options. */
void
exec_opts_init(struct exec_opts *o)
{
	memset(o, 0, sizeof *o);
	o->lock_timeout = "2s";
	o->lock_retries = 10;
	o->batch_size = 1000;
	o->target_batch_ms = 25;
}

/* The effective retry settings of a step. */
static void
step_retry(const struct exec_opts *o, const struct step *s, struct pg_retry *r,
    struct buf *what)
{
	memset(r, 0, sizeof *r);
	r->lock_timeout = s->lock_timeout.s ? s->lock_timeout.s :
	    o->lock_timeout ? o->lock_timeout : "2s";
	r->statement_timeout = s->statement_timeout.s ? s->statement_timeout.s :
	    o->statement_timeout;
	r->retries = s->lock_retries >= 0 ? s->lock_retries : o->lock_retries;
	r->base_ms = o->retry_base_ms;
	r->cap_ms = o->retry_cap_ms;
	buf_printf(what, "step '%s'", s->id.s);
	r->what = buf_cstr(what);
	r->notify = o->notify;
	r->arg = o->arg;
}

/* The backfill options of a step. */
static void
step_backfill(const struct exec_opts *o, const struct plan *p, const struct step *s,
    struct backfill_opts *b)
{
	memset(b, 0, sizeof *b);
	b->plan = p->name.s;
	b->step = s->id.s;
	b->schema = sqlgen_schema_of(s);
	b->table = s->table.s;
	b->set = s->set.s;
	b->where = s->where.s;
	b->batch_size = s->batch_size > 0 ? s->batch_size : o->batch_size;
	b->target_batch_ms = s->target_batch_ms > 0 ? s->target_batch_ms : o->target_batch_ms;
	b->pause_ms = s->pause_ms >= 0 ? s->pause_ms : o->pause_ms;
	b->max_replica_lag_ms = o->max_replica_lag_ms;
	b->max_xact_age_ms = o->max_xact_age_ms;
	b->stop = o->stop;
	b->replicas = o->replicas;
	b->progress = o->progress;
	b->arg = o->arg;
}

/* Renders a script as the dry-run text. */
static int
render(const struct exec_opts *o, const struct plan *p, const struct step *s,
    const struct sqlgen_script *sc, struct buf *out, struct buf *err)
{
	struct pg_retry r;
	struct buf what = BUF_INIT, app = BUF_INIT;
	size_t i;
	int ret = -1;

	step_retry(o, s, &r, &what);
	if (!pg_timeout_valid(r.lock_timeout)) {
		error_set(err, "step '%s': invalid lock_timeout '%s'", s->id.s, r.lock_timeout);
		goto done;
	}
	if (r.statement_timeout != NULL && !pg_timeout_valid(r.statement_timeout)) {
		error_set(err, "step '%s': invalid statement_timeout '%s'", s->id.s,
		    r.statement_timeout);
		goto done;
	}
	buf_printf(out, "-- plan '%s', step '%s'\n", p->name.s, s->id.s);
	if (sc->n == 0) {
		buf_puts(out, "-- nothing to run on the database\n");
		ret = 0;
		goto done;
	}
	buf_printf(&app, "excon %s/%s", p->name.s, s->id.s);
	buf_puts(out, "SET application_name = ");
	pg_quote_literal(out, buf_cstr(&app));
	buf_printf(out, ";\nSET lock_timeout = '%s';\n", r.lock_timeout);
	if (r.statement_timeout != NULL)
		buf_printf(out, "SET statement_timeout = '%s';\n", r.statement_timeout);
	for (i = 0; i < sc->n; i++) {
		const struct sqlgen_unit *u = &sc->v[i];

		if (u->kind == SQLGEN_BACKFILL) {
			struct backfill_opts bo;

			step_backfill(o, p, s, &bo);
			backfill_describe(&bo, out);
			continue;
		}
		sqlgen_render_unit(out, u);
	}
	ret = 0;
done:
	buf_free(&what);
	buf_free(&app);
	return ret;
}

/* Appends n bytes in a readable unit. */
static void
human_bytes(struct buf *out, double n)
{
	const char *u[] = { "bytes", "kB", "MB", "GB", "TB" };
	int i = 0;

	while (n >= 1024 && i < 4) {
		n /= 1024;
		i++;
	}
	buf_printf(out, i ? "%.1f %s" : "%.0f %s", n, u[i]);
}

/* Estimates a backfill step (see exec.h). */
int
exec_estimate(const struct exec_opts *o, const struct plan *p, const struct step *s,
    int exact, struct buf *out, struct buf *err)
{
	struct backfill_opts bo;
	struct backfill_estimate e;
	struct pg *db = NULL;
	struct buf app = BUF_INIT;
	struct pg_retry r;
	struct buf what = BUF_INIT;
	int ret = -1;

	buf_printf(&app, "excon %s/%s", p->name.s, s->id.s);
	if (pg_connect(&db, o->conninfo, buf_cstr(&app), err) == -1)
		goto done;
	step_retry(o, s, &r, &what);
	step_backfill(o, p, s, &bo);
	bo.retry = r;
	if (backfill_estimate(db, &bo, exact, &e, err) == -1)
		goto done;
	buf_printf(out, "-- estimate: walks %s%lld rows, updates %s%lld (%s)", exact ? "" : "~",
	    e.rows_walked, exact ? "" : "~", e.rows_touched, exact ? "counted" :
	    "from the catalog and the planner; --exact counts them");
	if (e.seconds >= 0) {
		long sec = (long)(e.seconds + 0.5);

		buf_printf(out, ";\n--   about %ld:%02ld:%02ld", sec / 3600, sec / 60 % 60, sec % 60);
		buf_printf(out, " (a rolled-back sample of %lld rows took %.1f ms)", e.sample_rows,
		    e.sample_ms);
		buf_puts(out, ", writing ~");
		human_bytes(out, (double)e.wal_bytes);
		buf_puts(out, " of WAL");
	}
	buf_puts(out, "\n");
	ret = 0;
done:
	pg_close(db);
	buf_free(&app);
	buf_free(&what);
	return ret;
}

/* The dry run: the statements that would run, without connecting. */
int
exec_dry_run(const struct exec_opts *o, const struct plan *p, const struct step *s,
    int rollback, struct buf *out, struct buf *err)
{
	struct sqlgen_script sc = { 0 };
	struct sqlgen_parsed ps;
	int ret = -1;

	if (sqlgen_parse(s, &ps, err) == -1)
		return -1;
	s = &ps.s;
	if ((rollback ? sqlgen_rollback(p, s, &sc, err) : sqlgen_step(p, s, &sc, err)) == -1)
		goto done;
	ret = render(o, p, s, &sc, out, err);
done:
	sqlgen_script_free(&sc);
	sqlgen_parsed_free(&ps);
	return ret;
}

/* Forwards notices to the caller's callback. */
static void
exec_notice(void *arg, const char *line)
{
	struct exec *x = arg;

	if (x->o.notify != NULL)
		x->o.notify(x->o.arg, line);
}

/* Connects with application_name "excon". */
int
exec_connect(struct exec **out, const struct exec_opts *o, struct buf *err)
{
	struct exec *x = xcalloc(1, sizeof *x);
	int ret = -1;

	*out = NULL;
	x->o = *o;
	if (pg_connect(&x->db, o->conninfo, "excon", err) == -1)
		goto done;
	pg_set_notify(x->db, exec_notice, x);
	*out = x;
	x = NULL;
	ret = 0;
done:
	exec_close(x);
	return ret;
}

/* Disconnects; NULL-safe. */
void
exec_close(struct exec *x)
{
	if (x == NULL)
		return;
	pg_close(x->db);
	free(x->locked);
	free(x);
}

/* Monotonic milliseconds. */
static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/*
 * Takes the plan's advisory lock, waiting up to o.lock_wait_ms while
 * another session holds it, or names its holder.  Why wait: a killed
 * excon's session keeps the lock until the server notices that its client
 * is gone, which takes from milliseconds to client_connection_check_interval
 * or the keepalive timeout; the next excon, started at once, should not
 * be refused for that.
 */
int
exec_lock_plan(struct exec *x, const char *plan, struct buf *err)
{
	struct buf holder = BUF_INIT;
	double t0 = mono_ms(), waited = 0;
	int got, said = 0, ret = -1;

	if (x->locked != NULL && strcmp(x->locked, plan) == 0)
		return 0;
	if (x->locked != NULL) {
		if (dbschema_plan_unlock(x->db, x->locked, err) == -1)
			goto done;
		free(x->locked);
		x->locked = NULL;
	}
	for (;;) {
		struct timespec ts = { 0, 200 * 1000000L };

		if (dbschema_plan_lock(x->db, plan, &got, &holder, err) == -1)
			goto done;
		if (got)
			break;
		waited = mono_ms() - t0;
		if (waited >= (double)x->o.lock_wait_ms) {
			if (x->o.lock_wait_ms > 0)
				error_set(err, "plan '%s' is being advanced by another excon "
				    "(%s); waited %.0f s", plan, buf_cstr(&holder), waited / 1000);
			else
				error_set(err, "plan '%s' is being advanced by another excon (%s)",
				    plan, buf_cstr(&holder));
			goto done;
		}
		if (!said && x->o.notify != NULL) {
			struct buf line = BUF_INIT;

			buf_printf(&line, "waiting up to %.0f s for plan '%s', locked by "
			    "another excon (%s)", (double)x->o.lock_wait_ms / 1000, plan,
			    buf_cstr(&holder));
			x->o.notify(x->o.arg, buf_cstr(&line));
			buf_free(&line);
			said = 1;
		}
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	if (said && x->o.notify != NULL) {
		struct buf line = BUF_INIT;

		buf_printf(&line, "plan '%s' released after %.1f s; going on", plan,
		    (mono_ms() - t0) / 1000);
		x->o.notify(x->o.arg, buf_cstr(&line));
		buf_free(&line);
	}
	x->locked = xstrdup(plan);
	ret = 0;
done:
	buf_free(&holder);
	return ret;
}

/* Creates schema excon and the ledger on first use (dbschema.h). */
static int
ledger_ensure(struct exec *x, struct buf *err)
{
	if (x->ledger_ok)
		return 0;
	if (dbschema_ensure(x->db, DBSCHEMA_LEDGER, err) == -1)
		return -1;
	x->ledger_ok = 1;
	return 0;
}

/*
 * Fork protection; see exec.h.  The settings outlive this call for the
 * session, so every ledger row the session writes records them.
 */
int
exec_history_claim(struct exec *x, const char *history_id, const char *release,
    const char *actor, struct buf *other, struct buf *err)
{
	const char *params[] = { history_id, release, actor };
	struct pg_result *res = NULL;
	int ret = -1;

	if (pg_exec(x->db, "SELECT set_config('excon.history_id', $1, false), "
	    "set_config('excon.release', $2, false), "
	    "set_config('excon.actor', $3, false)", 3, params, NULL, err) == -1 ||
	    ledger_ensure(x, err) == -1)
		goto done;
	if (pg_exec(x->db, "SELECT history_id, coalesce(actor, applied_by), "
	    "to_char(applied_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), release, plan, step "
	    "FROM excon.ledger WHERE history_id IS NOT NULL AND history_id <> $1 "
	    "ORDER BY applied_at DESC LIMIT 1", 1, params, &res, err) == -1)
		goto done;
	ret = 0;
	if (pg_result_nrows(res) > 0) {
		buf_reset(other);
		buf_printf(other, "this database was migrated under another "
		    "history (id %s, last used here by %s at %s: %s/%s in release "
		    "%s); this history is %s.  Two histories would count releases "
		    "apart: point --state at the history that migrated it (the "
		    "team's shared store)", pg_result_get(res, 0, 0),
		    pg_result_get(res, 0, 1), pg_result_get(res, 0, 2),
		    pg_result_get(res, 0, 4), pg_result_get(res, 0, 5),
		    pg_result_get(res, 0, 3) ? pg_result_get(res, 0, 3) : "?",
		    history_id);
		ret = 1;
	}
done:
	pg_result_free(res);
	return ret;
}

/*
 * Looks plan/step up in the ledger.  Read-only: a database without the
 * ledger (excon never ran a step there) has no row, and `excon verify`
 * must not create the excon schema.
 */
int
exec_ledger_get(struct exec *x, const char *plan, const char *step, int *found,
    struct buf *sum, struct buf *err)
{
	const char *params[] = { plan, step };
	struct pg_result *res = NULL;
	int ret = -1;

	*found = 0;
	if (!x->ledger_ok) {
		if (pg_exec(x->db, "SELECT to_regclass('excon.ledger') IS NOT NULL",
		    0, NULL, &res, err) == -1)
			goto done;
		if (strcmp(pg_result_get(res, 0, 0), "t") != 0) {
			ret = 0;
			goto done;
		}
		pg_result_free(res);
		res = NULL;
	}
	if (pg_exec(x->db, "SELECT checksum FROM excon.ledger WHERE plan = $1 AND step = $2",
	    2, params, &res, err) == -1)
		goto done;
	if (pg_result_nrows(res) > 0) {
		*found = 1;
		if (sum != NULL) {
			buf_reset(sum);
			buf_puts(sum, pg_result_get(res, 0, 0));
		}
	}
	ret = 0;
done:
	pg_result_free(res);
	return ret;
}

/* What one unit needs to run inside pg_retry_run. */
struct unit_ctx {
	struct exec		*x;
	const struct sqlgen_unit	*u;
	const struct plan	*p;
	const struct step	*s;
};

/* Runs one statement of a unit. */
static int
run_stmt(struct pg *db, const struct sqlgen_stmt *st, struct buf *err)
{
	if (st->script)
		return pg_exec_script(db, st->sql, NULL, err);
	return pg_exec(db, st->sql, st->nparams, (const char *const *)st->params,
	    NULL, err);
}

/* Runs one unit once (pg_unit_fn). */
static int
run_unit(struct pg *db, void *arg, struct buf *err)
{
	struct unit_ctx *c = arg;
	const struct sqlgen_unit *u = c->u;
	struct pg_result *res = NULL;
	size_t i;
	int ret = -1;

	if (u->kind == SQLGEN_INDEX) {
		const char *params[] = { u->schema, u->name };
		struct buf drop = BUF_INIT;

		if (pg_exec(db, "SELECT 1 FROM pg_catalog.pg_index i"
		    " JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
		    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		    " WHERE n.nspname = $1 AND c.relname = $2 AND NOT i.indisvalid",
		    2, params, &res, err) == -1)
			goto done;
		if (pg_result_nrows(res) > 0) {
			buf_puts(&drop, "DROP INDEX CONCURRENTLY IF EXISTS ");
			sqlgen_qualified(&drop, u->schema, u->name);
			if (c->x->o.notify != NULL) {
				struct buf line = BUF_INIT;

				buf_printf(&line, "step '%s': dropping INVALID index '%s' left by an earlier build",
				    c->s->id.s, u->name);
				c->x->o.notify(c->x->o.arg, buf_cstr(&line));
				buf_free(&line);
			}
			if (pg_exec(db, buf_cstr(&drop), 0, NULL, NULL, err) == -1) {
				buf_free(&drop);
				goto done;
			}
		}
		buf_free(&drop);
	}
	if (u->kind == SQLGEN_TX && pg_exec(db, "BEGIN", 0, NULL, NULL, err) == -1)
		goto done;
	for (i = 0; i < u->n; i++)
		if (run_stmt(db, &u->v[i], err) == -1)
			goto done;
	if (u->kind == SQLGEN_TX && pg_exec(db, "COMMIT", 0, NULL, NULL, err) == -1)
		goto done;
	ret = 0;
done:
	pg_result_free(res);
	return ret;
}

/* Prefixes err with the step id. */
static int
step_error(const struct step *s, struct buf *err)
{
	struct buf m = BUF_INIT;

	if (err == NULL)
		return -1;
	buf_printf(&m, "step '%s': %s", s->id.s, buf_cstr(err));
	error_set(err, "%s", buf_cstr(&m));
	buf_free(&m);
	return -1;
}

/* Runs a script unit by unit with the step's retry policy. */
static int
run_script(struct exec *x, const struct plan *p, const struct step *s,
    const struct sqlgen_script *sc, struct buf *err)
{
	struct buf what = BUF_INIT;
	struct pg_retry r;
	size_t i;
	int ret = -1;

	step_retry(&x->o, s, &r, &what);
	for (i = 0; i < sc->n; i++) {
		struct unit_ctx c = { x, &sc->v[i], p, s };

		if (sc->v[i].kind == SQLGEN_BACKFILL) {
			struct backfill_opts bo;

			struct pg *watch = NULL;
			struct buf wname = BUF_INIT, werr = BUF_INIT;
			int rc;

			step_backfill(&x->o, p, s, &bo);
			bo.retry = r;
			/* Best effort: without it the batches only adapt to their time. */
			buf_printf(&wname, "excon %s/%s (lock watch)", p->name.s, s->id.s);
			if (pg_connect(&watch, x->o.conninfo, buf_cstr(&wname), &werr) == 0)
				bo.watch = watch;
			rc = backfill_run(x->db, &bo, NULL, err);
			pg_close(watch);
			buf_free(&wname);
			buf_free(&werr);
			if (rc == -1)
				goto done;
			continue;
		}
		if (pg_retry_run(x->db, &r, run_unit, &c, NULL, err) == -1) {
			step_error(s, err);
			goto done;
		}
	}
	ret = 0;
done:
	buf_free(&what);
	return ret;
}

/* Sets application_name to "excon <plan>/<step>". */
static int
set_step_appname(struct exec *x, const struct plan *p, const struct step *s,
    struct buf *err)
{
	struct buf app = BUF_INIT;
	int ret;

	buf_printf(&app, "excon %s/%s", p->name.s, s->id.s);
	ret = pg_set_appname(x->db, buf_cstr(&app), err);
	buf_free(&app);
	return ret;
}

/*
 * Whether a backfill found in the ledger must walk again: *left is 1 when
 * rows of its table still match its `where` (always 0 without one).  That
 * happens when its verify failed and the data it reads was fixed since:
 * the ledger says the walk ran, but rows it is meant to cover are left.
 * After a crash between the ledger row and the state file nothing matches
 * (the walk covered every row), so the step is not run twice.
 */
static int
backfill_rows_left(struct exec *x, const struct step *s, int *left, struct buf *err)
{
	struct buf q = BUF_INIT;
	struct pg_result *res = NULL;
	int ret = -1;

	*left = 0;
	if (s->kind != KIND_BACKFILL || s->where.s == NULL || s->where.s[0] == '\0')
		return 0;
	buf_puts(&q, "SELECT EXISTS (SELECT 1 FROM ");
	sqlgen_table(&q, s);
	buf_printf(&q, " WHERE %s)", s->where.s);
	if (pg_exec(x->db, buf_cstr(&q), 0, NULL, &res, err) == -1) {
		step_error(s, err);
		goto done;
	}
	*left = strcmp(pg_result_get(res, 0, 0), "t") == 0;
	ret = 0;
done:
	pg_result_free(res);
	buf_free(&q);
	return ret;
}

/* Forgets a backfill's ledger row and cursor in one transaction, so that it walks again. */
static int
backfill_restart(struct exec *x, const struct plan *p, const struct step *s,
    struct buf *err)
{
	const char *params[] = { p->name.s, s->id.s };

	if (x->o.notify != NULL) {
		struct buf line = BUF_INIT;

		buf_printf(&line, "step '%s' ran before, but rows still match where '%s': walking the table again",
		    s->id.s, s->where.s);
		x->o.notify(x->o.arg, buf_cstr(&line));
		buf_free(&line);
	}
	if (pg_exec(x->db, "BEGIN", 0, NULL, NULL, err) == -1 ||
	    pg_exec(x->db, "DELETE FROM excon.ledger WHERE plan = $1 AND step = $2",
	    2, params, NULL, err) == -1 ||
	    backfill_forget(x->db, p->name.s, s->id.s, err) == -1 ||
	    pg_exec(x->db, "COMMIT", 0, NULL, NULL, err) == -1) {
		if (pg_in_transaction(x->db))
			(void)pg_exec(x->db, "ROLLBACK", 0, NULL, NULL, NULL);
		return step_error(s, err);
	}
	return 0;
}

/* Runs step s (see exec.h). */
int
exec_step(struct exec *x, const struct plan *p, const struct step *s,
    enum exec_outcome *out, struct buf *err)
{
	struct sqlgen_script sc = { 0 };
	struct buf sum = BUF_INIT;
	struct sqlgen_parsed ps;
	int found, ret = -1;

	*out = EXEC_NO_SQL;
	if (!exec_step_runs_sql(s))
		return 0;
	if (sqlgen_parse(s, &ps, err) == -1)
		return -1;
	s = &ps.s;
	if (sqlgen_step(p, s, &sc, err) == -1)
		goto done;
	if (exec_lock_plan(x, p->name.s, err) == -1)
		goto done;
	if (set_step_appname(x, p, s, err) == -1)
		goto done;
	if (ledger_ensure(x, err) == -1 ||
	    exec_ledger_get(x, p->name.s, s->id.s, &found, &sum, err) == -1)
		goto done;
	if (found) {
		int left;

		if (strcmp(buf_cstr(&sum), s->checksum) != 0) {
			error_set(err, "step '%s' is in the database ledger with another checksum (%.12s, now %.12s): it was edited after it ran",
			    s->id.s, buf_cstr(&sum), s->checksum);
			goto done;
		}
		if (backfill_rows_left(x, s, &left, err) == -1)
			goto done;
		if (!left) {
			*out = EXEC_ALREADY_APPLIED;
			ret = 0;
			goto done;
		}
		if (backfill_restart(x, p, s, err) == -1)
			goto done;
	}
	if (run_script(x, p, s, &sc, err) == -1)
		goto done;
	*out = EXEC_APPLIED;
	ret = 0;
done:
	sqlgen_script_free(&sc);
	buf_free(&sum);
	sqlgen_parsed_free(&ps);
	return ret;
}

/* Undoes step s (see exec.h). */
int
exec_rollback(struct exec *x, const struct plan *p, const struct step *s,
    struct buf *err)
{
	struct sqlgen_script sc = { 0 };
	int ret = -1;

	if (sqlgen_rollback(p, s, &sc, err) == -1)
		goto done;
	if (sc.n == 0) {
		ret = 0;
		goto done;
	}
	if (exec_lock_plan(x, p->name.s, err) == -1 ||
	    set_step_appname(x, p, s, err) == -1 || ledger_ensure(x, err) == -1)
		goto done;
	if (s->kind == KIND_BACKFILL && backfill_forget(x->db, p->name.s, s->id.s, err) == -1)
		goto done;
	ret = run_script(x, p, s, &sc, err);
done:
	sqlgen_script_free(&sc);
	return ret;
}

/* Runs the step's verify query (see exec.h). */
int
exec_verify(struct exec *x, const struct plan *p, const struct step *s, int *ok,
    struct buf *detail, struct buf *err)
{
	struct pg_result *res = NULL;
	struct buf e2 = BUF_INIT;
	struct sqlgen_parsed ps;
	const char *v;
	int ret = -1;

	(void)p;
	*ok = 1;
	if (s->verify.s == NULL)
		return 0;
	if (sqlgen_parse(s, &ps, err) == -1)
		return -1;
	s = &ps.s;
	if (pg_exec(x->db, "BEGIN READ ONLY", 0, NULL, NULL, err) == -1)
		goto done;
	if (pg_exec_script(x->db, s->verify.s, &res, err) == -1) {
		step_error(s, err);
		goto done;
	}
	if (pg_result_ncols(res) != 1 || pg_result_nrows(res) != 1 ||
	    !pg_result_is_bool(res, 0)) {
		error_set(err, "step '%s': verify must return exactly one boolean (got %d row(s) of %d column(s)%s)",
		    s->id.s, pg_result_nrows(res), pg_result_ncols(res),
		    pg_result_ncols(res) == 1 && !pg_result_is_bool(res, 0) ? ", not boolean" : "");
		goto done;
	}
	if ((v = pg_result_get(res, 0, 0)) == NULL) {
		error_set(err, "step '%s': verify returned NULL", s->id.s);
		goto done;
	}
	*ok = strcmp(v, "t") == 0;
	if (!*ok && detail != NULL) {
		buf_reset(detail);
		buf_printf(detail, "verify of step '%s' returned false", s->id.s);
		if (s->kind == KIND_BACKFILL && s->where.s != NULL && s->table.s != NULL) {
			struct buf q = BUF_INIT;

			pg_result_free(res);
			res = NULL;
			buf_puts(&q, "SELECT count(*) FROM ");
			sqlgen_table(&q, s);
			buf_printf(&q, " WHERE %s", s->where.s);
			if (pg_exec(x->db, buf_cstr(&q), 0, NULL, &res, &e2) == 0) {
				if (strcmp(pg_result_get(res, 0, 0), "0") != 0)
					buf_printf(detail, "; %s row(s) still match where '%s'",
					    pg_result_get(res, 0, 0), s->where.s);
				else
					buf_printf(detail, "; no row matches where '%s' any"
					    " more, so the values written fail the verify:"
					    " check the step's set expression and the writes"
					    " made since", s->where.s);
			}
			buf_free(&q);
		}
	}
	ret = 0;
done:
	if (pg_in_transaction(x->db))
		(void)pg_exec(x->db, "ROLLBACK", 0, NULL, NULL, &e2);
	pg_result_free(res);
	buf_free(&e2);
	sqlgen_parsed_free(&ps);
	return ret;
}

/* Kinds of database object an effect is about. */
enum obj {
	OBJ_NONE,
	OBJ_TABLE,
	OBJ_COLUMN,
	OBJ_INDEX,
	OBJ_CONSTRAINT,
	OBJ_VALID,	/* constraint validated */
	OBJ_TRIGGER,
	OBJ_NOTNULL,
};

/* What a shipped step leaves behind. */
struct effect {
	enum obj	 obj;
	const char	*schema;
	const char	*table;
	const char	*name;		/* column, index, constraint, trigger */
	const char	*other;		/* sync trigger: the second column */
	int		 present;	/* 1 = must exist, 0 = must be gone */
	struct buf	 nbuf;		/* owns name when it is generated */
};

/* The effect of step s, or OBJ_NONE when nothing is checkable. */
static void
step_effect(const struct step *s, struct effect *e)
{
	struct buf n = BUF_INIT;

	memset(e, 0, sizeof *e);
	e->nbuf = (struct buf)BUF_INIT;
	e->schema = sqlgen_schema_of(s);
	e->table = s->table.s;
	e->present = 1;
	switch (s->kind) {
	case KIND_ADD_COLUMN:
		e->obj = OBJ_COLUMN;
		e->name = s->column.s;
		break;
	case KIND_CREATE_TABLE:
		e->obj = OBJ_TABLE;
		break;
	case KIND_CREATE_INDEX:
		e->obj = OBJ_INDEX;
		sqlgen_index_name(&n, s);
		break;
	case KIND_ADD_CONSTRAINT:
		e->obj = OBJ_CONSTRAINT;
		sqlgen_constraint_name(&n, s);
		break;
	case KIND_VALIDATE_CONSTRAINT:
		e->obj = OBJ_VALID;
		e->name = s->name.s;
		break;
	case KIND_DUAL_WRITE:
		if (!s->trigger)
			break;
		e->obj = OBJ_TRIGGER;
		sqlgen_sync_name(&n, s);
		e->name = NULL;
		break;
	case KIND_SET_NOT_NULL:
		e->obj = OBJ_NOTNULL;
		e->name = s->column.s;
		break;
	case KIND_STOP_OLD_WRITES:
		if (!s->drop_not_null)
			break;
		e->obj = OBJ_NOTNULL;
		e->name = s->column.s;
		e->present = 0;
		break;
	case KIND_DROP_COLUMN:
		e->obj = OBJ_COLUMN;
		e->name = s->column.s;
		e->present = 0;
		break;
	case KIND_DROP_TABLE:
		e->obj = OBJ_TABLE;
		e->present = 0;
		break;
	case KIND_DROP_INDEX:
		e->obj = OBJ_INDEX;
		e->name = s->name.s;
		e->present = 0;
		break;
	case KIND_DROP_CONSTRAINT:
		e->obj = OBJ_CONSTRAINT;
		e->name = s->name.s;
		e->present = 0;
		break;
	case KIND_DROP_TRIGGER:
		e->obj = OBJ_TRIGGER;
		e->name = s->name.s;
		e->present = 0;
		break;
	default:
		break;
	}
	if (n.len > 0) {
		e->nbuf = n;
		n = (struct buf)BUF_INIT;
		e->name = buf_cstr(&e->nbuf);
	} else if (e->name != NULL && strlen(e->name) > IDENT_MAX) {
		buf_puts(&e->nbuf, e->name);
		e->name = buf_cstr(&e->nbuf);
	}
	if (e->nbuf.len > 0) {
		sqlgen_catalog_name(&e->nbuf);
		e->name = buf_cstr(&e->nbuf);
	}
	if (s->kind == KIND_DUAL_WRITE) {
		e->other = s->from.s;
		e->table = s->table.s;
	}
	if (e->table == NULL)
		e->obj = OBJ_NONE;
	buf_free(&n);
}

/* Frees what step_effect allocated (the effect itself is the caller's). */
static void
effect_free(struct effect *e)
{
	buf_free(&e->nbuf);
	e->name = NULL;
}

/* 1 when strings are equal (both may be NULL). */
static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* 1 when later effect l removes or supersedes what effect e is about. */
static int
superseded(const struct effect *e, const struct step *es, const struct effect *l,
    const struct step *ls)
{
	int same_table = same(e->schema, l->schema) && same(e->table, l->table);

	if (l->obj == OBJ_NONE || !same_table)
		return 0;
	if (l->obj == OBJ_TABLE && !l->present)
		return 1;
	if (l->obj == OBJ_COLUMN && !l->present) {
		if (e->obj == OBJ_COLUMN || e->obj == OBJ_NOTNULL)
			return same(e->name, l->name);
		if (es->kind == KIND_DUAL_WRITE)
			return same(es->from.s, l->name) || same(es->to.s, l->name);
		return 0;
	}
	if (e->obj == OBJ_VALID && l->obj == OBJ_CONSTRAINT)
		return same(e->name, l->name);
	if (e->obj == OBJ_CONSTRAINT && l->obj == OBJ_VALID)
		return 0;
	(void)ls;
	return e->obj == l->obj && same(e->name, l->name);
}

/* Adds one drift line. */
static void
drift_add(struct exec_drift *d, char *line)
{
	XGROW(d->v, d->cap, d->n + 1);
	d->v[d->n++] = line;
}

/* Asks the catalog whether effect e holds; *state: 1 present, 0 absent, 2 invalid. */
static int
effect_state(struct exec *x, const struct effect *e, int *state, struct buf *err)
{
	struct buf t = BUF_INIT;
	struct pg_result *res = NULL;
	const char *params[3];
	const char *sql = NULL;
	int ret = -1;

	sqlgen_qualified(&t, e->schema, e->table);
	params[0] = buf_cstr(&t);
	params[1] = e->name;
	params[2] = e->schema;
	switch (e->obj) {
	case OBJ_TABLE:
		sql = "SELECT CASE WHEN to_regclass($1) IS NULL THEN 0 ELSE 1 END";
		break;
	case OBJ_COLUMN:
		sql = "SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1)"
		    " AND attname = $2 AND attnum > 0 AND NOT attisdropped";
		break;
	case OBJ_NOTNULL:
		sql = "SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1)"
		    " AND attname = $2 AND attnum > 0 AND NOT attisdropped AND attnotnull";
		break;
	case OBJ_INDEX:
		sql = "SELECT CASE WHEN NOT i.indisvalid THEN 2 ELSE 1 END FROM pg_catalog.pg_index i"
		    " JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
		    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		    " WHERE $1 <> '' AND c.relname = $2 AND n.nspname = $3";
		break;
	case OBJ_CONSTRAINT:
		sql = "SELECT count(*) FROM pg_catalog.pg_constraint WHERE conrelid = to_regclass($1)"
		    " AND conname = $2";
		break;
	case OBJ_VALID:
		sql = "SELECT CASE WHEN convalidated THEN 1 ELSE 2 END FROM pg_catalog.pg_constraint"
		    " WHERE conrelid = to_regclass($1) AND conname = $2";
		break;
	case OBJ_TRIGGER:
		sql = "SELECT count(*) FROM pg_catalog.pg_trigger WHERE tgrelid = to_regclass($1)"
		    " AND tgname = $2";
		break;
	case OBJ_NONE:
		*state = 1;
		ret = 0;
		goto done;
	}
	if (pg_exec(x->db, sql, e->obj == OBJ_INDEX ? 3 : e->obj == OBJ_TABLE ? 1 : 2,
	    params, &res, err) == -1)
		goto done;
	*state = pg_result_nrows(res) == 0 ? 0 : atoi(pg_result_get(res, 0, 0));
	ret = 0;
done:
	pg_result_free(res);
	buf_free(&t);
	return ret;
}

/* Compares the database with the shipped steps (see exec.h). */
int
exec_drift(struct exec *x, const struct plan *p, size_t nshipped,
    const char *const *releases, const struct exec_when *when,
    const struct exec_shipped *all, size_t nall, struct exec_drift *d,
    struct buf *err)
{
	static const char *const what[] = {
		"", "table", "column", "index", "constraint", "constraint",
		"trigger", "not null",
	};
	size_t i, j;

	if (nshipped > p->nsteps)
		nshipped = p->nsteps;
	for (i = 0; i < nshipped; i++) {
		const struct step *s = &p->steps[i];
		struct effect e;
		struct buf line = BUF_INIT;
		const char *problem = NULL;
		int st, skip = 0;

		if (!exec_step_runs_sql(s))
			continue;
		step_effect(s, &e);
		if (e.obj == OBJ_NONE) {
			effect_free(&e);
			continue;
		}
		for (j = i + 1; j < nshipped && !skip; j++) {
			struct effect l;

			step_effect(&p->steps[j], &l);
			skip = superseded(&e, s, &l, &p->steps[j]);
			effect_free(&l);
		}
		/* Other plans' ships at the same time or later; a tie counts as later. */
		for (j = 0; when != NULL && j < nall && !skip; j++) {
			const struct step *o = all[j].step;
			struct effect l;

			if ((o >= p->steps && o < p->steps + p->nsteps) ||
			    all[j].when.release_seq < when[i].release_seq ||
			    (all[j].when.release_seq == when[i].release_seq &&
			    all[j].when.at < when[i].at))
				continue;
			step_effect(o, &l);
			skip = superseded(&e, s, &l, o);
			effect_free(&l);
		}
		if (skip || effect_state(x, &e, &st, err) == -1) {
			effect_free(&e);
			if (skip)
				continue;
			return -1;
		}
		if (e.present && st == 0)
			problem = e.obj == OBJ_NOTNULL ? "column is nullable" :
			    e.obj == OBJ_VALID ? "constraint missing" : "missing";
		else if (e.present && st == 2)
			problem = e.obj == OBJ_VALID ? "constraint not validated" : "index is INVALID";
		else if (!e.present && st != 0)
			problem = e.obj == OBJ_NOTNULL ? "column is still NOT NULL" : "still present";
		if (problem == NULL) {
			effect_free(&e);
			continue;
		}
		sqlgen_display_table(&line, s);
		if (e.obj == OBJ_COLUMN || e.obj == OBJ_NOTNULL)
			buf_printf(&line, ".%s: ", e.name);
		else if (e.obj == OBJ_TABLE)
			buf_puts(&line, ": ");
		else
			buf_printf(&line, ": %s '%s' ", what[e.obj], e.name);
		if (e.obj == OBJ_COLUMN || e.obj == OBJ_TABLE)
			buf_printf(&line, "%s ", what[e.obj]);
		buf_printf(&line, "%s (%s shipped", problem, s->id.s);
		if (releases != NULL && releases[i] != NULL)
			buf_printf(&line, " in %s", releases[i]);
		buf_putc(&line, ')');
		drift_add(d, buf_detach(&line));
		effect_free(&e);
	}
	return 0;
}

/* Frees the drift lines. */
void
exec_drift_free(struct exec_drift *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof *d);
}
