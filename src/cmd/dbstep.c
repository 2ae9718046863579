/*
 * Database execution of steps for advance, rollback and verify.
 *
 * The order matters for crash safety and for concurrent excons:
 *   1. connect and take the plan's advisory lock in PostgreSQL, so no
 *      other excon runs this plan's SQL meanwhile;
 *   2. re-decide the gates on a fresh history (another process may have
 *      shipped the step while we connected);
 *   3. run the step (the executor skips it when its ledger row shows it
 *      already applied, e.g. after a crash before step 5);
 *   4. run verify; a step counts as shipped only once it returns true;
 *   5. record the step in the state file.
 * The state file is never held in a transaction while SQL runs.
 */
#include <signal.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/annotate.h"
#include "cmd/dbstep.h"
#include "exec.h"
#include "out.h"
#include "xalloc.h"

struct runner {
	struct cmd_ctx		*ctx;
	const struct plan	*plan;
	const struct step	*step;
	int			 tty;		/* draw a bar on stderr */
	time_t			 last_line;	/* plain progress lines */
	int			 bar_drawn;
	time_t			 wait_line;	/* last "paused" line, 0 = not paused */
	time_t			 started;	/* first progress of the backfill */
};

/* The terminal's width in columns (stderr), or 80; read at every draw, so it follows a resize. */
static int
term_width(void)
{
	struct winsize ws;

	if (ioctl(fileno(stderr), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* Set by SIGINT while a step runs: a backfill stops after its current batch. */
static volatile sig_atomic_t interrupted;

/* SIGINT handler: asks the running backfill to stop. */
static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Prints executor notices (lock retries, server notices) on stderr. */
static void
on_notify(void *arg, const char *line)
{
	struct runner *rn = arg;

	/* "already exists, skipping" and the like are expected on reruns. */
	if (strncmp(line, "NOTICE:", 7) == 0)
		return;
	if (rn->bar_drawn) {
		fputc('\n', stderr);
		rn->bar_drawn = 0;
	}
	fprintf(stderr, "excon: %s/%s: %s\n", rn->plan->name.s, rn->step->id.s, line);
}

/* Formats seconds as h:mm:ss or m:ss. */
static void
fmt_eta(char *out, size_t n, long s)
{
	if (s < 0)
		snprintf(out, n, "?");
	else if (s >= 3600)
		snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
}

/* Saves the backfill's progress in the state file, for status. */
static void
mirror(struct runner *rn, const struct backfill_progress *p)
{
	struct state_backfill b;

	memset(&b, 0, sizeof b);
	b.plan = rn->plan->name.s;
	b.step = rn->step->id.s;
	b.cursor = (char *)p->cursor;
	b.rows_done = p->rows_done;
	b.rows_total = p->rows_total;
	b.finished = p->finished;
	b.rate = (int64_t)p->rate;
	b.waiting = (char *)p->waiting;
	if (p->waiting != NULL)
		b.waiting_since = (int64_t)time(NULL) - p->waiting_s;
	state_backfill_put(rn->ctx->st, &b, NULL);
}

/* A backfill that stopped is paused for nothing: clears that from its progress. */
static void
unpause(struct cmd_ctx *ctx, const struct plan *p, const struct step *s)
{
	struct state_backfill b;
	int found = 0;

	if (state_backfill_get(ctx->st, p->name.s, s->id.s, &b, &found, NULL) != 0 ||
	    !found)
		return;
	if (b.waiting != NULL) {
		free(b.waiting);
		b.waiting = NULL;
		b.waiting_since = 0;
		state_backfill_put(ctx->st, &b, NULL);
	}
	state_backfill_free(&b);
}

/* Draws the backfill progress: a bar on a terminal, else a line every few seconds. */
static void
on_progress(void *arg, const struct backfill_progress *p)
{
	struct runner *rn = arg;
	time_t now = time(NULL);
	char eta[32];
	double frac = p->rows_total > 0 ? (double)p->rows_done / (double)p->rows_total : 0;

	if (frac > 1)
		frac = 1;
	if (rn->started == 0)
		rn->started = now;
	fmt_eta(eta, sizeof eta, p->eta_s);
	/* The end: one line with the rows and the total time, on a terminal or not. */
	if (p->finished) {
		char took[32];

		fmt_eta(took, sizeof took, (long)(now - rn->started));
		fprintf(stderr, "%sexcon: %s/%s: done, %lld rows (%lld updated) in %s\n",
		    rn->bar_drawn ? "\r\033[K" : "", rn->plan->name.s, rn->step->id.s,
		    p->rows_done, p->rows_updated, took);
		rn->bar_drawn = 0;
		mirror(rn, p);
		return;
	}
	/* Paused for the database's health: a line when it starts, then every 10 s. */
	if (p->waiting != NULL) {
		if (rn->wait_line == 0 || now - rn->wait_line >= 10) {
			char since[16];
			time_t t0 = now - p->waiting_s;
			struct tm tm;

			strftime(since, sizeof since, "%H:%M:%S", localtime_r(&t0, &tm));
			if (rn->bar_drawn) {
				fputc('\n', stderr);
				rn->bar_drawn = 0;
			}
			fprintf(stderr, "excon: %s/%s: paused since %s (%lds), waiting: %s\n",
			    rn->plan->name.s, rn->step->id.s, since, p->waiting_s, p->waiting);
			rn->wait_line = now;
			mirror(rn, p);
		}
		return;
	}
	if (rn->wait_line != 0) {
		if (rn->bar_drawn) {
			fputc('\n', stderr);
			rn->bar_drawn = 0;
		}
		fprintf(stderr, "excon: %s/%s: resumed\n", rn->plan->name.s, rn->step->id.s);
		rn->wait_line = 0;
	}
	/*
	 * After every batch: after a crash, status then shows the progress
	 * of the last batch or the one before, close to the cursor the next
	 * run resumes from.  One small SQLite transaction per batch is cheap
	 * next to a batch aimed at target_batch_ms.
	 */
	mirror(rn, p);
	if (rn->tty) {
		struct buf line = BUF_INIT, tail = BUF_INIT;
		int i, w = term_width(), barw, fill;

		/* "plan/step [####....] 42% 420/1000 rows 5000 rows/s ETA 0:01", cut to the width. */
		buf_printf(&tail, " %3d%% %lld/%lld rows  %.0f rows/s  ETA %s%s%s",
		    (int)(frac * 100), p->rows_done, p->rows_total, p->rate, eta,
		    p->note ? "  " : "", p->note ? p->note : "");
		buf_printf(&line, "%s/%s ", rn->plan->name.s, rn->step->id.s);
		barw = w - 1 - (int)line.len - 2 - (int)tail.len;
		if (barw > 50)
			barw = 50;
		if (barw >= 10) {
			fill = (int)(frac * barw);
			buf_putc(&line, '[');
			for (i = 0; i < barw; i++)
				buf_putc(&line, i < fill ? '#' : '.');
			buf_putc(&line, ']');
		}
		buf_puts(&line, buf_cstr(&tail));
		if ((int)line.len > w - 1)
			buf_truncate(&line, (size_t)(w > 1 ? w - 1 : 0));
		fprintf(stderr, "\r%s\033[K", buf_cstr(&line));
		rn->bar_drawn = 1;
		buf_free(&line);
		buf_free(&tail);
		return;
	}
	if (now - rn->last_line >= 5) {
		fprintf(stderr, "excon: %s/%s: %lld of ~%lld rows (%d%%), %.0f rows/s, "
		    "ETA %s%s%s\n", rn->plan->name.s, rn->step->id.s, p->rows_done,
		    p->rows_total, (int)(frac * 100), p->rate, eta,
		    p->note ? "; " : "", p->note ? p->note : "");
		rn->last_line = now;
	}
}

/* Fills executor options from the configuration. */
static void
opts_fill(struct cmd_ctx *ctx, struct exec_opts *o, struct runner *rn)
{
	const char *wait;

	exec_opts_init(o);
	o->conninfo = cmd_conninfo(ctx);
	o->lock_timeout = ctx->cfg.lock_timeout;
	o->statement_timeout = strcmp(ctx->cfg.statement_timeout, "0") == 0 ?
	    NULL : ctx->cfg.statement_timeout;
	o->lock_retries = ctx->cfg.lock_retries;
	o->batch_size = ctx->cfg.batch_size;
	o->target_batch_ms = ctx->cfg.target_batch_ms;
	o->pause_ms = ctx->cfg.pause_ms;
	o->max_replica_lag_ms = ctx->cfg.max_replica_lag_ms;
	o->max_xact_age_ms = ctx->cfg.max_xact_age_ms;
	/* A killed excon's lock outlives it briefly: wait as for a table lock. */
	wait = cmd_opt(ctx, "wait");
	if (wait != NULL && pg_timeout_ms(wait) >= 0)
		o->lock_wait_ms = pg_timeout_ms(wait);
	else if (pg_timeout_ms(ctx->cfg.lock_timeout) > 0)
		o->lock_wait_ms = pg_timeout_ms(ctx->cfg.lock_timeout) *
		    (ctx->cfg.lock_retries > 0 ? ctx->cfg.lock_retries : 1);
	else
		o->lock_wait_ms = 20000;
	o->stop = &interrupted;
	o->replicas = ctx->cfg.replicas;
	o->notify = on_notify;
	o->progress = on_progress;
	o->arg = rn;
}

/* Estimates a backfill step on the configured database. */
int
dbstep_estimate(struct cmd_ctx *ctx, const struct plan *p, size_t idx, int exact,
    struct buf *out, struct buf *err)
{
	struct exec_opts o;
	struct runner rn;

	memset(&rn, 0, sizeof rn);
	rn.ctx = ctx;
	rn.plan = p;
	rn.step = &p->steps[idx];
	opts_fill(ctx, &o, &rn);
	return exec_estimate(&o, p, &p->steps[idx], exact, out, err);
}

/* The SQL a step would run. */
int
dbstep_dry(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    struct buf *sql, struct buf *err)
{
	struct exec_opts o;
	struct runner rn;

	memset(&rn, 0, sizeof rn);
	opts_fill(ctx, &o, &rn);
	return exec_dry_run(&o, p, &p->steps[idx], 0, sql, err);
}

/* The SQL rolling a step back would run. */
int
dbstep_dry_undo(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    struct buf *sql, struct buf *err)
{
	struct exec_opts o;
	struct runner rn;

	memset(&rn, 0, sizeof rn);
	opts_fill(ctx, &o, &rn);
	return exec_dry_run(&o, p, &p->steps[idx], 1, sql, err);
}

/* Records a shipped step and its events in the open transaction (see dbstep.h). */
int
dbstep_record_ship(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    const struct state_release *r, const struct gate_result *res,
    const char *reason, int record_only, const char *detail,
    struct state_ship *row, struct buf *err)
{
	const struct step *s = &p->steps[idx];
	struct state_ship sh;

	memset(&sh, 0, sizeof sh);
	sh.plan = p->name.s;
	sh.step = s->id.s;
	sh.idx = (int)idx;
	sh.release_seq = r->seq;
	sh.checksum = (char *)s->checksum;
	sh.status = SHIP_DONE;
	sh.forced = res->forced;
	sh.at = out_now();
	if (state_ship_put(ctx->st, &sh, err) != 0)
		return -1;
	if (row != NULL)
		*row = sh;
	if (res->forced && cmd_event(ctx, "override", p->name.s, s->id.s, r->name,
	    buf_cstr(&res->why), reason, err) != 0)
		return -1;
	if (record_only && exec_step_runs_sql(s) &&
	    cmd_event(ctx, "record-only", p->name.s, s->id.s, r->name,
	    s->verify.s ? "database untouched; verify skipped" :
	    "database untouched", NULL, err) != 0)
		return -1;
	if (cmd_event(ctx, "advance", p->name.s, s->id.s, r->name,
	    detail != NULL ? detail : step_kind_name(s->kind),
	    res->forced ? NULL : reason, err) != 0)
		return -1;
	/* The step is done: its backfill cursor has no further use. */
	if (!record_only && s->kind == KIND_BACKFILL &&
	    state_backfill_delete(ctx->st, p->name.s, s->id.s, err) != 0)
		return -1;
	return 0;
}

/* Records a step as failed part way, with the error, outside any transaction. */
static void
record_failure(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    const struct state_release *r, const char *msg)
{
	struct state_ship sh;
	struct buf err = BUF_INIT;

	memset(&sh, 0, sizeof sh);
	sh.plan = p->name.s;
	sh.step = p->steps[idx].id.s;
	sh.idx = (int)idx;
	sh.release_seq = r->seq;
	sh.checksum = (char *)p->steps[idx].checksum;
	sh.status = SHIP_FAILED;
	sh.at = out_now();
	if (state_begin(ctx->st, &err) == 0 &&
	    state_ship_put(ctx->st, &sh, &err) == 0 &&
	    cmd_event(ctx, "failed", p->name.s, p->steps[idx].id.s, r->name, msg,
	    NULL, &err) == 0 && state_commit(ctx->st, &err) == 0) {
		buf_free(&err);
		return;
	}
	state_rollback(ctx->st);
	fprintf(stderr, "excon: could not record the failure: %s\n", buf_cstr(&err));
	buf_free(&err);
}

/* Runs a step on the database and records it. */
int
dbstep_run(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    const struct state_release *r0, const struct gate_result *res0,
    const char *reason)
{
	const struct step *s = &p->steps[idx];
	struct exec_opts o;
	struct runner rn;
	struct exec *x = NULL;
	struct state_history h;
	struct gate_ctx g;
	struct gate_result res;
	struct buf err = BUF_INIT, detail = BUF_INIT;
	const struct state_release *r;
	enum exec_outcome outcome;
	char *rname = xstrdup(r0->name);
	struct sigaction sa, old_sa;
	int rc, ok = 1, in_tx = 0, failed;

	memset(&h, 0, sizeof h);
	memset(&rn, 0, sizeof rn);
	gate_result_init(&res);
	rn.ctx = ctx;
	rn.plan = p;
	rn.step = s;
	rn.tty = out_color(stderr) || (isatty(fileno(stderr)) && getenv("NO_COLOR"));
	rn.started = time(NULL);
	opts_fill(ctx, &o, &rn);

	if (exec_connect(&x, &o, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s/%s: %s", p->name.s, s->id.s,
		    buf_cstr(&err));
		goto done;
	}
	if (exec_lock_plan(x, p->name.s, &err) != 0) {
		rc = annotate_refusal(p, s, "held by another excon",
		    buf_cstr(&err), "wait for the other excon to finish, then "
		    "run this again, or wait longer with --wait DURATION");
		goto done;
	}
	/* 2. Decide again, now that no other excon can run this plan. */
	if ((rc = cmd_history(ctx, &h, 0)) != 0)
		goto done;
	cmd_gate(ctx, &h, &g);
	/* Rule 9 was decided by the caller, on evidence gathered once. */
	g.probe = GATE_PROBE_OFF;
	r = gate_release_named(&h, rname);
	gate_step(&g, p, idx, r ? r->seq : 0, reason != NULL, &res);
	if (res.allowed && res0->forced_evidence) {
		/* The caller's override names rule 9 too: record it whole. */
		res.forced = 1;
		if (res.rule == GATE_OK)
			res.rule = res0->rule;
		buf_reset(&res.why);
		buf_puts(&res.why, buf_cstr(&res0->why));
	}
	if (!res.allowed) {
		buf_reset(&detail);
		buf_printf(&detail, "gate rule %d", (int)res.rule);
		rc = annotate_refusal(p, s, buf_cstr(&detail), buf_cstr(&res.why),
		    NULL);
		goto done;
	}
	/* The database must not belong to another history (a fork). */
	{
		const char *id = state_history_id(ctx->st, &err);
		char *actor = state_actor();
		int f = id == NULL ? -1 : exec_history_claim(x, id, rname, actor,
		    &detail, &err);

		free(actor);
		if (f < 0) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s/%s: %s", p->name.s,
			    s->id.s, buf_cstr(&err));
			goto done;
		}
		if (f > 0) {
			buf_reset(&err);
			buf_printf(&err, "%s/%s: %s", p->name.s, s->id.s,
			    buf_cstr(&detail));
			rc = annotate_refusal(p, s, "database of another history",
			    buf_cstr(&err), "run excon against the history this "
			    "database was migrated under (--state, EXCON_STATE or "
			    "'state:' in excon.yaml)");
			goto done;
		}
	}
	/* 3. The SQL; Ctrl-C stops a backfill cleanly after its current batch. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);
	failed = exec_step(x, p, s, &outcome, &err) != 0;
	sigaction(SIGINT, &old_sa, NULL);
	if (failed && s->kind == KIND_BACKFILL)
		unpause(ctx, p, s);
	if (failed && interrupted) {
		if (rn.bar_drawn)
			fputc('\n', stderr);
		fprintf(stderr, "excon: %s/%s: %s\nexcon: stopped cleanly; "
		    "'excon advance %s' resumes the backfill where it stopped\n",
		    p->name.s, s->id.s, buf_cstr(&err), p->name.s);
		rc = EXCON_EXIT_INTERRUPTED;
		goto done;
	}
	if (failed) {
		struct gate_undo undo;

		if (rn.bar_drawn)
			fputc('\n', stderr);
		record_failure(ctx, p, idx, r, buf_cstr(&err));
		/* Offer rollback only where the gate allows it (the step ran SQL). */
		gate_undo_init(&undo);
		gate_rollback(&g, p, idx, 1, &undo);
		if (undo.allowed)
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s/%s failed: %s\nexcon: the "
			    "plan is blocked until 'excon advance %s' resumes the step or "
			    "'excon rollback %s' undoes it", p->name.s, s->id.s,
			    buf_cstr(&err), p->name.s, p->name.s);
		else
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s/%s failed: %s\nexcon: the "
			    "plan is blocked until 'excon advance %s' resumes the step "
			    "(%s, so it cannot be rolled back)", p->name.s,
			    s->id.s, buf_cstr(&err), p->name.s, undo.hint);
		gate_undo_free(&undo);
		goto done;
	}
	if (outcome == EXEC_ALREADY_APPLIED)
		printf("%s/%s was already applied (found in the excon.ledger table); "
		    "recording it\n", p->name.s, s->id.s);
	/* 4. Verify. */
	if (s->verify.s != NULL && exec_verify(x, p, s, &ok, &detail, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s/%s: verify failed to run: %s",
		    p->name.s, s->id.s, buf_cstr(&err));
		goto done;
	}
	if (!ok) {
		buf_reset(&err);
		buf_printf(&err, "%s/%s ran, but its verify query returned "
		    "false%s%s; the step is not shipped: fix the data and run "
		    "'excon advance %s' again", p->name.s, s->id.s,
		    detail.len ? ": " : "", buf_cstr(&detail), p->name.s);
		annotate_refusal(p, s, "verify returned false", buf_cstr(&err),
		    NULL);
		cmd_event(ctx, "verify.failed", p->name.s, s->id.s, r->name,
		    detail.len ? buf_cstr(&detail) : "verify returned false", NULL,
		    NULL);
		rc = EXCON_EXIT_REFUSED;
		goto done;
	}
	/* 5. Record. */
	state_history_free(&h);
	if ((rc = cmd_history(ctx, &h, 1)) != 0)
		goto done;
	in_tx = 1;
	r = gate_release_named(&h, rname);
	{
		size_t k;

		/*
		 * `advance --record-only` takes no database lock: another excon
		 * may have recorded the step while its SQL ran here.  Exactly
		 * one of them records it.
		 */
		for (k = 0; k < h.nships; k++)
			if (strcmp(h.ships[k].plan, p->name.s) == 0 &&
			    strcmp(h.ships[k].step, s->id.s) == 0 &&
			    h.ships[k].status == SHIP_DONE) {
				printf("%s/%s was recorded by another excon while its SQL "
				    "ran here\n", p->name.s, s->id.s);
				rc = EXCON_EXIT_OK;
				goto done;
			}

		if (dbstep_record_ship(ctx, p, idx, r, &res, reason, 0,
		    outcome == EXEC_ALREADY_APPLIED ? "already applied; recorded" :
		    NULL, NULL, &err) != 0 || state_commit(ctx->st, &err) != 0) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
			goto done;
		}
	}
	in_tx = 0;
	if (ctx->format != FORMAT_JSON)
		printf("shipped %s/%s (%s, %s) in %s (#%lld)%s\n", p->name.s, s->id.s,
		    step_kind_name(s->kind), stage_name(s->stage), r->name,
		    (long long)r->seq, res.forced ? " -- gate overridden" : "");
	rc = EXCON_EXIT_OK;
done:
	if (in_tx)
		state_rollback(ctx->st);
	exec_close(x);
	gate_result_free(&res);
	state_history_free(&h);
	buf_free(&err);
	buf_free(&detail);
	free(rname);
	return rc;
}

/* The detail of "rollback.started" when the step's ledger row was there. */
#define IN_LEDGER "the step is in the excon.ledger table"

/*
 * *started is 1 when the newest rollback-related event of plan/step is a
 * "rollback.started" that found the step's ledger row: a rollback began
 * after the step last shipped and was never recorded as done (it was
 * killed, or its SQL failed).
 */
static int
rollback_was_started(struct cmd_ctx *ctx, const struct plan *p, const struct step *s,
    int *started, struct buf *err)
{
	struct state_event *ev = NULL;
	size_t n = 0, i;

	*started = 0;
	if (state_events_load(ctx->st, p->name.s, NULL, &ev, &n, err) != 0)
		return -1;
	for (i = n; i > 0; i--) {
		const struct state_event *e = &ev[i - 1];

		if (e->step == NULL || strcmp(e->step, s->id.s) != 0)
			continue;
		if (strcmp(e->kind, "rollback.started") == 0) {
			*started = e->detail != NULL && strcmp(e->detail, IN_LEDGER) == 0;
			break;
		}
		if (strcmp(e->kind, "advance") == 0 || strcmp(e->kind, "rollback") == 0)
			break;
	}
	state_events_free(ev, n);
	return 0;
}

/* Appends one event in a transaction of its own. */
static int
event_now(struct cmd_ctx *ctx, const char *kind, const struct plan *p,
    const struct step *s, const char *detail, struct buf *err)
{
	if (state_begin(ctx->st, err) != 0 ||
	    cmd_event(ctx, kind, p->name.s, s->id.s, NULL, detail, NULL, err) != 0 ||
	    state_commit(ctx->st, err) != 0) {
		state_rollback(ctx->st);
		return -1;
	}
	return 0;
}

/*
 * Runs a step's down SQL and records the rollback.
 *
 * Crash safety: the down SQL and the deletion of the step's ledger row
 * commit together on the server, and the state file is written after.  A
 * crash in between leaves the step shipped in the state file but gone
 * from the ledger, and running the down again would fail (or do harm) when
 * it is not idempotent.  So a "rollback.started" event is written before
 * the SQL runs, saying that the ledger row was there; a rollback that
 * finds that event, and no ledger row, knows the down already ran and only
 * records it.  A step that never had a ledger row was shipped
 * --record-only: its down runs, on every attempt.
 */
int
dbstep_undo(struct cmd_ctx *ctx, const struct plan *p, size_t idx)
{
	const struct step *s = &p->steps[idx];
	struct exec_opts o;
	struct runner rn;
	struct exec *x = NULL;
	struct buf err = BUF_INIT;
	const char *done_how = s->kind == KIND_DUAL_WRITE ? "sync trigger was dropped" :
	    "down SQL ran";
	int rc, found = 1, started = 0;

	memset(&rn, 0, sizeof rn);
	rn.ctx = ctx;
	rn.plan = p;
	rn.step = s;
	opts_fill(ctx, &o, &rn);
	if (exec_connect(&x, &o, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	if (exec_lock_plan(x, p->name.s, &err) != 0) {
		rc = annotate_refusal(p, s, "held by another excon",
		    buf_cstr(&err), NULL);
		goto done;
	}
	if (exec_ledger_get(x, p->name.s, s->id.s, &found, NULL, &err) != 0 ||
	    rollback_was_started(ctx, p, s, &started, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	if (!found && started) {
		/* An earlier rollback committed its SQL and was killed before recording it. */
		done_how = s->kind == KIND_DUAL_WRITE ? "sync trigger was dropped by an "
		    "earlier, interrupted rollback" : "down SQL had run in an earlier, "
		    "interrupted rollback";
	} else {
		if (event_now(ctx, "rollback.started", p, s, found ? IN_LEDGER : NULL,
		    &err) != 0) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
			goto done;
		}
		if (exec_rollback(x, p, s, &err) != 0) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "rolling back %s/%s failed: %s",
			    p->name.s, s->id.s, buf_cstr(&err));
			goto done;
		}
	}
	if (state_begin(ctx->st, &err) != 0 ||
	    state_ship_delete(ctx->st, p->name.s, s->id.s, &err) != 0 ||
	    state_backfill_delete(ctx->st, p->name.s, s->id.s, &err) != 0 ||
	    cmd_event(ctx, "rollback", p->name.s, s->id.s, NULL,
	    done_how, NULL, &err) != 0 || state_commit(ctx->st, &err) != 0) {
		state_rollback(ctx->st);
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	if (ctx->format != FORMAT_JSON)
		printf("rolled back %s/%s (its %s)\n", p->name.s, s->id.s, done_how);
	rc = EXCON_EXIT_OK;
done:
	exec_close(x);
	buf_free(&err);
	return rc;
}

/* What verify knows of one plan. */
struct verify_plan {
	const char		**rel;		/* release of each shipped step */
	struct exec_when	 *when;		/* when each shipped */
	size_t			  m;		/* steps shipped, and applied right after them */
	struct exec_drift	  unrec;	/* applied, not recorded */
};

/* Compares database and state: one line per drift. */
int
dbstep_verify(struct cmd_ctx *ctx, const struct state_history *h)
{
	struct exec_opts o;
	struct runner rn;
	struct exec *x = NULL;
	struct exec_drift d = { NULL, 0, 0 };
	struct verify_plan *vp = NULL;
	struct exec_shipped *all = NULL;
	struct gate_ctx g;
	struct buf err = BUF_INIT, out = BUF_INIT;
	size_t i, np = 0, nall = 0, nall_cap = 0;
	int rc = EXCON_EXIT_OK, nchecked = 0;

	memset(&rn, 0, sizeof rn);
	rn.ctx = ctx;
	opts_fill(ctx, &o, &rn);
	o.notify = NULL;
	if (exec_connect(&x, &o, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	cmd_gate(ctx, h, &g);
	np = ctx->plans.nplans;
	vp = xcalloc(np + 1, sizeof *vp);
	/*
	 * First every plan's shipped steps, with when each shipped, so that
	 * a plan's effect undone by another plan since is not drift.
	 */
	for (i = 0; i < np; i++) {
		const struct plan *p = ctx->plans.plans[i];
		struct verify_plan *v = &vp[i];
		struct gate_progress pr;
		size_t j;

		gate_progress_load(&g, p, &pr);
		v->m = 0;
		v->rel = xcalloc(p->nsteps + 1, sizeof *v->rel);
		v->when = xcalloc(p->nsteps + 1, sizeof *v->when);
		for (j = 0; j < p->nsteps; j++) {
			const struct state_release *r;

			if (pr.ships[j] == NULL || pr.ships[j]->status != SHIP_DONE)
				break;
			r = gate_release(h, pr.ships[j]->release_seq);
			v->rel[j] = r ? r->name : NULL;
			v->when[j].release_seq = pr.ships[j]->release_seq;
			v->when[j].at = pr.ships[j]->at;
			v->m++;
		}
		gate_progress_free(&pr);
		/*
		 * Steps the database applied (they are in its ledger) that the
		 * state file does not count, as after an advance killed between
		 * the two: one line each.  The ones right after the shipped
		 * steps are checked as applied (as shipped last of all), so that
		 * what they removed (a sync trigger dropped with its column) is
		 * not reported too.
		 */
		for (j = v->m; j < p->nsteps; j++) {
			int found = 0;

			if (!exec_step_runs_sql(&p->steps[j]))
				continue;
			if (exec_ledger_get(x, p->name.s, p->steps[j].id.s, &found, NULL,
			    &err) != 0) {
				rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s: %s", p->name.s,
				    buf_cstr(&err));
				goto done;
			}
			if (!found)
				continue;
			if (j == v->m) {
				v->when[j].release_seq = INT64_MAX;
				v->when[j].at = INT64_MAX;
				v->m++;
			}
			XGROW(v->unrec.v, v->unrec.cap, v->unrec.n + 1);
			v->unrec.v[v->unrec.n++] = xasprintf("%s/%s: applied on the database "
			    "(excon.ledger) but not shipped in the state file, as after an "
			    "interrupted advance: 'excon advance %s' finishes it", p->name.s,
			    p->steps[j].id.s, p->name.s);
		}
		for (j = 0; j < v->m; j++) {
			XGROW(all, nall_cap, nall + 1);
			all[nall].step = &p->steps[j];
			all[nall++].when = v->when[j];
		}
	}
	for (i = 0; i < np; i++) {
		const struct plan *p = ctx->plans.plans[i];
		struct verify_plan *v = &vp[i];
		size_t j;

		if (v->m > 0 && exec_drift(x, p, v->m, v->rel, v->when, all, nall,
		    &d, &err) != 0) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s: %s", p->name.s,
			    buf_cstr(&err));
			goto done;
		}
		nchecked += v->m > 0 || v->unrec.n > 0;
		for (j = 0; j < v->unrec.n; j++) {
			XGROW(d.v, d.cap, d.n + 1);
			d.v[d.n++] = v->unrec.v[j];
		}
		v->unrec.n = 0;
	}
	if (ctx->format == FORMAT_JSON) {
		buf_puts(&out, "{\"ok\":");
		buf_puts(&out, d.n ? "false" : "true");
		buf_puts(&out, ",\"drift\":[");
		for (i = 0; i < d.n; i++) {
			if (i)
				buf_putc(&out, ',');
			json_str(&out, d.v[i]);
		}
		buf_puts(&out, "]}\n");
	} else {
		for (i = 0; i < d.n; i++)
			buf_printf(&out, "drift: %s\n", d.v[i]);
		if (d.n == 0)
			buf_printf(&out, "verify: the database matches the state "
			    "(%d plan%s checked)\n", nchecked, nchecked == 1 ? "" : "s");
		else
			buf_printf(&out, "verify: %zu drift%s\n", d.n, d.n == 1 ? "" : "s");
	}
	cmd_out(&out);
	rc = d.n ? EXCON_EXIT_PROBLEMS : EXCON_EXIT_OK;
done:
	exec_drift_free(&d);
	for (i = 0; vp != NULL && i < np; i++) {
		free(vp[i].rel);
		free(vp[i].when);
		exec_drift_free(&vp[i].unrec);
	}
	free(vp);
	free(all);
	exec_close(x);
	buf_free(&err);
	buf_free(&out);
	return rc;
}
