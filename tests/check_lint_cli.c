/*
 * excon lint through the binary: SQL findings located in plan files,
 * other tools' migration files judged against the plans' contract windows,
 * output formats and exit codes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util/testutil.h"

static const char rename_plan[] =
	"plan: users-full-name\n"
	"owner: accounts\n"
	"steps:\n"
	"  - id: add-column\n"
	"    kind: add_column\n"
	"    table: users\n"
	"    column: full_name\n"
	"    type: text\n"
	"  - id: stop-old-writes\n"
	"    kind: stop_old_writes\n"
	"  - id: drop-name\n"
	"    kind: drop_column\n"
	"    table: users\n"
	"    column: name\n";

static const char migration[] =
	"-- V12__drop_name.sql\n"
	"ALTER TABLE IF EXISTS users DROP COLUMN IF EXISTS name;\n";

/* A project with the rename plan and a migration file. */
static char *
project(void)
{
	char *d = tu_tmpdir();

	tu_write(d, "plans/users-full-name.yaml", rename_plan);
	tu_write(d, "V12.sql", migration);
	tu_state_init(d, "state/excon.db");
	return d;
}

START_TEST(test_sql_step_finding_located_in_plan_file)
{
	char *d = tu_tmpdir();
	struct run r;

	/* The DROP sits on line 9, column 7 of the file (block content). */
	tu_write(d, "plans/p.yaml",
	    "plan: p\n"
	    "steps:\n"
	    "  - id: cleanup\n"
	    "    kind: sql\n"
	    "    phase: expand\n"
	    "    stage: pre\n"
	    "    up: |\n"
	    "      ALTER TABLE users ADD COLUMN IF NOT EXISTS x int;\n"
	    "      ALTER TABLE users DROP COLUMN IF EXISTS name;\n");
	tu_excon_str(&r, d, "lint");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "plans/p.yaml:9:7: error[E-DROP-COLUMN]"),
	    "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_sql_file_closed_window_names_plan_and_step)
{
	char *d = project();
	struct run r;

	tu_excon_str(&r, d, "lint --sql V12.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "V12.sql:2:1: error[E-DROP-COLUMN]"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "users-full-name/drop-name"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_sql_file_open_window_passes)
{
	char *d = project();
	struct run r;
	const char *cmds[] = {
		"release start v1", "advance users-full-name --record-only",
		"release start v2", "advance users-full-name --record-only",
		"release start v3", "release start v4", NULL
	};
	int i;

	for (i = 0; cmds[i] != NULL; i++) {
		tu_excon_str(&r, d, "%s", cmds[i]);
		ck_assert_msg(r.status == 0, "%s: %s", cmds[i], r.err);
		tu_run_free(&r);
	}
	tu_excon_str(&r, d, "lint --sql V12.sql");
	ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
	ck_assert(!tu_has(r.out, "E-DROP-COLUMN"));
	tu_run_free(&r);
	/* Another column of the same table is still not covered. */
	tu_write(d, "V13.sql", "ALTER TABLE users DROP COLUMN IF EXISTS email;\n");
	tu_excon_str(&r, d, "lint --sql V13.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "no plan covers"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_formats_and_fail_on_warning)
{
	char *d = project();
	struct run r;

	tu_write(d, "V14.sql", "CREATE TABLE t (id bigint PRIMARY KEY);\n");
	tu_excon_str(&r, d, "lint --sql V14.sql");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(tu_has(r.out, "warning[W-NOT-IDEMPOTENT]"), "%s", r.out);
	tu_run_free(&r);
	tu_excon_str(&r, d, "lint --sql V14.sql --fail-on warning");
	ck_assert_int_eq(r.status, 4);
	tu_run_free(&r);
	tu_excon_str(&r, d, "lint --sql V14.sql --format json");
	ck_assert_int_eq(r.status, 0);
	ck_assert(tu_has(r.out, "\"rule\": \"W-NOT-IDEMPOTENT\""));
	ck_assert(tu_has(r.out, "\"line\": 1"));
	ck_assert(tu_has(r.out, "\"fix\":"));
	tu_run_free(&r);
	tu_excon_str(&r, d, "lint --sql V12.sql --format github");
	ck_assert(tu_has(r.out, "::error file=V12.sql,line=2,col=1,title=E-DROP-COLUMN::"));
	tu_run_free(&r);
	tu_excon_str(&r, d, "lint --sql V12.sql --format yaml");
	ck_assert_int_eq(r.status, 2);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_allow_comment_needs_reason)
{
	char *d = project();
	struct run r;

	tu_write(d, "V15.sql", "-- excon:allow E-UNBATCHED-DELETE tiny lookup table\n"
	    "DELETE FROM settings;\n"
	    "-- excon:allow E-UNBATCHED-UPDATE\n"
	    "UPDATE settings SET v = 1;\n");
	tu_excon_str(&r, d, "lint --sql V15.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "allowed: tiny lookup table"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "E-ALLOW-NO-REASON"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_missing_sql_file_is_usage_error)
{
	char *d = project();
	struct run r;

	tu_excon_str(&r, d, "lint --sql nope.sql");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "nope.sql"), "%s", r.err);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_directory_recursive_in_name_order)
{
	char *d = project();
	struct run r;
	const char *a, *b, *c;

	tu_write(d, "db/migration/V2__b.sql", "ALTER TABLE users DROP COLUMN a;\n");
	tu_write(d, "db/migration/V1__a.sql", "ALTER TABLE users DROP COLUMN b;\n");
	tu_write(d, "db/migration/sub/V3__c.sql", "ALTER TABLE users DROP COLUMN c;\n");
	tu_write(d, "db/migration/README.md", "DROP TABLE users;\n");
	tu_excon_str(&r, d, "lint --sql db/migration");
	ck_assert_int_eq(r.status, 4);
	a = strstr(r.out, "db/migration/V1__a.sql:1:1: error[E-DROP-COLUMN]");
	b = strstr(r.out, "db/migration/V2__b.sql:1:1: error[E-DROP-COLUMN]");
	c = strstr(r.out, "db/migration/sub/V3__c.sql:1:1: error[E-DROP-COLUMN]");
	ck_assert_msg(a != NULL && b != NULL && c != NULL && a < b && b < c,
	    "%s", r.out);
	ck_assert_msg(!tu_has(r.out, "README"), "%s", r.out);
	tu_run_free(&r);
	/* A directory holding nothing to lint says so. */
	tu_write(d, "empty/notes.txt", "");
	tu_excon_str(&r, d, "lint --sql empty");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "excon: no .sql files under 'empty'\n");
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_stdin)
{
	char *d = project();
	struct run r;

	tu_sh(&r, d, "printf 'ALTER TABLE users DROP COLUMN IF EXISTS x;\\n' | "
	    "NO_COLOR=1 \"$EXCON_BIN\" lint --sql -");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "-:1:1: error[E-DROP-COLUMN]: drop of column "
	    "\"public.users.x\""), "%s", r.out);
	tu_run_free(&r);
	tu_sh(&r, d, "printf 'SELECT 1;\\n' | \"$EXCON_BIN\" lint -");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "0 errors, 0 warnings\n");
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_sql_needs_a_path)
{
	char *d = project();
	struct run r;

	tu_excon_str(&r, d, "lint --sql");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "option '--sql' needs a value"), "%s", r.err);
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_missing_path_is_usage_error_in_both_modes)
{
	char *d = project();
	struct run r;

	tu_excon_str(&r, d, "lint nosuch.yaml");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "excon: cannot read 'nosuch.yaml': No such file "
	    "or directory\n");
	tu_run_free(&r);
	tu_excon_str(&r, d, "lint --sql nosuch.sql");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "excon: cannot read 'nosuch.sql': No such file "
	    "or directory\n");
	tu_run_free(&r);
	/* A plan that exists but does not load is a finding: exit 4. */
	tu_write(d, "plans/bad.yaml", "plan: [\n");
	tu_excon_str(&r, d, "lint plans/bad.yaml");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "plans/bad.yaml:"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "error[E-PLAN-SCHEMA]"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_plan_and_sql_paths_together)
{
	char *d = project();
	struct run r;

	/* The YAML is a plan, the --sql file is SQL; neither is read as the other. */
	tu_excon_str(&r, d, "lint plans/users-full-name.yaml --sql V12.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(!tu_has(r.out, "E-SYNTAX"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "V12.sql:2:1: error[E-DROP-COLUMN]"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_flyway_concurrent_index_passes)
{
	char *d = project();
	struct run r;

	/* The most common safe migration of all, as Flyway runs it. */
	tu_write(d, "db/migration/V2__add_index.sql",
	    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_name ON users (name);\n");
	tu_excon_str(&r, d, "lint --sql db/migration/V2__add_index.sql");
	ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
	ck_assert_str_eq(r.out, "0 errors, 0 warnings\n");
	tu_run_free(&r);
	/* Flyway runs a script of only such statements outside a transaction. */
	tu_excon_str(&r, d, "lint --assume-in-transaction --sql "
	    "db/migration/V2__add_index.sql");
	ck_assert_msg(r.status == 0, "%s", r.out);
	tu_run_free(&r);
	/* Mixed with others and told files run in a transaction: an error, in the file's words. */
	tu_write(d, "db/migration/V2__add_index.sql",
	    "ALTER TABLE users ADD COLUMN IF NOT EXISTS nick text;\n"
	    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_name ON users (name);\n");
	tu_excon_str(&r, d, "lint --assume-in-transaction --sql "
	    "db/migration/V2__add_index.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "error[E-CONCURRENT-IN-TX]"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "fix: run it outside a transaction"), "%s", r.out);
	ck_assert_msg(!tu_has(r.out, "transaction: false"), "%s", r.out);
	tu_run_free(&r);
	/* The same from excon.yaml. */
	tu_write(d, "excon.yaml", "lint:\n  assume_in_transaction: true\n");
	tu_excon_str(&r, d, "lint --sql db/migration/V2__add_index.sql");
	ck_assert_int_eq(r.status, 4);
	tu_run_free(&r);
	/* A long comment line of the .conf is one line, whatever its tail says. */
	{
		struct buf conf = BUF_INIT;
		int i;

		buf_puts(&conf, "# ");
		for (i = 0; i < 509; i++)
			buf_putc(&conf, 'x');
		buf_puts(&conf, "executeInTransaction = false\n");
		tu_write(d, "db/migration/V2__add_index.sql.conf", buf_cstr(&conf));
		buf_free(&conf);
	}
	tu_excon_str(&r, d, "lint --sql db/migration/V2__add_index.sql");
	ck_assert_msg(r.status == 4, "%s", r.out);
	tu_run_free(&r);
	/* Flyway's per-script setting, in a .conf beside the script. */
	tu_write(d, "db/migration/V2__add_index.sql.conf",
	    "# flyway\nexecuteInTransaction = false\n");
	tu_excon_str(&r, d, "lint --sql db/migration/V2__add_index.sql");
	ck_assert_msg(r.status == 0, "%s", r.out);
	tu_run_free(&r);
	/* The markers of goose, dbmate and excon itself. */
	tu_write(d, "g.sql", "-- +goose Up\n-- +goose NO TRANSACTION\nSELECT 1;\n"
	    "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (a);\n");
	tu_write(d, "m.sql", "-- migrate:up transaction:false\nSELECT 1;\n"
	    "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (a);\n");
	tu_write(d, "e.sql", "-- excon:no-transaction\nSELECT 1;\n"
	    "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (a);\n");
	tu_excon_str(&r, d, "lint --sql g.sql --sql m.sql --sql e.sql");
	ck_assert_msg(r.status == 0, "%s", r.out);
	tu_run_free(&r);
	/* BEGIN in the file: inside it, it cannot run. */
	tu_write(d, "b.sql", "BEGIN;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i "
	    "ON users (a);\nCOMMIT;\n");
	tu_write(d, "excon.yaml", "");
	tu_excon_str(&r, d, "lint --sql b.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "b.sql:2:1: error[E-CONCURRENT-IN-TX]"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_exclude_rules_and_allow_file)
{
	char *d = project();
	struct run r;

	tu_write(d, "V5.sql", "CREATE TABLE t (id bigint PRIMARY KEY);\n"
	    "CREATE INDEX i ON users (a);\n");
	tu_write(d, "excon.yaml", "lint:\n  exclude_rules: [W-NOT-IDEMPOTENT]\n");
	tu_excon_str(&r, d, "lint --sql V5.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(!tu_has(r.out, "W-NOT-IDEMPOTENT"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "V5.sql:2:1: error[E-INDEX-NOT-CONCURRENT]"), "%s", r.out);
	tu_run_free(&r);
	/* A misspelt rule id is refused, not silently ignored. */
	tu_write(d, "excon.yaml", "lint:\n  exclude_rules: [W-NOT-IDEMPOTNET]\n");
	tu_excon_str(&r, d, "lint --sql V5.sql");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "excon.yaml:2:19: exclude_rules: unknown rule "
	    "\"W-NOT-IDEMPOTNET\""), "%s", r.err);
	tu_run_free(&r);
	tu_write(d, "excon.yaml", "");
	/* One file: every statement, with the reason shown. */
	tu_write(d, "V6.sql", "-- excon:allow-file E-INDEX-NOT-CONCURRENT,W-NOT-IDEMPOTENT "
	    "the table is empty until v3\n"
	    "CREATE INDEX i ON users (a);\n\nCREATE INDEX j ON users (b);\n");
	tu_excon_str(&r, d, "lint --sql V6.sql");
	ck_assert_msg(r.status == 0, "%s", r.out);
	ck_assert_msg(tu_has(r.out, "V6.sql:4:1: allowed[E-INDEX-NOT-CONCURRENT]"),
	    "%s", r.out);
	ck_assert_msg(tu_has(r.out, "allowed: the table is empty until v3"), "%s", r.out);
	tu_run_free(&r);
	/* Without a reason, or naming no real rule, it is an error. */
	tu_write(d, "V7.sql", "-- excon:allow-file E-INDEX-NOT-CONCURRENT\n"
	    "CREATE INDEX IF NOT EXISTS i ON users (a);\n"
	    "-- excon:allow-file E-NOPE because\n");
	tu_excon_str(&r, d, "lint --sql V7.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "V7.sql:1:1: error[E-ALLOW-NO-REASON]: "
	    "excon:allow-file E-INDEX-NOT-CONCURRENT has no reason"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "V7.sql:2:1: error[E-INDEX-NOT-CONCURRENT]"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "error[E-ALLOW-UNKNOWN-RULE]: excon:allow-file "
	    "names unknown rule \"E-NOPE\""), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_rules_of_plain_files)
{
	char *d = project();
	struct run r;

	tu_write(d, "V8.sql", "TRUNCATE users;\n"
	    "LOCK TABLE users IN ACCESS EXCLUSIVE MODE;\n"
	    "DROP INDEX CONCURRENTLY IF EXISTS idx_users_name;\n"
	    "ALTER TABLE users RENAME COLUMN name TO full_name;\n"
	    "ALTER TABLE users ALTER COLUMN c SET EXPRESSION AS (a + 1);\n");
	tu_excon_str(&r, d, "lint --sql V8.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "V8.sql:1:1: error[E-TRUNCATE]"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "V8.sql:2:1: error[E-LOCK-TABLE]"), "%s", r.out);
	/* Dropping an index breaks no code: a warning, not an error. */
	ck_assert_msg(tu_has(r.out, "V8.sql:3:1: warning[E-DROP-INDEX]"), "%s", r.out);
	ck_assert_msg(!tu_has(r.out, "V8.sql:3:1: error"), "%s", r.out);
	/* A rename is not promised to become legal. */
	ck_assert_msg(tu_has(r.out, "V8.sql:4:1: error[E-RENAME-COLUMN]"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "a rename never becomes safe"), "%s", r.out);
	ck_assert_msg(!tu_has(r.out, "becomes legal"), "%s", r.out);
	/* PostgreSQL 17 syntax: the message says which grammar was used. */
	ck_assert_msg(tu_has(r.out, "V8.sql:5:"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "(excon parses with the grammar of PostgreSQL 15;"),
	    "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

/*
 * Without a history, lint of other tools' files takes every contract window
 * as closed and says so; lint of plans alone needs no history at all.
 */
START_TEST(test_sql_file_without_history_says_so)
{
	char *d = project();
	struct run r;

	ck_assert_int_eq(tu_sh(&r, d, "rm state/excon.db"), 0);
	tu_run_free(&r);
	tu_excon_str(&r, d, "lint --sql V12.sql");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.err, "excon: no history at 'state/excon.db': "
	    "every contract window is taken as closed"), "%s", r.err);
	ck_assert_msg(tu_has(r.out, "V12.sql:2:1: error[E-DROP-COLUMN]"), "%s", r.out);
	tu_run_free(&r);
	tu_excon_str(&r, d, "lint");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(!tu_has(r.err, "no history"), "%s", r.err);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

/* The lint CLI suite. */
static Suite *
lint_cli_suite(void)
{
	Suite *s = suite_create("lint_cli");
	struct { const char *name; const TTest *t; } cases[] = {
		{ "plan_location", test_sql_step_finding_located_in_plan_file },
		{ "closed_window", test_sql_file_closed_window_names_plan_and_step },
		{ "open_window", test_sql_file_open_window_passes },
		{ "formats", test_formats_and_fail_on_warning },
		{ "allow", test_allow_comment_needs_reason },
		{ "missing_file", test_missing_sql_file_is_usage_error },
		{ "directory", test_directory_recursive_in_name_order },
		{ "stdin", test_stdin },
		{ "sql_needs_path", test_sql_needs_a_path },
		{ "missing_path", test_missing_path_is_usage_error_in_both_modes },
		{ "plan_and_sql", test_plan_and_sql_paths_together },
		{ "transactions", test_flyway_concurrent_index_passes },
		{ "exclude_allow_file", test_exclude_rules_and_allow_file },
		{ "plain_rules", test_rules_of_plain_files },
		{ "no_history", test_sql_file_without_history_says_so },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		tu_add(s, cases[i].name, cases[i].t, NULL, NULL, 60);
	return s;
}

int
main(void)
{
	return tu_run_suite(lint_cli_suite());
}
