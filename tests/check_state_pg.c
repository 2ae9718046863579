/*
 * The PostgreSQL store (state-pg.c), through the built binary: the same
 * output as the SQLite file for the same commands, no silent empty
 * history, a read-only role, 64 runners in separate working directories
 * sharing one store, tamper detection, and the store in the target
 * database (state: database).
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "state.h"
#include "util/pgtest.h"
#include "util/proc.h"
#include "util/testutil.h"
#include "xalloc.h"

#define PLAN	"users-full-name"
#define NRUNNERS 64

static char *plan_text;

/* A fixed clock and actor, and nothing from the environment. */
static void
setup(void)
{
	char *src = xasprintf("%s/../plans/" PLAN ".yaml", tu_tests_dir());

	plan_text = tu_read("", src, NULL);
	if (plan_text == NULL)
		plan_text = tu_read(".", src, NULL);
	ck_assert_msg(plan_text != NULL, "cannot read %s", src);
	free(src);
	setenv("EXCON_NOW", "1767225600", 1);
	setenv("EXCON_ACTOR", "rm@ci", 1);
	unsetenv("EXCON_CONFIG");
	unsetenv("EXCON_PLANS");
	unsetenv("EXCON_STATE");
	unsetenv("EXCON_DATABASE");
}

/* Frees the plan text. */
static void
teardown(void)
{
	free(plan_text);
}

/* A project directory whose excon.yaml points state: at where. */
static char *
project(const char *where)
{
	char *d = tu_tmpdir();
	char *y = xasprintf("plans: plans\nstate: \"%s\"\n", where);

	tu_write(d, "plans/" PLAN ".yaml", plan_text);
	tu_write(d, "excon.yaml", y);
	free(y);
	return d;
}

/* Runs excon in d with space-separated args; asserts exit code want. */
static char *
run_ok(const char *d, int want, const char *args)
{
	struct run r;
	char *out;

	tu_excon_str(&r, d, "%s", args);
	ck_assert_msg(r.status == want, "excon %s exited %d (want %d)\n%s%s",
	    args, r.status, want, r.out, r.err);
	out = r.out;
	r.out = NULL;
	tu_run_free(&r);
	return out;
}

/* The commands of a record-only walk, and the reports read after each. */
static const char *const walk[] = {
	"release start v1", "advance " PLAN " --record-only",
	"advance " PLAN " --record-only", "release finish v1",
	"advance " PLAN " --record-only", "release start v2",
	"advance " PLAN " --to stop-old-writes --record-only",
	"release finish v2", "release start v3", "release finish v3",
	"release start v4", "release finish v4",
	"advance " PLAN " --record-only --force --reason window-checked",
	NULL
};
static const char *const reports[] = {
	"status", "status --format json", "status " PLAN,
	"status " PLAN " --format json", "release list",
	"release list --format json", "audit", "audit --format json", "log",
	"log --format json", "log --verify", "compat v1", "check", NULL
};

/*
 * Every command prints the same on the PostgreSQL store as on the file,
 * after every step of a walk through a whole plan.
 */
START_TEST(test_same_output_as_file)
{
	char *ci = pt_db("spg_same");
	char *pgd = project(ci), *fd = project("state/excon.db");
	int i, j;

	free(run_ok(pgd, 0, "init"));
	free(run_ok(fd, 0, "init"));
	for (i = 0; walk[i] != NULL; i++) {
		char *a = run_ok(fd, 0, walk[i]);
		char *b = run_ok(pgd, 0, walk[i]);

		ck_assert_msg(strcmp(a, b) == 0, "%s:\nfile:\n%s\npostgresql:\n%s",
		    walk[i], a, b);
		free(a);
		free(b);
		for (j = 0; reports[j] != NULL; j++) {
			struct run x, y;

			tu_excon_str(&x, fd, "%s", reports[j]);
			tu_excon_str(&y, pgd, "%s", reports[j]);
			ck_assert_msg(x.status == y.status && strcmp(x.out, y.out) == 0,
			    "after %s, %s:\nfile (%d):\n%s\npostgresql (%d):\n%s%s",
			    walk[i], reports[j], x.status, x.out, y.status, y.out,
			    y.err);
			tu_run_free(&x);
			tu_run_free(&y);
		}
	}
	/* The rows are where the README says. */
	pt_sql_eq(ci, "SELECT string_agg(step || ' ' || release_seq, ',' ORDER BY idx) "
	    "FROM excon.ships", "add-column 1,dual-write 1,backfill 1,"
	    "switch-reads 2,stop-old-writes 2,drop-name 4");
	tu_rmrf(pgd);
	tu_rmrf(fd);
	free(pgd);
	free(fd);
	free(ci);
}
END_TEST

/*
 * An empty database holds no history: every command that needs one exits
 * 2 naming the database (never its password), and only init creates it.
 */
START_TEST(test_empty_database_is_no_history)
{
	char *ci = pt_db("spg_empty");
	char *withpw = xasprintf("%s password=sekrit", ci);
	char *d = project(withpw);
	struct run r;

	tu_excon_str(&r, d, "release start v1");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "excon: no history at '") &&
	    tu_has(r.err, "dbname=spg_empty") && tu_has(r.err, "run 'excon "
	    "init' to create one"), "%s", r.err);
	ck_assert_msg(!tu_has(r.err, "sekrit"), "%s", r.err);
	tu_run_free(&r);
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 2);
	tu_run_free(&r);
	/* Nothing was created by trying. */
	pt_sql_eq(ci, "SELECT count(*) FROM pg_namespace WHERE nspname = 'excon'",
	    "0");
	tu_excon_str(&r, d, "init --dry-run");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(tu_has(r.out, "would create history in '"), "%s", r.out);
	tu_run_free(&r);
	pt_sql_eq(ci, "SELECT count(*) FROM pg_namespace WHERE nspname = 'excon'",
	    "0");
	tu_excon_str(&r, d, "init");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(tu_has(r.out, "created  history in '") &&
	    !tu_has(r.out, "sekrit"), "%s", r.out);
	tu_run_free(&r);
	tu_excon_str(&r, d, "init");
	ck_assert_msg(tu_has(r.out, "exists   history in '"), "%s", r.out);
	tu_run_free(&r);
	free(run_ok(d, 0, "release start v1"));
	pt_sql_eq(ci, "SELECT name FROM excon.releases", "v1");
	/* A wrong password-bearing conninfo fails without showing it. */
	free(withpw);
	withpw = xasprintf("%s password=sekrit", ci);
	tu_excon_str(&r, d, "status --state host=/nonexistent password=sekrit");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(!tu_has(r.err, "sekrit"), "%s", r.err);
	tu_run_free(&r);
	/* Linting plans needs no history, so an unreachable store is fine. */
	tu_excon_str(&r, d, "lint --state host=/nonexistent");
	ck_assert_msg(r.status == 0, "%d %s", r.status, r.err);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
	free(withpw);
	free(ci);
}
END_TEST

/*
 * A role with only SELECT on the excon schema runs every reading command;
 * a change fails saying the role cannot write, and changes nothing.
 */
START_TEST(test_read_only_role)
{
	static const char *const reads[] = { "status", "check", "audit",
	    "compat v1", "log", "log --verify", "release list", NULL };
	char *ci = pt_db("spg_ro");
	char *d = project(ci), *rod, *roci, *before, *after;
	int i;

	free(run_ok(d, 0, "init"));
	free(run_ok(d, 0, "release start v1"));
	free(run_ok(d, 0, "advance " PLAN " --record-only"));
	free(pt_sql(ci, "DROP ROLE IF EXISTS excon_ci;"
	    "CREATE ROLE excon_ci LOGIN;"
	    "GRANT USAGE ON SCHEMA excon TO excon_ci;"
	    "GRANT SELECT ON ALL TABLES IN SCHEMA excon TO excon_ci"));
	roci = xasprintf("%s user=excon_ci", ci);
	rod = project(roci);
	for (i = 0; reads[i] != NULL; i++) {
		char *a = run_ok(d, 0, reads[i]);
		char *b = run_ok(rod, 0, reads[i]);

		ck_assert_msg(strcmp(a, b) == 0, "%s:\nowner:\n%s\nread-only:\n%s",
		    reads[i], a, b);
		free(a);
		free(b);
	}
	before = pt_sql(ci, "SELECT count(*) || '/' || max(id) FROM excon.events");
	for (i = 0; i < 2; i++) {
		struct run r;

		tu_excon_str(&r, rod, "%s", i == 0 ? "release start v2" :
		    "advance " PLAN " --record-only");
		ck_assert_int_eq(r.status, 1);
		ck_assert_msg(tu_has(r.err, "the role cannot write to the history "
		    "in '") && tu_has(r.err, "permission denied"), "%s", r.err);
		tu_run_free(&r);
	}
	after = pt_sql(ci, "SELECT count(*) || '/' || max(id) FROM excon.events");
	ck_assert_str_eq(before, after);
	pt_sql_eq(ci, "SELECT count(*) FROM excon.releases", "1");
	free(pt_sql(ci, "DROP OWNED BY excon_ci; DROP ROLE excon_ci"));
	tu_rmrf(d);
	tu_rmrf(rod);
	free(d);
	free(rod);
	free(roci);
	free(before);
	free(after);
	free(ci);
}
END_TEST

/*
 * 64 runners, each in its own working directory with its own excon.yaml
 * (standing for 64 hosts), advance the same plan at once against one
 * store: each step ships exactly once, the others are refused (exit 3),
 * and the log stays intact.
 */
START_TEST(test_many_runners_one_store)
{
	static const char *const args[] = { "advance", PLAN, "--record-only",
	    NULL };
	struct tu_proc p[NRUNNERS];
	char *dirs[NRUNNERS];
	char *ci = pt_db("spg_many");
	int i, shipped = 0, refused = 0;
	char *d = project(ci);

	free(run_ok(d, 0, "init"));
	free(run_ok(d, 0, "release start v1"));
	for (i = 0; i < NRUNNERS; i++)
		dirs[i] = project(ci);
	for (i = 0; i < NRUNNERS; i++)
		ck_assert_int_gt(tu_proc_excon(&p[i], dirs[i], NULL, args), 0);
	for (i = 0; i < NRUNNERS; i++) {
		struct run r;

		tu_proc_wait(&p[i], &r, -1);
		if (r.status == 0) {
			ck_assert_msg(tu_has(r.out, "shipped " PLAN "/"), "%s", r.out);
			shipped++;
		} else {
			ck_assert_msg(r.status == 3 && tu_has(r.err,
			    "refused: backfill (stage post)"), "runner %d exited "
			    "%d: %s%s", i, r.status, r.out, r.err);
			refused++;
		}
		tu_run_free(&r);
	}
	ck_assert_int_eq(shipped, 2);
	ck_assert_int_eq(refused, NRUNNERS - 2);
	pt_sql_eq(ci, "SELECT string_agg(step || ':' || n, ',' ORDER BY step) "
	    "FROM (SELECT step, count(*) AS n FROM excon.events WHERE kind = "
	    "'advance' GROUP BY step) c", "add-column:1,dual-write:1");
	pt_sql_eq(ci, "SELECT string_agg(step || ' ' || release_seq, ',' "
	    "ORDER BY idx) FROM excon.ships", "add-column 1,dual-write 1");
	free(run_ok(d, 0, "log --verify"));
	for (i = 0; i < NRUNNERS; i++) {
		tu_rmrf(dirs[i]);
		free(dirs[i]);
	}
	tu_rmrf(d);
	free(d);
	free(ci);
}
END_TEST

/* An edited event, or a deleted newest event, breaks log --verify. */
START_TEST(test_tampered_log_detected)
{
	char *ci = pt_db("spg_tamper");
	char *d = project(ci);
	struct run r;

	free(run_ok(d, 0, "init"));
	free(run_ok(d, 0, "release start v1"));
	free(run_ok(d, 0, "advance " PLAN " --record-only"));
	free(run_ok(d, 0, "log --verify"));
	/* The append-only trigger refuses an edit... */
	free(pt_sql(ci, "DO $$BEGIN UPDATE excon.events SET actor = 'x' WHERE id = 2;"
	    " RAISE EXCEPTION 'edited'; EXCEPTION WHEN raise_exception THEN"
	    " NULL; END$$"));
	free(run_ok(d, 0, "log --verify"));
	/* ...and whoever disables it is caught by the chain. */
	free(pt_sql(ci, "ALTER TABLE excon.events DISABLE TRIGGER USER;"
	    "UPDATE excon.events SET actor = 'mallory@x' WHERE id = 2"));
	tu_excon_str(&r, d, "log --verify");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "event log broken at event 2"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
	free(ci);
}
END_TEST

/*
 * A ship row deleted, or the newest events deleted with the head reset:
 * the replay of log --verify finds it on this store too, and a head kept
 * from before proves the rewrite.
 */
START_TEST(test_tampered_rows_detected)
{
	char *ci = pt_db("spg_rows");
	char *d = project(ci), *h, *out;
	struct run r;

	free(run_ok(d, 0, "init"));
	free(run_ok(d, 0, "release start v1"));
	free(run_ok(d, 0, "advance " PLAN " --record-only"));
	free(run_ok(d, 0, "advance " PLAN " --record-only"));
	h = run_ok(d, 0, "log --head");
	ck_assert_uint_eq(strlen(h), 65);
	h[64] = '\0';
	free(pt_sql(ci, "DELETE FROM excon.ships WHERE step = 'dual-write'"));
	tu_excon_str(&r, d, "log --verify");
	ck_assert_int_eq(r.status, 4);
	ck_assert_str_eq(r.out, "ship " PLAN "/dual-write shipped in v1 per the "
	    "log (event 5) but its row is missing\nthe history disagrees with "
	    "its event log in 1 place\n");
	tu_run_free(&r);
	/* The tail (events 4 and 5) deleted and the head reset to event 3. */
	free(pt_sql(ci, "ALTER TABLE excon.events DISABLE TRIGGER USER;"
	    "DELETE FROM excon.events WHERE id > 3;"
	    "UPDATE excon.chain SET head_id = 3, head_hash = "
	    "(SELECT hash FROM excon.events WHERE id = 3)"));
	/* Row and events gone together: only a kept head can tell. */
	out = run_ok(d, 0, "log --verify");
	ck_assert_str_eq(out, "event log intact\n");
	free(out);
	tu_excon_str(&r, d, "log --verify --since-head %s", h);
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "no event carries head "), "%s", r.out);
	tu_run_free(&r);
	free(h);
	tu_rmrf(d);
	free(d);
	free(ci);
}
END_TEST

/* state: database keeps the history in the target database's excon schema. */
START_TEST(test_store_in_target_database)
{
	char *ci = pt_db("spg_target");
	char *d = project("database");
	struct run r;

	/* The conninfo holds spaces: it comes from the environment. */
	{
		char *env0 = xasprintf("EXCON_DATABASE=%s", ci);
		const char *const env[] = { env0, NULL };
		const char *const init[] = { "init", NULL };
		const char *const rs[] = { "release", "start", "v1", NULL };
		const char *const st[] = { "status", NULL };

		ck_assert_int_eq(tu_excon(&r, d, env, init), 0);
		ck_assert_msg(tu_has(r.out, "created  history in '"), "%s", r.out);
		tu_run_free(&r);
		ck_assert_int_eq(tu_excon(&r, d, env, rs), 0);
		tu_run_free(&r);
		ck_assert_int_eq(tu_excon(&r, d, env, st), 0);
		ck_assert_msg(tu_has(r.out, "allowed now in v1 (#1)"), "%s", r.out);
		tu_run_free(&r);
		free(env0);
	}
	pt_sql_eq(ci, "SELECT name FROM excon.releases", "v1");
	tu_rmrf(d);
	free(d);
	free(ci);
}
END_TEST

/*
 * A running backfill's rate and pause round trip in the PostgreSQL store;
 * a store made before those columns still reads, and gains them when a
 * role that may alter it opens it.
 */
START_TEST(test_backfill_pause_in_store)
{
	char *ci = pt_db("spg_bf_pause");
	struct state *st = NULL;
	struct state_backfill b, got;
	struct buf err = BUF_INIT;
	int found = 0, absent = 0;

	ck_assert_msg(state_open_pg(&st, ci, 1, &absent, &err) == 0, "%s", buf_cstr(&err));
	b = (struct state_backfill){ .plan = (char *)"users",
	    .step = (char *)"fill", .cursor = (char *)"(42)", .rows_done = 42,
	    .rows_total = 100, .updated_at = 77, .rate = 2500,
	    .waiting = (char *)"standby lags", .waiting_since = 70 };
	ck_assert_msg(state_backfill_put(st, &b, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &got, &found, &err), 0);
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq(got.rate, 2500);
	ck_assert_str_eq(got.waiting, "standby lags");
	ck_assert_int_eq(got.waiting_since, 70);
	state_backfill_free(&got);
	state_close(st);

	/* An older store: the columns are not there yet. */
	free(pt_sql(ci, "ALTER TABLE excon.backfills DROP COLUMN rate, "
	    "DROP COLUMN waiting, DROP COLUMN waiting_since"));
	ck_assert_msg(state_open_pg(&st, ci, 0, &absent, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &got, &found, &err), 0);
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq(got.rows_done, 42);
	state_backfill_free(&got);
	ck_assert_msg(state_backfill_put(st, &b, &err) == 0, "%s", buf_cstr(&err));
	state_close(st);
	pt_sql_eq(ci, "SELECT waiting || ' ' || rate FROM excon.backfills",
	    "standby lags 2500");
	buf_free(&err);
	free(ci);
}
END_TEST

/*
 * excon state copy: a file's history moves to PostgreSQL and back with its
 * id, events and chain; every report reads the same from each copy; a
 * store that holds anything is refused and left alone; --dry-run creates
 * nothing.
 */
START_TEST(test_state_copy_round_trip)
{
	static const char *const same[] = { "status", "release list", "audit",
	    "log", "log --head", "log --verify", NULL };
	char *ci = pt_db("spg_copy");
	char *fd = project("state/excon.db"), *back, *pgd, *out, *id, *cmd;
	struct run r;
	int i;

	free(run_ok(fd, 0, "init"));
	for (i = 0; walk[i] != NULL && i < 6; i++)
		free(run_ok(fd, 0, walk[i]));
	tu_sh(&r, fd, "sqlite3 state/excon.db 'SELECT id FROM history'");
	id = xstrndup(r.out, 32);
	tu_run_free(&r);
	pgd = project(ci);
	back = project("state/back.db");
	tu_write(back, "state/.keep", "");

	/* A dry run says what it would copy and creates nothing. */
	tu_sh(&r, fd, "'%s' state copy state/excon.db \"%s\" --dry-run",
	    getenv("EXCON_BIN"), ci);
	ck_assert_int_eq(r.status, 0);
	cmd = xasprintf("would copy history %s from 'state/excon.db' to '", id);
	ck_assert_msg(tu_has(r.out, cmd) && tu_has(r.out, "': 2 releases, 3 "
	    "ships, 9 events, 0 backfills\n"), "%s", r.out);
	free(cmd);
	tu_run_free(&r);
	pt_sql_eq(ci, "SELECT count(*) FROM pg_namespace WHERE nspname = 'excon'",
	    "0");

	tu_sh(&r, fd, "'%s' state copy state/excon.db \"%s\"",
	    getenv("EXCON_BIN"), ci);
	ck_assert_msg(r.status == 0 && tu_has(r.out, "; verified: log intact, "
	    "rows agree\n"), "%d %s%s", r.status, r.out, r.err);
	tu_run_free(&r);
	pt_sql_eq(ci, "SELECT history_id FROM excon.store", id);
	/* And back again, into a new file. */
	tu_sh(&r, back, "'%s' state copy \"%s\" state/back.db",
	    getenv("EXCON_BIN"), ci);
	ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
	tu_run_free(&r);
	tu_sh(&r, back, "sqlite3 state/back.db 'SELECT id FROM history'");
	ck_assert_msg(strncmp(r.out, id, 32) == 0, "%s", r.out);
	tu_run_free(&r);
	for (i = 0; same[i] != NULL; i++) {
		char *a = run_ok(fd, 0, same[i]);
		char *b = run_ok(pgd, 0, same[i]);
		char *c = run_ok(back, 0, same[i]);

		ck_assert_msg(strcmp(a, b) == 0 && strcmp(a, c) == 0,
		    "%s:\nfile:\n%s\npostgresql:\n%s\ncopied back:\n%s",
		    same[i], a, b, c);
		free(a);
		free(b);
		free(c);
	}
	/* The copy works on: the next step ships in the PostgreSQL store. */
	free(run_ok(pgd, 0, walk[6]));
	out = run_ok(pgd, 0, "log --verify");
	ck_assert_str_eq(out, "event log intact\n");
	free(out);

	/* A store that holds a history is refused, and left as it was. */
	out = pt_sql(ci, "SELECT count(*) || '/' || max(id) FROM excon.events");
	tu_sh(&r, fd, "'%s' state copy state/excon.db \"%s\"",
	    getenv("EXCON_BIN"), ci);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "the target already holds a history (2 "
	    "releases, 5 ships, 11 events): excon copies only into an empty "
	    "store"), "%s", r.err);
	tu_run_free(&r);
	pt_sql_eq(ci, "SELECT count(*) || '/' || max(id) FROM excon.events", out);
	free(out);
	tu_excon_str(&r, fd, "state copy state/excon.db state/excon.db");
	ck_assert_int_eq(r.status, 2);
	tu_run_free(&r);
	tu_rmrf(fd);
	tu_rmrf(pgd);
	tu_rmrf(back);
	free(fd);
	free(pgd);
	free(back);
	free(id);
	free(ci);
}
END_TEST

/*
 * What is in the excon schema decides: only a ledger (steps ran, no
 * history) is no history (exit 2); a newer store or an incomplete one is
 * refused (exit 1) and left as it was; init never touches either.
 */
START_TEST(test_foreign_or_newer_store_refused)
{
	char *ci = pt_db("spg_foreign");
	char *d = project(ci);
	struct run r;

	free(pt_sql(ci, "CREATE SCHEMA excon; CREATE TABLE excon.ledger "
	    "(plan text, step text, checksum text)"));
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "excon: no history at '"), "%s", r.err);
	tu_run_free(&r);

	free(pt_sql(ci, "CREATE TABLE excon.store (k int, schema_version int, "
	    "history_id text, created_at bigint);"
	    "INSERT INTO excon.store VALUES (1, 9, 'abc', 0)"));
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(tu_has(r.err, "was written by a newer excon (store schema "
	    "9, this excon knows 1): upgrade excon"), "%s", r.err);
	tu_run_free(&r);
	tu_excon_str(&r, d, "init");
	ck_assert_int_eq(r.status, 1);
	tu_run_free(&r);

	free(pt_sql(ci, "UPDATE excon.store SET schema_version = 1"));
	tu_excon_str(&r, d, "release start v1");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(tu_has(r.err, "is not a complete excon history (a table "
	    "is missing); it was left untouched"), "%s", r.err);
	tu_run_free(&r);
	pt_sql_eq(ci, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM "
	    "pg_tables WHERE schemaname = 'excon'", "ledger,store");
	tu_rmrf(d);
	free(d);
	free(ci);
}
END_TEST

/* The register holding a function's second argument at its first instruction. */
#if defined(__x86_64__)
#define ARG2_REG "$rsi"
#elif defined(__aarch64__)
#define ARG2_REG "$x1"
#else
#define ARG2_REG NULL
#endif

/*
 * Runs `excon advance PLAN --record-only` in d under gdb and, before its
 * k-th call into libpq that sends SQL or ends the session, runs the gdb
 * commands action (then lets it go on, unless action ended it), as
 * tests/check_crash.c does (breakpoints on src/pg.c's wrappers of those
 * libpq calls, no hook in the product).  Fills r with gdb's output, where "@@event k" says
 * that event k came.
 */
static void
advance_under_gdb(const char *d, int k, const char *action, struct run *r)
{
	static const char *const fns[] = { "pq_PQexecParams", "pq_PQexec",
	    "pq_PQsendQueryParams", "pq_PQfinish" };
	const char *bin = getenv("EXCON_BIN");
	const char *av[] = { "gdb", "-nx", "-batch", "-readnever", "-iex",
	    "set auto-solib-add off", "-x", "kill.gdb", "--args",
	    bin ? bin : "excon", "advance", PLAN, "--record-only", NULL };
	/* LeakSanitizer cannot run under ptrace: it would fail the exit. */
	const char *const env[] = { "ASAN_OPTIONS=detect_leaks=0", NULL };
	struct buf g = BUF_INIT;
	struct tu_proc p;
	size_t i;

	ck_assert_msg(ARG2_REG != NULL, "the kill points need x86-64 or aarch64");
	buf_printf(&g, "set pagination off\nset confirm off\nset $n = 0\n"
	    "define excon_event\n  set $n = $n + 1\n  if $n == %d\n"
	    "    printf \"@@event %%d\\n\", $n\n    %s\n  end\n"
	    "  continue\nend\n", k, action);
	for (i = 0; i < sizeof fns / sizeof fns[0]; i++)
		buf_printf(&g, "break *%s\ncommands\n  silent\n  excon_event\n"
		    "end\n", fns[i]);
	buf_puts(&g, "run\n");
	tu_write(d, "kill.gdb", buf_cstr(&g));
	buf_free(&g);
	ck_assert_msg(tu_proc_start(&p, d, env, av) > 0, "cannot start gdb");
	if (tu_proc_wait(&p, r, 60000) < 0) {
		tu_proc_kill(&p, SIGKILL);
		tu_proc_wait(&p, r, -1);
		ck_abort_msg("excon under gdb did not end:\n%s\n%s", r->out, r->err);
	}
}

/*
 * Runs `excon advance PLAN --record-only` in d under gdb and SIGKILLs it
 * before its k-th call into libpq that sends SQL or ends the session.
 * Returns 1 when it was killed, 0 when it ran to the end.
 */
static int
advance_killed_at(const char *d, int k)
{
	struct run r;
	int killed;

	advance_under_gdb(d, k, "signal SIGKILL", &r);
	killed = tu_has(r.out, "@@event ");
	tu_run_free(&r);
	return killed;
}

/*
 * A writer killed at every point of a change: the store is never half
 * written (the step's row and its events are all there or none is, and
 * log --verify finds the rows agreeing with the log), and the next
 * advance ships the step exactly once.
 */
START_TEST(test_writer_killed_anywhere)
{
	char *ci = pt_db("spg_kill");
	char *d = project(ci), *fd = project("state/snap.db"), *out;
	int k, killed = 1;

	tu_write(fd, "state/.keep", "");
	free(run_ok(fd, 0, "init"));
	free(run_ok(fd, 0, "release start v1"));
	for (k = 1; killed && k < 80; k++) {
		char *from = xasprintf("%s/state/snap.db", fd);
		const char *const av[] = { "state", "copy", from, ci, NULL };
		struct run r;

		/* The same store before every kill: v1 started, nothing shipped. */
		free(pt_sql(ci, "DROP SCHEMA IF EXISTS excon CASCADE"));
		ck_assert_int_eq(tu_excon(&r, d, NULL, av), 0);
		tu_run_free(&r);
		free(from);
		killed = advance_killed_at(d, k);
		out = run_ok(d, 0, "log --verify");
		ck_assert_msg(strcmp(out, "event log intact\n") == 0, "killed at %d: "
		    "%s", k, out);
		free(out);
		out = pt_sql(ci, "SELECT (SELECT count(*) FROM excon.ships) || '/' || "
		    "(SELECT count(*) FROM excon.events WHERE kind = 'advance')");
		ck_assert_msg(strcmp(out, "0/0") == 0 || strcmp(out, "1/1") == 0,
		    "killed at %d: ships/advance events %s", k, out);
		/*
		 * The next run goes on from there: add-column when the kill
		 * came before the commit, dual-write after it; never twice.
		 */
		free(run_ok(d, 0, "advance " PLAN " --record-only"));
		pt_sql_eq(ci, "SELECT string_agg(step, ',' ORDER BY idx) FROM "
		    "excon.ships", strcmp(out, "0/0") == 0 ? "add-column" :
		    "add-column,dual-write");
		pt_sql_eq(ci, "SELECT (SELECT count(*) FROM excon.events WHERE kind = "
		    "'advance') = (SELECT count(*) FROM excon.ships)", "t");
		free(out);
	}
	ck_assert_msg(k > 5, "too few kill points (%d): is gdb working?", k);
	ck_assert_msg(!killed, "the advance was still killed at %d", k);
	tu_rmrf(d);
	tu_rmrf(fd);
	free(d);
	free(fd);
	free(ci);
}
END_TEST

/*
 * The server goes away while a change waits for the store's lock: excon
 * exits 1 saying so, and nothing is written.
 */
START_TEST(test_server_gone_mid_command)
{
	char *ci = pt_db("spg_gone");
	char *d = project(ci);
	const char *const av[] = { "release", "start", "v2", NULL };
	struct tu_proc p;
	struct run r;
	char *n;
	int i;

	free(run_ok(d, 0, "init"));
	free(run_ok(d, 0, "release start v1"));
	/* A session holds the lock row; excon queues behind it. */
	ck_assert_int_gt(tu_proc_sh(&p, d, "exec psql -qAtX \"%s\" -c 'BEGIN' "
	    "-c 'SELECT 1 FROM excon.store FOR UPDATE' -c 'SELECT pg_sleep(30)'",
	    ci), 0);
	/* Waited for, not slept on: psql holds the row before excon starts. */
	pt_wait_sql(ci, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'spg_gone'"
	    " AND application_name = 'psql' AND query = 'SELECT pg_sleep(30)'", "1", 20000);
	{
		struct tu_proc x;

		ck_assert_int_gt(tu_proc_excon(&x, d, NULL, av), 0);
		for (i = 0; i < 100; i++) {
			n = pt_sql(ci, "SELECT count(*) FROM pg_stat_activity WHERE "
			    "application_name = 'excon state' AND wait_event_type = "
			    "'Lock'");
			if (strcmp(n, "1") == 0) {
				free(n);
				break;
			}
			free(n);
			tu_sleep_ms(100);
		}
		ck_assert_int_lt(i, 100);
		free(pt_sql(ci, "SELECT pg_terminate_backend(pid) FROM "
		    "pg_stat_activity WHERE application_name = 'excon state'"));
		tu_proc_wait(&x, &r, 30000);
	}
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(tu_has(r.err, "excon: cannot lock the history in '") &&
	    tu_has(r.err, "dbname=spg_gone"), "%s", r.err);
	tu_run_free(&r);
	tu_proc_kill(&p, SIGKILL);
	tu_proc_wait(&p, &r, -1);
	tu_run_free(&r);
	pt_sql_eq(ci, "SELECT string_agg(name, ',') FROM excon.releases", "v1");
	free(run_ok(d, 0, "log --verify"));
	tu_rmrf(d);
	free(d);
	free(ci);
}
END_TEST

/* Runs pg_second_ctl of tests/pg.sh with args; asserts that it worked. */
static void
second_ctl(const char *args)
{
	struct run r;

	tu_sh(&r, NULL, ". \"$EXCON_TESTS_DIR/pg.sh\" && pg_second_ctl %s", args);
	ck_assert_msg(r.status == 0, "pg_second_ctl %s: %s", args, r.err);
	tu_run_free(&r);
}

/* Stops and removes the second server, whatever the test did (runs in the parent). */
static void
second_teardown(void)
{
	struct run r;

	tu_sh(&r, NULL, ". \"$EXCON_TESTS_DIR/pg.sh\" && pg_second_stop");
	tu_run_free(&r);
}

/*
 * The store's server stops (fast, then immediate: a crash) at every
 * point of a change, while excon is inside it: excon exits 1 with a
 * message that says the server went away and shows no password; once
 * the server is back the store is never half written (log --verify
 * finds it intact, the step's row and its event are both there or
 * neither is), and the next advance ships the step exactly once.  The
 * store has a server of its own (tests/pg.sh pg_second_start), so that
 * the other tests' server keeps running.
 */
START_TEST(test_server_stopped_mid_write)
{
	struct run r;
	char *base, *ci, *d, *fd, *out, *nl, *action, *from;
	int k, stopped = 1, failed = 0;

	tu_sh(&r, NULL, ". \"$EXCON_TESTS_DIR/pg.sh\" && pg_second_start");
	ck_assert_msg(r.status == 0, "cannot start a second server: %s", r.err);
	base = xstrdup(r.out);
	if ((nl = strchr(base, '\n')) != NULL)
		*nl = '\0';
	tu_run_free(&r);
	free(pt_sql(base, "CREATE DATABASE spg_stop"));
	ci = xasprintf("%s dbname=spg_stop password=s3cret", base);
	d = project(ci);
	fd = project("state/snap.db");
	tu_write(fd, "state/.keep", "");
	free(run_ok(fd, 0, "init"));
	free(run_ok(fd, 0, "release start v1"));
	from = xasprintf("%s/state/snap.db", fd);
	for (k = 1; stopped && k < 80; k++) {
		const char *const av[] = { "state", "copy", from, ci, NULL };
		const char *mode = k % 2 ? "fast" : "immediate";

		/* The same store before every stop: v1 started, nothing shipped. */
		free(pt_sql(ci, "DROP SCHEMA IF EXISTS excon CASCADE"));
		ck_assert_int_eq(tu_excon(&r, d, NULL, av), 0);
		tu_run_free(&r);
		action = xasprintf("shell . \"$EXCON_TESTS_DIR/pg.sh\" && "
		    "pg_second_ctl stop %s", mode);
		advance_under_gdb(d, k, action, &r);
		free(action);
		stopped = tu_has(r.out, "@@event ");
		if (stopped)
			second_ctl("start");
		ck_assert_msg(!tu_has(r.out, "s3cret") && !tu_has(r.err, "s3cret"),
		    "a password shown at %d:\n%s%s", k, r.out, r.err);
		out = pt_sql(ci, "SELECT (SELECT count(*) FROM excon.ships) || '/' || "
		    "(SELECT count(*) FROM excon.events WHERE kind = 'advance')");
		if (tu_has(r.out, "exited with code 01")) {
			/* Failed, naming the store and saying why. */
			ck_assert_msg(tu_has(r.err, "excon: cannot ") &&
			    tu_has(r.err, " dbname=spg_stop': ") &&
			    (tu_has(r.err, "server closed the connection") ||
			    tu_has(r.err, "terminating connection") ||
			    tu_has(r.err, "no connection to the server")),
			    "stopped (%s) at %d, unclear message:\n%s", mode, k, r.err);
			failed++;
		} else
			ck_assert_msg(tu_has(r.out, "exited normally") &&
			    strcmp(out, "1/1") == 0, "stopped (%s) at %d: neither "
			    "refused nor shipped (%s):\n%s%s", mode, k, out, r.out,
			    r.err);
		tu_run_free(&r);
		ck_assert_msg(strcmp(out, "0/0") == 0 || strcmp(out, "1/1") == 0,
		    "stopped (%s) at %d: ships/advance events %s", mode, k, out);
		free(out);
		out = run_ok(d, 0, "log --verify");
		ck_assert_msg(strcmp(out, "event log intact\n") == 0, "stopped (%s) "
		    "at %d: %s", mode, k, out);
		free(out);
		/* The next run goes on from there; nothing ships twice. */
		free(run_ok(d, 0, "advance " PLAN " --record-only"));
		pt_sql_eq(ci, "SELECT (SELECT count(*) FROM excon.events WHERE kind = "
		    "'advance') = (SELECT count(*) FROM excon.ships) AND (SELECT "
		    "count(*) FROM excon.ships) = (SELECT count(DISTINCT step) FROM "
		    "excon.ships)", "t");
	}
	ck_assert_msg(failed >= 3, "too few stop points ended excon (%d): is gdb "
	    "working?", failed);
	ck_assert_msg(!stopped, "the advance was still stopped at %d", k);
	tu_rmrf(d);
	tu_rmrf(fd);
	free(from);
	free(d);
	free(fd);
	free(ci);
	free(base);
}
END_TEST

/* The PostgreSQL store suite. */
static Suite *
state_pg_suite(void)
{
	Suite *s = suite_create("state_pg");
	TCase *tc;

	tu_add(s, "same output as file", test_same_output_as_file, setup,
	    teardown, 240);
	tu_add(s, "empty database", test_empty_database_is_no_history, setup,
	    teardown, 60);
	tu_add(s, "read-only role", test_read_only_role, setup, teardown, 60);
	tu_add(s, "backfill pause", test_backfill_pause_in_store, setup, teardown, 60);
	tu_add(s, "many runners", test_many_runners_one_store, setup, teardown,
	    120);
	tu_add(s, "tampered log", test_tampered_log_detected, setup, teardown,
	    60);
	tu_add(s, "state copy", test_state_copy_round_trip, setup, teardown,
	    120);
	tu_add(s, "foreign or newer store", test_foreign_or_newer_store_refused,
	    setup, teardown, 60);
	tu_add(s, "writer killed anywhere", test_writer_killed_anywhere, setup,
	    teardown, 300);
	tu_add(s, "server gone mid-command", test_server_gone_mid_command, setup,
	    teardown, 60);
	tu_add(s, "tampered rows", test_tampered_rows_detected, setup, teardown,
	    60);
	/* The second server goes even when the test fails: the teardown runs in the parent. */
	tc = tcase_create("server stopped mid-write");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, second_teardown);
	tcase_set_timeout(tc, 400);
	tcase_add_test(tc, test_server_stopped_mid_write);
	suite_add_tcase(s, tc);
	tu_add(s, "store in target database", test_store_in_target_database,
	    setup, teardown, 60);
	return s;
}

int
main(void)
{
	return tu_run_suite(state_pg_suite());
}
