/*
 * End to end: what `excon advance`, `rollback` and `verify` do on a real
 * database, through the real binary: lock retries that never queue the
 * application for long, one executor per plan, the refusal of a backfill
 * on a table without a primary key, a failing verify, drift, and rollback.
 * Every test works in a database and a project of its own.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dbschema.h"
#include "util/e2e.h"
#include "util/testutil.h"

#define PLAN "users-full-name"

/* The sample plan's first steps with the backfill's verify kept and a `down` on add-column. */
static const char small_plan[] =
    "plan: users-full-name\n"
    "steps:\n"
    "  - id: add-column\n"
    "    kind: add_column\n"
    "    table: users\n"
    "    column: full_name\n"
    "    type: text\n"
    "    down: ALTER TABLE users DROP COLUMN IF EXISTS full_name\n"
    "  - id: backfill\n"
    "    kind: backfill\n"
    "    table: users\n"
    "    set: full_name = nullif(name, '')\n"
    "    where: full_name IS NULL\n"
    "    verify: SELECT count(*) = 0 FROM users WHERE full_name IS DISTINCT FROM name\n";

/*
 * A writer standing for the application: one single-row UPDATE every
 * 20 ms for ms milliseconds.  Reports its worst latency and its error count
 * through a pipe.
 */
struct writer {
	pid_t	pid;
	int	fd;
};

/* Starts the writer. */
static void
writer_start(struct writer *w, const char *ci, int ms)
{
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	w->pid = fork();
	ck_assert_int_ne(w->pid, -1);
	if (w->pid == 0) {
		struct pg *db = NULL;
		struct buf err = BUF_INIT;
		double end = tu_ms() + ms, res[2] = { 0, 0 };

		close(fds[0]);
		if (pg_connect(&db, ci, "app", &err) == -1)
			_exit(2);
		while (tu_ms() < end) {
			double t0 = tu_ms();

			if (pg_exec(db, "UPDATE users SET name = name || '' WHERE id = 1",
			    0, NULL, NULL, &err) == -1)
				res[1]++;
			if (tu_ms() - t0 > res[0])
				res[0] = tu_ms() - t0;
			tu_sleep_ms(20);
		}
		if (write(fds[1], res, sizeof res) != sizeof res)
			_exit(4);
		_exit(0);
	}
	close(fds[1]);
	w->fd = fds[0];
}

/* Waits for the writer; *worst gets its longest statement in ms; asserts it had no error. */
static void
writer_wait(struct writer *w, double *worst)
{
	double res[2];
	int st;

	ck_assert_int_eq(read(w->fd, res, sizeof res), (ssize_t)sizeof res);
	close(w->fd);
	waitpid(w->pid, &st, 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_msg(res[1] == 0, "%.0f writes failed", res[1]);
	*worst = res[0];
}

/* Starts psql in the background running the statements (each its own -c, one session). */
static void
psql_bg(struct tu_proc *p, struct e2e *e, const char *stmts)
{
	const char *bin = getenv("PG_BIN");

	ck_assert(tu_proc_sh(p, NULL, "exec \"%s%spsql\" -X -q -v ON_ERROR_STOP=1 -d %s %s",
	    bin ? bin : "", bin ? "/" : "", e->db, stmts) > 0);
}

/* Waits until a psql session holds a granted lock of mode on users. */
static void
wait_psql_lock(struct e2e *e, const char *mode)
{
	char *q = xasprintf("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
	    " WHERE l.relation = 'users'::regclass AND l.mode = '%s' AND l.granted"
	    " AND a.application_name = 'psql'", mode);

	e2e_wait_sql(e->ci, q, "1", 10000);
	free(q);
}

START_TEST(test_lock_retry_does_not_block_writers)
{
	struct e2e e;
	struct tu_proc holder;
	struct writer w;
	struct run r, hr;
	double t0, took, worst;

	e2e_setup(&e, "cli_lock", "lock_timeout: 300ms\nlock_retries: 30\n");
	e2e_plan(&e, PLAN ".yaml", NULL);
	e2e_users(e.ci, 1000);
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));

	/*
	 * A report holds ACCESS SHARE for 3 s.  ADD COLUMN needs ACCESS
	 * EXCLUSIVE: while excon waits for it, every writer queues behind
	 * excon, so excon must give up after lock_timeout and retry.
	 */
	psql_bg(&holder, &e, "-c 'BEGIN' -c 'SELECT count(*) FROM users'"
	    " -c 'SELECT pg_sleep(3)' -c 'COMMIT'");
	wait_psql_lock(&e, "AccessShareLock");
	writer_start(&w, e.ci, 3500);
	/* The application writes before excon queues for its lock. */
	e2e_wait_sql(e.ci, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
	    " AND application_name = 'app' AND query LIKE 'UPDATE users%'", "1", 10000);
	t0 = tu_ms();
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, NULL), 0);
	took = tu_ms() - t0;
	ck_assert_msg(tu_has(r.out, "shipped users-full-name/add-column (add_column, pre) in r1 (#1)"),
	    "%s", r.out);
	/* It waited for the report to end, retrying with lines the operator sees. */
	ck_assert_msg(tu_has(r.err, "excon: users-full-name/add-column: step 'add-column': "
	    "lock timeout; retry 1 of 30 in "), "%s", r.err);
	ck_assert_int_ge(e2e_lines_with(r.err, "lock timeout; retry"), 3);
	ck_assert_msg(took > 2000, "excon took %.0f ms: it did not wait for the lock", took);
	tu_run_free(&r);
	writer_wait(&w, &worst);
	/* Without lock_timeout the writer would have waited ~3 s behind the ALTER. */
	ck_assert_msg(worst < 300 + 400, "a single-row UPDATE waited %.0f ms", worst);
	ck_assert_int_eq(tu_proc_wait(&holder, &hr, 10000), 0);
	tu_run_free(&hr);
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'users' AND column_name = 'full_name'", "1");
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.ledger WHERE step = 'add-column'", "1");
	e2e_free(&e);
}
END_TEST

/*
 * Sets up the sample plan up to its backfill on 20,000 rows and starts
 * `excon advance` running the backfill slowly (1.5 s) in the background;
 * returns the pid of its server session (owned).
 */
static char *
slow_backfill_cfg(struct e2e *e, const char *db, struct tu_proc *first, const char *config)
{
	const char *av[] = { "advance", PLAN, "--db", NULL, NULL };

	e2e_setup(e, db, config);
	e2e_plan(e, PLAN ".yaml", NULL);
	e2e_users(e->ci, 20000);
	free(e2e_ok(e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(e, 1, "advance", PLAN, "--to", "dual-write", NULL));
	free(e2e_ok(e, 0, "release", "finish", "r1", NULL));
	av[3] = e->ci;
	ck_assert(tu_proc_excon(first, e->dir, NULL, av) > 0);
	e2e_wait_sql(e->ci, "SELECT count(*) FROM pg_stat_activity"
	    " WHERE application_name = 'excon users-full-name/backfill'", "1", 10000);
	return pt_sql(e->ci, "SELECT pid FROM pg_stat_activity"
	    " WHERE application_name = 'excon users-full-name/backfill'");
}

/* slow_backfill_cfg with 1000-row batches and a 300 ms pause between them. */
static char *
slow_backfill(struct e2e *e, const char *db, struct tu_proc *first)
{
	return slow_backfill_cfg(e, db, first,
	    "backfill: {batch_size: 1000, target_batch_ms: 1000, pause_ms: 300}\n");
}

/* Small batches with a pause: a backfill of 20,000 rows that takes some seconds. */
#define SLOWER "backfill: {batch_size: 300, target_batch_ms: 5, pause_ms: 100, "

START_TEST(test_one_executor_per_plan)
{
	struct e2e e;
	struct tu_proc first;
	struct run r;
	char *pid, *want, *out, *v;

	/* The first excon runs the slow backfill. */
	pid = slow_backfill(&e, "cli_plan_lock", &first);

	/* The second, told not to wait, is told who holds the plan, and changes nothing. */
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, "--wait", "0", NULL), 3);
	want = xasprintf("refused: plan 'users-full-name' is being advanced by another excon"
	    " (pid %s on host [local], 'excon users-full-name/backfill')", pid);
	ck_assert_msg(tu_has(r.err, want), "want '%s' in: %s", want, r.err);
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	ck_assert_msg(tu_proc_running(&first), "the backfill ended before the second excon ran");

	/* The first finishes; the step is recorded once, and not as failed. */
	ck_assert_int_eq(tu_proc_wait(&first, &r, 60000), 0);
	ck_assert_msg(tu_has(r.out, "shipped users-full-name/backfill (backfill, post) in r1 (#1)"),
	    "%s", r.out);
	tu_run_free(&r);
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	v = e2e_json_get(out, "id", "backfill", "status");
	ck_assert_str_eq(v, "shipped");
	free(v);
	free(out);
	out = e2e_ok(&e, 0, "log", PLAN, "--format", "json", NULL);
	ck_assert_int_eq(e2e_count(out, "\"step\":\"backfill\""), 1);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");
	free(pid);
	free(want);
	e2e_free(&e);
}
END_TEST

/* Waits until the process's stderr holds want; fails after timeout_ms. */
static void
wait_stderr(struct tu_proc *p, const char *want, int timeout_ms)
{
	double end = tu_ms() + timeout_ms;
	char *err;

	for (;;) {
		err = tu_proc_peek(p, 1);
		if (tu_has(err, want))
			break;
		ck_assert_msg(tu_ms() < end, "waited %d ms for '%s' in: %s", timeout_ms,
		    want, err);
		free(err);
		tu_sleep_ms(50);
	}
	free(err);
}

/*
 * An advance that finds its plan locked waits for it (saying who holds
 * it), and goes on when it is released; with --wait it gives up after
 * that long, naming the holder.
 */
START_TEST(test_advance_waits_for_plan_lock)
{
	const char *av[] = { "advance", PLAN, "--to", "dual-write", "--db", NULL, NULL };
	struct e2e e;
	struct tu_proc second;
	struct pg *holder = NULL;
	struct buf err = BUF_INIT, who = BUF_INIT;
	struct run r;
	double t0;
	char *want;
	int got;

	e2e_setup(&e, "cli_lock_wait", NULL);
	e2e_plan(&e, PLAN ".yaml", NULL);
	e2e_users(e.ci, 100);
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	/* Another session holds the plan, as a killed excon's would for a while. */
	ck_assert_int_eq(pg_connect(&holder, e.ci, "excon users-full-name/backfill", &err), 0);
	ck_assert_int_eq(dbschema_plan_lock(holder, PLAN, &got, &who, &err), 0);
	ck_assert_int_eq(got, 1);
	want = xasprintf("waiting up to 20 s for plan '%s', locked by another excon (pid %d"
	    " on host [local], 'excon users-full-name/backfill')", PLAN, pg_backend_pid(holder));

	av[5] = e.ci;
	ck_assert(tu_proc_excon(&second, e.dir, NULL, av) > 0);
	wait_stderr(&second, want, 10000);
	/* It said it waits; for half a second nothing may happen. */
	tu_sleep_ms(500);
	ck_assert_msg(tu_proc_running(&second), "advance did not wait for the plan lock");
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'users' AND column_name = 'full_name'", "0");
	ck_assert_int_eq(dbschema_plan_unlock(holder, PLAN, &err), 0);
	ck_assert_int_eq(tu_proc_wait(&second, &r, 30000), 0);
	ck_assert_msg(tu_has(r.out, "shipped " PLAN "/add-column") &&
	    tu_has(r.out, "shipped " PLAN "/dual-write"), "%s", r.out);
	ck_assert_msg(tu_has(r.err, "plan '" PLAN "' released after "), "%s", r.err);
	tu_run_free(&r);
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'users' AND column_name = 'full_name'", "1");

	/* Bounded: --wait 1s gives up after a second, naming the holder. */
	ck_assert_int_eq(dbschema_plan_lock(holder, PLAN, &got, &who, &err), 0);
	ck_assert_int_eq(got, 1);
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));
	t0 = tu_ms();
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, "--wait", "1s", NULL), 3);
	ck_assert_msg(tu_ms() - t0 >= 1000, "gave up after %.0f ms", tu_ms() - t0);
	free(want);
	want = xasprintf("refused: plan '%s' is being advanced by another excon (pid %d"
	    " on host [local], 'excon users-full-name/backfill'); waited 1 s", PLAN,
	    pg_backend_pid(holder));
	ck_assert_msg(tu_has(r.err, want), "want '%s' in: %s", want, r.err);
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, "--wait", "soon", NULL), 2);
	ck_assert_msg(tu_has(r.err, "invalid --wait 'soon'"), "%s", r.err);
	tu_run_free(&r);
	pg_close(holder);
	free(want);
	buf_free(&err);
	buf_free(&who);
	e2e_free(&e);
}
END_TEST

/*
 * kill -9 in the middle of a backfill, and `advance` again at once: it
 * completes (waiting for the dead session's lock if need be), every row
 * is right and the step is recorded once.
 */
START_TEST(test_killed_excon_rerun_at_once)
{
	struct e2e e;
	struct tu_proc first;
	struct run r;
	char *pid, *out;

	pid = slow_backfill(&e, "cli_kill_rerun", &first);
	e2e_wait_sql(e.ci, "SELECT to_regclass('excon.backfill') IS NOT NULL", "t", 10000);
	e2e_wait_sql(e.ci, "SELECT count(*) > 0 FROM excon.backfill WHERE rows_done > 0",
	    "t", 10000);
	tu_proc_kill(&first, SIGKILL);
	tu_proc_wait(&first, &r, 10000);
	tu_run_free(&r);
	/* At once: the killed excon's session may still hold the plan. */
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, "--to", "backfill", NULL), 0);
	ck_assert_msg(tu_has(r.out, "shipped users-full-name/backfill (backfill, post) in r1 (#1)"),
	    "%s%s", r.out, r.err);
	tu_run_free(&r);
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.ledger WHERE step = 'backfill'", "1");
	out = e2e_ok(&e, 0, "log", PLAN, "--format", "json", NULL);
	ck_assert_int_eq(e2e_count(out, "\"step\":\"backfill\""), 1);
	free(out);
	free(pid);
	e2e_free(&e);
}
END_TEST

/* rows_done of the backfill, from excon.backfill. */
static long long
rows_done(struct e2e *e)
{
	return e2e_num(e->ci, "SELECT coalesce(max(rows_done), 0) FROM excon.backfill");
}

/*
 * Asserts that the backfill makes no progress for ms milliseconds: a
 * check that nothing happens, so the caller first waits for the pause
 * line (wait_err) and the sleep cannot pass before the backfill stopped.
 */
static void
assert_stalled(struct e2e *e, struct tu_proc *p, int ms)
{
	long long before = rows_done(e);

	tu_sleep_ms(ms);
	ck_assert_int_eq(rows_done(e), before);
	ck_assert_msg(tu_proc_running(p), "the backfill ended while it should wait");
	ck_assert_int_lt(before, 20000);
}

/* Waits up to ms for want on p's stderr; returns that stderr (owned). */
static char *
wait_err(struct tu_proc *p, const char *want, int ms)
{
	double t0 = tu_ms();
	char *err;

	for (;;) {
		err = tu_proc_peek(p, 1);
		if (tu_has(err, want) || tu_ms() - t0 > ms)
			break;
		free(err);
		tu_sleep_ms(100);
	}
	ck_assert_msg(tu_has(err, want), "no '%s' after %d ms: %s", want, ms, err);
	return err;
}

/*
 * A streaming standby (pg_basebackup -R of the test server) whose replay
 * is paused: the backfill stops within a couple of seconds, says why,
 * and completes by itself once replay resumes.
 */
START_TEST(test_backfill_pauses_for_lagging_standby)
{
	struct e2e e;
	struct tu_proc first;
	struct run r;
	char *pid, *sci, *nl, *err, *cfg;

	tu_sh(&r, NULL, ". \"$EXCON_TESTS_DIR/pg.sh\" && pg_standby_start");
	ck_assert_msg(r.status == 0, "cannot start the standby: %s", r.err);
	sci = xstrdup(r.out);
	if ((nl = strchr(sci, '\n')) != NULL)
		*nl = '\0';
	tu_run_free(&r);
	e2e_wait_sql(tu_pg(), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
	    "1", 30000);
	free(pt_sql(sci, "SELECT pg_wal_replay_pause()"));

	cfg = xasprintf(SLOWER "max_replica_lag: 1s}\nreplicas: ['%s password=secret']\n", sci);
	pid = slow_backfill_cfg(&e, "cli_standby_lag", &first, cfg);
	/*
	 * Stopped once the standby falls behind: the pause line comes within
	 * a couple of seconds on a quiet machine (waited for, not timed, so
	 * that a loaded machine cannot fail the test), then no progress.
	 */
	err = wait_err(&first, "excon: users-full-name/backfill: paused since ", 30000);
	free(err);
	assert_stalled(&e, &first, 2000);
	/* The replica of replicas: is measured on its own connection, a moment later. */
	err = wait_err(&first, "; replica 'host=", 30000);
	ck_assert_msg(tu_has(err, "excon: users-full-name/backfill: paused since ") &&
	    tu_has(err, "waiting: standby walreceiver (pid ") &&
	    tu_has(err, "(max_replica_lag 1.0 s)"), "%s", err);
	/* The standby listed under replicas: is asked too, its password never shown. */
	ck_assert_msg(tu_has(err, "; replica 'host=") && !tu_has(err, "password") &&
	    !tu_has(err, "secret"), "%s", err);
	free(err);

	free(pt_sql(sci, "SELECT pg_wal_replay_resume()"));
	ck_assert_int_eq(tu_proc_wait(&first, &r, 60000), 0);
	ck_assert_msg(tu_has(r.err, "excon: users-full-name/backfill: resumed"), "%s", r.err);
	ck_assert_msg(tu_has(r.out, "shipped users-full-name/backfill"), "%s", r.out);
	/* The end: one line with the rows and the total time. */
	ck_assert_msg(e2e_lines_with(r.err, "excon: users-full-name/backfill: done, 20000 rows"
	    " (20000 updated) in 0:") == 1, "%s", r.err);
	tu_run_free(&r);
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");
	free(pid);
	free(sci);
	free(cfg);
	e2e_free(&e);
}
END_TEST

/* Stops and removes the standby, whatever the test did (runs in the parent). */
static void
standby_teardown(void)
{
	struct run r;

	tu_sh(&r, NULL, ". \"$EXCON_TESTS_DIR/pg.sh\" && pg_standby_stop");
	tu_run_free(&r);
}

/*
 * Another transaction older than max_xact_age holds back vacuum: the
 * backfill waits, says which, and goes on once it ends.
 */
START_TEST(test_backfill_pauses_for_old_transaction)
{
	struct e2e e;
	struct tu_proc first;
	struct run r;
	struct pg *old = NULL;
	struct buf perr = BUF_INIT;
	char *pid, *err, *want;

	pid = slow_backfill_cfg(&e, "cli_old_xact", &first, SLOWER "max_xact_age: 1s}\n");
	ck_assert_int_eq(pg_connect(&old, e.ci, "report-job", &perr), 0);
	ck_assert_int_eq(pg_exec(old, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL, NULL,
	    &perr), 0);
	ck_assert_int_eq(pg_exec(old, "SELECT count(*) FROM users", 0, NULL, NULL, &perr), 0);
	/* The pause line, waited for (not timed); then no progress while it lasts. */
	want = xasprintf("waiting: transaction of pid %d ('report-job') open for ",
	    pg_backend_pid(old));
	err = wait_err(&first, want, 30000);
	ck_assert_msg(tu_has(err, "holds back vacuum (max_xact_age 1 s)"), "%s", err);
	free(err);
	assert_stalled(&e, &first, 2000);
	ck_assert_int_eq(pg_exec(old, "COMMIT", 0, NULL, NULL, &perr), 0);
	ck_assert_int_eq(tu_proc_wait(&first, &r, 60000), 0);
	ck_assert_msg(tu_has(r.err, "excon: users-full-name/backfill: resumed"), "%s", r.err);
	ck_assert_msg(tu_has(r.out, "shipped users-full-name/backfill"), "%s", r.out);
	tu_run_free(&r);
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");
	pg_close(old);
	buf_free(&perr);
	free(want);
	free(pid);
	e2e_free(&e);
}
END_TEST

/*
 * Ctrl-C (SIGINT) during a backfill stops it after the current batch,
 * with a newline and how to resume, exit 130; nothing is recorded, and
 * the next advance resumes and completes.
 */
START_TEST(test_ctrl_c_stops_cleanly)
{
	struct e2e e;
	struct tu_proc first;
	struct run r;
	char *pid, *out, *v;
	long long at;

	pid = slow_backfill_cfg(&e, "cli_ctrl_c", &first, SLOWER "max_replica_lag: 2s}\n");
	e2e_wait_sql(e.ci, "SELECT to_regclass('excon.backfill') IS NOT NULL", "t", 10000);
	e2e_wait_sql(e.ci, "SELECT count(*) > 0 FROM excon.backfill WHERE rows_done > 0",
	    "t", 10000);
	tu_proc_kill(&first, SIGINT);
	ck_assert_int_eq(tu_proc_wait(&first, &r, 20000), 130);
	ck_assert_msg(tu_has(r.err, "excon: users-full-name/backfill: interrupted after ") &&
	    tu_has(r.err, "excon: stopped cleanly; 'excon advance users-full-name' resumes"
	    " the backfill where it stopped\n"), "%s", r.err);
	ck_assert_msg(!tu_has(r.out, "shipped"), "%s", r.out);
	tu_run_free(&r);
	at = rows_done(&e);
	ck_assert_int_gt(at, 0);
	ck_assert_int_lt(at, 20000);
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	v = e2e_json_get(out, "id", "backfill", "status");
	ck_assert_str_ne(v, "shipped");
	free(v);
	free(out);
	/* The next advance resumes where it stopped and completes. */
	out = e2e_ok(&e, 1, "advance", PLAN, "--to", "backfill", NULL);
	ck_assert_msg(tu_has(out, "shipped users-full-name/backfill"), "%s", out);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.ledger WHERE step = 'backfill'", "1");
	free(pid);
	e2e_free(&e);
}
END_TEST

/*
 * status while a backfill runs and pauses for an old transaction: the
 * rows done, the rate and ETA, and what it waits for since when; after
 * Ctrl-C, the progress of the stopped run stays, with no pause.
 */
START_TEST(test_status_shows_running_backfill)
{
	struct e2e e;
	struct tu_proc first;
	struct run r;
	struct pg *old = NULL;
	struct buf perr = BUF_INIT;
	char *pid, *out, *want;

	pid = slow_backfill_cfg(&e, "cli_status_bf", &first, SLOWER "max_xact_age: 1s}\n");
	e2e_wait_sql(e.ci, "SELECT to_regclass('excon.backfill') IS NOT NULL", "t", 10000);
	e2e_wait_sql(e.ci, "SELECT count(*) > 0 FROM excon.backfill WHERE rows_done > 0",
	    "t", 10000);
	/* Running: rows, rate and ETA. */
	out = e2e_ok(&e, 1, "status", PLAN, NULL);
	ck_assert_msg(tu_has(out, "  backfill: ") && tu_has(out, " of ~20000 rows done") &&
	    tu_has(out, "  backfill rate: ") && tu_has(out, " rows/s, ETA ") &&
	    tu_has(out, " (as of 20") && !tu_has(out, "paused since"), "%s", out);
	free(out);
	/* Paused: what it waits for, and since when. */
	ck_assert_int_eq(pg_connect(&old, e.ci, "report-job", &perr), 0);
	ck_assert_int_eq(pg_exec(old, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL, NULL,
	    &perr), 0);
	ck_assert_int_eq(pg_exec(old, "SELECT count(*) FROM users", 0, NULL, NULL, &perr), 0);
	want = xasprintf("waiting: transaction of pid %d ('report-job') open for ",
	    pg_backend_pid(old));
	free(wait_err(&first, want, 30000));
	assert_stalled(&e, &first, 500);
	out = e2e_ok(&e, 1, "status", PLAN, NULL);
	ck_assert_msg(tu_has(out, "  backfill paused since 20") && tu_has(out, want) &&
	    tu_has(out, "backfill rate: "), "want '%s' in: %s", want, out);
	free(out);
	out = e2e_ok(&e, 1, "status", PLAN, "--format", "json", NULL);
	ck_assert_msg(tu_has(out, "\"waiting\":\"transaction of pid ") &&
	    tu_has(out, "\"waiting_since\":\"20") && tu_has(out, "\"eta_s\":"),
	    "%s", out);
	free(out);
	/* Stopped part way: the last run's progress, no longer paused. */
	ck_assert_int_eq(pg_exec(old, "COMMIT", 0, NULL, NULL, &perr), 0);
	e2e_wait_sql(e.ci, "SELECT count(*) > 0 FROM excon.backfill WHERE rows_done > 1500",
	    "t", 20000);
	tu_proc_kill(&first, SIGINT);
	ck_assert_int_eq(tu_proc_wait(&first, &r, 20000), 130);
	tu_run_free(&r);
	out = e2e_ok(&e, 1, "status", PLAN, NULL);
	ck_assert_msg(tu_has(out, " of ~20000 rows done, resumes after key (") &&
	    tu_has(out, "  backfill rate: ") && !tu_has(out, "paused since"), "%s", out);
	free(out);
	pg_close(old);
	buf_free(&perr);
	free(want);
	free(pid);
	e2e_free(&e);
}
END_TEST

/*
 * advance --dry-run of a backfill estimates, from the catalog and a
 * rolled-back sample, the rows it walks and updates, its duration and
 * its WAL; --exact counts the rows.  Nothing changes.
 */
START_TEST(test_dry_run_estimates_backfill)
{
	struct e2e e;
	char *out;

	e2e_setup(&e, "cli_estimate", NULL);
	e2e_plan(&e, PLAN ".yaml", NULL);
	e2e_users(e.ci, 20000);
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", PLAN, "--to", "dual-write", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));
	free(pt_sql(e.ci, "UPDATE users SET full_name = name WHERE id <= 5000; ANALYZE users"));

	out = e2e_ok(&e, 1, "advance", PLAN, "--dry-run", NULL);
	ck_assert_msg(tu_has(out, "-- estimate: walks ~20000 rows, updates ~") &&
	    tu_has(out, "(from the catalog and the planner; --exact counts them);\n--   about ") &&
	    tu_has(out, "(a rolled-back sample of 1000 rows took ") && tu_has(out, " of WAL\n") &&
	    tu_has(out, "would record users-full-name/backfill"), "%s", out);
	free(out);
	out = e2e_ok(&e, 1, "advance", PLAN, "--dry-run", "--exact", NULL);
	ck_assert_msg(tu_has(out, "-- estimate: walks 20000 rows, updates 15000 (counted);"),
	    "%s", out);
	free(out);
	/* Nothing changed: the sample was rolled back, nothing was recorded. */
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS NULL", "15000");
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.ledger WHERE step = 'backfill'", "0");
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	ck_assert_int_eq(e2e_count(out, "\"status\":\"shipped\""), 2);
	free(out);
	e2e_free(&e);
}
END_TEST

START_TEST(test_recorded_once_with_record_only_meanwhile)
{
	struct e2e e;
	struct tu_proc first;
	struct run r;
	char *pid, *out;

	pid = slow_backfill(&e, "cli_record_only", &first);
	/* Someone records the step by hand while excon runs its SQL. */
	out = e2e_ok(&e, 0, "advance", PLAN, "--record-only", NULL);
	ck_assert_msg(tu_has(out, "shipped users-full-name/backfill"), "%s", out);
	free(out);
	ck_assert_msg(tu_proc_running(&first), "the backfill ended before the record-only advance");

	/* The executor finishes the SQL and does not record the step a second time. */
	ck_assert_int_eq(tu_proc_wait(&first, &r, 60000), 0);
	ck_assert_msg(tu_has(r.out, "users-full-name/backfill was recorded by another excon"),
	    "%s", r.out);
	tu_run_free(&r);
	out = e2e_ok(&e, 0, "log", PLAN, "--format", "json", NULL);
	ck_assert_int_eq(e2e_count(out, "\"kind\":\"advance\",\"plan\":\"" PLAN "\",\"step\":\"backfill\""), 1);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");
	free(pid);
	e2e_free(&e);
}
END_TEST

START_TEST(test_backfill_without_primary_key_refused)
{
	struct e2e e;
	struct run r;
	char *out, *v;

	e2e_setup(&e, "cli_no_pk", NULL);
	e2e_plan(&e, "legacy.yaml",
	    "plan: legacy-full-name\n"
	    "steps:\n"
	    "  - id: add-column\n"
	    "    kind: add_column\n"
	    "    table: legacy\n"
	    "    column: full_name\n"
	    "    type: text\n"
	    "  - id: backfill\n"
	    "    kind: backfill\n"
	    "    table: legacy\n"
	    "    set: full_name = name\n"
	    "    where: full_name IS NULL\n");
	free(pt_sql(e.ci, "CREATE TABLE legacy (id int NOT NULL, name text NOT NULL);"
	    "INSERT INTO legacy SELECT g, 'u' || g FROM generate_series(1, 500) g"));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", "legacy-full-name", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));

	ck_assert_int_ne(e2e_run(&e, &r, 1, "advance", "legacy-full-name", NULL), 0);
	/* Why, and what to do. */
	ck_assert_msg(tu_has(r.err, "table 'public.legacy' has no primary key"), "%s", r.err);
	ck_assert_msg(tu_has(r.err, "resume exactly where it stopped"), "%s", r.err);
	ck_assert_msg(tu_has(r.err, "add a primary key first"), "%s", r.err);
	/* A backfill without `down` cannot be rolled back: the message must not offer it. */
	ck_assert_msg(!tu_has(r.err, "excon rollback"), "%s", r.err);
	ck_assert_msg(!tu_has(r.out, "shipped legacy-full-name/backfill") &&
	    !tu_has(r.out, "nothing to ship"), "%s", r.out);
	tu_run_free(&r);
	/* Nothing changed: no row, no cursor, no ledger row. */
	pt_sql_eq(e.ci, "SELECT count(*) FROM legacy WHERE full_name IS NOT NULL", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.ledger WHERE step = 'backfill'", "0");
	pt_sql_eq(e.ci, "SELECT to_regclass('excon.backfill') IS NULL", "t");
	out = e2e_ok(&e, 0, "status", "legacy-full-name", "--format", "json", NULL);
	v = e2e_json_get(out, "id", "backfill", "status");
	ck_assert_msg(v != NULL && strcmp(v, "shipped") != 0, "%s", out);
	free(v);
	free(out);

	/* Doing what the message says lets the step run. */
	free(pt_sql(e.ci, "ALTER TABLE legacy ADD PRIMARY KEY (id)"));
	out = e2e_ok(&e, 1, "advance", "legacy-full-name", NULL);
	ck_assert_msg(tu_has(out, "shipped legacy-full-name/backfill"), "%s", out);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM legacy WHERE full_name IS DISTINCT FROM name", "0");
	e2e_free(&e);
}
END_TEST

/* A step that failed part way is what rollback undoes, and says so. */
START_TEST(test_rollback_of_failed_step)
{
	struct e2e e;
	struct run r;
	char *out, *v;

	e2e_setup(&e, "cli_rollback_failed", NULL);
	e2e_plan(&e, "boom.yaml",
	    "plan: boom\n"
	    "steps:\n"
	    "  - id: add-column\n"
	    "    kind: add_column\n"
	    "    table: things\n"
	    "    column: extra\n"
	    "    type: int\n"
	    "  - id: fill\n"
	    "    kind: sql\n"
	    "    phase: expand\n"
	    "    stage: pre\n"
	    "    up: UPDATE things SET extra = 1 / (id - id) WHERE id > 0\n"
	    "    down: UPDATE things SET extra = NULL WHERE id > 0\n");
	free(pt_sql(e.ci, "CREATE TABLE things (id int PRIMARY KEY);"
	    "INSERT INTO things SELECT g FROM generate_series(1, 10) g"));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	ck_assert_int_ne(e2e_run(&e, &r, 1, "advance", "boom", "--to", "fill", NULL), 0);
	ck_assert_msg(tu_has(r.err, "boom/fill failed: step 'fill': division by zero"), "%s", r.err);
	ck_assert_msg(tu_has(r.err, "'excon rollback boom' undoes it"), "%s", r.err);
	tu_run_free(&r);

	out = e2e_ok(&e, 1, "rollback", "boom", "--dry-run", NULL);
	ck_assert_msg(tu_has(out, "would roll back boom/fill (failed part way in r1, #1) running its down SQL"),
	    "%s", out);
	free(out);
	out = e2e_ok(&e, 0, "rollback", "boom", "--record-only", NULL);
	ck_assert_str_eq(out, "rolled back boom/fill (had failed part way in r1, #1)\n");
	free(out);
	/* The step before it is untouched, and the plan is no longer blocked. */
	out = e2e_ok(&e, 0, "status", "boom", "--format", "json", NULL);
	v = e2e_json_get(out, "id", "add-column", "status");
	ck_assert_str_eq(v, "shipped");
	free(v);
	v = e2e_json_get(out, "id", "fill", "status");
	ck_assert_msg(v != NULL && strcmp(v, "shipped") != 0 && strcmp(v, "failed") != 0,
	    "%s", out);
	free(v);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'things' AND column_name = 'extra'", "1");
	e2e_free(&e);
}
END_TEST

START_TEST(test_backfill_verify_fails)
{
	struct e2e e;
	struct run r;
	char *out, *v;

	e2e_setup(&e, "cli_verify", NULL);
	e2e_plan(&e, PLAN ".yaml", small_plan);
	e2e_users(e.ci, 1000);
	/* Three names the backfill's expression turns into NULL. */
	free(pt_sql(e.ci, "UPDATE users SET name = '' WHERE id IN (10, 500, 990)"));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", PLAN, NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));

	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, NULL), 3);
	ck_assert_msg(tu_has(r.err, "refused: users-full-name/backfill ran, but its verify"
	    " query returned false"), "%s", r.err);
	ck_assert_msg(tu_has(r.err, "3 row(s)"), "%s", r.err);
	ck_assert_msg(tu_has(r.err, "the step is not shipped"), "%s", r.err);
	tu_run_free(&r);
	/* The rest of the table was backfilled. */
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "3");
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	v = e2e_json_get(out, "id", "backfill", "status");
	ck_assert_str_eq(v, "pending");
	free(v);
	ck_assert_int_eq(e2e_count(out, "\"status\":\"shipped\""), 1);
	free(out);
	out = e2e_ok(&e, 0, "log", PLAN, NULL);
	ck_assert_msg(tu_has(out, "verify.failed"), "%s", out);
	free(out);
	/* verify sees that the database ran a step the state file does not count. */
	ck_assert_int_eq(e2e_run(&e, &r, 1, "verify", NULL), 4);
	ck_assert_msg(tu_has(r.out, "drift: users-full-name/backfill: applied on the database"
	    " (excon.ledger) but not shipped in the state file"), "%s", r.out);
	ck_assert_int_eq(e2e_lines_with(r.out, "drift: "), 1);
	tu_run_free(&r);

	/* Fixing the data the backfill reads and advancing again walks again and ships it. */
	free(pt_sql(e.ci, "UPDATE users SET name = 'u' || id WHERE name = ''"));
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, NULL), 0);
	ck_assert_msg(tu_has(r.out, "shipped users-full-name/backfill"), "%s", r.out);
	ck_assert_msg(tu_has(r.err, "rows still match where 'full_name IS NULL': walking the table again"),
	    "%s", r.err);
	tu_run_free(&r);
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.ledger WHERE step = 'backfill'", "1");
	e2e_free(&e);
}
END_TEST

/* A plan with one checkable effect per table, so that each drift stands alone. */
static const char drift_plan[] =
    "plan: drift\n"
    "steps:\n"
    "  - id: add-x\n"
    "    kind: add_column\n"
    "    table: t1\n"
    "    column: x\n"
    "    type: text\n"
    "  - id: index-y\n"
    "    kind: create_index\n"
    "    table: t2\n"
    "    name: t2_y_idx\n"
    "    columns: [y]\n"
    "  - id: sync-ab\n"
    "    kind: dual_write\n"
    "    table: t3\n"
    "    from: a\n"
    "    to: b\n"
    "    trigger: true\n"
    "  - id: drop-z\n"
    "    kind: drop_column\n"
    "    table: t4\n"
    "    column: z\n";

START_TEST(test_verify_reports_drift)
{
	struct e2e e;
	struct run r;
	char *out;

	e2e_setup(&e, "cli_drift", NULL);
	e2e_plan(&e, "drift.yaml", drift_plan);
	free(pt_sql(e.ci, "CREATE TABLE t1 (id serial PRIMARY KEY);"
	    "CREATE TABLE t2 (id serial PRIMARY KEY, y int);"
	    "CREATE TABLE t3 (id serial PRIMARY KEY, a text, b text);"
	    "CREATE TABLE t4 (id serial PRIMARY KEY, z text)"));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", "drift", "--to", "sync-ab", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));
	free(e2e_ok(&e, 0, "release", "start", "r2", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r2", NULL));
	free(e2e_ok(&e, 0, "release", "start", "r3", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r3", NULL));
	free(e2e_ok(&e, 1, "advance", "drift", NULL));
	out = e2e_ok(&e, 1, "verify", NULL);
	ck_assert_msg(tu_has(out, "verify: the database matches the state (1 plan checked)"), "%s", out);
	free(out);

	/* Someone changes the database by hand. */
	free(pt_sql(e.ci, "ALTER TABLE t1 DROP COLUMN x;"
	    "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 't2_y_idx'::regclass;"
	    "DROP TRIGGER excon_sync_a_b ON t3;"
	    "ALTER TABLE t4 ADD COLUMN z text"));
	ck_assert_int_eq(e2e_run(&e, &r, 1, "verify", NULL), 4);
	ck_assert_int_eq(e2e_lines_with(r.out, "drift: "), 4);
	ck_assert_msg(tu_has(r.out, "drift: t1.x: column missing (add-x shipped in r1)\n"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "drift: t2: index 't2_y_idx' index is INVALID (index-y shipped in r1)\n"),
	    "%s", r.out);
	ck_assert_msg(tu_has(r.out, "drift: t3: trigger 'excon_sync_a_b' missing (sync-ab shipped in r1)\n"),
	    "%s", r.out);
	ck_assert_msg(tu_has(r.out, "drift: t4.z: column still present (drop-z shipped in r3)\n"),
	    "%s", r.out);
	ck_assert_msg(tu_has(r.out, "verify: 4 drifts"), "%s", r.out);
	tu_run_free(&r);

	/* The same as JSON. */
	ck_assert_int_eq(e2e_run(&e, &r, 1, "verify", "--format", "json", NULL), 4);
	ck_assert_msg(strncmp(r.out, "{\"ok\":false,\"drift\":[\"t1.x: column missing", 41) == 0,
	    "%s", r.out);
	ck_assert_int_eq(e2e_count(r.out, "shipped in r"), 4);
	tu_run_free(&r);
	e2e_free(&e);
}
END_TEST

/* Plan A adds t.x; plan B, later, drops it again. */
static const char add_x_plan[] =
    "plan: add-x\n"
    "steps:\n"
    "  - id: add-x\n"
    "    kind: add_column\n"
    "    table: t\n"
    "    column: x\n"
    "    type: text\n";
static const char drop_x_plan[] =
    "plan: drop-x\n"
    "steps:\n"
    "  - id: drop-x\n"
    "    kind: drop_column\n"
    "    table: t\n"
    "    column: x\n";

START_TEST(test_verify_across_plans)
{
	struct e2e e;
	struct run r;
	char *out;

	e2e_setup(&e, "cli_drift_plans", NULL);
	e2e_plan(&e, "add-x.yaml", add_x_plan);
	free(pt_sql(e.ci, "CREATE TABLE t (id serial PRIMARY KEY)"));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", "add-x", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));
	free(e2e_ok(&e, 0, "release", "start", "r2", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r2", NULL));
	free(e2e_ok(&e, 0, "release", "start", "r3", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r3", NULL));
	e2e_plan(&e, "drop-x.yaml", drop_x_plan);
	free(e2e_ok(&e, 1, "advance", "drop-x", NULL));
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 't' AND column_name = 'x'", "0");
	/* add-x's column is gone because drop-x shipped since: not drift. */
	out = e2e_ok(&e, 1, "verify", NULL);
	ck_assert_msg(tu_has(out, "verify: the database matches the state (2 plans checked)"),
	    "%s", out);
	free(out);
	/* Re-added by hand, it is drift of drop-x, and only of drop-x. */
	free(pt_sql(e.ci, "ALTER TABLE t ADD COLUMN x text"));
	ck_assert_int_eq(e2e_run(&e, &r, 1, "verify", NULL), 4);
	ck_assert_msg(tu_has(r.out, "drift: t.x: column still present (drop-x shipped in r3)\n"),
	    "%s", r.out);
	ck_assert_int_eq(e2e_lines_with(r.out, "drift: "), 1);
	tu_run_free(&r);
	e2e_free(&e);
}
END_TEST

START_TEST(test_rollback_runs_down)
{
	struct e2e e;
	struct run r;
	char *out, *v;

	e2e_setup(&e, "cli_rollback", NULL);
	{
		/* The sample plan, with a `down` on add-column. */
		char *path = xasprintf("%s/../plans", tu_tests_dir());
		char *text = tu_read(path, "users-full-name.yaml", NULL);
		char *at = strstr(text, "    note: nothing changes in the code yet\n");
		struct buf b = BUF_INIT;

		ck_assert_ptr_nonnull(at);
		buf_add(&b, text, (size_t)(at - text));
		buf_puts(&b, "    down: ALTER TABLE users DROP COLUMN IF EXISTS full_name\n");
		buf_puts(&b, at);
		e2e_plan(&e, PLAN ".yaml", buf_cstr(&b));
		buf_free(&b);
		free(text);
		free(path);
	}
	e2e_users(e.ci, 100);
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", PLAN, "--to", "dual-write", NULL));
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_trigger WHERE tgname = 'excon_sync_name_full_name'", "1");

	/* Rolling back dual-write drops the trigger and its function, and records it. */
	out = e2e_ok(&e, 1, "rollback", PLAN, NULL);
	ck_assert_msg(tu_has(out, "rolled back users-full-name/dual-write (its sync trigger was dropped)"),
	    "%s", out);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'excon_sync%'", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'excon_sync%'", "0");
	pt_sql_eq(e.ci, "SELECT string_agg(step, ',') FROM excon.ledger", "add-column");
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	v = e2e_json_get(out, "id", "dual-write", "status");
	ck_assert_str_eq(v, "pending");
	free(v);
	free(out);
	/* Old code inserting only name no longer gets full_name filled. */
	free(pt_sql(e.ci, "INSERT INTO users (name) VALUES ('after')"));
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE name = 'after' AND full_name IS NULL", "1");

	/* Rolling back add-column runs its down. */
	out = e2e_ok(&e, 1, "rollback", PLAN, NULL);
	ck_assert_msg(tu_has(out, "rolled back users-full-name/add-column (its down SQL ran)"), "%s", out);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'users' AND column_name = 'full_name'", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.ledger", "0");
	out = e2e_ok(&e, 0, "log", PLAN, "--format", "json", NULL);
	ck_assert_int_eq(e2e_count(out, "\"kind\":\"rollback\",\"plan\":\"" PLAN "\",\"step\":\"dual-write\""), 1);
	ck_assert_int_eq(e2e_count(out, "\"kind\":\"rollback\",\"plan\":\"" PLAN "\",\"step\":\"add-column\""), 1);
	free(out);
	out = e2e_ok(&e, 1, "verify", NULL);
	ck_assert_msg(tu_has(out, "matches the state"), "%s", out);
	free(out);
	/* Nothing left to roll back. */
	ck_assert_int_ne(e2e_run(&e, &r, 1, "rollback", PLAN, NULL), 0);
	ck_assert_msg(tu_has(r.err, "no shipped step"), "%s", r.err);
	tu_run_free(&r);

	/* Shipping again works from scratch, and the trigger is back. */
	free(e2e_ok(&e, 1, "advance", PLAN, "--to", "dual-write", NULL));
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_trigger WHERE tgname = 'excon_sync_name_full_name'", "1");
	pt_sql_eq(e.ci, "SELECT string_agg(step, ',' ORDER BY step) FROM excon.ledger",
	    "add-column,dual-write");

	/* --format json: the one JSON object on stdout, and the SQL ran. */
	out = e2e_ok(&e, 1, "rollback", PLAN, "--format", "json", NULL);
	ck_assert_str_eq(out, "{\"rolled_back\":{\"plan\":\"" PLAN "\",\"step\":"
	    "\"dual-write\",\"kind\":\"dual_write\",\"release\":\"r1\",\"seq\":1,"
	    "\"had\":\"shipped\",\"ran_sql\":true,\"dry_run\":false},"
	    "\"refused\":null}\n");
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'excon_sync%'", "0");
	pt_sql_eq(e.ci, "SELECT string_agg(step, ',') FROM excon.ledger", "add-column");
	e2e_free(&e);
}
END_TEST

/*
 * rollback of a plan another excon holds: refused (exit 3) after the
 * short wait the config allows, as JSON with --format json and as an
 * annotation on the step with --format github; nothing is undone.
 */
START_TEST(test_rollback_locked_plan_formats)
{
	struct e2e e;
	struct run r;
	struct pg *holder = NULL;
	struct buf err = BUF_INIT, who = BUF_INIT;
	int got;

	e2e_setup(&e, "cli_rollback_locked", "lock_timeout: 100ms\nlock_retries: 1\n");
	e2e_plan(&e, PLAN ".yaml", NULL);
	e2e_users(e.ci, 10);
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", PLAN, "--to", "dual-write", NULL));
	ck_assert_int_eq(pg_connect(&holder, e.ci, "excon users-full-name/backfill", &err), 0);
	ck_assert_int_eq(dbschema_plan_lock(holder, PLAN, &got, &who, &err), 0);
	ck_assert_int_eq(got, 1);

	ck_assert_int_eq(e2e_run(&e, &r, 1, "rollback", PLAN, "--format", "json", NULL), 3);
	ck_assert_str_eq(r.out, "{\"rolled_back\":null,\"refused\":{\"plan\":\"" PLAN
	    "\",\"step\":\"dual-write\",\"rule\":\"locked\",\"message\":\"plan '"
	    PLAN "' is held by another excon\"}}\n");
	ck_assert_msg(tu_has(r.err, "refused: plan '" PLAN "' is being advanced by another "
	    "excon (pid "), "%s", r.err);
	tu_run_free(&r);

	ck_assert_int_eq(e2e_run(&e, &r, 1, "rollback", PLAN, "--format", "github", NULL), 3);
	ck_assert_msg(tu_has(r.out, "::error file=plans/" PLAN ".yaml,line=") &&
	    tu_has(r.out, ",title=excon refused " PLAN "/dual-write (held by another "
	    "excon)::plan '" PLAN "' is being advanced by another excon (pid "), "%s", r.out);
	tu_run_free(&r);

	/* Nothing was undone: the trigger and both ledger rows are there. */
	pt_sql_eq(e.ci, "SELECT count(*) FROM pg_trigger WHERE tgname = 'excon_sync_name_full_name'", "1");
	pt_sql_eq(e.ci, "SELECT string_agg(step, ',' ORDER BY step) FROM excon.ledger",
	    "add-column,dual-write");
	pg_close(holder);
	buf_free(&err);
	buf_free(&who);
	e2e_free(&e);
}
END_TEST

/* A type change whose `down` loses precision: cents back to a price. */
static const char cents_plan[] =
    "plan: price-cents\n"
    "steps:\n"
    "  - id: add-cents\n"
    "    kind: add_column\n"
    "    table: items\n"
    "    column: price_cents\n"
    "    type: bigint\n"
    "  - id: sync\n"
    "    kind: dual_write\n"
    "    table: items\n"
    "    from: price\n"
    "    to: price_cents\n"
    "    trigger: true\n"
    "    up: round(NEW.price * 100)::bigint\n"
    "    down: NEW.price_cents / 100.0\n"
    "  - id: fill\n"
    "    kind: backfill\n"
    "    table: items\n"
    "    set: price_cents = round(price * 100)::bigint\n"
    "    where: price_cents IS NULL\n";

START_TEST(test_backfill_leaves_old_column_alone)
{
	struct e2e e;

	e2e_setup(&e, "cli_cents", NULL);
	e2e_plan(&e, "price-cents.yaml", cents_plan);
	/* Prices with a tenth of a cent, which cents cannot hold. */
	free(pt_sql(e.ci, "CREATE TABLE items (id int PRIMARY KEY, price numeric NOT NULL);"
	    "INSERT INTO items SELECT g, g + 0.125 FROM generate_series(1, 2000) g"));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", "price-cents", "--to", "sync", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", "price-cents", NULL));
	pt_sql_eq(e.ci, "SELECT count(*) FROM items WHERE price_cents = round(price * 100)", "2000");
	/* The backfill's writes did not come back through `down` into the column old code reads. */
	pt_sql_eq(e.ci, "SELECT count(*) FROM items WHERE price <> id + 0.125", "0");
	/* The application's writes of the new column still reach the old one. */
	free(pt_sql(e.ci, "UPDATE items SET price_cents = 700 WHERE id = 1"));
	pt_sql_eq(e.ci, "SELECT price = 7 FROM items WHERE id = 1", "t");
	e2e_free(&e);
}
END_TEST

/*
 * Two machines, each with its own state file, against one database: the
 * ledger records the first history's id, release and actor with every
 * step, and the second history is refused (exit 3) with the first one's
 * id, actor and time, before anything runs or is recorded.
 */
START_TEST(test_second_history_refused)
{
	struct e2e e, b;
	struct run r;
	char *id, *want, *out;

	setenv("EXCON_ACTOR", "rm@laptop", 1);
	e2e_setup(&e, "cli_fork", NULL);
	e2e_plan(&e, PLAN ".yaml", small_plan);
	e2e_users(e.ci, 10);
	free(e2e_ok(&e, 0, "release", "start", "v1", NULL));
	free(e2e_ok(&e, 1, "advance", PLAN, NULL));
	tu_sh(&r, e.dir, "sqlite3 state/excon.db 'SELECT id FROM history'");
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(strlen(r.out), 33);
	id = xstrndup(r.out, 32);
	tu_run_free(&r);
	want = xasprintf("%s|v1|rm@laptop", id);
	pt_sql_eq(e.ci, "SELECT history_id || '|' || release || '|' || actor "
	    "FROM excon.ledger WHERE step = 'add-column'", want);
	free(want);

	/* The second machine: the same plan, a state file of its own. */
	memset(&b, 0, sizeof b);
	b.dir = tu_tmpdir();
	b.ci = e.ci;
	tu_write(b.dir, "excon.yaml", "plans: plans\nstate: state/excon.db\n");
	e2e_plan(&b, PLAN ".yaml", small_plan);
	tu_state_init(b.dir, "state/excon.db");
	free(e2e_ok(&b, 0, "release", "start", "v2", NULL));
	ck_assert_int_eq(e2e_run(&b, &r, 1, "advance", PLAN, NULL), 3);
	want = xasprintf("refused: " PLAN "/add-column: this database was "
	    "migrated under another history (id %s, last used here by "
	    "rm@laptop at ", id);
	ck_assert_msg(tu_has(r.err, want), "%s", r.err);
	ck_assert_msg(tu_has(r.err, ": " PLAN "/add-column in release v1); "
	    "this history is "), "%s", r.err);
	free(want);
	tu_run_free(&r);
	tu_sh(&r, b.dir, "sqlite3 state/excon.db 'SELECT count(*) FROM ships'");
	ck_assert_str_eq(r.out, "0\n");
	tu_run_free(&r);
	out = pt_sql(e.ci, "SELECT count(*) FROM excon.ledger");
	ck_assert_str_eq(out, "1");
	free(out);

	/*
	 * The team moves the first history into the database (state copy
	 * keeps its id) and both machines use it: the next step runs.
	 */
	free(e2e_ok(&e, 1, "state", "copy", "state/excon.db", "database", NULL));
	tu_write(b.dir, "excon.yaml", "plans: plans\nstate: database\n");
	free(e2e_ok(&b, 1, "release", "finish", "v1", NULL));
	out = e2e_ok(&b, 1, "advance", PLAN, NULL);
	ck_assert_msg(tu_has(out, "shipped " PLAN "/backfill"), "%s", out);
	free(out);
	want = xasprintf("%s|v1", id);
	pt_sql_eq(e.ci, "SELECT history_id || '|' || release FROM excon.ledger "
	    "WHERE step = 'backfill'", want);
	free(want);
	tu_rmrf(b.dir);
	free(b.dir);
	free(id);
	e2e_free(&e);
}
END_TEST

/*
 * Under --format github the refusals that come from the database are
 * annotations on the step too: a plan held by another excon (exit 3,
 * naming the holder), a verify query that returns false, and a database
 * migrated under another history.
 */
START_TEST(test_refusals_are_annotations)
{
	struct e2e e, b;
	struct pg *holder = NULL;
	struct buf err = BUF_INIT, who = BUF_INIT;
	struct run r;
	char *want;
	int got;

	e2e_setup(&e, "cli_annotate", NULL);
	e2e_plan(&e, PLAN ".yaml", small_plan);
	e2e_users(e.ci, 10);
	free(e2e_ok(&e, 0, "release", "start", "v1", NULL));
	ck_assert_int_eq(pg_connect(&holder, e.ci, "excon users-full-name/add-column",
	    &err), 0);
	ck_assert_int_eq(dbschema_plan_lock(holder, PLAN, &got, &who, &err), 0);
	ck_assert_int_eq(got, 1);
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, "--wait", "0",
	    "--format", "github", NULL), 3);
	want = xasprintf("::error file=plans/" PLAN ".yaml,line=3,col=5,title=excon "
	    "refused " PLAN "/add-column (held by another excon)::plan '" PLAN "' "
	    "is being advanced by another excon (pid %d on host [local], 'excon "
	    PLAN "/add-column')%%0Afix: wait for the other excon to finish",
	    pg_backend_pid(holder));
	ck_assert_msg(tu_has(r.out, want), "want '%s' in: %s", want, r.out);
	ck_assert_msg(tu_has(r.err, "refused: plan '" PLAN "' is being advanced"),
	    "%s", r.err);
	free(want);
	tu_run_free(&r);
	ck_assert_int_eq(dbschema_plan_unlock(holder, PLAN, &err), 0);
	pg_close(holder);
	free(e2e_ok(&e, 1, "advance", PLAN, NULL));

	/* A verify query that returns false: on the backfill step. */
	free(pt_sql(e.ci, "UPDATE users SET name = '' WHERE id = 3"));
	free(e2e_ok(&e, 0, "release", "finish", "v1", NULL));
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, "--format", "github",
	    NULL), 3);
	ck_assert_msg(tu_has(r.out, "::error file=plans/" PLAN ".yaml,line=9,col=5,"
	    "title=excon refused " PLAN "/backfill (verify returned false)::" PLAN
	    "/backfill ran, but its verify query returned false"), "%s", r.out);
	tu_run_free(&r);

	/* A second machine with a history of its own. */
	memset(&b, 0, sizeof b);
	b.dir = tu_tmpdir();
	b.ci = e.ci;
	tu_write(b.dir, "excon.yaml", "plans: plans\nstate: state/excon.db\n");
	e2e_plan(&b, PLAN ".yaml", small_plan);
	tu_state_init(b.dir, "state/excon.db");
	free(e2e_ok(&b, 0, "release", "start", "v2", NULL));
	ck_assert_int_eq(e2e_run(&b, &r, 1, "advance", PLAN, "--format", "github",
	    NULL), 3);
	ck_assert_msg(tu_has(r.out, "::error file=plans/" PLAN ".yaml,line=3,col=5,"
	    "title=excon refused " PLAN "/add-column (database of another history)::"
	    PLAN "/add-column: this database was migrated under another history "
	    "(id "), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "%0Afix: run excon against the history"), "%s",
	    r.out);
	tu_run_free(&r);
	tu_rmrf(b.dir);
	free(b.dir);
	buf_free(&err);
	buf_free(&who);
	e2e_free(&e);
}
END_TEST

/* One TCase per behaviour. */
static Suite *
db_cli_suite(void)
{
	Suite *s = suite_create("db_cli");
	struct { const char *name; const TTest *t; } tests[] = {
		{ "lock_retry", test_lock_retry_does_not_block_writers },
		{ "one_executor_per_plan", test_one_executor_per_plan },
		{ "advance_waits_for_plan_lock", test_advance_waits_for_plan_lock },
		{ "killed_excon_rerun_at_once", test_killed_excon_rerun_at_once },
		{ "recorded_once", test_recorded_once_with_record_only_meanwhile },
		{ "no_primary_key", test_backfill_without_primary_key_refused },
		{ "verify_fails", test_backfill_verify_fails },
		{ "backfill_under_sync_trigger", test_backfill_leaves_old_column_alone },
		{ "drift", test_verify_reports_drift },
		{ "drift_across_plans", test_verify_across_plans },
		{ "rollback", test_rollback_runs_down },
		{ "rollback_of_failed_step", test_rollback_of_failed_step },
		{ "rollback_locked_plan_formats", test_rollback_locked_plan_formats },
		{ "second_history_refused", test_second_history_refused },
		{ "refusals_are_annotations", test_refusals_are_annotations },
		{ "pauses_for_old_transaction", test_backfill_pauses_for_old_transaction },
		{ "ctrl_c_stops_cleanly", test_ctrl_c_stops_cleanly },
		{ "status_shows_running_backfill", test_status_shows_running_backfill },
		{ "dry_run_estimates_backfill", test_dry_run_estimates_backfill },
	};
	TCase *tc;
	size_t i;

	for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		tu_add(s, tests[i].name, tests[i].t, NULL, NULL, 60);
	}
	/* The standby goes even when the test fails: the teardown runs in the parent. */
	tc = tcase_create("pauses_for_lagging_standby");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, NULL, standby_teardown);
	tcase_add_test(tc, test_backfill_pauses_for_lagging_standby);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run_suite(db_cli_suite());
}
