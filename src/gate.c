/*
 * Gate rules (SPEC section 5).  Everything here is pure: inputs are the
 * plan, the history and a release number, output a decision and its text.
 *
 * The defaults are chosen so that the release before the newest one, the
 * rollback target, keeps working: see step_kind_min_releases() in plan.c
 * and the table in the README.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "xalloc.h"

/* The release with sequence seq (binary search; releases sorted by seq). */
const struct state_release *
gate_release(const struct state_history *h, int64_t seq)
{
	size_t lo = 0, hi = h->nreleases;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (h->releases[mid].seq == seq)
			return &h->releases[mid];
		if (h->releases[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The release called name. */
const struct state_release *
gate_release_named(const struct state_history *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nreleases; i++)
		if (strcmp(h->releases[i].name, name) == 0)
			return &h->releases[i];
	return NULL;
}

/* The newest release. */
const struct state_release *
gate_newest(const struct state_history *h)
{
	return h->nreleases ? &h->releases[h->nreleases - 1] : NULL;
}

/* Name of release seq, for messages. */
static const char *
rel_name(const struct state_history *h, int64_t seq)
{
	const struct state_release *r = gate_release(h, seq);

	return r != NULL ? r->name : "?";
}

/* First ship row of plan name in the history (ships sorted by plan, idx). */
static size_t
ships_lower_bound(const struct state_history *h, const char *name)
{
	size_t lo = 0, hi = h->nships;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(h->ships[mid].plan, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The index of the step ship s recorded in p, or -1 when p no longer has
 * it.  A step that has not moved is where the ship says it was, which
 * spares a search by name for almost every ship.
 */
static int
ship_step_index(const struct plan *p, const struct state_ship *s)
{
	if (s->idx >= 0 && (size_t)s->idx < p->nsteps &&
	    p->steps[s->idx].id.s != NULL &&
	    strcmp(p->steps[s->idx].id.s, s->step) == 0)
		return s->idx;
	return plan_step_index(p, s->step);
}

/* Maps a plan's shipped rows onto its steps. */
void
gate_progress_load(const struct gate_ctx *ctx, const struct plan *p,
    struct gate_progress *pr)
{
	const struct state_history *h = ctx->hist;
	size_t i;

	memset(pr, 0, sizeof *pr);
	pr->nsteps = p->nsteps;
	pr->ships = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *pr->ships);
	pr->next = -1;
	pr->failed = -1;
	for (i = ships_lower_bound(h, p->name.s);
	    i < h->nships && strcmp(h->ships[i].plan, p->name.s) == 0; i++) {
		const struct state_ship *s = &h->ships[i];
		int idx = ship_step_index(p, s);

		if (idx < 0) {
			if (pr->stray == NULL)
				pr->stray = s;
			continue;
		}
		pr->ships[idx] = s;
		if (s->status == SHIP_FAILED && pr->failed < 0)
			pr->failed = idx;
	}
	for (i = 0; i < p->nsteps; i++)
		if (pr->ships[i] == NULL || pr->ships[i]->status != SHIP_DONE) {
			pr->next = (int)i;
			break;
		}
}

/* Frees progress. */
void
gate_progress_free(struct gate_progress *pr)
{
	free(pr->ships);
	pr->ships = NULL;
}

/* contract_after of p. */
int
gate_contract_after(const struct gate_ctx *ctx, const struct plan *p)
{
	return p->contract_after >= 0 && p->contract_after > ctx->default_contract_after ?
	    p->contract_after : ctx->default_contract_after;
}

/* 1 when p installs a sync trigger before step idx. */
static int
has_sync_trigger(const struct plan *p, size_t idx)
{
	size_t i;

	for (i = 0; i < idx; i++)
		if (p->steps[i].kind == KIND_DUAL_WRITE && p->steps[i].trigger)
			return 1;
	return 0;
}

/* Effective min_releases of a step. */
int
gate_min_releases(const struct plan *p, size_t idx)
{
	const struct step *s = &p->steps[idx];

	if (s->min_releases >= 0)
		return s->min_releases;
	/* A sync trigger keeps the old column written: no wait needed. */
	if (s->kind == KIND_STOP_OLD_WRITES && has_sync_trigger(p, idx))
		return 0;
	/* With a trigger, old code already satisfies a NOT NULL on the new column. */
	if (s->kind == KIND_SET_NOT_NULL && has_sync_trigger(p, idx))
		return 0;
	return step_kind_min_releases(s->kind);
}

/* Starts an empty result. */
void
gate_result_init(struct gate_result *res)
{
	memset(res, 0, sizeof *res);
	buf_init(&res->why);
	buf_init(&res->warn);
}

/* Frees a result. */
void
gate_result_free(struct gate_result *res)
{
	buf_free(&res->why);
	buf_free(&res->warn);
}

/* 1 when step idx of p is its first contract step. */
int
gate_first_contract(const struct plan *p, size_t idx)
{
	return idx < p->nsteps && p->steps[idx].phase == PHASE_CONTRACT &&
	    (idx == 0 || p->steps[idx - 1].phase != PHASE_CONTRACT);
}

/*
 * Rule 9: appends to out why step idx of p lacks evidence of disuse (its
 * plan's evidence shows use, could not be gathered, or is absent) and
 * returns 1; returns 0 when the evidence is clean or the rule does not
 * apply (probe off, not the first contract step).
 */
static int
evidence_says(const struct gate_ctx *ctx, const struct plan *p, size_t idx,
    struct buf *out)
{
	const struct step *s = &p->steps[idx];
	const struct gate_evidence *e = NULL;
	size_t i;

	if (ctx->probe == GATE_PROBE_OFF || !gate_first_contract(p, idx))
		return 0;
	for (i = 0; i < ctx->nevidence; i++)
		if (strcmp(ctx->evidence[i].plan, p->name.s) == 0)
			e = &ctx->evidence[i];
	if (e == NULL && ctx->probe != GATE_PROBE_REQUIRED)
		return 0;	/* advisory, and nothing was looked at */
	if (e == NULL || !e->gathered) {
		buf_printf(out, "%s (contract) needs evidence that nothing still "
		    "uses what it removes (rule 9), and none could be gathered: %s",
		    s->id.s, e != NULL && e->missing != NULL ? e->missing :
		    "no database is configured to read pg_stat_statements from");
		return 1;
	}
	if (e->nuses == 0)
		return 0;
	buf_printf(out, "%s (contract) removes what %zu statement%s or "
	    "object%s still use%s (rule 9):\n%s", s->id.s, e->nuses,
	    e->nuses == 1 ? "" : "s", e->nuses == 1 ? "" : "s",
	    e->nuses == 1 ? "s" : "", e->uses != NULL ? e->uses : "");
	buf_truncate(out, out->len - (out->len > 0 &&
	    out->ptr[out->len - 1] == '\n'));
	return 1;
}

/* Prepares res for gate_rollback. */
void
gate_undo_init(struct gate_undo *res)
{
	memset(res, 0, sizeof *res);
	buf_init(&res->why);
}

/* Frees res's text (NULL-safe). */
void
gate_undo_free(struct gate_undo *res)
{
	if (res != NULL)
		buf_free(&res->why);
}

/* The rollback target (see gate.h). */
int
gate_rollback_target(const struct gate_ctx *ctx, const struct plan *p)
{
	struct gate_progress pr;
	int i, idx = -1;

	gate_progress_load(ctx, p, &pr);
	for (i = (int)p->nsteps - 1; i >= 0 && idx < 0; i--)
		if (pr.ships[i] != NULL)
			idx = i;
	gate_progress_free(&pr);
	return idx;
}

/* Rollback eligibility (see gate.h). */
void
gate_rollback(const struct gate_ctx *ctx, const struct plan *p, size_t idx,
    int runs_sql, struct gate_undo *res)
{
	const struct step *s = &p->steps[idx];
	const struct state_ship *sh;
	struct gate_progress pr;

	assert(idx < p->nsteps);
	buf_reset(&res->why);
	res->allowed = 0;
	res->hint = NULL;
	gate_progress_load(ctx, p, &pr);
	sh = pr.ships[idx];
	gate_progress_free(&pr);
	if (s->phase == PHASE_CONTRACT) {
		res->rule = GATE_UNDO_CONTRACT;
		res->hint = "a contract step";
		buf_printf(&res->why, "%s (contract) ", s->id.s);
		if (sh != NULL)
			buf_printf(&res->why, "shipped in %s (#%lld) and ",
			    rel_name(ctx->hist, sh->release_seq),
			    (long long)sh->release_seq);
		buf_puts(&res->why, "removed data or schema; a contract step cannot "
		    "be rolled back");
		return;
	}
	if (runs_sql && s->down.s == NULL && s->kind != KIND_DUAL_WRITE) {
		res->rule = GATE_UNDO_NO_DOWN;
		res->hint = "it has no 'down'";
		buf_printf(&res->why, "%s (%s) has no 'down' SQL, so excon cannot "
		    "undo it; add a new step instead", s->id.s, step_kind_name(s->kind));
		return;
	}
	res->rule = GATE_UNDO_OK;
	res->allowed = 1;
}

/* Index of the last non-contract step before idx, or -1. */
static int
last_non_contract(const struct plan *p, size_t idx)
{
	int i;

	for (i = (int)idx - 1; i >= 0; i--)
		if (p->steps[i].phase != PHASE_CONTRACT)
			return i;
	return -1;
}

/* Records a refusal unless one was recorded already. */
static void
refuse(struct gate_result *res, enum gate_rule rule, int64_t from_seq)
{
	if (res->rule == GATE_OK) {
		res->rule = rule;
		res->from_seq = from_seq;
	}
}

/* Decides whether step idx may ship in release seq. */
void
gate_step(const struct gate_ctx *ctx, const struct plan *p, size_t idx,
    int64_t seq, int force, struct gate_result *res)
{
	const struct state_history *h = ctx->hist;
	const struct step *s = &p->steps[idx];
	const struct state_release *r = gate_release(h, seq), *newest = gate_newest(h);
	struct gate_progress pr;
	struct buf soft = BUF_INIT;
	enum gate_rule soft_rule = GATE_OK;
	int64_t soft_from = 0;
	size_t i;
	int prev;

	buf_reset(&res->why);
	res->allowed = 0;
	res->rule = GATE_OK;
	res->forced = 0;
	res->forced_evidence = 0;
	res->from_seq = 0;
	gate_progress_load(ctx, p, &pr);

	/* 6. Immutability blocks the whole plan. */
	if (gate_immutable(ctx, p, &res->why) > 0) {
		buf_truncate(&res->why, res->why.len - 1);	/* last newline */
		refuse(res, GATE_IMMUTABLE, 0);
		goto done;
	}
	/* 8. A half-done step must be resumed or rolled back first. */
	if (pr.failed >= 0 && (size_t)pr.failed != idx) {
		buf_printf(&res->why, "%s: step %s failed part way; run 'excon "
		    "advance %s' again to resume it or 'excon rollback %s'",
		    s->id.s, p->steps[pr.failed].id.s, p->name.s, p->name.s);
		refuse(res, GATE_HALF, 0);
		goto done;
	}
	/* 1. Order. */
	if (pr.ships[idx] != NULL && pr.ships[idx]->status == SHIP_DONE) {
		buf_printf(&res->why, "%s already shipped in %s (#%lld)", s->id.s,
		    rel_name(h, pr.ships[idx]->release_seq),
		    (long long)pr.ships[idx]->release_seq);
		refuse(res, GATE_ORDER, 0);
		goto done;
	}
	for (i = 0; i < idx; i++)
		if (pr.ships[i] == NULL || pr.ships[i]->status != SHIP_DONE) {
			buf_printf(&res->why, "%s comes after %s, which has not "
			    "shipped yet", s->id.s, p->steps[i].id.s);
			refuse(res, GATE_ORDER, 0);
			goto done;
		}
	/* 2. Current release and its deploy state. */
	if (r == NULL || newest == NULL) {
		buf_printf(&res->why, "%s: no release recorded yet; run 'excon "
		    "release start NAME' first", s->id.s);
		refuse(res, GATE_RELEASE, 0);
		goto done;
	}
	if (r->seq != newest->seq) {
		buf_printf(&res->why, "%s: a step ships only in the newest release "
		    "(%s, #%lld), not in %s (#%lld)", s->id.s, newest->name,
		    (long long)newest->seq, r->name, (long long)r->seq);
		refuse(res, GATE_RELEASE, newest->seq);
		goto done;
	}
	if (s->stage == STAGE_POST && r->state != RELEASE_DEPLOYED) {
		buf_printf(&res->why, "%s (stage post) runs after every instance "
		    "runs the new code; %s (#%lld) is still deploying: allowed "
		    "once 'excon release finish %s' is recorded", s->id.s, r->name,
		    (long long)r->seq, r->name);
		refuse(res, GATE_RELEASE, r->seq);
		goto done;
	}
	if (s->stage != STAGE_POST && r->state == RELEASE_DEPLOYED) {
		buf_printf(&res->why, "%s (stage %s) must ship before its release's "
		    "code is deployed; %s (#%lld) is already deployed: allowed "
		    "from release #%lld", s->id.s, stage_name(s->stage), r->name,
		    (long long)r->seq, (long long)r->seq + 1);
		refuse(res, GATE_RELEASE, r->seq + 1);
		goto done;
	}

	/*
	 * 3-5 may be overridden with --force; collect them in soft.  The first
	 * contract step answers to both 3 (its own min_releases, measured from
	 * the previous step) and 4 (the window, measured from the last
	 * non-contract step, which is the same step in a plan that lints
	 * clean); the one that opens later is reported.
	 */
	prev = (int)idx - 1;
	if (prev >= 0) {
		/* 3. Minimum gap from the previous step. */
		int need = gate_min_releases(p, idx);
		int64_t at = pr.ships[prev]->release_seq, passed = seq - at;

		if (passed < need) {
			buf_printf(&soft, "%s (%s) needs %d release%s after %s (shipped "
			    "in %s, #%lld); %lld ha%s passed; allowed from release "
			    "#%lld", s->id.s, step_kind_name(s->kind), need,
			    need == 1 ? "" : "s", p->steps[prev].id.s, rel_name(h, at),
			    (long long)at, (long long)passed, passed == 1 ? "s" : "ve",
			    (long long)(at + need));
			soft_rule = GATE_GAP;
			soft_from = at + need;
		}
	}
	if (s->phase == PHASE_CONTRACT && (prev < 0 ||
	    p->steps[prev].phase != PHASE_CONTRACT)) {
		/* 4. Contract window, from the last non-contract step. */
		int nc = last_non_contract(p, idx), need = gate_contract_after(ctx, p);

		if (nc >= 0) {
			int64_t at = pr.ships[nc]->release_seq, passed = seq - at;

			if (passed < need && at + need >= soft_from) {
				buf_reset(&soft);
				buf_printf(&soft, "%s (contract) needs %d release%s after "
				    "%s (shipped in %s, #%lld); %lld ha%s passed (%s, "
				    "#%lld); allowed from release #%lld", s->id.s, need,
				    need == 1 ? "" : "s", p->steps[nc].id.s,
				    rel_name(h, at), (long long)at, (long long)passed,
				    passed == 1 ? "s" : "ve", r->name, (long long)seq,
				    (long long)(at + need));
				soft_rule = GATE_WINDOW;
				soft_from = at + need;
			}
		}
	}
	/* 5. Dependencies. */
	for (i = 0; i < p->ndeps; i++) {
		const struct plan_dep *d = &p->deps[i];
		const struct plan *q = ctx->plans ? plan_set_find(ctx->plans, d->plan) : NULL;
		struct gate_progress qp;
		int ok;

		if (q == NULL) {
			if (soft.len)
				buf_puts(&soft, "; ");
			buf_printf(&soft, "%s: depends on unknown plan %s", s->id.s, d->plan);
			if (soft_rule == GATE_OK)
				soft_rule = GATE_DEPS;
			continue;
		}
		gate_progress_load(ctx, q, &qp);
		if (d->step == NULL)
			ok = qp.next < 0;
		else {
			int di = plan_step_index(q, d->step);

			ok = di >= 0 && qp.ships[di] != NULL &&
			    qp.ships[di]->status == SHIP_DONE;
		}
		gate_progress_free(&qp);
		if (!ok) {
			if (soft.len)
				buf_puts(&soft, "; ");
			buf_printf(&soft, "%s: plan %s depends on %s%s%s, which has "
			    "not shipped yet", s->id.s, p->name.s, d->plan,
			    d->step ? ":" : "", d->step ? d->step : "");
			if (soft_rule == GATE_OK)
				soft_rule = GATE_DEPS;
		}
	}
	/*
	 * 9. Evidence of disuse: refused, it is reported once 3-5 pass (one
	 * reason at a time); forced, every overridden rule is said.
	 */
	buf_reset(&res->warn);
	if ((soft_rule == GATE_OK || force) &&
	    evidence_says(ctx, p, idx, &res->warn) &&
	    ctx->probe == GATE_PROBE_REQUIRED) {
		if (soft.len)
			buf_puts(&soft, "; ");
		buf_puts(&soft, buf_cstr(&res->warn));
		buf_reset(&res->warn);
		if (soft_rule == GATE_OK)
			soft_rule = GATE_EVIDENCE;
		res->forced_evidence = force;
	}
	if (soft_rule != GATE_OK) {
		buf_puts(&res->why, buf_cstr(&soft));
		if (force) {
			res->forced = 1;
			res->allowed = 1;
			res->rule = soft_rule;
			res->from_seq = soft_from;
		} else
			refuse(res, soft_rule, soft_from);
		goto done;
	}
	res->allowed = 1;
done:
	buf_free(&soft);
	gate_progress_free(&pr);
}

/* Rule 6: shipped steps unchanged, present and in place. */
int
gate_immutable(const struct gate_ctx *ctx, const struct plan *p, struct buf *out)
{
	const struct state_history *h = ctx->hist;
	size_t i;
	int n = 0;

	for (i = ships_lower_bound(h, p->name.s);
	    i < h->nships && strcmp(h->ships[i].plan, p->name.s) == 0; i++) {
		const struct state_ship *s = &h->ships[i];
		int idx = ship_step_index(p, s);

		if (idx < 0) {
			buf_printf(out, "%s: step %s %s in %s (#%lld) but is no "
			    "longer in %s\n", p->name.s, s->step,
			    s->status == SHIP_FAILED ? "failed part way" : "shipped",
			    rel_name(h, s->release_seq), (long long)s->release_seq,
			    p->file);
			n++;
		} else if (idx != s->idx) {
			buf_printf(out, "%s: step %s shipped as step %d but is now "
			    "step %d in %s (shipped steps must not move)\n", p->name.s,
			    s->step, s->idx + 1, idx + 1, p->file);
			n++;
		} else if (strcmp(p->steps[idx].checksum, s->checksum) != 0) {
			buf_printf(out, "%s: step %s was edited after it shipped in %s "
			    "(#%lld) (%s:%d); shipped steps must not change: add a new "
			    "step instead\n", p->name.s, s->step,
			    rel_name(h, s->release_seq), (long long)s->release_seq,
			    p->file, p->steps[idx].pos.line);
			n++;
		}
	}
	return n;
}

/* The contract window of a plan. */
void
gate_window(const struct gate_ctx *ctx, const struct plan *p,
    struct gate_window *w)
{
	const struct state_release *newest = gate_newest(ctx->hist);
	struct gate_progress pr;
	size_t i;

	memset(w, 0, sizeof *w);
	w->contract = -1;
	w->last_nc = -1;
	for (i = 0; i < p->nsteps; i++)
		if (p->steps[i].phase == PHASE_CONTRACT) {
			w->contract = (int)i;
			break;
		}
	if (w->contract < 0)
		return;
	w->last_nc = last_non_contract(p, (size_t)w->contract);
	w->required = gate_contract_after(ctx, p);
	/* The contract step's own min_releases, when stricter (as gate_step). */
	if (w->last_nc >= 0 && w->last_nc == w->contract - 1 &&
	    gate_min_releases(p, (size_t)w->contract) > w->required)
		w->required = gate_min_releases(p, (size_t)w->contract);
	gate_progress_load(ctx, p, &pr);
	w->shipped = pr.ships[w->contract] != NULL &&
	    pr.ships[w->contract]->status == SHIP_DONE;
	if (w->last_nc >= 0 && pr.ships[w->last_nc] != NULL &&
	    pr.ships[w->last_nc]->status == SHIP_DONE) {
		w->last_nc_seq = pr.ships[w->last_nc]->release_seq;
		w->passed = newest ? newest->seq - w->last_nc_seq : 0;
		w->from_seq = w->last_nc_seq + w->required;
		w->open = w->passed >= w->required;
	} else if (w->last_nc < 0) {
		w->open = 1;
	}
	gate_progress_free(&pr);
}

/*
 * Release in which the last code-stage, non-contract step of p shipped; a
 * stop_old_writes step counts at any stage (at pre it drops NOT NULL for
 * the code of its release, which stops writing the column).
 */
static int64_t
last_code_seq(const struct gate_ctx *ctx, const struct plan *p, int kind_only)
{
	struct gate_progress pr;
	int64_t seq = 0;
	size_t i;

	gate_progress_load(ctx, p, &pr);
	for (i = 0; i < p->nsteps; i++) {
		const struct step *s = &p->steps[i];

		if (s->phase == PHASE_CONTRACT ||
		    (s->stage != STAGE_CODE && s->kind != KIND_STOP_OLD_WRITES))
			continue;
		if (kind_only >= 0 && (int)s->kind != kind_only)
			continue;
		if (pr.ships[i] != NULL && pr.ships[i]->release_seq > seq)
			seq = pr.ships[i]->release_seq;
	}
	gate_progress_free(&pr);
	return seq;
}

/* Whether step idx, shipped after release seq, breaks that release's code. */
int
gate_breaks(const struct gate_ctx *ctx, const struct plan *p, size_t idx,
    int64_t seq, struct buf *why)
{
	const struct state_history *h = ctx->hist;
	const struct step *s = &p->steps[idx];
	int64_t code;

	if (s->phase == PHASE_CONTRACT) {
		/* The code of seq must already have stopped using the old object. */
		code = last_code_seq(ctx, p, -1);
		if (code == 0) {
			struct gate_window w;

			gate_window(ctx, p, &w);
			code = w.last_nc_seq;
		}
		if (code == 0 || code > seq) {
			buf_printf(why, "%s/%s (%s) removed what the code of %s still "
			    "uses: that code changed only in %s", p->name.s, s->id.s,
			    step_kind_name(s->kind), rel_name(h, seq),
			    code ? rel_name(h, code) : "no release yet");
			return 1;
		}
		return 0;
	}
	if (has_sync_trigger(p, idx))
		return 0;
	if (s->kind == KIND_SET_NOT_NULL || s->kind == KIND_ADD_CONSTRAINT ||
	    s->kind == KIND_VALIDATE_CONSTRAINT) {
		/* Old code must already write the new column. */
		code = last_code_seq(ctx, p, KIND_DUAL_WRITE);
		if (code > seq) {
			buf_printf(why, "%s/%s (%s) constrains a column that the code "
			    "of %s does not write yet (dual write shipped in %s)",
			    p->name.s, s->id.s, step_kind_name(s->kind),
			    rel_name(h, seq), rel_name(h, code));
			return 1;
		}
	}
	if (s->kind == KIND_STOP_OLD_WRITES) {
		code = last_code_seq(ctx, p, KIND_SWITCH_READS);
		if (code == 0 || code > seq) {
			buf_printf(why, "%s/%s stopped writing the old column, which "
			    "the code of %s still reads", p->name.s, s->id.s,
			    rel_name(h, seq));
			return 1;
		}
	}
	return 0;
}
