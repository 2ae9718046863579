/*
 * Tests of plan loading and plan-level lint: every kind loads, every
 * validation error names file:line:col and what was expected, the step
 * checksum ignores formatting but not meaning, the plan-level rules of
 * SPEC section 3.2, and plan directories.  Fixtures live in tests/plans/;
 * tests about exact positions write their YAML inline so that the line
 * and column asserted can be read next to the text.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "plan.h"
#include "util/testutil.h"
#include "xalloc.h"

static char *dir;

/* A fresh directory for each test. */
static void
setup(void)
{
	dir = tu_tmpdir();
}

/* Removes the test directory. */
static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

/* Path of a fixture under tests/plans/ (owned). */
static char *
fixture(const char *name)
{
	return xasprintf("%s/plans/%s", tu_tests_dir(), name);
}

/* Writes text as dir/name and loads it; returns plan_load's result. */
static int
load_text(const char *name, const char *text, struct plan **p,
    struct plan_diags *d)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc;

	tu_write(dir, name, text);
	rc = plan_load(p, path, d);
	free(path);
	return rc;
}

/* Loads a fixture that must load without diagnostics. */
static struct plan *
load_fixture(const char *name)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	char *path = fixture(name);

	if (plan_load(&p, path, &d) != 0)
		ck_abort_msg("%s: %s", path, d.n ? d.v[0].msg : "?");
	ck_assert_uint_eq(d.n, 0);
	free(path);
	return p;
}

/* Loads inline text that must load cleanly; returns the plan (owned). */
static struct plan *
load_ok(const char *text)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;

	if (load_text("p.yaml", text, &p, &d) != 0)
		ck_abort_msg("load failed: %d:%d: %s", d.v[0].pos.line,
		    d.v[0].pos.col, d.v[0].msg);
	plan_diags_free(&d);
	return p;
}

/*
 * Loads inline text that must fail with exactly one diagnostic at
 * line:col with message msg, in file dir/p.yaml.
 */
static void
load_fails(const char *text, int line, int col, const char *msg)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	char *path = xasprintf("%s/p.yaml", dir);
	size_t i;

	ck_assert_int_eq(load_text("p.yaml", text, &p, &d), -1);
	ck_assert_ptr_null(p);
	if (d.n != 1) {
		for (i = 0; i < d.n; i++)
			fprintf(stderr, "diag %zu: %d:%d: %s\n", i, d.v[i].pos.line,
			    d.v[i].pos.col, d.v[i].msg);
		ck_abort_msg("%zu diagnostics, expected one: %s", d.n, msg);
	}
	ck_assert_str_eq(d.v[0].file, path);
	ck_assert_str_eq(d.v[0].msg, msg);
	ck_assert_int_eq(d.v[0].pos.line, line);
	ck_assert_int_eq(d.v[0].pos.col, col);
	plan_diags_free(&d);
	free(path);
}

/* Asserts that diags hold one entry at line:col whose message is msg. */
static void
has_diag(const struct plan_diags *d, int line, int col, const char *msg)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->v[i].pos.line == line && d->v[i].pos.col == col &&
		    strcmp(d->v[i].msg, msg) == 0)
			return;
	for (i = 0; i < d->n; i++)
		fprintf(stderr, "  have %s:%d:%d: %s\n", d->v[i].file,
		    d->v[i].pos.line, d->v[i].pos.col, d->v[i].msg);
	ck_abort_msg("no diagnostic %d:%d: %s", line, col, msg);
}

/* Lints fixture name against set; returns the diagnostics in d. */
static void
lint_fixture(const char *name, const struct plan_set *set, struct plan_diags *d)
{
	struct plan *p = load_fixture(name);

	plan_lint(p, set, 2, d);
	plan_free(p);
}

/* Copies the checksum of step idx of a plan written as text into sum. */
static void
checksum(const char *text, size_t idx, char sum[65])
{
	struct plan *p = load_ok(text);

	ck_assert_uint_gt(p->nsteps, idx);
	ck_assert_uint_eq(strlen(p->steps[idx].checksum), 64);
	memcpy(sum, p->steps[idx].checksum, 65);
	plan_free(p);
}

/* 1 when the first steps of plans a and b have the same checksum. */
static int
same_checksum(const char *a, const char *b)
{
	char sa[65], sb[65];

	checksum(a, 0, sa);
	checksum(b, 0, sb);
	return strcmp(sa, sb) == 0;
}

/*
 * Every kind.
 */

START_TEST(test_every_kind_loads)
{
	static const struct {
		const char	*id;
		enum step_kind	 kind;
		enum phase	 phase;
		enum stage	 stage;
		int		 db;
	} want[] = {
		{ "add-column", KIND_ADD_COLUMN, PHASE_EXPAND, STAGE_PRE, 1 },
		{ "create-table", KIND_CREATE_TABLE, PHASE_EXPAND, STAGE_PRE, 1 },
		{ "create-index", KIND_CREATE_INDEX, PHASE_EXPAND, STAGE_PRE, 1 },
		{ "add-constraint", KIND_ADD_CONSTRAINT, PHASE_EXPAND, STAGE_PRE, 1 },
		{ "dual-write", KIND_DUAL_WRITE, PHASE_EXPAND, STAGE_PRE, 0 },
		{ "backfill", KIND_BACKFILL, PHASE_EXPAND, STAGE_POST, 1 },
		{ "validate-constraint", KIND_VALIDATE_CONSTRAINT, PHASE_MIGRATE, STAGE_POST, 1 },
		{ "set-not-null", KIND_SET_NOT_NULL, PHASE_MIGRATE, STAGE_POST, 1 },
		{ "switch-reads", KIND_SWITCH_READS, PHASE_MIGRATE, STAGE_CODE, 0 },
		{ "stop-old-writes", KIND_STOP_OLD_WRITES, PHASE_MIGRATE, STAGE_PRE, 0 },
		{ "sql", KIND_SQL, PHASE_MIGRATE, STAGE_POST, 1 },
		{ "code", KIND_CODE, PHASE_MIGRATE, STAGE_CODE, 0 },
		{ "drop-column", KIND_DROP_COLUMN, PHASE_CONTRACT, STAGE_POST, 1 },
		{ "drop-table", KIND_DROP_TABLE, PHASE_CONTRACT, STAGE_POST, 1 },
		{ "drop-index", KIND_DROP_INDEX, PHASE_CONTRACT, STAGE_POST, 1 },
		{ "drop-constraint", KIND_DROP_CONSTRAINT, PHASE_CONTRACT, STAGE_POST, 1 },
		{ "drop-trigger", KIND_DROP_TRIGGER, PHASE_CONTRACT, STAGE_POST, 1 },
	};
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = load_fixture("kinds.yaml");
	const struct step *s;
	size_t i;
	int seen[KIND__COUNT] = { 0 };

	ck_assert_str_eq(p->name.s, "every-kind");
	ck_assert_str_eq(p->description.s, "One step of every kind");
	ck_assert_str_eq(p->owner.s, "platform-team");
	ck_assert_str_eq(p->deadline.s, "2027-03-01");
	ck_assert_int_eq(p->contract_after, 3);
	ck_assert_uint_eq(p->nsteps, sizeof want / sizeof want[0]);
	for (i = 0; i < p->nsteps; i++) {
		s = &p->steps[i];
		ck_assert_str_eq(s->id.s, want[i].id);
		ck_assert_int_eq(s->kind, want[i].kind);
		ck_assert_str_eq(step_kind_name(s->kind), step_kind_name(want[i].kind));
		ck_assert_int_eq(s->phase, want[i].phase);
		ck_assert_int_eq(s->stage, want[i].stage);
		ck_assert_int_eq(step_kind_is_db(s->kind), want[i].db);
		ck_assert_uint_eq(strlen(s->checksum), 64);
		seen[s->kind] = 1;
	}
	for (i = 0; i < KIND__COUNT; i++)
		ck_assert_msg(seen[i], "kind %s has no fixture step",
		    step_kind_name((enum step_kind)i));

	/* The fields of each kind land where the executor will look. */
	s = &p->steps[0];
	ck_assert_str_eq(step_schema(s), "app");
	ck_assert_str_eq(s->table.s, "users");
	ck_assert_str_eq(s->column.s, "full_name");
	ck_assert_str_eq(s->type.s, "text");
	ck_assert_str_eq(s->default_.s, "''");
	s = &p->steps[1];
	ck_assert_str_eq(step_schema(s), "public");
	ck_assert_uint_eq(s->ntcols, 2);
	ck_assert_str_eq(s->tcols[0].name, "id");
	ck_assert_int_eq(s->tcols[0].primary_key, 1);
	ck_assert_str_eq(s->tcols[1].type, "text");
	ck_assert_int_eq(s->tcols[1].not_null, 1);
	ck_assert_str_eq(s->tcols[1].default_, "''");
	s = &p->steps[2];
	ck_assert_str_eq(s->name.s, "users_full_name_idx");
	ck_assert_str_eq(s->columns[0], "full_name");
	ck_assert_ptr_null(s->columns[1]);
	ck_assert_int_eq(s->unique, 1);
	ck_assert_str_eq(s->using_.s, "btree");
	ck_assert_str_eq(s->where.s, "full_name IS NOT NULL");
	s = &p->steps[3];
	ck_assert_str_eq(s->fk_columns[0], "user_id");
	ck_assert_str_eq(s->references.s, "users");
	ck_assert_str_eq(s->ref_columns[0], "id");
	s = &p->steps[4];
	ck_assert_int_eq(s->trigger, 1);
	ck_assert_str_eq(s->from.s, "name");
	ck_assert_str_eq(s->to.s, "full_name");
	ck_assert_str_eq(s->up.s, "NEW.name");
	ck_assert_str_eq(s->down.s, "NEW.full_name");
	s = &p->steps[5];
	ck_assert_str_eq(s->set.s, "full_name = name");
	ck_assert_int_eq(s->batch_size, 500);
	ck_assert_int_eq(s->target_batch_ms, 100);
	ck_assert_int_eq(s->pause_ms, 10);
	ck_assert_str_eq(s->verify.s,
	    "SELECT count(*) = 0 FROM users WHERE full_name IS NULL\n");
	s = &p->steps[7];
	ck_assert_str_eq(s->lock_timeout.s, "5s");
	ck_assert_str_eq(s->statement_timeout.s, "1min");
	ck_assert_int_eq(s->lock_retries, 3);
	ck_assert_int_eq(s->transaction, 1);
	ck_assert_int_eq(step_min_releases(s), 1);
	s = &p->steps[8];
	ck_assert_str_eq(s->note.s, "reads full_name");
	ck_assert_int_eq(s->min_releases, -1);
	ck_assert_int_eq(step_min_releases(s), 1);
	s = &p->steps[9];
	ck_assert_int_eq(s->drop_not_null, 1);
	s = &p->steps[10];
	ck_assert_int_eq(s->transaction, 0);
	ck_assert_int_eq(s->stage_set, 1);
	ck_assert_str_eq(s->up.s, "UPDATE settings SET v = 1 WHERE k = 'x'");

	/* And the plan is clean under the plan-level rules. */
	ck_assert_int_eq(plan_lint(p, NULL, 2, &d), 0);
	plan_free(p);
}
END_TEST

START_TEST(test_sample_plan_loads_clean)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	char *path = xasprintf("%s/../plans/users-full-name.yaml", tu_tests_dir());

	ck_assert_int_eq(plan_load(&p, path, &d), 0);
	ck_assert_str_eq(p->name.s, "users-full-name");
	ck_assert_uint_eq(p->nsteps, 6);
	ck_assert_str_eq(p->steps[5].id.s, "drop-name");
	ck_assert_int_eq(p->steps[5].phase, PHASE_CONTRACT);
	/* dual_write with trigger: true runs before the code deploy. */
	ck_assert_int_eq(p->steps[1].stage, STAGE_PRE);
	ck_assert_int_eq(plan_lint(p, NULL, 2, &d), 0);
	plan_free(p);
	free(path);
}
END_TEST

START_TEST(test_stage_defaults_and_overrides)
{
	struct plan *p = load_ok(
	    "plan: stages\n"
	    "steps:\n"
	    "  - {id: a, kind: dual_write, table: t, from: x, to: y}\n"
	    "  - {id: b, kind: dual_write, table: t, from: x, to: y, trigger: true}\n"
	    "  - {id: c, kind: dual_write, table: t, from: x, to: y, trigger: yes, stage: code}\n"
	    "  - {id: d, kind: backfill, table: t, set: y = x, stage: pre}\n"
	    "  - {id: e, kind: code}\n"
	    "  - {id: f, kind: code, phase: expand, stage: post}\n");

	ck_assert_int_eq(p->steps[0].stage, STAGE_CODE);
	ck_assert_int_eq(p->steps[1].stage, STAGE_PRE);
	ck_assert_int_eq(p->steps[2].stage, STAGE_CODE);
	ck_assert_int_eq(p->steps[2].trigger, 1);
	ck_assert_int_eq(p->steps[3].stage, STAGE_PRE);
	ck_assert_int_eq(p->steps[4].phase, PHASE_MIGRATE);
	ck_assert_int_eq(p->steps[4].stage, STAGE_CODE);
	ck_assert_int_eq(p->steps[5].phase, PHASE_EXPAND);
	ck_assert_int_eq(p->steps[5].stage, STAGE_POST);
	plan_free(p);
}
END_TEST

/*
 * Validation errors: file, line, column, and what was expected.
 */

START_TEST(test_malformed_yaml_position)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	struct run r;
	char *path = xasprintf("%s/plans/broken.yaml", dir);
	const char *text =
	    "plan: broken\n"
	    "steps:\n"
	    "  - id: add\n"
	    "    kind: add_column\n"
	    "    table: users: accounts\n"
	    "    column: full_name\n"
	    "    type: text\n";

	tu_write(dir, "plans/broken.yaml", text);
	ck_assert_int_eq(plan_load(&p, path, &d), -1);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.v[0].file, path);
	/* The second ':' on line 5, column 17. */
	ck_assert_int_eq(d.v[0].pos.line, 5);
	ck_assert_int_eq(d.v[0].pos.col, 17);
	ck_assert_str_eq(d.v[0].msg, "mapping values are not allowed in this "
	    "context");

	/* What the user sees: one compiler-style line, exit 4 for lint. */
	ck_assert_int_eq(tu_excon_str(&r, dir, "lint"), 4);
	ck_assert_str_eq(r.out, "plans/broken.yaml:5:17: error[E-PLAN-SCHEMA]: "
	    "mapping values are not allowed in this context\n1 error, 0 warnings\n");
	tu_run_free(&r);
	/* Any other command refuses to work on a broken plan, with exit 2. */
	ck_assert_int_eq(tu_excon_str(&r, dir, "status"), 2);
	ck_assert_str_eq(r.err, "plans/broken.yaml:5:17: mapping values are not "
	    "allowed in this context\n");
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	plan_diags_free(&d);
	free(path);
}
END_TEST

START_TEST(test_malformed_yaml_unterminated)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;

	ck_assert_int_eq(load_text("p.yaml",
	    "plan: broken\n"
	    "steps:\n"
	    "  - id: add\n"
	    "    kind: add_column\n"
	    "    table: users\n"
	    "    column: \"full_name\n"
	    "    type: text\n", &p, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	/* Found at the end of the file; the message says where it began. */
	ck_assert_int_eq(d.v[0].pos.line, 8);
	ck_assert_int_eq(d.v[0].pos.col, 1);
	ck_assert_str_eq(d.v[0].msg, "found unexpected end of stream while "
	    "scanning a quoted scalar started at line 6, column 13");
	plan_diags_free(&d);
}
END_TEST

START_TEST(test_malformed_yaml_flow_context)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;

	ck_assert_int_eq(load_text("p.yaml",
	    "plan: broken\n"
	    "steps:\n"
	    "  - id: add\n"
	    "    kind: add_column\n"
	    "    columns: [a, b\n"
	    "    type: text\n", &p, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	/* Found on line 6; where the unclosed list started is what to fix. */
	ck_assert_int_eq(d.v[0].pos.line, 6);
	ck_assert_int_eq(d.v[0].pos.col, 9);
	ck_assert_str_eq(d.v[0].msg, "did not find expected ',' or ']' while "
	    "parsing a flow sequence started at line 5, column 14");
	plan_diags_free(&d);
}
END_TEST

START_TEST(test_unknown_field_suggests)
{
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: backfill\n"
	    "    kind: backfill\n"
	    "    table: users\n"
	    "    set: full_name = name\n"
	    "    batchsize: 500\n",
	    7, 5, "step \"backfill\": unknown field \"batchsize\" (did you "
	    "mean \"batch_size\"?)");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - {id: add, kind: add_column, table: users, column: c, type: text,"
	    " tabel: x}\n",
	    3, 70, "step \"add\": unknown field \"tabel\" (did you mean "
	    "\"table\"?)");
	/* Nothing close: no suggestion. */
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: add\n"
	    "    kind: code\n"
	    "    frobnicate: 1\n",
	    5, 5, "step \"add\": unknown field \"frobnicate\"");
	load_fails(
	    "plan: users\n"
	    "descripton: Rename\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n",
	    2, 1, "unknown plan field \"descripton\" (did you mean "
	    "\"description\"?)");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: add\n"
	    "    kind: add_colum\n",
	    4, 11, "step \"add\": unknown kind \"add_colum\" (did you mean "
	    "\"add_column\"?)");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: t\n"
	    "    kind: create_table\n"
	    "    table: t\n"
	    "    primary_key: [id]\n"
	    "    columns:\n"
	    "      - name: id\n"
	    "        type: bigint\n"
	    "        primry_key: true\n",
	    10, 9, "step \"t\": unknown column field \"primry_key\" (did you "
	    "mean \"primary_key\"?)");
}
END_TEST

START_TEST(test_field_not_for_kind)
{
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: add\n"
	    "    kind: add_column\n"
	    "    table: users\n"
	    "    column: full_name\n"
	    "    type: text\n"
	    "    trigger: true\n",
	    8, 5, "step \"add\": field \"trigger\" does not apply to kind "
	    "\"add_column\"");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: run\n"
	    "    kind: backfill\n"
	    "    table: users\n"
	    "    set: a = b\n"
	    "    phase: expand\n",
	    7, 5, "step \"run\": field \"phase\" does not apply to kind "
	    "\"backfill\"");
}
END_TEST

START_TEST(test_missing_required_field)
{
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: add\n"
	    "    kind: add_column\n"
	    "    table: users\n"
	    "    column: full_name\n",
	    3, 5, "step \"add\": kind \"add_column\" needs \"type\"");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: x\n"
	    "    kind: sql\n"
	    "    phase: migrate\n"
	    "    stage: post\n",
	    3, 5, "step \"x\": kind \"sql\" needs \"up\"");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - kind: code\n",
	    3, 5, "step 1: missing \"id\"");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n"
	    "  - id: b\n"
	    "    note: what kind?\n",
	    4, 5, "step \"b\": missing \"kind\"");
	load_fails(
	    "steps:\n"
	    "  - {id: a, kind: code}\n",
	    1, 1, "missing \"plan\" (the plan's name)");
	load_fails(
	    "plan: users\n"
	    "steps: []\n",
	    2, 8, "\"steps\" must be a non-empty list of steps");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: c\n"
	    "    kind: add_constraint\n"
	    "    table: t\n"
	    "    name: t_fk\n"
	    "    foreign_key: [u]\n",
	    3, 5, "step \"c\": kind \"add_constraint\" needs \"references\"");
}
END_TEST

START_TEST(test_wrong_type)
{
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: b\n"
	    "    kind: backfill\n"
	    "    table: users\n"
	    "    set: a = b\n"
	    "    batch_size: lots\n",
	    7, 17, "step \"b\": \"batch_size\" must be a whole number, not \"lots\"");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: d\n"
	    "    kind: dual_write\n"
	    "    table: users\n"
	    "    from: a\n"
	    "    to: b\n"
	    "    trigger: maybe\n",
	    8, 14, "step \"d\": \"trigger\" must be true or false, not \"maybe\"");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: d\n"
	    "    kind: drop_table\n"
	    "    table: [a, b]\n",
	    5, 12, "step \"d\": \"table\" must be a single value, got a list");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: d\n"
	    "    kind: switch_reads\n"
	    "    min_releases: -1\n",
	    5, 19, "step \"d\": \"min_releases\" must be a whole number, not \"-1\"");
	load_fails(
	    "plan: users\n"
	    "contract_after: soon\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n",
	    2, 17, "contract_after must be a whole number, not \"soon\"");
	load_fails(
	    "plan: users\n"
	    "deadline: next march\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n",
	    2, 11, "deadline must be a date like 2027-03-01, not \"next march\"");
	load_fails(
	    "plan: Users Rename\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n",
	    1, 7, "plan name \"Users Rename\" must match [a-z0-9][a-z0-9_-]*");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - {id: Add Column, kind: code}\n",
	    3, 10, "step \"Add Column\": id must match [a-z0-9][a-z0-9_-]*");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: x\n"
	    "    kind: sql\n"
	    "    phase: shrink\n"
	    "    stage: post\n"
	    "    up: SELECT 1\n",
	    5, 12, "step \"x\": phase must be expand, migrate or contract, not "
	    "\"shrink\"");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - {id: a, kind: code, stage: later}\n",
	    3, 32, "step \"a\": stage must be pre, code or post, not \"later\"");
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - just a string\n",
	    3, 5, "step 1: expected a mapping with id and kind");
	load_fails(
	    "- plan: users\n",
	    1, 1, "a plan must be a mapping with \"plan\" and \"steps\"");
	load_fails(
	    "plan: [users]\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n",
	    1, 7, "\"plan\" must be a single value, got a list");
}
END_TEST

START_TEST(test_duplicate_key)
{
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - id: add\n"
	    "    kind: add_column\n"
	    "    table: users\n"
	    "    column: a\n"
	    "    type: text\n"
	    "    table: accounts\n",
	    8, 5, "duplicate key \"table\" (first at line 5)");
}
END_TEST

START_TEST(test_one_document_per_file)
{
	load_fails(
	    "plan: users\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n"
	    "---\n"
	    "plan: other\n"
	    "steps:\n"
	    "  - {id: b, kind: code}\n",
	    4, 1, "only one YAML document is allowed in a file; a second one "
	    "starts here");
}
END_TEST

START_TEST(test_empty_file)
{
	load_fails("", 1, 1, "a plan must be a mapping with \"plan\" and \"steps\"");
	load_fails("# only a comment\n", 1, 1,
	    "a plan must be a mapping with \"plan\" and \"steps\"");
}
END_TEST

START_TEST(test_null_means_not_given)
{
	const char *head =
	    "plan: nulls\n"				/* 1 */
	    "description: ~\n"				/* 2 */
	    "owner:\n"					/* 3 */
	    "depends_on: null\n"			/* 4 */
	    "deadline: ~\n"				/* 5 */
	    "steps:\n"					/* 6 */
	    "  - id: a\n"				/* 7 */
	    "    kind: sql\n"				/* 8 */
	    "    phase: migrate\n"			/* 9 */
	    "    stage: post\n"				/* 10 */
	    "    up: SELECT 1\n"			/* 11 */
	    "    down: ~\n"				/* 12 */
	    "    verify: null\n"			/* 13 */
	    "    lock_retries:\n"			/* 14 */
	    "    note: \"~\"\n";				/* 15 */
	struct plan *p;
	char *text;

	/* A required field left null is missing, not the string "~". */
	text = xasprintf("%s"
	    "  - id: b\n"				/* 16 */
	    "    kind: add_column\n"
	    "    table: ~\n"
	    "    column: c\n"
	    "    type: text\n", head);
	load_fails(text, 16, 5, "step \"b\": kind \"add_column\" needs \"table\"");
	free(text);
	p = load_ok(head);
	ck_assert_ptr_null(p->description.s);
	ck_assert_ptr_null(p->owner.s);
	ck_assert_ptr_null(p->deadline.s);
	ck_assert_uint_eq(p->ndeps, 0);
	ck_assert_ptr_null(p->steps[0].down.s);
	ck_assert_ptr_null(p->steps[0].verify.s);
	ck_assert_int_eq(p->steps[0].lock_retries, -1);
	/* Quoted, it is a string. */
	ck_assert_str_eq(p->steps[0].note.s, "~");
	plan_free(p);
	load_fails("plan: ~\nsteps: [{id: a, kind: code}]\n", 1, 1,
	    "missing \"plan\" (the plan's name)");
}
END_TEST

START_TEST(test_deadline_dates)
{
	static const struct {
		const char	*date;
		int		 ok;
	} cases[] = {
		{ "2027-03-01", 1 }, { "2028-02-29", 1 }, { "2000-02-29", 1 },
		{ "2027-12-31", 1 }, { "2027-02-29", 0 }, { "1900-02-29", 0 },
		{ "2027-02-30", 0 }, { "2027-04-31", 0 }, { "2027-13-01", 0 },
		{ "2027-00-10", 0 }, { "2027-3-01x", 0 }, { "2027/03/01", 0 },
		{ "27-03-2027", 0 }, { "2027-03-1 ", 0 }, { "1969-12-31", 0 },
	};
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = xasprintf("plan: p\ndeadline: \"%s\"\nsteps: [{id: a, "
		    "kind: code}]\n", cases[i].date);

		ck_assert_msg(load_text("p.yaml", text, &p, &d) == (cases[i].ok ? 0 : -1),
		    "deadline %s", cases[i].date);
		if (!cases[i].ok)
			ck_assert(tu_has(d.v[0].msg, "deadline must be a date like "
			    "2027-03-01"));
		plan_free(p);
		plan_diags_free(&d);
		free(text);
	}
}
END_TEST

START_TEST(test_boolean_spellings)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes",
	    "YES", "on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No",
	    "NO", "off", "Off", "OFF" };
	size_t i;

	for (i = 0; i < 9; i++) {
		char *t = xasprintf("plan: p\nsteps: [{id: d, kind: dual_write, "
		    "table: t, from: a, to: b, trigger: %s}]\n", yes[i]);
		char *f = xasprintf("plan: p\nsteps: [{id: d, kind: dual_write, "
		    "table: t, from: a, to: b, trigger: %s}]\n", no[i]);
		struct plan *p = load_ok(t), *q = load_ok(f);

		ck_assert_int_eq(p->steps[0].trigger, 1);
		ck_assert_int_eq(q->steps[0].trigger, 0);
		plan_free(p);
		plan_free(q);
		free(t);
		free(f);
	}
	load_fails("plan: p\nsteps: [{id: d, kind: dual_write, table: t, from: a, "
	    "to: b, trigger: 1}]\n", 2, 70, "step \"d\": \"trigger\" must be "
	    "true or false, not \"1\"");
}
END_TEST

START_TEST(test_durations)
{
	static const struct {
		const char	*v;
		int		 ok;
	} cases[] = {
		{ "0", 1 }, { "2s", 1 }, { "500ms", 1 }, { "1min", 1 }, { "1.5min", 1 },
		{ "30 s", 1 }, { "2h", 1 }, { "1d", 1 }, { "100us", 1 },
		{ "2 seconds", 0 }, { "2S", 0 }, { "s", 0 }, { "", 0 }, { "-1s", 0 },
		{ "1.s", 0 }, { "2s ", 0 }, { "1e3ms", 0 }, { "1234567890s", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(plan_duration_valid(cases[i].v) == cases[i].ok,
		    "'%s'", cases[i].v);
	load_fails(
	    "plan: p\n"
	    "steps:\n"
	    "  - id: a\n"
	    "    kind: drop_table\n"
	    "    table: t\n"
	    "    lock_timeout: 2 seconds\n",
	    6, 19, "step \"a\": \"lock_timeout\" must be a duration like 2s, "
	    "500ms or 1min, not \"2 seconds\"");
}
END_TEST

START_TEST(test_alias_bomb)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;

	/* 10^9 values once the aliases are expanded: refused, quickly. */
	ck_assert_int_eq(load_text("p.yaml",
	    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
	    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n", &p, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.v[0].msg, "more than 100000 values (aliases expanding "
	    "into each other?)");
	plan_diags_free(&d);
	/* Plain aliases still work. */
	p = load_ok(
	    "plan: p\n"
	    "steps:\n"
	    "  - {id: a, kind: add_column, table: &t users, column: c, type: int}\n"
	    "  - {id: b, kind: backfill, table: *t, set: c = 1}\n");
	ck_assert_str_eq(p->steps[1].table.s, "users");
	plan_free(p);
}
END_TEST

START_TEST(test_every_problem_reported)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;

	/* One run shows every problem, not just the first. */
	ck_assert_int_eq(load_text("p.yaml",
	    "plan: users\n"
	    "steps:\n"
	    "  - id: a\n"
	    "    kind: add_column\n"
	    "    tabel: users\n"
	    "    column: c\n"
	    "    type: text\n"
	    "  - id: b\n"
	    "    kind: backfill\n"
	    "    table: users\n"
	    "    set: c = 1\n"
	    "    batch_size: x\n", &p, &d), -1);
	has_diag(&d, 5, 5, "step \"a\": unknown field \"tabel\" (did you mean "
	    "\"table\"?)");
	has_diag(&d, 3, 5, "step \"a\": kind \"add_column\" needs \"table\"");
	has_diag(&d, 12, 17, "step \"b\": \"batch_size\" must be a whole "
	    "number, not \"x\"");
	ck_assert_uint_eq(d.n, 3);
	plan_diags_free(&d);
}
END_TEST

START_TEST(test_unreadable_file)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	char *path = xasprintf("%s/absent.yaml", dir);

	ck_assert_int_eq(plan_load(&p, path, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.v[0].file, path);
	ck_assert_int_eq(d.v[0].pos.line, 0);
	ck_assert_msg(tu_has(d.v[0].msg, "No such file"), "%s", d.v[0].msg);
	plan_diags_free(&d);
	free(path);
}
END_TEST

/*
 * Positions of values: plain, quoted and block scalars.
 */

START_TEST(test_block_scalar_positions)
{
	struct plan *p = load_ok(
	    "plan: users\n"				/* 1 */
	    "steps:\n"					/* 2 */
	    "  - id: a\n"				/* 3 */
	    "    kind: sql\n"				/* 4 */
	    "    phase: migrate\n"			/* 5 */
	    "    stage: post\n"				/* 6 */
	    "    up: |\n"				/* 7 */
	    "      UPDATE t\n"				/* 8 */
	    "        SET x = 1;\n"			/* 9 */
	    "    down: >-   # folded, stripped\n"	/* 10 */
	    "       UPDATE t SET x = 0\n"		/* 11 */
	    "    verify: |\n"				/* 12 */
	    "\n"					/* 13 */
	    "\n"					/* 14 */
	    "        SELECT true\n"			/* 15 */
	    "    note: \"quoted\"\n"			/* 16 */
	    "  - id: b\n"				/* 17 */
	    "    kind: code\n"				/* 18 */
	    "    note: plain text\n"			/* 19 */
	    "  - id: c\n"				/* 20 */
	    "    kind: code\n"				/* 21 */
	    "    note: |2\n"				/* 22 */
	    "        indented\n");			/* 23 */
	const struct step *s = &p->steps[0];

	ck_assert_str_eq(s->up.s, "UPDATE t\n  SET x = 1;\n");
	ck_assert_int_eq(s->up.pos.block, 1);
	ck_assert_int_eq(s->up.pos.line, 8);
	ck_assert_int_eq(s->up.pos.col, 7);
	ck_assert_str_eq(s->down.s, "UPDATE t SET x = 0");
	ck_assert_int_eq(s->down.pos.block, 1);
	ck_assert_int_eq(s->down.pos.line, 11);
	ck_assert_int_eq(s->down.pos.col, 8);
	/*
	 * Leading blank lines are part of the value: line 0 of the value is
	 * line 13, so that "SELECT" (value line 2) maps to 15:9.
	 */
	ck_assert_str_eq(s->verify.s, "\n\nSELECT true\n");
	ck_assert_int_eq(s->verify.pos.line, 13);
	ck_assert_int_eq(s->verify.pos.col, 9);
	ck_assert_int_eq(s->note.pos.block, 0);
	ck_assert_int_eq(s->note.pos.line, 16);
	ck_assert_int_eq(s->note.pos.col, 11);
	ck_assert_int_eq(s->id.pos.line, 3);
	ck_assert_int_eq(s->id.pos.col, 9);
	ck_assert_int_eq(s->pos.line, 3);
	ck_assert_int_eq(s->pos.col, 5);
	s = &p->steps[1];
	ck_assert_int_eq(s->note.pos.block, 0);
	ck_assert_int_eq(s->note.pos.line, 19);
	ck_assert_int_eq(s->note.pos.col, 11);
	/* With an indentation indicator the content starts at its indent. */
	s = &p->steps[2];
	ck_assert_str_eq(s->note.s, "  indented\n");
	ck_assert_int_eq(s->note.pos.line, 23);
	ck_assert_int_eq(s->note.pos.col, 7);
	plan_free(p);
}
END_TEST

START_TEST(test_block_scalar_crlf)
{
	struct plan *p = load_ok(
	    "plan: users\r\n"
	    "steps:\r\n"
	    "  - id: a\r\n"
	    "    kind: sql\r\n"
	    "    phase: migrate\r\n"
	    "    stage: post\r\n"
	    "    up: |\r\n"
	    "      UPDATE t SET x = 1\r\n");

	ck_assert_str_eq(p->steps[0].up.s, "UPDATE t SET x = 1\n");
	ck_assert_int_eq(p->steps[0].up.pos.line, 8);
	ck_assert_int_eq(p->steps[0].up.pos.col, 7);
	plan_free(p);
}
END_TEST

/*
 * Checksums: formatting does not change them, meaning does.
 */

#define BASE \
	"plan: users\n" \
	"steps:\n" \
	"  - id: backfill\n" \
	"    kind: backfill\n" \
	"    table: users\n" \
	"    set: full_name = name\n" \
	"    batch_size: 500\n" \
	"    verify: |\n" \
	"      SELECT count(*) = 0\n" \
	"        FROM users WHERE full_name IS NULL\n" \
	"    note: copies name\n"

START_TEST(test_checksum_key_order)
{
	ck_assert(same_checksum(BASE,
	    "steps:\n"
	    "  - note: copies name\n"
	    "    verify: |\n"
	    "      SELECT count(*) = 0\n"
	    "        FROM users WHERE full_name IS NULL\n"
	    "    batch_size: 500\n"
	    "    set: full_name = name\n"
	    "    table: users\n"
	    "    kind: backfill\n"
	    "    id: backfill\n"
	    "plan: users\n"));
}
END_TEST

START_TEST(test_checksum_quoting)
{
	ck_assert(same_checksum(BASE,
	    "plan: \"users\"\n"
	    "steps:\n"
	    "  - id: 'backfill'\n"
	    "    \"kind\": \"backfill\"\n"
	    "    table: 'users'\n"
	    "    set: \"full_name = name\"\n"
	    "    batch_size: \"500\"\n"
	    "    verify: \"SELECT count(*) = 0\\n  FROM users WHERE full_name IS NULL\\n\"\n"
	    "    note: copies name\n"));
}
END_TEST

START_TEST(test_checksum_flow_mapping)
{
	ck_assert(same_checksum(BASE,
	    "plan: users\n"
	    "steps: [{id: backfill, kind: backfill, table: users,\n"
	    "         set: full_name = name, batch_size: 500,\n"
	    "         verify: \"SELECT count(*) = 0\\n  FROM users WHERE full_name IS NULL\",\n"
	    "         note: copies name}]\n"));
}
END_TEST

START_TEST(test_checksum_block_trailing_newline)
{
	/* |- strips the final newline, |+ keeps trailing blank lines. */
	ck_assert(same_checksum(BASE,
	    "plan: users\n"
	    "steps:\n"
	    "  - id: backfill\n"
	    "    kind: backfill\n"
	    "    table: users\n"
	    "    set: full_name = name\n"
	    "    batch_size: 500\n"
	    "    verify: |-\n"
	    "      SELECT count(*) = 0\n"
	    "        FROM users WHERE full_name IS NULL\n"
	    "    note: copies name\n"));
	ck_assert(same_checksum(BASE,
	    "plan: users\n"
	    "steps:\n"
	    "  - id: backfill\n"
	    "    kind: backfill\n"
	    "    table: users\n"
	    "    set: full_name = name\n"
	    "    batch_size: 500\n"
	    "    note: copies name\n"
	    "    verify: |+\n"
	    "      SELECT count(*) = 0\n"
	    "        FROM users WHERE full_name IS NULL\n"
	    "\n"
	    "\n"));
}
END_TEST

START_TEST(test_checksum_comments)
{
	ck_assert(same_checksum(BASE,
	    "# Rename users.name\n"
	    "plan: users   # the plan\n"
	    "steps:\n"
	    "  # the only step\n"
	    "  - id: backfill     # copies\n"
	    "    kind: backfill\n"
	    "\n"
	    "    table: users\n"
	    "    set: full_name = name # the expression\n"
	    "    batch_size: 500\n"
	    "    verify: |   # a comment after the indicator\n"
	    "      SELECT count(*) = 0\n"
	    "        FROM users WHERE full_name IS NULL\n"
	    "    note: copies name\n"
	    "# the end\n"));
}
END_TEST

START_TEST(test_checksum_note_edit)
{
	ck_assert(same_checksum(BASE,
	    "plan: users\n"
	    "description: now with a description\n"
	    "owner: someone-else\n"
	    "steps:\n"
	    "  - id: backfill\n"
	    "    kind: backfill\n"
	    "    table: users\n"
	    "    set: full_name = name\n"
	    "    batch_size: 500\n"
	    "    verify: |\n"
	    "      SELECT count(*) = 0\n"
	    "        FROM users WHERE full_name IS NULL\n"
	    "    note: |\n"
	    "      copies name into full_name, a much longer note\n"));
	/* No note at all is the same step too. */
	ck_assert(same_checksum(BASE,
	    "plan: users\n"
	    "steps:\n"
	    "  - id: backfill\n"
	    "    kind: backfill\n"
	    "    table: users\n"
	    "    set: full_name = name\n"
	    "    batch_size: 500\n"
	    "    verify: |\n"
	    "      SELECT count(*) = 0\n"
	    "        FROM users WHERE full_name IS NULL\n"));
}
END_TEST

START_TEST(test_checksum_scalar_spelling)
{
	/* The same boolean or number written another way is the same value. */
	ck_assert(same_checksum(
	    "plan: p\n"
	    "steps:\n"
	    "  - {id: d, kind: dual_write, table: t, from: a, to: b, "
	    "trigger: true, min_releases: 1}\n",
	    "plan: p\n"
	    "steps:\n"
	    "  - {id: d, kind: dual_write, table: t, from: a, to: b, "
	    "trigger: yes, min_releases: \"01\"}\n"));
}
END_TEST

START_TEST(test_checksum_value_change)
{
	static const char *const variants[] = {
		/* each differs from BASE in one value */
		"plan: users\nsteps:\n  - id: backfill\n    kind: backfill\n"
		"    table: accounts\n    set: full_name = name\n    batch_size: 500\n"
		"    verify: |\n      SELECT count(*) = 0\n"
		"        FROM users WHERE full_name IS NULL\n",
		"plan: users\nsteps:\n  - id: backfill\n    kind: backfill\n"
		"    table: users\n    set: full_name = lower(name)\n    batch_size: 500\n"
		"    verify: |\n      SELECT count(*) = 0\n"
		"        FROM users WHERE full_name IS NULL\n",
		"plan: users\nsteps:\n  - id: backfill\n    kind: backfill\n"
		"    table: users\n    set: full_name = name\n    batch_size: 501\n"
		"    verify: |\n      SELECT count(*) = 0\n"
		"        FROM users WHERE full_name IS NULL\n",
		"plan: users\nsteps:\n  - id: backfill\n    kind: backfill\n"
		"    table: users\n    set: full_name = name\n    batch_size: 500\n"
		"    verify: |\n      SELECT count(*) = 1\n"
		"        FROM users WHERE full_name IS NULL\n",
		"plan: users\nsteps:\n  - id: backfill\n    kind: backfill\n"
		"    table: users\n    set: full_name = name\n    batch_size: 500\n"
		"    verify: |\n      SELECT count(*) = 0\n"
		"        FROM users WHERE full_name IS NULL\n"
		"    where: full_name IS NULL\n",
		"plan: users\nsteps:\n  - id: backfill\n    kind: backfill\n"
		"    table: users\n    set: full_name = name\n    batch_size: 500\n"
		"    verify: |\n      SELECT count(*) = 0\n"
		"        FROM users WHERE full_name IS NULL\n"
		"    stage: pre\n",
		"plan: users\nsteps:\n  - id: backfill-2\n    kind: backfill\n"
		"    table: users\n    set: full_name = name\n    batch_size: 500\n"
		"    verify: |\n      SELECT count(*) = 0\n"
		"        FROM users WHERE full_name IS NULL\n",
		"plan: users\nsteps:\n  - id: backfill\n    kind: backfill\n"
		"    schema: app\n"
		"    table: users\n    set: full_name = name\n    batch_size: 500\n"
		"    verify: |\n      SELECT count(*) = 0\n"
		"        FROM users WHERE full_name IS NULL\n",
	};
	size_t i;

	for (i = 0; i < sizeof variants / sizeof variants[0]; i++)
		ck_assert_msg(!same_checksum(BASE, variants[i]),
		    "variant %zu has the same checksum", i);
	/* Indentation inside a block scalar is part of the SQL. */
	ck_assert(!same_checksum(BASE,
	    "plan: users\nsteps:\n  - id: backfill\n    kind: backfill\n"
	    "    table: users\n    set: full_name = name\n    batch_size: 500\n"
	    "    verify: |\n      SELECT count(*) = 0\n"
	    "      FROM users WHERE full_name IS NULL\n"));
}
END_TEST

START_TEST(test_checksum_per_step)
{
	struct plan *a = load_ok(
	    "plan: p\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n"
	    "  - {id: b, kind: code}\n");
	struct plan *b = load_ok(
	    "plan: renamed-plan\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n"
	    "  - {id: b, kind: code, note: changed}\n"
	    "  - {id: c, kind: code}\n");

	ck_assert_str_ne(a->steps[0].checksum, a->steps[1].checksum);
	/* A step's checksum depends on that step only. */
	ck_assert_str_eq(a->steps[0].checksum, b->steps[0].checksum);
	ck_assert_str_eq(a->steps[1].checksum, b->steps[1].checksum);
	plan_free(a);
	plan_free(b);
}
END_TEST

/*
 * Plan-level rules.
 */

START_TEST(test_lint_contract_before_non_contract)
{
	struct plan_diags d = { NULL, 0, 0 };

	lint_fixture("lint/contract-first.yaml", NULL, &d);
	ck_assert_uint_eq(d.n, 1);
	has_diag(&d, 7, 5, "step \"add-new\" (expand) comes after contract step "
	    "\"drop-old\": every contract step must come after every expand "
	    "and migrate step");
	ck_assert_msg(tu_has(d.v[0].file, "lint/contract-first.yaml"), "%s",
	    d.v[0].file);
	plan_diags_free(&d);
}
END_TEST

START_TEST(test_lint_duplicate_ids)
{
	struct plan_diags d = { NULL, 0, 0 };

	lint_fixture("lint/duplicate-ids.yaml", NULL, &d);
	ck_assert_uint_eq(d.n, 1);
	has_diag(&d, 8, 9, "step id \"add\" is used twice (also at line 3)");
	plan_diags_free(&d);
}
END_TEST

START_TEST(test_lint_post_creates)
{
	struct plan_diags d = { NULL, 0, 0 };

	lint_fixture("lint/post-add-column.yaml", NULL, &d);
	ck_assert_uint_eq(d.n, 2);
	has_diag(&d, 3, 5, "step \"add\": a new column must not be created in "
	    "a post step (the code already running cannot use it); use stage pre");
	has_diag(&d, 9, 5, "step \"table\": a new table must not be created in "
	    "a post step (the code already running cannot use it); use stage pre");
	plan_diags_free(&d);
}
END_TEST

START_TEST(test_lint_contract_after_below_default)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = load_fixture("lint/contract-after-low.yaml");

	ck_assert_int_eq(plan_lint(p, NULL, 2, &d), 1);
	has_diag(&d, 2, 17, "contract_after 1 is below the configured default 2: "
	    "a plan may raise it, never lower it");
	plan_diags_free(&d);
	/* Equal to or above the configured default is fine. */
	ck_assert_int_eq(plan_lint(p, NULL, 1, &d), 0);
	ck_assert_int_eq(plan_lint(p, NULL, 0, &d), 0);
	plan_free(p);
}
END_TEST

START_TEST(test_lint_create_table_primary_key)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p;

	lint_fixture("lint/no-primary-key.yaml", NULL, &d);
	ck_assert_uint_eq(d.n, 1);
	has_diag(&d, 3, 5, "step \"table\": create_table needs a primary key "
	    "(\"primary_key\" or a column with primary_key: true)");
	plan_diags_free(&d);
	p = load_ok(
	    "plan: p\n"
	    "steps:\n"
	    "  - id: t1\n"
	    "    kind: create_table\n"
	    "    table: a\n"
	    "    primary_key: [id, part]\n"
	    "    columns: [{name: id, type: int}, {name: part, type: int}]\n"
	    "  - id: t2\n"
	    "    kind: create_table\n"
	    "    table: b\n"
	    "    columns: [{name: id, type: int, primary_key: true}]\n");
	ck_assert_int_eq(plan_lint(p, NULL, 2, &d), 0);
	ck_assert_str_eq(p->steps[0].primary_key[1], "part");
	plan_free(p);
}
END_TEST

START_TEST(test_lint_unknown_dependency)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan_set set = { NULL, 0, 0 };
	char *dirs[2] = { fixture("deps"), NULL };
	struct plan *p;

	ck_assert_int_eq(plan_set_load(&set, dirs, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	p = plan_set_find(&set, "unknown");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->ndeps, 4);
	ck_assert_str_eq(p->deps[2].plan, "base");
	ck_assert_str_eq(p->deps[2].step, "no-such-step");
	ck_assert_ptr_null(p->deps[0].step);
	ck_assert_int_eq(plan_lint(p, &set, 2, &d), 2);
	has_diag(&d, 4, 5, "depends_on: unknown plan \"missing-plan\"");
	has_diag(&d, 5, 5, "depends_on: plan \"base\" has no step \"no-such-step\"");
	plan_diags_free(&d);
	ck_assert_int_eq(plan_lint(plan_set_find(&set, "base"), &set, 2, &d), 0);
	plan_set_free(&set);
	free(dirs[0]);
}
END_TEST

START_TEST(test_lint_dependency_cycle)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan_set set = { NULL, 0, 0 };
	char *dirs[2] = { fixture("cycle"), NULL };
	struct plan *self;

	ck_assert_int_eq(plan_set_load(&set, dirs, &d), 0);
	ck_assert_int_eq(plan_lint(plan_set_find(&set, "a"), &set, 2, &d), 1);
	has_diag(&d, 2, 14, "depends_on: \"b\" leads back to \"a\" (dependency "
	    "cycle)");
	plan_diags_free(&d);
	ck_assert_int_eq(plan_lint(plan_set_find(&set, "b"), &set, 2, &d), 1);
	has_diag(&d, 2, 14, "depends_on: \"a\" leads back to \"b\" (dependency "
	    "cycle)");
	plan_diags_free(&d);
	/* c depends on the cycle but is not in it: a and b report it. */
	ck_assert_int_eq(plan_lint(plan_set_find(&set, "c"), &set, 2, &d), 0);

	/* A plan depending on itself. */
	self = load_ok(
	    "plan: selfish\n"
	    "depends_on: selfish\n"
	    "steps:\n"
	    "  - {id: a, kind: code}\n");
	plan_set_add(&set, self);
	ck_assert_int_eq(plan_lint(self, &set, 2, &d), 1);
	has_diag(&d, 2, 13, "depends_on: \"selfish\" leads back to \"selfish\" "
	    "(dependency cycle)");
	plan_diags_free(&d);
	plan_set_free(&set);
	free(dirs[0]);
}
END_TEST

START_TEST(test_lint_dependency_dag_is_fast)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan_set set = { NULL, 0, 0 };
	char *dirs[2] = { dir, NULL };
	struct timespec t0, t1;
	double ms;
	int i;

	/*
	 * 40 layers of two plans, each depending on both plans of the next
	 * layer: 2^40 paths, no cycle.  Lint must not walk every path.
	 */
	for (i = 0; i < 40; i++) {
		char *name, *text;
		int k;

		for (k = 0; k < 2; k++) {
			name = xasprintf("l%02d%c.yaml", i, 'a' + k);
			if (i < 39)
				text = xasprintf("plan: l%02d%c\ndepends_on: [l%02da, "
				    "l%02db]\nsteps: [{id: s, kind: code}]\n", i,
				    'a' + k, i + 1, i + 1);
			else
				text = xasprintf("plan: l%02d%c\nsteps: [{id: s, kind: "
				    "code}]\n", i, 'a' + k);
			tu_write(dir, name, text);
			free(name);
			free(text);
		}
	}
	ck_assert_int_eq(plan_set_load(&set, dirs, &d), 0);
	ck_assert_uint_eq(set.nplans, 80);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < (int)set.nplans; i++)
		ck_assert_int_eq(plan_lint(set.plans[i], &set, 2, &d), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	ck_assert_msg(ms < 500, "lint took %.0f ms", ms);
	plan_set_free(&set);
}
END_TEST

/*
 * Plan directories.
 */

START_TEST(test_plan_dirs)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan_set set = { NULL, 0, 0 };
	char *dirs[4] = { fixture("dirs/two"), fixture("dirs/one"),
	    xasprintf("%s/does-not-exist", dir), NULL };
	struct plan *p;
	char *want;

	ck_assert_int_eq(plan_set_load(&set, dirs, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	/* Sorted by name whatever the directory order; .yml too; hidden and
	 * non-YAML files are skipped; a missing directory holds no plans. */
	ck_assert_uint_eq(set.nplans, 3);
	ck_assert_str_eq(set.plans[0]->name.s, "alpha");
	ck_assert_str_eq(set.plans[1]->name.s, "beta");
	ck_assert_str_eq(set.plans[2]->name.s, "gamma");
	p = plan_set_find(&set, "beta");
	ck_assert_ptr_nonnull(p);
	want = xasprintf("%s/beta.yaml", dirs[0]);
	ck_assert_str_eq(p->file, want);
	free(want);
	ck_assert_ptr_null(plan_set_find(&set, "hidden"));
	ck_assert_ptr_null(plan_set_find(&set, "delta"));
	ck_assert_int_eq(plan_step_index(p, "s"), 0);
	ck_assert_int_eq(plan_step_index(p, "t"), -1);
	plan_set_free(&set);
	free(dirs[0]);
	free(dirs[1]);
	free(dirs[2]);
}
END_TEST

START_TEST(test_plan_dirs_duplicate_name)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan_set set = { NULL, 0, 0 };
	char *dirs[3] = { fixture("dirs/one"), fixture("dirs/dup"), NULL };
	char *one = xasprintf("%s/alpha.yaml", dirs[0]);
	char *dup = xasprintf("%s/alpha-again.yaml", dirs[1]);
	char *want;
	int k;

	/*
	 * The plan of the directory listed first stays; the other file is
	 * reported at its "plan:" value, naming the first.  Swapping the
	 * directories swaps the roles.
	 */
	for (k = 0; k < 2; k++) {
		const char *kept = k == 0 ? one : dup, *other = k == 0 ? dup : one;

		if (k == 1) {
			char *t = dirs[0];

			dirs[0] = dirs[1];
			dirs[1] = t;
		}
		ck_assert_int_eq(plan_set_load(&set, dirs, &d), -1);
		ck_assert_uint_eq(d.n, 1);
		ck_assert_str_eq(d.v[0].file, other);
		ck_assert_int_eq(d.v[0].pos.line, 1);
		ck_assert_int_eq(d.v[0].pos.col, 7);
		want = xasprintf("plan \"alpha\" is also defined in %s", kept);
		ck_assert_str_eq(d.v[0].msg, want);
		free(want);
		/* Names in the set stay unique. */
		ck_assert_uint_eq(set.nplans, 2);
		ck_assert_str_eq(set.plans[0]->name.s, "alpha");
		ck_assert_str_eq(set.plans[0]->file, kept);
		ck_assert_str_eq(set.plans[1]->name.s, "gamma");
		plan_diags_free(&d);
		plan_set_free(&set);
	}
	free(dirs[0]);
	free(dirs[1]);
	free(one);
	free(dup);
}
END_TEST

START_TEST(test_plan_dirs_bad_file_keeps_others)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan_set set = { NULL, 0, 0 };
	char *dirs[2] = { dir, NULL };

	tu_write(dir, "good.yaml", "plan: good\nsteps: [{id: a, kind: code}]\n");
	tu_write(dir, "bad.yaml", "plan: bad\nsteps: [{id: a, kind: nope}]\n");
	ck_assert_int_eq(plan_set_load(&set, dirs, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_msg(tu_has(d.v[0].file, "bad.yaml"), "%s", d.v[0].file);
	ck_assert_uint_eq(set.nplans, 1);
	ck_assert_str_eq(set.plans[0]->name.s, "good");
	plan_diags_free(&d);
	plan_set_free(&set);
}
END_TEST

/* Adds test as its own TCase (one behaviour each) to s. */
static void
add(Suite *s, const char *name, const TTest *test)
{
	tu_add(s, name, test, setup, teardown, 30);
}

/* The plan suite. */
/* Seconds since an arbitrary point, for the speed limits below. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Huge or deep files get an answer in well under a second (the limits
 * below leave room for a loaded machine; the old code took 15 s and
 * 28 s): many keys in one mapping, nested brackets.
 */
START_TEST(test_hostile_yaml_is_fast)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	struct buf y = BUF_INIT;
	double t0;
	int i;

	/* 90,000 keys, the last one repeating the first. */
	buf_puts(&y, "plan: p\nsteps:\n  - id: a\n    kind: code\nx:\n");
	for (i = 0; i < 90000; i++)
		buf_printf(&y, "  k%d: v\n", i);
	buf_puts(&y, "  k0: again\n");
	t0 = now_s();
	ck_assert_int_eq(load_text("keys.yaml", buf_cstr(&y), &p, &d), -1);
	ck_assert_msg(now_s() - t0 < 3, "%.1f s", now_s() - t0);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.v[0].pos.line, 90006);
	ck_assert_str_eq(d.v[0].msg, "duplicate key \"k0\" (first at line 6)");
	plan_diags_free(&d);

	/* 200 KB of nested flow sequences. */
	buf_reset(&y);
	buf_puts(&y, "plan: p\nsteps: ");
	for (i = 0; i < 200000; i++)
		buf_putc(&y, '[');
	t0 = now_s();
	ck_assert_int_eq(load_text("deep.yaml", buf_cstr(&y), &p, &d), -1);
	ck_assert_msg(now_s() - t0 < 3, "%.1f s", now_s() - t0);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.v[0].msg, "'[' or '{' nested more than 256 levels deep");
	ck_assert_int_eq(d.v[0].pos.line, 2);
	ck_assert_int_eq(d.v[0].pos.col, 8 + 256);
	plan_diags_free(&d);
	buf_free(&y);
}
END_TEST

/* Deep block nesting is an error, not a value silently read as "". */
START_TEST(test_deep_yaml_refused)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	struct buf y = BUF_INIT;
	int i;

	buf_puts(&y, "plan: p\nsteps:\n  - id: a\n    kind: code\n    note: ");
	for (i = 0; i < 70; i++)
		buf_puts(&y, "[");
	for (i = 0; i < 70; i++)
		buf_puts(&y, "]");
	buf_puts(&y, "\n");
	ck_assert_int_eq(load_text("nest.yaml", buf_cstr(&y), &p, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.v[0].msg, "nested more than 64 levels deep");
	plan_diags_free(&d);
	buf_free(&y);
}
END_TEST

/* A large plain file is "too large", not blamed on aliases. */
START_TEST(test_large_file_message)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	struct buf y = BUF_INIT;
	int i;

	buf_puts(&y, "plan: p\nsteps:\n  - id: a\n    kind: code\nx: [");
	for (i = 0; i < 120000; i++)
		buf_puts(&y, "v, ");
	buf_puts(&y, "v]\n");
	ck_assert_int_eq(load_text("big.yaml", buf_cstr(&y), &p, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.v[0].msg, "more than 100000 values: too large for a "
	    "plan or a config file");
	plan_diags_free(&d);
	buf_free(&y);
}
END_TEST

/* NUL and invalid UTF-8 are reported where they are, not at 1:1. */
START_TEST(test_bad_bytes_position)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	char *path = xasprintf("%s/nul.yaml", dir);
	FILE *f;

	ck_assert_int_eq(load_text("utf8.yaml", "plan: p\nsteps:\n  - id: a\n"
	    "    kind: code\n    note: \"ab\xff\"\n", &p, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.v[0].pos.line, 5);
	ck_assert_int_eq(d.v[0].pos.col, 14);
	ck_assert_str_eq(d.v[0].msg, "invalid leading UTF-8 octet");
	plan_diags_free(&d);
	/* A NUL byte (tu_write stops at it: write the file by hand). */
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fwrite("plan: p\nsteps: x\x00y\n", 1, 19, f);
	fclose(f);
	ck_assert_int_eq(plan_load(&p, path, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.v[0].pos.line, 2);
	ck_assert_int_eq(d.v[0].pos.col, 9);
	ck_assert_str_eq(d.v[0].msg, "control characters are not allowed");
	plan_diags_free(&d);
	free(path);
}
END_TEST

static Suite *
plan_suite(void)
{
	Suite *s = suite_create("plan");

	add(s, "every kind", test_every_kind_loads);
	add(s, "sample plan", test_sample_plan_loads_clean);
	add(s, "stages", test_stage_defaults_and_overrides);
	add(s, "malformed yaml", test_malformed_yaml_position);
	add(s, "malformed unterminated", test_malformed_yaml_unterminated);
	add(s, "malformed flow", test_malformed_yaml_flow_context);
	add(s, "unknown field", test_unknown_field_suggests);
	add(s, "field not for kind", test_field_not_for_kind);
	add(s, "missing field", test_missing_required_field);
	add(s, "wrong type", test_wrong_type);
	add(s, "duplicate key", test_duplicate_key);
	add(s, "one document", test_one_document_per_file);
	add(s, "empty file", test_empty_file);
	add(s, "null values", test_null_means_not_given);
	add(s, "deadline dates", test_deadline_dates);
	add(s, "booleans", test_boolean_spellings);
	add(s, "durations", test_durations);
	add(s, "alias bomb", test_alias_bomb);
	add(s, "hostile yaml speed", test_hostile_yaml_is_fast);
	add(s, "deep yaml", test_deep_yaml_refused);
	add(s, "large file", test_large_file_message);
	add(s, "bad bytes", test_bad_bytes_position);
	add(s, "every problem", test_every_problem_reported);
	add(s, "unreadable", test_unreadable_file);
	add(s, "block positions", test_block_scalar_positions);
	add(s, "block crlf", test_block_scalar_crlf);
	add(s, "checksum key order", test_checksum_key_order);
	add(s, "checksum quoting", test_checksum_quoting);
	add(s, "checksum flow", test_checksum_flow_mapping);
	add(s, "checksum block newline", test_checksum_block_trailing_newline);
	add(s, "checksum comments", test_checksum_comments);
	add(s, "checksum note", test_checksum_note_edit);
	add(s, "checksum spelling", test_checksum_scalar_spelling);
	add(s, "checksum value", test_checksum_value_change);
	add(s, "checksum per step", test_checksum_per_step);
	add(s, "lint contract order", test_lint_contract_before_non_contract);
	add(s, "lint duplicate ids", test_lint_duplicate_ids);
	add(s, "lint post creates", test_lint_post_creates);
	add(s, "lint contract_after", test_lint_contract_after_below_default);
	add(s, "lint primary key", test_lint_create_table_primary_key);
	add(s, "lint unknown dependency", test_lint_unknown_dependency);
	add(s, "lint cycle", test_lint_dependency_cycle);
	add(s, "lint dag speed", test_lint_dependency_dag_is_fast);
	add(s, "plan dirs", test_plan_dirs);
	add(s, "plan dirs duplicate", test_plan_dirs_duplicate_name);
	add(s, "plan dirs bad file", test_plan_dirs_bad_file_keeps_others);
	return s;
}

int
main(void)
{
	return tu_run_suite(plan_suite());
}
