/*
 * End to end: rule 9 and `excon probe` on a real PostgreSQL whose server
 * preloads pg_stat_statements (tests/pg.sh).  The sample rename plan is
 * walked to its contract window while statements stand for the
 * application; the probe must see them through aliases, `SELECT *` and a
 * view, ignore excon's own, refuse under `probe: required`, warn under
 * `advisory`, and start again after `probe --restart`.  Every test works
 * in a database and a project of its own.
 */
#include "util/e2e.h"
#include "util/testutil.h"

#define PLAN "users-full-name"

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

/*
 * A project with config lines, database name, the users table and the
 * sample plan; with ext, pg_stat_statements is created in the database.
 * Walks the plan to its open contract window (the snapshot is taken when
 * stop-old-writes ships in r2; r4 is deployed).
 */
static void
walk_steps(struct e2e *e);

static void
walk(struct e2e *e, const char *name, const char *config, int ext)
{
	e2e_setup(e, name, config);
	if (ext)
		free(pt_sql(e->ci, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
	walk_steps(e);
}

/* The walk of walk(), in a project set up already. */
static void
walk_steps(struct e2e *e)
{
	e2e_plan(e, PLAN ".yaml", NULL);
	e2e_users(e->ci, 100);
	free(e2e_ok(e, 0, "release", "start", "r1", NULL));
	ship(e, "add-column");
	ship(e, "dual-write");
	free(e2e_ok(e, 0, "release", "finish", "r1", NULL));
	ship(e, "backfill");
	free(e2e_ok(e, 0, "release", "start", "r2", NULL));
	ship(e, "switch-reads");
	ship(e, "stop-old-writes");
	free(e2e_ok(e, 0, "release", "finish", "r2", NULL));
	free(e2e_ok(e, 0, "release", "start", "r3", NULL));
	free(e2e_ok(e, 0, "release", "finish", "r3", NULL));
	free(e2e_ok(e, 0, "release", "start", "r4", NULL));
	free(e2e_ok(e, 0, "release", "finish", "r4", NULL));
}

/* Runs sql n times on ci, each in a session of its own (an application client). */
static void
app(const char *ci, const char *sql, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(pt_sql(ci, sql));
}

/* Asserts that the drop is refused under rule 9, with want in the refusal. */
static void
drop_refused(struct e2e *e, const char *want)
{
	struct run r;

	ck_assert_int_eq(e2e_run(e, &r, 1, "advance", PLAN, NULL), 3);
	ck_assert_msg(tu_has(r.err, "refused: drop-name (contract)"), "%s", r.err);
	ck_assert_msg(tu_has(r.err, want), "want '%s' in: %s", want, r.err);
	tu_run_free(&r);
	pt_sql_eq(e->ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'users' AND column_name = 'name'", "1");
}

START_TEST(test_alias_use_refused_then_restart_allows)
{
	struct e2e e;
	struct run r;
	char *out;

	walk(&e, "probe_alias", "probe: required\n", 1);
	/* A report job of the old release, through an alias. */
	app(e.ci, "SELECT u.name FROM users u WHERE u.id = 7", 3);
	drop_refused(&e, "3 calls on the database: SELECT u.name FROM users u "
	    "WHERE u.id = $1");

	out = e2e_ok(&e, 1, "status", PLAN, NULL);
	ck_assert_msg(tu_has(out, "next: drop-name waiting (rule 9)"), "%s", out);
	free(out);
	/* probe says the same, for CI. */
	out = e2e_ok(&e, 1, "probe", PLAN, NULL);
	ck_assert_msg(tu_has(out, "still used") &&
	    tu_has(out, "SELECT u.name FROM users u WHERE u.id = $1"), "%s", out);
	free(out);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "probe", "--fail-on", "used", NULL), 4);
	tu_run_free(&r);
	out = e2e_ok(&e, 1, "probe", "--format", "json", NULL);
	ck_assert_msg(tu_has(out, "\"plan\":\"" PLAN "\"") &&
	    tu_has(out, "\"calls\":3,") && tu_has(out, "\"gathered\":true"), "%s", out);
	free(out);

	/* The job is fixed: a new window, which sees no use. */
	out = e2e_ok(&e, 1, "probe", PLAN, "--restart", "--reason",
	    "report job reads full_name since v2.5", NULL);
	ck_assert_msg(tu_has(out, "new evidence window"), "%s", out);
	free(out);
	app(e.ci, "SELECT u.full_name FROM users u WHERE u.id = 7", 2);
	out = e2e_ok(&e, 1, "probe", PLAN, "--fail-on", "used", NULL);
	ck_assert_msg(tu_has(out, "no use seen since") &&
	    tu_has(out, "across 1 database"), "%s", out);
	free(out);
	/* The restart is an audited event. */
	out = e2e_ok(&e, 1, "audit", NULL);
	ck_assert_msg(tu_has(out, "no use seen since") &&
	    tu_has(out, "probe restart by") &&
	    tu_has(out, "reason: report job reads full_name since v2.5"), "%s", out);
	free(out);
	out = e2e_ok(&e, 0, "log", PLAN, NULL);
	ck_assert_msg(tu_has(out, "probe.snapshot") &&
	    tu_has(out, "(reason: report job reads full_name since v2.5)"), "%s", out);
	free(out);
	/* Snapshots are events of the hash chain like any other. */
	out = e2e_ok(&e, 0, "log", "--verify", NULL);
	ck_assert_msg(tu_has(out, "intact"), "%s", out);
	free(out);
	ship(&e, "drop-name");
	e2e_free(&e);
}
END_TEST

START_TEST(test_select_star_is_use)
{
	struct e2e e;
	struct run r;

	walk(&e, "probe_star", "probe: required\n", 1);
	app(e.ci, "SELECT * FROM users WHERE id = 3", 1);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "probe", "--fail-on", "used", NULL), 4);
	ck_assert_msg(tu_has(r.out, "1 call on the database: SELECT * FROM users "
	    "WHERE id = $1"), "%s", r.out);
	tu_run_free(&r);
	drop_refused(&e, "SELECT * FROM users WHERE id = $1");
	e2e_free(&e);
}
END_TEST

START_TEST(test_view_over_old_column_is_use)
{
	struct e2e e;
	struct run r;

	walk(&e, "probe_view", "probe: required\n", 1);
	free(pt_sql(e.ci, "CREATE VIEW user_names AS SELECT id, name FROM users"));
	ck_assert_int_eq(e2e_run(&e, &r, 1, "probe", "--fail-on", "used", NULL), 4);
	ck_assert_msg(tu_has(r.out, "view user_names depends on "
	    "\"public\".\"users\".name"), "%s", r.out);
	tu_run_free(&r);
	drop_refused(&e, "view user_names depends on");
	e2e_free(&e);
}
END_TEST

START_TEST(test_excon_own_statements_do_not_count)
{
	struct e2e e;
	char *out;

	/*
	 * The walk ran the backfill and its verify, both naming users.name,
	 * and installed the sync trigger whose function names it; status,
	 * verify and probe read the database since the snapshot.  None of it
	 * is use; the application's reads of full_name are not either.
	 */
	walk(&e, "probe_own", "probe: required\n", 1);
	app(e.ci, "SELECT full_name FROM users WHERE id = 1", 2);
	app(e.ci, "UPDATE users SET full_name = 'x' WHERE id = 2", 2);
	free(e2e_ok(&e, 1, "verify", NULL));
	free(e2e_ok(&e, 1, "status", NULL));
	out = e2e_ok(&e, 1, "probe", "--fail-on", "used", NULL);
	ck_assert_msg(tu_has(out, "no use seen since"), "%s", out);
	free(out);
	ship(&e, "drop-name");
	e2e_free(&e);
}
END_TEST

START_TEST(test_extension_missing)
{
	struct e2e e;
	struct run r;

	/* Required: refused, saying how to enable it. */
	walk(&e, "probe_noext", "probe: required\n", 0);
	drop_refused(&e, "CREATE EXTENSION pg_stat_statements");
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, NULL), 3);
	ck_assert_msg(tu_has(r.err, "shared_preload_libraries"), "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "probe", "--fail-on", "used", NULL), 4);
	ck_assert_msg(tu_has(r.out, "cannot tell") &&
	    tu_has(r.out, "CREATE EXTENSION pg_stat_statements"), "%s", r.out);
	tu_run_free(&r);
	/* --force --reason passes it, and audit shows the override. */
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, "--force", "--reason",
	    "stats not available on this server", NULL), 0);
	tu_run_free(&r);
	ck_assert_int_eq(e2e_run(&e, &r, 0, "audit", NULL), 0);
	ck_assert_msg(tu_has(r.out, "reason: stats not available on this server") &&
	    tu_has(r.out, "rule 9"), "%s", r.out);
	tu_run_free(&r);
	e2e_free(&e);

	/* Advisory (the default): a warning, and the drop ships. */
	walk(&e, "probe_noext_adv", NULL, 0);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, NULL), 0);
	ck_assert_msg(tu_has(r.out, "shipped " PLAN "/drop-name"), "%s", r.out);
	ck_assert_msg(tu_has(r.err, "warning: drop-name (contract) needs evidence") &&
	    tu_has(r.err, "CREATE EXTENSION pg_stat_statements"), "%s", r.err);
	tu_run_free(&r);
	e2e_free(&e);
}
END_TEST

START_TEST(test_advisory_warns_on_use)
{
	struct e2e e;
	struct run r;
	char *out;

	walk(&e, "probe_advisory", "probe: advisory\n", 1);
	app(e.ci, "SELECT name FROM users WHERE id = 5", 2);
	out = e2e_ok(&e, 1, "audit", NULL);
	ck_assert_msg(tu_has(out, "still used since") &&
	    tu_has(out, "SELECT name FROM users WHERE id = $1"), "%s", out);
	free(out);
	out = e2e_ok(&e, 1, "audit", "--format", "json", NULL);
	ck_assert_msg(tu_has(out, "\"usage\":{\"since\":\"") &&
	    tu_has(out, "\"databases\":1,\"gathered\":true") &&
	    tu_has(out, "\"calls\":2,\"text\":\"SELECT name FROM users WHERE "
	    "id = $1\""), "%s", out);
	free(out);
	/* The auditors' page shows the same evidence beside the plan's window. */
	out = e2e_ok(&e, 1, "audit", "--format", "html", NULL);
	ck_assert_msg(tu_has(out, "<pre class=\"usage\">") &&
	    tu_has(out, "still used since") &&
	    tu_has(out, "SELECT name FROM users WHERE id = $1"), "%.3000s", out);
	free(out);
	out = e2e_ok(&e, 1, "status", PLAN, NULL);
	ck_assert_msg(tu_has(out, "allowed now") &&
	    tu_has(out, "warning: drop-name (contract) removes what 1 statement") &&
	    tu_has(out, "SELECT name FROM users WHERE id = $1"), "%s", out);
	free(out);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, NULL), 0);
	ck_assert_msg(tu_has(r.err, "warning: drop-name (contract) removes what 1 "
	    "statement or object still uses"), "%s", r.err);
	tu_run_free(&r);
	e2e_free(&e);
}
END_TEST

START_TEST(test_stats_reset_reported)
{
	struct e2e e;
	struct run r;

	walk(&e, "probe_reset", "probe: required\n", 1);
	app(e.ci, "SELECT u.name FROM users u WHERE u.id = 9", 1);
	free(pt_sql(e.ci, "SELECT pg_stat_statements_reset()"));
	/* Calls before the reset are gone; the reset is said. */
	ck_assert_int_eq(e2e_run(&e, &r, 1, "probe", PLAN, "--fail-on", "used",
	    NULL), 0);
	ck_assert_msg(tu_has(r.out, "were reset at") &&
	    tu_has(r.out, "only calls since the reset are seen"), "%s", r.out);
	tu_run_free(&r);
	/* Calls after it count in full. */
	app(e.ci, "SELECT u.name FROM users u WHERE u.id = 9", 2);
	drop_refused(&e, "2 calls on the database: SELECT u.name FROM users u");
	e2e_free(&e);
}
END_TEST

START_TEST(test_functions_naming_old_column_are_use)
{
	struct e2e e;
	struct run r;

	walk(&e, "probe_funcs", "probe: required\n", 1);
	free(pt_sql(e.ci, "CREATE FUNCTION name_of(bigint) RETURNS text "
	    "LANGUAGE sql AS 'SELECT u.name FROM users u WHERE u.id = $1'"));
	free(pt_sql(e.ci, "CREATE FUNCTION full_name_of(bigint) RETURNS text "
	    "LANGUAGE sql AS 'SELECT full_name FROM users WHERE id = $1'"));
	free(pt_sql(e.ci, "CREATE FUNCTION shout() RETURNS trigger LANGUAGE "
	    "plpgsql AS $$BEGIN NEW.full_name := upper(NEW.name); RETURN NEW; "
	    "END$$; CREATE TRIGGER shout BEFORE UPDATE ON users FOR EACH ROW "
	    "EXECUTE FUNCTION shout()"));
	ck_assert_int_eq(e2e_run(&e, &r, 1, "probe", "--fail-on", "used", NULL), 4);
	ck_assert_msg(tu_has(r.out, "function name_of(bigint) names") &&
	    tu_has(r.out, "function shout() names") &&
	    !tu_has(r.out, "full_name_of") && !tu_has(r.out, "excon_sync"),
	    "%s", r.out);
	tu_run_free(&r);
	e2e_free(&e);
}
END_TEST

START_TEST(test_snapshots_in_the_postgresql_store)
{
	struct e2e e;
	char *out;

	/* The history in the target database (state: database). */
	e2e_setup(&e, "probe_pgstore", "probe: required\n");
	free(pt_sql(e.ci, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
	setenv("EXCON_STATE", "database", 1);
	setenv("EXCON_DATABASE", e.ci, 1);
	free(e2e_ok(&e, 0, "init", NULL));
	walk_steps(&e);
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.events WHERE kind = "
	    "'probe.snapshot' AND plan = '" PLAN "'", "1");
	app(e.ci, "SELECT x.name FROM public.users AS x WHERE x.id = 4", 2);
	drop_refused(&e, "2 calls on the database: SELECT x.name FROM "
	    "public.users AS x WHERE x.id = $1");
	free(e2e_ok(&e, 1, "probe", PLAN, "--restart", "--reason", "fixed", NULL));
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.events WHERE kind = "
	    "'probe.snapshot' AND reason = 'fixed'", "1");
	out = e2e_ok(&e, 1, "probe", "--fail-on", "used", NULL);
	ck_assert_msg(tu_has(out, "no use seen since"), "%s", out);
	free(out);
	ship(&e, "drop-name");
	unsetenv("EXCON_STATE");
	unsetenv("EXCON_DATABASE");
	e2e_free(&e);
}
END_TEST

/*
 * replicas: every server listed is read, and use there is named by the
 * server.  Here a second database of the test server stands for the
 * replica's server (pg_stat_statements filters by database, so its
 * counters are its own); test_use_on_a_streaming_standby uses a real one.
 */
START_TEST(test_use_on_a_replica)
{
	struct e2e e;
	char *rep = pt_db("probe_rep2"), *config;
	struct buf drop = BUF_INIT;

	e2e_users(rep, 10);
	free(pt_sql(rep, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
	config = xasprintf("probe: required\nreplicas:\n  - \"%s password=s3cret\"\n",
	    rep);
	walk(&e, "probe_rep1", config, 1);
	app(rep, "SELECT u.name FROM users u WHERE u.id = 3", 2);
	app(e.ci, "SELECT full_name FROM users WHERE id = 3", 2);
	drop_refused(&e, "2 calls on the replica ");
	drop_refused(&e, "dbname=probe_rep2");
	drop_refused(&e, "SELECT u.name FROM users u WHERE u.id = $1");
	{
		struct run r;

		ck_assert_int_eq(e2e_run(&e, &r, 1, "probe", "--fail-on", "used",
		    NULL), 4);
		ck_assert_msg(!tu_has(r.out, "s3cret") && !tu_has(r.err, "s3cret") &&
		    tu_has(r.out, "replica"), "%s", r.out);
		tu_run_free(&r);
		ck_assert_int_eq(e2e_run(&e, &r, 0, "log", PLAN, "--format", "json",
		    NULL), 0);
		/* The snapshot holds both servers' counters, no password. */
		ck_assert_msg(!tu_has(r.out, "s3cret") &&
		    tu_has(r.out, "\\n@\\tdatabase\\t") &&
		    tu_has(r.out, "\\n@\\treplica "), "%s", r.out);
		tu_run_free(&r);
	}
	e2e_free(&e);
	buf_printf(&drop, "DROP DATABASE IF EXISTS probe_rep2 WITH (FORCE)");
	free(pt_sql(tu_pg(), buf_cstr(&drop)));
	buf_free(&drop);
	free(config);
	free(rep);
}
END_TEST

/* Calls in ci's database of the statements whose text contains like. */
static long long
stmt_calls(const char *ci, const char *like)
{
	char *sql = xasprintf("SELECT coalesce(sum(calls), 0) FROM "
	    "pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE "
	    "datname = current_database()) AND query LIKE '%%%s%%'", like);
	long long n = e2e_num(ci, sql);

	free(sql);
	return n;
}

/*
 * The probe's read of the statistics, its look-up of the extension, and
 * its search of the catalog's function bodies (for one target, or for
 * every target at once).
 */
#define STATS_READ	"sum(s.calls)::bigint, min(s.query)"
#define STATS_OPEN	"FROM pg_extension e JOIN pg_namespace n"
#define FNS_ONE		"strpos(lower(p.prosrc), lower($1))"
#define FNS_ALL		"lower(x.word)"
#define DEPS_ONE	"to_regclass($1) AS rel"
#define DEPS_ALL	"to_regclass(x.rel) AS rel"

/*
 * Runs `excon cmd [arg1 [arg2]] --db` and asserts that it connected to
 * the database and to the replica rep `times` times each, read their
 * statistics as often and searched the database's dependencies and
 * functions as often (once per command, or per pass of advance --all),
 * whatever the number of plans; returns its stdout (owned).
 */
static char *
reads_per_server(struct e2e *e, const char *rep, long long times,
    const char *cmd, const char *arg1, const char *arg2)
{
	long long r0 = stmt_calls(e->ci, STATS_READ);
	long long o0 = stmt_calls(e->ci, STATS_OPEN);
	long long rr0 = stmt_calls(rep, STATS_READ);
	long long ro0 = stmt_calls(rep, STATS_OPEN);
	long long f0 = stmt_calls(e->ci, FNS_ONE), a0 = stmt_calls(e->ci, FNS_ALL);
	long long d0 = stmt_calls(e->ci, DEPS_ONE), da0 = stmt_calls(e->ci, DEPS_ALL);
	char *out = e2e_ok(e, 1, cmd, arg1, arg2, NULL);

	ck_assert_msg(stmt_calls(e->ci, STATS_READ) - r0 == times,
	    "%s read pg_stat_statements of the database %lld times", cmd,
	    stmt_calls(e->ci, STATS_READ) - r0);
	ck_assert_msg(stmt_calls(e->ci, STATS_OPEN) - o0 == times,
	    "%s connected to the database %lld times", cmd,
	    stmt_calls(e->ci, STATS_OPEN) - o0);
	ck_assert_msg(stmt_calls(rep, STATS_READ) - rr0 == times,
	    "%s read pg_stat_statements of the replica %lld times", cmd,
	    stmt_calls(rep, STATS_READ) - rr0);
	ck_assert_msg(stmt_calls(rep, STATS_OPEN) - ro0 == times,
	    "%s connected to the replica %lld times", cmd,
	    stmt_calls(rep, STATS_OPEN) - ro0);
	ck_assert_msg(stmt_calls(e->ci, FNS_ONE) - f0 == 0 &&
	    stmt_calls(e->ci, FNS_ALL) - a0 == times, "%s searched the functions "
	    "%lld times one by one, %lld times for all", cmd,
	    stmt_calls(e->ci, FNS_ONE) - f0, stmt_calls(e->ci, FNS_ALL) - a0);
	ck_assert_msg(stmt_calls(e->ci, DEPS_ONE) - d0 == 0 &&
	    stmt_calls(e->ci, DEPS_ALL) - da0 == times, "%s searched the "
	    "dependencies %lld times one by one, %lld times for all", cmd,
	    stmt_calls(e->ci, DEPS_ONE) - d0, stmt_calls(e->ci, DEPS_ALL) - da0);
	return out;
}

/* reads_per_server, once. */
static char *
once_per_server(struct e2e *e, const char *rep, const char *cmd)
{
	return reads_per_server(e, rep, 1, cmd, NULL, NULL);
}

/*
 * 30 plans wait in their contract windows: status, audit, probe and
 * advance --all read each server's pg_stat_statements once for all of
 * them (counted by the server itself), and still tell each plan's
 * evidence apart.
 */
START_TEST(test_many_plans_read_once)
{
	struct e2e e;
	struct buf sql = BUF_INIT;
	char *rep = pt_db("probe_many_rep"), *config, *out;
	int i;

	free(pt_sql(rep, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
	config = xasprintf("probe: required\nreplicas:\n  - \"%s\"\n", rep);
	e2e_setup(&e, "probe_many", config);
	free(pt_sql(e.ci, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
	for (i = 1; i <= 30; i++) {
		char *file = xasprintf("p%02d.yaml", i);
		char *yaml = xasprintf("plan: p%02d\nowner: team\nsteps:\n"
		    "  - id: add-column\n    kind: add_column\n    table: t%02d\n"
		    "    column: full_name\n    type: text\n"
		    "  - id: drop-name\n    kind: drop_column\n    table: t%02d\n"
		    "    column: name\n", i, i, i);

		e2e_plan(&e, file, yaml);
		buf_printf(&sql, "CREATE TABLE t%02d (id int, name text);", i);
		free(file);
		free(yaml);
	}
	free(pt_sql(e.ci, buf_cstr(&sql)));
	free(pt_sql(rep, buf_cstr(&sql)));
	/* A view still reads t20.name, a function of the application t12.name. */
	free(pt_sql(e.ci, "CREATE VIEW v20 AS SELECT name FROM t20"));
	free(pt_sql(e.ci, "CREATE FUNCTION name_of(int) RETURNS text LANGUAGE "
	    "sql AS 'SELECT name FROM t12 WHERE id = $1'"));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", "--all", "--record-only", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));
	free(e2e_ok(&e, 0, "release", "start", "r2", NULL));
	/* The old release of p07 still reads its column, on both servers. */
	app(e.ci, "SELECT name FROM t07 WHERE id = 1", 2);
	app(rep, "SELECT t.name FROM t07 t WHERE t.id = 2", 3);

	out = once_per_server(&e, rep, "status");
	ck_assert_int_eq(e2e_count(out, "next: drop-name"), 30);
	free(out);
	out = once_per_server(&e, rep, "audit");
	ck_assert_msg(e2e_count(out, "no use seen since") == 27 &&
	    e2e_count(out, "still used since") == 3 &&
	    e2e_count(out, " depends on ") == 1 &&
	    tu_has(out, "view v20 depends on \"public\".\"t20\".name") &&
	    tu_has(out, "2 calls on the database: SELECT name FROM t07 WHERE "
	    "id = $1") && tu_has(out, "3 calls on the replica ") &&
	    e2e_count(out, "function name_of(integer) names") == 1 &&
	    tu_has(out, "function name_of(integer) names \"public\".\"t12\".name"),
	    "%s", out);
	free(out);
	out = once_per_server(&e, rep, "probe");
	ck_assert_msg(e2e_count(out, "still used") == 3 &&
	    tu_has(out, "SELECT t.name FROM t07 t WHERE t.id = $1"), "%s", out);
	free(out);
	/*
	 * advance --all gathers the evidence of every contract it reaches
	 * through each pass's reads too: the 27 unused ship in the first
	 * pass, the 3 used wait, and a second pass finds nothing more to ship.
	 * Their contract window opens in r3 (contract_after: 2).
	 */
	free(e2e_ok(&e, 0, "release", "finish", "r2", NULL));
	free(e2e_ok(&e, 0, "release", "start", "r3", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r3", NULL));
	out = reads_per_server(&e, rep, 2, "advance", "--all", "--record-only");
	ck_assert_msg(e2e_count(out, "/drop-name (drop_column, post)") == 27 &&
	    !tu_has(out, "p07/") && !tu_has(out, "p12/") && !tu_has(out, "p20/"),
	    "%s", out);
	free(out);
	e2e_free(&e);
	buf_reset(&sql);
	buf_puts(&sql, "DROP DATABASE IF EXISTS probe_many_rep WITH (FORCE)");
	free(pt_sql(tu_pg(), buf_cstr(&sql)));
	buf_free(&sql);
	free(config);
	free(rep);
}
END_TEST

/* Starts the harness's streaming standby; returns its conninfo (owned). */
static char *
standby_start(void)
{
	struct run r;
	char *sci, *nl;

	tu_sh(&r, NULL, ". \"$EXCON_TESTS_DIR/pg.sh\" && pg_standby_start");
	ck_assert_msg(r.status == 0, "cannot start the standby: %s", r.err);
	sci = xstrdup(r.out);
	if ((nl = strchr(sci, '\n')) != NULL)
		*nl = '\0';
	tu_run_free(&r);
	e2e_wait_sql(tu_pg(), "SELECT count(*) FROM pg_stat_replication WHERE "
	    "state = 'streaming'", "1", 30000);
	return sci;
}

/* Stops and removes the standby, whatever the test did (runs in the parent). */
static void
standby_teardown(void)
{
	struct run r;

	tu_sh(&r, NULL, ". \"$EXCON_TESTS_DIR/pg.sh\" && pg_standby_stop");
	tu_run_free(&r);
}

/*
 * A real streaming standby listed under replicas:: an old-release query
 * run on the standby after the snapshot is named, with the standby, by
 * probe and by the refusal under probe: required; no password is shown.
 */
START_TEST(test_use_on_a_streaming_standby)
{
	struct e2e e;
	struct run r;
	char *sci = standby_start(), *rep, *config, *want;

	rep = xasprintf("%s dbname=probe_sb", sci);
	config = xasprintf("probe: required\nreplicas:\n  - \"%s password=s3cret\"\n",
	    rep);
	e2e_setup(&e, "probe_sb", config);
	free(pt_sql(e.ci, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
	e2e_wait_sql(sci, "SELECT count(*) FROM pg_database WHERE datname = "
	    "'probe_sb'", "1", 30000);
	walk_steps(&e);
	/* The old release's report job reads from the standby. */
	e2e_wait_sql(rep, "SELECT count(*) FROM pg_class WHERE relname = 'users'",
	    "1", 30000);
	app(rep, "SELECT r.name FROM users r WHERE r.id = 11", 2);
	want = xasprintf("2 calls on the replica %s", sci);
	drop_refused(&e, want);
	drop_refused(&e, "SELECT r.name FROM users r WHERE r.id = $1");
	ck_assert_int_eq(e2e_run(&e, &r, 1, "probe", PLAN, "--fail-on", "used",
	    NULL), 4);
	ck_assert_msg(tu_has(r.out, "still used") && tu_has(r.out, want) &&
	    tu_has(r.out, "SELECT r.name FROM users r WHERE r.id = $1") &&
	    !tu_has(r.out, "s3cret") && !tu_has(r.err, "s3cret"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, NULL), 3);
	ck_assert_msg(!tu_has(r.err, "s3cret") && !tu_has(r.out, "s3cret"),
	    "%s", r.err);
	tu_run_free(&r);
	e2e_free(&e);
	free(want);
	free(config);
	free(rep);
	free(sci);
}
END_TEST

/* Runs a shell command in e's project and asserts it succeeds; returns stdout (owned). */
static char *
sh_in(struct e2e *e, const char *cmd)
{
	struct run r;
	char *out;

	tu_sh(&r, e->dir, "%s", cmd);
	ck_assert_msg(r.status == 0, "%s: exit %d\n%s%s", cmd, r.status, r.out,
	    r.err);
	out = xstrdup(r.out);
	tu_run_free(&r);
	return out;
}

/* Runs excon with args in e's project (with the database), saving stdout to file. */
#define SAVE(e, file, ...) do { \
	char *o_ = e2e_ok((e), 1, __VA_ARGS__, NULL); \
	tu_write((e)->dir, (file), o_); \
	free(o_); \
} while (0)

/*
 * Rule 9 in CI: advance --format github refuses with an annotation that
 * says how to get past it, and audit's CI formats carry the evidence of
 * each pending contract as a finding on its step: W-STILL-USED (a
 * warning) with the statements, N-NO-USE-SEEN, N-USE-UNKNOWN (notes).
 */
START_TEST(test_evidence_in_ci_reports)
{
	struct e2e e;
	struct run r;
	char *out, *cmd;

	walk(&e, "probe_ci", "probe: required\n", 1);
	app(e.ci, "SELECT name FROM users WHERE id = 5", 2);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, "--format", "github",
	    NULL), 3);
	ck_assert_msg(tu_has(r.out, "::error file=plans/" PLAN ".yaml,line=32,col=5,"
	    "title=excon refused " PLAN "/drop-name (gate rule 9)::drop-name "
	    "(contract)"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "%0Afix: 'excon probe " PLAN "' shows the "
	    "evidence; once the application is fixed, 'excon probe " PLAN
	    " --restart --reason TEXT' starts a new window"), "%s", r.out);
	tu_run_free(&r);

	/* Used: a warning on the contract step, naming the statement. */
	out = e2e_ok(&e, 1, "audit", "--format", "github", NULL);
	ck_assert_msg(tu_has(out, "::warning file=plans/" PLAN ".yaml,line=32,col=5,"
	    "title=W-STILL-USED::contract " PLAN "/drop-name: still used (rule 9): "
	    "2 calls of `SELECT name FROM users WHERE id = $1` on the database; "
	    "since 20"), "%s", out);
	ck_assert_msg(tu_has(out, "%0Afix: change what still uses it, then 'excon "
	    "probe " PLAN " --restart --reason TEXT'"), "%s", out);
	free(out);
	SAVE(&e, "s.json", "audit", "--format", "sarif");
	cmd = xasprintf("/usr/bin/python3 '%s/schema_check.py' "
	    "'%s/data/sarif-schema-2.1.0.json' s.json", tu_tests_dir(),
	    tu_tests_dir());
	free(sh_in(&e, cmd));
	out = sh_in(&e, "jq -r '.runs[0].results[] | select(.ruleId == "
	    "\"W-STILL-USED\") | \"\\(.level) \\(.locations[0].physicalLocation."
	    "region.startLine)\"' s.json");
	ck_assert_str_eq(out, "warning 32\n");
	free(out);
	SAVE(&e, "gl.json", "audit", "--format", "gitlab");
	out = sh_in(&e, "jq -r '.[] | select(.check_name == \"W-STILL-USED\") | "
	    "\"\\(.severity) \\(.location.path) \\(.description)\"' gl.json");
	ck_assert_msg(tu_has(out, "minor plans/" PLAN ".yaml contract " PLAN
	    "/drop-name: still used (rule 9): 2 calls of `SELECT name FROM users "
	    "WHERE id = $1`"), "%s", out);
	free(out);
	SAVE(&e, "j.xml", "audit", "--format", "junit");
	free(sh_in(&e, "xmllint --noout j.xml"));
	out = sh_in(&e, "xmllint --xpath 'string(//testcase[@name=\"plans/" PLAN
	    ".yaml\"]/failure)' j.xml");
	ck_assert_msg(tu_has(out, "warning[W-STILL-USED]: contract " PLAN
	    "/drop-name: still used"), "%s", out);
	free(out);
	out = e2e_ok(&e, 1, "audit", "--format", "markdown", NULL);
	ck_assert_msg(tu_has(out, "| warning | `W-STILL-USED` | `plans/" PLAN
	    ".yaml:32:5` | contract " PLAN "/drop-name: still used"), "%s", out);
	free(out);

	/* Fixed, and a new window: nothing seen, a note. */
	free(e2e_ok(&e, 1, "probe", PLAN, "--restart", "--reason", "fixed", NULL));
	out = e2e_ok(&e, 1, "audit", "--format", "github", NULL);
	ck_assert_msg(tu_has(out, "::notice file=plans/" PLAN ".yaml,line=32,col=5,"
	    "title=N-NO-USE-SEEN::contract " PLAN "/drop-name: no use seen since "),
	    "%s", out);
	ck_assert_msg(tu_has(out, " across 1 database (rule 9)\n"), "%s", out);
	ck_assert_msg(!tu_has(out, "W-STILL-USED"), "%s", out);
	free(out);

	/* No statistics: not known, and how to enable them. */
	free(pt_sql(e.ci, "DROP EXTENSION pg_stat_statements"));
	out = e2e_ok(&e, 1, "audit", "--format", "github", NULL);
	ck_assert_msg(tu_has(out, "::notice file=plans/" PLAN ".yaml,line=32,col=5,"
	    "title=N-USE-UNKNOWN::contract " PLAN "/drop-name: use not known "
	    "(rule 9): "), "%s", out);
	ck_assert_msg(tu_has(out, "CREATE EXTENSION pg_stat_statements"), "%s", out);
	free(out);
	SAVE(&e, "s.json", "audit", "--format", "sarif");
	free(sh_in(&e, cmd));
	free(cmd);
	e2e_free(&e);
}
END_TEST

/*
 * Under `probe: advisory` the advance that ships despite evidence of use
 * says so as a warning annotation on the contract step.
 */
START_TEST(test_advisory_warning_annotation)
{
	struct e2e e;
	struct run r;

	walk(&e, "probe_ci_adv", "probe: advisory\n", 1);
	app(e.ci, "SELECT name FROM users WHERE id = 5", 2);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, "--format", "github",
	    NULL), 0);
	ck_assert_msg(tu_has(r.out, "::warning file=plans/" PLAN ".yaml,line=32,"
	    "col=5,title=excon advance warning on " PLAN "/drop-name::drop-name "
	    "(contract) removes what 1 statement or object still uses"), "%s",
	    r.out);
	ck_assert_msg(tu_has(r.out, "shipped " PLAN "/drop-name"), "%s", r.out);
	tu_run_free(&r);
	e2e_free(&e);
}
END_TEST

/* The probe suite. */
static Suite *
probe_cli_suite(void)
{
	Suite *s = suite_create("probe_cli");
	TCase *tc;

	tu_add(s, "alias use refused, restart allows",
	    test_alias_use_refused_then_restart_allows, NULL, NULL, 120);
	tu_add(s, "select star", test_select_star_is_use, NULL, NULL, 120);
	tu_add(s, "view", test_view_over_old_column_is_use, NULL, NULL, 120);
	tu_add(s, "functions", test_functions_naming_old_column_are_use,
	    NULL, NULL, 120);
	tu_add(s, "own statements", test_excon_own_statements_do_not_count,
	    NULL, NULL, 120);
	tu_add(s, "extension missing", test_extension_missing, NULL, NULL, 180);
	tu_add(s, "advisory", test_advisory_warns_on_use, NULL, NULL, 120);
	tu_add(s, "postgresql store", test_snapshots_in_the_postgresql_store,
	    NULL, NULL, 120);
	tu_add(s, "replica", test_use_on_a_replica, NULL, NULL, 120);
	tu_add(s, "stats reset", test_stats_reset_reported, NULL, NULL, 120);
	tu_add(s, "many plans, one read per server", test_many_plans_read_once,
	    NULL, NULL, 180);
	tu_add(s, "evidence in ci reports", test_evidence_in_ci_reports, NULL, NULL,
	    180);
	tu_add(s, "advisory warning annotation", test_advisory_warning_annotation,
	    NULL, NULL, 120);
	/* The standby goes even when the test fails: the teardown runs in the parent. */
	tc = tcase_create("use_on_a_streaming_standby");
	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, NULL, standby_teardown);
	tcase_add_test(tc, test_use_on_a_streaming_standby);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run_suite(probe_cli_suite());
}
