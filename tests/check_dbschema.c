/*
 * Tests of the excon schema of a target database (src/dbschema.c)
 * against the test server: the ledger and the backfill cursors created
 * with their recorded version, tables made by an excon that recorded no
 * version (with the DDL it ran) accepted or upgraded, a newer version
 * refused, a role that may write but not own, the lock keys older excons
 * take, the plan lock.  Every test works in a database of its own.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dbschema.h"
#include "util/pgtest.h"
#include "util/testutil.h"

/* The ledger as excon created it before it recorded the history. */
#define OLD_LEDGER_V1							\
	"CREATE SCHEMA IF NOT EXISTS excon;"				\
	"CREATE TABLE IF NOT EXISTS excon.ledger ("			\
	" plan text NOT NULL, step text NOT NULL, checksum text NOT NULL,"	\
	" applied_at timestamptz NOT NULL DEFAULT now(),"		\
	" applied_by text NOT NULL DEFAULT current_user,"		\
	" PRIMARY KEY (plan, step));"

/* What the previous excon ran for the ledger (no recorded version). */
#define OLD_LEDGER_V2							\
	OLD_LEDGER_V1							\
	"ALTER TABLE excon.ledger"					\
	" ADD COLUMN IF NOT EXISTS history_id text"			\
	"  DEFAULT current_setting('excon.history_id', true),"		\
	" ADD COLUMN IF NOT EXISTS release text"			\
	"  DEFAULT current_setting('excon.release', true),"		\
	" ADD COLUMN IF NOT EXISTS actor text"				\
	"  DEFAULT current_setting('excon.actor', true);"

/* What the previous excon ran for the backfill cursors. */
#define OLD_BACKFILL							\
	"CREATE SCHEMA IF NOT EXISTS excon;"				\
	"CREATE TABLE IF NOT EXISTS excon.backfill ("			\
	" plan text NOT NULL, step text NOT NULL,"			\
	" key_columns text[] NOT NULL, cursor text[],"			\
	" rows_done bigint NOT NULL DEFAULT 0, rows_updated bigint NOT NULL DEFAULT 0,"	\
	" rows_total bigint NOT NULL DEFAULT 0, finished boolean NOT NULL DEFAULT false,"	\
	" started_at timestamptz NOT NULL DEFAULT now(),"		\
	" updated_at timestamptz NOT NULL DEFAULT now(),"		\
	" PRIMARY KEY (plan, step));"

/* The columns of a table, "name type" in order, comma-separated. */
#define COLUMNS(t)							\
	"SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', '"	\
	" ORDER BY attnum) FROM pg_attribute WHERE attrelid = '" t "'::regclass"	\
	" AND attnum > 0 AND NOT attisdropped"

#define LEDGER_COLUMNS							\
	"plan text, step text, checksum text, applied_at timestamp with time zone, "	\
	"applied_by text, history_id text, release text, actor text"

#define COMMENT(t) "SELECT coalesce(obj_description('" t "'::regclass, 'pg_class'), '')"

/* Connects to conninfo. */
static struct pg *
db_open(const char *ci)
{
	struct pg *db = NULL;
	struct buf err = BUF_INIT;

	ck_assert_msg(pg_connect(&db, ci, "excon-test", &err) == 0, "%s", buf_cstr(&err));
	buf_free(&err);
	return db;
}

/* Ensures part on conninfo and asserts that it worked. */
static void
ensure_ok(const char *ci, enum dbschema_part part)
{
	struct pg *db = db_open(ci);
	struct buf err = BUF_INIT;

	ck_assert_msg(dbschema_ensure(db, part, &err) == 0, "%s", buf_cstr(&err));
	pg_close(db);
	buf_free(&err);
}

/* The version of part on conninfo. */
static int
version_of(const char *ci, enum dbschema_part part)
{
	struct pg *db = db_open(ci);
	struct buf err = BUF_INIT;
	int v = -1;

	ck_assert_msg(dbschema_version(db, part, &v, NULL, &err) == 0, "%s", buf_cstr(&err));
	pg_close(db);
	buf_free(&err);
	return v;
}

START_TEST(test_created_with_version)
{
	char *ci = pt_db("dbs_new");

	ck_assert_int_eq(version_of(ci, DBSCHEMA_LEDGER), 0);
	ensure_ok(ci, DBSCHEMA_LEDGER);
	ensure_ok(ci, DBSCHEMA_BACKFILL);
	pt_sql_eq(ci, COLUMNS("excon.ledger"), LEDGER_COLUMNS);
	pt_sql_eq(ci, COLUMNS("excon.backfill"), "plan text, step text, key_columns text[], "
	    "cursor text[], rows_done bigint, rows_updated bigint, rows_total bigint, "
	    "finished boolean, started_at timestamp with time zone, updated_at timestamp with time zone");
	pt_sql_eq(ci, COMMENT("excon.ledger"), "excon schema version 2");
	pt_sql_eq(ci, COMMENT("excon.backfill"), "excon schema version 1");
	ck_assert_int_eq(version_of(ci, DBSCHEMA_LEDGER), 2);
	ck_assert_int_eq(version_of(ci, DBSCHEMA_BACKFILL), 1);
	/* Again: nothing changes. */
	ensure_ok(ci, DBSCHEMA_LEDGER);
	pt_sql_eq(ci, COLUMNS("excon.ledger"), LEDGER_COLUMNS);
	free(ci);
}
END_TEST

START_TEST(test_old_ledger_upgraded)
{
	char *ci = pt_db("dbs_old_v1");

	/* A ledger of the first excon, with a row in it. */
	free(pt_sql(ci, OLD_LEDGER_V1
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 's', 'c')"));
	ck_assert_int_eq(version_of(ci, DBSCHEMA_LEDGER), 1);
	ensure_ok(ci, DBSCHEMA_LEDGER);
	pt_sql_eq(ci, COLUMNS("excon.ledger"), LEDGER_COLUMNS);
	pt_sql_eq(ci, "SELECT plan || step || checksum || coalesce(history_id, '-') FROM excon.ledger",
	    "psc-");
	pt_sql_eq(ci, COMMENT("excon.ledger"), "excon schema version 2");
	/* The added columns record the session's history. */
	pt_sql_eq(ci, "SELECT set_config('excon.history_id', 'h1', false);"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 't', 'c');"
	    "SELECT history_id FROM excon.ledger WHERE step = 't'", "h1");
	free(ci);
}
END_TEST

START_TEST(test_previous_excon_accepted)
{
	char *ci = pt_db("dbs_old_v2");

	/* Tables the previous excon made: current shape, no recorded version. */
	free(pt_sql(ci, OLD_LEDGER_V2 OLD_BACKFILL
	    "INSERT INTO excon.ledger (plan, step, checksum, history_id) VALUES ('p', 's', 'c', 'h')"));
	ck_assert_int_eq(version_of(ci, DBSCHEMA_LEDGER), 2);
	ck_assert_int_eq(version_of(ci, DBSCHEMA_BACKFILL), 1);
	ensure_ok(ci, DBSCHEMA_LEDGER);
	ensure_ok(ci, DBSCHEMA_BACKFILL);
	pt_sql_eq(ci, COLUMNS("excon.ledger"), LEDGER_COLUMNS);
	pt_sql_eq(ci, "SELECT count(*) || history_id FROM excon.ledger GROUP BY history_id", "1h");
	/* Its owner records the version. */
	pt_sql_eq(ci, COMMENT("excon.ledger"), "excon schema version 2");
	pt_sql_eq(ci, COMMENT("excon.backfill"), "excon schema version 1");
	free(ci);
}
END_TEST

START_TEST(test_writer_role_not_owner)
{
	char *ci = pt_db("dbs_writer"), *wci;
	struct pg *db;
	struct buf err = BUF_INIT;
	int v = -1, owned = -1;

	/* A role that may write the ledger, which another role made before versions. */
	free(pt_sql(ci, OLD_LEDGER_V2
	    "DO $$BEGIN CREATE ROLE excon_dbs_writer LOGIN;"
	    " EXCEPTION WHEN duplicate_object THEN NULL; END$$;"
	    "GRANT USAGE ON SCHEMA excon TO excon_dbs_writer;"
	    "GRANT SELECT, INSERT, UPDATE, DELETE ON excon.ledger TO excon_dbs_writer"));
	wci = xasprintf("%s user=excon_dbs_writer", ci);
	db = db_open(wci);
	ck_assert_int_eq(dbschema_version(db, DBSCHEMA_LEDGER, &v, &owned, &err), 0);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(owned, 0);
	ck_assert_msg(dbschema_ensure(db, DBSCHEMA_LEDGER, &err) == 0, "%s", buf_cstr(&err));
	pg_close(db);
	pt_sql_eq(ci, COMMENT("excon.ledger"), "");
	/* It may not create the cursors' table: the message says which. */
	db = db_open(wci);
	ck_assert_int_eq(dbschema_ensure(db, DBSCHEMA_BACKFILL, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "cannot create the excon backfill cursors: "),
	    "%s", buf_cstr(&err));
	ck_assert_msg(!pg_in_transaction(db), "left a transaction open");
	pg_close(db);
	buf_free(&err);
	free(wci);
	free(ci);
}
END_TEST

START_TEST(test_newer_version_refused)
{
	char *ci = pt_db("dbs_newer");
	struct pg *db;
	struct buf err = BUF_INIT;

	free(pt_sql(ci, OLD_LEDGER_V2 "COMMENT ON TABLE excon.ledger IS 'excon schema version 9'"));
	db = db_open(ci);
	ck_assert_int_eq(dbschema_ensure(db, DBSCHEMA_LEDGER, &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "the excon ledger in this database was made by a newer "
	    "excon (schema version 9; this excon knows 2): upgrade excon");
	pg_close(db);
	/* A comment that is not ours is no version: the shape says 2. */
	free(pt_sql(ci, "COMMENT ON TABLE excon.ledger IS 'excon schema version 2 of ours'"));
	ck_assert_int_eq(version_of(ci, DBSCHEMA_LEDGER), 2);
	buf_free(&err);
	free(ci);
}
END_TEST

START_TEST(test_versioned_ddl)
{
	struct buf b = BUF_INIT;

	ck_assert_int_eq(dbschema_current(DBSCHEMA_LEDGER), 2);
	ck_assert_int_eq(dbschema_current(DBSCHEMA_BACKFILL), 1);
	ck_assert_str_eq(dbschema_table(DBSCHEMA_LEDGER), "excon.ledger");
	/* From version 1, only what version 2 added. */
	dbschema_ddl(DBSCHEMA_LEDGER, 1, &b);
	ck_assert_str_eq(buf_cstr(&b), "ALTER TABLE excon.ledger"
	    " ADD COLUMN IF NOT EXISTS history_id text  DEFAULT current_setting('excon.history_id', true),"
	    " ADD COLUMN IF NOT EXISTS release text  DEFAULT current_setting('excon.release', true),"
	    " ADD COLUMN IF NOT EXISTS actor text  DEFAULT current_setting('excon.actor', true);"
	    "COMMENT ON TABLE excon.ledger IS 'excon schema version 2';");
	buf_reset(&b);
	dbschema_ddl(DBSCHEMA_LEDGER, 0, &b);
	ck_assert_msg(strncmp(buf_cstr(&b), OLD_LEDGER_V2, strlen(OLD_LEDGER_V2)) == 0, "%s", buf_cstr(&b));
	/*
	 * The lock keys older excons take: an older and a newer excon must
	 * still exclude each other.
	 */
	ck_assert_int_eq(DBSCHEMA_LOCK_CLASS, 0x6578636f);
	ck_assert_int_eq(DBSCHEMA_LOCK_DDL, 0);
	ck_assert_int_eq(DBSCHEMA_LOCK_STORE, 0x4558434e);
	buf_free(&b);
}
END_TEST

START_TEST(test_ddl_lock_waits)
{
	char *ci = pt_db("dbs_lock");
	struct pg *holder = db_open(ci), *db = db_open(ci);
	struct buf err = BUF_INIT;
	struct pg_result *res = NULL;
	char q[128];

	/* Another first use holds the DDL lock: ensure waits, it does not race. */
	snprintf(q, sizeof q, "BEGIN; SELECT pg_advisory_xact_lock(%d, %d)",
	    DBSCHEMA_LOCK_CLASS, DBSCHEMA_LOCK_DDL);
	ck_assert_msg(pg_exec_script(holder, q, NULL, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_msg(pg_exec(db, "SET lock_timeout = '200ms'", 0, NULL, NULL, &err) == 0, "%s",
	    buf_cstr(&err));
	ck_assert_int_eq(dbschema_ensure(db, DBSCHEMA_LEDGER, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "lock timeout"), "%s", buf_cstr(&err));
	ck_assert_msg(pg_exec(holder, "COMMIT", 0, NULL, NULL, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_msg(dbschema_ensure(db, DBSCHEMA_LEDGER, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_msg(pg_exec(db, "SELECT to_regclass('excon.ledger') IS NOT NULL", 0, NULL, &res,
	    &err) == 0, "%s", buf_cstr(&err));
	ck_assert_str_eq(pg_result_get(res, 0, 0), "t");
	pg_result_free(res);
	pg_close(holder);
	pg_close(db);
	buf_free(&err);
	free(ci);
}
END_TEST

START_TEST(test_plan_lock_keys)
{
	char *ci = pt_db("dbs_plan_lock");
	struct pg *a = db_open(ci), *b = db_open(ci);
	struct buf err = BUF_INIT, who = BUF_INIT;
	int got = -1;

	/*
	 * The keys older excons take for a plan: (1702388591, FNV-1a of the
	 * name, kept positive), so that they and this one exclude each other.
	 */
	ck_assert_msg(dbschema_plan_lock(a, "users-full-name", &got, &who, &err) == 0, "%s",
	    buf_cstr(&err));
	ck_assert_int_eq(got, 1);
	pt_sql_eq(ci, "SELECT classid::bigint || '/' || objid::bigint FROM pg_locks"
	    " WHERE locktype = 'advisory' AND objsubid = 2", "1702388591/71334497");
	ck_assert_msg(dbschema_plan_lock(b, "users-full-name", &got, &who, &err) == 0, "%s",
	    buf_cstr(&err));
	ck_assert_int_eq(got, 0);
	ck_assert_msg(tu_has(buf_cstr(&who), "pid ") && tu_has(buf_cstr(&who), "'excon-test'"),
	    "%s", buf_cstr(&who));
	ck_assert_msg(dbschema_plan_unlock(a, "users-full-name", &err) == 0, "%s", buf_cstr(&err));
	ck_assert_msg(dbschema_plan_lock(b, "users-full-name", &got, &who, &err) == 0, "%s",
	    buf_cstr(&err));
	ck_assert_int_eq(got, 1);
	pg_close(a);
	pg_close(b);
	buf_free(&err);
	buf_free(&who);
	free(ci);
}
END_TEST

/* One TCase per behaviour. */
static Suite *
dbschema_suite(void)
{
	Suite *s = suite_create("dbschema");
	struct { const char *name; const TTest *t; } tests[] = {
		{ "created_with_version", test_created_with_version },
		{ "old_ledger_upgraded", test_old_ledger_upgraded },
		{ "previous_excon_accepted", test_previous_excon_accepted },
		{ "writer_role_not_owner", test_writer_role_not_owner },
		{ "newer_version_refused", test_newer_version_refused },
		{ "versioned_ddl", test_versioned_ddl },
		{ "ddl_lock_waits", test_ddl_lock_waits },
		{ "plan_lock_keys", test_plan_lock_keys },
	};
	size_t i;

	for (i = 0; i < sizeof tests / sizeof tests[0]; i++)
		tu_add(s, tests[i].name, tests[i].t, NULL, NULL, 60);
	return s;
}

int
main(void)
{
	return tu_run_suite(dbschema_suite());
}
