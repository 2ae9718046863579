/*
 * End to end: the sample plan (rename users.name to users.full_name) walked
 * by the real excon binary across four releases on a 50,000-row table,
 * while real clients (pgbench) keep writing with the statements of the
 * code that may run at each moment:
 *
 *   - old code (the release before the plan) writes only `name`, and
 *     reads `name`, from the start until the contract step: it may run
 *     until the drop, since a rollback to it stays possible until then;
 *   - new code writes only `full_name`, from the moment the dual-write
 *     trigger is in (release 1) to the end, after the drop too;
 *   - from switch-reads on (release 2), new code also reads `full_name`.
 *
 * Every pgbench statement must succeed: a client that gets any error
 * aborts, pgbench exits non-zero and the test fails.  The reads check the
 * value they see (a wrong one is turned into an error inside pgbench).
 * The clients run in 1-second pgbench runs in a shell loop until the test
 * tells them to stop, so their lifetime follows the walk whatever the
 * speed of the machine.
 */
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/e2e.h"
#include "util/testutil.h"

#define ROWS 50000
#define PLAN "users-full-name"

/* The new release: writes only `full_name`. */
static const char new_sql[] =
    "\\set id random(1, 50000)\n"
    "WITH n AS (SELECT nextval('users_id_seq') AS id)"
    " INSERT INTO users (id, full_name) SELECT id, 'u' || id || ':n' FROM n;\n"
    "UPDATE users SET full_name = 'u' || id || ':n' || floor(random() * 1000000)::int"
    " WHERE id = :id;\n";

/* The new release after switch-reads: also reads `full_name`. */
static const char read_sql[] =
    "\\set id random(1, 50000)\n"
    "SELECT (full_name IS NULL OR (full_name <> 'u' || id AND full_name NOT LIKE 'u' || id || ':%'))::int"
    " AS bad FROM users WHERE id = :id\n"
    "\\gset\n"
    "\\if :bad\n"
    "SELECT ('new code read a wrong full_name in row ' || :id)::int;\n"
    "\\endif\n"
    "UPDATE users SET full_name = 'u' || id || ':r' || floor(random() * 1000000)::int"
    " WHERE id = :id;\n";

/* Asserts that every row has name = full_name. */
static void
columns_equal(struct e2e *e, const char *when)
{
	char *v = pt_sql(e->ci, "SELECT count(*) || ' of ' || (SELECT count(*) FROM users)"
	    " FROM users WHERE full_name IS DISTINCT FROM name");

	ck_assert_msg(strncmp(v, "0 of ", 5) == 0, "%s: %s rows have name <> full_name", when, v);
	free(v);
}

/* Ships the next step with excon advance, expecting it to be `step`. */
static void
ship(struct e2e *e, const char *step)
{
	char *out = e2e_ok(e, 1, "advance", PLAN, NULL);
	char *want = xasprintf("shipped %s/%s ", PLAN, step);

	ck_assert_msg(tu_has(out, want), "want '%s' in: %s", want, out);
	free(want);
	free(out);
}

START_TEST(test_walk_with_writers)
{
	struct e2e e;
	struct e2e_client old, nw, rd;
	struct run r;
	double t0 = tu_ms();
	long long rows;
	char *out, *want;

	e2e_setup(&e, "zd_walk", NULL);
	e2e_plan(&e, PLAN ".yaml", NULL);
	e2e_users(e.ci, ROWS);

	/* Release 0's code is running before anything happens. */
	e2e_client_start(&e, &old, "old", e2e_old_sql());
	tu_sleep_ms(300);

	/* Release 1, pre: the column and the sync trigger. */
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	ship(&e, "add-column");
	ship(&e, "dual-write");
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_trigger WHERE tgname = 'excon_sync_name_full_name'", "1");
	/* Release 1's code (writes full_name) deploys next to release 0's. */
	e2e_client_start(&e, &nw, "new", new_sql);
	tu_sleep_ms(300);
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));

	/* Release 1, post: the backfill, under both writers. */
	ship(&e, "backfill");
	columns_equal(&e, "after the backfill");
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS NULL", "0");

	/* Release 2: reads switch, old writes stop (the trigger still fills name). */
	free(e2e_ok(&e, 0, "release", "start", "r2", NULL));
	ship(&e, "switch-reads");
	e2e_client_start(&e, &rd, "reads", read_sql);
	ship(&e, "stop-old-writes");
	free(e2e_ok(&e, 0, "release", "finish", "r2", NULL));
	/* The drop must wait two releases after stop-old-writes. */
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, NULL), 3);
	ck_assert_msg(tu_has(r.err, "refused: drop-name"), "%s", r.err);
	tu_run_free(&r);
	free(e2e_ok(&e, 0, "release", "start", "r3", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r3", NULL));
	free(e2e_ok(&e, 0, "release", "start", "r4", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r4", NULL));
	tu_sleep_ms(300);

	/* Old code ran through every step so far; now it is gone for good. */
	e2e_client_running(&old, "the contract step");
	e2e_client_running(&nw, "the contract step");
	e2e_client_running(&rd, "the contract step");
	e2e_client_stop(&e, &old);
	columns_equal(&e, "before the drop");

	/* The contract, while new code keeps writing and reading. */
	ship(&e, "drop-name");
	tu_sleep_ms(500);
	e2e_client_running(&nw, "the end");
	e2e_client_running(&rd, "the end");
	e2e_client_stop(&e, &nw);
	e2e_client_stop(&e, &rd);

	/* The data: name gone, every full_name belongs to its row, no write lost. */
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'users' AND column_name = 'name'", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'excon_sync%'", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS NULL"
	    " OR (full_name <> 'u' || id AND full_name NOT LIKE 'u' || id || ':%')", "0");
	/* One insert per pgbench transaction of the old and new writers. */
	rows = e2e_num(e.ci, "SELECT count(*) FROM users");
	ck_assert_int_eq(rows, ROWS + old.tx + nw.tx);
	ck_assert_int_eq(e2e_num(e.ci, "SELECT count(*) FROM users WHERE full_name LIKE '%:o%'") > 0, 1);
	ck_assert_int_eq(e2e_num(e.ci, "SELECT count(*) FROM users WHERE full_name LIKE '%:n%'") > 0, 1);

	/* The state agrees: every step shipped once, in the releases the gates allow. */
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	ck_assert_int_eq(e2e_count(out, "\"status\":\"shipped\""), 6);
	want = e2e_json_get(out, "id", "drop-name", "release");
	ck_assert_str_eq(want, "r4");
	free(want);
	want = e2e_json_get(out, "id", "backfill", "release");
	ck_assert_str_eq(want, "r1");
	free(want);
	free(out);
	pt_sql_eq(e.ci, "SELECT string_agg(step, ',' ORDER BY applied_at) FROM excon.ledger",
	    "add-column,dual-write,backfill,drop-name");
	out = e2e_ok(&e, 1, "verify", NULL);
	ck_assert_msg(tu_has(out, "the database matches the state"), "%s", out);
	free(out);
	ck_assert_msg(tu_ms() - t0 < 60000, "the walk took %.0f ms", tu_ms() - t0);
	e2e_free(&e);
}
END_TEST

/* One TCase per behaviour. */
static Suite *
zero_downtime_suite(void)
{
	Suite *s = suite_create("zero_downtime");
	TCase *tc = tcase_create("walk_with_writers");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_walk_with_writers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run_suite(zero_downtime_suite());
}
