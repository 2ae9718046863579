/*
 * Tests of the gate rules (SPEC section 5) as pure functions: plans come
 * from tests/plans/gate/ (or inline YAML), histories are built by hand,
 * and every rule is exercised on both sides of its boundary, with the
 * refusal text the user reads.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gate.h"
#include "plan.h"
#include "util/testutil.h"
#include "xalloc.h"

/* A history under construction: fixed arrays are plenty for tests. */
struct hist {
	struct state_release	 rel[32];
	struct state_ship	 ship[64];
	struct state_history	 h;
};

static struct plan_set plans;
static struct hist hb;
static struct gate_ctx ctx;
static char *dir;

/* Loads the gate fixtures and starts an empty history. */
static void
setup(void)
{
	struct plan_diags d = { NULL, 0, 0 };
	char *dirs[2];

	dir = tu_tmpdir();
	dirs[0] = xasprintf("%s/plans/gate", tu_tests_dir());
	dirs[1] = NULL;
	memset(&plans, 0, sizeof plans);
	if (plan_set_load(&plans, dirs, &d) != 0)
		ck_abort_msg("gate fixtures: %s", d.n ? d.v[0].msg : "?");
	free(dirs[0]);
	memset(&hb, 0, sizeof hb);
	hb.h.releases = hb.rel;
	hb.h.ships = hb.ship;
	ctx.plans = &plans;
	ctx.hist = &hb.h;
	ctx.default_contract_after = 2;
	ctx.probe = GATE_PROBE_OFF;
	ctx.evidence = NULL;
	ctx.nevidence = 0;
}

/* Frees the fixtures. */
static void
teardown(void)
{
	plan_set_free(&plans);
	tu_rmrf(dir);
	free(dir);
}

/* The fixture plan called name. */
static const struct plan *
P(const char *name)
{
	const struct plan *p = plan_set_find(&plans, name);

	ck_assert_msg(p != NULL, "no fixture plan %s", name);
	return p;
}

/* Index of step id in p (must exist). */
static size_t
S(const struct plan *p, const char *id)
{
	int i = plan_step_index(p, id);

	ck_assert_msg(i >= 0, "plan %s has no step %s", p->name.s, id);
	return (size_t)i;
}

/* Appends a release called name; returns its seq. */
static int64_t
rel(const char *name, int deployed)
{
	struct state_release *r = &hb.rel[hb.h.nreleases];

	ck_assert_uint_lt(hb.h.nreleases, 32);
	memset(r, 0, sizeof *r);
	r->seq = (int64_t)hb.h.nreleases + 1;
	r->name = (char *)name;
	r->state = deployed ? RELEASE_DEPLOYED : RELEASE_STARTED;
	hb.h.nreleases++;
	return r->seq;
}

/* Marks the newest release deployed. */
static void
deploy(void)
{
	hb.rel[hb.h.nreleases - 1].state = RELEASE_DEPLOYED;
}

/* Adds a ship row, keeping rows ordered by plan, then idx. */
static void
ship_row(const char *plan, const char *step, int idx, int64_t seq,
    const char *checksum, enum ship_status status)
{
	struct state_ship *s;
	size_t at = hb.h.nships;

	ck_assert_uint_lt(hb.h.nships, 64);
	while (at > 0 && (strcmp(hb.ship[at - 1].plan, plan) > 0 ||
	    (strcmp(hb.ship[at - 1].plan, plan) == 0 && hb.ship[at - 1].idx > idx)))
		at--;
	memmove(&hb.ship[at + 1], &hb.ship[at], (hb.h.nships - at) * sizeof *s);
	s = &hb.ship[at];
	memset(s, 0, sizeof *s);
	s->plan = (char *)plan;
	s->step = (char *)step;
	s->idx = idx;
	s->release_seq = seq;
	s->checksum = (char *)checksum;
	s->status = status;
	hb.h.nships++;
}

/* Records step id of p as shipped (unchanged) in release seq. */
static void
ship(const struct plan *p, const char *id, int64_t seq)
{
	size_t i = S(p, id);

	ship_row(p->name.s, p->steps[i].id.s, (int)i, seq, p->steps[i].checksum,
	    SHIP_DONE);
}

/* Ships every step of p before step id in release seq. */
static void
ship_before(const struct plan *p, const char *id, int64_t seq)
{
	size_t i, stop = S(p, id);

	for (i = 0; i < stop; i++)
		ship(p, p->steps[i].id.s, seq);
}

/* Asks the gate about step id of p in release seq. */
static void
decide(const struct plan *p, const char *id, int64_t seq, int force,
    struct gate_result *res)
{
	gate_step(&ctx, p, S(p, id), seq, force, res);
}

/* Asserts a refusal by rule with exactly the message why and from_seq. */
static void
refused(const struct plan *p, const char *id, int64_t seq, enum gate_rule rule,
    int64_t from, const char *why)
{
	struct gate_result res;

	gate_result_init(&res);
	decide(p, id, seq, 0, &res);
	ck_assert_msg(!res.allowed, "%s allowed in #%lld", id, (long long)seq);
	ck_assert_int_eq(res.forced, 0);
	ck_assert_int_eq(res.rule, rule);
	ck_assert_str_eq(buf_cstr(&res.why), why);
	ck_assert_int_eq(res.from_seq, from);
	gate_result_free(&res);
}

/* Asserts that step id of p may ship in release seq without force. */
static void
allowed(const struct plan *p, const char *id, int64_t seq)
{
	struct gate_result res;

	gate_result_init(&res);
	decide(p, id, seq, 0, &res);
	ck_assert_msg(res.allowed, "%s refused in #%lld: %s", id, (long long)seq,
	    buf_cstr(&res.why));
	ck_assert_int_eq(res.rule, GATE_OK);
	ck_assert_int_eq(res.forced, 0);
	gate_result_free(&res);
}

/* Asserts that force does not pass the refusal of step id (rule stays). */
static void
force_refused(const struct plan *p, const char *id, int64_t seq,
    enum gate_rule rule)
{
	struct gate_result res;

	gate_result_init(&res);
	decide(p, id, seq, 1, &res);
	ck_assert_msg(!res.allowed, "--force passed rule %d for %s", (int)rule, id);
	ck_assert_int_eq(res.forced, 0);
	ck_assert_int_eq(res.rule, rule);
	gate_result_free(&res);
}

/* Loads an inline plan (owned). */
static struct plan *
inline_plan(const char *text)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	char *path;

	tu_write(dir, "inline.yaml", text);
	path = xasprintf("%s/inline.yaml", dir);
	if (plan_load(&p, path, &d) != 0)
		ck_abort_msg("inline plan: %s", d.v[0].msg);
	free(path);
	return p;
}

/* The release names of the SPEC example: #7 is v2.2, #8 v2.3, #9 v2.4. */
static const char *const names[] = {
	"v1.6", "v1.7", "v1.8", "v1.9", "v2.0", "v2.1", "v2.2", "v2.3", "v2.4",
	"v2.5", "v2.6", "v2.7"
};

/*
 * 4. Contract window.
 */

START_TEST(test_window_spec_example)
{
	const struct plan *p = P("rename");
	int i;

	/* stop-old-writes in v2.2 (#7); the drop is a post step. */
	for (i = 0; i < 8; i++)
		rel(names[i], 1);
	ship_before(p, "switch-reads", 1);
	ship(p, "switch-reads", 6);
	ship(p, "stop-old-writes", 7);
	refused(p, "drop-name", 8, GATE_WINDOW, 9,
	    "drop-name (contract) needs 2 releases after stop-old-writes "
	    "(shipped in v2.2, #7); 1 has passed (v2.3, #8); allowed from "
	    "release #9");
	rel(names[8], 1);
	allowed(p, "drop-name", 9);
}
END_TEST

START_TEST(test_window_boundaries)
{
	static const struct {
		const char	*plan;
		int		 plan_after;	/* contract_after: in the plan, -1 none */
		int		 def;		/* configured default */
		int		 need;		/* what the gate must require */
	} cases[] = {
		{ "rename", -1, 2, 2 },
		{ "rename", -1, 1, 1 },
		{ "rename", -1, 4, 4 },
		{ "plain", 3, 2, 3 },		/* a plan may raise it */
		{ "plain", 3, 5, 5 },		/* the default wins when higher */
		{ "low", 1, 2, 2 },		/* lowering is ignored (and a lint error) */
		{ "zero", -1, 0, 0 },
	};
	size_t c;

	for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct plan *own = NULL;
		const struct plan *p;
		const char *last, *drop;
		int64_t at = 3, seq;
		char *want;
		int n;

		if (strcmp(cases[c].plan, "low") == 0 || strcmp(cases[c].plan, "zero") == 0)
			p = own = inline_plan(strcmp(cases[c].plan, "low") == 0 ?
			    "plan: low\ncontract_after: 1\nsteps:\n"
			    "  - {id: code, kind: code}\n"
			    "  - {id: drop, kind: drop_table, table: t}\n" :
			    "plan: zero\nsteps:\n"
			    "  - {id: code, kind: code}\n"
			    "  - {id: drop, kind: drop_table, table: t}\n");
		else
			p = P(cases[c].plan);
		ck_assert_int_eq(p->contract_after, cases[c].plan_after);
		ctx.default_contract_after = cases[c].def;
		ck_assert_int_eq(gate_contract_after(&ctx, p), cases[c].need);
		last = p->steps[p->nsteps - (strcmp(p->name.s, "plain") == 0 ? 3 : 2)].id.s;
		drop = p->steps[p->nsteps - (strcmp(p->name.s, "plain") == 0 ? 2 : 1)].id.s;

		memset(&hb, 0, sizeof hb);
		hb.h.releases = hb.rel;
		hb.h.ships = hb.ship;
		for (n = 0; n < 3; n++)
			rel(names[n], 1);
		ship_before(p, last, 1);
		ship(p, last, at);
		/* Every release before the window opens is refused... */
		for (seq = at; seq < at + cases[c].need; seq++) {
			if (seq > at)
				rel(names[seq - 1], 1);
			want = xasprintf("%s (contract) needs %d release%s after %s "
			    "(shipped in %s, #%lld); %lld ha%s passed (%s, #%lld); "
			    "allowed from release #%lld", drop, cases[c].need,
			    cases[c].need == 1 ? "" : "s", last, names[at - 1],
			    (long long)at, (long long)(seq - at),
			    seq - at == 1 ? "s" : "ve", names[seq - 1], (long long)seq,
			    (long long)(at + cases[c].need));
			refused(p, drop, seq, GATE_WINDOW, at + cases[c].need, want);
			free(want);
		}
		/* ...and the release where it opens is allowed. */
		if (seq > at)
			rel(names[seq - 1], 1);
		allowed(p, drop, seq);
		plan_free(own);
	}
}
END_TEST

START_TEST(test_window_min_releases_on_contract)
{
	struct plan *p = inline_plan(
	    "plan: slow\n"
	    "steps:\n"
	    "  - {id: code, kind: code}\n"
	    "  - {id: drop, kind: drop_table, table: t, min_releases: 4}\n");
	struct gate_window w;
	int i;

	/* The step's own min_releases counts too when it is the stricter. */
	for (i = 0; i < 4; i++)
		rel(names[i], 1);
	ship(p, "code", 1);
	refused(p, "drop", 4, GATE_GAP, 5, "drop (drop_table) needs 4 releases "
	    "after code (shipped in v1.6, #1); 3 have passed; allowed from "
	    "release #5");
	/* audit's view agrees. */
	gate_window(&ctx, p, &w);
	ck_assert_int_eq(w.required, 4);
	ck_assert_int_eq(w.from_seq, 5);
	ck_assert_int_eq(w.open, 0);
	rel(names[4], 1);
	allowed(p, "drop", 5);
	gate_window(&ctx, p, &w);
	ck_assert_int_eq(w.open, 1);
	plan_free(p);
}
END_TEST

START_TEST(test_second_contract_step_gap)
{
	const struct plan *p = P("plain");
	int i;

	/* drop-email-index has min_releases: 1 after drop-email. */
	for (i = 0; i < 5; i++)
		rel(names[i], 1);
	ship_before(p, "drop-email", 1);
	ship(p, "drop-email", 5);
	refused(p, "drop-email-index", 5, GATE_GAP, 6, "drop-email-index "
	    "(drop_index) needs 1 release after drop-email (shipped in v2.0, "
	    "#5); 0 have passed; allowed from release #6");
	rel(names[5], 1);
	allowed(p, "drop-email-index", 6);
}
END_TEST

/*
 * 2. Current release and its deploy state.
 */

START_TEST(test_post_step_needs_deployed_release)
{
	const struct plan *p = P("rename");

	rel("v1", 0);
	ship_before(p, "backfill", 1);
	refused(p, "backfill", 1, GATE_RELEASE, 1, "backfill (stage post) runs "
	    "after every instance runs the new code; v1 (#1) is still deploying: "
	    "allowed once 'excon release finish v1' is recorded");
	force_refused(p, "backfill", 1, GATE_RELEASE);
	deploy();
	allowed(p, "backfill", 1);
}
END_TEST

START_TEST(test_pre_and_code_steps_before_deploy)
{
	const struct plan *p = P("rename");

	rel("v1", 0);
	allowed(p, "add-column", 1);
	deploy();
	refused(p, "add-column", 1, GATE_RELEASE, 2, "add-column (stage pre) must "
	    "ship before its release's code is deployed; v1 (#1) is already "
	    "deployed: allowed from release #2");
	force_refused(p, "add-column", 1, GATE_RELEASE);
	ship_before(p, "switch-reads", 1);
	rel("v2", 1);
	refused(p, "switch-reads", 2, GATE_RELEASE, 3, "switch-reads (stage code) "
	    "must ship before its release's code is deployed; v2 (#2) is already "
	    "deployed: allowed from release #3");
	rel("v3", 0);
	allowed(p, "switch-reads", 3);
}
END_TEST

START_TEST(test_newest_release_only)
{
	const struct plan *p = P("rename");

	rel("v1", 0);
	rel("v2", 0);
	refused(p, "add-column", 1, GATE_RELEASE, 2, "add-column: a step ships "
	    "only in the newest release (v2, #2), not in v1 (#1)");
	force_refused(p, "add-column", 1, GATE_RELEASE);
	allowed(p, "add-column", 2);
}
END_TEST

START_TEST(test_no_release_yet)
{
	const struct plan *p = P("rename");

	refused(p, "add-column", 0, GATE_RELEASE, 0, "add-column: no release "
	    "recorded yet; run 'excon release start NAME' first");
	force_refused(p, "add-column", 0, GATE_RELEASE);
	ck_assert_ptr_null(gate_newest(&hb.h));
}
END_TEST

/*
 * 1. Order.
 */

START_TEST(test_order)
{
	const struct plan *p = P("rename");

	rel("v1", 1);
	ship(p, "add-column", 1);
	/* Step 3 before step 2. */
	refused(p, "backfill", 1, GATE_ORDER, 0, "backfill comes after "
	    "dual-write, which has not shipped yet");
	force_refused(p, "backfill", 1, GATE_ORDER);
	/* A step ships once. */
	refused(p, "add-column", 1, GATE_ORDER, 0, "add-column already shipped "
	    "in v1 (#1)");
	force_refused(p, "add-column", 1, GATE_ORDER);
}
END_TEST

/*
 * 3. Minimum gap.
 */

START_TEST(test_gap_switch_reads)
{
	const struct plan *p = P("rename");

	/* switch_reads waits one release after the backfill. */
	rel("v1", 1);
	ship_before(p, "switch-reads", 1);
	rel("v2", 0);
	allowed(p, "switch-reads", 2);
	memset(&hb, 0, sizeof hb);
	hb.h.releases = hb.rel;
	hb.h.ships = hb.ship;
	rel("v1", 0);
	ship_before(p, "backfill", 1);
	deploy();
	ship(p, "backfill", 1);
	hb.rel[0].state = RELEASE_STARTED;	/* pretend: code step in v1 */
	refused(p, "switch-reads", 1, GATE_GAP, 2, "switch-reads (switch_reads) "
	    "needs 1 release after backfill (shipped in v1, #1); 0 have passed; "
	    "allowed from release #2");
	ck_assert_int_eq(gate_min_releases(p, S(p, "switch-reads")), 1);
}
END_TEST

START_TEST(test_gap_stop_old_writes)
{
	const struct plan *plain = P("plain"), *rename = P("rename");
	int i;

	/* Without a sync trigger: one release after switch_reads. */
	for (i = 0; i < 4; i++)
		rel(names[i], 1);
	ship_before(plain, "switch-reads", 1);
	rel(names[4], 0);
	ship(plain, "switch-reads", 5);
	ck_assert_int_eq(gate_min_releases(plain, S(plain, "stop-old-writes")), 1);
	refused(plain, "stop-old-writes", 5, GATE_GAP, 6, "stop-old-writes "
	    "(stop_old_writes) needs 1 release after switch-reads (shipped in "
	    "v2.0, #5); 0 have passed; allowed from release #6");
	rel(names[5], 0);
	allowed(plain, "stop-old-writes", 6);

	/* With a sync trigger the old column stays written: no wait. */
	ck_assert_int_eq(gate_min_releases(rename, S(rename, "stop-old-writes")), 0);
	ship_before(rename, "switch-reads", 1);
	ship(rename, "switch-reads", 6);
	allowed(rename, "stop-old-writes", 6);
}
END_TEST

START_TEST(test_gap_set_not_null)
{
	const struct plan *plain = P("plain");
	struct plan *trig = inline_plan(
	    "plan: trig\n"
	    "steps:\n"
	    "  - {id: add, kind: add_column, table: t, column: b, type: int}\n"
	    "  - {id: sync, kind: dual_write, table: t, from: a, to: b, trigger: true}\n"
	    "  - {id: fill, kind: backfill, table: t, set: b = a}\n"
	    "  - {id: nn, kind: set_not_null, table: t, column: b}\n");

	rel("v1", 1);
	ship_before(plain, "set-not-null", 1);
	ck_assert_int_eq(gate_min_releases(plain, S(plain, "set-not-null")), 1);
	refused(plain, "set-not-null", 1, GATE_GAP, 2, "set-not-null "
	    "(set_not_null) needs 1 release after backfill (shipped in v1, #1); "
	    "0 have passed; allowed from release #2");
	ship_before(trig, "nn", 1);
	ck_assert_int_eq(gate_min_releases(trig, S(trig, "nn")), 0);
	allowed(trig, "nn", 1);
	/* An explicit min_releases wins over the kind's default. */
	plan_free(trig);
	trig = inline_plan(
	    "plan: trig\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n"
	    "  - {id: b, kind: code, min_releases: 2}\n"
	    "  - {id: c, kind: switch_reads, min_releases: 0}\n");
	ck_assert_int_eq(gate_min_releases(trig, 1), 2);
	ck_assert_int_eq(gate_min_releases(trig, 2), 0);
	plan_free(trig);
}
END_TEST

/*
 * 5. Dependencies.
 */

START_TEST(test_dependency_whole_plan)
{
	const struct plan *rename = P("rename"), *orders = P("orders");
	int i;

	for (i = 0; i < 5; i++)
		rel(names[i], 0);
	/* Five of six steps of rename shipped is not rename shipped. */
	ship_before(rename, "drop-name", 1);
	refused(orders, "add-column", 5, GATE_DEPS, 0, "add-column: plan orders "
	    "depends on rename, which has not shipped yet");
	ship(rename, "drop-name", 4);
	allowed(orders, "add-column", 5);
}
END_TEST

START_TEST(test_dependency_on_step)
{
	const struct plan *rename = P("rename"), *invoices = P("invoices");

	rel("v1", 0);
	ship(rename, "add-column", 1);
	ship(rename, "dual-write", 1);
	refused(invoices, "add-column", 1, GATE_DEPS, 0, "add-column: plan "
	    "invoices depends on rename:backfill, which has not shipped yet");
	ship(rename, "backfill", 1);
	allowed(invoices, "add-column", 1);
}
END_TEST

/*
 * 6. Immutability.
 */

START_TEST(test_edited_shipped_step)
{
	const struct plan *p = P("rename");
	struct gate_result res;
	struct buf out = BUF_INIT;
	char *want;

	rel("v1", 0);
	ship_row("rename", "add-column", 0, 1,
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    SHIP_DONE);
	want = xasprintf("rename: step add-column was edited after it shipped in "
	    "v1 (#1) (%s:5); shipped steps must not change: add a new step "
	    "instead", p->file);
	refused(p, "dual-write", 1, GATE_IMMUTABLE, 0, want);
	force_refused(p, "dual-write", 1, GATE_IMMUTABLE);
	ck_assert_int_eq(gate_immutable(&ctx, p, &out), 1);
	/* One line per problem, for check to print. */
	ck_assert_int_eq(out.ptr[out.len - 1], '\n');
	buf_truncate(&out, out.len - 1);
	ck_assert_str_eq(buf_cstr(&out), want);
	buf_reset(&out);
	free(want);
	buf_free(&out);

	/* The same step unchanged passes. */
	hb.ship[0].checksum = p->steps[0].checksum;
	ck_assert_int_eq(gate_immutable(&ctx, p, &out), 0);
	ck_assert_str_eq(buf_cstr(&out), "");
	gate_result_init(&res);
	decide(p, "dual-write", 1, 0, &res);
	ck_assert(res.allowed);
	gate_result_free(&res);
}
END_TEST

START_TEST(test_removed_and_moved_steps)
{
	const struct plan *p = P("rename");
	struct buf out = BUF_INIT;
	char *want;

	rel("v1", 0);
	ship(p, "add-column", 1);
	ship_row("rename", "old-step", 1, 1, "x", SHIP_DONE);
	want = xasprintf("rename: step old-step shipped in v1 (#1) but is no "
	    "longer in %s\n", p->file);
	ck_assert_int_eq(gate_immutable(&ctx, p, &out), 1);
	ck_assert_str_eq(buf_cstr(&out), want);
	want[strlen(want) - 1] = '\0';
	refused(p, "dual-write", 1, GATE_IMMUTABLE, 0, want);
	free(want);

	/* dual-write shipped as step 3, but the file has it as step 2. */
	memset(&hb, 0, sizeof hb);
	hb.h.releases = hb.rel;
	hb.h.ships = hb.ship;
	buf_reset(&out);
	rel("v1", 0);
	ship(p, "add-column", 1);
	ship_row("rename", "dual-write", 2, 1, p->steps[1].checksum, SHIP_DONE);
	want = xasprintf("rename: step dual-write shipped as step 3 but is now "
	    "step 2 in %s (shipped steps must not move)\n", p->file);
	ck_assert_int_eq(gate_immutable(&ctx, p, &out), 1);
	ck_assert_str_eq(buf_cstr(&out), want);
	free(want);
	force_refused(p, "backfill", 1, GATE_IMMUTABLE);
	buf_free(&out);
}
END_TEST

START_TEST(test_immutable_reports_every_problem)
{
	const struct plan *p = P("rename");
	struct buf out = BUF_INIT;

	rel("v1", 0);
	ship_row("rename", "add-column", 0, 1, "edited", SHIP_DONE);
	ship_row("rename", "gone", 1, 1, "x", SHIP_DONE);
	ship_row("rename", "backfill", 5, 1, p->steps[2].checksum, SHIP_DONE);
	ck_assert_int_eq(gate_immutable(&ctx, p, &out), 3);
	ck_assert(tu_has(buf_cstr(&out), "step add-column was edited"));
	ck_assert(tu_has(buf_cstr(&out), "step gone shipped in v1 (#1) but is no longer"));
	ck_assert(tu_has(buf_cstr(&out), "step backfill shipped as step 6 but is now step 3"));
	/* Other plans' rows are not this plan's business. */
	buf_reset(&out);
	ck_assert_int_eq(gate_immutable(&ctx, P("orders"), &out), 0);
	buf_free(&out);
}
END_TEST

/*
 * 8. No half states.
 */

START_TEST(test_failed_step_blocks_plan)
{
	const struct plan *p = P("rename");
	struct gate_progress pr;

	rel("v1", 0);
	ship(p, "add-column", 1);
	ship_row("rename", "dual-write", 1, 1, p->steps[1].checksum, SHIP_FAILED);
	gate_progress_load(&ctx, p, &pr);
	ck_assert_int_eq(pr.failed, 1);
	ck_assert_int_eq(pr.next, 1);
	gate_progress_free(&pr);
	refused(p, "backfill", 1, GATE_HALF, 0, "backfill: step dual-write failed "
	    "part way; run 'excon advance rename' again to resume it or 'excon "
	    "rollback rename'");
	force_refused(p, "backfill", 1, GATE_HALF);
	/* The failed step itself may be resumed. */
	allowed(p, "dual-write", 1);
	/* A failed step does not count for the plans depending on it. */
	refused(P("orders"), "add-column", 1, GATE_DEPS, 0, "add-column: plan "
	    "orders depends on rename, which has not shipped yet");
}
END_TEST

/*
 * --force passes rules 3-5 only.
 */

START_TEST(test_force_passes_soft_rules)
{
	const struct plan *rename = P("rename"), *plain = P("plain");
	struct gate_result res;
	int i;

	/* 4: window. */
	for (i = 0; i < 8; i++)
		rel(names[i], 1);
	ship_before(rename, "stop-old-writes", 1);
	ship(rename, "stop-old-writes", 7);
	gate_result_init(&res);
	decide(rename, "drop-name", 8, 1, &res);
	ck_assert_int_eq(res.allowed, 1);
	ck_assert_int_eq(res.forced, 1);
	ck_assert_int_eq(res.rule, GATE_WINDOW);
	ck_assert_int_eq(res.from_seq, 9);
	ck_assert_str_eq(buf_cstr(&res.why), "drop-name (contract) needs 2 "
	    "releases after stop-old-writes (shipped in v2.2, #7); 1 has passed "
	    "(v2.3, #8); allowed from release #9");
	/* Not forced when nothing refuses. */
	rel(names[8], 1);
	decide(rename, "drop-name", 9, 1, &res);
	ck_assert_int_eq(res.allowed, 1);
	ck_assert_int_eq(res.forced, 0);
	ck_assert_int_eq(res.rule, GATE_OK);
	ck_assert_str_eq(buf_cstr(&res.why), "");

	/* 3: gap. */
	ship_before(plain, "stop-old-writes", 9);
	hb.rel[8].state = RELEASE_STARTED;
	decide(plain, "stop-old-writes", 9, 1, &res);
	ck_assert_int_eq(res.allowed, 1);
	ck_assert_int_eq(res.forced, 1);
	ck_assert_int_eq(res.rule, GATE_GAP);
	ck_assert(tu_has(buf_cstr(&res.why), "needs 1 release after switch-reads"));

	/* 5: dependencies (rename is not complete: drop-name never shipped). */
	decide(P("orders"), "add-column", 9, 1, &res);
	ck_assert_int_eq(res.allowed, 1);
	ck_assert_int_eq(res.forced, 1);
	ck_assert_int_eq(res.rule, GATE_DEPS);
	gate_result_free(&res);
}
END_TEST

START_TEST(test_force_never_passes_hard_rules)
{
	const struct plan *p = P("rename");

	/* 2: release. */
	rel("v1", 1);
	force_refused(p, "add-column", 1, GATE_RELEASE);
	/* 1: order. */
	rel("v2", 0);
	force_refused(p, "dual-write", 2, GATE_ORDER);
	/* 6: immutability. */
	ship_row("rename", "add-column", 0, 2, "edited", SHIP_DONE);
	force_refused(p, "dual-write", 2, GATE_IMMUTABLE);
	/* 8: half state. */
	hb.ship[0].checksum = p->steps[0].checksum;
	ship_row("rename", "dual-write", 1, 2, p->steps[1].checksum, SHIP_FAILED);
	force_refused(p, "backfill", 2, GATE_HALF);
}
END_TEST

/*
 * Rule precedence: the first refusing rule is the one reported.
 */

START_TEST(test_rule_precedence)
{
	const struct plan *p = P("rename");

	/* Edited and out of order and deployed: immutability comes first. */
	rel("v1", 1);
	ship_row("rename", "add-column", 0, 1, "edited", SHIP_DONE);
	force_refused(p, "backfill", 1, GATE_IMMUTABLE);
	/* Out of order and a code step in a deployed release: order first. */
	hb.ship[0].checksum = p->steps[0].checksum;
	force_refused(p, "switch-reads", 1, GATE_ORDER);
}
END_TEST

/*
 * The contract window as audit sees it.
 */

START_TEST(test_gate_window)
{
	const struct plan *p = P("rename");
	struct gate_window w;
	int i;

	gate_window(&ctx, p, &w);
	ck_assert_int_eq(w.contract, 5);
	ck_assert_int_eq(w.last_nc, 4);
	ck_assert_int_eq(w.required, 2);
	ck_assert_int_eq(w.last_nc_seq, 0);
	ck_assert_int_eq(w.open, 0);
	ck_assert_int_eq(w.shipped, 0);

	for (i = 0; i < 8; i++)
		rel(names[i], 1);
	ship_before(p, "stop-old-writes", 1);
	ship(p, "stop-old-writes", 7);
	gate_window(&ctx, p, &w);
	ck_assert_int_eq(w.last_nc_seq, 7);
	ck_assert_int_eq(w.passed, 1);
	ck_assert_int_eq(w.from_seq, 9);
	ck_assert_int_eq(w.open, 0);
	rel(names[8], 1);
	gate_window(&ctx, p, &w);
	ck_assert_int_eq(w.passed, 2);
	ck_assert_int_eq(w.open, 1);
	ship(p, "drop-name", 9);
	gate_window(&ctx, p, &w);
	ck_assert_int_eq(w.shipped, 1);

	/* A plan without a contract step has no window. */
	gate_window(&ctx, P("orders"), &w);
	ck_assert_int_eq(w.contract, -1);
	/* The plan's own contract_after counts. */
	gate_window(&ctx, P("plain"), &w);
	ck_assert_int_eq(w.required, 3);
	ck_assert_int_eq(w.contract, 6);
}
END_TEST

/*
 * compat: which shipped steps break an older release's code.
 */

START_TEST(test_gate_breaks)
{
	const struct plan *rename = P("rename"), *plain = P("plain");
	struct buf why = BUF_INIT;

	rel("v1", 1);
	rel("v2", 1);
	rel("v3", 1);
	rel("v4", 1);
	ship_before(rename, "switch-reads", 1);
	ship(rename, "switch-reads", 2);
	ship(rename, "stop-old-writes", 2);
	ship(rename, "drop-name", 4);
	/* v1's code still reads name: the drop breaks it. */
	ck_assert_int_eq(gate_breaks(&ctx, rename, 5, 1, &why), 1);
	ck_assert_str_eq(buf_cstr(&why), "rename/drop-name (drop_column) removed "
	    "what the code of v1 still uses: that code changed only in v2");
	/* v2 and later stopped using it. */
	buf_reset(&why);
	ck_assert_int_eq(gate_breaks(&ctx, rename, 5, 2, &why), 0);
	ck_assert_int_eq(gate_breaks(&ctx, rename, 5, 3, &why), 0);
	/* Expand steps and trigger-backed steps never break old code. */
	ck_assert_int_eq(gate_breaks(&ctx, rename, 0, 0, &why), 0);
	ck_assert_int_eq(gate_breaks(&ctx, rename, 4, 1, &why), 0);
	ck_assert_str_eq(buf_cstr(&why), "");

	/* Without a trigger, stopping old writes breaks code that reads them. */
	ship_before(plain, "switch-reads", 1);
	ship(plain, "switch-reads", 3);
	ship(plain, "stop-old-writes", 4);
	ck_assert_int_eq(gate_breaks(&ctx, plain, 5, 2, &why), 1);
	ck_assert_str_eq(buf_cstr(&why), "plain/stop-old-writes stopped writing "
	    "the old column, which the code of v2 still reads");
	buf_reset(&why);
	ck_assert_int_eq(gate_breaks(&ctx, plain, 5, 3, &why), 0);
	buf_free(&why);
}
END_TEST

START_TEST(test_gate_breaks_constraint)
{
	const struct plan *plain = P("plain");
	struct buf why = BUF_INIT;

	rel("v1", 1);
	rel("v2", 1);
	rel("v3", 1);
	/* The application starts writing email_address in v2 (no trigger). */
	ship(plain, "add-column", 1);
	ship(plain, "dual-write", 2);
	ship(plain, "backfill", 2);
	ship(plain, "set-not-null", 3);
	ck_assert_int_eq(gate_breaks(&ctx, plain, 3, 1, &why), 1);
	ck_assert_str_eq(buf_cstr(&why), "plain/set-not-null (set_not_null) "
	    "constrains a column that the code of v1 does not write yet (dual "
	    "write shipped in v2)");
	buf_reset(&why);
	ck_assert_int_eq(gate_breaks(&ctx, plain, 3, 2, &why), 0);
	buf_free(&why);
}
END_TEST

/*
 * Helpers over the history.
 */

START_TEST(test_release_lookup)
{
	rel("v1", 1);
	rel("v2", 0);
	rel("v3", 0);
	ck_assert_str_eq(gate_release(&hb.h, 2)->name, "v2");
	ck_assert_ptr_null(gate_release(&hb.h, 4));
	ck_assert_ptr_null(gate_release(&hb.h, 0));
	ck_assert_int_eq(gate_release_named(&hb.h, "v3")->seq, 3);
	ck_assert_ptr_null(gate_release_named(&hb.h, "v9"));
	ck_assert_str_eq(gate_newest(&hb.h)->name, "v3");
}
END_TEST

START_TEST(test_progress)
{
	const struct plan *p = P("rename");
	struct gate_progress pr;

	rel("v1", 0);
	gate_progress_load(&ctx, p, &pr);
	ck_assert_int_eq(pr.next, 0);
	ck_assert_int_eq(pr.failed, -1);
	ck_assert_ptr_null(pr.stray);
	gate_progress_free(&pr);
	ship_before(p, "drop-name", 1);
	ship(p, "drop-name", 1);
	ship_row("rename", "zzz", 9, 1, "x", SHIP_DONE);
	ship(P("orders"), "add-column", 1);
	gate_progress_load(&ctx, p, &pr);
	ck_assert_int_eq(pr.next, -1);
	ck_assert_ptr_nonnull(pr.stray);
	ck_assert_str_eq(pr.stray->step, "zzz");
	ck_assert_int_eq(pr.ships[5]->release_seq, 1);
	gate_progress_free(&pr);
	gate_progress_load(&ctx, P("orders"), &pr);
	ck_assert_int_eq(pr.next, 1);
	gate_progress_free(&pr);
}
END_TEST

/*
 * 9. Evidence of disuse.
 */

/* The rename fixture walked to its open contract window in release 9. */
static const struct plan *
rename_window_open(void)
{
	const struct plan *p = P("rename");
	int i;

	for (i = 0; i < 9; i++)
		rel(names[i], 1);
	ship_before(p, "stop-old-writes", 1);
	ship(p, "stop-old-writes", 7);
	return p;
}

START_TEST(test_evidence_required_refuses_use)
{
	const struct plan *p = rename_window_open();
	struct gate_evidence e = { "rename", 1, NULL, 1,
	    "  12 calls on the database: SELECT u.name FROM users u WHERE u.id = $1\n" };
	struct gate_result res;

	ctx.probe = GATE_PROBE_REQUIRED;
	ctx.evidence = &e;
	ctx.nevidence = 1;
	refused(p, "drop-name", 9, GATE_EVIDENCE, 0,
	    "drop-name (contract) removes what 1 statement or object still "
	    "uses (rule 9):\n  12 calls on the database: SELECT u.name FROM "
	    "users u WHERE u.id = $1");
	/* --force passes it, reported as the overridden rule. */
	gate_result_init(&res);
	decide(p, "drop-name", 9, 1, &res);
	ck_assert(res.allowed);
	ck_assert(res.forced);
	ck_assert_int_eq(res.rule, GATE_EVIDENCE);
	gate_result_free(&res);
	/* No use seen: allowed. */
	e.nuses = 0;
	e.uses = "";
	allowed(p, "drop-name", 9);
}
END_TEST

START_TEST(test_evidence_required_refuses_without_evidence)
{
	const struct plan *p = rename_window_open();
	struct gate_evidence e = { "rename", 0,
	    "pg_stat_statements is not installed: run CREATE EXTENSION "
	    "pg_stat_statements", 0, NULL };

	ctx.probe = GATE_PROBE_REQUIRED;
	refused(p, "drop-name", 9, GATE_EVIDENCE, 0,
	    "drop-name (contract) needs evidence that nothing still uses what "
	    "it removes (rule 9), and none could be gathered: no database is "
	    "configured to read pg_stat_statements from");
	ctx.evidence = &e;
	ctx.nevidence = 1;
	refused(p, "drop-name", 9, GATE_EVIDENCE, 0,
	    "drop-name (contract) needs evidence that nothing still uses what "
	    "it removes (rule 9), and none could be gathered: pg_stat_statements "
	    "is not installed: run CREATE EXTENSION pg_stat_statements");
}
END_TEST

START_TEST(test_evidence_advisory_warns)
{
	const struct plan *p = rename_window_open();
	struct gate_evidence e = { "rename", 1, NULL, 2,
	    "  3 calls on the database: SELECT * FROM users\n"
	    "  view public.users_v depends on it\n" };
	struct gate_result res;

	ctx.probe = GATE_PROBE_ADVISORY;
	ctx.evidence = &e;
	ctx.nevidence = 1;
	gate_result_init(&res);
	decide(p, "drop-name", 9, 0, &res);
	ck_assert(res.allowed);
	ck_assert_int_eq(res.forced, 0);
	ck_assert_str_eq(buf_cstr(&res.warn),
	    "drop-name (contract) removes what 2 statements or objects still "
	    "use (rule 9):\n  3 calls on the database: SELECT * FROM users\n"
	    "  view public.users_v depends on it");
	/* Off: neither refused nor warned. */
	ctx.probe = GATE_PROBE_OFF;
	decide(p, "drop-name", 9, 0, &res);
	ck_assert(res.allowed);
	ck_assert_str_eq(buf_cstr(&res.warn), "");
	/* Evidence of another plan does not apply; advisory without any is quiet. */
	ctx.probe = GATE_PROBE_ADVISORY;
	e.plan = "orders";
	decide(p, "drop-name", 9, 0, &res);
	ck_assert(res.allowed);
	ck_assert_str_eq(buf_cstr(&res.warn), "");
	gate_result_free(&res);
}
END_TEST

START_TEST(test_evidence_forced_with_the_window)
{
	const struct plan *p = P("rename");
	struct gate_evidence e = { "rename", 1, NULL, 1,
	    "  1 call on the database: SELECT * FROM users\n" };
	struct gate_result res;
	int i;

	for (i = 0; i < 8; i++)
		rel(names[i], 1);
	ship_before(p, "stop-old-writes", 1);
	ship(p, "stop-old-writes", 7);
	ctx.probe = GATE_PROBE_REQUIRED;
	ctx.evidence = &e;
	ctx.nevidence = 1;
	/* Refused, the window is reported first. */
	refused(p, "drop-name", 8, GATE_WINDOW, 9,
	    "drop-name (contract) needs 2 releases after stop-old-writes "
	    "(shipped in v2.2, #7); 1 has passed (v2.3, #8); allowed from "
	    "release #9");
	/* Forced, the override names both rules it passes. */
	gate_result_init(&res);
	decide(p, "drop-name", 8, 1, &res);
	ck_assert(res.allowed && res.forced && res.forced_evidence);
	ck_assert_int_eq(res.rule, GATE_WINDOW);
	ck_assert_str_eq(buf_cstr(&res.why),
	    "drop-name (contract) needs 2 releases after stop-old-writes "
	    "(shipped in v2.2, #7); 1 has passed (v2.3, #8); allowed from "
	    "release #9; drop-name (contract) removes what 1 statement or "
	    "object still uses (rule 9):\n  1 call on the database: SELECT * "
	    "FROM users");
	gate_result_free(&res);
}
END_TEST

/*
 * Rollback: the newest step with a ship row, never a contract step, and a
 * step that ran SQL only with `down` or as a dual_write.
 */

/* Asks gate_rollback about step id of p; returns the rule, fills why and hint. */
static enum gate_undo_rule
undo(const struct plan *p, const char *id, int runs_sql, struct buf *why,
    const char **hint)
{
	struct gate_undo res;
	enum gate_undo_rule rule;

	gate_undo_init(&res);
	gate_rollback(&ctx, p, S(p, id), runs_sql, &res);
	rule = res.rule;
	ck_assert_int_eq(res.allowed, rule == GATE_UNDO_OK);
	buf_reset(why);
	buf_puts(why, buf_cstr(&res.why));
	*hint = res.hint;
	gate_undo_free(&res);
	return rule;
}

START_TEST(test_rollback)
{
	const struct plan *p = P("rename");
	struct plan *down;
	struct buf why = BUF_INIT;
	const char *hint;

	ck_assert_int_eq(gate_rollback_target(&ctx, p), -1);
	rel("v1", 1);
	ship(p, "add-column", 1);
	ck_assert_int_eq(gate_rollback_target(&ctx, p), 0);
	/* add_column ran SQL and has no down. */
	ck_assert_int_eq(undo(p, "add-column", 1, &why, &hint), GATE_UNDO_NO_DOWN);
	ck_assert_str_eq(buf_cstr(&why), "add-column (add_column) has no 'down' SQL, "
	    "so excon cannot undo it; add a new step instead");
	ck_assert_str_eq(hint, "it has no 'down'");
	/* A dual_write's trigger is dropped by excon; a step without SQL needs nothing. */
	ck_assert_int_eq(undo(p, "dual-write", 1, &why, &hint), GATE_UNDO_OK);
	ck_assert_str_eq(buf_cstr(&why), "");
	ck_assert_ptr_null(hint);
	ck_assert_int_eq(undo(p, "switch-reads", 0, &why, &hint), GATE_UNDO_OK);
	/* A step that failed part way is the target too. */
	ship(p, "dual-write", 1);
	ship_row("rename", "backfill", 2, 1, p->steps[2].checksum, SHIP_FAILED);
	ck_assert_int_eq(gate_rollback_target(&ctx, p), 2);
	/* A contract step never, shipped or not. */
	ck_assert_int_eq(undo(p, "drop-name", 1, &why, &hint), GATE_UNDO_CONTRACT);
	ck_assert_str_eq(buf_cstr(&why), "drop-name (contract) removed data or "
	    "schema; a contract step cannot be rolled back");
	ck_assert_str_eq(hint, "a contract step");
	rel("v2", 1);
	rel("v3", 1);
	ship(p, "backfill", 1);
	ship(p, "switch-reads", 2);
	ship(p, "stop-old-writes", 2);
	ship(p, "drop-name", 3);
	ck_assert_int_eq(gate_rollback_target(&ctx, p), 5);
	ck_assert_int_eq(undo(p, "drop-name", 1, &why, &hint), GATE_UNDO_CONTRACT);
	ck_assert_str_eq(buf_cstr(&why), "drop-name (contract) shipped in v3 (#3) "
	    "and removed data or schema; a contract step cannot be rolled back");
	/* With down, a SQL step may be undone. */
	down = inline_plan("plan: downs\nsteps:\n  - id: add\n    kind: add_column\n"
	    "    table: t\n    column: c\n    type: text\n"
	    "    down: ALTER TABLE t DROP COLUMN c\n");
	ck_assert_int_eq(undo(down, "add", 1, &why, &hint), GATE_UNDO_OK);
	plan_free(down);
	buf_free(&why);
}
END_TEST

/* Adds test as its own TCase (one behaviour each) to s. */
static void
add(Suite *s, const char *name, const TTest *test)
{
	tu_add(s, name, test, setup, teardown, 30);
}

/* The gate suite. */
static Suite *
gate_suite(void)
{
	Suite *s = suite_create("gate");

	add(s, "window spec example", test_window_spec_example);
	add(s, "window boundaries", test_window_boundaries);
	add(s, "window min_releases", test_window_min_releases_on_contract);
	add(s, "second contract gap", test_second_contract_step_gap);
	add(s, "post needs deployed", test_post_step_needs_deployed_release);
	add(s, "pre and code before deploy", test_pre_and_code_steps_before_deploy);
	add(s, "newest release only", test_newest_release_only);
	add(s, "no release", test_no_release_yet);
	add(s, "order", test_order);
	add(s, "gap switch_reads", test_gap_switch_reads);
	add(s, "gap stop_old_writes", test_gap_stop_old_writes);
	add(s, "gap set_not_null", test_gap_set_not_null);
	add(s, "dependency plan", test_dependency_whole_plan);
	add(s, "dependency step", test_dependency_on_step);
	add(s, "edited step", test_edited_shipped_step);
	add(s, "removed and moved", test_removed_and_moved_steps);
	add(s, "immutable all", test_immutable_reports_every_problem);
	add(s, "failed step", test_failed_step_blocks_plan);
	add(s, "force soft", test_force_passes_soft_rules);
	add(s, "force hard", test_force_never_passes_hard_rules);
	add(s, "precedence", test_rule_precedence);
	add(s, "window", test_gate_window);
	add(s, "breaks", test_gate_breaks);
	add(s, "breaks constraint", test_gate_breaks_constraint);
	add(s, "release lookup", test_release_lookup);
	add(s, "progress", test_progress);
	add(s, "evidence required use", test_evidence_required_refuses_use);
	add(s, "evidence required missing",
	    test_evidence_required_refuses_without_evidence);
	add(s, "evidence advisory", test_evidence_advisory_warns);
	add(s, "evidence forced with window", test_evidence_forced_with_the_window);
	add(s, "rollback", test_rollback);
	return s;
}

int
main(void)
{
	return tu_run_suite(gate_suite());
}
