/*
 * excon lint through the binary: SQL findings located in plan files,
 * other tools' migration files judged against the plans' contract windows,
 * output formats and exit codes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

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
