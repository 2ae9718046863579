/*
 * excon advance PLAN [--to STEP] | --all: ships steps in a release.
 *
 * Each step is decided by the gate rules inside a write transaction on the
 * state file, so that of many concurrent advances exactly one ships a
 * step.  Steps that change the database run between two transactions (the
 * state file is never locked while SQL runs; a PostgreSQL advisory lock
 * per plan keeps two executors apart) and are recorded once they
 * succeeded and their verify query returned true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gate.h"
#include "out.h"
#include "report.h"
#include "sqlcheck.h"
#include "cmd/annotate.h"
#include "cmd/dbstep.h"
#include "cmd/evidence.h"
#include "exec.h"
#include "xalloc.h"

static const struct cmd_opt advance_opts[] = {
	{ "to", OPT_STR, "STEP", "ship every step up to and including STEP" },
	{ "all", OPT_BOOL, NULL, "advance every plan as far as the gates allow" },
	{ "release", OPT_STR, "NAME", "release to ship in (default: the newest)" },
	{ "stage", OPT_STR, "STAGE", "only ship steps of this stage: pre, code or post" },
	{ "record-only", OPT_BOOL, NULL, "record without touching the database" },
	{ "force", OPT_BOOL, NULL, "pass a refusing gate (rules 3-5 and 9); needs --reason" },
	{ "reason", OPT_STR, "TEXT", "why the gate is forced (logged and audited)" },
	{ "exact", OPT_BOOL, NULL, "with --dry-run: count a backfill's rows instead of "
	  "estimating them" },
	{ "wait", OPT_STR, "DURATION", "wait this long for a plan another excon holds "
	  "(default: lock_timeout x lock_retries; 0 = refuse at once)" },
	{ NULL, 0, NULL, NULL }
};

/* advance_one's "nothing to ship": distinct from every exit code. */
#define ADVANCE_NOTHING	(-1)

/*
 * The history advance judges and ships on, loaded once and then updated
 * with each ship this process records, instead of loaded again for every
 * step (which made shipping N steps cost N loads of the whole history).
 * It stands in for a load inside a write transaction only when the
 * store's stamp says nothing changed it since (state_history_stamp);
 * otherwise it is loaded again.
 */
struct hist_cache {
	struct state_history	 h;
	struct state_stamp	 stamp;		/* of the store when h was current */
	size_t			 cap;		/* room in h.ships */
	int			 valid;		/* stamp describes h */
};

struct advance {
	struct cmd_ctx		*ctx;
	struct hist_cache	 hc;
	struct evidence_cache	*evc;		/* rule 9's reads of one --all pass */
	struct buf		 json;		/* shipped entries, JSON */
	int			 nshipped;
	int			 record_only;
	int			 force;
	const char		*reason;
	int			 stage_set;
	enum stage		 stage;
	const char		*release_name;
};

/*
 * Makes a->hc.h the current history, inside a new write transaction when
 * write is set: kept when the store's stamp is unchanged, else loaded.
 * Returns 0, or an exit code after printing the error (no transaction
 * left open).
 */
static int
hist_get(struct advance *a, int write)
{
	struct cmd_ctx *ctx = a->ctx;
	struct hist_cache *c = &a->hc;
	struct state_stamp now;
	struct buf err = BUF_INIT;
	int rc, known;

	if ((rc = cmd_open_state(ctx, 0)) != 0)
		return rc;
	if (write && state_begin(ctx->st, &err) != 0)
		goto fail;
	/* The stamp first: a change after it only makes the next one differ. */
	if ((known = state_history_stamp(ctx->st, &now, &err)) < 0)
		goto fail;
	if (known == 0 && c->valid && now.store == c->stamp.store &&
	    now.own == c->stamp.own)
		return 0;
	state_history_free(&c->h);
	c->valid = 0;
	if (state_history_load(ctx->st, &c->h, &err) != 0)
		goto fail;
	c->cap = c->h.nships;
	c->stamp = now;
	c->valid = known == 0;
	return 0;
fail:
	if (write)
		state_rollback(ctx->st);
	rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
	buf_free(&err);
	return rc;
}

/*
 * Puts the ship row just written in the open transaction into a->hc.h,
 * where the store keeps it (ships by plan, then idx), then stamps the
 * cache anew, still inside the transaction.  A row replacing one of the
 * same plan and step, or a stamp that cannot be read, drops the cache
 * instead.
 */
static void
hist_note_ship(struct advance *a, const struct state_ship *row)
{
	struct hist_cache *c = &a->hc;
	struct state_history *h = &c->h;
	struct state_ship *sh;
	struct buf err = BUF_INIT;
	size_t i, lo = 0, hi = h->nships;

	if (!c->valid)
		return;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(h->ships[mid].plan, row->plan) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < h->nships && strcmp(h->ships[i].plan, row->plan) == 0;
	    i++)
		if (strcmp(h->ships[i].step, row->step) == 0)
			break;
	if (i < h->nships && strcmp(h->ships[i].plan, row->plan) == 0) {
		/* The same step again (one that failed): loaded anew next time. */
		c->valid = 0;
		goto done;
	}
	for (i = lo; i < h->nships && strcmp(h->ships[i].plan, row->plan) == 0 &&
	    h->ships[i].idx < row->idx; i++)
		;
	xgrow((void **)&h->ships, &c->cap, h->nships + 1, sizeof *h->ships);
	memmove(&h->ships[i + 1], &h->ships[i],
	    (h->nships - i) * sizeof *h->ships);
	h->nships++;
	sh = &h->ships[i];
	*sh = *row;
	if (h->strings != NULL) {
		sh->plan = arena_strndup(h->strings, row->plan, strlen(row->plan));
		sh->step = arena_strndup(h->strings, row->step, strlen(row->step));
		sh->checksum = arena_strndup(h->strings, row->checksum ?
		    row->checksum : "", row->checksum ? strlen(row->checksum) : 0);
	} else {
		sh->plan = xstrdup(row->plan);
		sh->step = xstrdup(row->step);
		sh->checksum = xstrdup(row->checksum ? row->checksum : "");
	}
	if (state_history_stamp(a->ctx->st, &c->stamp, &err) != 0)
		c->valid = 0;
done:
	buf_free(&err);
}

/* Appends a shipped (or would-ship) step to the JSON list. */
static void
note_shipped(struct advance *a, const struct plan *p, const struct step *s,
    const struct state_release *r, int forced)
{
	int f = 1;

	buf_puts(&a->json, a->nshipped ? ",{" : "{");
	json_key(&a->json, &f, "plan");
	json_str(&a->json, p->name.s);
	json_key(&a->json, &f, "step");
	json_str(&a->json, s->id.s);
	json_key(&a->json, &f, "kind");
	json_str(&a->json, step_kind_name(s->kind));
	json_key(&a->json, &f, "stage");
	json_str(&a->json, stage_name(s->stage));
	json_key(&a->json, &f, "release");
	json_str(&a->json, r->name);
	json_key(&a->json, &f, "seq");
	buf_printf(&a->json, "%lld", (long long)r->seq);
	json_key(&a->json, &f, "forced");
	buf_puts(&a->json, forced ? "true" : "false");
	json_key(&a->json, &f, "dry_run");
	buf_puts(&a->json, a->ctx->dry_run ? "true" : "false");
	buf_putc(&a->json, '}');
	a->nshipped++;
}

/*
 * Appends the way past a refusal of plan p by gate rule `rule` to out;
 * nothing when there is none.
 */
static void
refusal_fix(const struct plan *p, enum gate_rule rule, struct buf *out)
{
	switch (rule) {
	case GATE_ORDER:
		buf_puts(out, "ship the earlier steps of the plan first");
		break;
	case GATE_RELEASE:
		buf_puts(out, "ship it in the newest release: pre and code steps "
		    "while it is started, post steps once it is deployed (excon "
		    "release finish NAME)");
		break;
	case GATE_GAP:
	case GATE_WINDOW:
	case GATE_DEPS:
		buf_puts(out, "wait for the release it names, or pass the gate "
		    "with --force --reason TEXT (logged and audited)");
		break;
	case GATE_IMMUTABLE:
		buf_puts(out, "restore the shipped steps in the plan file as they "
		    "shipped; change the schema with a new step or a new plan");
		break;
	case GATE_HALF:
		buf_printf(out, "resume the step with 'excon advance %s' or undo "
		    "it with 'excon rollback %s'", p->name.s, p->name.s);
		break;
	case GATE_EVIDENCE:
		buf_printf(out, "'excon probe %s' shows the evidence; once the "
		    "application is fixed, 'excon probe %s --restart --reason "
		    "TEXT' starts a new window; --force --reason TEXT passes this "
		    "gate (logged and audited)", p->name.s, p->name.s);
		break;
	default:
		break;
	}
}

/* Prints a refusal (text to stderr; JSON to stdout). */
static void
print_refusal(struct advance *a, const struct plan *p, const struct step *s,
    const struct gate_result *res)
{
	if (a->ctx->format == FORMAT_JSON) {
		struct buf b = BUF_INIT;
		int f = 1;

		buf_puts(&b, "{\"shipped\":[");
		buf_add(&b, a->json.ptr ? a->json.ptr : "", a->json.len);
		buf_puts(&b, "],\"refused\":{");
		json_key(&b, &f, "plan");
		json_str(&b, p->name.s);
		json_key(&b, &f, "step");
		json_str(&b, s->id.s);
		json_key(&b, &f, "rule");
		buf_printf(&b, "%d", (int)res->rule);
		json_key(&b, &f, "message");
		json_str(&b, buf_cstr(&res->why));
		json_key(&b, &f, "allowed_from");
		if (res->from_seq)
			buf_printf(&b, "%lld", (long long)res->from_seq);
		else
			buf_puts(&b, "null");
		buf_puts(&b, "}}\n");
		cmd_out(&b);
		buf_free(&b);
	}
	{
		struct buf what = BUF_INIT, fix = BUF_INIT;

		buf_printf(&what, "gate rule %d", (int)res->rule);
		refusal_fix(p, res->rule, &fix);
		annotate_refusal(p, s, buf_cstr(&what), buf_cstr(&res->why),
		    fix.len > 0 ? buf_cstr(&fix) : NULL);
		buf_free(&what);
		buf_free(&fix);
	}
	if (res->rule == GATE_EVIDENCE)
		fprintf(stderr, "hint: 'excon probe %s' shows the evidence; once "
		    "the application is fixed, 'excon probe %s --restart --reason "
		    "TEXT' starts a new window; --force --reason TEXT passes this "
		    "gate (logged and audited)\n", p->name.s, p->name.s);
	if (res->rule >= GATE_GAP && res->rule <= GATE_DEPS)
		fprintf(stderr, "hint: --force --reason TEXT passes this gate; the "
		    "override is logged and shown by 'excon audit'\n");
}

/*
 * Gathers p's rule 9 evidence into ev, through a->evc when a pass of
 * --all has one (each server connected and its statistics read once per
 * pass, not once per plan); when it cannot be read, ev says so (the gate
 * then refuses under probe: required).  Returns 0.
 */
static int
probe_evidence(struct advance *a, const struct plan *p, struct evidence *ev)
{
	struct cmd_ctx *ctx = a->ctx;
	struct buf err = BUF_INIT;

	if ((a->evc != NULL ? evidence_gather_cached(ctx, a->evc, p, ev, &err) :
	    evidence_gather(ctx, p, ev, &err)) != 0) {
		evidence_free(ev);
		buf_init(&ev->lines);
		ev->res.missing = xasprintf("the database could not be read: %s",
		    buf_cstr(&err));
		ev->gate.plan = p->name.s;
		ev->gate.gathered = 0;
		ev->gate.missing = ev->res.missing;
	}
	buf_free(&err);
	return 0;
}

/*
 * After step idx of p shipped: when it was the last non-contract step
 * before a contract that removes something, the evidence window of rule 9
 * opens, and a snapshot of pg_stat_statements is recorded.  Failing to
 * take one is a warning: the step has shipped.
 */
static void
window_opens(struct advance *a, const struct plan *p, size_t idx)
{
	struct cmd_ctx *ctx = a->ctx;
	struct use_target *t = NULL;
	struct buf err = BUF_INIT;
	char *missing = NULL;
	size_t n = probe_targets(p, &t);

	free(t);
	if (n == 0 || ctx->dry_run || ctx->cfg.probe == CONFIG_PROBE_OFF ||
	    !cmd_have_db(ctx) || idx + 1 >= p->nsteps ||
	    !gate_first_contract(p, idx + 1))
		return;
	if (evidence_snapshot(ctx, p, NULL, &missing, &err) != 0)
		fprintf(stderr, "warning: %s: no snapshot of pg_stat_statements "
		    "(rule 9): %s\n", p->name.s, buf_cstr(&err));
	else if (missing != NULL)
		fprintf(stderr, "warning: %s: no snapshot of pg_stat_statements "
		    "(rule 9): %s\n", p->name.s, missing);
	else if (a->evc != NULL) {
		/* The pass's reads predate the new window: read again. */
		evidence_cache_free(a->evc);
		a->evc = evidence_cache_new();
	}
	free(missing);
	buf_free(&err);
}

/*
 * The SQL analysis lint runs, on the one step about to run: returns 0 when
 * it finds no error, else prints the findings and returns
 * EXCON_EXIT_PROBLEMS before anything touched the database or the state.
 */
static int
lint_step(const struct plan *p, const struct step *s)
{
	struct findings f = FINDINGS_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;
	int rc = 0;

	if (sqlcheck_step(p, s, NULL, &f, &err) != 0)
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
	else if (findings_count(&f, SEV_ERROR) > 0) {
		size_t i;

		for (i = 0; i < f.n; i++)
			if (f.v[i].severity != SEV_ERROR)
				f.v[i].suppressed = 1;
		findings_sort(&f);
		report_text(&f, 0, &out);
		fputs(buf_cstr(&out), stderr);
		annotate_findings(&f);
		buf_reset(&out);
		buf_printf(&out, "%s/%s does not lint clean (%zu error%s, see "
		    "'excon lint'); nothing was run", p->name.s, s->id.s,
		    findings_count(&f, SEV_ERROR),
		    findings_count(&f, SEV_ERROR) == 1 ? "" : "s");
		annotate_refusal(p, s, "does not lint clean", buf_cstr(&out),
		    "make the step's SQL safe as the findings say, or allow a "
		    "finding with '-- excon:allow RULE reason'");
		rc = EXCON_EXIT_PROBLEMS;
	}
	findings_free(&f);
	buf_free(&out);
	buf_free(&err);
	return rc;
}

/*
 * Advances plan p by at most one step (the next one, and only when it is
 * not past index `last`, -1 = no limit).  Returns 0 when a step shipped,
 * ADVANCE_NOTHING when there was nothing to do (complete, past `last`,
 * another stage),
 * EXCON_EXIT_REFUSED after printing a refusal (quiet when quiet is set),
 * or another exit code.  *done gets the index of the step considered.
 */
static int
advance_one(struct advance *a, const struct plan *p, int last, int quiet,
    int *done)
{
	struct cmd_ctx *ctx = a->ctx;
	struct state_history *hp = &a->hc.h;
	struct gate_ctx g;
	struct gate_progress pr;
	struct gate_result res;
	struct evidence ev;
	struct state_ship row;
	struct buf err = BUF_INIT;
	const struct state_release *r;
	const struct step *s;
	int rc, in_tx = !ctx->dry_run, next;

	gate_result_init(&res);
	memset(&ev, 0, sizeof ev);
	memset(&pr, 0, sizeof pr);
	annotate_at(p, NULL);
	if ((rc = hist_get(a, in_tx)) != 0) {
		annotate_at(NULL, NULL);
		return rc;
	}
	cmd_gate(ctx, hp, &g);
	gate_progress_load(&g, p, &pr);
	next = pr.next;
	*done = next;
	if (next < 0 || (last >= 0 && next > last)) {
		rc = ADVANCE_NOTHING;
		goto done;
	}
	s = &p->steps[next];
	annotate_at(p, s);
	if (a->stage_set && s->stage != a->stage) {
		rc = ADVANCE_NOTHING;
		goto done;
	}
	r = a->release_name ? gate_release_named(hp, a->release_name) :
	    gate_newest(hp);
	if (a->release_name && r == NULL) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "unknown release '%s'", a->release_name);
		goto done;
	}
	/*
	 * Rule 9's evidence is read here, inside the history's write
	 * transaction, so that the decision and the record see one history;
	 * the probe only reads statistics and the catalog, on a connection
	 * of its own, and never waits on a lock of the application's.
	 */
	if (g.probe != GATE_PROBE_OFF && gate_first_contract(p, (size_t)next) &&
	    cmd_have_db(ctx) && probe_evidence(a, p, &ev) == 0) {
		g.evidence = &ev.gate;
		g.nevidence = 1;
	}
	gate_step(&g, p, (size_t)next, r ? r->seq : 0, a->force, &res);
	if (res.allowed && res.warn.len > 0)
		annotate_warning(p, s, buf_cstr(&res.warn));
	if (!res.allowed) {
		if (!quiet)
			print_refusal(a, p, s, &res);
		rc = EXCON_EXIT_REFUSED;
		goto done;
	}
	if (exec_step_runs_sql(s) && !a->record_only &&
	    (rc = lint_step(p, s)) != 0)
		goto done;
	if (exec_step_runs_sql(s) && !a->record_only && !cmd_have_db(ctx)) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "%s/%s (%s) changes the database, and "
		    "no database is configured: pass --db CONNINFO (or set "
		    "EXCON_DATABASE or 'database:' in excon.yaml), or --record-only "
		    "if another tool applies it", p->name.s, s->id.s,
		    step_kind_name(s->kind));
		goto done;
	}
	if (ctx->dry_run) {
		if (ctx->format != FORMAT_JSON) {
			if (exec_step_runs_sql(s) && !a->record_only) {
				struct buf sql = BUF_INIT;

				if (dbstep_dry(ctx, p, (size_t)next, &sql, &err) != 0) {
					rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
					buf_free(&sql);
					goto done;
				}
				fputs(buf_cstr(&sql), stdout);
				/* A backfill says what it would cost, when it can ask the database. */
				buf_reset(&sql);
				if (s->kind == KIND_BACKFILL && a->ctx->cfg.database_set &&
				    dbstep_estimate(ctx, p, (size_t)next, cmd_opt(ctx, "exact") != NULL,
				    &sql, &err) != 0) {
					rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s/%s: cannot estimate the "
					    "backfill: %s", p->name.s, s->id.s, buf_cstr(&err));
					buf_free(&sql);
					goto done;
				}
				fputs(buf_cstr(&sql), stdout);
				buf_free(&sql);
			}
			printf("would record %s/%s (%s, %s) as shipped in %s (#%lld)%s\n",
			    p->name.s, s->id.s, step_kind_name(s->kind),
			    stage_name(s->stage), r->name, (long long)r->seq,
			    res.forced ? " with an override" : "");
		}
		note_shipped(a, p, s, r, res.forced);
		rc = 0;
		goto done;
	}
	if (exec_step_runs_sql(s) && !a->record_only) {
		/* Release the state file while SQL runs; re-decide afterwards. */
		state_rollback(ctx->st);
		in_tx = 0;
		rc = dbstep_run(ctx, p, (size_t)next, r, &res, a->reason);
		if (rc == 0) {
			note_shipped(a, p, s, r, res.forced);
			window_opens(a, p, (size_t)next);
		}
		goto done;
	}
	if (dbstep_record_ship(ctx, p, (size_t)next, r, &res, a->reason,
	    a->record_only, NULL, &row, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	/* Only the ships move: r, in the releases, stays valid. */
	hist_note_ship(a, &row);
	if (state_commit(ctx->st, &err) != 0) {
		a->hc.valid = 0;
		in_tx = 0;
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	in_tx = 0;
	if (ctx->format != FORMAT_JSON)
		printf("shipped %s/%s (%s, %s) in %s (#%lld)%s\n", p->name.s, s->id.s,
		    step_kind_name(s->kind), stage_name(s->stage), r->name,
		    (long long)r->seq, res.forced ? " -- gate overridden" : "");
	note_shipped(a, p, s, r, res.forced);
	window_opens(a, p, (size_t)next);
	rc = 0;
done:
	annotate_at(NULL, NULL);
	if (in_tx && ctx->st != NULL)
		state_rollback(ctx->st);
	evidence_free(&ev);
	gate_progress_free(&pr);
	gate_result_free(&res);
	buf_free(&err);
	return rc;
}

/*
 * Whether advance_one could ship a step of p, judged on the history of g,
 * loaded once per pass of --all: a plan that is complete, waits for
 * another stage or is refused by its gate is skipped without a write
 * transaction, which makes a pass linear in the number of plans instead
 * of reloading the whole history per plan.  The decision that ships is
 * still advance_one's, made again on the history current inside its write
 * transaction.  After a ship the pass judges on the history with it (the
 * one advance_one updated), so that a plan depending on it ships in the
 * same pass, as before.
 */
static int
may_ship(const struct advance *a, const struct gate_ctx *g0, const struct plan *p)
{
	const struct state_release *r;
	struct gate_progress pr;
	struct gate_result res;
	struct gate_ctx gc = *g0, *g = &gc;
	int next, ok;

	/*
	 * Rule 9's evidence is read by advance_one only: here, without it,
	 * probe: required would refuse every first contract unread.
	 */
	if (gc.probe == GATE_PROBE_REQUIRED)
		gc.probe = GATE_PROBE_ADVISORY;
	gate_progress_load(g, p, &pr);
	next = pr.next;
	gate_progress_free(&pr);
	if (next < 0 || (a->stage_set && p->steps[next].stage != a->stage))
		return 0;
	r = a->release_name ? gate_release_named(g->hist, a->release_name) :
	    gate_newest(g->hist);
	gate_result_init(&res);
	gate_step(g, p, (size_t)next, r ? r->seq : 0, a->force, &res);
	ok = res.allowed;
	gate_result_free(&res);
	return ok;
}

/*
 * Ships the steps of p one by one: only the next one, or up to and
 * including `to`.  A dry run shows only the next step, since the ones after
 * it are judged as if it had shipped.  Returns 0 when at least one shipped,
 * ADVANCE_NOTHING when nothing was to do, or an exit code.
 */
static int
advance_plan(struct advance *a, const struct plan *p, const char *to)
{
	int target = -1, rc, n = 0, done = -1;

	if (to != NULL && (target = plan_step_index(p, to)) < 0)
		return cmd_fail(EXCON_EXIT_USAGE, "plan '%s' has no step '%s'",
		    p->name.s, to);
	for (;;) {
		rc = advance_one(a, p, target, 0, &done);
		if (rc != 0)
			break;
		n++;
		if (target < 0 || done >= target || a->ctx->dry_run)
			break;
	}
	return rc == ADVANCE_NOTHING && n > 0 ? 0 : rc;
}

/* Runs advance. */
static int
cmd_advance_exec(struct cmd_ctx *ctx)
{
	struct advance a;
	const char *st = cmd_opt(ctx, "stage");
	size_t i;
	int rc = 0, all = cmd_opt(ctx, "all") != NULL;

	memset(&a, 0, sizeof a);
	annotate_begin(ctx);
	a.ctx = ctx;
	a.record_only = cmd_opt(ctx, "record-only") != NULL;
	a.force = cmd_opt(ctx, "force") != NULL;
	a.reason = cmd_opt(ctx, "reason");
	a.release_name = cmd_opt(ctx, "release");
	if (a.force && (a.reason == NULL || *a.reason == '\0'))
		return cmd_fail(EXCON_EXIT_USAGE, "--force needs --reason TEXT: "
		    "every override is logged and audited");
	if (a.reason != NULL && !a.force)
		return cmd_fail(EXCON_EXIT_USAGE, "--reason goes with --force");
	if (st != NULL) {
		if (stage_from_name(st, &a.stage) != 0)
			return cmd_fail(EXCON_EXIT_USAGE, "unknown stage '%s' (expected "
			    "pre, code or post)", st);
		a.stage_set = 1;
	}
	if (cmd_opt(ctx, "wait") != NULL && pg_timeout_ms(cmd_opt(ctx, "wait")) < 0)
		return cmd_fail(EXCON_EXIT_USAGE, "invalid --wait '%s' (expected a "
		    "duration such as 30s, 500ms or 2min)", cmd_opt(ctx, "wait"));
	if (all == (ctx->nargs == 1))
		return cmd_fail(EXCON_EXIT_USAGE, "give a PLAN or --all (not both)");
	if (all && cmd_opt(ctx, "to") != NULL)
		return cmd_fail(EXCON_EXIT_USAGE, "--to needs a PLAN, not --all");
	if ((rc = cmd_load_plans(ctx, 0)) != 0)
		return rc;
	if (a.release_name != NULL) {
		struct state_history h;
		int known;

		if ((rc = cmd_history(ctx, &h, 0)) != 0)
			return rc;
		known = gate_release_named(&h, a.release_name) != NULL;
		state_history_free(&h);
		if (!known)
			return cmd_fail(EXCON_EXIT_USAGE, "unknown release '%s'",
			    a.release_name);
	}
	if (all) {
		/*
		 * Every plan as far as the gates allow; waiting is not an error.
		 * Passes repeat while they ship anything, so that a plan whose
		 * dependency ships later in the same run follows it.  A dry run
		 * shows one step per plan: later ones depend on it shipping.
		 */
		for (;;) {
			int before = a.nshipped, seen = a.nshipped;
			struct gate_ctx g;

			if ((rc = hist_get(&a, 0)) != 0)
				break;
			cmd_gate(ctx, &a.hc.h, &g);
			/* Rule 9's statistics, read at most once per pass. */
			evidence_cache_free(a.evc);
			a.evc = evidence_cache_new();
			for (i = 0; i < ctx->plans.nplans && rc == 0; i++) {
				int r, done;

				/*
				 * Judge the plans after a ship on the history with
				 * it: the one each ship updated, unless another
				 * process changed the store meanwhile.
				 */
				if (a.nshipped != seen && !ctx->dry_run) {
					if ((rc = hist_get(&a, 0)) != 0)
						break;
					seen = a.nshipped;
				}
				if (!may_ship(&a, &g, ctx->plans.plans[i]))
					continue;
				do {
					r = advance_one(&a, ctx->plans.plans[i], -1, 1,
					    &done);
				} while (r == 0 && !ctx->dry_run);
				if (r != 0 && r != ADVANCE_NOTHING &&
				    r != EXCON_EXIT_REFUSED)
					rc = r;
			}
			if (rc != 0 || ctx->dry_run || a.nshipped == before)
				break;
		}
		if (rc == 0 && a.nshipped == 0 && ctx->format != FORMAT_JSON)
			printf("nothing to ship%s%s\n", st ? " at stage " : "", st ? st : "");
	} else {
		const struct plan *p = plan_set_find(&ctx->plans, ctx->args[0]);

		if (p == NULL)
			return cmd_fail(EXCON_EXIT_USAGE, "unknown plan '%s'", ctx->args[0]);
		rc = advance_plan(&a, p, cmd_opt(ctx, "to"));
		if (rc == ADVANCE_NOTHING) {
			if (ctx->format != FORMAT_JSON)
				printf("%s: nothing to ship%s%s\n", p->name.s,
				    st ? " at stage " : "", st ? st : "");
			rc = 0;
		}
	}
	if (ctx->format == FORMAT_JSON && rc != EXCON_EXIT_REFUSED) {
		printf("{\"shipped\":[%s],\"refused\":null}\n", buf_cstr(&a.json));
	}
	buf_free(&a.json);
	evidence_cache_free(a.evc);
	state_history_free(&a.hc.h);
	return rc;
}

const struct cmd_entry cmd_advance_entry = {
	.name = "advance",
	.args = "PLAN [--to STEP] | --all  [--release NAME] [--stage STAGE] "
	    "[--record-only] [--force --reason TEXT]",
	.summary = "ship the next step of a plan (or every plan) in a release",
	.opts = advance_opts,
	.flags = CMD_REPORTS | CMD_CHANGES | CMD_DB | CMD_ANNOTATE,
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_advance_exec,
};
