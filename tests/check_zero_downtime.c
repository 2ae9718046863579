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
	e2e_client_ran(&e, &old);

	/* Release 1, pre: the column and the sync trigger. */
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	ship(&e, "add-column");
	ship(&e, "dual-write");
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_trigger WHERE tgname = 'excon_sync_name_full_name'", "1");
	/* Release 1's code (writes full_name) deploys next to release 0's. */
	e2e_client_start(&e, &nw, "new", new_sql);
	e2e_client_ran(&e, &nw);
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

	/* Old code ran through every step so far; now it is gone for good. */
	e2e_client_ran(&e, &old);
	e2e_client_ran(&e, &nw);
	e2e_client_ran(&e, &rd);
	e2e_client_stop(&e, &old);
	columns_equal(&e, "before the drop");

	/* The contract, while new code keeps writing and reading. */
	ship(&e, "drop-name");
	e2e_client_ran(&e, &nw);
	e2e_client_ran(&e, &rd);
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

/*
 * The deploy pipeline of the README, for every template of `excon new`:
 * each release is started, `advance --all --stage pre` runs, the code of
 * the release starts (next to the code of the release before it, the
 * rollback target, which keeps running until the next release starts),
 * `--stage code` runs, the release finishes and `--stage post` runs.  The
 * code of each release is a pgbench script doing what the plan's notes
 * say that release's code does; none of its statements may fail.
 */
#define TROWS 20000
#define TROWS_S "20000"

/* One template: the command, the table, and the code of each release. */
struct tmpl_case {
	const char	*tcase;		/* the TCase's name */
	const char	*db;
	const char	*argv[8];	/* excon new ... (NULL-terminated) */
	const char	*plan;
	const char	*setup;		/* the table with TROWS rows */
	int		 nsteps;
	const char	*code[5];	/* the code of releases 0..4 */
	const char	*final;		/* SQL returning t at the end */
};

/* Code: picks a row, writes ins and upd, and checks that col of the row is not NULL. */
#define CODE(ins, upd, table, col) \
	"\\set id random(1, " TROWS_S ")\n" ins ";\n" upd ";\n" \
	"SELECT (" col " IS NULL)::int AS bad FROM " table " WHERE id = :id\n" \
	"\\gset\n\\if :bad\nSELECT ('read NULL " col " in row ' || :id)::int;\n\\endif\n"

#define RC_OLD CODE("INSERT INTO users (name) VALUES ('old')", \
	"UPDATE users SET name = 'o' || id WHERE id = :id", "users", "name")
#define RC_NEW CODE("INSERT INTO users (full_name) VALUES ('new')", \
	"UPDATE users SET full_name = 'n' || id WHERE id = :id", "users", "full_name")
#define CT_OLD CODE("INSERT INTO orders (amount) VALUES (7)", \
	"UPDATE orders SET amount = amount + 1 WHERE id = :id", "orders", "amount")
#define CT_NEW CODE("INSERT INTO orders (amount_bigint) VALUES (8)", \
	"UPDATE orders SET amount_bigint = amount_bigint + 1 WHERE id = :id", \
	"orders", "amount_bigint")
#define NN_OLD CODE("INSERT INTO accounts (email) VALUES ('old')", \
	"UPDATE accounts SET email = 'o' || id WHERE id = :id", "accounts", "email")
#define NN_NEW CODE("INSERT INTO accounts (email, status) VALUES ('new', 'gold')", \
	"UPDATE accounts SET status = 'silver' WHERE id = :id", "accounts", "status")
#define DC_V0 CODE("INSERT INTO users (name, legacy_flags) VALUES ('v0', 1)", \
	"UPDATE users SET legacy_flags = 2 WHERE id = :id", "users", "legacy_flags")
#define DC_V1 CODE("INSERT INTO users (name, legacy_flags) VALUES ('v1', 1)", \
	"UPDATE users SET name = 'v1' WHERE id = :id", "users", "name")
#define DC_V2 CODE("INSERT INTO users (name) VALUES ('v2')", \
	"UPDATE users SET name = 'v2' WHERE id = :id", "users", "name")
#define RT_OLD CODE("INSERT INTO customers (email) VALUES (md5(random()::text))", \
	"UPDATE customers SET email = email || '' WHERE id = :id", "customers", "email")
#define RT_NEW CODE("INSERT INTO clients (email) VALUES (md5(random()::text))" \
	" ON CONFLICT (email) DO NOTHING RETURNING id", \
	"UPDATE clients SET email = email || '' WHERE id = :id", "clients", "email")

static const struct tmpl_case tmpl_cases[] = {
	{ "pipeline rename-column", "zd_rename_column", { "new", "rename-column", "users", "name", "full_name",
	    "--type", "text", NULL }, "users-name-to-full-name",
	  "CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL);"
	  "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, " TROWS_S ") g",
	  6, { RC_OLD, RC_OLD, RC_NEW, RC_NEW, RC_NEW },
	  "SELECT count(*) = 0 FROM users WHERE full_name IS NULL" },
	{ "pipeline change-type", "zd_change_type", { "new", "change-type", "orders", "amount", "bigint", NULL },
	  "orders-amount-to-bigint",
	  "CREATE TABLE orders (id bigserial PRIMARY KEY, amount integer NOT NULL);"
	  "INSERT INTO orders (amount) SELECT g FROM generate_series(1, " TROWS_S ") g",
	  6, { CT_OLD, CT_OLD, CT_NEW, CT_NEW, CT_NEW },
	  "SELECT count(*) = 0 FROM orders WHERE amount_bigint IS NULL" },
	{ "pipeline add-not-null", "zd_add_not_null", { "new", "add-not-null", "accounts", "status", "text",
	    "--default", "active", NULL }, "accounts-status-not-null",
	  "CREATE TABLE accounts (id bigserial PRIMARY KEY, email text);"
	  "INSERT INTO accounts (email) SELECT 'a' || g FROM generate_series(1, " TROWS_S ") g",
	  4, { NN_OLD, NN_NEW, NN_NEW, NN_NEW, NN_NEW },
	  "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'accounts'::regclass"
	  " AND attname = 'status'" },
	{ "pipeline drop-column", "zd_drop_column", { "new", "drop-column", "users", "legacy_flags", NULL },
	  "users-drop-legacy-flags",
	  "CREATE TABLE users (id bigserial PRIMARY KEY, name text,"
	  " legacy_flags integer NOT NULL);"
	  "INSERT INTO users (name, legacy_flags) SELECT 'u', 0"
	  " FROM generate_series(1, " TROWS_S ")",
	  3, { DC_V0, DC_V1, DC_V2, DC_V2, DC_V2 },
	  "SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid ="
	  " 'users'::regclass AND attname = 'legacy_flags' AND NOT attisdropped)" },
	{ "pipeline rename-table", "zd_rename_table", { "new", "rename-table", "customers", "clients", NULL },
	  "customers-to-clients",
	  "CREATE TABLE customers (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL);"
	  "INSERT INTO customers (email) SELECT 'c' || g FROM generate_series(1, " TROWS_S ") g",
	  4, { RT_OLD, RT_NEW, RT_NEW, RT_NEW, RT_NEW },
	  "SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass('clients')) = 'r'"
	  " AND to_regclass('customers') IS NULL" },
};

/* Runs one stage of the pipeline: advance --all --stage stage. */
static void
pipeline_stage(struct e2e *e, const char *stage)
{
	free(e2e_ok(e, 1, "advance", "--all", "--stage", stage, NULL));
}

/* Walks template case i through four releases with the pipeline and its code running. */
static void
pipeline_walk(int i)
{
	const struct tmpl_case *t = &tmpl_cases[i];
	struct e2e e;
	struct e2e_client cl[5];
	struct run r;
	char *out;
	int rel;

	e2e_setup(&e, t->db, NULL);
	free(pt_sql(e.ci, t->setup));
	ck_assert_int_eq(tu_excon(&r, e.dir, NULL, t->argv), 0);
	tu_run_free(&r);
	free(e2e_ok(&e, 0, "init", NULL));
	memset(cl, 0, sizeof cl);
	e2e_client_start(&e, &cl[0], "v0", t->code[0]);
	for (rel = 1; rel <= 4; rel++) {
		/* A client keeps its name: it must outlive the loop. */
		static const char *const names[] = { "v0", "v1", "v2", "v3", "v4" };
		const char *name = names[rel];
		char *when;

		free(e2e_ok(&e, 0, "release", "start", name, NULL));
		/* The release before the previous one is no rollback target any more. */
		if (rel >= 2)
			e2e_client_stop(&e, &cl[rel - 2]);
		pipeline_stage(&e, "pre");
		e2e_client_start(&e, &cl[rel], name, t->code[rel]);
		e2e_client_ran(&e, &cl[rel]);
		pipeline_stage(&e, "code");
		free(e2e_ok(&e, 0, "release", "finish", name, NULL));
		pipeline_stage(&e, "post");
		/* Both running releases' code ran on the schema after the release. */
		when = xasprintf("the end of release %s", name);
		e2e_client_running(&cl[rel - 1], when);
		e2e_client_running(&cl[rel], when);
		free(when);
		e2e_client_ran(&e, &cl[rel - 1]);
		e2e_client_ran(&e, &cl[rel]);
	}
	e2e_client_stop(&e, &cl[3]);
	e2e_client_stop(&e, &cl[4]);
	out = e2e_ok(&e, 0, "status", t->plan, "--format", "json", NULL);
	ck_assert_msg(e2e_count(out, "\"status\":\"shipped\"") == t->nsteps,
	    "%s: not every step shipped in four releases:\n%s", t->plan, out);
	free(out);
	pt_sql_eq(e.ci, t->final, "t");
	e2e_free(&e);
}

START_TEST(test_pipeline_template)
{
	pipeline_walk(_i);
}
END_TEST

/* One TCase per behaviour. */
static Suite *
zero_downtime_suite(void)
{
	Suite *s = suite_create("zero_downtime");
	TCase *tc = tcase_create("walk_with_writers");
	size_t i;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_walk_with_writers);
	suite_add_tcase(s, tc);
	for (i = 0; i < sizeof tmpl_cases / sizeof tmpl_cases[0]; i++) {
		tc = tcase_create(tmpl_cases[i].tcase);
		tcase_set_timeout(tc, 120);
		tcase_add_loop_test(tc, test_pipeline_template, (int)i, (int)i + 1);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	return tu_run_suite(zero_downtime_suite());
}
