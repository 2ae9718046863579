/*
 * Tests of the SQLite state store: creation, releases, ships, backfill
 * progress, the hash-chained event log and its tamper detection, refusal of
 * files that are not ours (left byte-for-byte untouched), concurrent
 * writers, and rollback.  Tampering goes through the sqlite3 command-line
 * shell, as an editor of the file would.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "state.h"
#include "util/testutil.h"
#include "xalloc.h"

#define NPROC	16

static char *dir;
static char *path;

/* A fresh directory and state file path for each test. */
static void
setup(void)
{
	dir = tu_tmpdir();
	path = xasprintf("%s/state.db", dir);
	unsetenv("EXCON_NOW");
	unsetenv("EXCON_ACTOR");
}

/* Removes the test directory. */
static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
	free(path);
}

/* Opens (creating) the test state file or fails the test. */
static struct state *
open_new(void)
{
	struct buf err = BUF_INIT;
	struct state *st = NULL;

	if (state_open(&st, path, 1, &err) == -1)
		ck_abort_msg("state_open: %s", buf_cstr(&err));
	buf_free(&err);
	return st;
}

/* Runs a statement through the sqlite3 shell; returns its stdout (owned). */
static char *
sqlite_cli(const char *sql)
{
	struct run r;
	char *out;

	tu_sh(&r, dir, "sqlite3 state.db \"%s\"", sql);
	out = xasprintf("%s%s", r.out != NULL ? r.out : "",
	    r.err != NULL ? r.err : "");
	tu_run_free(&r);
	return out;
}

/* Asserts that sql run through the sqlite3 shell prints want. */
static void
cli_is(const char *sql, const char *want)
{
	char *out = sqlite_cli(sql);

	ck_assert_str_eq(out, want);
	free(out);
}

/* Appends an event of kind for plan with detail, or fails the test. */
static void
append(struct state *st, const char *kind, const char *plan,
    const char *detail)
{
	struct state_event ev;
	struct buf err = BUF_INIT;

	memset(&ev, 0, sizeof ev);
	ev.kind = (char *)kind;
	ev.plan = (char *)plan;
	ev.detail = (char *)detail;
	if (state_event_append(st, &ev, &err) == -1)
		ck_abort_msg("append: %s", buf_cstr(&err));
	buf_free(&err);
}

/* Appends five events, closes, and returns nothing: the file to tamper. */
static void
five_events(void)
{
	struct state *st = open_new();
	int i;
	char *d;

	for (i = 1; i <= 5; i++) {
		d = xasprintf("detail %d", i);
		append(st, "advance", "p", d);
		free(d);
	}
	state_close(st);
}

/* Reopens the file and verifies the log; returns the result, fills bad/msg. */
static int
reverify(int64_t *bad, struct buf *msg)
{
	struct buf err = BUF_INIT;
	struct state *st = NULL;
	int rc;

	if (state_open(&st, path, 0, &err) == -1)
		ck_abort_msg("state_open: %s", buf_cstr(&err));
	rc = state_log_verify(st, bad, msg);
	state_close(st);
	buf_free(&err);
	return rc;
}

/* A snapshot of a file: its bytes and modification time. */
struct snap {
	char		*data;
	size_t		 len;
	struct timespec	 mtime;
};

/* Backdates the test file's mtime and takes a snapshot of it. */
static void
snap_take(struct snap *s)
{
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct stat sb;

	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	s->mtime = sb.st_mtim;
	s->data = tu_read(dir, "state.db", &s->len);
	ck_assert_ptr_nonnull(s->data);
}

/* Asserts the test file is unchanged since s and grew no side files. */
static void
snap_same(struct snap *s, int check_side_files)
{
	static const char *const sides[] = { "-wal", "-shm", "-journal" };
	struct stat sb;
	size_t len, i;
	char *data, *side;

	data = tu_read(dir, "state.db", &len);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(len, s->len);
	ck_assert_msg(memcmp(data, s->data, len) == 0, "file contents changed");
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mtim.tv_sec, s->mtime.tv_sec);
	ck_assert_int_eq(sb.st_mtim.tv_nsec, s->mtime.tv_nsec);
	for (i = 0; check_side_files && i < 3; i++) {
		side = xasprintf("%s%s", path, sides[i]);
		ck_assert_msg(access(side, F_OK) == -1, "'%s' exists", side);
		free(side);
	}
	free(data);
	free(s->data);
}

/* Refuses path with both create settings; checks the message each time. */
static void
assert_refused(const char *want)
{
	struct buf err = BUF_INIT;
	struct state *st = NULL;
	int create;

	for (create = 0; create <= 1; create++) {
		ck_assert_int_eq(state_open(&st, path, create, &err), -1);
		ck_assert_ptr_null(st);
		ck_assert_msg(tu_has(buf_cstr(&err), want),
		    "message '%s' lacks '%s'", buf_cstr(&err), want);
		ck_assert_msg(tu_has(buf_cstr(&err), path),
		    "message '%s' does not name the file", buf_cstr(&err));
	}
	buf_free(&err);
}

START_TEST(test_create_mode_0600)
{
	struct buf err = BUF_INIT;
	struct state *st = NULL;
	struct stat sb;
	char *wal;

	umask(0);
	ck_assert_int_eq(state_open(&st, path, 0, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "cannot open"), "%s",
	    buf_cstr(&err));
	ck_assert_int_eq(access(path, F_OK), -1);

	st = open_new();
	append(st, "init", NULL, NULL);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	wal = xasprintf("%s-wal", path);
	if (stat(wal, &sb) == 0)
		ck_assert_int_eq(sb.st_mode & 0777, 0600);
	free(wal);
	state_close(st);

	/* Reopening an existing file without create works. */
	ck_assert_int_eq(state_open(&st, path, 0, &err), 0);
	state_close(st);
	cli_is("PRAGMA journal_mode", "wal\n");
	cli_is("PRAGMA user_version", "4\n");
	cli_is("PRAGMA application_id", "1163412302\n");
	buf_free(&err);
}
END_TEST

START_TEST(test_empty_file)
{
	struct buf err = BUF_INIT;
	struct state *st = NULL;

	tu_write(dir, "state.db", "");
	ck_assert_int_eq(state_open(&st, path, 0, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "is empty"), "%s",
	    buf_cstr(&err));
	ck_assert_int_eq(state_open(&st, path, 1, &err), 0);
	ck_assert_int_eq(state_release_add(st, "r1", NULL, NULL, &err), 0);
	state_close(st);
	buf_free(&err);
}
END_TEST

START_TEST(test_releases_seq_and_finish)
{
	struct state_history h;
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	int64_t seq = 0;
	char name[16];
	int i;

	setenv("EXCON_NOW", "1700000000", 1);
	for (i = 1; i <= 5; i++) {
		snprintf(name, sizeof name, "r%d", i);
		ck_assert_int_eq(state_release_add(st, name,
		    i == 2 ? "hotfix" : NULL, &seq, &err), 0);
		ck_assert_int_eq(seq, i);
	}
	ck_assert_int_eq(state_release_add(st, "r2", NULL, &seq, &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "release 'r2' already exists");

	setenv("EXCON_NOW", "1700000500", 1);
	ck_assert_int_eq(state_release_finish(st, 2, &err), 0);
	setenv("EXCON_NOW", "1700000900", 1);
	ck_assert_int_eq(state_release_finish(st, 2, &err), 0);
	ck_assert_int_eq(state_release_finish(st, 9, &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "no release with sequence 9");

	ck_assert_int_eq(state_history_load(st, &h, &err), 0);
	ck_assert_uint_eq(h.nreleases, 5);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(h.releases[i].seq, i + 1);
		ck_assert_int_eq(h.releases[i].started_at, 1700000000);
	}
	ck_assert_str_eq(h.releases[1].name, "r2");
	ck_assert_str_eq(h.releases[1].note, "hotfix");
	ck_assert_ptr_null(h.releases[0].note);
	ck_assert_int_eq(h.releases[1].state, RELEASE_DEPLOYED);
	ck_assert_int_eq(h.releases[1].finished_at, 1700000500);
	ck_assert_int_eq(h.releases[0].state, RELEASE_STARTED);
	ck_assert_int_eq(h.releases[0].finished_at, 0);
	state_history_free(&h);
	state_close(st);
	buf_free(&err);
}
END_TEST

/* Puts one ship row or fails the test. */
static void
put_ship(struct state *st, const char *plan, const char *step, int idx,
    int64_t rel, enum ship_status status)
{
	struct state_ship s;
	struct buf err = BUF_INIT;

	memset(&s, 0, sizeof s);
	s.plan = (char *)plan;
	s.step = (char *)step;
	s.idx = idx;
	s.release_seq = rel;
	s.checksum = (char *)"abc";
	s.status = status;
	s.forced = status == SHIP_FAILED;
	if (state_ship_put(st, &s, &err) == -1)
		ck_abort_msg("ship_put: %s", buf_cstr(&err));
	buf_free(&err);
}

START_TEST(test_ships_put_delete_order)
{
	struct state_history h;
	struct buf err = BUF_INIT;
	struct state *st = open_new();

	setenv("EXCON_NOW", "42", 1);
	put_ship(st, "users", "backfill", 2, 1, SHIP_DONE);
	put_ship(st, "accounts", "drop", 3, 2, SHIP_DONE);
	put_ship(st, "users", "add", 0, 1, SHIP_DONE);
	put_ship(st, "accounts", "add", 0, 1, SHIP_DONE);
	put_ship(st, "users", "dual", 1, 1, SHIP_DONE);
	/* Replacing keeps one row per (plan, step). */
	put_ship(st, "users", "backfill", 2, 3, SHIP_FAILED);
	ck_assert_int_eq(state_ship_delete(st, "accounts", "drop", &err), 0);
	ck_assert_int_eq(state_ship_delete(st, "accounts", "nope", &err), 0);

	ck_assert_int_eq(state_history_load(st, &h, &err), 0);
	ck_assert_uint_eq(h.nships, 4);
	ck_assert_str_eq(h.ships[0].plan, "accounts");
	ck_assert_str_eq(h.ships[0].step, "add");
	ck_assert_str_eq(h.ships[1].step, "add");
	ck_assert_str_eq(h.ships[2].step, "dual");
	ck_assert_str_eq(h.ships[3].step, "backfill");
	ck_assert_int_eq(h.ships[3].idx, 2);
	ck_assert_int_eq(h.ships[3].release_seq, 3);
	ck_assert_int_eq(h.ships[3].status, SHIP_FAILED);
	ck_assert_int_eq(h.ships[3].forced, 1);
	ck_assert_int_eq(h.ships[2].status, SHIP_DONE);
	ck_assert_int_eq(h.ships[2].forced, 0);
	ck_assert_int_eq(h.ships[2].at, 42);
	ck_assert_str_eq(h.ships[2].checksum, "abc");
	state_history_free(&h);
	state_close(st);
	buf_free(&err);
}
END_TEST

START_TEST(test_events_append_and_verify)
{
	struct state_event *v = NULL;
	struct buf err = BUF_INIT;
	struct state *st;
	int64_t bad = -1;
	size_t n = 0;

	setenv("EXCON_ACTOR", "alice@ci", 1);
	setenv("EXCON_NOW", "1234", 1);
	st = open_new();
	ck_assert_int_eq(state_log_verify(st, &bad, &err), 0);
	append(st, "release.start", NULL, "r1");
	append(st, "advance", "users", "add column");
	append(st, "advance", "orders", "add index");
	append(st, "override", "users", "gate 3");
	ck_assert_int_eq(state_log_verify(st, &bad, &err), 0);

	ck_assert_int_eq(state_events_load(st, NULL, NULL, &v, &n, &err), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(v[0].id, 1);
	ck_assert_int_eq(v[3].id, 4);
	ck_assert_str_eq(v[0].kind, "release.start");
	ck_assert_str_eq(v[0].actor, "alice@ci");
	ck_assert_int_eq(v[0].at, 1234);
	ck_assert_ptr_null(v[0].plan);
	ck_assert_uint_eq(strlen(v[0].hash), 64);
	ck_assert_str_ne(v[0].hash, v[1].hash);
	state_events_free(v, n);

	ck_assert_int_eq(state_events_load(st, "users", NULL, &v, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[1].detail, "gate 3");
	state_events_free(v, n);
	ck_assert_int_eq(state_events_load(st, "users", "advance", &v, &n,
	    &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].detail, "add column");
	state_events_free(v, n);

	ck_assert_int_eq(state_event_append(st, &(struct state_event){ .id = 0 },
	    &err), -1);
	ck_assert_str_eq(buf_cstr(&err), "an event needs a kind");
	state_close(st);
	ck_assert_int_eq(reverify(&bad, &err), 0);
	buf_free(&err);
}
END_TEST

START_TEST(test_events_triggers_refuse_edits)
{
	struct buf msg = BUF_INIT;
	int64_t bad = 0;
	char *out;

	five_events();
	out = sqlite_cli("UPDATE events SET detail = 'x' WHERE id = 2");
	ck_assert_msg(tu_has(out, "append-only"), "%s", out);
	free(out);
	out = sqlite_cli("DELETE FROM events WHERE id = 5");
	ck_assert_msg(tu_has(out, "append-only"), "%s", out);
	free(out);
	ck_assert_int_eq(reverify(&bad, &msg), 0);
	buf_free(&msg);
}
END_TEST

/* Drops the triggers, runs sql on the file, and returns verify's result. */
static int
tamper(const char *sql, int64_t *bad, struct buf *msg)
{
	char *full = xasprintf("DROP TRIGGER events_no_update; "
	    "DROP TRIGGER events_no_delete; %s", sql);
	char *out = sqlite_cli(full);

	ck_assert_msg(*out == '\0', "sqlite3: %s", out);
	free(out);
	free(full);
	return reverify(bad, msg);
}

START_TEST(test_tamper_edit_detail)
{
	struct buf msg = BUF_INIT;
	int64_t bad = 0;

	five_events();
	ck_assert_int_eq(tamper("UPDATE events SET detail = 'innocent' "
	    "WHERE id = 3", &bad, &msg), 1);
	ck_assert_int_eq(bad, 3);
	ck_assert_str_eq(buf_cstr(&msg), "event 3 was altered");
	buf_free(&msg);
}
END_TEST

START_TEST(test_tamper_renumber)
{
	struct buf msg = BUF_INIT;
	int64_t bad = 0;

	five_events();
	ck_assert_int_eq(tamper("DELETE FROM events WHERE id = 4; "
	    "UPDATE events SET id = 4 WHERE id = 5; "
	    "UPDATE chain SET head_id = 4", &bad, &msg), 1);
	ck_assert_int_eq(bad, 4);
	ck_assert_str_eq(buf_cstr(&msg), "event 4 was altered");
	buf_free(&msg);
}
END_TEST

START_TEST(test_tamper_delete_middle)
{
	struct buf msg = BUF_INIT;
	int64_t bad = 0;

	five_events();
	ck_assert_int_eq(tamper("DELETE FROM events WHERE id = 3", &bad, &msg),
	    1);
	ck_assert_int_eq(bad, 3);
	ck_assert_str_eq(buf_cstr(&msg), "event 3 is missing");
	buf_free(&msg);
}
END_TEST

START_TEST(test_tamper_delete_last)
{
	struct buf msg = BUF_INIT;
	int64_t bad = 0;

	five_events();
	ck_assert_int_eq(tamper("DELETE FROM events WHERE id = 5", &bad, &msg),
	    1);
	ck_assert_int_eq(bad, 5);
	ck_assert_msg(tu_has(buf_cstr(&msg), "event 5 is missing"), "%s",
	    buf_cstr(&msg));
	buf_free(&msg);
}
END_TEST

START_TEST(test_tamper_after_append_continues)
{
	struct buf msg = BUF_INIT, err = BUF_INIT;
	struct state *st = NULL;
	int64_t bad = 0;

	/* Appending after a deletion does not paper over the gap. */
	five_events();
	ck_assert_int_eq(tamper("DELETE FROM events WHERE id = 5", &bad, &msg),
	    1);
	ck_assert_int_eq(state_open(&st, path, 0, &err), 0);
	append(st, "advance", "p", "later");
	ck_assert_int_eq(state_log_verify(st, &bad, &msg), 1);
	ck_assert_int_eq(bad, 5);
	state_close(st);
	buf_free(&msg);
	buf_free(&err);
}
END_TEST

START_TEST(test_refuse_garbage)
{
	struct snap s;

	tu_write(dir, "state.db", "name: not a database\nsteps: []\n"
	    "and quite a bit more text so that it is longer than one hundred "
	    "bytes, the size of an SQLite header\n");
	snap_take(&s);
	assert_refused("is not an excon state file");
	snap_same(&s, 1);
}
END_TEST

START_TEST(test_refuse_short_file)
{
	struct snap s;

	tu_write(dir, "state.db", "SQLite format 3");
	snap_take(&s);
	assert_refused("is not an excon state file");
	snap_same(&s, 1);
}
END_TEST

START_TEST(test_refuse_foreign_sqlite)
{
	struct snap s;
	char *out;

	out = sqlite_cli("PRAGMA application_id = 1234; "
	    "CREATE TABLE releases (x); INSERT INTO releases VALUES (1)");
	ck_assert_str_eq(out, "");
	free(out);
	snap_take(&s);
	assert_refused("is not an excon state file");
	snap_same(&s, 1);
}
END_TEST

START_TEST(test_refuse_newer_version)
{
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	struct snap s;
	char *out, *want;

	state_release_add(st, "r1", NULL, NULL, &err);
	state_close(st);
	out = sqlite_cli("PRAGMA user_version = 7");
	ck_assert_str_eq(out, "");
	free(out);
	snap_take(&s);
	assert_refused("'");
	ck_assert_int_eq(state_open(&st, path, 0, &err), -1);
	want = xasprintf("'%s' was written by a newer excon (state schema 7, "
	    "this excon knows 4): upgrade excon", path);
	ck_assert_str_eq(buf_cstr(&err), want);
	free(want);
	snap_same(&s, 1);
	buf_free(&err);
}
END_TEST

START_TEST(test_refuse_corrupt)
{
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	struct snap s;
	char name[32];
	size_t len;
	char *data;
	FILE *f;
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "release-%d", i);
		state_release_add(st, name, "a note to fill the pages", NULL,
		    &err);
	}
	state_close(st);
	data = tu_read(dir, "state.db", &len);
	ck_assert_uint_gt(len, 8192);
	memset(data + 4096, 0xab, len - 4096);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	free(data);

	snap_take(&s);
	/* Opened to write, it is checked whole and refused at once. */
	ck_assert_int_eq(state_open(&st, path, 1, &err), -1);
	ck_assert_ptr_null(st);
	ck_assert_msg(tu_has(buf_cstr(&err), "is corrupt") && tu_has(buf_cstr(&err), path),
	    "%s", buf_cstr(&err));
	/* Opened to read, it fails on the first damaged page, and refuses a write. */
	ck_assert_int_eq(state_open(&st, path, 0, &err), 0);
	{
		struct state_history h;

		ck_assert_int_eq(state_history_load(st, &h, &err), -1);
		ck_assert_msg(tu_has(buf_cstr(&err), "is corrupt") &&
		    tu_has(buf_cstr(&err), path), "%s", buf_cstr(&err));
	}
	buf_reset(&err);
	ck_assert_int_eq(state_begin(st, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "is corrupt"), "%s", buf_cstr(&err));
	state_close(st);
	snap_same(&s, 0);
	buf_free(&err);
}
END_TEST

/* One concurrent writer: ships step "add" of plan "users" unless shipped. */
static int
child_ship(int gate, int create, int n)
{
	struct state_history h;
	struct buf err = BUF_INIT;
	struct state *st = NULL;
	struct state_event ev;
	char c, *name = NULL, *fail;
	size_t i;
	int shipped = 0, ret = 1;

	if (read(gate, &c, 1) == -1)
		goto done;
	if (state_open(&st, path, create, &err) == -1)
		goto done;
	if (create) {
		name = xasprintf("r%d", n);
		if (state_release_add(st, name, NULL, NULL, &err) == -1)
			goto done;
	}
	if (state_begin(st, &err) == -1)
		goto done;
	if (state_history_load(st, &h, &err) == -1)
		goto done;
	for (i = 0; i < h.nships; i++)
		if (strcmp(h.ships[i].plan, "users") == 0 &&
		    strcmp(h.ships[i].step, "add") == 0)
			shipped = 1;
	state_history_free(&h);
	memset(&ev, 0, sizeof ev);
	ev.kind = (char *)(shipped ? "noop" : "advance");
	ev.plan = (char *)"users";
	if (!shipped) {
		struct state_ship s = { .plan = (char *)"users",
		    .step = (char *)"add", .release_seq = 1,
		    .checksum = (char *)"c" };

		if (state_ship_put(st, &s, &err) == -1)
			goto done;
	}
	if (state_event_append(st, &ev, &err) == -1)
		goto done;
	if (state_commit(st, &err) == -1)
		goto done;
	ret = 0;
done:
	if (ret != 0) {
		fail = xasprintf("child%d.err", n);
		tu_write(dir, fail, buf_cstr(&err));
		free(fail);
	}
	state_close(st);
	buf_free(&err);
	free(name);
	return ret;
}

/* Forks NPROC writers released at once; asserts they all succeeded. */
static void
run_writers(int create)
{
	pid_t pids[NPROC];
	int gate[2], i, status;
	char *errs;

	ck_assert_int_eq(pipe(gate), 0);
	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		ck_assert_int_ne(pids[i], -1);
		if (pids[i] == 0) {
			close(gate[1]);
			_exit(child_ship(gate[0], create, i));
		}
	}
	close(gate[0]);
	close(gate[1]);		/* every child's read returns now */
	for (i = 0; i < NPROC; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		errs = xasprintf("child%d.err", i);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "writer %d failed: %s", i, tu_read(dir, errs, NULL));
		free(errs);
	}
}

/* Asserts the outcome of run_writers: one ship, NPROC chained events. */
static void
assert_one_ship(void)
{
	struct state_history h;
	struct state_event *v = NULL;
	struct buf err = BUF_INIT;
	struct state *st = NULL;
	int64_t bad = 0;
	size_t n = 0, i, advances = 0;
	char *out;

	ck_assert_int_eq(state_open(&st, path, 0, &err), 0);
	ck_assert_int_eq(state_history_load(st, &h, &err), 0);
	ck_assert_uint_eq(h.nships, 1);
	ck_assert_str_eq(h.ships[0].step, "add");
	state_history_free(&h);
	ck_assert_int_eq(state_events_load(st, NULL, NULL, &v, &n, &err), 0);
	for (i = 0; i < n; i++)
		advances += strcmp(v[i].kind, "advance") == 0;
	state_events_free(v, n);
	ck_assert_uint_eq(advances, 1);
	ck_assert_int_eq(state_log_verify(st, &bad, &err), 0);
	state_close(st);
	out = sqlite_cli("PRAGMA integrity_check");
	ck_assert_str_eq(out, "ok\n");
	free(out);
	out = sqlite_cli("SELECT count(*) FROM events");
	ck_assert_int_eq(atoi(out), NPROC);
	free(out);
	buf_free(&err);
}

START_TEST(test_concurrent_writers_one_ship)
{
	struct buf err = BUF_INIT;
	struct state *st = open_new();

	ck_assert_int_eq(state_release_add(st, "r1", NULL, NULL, &err), 0);
	state_close(st);
	run_writers(0);
	assert_one_ship();
	buf_free(&err);
}
END_TEST

START_TEST(test_concurrent_create)
{
	struct state_history h;
	struct buf err = BUF_INIT;
	struct state *st = NULL;
	struct stat sb;
	size_t i;

	/* All writers race to create the missing file. */
	run_writers(1);
	assert_one_ship();
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(state_open(&st, path, 0, &err), 0);
	ck_assert_int_eq(state_history_load(st, &h, &err), 0);
	ck_assert_uint_eq(h.nreleases, NPROC);
	for (i = 0; i < h.nreleases; i++)
		ck_assert_int_eq(h.releases[i].seq, (int64_t)i + 1);
	state_history_free(&h);
	state_close(st);
	buf_free(&err);
}
END_TEST

START_TEST(test_rollback_changes_nothing)
{
	struct state_history h;
	struct state_backfill b;
	struct state_event *v = NULL;
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	int64_t seq = 0, bad = 0;
	size_t n = 0;
	int found = 1;

	ck_assert_int_eq(state_release_add(st, "r1", NULL, NULL, &err), 0);
	append(st, "release.start", NULL, "r1");

	ck_assert_int_eq(state_begin(st, &err), 0);
	ck_assert_int_eq(state_begin(st, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "already open"), "%s",
	    buf_cstr(&err));
	ck_assert_int_eq(state_release_add(st, "r2", NULL, &seq, &err), 0);
	ck_assert_int_eq(seq, 2);
	ck_assert_int_eq(state_release_finish(st, 1, &err), 0);
	put_ship(st, "users", "add", 0, 2, SHIP_DONE);
	append(st, "advance", "users", "add");
	b = (struct state_backfill){ .plan = (char *)"users",
	    .step = (char *)"fill", .rows_done = 5 };
	ck_assert_int_eq(state_backfill_put(st, &b, &err), 0);
	state_rollback(st);

	ck_assert_int_eq(state_history_load(st, &h, &err), 0);
	ck_assert_uint_eq(h.nreleases, 1);
	ck_assert_int_eq(h.releases[0].state, RELEASE_STARTED);
	ck_assert_uint_eq(h.nships, 0);
	state_history_free(&h);
	ck_assert_int_eq(state_events_load(st, NULL, NULL, &v, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	state_events_free(v, n);
	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &b, &found,
	    &err), 0);
	ck_assert_int_eq(found, 0);

	/* The chain carries on from the last committed event. */
	append(st, "advance", "users", "add");
	ck_assert_int_eq(state_log_verify(st, &bad, &err), 0);
	ck_assert_int_eq(state_commit(st, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "no transaction"), "%s",
	    buf_cstr(&err));

	/* Closing with an open transaction rolls it back. */
	ck_assert_int_eq(state_begin(st, &err), 0);
	ck_assert_int_eq(state_release_add(st, "r3", NULL, NULL, &err), 0);
	state_close(st);
	cli_is("SELECT group_concat(name) FROM releases", "r1\n");
	buf_free(&err);
}
END_TEST

START_TEST(test_backfill_progress)
{
	struct state_backfill b, got;
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	int found = 1;

	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &got, &found,
	    &err), 0);
	ck_assert_int_eq(found, 0);
	b = (struct state_backfill){ .plan = (char *)"users",
	    .step = (char *)"fill", .rows_done = 1000, .rows_total = 5000,
	    .updated_at = 77 };
	ck_assert_int_eq(state_backfill_put(st, &b, &err), 0);
	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &got, &found,
	    &err), 0);
	ck_assert_int_eq(found, 1);
	ck_assert_ptr_null(got.cursor);
	ck_assert_int_eq(got.rows_done, 1000);
	ck_assert_int_eq(got.updated_at, 77);
	state_backfill_free(&got);

	b.cursor = (char *)"id=4711";
	b.rows_done = 2000;
	b.finished = 1;
	ck_assert_int_eq(state_backfill_put(st, &b, &err), 0);
	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &got, &found,
	    &err), 0);
	ck_assert_str_eq(got.cursor, "id=4711");
	ck_assert_int_eq(got.rows_done, 2000);
	ck_assert_int_eq(got.rows_total, 5000);
	ck_assert_int_eq(got.finished, 1);
	ck_assert_str_eq(got.plan, "users");
	state_backfill_free(&got);

	ck_assert_int_eq(state_backfill_delete(st, "users", "fill", &err), 0);
	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &got, &found,
	    &err), 0);
	ck_assert_int_eq(found, 0);
	state_close(st);
	buf_free(&err);
}
END_TEST

START_TEST(test_history_load_large)
{
	struct state_history h;
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	char name[32], step[32];
	int i, j;

	ck_assert_int_eq(state_begin(st, &err), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "release-%04d", i);
		ck_assert_int_eq(state_release_add(st, name, NULL, NULL,
		    &err), 0);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "plan-%04d", i);
		for (j = 5; j >= 0; j--) {
			snprintf(step, sizeof step, "step-%d", j);
			put_ship(st, name, step, j, i + 1, SHIP_DONE);
		}
	}
	ck_assert_int_eq(state_commit(st, &err), 0);

	ck_assert_int_eq(state_history_load(st, &h, &err), 0);
	ck_assert_uint_eq(h.nreleases, 1000);
	ck_assert_uint_eq(h.nships, 6000);
	ck_assert_str_eq(h.releases[999].name, "release-0999");
	ck_assert_str_eq(h.ships[0].plan, "plan-0000");
	ck_assert_int_eq(h.ships[0].idx, 0);
	ck_assert_int_eq(h.ships[5].idx, 5);
	ck_assert_str_eq(h.ships[5999].plan, "plan-0999");
	state_history_free(&h);
	state_close(st);
	buf_free(&err);
}
END_TEST

/*
 * Ships stored in any order load ordered by plan (byte order), position
 * and step, each with its own fields: names that share prefixes, more
 * plans than the loader's first name table holds, a plan with more ships
 * than a short run, and two ships at one position.
 */
START_TEST(test_history_order_scrambled)
{
	static const char *const odd[] = { "ab", "a", "a-b", "a0", "b", "a_" };
	struct state_history h;
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	char name[32], step[32], sum[80];
	size_t i, n = 0;
	int k, j;

	ck_assert_int_eq(state_begin(st, &err), 0);
	/* 300 plans of 3 ships, put round-robin and steps backwards. */
	for (j = 2; j >= 0; j--)
		for (k = 0; k < 300; k++) {
			snprintf(name, sizeof name, "p%03d", (k * 7) % 300);
			snprintf(step, sizeof step, "s%d", j);
			put_ship(st, name, step, j, 1, SHIP_DONE);
			n++;
		}
	for (k = 0; k < 6; k++) {
		put_ship(st, odd[k], "x", 1, 1, SHIP_DONE);
		put_ship(st, odd[k], "w", 1, 1, SHIP_DONE);
		n += 2;
	}
	for (k = 39; k >= 0; k--) {
		snprintf(step, sizeof step, "long%02d", k);
		put_ship(st, "m-long", step, k, 1, SHIP_DONE);
		n++;
	}
	ck_assert_int_eq(state_commit(st, &err), 0);

	ck_assert_int_eq(state_history_load(st, &h, &err), 0);
	ck_assert_uint_eq(h.nships, n);
	for (i = 1; i < h.nships; i++) {
		const struct state_ship *a = &h.ships[i - 1], *b = &h.ships[i];
		int c = strcmp(a->plan, b->plan);

		ck_assert_msg(c < 0 || (c == 0 && (a->idx < b->idx ||
		    (a->idx == b->idx && strcmp(a->step, b->step) < 0))),
		    "ship %zu (%s/%s #%d) after %s/%s #%d", i, b->plan, b->step,
		    b->idx, a->plan, a->step, a->idx);
	}
	/* Byte order: "a" < "a-b" < "a0" < "a_" < "ab" < "b" < "m-long". */
	ck_assert_str_eq(h.ships[0].plan, "a");
	ck_assert_str_eq(h.ships[0].step, "w");
	ck_assert_str_eq(h.ships[1].step, "x");
	ck_assert_str_eq(h.ships[2].plan, "a-b");
	ck_assert_str_eq(h.ships[4].plan, "a0");
	ck_assert_str_eq(h.ships[6].plan, "a_");
	ck_assert_str_eq(h.ships[8].plan, "ab");
	ck_assert_str_eq(h.ships[10].plan, "b");
	ck_assert_str_eq(h.ships[12].plan, "m-long");
	ck_assert_str_eq(h.ships[12].step, "long00");
	ck_assert_str_eq(h.ships[51].step, "long39");
	ck_assert_str_eq(h.ships[52].plan, "p000");
	ck_assert_str_eq(h.ships[52 + 3 * 299 + 2].plan, "p299");
	ck_assert_str_eq(h.ships[52 + 3 * 299 + 2].step, "s2");
	/* Each row keeps its own fields, whatever moved around it. */
	for (i = 0; i < h.nships; i++) {
		snprintf(sum, sizeof sum, "%s", h.ships[i].step);
		ck_assert_str_eq(h.ships[i].checksum, "abc");
		ck_assert_int_eq(h.ships[i].release_seq, 1);
		if (strncmp(h.ships[i].plan, "p", 1) == 0)
			ck_assert_int_eq(h.ships[i].idx, sum[1] - '0');
	}
	state_history_free(&h);
	state_close(st);
	buf_free(&err);
}
END_TEST

START_TEST(test_actor)
{
	char *a;

	setenv("EXCON_ACTOR", "deploy-bot", 1);
	a = state_actor();
	ck_assert_str_eq(a, "deploy-bot");
	free(a);
	unsetenv("EXCON_ACTOR");
	a = state_actor();
	ck_assert_msg(strchr(a, '@') != NULL && a[0] != '@', "actor '%s'", a);
	free(a);
}
END_TEST

/*
 * Each history gets an id once: random per new file, stable across opens,
 * and made for a version-1 file when it is upgraded (after the file is
 * copied aside).
 */
START_TEST(test_history_id)
{
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	char *id, *other_path, *bak;
	const char *v;
	struct state *o = NULL;
	size_t i;

	v = state_history_id(st, &err);
	ck_assert_msg(v != NULL, "%s", buf_cstr(&err));
	ck_assert_uint_eq(strlen(v), 32);
	for (i = 0; i < 32; i++)
		ck_assert_msg(strchr("0123456789abcdef", v[i]) != NULL, "%s", v);
	id = xstrdup(v);
	state_close(st);
	ck_assert_int_eq(state_open(&st, path, 0, &err), 0);
	ck_assert_str_eq(state_history_id(st, &err), id);
	state_close(st);
	other_path = xasprintf("%s/other.db", dir);
	ck_assert_int_eq(state_open(&o, other_path, 1, &err), 0);
	ck_assert_str_ne(state_history_id(o, &err), id);
	state_close(o);

	/* A version-1 file (no history table) gains an id on upgrade. */
	cli_is("DROP TABLE history; DROP INDEX events_kind;"
	    "ALTER TABLE backfills DROP COLUMN rate;"
	    "ALTER TABLE backfills DROP COLUMN waiting;"
	    "ALTER TABLE backfills DROP COLUMN waiting_since;"
	    "PRAGMA user_version = 1", "");
	ck_assert_int_eq(state_open(&st, path, 0, &err), 0);
	v = state_history_id(st, &err);
	ck_assert_msg(v != NULL && strlen(v) == 32, "%s", buf_cstr(&err));
	ck_assert_str_ne(v, id);
	state_close(st);
	cli_is("PRAGMA user_version", "4\n");
	bak = xasprintf("%s.v1.bak", path);
	ck_assert_int_eq(access(bak, F_OK), 0);
	free(bak);
	free(other_path);
	free(id);
	buf_free(&err);
}
END_TEST

/* A running backfill's rate and what it is paused for, since when, round trip. */
START_TEST(test_backfill_pause)
{
	struct state_backfill b, got;
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	int found = 0;

	b = (struct state_backfill){ .plan = (char *)"users",
	    .step = (char *)"fill", .rows_done = 1000, .rows_total = 5000,
	    .updated_at = 77, .rate = 2500, .waiting = (char *)"standby lags",
	    .waiting_since = 70 };
	ck_assert_int_eq(state_backfill_put(st, &b, &err), 0);
	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &got, &found,
	    &err), 0);
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq(got.rate, 2500);
	ck_assert_str_eq(got.waiting, "standby lags");
	ck_assert_int_eq(got.waiting_since, 70);
	state_backfill_free(&got);
	/* Resumed: no longer paused. */
	b.waiting = NULL;
	b.waiting_since = 0;
	ck_assert_int_eq(state_backfill_put(st, &b, &err), 0);
	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &got, &found,
	    &err), 0);
	ck_assert_ptr_null(got.waiting);
	ck_assert_int_eq(got.waiting_since, 0);
	state_backfill_free(&got);
	state_close(st);
	buf_free(&err);
}
END_TEST

/* A version-2 file keeps its backfill progress on upgrade, with no rate or pause. */
START_TEST(test_upgrade_keeps_backfill_progress)
{
	struct state_backfill got;
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	char *bak;
	int found = 0;

	state_close(st);
	cli_is("DROP INDEX events_kind; ALTER TABLE backfills DROP COLUMN rate;"
	    "ALTER TABLE backfills DROP COLUMN waiting;"
	    "ALTER TABLE backfills DROP COLUMN waiting_since;"
	    "INSERT INTO backfills VALUES ('users', 'fill', '(42)', 42, 100, 0, 9);"
	    "PRAGMA user_version = 2", "");
	ck_assert_int_eq(state_open(&st, path, 0, &err), 0);
	ck_assert_int_eq(state_backfill_get(st, "users", "fill", &got, &found,
	    &err), 0);
	ck_assert_int_eq(found, 1);
	ck_assert_str_eq(got.cursor, "(42)");
	ck_assert_int_eq(got.rows_done, 42);
	ck_assert_int_eq(got.rate, 0);
	ck_assert_ptr_null(got.waiting);
	state_backfill_free(&got);
	state_close(st);
	cli_is("PRAGMA user_version", "4\n");
	bak = xasprintf("%s.v2.bak", path);
	ck_assert_int_eq(access(bak, F_OK), 0);
	free(bak);
	buf_free(&err);
}
END_TEST

/*
 * A version-3 file gains the index of events by kind on upgrade and keeps
 * its log, which still verifies.
 */
START_TEST(test_upgrade_adds_events_kind_index)
{
	struct state_event ev, *got = NULL;
	struct buf err = BUF_INIT;
	struct state *st = open_new();
	size_t n = 0;
	char *bak;

	memset(&ev, 0, sizeof ev);
	ev.actor = (char *)"ci@host";
	ev.kind = (char *)"override";
	ev.plan = (char *)"users";
	ck_assert_int_eq(state_event_append(st, &ev, &err), 0);
	ev.kind = (char *)"advance";
	ck_assert_int_eq(state_event_append(st, &ev, &err), 0);
	state_close(st);
	cli_is("DROP INDEX events_kind; PRAGMA user_version = 3", "");
	ck_assert_int_eq(state_open(&st, path, 0, &err), 0);
	ck_assert_int_eq(state_events_load(st, NULL, "override", &got, &n,
	    &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(got[0].kind, "override");
	state_events_free(got, n);
	ck_assert_int_eq(state_events_load(st, "users", "advance", &got, &n,
	    &err), 0);
	ck_assert_uint_eq(n, 1);
	state_events_free(got, n);
	ck_assert_int_eq(state_events_load(st, "users", NULL, &got, &n,
	    &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_lt(got[0].id, got[1].id);
	state_events_free(got, n);
	state_close(st);
	cli_is("PRAGMA user_version", "4\n");
	cli_is("SELECT name FROM sqlite_master WHERE name = 'events_kind'",
	    "events_kind\n");
	bak = xasprintf("%s.v3.bak", path);
	ck_assert_int_eq(access(bak, F_OK), 0);
	free(bak);
	buf_free(&err);
}
END_TEST

/* Adds test as its own TCase (one behaviour each) to s. */
static void
add(Suite *s, const char *name, const TTest *test)
{
	tu_add(s, name, test, setup, teardown, 120);
}

/* Whether two stamps are the same version. */
static int
stamp_eq(const struct state_stamp *a, const struct state_stamp *b)
{
	return a->store == b->store && a->own == b->own;
}

/* Reads st's stamp inside a write transaction (then ended), or fails. */
static struct state_stamp
stamp_in_tx(struct state *st)
{
	struct state_stamp t;
	struct buf err = BUF_INIT;

	ck_assert_int_eq(state_begin(st, &err), 0);
	ck_assert_int_eq(state_history_stamp(st, &t, &err), 0);
	state_rollback(st);
	buf_free(&err);
	return t;
}

/*
 * The history's stamp: unchanged while nothing changes the releases or
 * ships; changed by another handle's commit, by an edit behind excon's
 * back, by this handle's own writes, and by a rollback of them.
 */
START_TEST(test_history_stamp)
{
	struct state_stamp t0, t1;
	struct buf err = BUF_INIT;
	struct state *a = open_new(), *b = NULL;
	char *out;

	ck_assert_int_eq(state_release_add(a, "r1", NULL, NULL, &err), 0);
	ck_assert_int_eq(state_open(&b, path, 0, &err), 0);
	t0 = stamp_in_tx(a);
	t1 = stamp_in_tx(a);
	ck_assert_msg(stamp_eq(&t0, &t1), "no change, yet a new stamp");
	/* Reading, through either handle, changes nothing. */
	{
		struct state_history h;

		ck_assert_int_eq(state_history_load(b, &h, &err), 0);
		state_history_free(&h);
	}
	t1 = stamp_in_tx(a);
	ck_assert_msg(stamp_eq(&t0, &t1), "a read changed the stamp");

	/* Another handle's commit. */
	put_ship(b, "users", "add", 0, 1, SHIP_DONE);
	t1 = stamp_in_tx(a);
	ck_assert_msg(!stamp_eq(&t0, &t1), "another handle's ship went unseen");

	/* An edit through the sqlite3 shell. */
	t0 = t1;
	out = sqlite_cli("UPDATE ships SET release_seq = 2 WHERE plan = 'users'");
	ck_assert_str_eq(out, "");
	free(out);
	t1 = stamp_in_tx(a);
	ck_assert_msg(!stamp_eq(&t0, &t1), "an edit of the file went unseen");

	/* This handle's own writes, and a rollback of them. */
	t0 = t1;
	ck_assert_int_eq(state_begin(a, &err), 0);
	ck_assert_int_eq(state_release_finish(a, 1, &err), 0);
	ck_assert_int_eq(state_history_stamp(a, &t1, &err), 0);
	ck_assert_msg(!stamp_eq(&t0, &t1), "its own write left the stamp");
	t0 = t1;
	state_rollback(a);
	t1 = stamp_in_tx(a);
	ck_assert_msg(!stamp_eq(&t0, &t1), "a rollback left the stamp");
	/* A stamp taken after its own writes, inside the transaction, holds. */
	ck_assert_int_eq(state_begin(a, &err), 0);
	ck_assert_int_eq(state_release_finish(a, 1, &err), 0);
	ck_assert_int_eq(state_history_stamp(a, &t0, &err), 0);
	ck_assert_int_eq(state_commit(a, &err), 0);
	t1 = stamp_in_tx(a);
	ck_assert_msg(stamp_eq(&t0, &t1), "its own commit changed the stamp");
	state_close(b);
	state_close(a);
	buf_free(&err);
}
END_TEST

/* The state store suite. */
static Suite *
state_suite(void)
{
	Suite *s = suite_create("state");

	add(s, "create", test_create_mode_0600);
	add(s, "empty file", test_empty_file);
	add(s, "releases", test_releases_seq_and_finish);
	add(s, "ships", test_ships_put_delete_order);
	add(s, "events", test_events_append_and_verify);
	add(s, "triggers", test_events_triggers_refuse_edits);
	add(s, "tamper edit", test_tamper_edit_detail);
	add(s, "tamper renumber", test_tamper_renumber);
	add(s, "tamper delete middle", test_tamper_delete_middle);
	add(s, "tamper delete last", test_tamper_delete_last);
	add(s, "tamper then append", test_tamper_after_append_continues);
	add(s, "refuse garbage", test_refuse_garbage);
	add(s, "refuse short", test_refuse_short_file);
	add(s, "refuse foreign", test_refuse_foreign_sqlite);
	add(s, "refuse newer", test_refuse_newer_version);
	add(s, "refuse corrupt", test_refuse_corrupt);
	add(s, "concurrent writers", test_concurrent_writers_one_ship);
	add(s, "concurrent create", test_concurrent_create);
	add(s, "rollback", test_rollback_changes_nothing);
	add(s, "backfill", test_backfill_progress);
	add(s, "backfill pause", test_backfill_pause);
	add(s, "upgrade keeps backfill progress", test_upgrade_keeps_backfill_progress);
	add(s, "large history", test_history_load_large);
	add(s, "history order", test_history_order_scrambled);
	add(s, "upgrade adds events_kind", test_upgrade_adds_events_kind_index);
	add(s, "actor", test_actor);
	add(s, "history id", test_history_id);
	add(s, "history stamp", test_history_stamp);
	return s;
}

int
main(void)
{
	return tu_run_suite(state_suite());
}
