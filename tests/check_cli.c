/*
 * Tests of the command line, by running the built binary: a record-only
 * walkthrough of plans/users-full-name.yaml across five releases, the exit
 * codes of SPEC section 4, refusals that leave the state file byte for
 * byte as it was, overrides that show in audit and log, the CI checks,
 * tampering and foreign state files, sixteen concurrent advances, and
 * advance --all meeting a step another process ships (under gdb).
 * No database is involved: DB steps run with --record-only.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "state.h"
#include "state-be.h"
#include "util/testutil.h"
#include "xalloc.h"

#define PLAN	"users-full-name"
#define NPROC	16

static char *dir;
static int walked;		/* how far the walkthrough of this test has gone */

/* A copy of the sample plan and an empty state/ in a fresh directory. */
static void
setup(void)
{
	char *src = xasprintf("%s/../plans/" PLAN ".yaml", tu_tests_dir());
	char *text = tu_read(src[0] == '/' ? "" : ".", src, NULL);

	ck_assert_msg(text != NULL, "cannot read %s", src);
	walked = 0;
	dir = tu_tmpdir();
	tu_write(dir, "plans/" PLAN ".yaml", text);
	tu_state_init(dir, "state/excon.db");
	free(text);
	free(src);
	/* A fixed clock and actor, and no database from the environment. */
	setenv("EXCON_NOW", "1767225600", 1);		/* 2026-01-01T00:00:00Z */
	setenv("EXCON_ACTOR", "rm@ci", 1);
	unsetenv("EXCON_CONFIG");
	unsetenv("EXCON_PLANS");
	unsetenv("EXCON_STATE");
	unsetenv("EXCON_DATABASE");
	unsetenv("PGHOST");
	unsetenv("PGHOSTADDR");
	unsetenv("PGDATABASE");
	unsetenv("PGSERVICE");
}

/* Removes the test directory. */
static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

/*
 * Runs excon in dir with env (NULL-terminated, may be NULL) and the
 * NULL-terminated arguments after it; returns the exit code.
 */
static int
xv(struct run *r, const char *const *env, ...)
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

/* Runs excon with space-separated arguments (no quoting) in dir. */
#define X(r, ...)	tu_excon_str((r), dir, __VA_ARGS__)

/* Runs a command that must succeed and print want on stdout (substring). */
static void
step(const char *args, const char *want)
{
	struct run r;

	ck_assert_msg(X(&r, "%s", args) == 0, "excon %s exited %d: %s%s", args,
	    r.status, r.out, r.err);
	ck_assert_msg(want == NULL || tu_has(r.out, want), "excon %s printed "
	    "'%s', expected '%s'", args, r.out, want);
	tu_run_free(&r);
}

/* Runs a command that a gate must refuse (exit 3) with why on stderr. */
static void
refuse(const char *args, const char *why)
{
	struct run r;

	ck_assert_msg(X(&r, "%s", args) == 3, "excon %s exited %d: %s%s", args,
	    r.status, r.out, r.err);
	ck_assert_msg(tu_has(r.err, why), "excon %s said '%s', expected '%s'",
	    args, r.err, why);
	tu_run_free(&r);
}

/* Asserts out equals want, with a readable failure. */
static void
same(const char *out, const char *want)
{
	ck_assert_msg(strcmp(out, want) == 0, "got:\n%s\nwant:\n%s", out, want);
}

#define ADV	"advance " PLAN " --record-only"

/*
 * Goes on with the walkthrough, up to and including stage n:
 * 1: v1 started, add-column and dual-write shipped (pre)
 * 2: v1 deployed, backfill shipped (post)
 * 3: v2 started, switch-reads and stop-old-writes shipped (code); v2 deployed
 * 4: v3 started and deployed (the window is still closed)
 * 5: v4 started and deployed, drop-name shipped; v5 started
 */
static void
walk(int n)
{
	while (walked < n) {
		switch (++walked) {
		case 1:
			step("release start v1 --note first", "release v1 started (#1)");
			step(ADV, "shipped " PLAN "/add-column (add_column, pre) in v1 "
			    "(#1)\n");
			step(ADV, "shipped " PLAN "/dual-write (dual_write, pre) in v1 "
			    "(#1)\n");
			break;
		case 2:
			step("release finish v1", "release v1 deployed (#1)");
			step(ADV, "shipped " PLAN "/backfill (backfill, post) in v1 "
			    "(#1)\n");
			break;
		case 3:
			step("release start v2", "release v2 started (#2)");
			step(ADV, "shipped " PLAN "/switch-reads (switch_reads, code) in "
			    "v2 (#2)\n");
			step(ADV, "shipped " PLAN "/stop-old-writes (stop_old_writes, "
			    "code) in v2 (#2)\n");
			step("release finish v2", "release v2 deployed (#2)");
			break;
		case 4:
			step("release start v3", "release v3 started (#3)");
			step("release finish v3", "release v3 deployed (#3)");
			break;
		case 5:
			step("release start v4", "release v4 started (#4)");
			step("release finish v4", "release v4 deployed (#4)");
			step(ADV, "shipped " PLAN "/drop-name (drop_column, post) in v4 "
			    "(#4)\n");
			step("release start v5", "release v5 started (#5)");
			break;
		}
	}
}

/* 1 when s starts with prefix. */
static int
starts(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* 1 when dir/name exists. */
static int
exists(const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	int ok = access(path, F_OK) == 0;

	free(path);
	return ok;
}

/* A snapshot of the state file and its side files. */
struct snap {
	char	*db;
	size_t	 len;
	char	*wal;
	size_t	 wal_len;
};

/* Takes a snapshot of state/excon.db (and -wal when present). */
static void
snap_take(struct snap *s)
{
	s->db = tu_read(dir, "state/excon.db", &s->len);
	ck_assert_ptr_nonnull(s->db);
	s->wal = tu_read(dir, "state/excon.db-wal", &s->wal_len);
}

/* Asserts the state file is byte for byte as in s; frees s. */
static void
snap_same(struct snap *s)
{
	size_t len = 0, wal_len = 0;
	char *db = tu_read(dir, "state/excon.db", &len);
	char *wal = tu_read(dir, "state/excon.db-wal", &wal_len);

	ck_assert_ptr_nonnull(db);
	ck_assert_uint_eq(len, s->len);
	ck_assert_msg(memcmp(db, s->db, len) == 0, "the state file changed");
	ck_assert_msg((wal == NULL) == (s->wal == NULL), "the -wal file %s",
	    wal ? "appeared" : "disappeared");
	if (wal != NULL) {
		ck_assert_uint_eq(wal_len, s->wal_len);
		ck_assert_msg(memcmp(wal, s->wal, wal_len) == 0, "the -wal file "
		    "changed");
	}
	free(db);
	free(wal);
	free(s->db);
	free(s->wal);
}

/* Runs sql on the state file with the sqlite3 shell; returns stdout+stderr. */
static char *
sqlite(const char *sql)
{
	struct run r;
	char *out;

	tu_sh(&r, dir, "sqlite3 state/excon.db \"%s\"", sql);
	out = xasprintf("%s%s", r.out, r.err);
	tu_run_free(&r);
	return out;
}

/*
 * The walkthrough, command by command.
 */

START_TEST(test_walkthrough)
{
	walk(1);
	/* A post step waits for the deploy to finish. */
	refuse(ADV, "refused: backfill (stage post) runs after every instance "
	    "runs the new code; v1 (#1) is still deploying: allowed once 'excon "
	    "release finish v1' is recorded\n");
	walk(2);
	/* A code step waits for the next release. */
	refuse(ADV, "refused: switch-reads (stage code) must ship before its "
	    "release's code is deployed; v1 (#1) is already deployed: allowed "
	    "from release #2\n");
	walk(4);
	/* The contract window: 2 releases after stop-old-writes (v2). */
	refuse(ADV, "refused: drop-name (contract) needs 2 releases after "
	    "stop-old-writes (shipped in v2, #2); 1 has passed (v3, #3); allowed "
	    "from release #4\nhint: --force --reason TEXT passes this gate; the "
	    "override is logged and shown by 'excon audit'\n");
}
END_TEST

START_TEST(test_walkthrough_full)
{
	struct run r;

	/* The same walk from a fresh state file, to the end. */
	walk(5);
	ck_assert_int_eq(X(&r, ADV), 0);
	same(r.out, PLAN ": nothing to ship\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_status_text)
{
	struct run r;

	walk(4);
	ck_assert_int_eq(X(&r, "status"), 0);
	same(r.out,
	    PLAN "  5/6 shipped  Rename users.name to users.full_name\n"
	    "  * add-column           add_column          expand   pre  shipped in v1 (#1)\n"
	    "  * dual-write           dual_write          expand   pre  shipped in v1 (#1)\n"
	    "  * backfill             backfill            expand   post shipped in v1 (#1)\n"
	    "  * switch-reads         switch_reads        migrate  code shipped in v2 (#2)\n"
	    "  * stop-old-writes      stop_old_writes     migrate  code shipped in v2 (#2)\n"
	    "  > drop-name            drop_column         contract post\n"
	    "  next: drop-name waiting (rule 4): drop-name (contract) needs 2 "
	    "releases after stop-old-writes (shipped in v2, #2); 1 has passed "
	    "(v3, #3); allowed from release #4\n");
	ck_assert_str_eq(r.err, "");
	tu_run_free(&r);
	/* status PLAN shows the same plan. */
	ck_assert_int_eq(X(&r, "status " PLAN), 0);
	ck_assert_msg(tu_has(r.out, "next: drop-name waiting (rule 4)"), "%s", r.out);
	tu_run_free(&r);
	walk(5);
	ck_assert_int_eq(X(&r, "status"), 0);
	ck_assert_msg(tu_has(r.out, PLAN "  6/6 shipped") &&
	    tu_has(r.out, "  * drop-name            drop_column         contract "
	    "post shipped in v4 (#4)\n") &&
	    tu_has(r.out, "  complete: every step shipped\n"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_status_json)
{
	struct run r;

	walk(4);
	ck_assert_int_eq(X(&r, "status --format json"), 0);
	same(r.out, "[{\"plan\":\"" PLAN "\",\"description\":\"Rename users.name "
	    "to users.full_name\",\"owner\":\"accounts-team\",\"file\":\"plans/"
	    PLAN ".yaml\",\"shipped\":5,\"total\":6,\"steps\":["
	    "{\"id\":\"add-column\",\"kind\":\"add_column\",\"phase\":\"expand\","
	    "\"stage\":\"pre\",\"status\":\"shipped\",\"release\":\"v1\","
	    "\"release_seq\":1,\"forced\":false},"
	    "{\"id\":\"dual-write\",\"kind\":\"dual_write\",\"phase\":\"expand\","
	    "\"stage\":\"pre\",\"status\":\"shipped\",\"release\":\"v1\","
	    "\"release_seq\":1,\"forced\":false},"
	    "{\"id\":\"backfill\",\"kind\":\"backfill\",\"phase\":\"expand\","
	    "\"stage\":\"post\",\"status\":\"shipped\",\"release\":\"v1\","
	    "\"release_seq\":1,\"forced\":false},"
	    "{\"id\":\"switch-reads\",\"kind\":\"switch_reads\",\"phase\":"
	    "\"migrate\",\"stage\":\"code\",\"status\":\"shipped\",\"release\":"
	    "\"v2\",\"release_seq\":2,\"forced\":false},"
	    "{\"id\":\"stop-old-writes\",\"kind\":\"stop_old_writes\",\"phase\":"
	    "\"migrate\",\"stage\":\"code\",\"status\":\"shipped\",\"release\":"
	    "\"v2\",\"release_seq\":2,\"forced\":false},"
	    "{\"id\":\"drop-name\",\"kind\":\"drop_column\",\"phase\":\"contract\","
	    "\"stage\":\"post\",\"status\":\"pending\",\"release\":null,"
	    "\"release_seq\":null,\"forced\":false}],"
	    "\"next\":{\"step\":\"drop-name\",\"allowed\":false,\"rule\":4,"
	    "\"reason\":\"drop-name (contract) needs 2 releases after "
	    "stop-old-writes (shipped in v2, #2); 1 has passed (v3, #3); allowed "
	    "from release #4\",\"allowed_from\":4}}]\n");
	tu_run_free(&r);
	walk(5);
	ck_assert_int_eq(X(&r, "status --format json"), 0);
	ck_assert_msg(tu_has(r.out, "\"shipped\":6,\"total\":6") &&
	    tu_has(r.out, "\"next\":null}]\n"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_release_list)
{
	struct run r;

	walk(5);
	ck_assert_int_eq(X(&r, "release list"), 0);
	same(r.out,
	    "#1    v1               deployed  started 2026-01-01T00:00:00Z  "
	    "deployed 2026-01-01T00:00:00Z  (first)\n"
	    "       " PLAN "/add-column\n"
	    "       " PLAN "/dual-write\n"
	    "       " PLAN "/backfill\n"
	    "#2    v2               deployed  started 2026-01-01T00:00:00Z  "
	    "deployed 2026-01-01T00:00:00Z\n"
	    "       " PLAN "/switch-reads\n"
	    "       " PLAN "/stop-old-writes\n"
	    "#3    v3               deployed  started 2026-01-01T00:00:00Z  "
	    "deployed 2026-01-01T00:00:00Z\n"
	    "#4    v4               deployed  started 2026-01-01T00:00:00Z  "
	    "deployed 2026-01-01T00:00:00Z\n"
	    "       " PLAN "/drop-name\n"
	    "#5    v5               started   started 2026-01-01T00:00:00Z\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release list --format json"), 0);
	ck_assert_msg(starts(r.out, "[{\"seq\":1,\"name\":\"v1\",\"state\":"
	    "\"deployed\",\"note\":\"first\",\"started_at\":\"2026-01-01T00:00:00Z\","
	    "\"finished_at\":\"2026-01-01T00:00:00Z\",\"steps\":[{\"plan\":\""
	    PLAN "\",\"step\":\"add-column\",\"status\":\"shipped\",\"forced\":"
	    "false},"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "{\"seq\":5,\"name\":\"v5\",\"state\":"
	    "\"started\",\"note\":null,\"started_at\":\"2026-01-01T00:00:00Z\","
	    "\"finished_at\":null,\"steps\":[]}]\n"), "%s", r.out);
	tu_run_free(&r);
	/* Names are unique. */
	ck_assert_int_eq(X(&r, "release start v3"), 2);
	same(r.err, "excon: release 'v3' already exists (#3)\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release finish v4"), 2);
	same(r.err, "excon: release 'v4' (#4) is already deployed\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_log)
{
	struct run r;
	char *line;

	walk(2);
	ck_assert_int_eq(X(&r, "log"), 0);
	same(r.out,
	    "1     2026-01-01T00:00:00Z release.start  rm@ci in v1: first\n"
	    "2     2026-01-01T00:00:00Z record-only    rm@ci " PLAN "/add-column "
	    "in v1: database untouched\n"
	    "3     2026-01-01T00:00:00Z advance        rm@ci " PLAN "/add-column "
	    "in v1: add_column\n"
	    "4     2026-01-01T00:00:00Z record-only    rm@ci " PLAN "/dual-write "
	    "in v1: database untouched\n"
	    "5     2026-01-01T00:00:00Z advance        rm@ci " PLAN "/dual-write "
	    "in v1: dual_write\n"
	    "6     2026-01-01T00:00:00Z release.finish rm@ci in v1\n"
	    "7     2026-01-01T00:00:00Z record-only    rm@ci " PLAN "/backfill in "
	    "v1: database untouched; verify skipped\n"
	    "8     2026-01-01T00:00:00Z advance        rm@ci " PLAN "/backfill in "
	    "v1: backfill\n");
	tu_run_free(&r);
	/* log PLAN leaves out the release events. */
	ck_assert_int_eq(X(&r, "log " PLAN), 0);
	ck_assert_msg(!tu_has(r.out, "release.start") && tu_has(r.out,
	    "advance        rm@ci " PLAN "/backfill"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log --format json"), 0);
	line = xasprintf("{\"id\":8,\"at\":\"2026-01-01T00:00:00Z\",\"actor\":"
	    "\"rm@ci\",\"kind\":\"advance\",\"plan\":\"" PLAN "\",\"step\":"
	    "\"backfill\",\"release\":\"v1\",\"detail\":\"backfill\",\"reason\":"
	    "null,\"hash\":\"");
	ck_assert_msg(tu_has(r.out, line), "%s", r.out);
	free(line);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log --verify"), 0);
	same(r.out, "event log intact\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log --verify --format json"), 0);
	same(r.out, "{\"intact\":true,\"first_bad_event\":null}\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_audit)
{
	struct run r;

	walk(4);
	ck_assert_int_eq(X(&r, "audit"), 0);
	same(r.out,
	    "pending contracts:\n"
	    "  " PLAN "/drop-name  owner accounts-team\n"
	    "    last non-contract step stop-old-writes shipped in v2 (#2); 1 of "
	    "2 releases passed; not allowed yet\n"
	    "    allowed from release #4\n"
	    "no overrides\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "audit --format json"), 0);
	same(r.out, "{\"pending\":[{\"plan\":\"" PLAN "\",\"owner\":"
	    "\"accounts-team\",\"contract_step\":\"drop-name\",\"last_step\":"
	    "\"stop-old-writes\",\"last_step_release\":\"v2\",\"last_step_seq\":2,"
	    "\"releases_passed\":1,\"releases_required\":2,\"allowed_from\":4,"
	    "\"allowed_now\":false,\"deadline\":null,\"overdue\":false}],"
	    "\"overrides\":[],\"newest_release\":\"v3\"}\n");
	tu_run_free(&r);
	walk(5);
	ck_assert_int_eq(X(&r, "audit"), 0);
	same(r.out, "no pending contracts\nno overrides\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_compat)
{
	struct run r;

	walk(4);
	/* Nothing removed yet: every release's code still works. */
	ck_assert_int_eq(X(&r, "compat v1"), 0);
	same(r.out, "safe: the code of v1 (#1) works on the current schema\n");
	tu_run_free(&r);
	walk(5);
	ck_assert_int_eq(X(&r, "compat v1"), 3);
	same(r.out, "unsafe: the code of v1 (#1) does not work on the current "
	    "schema; 1 step broke it:\n  " PLAN "/drop-name (drop_column) removed "
	    "what the code of v1 still uses: that code changed only in v2 "
	    "(shipped in v4)\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "compat v1 --format json"), 3);
	same(r.out, "{\"release\":\"v1\",\"breaking\":[{\"plan\":\"" PLAN "\","
	    "\"step\":\"drop-name\",\"shipped_in\":\"v4\",\"reason\":\"" PLAN
	    "/drop-name (drop_column) removed what the code of v1 still uses: "
	    "that code changed only in v2\"}],\"safe\":false}\n");
	tu_run_free(&r);
	/* The rollback targets after the code change stay safe. */
	ck_assert_int_eq(X(&r, "compat v2"), 0);
	same(r.out, "safe: the code of v2 (#2) works on the current schema\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "compat v3 --format json"), 0);
	same(r.out, "{\"release\":\"v3\",\"breaking\":[],\"safe\":true}\n");
	tu_run_free(&r);
}
END_TEST

/*
 * Refusals change nothing.
 */

START_TEST(test_refusal_leaves_state_untouched)
{
	struct snap s;
	struct run r;

	walk(4);
	snap_take(&s);
	ck_assert_int_eq(X(&r, ADV), 3);
	ck_assert_msg(tu_has(r.err, "(shipped in v2, #2); 1 has passed (v3, #3); "
	    "allowed from release #4"), "%s", r.err);
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, ADV " --format json"), 3);
	same(r.out, "{\"shipped\":[],\"refused\":{\"plan\":\"" PLAN "\",\"step\":"
	    "\"drop-name\",\"rule\":4,\"message\":\"drop-name (contract) needs 2 "
	    "releases after stop-old-writes (shipped in v2, #2); 1 has passed "
	    "(v3, #3); allowed from release #4\",\"allowed_from\":4}}\n");
	tu_run_free(&r);
	/* --release names an older release: refused as well. */
	ck_assert_int_eq(X(&r, ADV " --release v2"), 3);
	ck_assert_msg(tu_has(r.err, "refused: drop-name: a step ships only in the "
	    "newest release (v3, #3), not in v2 (#2)"), "%s", r.err);
	tu_run_free(&r);
	snap_same(&s);
	ck_assert(!exists("state/excon.db-wal"));
}
END_TEST

START_TEST(test_force_with_reason)
{
	struct snap s;
	struct run r;
	const char *reason = "hotfix: disk full, approved by the DBA";

	walk(4);
	/* --force without --reason, or --reason without --force: usage. */
	snap_take(&s);
	ck_assert_int_eq(X(&r, ADV " --force"), 2);
	same(r.err, "excon: --force needs --reason TEXT: every override is logged "
	    "and audited\n");
	tu_run_free(&r);
	ck_assert_int_eq(xv(&r, NULL, "advance", PLAN, "--record-only", "--force",
	    "--reason", "", (const char *)NULL), 2);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, ADV " --reason why"), 2);
	same(r.err, "excon: --reason goes with --force\n");
	tu_run_free(&r);
	snap_same(&s);

	ck_assert_int_eq(xv(&r, NULL, "advance", PLAN, "--record-only", "--force",
	    "--reason", reason, (const char *)NULL), 0);
	same(r.out, "shipped " PLAN "/drop-name (drop_column, post) in v3 (#3) -- "
	    "gate overridden\n");
	tu_run_free(&r);

	/* audit: who, when, why, and which gate. */
	ck_assert_int_eq(X(&r, "audit"), 0);
	same(r.out, "no pending contracts\noverrides:\n"
	    "  2026-01-01T00:00:00Z override by rm@ci: " PLAN "/drop-name in v3\n"
	    "    gate: drop-name (contract) needs 2 releases after stop-old-writes "
	    "(shipped in v2, #2); 1 has passed (v3, #3); allowed from release #4\n"
	    "    reason: hotfix: disk full, approved by the DBA\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "audit --format json"), 0);
	ck_assert_msg(tu_has(r.out, "\"overrides\":[{\"at\":\"2026-01-01T00:00:00Z"
	    "\",\"actor\":\"rm@ci\",\"plan\":\"" PLAN "\",\"step\":\"drop-name\","
	    "\"release\":\"v3\",\"gate\":\"drop-name (contract) needs 2 releases "
	    "after stop-old-writes (shipped in v2, #2); 1 has passed (v3, #3); "
	    "allowed from release #4\",\"reason\":\"hotfix: disk full, approved by "
	    "the DBA\"}]"), "%s", r.out);
	tu_run_free(&r);
	/* log: the override event with its reason, then the advance. */
	ck_assert_int_eq(X(&r, "log " PLAN), 0);
	ck_assert_msg(tu_has(r.out, "override       rm@ci " PLAN "/drop-name in "
	    "v3: drop-name (contract) needs 2 releases after stop-old-writes "
	    "(shipped in v2, #2); 1 has passed (v3, #3); allowed from release #4 "
	    "(reason: hotfix: disk full, approved by the DBA)\n"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "advance        rm@ci " PLAN "/drop-name in "
	    "v3: drop_column\n"), "%s", r.out);
	tu_run_free(&r);
	/* status and release list mark the step forced. */
	ck_assert_int_eq(X(&r, "status"), 0);
	ck_assert_msg(tu_has(r.out, "shipped in v3 (#3) (forced)"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release list"), 0);
	ck_assert_msg(tu_has(r.out, PLAN "/drop-name (forced)"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log --verify"), 0);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_force_never_passes_release_rule)
{
	struct snap s;
	struct run r;

	walk(1);
	snap_take(&s);
	/* Rule 2 (post step in a deploying release) is not overridable. */
	ck_assert_int_eq(xv(&r, NULL, "advance", PLAN, "--record-only", "--force",
	    "--reason", "in a hurry", (const char *)NULL), 3);
	ck_assert_msg(tu_has(r.err, "refused: backfill (stage post) runs after "
	    "every instance runs the new code"), "%s", r.err);
	ck_assert_msg(!tu_has(r.err, "hint: --force"), "%s", r.err);
	tu_run_free(&r);
	snap_same(&s);
}
END_TEST

/*
 * Usage errors: exit 2.
 */

START_TEST(test_unknown_flag)
{
	struct run r;

	ck_assert_int_eq(X(&r, "status --bogus"), 2);
	ck_assert_msg(starts(r.err, "excon status: unknown option '--bogus'\n\n"
	    "usage: excon status [PLAN]\n"), "%s", r.err);
	ck_assert_msg(tu_has(r.err, "  --format FMT "), "%s", r.err);
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "advance " PLAN " -x"), 2);
	ck_assert_msg(tu_has(r.err, "excon advance: unknown option '-x'") &&
	    tu_has(r.err, "usage: excon advance PLAN"), "%s", r.err);
	tu_run_free(&r);
	/* An option of another command is unknown here too. */
	ck_assert_int_eq(X(&r, "status --record-only"), 2);
	ck_assert_msg(tu_has(r.err, "unknown option '--record-only'"), "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "status --format yaml"), 2);
	same(r.err, "excon status: unknown format 'yaml' (expected text or json)\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "advance --all --stage later --record-only"), 2);
	same(r.err, "excon: unknown stage 'later' (expected pre, code or post)\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "compat"), 2);
	ck_assert_msg(tu_has(r.err, "excon compat: missing arguments"), "%s", r.err);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_unknown_command)
{
	struct run r;

	ck_assert_int_eq(X(&r, "frobnicate"), 2);
	ck_assert_msg(starts(r.err, "excon: unknown command 'frobnicate'\n\n"
	    "usage: excon "), "%s", r.err);
	ck_assert_msg(tu_has(r.err, "  advance    ship the next step"), "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "%s", ""), 2);
	ck_assert_msg(starts(r.err, "usage: excon "), "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "help frobnicate"), 2);
	same(r.err, "excon: unknown command 'frobnicate'\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_unknown_plan)
{
	struct run r;

	step("release start v1", NULL);
	ck_assert_int_eq(X(&r, "advance nope --record-only"), 2);
	same(r.err, "excon: unknown plan 'nope'\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "status nope"), 2);
	same(r.err, "excon: unknown plan 'nope'\n");
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "rollback nope"), 2);
	same(r.err, "excon: unknown plan 'nope'\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, ADV " --to nope"), 2);
	same(r.err, "excon: plan '" PLAN "' has no step 'nope'\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "advance --record-only"), 2);
	same(r.err, "excon: give a PLAN or --all (not both)\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_unknown_release)
{
	struct run r;

	step("release start v1", NULL);
	ck_assert_int_eq(X(&r, "release finish nope"), 2);
	same(r.err, "excon: unknown release 'nope'\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "compat nope"), 2);
	same(r.err, "excon: unknown release 'nope'\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, ADV " --release nope"), 2);
	same(r.err, "excon: unknown release 'nope'\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release bogus"), 2);
	ck_assert_msg(tu_has(r.err, "excon release: expected 'start NAME', 'finish "
	    "NAME' or 'list'"), "%s", r.err);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_global_options_anywhere)
{
	struct run a, b;
	struct snap s;

	snap_take(&s);
	tu_write(dir, "other/x.yaml", "plan: other-plan\nsteps: [{id: s, kind: code}]\n");
	tu_state_init(dir, "s.db");
	ck_assert_int_eq(X(&a, "--state s.db release start elsewhere"), 0);
	tu_run_free(&a);
	/* excon --state s.db status = excon status --state s.db */
	ck_assert_int_eq(X(&a, "--state s.db --plans other status"), 0);
	ck_assert_int_eq(X(&b, "status --state s.db --plans other"), 0);
	same(a.out, b.out);
	ck_assert_msg(tu_has(a.out, "other-plan  0/1 shipped") &&
	    tu_has(a.out, "allowed now in elsewhere (#1)"), "%s", a.out);
	tu_run_free(&a);
	tu_run_free(&b);
	ck_assert_int_eq(X(&a, "--format json --state s.db release list"), 0);
	ck_assert_int_eq(X(&b, "release list --format=json --state=s.db"), 0);
	same(a.out, b.out);
	ck_assert_msg(tu_has(a.out, "\"name\":\"elsewhere\""), "%s", a.out);
	tu_run_free(&a);
	tu_run_free(&b);
	/* The default state file was never touched. */
	snap_same(&s);
}
END_TEST

/*
 * --db, --state, --plans and --config are accepted before or after every
 * command name, also where unused, so a wrapper can pass them always.
 */
START_TEST(test_global_options_everywhere)
{
	static const char *const cmds[] = { "release list", "status", "audit",
	    "log", "check", "lint", "compat v1", "version", NULL };
	struct run a, b;
	int i;

	tu_write(dir, "excon.yaml", "plans: plans\n");
	step("release start v1", "release v1 started (#1)");
	for (i = 0; cmds[i] != NULL; i++) {
		ck_assert_msg(X(&a, "--db host=/nonexistent --state state/excon.db "
		    "--plans plans --config excon.yaml %s", cmds[i]) == 0,
		    "before %s: %d %s", cmds[i], a.status, a.err);
		ck_assert_msg(X(&b, "%s --db host=/nonexistent --state "
		    "state/excon.db --plans plans --config excon.yaml", cmds[i]) == 0,
		    "after %s: %d %s", cmds[i], b.status, b.err);
		same(a.out, b.out);
		ck_assert_msg(!tu_has(a.err, "unknown option"), "%s", a.err);
		tu_run_free(&a);
		tu_run_free(&b);
	}
	ck_assert_int_eq(X(&a, "release list --db=host=/nonexistent"), 0);
	ck_assert_msg(tu_has(a.out, "v1"), "%s", a.out);
	tu_run_free(&a);
}
END_TEST

/* -V is --version; a mistyped command gets the closest one suggested. */
START_TEST(test_short_version_and_did_you_mean)
{
	struct run a, b;

	ck_assert_int_eq(X(&a, "-V"), 0);
	ck_assert_int_eq(X(&b, "--version"), 0);
	same(a.out, b.out);
	ck_assert_msg(starts(a.out, "excon 0."), "%s", a.out);
	tu_run_free(&a);
	tu_run_free(&b);
	ck_assert_int_eq(X(&a, "stauts"), 2);
	ck_assert_msg(starts(a.err, "excon: unknown command 'stauts' (did you "
	    "mean 'status'?)\n"), "%s", a.err);
	tu_run_free(&a);
	ck_assert_int_eq(X(&a, "adv " PLAN), 2);
	ck_assert_msg(starts(a.err, "excon: unknown command 'adv' (did you "
	    "mean 'advance'?)\n"), "%s", a.err);
	tu_run_free(&a);
	ck_assert_int_eq(X(&a, "frobnicate"), 2);
	ck_assert_msg(!tu_has(a.err, "did you mean"), "%s", a.err);
	tu_run_free(&a);
}
END_TEST

/*
 * A command that needs a history and finds none exits 2 naming where it
 * looked; nothing but `excon init` creates a store.
 */
START_TEST(test_no_silent_empty_history)
{
	static const char *const cmds[] = { "status", "release list", "audit",
	    "log", "log --verify", "check", "compat v1", "release start v9",
	    "release finish v9", ADV, "advance --all --record-only",
	    "rollback " PLAN, NULL };
	struct run r;
	int i;

	for (i = 0; cmds[i] != NULL; i++) {
		ck_assert_msg(X(&r, "%s --state typo/excon.db", cmds[i]) == 2,
		    "%s exited %d: %s%s", cmds[i], r.status, r.out, r.err);
		same(r.err, "excon: no history at 'typo/excon.db': run 'excon init' "
		    "to create one, or point --state, EXCON_STATE or 'state:' in "
		    "excon.yaml at the team's store\n");
		same(r.out, "");
		tu_run_free(&r);
	}
	ck_assert(!exists("typo"));
	/* The plans alone can still be checked, e.g. by a fork's CI. */
	ck_assert_int_eq(X(&r, "check --plans-only --state typo/excon.db"), 0);
	same(r.out, "check: 1 plan ok\n");
	tu_run_free(&r);
	ck_assert(!exists("typo"));
	/* init creates it, and then the history is there (and empty). */
	ck_assert_int_eq(X(&r, "init --state typo/excon.db"), 0);
	ck_assert_msg(tu_has(r.out, "created  typo/excon.db"), "%s", r.out);
	tu_run_free(&r);
	step("release list --state typo/excon.db", "no releases recorded");
	step("release start v9 --state typo/excon.db", "release v9 started (#1)");
}
END_TEST

START_TEST(test_help)
{
	static const char *const cmds[] = { "init", "new", "lint", "release",
	    "status", "advance", "rollback", "compat", "check", "audit", "log",
	    "verify", "help", "version", NULL };
	struct run a, b;
	size_t i;

	for (i = 0; cmds[i] != NULL; i++) {
		char *usage = xasprintf("usage: excon %s", cmds[i]);

		ck_assert_int_eq(X(&a, "help %s", cmds[i]), 0);
		ck_assert_int_eq(X(&b, "%s --help", cmds[i]), 0);
		same(a.out, b.out);
		ck_assert_msg(starts(a.out, usage), "%s", a.out);
		ck_assert_msg(tu_has(a.out, "  --state FILE "), "%s", a.out);
		tu_run_free(&a);
		tu_run_free(&b);
		free(usage);
	}
	ck_assert_int_eq(X(&a, "help advance"), 0);
	ck_assert_msg(tu_has(a.out, "  --record-only ") && tu_has(a.out,
	    "  --force ") && tu_has(a.out, "  --reason TEXT ") && tu_has(a.out,
	    "  --dry-run ") && tu_has(a.out, "  --db CONNINFO "), "%s", a.out);
	tu_run_free(&a);
	ck_assert_int_eq(X(&a, "help"), 0);
	ck_assert_int_eq(X(&b, "--help"), 0);
	same(a.out, b.out);
	tu_run_free(&a);
	tu_run_free(&b);
	/* --help wins over everything else on the line, even a bad argument. */
	ck_assert_int_eq(X(&a, "advance --help --all nope"), 0);
	ck_assert_msg(starts(a.out, "usage: excon advance"), "%s", a.out);
	tu_run_free(&a);
}
END_TEST

START_TEST(test_version)
{
	struct run a, b;

	ck_assert_int_eq(X(&a, "version"), 0);
	ck_assert_int_eq(X(&b, "--version"), 0);
	same(a.out, b.out);
	ck_assert_msg(starts(a.out, "excon 0."), "%s", a.out);
	tu_run_free(&a);
	tu_run_free(&b);
}
END_TEST

/*
 * libpq is loaded on the first connection only: status and audit on a
 * state file run without its thirty-odd libraries (as the dynamic loader
 * lists what it loads), and --version still names its version.
 */
START_TEST(test_libpq_loaded_on_connect_only)
{
	const char *const env[] = { "LD_DEBUG=libs", NULL };
	const char *const cmds[] = { "status", "audit" };
	struct run r;
	size_t i;

	step("release start v1", NULL);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(xv(&r, env, cmds[i], (const char *)NULL), 0);
		ck_assert_msg(tu_has(r.out, PLAN), "%s", r.out);
		ck_assert_msg(tu_has(r.err, "libsqlite3.so"), "the loader listed "
		    "nothing: %s", r.err);
		ck_assert_msg(!tu_has(r.err, "libpq"), "%s loaded libpq", cmds[i]);
		tu_run_free(&r);
	}
	ck_assert_int_eq(X(&r, "version"), 0);
	ck_assert_msg(tu_has(r.out, "\nlibpq 1"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_db_step_needs_database)
{
	const char *const env[] = { "PGHOST=", "PGHOSTADDR=", "PGDATABASE=",
	    "PGSERVICE=", NULL };
	struct snap s;
	struct run r;

	step("release start v1", NULL);
	snap_take(&s);
	ck_assert_int_eq(xv(&r, env, "advance", PLAN, (const char *)NULL), 2);
	same(r.err, "excon: " PLAN "/add-column (add_column) changes the database, "
	    "and no database is configured: pass --db CONNINFO (or set "
	    "EXCON_DATABASE or 'database:' in excon.yaml), or --record-only if "
	    "another tool applies it\n");
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	/* --all stops the same way instead of skipping the step. */
	ck_assert_int_eq(xv(&r, env, "advance", "--all", (const char *)NULL), 2);
	ck_assert_msg(tu_has(r.err, "no database is configured"), "%s", r.err);
	tu_run_free(&r);
	snap_same(&s);
}
END_TEST

START_TEST(test_runtime_failure_exit_1)
{
	struct run r;

	/* The state path is a directory, not a file. */
	ck_assert_int_eq(X(&r, "release start v1 --state state"), 1);
	same(r.err, "excon: 'state' is not a regular file\n");
	tu_run_free(&r);
}
END_TEST

/*
 * CI: check and audit --fail-on exit 4.
 */

START_TEST(test_check)
{
	struct run r;
	char *text, *edited;

	walk(1);
	ck_assert_int_eq(X(&r, "check"), 0);
	same(r.out, "check: 1 plan ok\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "check --format json"), 0);
	same(r.out, "{\"ok\":true,\"plans\":1,\"problems\":[]}\n");
	tu_run_free(&r);

	/* Editing a shipped step's note, or an unshipped step, is fine. */
	text = tu_read(dir, "plans/" PLAN ".yaml", NULL);
	edited = xasprintf("%s", text);
	memcpy(strstr(edited, "nothing changes in the code yet"),
	    "NOTHING CHANGES IN THE CODE YET", 31);
	memcpy(strstr(edited, "full_name = name"), "full_name = NAME", 16);
	tu_write(dir, "plans/" PLAN ".yaml", edited);
	ck_assert_int_eq(X(&r, "check"), 0);
	same(r.out, "check: 1 plan ok\n");
	tu_run_free(&r);

	/* Editing a shipped step is not. */
	memcpy(strstr(edited, "table: users\n    column: full_name"),
	    "table: usres", 12);
	tu_write(dir, "plans/" PLAN ".yaml", edited);
	ck_assert_int_eq(X(&r, "check"), 4);
	same(r.out, PLAN ": step add-column was edited after it shipped in v1 "
	    "(#1) (plans/" PLAN ".yaml:6); shipped steps must not change: add a "
	    "new step instead\ncheck: 1 problem\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "check --format json"), 4);
	ck_assert_msg(starts(r.out, "{\"ok\":false,\"plans\":1,\"problems\":"
	    "[{\"kind\":\"shipped\",\"message\":\"" PLAN ": step add-column was "
	    "edited"), "%s", r.out);
	tu_run_free(&r);
	/* And advance refuses to go on. */
	ck_assert_int_eq(X(&r, ADV), 3);
	ck_assert_msg(tu_has(r.err, "refused: " PLAN ": step add-column was "
	    "edited after it shipped in v1 (#1)"), "%s", r.err);
	tu_run_free(&r);
	free(text);
	free(edited);
}
END_TEST

START_TEST(test_check_deleted_plan)
{
	struct run r;
	char *path;

	walk(1);
	path = xasprintf("%s/plans/" PLAN ".yaml", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(X(&r, "check"), 4);
	same(r.out, "plan " PLAN " has shipped steps in the state file but no plan "
	    "file in plans\ncheck: 1 problem\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "check --format json"), 4);
	same(r.out, "{\"ok\":false,\"plans\":0,\"problems\":[{\"kind\":\"missing\","
	    "\"message\":\"plan " PLAN " has shipped steps in the state file but "
	    "no plan file in plans\"}]}\n");
	tu_run_free(&r);
	free(path);
}
END_TEST

START_TEST(test_check_broken_plan)
{
	struct run r;

	tu_write(dir, "plans/broken.yaml", "plan: broken\nsteps:\n  - id: a\n"
	    "    kind: code\n    stgae: post\n");
	ck_assert_int_eq(X(&r, "check"), 4);
	same(r.out, "plans/broken.yaml:5:5: step \"a\": unknown field \"stgae\" "
	    "(did you mean \"stage\"?)\ncheck: 1 problem\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "lint"), 4);
	same(r.out, "plans/broken.yaml:5:5: error[E-PLAN-SCHEMA]: step \"a\": "
	    "unknown field \"stgae\" (did you mean \"stage\"?)\n1 error, 0 warnings\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_audit_fail_on)
{
	struct run r;
	char *text, *with_deadline;

	walk(4);
	ck_assert_int_eq(X(&r, "audit --fail-on pending"), 4);
	ck_assert_msg(tu_has(r.out, "pending contracts:\n  " PLAN "/drop-name  "
	    "owner accounts-team\n"), "%s", r.out);
	tu_run_free(&r);
	/* No deadline: nothing is overdue. */
	ck_assert_int_eq(X(&r, "audit --fail-on overdue"), 0);
	tu_run_free(&r);
	/* A deadline in the past (the clock says 2026-01-01). */
	text = tu_read(dir, "plans/" PLAN ".yaml", NULL);
	with_deadline = xasprintf("deadline: 2025-12-31\n%s", text);
	tu_write(dir, "plans/" PLAN ".yaml", with_deadline);
	ck_assert_int_eq(X(&r, "audit --fail-on overdue"), 4);
	ck_assert_msg(tu_has(r.out, "    deadline 2025-12-31  OVERDUE\n"), "%s",
	    r.out);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "audit --format json"), 0);
	ck_assert_msg(tu_has(r.out, "\"deadline\":\"2025-12-31\",\"overdue\":true"),
	    "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "audit --fail-on late"), 2);
	same(r.err, "excon: --fail-on takes 'overdue' or 'pending', not 'late'\n");
	tu_run_free(&r);
	/* Once the contract shipped, nothing is pending. */
	walk(5);
	ck_assert_int_eq(X(&r, "audit --fail-on pending"), 0);
	tu_run_free(&r);
	free(text);
	free(with_deadline);
}
END_TEST

/*
 * The state file: tampering, foreign files, permissions.
 */

START_TEST(test_log_verify_detects_edit)
{
	struct run r;
	char *out;

	walk(2);
	/* Editing is refused by the file's own triggers... */
	out = sqlite("UPDATE events SET detail = 'x' WHERE id = 3");
	ck_assert_msg(tu_has(out, "append-only"), "%s", out);
	free(out);
	ck_assert_int_eq(X(&r, "log --verify"), 0);
	tu_run_free(&r);
	/* ...and an editor who drops them is caught by the hash chain. */
	out = sqlite("DROP TRIGGER events_no_update; UPDATE events SET actor = "
	    "'someone-else' WHERE id = 3");
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert_int_eq(X(&r, "log --verify"), 4);
	same(r.out, "event log broken at event 3: an event was edited or deleted\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log --verify --format json"), 4);
	same(r.out, "{\"intact\":false,\"first_bad_event\":3}\n");
	tu_run_free(&r);
	/* A deleted event too. */
	out = sqlite("DROP TRIGGER events_no_delete; UPDATE events SET actor = "
	    "'rm@ci' WHERE id = 3; DELETE FROM events WHERE id = 5");
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert_int_eq(X(&r, "log --verify"), 4);
	same(r.out, "event log broken at event 5: an event was edited or deleted\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_garbage_state_file)
{
	struct snap s;
	struct run r;
	struct buf junk = BUF_INIT;
	int i;

	for (i = 0; i < 300; i++)
		buf_puts(&junk, "this is not a database, just some text\n");
	tu_write(dir, "state/excon.db", buf_cstr(&junk));
	snap_take(&s);
	ck_assert_int_eq(X(&r, "status"), 1);
	same(r.err, "excon: 'state/excon.db' is not an excon state file\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release start v1"), 1);
	same(r.err, "excon: 'state/excon.db' is not an excon state file\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log"), 1);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "init"), 1);
	ck_assert_msg(tu_has(r.err, "is not an excon state file"), "%s", r.err);
	tu_run_free(&r);
	snap_same(&s);
	ck_assert(!exists("state/excon.db-wal"));
	buf_free(&junk);
}
END_TEST

/* A damaged state file: every command refuses it and nothing is written. */
START_TEST(test_corrupt_state_file)
{
	struct snap s;
	struct run r;
	size_t len;
	char *data;

	walk(2);
	data = tu_read(dir, "state/excon.db", &len);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_gt(len, 8192);
	memset(data + 4096, 0xab, len - 4096);
	{
		char *path = xasprintf("%s/state/excon.db", dir);
		FILE *f = fopen(path, "wb");

		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(data, 1, len, f), len);
		fclose(f);
		free(path);
	}
	free(data);
	snap_take(&s);
	ck_assert_int_eq(X(&r, "status"), 1);
	ck_assert_msg(tu_has(r.err, "excon: 'state/excon.db' is corrupt: "), "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "audit"), 1);
	ck_assert_msg(tu_has(r.err, "is corrupt"), "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release start v9"), 1);
	ck_assert_msg(tu_has(r.err, "excon: 'state/excon.db' is corrupt: "), "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log --verify"), 1);
	ck_assert_msg(tu_has(r.err, "excon: 'state/excon.db' is corrupt: "), "%s", r.err);
	tu_run_free(&r);
	snap_same(&s);
}
END_TEST

START_TEST(test_newer_state_file)
{
	struct snap s;
	struct run r;
	char *out;

	walk(1);
	out = sqlite("PRAGMA user_version = 7");
	ck_assert_str_eq(out, "");
	free(out);
	snap_take(&s);
	ck_assert_int_eq(X(&r, "status"), 1);
	same(r.err, "excon: 'state/excon.db' was written by a newer excon (state "
	    "schema 7, this excon knows 4): upgrade excon\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release start v2"), 1);
	ck_assert_msg(tu_has(r.err, "was written by a newer excon"), "%s", r.err);
	tu_run_free(&r);
	snap_same(&s);
}
END_TEST

START_TEST(test_new_state_file_mode)
{
	struct stat sb;
	struct run r;
	char *path = xasprintf("%s/state/excon.db", dir);

	umask(022);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_ne(stat(path, &sb), 0);
	step("init", "created  state/excon.db");
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	/* Commands on a missing file create nothing. */
	ck_assert_int_eq(X(&r, "status --state state/other.db"), 2);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release start v1 --state state/other.db"), 2);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "check --state state/other.db"), 2);
	tu_run_free(&r);
	ck_assert(!exists("state/other.db"));
	free(path);
}
END_TEST

/*
 * An empty file, or one that is not an excon state file, is refused and
 * left as it was: not taken over at another mode, and no plan cache is
 * written beside it.
 */
START_TEST(test_empty_or_foreign_state_file_untouched)
{
	struct stat sb;
	struct run r;
	char *path = xasprintf("%s/state/excon.db", dir);

	ck_assert_int_eq(tu_sh(&r, dir, "rm -f state/excon.db* && : > state/excon.db "
	    "&& chmod 640 state/excon.db"), 0);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release start v1"), 1);
	ck_assert_str_eq(r.err, "excon: 'state/excon.db' is empty, not an excon "
	    "state file\n");
	tu_run_free(&r);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0640);
	ck_assert(!exists("state/excon.db.plans"));
	tu_write(dir, "state/excon.db", "name,shipped\nusers,yes\n");
	ck_assert_int_eq(X(&r, "status"), 1);
	ck_assert_str_eq(r.err, "excon: 'state/excon.db' is not an excon state "
	    "file\n");
	tu_run_free(&r);
	ck_assert(!exists("state/excon.db.plans"));
	free(path);
}
END_TEST

/*
 * A state file this user may not write (a read-only directory or mount,
 * an auditor's copy): commands that read the history work, one that would
 * change it says why (exit 1), and nothing in the directory changes.
 * Root may write anything, so the commands run as the test server's user.
 */
START_TEST(test_readonly_state_file)
{
	const char *as = getuid() == 0 ? "runuser -u excon-pg -- " : "";
	struct snap s;
	struct run r;

	step("release start v1", "release v1 started (#1)");
	/*
	 * A copy of the binary the other user can run wherever the build
	 * lives (a checkout under /root is closed to it).
	 */
	ck_assert_int_eq(tu_sh(&r, dir, "chmod 755 . && chmod 644 state/excon.db && "
	    "rm -f state/excon.db.plans && chmod 555 state && "
	    "cp \"$EXCON_BIN\" ./excon-bin && chmod 755 ./excon-bin"), 0);
	tu_run_free(&r);
	snap_take(&s);
	tu_sh(&r, dir, "%s./excon-bin status", as);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(tu_has(r.out, "allowed now in v1 (#1)"), "%s", r.out);
	tu_run_free(&r);
	tu_sh(&r, dir, "%s./excon-bin log --verify", as);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "event log intact\n");
	tu_run_free(&r);
	tu_sh(&r, dir, "%s./excon-bin release start v2", as);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "excon: cannot change the history: "
	    "'state/excon.db' (or its directory) is read-only here\n");
	tu_run_free(&r);
	snap_same(&s);
	ck_assert_int_eq(tu_sh(&r, dir, "ls -A state"), 0);
	ck_assert_str_eq(r.out, "excon.db\n");
	tu_run_free(&r);
	/*
	 * A file of the previous schema, which differs only by an index, is
	 * read as it is where it cannot be upgraded.
	 */
	ck_assert_int_eq(tu_sh(&r, dir, "sqlite3 state/excon.db 'DROP INDEX "
	    "events_kind; PRAGMA user_version = 3' && chmod 644 state/excon.db"),
	    0);
	tu_run_free(&r);
	tu_sh(&r, dir, "%s./excon-bin status", as);
	ck_assert_msg(r.status == 0 && tu_has(r.out, "allowed now in v1 (#1)"),
	    "%s%s", r.out, r.err);
	tu_run_free(&r);
	tu_sh(&r, dir, "%s./excon-bin log --verify", as);
	ck_assert_msg(r.status == 0, "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(tu_sh(&r, dir, "sqlite3 state/excon.db "
	    "'PRAGMA user_version'"), 0);
	ck_assert_str_eq(r.out, "3\n");
	tu_run_free(&r);
	ck_assert_int_eq(tu_sh(&r, dir, "chmod 755 state"), 0);
	tu_run_free(&r);
}
END_TEST

/*
 * Sixteen processes advance at once.
 */

/* What one of the parallel processes did. */
struct proc {
	int	 status;
	char	*out;
	char	*err;
};

/*
 * Starts NPROC processes of excon with the NULL-terminated args in dir,
 * all released at the same moment, and waits for every one.
 */
static void
parallel(struct proc *p, const char *const *args)
{
	pid_t pids[NPROC];
	const char *bin = getenv("EXCON_BIN");
	char *argv[16];
	int gate[2], i, n, status;

	argv[0] = (char *)"excon";
	for (n = 1; n < 15 && args[n - 1] != NULL; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	ck_assert_int_eq(pipe(gate), 0);
	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		ck_assert_int_ne(pids[i], -1);
		if (pids[i] == 0) {
			char *o = xasprintf("%s/out.%d", dir, i);
			char *e = xasprintf("%s/err.%d", dir, i);
			char c;

			close(gate[1]);
			dup2(open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
			dup2(open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
			if (chdir(dir) != 0)
				_exit(126);
			/* Wait until every child is ready, then go together. */
			while (read(gate[0], &c, 1) < 0)
				;
			execv(bin ? bin : "excon", argv);
			_exit(127);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (i = 0; i < NPROC; i++) {
		char *name;

		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status));
		p[i].status = WEXITSTATUS(status);
		name = xasprintf("out.%d", i);
		p[i].out = tu_read(dir, name, NULL);
		free(name);
		name = xasprintf("err.%d", i);
		p[i].err = tu_read(dir, name, NULL);
		free(name);
		/* Waiting for the lock is the store's job, never the user's. */
		ck_assert_msg(!tu_has(p[i].err, "locked") && !tu_has(p[i].err, "busy"),
		    "process %d: %s", i, p[i].err);
	}
}

/* Frees what parallel() collected. */
static void
parallel_free(struct proc *p)
{
	int i;

	for (i = 0; i < NPROC; i++) {
		free(p[i].out);
		free(p[i].err);
	}
}

START_TEST(test_concurrent_advance)
{
	static const char *const args[] = { "advance", PLAN, "--record-only", NULL };
	struct proc p[NPROC];
	int i, shipped = 0, refused = 0;
	char *out;

	step("release start v1", NULL);
	parallel(p, args);
	for (i = 0; i < NPROC; i++) {
		if (p[i].status == 0) {
			ck_assert_msg(starts(p[i].out, "shipped " PLAN "/"), "%s", p[i].out);
			shipped++;
		} else {
			/* The others find the next step is a post step. */
			ck_assert_msg(p[i].status == 3, "process %d exited %d: %s",
			    i, p[i].status, p[i].err);
			ck_assert_msg(tu_has(p[i].err, "refused: backfill (stage post)"),
			    "%s", p[i].err);
			refused++;
		}
	}
	parallel_free(p);
	/* add-column and dual-write each shipped exactly once. */
	ck_assert_int_eq(shipped, 2);
	ck_assert_int_eq(refused, NPROC - 2);
	out = sqlite("SELECT step, count(*) FROM events WHERE kind = 'advance' "
	    "GROUP BY step ORDER BY step");
	same(out, "add-column|1\ndual-write|1\n");
	free(out);
	out = sqlite("SELECT step || ' ' || release_seq FROM ships ORDER BY idx");
	same(out, "add-column 1\ndual-write 1\n");
	free(out);
	out = sqlite("PRAGMA integrity_check");
	same(out, "ok\n");
	free(out);
	step("log --verify", "event log intact");
	step("status", "  next: backfill waiting (rule 2)");
}
END_TEST

/* The second argument's register at a function's entry, for gdb. */
#if defined(__x86_64__)
#define GDB_ARG2 "$rsi"
#elif defined(__aarch64__)
#define GDB_ARG2 "$x1"
#else
#define GDB_ARG2 NULL
#endif

/*
 * advance --all holds the history it loaded and updates it with each
 * ship; a step another process ships meanwhile must still be seen.  gdb
 * stops `advance --all` before its second write transaction (the "BEGIN
 * IMMEDIATE" sent through sqlite3_exec, when it holds no lock) and runs
 * `advance pb` from a second process there; the first, resumed, must not
 * ship pb's step again, though the history it judged pb on said it was
 * still to ship.
 */
START_TEST(test_all_sees_concurrent_ship)
{
	static const char *const names[] = { "pa", "pb" };
	const char *bin = getenv("EXCON_BIN");
	struct run r;
	struct buf gdb = BUF_INIT;
	char *out;
	size_t i;

	ck_assert_msg(GDB_ARG2 != NULL, "this test needs x86-64 or aarch64");
	ck_assert_msg(tu_sh(&r, NULL, "command -v gdb") == 0,
	    "gdb is needed to stop excon at an exact point (apt-get install gdb)");
	tu_run_free(&r);
	for (i = 0; i < 2; i++) {
		char *file = xasprintf("plans/%s.yaml", names[i]);
		char *yaml = xasprintf("plan: %s\nowner: team\nsteps:\n"
		    "  - id: add-column\n    kind: add_column\n    table: t_%s\n"
		    "    column: c\n    type: text\n"
		    "  - id: drop-old\n    kind: drop_column\n    table: t_%s\n"
		    "    column: old\n", names[i], names[i], names[i]);

		tu_write(dir, file, yaml);
		free(file);
		free(yaml);
	}
	step("release start v1", NULL);
	buf_printf(&gdb, "set pagination off\nset confirm off\nset $n = 0\n"
	    "break *sqlite3_exec\ncommands\n  silent\n"
	    "  if *(char *)%s == 'B' && *((char *)%s + 6) == 'I'\n"
	    "    set $n = $n + 1\n"
	    "    if $n == 2\n"
	    "      shell %s advance pb --record-only >other.out 2>&1\n"
	    "    end\n"
	    "  end\n  continue\nend\nrun\n", GDB_ARG2, GDB_ARG2,
	    bin != NULL ? bin : "excon");
	tu_write(dir, "race.gdb", buf_cstr(&gdb));
	buf_free(&gdb);
	ck_assert_int_eq(tu_sh(&r, dir, "gdb -nx -batch -readnever -iex "
	    "'set auto-solib-add off' -x race.gdb --args %s advance --all "
	    "--record-only", bin != NULL ? bin : "excon"), 0);
	/* The second process shipped pb's step, the first pa's and the sample's. */
	out = tu_read(dir, "other.out", NULL);
	ck_assert_msg(out != NULL && starts(out, "shipped pb/add-column "),
	    "advance pb said: %s\ngdb: %s%s", out ? out : "(nothing)", r.out,
	    r.err);
	free(out);
	ck_assert_msg(tu_has(r.out, "shipped pa/add-column ") &&
	    tu_has(r.out, "shipped " PLAN "/dual-write ") &&
	    !tu_has(r.out, "shipped pb/"), "%s%s", r.out, r.err);
	tu_run_free(&r);
	out = sqlite("SELECT plan || ' ' || step || ' ' || count(*) FROM events "
	    "WHERE kind = 'advance' GROUP BY plan, step ORDER BY plan, step");
	same(out, "pa add-column 1\npb add-column 1\n" PLAN " add-column 1\n"
	    PLAN " dual-write 1\n");
	free(out);
	step("log --verify", "event log intact");
}
END_TEST

START_TEST(test_concurrent_release_start)
{
	static const char *const args[] = { "release", "start", "v1", NULL };
	struct proc p[NPROC];
	int i, started = 0;
	char *out;

	/* No state file yet: they also race to create it. */
	parallel(p, args);
	for (i = 0; i < NPROC; i++) {
		if (p[i].status == 0) {
			same(p[i].out, "release v1 started (#1)\n");
			started++;
		} else {
			ck_assert_msg(p[i].status == 2, "process %d exited %d: %s", i,
			    p[i].status, p[i].err);
			same(p[i].err, "excon: release 'v1' already exists (#1)\n");
		}
	}
	parallel_free(p);
	ck_assert_int_eq(started, 1);
	out = sqlite("SELECT count(*) FROM releases; SELECT count(*) FROM events; "
	    "PRAGMA integrity_check");
	same(out, "1\n1\nok\n");
	free(out);
}
END_TEST

START_TEST(test_concurrent_advance_all)
{
	static const char *const args[] = { "advance", "--all", "--stage", "pre",
	    "--record-only", NULL };
	struct proc p[NPROC];
	int i, lines = 0;
	char *out, *l;

	tu_write(dir, "plans/audit-log.yaml", "plan: audit-log\nsteps:\n"
	    "  - {id: a, kind: create_table, table: t, primary_key: [id], "
	    "columns: [{name: id, type: int}]}\n"
	    "  - {id: b, kind: create_index, table: t, name: t_i, columns: [id]}\n");
	step("release start v1", NULL);
	parallel(p, args);
	for (i = 0; i < NPROC; i++) {
		ck_assert_msg(p[i].status == 0, "process %d exited %d: %s", i,
		    p[i].status, p[i].err);
		for (l = p[i].out; (l = strstr(l, "shipped ")) != NULL; l++)
			lines++;
	}
	parallel_free(p);
	/* Four pre steps in two plans, each shipped by exactly one process. */
	ck_assert_int_eq(lines, 4);
	out = sqlite("SELECT plan || '/' || step FROM ships ORDER BY plan, idx");
	same(out, "audit-log/a\naudit-log/b\n" PLAN "/add-column\n" PLAN
	    "/dual-write\n");
	free(out);
	out = sqlite("SELECT count(*) FROM events WHERE kind = 'advance'");
	same(out, "4\n");
	free(out);
}
END_TEST

/*
 * Dry runs, --all, --to, rollback.
 */

START_TEST(test_dry_run)
{
	struct snap s;
	struct run r;

	walk(1);
	snap_take(&s);
	ck_assert_int_eq(X(&r, "release finish v1 --dry-run"), 0);
	same(r.out, "would mark release v1 (#1) deployed\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "release start v2 --dry-run"), 0);
	same(r.out, "would record release v2 as #2 (started)\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "rollback " PLAN " --record-only --dry-run"), 0);
	same(r.out, "would roll back " PLAN "/dual-write (shipped in v1, #1)\n");
	tu_run_free(&r);
	/* A refused step is refused in a dry run too. */
	ck_assert_int_eq(X(&r, ADV " --dry-run"), 3);
	tu_run_free(&r);
	snap_same(&s);

	step("release finish v1", NULL);
	snap_take(&s);
	ck_assert_int_eq(X(&r, ADV " --dry-run"), 0);
	same(r.out, "would record " PLAN "/backfill (backfill, post) as shipped in "
	    "v1 (#1)\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, ADV " --dry-run --format json"), 0);
	same(r.out, "{\"shipped\":[{\"plan\":\"" PLAN "\",\"step\":\"backfill\","
	    "\"kind\":\"backfill\",\"stage\":\"post\",\"release\":\"v1\",\"seq\":1,"
	    "\"forced\":false,\"dry_run\":true}],\"refused\":null}\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "advance --all --record-only --dry-run"), 0);
	ck_assert_msg(tu_has(r.out, "would record " PLAN "/backfill"), "%s", r.out);
	tu_run_free(&r);
	snap_same(&s);
	step("status", "  > backfill ");
}
END_TEST

START_TEST(test_advance_all_stages)
{
	struct run r;

	tu_write(dir, "plans/audit-log.yaml",
	    "plan: audit-log\n"
	    "steps:\n"
	    "  - id: create\n"
	    "    kind: create_table\n"
	    "    table: audit_log\n"
	    "    columns: [{name: id, type: bigint, primary_key: true}]\n"
	    "  - id: write-audit\n"
	    "    kind: code\n"
	    "    phase: expand\n");
	step("release start v1", NULL);
	/* Before the deploy: every pre step of every plan, nothing else. */
	ck_assert_int_eq(X(&r, "advance --all --stage pre --record-only"), 0);
	same(r.out,
	    "shipped audit-log/create (create_table, pre) in v1 (#1)\n"
	    "shipped " PLAN "/add-column (add_column, pre) in v1 (#1)\n"
	    "shipped " PLAN "/dual-write (dual_write, pre) in v1 (#1)\n");
	ck_assert_str_eq(r.err, "");
	tu_run_free(&r);
	/* Post steps wait for the deploy: nothing to do is not an error. */
	ck_assert_int_eq(X(&r, "advance --all --stage post --record-only"), 0);
	same(r.out, "nothing to ship at stage post\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "advance --all --stage code --record-only"), 0);
	same(r.out, "shipped audit-log/write-audit (code, code) in v1 (#1)\n");
	tu_run_free(&r);
	step("release finish v1", NULL);
	ck_assert_int_eq(X(&r, "advance --all --stage post --record-only"), 0);
	same(r.out, "shipped " PLAN "/backfill (backfill, post) in v1 (#1)\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "advance --all --stage post --record-only --format "
	    "json"), 0);
	same(r.out, "{\"shipped\":[],\"refused\":null}\n");
	tu_run_free(&r);
	/* Without --stage: as far as the gates allow. */
	step("release start v2", NULL);
	ck_assert_int_eq(X(&r, "advance --all --record-only"), 0);
	same(r.out,
	    "shipped " PLAN "/switch-reads (switch_reads, code) in v2 (#2)\n"
	    "shipped " PLAN "/stop-old-writes (stop_old_writes, code) in v2 (#2)\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "advance --all --record-only"), 0);
	same(r.out, "nothing to ship\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "advance " PLAN " --to drop-name --all"), 2);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_advance_to)
{
	struct run r;

	step("release start v1", NULL);
	/* Ships up to the target; stops at the first refusal with exit 3. */
	ck_assert_int_eq(X(&r, ADV " --to backfill"), 3);
	same(r.out,
	    "shipped " PLAN "/add-column (add_column, pre) in v1 (#1)\n"
	    "shipped " PLAN "/dual-write (dual_write, pre) in v1 (#1)\n");
	ck_assert_msg(tu_has(r.err, "refused: backfill (stage post)"), "%s", r.err);
	tu_run_free(&r);
	step("release finish v1", NULL);
	step("release start v2", NULL);
	step("release finish v2", NULL);
	step("release start v3", NULL);
	/* backfill is post: v3 is still deploying. */
	ck_assert_int_eq(X(&r, ADV " --to switch-reads"), 3);
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	step("release finish v3", NULL);
	ck_assert_int_eq(X(&r, ADV " --to backfill"), 0);
	same(r.out, "shipped " PLAN "/backfill (backfill, post) in v3 (#3)\n");
	tu_run_free(&r);
	step("release start v4", NULL);
	ck_assert_int_eq(X(&r, ADV " --to stop-old-writes --format json"), 0);
	ck_assert_msg(tu_has(r.out, "\"step\":\"switch-reads\"") &&
	    tu_has(r.out, "\"step\":\"stop-old-writes\"") &&
	    !tu_has(r.out, "drop-name"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_rollback_code_step)
{
	struct run r;

	walk(3);
	/* The newest shipped step is stop-old-writes, a code step. */
	ck_assert_int_eq(X(&r, "rollback " PLAN), 0);
	same(r.out, "rolled back " PLAN "/stop-old-writes (had shipped in v2, #2)\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "status --format json"), 0);
	ck_assert_msg(tu_has(r.out, "{\"id\":\"stop-old-writes\",\"kind\":"
	    "\"stop_old_writes\",\"phase\":\"migrate\",\"stage\":\"code\","
	    "\"status\":\"pending\""), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "\"shipped\":4,"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log " PLAN), 0);
	ck_assert_msg(tu_has(r.out, "rollback       rm@ci " PLAN "/stop-old-writes "
	    "in v2\n"), "%s", r.out);
	tu_run_free(&r);
	step("rollback " PLAN, "rolled back " PLAN "/switch-reads");
	/* backfill runs SQL and has no down: excon cannot undo it. */
	ck_assert_int_eq(X(&r, "rollback " PLAN " --record-only"), 3);
	same(r.err, "refused: backfill (backfill) has no 'down' SQL, so excon "
	    "cannot undo it; add a new step instead\n");
	tu_run_free(&r);
	/* The rolled-back steps ship again in a later release. */
	step("release start v3", NULL);
	step(ADV, "shipped " PLAN "/switch-reads (switch_reads, code) in v3 (#3)");
	step("log --verify", "event log intact");
}
END_TEST

START_TEST(test_rollback_contract_refused)
{
	struct snap s;
	struct run r;

	walk(5);
	snap_take(&s);
	ck_assert_int_eq(X(&r, "rollback " PLAN " --record-only"), 3);
	same(r.err, "refused: drop-name (contract) shipped in v4 (#4) and removed "
	    "data or schema; a contract step cannot be rolled back\n");
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	snap_same(&s);
	step("status", "complete: every step shipped");
}
END_TEST

/* rollback --format json: what was (or would be) undone, or the refusal. */
START_TEST(test_rollback_json)
{
	struct snap s;
	struct run r;

	walk(3);
	snap_take(&s);
	ck_assert_int_eq(X(&r, "rollback " PLAN " --dry-run --format json"), 0);
	same(r.out, "{\"rolled_back\":{\"plan\":\"" PLAN "\",\"step\":"
	    "\"stop-old-writes\",\"kind\":\"stop_old_writes\",\"release\":"
	    "\"v2\",\"seq\":2,\"had\":\"shipped\",\"ran_sql\":false,"
	    "\"dry_run\":true},\"refused\":null}\n");
	tu_run_free(&r);
	snap_same(&s);
	ck_assert_int_eq(X(&r, "rollback " PLAN " --format json"), 0);
	same(r.out, "{\"rolled_back\":{\"plan\":\"" PLAN "\",\"step\":"
	    "\"stop-old-writes\",\"kind\":\"stop_old_writes\",\"release\":"
	    "\"v2\",\"seq\":2,\"had\":\"shipped\",\"ran_sql\":false,"
	    "\"dry_run\":false},\"refused\":null}\n");
	same(r.err, "");
	tu_run_free(&r);
	step("log " PLAN, "rollback       rm@ci " PLAN "/stop-old-writes in v2\n");
	step("rollback " PLAN, "rolled back " PLAN "/switch-reads");
	/* A refusal: JSON on stdout, the text on stderr, nothing changed. */
	snap_take(&s);
	ck_assert_int_eq(X(&r, "rollback " PLAN " --record-only --format json"), 3);
	same(r.out, "{\"rolled_back\":null,\"refused\":{\"plan\":\"" PLAN
	    "\",\"step\":\"backfill\",\"rule\":\"no_down\",\"message\":"
	    "\"backfill (backfill) has no 'down' SQL, so excon cannot undo it; "
	    "add a new step instead\"}}\n");
	same(r.err, "refused: backfill (backfill) has no 'down' SQL, so excon "
	    "cannot undo it; add a new step instead\n");
	tu_run_free(&r);
	snap_same(&s);
	ck_assert_int_eq(X(&r, "rollback " PLAN " --format yaml"), 2);
	ck_assert_msg(tu_has(r.err, "text, json or github"), "%s", r.err);
	tu_run_free(&r);
}
END_TEST

/* rollback --format github: a refusal is an annotation on the step. */
START_TEST(test_rollback_github)
{
	struct run r;

	walk(5);
	ck_assert_int_eq(X(&r, "rollback " PLAN " --record-only --format github"), 3);
	ck_assert_msg(tu_has(r.out, "::error file=plans/" PLAN ".yaml,line="),
	    "%s", r.out);
	ck_assert_msg(tu_has(r.out, ",title=excon refused " PLAN "/drop-name "
	    "(a contract step)::drop-name (contract) shipped in v4 (#4) and "
	    "removed data or schema; a contract step cannot be rolled back\n"),
	    "%s", r.out);
	same(r.err, "refused: drop-name (contract) shipped in v4 (#4) and removed "
	    "data or schema; a contract step cannot be rolled back\n");
	tu_run_free(&r);
	/* Text stays as it was: no annotation. */
	ck_assert_int_eq(X(&r, "rollback " PLAN " --record-only"), 3);
	same(r.out, "");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_init)
{
	struct run r;
	struct stat sb;

	tu_rmrf(dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(X(&r, "init --dry-run"), 0);
	same(r.out, "would create excon.yaml\nwould create plans/\nwould create "
	    "state/\nwould create state/excon.db\n");
	tu_run_free(&r);
	ck_assert(!exists("excon.yaml"));
	ck_assert_int_eq(X(&r, "init"), 0);
	same(r.out, "created  excon.yaml\ncreated  plans/\ncreated  state/\n"
	    "created  state/excon.db\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "init"), 0);
	same(r.out, "exists   excon.yaml\nexists   plans/\nexists   state/\n"
	    "exists   state/excon.db\n");
	tu_run_free(&r);
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(stat("state/excon.db", &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	step("status", "no plans in plans");
	step("check", "check: 0 plans ok");
}
END_TEST

START_TEST(test_lint_sample_plan)
{
	struct run r;

	ck_assert_int_eq(X(&r, "lint"), 0);
	same(r.out, "0 errors, 0 warnings\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "lint --format json"), 0);
	same(r.out, "[]\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_verify_needs_database)
{
	const char *const env[] = { "PGHOST=", "PGHOSTADDR=", "PGDATABASE=",
	    "PGSERVICE=", NULL };
	struct run r;

	ck_assert_int_eq(xv(&r, env, "verify", (const char *)NULL), 2);
	same(r.err, "excon: verify reads the database: pass --db CONNINFO (or set "
	    "EXCON_DATABASE or 'database:' in excon.yaml)\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_new_unknown_template)
{
	struct run r;

	ck_assert_int_eq(X(&r, "new no-such-template a b"), 2);
	ck_assert_msg(tu_has(r.err, "'no-such-template'"), "%s", r.err);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "new"), 2);
	ck_assert_msg(tu_has(r.err, "excon new: missing arguments"), "%s", r.err);
	tu_run_free(&r);
	ck_assert(!exists("plans/a.yaml"));
}
END_TEST

/* advance --all ships a plan whose dependency ships earlier in the same run. */
START_TEST(test_advance_all_follows_dependencies)
{
	struct run r;

	/* "a-first" sorts first but waits for "b-later". */
	tu_write(dir, "plans/a-first.yaml", "plan: a-first\ndepends_on: [b-later]\n"
	    "steps:\n  - {id: x, kind: code}\n");
	tu_write(dir, "plans/b-later.yaml", "plan: b-later\n"
	    "steps:\n  - {id: y, kind: code}\n");
	step("release start v1", NULL);
	ck_assert_int_eq(X(&r, "advance --all --stage code"), 0);
	same(r.out, "shipped b-later/y (code, code) in v1 (#1)\n"
	    "shipped a-first/x (code, code) in v1 (#1)\n");
	tu_run_free(&r);
	/* A plan after its dependency ships in the same pass, in plan order. */
	tu_write(dir, "plans/c-base.yaml", "plan: c-base\nsteps:\n  - {id: x, kind: code}\n");
	tu_write(dir, "plans/d-next.yaml", "plan: d-next\ndepends_on: [c-base]\n"
	    "steps:\n  - {id: y, kind: code}\n");
	tu_write(dir, "plans/e-free.yaml", "plan: e-free\nsteps:\n  - {id: z, kind: code}\n");
	ck_assert_int_eq(X(&r, "advance --all --stage code"), 0);
	same(r.out, "shipped c-base/x (code, code) in v1 (#1)\n"
	    "shipped d-next/y (code, code) in v1 (#1)\n"
	    "shipped e-free/z (code, code) in v1 (#1)\n");
	tu_run_free(&r);
}
END_TEST

/*
 * advance --all decides on one reading of the history per pass, and takes
 * the state's write lock only for a plan that has a step to ship: with
 * nothing to ship it answers at once while another writer holds the lock
 * (it used to queue behind it once per plan).
 */
START_TEST(test_advance_all_nothing_takes_no_lock)
{
	struct run r;
	long ms;

	tu_write(dir, "plans/a.yaml", "plan: a\nsteps:\n  - {id: x, kind: code}\n");
	step("release start v1", NULL);
	step("advance --all --stage code", "shipped a/x (code, code) in v1 (#1)");
	ck_assert_int_eq(tu_sh(&r, dir,
	    "(sqlite3 state/excon.db 'BEGIN IMMEDIATE;' '.shell touch locked; sleep 4' "
	    "'COMMIT;' >/dev/null 2>&1 &); i=0; while [ ! -e locked ] && [ $i -lt 200 ]; "
	    "do sleep 0.05; i=$((i + 1)); done; s=$(date +%%s%%3N); "
	    "\"$EXCON_BIN\" advance --all --stage code; rc=$?; e=$(date +%%s%%3N); "
	    "echo \"rc=$rc ms=$((e - s))\"; wait"), 0);
	ck_assert_msg(tu_has(r.out, "nothing to ship at stage code\nrc=0 ms="), "%s%s",
	    r.out, r.err);
	ms = atol(strstr(r.out, "ms=") + 3);
	ck_assert_msg(ms < 2500, "advance --all waited %ld ms for the state lock", ms);
	tu_run_free(&r);
}
END_TEST

/* Regression tests of bugs this suite found in the command layer. */

/* advance --to a step that already shipped ships the step after it. */
START_TEST(test_advance_to_shipped_step)
{
	struct snap s;
	struct run r;

	walk(1);
	step("release finish v1", NULL);
	snap_take(&s);
	/* The next step, backfill, could ship now: it must not. */
	ck_assert_int_eq(X(&r, ADV " --to add-column"), 0);
	ck_assert_msg(!tu_has(r.out, "shipped " PLAN "/backfill"), "%s", r.out);
	tu_run_free(&r);
	snap_same(&s);
}
END_TEST

/*
 * A runtime failure inside advance (state file cannot be opened, or the
 * step's SQL fails) exits 0 with "nothing to ship": EXCON_EXIT_RUNTIME (1)
 * is also advance_one's "nothing to do".
 */
START_TEST(test_advance_runtime_failure_exit_code)
{
	const char *const env[] = { "EXCON_DATABASE=host=/nonexistent", NULL };
	struct run r;

	ck_assert_int_eq(X(&r, ADV " --state state"), 1);
	ck_assert_msg(!tu_has(r.out, "nothing to ship"), "%s", r.out);
	tu_run_free(&r);
	tu_write(dir, "state/garbage.db", "not a database\n");
	ck_assert_int_eq(X(&r, ADV " --state state/garbage.db"), 1);
	ck_assert_msg(tu_has(r.err, "is not an excon state file") &&
	    !tu_has(r.out, "nothing to ship"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "advance --all --record-only --state "
	    "state/garbage.db"), 1);
	tu_run_free(&r);
	step("release start v1", NULL);
	ck_assert_int_eq(xv(&r, env, "advance", PLAN, (const char *)NULL), 1);
	ck_assert_msg(!tu_has(r.out, "nothing to ship"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

/* advance --release with an unknown name exits 0 when the plan is complete. */
START_TEST(test_advance_unknown_release_complete_plan)
{
	struct run r;

	walk(5);
	ck_assert_int_eq(X(&r, ADV " --release nope"), 2);
	same(r.err, "excon: unknown release 'nope'\n");
	tu_run_free(&r);
}
END_TEST

/*
 * check does not report a plan whose file was deleted when another plan
 * file whose path contains that plan's name fails to load (cmd-check.c
 * matches the name as a substring of the diagnostics' file names).
 */
START_TEST(test_check_deleted_plan_beside_broken_one)
{
	struct run r;
	char *path;

	tu_write(dir, "plans/users.yaml", "plan: users\nsteps: [{id: s, kind: "
	    "code}]\n");
	step("release start v1", NULL);
	step("advance users", "shipped users/s");
	path = xasprintf("%s/plans/users.yaml", dir);
	ck_assert_int_eq(unlink(path), 0);
	free(path);
	tu_write(dir, "plans/" PLAN ".yaml", "plan: " PLAN "\nsteps: [{id: a, "
	    "kind: code, tabel: x}]\n");
	ck_assert_int_eq(X(&r, "check"), 4);
	ck_assert_msg(tu_has(r.out, "plan users has shipped steps in the state "
	    "file but no plan file"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

/* log PLAN with a name no plan file and no event knows exits 0, silently. */
START_TEST(test_log_unknown_plan)
{
	struct run r;

	walk(1);
	ck_assert_int_eq(X(&r, "log no-such-plan"), 2);
	same(r.err, "excon: unknown plan 'no-such-plan'\n");
	tu_run_free(&r);
}
END_TEST

/*
 * Does what a careful forger does after editing or deleting events: drops
 * the triggers, recomputes every hash from the stored fields, and moves
 * the chain head to the newest event left.
 */
static void
rechain(const char *edit)
{
	struct state *st = NULL;
	struct state_event *ev = NULL;
	struct buf err = BUF_INIT, sql = BUF_INIT;
	char *path = xasprintf("%s/state/excon.db", dir), *out;
	char prev[65], h[65];
	size_t n = 0, i;

	out = sqlite("DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF "
	    "EXISTS events_no_delete");
	ck_assert_str_eq(out, "");
	free(out);
	out = sqlite(edit);
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert_msg(state_open(&st, path, 0, &err) == 0, "%s", buf_cstr(&err));
	ck_assert(state_events_load(st, NULL, NULL, &ev, &n, &err) == 0);
	state_close(st);
	memcpy(prev, STATE_GENESIS_HASH, 65);
	for (i = 0; i < n; i++) {
		state_event_hash(prev, &ev[i], h);
		buf_printf(&sql, "UPDATE events SET hash = '%s' WHERE id = %lld;", h,
		    (long long)ev[i].id);
		memcpy(prev, h, 65);
	}
	buf_printf(&sql, "UPDATE chain SET head_id = %lld, head_hash = '%s'",
	    n ? (long long)ev[n - 1].id : 0LL, prev);
	out = sqlite(buf_cstr(&sql));
	ck_assert_str_eq(out, "");
	free(out);
	state_events_free(ev, n);
	buf_free(&err);
	buf_free(&sql);
	free(path);
}

/* The head printed by log --head (owned, without the newline). */
static char *
head(void)
{
	struct run r;
	char *h;

	ck_assert_int_eq(X(&r, "log --head"), 0);
	ck_assert_uint_eq(strlen(r.out), 65);
	h = xstrndup(r.out, 64);
	tu_run_free(&r);
	return h;
}

/*
 * A ship row deleted behind excon's back: the chain is intact, but
 * log --verify and check find the row the log records and the file lacks.
 */
START_TEST(test_tamper_deleted_ship_row)
{
	struct run r;
	char *out;

	walk(2);
	out = sqlite("DELETE FROM ships WHERE step = 'dual-write'");
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert_int_eq(X(&r, "log --verify"), 4);
	same(r.out, "ship " PLAN "/dual-write shipped in v1 per the log (event 5) "
	    "but its row is missing\nthe history disagrees with its event log "
	    "in 1 place\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log --verify --format json"), 4);
	same(r.out, "{\"intact\":false,\"first_bad_event\":null,\"problems\":"
	    "[\"ship " PLAN "/dual-write shipped in v1 per the log (event 5) but "
	    "its row is missing\"]}\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "check"), 4);
	ck_assert_msg(tu_has(r.out, "ship " PLAN "/dual-write shipped in v1 per "
	    "the log (event 5) but its row is missing"), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

/*
 * An event edited and every hash recomputed: the chain verifies, but the
 * replay finds the ship the edit moved, and a head printed earlier finds
 * even an edit that changes no row.
 */
START_TEST(test_tamper_event_rehashed)
{
	struct run r;
	char *h;

	walk(3);
	h = head();
	rechain("UPDATE events SET release = 'v1' WHERE kind = 'advance' AND "
	    "step = 'switch-reads'");
	ck_assert_int_eq(X(&r, "log --verify"), 4);
	ck_assert_msg(tu_has(r.out, "ship " PLAN "/switch-reads is in release #2 "
	    "in its row but in v1 (#1) in the log (event 10)\n"), "%s", r.out);
	tu_run_free(&r);
	/* Put the release back; change only who did it. */
	rechain("UPDATE events SET release = 'v2', actor = 'mallory@x' WHERE "
	    "kind = 'advance' AND step = 'switch-reads'");
	ck_assert_int_eq(X(&r, "log --verify"), 0);
	same(r.out, "event log intact\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log --verify --since-head %s", h), 4);
	ck_assert_msg(starts(r.out, "no event carries head "), "%s", r.out);
	tu_run_free(&r);
	free(h);
}
END_TEST

/*
 * The newest events deleted and the head reset to the last one left: the
 * rows those events recorded have no event any more.
 */
START_TEST(test_tamper_tail_truncated)
{
	struct run r;
	char *h;

	walk(2);
	h = head();
	ck_assert_int_eq(X(&r, "log --verify --since-head %s", h), 0);
	same(r.out, "event log intact\n");
	tu_run_free(&r);
	rechain("DELETE FROM events WHERE id > 5");
	ck_assert_int_eq(X(&r, "log --verify"), 4);
	same(r.out, "release v1 (#1) is deployed in its row but started in the "
	    "log\nship " PLAN "/backfill (release #1) has a row but no event "
	    "records it\nthe history disagrees with its event log in 2 "
	    "places\n");
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "log --verify --since-head %s", h), 4);
	ck_assert_msg(tu_has(r.out, "no event carries head "), "%s", r.out);
	tu_run_free(&r);
	free(h);
}
END_TEST

/* Adds test as its own TCase (one behaviour each) to s. */
static void
add(Suite *s, const char *name, const TTest *test)
{
	tu_add(s, name, test, setup, teardown, 60);
}

/* Records a backfill's last progress report, updated_at seconds ago. */
static void
put_backfill(int64_t ago, const char *waiting)
{
	char *path = xasprintf("%s/state/excon.db", dir);
	struct state *st = NULL;
	struct buf err = BUF_INIT;
	struct state_backfill b = { .plan = (char *)PLAN, .step = (char *)"backfill",
	    .cursor = (char *)"(5444)", .rows_done = 5444, .rows_total = 20000,
	    .rate = 5632, .waiting = (char *)waiting };

	b.updated_at = 1767225600 - ago;
	b.waiting_since = waiting != NULL ? b.updated_at - 3 : 0;
	ck_assert_msg(state_open(&st, path, 0, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_msg(state_backfill_put(st, &b, &err) == 0, "%s", buf_cstr(&err));
	state_close(st);
	buf_free(&err);
	free(path);
}

/*
 * A backfill whose excon was killed while paused stops reporting: status
 * shows the pause while the run reports, and after 120 s of silence says
 * the run is not running, since when, what it waited for and how to
 * resume, with no pause or ETA growing forever.
 */
START_TEST(test_status_backfill_stopped_reporting)
{
	struct run r;

	walk(1);
	step("release finish v1", "release v1 deployed (#1)");
	put_backfill(30, "standby lags");
	ck_assert_int_eq(X(&r, "status " PLAN), 0);
	ck_assert_msg(tu_has(r.out, "  backfill paused since 2025-12-31T23:59:27Z (33 s), "
	    "waiting: standby lags\n") && tu_has(r.out, ", ETA 0:03 (as of ") &&
	    !tu_has(r.out, "not running"), "%s", r.out);
	tu_run_free(&r);
	put_backfill(402, "standby lags");
	ck_assert_int_eq(X(&r, "status " PLAN), 0);
	ck_assert_msg(tu_has(r.out, "  backfill: 5444 of ~20000 rows done, resumes after "
	    "key (5444)\n  backfill not running: no progress report since "
	    "2025-12-31T23:53:18Z (402 s); it was paused, waiting: standby lags\n"
	    "  resume it with: excon advance " PLAN "\n"), "%s", r.out);
	ck_assert_msg(!tu_has(r.out, "paused since") && !tu_has(r.out, "ETA"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(X(&r, "status " PLAN " --format json"), 0);
	ck_assert_msg(tu_has(r.out, "\"stopped\":true,\"rate\":5632,\"eta_s\":null,") &&
	    tu_has(r.out, "\"waiting\":\"standby lags\""), "%s", r.out);
	tu_run_free(&r);
	put_backfill(402, NULL);
	ck_assert_int_eq(X(&r, "status " PLAN), 0);
	ck_assert_msg(tu_has(r.out, "no progress report since 2025-12-31T23:53:18Z (402 s)\n"
	    "  resume it with: "), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

/* The command-line suite. */
static Suite *
cli_suite(void)
{
	Suite *s = suite_create("cli");

	add(s, "walkthrough", test_walkthrough);
	add(s, "walkthrough full", test_walkthrough_full);
	add(s, "status text", test_status_text);
	add(s, "status json", test_status_json);
	add(s, "release list", test_release_list);
	add(s, "log", test_log);
	add(s, "audit", test_audit);
	add(s, "compat", test_compat);
	add(s, "refusal untouched", test_refusal_leaves_state_untouched);
	add(s, "force with reason", test_force_with_reason);
	add(s, "force hard rule", test_force_never_passes_release_rule);
	add(s, "unknown flag", test_unknown_flag);
	add(s, "unknown command", test_unknown_command);
	add(s, "unknown plan", test_unknown_plan);
	add(s, "unknown release", test_unknown_release);
	add(s, "global options", test_global_options_anywhere);
	add(s, "global options everywhere", test_global_options_everywhere);
	add(s, "short version, did you mean", test_short_version_and_did_you_mean);
	add(s, "libpq loaded on connect only", test_libpq_loaded_on_connect_only);
	add(s, "no silent empty history", test_no_silent_empty_history);
	add(s, "help", test_help);
	add(s, "version", test_version);
	add(s, "db step needs database", test_db_step_needs_database);
	add(s, "runtime failure", test_runtime_failure_exit_1);
	add(s, "check", test_check);
	add(s, "check deleted plan", test_check_deleted_plan);
	add(s, "check broken plan", test_check_broken_plan);
	add(s, "audit fail-on", test_audit_fail_on);
	add(s, "log verify", test_log_verify_detects_edit);
	add(s, "garbage state", test_garbage_state_file);
	add(s, "newer state", test_newer_state_file);
	add(s, "corrupt state", test_corrupt_state_file);
	add(s, "state mode", test_new_state_file_mode);
	add(s, "read-only state", test_readonly_state_file);
	add(s, "empty or foreign state", test_empty_or_foreign_state_file_untouched);
	add(s, "concurrent advance", test_concurrent_advance);
	add(s, "concurrent release start", test_concurrent_release_start);
	add(s, "concurrent advance all", test_concurrent_advance_all);
	add(s, "dry run", test_dry_run);
	add(s, "advance all", test_advance_all_stages);
	add(s, "advance to", test_advance_to);
	add(s, "rollback code step", test_rollback_code_step);
	add(s, "rollback contract", test_rollback_contract_refused);
	add(s, "rollback json", test_rollback_json);
	add(s, "rollback github", test_rollback_github);
	add(s, "init", test_init);
	add(s, "lint sample", test_lint_sample_plan);
	add(s, "verify needs database", test_verify_needs_database);
	add(s, "new unknown template", test_new_unknown_template);
	add(s, "advance all dependencies", test_advance_all_follows_dependencies);
	add(s, "advance all nothing takes no lock", test_advance_all_nothing_takes_no_lock);
	add(s, "advance to shipped", test_advance_to_shipped_step);
	add(s, "advance runtime failure", test_advance_runtime_failure_exit_code);
	add(s, "advance unknown release", test_advance_unknown_release_complete_plan);
	add(s, "check deleted beside broken", test_check_deleted_plan_beside_broken_one);
	add(s, "log unknown plan", test_log_unknown_plan);
	add(s, "tamper: deleted ship row", test_tamper_deleted_ship_row);
	add(s, "tamper: event rehashed", test_tamper_event_rehashed);
	add(s, "tamper: tail truncated", test_tamper_tail_truncated);
	add(s, "status backfill stopped reporting", test_status_backfill_stopped_reporting);
	add(s, "advance --all sees a concurrent ship", test_all_sees_concurrent_ship);
	return s;
}

int
main(void)
{
	return tu_run_suite(cli_suite());
}
