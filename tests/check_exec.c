/*
 * Tests of the PostgreSQL wrapper and the step executor against the real
 * test server: generated SQL, idempotence, lock retries, the ledger, the
 * INVALID index rebuild, the dual-write trigger, the plan lock, verify and
 * drift.  Every test works in a database of its own.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/pgtest.h"
#include "util/proc.h"
#include "util/testutil.h"

/* A string literal as the plan model's (char *). */
#define S(x) ((char *)(x))

/* Forks a session that runs sql (e.g. holding a lock), returns its pid. */
static pid_t
background_sql(const char *conninfo, const char *sql)
{
	pid_t pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct pg *db = NULL;
		struct buf err = BUF_INIT;

		if (pg_connect(&db, conninfo, "excon-test holder", &err) == -1)
			_exit(2);
		_exit(pg_exec_script(db, sql, NULL, &err) == 0 ? 0 : 1);
	}
	return pid;
}

/* Waits until some session holds a granted lock of mode on relation rel. */
static void
wait_lock(const char *conninfo, const char *rel, const char *mode)
{
	struct buf q = BUF_INIT;
	int i;

	buf_printf(&q, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
	    " WHERE c.relname = '%s' AND l.mode = '%s' AND l.granted", rel, mode);
	for (i = 0; i < 200; i++) {
		char *v = pt_sql(conninfo, buf_cstr(&q));
		int n = atoi(v);

		free(v);
		if (n > 0)
			break;
		usleep(20000);
	}
	ck_assert_int_lt(i, 200);
	buf_free(&q);
}

/* Runs one step and asserts its outcome. */
static void
run_step(struct exec *x, const struct plan *p, const struct step *s, enum exec_outcome want)
{
	struct buf err = BUF_INIT;
	enum exec_outcome out;

	ck_assert_msg(exec_step(x, p, s, &out, &err) == 0, "%s: %s", s->id.s, buf_cstr(&err));
	ck_assert_msg(out == want, "%s: outcome %d, want %d", s->id.s, out, want);
	buf_free(&err);
}

/* Connects an executor. */
static struct exec *
connect_exec(const struct exec_opts *o)
{
	struct exec *x = NULL;
	struct buf err = BUF_INIT;

	ck_assert_msg(exec_connect(&x, o, &err) == 0, "%s", buf_cstr(&err));
	buf_free(&err);
	return x;
}

START_TEST(test_redact_conninfo)
{
	char *r;

	r = pg_conninfo_redact("host=db user=app password='s3 cr\\'et' dbname=x");
	ck_assert_str_eq(r, "host=db user=app dbname=x");
	free(r);
	r = pg_conninfo_redact("password=hunter2");
	ck_assert_str_eq(r, "");
	free(r);
	r = pg_conninfo_redact("postgresql://app:hunter2@db.example:5432/x?sslmode=require&password=p2");
	ck_assert_str_eq(r, "postgresql://app@db.example:5432/x?sslmode=require");
	free(r);
	r = pg_conninfo_redact("postgres://db/x");
	ck_assert_str_eq(r, "postgres://db/x");
	free(r);
}
END_TEST

START_TEST(test_connect_error_hides_password)
{
	struct pg *db = NULL;
	struct buf err = BUF_INIT;

	ck_assert_int_eq(pg_connect(&db, "host=/nonexistent port=1 user=u password=hunter2",
	    "excon t", &err), -1);
	ck_assert_msg(!tu_has(buf_cstr(&err), "hunter2"), "%s", buf_cstr(&err));
	ck_assert_msg(tu_has(buf_cstr(&err), "cannot connect to 'host=/nonexistent port=1 user=u'"),
	    "%s", buf_cstr(&err));
	buf_free(&err);
}
END_TEST

START_TEST(test_quote)
{
	struct buf b = BUF_INIT;

	pg_quote_ident(&b, "we\"ird");
	pg_quote_literal(&b, "it's");
	pg_quote_literal(&b, "a\\b");
	ck_assert_str_eq(buf_cstr(&b), "\"we\"\"ird\"'it''s'E'a\\\\b'");
	ck_assert(pg_timeout_valid("2s") && pg_timeout_valid("500ms") && pg_timeout_valid("0"));
	ck_assert(!pg_timeout_valid("2 seconds") && !pg_timeout_valid("1s'; DROP") && !pg_timeout_valid(""));
	ck_assert_int_eq(pg_timeout_ms("1min"), 60000);
	/* Every duration lint accepts (plan_duration_valid) is one excon runs with. */
	ck_assert_int_eq(pg_timeout_ms("1.5s"), 1500);
	ck_assert_int_eq(pg_timeout_ms("30 s"), 30000);
	ck_assert_int_eq(pg_timeout_ms("1.5min"), 90000);
	ck_assert(!pg_timeout_valid("1.s") && !pg_timeout_valid("2s "));
	buf_free(&b);
}
END_TEST

START_TEST(test_dry_run_text)
{
	struct step s[6];
	struct plan p;
	struct exec_opts o;
	struct buf out = BUF_INIT, err = BUF_INIT;
	char *cols[] = { S("email"), NULL };

	exec_opts_init(&o);
	pt_step(&s[0], KIND_ADD_COLUMN, "add-status", "users");
	s[0].column.s = S("status");
	s[0].type.s = S("text");
	s[0].default_.s = S("it's");
	pt_step(&s[1], KIND_CREATE_INDEX, "idx", "users");
	s[1].columns = cols;
	s[1].unique = 1;
	pt_step(&s[2], KIND_DUAL_WRITE, "dw", "users");
	s[2].from.s = S("name");
	s[2].to.s = S("full_name");
	s[2].trigger = 1;
	pt_step(&s[3], KIND_SET_NOT_NULL, "nn", "users");
	s[3].column.s = S("full_name");
	pt_step(&s[4], KIND_DROP_COLUMN, "drop", "users");
	s[4].column.s = S("name");
	s[4].lock_timeout.s = S("500ms");
	pt_step(&s[5], KIND_SWITCH_READS, "reads", NULL);
	pt_plan(&p, "users-full-name", s, 6);

	ck_assert_int_eq(exec_dry_run(&o, &p, &s[0], 0, &out, &err), 0);
	ck_assert_str_eq(buf_cstr(&out),
	    "-- plan 'users-full-name', step 'add-status'\n"
	    "SET application_name = 'excon users-full-name/add-status';\n"
	    "SET lock_timeout = '2s';\n"
	    "BEGIN;\n"
	    "ALTER TABLE \"public\".\"users\" ADD COLUMN IF NOT EXISTS \"status\" text DEFAULT 'it''s'::text;\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('users-full-name', 'add-status', 'sum-add-status');\n"
	    "COMMIT;\n");

	buf_reset(&out);
	ck_assert_int_eq(exec_dry_run(&o, &p, &s[1], 0, &out, &err), 0);
	ck_assert(tu_has(buf_cstr(&out), "\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"users_email_idx\" ON \"public\".\"users\" (\"email\");\n"
	    "BEGIN;\nINSERT INTO excon.ledger"));
	ck_assert(tu_has(buf_cstr(&out), "-- when found: DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"users_email_idx\";"));

	buf_reset(&out);
	ck_assert_int_eq(exec_dry_run(&o, &p, &s[2], 0, &out, &err), 0);
	ck_assert(tu_has(buf_cstr(&out), "CREATE OR REPLACE FUNCTION \"public\".\"excon_sync_name_full_name\"()"));
	ck_assert(tu_has(buf_cstr(&out), "BEFORE INSERT OR UPDATE OF \"name\", \"full_name\" ON \"public\".\"users\""));
	ck_assert(tu_has(buf_cstr(&out), "NEW.\"full_name\" := NEW.\"name\";"));

	buf_reset(&out);
	ck_assert_int_eq(exec_dry_run(&o, &p, &s[3], 0, &out, &err), 0);
	ck_assert(tu_has(buf_cstr(&out), "ADD CONSTRAINT \"excon_nn_full_name\" CHECK (\"full_name\" IS NOT NULL) NOT VALID"));
	ck_assert(tu_has(buf_cstr(&out), "VALIDATE CONSTRAINT \"excon_nn_full_name\""));
	ck_assert(tu_has(buf_cstr(&out), "BEGIN;\nALTER TABLE \"public\".\"users\" ALTER COLUMN \"full_name\" SET NOT NULL;\n"
	    "ALTER TABLE \"public\".\"users\" DROP CONSTRAINT IF EXISTS \"excon_nn_full_name\";\nINSERT INTO excon.ledger"));

	buf_reset(&out);
	ck_assert_int_eq(exec_dry_run(&o, &p, &s[4], 0, &out, &err), 0);
	ck_assert(tu_has(buf_cstr(&out), "SET lock_timeout = '500ms';"));
	ck_assert(tu_has(buf_cstr(&out), "DROP TRIGGER IF EXISTS"));
	ck_assert(tu_has(buf_cstr(&out), "ALTER TABLE IF EXISTS \"public\".\"users\" DROP COLUMN IF EXISTS \"name\";"));

	buf_reset(&out);
	ck_assert_int_eq(exec_dry_run(&o, &p, &s[5], 0, &out, &err), 0);
	ck_assert(tu_has(buf_cstr(&out), "-- nothing to run on the database"));

	/* Rollback of the trigger step drops trigger and function with the ledger row. */
	buf_reset(&out);
	ck_assert_int_eq(exec_dry_run(&o, &p, &s[2], 1, &out, &err), 0);
	ck_assert(tu_has(buf_cstr(&out), "DROP FUNCTION IF EXISTS \"public\".\"excon_sync_name_full_name\"();\n"
	    "DELETE FROM excon.ledger WHERE plan = 'users-full-name' AND step = 'dw';\nCOMMIT;"));
	/* A step without down cannot be rolled back. */
	ck_assert_int_eq(exec_dry_run(&o, &p, &s[0], 1, &out, &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "step 'add-status' has no 'down': cannot roll it back");
	/* A bad timeout is refused, never pasted into SQL. */
	s[0].lock_timeout.s = S("1s'; DROP TABLE users; --");
	ck_assert_int_eq(exec_dry_run(&o, &p, &s[0], 0, &out, &err), -1);
	ck_assert(tu_has(buf_cstr(&err), "invalid lock_timeout"));
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_every_kind_twice_is_idempotent)
{
	char *ci = pt_db("x_idem");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s[12];
	struct plan p;
	struct plan_column tcols[2] = {
		{ S("id"), S("bigint"), NULL, 1, 1 },
		{ S("owner_id"), S("bigint"), NULL, 0, 0 },
	};
	char *idx_cols[] = { S("owner_id"), NULL };
	char *fk[] = { S("owner_id"), NULL };
	char *ref[] = { S("id"), NULL };
	size_t i;
	int round;

	free(pt_sql(ci, "CREATE TABLE owners (id bigint PRIMARY KEY);"
	    "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');"
	    "CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';"
	    "CREATE TRIGGER old_trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION noop()"));
	pt_opts(&o, ci, &log);
	pt_step(&s[0], KIND_CREATE_TABLE, "create", "items");
	s[0].tcols = tcols;
	s[0].ntcols = 2;
	pt_step(&s[1], KIND_ADD_COLUMN, "add", "t");
	s[1].column.s = S("n");
	s[1].type.s = S("integer");
	s[1].default_.s = S("7");
	pt_step(&s[2], KIND_CREATE_INDEX, "index", "items");
	s[2].columns = idx_cols;
	s[2].name.s = S("items_owner");
	pt_step(&s[3], KIND_ADD_CONSTRAINT, "fk", "items");
	s[3].name.s = S("items_owner_fk");
	s[3].fk_columns = fk;
	s[3].references.s = S("owners");
	s[3].ref_columns = ref;
	pt_step(&s[4], KIND_ADD_CONSTRAINT, "chk", "t");
	s[4].name.s = S("t_n_positive");
	s[4].check.s = S("n > 0");
	pt_step(&s[5], KIND_VALIDATE_CONSTRAINT, "validate", "t");
	s[5].name.s = S("t_n_positive");
	pt_step(&s[6], KIND_SET_NOT_NULL, "notnull", "t");
	s[6].column.s = S("v");
	pt_step(&s[7], KIND_DROP_INDEX, "drop-index", "items");
	s[7].name.s = S("items_owner");
	pt_step(&s[8], KIND_DROP_CONSTRAINT, "drop-chk", "t");
	s[8].name.s = S("t_n_positive");
	pt_step(&s[9], KIND_DROP_TRIGGER, "drop-trg", "t");
	s[9].name.s = S("old_trg");
	pt_step(&s[10], KIND_DROP_COLUMN, "drop-col", "t");
	s[10].column.s = S("n");
	pt_step(&s[11], KIND_DROP_TABLE, "drop-table", "items");
	pt_plan(&p, "idem", s, 12);

	x = connect_exec(&o);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 12; i++) {
			run_step(x, &p, &s[i], EXEC_APPLIED);
			/* The ledger holds it now: a rerun runs nothing. */
			run_step(x, &p, &s[i], EXEC_ALREADY_APPLIED);
			if (i == 1)
				pt_sql_eq(ci, "SELECT n FROM t", "7");
			if (i == 2)
				pt_sql_eq(ci, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_owner'::regclass", "t");
			if (i == 3)
				pt_sql_eq(ci, "SELECT convalidated FROM pg_constraint WHERE conname = 'items_owner_fk'", "f");
			if (i == 5)
				pt_sql_eq(ci, "SELECT convalidated FROM pg_constraint WHERE conname = 't_n_positive'", "t");
			if (i == 6) {
				pt_sql_eq(ci, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v'", "t");
				pt_sql_eq(ci, "SELECT count(*) FROM pg_constraint WHERE conname = 'excon_nn_v'", "0");
			}
		}
		pt_sql_eq(ci, "SELECT count(*) FROM excon.ledger WHERE plan = 'idem'", "12");
		pt_sql_eq(ci, "SELECT to_regclass('items') IS NULL", "t");
		pt_sql_eq(ci, "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n'", "0");
		/* Forget the ledger: the SQL itself must be safe to run again. */
		free(pt_sql(ci, "DELETE FROM excon.ledger"));
		if (round == 0)
			free(pt_sql(ci, "ALTER TABLE t ALTER COLUMN v DROP NOT NULL"));
	}
	exec_close(x);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

START_TEST(test_ledger_crash_after_commit_not_reapplied)
{
	char *ci = pt_db("x_ledger");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s;
	struct plan p;
	struct buf err = BUF_INIT;
	enum exec_outcome out;

	free(pt_sql(ci, "CREATE TABLE hits (n int)"));
	pt_opts(&o, ci, &log);
	pt_step(&s, KIND_SQL, "insert", NULL);
	s.up.s = S("INSERT INTO hits VALUES (1); INSERT INTO hits VALUES (2)");
	pt_plan(&p, "ledger", &s, 1);
	x = connect_exec(&o);
	run_step(x, &p, &s, EXEC_APPLIED);
	exec_close(x);
	/* The caller crashed before recording the step; the next advance reruns it. */
	x = connect_exec(&o);
	run_step(x, &p, &s, EXEC_ALREADY_APPLIED);
	pt_sql_eq(ci, "SELECT count(*) FROM hits", "2");
	pt_sql_eq(ci, "SELECT checksum FROM excon.ledger WHERE plan = 'ledger' AND step = 'insert'", "sum-insert");
	/* An edited step is not silently taken as applied. */
	s.checksum = (char *)"other";
	ck_assert_int_eq(exec_step(x, &p, &s, &out, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "step 'insert' is in the database ledger with another checksum"),
	    "%s", buf_cstr(&err));
	/* A failing transactional step leaves neither its effect nor a ledger row. */
	pt_step(&s, KIND_SQL, "fails", NULL);
	s.up.s = S("INSERT INTO hits VALUES (3); SELECT 1/0");
	ck_assert_int_eq(exec_step(x, &p, &s, &out, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "step 'fails': division by zero"), "%s", buf_cstr(&err));
	pt_sql_eq(ci, "SELECT count(*) FROM hits", "2");
	pt_sql_eq(ci, "SELECT count(*) FROM excon.ledger WHERE step = 'fails'", "0");
	/* Rollback runs down and deletes the ledger row in one transaction. */
	pt_step(&s, KIND_SQL, "insert", NULL);
	s.up.s = S("INSERT INTO hits VALUES (1); INSERT INTO hits VALUES (2)");
	s.down.s = S("DELETE FROM hits");
	ck_assert_msg(exec_rollback(x, &p, &s, &err) == 0, "%s", buf_cstr(&err));
	pt_sql_eq(ci, "SELECT count(*) FROM hits", "0");
	pt_sql_eq(ci, "SELECT count(*) FROM excon.ledger", "0");
	exec_close(x);
	buf_free(&err);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

START_TEST(test_lock_timeout_retries_then_succeeds)
{
	char *ci = pt_db("x_retry");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s;
	struct plan p;
	pid_t holder;
	int status;
	double t0, ms;

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY)"));
	holder = background_sql(ci, "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;"
	    " SELECT pg_sleep(3); COMMIT");
	wait_lock(ci, "t", "AccessExclusiveLock");
	pt_opts(&o, ci, &log);
	o.lock_timeout = "200ms";
	o.retry_base_ms = 100;
	o.retry_cap_ms = 800;
	o.lock_retries = 20;
	pt_step(&s, KIND_ADD_COLUMN, "add", "t");
	s.column.s = S("c");
	s.type.s = S("text");
	pt_plan(&p, "retry", &s, 1);
	x = connect_exec(&o);
	t0 = pt_ms();
	run_step(x, &p, &s, EXEC_APPLIED);
	ms = pt_ms() - t0;
	ck_assert_msg(ms > 1500, "took only %.0f ms", ms);
	ck_assert_msg(log.n >= 2, "%s", buf_cstr(&log.lines));
	ck_assert_msg(tu_has(buf_cstr(&log.lines), "step 'add': lock timeout; retry 1 of 20 in "),
	    "%s", buf_cstr(&log.lines));
	pt_sql_eq(ci, "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c'", "1");
	waitpid(holder, &status, 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	/* With too few retries the step fails, names the cause, and leaves nothing. */
	holder = background_sql(ci, "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;"
	    " SELECT pg_sleep(2); COMMIT");
	wait_lock(ci, "t", "AccessExclusiveLock");
	{
		struct buf err = BUF_INIT;
		enum exec_outcome out;

		exec_close(x);
		o.lock_retries = 1;
		x = connect_exec(&o);
		pt_step(&s, KIND_ADD_COLUMN, "add2", "t");
		s.column.s = S("d");
		s.type.s = S("text");
		ck_assert_int_eq(exec_step(x, &p, &s, &out, &err), -1);
		ck_assert_msg(tu_has(buf_cstr(&err), "step 'add2': canceling statement due to lock timeout (gave up after 2 tries)"),
		    "%s", buf_cstr(&err));
		pt_sql_eq(ci, "SELECT count(*) FROM excon.ledger WHERE step = 'add2'", "0");
		buf_free(&err);
	}
	waitpid(holder, &status, 0);
	exec_close(x);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

START_TEST(test_writer_not_blocked_behind_waiting_ddl)
{
	char *ci = pt_db("x_writer");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s;
	struct plan p;
	pid_t reader, writer;
	int fds[2], status;
	double worst = 0;

	free(pt_sql(ci, "CREATE TABLE t (id serial PRIMARY KEY, v int)"));
	/* A long read holds ACCESS SHARE: ALTER TABLE must wait for it. */
	reader = background_sql(ci, "BEGIN; SELECT count(*) FROM t; SELECT pg_sleep(3); COMMIT");
	wait_lock(ci, "t", "AccessShareLock");
	ck_assert_int_eq(pipe(fds), 0);
	writer = fork();
	if (writer == 0) {
		/* The application: one insert every 20 ms for 3.5 s; reports its worst latency. */
		struct pg *db = NULL;
		struct buf err = BUF_INIT;
		double end = pt_ms() + 3500, w = 0;

		if (pg_connect(&db, ci, "app", &err) == -1)
			_exit(2);
		while (pt_ms() < end) {
			double t0 = pt_ms();

			if (pg_exec(db, "INSERT INTO t (v) VALUES (1)", 0, NULL, NULL, &err) == -1)
				_exit(3);
			if (pt_ms() - t0 > w)
				w = pt_ms() - t0;
			usleep(20000);
		}
		if (write(fds[1], &w, sizeof w) != sizeof w)
			_exit(4);
		_exit(0);
	}
	usleep(200000);
	pt_opts(&o, ci, &log);
	o.lock_timeout = "200ms";
	o.retry_base_ms = 100;
	o.retry_cap_ms = 500;
	o.lock_retries = 30;
	pt_step(&s, KIND_ADD_COLUMN, "add", "t");
	s.column.s = S("c");
	s.type.s = S("text");
	pt_plan(&p, "writer", &s, 1);
	x = connect_exec(&o);
	run_step(x, &p, &s, EXEC_APPLIED);
	waitpid(writer, &status, 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(read(fds[0], &worst, sizeof worst), (ssize_t)sizeof worst);
	/* Without lock_timeout the insert would wait behind the ALTER for ~3 s. */
	/* 200 ms lock_timeout: allow for a loaded CI machine, far below 3 s. */
	ck_assert_msg(worst < 1500, "an insert waited %.0f ms", worst);
	ck_assert(log.n >= 1);
	waitpid(reader, &status, 0);
	exec_close(x);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

START_TEST(test_invalid_index_dropped_and_rebuilt)
{
	char *ci = pt_db("x_invalid");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s;
	struct plan p;
	struct pg *db = NULL;
	struct buf err = BUF_INIT;
	char *cols[] = { S("email"), NULL };

	free(pt_sql(ci, "CREATE TABLE u (id int PRIMARY KEY, email text);"
	    "INSERT INTO u VALUES (1, 'a'), (2, 'a'), (3, 'b')"));
	ck_assert_int_eq(pg_connect(&db, ci, "t", &err), 0);
	ck_assert_int_eq(pg_exec(db, "CREATE UNIQUE INDEX CONCURRENTLY u_email ON u (email)",
	    0, NULL, NULL, &err), -1);
	ck_assert_str_eq(pg_sqlstate(db), "23505");
	pg_close(db);
	pt_sql_eq(ci, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'u_email'::regclass", "f");
	free(pt_sql(ci, "DELETE FROM u WHERE id = 2"));

	pt_opts(&o, ci, &log);
	pt_step(&s, KIND_CREATE_INDEX, "index", "u");
	s.name.s = S("u_email");
	s.columns = cols;
	s.unique = 1;
	pt_plan(&p, "invalid", &s, 1);
	x = connect_exec(&o);
	run_step(x, &p, &s, EXEC_APPLIED);
	pt_sql_eq(ci, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'u_email'::regclass", "t");
	pt_sql_eq(ci, "SELECT indisunique FROM pg_index WHERE indexrelid = 'u_email'::regclass", "t");
	ck_assert_msg(tu_has(buf_cstr(&log.lines), "dropping INVALID index 'u_email'"), "%s",
	    buf_cstr(&log.lines));
	exec_close(x);
	buf_free(&err);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

/* Sets up users(id, name NOT NULL) with full_name and the sync trigger. */
static struct exec *
dual_write_setup(const char *ci, struct step *s, struct plan *p, struct pt_log *log,
    struct exec_opts *o)
{
	struct exec *x;

	free(pt_sql(ci, "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);"
	    "INSERT INTO users VALUES (1, 'ann')"));
	pt_opts(o, ci, log);
	pt_step(&s[0], KIND_ADD_COLUMN, "add-column", "users");
	s[0].column.s = S("full_name");
	s[0].type.s = S("text");
	pt_step(&s[1], KIND_DUAL_WRITE, "dual-write", "users");
	s[1].from.s = S("name");
	s[1].to.s = S("full_name");
	s[1].trigger = 1;
	pt_step(&s[2], KIND_DROP_COLUMN, "drop-name", "users");
	s[2].column.s = S("name");
	pt_plan(p, "users-full-name", s, 3);
	x = connect_exec(o);
	run_step(x, p, &s[0], EXEC_APPLIED);
	run_step(x, p, &s[1], EXEC_APPLIED);
	return x;
}

START_TEST(test_dual_write_trigger_keeps_columns_equal)
{
	char *ci = pt_db("x_dual");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s[3];
	struct plan p;

	x = dual_write_setup(ci, s, &p, &log, &o);
	/* Old code writes only name. */
	free(pt_sql(ci, "INSERT INTO users (id, name) VALUES (2, 'bob')"));
	pt_sql_eq(ci, "SELECT full_name FROM users WHERE id = 2", "bob");
	free(pt_sql(ci, "UPDATE users SET name = 'bobby' WHERE id = 2"));
	pt_sql_eq(ci, "SELECT full_name FROM users WHERE id = 2", "bobby");
	/* New code writes only full_name; name is NOT NULL and still gets filled. */
	free(pt_sql(ci, "INSERT INTO users (id, full_name) VALUES (3, 'cy')"));
	pt_sql_eq(ci, "SELECT name FROM users WHERE id = 3", "cy");
	free(pt_sql(ci, "UPDATE users SET full_name = 'cyd' WHERE id = 3"));
	pt_sql_eq(ci, "SELECT name FROM users WHERE id = 3", "cyd");
	/* A writer of both columns wins as written. */
	free(pt_sql(ci, "UPDATE users SET full_name = 'x', name = 'y' WHERE id = 3"));
	pt_sql_eq(ci, "SELECT name || full_name FROM users WHERE id = 3", "yx");
	pt_sql_eq(ci, "SELECT count(*) FROM users WHERE id > 1 AND id < 3 AND name IS DISTINCT FROM full_name", "0");

	/* Rollback drops trigger and function. */
	{
		struct buf err = BUF_INIT;

		ck_assert_msg(exec_rollback(x, &p, &s[1], &err) == 0, "%s", buf_cstr(&err));
		pt_sql_eq(ci, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'excon%'", "0");
		pt_sql_eq(ci, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'excon%'", "0");
		pt_sql_eq(ci, "SELECT count(*) FROM excon.ledger WHERE step = 'dual-write'", "0");
		buf_free(&err);
	}
	exec_close(x);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

START_TEST(test_dual_write_type_change_expressions)
{
	char *ci = pt_db("x_dualtype");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s;
	struct plan p;

	free(pt_sql(ci, "CREATE TABLE o (id int PRIMARY KEY, amount text NOT NULL, amount_n numeric)"));
	pt_opts(&o, ci, &log);
	pt_step(&s, KIND_DUAL_WRITE, "dw", "o");
	s.from.s = S("amount");
	s.to.s = S("amount_n");
	s.trigger = 1;
	s.up.s = S("NEW.amount::numeric");
	s.down.s = S("to_char(NEW.amount_n, 'FM999990.00')");
	pt_plan(&p, "amounts", &s, 1);
	x = connect_exec(&o);
	run_step(x, &p, &s, EXEC_APPLIED);
	free(pt_sql(ci, "INSERT INTO o (id, amount) VALUES (1, '12.50')"));
	pt_sql_eq(ci, "SELECT amount_n FROM o WHERE id = 1", "12.50");
	free(pt_sql(ci, "INSERT INTO o (id, amount_n) VALUES (2, 3)"));
	pt_sql_eq(ci, "SELECT amount FROM o WHERE id = 2", "3.00");
	exec_close(x);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

START_TEST(test_drop_column_drops_sync_trigger)
{
	char *ci = pt_db("x_dropcol");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s[3];
	struct plan p;
	struct buf err = BUF_INIT;
	struct pg *db = NULL;

	x = dual_write_setup(ci, s, &p, &log, &o);
	/* PostgreSQL itself refuses to drop a column the trigger depends on. */
	ck_assert_int_eq(pg_connect(&db, ci, "t", &err), 0);
	ck_assert_int_eq(pg_exec(db, "ALTER TABLE users DROP COLUMN name", 0, NULL, NULL, &err), -1);
	pg_close(db);
	run_step(x, &p, &s[2], EXEC_APPLIED);
	pt_sql_eq(ci, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'excon%'", "0");
	pt_sql_eq(ci, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'excon%'", "0");
	/* New code's writes still work. */
	free(pt_sql(ci, "INSERT INTO users (id, full_name) VALUES (5, 'eve')"));
	free(pt_sql(ci, "UPDATE users SET full_name = 'eva' WHERE id = 5"));
	pt_sql_eq(ci, "SELECT full_name FROM users WHERE id = 5", "eva");
	exec_close(x);
	buf_free(&err);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

START_TEST(test_plan_lock_names_holder)
{
	char *ci = pt_db("x_lock");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *a, *b;
	struct step s;
	struct plan p;
	struct buf err = BUF_INIT, want = BUF_INIT;
	enum exec_outcome out;
	char *pid;

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY)"));
	pt_opts(&o, ci, &log);
	pt_step(&s, KIND_ADD_COLUMN, "backfill", "t");
	s.column.s = S("c");
	s.type.s = S("int");
	pt_plan(&p, "x", &s, 1);
	a = connect_exec(&o);
	b = connect_exec(&o);
	run_step(a, &p, &s, EXEC_APPLIED);
	pid = pt_sql(ci, "SELECT pid FROM pg_stat_activity WHERE application_name = 'excon x/backfill'");
	ck_assert_str_ne(pid, "");
	ck_assert_int_eq(exec_step(b, &p, &s, &out, &err), -1);
	buf_printf(&want, "plan 'x' is being advanced by another excon (pid %s on host [local], 'excon x/backfill')", pid);
	ck_assert_str_eq(buf_cstr(&err), buf_cstr(&want));
	/* Other plans are not blocked; and the lock dies with the session. */
	ck_assert_int_eq(exec_lock_plan(b, "y", &err), 0);
	exec_close(a);
	/* The server drops a's lock when its backend exits, just after PQfinish. */
	{
		double end = tu_ms() + 10000;
		int rc;

		while ((rc = exec_lock_plan(b, "x", &err)) != 0 && tu_ms() < end) {
			buf_reset(&err);
			tu_sleep_ms(20);
		}
		ck_assert_msg(rc == 0, "%s", buf_cstr(&err));
	}
	exec_close(b);
	free(pid);
	buf_free(&err);
	buf_free(&want);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

/*
 * A pipeline: results in order, the command tag's row count, prepared
 * statements; a failing statement reports its error and SQLSTATE, the
 * rest is skipped and rolled back with it, and the session is usable after.
 */
START_TEST(test_pipeline)
{
	char *ci = pt_db("x_pipeline");
	struct pg *db = NULL;
	struct buf err = BUF_INIT;
	struct pg_result *r[3];
	const char *one[] = { "2" };

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY, v int);"
	    "INSERT INTO t SELECT g, 0 FROM generate_series(1, 5) g"));
	ck_assert_msg(pg_connect(&db, ci, "pipeline", &err) == 0, "%s", buf_cstr(&err));
	ck_assert_int_eq(pg_prepare(db, "bump", "UPDATE t SET v = v + 1 WHERE id > $1", 1, &err), 0);
	{
		struct pg_stmt st[] = {
			{ NULL, "bump", 1, one },
			{ "SELECT sum(v) FROM t", NULL, 0, NULL },
			{ "UPDATE t SET v = v + 10 WHERE id = $1", NULL, 1, one },
		};

		ck_assert_msg(pg_exec_pipeline(db, 3, st, r, &err) == 0, "%s", buf_cstr(&err));
		ck_assert_int_eq(pg_result_affected(r[0]), 3);
		ck_assert_str_eq(pg_result_get(r[1], 0, 0), "3");
		ck_assert_int_eq(pg_result_affected(r[2]), 1);
		pg_result_free(r[0]);
		pg_result_free(r[1]);
		pg_result_free(r[2]);
	}
	pt_sql_eq(ci, "SELECT sum(v) FROM t", "13");
	{
		struct pg_stmt st[] = {
			{ NULL, "bump", 1, one },
			{ "SELECT 1 / 0", NULL, 0, NULL },
			{ "UPDATE t SET v = 100", NULL, 0, NULL },
		};

		ck_assert_int_eq(pg_exec_pipeline(db, 3, st, r, &err), -1);
		ck_assert_str_eq(buf_cstr(&err), "division by zero");
		ck_assert_str_eq(pg_sqlstate(db), "22012");
		ck_assert(r[0] == NULL && r[1] == NULL && r[2] == NULL);
	}
	/* One implicit transaction: the first UPDATE went with the failure. */
	pt_sql_eq(ci, "SELECT sum(v) FROM t", "13");
	ck_assert_int_eq(pg_in_transaction(db), 0);
	{
		struct pg_stmt st[] = { { NULL, "bump", 1, one } };

		ck_assert_msg(pg_exec_pipeline(db, 1, st, NULL, &err) == 0, "%s", buf_cstr(&err));
	}
	ck_assert_int_eq(pg_deallocate(db, "bump", &err), 0);
	pt_sql_eq(ci, "SELECT sum(v) FROM t", "16");
	pg_close(db);
	buf_free(&err);
	free(ci);
}
END_TEST

START_TEST(test_verify_boolean)
{
	char *ci = pt_db("x_verify");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s;
	struct plan p;
	struct buf err = BUF_INIT, detail = BUF_INIT;
	int ok;

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)"));
	pt_opts(&o, ci, &log);
	pt_step(&s, KIND_SQL, "v", NULL);
	pt_plan(&p, "verify", &s, 1);
	x = connect_exec(&o);
	s.verify.s = S("SELECT count(*) = 1 FROM t");
	ck_assert_int_eq(exec_verify(x, &p, &s, &ok, &detail, &err), 0);
	ck_assert_int_eq(ok, 1);
	s.verify.s = S("SELECT count(*) = 0 FROM t");
	ck_assert_int_eq(exec_verify(x, &p, &s, &ok, &detail, &err), 0);
	ck_assert_int_eq(ok, 0);
	ck_assert_str_eq(buf_cstr(&detail), "verify of step 'v' returned false");
	s.verify.s = S("SELECT count(*) FROM t");
	ck_assert_int_eq(exec_verify(x, &p, &s, &ok, &detail, &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "step 'v': verify must return exactly one boolean (got 1 row(s) of 1 column(s), not boolean)");
	s.verify.s = S("SELECT true FROM t WHERE false");
	ck_assert_int_eq(exec_verify(x, &p, &s, &ok, &detail, &err), -1);
	/* verify is one SELECT: nothing else is even sent. */
	s.verify.s = S("DELETE FROM t RETURNING true");
	ck_assert_int_eq(exec_verify(x, &p, &s, &ok, &detail, &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "step 'v': 'verify' must be one SELECT query and nothing else");
	s.verify.s = S("SELECT true; DELETE FROM t");
	ck_assert_int_eq(exec_verify(x, &p, &s, &ok, &detail, &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "step 'v': 'verify' must be one SELECT query, not 2 statements");
	pt_sql_eq(ci, "SELECT count(*) FROM t", "1");
	/* And it runs read-only. */
	free(pt_sql(ci, "CREATE SEQUENCE seq"));
	s.verify.s = S("SELECT nextval('seq') > 0");
	ck_assert_int_eq(exec_verify(x, &p, &s, &ok, &detail, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "read-only transaction"), "%s", buf_cstr(&err));
	exec_close(x);
	buf_free(&err);
	buf_free(&detail);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

START_TEST(test_drift_lines)
{
	char *ci = pt_db("x_drift");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s[3];
	struct plan p;
	struct exec_drift d = { 0 };
	struct buf err = BUF_INIT;
	const char *rel[] = { S("v2"), S("v2"), S("v9") };

	x = dual_write_setup(ci, s, &p, &log, &o);
	ck_assert_int_eq(exec_drift(x, &p, 2, rel, NULL, NULL, 0, &d, &err), 0);
	ck_assert_int_eq(d.n, 0);
	free(pt_sql(ci, "DROP TRIGGER excon_sync_name_full_name ON users; ALTER TABLE users DROP COLUMN full_name"));
	ck_assert_int_eq(exec_drift(x, &p, 2, rel, NULL, NULL, 0, &d, &err), 0);
	ck_assert_int_eq(d.n, 2);
	ck_assert_str_eq(d.v[0], "users.full_name: column missing (add-column shipped in v2)");
	ck_assert_str_eq(d.v[1], "users: trigger 'excon_sync_name_full_name' missing (dual-write shipped in v2)");
	exec_drift_free(&d);
	/* The contract shipped but its column is still there; the trigger's absence is expected now. */
	ck_assert_int_eq(exec_drift(x, &p, 3, rel, NULL, NULL, 0, &d, &err), 0);
	ck_assert_int_eq(d.n, 2);
	ck_assert_str_eq(d.v[1], "users.name: column still present (drop-name shipped in v9)");
	exec_drift_free(&d);
	exec_close(x);
	buf_free(&err);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

/*
 * An index name longer than PostgreSQL keeps (63 bytes, cut before a
 * character that would straddle the limit): drift compares the name the
 * catalog holds, so a shipped index is not reported missing, and a dropped
 * one is reported under its stored name.
 */
START_TEST(test_drift_long_name)
{
	char *ci = pt_db("x_drift_long");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s;
	struct plan p;
	struct exec_drift d = { 0 };
	struct buf err = BUF_INIT, name = BUF_INIT, want = BUF_INIT, q = BUF_INIT;
	char *cols[] = { S("email"), NULL };
	const char *rel[] = { S("v1") };
	int i;

	for (i = 0; i < 62; i++)
		buf_putc(&name, 'a');
	buf_puts(&want, buf_cstr(&name));
	buf_puts(&name, "\xc3\xa9_and_a_long_tail_well_past_eighty_bytes_in_all");
	free(pt_sql(ci, "CREATE TABLE u (id int PRIMARY KEY, email text)"));
	pt_opts(&o, ci, &log);
	pt_step(&s, KIND_CREATE_INDEX, "index", "u");
	s.name.s = (char *)buf_cstr(&name);
	s.columns = cols;
	pt_plan(&p, "long", &s, 1);
	x = connect_exec(&o);
	run_step(x, &p, &s, EXEC_APPLIED);
	buf_printf(&q, "SELECT count(*) FROM pg_class WHERE relname = '%s'", buf_cstr(&want));
	pt_sql_eq(ci, buf_cstr(&q), "1");
	ck_assert_int_eq(exec_drift(x, &p, 1, rel, NULL, NULL, 0, &d, &err), 0);
	ck_assert_msg(d.n == 0, "%s", d.n ? d.v[0] : "");
	exec_drift_free(&d);
	buf_reset(&q);
	buf_printf(&q, "DROP INDEX \"%s\"", buf_cstr(&want));
	free(pt_sql(ci, buf_cstr(&q)));
	ck_assert_int_eq(exec_drift(x, &p, 1, rel, NULL, NULL, 0, &d, &err), 0);
	ck_assert_int_eq(d.n, 1);
	buf_reset(&q);
	buf_printf(&q, "u: index '%s' missing (index shipped in v1)", buf_cstr(&want));
	ck_assert_str_eq(d.v[0], buf_cstr(&q));
	exec_drift_free(&d);
	exec_close(x);
	buf_free(&err);
	buf_free(&name);
	buf_free(&want);
	buf_free(&q);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

START_TEST(test_non_transactional_sql_step)
{
	char *ci = pt_db("x_notx");
	struct exec_opts o;
	struct pt_log log = { BUF_INIT, 0 };
	struct exec *x;
	struct step s;
	struct plan p;

	free(pt_sql(ci, "CREATE TABLE t (id int PRIMARY KEY, v int)"));
	pt_opts(&o, ci, &log);
	pt_step(&s, KIND_SQL, "cic", NULL);
	s.up.s = S("CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON t (v)");
	s.transaction = 0;
	pt_plan(&p, "notx", &s, 1);
	x = connect_exec(&o);
	run_step(x, &p, &s, EXEC_APPLIED);
	pt_sql_eq(ci, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v'::regclass", "t");
	pt_sql_eq(ci, "SELECT count(*) FROM excon.ledger WHERE step = 'cic'", "1");
	exec_close(x);
	buf_free(&log.lines);
	free(ci);
}
END_TEST

/* One TCase per behaviour. */
static Suite *
exec_suite(void)
{
	Suite *s = suite_create("exec");
	struct { const char *name; const TTest *t; } tests[] = {
		{ "redact", test_redact_conninfo },
		{ "connect_error", test_connect_error_hides_password },
		{ "quote", test_quote },
		{ "dry_run", test_dry_run_text },
		{ "idempotent", test_every_kind_twice_is_idempotent },
		{ "ledger", test_ledger_crash_after_commit_not_reapplied },
		{ "lock_retry", test_lock_timeout_retries_then_succeeds },
		{ "writer", test_writer_not_blocked_behind_waiting_ddl },
		{ "invalid_index", test_invalid_index_dropped_and_rebuilt },
		{ "dual_write", test_dual_write_trigger_keeps_columns_equal },
		{ "dual_write_type", test_dual_write_type_change_expressions },
		{ "drop_column", test_drop_column_drops_sync_trigger },
		{ "plan_lock", test_plan_lock_names_holder },
		{ "pipeline", test_pipeline },
		{ "verify", test_verify_boolean },
		{ "drift", test_drift_lines },
		{ "drift_long_name", test_drift_long_name },
		{ "no_transaction", test_non_transactional_sql_step },
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
	return tu_run_suite(exec_suite());
}
