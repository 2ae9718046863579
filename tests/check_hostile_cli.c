/*
 * Hostile and careless input, through the real binary: a plan can do only
 * what it declares (a comment or an extra statement in a SQL field can
 * neither change nor extend the statement excon builds), check and
 * advance refuse what lint refuses, no password leaks through libpq's own
 * messages, and deep or huge inputs get an answer, not a crash or a hang.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/e2e.h"
#include "util/testutil.h"

/* A plan that adds a column and backfills it through `set` with a comment. */
static const char comment_plan[] =
    "plan: logins\n"
    "steps:\n"
    "  - id: add\n"
    "    kind: add_column\n"
    "    table: users\n"
    "    column: logins\n"
    "    type: integer  -- number of logins\n"
    "    default: 0\n"
    "  - id: add-copy\n"
    "    kind: add_column\n"
    "    table: users\n"
    "    column: full_name\n"
    "    type: text\n"
    "  - id: copy\n"
    "    kind: backfill\n"
    "    table: users\n"
    "    set: full_name = name  -- copy the old value\n"
    "    where: full_name IS NULL  -- only the missing ones\n"
    "    batch_size: 100\n"
    "    verify: SELECT count(*) = 0 FROM users WHERE full_name IS NULL; -- all\n";

/*
 * A comment in `set` does not swallow the batch range (each row is
 * updated once, not once per batch) and a comment in `type` does not
 * drop the DEFAULT.
 */
START_TEST(test_comments_change_nothing)
{
	struct e2e e;

	e2e_setup(&e, "hostile_comments", NULL);
	e2e_plan(&e, "logins.yaml", comment_plan);
	e2e_users(e.ci, 1000);
	/* Every row update of users is counted. */
	free(pt_sql(e.ci, "CREATE TABLE upd (n int);"
	    "CREATE FUNCTION count_upd() RETURNS trigger LANGUAGE plpgsql AS"
	    " $$BEGIN INSERT INTO upd VALUES (1); RETURN NEW; END$$;"
	    "CREATE TRIGGER count_upd AFTER UPDATE ON users FOR EACH ROW"
	    " EXECUTE FUNCTION count_upd()"));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", "logins", "--to", "add-copy", NULL));
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE logins = 0", "1000");
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", "logins", NULL));
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name = name", "1000");
	pt_sql_eq(e.ci, "SELECT count(*) FROM upd", "1000");
	e2e_free(&e);
}
END_TEST

/* A dual_write whose `up` hides a second statement. */
static const char extra_plan[] =
    "plan: sync\n"
    "steps:\n"
    "  - id: add\n"
    "    kind: add_column\n"
    "    table: users\n"
    "    column: full_name\n"
    "    type: text\n"
    "  - id: dual\n"
    "    kind: dual_write\n"
    "    table: users\n"
    "    from: name\n"
    "    to: full_name\n"
    "    trigger: true\n"
    "    up: \"NEW.name; DELETE FROM users\"\n";

/* A CHECK that closes `CHECK (` and appends a statement. */
static const char check_plan[] =
    "plan: guard\n"
    "steps:\n"
    "  - id: positive\n"
    "    kind: add_constraint\n"
    "    table: users\n"
    "    name: users_id_positive\n"
    "    check: \"id > 0) NOT VALID; DELETE FROM users; SELECT (1\"\n";

/*
 * advance runs lint's analysis on the step first: an extra statement is
 * refused with exit 4, nothing runs and nothing is recorded as failed.
 */
START_TEST(test_extra_statements_refused)
{
	struct e2e e;
	struct run r;
	char *out;

	e2e_setup(&e, "hostile_extra", NULL);
	e2e_plan(&e, "sync.yaml", extra_plan);
	e2e_plan(&e, "guard.yaml", check_plan);
	e2e_users(e.ci, 10);
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", "sync", "--to", "add", NULL));

	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", "sync", NULL), 4);
	ck_assert_msg(tu_has(r.err, "plans/sync.yaml:14:19: error[E-SQL-FRAGMENT]: "
	    "step \"dual\": \"up\" must be one expression, not 2 statements"),
	    "%s", r.err);
	ck_assert_msg(tu_has(r.err, "refused: sync/dual does not lint clean"),
	    "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", "guard", NULL), 4);
	ck_assert_msg(tu_has(r.err, "refused: guard/positive does not lint clean"),
	    "%s", r.err);
	tu_run_free(&r);
	/* The dry run refuses the same way. */
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", "guard", "--dry-run", NULL), 4);
	tu_run_free(&r);

	pt_sql_eq(e.ci, "SELECT count(*) FROM users", "10");
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'users'::regclass", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_constraint WHERE conname = 'users_id_positive'", "0");
	/* Nothing blocks the plans: the steps were never started. */
	out = e2e_ok(&e, 0, "log", NULL);
	ck_assert_msg(!tu_has(out, "failed"), "%s", out);
	free(out);
	e2e_free(&e);
}
END_TEST

/* A plan whose expand step drops a table: lint and check both fail. */
static const char drop_plan[] =
    "plan: sneaky\n"
    "steps:\n"
    "  - id: cleanup\n"
    "    kind: sql\n"
    "    phase: expand\n"
    "    stage: pre\n"
    "    up: DROP TABLE IF EXISTS audit\n";

/* check runs the whole analysis lint runs. */
START_TEST(test_check_runs_sql_analysis)
{
	struct run r;
	char *d = tu_tmpdir();
	const char *init[] = { "init", NULL }, *check[] = { "check", NULL };
	const char *json[] = { "check", "--format", "json", NULL };

	ck_assert_int_eq(tu_excon(&r, d, NULL, init), 0);
	tu_run_free(&r);
	tu_write(d, "plans/sneaky.yaml", drop_plan);
	ck_assert_int_eq(tu_excon(&r, d, NULL, check), 4);
	ck_assert_msg(tu_has(r.out, "plans/sneaky.yaml:7:9: error[E-DROP-TABLE]"),
	    "%s", r.out);
	ck_assert_msg(tu_has(r.out, "check: 1 problem"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(tu_excon(&r, d, NULL, json), 4);
	ck_assert_msg(tu_has(r.out, "\"kind\":\"sql\""), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

/* Names PostgreSQL would truncate, or that would end excon's DO blocks. */
static const char names_plan[] =
    "plan: names\n"
    "steps:\n"
    "  - id: c\n"
    "    kind: add_constraint\n"
    "    table: users\n"
    "    name: \"x$excon$y\"\n"
    "    check: id > 0\n"
    "  - id: n\n"
    "    kind: add_column\n"
    "    table: a_table_name_that_is_longer_than_the_sixty_three_bytes_postgres_keeps\n"
    "    column: q\n"
    "    type: int\n";

/* Unusable names are lint errors at their file:line:col. */
START_TEST(test_unusable_names_rejected)
{
	struct run r;
	char *d = tu_tmpdir();
	const char *lint[] = { "lint", NULL };

	tu_write(d, "plans/names.yaml", names_plan);
	ck_assert_int_eq(tu_excon(&r, d, NULL, lint), 4);
	ck_assert_msg(tu_has(r.out, "plans/names.yaml:6:11: error[E-PLAN-SCHEMA]: "
	    "step \"c\": \"name\" may not contain '$excon$'"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "plans/names.yaml:10:12: error[E-PLAN-SCHEMA]: "
	    "step \"n\": \"table\" name is 69 bytes long; PostgreSQL keeps only 63"),
	    "%s", r.out);
	ck_assert_msg(tu_has(r.out, "2 errors"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

/*
 * No form of a malformed URI or conninfo makes excon print its password,
 * not even inside libpq's own messages.  Each password holds "Zq7" before
 * any character libpq might split it at.
 */
START_TEST(test_password_never_printed)
{
	static const char *const bad[] = {
		"postgresql://u:Zq7SecretPW@[::1/db",
		"postgresql://u:Zq7SecretPW@[::1]x/db",
		"postgresql://u:Zq7SecretPW@[]/db",
		"postgresql://u:Zq7Sec%zzretPW@host/db",
		"postgresql://u:Zq7Sec%2FretPW@[::1/db",
		"postgresql://u:Zq7Sec%00retPW@h/db",
		"postgresql://u:Zq7SecretPW%@h/db",
		"postgresql://u:Zq7/SecretPW@nohost.invalid/db",
		"postgresql://u:Zq7?SecretPW@nohost.invalid/db",
		"postgresql://u:Zq7@SecretPW@[::1/db",
		"postgresql://u:Zq7SecretPW@h:99999/db",
		"postgres://u:Zq7SecretPW@h/db?bogus=1",
		"postgresql://u@h/db?password=Zq7SecretPW&sslmode=bogus",
		"postgresql://u@[::1/db?password=Zq7SecretPW",
		"host=h password=Zq7SecretPW sslmode=bogus",
		"host=h password='Zq7Secret PW' port=x",
		"password=Zq7SecretPW host=/nonexistent",
		"password='Zq7SecretPW",
		"host=h password = Zq7SecretPW bogus",
	};
	struct run r;
	char *d = tu_tmpdir();
	const char *init[] = { "init", NULL };
	size_t i;

	ck_assert_int_eq(tu_excon(&r, d, NULL, init), 0);
	tu_run_free(&r);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *av[] = { "verify", "--db", bad[i], NULL };
		const char *js[] = { "verify", "--db", bad[i], "--format", "json", NULL };

		ck_assert_int_ne(tu_excon(&r, d, NULL, av), 0);
		ck_assert_msg(tu_has(r.err, "cannot connect"), "%s: %s", bad[i], r.err);
		ck_assert_msg(!tu_has(r.out, "Zq7") && !tu_has(r.err, "Zq7") &&
		    !tu_has(r.err, "Secret"), "%s leaked: %s%s", bad[i], r.out, r.err);
		tu_run_free(&r);
		(void)tu_excon(&r, d, NULL, js);
		ck_assert_msg(!tu_has(r.out, "Zq7") && !tu_has(r.err, "Zq7"),
		    "%s leaked: %s%s", bad[i], r.out, r.err);
		tu_run_free(&r);
	}
	tu_rmrf(d);
	free(d);
}
END_TEST

/* A plan whose contract step fails, with a `down`, and a fractional lock_timeout. */
static const char contract_plan[] =
    "plan: things\n"
    "steps:\n"
    "  - id: add\n"
    "    kind: add_column\n"
    "    table: things\n"
    "    column: extra\n"
    "    type: int\n"
    "    lock_timeout: 1.5s\n"
    "  - id: purge\n"
    "    kind: sql\n"
    "    phase: contract\n"
    "    stage: post\n"
    "    up: UPDATE things SET extra = 1 / (id - id) WHERE id > 0\n"
    "    down: SELECT 1\n";

/*
 * A duration lint accepts (1.5s) is one advance can use; --force
 * --reason on the database path records the reason; a failed contract
 * step is not offered a rollback that would then be refused.
 */
START_TEST(test_careless_settings)
{
	struct e2e e;
	struct run r;
	char *out;

	e2e_setup(&e, "hostile_settings", "lock_timeout: 2.5s\n");
	e2e_plan(&e, "things.yaml", contract_plan);
	free(pt_sql(e.ci, "CREATE TABLE things (id int PRIMARY KEY);"
	    "INSERT INTO things SELECT g FROM generate_series(1, 10) g"));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	out = e2e_ok(&e, 1, "advance", "things", "--force", "--reason",
	    "hotfix 42", NULL);
	ck_assert_msg(tu_has(out, "shipped things/add"), "%s", out);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'things' AND column_name = 'extra'", "1");
	out = e2e_ok(&e, 0, "log", NULL);
	ck_assert_msg(tu_has(out, "(reason: hotfix 42)"), "%s", out);
	free(out);

	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", "things", "--force",
	    "--reason", "window", NULL), 1);
	ck_assert_msg(tu_has(r.err, "things/purge failed"), "%s", r.err);
	ck_assert_msg(tu_has(r.err, "(a contract step, so it cannot be rolled back)"),
	    "%s", r.err);
	ck_assert_msg(!tu_has(r.err, "excon rollback"), "%s", r.err);
	tu_run_free(&r);

	/* The failed step removed from the file: check and status say so. */
	e2e_plan(&e, "things.yaml", "plan: things\nsteps:\n  - id: add\n"
	    "    kind: add_column\n    table: things\n    column: extra\n"
	    "    type: int\n    lock_timeout: 1.5s\n");
	ck_assert_int_eq(e2e_run(&e, &r, 0, "check", NULL), 4);
	ck_assert_msg(tu_has(r.out, "things: step purge failed part way in r1 (#1) "
	    "but is no longer in plans/things.yaml"), "%s", r.out);
	tu_run_free(&r);
	out = e2e_ok(&e, 0, "status", "things", NULL);
	ck_assert_msg(!tu_has(out, "complete: every step shipped"), "%s", out);
	ck_assert_msg(tu_has(out, "not complete: step purge failed part way in r1 (#1)"),
	    "%s", out);
	free(out);
	e2e_free(&e);
}
END_TEST

/* Bytes that are not UTF-8 never make --format json invalid. */
START_TEST(test_json_stays_utf8)
{
	struct run r;
	char *d = tu_tmpdir();
	const char *lint[] = { "lint", "--sql", "bad.sql", "--format", "json", NULL };

	tu_write(d, "bad.sql", "DROP TABLE \"t\xff\xfe\";\nDROP TABLE \"ok\xc3\xa9\";\n");
	ck_assert_int_eq(tu_excon(&r, d, NULL, lint), 4);
	ck_assert_msg(tu_has(r.out, "public.t\\ufffd\\ufffd"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "public.ok\xc3\xa9"), "%s", r.out);
	ck_assert_msg(strchr(r.out, '\xff') == NULL, "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

/* A state file whose schema version is negative is corrupt, not newer. */
START_TEST(test_negative_schema_version)
{
	struct run r;
	char *d = tu_tmpdir();
	const char *init[] = { "init", NULL }, *status[] = { "status", NULL };

	ck_assert_int_eq(tu_excon(&r, d, NULL, init), 0);
	tu_run_free(&r);
	ck_assert_int_eq(tu_sh(&r, d, "sqlite3 state/excon.db 'PRAGMA user_version = -1'"), 0);
	tu_run_free(&r);
	ck_assert_int_eq(tu_excon(&r, d, NULL, status), 1);
	ck_assert_msg(tu_has(r.err, "'state/excon.db' is corrupt: it carries no "
	    "schema version"), "%s", r.err);
	ck_assert_msg(!tu_has(r.err, "newer"), "%s", r.err);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

/* One TCase per behaviour. */
static Suite *
hostile_cli_suite(void)
{
	Suite *s = suite_create("hostile_cli");
	struct { const char *name; const TTest *t; } tests[] = {
		{ "comments_change_nothing", test_comments_change_nothing },
		{ "extra_statements_refused", test_extra_statements_refused },
		{ "check_runs_sql_analysis", test_check_runs_sql_analysis },
		{ "unusable_names_rejected", test_unusable_names_rejected },
		{ "password_never_printed", test_password_never_printed },
		{ "careless_settings", test_careless_settings },
		{ "json_stays_utf8", test_json_stays_utf8 },
		{ "negative_schema_version", test_negative_schema_version },
	};
	size_t i;

	for (i = 0; i < sizeof tests / sizeof tests[0]; i++)
		tu_add(s, tests[i].name, tests[i].t, NULL, NULL, 60);
	return s;
}

int
main(void)
{
	return tu_run_suite(hostile_cli_suite());
}
