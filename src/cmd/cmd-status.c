/*
 * excon status [PLAN]: per plan, what has shipped and where, the next step,
 * whether it may ship now and, if not, why and from which release.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd/evidence.h"
#include "gate.h"
#include "out.h"

/* Seconds a backfill needs at its recorded rate, or -1 when unknown. */
static long
bf_eta(const struct state_backfill *bf)
{
	if (bf->rate <= 0 || bf->rows_total <= 0)
		return -1;
	if (bf->rows_done >= bf->rows_total)
		return 0;
	return (long)((bf->rows_total - bf->rows_done + bf->rate - 1) / bf->rate);
}

/*
 * Seconds without a progress report after which a backfill's run is taken
 * to have stopped.  A running backfill reports after every batch and every
 * 10 s while it is paused; the longest silence of a live run is a batch
 * retrying its lock (lock_timeout x lock_retries, 20 s by default).
 */
#define BF_SILENT_S	120

/*
 * Whether the excon that ran a backfill stopped without saying so (killed,
 * its host gone): the run is unfinished and has not reported for
 * BF_SILENT_S.  Its pause, rate and ETA are then history, not news.
 */
static int
bf_silent(const struct state_backfill *bf)
{
	return !bf->finished && bf->updated_at != 0 &&
	    out_now() - bf->updated_at > BF_SILENT_S;
}

/*
 * Appends a backfill's progress, as status shows it: rows done, the rate
 * and ETA of its last run, when it last reported, and what it is paused
 * for and since when; or, when its run stopped reporting, since when and
 * how to resume it.
 */
static void
bf_text(struct buf *out, const struct state_backfill *bf, const char *plan)
{
	long eta = bf_eta(bf);
	int silent = bf_silent(bf);

	buf_printf(out, "  backfill: %lld of ~%lld rows done, resumes after key %s\n",
	    (long long)bf->rows_done, (long long)bf->rows_total,
	    bf->cursor ? bf->cursor : "(start)");
	if (silent) {
		buf_printf(out, "  backfill not running: no progress report since %s "
		    "(%lld s)", out_time(bf->updated_at),
		    (long long)(out_now() - bf->updated_at));
		if (bf->waiting != NULL)
			buf_printf(out, "; it was paused, waiting: %s", bf->waiting);
		buf_printf(out, "\n  resume it with: excon advance %s\n", plan);
		return;
	}
	if (bf->rate > 0) {
		buf_puts(out, "  backfill rate: ");
		if (bf->rows_total > 0)
			buf_printf(out, "%d%%, ", (int)(bf->rows_done >= bf->rows_total ?
			    100 : bf->rows_done * 100 / bf->rows_total));
		buf_printf(out, "%lld rows/s", (long long)bf->rate);
		if (eta >= 3600)
			buf_printf(out, ", ETA %ld:%02ld:%02ld", eta / 3600,
			    eta / 60 % 60, eta % 60);
		else if (eta >= 0)
			buf_printf(out, ", ETA %ld:%02ld", eta / 60, eta % 60);
		buf_printf(out, " (as of %s)\n", out_time(bf->updated_at));
	}
	if (bf->waiting != NULL && bf->waiting_since != 0)
		buf_printf(out, "  backfill paused since %s (%lld s), waiting: %s\n",
		    out_time(bf->waiting_since),
		    (long long)(out_now() - bf->waiting_since), bf->waiting);
}

/*
 * Appends one plan's status as text or JSON; rule 9's evidence is read
 * through evc, once for every plan, when have_db says a database is
 * configured.
 */
static void
status_plan(struct cmd_ctx *ctx, struct evidence_cache *evc,
    const struct gate_ctx *g, const struct plan *p, struct buf *out,
    int first_plan, int have_db)
{
	const struct state_release *newest = gate_newest(g->hist);
	struct gate_progress pr;
	struct gate_result res;
	struct state_backfill bf;
	struct gate_ctx g9 = *g;
	struct evidence ev;
	struct buf err = BUF_INIT;
	size_t i, nshipped = 0;
	int json = ctx->format == FORMAT_JSON, first = 1, found = 0;

	gate_progress_load(g, p, &pr);
	gate_result_init(&res);
	for (i = 0; i < p->nsteps; i++)
		nshipped += pr.ships[i] != NULL && pr.ships[i]->status == SHIP_DONE;
	memset(&ev, 0, sizeof ev);
	/* Rule 9 reads the database only for a contract that is next. */
	if (pr.next >= 0 && g->probe != GATE_PROBE_OFF &&
	    gate_first_contract(p, (size_t)pr.next) && have_db &&
	    evidence_gather_cached(ctx, evc, p, &ev, &err) == 0) {
		g9.evidence = &ev.gate;
		g9.nevidence = 1;
	}
	if (pr.next >= 0)
		gate_step(&g9, p, (size_t)pr.next, newest ? newest->seq : 0, 0, &res);
	memset(&bf, 0, sizeof bf);
	if (pr.next >= 0 && p->steps[pr.next].kind == KIND_BACKFILL && ctx->st != NULL)
		state_backfill_get(ctx->st, p->name.s, p->steps[pr.next].id.s, &bf,
		    &found, NULL);

	if (json) {
		buf_puts(out, first_plan ? "{" : ",{");
		json_key(out, &first, "plan");
		json_str(out, p->name.s);
		json_key(out, &first, "description");
		json_str(out, p->description.s);
		json_key(out, &first, "owner");
		json_str(out, p->owner.s);
		json_key(out, &first, "file");
		json_str(out, p->file);
		json_key(out, &first, "shipped");
		buf_printf(out, "%zu", nshipped);
		json_key(out, &first, "total");
		buf_printf(out, "%zu", p->nsteps);
		json_key(out, &first, "steps");
		buf_putc(out, '[');
		for (i = 0; i < p->nsteps; i++) {
			const struct step *s = &p->steps[i];
			const struct state_ship *sh = pr.ships[i];
			const struct state_release *r = sh ? gate_release(g->hist,
			    sh->release_seq) : NULL;
			int f = 1;

			buf_puts(out, i ? ",{" : "{");
			json_key(out, &f, "id");
			json_str(out, s->id.s);
			json_key(out, &f, "kind");
			json_str(out, step_kind_name(s->kind));
			json_key(out, &f, "phase");
			json_str(out, phase_name(s->phase));
			json_key(out, &f, "stage");
			json_str(out, stage_name(s->stage));
			json_key(out, &f, "status");
			json_str(out, sh == NULL ? "pending" : sh->status == SHIP_DONE ?
			    "shipped" : "failed");
			json_key(out, &f, "release");
			json_str(out, r ? r->name : NULL);
			json_key(out, &f, "release_seq");
			if (sh != NULL)
				buf_printf(out, "%lld", (long long)sh->release_seq);
			else
				buf_puts(out, "null");
			json_key(out, &f, "forced");
			buf_puts(out, sh && sh->forced ? "true" : "false");
			buf_putc(out, '}');
		}
		buf_putc(out, ']');
		json_key(out, &first, "next");
		if (pr.next < 0)
			buf_puts(out, "null");
		else {
			int f = 1;

			buf_putc(out, '{');
			json_key(out, &f, "step");
			json_str(out, p->steps[pr.next].id.s);
			json_key(out, &f, "allowed");
			buf_puts(out, res.allowed ? "true" : "false");
			json_key(out, &f, "rule");
			buf_printf(out, "%d", (int)res.rule);
			json_key(out, &f, "reason");
			json_str(out, res.allowed ? NULL : buf_cstr(&res.why));
			if (res.warn.len > 0) {
				json_key(out, &f, "warning");
				json_str(out, buf_cstr(&res.warn));
			}
			json_key(out, &f, "allowed_from");
			if (res.from_seq > 0)
				buf_printf(out, "%lld", (long long)res.from_seq);
			else
				buf_puts(out, "null");
			if (found) {
				json_key(out, &f, "backfill");
				buf_printf(out, "{\"rows_done\":%lld,\"rows_total\":%lld,"
				    "\"cursor\":", (long long)bf.rows_done,
				    (long long)bf.rows_total);
				json_str(out, bf.cursor);
				buf_printf(out, ",\"stopped\":%s",
				    bf_silent(&bf) ? "true" : "false");
				buf_printf(out, ",\"rate\":%lld,\"eta_s\":", (long long)bf.rate);
				if (bf_eta(&bf) >= 0 && !bf_silent(&bf))
					buf_printf(out, "%ld", bf_eta(&bf));
				else
					buf_puts(out, "null");
				buf_puts(out, ",\"updated_at\":");
				json_str(out, bf.updated_at ? out_time(bf.updated_at) : NULL);
				buf_puts(out, ",\"waiting\":");
				json_str(out, bf.waiting);
				buf_puts(out, ",\"waiting_since\":");
				json_str(out, bf.waiting != NULL && bf.waiting_since ?
				    out_time(bf.waiting_since) : NULL);
				buf_putc(out, '}');
			}
			buf_putc(out, '}');
		}
		buf_putc(out, '}');
		goto done;
	}

	/* Pieces, not printf, here and on the next line: one per plan. */
	buf_puts(out, out_c(ctx->color, "bold"));
	buf_puts(out, p->name.s);
	buf_puts(out, out_c(ctx->color, "reset"));
	buf_puts(out, "  ");
	buf_putll(out, (long long)nshipped);
	buf_putc(out, '/');
	buf_putll(out, (long long)p->nsteps);
	buf_puts(out, " shipped");
	if (p->description.s != NULL) {
		buf_puts(out, "  ");
		buf_puts(out, p->description.s);
	}
	buf_putc(out, '\n');
	for (i = 0; i < p->nsteps; i++) {
		const struct step *s = &p->steps[i];
		const struct state_ship *sh = pr.ships[i];

		/* Pieces, not one printf: this line is most of the output. */
		buf_puts(out, sh == NULL ? ((int)i == pr.next ? "  > " : "    ") :
		    sh->status == SHIP_DONE ? "  * " : "  ! ");
		buf_putpad(out, s->id.s, 20);
		buf_putc(out, ' ');
		buf_putpad(out, step_kind_name(s->kind), 19);
		buf_putc(out, ' ');
		buf_putpad(out, phase_name(s->phase), 8);
		buf_putc(out, ' ');
		buf_putpad(out, stage_name(s->stage), 4);
		buf_putc(out, ' ');
		if (sh != NULL) {
			const struct state_release *r = gate_release(g->hist, sh->release_seq);

			buf_puts(out, sh->status == SHIP_DONE ? "shipped in " :
			    "FAILED part way in ");
			buf_puts(out, r ? r->name : "?");
			buf_puts(out, " (#");
			buf_putll(out, sh->release_seq);
			buf_puts(out, sh->forced ? ") (forced)" : ")");
		}
		while (out->len > 0 && out->ptr[out->len - 1] == ' ')
			buf_truncate(out, out->len - 1);
		buf_putc(out, '\n');
	}
	if (pr.next < 0 && pr.stray != NULL) {
		const struct state_release *r = gate_release(g->hist,
		    pr.stray->release_seq);

		/* The history has a step the file lost: not complete. */
		buf_printf(out, "  not complete: step %s %s in %s (#%lld) is no "
		    "longer in %s (see 'excon check')\n", pr.stray->step,
		    pr.stray->status == SHIP_FAILED ? "failed part way" : "shipped",
		    r ? r->name : "?", (long long)pr.stray->release_seq, p->file);
	} else if (pr.next < 0)
		buf_puts(out, "  complete: every step shipped\n");
	else {
		buf_puts(out, "  next: ");
		buf_puts(out, p->steps[pr.next].id.s);
		buf_putc(out, ' ');
		buf_puts(out, out_c(ctx->color, res.allowed ? "green" : "yellow"));
		buf_puts(out, res.allowed ? "allowed now" : "waiting");
		buf_puts(out, out_c(ctx->color, "reset"));
		if (res.allowed) {
			buf_puts(out, " in ");
			buf_puts(out, newest->name);
			buf_puts(out, " (#");
			buf_putll(out, (long long)newest->seq);
			buf_puts(out, ")\n");
		} else {
			buf_puts(out, " (rule ");
			buf_putll(out, (long long)res.rule);
			buf_puts(out, "): ");
			buf_puts(out, buf_cstr(&res.why));
			buf_putc(out, '\n');
		}
	}
	if (res.warn.len > 0)
		buf_printf(out, "  warning: %s\n", buf_cstr(&res.warn));
	else if (err.len > 0)
		buf_printf(out, "  warning: usage evidence (rule 9) could not be "
		    "read: %s\n", buf_cstr(&err));
	if (found)
		bf_text(out, &bf, p->name.s);
done:
	if (found)
		state_backfill_free(&bf);
	gate_result_free(&res);
	gate_progress_free(&pr);
	evidence_free(&ev);
	buf_free(&err);
}

/* Runs status. */
static int
cmd_status_exec(struct cmd_ctx *ctx)
{
	struct state_history h;
	struct gate_ctx g;
	struct buf out = BUF_INIT;
	struct evidence_cache *evc = NULL;
	size_t i;
	int rc, n = 0, have_db;

	/*
	 * status PLAN decodes only that plan and its dependencies, then reads
	 * only their ships; a whole status reads plans and history at once.
	 */
	if (ctx->nargs == 1) {
		if ((rc = cmd_load_plan(ctx, ctx->args[0])) != 0 ||
		    (rc = cmd_history(ctx, &h, 0)) != 0)
			return rc;
	} else if ((rc = cmd_load_plans_history(ctx, &h)) != 0)
		return rc;
	cmd_gate(ctx, &h, &g);
	if (ctx->nargs == 1 && plan_set_find(&ctx->plans, ctx->args[0]) == NULL) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "unknown plan '%s'", ctx->args[0]);
		goto done;
	}
	if (ctx->format == FORMAT_JSON)
		buf_putc(&out, '[');
	evc = evidence_cache_new();
	have_db = cmd_have_db(ctx);
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];

		if (ctx->nargs == 1 && strcmp(p->name.s, ctx->args[0]) != 0)
			continue;
		if (n > 0 && ctx->format != FORMAT_JSON)
			buf_putc(&out, '\n');
		status_plan(ctx, evc, &g, p, &out, n == 0, have_db);
		cmd_out_chunk(&out);
		n++;
	}
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, "]\n");
	else if (n == 0)
		buf_printf(&out, "no plans in %s\n", ctx->cfg.plan_dirs[0]);
	cmd_out(&out);
done:
	evidence_cache_free(evc);
	buf_free(&out);
	state_history_free(&h);
	return rc;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.args = "[PLAN]",
	.summary = "show each plan's shipped steps, the next step and whether it may ship now",
	.flags = CMD_REPORTS,
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_status_exec,
};
