/*
 * Tests of the backfill against the real test server: keyset batches with
 * single and composite keys, the refusal of a table without a primary key,
 * resuming after kill -9 without redoing a batch, adaptive batch size, and
 * verify after the last batch.  Every test works in a database of its own.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backfill.h"
#include "util/pgtest.h"
#include "util/proc.h"
#include "util/testutil.h"

/* A string literal as the plan model's (char *). */
#define S(x) ((char *)(x))

/* Progress lines collected by the callback. */
struct seen {
	int		 calls;
	long long	 first_done;
	int		 first_resumed;
	struct buf	 cursors;
	struct backfill_progress last;
	int		 sizes_changed;
	int		 prev_size;
	int		 smallest;	/* least batch size seen */
	struct buf	 note;		/* the last note seen */
};

/* Progress callback: records what a command would draw. */
static void
on_progress(void *arg, const struct backfill_progress *p)
{
	struct seen *s = arg;

	if (s->calls++ == 0) {
		s->first_done = p->rows_done;
		s->first_resumed = p->resumed;
	}
	if (p->cursor != NULL)
		buf_printf(&s->cursors, "%s ", p->cursor);
	if (s->prev_size != 0 && p->batch_size != s->prev_size)
		s->sizes_changed++;
	if (s->smallest == 0 || (p->batch_size > 0 && p->batch_size < s->smallest))
		s->smallest = p->batch_size;
	if (p->note != NULL) {
		buf_reset(&s->note);
		buf_puts(&s->note, p->note);
	}
	s->prev_size = p->batch_size;
	s->last = *p;
}

/* Backfill options for plan "p", step "bf" on table. */
static void
opts(struct backfill_opts *o, const char *table, const char *set, const char *where,
    int batch, struct seen *seen)
{
	memset(o, 0, sizeof *o);
	o->plan = "p";
	o->step = "bf";
	o->table = table;
	o->set = set;
	o->where = where;
	o->batch_size = batch;
	o->target_batch_ms = -1;
	o->retry.lock_timeout = "1s";
	o->retry.retries = 5;
	o->progress = on_progress;
	o->arg = seen;
}

/* Connects to ci. */
static struct pg *
connect_pg(const char *ci)
{
	struct pg *db = NULL;
	struct buf err = BUF_INIT;

	ck_assert_msg(pg_connect(&db, ci, "excon p/bf", &err) == 0, "%s", buf_cstr(&err));
	buf_free(&err);
	return db;
}

START_TEST(test_single_key_batches)
{
	char *ci = pt_db("b_single");
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct backfill_progress out;
	struct buf err = BUF_INIT;
	struct pg *db;

	free(pt_sql(ci, "CREATE TABLE users (id int PRIMARY KEY, name text, full_name text);"
	    "INSERT INTO users SELECT g, 'n' || g, NULL FROM generate_series(1, 10000) g;"
	    "UPDATE users SET full_name = name WHERE id % 10 = 0; ANALYZE users"));
	db = connect_pg(ci);
	/* The session as the caller left it, to compare with after the run. */
	ck_assert_int_eq(pg_exec(db, "SET synchronous_commit = remote_write", 0, NULL, NULL, &err), 0);
	opts(&o, "users", "full_name = name", "full_name IS NULL", 1000, &seen);
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	{
		struct pg_result *res = NULL;

		ck_assert_int_eq(pg_exec(db, "SELECT current_setting('synchronous_commit') || '|'"
		    " || coalesce(current_setting('excon.writer', true), '')", 0, NULL, &res, &err), 0);
		ck_assert_str_eq(pg_result_get(res, 0, 0), "remote_write|");
		pg_result_free(res);
	}
	ck_assert_int_eq(out.finished, 1);
	ck_assert_msg(out.rows_done == 10000, "%lld: %s", out.rows_done, buf_cstr(&seen.cursors));
	ck_assert_int_eq(out.rows_updated, 9000);
	ck_assert_int_eq(out.batches, 10);
	ck_assert_int_eq(seen.calls, 11);	/* one per batch, one at the end */
	ck_assert_str_eq(buf_cstr(&seen.cursors),
	    "(1000) (2000) (3000) (4000) (5000) (6000) (7000) (8000) (9000) (10000) ");
	ck_assert_int_eq(seen.first_done, 1000);
	ck_assert_int_eq(seen.last.rows_total, 10000);
	pt_sql_eq(ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");
	pt_sql_eq(ci, "SELECT rows_done || '/' || rows_updated || ' ' || cursor::text || ' ' || finished"
	    " FROM excon.backfill WHERE plan = 'p' AND step = 'bf'", "10000/9000 {10000} true");
	pg_close(db);
	buf_free(&err);
	buf_free(&seen.cursors);
	free(ci);
}
END_TEST

START_TEST(test_composite_key)
{
	char *ci = pt_db("b_composite");
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct backfill_progress out;
	struct buf err = BUF_INIT;
	struct pg *db;
	char **cols = NULL, **types = NULL;

	free(pt_sql(ci, "CREATE SCHEMA app; CREATE TABLE app.\"Line Items\" (o text, n int, qty int, qty2 bigint,"
	    " PRIMARY KEY (o, n));"
	    "INSERT INTO app.\"Line Items\" SELECT 'o' || (g / 7), g % 7, g, NULL FROM generate_series(0, 2099) g"));
	db = connect_pg(ci);
	ck_assert_int_eq(backfill_primary_key(db, "app", "Line Items", &cols, &types, &err), 0);
	ck_assert_str_eq(cols[0], "o");
	ck_assert_str_eq(cols[1], "n");
	ck_assert_str_eq(types[1], "integer");
	ck_assert_ptr_null(cols[2]);
	opts(&o, "Line Items", "qty2 = qty", NULL, 250, &seen);
	o.schema = "app";
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(out.rows_done, 2100);
	ck_assert_int_eq(out.rows_updated, 2100);
	ck_assert_int_eq(out.batches, 9);
	/* The first batch ends at the 250th key in (o, n) order. */
	{
		char *k = pt_sql(ci, "SELECT '(' || o || ', ' || n || ') ' FROM app.\"Line Items\""
		    " ORDER BY o, n OFFSET 249 LIMIT 1");

		ck_assert_msg(strncmp(buf_cstr(&seen.cursors), k, strlen(k)) == 0, "%s / %s",
		    buf_cstr(&seen.cursors), k);
		free(k);
	}
	pt_sql_eq(ci, "SELECT count(*) FROM app.\"Line Items\" WHERE qty2 IS DISTINCT FROM qty", "0");
	strv_free(cols);
	strv_free(types);
	pg_close(db);
	buf_free(&err);
	buf_free(&seen.cursors);
	free(ci);
}
END_TEST

START_TEST(test_no_primary_key_refused)
{
	char *ci = pt_db("b_nopk");
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct buf err = BUF_INIT;
	struct pg *db;

	free(pt_sql(ci, "CREATE TABLE logs (id int, msg text, msg2 text); INSERT INTO logs VALUES (1, 'a', NULL)"));
	db = connect_pg(ci);
	opts(&o, "logs", "msg2 = msg", NULL, 100, &seen);
	ck_assert_int_eq(backfill_run(db, &o, NULL, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "table 'public.logs' has no primary key: backfill walks the table in primary-key order"),
	    "%s", buf_cstr(&err));
	ck_assert(tu_has(buf_cstr(&err), "ADD PRIMARY KEY USING INDEX"));
	/* Refused before any work: nothing updated, no cursor table. */
	pt_sql_eq(ci, "SELECT count(*) FROM logs WHERE msg2 IS NOT NULL", "0");
	pt_sql_eq(ci, "SELECT to_regclass('excon.backfill') IS NULL", "t");
	ck_assert_int_eq(seen.calls, 0);
	opts(&o, "nope", "x = 1", NULL, 100, &seen);
	ck_assert_int_eq(backfill_run(db, &o, NULL, &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "table 'public.nope' does not exist");
	pg_close(db);
	buf_free(&err);
	free(ci);
}
END_TEST

/*
 * Kills a backfill of rows rows in batches of 500 once `at` rows were
 * updated, then resumes it: committed batches are exactly the saved
 * cursor, and no row is updated twice.  With pause_ms 0 a batch is in
 * flight behind the one running when the kill lands.
 */
static void
resume_after_kill(const char *name, int rows, int pause, int at)
{
	char *ci = pt_db(name);
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct backfill_progress out;
	struct buf err = BUF_INIT;
	struct pg *db;
	pid_t child;
	int i, status;
	long long saved = 0;
	char *v, *q;

	/* Every update of a row is counted, even one whose transaction is later lost. */
	q = xasprintf("CREATE TABLE t (id bigint PRIMARY KEY, a int, b int);"
	    "CREATE TABLE hits (id bigint);"
	    "INSERT INTO t SELECT g, g, NULL FROM generate_series(1, %d) g;"
	    "CREATE FUNCTION count_hit() RETURNS trigger LANGUAGE plpgsql AS"
	    " 'BEGIN INSERT INTO hits VALUES (NEW.id); RETURN NEW; END';"
	    "CREATE TRIGGER count_hit AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION count_hit()", rows);
	free(pt_sql(ci, q));
	free(q);
	child = fork();
	ck_assert_int_ne(child, -1);
	if (child == 0) {
		struct pg *cdb = NULL;

		if (pg_connect(&cdb, ci, "excon p/bf", &err) == -1)
			_exit(2);
		opts(&o, "t", "b = a", NULL, 500, NULL);
		o.progress = NULL;
		o.pause_ms = pause;
		_exit(backfill_run(cdb, &o, NULL, &err) == 0 ? 0 : 1);
	}
	for (i = 0; i < 500; i++) {
		v = pt_sql(ci, "SELECT count(*) FROM hits");
		saved = atoll(v);
		free(v);
		if (saved >= at)
			break;
		usleep(10000);
	}
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	ck_assert(WIFSIGNALED(status));
	/* The killed session may take a moment to end (and drop its batch). */
	for (i = 0; i < 200; i++) {
		v = pt_sql(ci, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'excon p/bf'");
		status = atoi(v);
		free(v);
		if (status == 0)
			break;
		usleep(20000);
	}
	v = pt_sql(ci, "SELECT rows_done FROM excon.backfill");
	saved = atoll(v);
	free(v);
	ck_assert_msg(saved >= at && saved < rows, "saved %lld", saved);
	/* Committed batches = saved rows, each updated once; the lost batch left nothing. */
	{
		char want[32];

		snprintf(want, sizeof want, "%lld", saved);
		pt_sql_eq(ci, "SELECT count(*) FROM hits", want);
		pt_sql_eq(ci, "SELECT count(*) FROM t WHERE b IS NOT NULL", want);
		pt_sql_eq(ci, "SELECT cursor[1] FROM excon.backfill", want);
	}

	db = connect_pg(ci);
	opts(&o, "t", "b = a", NULL, 500, &seen);
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(seen.first_resumed, 1);
	ck_assert_int_eq(seen.first_done, saved + 500);
	ck_assert_int_eq(out.rows_done, rows);
	ck_assert_int_eq(out.batches, (rows - saved) / 500);
	/* No batch before the cursor was redone: every row was updated exactly once. */
	q = xasprintf("%d %d", rows, rows);
	pt_sql_eq(ci, "SELECT count(*) || ' ' || count(DISTINCT id) FROM hits", q);
	free(q);
	pt_sql_eq(ci, "SELECT count(*) FROM t WHERE b IS DISTINCT FROM a", "0");
	pg_close(db);
	buf_free(&err);
	buf_free(&seen.cursors);
	free(ci);
}

START_TEST(test_resume_after_kill)
{
	resume_after_kill("b_kill", 10000, 50, 2000);
}
END_TEST

START_TEST(test_resume_after_kill_in_flight)
{
	resume_after_kill("b_kill_flight", 200000, 0, 20000);
}
END_TEST

START_TEST(test_rows_inserted_during_walk_are_covered)
{
	char *ci = pt_db("b_grow");
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct backfill_progress out;
	struct buf err = BUF_INIT;
	struct pg *db;

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY, a int, b int);"
	    "INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 1000) g"));
	db = connect_pg(ci);
	opts(&o, "t", "b = a", "b IS NULL", 300, &seen);
	o.max_batches = 2;
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(out.finished, 0);
	ck_assert_int_eq(out.rows_done, 600);
	/* Old code inserts rows past the starting maximum while the backfill pauses. */
	free(pt_sql(ci, "INSERT INTO t SELECT g, g, NULL FROM generate_series(1001, 1100) g"));
	o.max_batches = 0;
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(out.finished, 1);
	ck_assert_int_eq(out.rows_done, 1100);
	pt_sql_eq(ci, "SELECT count(*) FROM t WHERE b IS NULL", "0");
	pg_close(db);
	buf_free(&err);
	buf_free(&seen.cursors);
	free(ci);
}
END_TEST

/* Retry notices collected by the callback. */
static void
on_notice(void *arg, const char *line)
{
	buf_printf(arg, "%s\n", line);
}

/*
 * A batch that meets a row lock times out, is rolled back whole and tried
 * again once the lock is gone: no row is updated twice.
 */
START_TEST(test_batch_lock_timeout_retried)
{
	char *ci = pt_db("b_locked");
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct backfill_progress out;
	struct buf err = BUF_INIT, notices = BUF_INIT;
	struct pg *db;
	int fds[2], st;
	char c;
	pid_t pid;

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY, b int NOT NULL DEFAULT 0);"
	    "INSERT INTO t (id) SELECT g FROM generate_series(1, 1000) g"));
	/*
	 * Another session holds row 500 until a batch has waited for it
	 * (seen in pg_stat_activity, so that a slow start of the backfill
	 * cannot find the row free), and 500 ms more: past lock_timeout.
	 */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct pg *h = NULL, *w = NULL;
		struct pg_result *res = NULL;
		struct buf e = BUF_INIT;
		double end = tu_ms() + 20000;
		int waited = 0;

		close(fds[0]);
		if (pg_connect(&h, ci, "holder", &e) == -1 ||
		    pg_connect(&w, ci, "watcher", &e) == -1 ||
		    pg_exec(h, "BEGIN", 0, NULL, NULL, &e) == -1 ||
		    pg_exec(h, "UPDATE t SET b = b WHERE id = 500", 0, NULL, NULL, &e) == -1 ||
		    write(fds[1], "x", 1) != 1)
			_exit(2);
		while (!waited && tu_ms() < end) {
			if (pg_exec_script(w, "SELECT count(*) FROM pg_stat_activity"
			    " WHERE datname = 'b_locked' AND application_name = 'excon p/bf'"
			    " AND wait_event_type = 'Lock'", &res, &e) == -1)
				_exit(4);
			waited = strcmp(pg_result_get(res, 0, 0), "0") != 0;
			pg_result_free(res);
			res = NULL;
			if (!waited)
				tu_sleep_ms(10);
		}
		if (!waited)
			_exit(5);
		tu_sleep_ms(500);
		_exit(pg_exec(h, "COMMIT", 0, NULL, NULL, &e) == -1 ? 3 : 0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	close(fds[0]);

	db = connect_pg(ci);
	opts(&o, "t", "b = b + 1", NULL, 300, &seen);
	o.retry.lock_timeout = "100ms";
	o.retry.retries = 30;
	o.retry.base_ms = 50;
	o.retry.cap_ms = 100;
	o.retry.notify = on_notice;
	o.retry.arg = &notices;
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	waitpid(pid, &st, 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_msg(tu_has(buf_cstr(&notices), "lock timeout; retry 1 of 30"), "%s",
	    buf_cstr(&notices));
	ck_assert_int_eq(out.finished, 1);
	ck_assert_int_eq(out.rows_done, 1000);
	ck_assert_int_eq(out.rows_updated, 1000);
	pt_sql_eq(ci, "SELECT count(*) FROM t WHERE b = 1", "1000");
	pg_close(db);
	buf_free(&err);
	buf_free(&notices);
	buf_free(&seen.cursors);
	free(ci);
}
END_TEST

/* What the callback of the in-flight test saw at its second call. */
struct flight {
	const char	*ci;
	const char	*step;
	int		 wait_ms;	/* how long it waits for the server to move */
	int		 calls;
	long long	 reported;	/* rows_done it was told */
	long long	 server;	/* rows_done committed meanwhile */
};

/* Progress callback: at the second batch, watches the saved cursor from another session. */
static void
on_progress_flight(void *arg, const struct backfill_progress *p)
{
	struct flight *fl = arg;
	char *q, *v;
	int waited;

	if (++fl->calls != 2)
		return;
	fl->reported = p->rows_done;
	q = xasprintf("SELECT rows_done FROM excon.backfill WHERE plan = 'p' AND step = '%s'",
	    fl->step);
	for (waited = 0; waited <= fl->wait_ms; waited += 20) {
		v = pt_sql(fl->ci, q);
		fl->server = atoll(v);
		free(v);
		if (fl->server > fl->reported)
			break;
		tu_sleep_ms(20);
	}
	free(q);
}

/*
 * The next batch is sent before the previous one answers: while excon
 * handles a batch's answer (here, a slow callback), the server already
 * commits the next.  With pause_ms, batches go one at a time.
 */
START_TEST(test_next_batch_in_flight)
{
	char *ci = pt_db("b_flight");
	struct backfill_opts o;
	struct backfill_progress out;
	struct flight fl = { 0 };
	struct buf err = BUF_INIT;
	struct pg *db;

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY, a int, b int);"
	    "INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 10000) g"));
	db = connect_pg(ci);
	opts(&o, "t", "b = a", NULL, 1000, NULL);
	o.progress = on_progress_flight;
	o.arg = &fl;
	fl.ci = ci;
	fl.step = "bf";
	fl.wait_ms = 10000;
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(fl.reported, 2000);
	ck_assert_int_eq(fl.server, 3000);
	ck_assert_int_eq(out.finished, 1);
	ck_assert_int_eq(out.rows_done, 10000);
	ck_assert_int_eq(out.rows_updated, 10000);
	ck_assert_int_eq(out.batches, 10);
	pt_sql_eq(ci, "SELECT count(*) FROM t WHERE b IS DISTINCT FROM a", "0");

	memset(&fl, 0, sizeof fl);
	fl.ci = ci;
	fl.step = "bf-paused";
	fl.wait_ms = 300;
	o.step = "bf-paused";
	o.pause_ms = 10;
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(fl.reported, 2000);
	ck_assert_int_eq(fl.server, 2000);
	ck_assert_int_eq(out.rows_done, 10000);
	pg_close(db);
	buf_free(&err);
	free(ci);
}
END_TEST

/*
 * A batch that fails for good after others committed: the backfill stops
 * there, names the cursor, and keeps every committed batch; the batch
 * that was in flight behind the failed one changed nothing.
 */
START_TEST(test_failed_batch_after_progress)
{
	char *ci = pt_db("b_fail");
	struct backfill_opts o;
	struct buf err = BUF_INIT;
	struct pg *db;

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY, b int);"
	    "INSERT INTO t SELECT g, NULL FROM generate_series(1, 5000) g"));
	db = connect_pg(ci);
	opts(&o, "t", "b = 10000 / (id - 2500)", NULL, 500, NULL);
	o.progress = NULL;
	ck_assert_int_eq(backfill_run(db, &o, NULL, &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "backfill of 'public.t' stopped at (2000): division by zero");
	pt_sql_eq(ci, "SELECT rows_done || ' ' || cursor::text || ' ' || finished FROM excon.backfill",
	    "2000 {2000} false");
	pt_sql_eq(ci, "SELECT count(*) || ' ' || max(id) FROM t WHERE b IS NOT NULL", "2000 2000");
	/* The session is usable afterwards. */
	pt_sql_eq(ci, "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'", "0");
	ck_assert_int_eq(pg_exec(db, "SELECT 1", 0, NULL, NULL, &err), 0);
	pg_close(db);
	buf_free(&err);
	free(ci);
}
END_TEST

START_TEST(test_adaptive_batch_size)
{
	char *ci = pt_db("b_adapt");
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct backfill_progress out;
	struct buf err = BUF_INIT;
	struct pg *db;

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY, a int, b int);"
	    "INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 20000) g"));
	db = connect_pg(ci);
	opts(&o, "t", "b = a", NULL, 100, &seen);
	o.target_batch_ms = 1000;	/* far above what 100 rows take: batches grow */
	o.max_batch = 3200;
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(out.rows_done, 20000);
	ck_assert(seen.sizes_changed >= 3);
	ck_assert_int_le(out.batches, 15);
	ck_assert_int_eq(seen.prev_size, 3200);	/* capped by max_batch */
	ck_assert(seen.last.rate > 0);
	pg_close(db);
	buf_free(&err);
	buf_free(&seen.cursors);
	free(ci);
}
END_TEST

START_TEST(test_exec_backfill_verify_and_rollback)
{
	char *ci = pt_db("b_exec");
	struct exec_opts eo;
	struct pt_log log = { BUF_INIT, 0 };
	struct seen seen = { 0 };
	struct exec *x = NULL;
	struct step s;
	struct plan p;
	struct buf err = BUF_INIT, detail = BUF_INIT;
	enum exec_outcome out;
	int ok;

	free(pt_sql(ci, "CREATE TABLE users (id int PRIMARY KEY, name text, full_name text);"
	    "INSERT INTO users SELECT g, CASE WHEN g % 100 = 0 THEN NULL ELSE 'n' || g END, NULL"
	    " FROM generate_series(1, 3000) g"));
	pt_opts(&eo, ci, &log);
	eo.progress = (void (*)(void *, const struct backfill_progress *))NULL;
	eo.batch_size = 700;
	pt_step(&s, KIND_BACKFILL, "backfill", "users");
	s.set.s = S("full_name = upper(name)");
	s.where.s = S("full_name IS NULL");
	s.verify.s = S("SELECT count(*) = 0 FROM users WHERE full_name IS NULL");
	s.down.s = S("UPDATE users SET full_name = NULL");
	pt_plan(&p, "users-full-name", &s, 1);
	(void)seen;
	ck_assert_msg(exec_connect(&x, &eo, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_msg(exec_step(x, &p, &s, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(out, EXEC_APPLIED);
	pt_sql_eq(ci, "SELECT full_name FROM users WHERE id = 7", "N7");
	pt_sql_eq(ci, "SELECT count(*) FROM excon.ledger WHERE step = 'backfill'", "1");
	/* 30 rows have no name: the verify fails and says how many rows are left. */
	ck_assert_int_eq(exec_verify(x, &p, &s, &ok, &detail, &err), 0);
	ck_assert_int_eq(ok, 0);
	ck_assert_str_eq(buf_cstr(&detail),
	    "verify of step 'backfill' returned false; 30 row(s) still match where 'full_name IS NULL'");
	/* Rollback runs down, forgets the cursor and the ledger row; advancing again redoes it all. */
	ck_assert_msg(exec_rollback(x, &p, &s, &err) == 0, "%s", buf_cstr(&err));
	pt_sql_eq(ci, "SELECT count(*) FROM users WHERE full_name IS NOT NULL", "0");
	pt_sql_eq(ci, "SELECT count(*) FROM excon.backfill", "0");
	free(pt_sql(ci, "UPDATE users SET name = 'x' WHERE name IS NULL"));
	ck_assert_msg(exec_step(x, &p, &s, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(exec_verify(x, &p, &s, &ok, &detail, &err), 0);
	ck_assert_int_eq(ok, 1);
	/* The dry run describes the batches. */
	buf_reset(&detail);
	ck_assert_int_eq(exec_dry_run(&eo, &p, &s, 0, &detail, &err), 0);
	ck_assert_msg(tu_has(buf_cstr(&detail), "\nUPDATE \"public\".\"users\" SET full_name = upper(name) WHERE (<pk>) > (<cursor>) AND (<pk>) <= (SELECT <key> FROM excon_b) AND (full_name IS NULL);\n"),
	    "%s", buf_cstr(&detail));
	exec_close(x);
	buf_free(&err);
	buf_free(&detail);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

/* The "Node Type"s of an EXPLAIN (FORMAT JSON), in order, as "A,B,..." (owned). */
static char *
node_types(const char *json)
{
	struct buf b = BUF_INIT;
	const char *p = json;

	while ((p = strstr(p, "\"Node Type\": \"")) != NULL) {
		const char *q;

		p += strlen("\"Node Type\": \"");
		q = strchr(p, '"');
		buf_add(&b, p, (size_t)(q - p));
		buf_putc(&b, ',');
		p = q;
	}
	return buf_detach(&b);
}

/* The first "Total Cost" of an EXPLAIN (FORMAT JSON): the whole statement's. */
static double
total_cost(const char *json)
{
	const char *p = strstr(json, "\"Total Cost\": ");

	ck_assert(p != NULL);
	return atof(p + strlen("\"Total Cost\": "));
}

/*
 * The batch statement's plan does not depend on the table's size: the
 * same plan, an index range scan of the primary key, whether the
 * statistics say 1,000 rows or 50 million, and a cost that stays below
 * PostgreSQL's default jit_above_cost (100000) at 50 million.
 */
START_TEST(test_plan_independent_of_size)
{
	char *ci = pt_db("b_plan");
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct buf err = BUF_INIT, small = BUF_INIT, big = BUF_INIT;
	struct pg *db;
	int next;

	free(pt_sql(ci, "CREATE TABLE users (id bigint PRIMARY KEY, name text, full_name text)"
	    " WITH (autovacuum_enabled = false);"
	    "INSERT INTO users SELECT g, 'n' || g, NULL FROM generate_series(1, 1000) g;"
	    "ANALYZE users"));
	db = connect_pg(ci);
	opts(&o, "users", "full_name = name", "full_name IS NULL", 1000, &seen);
	for (next = 0; next <= 1; next++) {
		char *a, *b;

		buf_reset(&small);
		buf_reset(&big);
		free(pt_sql(ci, "UPDATE pg_class SET reltuples = 1000"
		    " WHERE oid IN ('users'::regclass, 'users_pkey'::regclass)"));
		ck_assert_msg(backfill_explain(db, &o, next, &small, &err) == 0, "%s", buf_cstr(&err));
		/* The planner scales reltuples by the pages the table really has. */
		free(pt_sql(ci, "UPDATE pg_class SET reltuples = 5e7"
		    " WHERE oid IN ('users'::regclass, 'users_pkey'::regclass)"));
		ck_assert_msg(backfill_explain(db, &o, next, &big, &err) == 0, "%s", buf_cstr(&err));
		a = node_types(buf_cstr(&small));
		b = node_types(buf_cstr(&big));
		ck_assert_msg(strcmp(a, b) == 0, "batch %d: plan at 1k rows: %s\nat 50M rows: %s",
		    next, a, b);
		ck_assert_msg(!tu_has(b, "Seq Scan") && tu_has(buf_cstr(&big),
		    "\"Index Name\": \"users_pkey\""), "batch %d: %s", next, buf_cstr(&big));
		ck_assert_msg(total_cost(buf_cstr(&big)) < 100000, "batch %d costs %.0f at 50M"
		    " rows:\n%s", next, total_cost(buf_cstr(&big)), buf_cstr(&big));
		free(a);
		free(b);
	}
	pg_close(db);
	buf_free(&err);
	buf_free(&small);
	buf_free(&big);
	free(ci);
}
END_TEST

/*
 * JIT is off in excon's sessions: on a database whose jit_above_cost is
 * 10, a whole backfill compiles no function (pg_stat_statements), while
 * a plain session's query on the same table does.
 */
START_TEST(test_no_jit)
{
	char *ci = pt_db("b_jit");
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct backfill_progress out;
	struct buf err = BUF_INIT;
	struct pg *db, *app;

	free(pt_sql(ci, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"
	    "ALTER DATABASE b_jit SET jit = on; ALTER DATABASE b_jit SET jit_above_cost = 10;"
	    "ALTER DATABASE b_jit SET jit_inline_above_cost = 10;"
	    "ALTER DATABASE b_jit SET jit_optimize_above_cost = 10;"
	    "CREATE TABLE users (id bigint PRIMARY KEY, name text, full_name text);"
	    "INSERT INTO users SELECT g, 'n' || g, NULL FROM generate_series(1, 5000) g;"
	    "ANALYZE users; SELECT pg_stat_statements_reset()"));
	db = connect_pg(ci);
	opts(&o, "users", "full_name = name", "full_name IS NULL", 500, &seen);
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(out.rows_updated, 5000);
	pg_close(db);
	pt_sql_eq(ci, "SELECT count(*) > 0 AND coalesce(sum(jit_functions), 0) = 0"
	    " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
	    " WHERE datname = 'b_jit') AND query LIKE '%excon_w%'", "t");
	/* The same server compiles a plain session's statement: the check can fail. */
	app = connect_pg(ci);
	ck_assert_int_eq(pg_exec(app, "RESET jit", 0, NULL, NULL, &err), 0);
	ck_assert_int_eq(pg_exec(app, "SELECT count(*) FROM users WHERE full_name <> 'x'",
	    0, NULL, NULL, &err), 0);
	pg_close(app);
	pt_sql_eq(ci, "SELECT coalesce(sum(jit_functions), 0) > 0 FROM pg_stat_statements"
	    " WHERE query LIKE '%full_name <> %'", "t");
	buf_free(&err);
	buf_free(&seen.cursors);
	free(ci);
}
END_TEST

/*
 * Application sessions that wait on the rows of a running batch make the
 * next batches smaller, even with a fixed batch size, and the progress
 * says so.  The batches are slow (a sleep per row) and two pgbench
 * clients update random rows meanwhile.
 */
START_TEST(test_batches_shrink_when_sessions_wait)
{
	char *ci = pt_db("b_lockwait");
	struct backfill_opts o;
	struct seen seen = { 0 };
	struct backfill_progress out;
	struct buf err = BUF_INIT;
	struct tu_proc app;
	struct run r;
	struct pg *db, *watch;
	const char *bin = getenv("PG_BIN");
	char *dir = tu_tmpdir();

	free(pt_sql(ci, "CREATE TABLE users (id int PRIMARY KEY, name text, full_name text);"
	    "INSERT INTO users SELECT g, 'n' || g, NULL FROM generate_series(1, 20000) g;"
	    "CREATE FUNCTION slow(t text) RETURNS text LANGUAGE sql VOLATILE AS"
	    " $$ SELECT pg_sleep(0.0001); SELECT t $$; ANALYZE users"));
	tu_write(dir, "app.sql", "\\set id random(1, 20000)\n"
	    "UPDATE users SET name = name WHERE id = :id;\n");
	ck_assert(tu_proc_sh(&app, dir, "\"%s%spgbench\" -n -c 2 -R 200 -T 30 -f app.sql b_lockwait",
	    bin ? bin : "", bin ? "/" : "") > 0);
	/* Both application sessions are updating before the backfill starts. */
	pt_wait_sql(ci, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'b_lockwait'"
	    " AND application_name = 'pgbench' AND query LIKE 'UPDATE users%'", "2", 20000);
	db = connect_pg(ci);
	watch = connect_pg(ci);
	opts(&o, "users", "full_name = slow(name)", NULL, 2000, &seen);
	o.watch = watch;
	ck_assert_msg(backfill_run(db, &o, &out, &err) == 0, "%s", buf_cstr(&err));
	tu_proc_kill(&app, SIGTERM);
	tu_proc_wait(&app, &r, 10000);
	tu_run_free(&r);
	ck_assert_int_eq(out.finished, 1);
	ck_assert_msg(seen.smallest <= 1000, "batches stayed at %d rows", seen.smallest);
	ck_assert_msg(tu_has(buf_cstr(&seen.note), "waited on the batch's rows: batches shrunk to "),
	    "note: '%s'", buf_cstr(&seen.note));
	pt_sql_eq(ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");
	pg_close(db);
	pg_close(watch);
	tu_rmrf(dir);
	free(dir);
	buf_free(&err);
	buf_free(&seen.cursors);
	buf_free(&seen.note);
	free(ci);
}
END_TEST

/* One TCase per behaviour. */
static Suite *
backfill_suite(void)
{
	Suite *s = suite_create("backfill");
	struct { const char *name; const TTest *t; } tests[] = {
		{ "single_key", test_single_key_batches },
		{ "composite_key", test_composite_key },
		{ "no_primary_key", test_no_primary_key_refused },
		{ "resume_after_kill", test_resume_after_kill },
		{ "resume_after_kill_in_flight", test_resume_after_kill_in_flight },
		{ "rows_inserted_during_walk", test_rows_inserted_during_walk_are_covered },
		{ "adaptive", test_adaptive_batch_size },
		{ "next_batch_in_flight", test_next_batch_in_flight },
		{ "failed_batch_after_progress", test_failed_batch_after_progress },
		{ "lock_timeout_retried", test_batch_lock_timeout_retried },
		{ "exec_verify_rollback", test_exec_backfill_verify_and_rollback },
		{ "plan_independent_of_size", test_plan_independent_of_size },
		{ "no_jit", test_no_jit },
		{ "shrink_when_sessions_wait", test_batches_shrink_when_sessions_wait },
	};
	size_t i;

	for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		tu_add(s, tests[i].name, tests[i].t, NULL, NULL, 60);
	}
	return s;
}

int
main(void)
{
	return tu_run_suite(backfill_suite());
}
