/*
 * Crash safety, end to end: `excon advance` killed with SIGKILL at many
 * points of the sample plan, then run again until the plan is done.  After
 * every crash the plan must end exactly as after a walk without one: each
 * step applied once, recorded once, state file and ledger agreeing, the
 * data right, and `excon verify` finding no drift.
 *
 * Where to kill, deterministically.  Timing (kill after N ms) would hit
 * different points on every machine and could not say which one it hit.
 * Instead `excon advance` runs under gdb with breakpoints on the calls
 * through which it changes anything outside its own memory: PQexecParams
 * and PQexec (every SQL statement sent to PostgreSQL), PQprepare (named
 * "PREPARE name"), statements queued in a pipeline (PQsendQueryParams, and
 * PQsendQueryPrepared named "EXECUTE name": a kill there loses what the
 * pipeline queued before it), sqlite3_exec (BEGIN IMMEDIATE, COMMIT and
 * ROLLBACK of the state file) and PQfinish.  Each
 * call is an event; gdb counts them and sends SIGKILL before event k, so
 * killing before event k is exactly "everything up to event k-1 happened,
 * nothing after it did", including "the server committed but excon never
 * heard back".  excon loads libpq only when it connects, so the
 * breakpoints sit on src/pg.c's pq_<function> wrappers, one per libpq call
 * above, through which every such call goes (and on sqlite3_exec's PLT
 * entry); the production code has no test hook.  A reference walk run under gdb
 * without a kill lists the events of each advance; a kill point names an
 * event by its SQL text and occurrence, so that the table below reads as
 * the crash scenarios it covers, and the test checks that the killed run
 * stopped at that very statement.  Two more points kill excon while the
 * server holds it inside a step (waiting for a lock the test holds); the
 * backfill_resume case kills the walk of a 100,000-row backfill by its
 * progress, and rollback_killed a rollback after the server committed it.
 *
 * How "applied exactly once" is observed: the database has event triggers
 * logging every committed DDL command on the application's objects (an
 * `IF NOT EXISTS` no-op is logged too, so a rerun shows), and a row
 * trigger counting every update the backfill makes (the plan's backfill
 * has no `where`, so a redone batch would update its rows a second time).
 * The crash walks must log exactly what the walk without a crash logged.
 */
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/e2e.h"
#include "util/testutil.h"

#define PLAN "users-full-name"
#define ROWS 3000

/* The walk: releases and advances, as a release manager would run them. */
enum walk_kind { REL_START, REL_FINISH, ADVANCE };

static const struct walk_cmd {
	enum walk_kind	 kind;
	const char	*arg;		/* release name, or the step the advance ships */
} walk[] = {
	{ REL_START, "r1" },
	{ ADVANCE, "add-column" },
	{ ADVANCE, "dual-write" },
	{ REL_FINISH, "r1" },
	{ ADVANCE, "backfill" },
	{ REL_START, "r2" },
	{ ADVANCE, "switch-reads" },
	{ ADVANCE, "stop-old-writes" },
	{ REL_FINISH, "r2" },
	{ REL_START, "r3" },
	{ REL_FINISH, "r3" },
	{ REL_START, "r4" },
	{ REL_FINISH, "r4" },
	{ ADVANCE, "drop-name" },
};
#define NWALK (sizeof walk / sizeof walk[0])

/* Each step and the release it ships in. */
static const char *const shipped_in[][2] = {
	{ "add-column", "r1" }, { "dual-write", "r1" }, { "backfill", "r1" },
	{ "switch-reads", "r2" }, { "stop-old-writes", "r2" }, { "drop-name", "r4" },
};

/* What the advance run after the crash finds. */
enum rerun {
	RERUN_FRESH,	/* nothing committed: the step runs (a backfill resumes) */
	RERUN_LEDGER,	/* the database committed it: "already applied", recorded */
	RERUN_RECORDED,	/* the state file has it too: nothing left to do */
};

/*
 * The kill points: the advance of `step` is killed just before the nth
 * event whose text starts with `event` (a statement sent to PostgreSQL, a
 * state-file BEGIN IMMEDIATE/COMMIT, or PQfinish).
 */
static const struct kill_point {
	const char	*step;
	const char	*event;
	int		 nth;
	enum rerun	 rerun;
} points[] = {
	/* add_column: one transaction with its ledger row. */
	{ "add-column", "BEGIN IMMEDIATE", 1, RERUN_FRESH },
	{ "add-column", "SELECT pg_catalog.pg_try_advisory_lock", 1, RERUN_FRESH },
	{ "add-column", "BEGIN;SELECT pg_catalog.pg_advisory_xact_lock", 1, RERUN_FRESH },
	{ "add-column", "ALTER TABLE \"public\".\"users\" ADD COLUMN", 1, RERUN_FRESH },
	{ "add-column", "INSERT INTO excon.ledger", 1, RERUN_FRESH },
	{ "add-column", "COMMIT", 1, RERUN_FRESH },
	{ "add-column", "BEGIN IMMEDIATE", 2, RERUN_LEDGER },
	{ "add-column", "COMMIT", 2, RERUN_LEDGER },
	{ "add-column", "PQfinish", 1, RERUN_RECORDED },
	/* dual_write: function and trigger in one transaction. */
	{ "dual-write", "CREATE OR REPLACE FUNCTION", 1, RERUN_FRESH },
	{ "dual-write", "CREATE TRIGGER", 1, RERUN_FRESH },
	{ "dual-write", "COMMIT", 1, RERUN_FRESH },
	{ "dual-write", "BEGIN IMMEDIATE", 2, RERUN_LEDGER },
	/*
	 * backfill: batches of 500, 1000, 1500 rows, each one transaction
	 * sent in one pipeline (the batch statement, which saves the cursor
	 * and updates, then the read-back of the cursor), a fourth that finds
	 * no key left, then the ledger and verify.  Killed while a batch is
	 * queued, the rerun redoes it; killed after the server committed it
	 * but before the state file mirrored it, the rerun resumes after it.
	 */
	{ "backfill", "SELECT to_regclass($1)", 1, RERUN_FRESH },
	{ "backfill", "BEGIN;SELECT pg_catalog.pg_advisory_xact_lock", 1, RERUN_FRESH },
	{ "backfill", "PREPARE excon_backfill_first", 1, RERUN_FRESH },
	{ "backfill", "EXECUTE excon_backfill_first", 1, RERUN_FRESH },
	{ "backfill", "EXECUTE excon_backfill_cursor", 1, RERUN_FRESH },
	{ "backfill", "BEGIN IMMEDIATE", 2, RERUN_FRESH },
	{ "backfill", "EXECUTE excon_backfill_next", 1, RERUN_FRESH },
	{ "backfill", "EXECUTE excon_backfill_cursor", 2, RERUN_FRESH },
	{ "backfill", "EXECUTE excon_backfill_next", 2, RERUN_FRESH },
	{ "backfill", "EXECUTE excon_backfill_next", 3, RERUN_FRESH },
	{ "backfill", "UPDATE excon.backfill SET finished", 1, RERUN_FRESH },
	{ "backfill", "INSERT INTO excon.ledger", 1, RERUN_FRESH },
	{ "backfill", "BEGIN READ ONLY", 1, RERUN_LEDGER },
	{ "backfill", "SELECT count(*) = 0 FROM users", 1, RERUN_LEDGER },
	/* The lock-watch session closes first, then the step's own. */
	{ "backfill", "PQfinish", 1, RERUN_FRESH },
	{ "backfill", "PQfinish", 2, RERUN_RECORDED },
	/* Steps without SQL: only the state file. */
	{ "switch-reads", "COMMIT", 1, RERUN_FRESH },
	{ "stop-old-writes", "BEGIN IMMEDIATE", 1, RERUN_FRESH },
	/* drop_column: the sync trigger and the column in one transaction. */
	{ "drop-name", "DO $excon$", 1, RERUN_FRESH },
	{ "drop-name", "ALTER TABLE IF EXISTS", 1, RERUN_FRESH },
	{ "drop-name", "COMMIT", 1, RERUN_FRESH },
	{ "drop-name", "BEGIN IMMEDIATE", 2, RERUN_LEDGER },
	{ "drop-name", "PQfinish", 1, RERUN_RECORDED },
};
#define NPOINTS (sizeof points / sizeof points[0])

/*
 * The sample plan with its backfill's `where` replaced by the lines in
 * extra: without `where` every row is rewritten, so a redone batch shows
 * as a second update of its rows.
 */
static char *
plan_without_where(const char *extra)
{
	char *path = xasprintf("%s/../plans", tu_tests_dir());
	char *text = tu_read(path, "users-full-name.yaml", NULL);
	const char *where = "    where: full_name IS NULL\n";
	char *at;
	struct buf b = BUF_INIT;

	ck_assert_ptr_nonnull(text);
	at = strstr(text, where);
	ck_assert_ptr_nonnull(at);
	buf_add(&b, text, (size_t)(at - text));
	buf_puts(&b, extra);
	buf_puts(&b, at + strlen(where));
	free(text);
	free(path);
	return buf_detach(&b);
}

/* On the users table: the log of committed DDL and the counter of the backfill's updates. */
static const char schema_sql[] =
    "CREATE TABLE ddl_log (tag text, obj text);"
    "CREATE FUNCTION log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$"
    " DECLARE r record; BEGIN"
    "  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP"
    "   INSERT INTO public.ddl_log VALUES (r.command_tag, r.object_identity);"
    "  END LOOP; END $$;"
    "CREATE EVENT TRIGGER log_ddl ON ddl_command_end EXECUTE FUNCTION log_ddl();"
    "CREATE FUNCTION log_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$"
    " DECLARE r record; BEGIN"
    "  FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP"
    "   INSERT INTO public.ddl_log VALUES ('DROP ' || r.object_type, r.object_identity);"
    "  END LOOP; END $$;"
    "CREATE EVENT TRIGGER log_drop ON sql_drop EXECUTE FUNCTION log_drop();"
    "CREATE TABLE hits (id bigint, pid int);"
    "CREATE FUNCTION count_hit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  IF current_setting('application_name') LIKE 'excon %' THEN"
    "   INSERT INTO public.hits VALUES (NEW.id, pg_backend_pid());"
    "  END IF; RETURN NEW; END $$;"
    "CREATE TRIGGER count_hit AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION count_hit();"
    "TRUNCATE ddl_log";

/* The committed DDL on the application's objects, one "tag object xN" line each. */
static const char ddl_summary_sql[] =
    "SELECT coalesce(string_agg(tag || ' ' || obj || ' x' || n, E'\\n' ORDER BY tag, obj), '')"
    " FROM (SELECT tag, coalesce(obj, '') AS obj, count(*) AS n FROM ddl_log"
    "  WHERE obj IS DISTINCT FROM 'excon' AND obj NOT LIKE 'excon.%' GROUP BY 1, 2) s";

/* What the walk without a crash left: the snapshots each kill starts from. */
struct ref {
	struct e2e	 e;
	char		*snap[NWALK];	/* state directory before walk[i] (advances only) */
	char		*tpl[NWALK];	/* template database before walk[i] */
	char		**events[NWALK]; /* the events of walk[i] (advances only) */
	size_t		 nevents[NWALK];
	char		*ddl;		/* ddl_summary_sql after the walk */
};

/* The register holding a function's second argument at its first instruction. */
#if defined(__x86_64__)
#define ARG2_REG "$rsi"
#elif defined(__aarch64__)
#define ARG2_REG "$x1"
#else
#define ARG2_REG NULL
#endif

/* The gdb script: counts events, prints each, kills before event k (0 = never). */
static void
gdb_script(const char *dir, int k)
{
	/* Each call and what its event is named by: the SQL, or the statement name. */
	static const struct { const char *fn, *prefix; } fns[] = {
		{ "pq_PQexecParams", "" }, { "pq_PQexec", "" }, { "sqlite3_exec", "" },
		{ "pq_PQprepare", "PREPARE " },
		{ "pq_PQsendQueryParams", "" }, { "pq_PQsendQueryPrepared", "EXECUTE " },
	};
	struct buf s = BUF_INIT;
	size_t i;

	buf_printf(&s, "set pagination off\nset confirm off\n"
	    "set disable-randomization off\n"
	    "set $n = 0\nset $k = %d\n"
	    "define excon_event\n"
	    "  set $n = $n + 1\n"
	    "  if $n == $k\n"
	    "    printf \"@@kill %%d\\n\", $n\n"
	    "    signal SIGKILL\n"
	    "  end\n"
	    "  continue\n"
	    "end\n", k);
	/* At each function's entry: the second argument is the SQL text. */
	ck_assert_msg(ARG2_REG != NULL, "the crash points need x86-64 or aarch64");
	for (i = 0; i < sizeof fns / sizeof fns[0]; i++)
		buf_printf(&s, "break *%s\ncommands\n  silent\n"
		    "  printf \"@@ev %%d %s%%s\\n\", $n + 1, (char *) %s\n"
		    "  excon_event\nend\n", fns[i].fn, fns[i].prefix, ARG2_REG);
	buf_puts(&s, "break *pq_PQfinish\ncommands\n  silent\n"
	    "  printf \"@@ev %d PQfinish\\n\", $n + 1\n  excon_event\nend\nrun\n");
	tu_write(dir, "kill.gdb", buf_cstr(&s));
	buf_free(&s);
}

/* Runs `excon CMD PLAN --db ci` in dir under gdb, killing before event k. */
static void
gdb_excon(const char *dir, const char *cmd, const char *ci, int k, struct run *r)
{
	const char *bin = getenv("EXCON_BIN");
	const char *av[] = {
		"gdb", "-nx", "-batch", "-readnever", "-iex", "set auto-solib-add off",
		"-x", "kill.gdb", "--args", bin ? bin : "excon", cmd, PLAN, "--db", ci, NULL,
	};
	struct tu_proc p;

	gdb_script(dir, k);
	ck_assert_msg(tu_proc_start(&p, dir, NULL, av) > 0, "cannot start gdb");
	if (tu_proc_wait(&p, r, 60000) < 0) {
		tu_proc_kill(&p, SIGKILL);
		tu_proc_wait(&p, r, -1);
		ck_abort_msg("excon under gdb did not end:\n%s\n%s", r->out, r->err);
	}
}

/* Runs `excon advance PLAN --db ci` in dir under gdb, killing before event k. */
static void
gdb_advance(const char *dir, const char *ci, int k, struct run *r)
{
	gdb_excon(dir, "advance", ci, k, r);
}

/* The event lines ("@@ev N text": first line of the text) of a gdb run. */
static char **
events_of(const char *out, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;
	const char *p = out;

	*n = 0;
	while ((p = strstr(p, "@@ev ")) != NULL) {
		const char *t = strchr(p + 5, ' ');

		ck_assert_ptr_nonnull(t);
		t++;
		XGROW(v, cap, *n + 2);
		v[(*n)++] = xstrndup(t, strcspn(t, "\n"));
		v[*n] = NULL;
		p = t;
	}
	return v;
}

/* Creates database name as a copy of template (waiting for its sessions to end). */
static char *
copy_db(const char *name, const char *template)
{
	char *drop = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	char *q = xasprintf("CREATE DATABASE %s TEMPLATE %s", name, template);
	char *wait = xasprintf("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'",
	    template);

	free(pt_sql(tu_pg(), drop));
	e2e_wait_sql(tu_pg(), wait, "0", 20000);
	free(pt_sql(tu_pg(), q));
	free(drop);
	free(q);
	free(wait);
	return xasprintf("%s dbname=%s", tu_pg(), name);
}

/* Copies the state directory of dir from src (a snapshot directory). */
static void
copy_state(const char *src, const char *dir)
{
	struct run r;

	ck_assert_int_eq(tu_sh(&r, NULL, "rm -rf '%s/state' && cp -a '%s' '%s/state'",
	    dir, src, dir), 0);
	tu_run_free(&r);
}

/* Runs walk[i], asserting that it did what it says. */
static void
walk_run(struct e2e *e, size_t i)
{
	char *out;

	if (walk[i].kind == ADVANCE) {
		char *want = xasprintf("shipped %s/%s ", PLAN, walk[i].arg);

		out = e2e_ok(e, 1, "advance", PLAN, NULL);
		ck_assert_msg(tu_has(out, want), "want '%s' in: %s", want, out);
		free(want);
	} else
		out = e2e_ok(e, 0, "release", walk[i].kind == REL_START ? "start" : "finish",
		    walk[i].arg, NULL);
	free(out);
}

/* 1 when step is shipped according to excon status. */
static int
is_shipped(struct e2e *e, const char *step)
{
	char *out = e2e_ok(e, 0, "status", PLAN, "--format", "json", NULL);
	char *v = e2e_json_get(out, "id", step, "status");
	int yes = v != NULL && strcmp(v, "shipped") == 0;

	free(v);
	free(out);
	return yes;
}

/* Sets up the reference project, its database and the users table. */
static void
ref_setup(struct ref *rf)
{
	/* Batches that double every time whatever their speed: 500, 1000, 1500. */
	char *plan = plan_without_where("    batch_size: 500\n    target_batch_ms: 600000\n");

	memset(rf, 0, sizeof *rf);
	/*
	 * The usage probe (rule 9) only reads, on a connection of its own;
	 * off, the kill points name the calls of the steps themselves.
	 */
	e2e_setup(&rf->e, "crash_ref", "probe: off\n");
	e2e_plan(&rf->e, PLAN ".yaml", plan);
	free(plan);
	e2e_users(rf->e.ci, ROWS);
	free(pt_sql(rf->e.ci, schema_sql));
}

/*
 * The walk without a crash: before each advance, snapshots the state
 * directory and the database; runs the advances under gdb (without a kill)
 * when record is set, to list their events.
 */
static void
ref_walk(struct ref *rf, int record)
{
	size_t i;

	ref_setup(rf);
	for (i = 0; i < NWALK; i++) {
		struct run r;

		if (walk[i].kind != ADVANCE) {
			walk_run(&rf->e, i);
			continue;
		}
		rf->snap[i] = xasprintf("%s/snap%zu", rf->e.dir, i);
		ck_assert_int_eq(tu_sh(&r, NULL, "cp -a '%s/state' '%s'", rf->e.dir, rf->snap[i]), 0);
		tu_run_free(&r);
		rf->tpl[i] = xasprintf("crash_tpl%zu", i);
		free(copy_db(rf->tpl[i], rf->e.db));
		if (!record) {
			walk_run(&rf->e, i);
			continue;
		}
		gdb_advance(rf->e.dir, rf->e.ci, 0, &r);
		ck_assert_msg(tu_has(r.out, "shipped " PLAN "/") && tu_has(r.out, walk[i].arg),
		    "the reference advance of %s failed:\n%s\n%s", walk[i].arg, r.out, r.err);
		rf->events[i] = events_of(r.out, &rf->nevents[i]);
		ck_assert_msg(rf->nevents[i] >= 3, "no events seen for %s (is gdb working?):\n%s\n%s",
		    walk[i].arg, r.out, r.err);
		tu_run_free(&r);
	}
	rf->ddl = pt_sql(rf->e.ci, ddl_summary_sql);
	/* The log sees what it must: one ADD COLUMN, one trigger, one DROP COLUMN. */
	ck_assert_msg(tu_has(rf->ddl, "ALTER TABLE public.users x2\n"), "%s", rf->ddl);
	ck_assert_msg(tu_has(rf->ddl, "CREATE TRIGGER excon_sync_name_full_name on public.users x1"),
	    "%s", rf->ddl);
	ck_assert_msg(tu_has(rf->ddl, "DROP table column public.users.name x1"), "%s", rf->ddl);
}

/* Drops the snapshots and the reference. */
static void
ref_free(struct ref *rf)
{
	size_t i, j;

	for (i = 0; i < NWALK; i++) {
		if (rf->tpl[i] != NULL) {
			char *q = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", rf->tpl[i]);

			free(pt_sql(tu_pg(), q));
			free(q);
		}
		for (j = 0; j < rf->nevents[i]; j++)
			free(rf->events[i][j]);
		free(rf->events[i]);
		free(rf->snap[i]);
		free(rf->tpl[i]);
	}
	free(rf->ddl);
	e2e_free(&rf->e);
}

/* The walk index of the advance that ships step. */
static size_t
walk_index(const char *step)
{
	size_t i;

	for (i = 0; i < NWALK; i++)
		if (walk[i].kind == ADVANCE && strcmp(walk[i].arg, step) == 0)
			return i;
	ck_abort_msg("no advance of '%s' in the walk", step);
	return 0;
}

/* A trial project: the reference's plan and config, the state and database before walk[i]. */
static void
trial_setup(struct e2e *t, const struct ref *rf, size_t i, const char *db)
{
	struct run r;

	memset(t, 0, sizeof *t);
	t->db = xstrdup(db);
	t->ci = copy_db(db, rf->tpl[i]);
	t->dir = tu_tmpdir();
	ck_assert_int_eq(tu_sh(&r, NULL, "cp -a '%s/excon.yaml' '%s/plans' '%s/'",
	    rf->e.dir, rf->e.dir, t->dir), 0);
	tu_run_free(&r);
	copy_state(rf->snap[i], t->dir);
}

/*
 * After the crash, before anything else: `excon verify` reports the step
 * the database applied and the state file does not count, and nothing
 * else (a half-done backfill is not drift: its step is not shipped).
 */
static void
trial_verify(struct e2e *t, const char *step, enum rerun expect, const char *ctx)
{
	struct run r;
	int rc = e2e_run(t, &r, 1, "verify", NULL);

	if (expect == RERUN_LEDGER) {
		char *want = xasprintf("drift: %s/%s: applied on the database (excon.ledger) but"
		    " not shipped in the state file", PLAN, step);

		ck_assert_msg(rc == 4 && tu_has(r.out, want) && e2e_lines_with(r.out, "drift: ") == 1,
		    "%s: verify exited %d:\n%s%s", ctx, rc, r.out, r.err);
		free(want);
	} else
		ck_assert_msg(rc == 0 && tu_has(r.out, "the database matches the state"),
		    "%s: verify exited %d:\n%s%s", ctx, rc, r.out, r.err);
	tu_run_free(&r);
}

/*
 * Runs the rest of the walk from walk[from], whose advance was killed, and
 * checks that the rerun found what the kill point says.
 */
static void
trial_finish(struct e2e *t, size_t from, enum rerun expect, const char *ctx)
{
	size_t i;

	for (i = from; i < NWALK; i++) {
		struct run r;

		if (walk[i].kind != ADVANCE || i != from) {
			walk_run(t, i);
			continue;
		}
		if (is_shipped(t, walk[i].arg)) {
			ck_assert_msg(expect == RERUN_RECORDED, "%s: the state file already "
			    "has %s after the crash", ctx, walk[i].arg);
			continue;
		}
		ck_assert_msg(expect != RERUN_RECORDED, "%s: the state file lost %s",
		    ctx, walk[i].arg);
		ck_assert_msg(e2e_run(t, &r, 1, "advance", PLAN, NULL) == 0,
		    "%s: the advance after the crash failed:\n%s%s", ctx, r.out, r.err);
		ck_assert_msg(tu_has(r.out, walk[i].arg) && tu_has(r.out, "shipped"),
		    "%s: %s", ctx, r.out);
		ck_assert_msg(tu_has(r.out, "was already applied (found in the excon.ledger table)") ==
		    (expect == RERUN_LEDGER), "%s: after the crash: %s", ctx, r.out);
		tu_run_free(&r);
	}
}

/* The plan ended exactly as after the walk without a crash. */
static void
trial_check(struct e2e *t, const struct ref *rf, const char *ctx)
{
	struct run r;
	char *out, *v;
	size_t i;

	/* The state file: each step shipped once, in its release. */
	out = e2e_ok(t, 0, "status", PLAN, "--format", "json", NULL);
	ck_assert_msg(e2e_count(out, "\"status\":\"shipped\"") == 6, "%s: %s", ctx, out);
	for (i = 0; i < 6; i++) {
		v = e2e_json_get(out, "id", shipped_in[i][0], "release");
		ck_assert_msg(v != NULL && strcmp(v, shipped_in[i][1]) == 0,
		    "%s: %s shipped in %s", ctx, shipped_in[i][0], v ? v : "(none)");
		free(v);
	}
	free(out);
	out = e2e_ok(t, 0, "log", PLAN, "--format", "json", NULL);
	for (i = 0; i < 6; i++) {
		char *ev = xasprintf("\"kind\":\"advance\",\"plan\":\"%s\",\"step\":\"%s\"",
		    PLAN, shipped_in[i][0]);

		ck_assert_msg(e2e_count(out, ev) == 1, "%s: %d advance events for %s", ctx,
		    e2e_count(out, ev), shipped_in[i][0]);
		free(ev);
	}
	ck_assert_msg(!tu_has(out, "\"kind\":\"failed\""), "%s: %s", ctx, out);
	free(out);
	out = e2e_ok(t, 0, "log", "--verify", NULL);
	free(out);

	/* The ledger agrees: one row per database step. */
	v = pt_sql(t->ci, "SELECT string_agg(step, ',' ORDER BY step) FROM excon.ledger");
	ck_assert_msg(strcmp(v, "add-column,backfill,drop-name,dual-write") == 0,
	    "%s: ledger %s", ctx, v);
	free(v);

	/* Applied exactly once: the same DDL as without a crash, one update per row. */
	v = pt_sql(t->ci, ddl_summary_sql);
	ck_assert_msg(strcmp(v, rf->ddl) == 0, "%s: committed DDL\n%s\nwithout a crash\n%s",
	    ctx, v, rf->ddl);
	free(v);
	v = pt_sql(t->ci, "SELECT count(*) || ' ' || count(DISTINCT id) FROM hits");
	ck_assert_msg(strcmp(v, "3000 3000") == 0, "%s: backfill updates (all, rows): %s", ctx, v);
	free(v);

	/* The data. */
	pt_sql_eq(t->ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM 'u' || id", "0");
	pt_sql_eq(t->ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'users' AND column_name = 'name'", "0");
	ck_assert_msg(e2e_run(t, &r, 1, "verify", NULL) == 0 &&
	    tu_has(r.out, "the database matches the state"), "%s: %s%s", ctx, r.out, r.err);
	tu_run_free(&r);
}

START_TEST(test_kill_at_every_point)
{
	struct ref rf;
	struct run r;
	size_t k;

	ck_assert_msg(tu_sh(&r, NULL, "command -v gdb") == 0,
	    "gdb is needed to stop excon at exact points (apt-get install gdb)");
	tu_run_free(&r);
	ref_walk(&rf, 1);
	for (k = 0; k < NPOINTS; k++) {
		const struct kill_point *kp = &points[k];
		size_t i = walk_index(kp->step), j;
		int seen = 0, ev = 0;
		char *ctx, *marker;
		struct e2e t;

		/* The event the kill point names, in the reference run. */
		for (j = 0; j < rf.nevents[i] && ev == 0; j++)
			if (strncmp(rf.events[i][j], kp->event, strlen(kp->event)) == 0 &&
			    ++seen == kp->nth)
				ev = (int)j + 1;
		ctx = xasprintf("kill %s before '%s' #%d (event %d)", kp->step, kp->event, kp->nth, ev);
		ck_assert_msg(ev > 0, "%s: no such event in the reference run", ctx);

		trial_setup(&t, &rf, i, "crash_trial");
		gdb_advance(t.dir, t.ci, ev, &r);
		marker = xasprintf("@@kill %d\n", ev);
		ck_assert_msg(tu_has(r.out, marker) &&
		    tu_has(r.out, "Program terminated with signal SIGKILL"),
		    "%s: excon was not killed there:\n%s\n%s", ctx, r.out, r.err);
		free(marker);
		/* Killed at the very statement the point names (the walk is deterministic). */
		{
			size_t n;
			char **got = events_of(r.out, &n);

			ck_assert_msg(n == (size_t)ev && strcmp(got[n - 1], rf.events[i][ev - 1]) == 0,
			    "%s: the run reached '%s' instead", ctx, n ? got[n - 1] : "");
			for (j = 0; j < n; j++)
				free(got[j]);
			free(got);
		}
		tu_run_free(&r);
		e2e_wait_no_excon(&t);
		trial_verify(&t, kp->step, kp->rerun, ctx);

		trial_finish(&t, i, kp->rerun, ctx);
		trial_check(&t, &rf, ctx);
		e2e_free(&t);
		free(ctx);
	}
	ck_assert_int_ge(NPOINTS, 20);
	ref_free(&rf);
}
END_TEST

START_TEST(test_kill_while_waiting_for_a_lock)
{
	static const char *const steps[] = { "add-column", "drop-name" };
	struct ref rf;
	size_t k;

	ref_walk(&rf, 0);
	for (k = 0; k < 2; k++) {
		size_t i = walk_index(steps[k]);
		char *ctx = xasprintf("kill %s while it waits for its lock", steps[k]);
		char *app = xasprintf("SELECT count(*) FROM pg_stat_activity WHERE application_name"
		    " = 'excon %s/%s' AND wait_event_type = 'Lock'", PLAN, steps[k]);
		const char *av[] = { "advance", PLAN, "--db", NULL, NULL };
		struct tu_proc p;
		struct pg *holder = NULL;
		struct buf err = BUF_INIT;
		struct run r;
		struct e2e t;

		trial_setup(&t, &rf, i, "crash_lock");
		/* A long report holds the table: the step's ALTER waits inside its transaction. */
		ck_assert(pg_connect(&holder, t.ci, "report", &err) == 0);
		ck_assert(pg_exec_script(holder, "BEGIN; SELECT count(*) FROM users", NULL, &err) == 0);
		av[3] = t.ci;
		ck_assert(tu_proc_excon(&p, t.dir, NULL, av) > 0);
		e2e_wait_sql(t.ci, app, "1", 10000);
		tu_proc_kill(&p, SIGKILL);
		ck_assert_int_eq(tu_proc_wait(&p, &r, 10000), 128 + SIGKILL);
		tu_run_free(&r);
		ck_assert(pg_exec(holder, "COMMIT", 0, NULL, NULL, &err) == 0);
		pg_close(holder);
		e2e_wait_no_excon(&t);
		/* Nothing of the step survived the kill. */
		pt_sql_eq(t.ci, "SELECT count(*) FROM excon.ledger WHERE step IN ('add-column', 'drop-name')",
		    k == 0 ? "0" : "1");
		trial_verify(&t, steps[k], RERUN_FRESH, ctx);

		trial_finish(&t, i, RERUN_FRESH, ctx);
		trial_check(&t, &rf, ctx);
		e2e_free(&t);
		buf_free(&err);
		free(app);
		free(ctx);
	}
	ref_free(&rf);
}
END_TEST

/* The number after prefix in text, or -1. */
static long long
number_after(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);

	return p == NULL ? -1 : atoll(p + strlen(prefix));
}

START_TEST(test_backfill_resumes_after_kill)
{
	struct e2e e;
	struct e2e_client old;
	struct tu_proc p;
	struct run r;
	char *plan, *out, *q, *killed, *want;
	long long done, cursor, shown, rows;
	const char *av[] = { "advance", PLAN, "--db", NULL, NULL };

	e2e_setup(&e, "crash_resume", NULL);
	plan = plan_without_where("    batch_size: 1000\n    target_batch_ms: 50\n    pause_ms: 20\n");
	e2e_plan(&e, PLAN ".yaml", plan);
	free(plan);
	e2e_users(e.ci, 100000);
	free(pt_sql(e.ci, schema_sql));
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", PLAN, "--to", "dual-write", NULL));
	free(e2e_ok(&e, 0, "release", "finish", "r1", NULL));

	/* Old code keeps writing name (the trigger fills full_name) throughout. */
	e2e_client_start(&e, &old, "old", e2e_old_sql());

	/* The backfill, killed -9 once 30,000 rows are committed. */
	av[3] = e.ci;
	ck_assert(tu_proc_excon(&p, e.dir, NULL, av) > 0);
	e2e_wait_sql(e.ci, "SELECT count(*) FROM pg_stat_activity"
	    " WHERE application_name = 'excon users-full-name/backfill'", "1", 10000);
	killed = pt_sql(e.ci, "SELECT pid FROM pg_stat_activity"
	    " WHERE application_name = 'excon users-full-name/backfill'");
	/*
	 * The table first: a statement naming it fails to parse until the
	 * backfill has created it, whatever an AND in front of it says.
	 */
	e2e_wait_sql(e.ci, "SELECT to_regclass('excon.backfill') IS NOT NULL", "t", 30000);
	e2e_wait_sql(e.ci, "SELECT coalesce(max(rows_done), 0) >= 30000 FROM excon.backfill",
	    "t", 30000);
	tu_proc_kill(&p, SIGKILL);
	ck_assert_int_eq(tu_proc_wait(&p, &r, 10000), 128 + SIGKILL);
	tu_run_free(&r);
	e2e_wait_no_excon(&e);

	/* The saved cursor: the rows up to it were updated once, by the killed run; none after. */
	done = e2e_num(e.ci, "SELECT rows_done FROM excon.backfill");
	cursor = e2e_num(e.ci, "SELECT cursor[1] FROM excon.backfill");
	ck_assert_msg(done >= 30000 && done < 100000, "killed too late: %lld rows done", done);
	ck_assert_int_eq(cursor, done);
	pt_sql_eq(e.ci, "SELECT finished FROM excon.backfill", "f");
	q = xasprintf("SELECT count(*) = %lld AND count(DISTINCT id) = %lld AND max(id) = %lld"
	    " AND bool_and(pid = %s) FROM hits", done, done, cursor, killed);
	pt_sql_eq(e.ci, q, "t");
	free(q);

	/* status shows the interrupted progress (mirrored after each batch). */
	out = e2e_ok(&e, 0, "status", PLAN, NULL);
	shown = number_after(out, "  backfill: ");
	ck_assert_msg(shown > 0 && shown <= done && done - shown <= 20000,
	    "status shows %lld rows done, the database %lld:\n%s", shown, done, out);
	want = xasprintf(" of ~100000 rows done, resumes after key (%lld)\n", shown);
	ck_assert_msg(tu_has(out, want), "want '%s' in:\n%s", want, out);
	free(want);
	ck_assert_msg(tu_has(out, "  > backfill "), "%s", out);
	free(out);
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	want = xasprintf("\"backfill\":{\"rows_done\":%lld,\"rows_total\":100000,\"cursor\":\"(%lld)\",",
	    shown, shown);
	ck_assert_msg(tu_has(out, want), "want '%s' in:\n%s", want, out);
	free(want);
	free(out);

	/* advance resumes from the saved cursor while old code still writes. */
	ck_assert_int_eq(e2e_run(&e, &r, 1, "advance", PLAN, NULL), 0);
	ck_assert_msg(tu_has(r.out, "shipped users-full-name/backfill (backfill, post) in r1 (#1)"),
	    "%s", r.out);
	ck_assert_msg(!tu_has(r.out, "already applied"), "%s", r.out);
	tu_run_free(&r);
	e2e_client_running(&old, "the end of the backfill");
	e2e_client_ran(&e, &old);
	e2e_client_stop(&e, &old);

	/* No batch before the cursor was redone; every row after it was done once, by the resumed run. */
	q = xasprintf("SELECT count(*) FROM hits WHERE (id <= %lld) <> (pid = %s)", cursor, killed);
	pt_sql_eq(e.ci, q, "0");
	free(q);
	pt_sql_eq(e.ci, "SELECT count(*) FROM (SELECT id FROM hits GROUP BY id HAVING count(*) > 1) d", "0");
	pt_sql_eq(e.ci, "SELECT count(*) FROM users u WHERE id <= 100000"
	    " AND NOT EXISTS (SELECT 1 FROM hits h WHERE h.id = u.id)", "0");

	/* The data: rows inserted by old code during the backfill are right too. */
	rows = e2e_num(e.ci, "SELECT count(*) FROM users");
	ck_assert_int_eq(rows, 100000 + old.tx);
	ck_assert_int_gt(e2e_num(e.ci, "SELECT count(*) FROM users WHERE id > 100000"), 0);
	pt_sql_eq(e.ci, "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name", "0");

	/* Recorded once, in the state file and the ledger; no drift. */
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	want = e2e_json_get(out, "id", "backfill", "status");
	ck_assert_str_eq(want, "shipped");
	free(want);
	ck_assert_msg(!tu_has(out, "\"backfill\":{"), "%s", out);
	free(out);
	out = e2e_ok(&e, 0, "log", PLAN, "--format", "json", NULL);
	ck_assert_int_eq(e2e_count(out, "\"kind\":\"advance\",\"plan\":\"" PLAN "\",\"step\":\"backfill\""), 1);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.ledger WHERE step = 'backfill'", "1");
	out = e2e_ok(&e, 1, "verify", NULL);
	ck_assert_msg(tu_has(out, "the database matches the state"), "%s", out);
	free(out);
	free(killed);
	e2e_free(&e);
}
END_TEST

/*
 * The number of the event right after the first event starting with
 * `then` that follows one starting with `first`, in a gdb run's output;
 * 0 when there is none.
 */
static int
event_after(const char *out, const char *first, const char *then)
{
	size_t n, j;
	char **v = events_of(out, &n);
	int ev = 0, stage = 0;

	for (j = 0; j < n; j++) {
		if (ev == 0 && stage == 0 && strncmp(v[j], first, strlen(first)) == 0)
			stage = 1;
		else if (ev == 0 && stage == 1 && strncmp(v[j], then, strlen(then)) == 0)
			ev = (int)j + 2;
		free(v[j]);
	}
	free(v);
	return ev <= (int)n ? ev : 0;
}

START_TEST(test_rollback_killed_after_commit)
{
	struct e2e e, t;
	struct run r;
	char *plan, *out, *v;
	int ev;

	/* add-column with a `down` as people write it: not idempotent. */
	e2e_setup(&e, "crash_rb_ref", NULL);
	plan = plan_without_where("    where: full_name IS NULL\n");
	{
		char *at = strstr(plan, "    note: nothing changes in the code yet\n");
		struct buf b = BUF_INIT;

		ck_assert_ptr_nonnull(at);
		buf_add(&b, plan, (size_t)(at - plan));
		buf_puts(&b, "    down: ALTER TABLE users DROP COLUMN full_name\n");
		buf_puts(&b, at);
		e2e_plan(&e, PLAN ".yaml", buf_cstr(&b));
		buf_free(&b);
	}
	free(plan);
	e2e_users(e.ci, 100);
	free(e2e_ok(&e, 0, "release", "start", "r1", NULL));
	free(e2e_ok(&e, 1, "advance", PLAN, NULL));

	/* Where the rollback commits on the server, from a run without a kill on a copy. */
	memset(&t, 0, sizeof t);
	t.db = xstrdup("crash_rb");
	t.ci = copy_db(t.db, e.db);
	t.dir = tu_tmpdir();
	ck_assert_int_eq(tu_sh(&r, NULL, "cp -a '%s/.' '%s/'", e.dir, t.dir), 0);
	tu_run_free(&r);
	gdb_excon(t.dir, "rollback", t.ci, 0, &r);
	ck_assert_msg(tu_has(r.out, "rolled back " PLAN "/add-column"), "%s\n%s", r.out, r.err);
	/* Right after the server's COMMIT of the down and the ledger row's deletion. */
	ev = event_after(r.out, "DELETE FROM excon.ledger", "COMMIT");
	ck_assert_int_gt(ev, 0);
	tu_run_free(&r);
	e2e_free(&t);

	/* Killed after the server committed the down, before the state file heard of it. */
	gdb_excon(e.dir, "rollback", e.ci, ev, &r);
	ck_assert_msg(tu_has(r.out, "Program terminated with signal SIGKILL"), "%s", r.out);
	tu_run_free(&r);
	e2e_wait_no_excon(&e);
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'users' AND column_name = 'full_name'", "0");
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	v = e2e_json_get(out, "id", "add-column", "status");
	ck_assert_str_eq(v, "shipped");
	free(v);
	free(out);

	/* Rolling back again records it without running the down a second time. */
	ck_assert_msg(e2e_run(&e, &r, 1, "rollback", PLAN, NULL) == 0, "%s%s", r.out, r.err);
	ck_assert_msg(tu_has(r.out, "rolled back " PLAN "/add-column (its down SQL had run in an"
	    " earlier, interrupted rollback)"), "%s", r.out);
	tu_run_free(&r);
	out = e2e_ok(&e, 0, "status", PLAN, "--format", "json", NULL);
	v = e2e_json_get(out, "id", "add-column", "status");
	ck_assert_str_eq(v, "pending");
	free(v);
	free(out);
	pt_sql_eq(e.ci, "SELECT count(*) FROM excon.ledger", "0");
	/* And the step ships again. */
	free(e2e_ok(&e, 1, "advance", PLAN, NULL));
	pt_sql_eq(e.ci, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'users' AND column_name = 'full_name'", "1");
	out = e2e_ok(&e, 1, "verify", NULL);
	ck_assert_msg(tu_has(out, "matches the state"), "%s", out);
	free(out);
	e2e_free(&e);
}
END_TEST

/* One TCase per behaviour. */
static Suite *
crash_suite(void)
{
	Suite *s = suite_create("crash");
	struct { const char *name; const TTest *t; int timeout; } tests[] = {
		{ "kill_points", test_kill_at_every_point, 240 },
		{ "kill_waiting_for_lock", test_kill_while_waiting_for_a_lock, 60 },
		{ "backfill_resume", test_backfill_resumes_after_kill, 120 },
		{ "rollback_killed", test_rollback_killed_after_commit, 60 },
	};
	size_t i;

	for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		TCase *tc = tcase_create(tests[i].name);

		tcase_set_timeout(tc, tests[i].timeout);
		tcase_add_test(tc, tests[i].t);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	return tu_run_suite(crash_suite());
}
