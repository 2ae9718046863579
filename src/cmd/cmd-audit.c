/*
 * excon audit [--fail-on overdue|pending]: every pending contract, how long
 * it waited, when it becomes allowed, which are overdue; then every gate
 * override with who, when and why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "cmd/evidence.h"
#include "gate.h"
#include "out.h"
#include "sqlcheck.h"
#include "timeline.h"
#include "xalloc.h"

static const struct cmd_opt audit_opts[] = {
	{ "fail-on", OPT_STR, "WHAT", "exit 4 when a contract is 'overdue' or any is 'pending'" },
	{ NULL, 0, NULL, NULL }
};

/* Today as YYYY-MM-DD (UTC). */
static void
today(char out[11])
{
	time_t t = (time_t)out_now();
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/*
 * Adds a pending contract to the CI findings: overdue is an error, a
 * window open now a warning (the contract may ship), a window not open
 * yet a note.  Located at the contract step in the plan file.
 */
static void
pending_finding(struct findings *f, const struct state_history *h,
    const struct plan *p, const struct gate_window *w, int overdue,
    struct buf *msg)
{
	const struct step *cs = &p->steps[w->contract];
	int open = w->open && w->last_nc_seq;

	buf_reset(msg);
	buf_printf(msg, "contract %s/%s (owner %s) is pending", p->name.s,
	    cs->id.s, p->owner.s ? p->owner.s : "-");
	if (w->last_nc_seq)
		buf_printf(msg, "; %s shipped in %s (#%lld); %lld of %d releases "
		    "passed; %s", p->steps[w->last_nc].id.s,
		    gate_release(h, w->last_nc_seq)->name,
		    (long long)w->last_nc_seq, (long long)w->passed, w->required,
		    open ? "allowed now" : "not allowed yet");
	if (w->last_nc_seq && !open)
		buf_printf(msg, "; allowed from release #%lld",
		    (long long)w->from_seq);
	if (p->deadline.s != NULL)
		buf_printf(msg, "; deadline %s%s", p->deadline.s,
		    overdue ? ", overdue" : "");
	findings_add(f, overdue ? "E-CONTRACT-OVERDUE" : open ?
	    "W-CONTRACT-OPEN" : "N-CONTRACT-PENDING", overdue ? SEV_ERROR :
	    open ? SEV_WARNING : SEV_NOTE, p->file, cs->pos.line, cs->pos.col,
	    buf_cstr(msg), open || overdue ? "ship it once its window is open "
	    "(excon advance PLAN --to STEP), or move the deadline" : NULL);
}

/* Adds a gate override to the CI findings, as a note with its reason. */
static void
override_finding(struct findings *f, const struct cmd_ctx *ctx,
    const struct state_event *ev, struct buf *msg)
{
	const struct plan *p = ev->plan ? plan_set_find(&ctx->plans, ev->plan) :
	    NULL;

	buf_reset(msg);
	buf_printf(msg, "%s/%s forced in %s by %s at %s past gate %s; reason: %s",
	    ev->plan ? ev->plan : "-", ev->step ? ev->step : "-",
	    ev->release ? ev->release : "-", ev->actor ? ev->actor : "-",
	    out_time(ev->at), ev->detail ? ev->detail : "-",
	    ev->reason ? ev->reason : "-");
	findings_add(f, "N-OVERRIDE", SEV_NOTE, p ? p->file : "", 0, 0,
	    buf_cstr(msg), NULL);
}

/*
 * Writes the timeline page of every plan against every release: where
 * each step shipped, forced steps, the contract window, the usage evidence
 * of rule 9 (usage[i] for plan i, NULL when unknown) and the overrides
 * ev.  Returns an exit code.
 */
static int
audit_html(const struct cmd_ctx *ctx, const struct state_history *h,
    const struct gate_ctx *g, const struct state_event *ev, size_t nev,
    const char *day, char *const *usage)
{
	struct timeline t;
	struct tl_release *rel = xcalloc(h->nreleases + 1, sizeof *rel);
	struct tl_plan *pl = xcalloc(ctx->plans.nplans + 1, sizeof *pl);
	struct tl_override *ov = xcalloc(nev + 1, sizeof *ov);
	struct tl_step **steps = xcalloc(ctx->plans.nplans + 1, sizeof *steps);
	char **times = xcalloc(nev + 1, sizeof *times);
	struct buf out = BUF_INIT;
	size_t i, j, k;

	memset(&t, 0, sizeof t);
	for (i = 0; i < h->nreleases; i++) {
		rel[i].seq = h->releases[i].seq;
		rel[i].name = h->releases[i].name;
		rel[i].deployed = h->releases[i].state == RELEASE_DEPLOYED;
		rel[i].started_at = h->releases[i].started_at;
	}
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];
		struct tl_plan *x = &pl[i];
		struct gate_window w;

		gate_window(g, p, &w);
		steps[i] = xcalloc(p->nsteps + 1, sizeof *steps[i]);
		for (j = 0; j < p->nsteps; j++) {
			struct tl_step *s = &steps[i][j];

			s->id = p->steps[j].id.s;
			s->kind = step_kind_name(p->steps[j].kind);
			s->phase = phase_name(p->steps[j].phase);
			for (k = 0; k < h->nships; k++)
				if (strcmp(h->ships[k].plan, p->name.s) == 0 &&
				    strcmp(h->ships[k].step, s->id) == 0) {
					s->seq = h->ships[k].release_seq;
					s->forced = h->ships[k].forced;
					s->failed = h->ships[k].status == SHIP_FAILED;
				}
		}
		x->name = p->name.s;
		x->owner = p->owner.s;
		x->file = p->file;
		x->deadline = p->deadline.s;
		x->usage = usage != NULL ? usage[i] : NULL;
		x->steps = steps[i];
		x->nsteps = p->nsteps;
		x->contract = w.contract >= 0 ? p->steps[w.contract].id.s : NULL;
		x->last_nc_seq = w.last_nc_seq;
		x->window_from = w.last_nc_seq ? w.from_seq : 0;
		x->passed = w.passed;
		x->required = w.required;
		if (w.contract < 0)
			x->status = TL_NONE;
		else if (w.shipped)
			x->status = TL_DONE;
		else if (p->deadline.s != NULL && strcmp(day, p->deadline.s) > 0)
			x->status = TL_OVERDUE;
		else if (w.open && w.last_nc_seq)
			x->status = TL_OPEN;
		else
			x->status = TL_WAITING;
	}
	for (i = 0; i < nev; i++) {
		times[i] = xstrdup(out_time(ev[i].at));
		ov[i].at = times[i];
		ov[i].actor = ev[i].actor;
		ov[i].plan = ev[i].plan;
		ov[i].step = ev[i].step;
		ov[i].release = ev[i].release;
		ov[i].gate = ev[i].detail;
		ov[i].reason = ev[i].reason;
	}
	t.generated = out_time(out_now());
	t.releases = rel;
	t.nreleases = h->nreleases;
	t.plans = pl;
	t.nplans = ctx->plans.nplans;
	t.overrides = ov;
	t.noverrides = nev;
	timeline_html(&t, &out);
	cmd_out(&out);
	buf_free(&out);
	for (i = 0; i < ctx->plans.nplans; i++)
		free(steps[i]);
	free(steps);
	strv_free(times);
	free(rel);
	free(pl);
	free(ov);
	return EXCON_EXIT_OK;
}

/* 1 when audit shows rule 9's evidence for p. */
static int
audit_probes(struct cmd_ctx *ctx, const struct state_history *h,
    const struct plan *p)
{
	return ctx->cfg.probe != CONFIG_PROBE_OFF && cmd_have_db(ctx) &&
	    evidence_pending(ctx, h, p);
}

/*
 * Appends rule 9's evidence for p to out: in text, an indented line "no
 * use seen since <time> across N databases", the evidence, or why there
 * is none; in JSON, the value of the "usage" key.  Nothing when
 * audit_probes says no.  The evidence is read through evc, once for
 * every plan.
 */
static void
audit_evidence(struct cmd_ctx *ctx, struct evidence_cache *evc,
    const struct state_history *h, const struct plan *p, struct buf *out)
{
	struct evidence e;
	struct buf err = BUF_INIT;
	size_t i;
	int json = ctx->format == FORMAT_JSON, f = 1;

	if (!audit_probes(ctx, h, p))
		return;
	if (json) {
		/* {since, databases, gathered, missing, reset, uses: [...]} */
		if (evidence_gather_cached(ctx, evc, p, &e, &err) != 0) {
			e.res.gathered = 0;
			free(e.res.missing);
			e.res.missing = xstrdup(buf_cstr(&err));
		}
		buf_putc(out, '{');
		json_key(out, &f, "since");
		json_str(out, e.since ? out_time(e.since) : NULL);
		json_key(out, &f, "databases");
		buf_printf(out, "%zu", e.res.nservers);
		json_key(out, &f, "gathered");
		buf_puts(out, e.res.gathered ? "true" : "false");
		json_key(out, &f, "missing");
		json_str(out, e.res.missing);
		json_key(out, &f, "reset");
		json_str(out, e.res.reset);
		json_key(out, &f, "uses");
		buf_putc(out, '[');
		for (i = 0; i < e.res.nuses; i++) {
			int g = 1;

			buf_puts(out, i ? ",{" : "{");
			json_key(out, &g, "where");
			json_str(out, e.res.uses[i].where);
			json_key(out, &g, "calls");
			buf_printf(out, "%lld", (long long)e.res.uses[i].calls);
			json_key(out, &g, "text");
			json_str(out, e.res.uses[i].text);
			buf_putc(out, '}');
		}
		buf_puts(out, "]}");
		evidence_free(&e);
		buf_free(&err);
		return;
	}
	if (evidence_gather_cached(ctx, evc, p, &e, &err) != 0)
		buf_printf(out, "    usage evidence: cannot tell: %s\n",
		    buf_cstr(&err));
	else if (!e.res.gathered)
		buf_printf(out, "    usage evidence: cannot tell: %s\n",
		    e.res.missing);
	else if (e.res.nuses == 0)
		buf_printf(out, "    no use seen since %s across %zu database%s\n",
		    e.since ? out_time(e.since) : "the statistics began",
		    e.res.nservers, e.res.nservers == 1 ? "" : "s");
	else
		buf_printf(out, "    still used since %s (rule 9):\n  %s",
		    e.since ? out_time(e.since) : "the statistics began",
		    buf_cstr(&e.lines));
	if (e.res.gathered && e.res.reset != NULL)
		buf_printf(out, "    note: %s\n", e.res.reset);
	evidence_free(&e);
	buf_free(&err);
}

/*
 * Adds rule 9's evidence for p's contract step cs to the CI findings:
 * W-STILL-USED (a warning) with every use, N-NO-USE-SEEN when nothing
 * used it since the window opened, N-USE-UNKNOWN when the evidence could
 * not be gathered (both notes).  Located at the contract step.  Nothing
 * when audit_probes says no.
 */
static void
evidence_finding(struct cmd_ctx *ctx, struct evidence_cache *evc,
    const struct state_history *h, const struct plan *p, const struct step *cs,
    struct findings *f, struct buf *msg)
{
	struct evidence e;
	struct buf err = BUF_INIT, fix = BUF_INIT;
	const char *rule, *since;
	size_t i;
	int sev;

	if (!audit_probes(ctx, h, p))
		return;
	buf_reset(msg);
	buf_printf(msg, "contract %s/%s: ", p->name.s, cs->id.s);
	if (evidence_gather_cached(ctx, evc, p, &e, &err) != 0 || !e.res.gathered) {
		rule = "N-USE-UNKNOWN";
		sev = SEV_NOTE;
		buf_printf(msg, "use not known (rule 9): %s", err.len > 0 ?
		    buf_cstr(&err) : e.res.missing != NULL ? e.res.missing :
		    "the statistics could not be read");
		buf_printf(&fix, "make pg_stat_statements readable, then 'excon "
		    "probe %s' shows the evidence", p->name.s);
	} else {
		since = e.since ? out_time(e.since) : "the statistics began";
		if (e.res.nuses == 0) {
			rule = "N-NO-USE-SEEN";
			sev = SEV_NOTE;
			buf_printf(msg, "no use seen since %s across %zu database%s "
			    "(rule 9)", since, e.res.nservers,
			    e.res.nservers == 1 ? "" : "s");
		} else {
			rule = "W-STILL-USED";
			sev = SEV_WARNING;
			buf_puts(msg, "still used (rule 9): ");
			for (i = 0; i < e.res.nuses; i++) {
				const struct probe_use *u = &e.res.uses[i];

				if (i > 0)
					buf_puts(msg, "; ");
				if (u->calls > 0)
					buf_printf(msg, "%lld call%s of `%s` on the %s",
					    (long long)u->calls, u->calls == 1 ? "" :
					    "s", u->text, u->where);
				else
					buf_printf(msg, "`%s` on the %s", u->text,
					    u->where);
			}
			buf_printf(msg, "; since %s", since);
			buf_printf(&fix, "change what still uses it, then 'excon "
			    "probe %s --restart --reason TEXT' starts a new window",
			    p->name.s);
		}
		if (e.res.reset != NULL)
			buf_printf(msg, "; note: %s", e.res.reset);
	}
	findings_add(f, rule, sev, p->file, cs->pos.line, cs->pos.col,
	    buf_cstr(msg), fix.len > 0 ? buf_cstr(&fix) : NULL);
	evidence_free(&e);
	buf_free(&err);
	buf_free(&fix);
}

/* Runs audit. */
static int
cmd_audit_exec(struct cmd_ctx *ctx)
{
	struct state_history h;
	struct state_event *ev = NULL, *snaps = NULL;
	struct gate_ctx g;
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct findings fs = FINDINGS_INIT;
	struct buf msg = BUF_INIT;
	const char **units = NULL;
	size_t nunits = 0, capunits = 0;
	const char *fail_on = cmd_opt(ctx, "fail-on");
	const struct state_release *newest;
	char day[11];
	size_t i, nev = 0, nsnaps = 0, nrestarts = 0;
	int rc, npending = 0, noverdue = 0, json = ctx->format == FORMAT_JSON;
	char **usage = NULL;
	struct evidence_cache *evc = NULL;

	if (fail_on != NULL && strcmp(fail_on, "overdue") != 0 &&
	    strcmp(fail_on, "pending") != 0)
		return cmd_fail(EXCON_EXIT_USAGE, "--fail-on takes 'overdue' or "
		    "'pending', not '%s'", fail_on);
	if ((rc = cmd_load_plans_history(ctx, &h)) != 0)
		return rc;
	cmd_gate(ctx, &h, &g);
	newest = gate_newest(&h);
	today(day);
	if (ctx->st != NULL && (state_events_load(ctx->st, NULL, "override", &ev,
	    &nev, &err) != 0 || state_events_load(ctx->st, NULL, EVIDENCE_EVENT,
	    &snaps, &nsnaps, &err) != 0)) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	/* The page's evidence, by plan (the plans are loaded by now). */
	if (ctx->format == FORMAT_HTML)
		usage = xcalloc(ctx->plans.nplans + 1, sizeof *usage);
	evc = evidence_cache_new();
	buf_puts(&out, json ? "{\"pending\":[" : "");
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];
		const struct step *cs;
		struct gate_window w;
		int overdue;

		XGROW(units, capunits, nunits + 1);
		units[nunits++] = p->file;
		gate_window(&g, p, &w);
		if (w.contract < 0 || w.shipped)
			continue;
		cs = &p->steps[w.contract];
		overdue = p->deadline.s != NULL && strcmp(day, p->deadline.s) > 0;
		noverdue += overdue;
		/* The findings serve the CI formats only. */
		if (ctx->format >= FORMAT_GITHUB)
			pending_finding(&fs, &h, p, &w, overdue, &msg);
		if (json) {
			int f = 1;

			buf_puts(&out, npending ? ",{" : "{");
			json_key(&out, &f, "plan");
			json_str(&out, p->name.s);
			json_key(&out, &f, "owner");
			json_str(&out, p->owner.s);
			json_key(&out, &f, "contract_step");
			json_str(&out, cs->id.s);
			json_key(&out, &f, "last_step");
			json_str(&out, w.last_nc >= 0 ? p->steps[w.last_nc].id.s : NULL);
			json_key(&out, &f, "last_step_release");
			json_str(&out, w.last_nc_seq ? gate_release(&h, w.last_nc_seq)->name : NULL);
			json_key(&out, &f, "last_step_seq");
			if (w.last_nc_seq)
				buf_printf(&out, "%lld", (long long)w.last_nc_seq);
			else
				buf_puts(&out, "null");
			json_key(&out, &f, "releases_passed");
			buf_printf(&out, "%lld", (long long)w.passed);
			json_key(&out, &f, "releases_required");
			buf_printf(&out, "%d", w.required);
			json_key(&out, &f, "allowed_from");
			if (w.last_nc_seq)
				buf_printf(&out, "%lld", (long long)w.from_seq);
			else
				buf_puts(&out, "null");
			json_key(&out, &f, "allowed_now");
			buf_puts(&out, w.open && w.last_nc_seq ? "true" : "false");
			json_key(&out, &f, "deadline");
			json_str(&out, p->deadline.s);
			json_key(&out, &f, "overdue");
			buf_puts(&out, overdue ? "true" : "false");
			if (audit_probes(ctx, &h, p)) {
				json_key(&out, &f, "usage");
				audit_evidence(ctx, evc, &h, p, &out);
			}
			buf_putc(&out, '}');
		} else {
			if (npending == 0)
				buf_puts(&out, "pending contracts:\n");
			/* Pieces, not printf: these lines are most of the output. */
			buf_puts(&out, "  ");
			buf_puts(&out, p->name.s);
			buf_putc(&out, '/');
			buf_puts(&out, cs->id.s);
			buf_puts(&out, "  owner ");
			buf_puts(&out, p->owner.s ? p->owner.s : "-");
			buf_putc(&out, '\n');
			if (w.last_nc_seq) {
				buf_puts(&out, "    last non-contract step ");
				buf_puts(&out, p->steps[w.last_nc].id.s);
				buf_puts(&out, " shipped in ");
				buf_puts(&out, gate_release(&h, w.last_nc_seq)->name);
				buf_puts(&out, " (#");
				buf_putll(&out, (long long)w.last_nc_seq);
				buf_puts(&out, "); ");
				buf_putll(&out, (long long)w.passed);
				buf_puts(&out, " of ");
				buf_putll(&out, (long long)w.required);
				buf_puts(&out, " releases passed; ");
				buf_puts(&out, w.open ? "allowed now\n" : "not allowed yet\n");
			} else {
				buf_puts(&out, "    waiting for ");
				buf_puts(&out, w.last_nc >= 0 ? p->steps[w.last_nc].id.s : "?");
				buf_puts(&out, " to ship first\n");
			}
			if (w.last_nc_seq && !w.open) {
				buf_puts(&out, "    allowed from release #");
				buf_putll(&out, (long long)w.from_seq);
				buf_putc(&out, '\n');
			}
			if (p->deadline.s != NULL) {
				buf_puts(&out, "    deadline ");
				buf_puts(&out, p->deadline.s);
				buf_puts(&out, overdue ? "  OVERDUE\n" : "\n");
			}
			if (usage != NULL) {
				/* The page shows it beside the plan's window. */
				struct buf ub = BUF_INIT;

				audit_evidence(ctx, evc, &h, p, &ub);
				buf_puts(&out, buf_cstr(&ub));
				usage[i] = ub.len > 0 ? buf_detach(&ub) : NULL;
				buf_free(&ub);
			} else if (ctx->format >= FORMAT_GITHUB)
				evidence_finding(ctx, evc, &h, p, cs, &fs, &msg);
			else
				audit_evidence(ctx, evc, &h, p, &out);
		}
		npending++;
	}
	for (i = 0; ctx->format >= FORMAT_GITHUB && i < nev; i++)
		override_finding(&fs, ctx, &ev[i], &msg);
	if (ctx->format >= FORMAT_GITHUB) {
		buf_reset(&out);
		if (ctx->format == FORMAT_HTML)
			rc = audit_html(ctx, &h, &g, ev, nev, day, usage);
		else
			rc = cmd_report(ctx, "audit", &fs, units, nunits);
		if (rc != 0)
			goto done;
	} else if (json) {
		buf_puts(&out, "],\"overrides\":[");
		for (i = 0; i < nev; i++) {
			int f = 1;

			buf_puts(&out, i ? ",{" : "{");
			json_key(&out, &f, "at");
			json_str(&out, out_time(ev[i].at));
			json_key(&out, &f, "actor");
			json_str(&out, ev[i].actor);
			json_key(&out, &f, "plan");
			json_str(&out, ev[i].plan);
			json_key(&out, &f, "step");
			json_str(&out, ev[i].step);
			json_key(&out, &f, "release");
			json_str(&out, ev[i].release);
			json_key(&out, &f, "gate");
			json_str(&out, ev[i].detail);
			json_key(&out, &f, "reason");
			json_str(&out, ev[i].reason);
			buf_putc(&out, '}');
		}
		buf_printf(&out, "],\"newest_release\":");
		json_str(&out, newest ? newest->name : NULL);
		buf_puts(&out, "}\n");
	} else {
		if (npending == 0)
			buf_puts(&out, "no pending contracts\n");
		for (i = 0; i < nsnaps; i++)
			nrestarts += snaps[i].reason != NULL;
		if (nev == 0 && nrestarts == 0)
			buf_puts(&out, "no overrides\n");
		else
			buf_puts(&out, "overrides:\n");
		for (i = 0; i < nev; i++)
			buf_printf(&out, "  %s %s by %s: %s/%s in %s\n    gate: %s\n"
			    "    reason: %s\n", out_time(ev[i].at), ev[i].kind,
			    ev[i].actor ? ev[i].actor : "-", ev[i].plan ? ev[i].plan : "-",
			    ev[i].step ? ev[i].step : "-",
			    ev[i].release ? ev[i].release : "-",
			    ev[i].detail ? ev[i].detail : "-",
			    ev[i].reason ? ev[i].reason : "-");
		/* probe --restart: a new evidence window is an override of rule 9. */
		for (i = 0; i < nsnaps; i++)
			if (snaps[i].reason != NULL)
				buf_printf(&out, "  %s probe restart by %s: %s\n    "
				    "gate: rule 9, a new evidence window\n    "
				    "reason: %s\n", out_time(snaps[i].at),
				    snaps[i].actor ? snaps[i].actor : "-",
				    snaps[i].plan ? snaps[i].plan : "-", snaps[i].reason);
	}
	cmd_out(&out);
	if (fail_on != NULL && ((strcmp(fail_on, "overdue") == 0 && noverdue) ||
	    (strcmp(fail_on, "pending") == 0 && npending)))
		rc = EXCON_EXIT_PROBLEMS;
done:
	evidence_cache_free(evc);
	for (i = 0; usage != NULL && i < ctx->plans.nplans; i++)
		free(usage[i]);
	free(usage);
	state_events_free(ev, nev);
	findings_free(&fs);
	buf_free(&msg);
	free(units);
	state_events_free(snaps, nsnaps);
	buf_free(&out);
	buf_free(&err);
	state_history_free(&h);
	return rc;
}

const struct cmd_entry cmd_audit_entry = {
	.name = "audit",
	.args = "[--fail-on overdue|pending]",
	.summary = "list pending contracts (waiting, allowed, overdue) and every gate override",
	.opts = audit_opts,
	.flags = CMD_REPORTS | CMD_GITHUB | CMD_HTML,
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_audit_exec,
};
