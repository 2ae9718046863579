/*
 * Tests of configuration: precedence flag > environment > excon.yaml >
 * built-in default, exercised through the real binary (which state file,
 * which plan directories, which database it ends up using), lists of plan
 * directories, and errors in excon.yaml reported as file:line:col.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "util/testutil.h"
#include "xalloc.h"

static char *dir;

/* No database from the environment: only what a test configures counts. */
#define NO_PG "PGHOST=", "PGHOSTADDR=", "PGDATABASE=", "PGSERVICE="

/* Writes a one-step plan called name into dir/sub. */
static void
plan_file(const char *sub, const char *name)
{
	char *path = xasprintf("%s/%s.yaml", sub, name);
	char *text = xasprintf("plan: %s\nsteps:\n  - {id: s, kind: code}\n", name);

	tu_write(dir, path, text);
	free(path);
	free(text);
}

/*
 * Runs excon in dir with env (NULL-terminated, may be NULL) and the
 * NULL-terminated arguments after it; returns the exit code.
 */
static int
ex(struct run *r, const char *const *env, ...)
{
	const char *argv[32];
	va_list ap;
	int n = 0;

	va_start(ap, env);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return tu_excon(r, dir, env, argv);
}

/* Runs excon, asserting exit code 0, and discards the output. */
static void
ok(const char *const *env, const char *a, const char *b, const char *c,
    const char *d, const char *e)
{
	struct run r;

	ck_assert_msg(ex(&r, env, a, b, c, d, e, (const char *)NULL) == 0,
	    "excon %s %s %s: %s", a, b ? b : "", c ? c : "", r.err);
	tu_run_free(&r);
}

/*
 * A directory with a state file and a plan directory per source:
 * state/excon.db and plans/ (defaults), file.db and file-plans/ (named by
 * excon.yaml when a test writes one), env.db and env-plans/, flag.db and
 * flag-plans/.  Each state file holds one release named after its source.
 */
static void
setup(void)
{
	static const char *const src[] = { "file", "env", "flag" };
	size_t i;

	unsetenv("EXCON_CONFIG");
	unsetenv("EXCON_PLANS");
	unsetenv("EXCON_STATE");
	unsetenv("EXCON_DATABASE");
	dir = tu_tmpdir();
	tu_state_init(dir, "state/excon.db");
	plan_file("plans", "default-plan");
	ok(NULL, "release", "start", "default", NULL, NULL);
	for (i = 0; i < 3; i++) {
		char *sub = xasprintf("%s-plans", src[i]);
		char *name = xasprintf("%s-plan", src[i]);
		char *db = xasprintf("%s.db", src[i]);
		char *rel = xasprintf("from-%s", src[i]);

		plan_file(sub, name);
		tu_state_init(dir, db);
		ok(NULL, "release", "start", rel, "--state", db);
		free(sub);
		free(name);
		free(db);
		free(rel);
	}
}

/* Removes the test directory. */
static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

/* The name of the only release `release list` shows with env and args. */
static void
state_used(const char *const *env, const char *flag, const char *want)
{
	struct run r;
	char *needle = xasprintf("\"name\":\"%s\"", want);
	int rc;

	if (flag != NULL)
		rc = ex(&r, env, "release", "list", "--format", "json", "--state",
		    flag, (const char *)NULL);
	else
		rc = ex(&r, env, "release", "list", "--format", "json",
		    (const char *)NULL);
	ck_assert_msg(rc == 0, "release list: %s", r.err);
	ck_assert_msg(tu_has(r.out, needle), "expected release %s, got %s", want,
	    r.out);
	ck_assert_msg(strstr(r.out, "\"seq\":2") == NULL, "%s", r.out);
	free(needle);
	tu_run_free(&r);
}

/* Asserts that `status --format json` shows exactly the plans in want. */
static void
plans_used(const char *const *env, const char *const *args,
    const char *const *want)
{
	static const char *const all[] = { "default-plan", "file-plan",
	    "env-plan", "flag-plan", "a-plan", "b-plan", NULL };
	const char *argv[16] = { "status", "--format", "json" };
	struct run r;
	size_t i, j, n = 3;

	for (i = 0; args != NULL && args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ck_assert_msg(tu_excon(&r, dir, env, argv) == 0, "status: %s", r.err);
	for (i = 0; all[i] != NULL; i++) {
		char *needle = xasprintf("\"plan\":\"%s\"", all[i]);
		int expect = 0;

		for (j = 0; want[j] != NULL; j++)
			expect |= strcmp(want[j], all[i]) == 0;
		ck_assert_msg(tu_has(r.out, needle) == expect, "plan %s %s in %s",
		    all[i], expect ? "missing" : "unexpected", r.out);
		free(needle);
	}
	tu_run_free(&r);
}

START_TEST(test_state_precedence)
{
	const char *const env[] = { "EXCON_STATE=env.db", NULL };
	char *path;

	/* Built-in default. */
	state_used(NULL, NULL, "default");
	/* excon.yaml beats the default. */
	tu_write(dir, "excon.yaml", "state: file.db\n");
	state_used(NULL, NULL, "from-file");
	/* The environment beats excon.yaml. */
	state_used(env, NULL, "from-env");
	/* The flag beats the environment. */
	state_used(env, "flag.db", "from-flag");
	/* Without excon.yaml the environment beats the default. */
	path = xasprintf("%s/excon.yaml", dir);
	ck_assert_int_eq(unlink(path), 0);
	free(path);
	state_used(env, NULL, "from-env");
}
END_TEST

START_TEST(test_state_flag_before_command)
{
	const char *const env[] = { "EXCON_STATE=env.db", NULL };
	struct run r;

	/* Global options work before the command name too. */
	ck_assert_int_eq(ex(&r, env, "--state", "flag.db", "release", "list",
	    (const char *)NULL), 0);
	ck_assert_msg(tu_has(r.out, "from-flag") && !tu_has(r.out, "from-env"),
	    "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(ex(&r, env, "--state=flag.db", "release", "list",
	    (const char *)NULL), 0);
	ck_assert_msg(tu_has(r.out, "from-flag"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_plans_precedence)
{
	const char *const env[] = { "EXCON_PLANS=env-plans", NULL };
	const char *const flag[] = { "--plans", "flag-plans", NULL };
	const char *const w_default[] = { "default-plan", NULL };
	const char *const w_file[] = { "file-plan", NULL };
	const char *const w_env[] = { "env-plan", NULL };
	const char *const w_flag[] = { "flag-plan", NULL };

	plans_used(NULL, NULL, w_default);
	tu_write(dir, "excon.yaml", "plans: file-plans\n");
	plans_used(NULL, NULL, w_file);
	plans_used(env, NULL, w_env);
	plans_used(env, flag, w_flag);
}
END_TEST

START_TEST(test_plan_dir_lists)
{
	const char *const w_two[] = { "file-plan", "env-plan", NULL };
	const char *const w_three[] = { "default-plan", "env-plan", "flag-plan",
	    NULL };
	const char *const env[] = { "EXCON_PLANS=plans:env-plans:flag-plans",
	    NULL };
	const char *const flag[] = { "--plans", "file-plans,env-plans", NULL };

	tu_write(dir, "excon.yaml", "plans:\n  - file-plans\n  - env-plans\n");
	plans_used(NULL, NULL, w_two);
	tu_write(dir, "excon.yaml", "plans: [file-plans, env-plans]\n");
	plans_used(NULL, NULL, w_two);
	tu_write(dir, "excon.yaml", "plans: file-plans:env-plans\n");
	plans_used(NULL, NULL, w_two);
	plans_used(env, NULL, w_three);
	plans_used(env, flag, w_two);
}
END_TEST

START_TEST(test_config_file_precedence)
{
	const char *const env[] = { "EXCON_CONFIG=env.yaml", NULL };
	const char *const empty[] = { "EXCON_CONFIG=", NULL };
	struct run r;

	tu_write(dir, "excon.yaml", "state: file.db\n");
	tu_write(dir, "env.yaml", "state: env.db\n");
	tu_write(dir, "flag.yaml", "state: flag.db\n");
	state_used(NULL, NULL, "from-file");
	/* EXCON_CONFIG beats ./excon.yaml. */
	state_used(env, NULL, "from-env");
	/* --config beats EXCON_CONFIG, before or after the command name. */
	ck_assert_int_eq(ex(&r, env, "release", "list", "--config", "flag.yaml",
	    (const char *)NULL), 0);
	ck_assert_msg(tu_has(r.out, "from-flag"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(ex(&r, env, "--config", "flag.yaml", "release", "list",
	    (const char *)NULL), 0);
	ck_assert_msg(tu_has(r.out, "from-flag"), "%s", r.out);
	tu_run_free(&r);
	/* An empty EXCON_CONFIG is unset. */
	state_used(empty, NULL, "from-file");
}
END_TEST

START_TEST(test_config_file_missing)
{
	const char *const env[] = { "EXCON_CONFIG=gone.yaml", NULL };
	struct run r;

	/* A named file that does not exist is an error, not a silent default. */
	ck_assert_int_eq(ex(&r, NULL, "status", "--config", "gone.yaml",
	    (const char *)NULL), 2);
	ck_assert_str_eq(r.err, "excon: cannot open 'gone.yaml': No such file "
	    "or directory\n");
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	ck_assert_int_eq(ex(&r, env, "release", "list", (const char *)NULL), 2);
	ck_assert_str_eq(r.err, "excon: cannot open 'gone.yaml': No such file "
	    "or directory\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_database_precedence)
{
	const char *const none[] = { NO_PG, NULL };
	const char *const env_empty[] = { NO_PG, "EXCON_DATABASE=", NULL };
	const char *const env_set[] = { NO_PG,
	    "EXCON_DATABASE=host=/nonexistent/env-socket password=env-secret",
	    NULL };
	struct run r;

	tu_write(dir, "steps/db.yaml", "plan: db\nsteps:\n"
	    "  - {id: add, kind: add_column, table: t, column: c, type: int}\n");
	/* Nothing configured: a DB step needs --db or --record-only. */
	ck_assert_int_eq(ex(&r, none, "advance", "db", "--plans", "steps",
	    (const char *)NULL), 2);
	ck_assert_msg(tu_has(r.err, "no database is configured") &&
	    tu_has(r.err, "--db"), "%s", r.err);
	tu_run_free(&r);

	/*
	 * excon.yaml's database counts as configured: the step is tried (and
	 * fails: there is no server).  The exit code is not asserted here:
	 * see test_advance_runtime_failure_exit_code in check_cli.c.
	 */
	tu_write(dir, "excon.yaml", "plans: steps\ndatabase: host=/nonexistent/"
	    "file-socket password=file-secret\n");
	ck_assert_int_ne(ex(&r, none, "advance", "db", (const char *)NULL), 2);
	ck_assert_msg(!tu_has(r.err, "no database is configured"), "%s", r.err);
	ck_assert_msg(tu_has(r.err, "db/add"), "%s", r.err);
	ck_assert_msg(!tu_has(r.err, "file-secret") && !tu_has(r.out,
	    "file-secret"), "password printed: %s", r.err);
	tu_run_free(&r);
	/* ...until an empty EXCON_DATABASE overrides it... */
	ck_assert_int_eq(ex(&r, env_empty, "advance", "db", (const char *)NULL), 2);
	ck_assert_msg(tu_has(r.err, "no database is configured"), "%s", r.err);
	tu_run_free(&r);
	/* ...which --db overrides in turn; an empty --db overrides the env. */
	ck_assert_int_ne(ex(&r, env_empty, "advance", "db", "--db",
	    "host=/nonexistent/flag-socket password=flag-secret",
	    (const char *)NULL), 2);
	ck_assert_msg(!tu_has(r.err, "no database is configured"), "%s", r.err);
	ck_assert_msg(!tu_has(r.err, "flag-secret"), "password printed: %s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(ex(&r, env_set, "advance", "db", "--db", "",
	    (const char *)NULL), 2);
	ck_assert_msg(tu_has(r.err, "no database is configured"), "%s", r.err);
	tu_run_free(&r);
	/* No attempt shipped anything. */
	ck_assert_int_eq(ex(&r, NULL, "release", "list", (const char *)NULL), 0);
	ck_assert_msg(!tu_has(r.out, "db/add"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_contract_after_from_config)
{
	struct run r;

	/* The configured default is what the gates and lint use. */
	tu_write(dir, "excon.yaml", "plans: rename\nstate: rename.db\n"
	    "contract_after: 3\n");
	tu_state_init(dir, "rename.db");
	tu_state_init(dir, "other.db");
	tu_write(dir, "rename/rename.yaml",
	    "plan: rename\n"
	    "contract_after: 2\n"
	    "steps:\n"
	    "  - {id: switch-reads, kind: switch_reads}\n"
	    "  - {id: drop, kind: drop_column, table: t, column: c}\n");
	ck_assert_int_eq(ex(&r, NULL, "lint", (const char *)NULL), 4);
	ck_assert_str_eq(r.out, "rename/rename.yaml:2:17: error[E-PLAN-RULE]: "
	    "contract_after 2 is below the configured default 3: a plan may "
	    "raise it, never lower it\n1 error, 0 warnings\n");
	tu_run_free(&r);
	ok(NULL, "release", "start", "v1", NULL, NULL);
	ok(NULL, "advance", "rename", "--record-only", NULL, NULL);
	ok(NULL, "release", "finish", "v1", NULL, NULL);
	ok(NULL, "release", "start", "v2", NULL, NULL);
	ok(NULL, "release", "finish", "v2", NULL, NULL);
	ck_assert_int_eq(ex(&r, NULL, "status", (const char *)NULL), 0);
	ck_assert_msg(tu_has(r.out, "drop (contract) needs 3 releases after "
	    "switch-reads (shipped in v1, #1); 1 has passed (v2, #2); allowed "
	    "from release #4"), "%s", r.out);
	tu_run_free(&r);
	/* A flag-named state file still takes the rest from excon.yaml. */
	ck_assert_int_eq(ex(&r, NULL, "status", "--state", "other.db",
	    (const char *)NULL), 0);
	ck_assert_msg(tu_has(r.out, "rename  0/2 shipped"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_malformed_config)
{
	struct run r;

	tu_write(dir, "excon.yaml", "plans: plans\nstate: [a, b\ncontract_after: 2\n");
	ck_assert_int_eq(ex(&r, NULL, "status", (const char *)NULL), 2);
	ck_assert_str_eq(r.err, "excon: excon.yaml:3:15: did not find expected "
	    "',' or ']' while parsing a flow sequence started at line 2, column "
	    "8\n");
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	/* Every command refuses, with the file it read. */
	tu_write(dir, "other.yaml", "state: x.db\n  plans: y\n");
	ck_assert_int_eq(ex(&r, NULL, "release", "list", "--config", "other.yaml",
	    (const char *)NULL), 2);
	ck_assert_str_eq(r.err, "excon: other.yaml:2:8: mapping values are not "
	    "allowed in this context\n");
	tu_run_free(&r);
	tu_write(dir, "excon.yaml", "- plans\n- state\n");
	ck_assert_int_eq(ex(&r, NULL, "status", (const char *)NULL), 2);
	ck_assert_str_eq(r.err, "excon: excon.yaml:1:1: expected a mapping of "
	    "settings\n");
	tu_run_free(&r);
	tu_write(dir, "excon.yaml", "state: a.db\nstate: b.db\n");
	ck_assert_int_eq(ex(&r, NULL, "status", (const char *)NULL), 2);
	ck_assert_str_eq(r.err, "excon: excon.yaml:2:1: duplicate key \"state\" "
	    "(first at line 1)\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_unknown_setting)
{
	struct run r;

	tu_write(dir, "excon.yaml", "plans: plans\nstat: s.db\n");
	ck_assert_int_eq(ex(&r, NULL, "status", (const char *)NULL), 2);
	ck_assert_str_eq(r.err, "excon: excon.yaml:2:1: unknown setting \"stat\" "
	    "(expected plans, state, database, contract_after, lock_timeout, "
	    "statement_timeout, lock_retries, replicas, probe, backfill or lint)\n");
	tu_run_free(&r);
	tu_write(dir, "excon.yaml", "backfill:\n  batch_size: 10\n  batchsize: 5\n");
	ck_assert_int_eq(ex(&r, NULL, "status", (const char *)NULL), 2);
	ck_assert_str_eq(r.err, "excon: excon.yaml:3:3: unknown backfill setting "
	    "\"batchsize\" (expected batch_size, target_batch_ms, pause_ms, max_replica_lag or max_xact_age)\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_wrong_setting_types)
{
	static const struct {
		const char	*yaml;
		const char	*err;
	} cases[] = {
		{ "contract_after: soon\n", "excon: excon.yaml:1:17: "
		    "\"contract_after\" must be a whole number, not \"soon\"\n" },
		{ "lock_retries: -1\n", "excon: excon.yaml:1:15: \"lock_retries\" "
		    "must be a whole number, not \"-1\"\n" },
		{ "backfill: 3\n", "excon: excon.yaml:1:11: \"backfill\" must be a "
		    "mapping\n" },
		{ "backfill: {pause_ms: [1]}\n", "excon: excon.yaml:1:22: "
		    "\"pause_ms\" must be a number\n" },
		{ "plans: {a: b}\n", "excon: excon.yaml:1:8: \"plans\" must be a "
		    "directory or a list of directories\n" },
		{ "plans: []\n", "excon: excon.yaml:1:8: \"plans\" names no "
		    "directory\n" },
		{ "plans: [a, [b]]\n", "excon: excon.yaml:1:12: expected a "
		    "directory\n" },
		{ "state: [x]\n", "excon: excon.yaml:1:8: \"state\" must be a "
		    "single value\n" },
		{ "state: \"\"\n", "excon: excon.yaml:1:8: \"state\" names no "
		    "file\n" },
		{ "lock_timeout: 2 seconds\n", "excon: excon.yaml:1:15: "
		    "\"lock_timeout\" must be a duration like 2s, 500ms or 1min, not "
		    "\"2 seconds\"\n" },
		{ "statement_timeout: forever\n", "excon: excon.yaml:1:20: "
		    "\"statement_timeout\" must be a duration like 2s, 500ms or 1min, "
		    "not \"forever\"\n" },
		{ "lint: {exclude_rules: [E-NOPE]}\n", "excon: excon.yaml:1:24: "
		    "exclude_rules: unknown rule \"E-NOPE\" (excon lint --rules lists "
		    "them)\n" },
		{ "lint: {assume_in_transaction: maybe}\n", "excon: excon.yaml:1:31: "
		    "\"assume_in_transaction\" must be true or false\n" },
		{ "lint: {strict: true}\n", "excon: excon.yaml:1:8: unknown lint "
		    "setting \"strict\" (expected assume_in_transaction or "
		    "exclude_rules)\n" },
		{ "lint: ~\n", "excon: excon.yaml:1:7: \"lint\" must be a mapping\n" },
		{ "lint: {exclude_rules: E-NOPE}\n", "excon: excon.yaml:1:23: "
		    "\"exclude_rules\" must be a list of rule ids\n" },
		{ "backfill: {max_xact_age: soon}\n", "excon: excon.yaml:1:26: "
		    "\"max_xact_age\" must be a duration such as 2s or 10min (0 = off)\n" },
		{ "backfill: {batch_size: ~}\n", "excon: excon.yaml:1:24: "
		    "\"batch_size\" must be a whole number, not \"~\"\n" },
		{ "replicas: host=a\n", "excon: excon.yaml:1:11: \"replicas\" must "
		    "be a list of conninfos\n" },
		{ "replicas: [host=a, \"\"]\n", "excon: excon.yaml:1:20: expected a "
		    "conninfo\n" },
		{ "database: [x]\n", "excon: excon.yaml:1:11: \"database\" must be "
		    "a single value\n" },
	};
	struct run r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tu_write(dir, "excon.yaml", cases[i].yaml);
		ck_assert_int_eq(ex(&r, NULL, "status", (const char *)NULL), 2);
		ck_assert_str_eq(r.err, cases[i].err);
		tu_run_free(&r);
	}
}
END_TEST

START_TEST(test_empty_config_is_defaults)
{
	tu_write(dir, "excon.yaml", "# nothing set yet\n");
	state_used(NULL, NULL, "default");
	tu_write(dir, "excon.yaml", "");
	state_used(NULL, NULL, "default");
	/* Settings left empty keep their defaults. */
	tu_write(dir, "excon.yaml", "state:\nplans: ~\ncontract_after: null\n"
	    "database:\n");
	state_used(NULL, NULL, "default");
}
END_TEST

/* Direct tests of config_load, from inside dir. */

START_TEST(test_load_every_setting)
{
	struct config c;
	struct buf err = BUF_INIT;

	ck_assert_int_eq(chdir(dir), 0);
	config_init(&c);
	ck_assert_str_eq(c.plan_dirs[0], "plans");
	ck_assert_ptr_null(c.plan_dirs[1]);
	ck_assert_str_eq(c.state_path, "state/excon.db");
	ck_assert_str_eq(c.database, "");
	ck_assert_int_eq(c.database_set, 0);
	ck_assert_int_eq(c.contract_after, 2);
	ck_assert_str_eq(c.lock_timeout, "2s");
	ck_assert_str_eq(c.statement_timeout, "0");
	ck_assert_int_eq(c.lock_retries, 10);
	ck_assert_int_eq(c.batch_size, 1000);
	ck_assert_int_eq(c.target_batch_ms, 25);
	ck_assert_int_eq(c.pause_ms, 0);
	ck_assert_int_eq(c.max_replica_lag_ms, 2000);
	ck_assert_int_eq(c.max_xact_age_ms, 600000);
	ck_assert_ptr_null(c.replicas[0]);
	tu_write(dir, "excon.yaml",
	    "plans: [a, b]\n"
	    "state: s/x.db\n"
	    "database: \"dbname=app\"\n"
	    "contract_after: 4\n"
	    "lock_timeout: 500ms\n"
	    "statement_timeout: 1min\n"
	    "lock_retries: 3\n"
	    "replicas: ['host=r1 dbname=app', 'host=r2']\n"
	    "backfill: {batch_size: 50, target_batch_ms: 20, pause_ms: 5,"
	    " max_replica_lag: 500ms, max_xact_age: 0}\n");
	ck_assert_int_eq(config_load(&c, NULL, &err), 0);
	ck_assert_str_eq(c.file, "excon.yaml");
	ck_assert_str_eq(c.plan_dirs[0], "a");
	ck_assert_str_eq(c.plan_dirs[1], "b");
	ck_assert_ptr_null(c.plan_dirs[2]);
	ck_assert_str_eq(c.state_path, "s/x.db");
	ck_assert_str_eq(c.database, "dbname=app");
	ck_assert_int_eq(c.database_set, 1);
	ck_assert_int_eq(c.contract_after, 4);
	ck_assert_str_eq(c.lock_timeout, "500ms");
	ck_assert_str_eq(c.statement_timeout, "1min");
	ck_assert_int_eq(c.lock_retries, 3);
	ck_assert_int_eq(c.batch_size, 50);
	ck_assert_int_eq(c.target_batch_ms, 20);
	ck_assert_int_eq(c.pause_ms, 5);
	ck_assert_int_eq(c.max_replica_lag_ms, 500);
	ck_assert_int_eq(c.max_xact_age_ms, 0);
	ck_assert_str_eq(c.replicas[0], "host=r1 dbname=app");
	ck_assert_str_eq(c.replicas[1], "host=r2");
	ck_assert_ptr_null(c.replicas[2]);
	config_free(&c);

	/* The environment on top of the file. */
	setenv("EXCON_PLANS", "x,y:z", 1);
	setenv("EXCON_STATE", "env.db", 1);
	setenv("EXCON_DATABASE", "dbname=env", 1);
	config_init(&c);
	ck_assert_int_eq(config_load(&c, NULL, &err), 0);
	ck_assert_str_eq(c.plan_dirs[0], "x");
	ck_assert_str_eq(c.plan_dirs[1], "y");
	ck_assert_str_eq(c.plan_dirs[2], "z");
	ck_assert_str_eq(c.state_path, "env.db");
	ck_assert_str_eq(c.database, "dbname=env");
	ck_assert_int_eq(c.contract_after, 4);
	/* An empty list changes nothing. */
	config_set_plans(&c, ":,");
	ck_assert_str_eq(c.plan_dirs[0], "x");
	config_free(&c);
	buf_free(&err);
}
END_TEST

START_TEST(test_init_writes_the_defaults)
{
	struct config def, c;
	struct buf err = BUF_INIT;
	struct run r;

	/* The excon.yaml that init writes loads and says what the defaults say. */
	tu_rmrf(dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(ex(&r, NULL, "init", (const char *)NULL), 0);
	ck_assert_msg(tu_has(r.out, "created  excon.yaml"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(chdir(dir), 0);
	config_init(&def);
	config_init(&c);
	ck_assert_int_eq(config_load(&c, NULL, &err), 0);
	ck_assert_str_eq(c.plan_dirs[0], def.plan_dirs[0]);
	ck_assert_ptr_null(c.plan_dirs[1]);
	ck_assert_str_eq(c.state_path, def.state_path);
	ck_assert_str_eq(c.database, def.database);
	ck_assert_int_eq(c.contract_after, def.contract_after);
	ck_assert_str_eq(c.lock_timeout, def.lock_timeout);
	ck_assert_str_eq(c.statement_timeout, def.statement_timeout);
	ck_assert_int_eq(c.lock_retries, def.lock_retries);
	ck_assert_int_eq(c.batch_size, def.batch_size);
	ck_assert_int_eq(c.target_batch_ms, def.target_batch_ms);
	ck_assert_int_eq(c.pause_ms, def.pause_ms);
	ck_assert_int_eq(access("state/excon.db", F_OK), 0);
	ck_assert_int_eq(access("plans", F_OK), 0);
	config_free(&def);
	config_free(&c);
	buf_free(&err);
}
END_TEST

START_TEST(test_probe_setting)
{
	static const struct {
		const char	*yaml;
		int		 want;
	} ok[] = {
		{ "probe: off\n", CONFIG_PROBE_OFF },
		{ "probe: advisory\n", CONFIG_PROBE_ADVISORY },
		{ "probe: required\n", CONFIG_PROBE_REQUIRED },
	};
	struct config c;
	struct buf err = BUF_INIT;
	struct run r;
	size_t i;

	ck_assert_int_eq(chdir(dir), 0);
	config_init(&c);
	ck_assert_int_eq(c.probe, CONFIG_PROBE_ADVISORY);
	config_free(&c);
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		tu_write(dir, "excon.yaml", ok[i].yaml);
		config_init(&c);
		ck_assert_int_eq(config_load(&c, NULL, &err), 0);
		ck_assert_int_eq(c.probe, ok[i].want);
		config_free(&c);
	}
	tu_write(dir, "excon.yaml", "replicas:\n  - host=r1\n  - \"host=r2 "
	    "port=5433\"\n");
	config_init(&c);
	ck_assert_int_eq(config_load(&c, NULL, &err), 0);
	ck_assert_str_eq(c.replicas[0], "host=r1");
	ck_assert_str_eq(c.replicas[1], "host=r2 port=5433");
	ck_assert_ptr_null(c.replicas[2]);
	config_free(&c);
	tu_write(dir, "excon.yaml", "replicas: []\n");
	config_init(&c);
	ck_assert_int_eq(config_load(&c, NULL, &err), 0);
	ck_assert_ptr_null(c.replicas[0]);
	config_free(&c);
	tu_write(dir, "excon.yaml", "contract_after: 2\nprobe: always\n");
	ck_assert_int_eq(ex(&r, NULL, "status", (const char *)NULL), 2);
	ck_assert_str_eq(r.err, "excon: excon.yaml:2:8: \"probe\" must be off, "
	    "advisory or required\n");
	tu_run_free(&r);
	buf_free(&err);
}
END_TEST

/* Adds test as its own TCase (one behaviour each) to s. */
static void
add(Suite *s, const char *name, const TTest *test)
{
	tu_add(s, name, test, setup, teardown, 60);
}

/* The config suite. */
static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");

	add(s, "state precedence", test_state_precedence);
	add(s, "state flag first", test_state_flag_before_command);
	add(s, "plans precedence", test_plans_precedence);
	add(s, "plan dir lists", test_plan_dir_lists);
	add(s, "config file precedence", test_config_file_precedence);
	add(s, "config file missing", test_config_file_missing);
	add(s, "database precedence", test_database_precedence);
	add(s, "contract_after", test_contract_after_from_config);
	add(s, "malformed", test_malformed_config);
	add(s, "unknown setting", test_unknown_setting);
	add(s, "wrong types", test_wrong_setting_types);
	add(s, "empty config", test_empty_config_is_defaults);
	add(s, "every setting", test_load_every_setting);
	add(s, "init defaults", test_init_writes_the_defaults);
	add(s, "probe setting", test_probe_setting);
	return s;
}

int
main(void)
{
	return tu_run_suite(config_suite());
}
