/*
 * Tests of `excon new`, through the real binary in a fresh directory: each
 * template writes a plan that `excon lint` accepts and that `excon advance
 * --record-only` walks to the end, release after release, on exactly the
 * schedule the gate rules allow; existing files and plan names are never
 * overwritten; bad names are refused before anything is written;
 * --dry-run writes nothing; the help and version texts; and the committed
 * examples/ are what the binary writes today.
 */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "template.h"
#include "util/pgtest.h"
#include "util/testutil.h"
#include "xalloc.h"

static char *dir;

/* A fresh working directory for each test. */
static void
setup(void)
{
	dir = tu_tmpdir();
	unsetenv("EXCON_PLANS");
	unsetenv("EXCON_STATE");
	unsetenv("EXCON_CONFIG");
}

/* Removes the working directory. */
static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

/* Runs excon in the test directory with a NULL-terminated argument list. */
static int
ex(struct run *r, const char *first, ...)
{
	const char *av[40];
	va_list ap;
	int n = 0;

	va_start(ap, first);
	for (av[n] = first; av[n] != NULL && n < 39; av[++n] = va_arg(ap, const char *))
		;
	va_end(ap);
	av[n] = NULL;
	return tu_excon(r, dir, NULL, av);
}

/* Asserts that the run exited with code and that its stderr holds want. */
static void
assert_fails(struct run *r, int code, const char *want)
{
	ck_assert_msg(r->status == code, "exit %d, want %d; stderr: %s", r->status,
	    code, r->err);
	ck_assert_msg(tu_has(r->err, want), "stderr lacks '%s': %s", want, r->err);
}

/* Number of lines of text that start with prefix. */
static int
count_lines(const char *text, const char *prefix)
{
	const char *p = text;
	int n = 0;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return n;
}

/* Reads plans/name.yaml of the test directory, failing the test if absent. */
static char *
read_plan(const char *name)
{
	char *rel = xasprintf("plans/%s.yaml", name), *text = tu_read(dir, rel, NULL);

	ck_assert_msg(text != NULL, "%s was not written", rel);
	free(rel);
	return text;
}

/* Asserts that nothing was written: not even plans/ exists. */
static void
assert_no_plans(void)
{
	char *p = xasprintf("%s/plans", dir);

	ck_assert_msg(access(p, F_OK) != 0, "plans/ was created");
	free(p);
}

/* Asserts that every step of the plan text carries a note. */
static void
assert_notes(const char *text)
{
	int steps = count_lines(text, "  - id: "), notes = count_lines(text, "    note: ");

	ck_assert_msg(steps > 0 && steps == notes, "%d steps, %d notes:\n%s", steps,
	    notes, text);
}

/* Asserts that `excon lint` accepts every plan of the directory. */
static void
assert_lints(void)
{
	struct run r;

	ex(&r, "lint", NULL);
	ck_assert_msg(r.status == 0 && tu_has(r.out, "0 errors"),
	    "lint exit %d:\n%s%s", r.status, r.out, r.err);
	tu_run_free(&r);
}

/*
 * The code of release rel, run against database ci: what the application
 * of that release reads and writes.  A database walk calls it for the
 * release being deployed and for the one before it, the rollback target;
 * both must work at every point.
 */
typedef void (*code_fn)(const char *ci, int rel);

/*
 * Ships one step after another with `advance` until the gates refuse or
 * the plan is done: on database ci, or --record-only when ci is NULL.
 * Appends "step@release " to sched.  Returns 1 when the plan is complete.
 */
static int
ship_what_gates_allow(const char *plan, const char *ci, struct buf *sched)
{
	struct run r;
	int done = 0;

	for (;;) {
		char step[128];
		long long seq;
		const char *p;

		if (ci != NULL)
			ex(&r, "advance", plan, "--db", ci, NULL);
		else
			ex(&r, "advance", plan, "--record-only", NULL);
		if (r.status == 3) {
			ck_assert_msg(tu_has(r.err, "refused: "), "refusal without "
			    "reason: %s", r.err);
			break;
		}
		ck_assert_msg(r.status == 0, "advance exit %d: %s%s", r.status,
		    r.out, r.err);
		if (tu_has(r.out, "nothing to ship")) {
			done = 1;
			break;
		}
		p = strstr(r.out, "shipped ");
		ck_assert_msg(p != NULL, "advance said: %s", r.out);
		p = strchr(p, '/');
		ck_assert_msg(p != NULL && sscanf(p + 1, "%127s", step) == 1 &&
		    (p = strstr(p, "(#")) != NULL && sscanf(p, "(#%lld)", &seq) == 1,
		    "cannot read: %s", r.out);
		buf_printf(sched, "%s@%lld ", step, seq);
		tu_run_free(&r);
	}
	tu_run_free(&r);
	return done;
}

/*
 * Walks plan to its end as a release manager would: each release is
 * started (pre and code steps ship), then finished (post steps ship).
 * With a database ci, the steps run on it, and after each half of each
 * release the code of that release and of the one before it run (code).
 * Returns the schedule, "step@release ..." (owned).
 */
static char *
walk_on(const char *plan, const char *ci, code_fn code)
{
	struct buf sched = BUF_INIT;
	struct run r;
	int rel, done = 0;

	ex(&r, "init", NULL);
	ck_assert_msg(r.status == 0 && tu_has(r.out, "exists   plans/"), "init: %s%s",
	    r.out, r.err);
	tu_run_free(&r);
	for (rel = 1; rel <= 12 && !done; rel++) {
		char name[16];

		snprintf(name, sizeof name, "v%d", rel);
		ex(&r, "release", "start", name, NULL);
		ck_assert_msg(r.status == 0, "release start: %s", r.err);
		tu_run_free(&r);
		done = ship_what_gates_allow(plan, ci, &sched);
		if (code != NULL) {
			code(ci, rel - 1);	/* still running */
			code(ci, rel);		/* being deployed */
		}
		ex(&r, "release", "finish", name, NULL);
		ck_assert_msg(r.status == 0, "release finish: %s", r.err);
		tu_run_free(&r);
		if (!done)
			done = ship_what_gates_allow(plan, ci, &sched);
		if (code != NULL) {
			code(ci, rel);		/* running */
			code(ci, rel - 1);	/* the rollback target */
		}
	}
	ck_assert_msg(done, "%s not done after 12 releases: %s", plan, buf_cstr(&sched));
	ex(&r, "check", NULL);
	ck_assert_msg(r.status == 0, "check after the walk: %s%s", r.out, r.err);
	tu_run_free(&r);
	if (ci != NULL) {
		ex(&r, "verify", "--db", ci, NULL);
		ck_assert_msg(r.status == 0, "verify after the walk: %s%s", r.out, r.err);
		tu_run_free(&r);
	}
	return buf_detach(&sched);
}

/* walk_on without a database: every step --record-only. */
static char *
walk(const char *plan)
{
	return walk_on(plan, NULL, NULL);
}

/* Asserts that plan walks to its end on exactly the schedule want. */
static void
assert_walk(const char *plan, const char *want)
{
	char *got = walk(plan);

	ck_assert_str_eq(got, want);
	free(got);
}

/* The canonical rename: content, lint, and its release schedule. */
START_TEST(test_rename_column)
{
	struct run r;
	char *text;

	ex(&r, "new", "rename-column", "users", "name", "full_name", "--type",
	    "text", "--owner", "accounts-team", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert(tu_has(r.out, "wrote plans/users-name-to-full-name.yaml"));
	ck_assert(tu_has(r.out, "2 releases after step 5 (contract window)"));
	tu_run_free(&r);
	text = read_plan("users-name-to-full-name");
	/* The steps of the canonical rename, plans/users-full-name.yaml. */
	ck_assert(tu_has(text, "plan: users-name-to-full-name\n"));
	ck_assert(tu_has(text, "description: Rename users.name to users.full_name\n"));
	ck_assert(tu_has(text, "owner: accounts-team\n"));
	ck_assert(tu_has(text, "    kind: add_column\n    table: users\n"
	    "    column: full_name\n    type: text\n"));
	ck_assert(tu_has(text, "    from: name\n    to: full_name\n    trigger: true\n"));
	ck_assert(tu_has(text, "    set: full_name = name\n"));
	ck_assert(tu_has(text, "    verify: SELECT count(*) = 0 FROM users WHERE "
	    "full_name IS DISTINCT FROM name\n"));
	ck_assert(tu_has(text, "  - id: drop-name\n    kind: drop_column\n"));
	ck_assert(tu_has(text, "# Written by: excon new rename-column users name "
	    "full_name --owner accounts-team --type text\n"));
	assert_notes(text);
	free(text);
	assert_lints();
	assert_walk("users-name-to-full-name", "add-column@1 dual-write@1 "
	    "backfill@1 switch-reads@2 stop-old-writes@2 drop-name@4 ");
}
END_TEST

/* --not-null adds set_not_null, which the sync trigger lets ship at once. */
START_TEST(test_rename_column_not_null)
{
	struct run r;
	char *text;

	ex(&r, "new", "rename-column", "users", "name", "full_name", "--type",
	    "varchar(200)", "--not-null", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	text = read_plan("users-name-to-full-name");
	ck_assert(tu_has(text, "    type: varchar(200)\n"));
	ck_assert(tu_has(text, "  - id: set-not-null\n    kind: set_not_null\n"
	    "    table: users\n    column: full_name\n"));
	assert_notes(text);
	free(text);
	assert_lints();
	/* With the sync trigger, NOT NULL need not wait a release. */
	assert_walk("users-name-to-full-name", "add-column@1 dual-write@1 "
	    "backfill@1 set-not-null@1 switch-reads@2 stop-old-writes@2 "
	    "drop-name@4 ");
}
END_TEST

/* A plain cast: up/down over NEW, verify against the cast, schedule. */
START_TEST(test_change_type_cast)
{
	struct run r;
	char *text;

	ex(&r, "new", "change-type", "orders", "amount", "bigint", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	text = read_plan("orders-amount-to-bigint");
	ck_assert(tu_has(text, "    column: amount_bigint\n    type: bigint\n"));
	/* up/down are evaluated in the trigger, over the row as NEW. */
	ck_assert(tu_has(text, "    up: NEW.amount::bigint\n    down: NEW.amount_bigint\n"));
	ck_assert(tu_has(text, "    set: amount_bigint = amount::bigint\n"));
	ck_assert(tu_has(text, "    verify: SELECT count(*) = 0 FROM orders WHERE "
	    "amount_bigint IS DISTINCT FROM (amount::bigint)\n"));
	ck_assert(tu_has(text, "  - id: drop-amount\n    kind: drop_column\n"
	    "    table: orders\n    column: amount\n"));
	ck_assert(tu_has(text, "expressions over the row as NEW"));
	assert_notes(text);
	free(text);
	assert_lints();
	assert_walk("orders-amount-to-bigint", "add-column@1 dual-write@1 "
	    "backfill@1 switch-reads@2 stop-old-writes@2 drop-amount@4 ");
}
END_TEST

/* --using and --down become NEW expressions; the header quotes them. */
START_TEST(test_change_type_using_down)
{
	struct run r;
	char *text;

	ex(&r, "new", "change-type", "prices", "price_eur", "bigint", "--using",
	    "round(price_eur * 100)::bigint", "--down", "price_cents / 100.0",
	    "--new-column", "price_cents", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	text = read_plan("prices-price-eur-to-bigint");
	ck_assert(tu_has(text, "    up: round(NEW.price_eur * 100)::bigint\n"));
	ck_assert(tu_has(text, "    down: NEW.price_cents / 100.0\n"));
	ck_assert(tu_has(text, "    set: price_cents = round(price_eur * 100)::bigint\n"));
	/* The header says how to write the plan again, quoted for a shell. */
	ck_assert(tu_has(text, "# Written by: excon new change-type prices "
	    "price_eur bigint --using 'round(price_eur * 100)::bigint' --down "
	    "'price_cents / 100.0' --new-column price_cents\n"));
	free(text);
	assert_lints();
}
END_TEST

/* Expressions the trigger cannot use are refused before anything is written. */
START_TEST(test_change_type_needs_down)
{
	struct run r;

	/* Not a plain cast: the trigger cannot guess the way back. */
	ex(&r, "new", "change-type", "prices", "price_eur", "bigint", "--using",
	    "round(price_eur * 100)::bigint", NULL);
	assert_fails(&r, 2, "give --down EXPR too");
	tu_run_free(&r);
	ex(&r, "new", "change-type", "t", "c", "bigint", "--using", "NEW.c::bigint", NULL);
	assert_fails(&r, 2, "write it over the column names");
	tu_run_free(&r);
	ex(&r, "new", "change-type", "t", "c", "bigint", "--using",
	    "c::bigint; DROP TABLE t", NULL);
	assert_fails(&r, 2, "single expression");
	tu_run_free(&r);
	ex(&r, "new", "change-type", "t", "c", "bigint", "--using",
	    "c::bigint -- cast", NULL);
	assert_fails(&r, 2, "must not end in a -- comment");
	tu_run_free(&r);
	ex(&r, "new", "change-type", "t", "c", "bigint", "--using", "42", NULL);
	assert_fails(&r, 2, "does not refer to the column 'c'");
	tu_run_free(&r);
	assert_no_plans();
}
END_TEST

/*
 * --using and --down are read with PostgreSQL's own scanner: text the
 * server would not scan is refused with the server's words before any
 * plan is written, and the column inside strings, dollar quotes and
 * comments is left alone.
 */
START_TEST(test_change_type_scanned_as_postgres_does)
{
	struct run r;
	char *text;

	ex(&r, "new", "change-type", "t", "c", "bigint", "--using",
	    "c::bigint + 123abc", "--down", "c_bigint::int", NULL);
	assert_fails(&r, 2, "--using does not scan as SQL: trailing junk after "
	    "numeric literal");
	tu_run_free(&r);
	ex(&r, "new", "change-type", "t", "c", "bigint", "--using",
	    "c::bigint + \"\"", "--down", "c_bigint::int", NULL);
	assert_fails(&r, 2, "--using does not scan as SQL: zero-length "
	    "delimited identifier");
	tu_run_free(&r);
	ex(&r, "new", "change-type", "t", "c", "bigint", "--using",
	    "c::bigint + length('c", "--down", "c_bigint::int", NULL);
	assert_fails(&r, 2, "--using has an unterminated quote or comment");
	tu_run_free(&r);
	assert_no_plans();
	ex(&r, "new", "change-type", "t", "c", "text", "--using",
	    "c || $q$ c $q$ || /* c */ E'c\\'c'", "--down", "c_text", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	text = read_plan("t-c-to-text");
	ck_assert_msg(tu_has(text, "    up: NEW.c || $q$ c $q$ || /* c */ "
	    "E'c\\'c'\n"), "%s", text);
	free(text);
}
END_TEST

/* add-not-null: constant default, backfill, NOT NULL a release later. */
START_TEST(test_add_not_null)
{
	struct run r;
	char *text;

	ex(&r, "new", "add-not-null", "accounts", "status", "text", "--default",
	    "active", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	text = read_plan("accounts-status-not-null");
	ck_assert(tu_has(text, "    column: status\n    type: text\n    default: active\n"));
	ck_assert(tu_has(text, "    set: status = 'active'::text\n    where: status IS NULL\n"));
	ck_assert(tu_has(text, "  - id: set-not-null\n    kind: set_not_null\n"));
	assert_notes(text);
	free(text);
	assert_lints();
	assert_walk("accounts-status-not-null", "add-column@1 write-status@1 "
	    "backfill@1 set-not-null@2 ");

	/* The default is required: the running code does not write the column. */
	ex(&r, "new", "add-not-null", "accounts", "tier", "text", NULL);
	assert_fails(&r, 2, "add-not-null needs --default VALUE");
	tu_run_free(&r);
}
END_TEST

/* drop-column: stop reads, stop writes, drop after the contract window. */
START_TEST(test_drop_column)
{
	struct run r;
	char *text;

	ex(&r, "new", "drop-column", "users", "legacy_flags", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	text = read_plan("users-drop-legacy-flags");
	ck_assert(tu_has(text, "  - id: stop-reads\n    kind: switch_reads\n"));
	ck_assert(tu_has(text, "  - id: stop-writes\n    kind: stop_old_writes\n"
	    "    table: users\n    column: legacy_flags\n    drop_not_null: true\n"));
	ck_assert(tu_has(text, "  - id: drop-legacy-flags\n    kind: drop_column\n"));
	assert_notes(text);
	free(text);
	assert_lints();
	assert_walk("users-drop-legacy-flags", "stop-reads@1 stop-writes@2 "
	    "drop-legacy-flags@4 ");
}
END_TEST

/* rename-table: view bridge, swap in one transaction, compat view dropped later. */
START_TEST(test_rename_table)
{
	struct run r;
	char *text;

	ex(&r, "new", "rename-table", "customers", "clients", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	text = read_plan("customers-to-clients");
	ck_assert(tu_has(text, "    up: CREATE OR REPLACE VIEW clients AS SELECT * "
	    "FROM customers\n    down: DROP VIEW IF EXISTS clients\n"));
	ck_assert(tu_has(text, "    phase: contract\n    stage: post\n    up: |\n"
	    "      DROP VIEW IF EXISTS clients;\n"
	    "      ALTER TABLE IF EXISTS customers RENAME TO clients;\n"
	    "      CREATE OR REPLACE VIEW customers AS SELECT * FROM clients;\n"));
	ck_assert(tu_has(text, "    up: DROP VIEW IF EXISTS customers\n"
	    "    min_releases: 1\n"));
	assert_notes(text);
	free(text);
	assert_lints();
	assert_walk("customers-to-clients", "create-view@1 use-clients@1 swap@3 "
	    "drop-old-name@4 ");
}
END_TEST

/* Reserved words are quoted in the plan's SQL; --schema qualifies it. */
START_TEST(test_keywords_and_schema)
{
	struct run r;
	char *text;

	ex(&r, "new", "rename-column", "order", "user", "placed_by", "--type",
	    "bigint", "--schema", "shop", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	text = read_plan("shop-order-user-to-placed-by");
	ck_assert(tu_has(text, "    schema: shop\n    table: order\n"));
	ck_assert(tu_has(text, "    set: placed_by = \"user\"\n"));
	ck_assert(tu_has(text, "FROM shop.\"order\" WHERE placed_by IS DISTINCT "
	    "FROM \"user\"\n"));
	free(text);
	ex(&r, "new", "rename-table", "user", "member", "--schema", "shop", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	text = read_plan("shop-user-to-member");
	ck_assert(tu_has(text, "ALTER TABLE IF EXISTS shop.\"user\" RENAME TO member;\n"));
	free(text);
	assert_lints();
}
END_TEST

/*
 * The rename-column plan of table t for column old (renamed to x_new),
 * rendered by the template module itself (owned).
 */
static char *
render_rename(const char *old)
{
	const struct template *t = template_find("rename-column");
	char *args[] = { (char *)"t", (char *)old, (char *)"x_new", NULL };
	struct tmpl_opts o;
	struct buf out = BUF_INIT, err = BUF_INIT;
	char *name = NULL;

	memset(&o, 0, sizeof o);
	o.type = "bigint";
	ck_assert_ptr_nonnull(t);
	ck_assert_msg(template_render(t, args, &o, &out, &name, &err) == 0,
	    "%s: %s", old, buf_cstr(&err));
	free(name);
	buf_free(&err);
	return buf_detach(&out);
}

/*
 * Every keyword the test server's pg_get_keywords() lists as reserved (R),
 * type or function name (T) or column name (C) is double-quoted in the
 * SQL of a plan; an unreserved one (U) stands bare.
 */
START_TEST(test_keywords_of_server_quoted)
{
	char *words = pt_sql(tu_pg(), "SELECT string_agg(word, ' ' ORDER BY "
	    "word) FROM pg_get_keywords() WHERE catcode IN ('R', 'T', 'C')");
	char *unres = pt_sql(tu_pg(), "SELECT string_agg(word, ' ' ORDER BY "
	    "word) FROM pg_get_keywords() WHERE catcode = 'U'");
	char *w, *save = NULL, *text, *want;
	int n = 0;

	for (w = strtok_r(words, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save), n++) {
		text = render_rename(w);
		want = xasprintf("    set: x_new = \"%s\"\n", w);
		ck_assert_msg(tu_has(text, want), "keyword '%s' is not quoted:\n%s",
		    w, text);
		free(want);
		free(text);
	}
	/* PostgreSQL 15 has about 180 of them: the query found the list. */
	ck_assert_int_gt(n, 150);
	for (w = strtok_r(unres, " ", &save), n = 0; w != NULL;
	    w = strtok_r(NULL, " ", &save), n++) {
		text = render_rename(w);
		want = xasprintf("    set: x_new = %s\n", w);
		ck_assert_msg(tu_has(text, want), "unreserved keyword '%s' is "
		    "quoted:\n%s", w, text);
		free(want);
		free(text);
	}
	ck_assert_int_gt(n, 300);
	free(words);
	free(unres);
}
END_TEST

/*
 * Keywords that PostgreSQL 16 and 17 reserve (or keep as type, function
 * or column names) are quoted too: a plan written today must still run
 * after the server is upgraded.
 */
START_TEST(test_keywords_of_newer_servers_quoted)
{
	static const char *const newer[] = { "system_user", "json_object",
	    "json_arrayagg", "json_table", "json_value", "merge_action", NULL };
	char *text, *want;
	int i;

	for (i = 0; newer[i] != NULL; i++) {
		text = render_rename(newer[i]);
		want = xasprintf("    set: x_new = \"%s\"\n", newer[i]);
		ck_assert_msg(tu_has(text, want), "keyword '%s' is not quoted:\n%s",
		    newer[i], text);
		free(want);
		free(text);
	}
	/* Unreserved in 16/17 (ABSENT, KEYS, PATH): no quotes needed. */
	text = render_rename("keys");
	ck_assert(tu_has(text, "    set: x_new = keys\n"));
	free(text);
}
END_TEST

/* An existing file or plan name is never overwritten. */
START_TEST(test_refuses_overwrite)
{
	struct run r;
	char *text;

	tu_write(dir, "plans/users-drop-legacy-flags.yaml", "# mine, keep me\n");
	ex(&r, "new", "drop-column", "users", "legacy_flags", NULL);
	assert_fails(&r, 2, "'plans/users-drop-legacy-flags.yaml' already exists; "
	    "not overwriting it");
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
	text = tu_read(dir, "plans/users-drop-legacy-flags.yaml", NULL);
	ck_assert_str_eq(text, "# mine, keep me\n");
	free(text);

	/* Nor a plan it wrote itself, when the same command runs again. */
	ex(&r, "new", "rename-table", "a", "b", "--owner", "first", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	ex(&r, "new", "rename-table", "a", "b", "--owner", "second", NULL);
	assert_fails(&r, 2, "'plans/a-to-b.yaml' already exists; not overwriting it");
	tu_run_free(&r);
	text = read_plan("a-to-b");
	ck_assert(tu_has(text, "owner: first\n"));
	free(text);

	/* Nor a plan name that another file already uses. */
	ex(&r, "new", "drop-column", "users", "email", "--name", "cleanup", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	tu_sh(&r, dir, "mv plans/cleanup.yaml plans/other-file.yaml");
	tu_run_free(&r);
	ex(&r, "new", "rename-table", "a", "b", "--name", "cleanup", NULL);
	assert_fails(&r, 2, "a plan called 'cleanup' already exists in "
	    "'plans/other-file.yaml'");
	tu_run_free(&r);
	ck_assert_ptr_null(tu_read(dir, "plans/cleanup.yaml", NULL));
}
END_TEST

/* Names that are not plain identifiers are refused with exit 2, nothing written. */
START_TEST(test_bad_identifiers)
{
	static const char *const bad[][8] = {
		{ "rename-column", "users", "name", "full name", "--type", "text", NULL },
		{ "rename-column", "Users", "name", "full_name", "--type", "text", NULL },
		{ "rename-column", "users", "na\"me", "full_name", "--type", "text", NULL },
		{ "drop-column", "users", "1st", NULL },
		{ "drop-column", "users;drop", "x", NULL },
		{ "rename-table", "a-b", "c", NULL },
		{ "drop-column", "users", "x", "--schema", "my schema", NULL },
		{ "rename-column", "users", "name", "x", "--type", "text); DROP TABLE users; --", NULL },
		{ "drop-column", "users", "x", "--name", "Not_A_Plan", NULL },
		{ "drop-column", "users", "a234567890123456789012345678901234567890123456789012345678901234", NULL },
	};
	static const char *const why[] = {
		"new column 'full name' is not a plain identifier",
		"table 'Users' has capital letters",
		"column 'na\"me' is not a plain identifier",
		"column '1st' is not a plain identifier",
		"table 'users;drop' is not a plain identifier",
		"table 'a-b' is not a plain identifier",
		"schema 'my schema' is not a plain identifier",
		"does not look like a type name",
		"plan name 'Not_A_Plan' must match",
		"is longer than 63 bytes",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *av[10] = { "new" };
		struct run r;
		int j;

		for (j = 0; bad[i][j] != NULL; j++)
			av[j + 1] = bad[i][j];
		av[j + 1] = NULL;
		tu_excon(&r, dir, NULL, av);
		assert_fails(&r, 2, why[i]);
		ck_assert_str_eq(r.out, "");
		tu_run_free(&r);
	}
	assert_no_plans();
}
END_TEST

/* Unknown template, wrong argument count, misplaced or missing options. */
START_TEST(test_usage_errors)
{
	struct run r;

	ex(&r, "new", "frobnicate", "a", NULL);
	assert_fails(&r, 2, "unknown template 'frobnicate' (one of: rename-column, "
	    "change-type, add-not-null, drop-column, rename-table)");
	tu_run_free(&r);
	ex(&r, "new", "drop-column", "users", NULL);
	assert_fails(&r, 2, "drop-column takes 2 arguments, not 1: excon new "
	    "drop-column TABLE COLUMN");
	tu_run_free(&r);
	{
		/* Without a database to read it from, --type is required. */
		static const char *const nodb[] = { "PGHOST=", "PGHOSTADDR=",
		    "PGDATABASE=", "PGSERVICE=", "EXCON_DATABASE=", NULL };
		static const char *const av[] = { "new", "rename-column", "users",
		    "name", "full_name", NULL };

		tu_excon(&r, dir, nodb, av);
		assert_fails(&r, 2, "rename-column needs --type TYPE (or a "
		    "database to read it from");
		tu_run_free(&r);
	}
	ex(&r, "new", "drop-column", "users", "x", "--using", "x::int", NULL);
	assert_fails(&r, 2, "--using does not apply to drop-column (only to change-type)");
	tu_run_free(&r);
	ex(&r, "new", "rename-table", "a", "a", NULL);
	assert_fails(&r, 2, "the new name is the old one");
	tu_run_free(&r);
	ex(&r, "new", NULL);
	assert_fails(&r, 2, "missing arguments");
	ck_assert(tu_has(r.err, "templates:\n  rename-column TABLE OLD NEW --type TYPE"));
	tu_run_free(&r);
}
END_TEST

/* --dry-run prints exactly what a real run writes, and writes nothing. */
START_TEST(test_dry_run)
{
	struct run r, w;
	char *text;

	ex(&r, "new", "rename-table", "customers", "clients", "--dry-run", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert(tu_has(r.out, "plan: customers-to-clients\n"));
	ck_assert(tu_has(r.err, "dry run: would write plans/customers-to-clients.yaml"));
	assert_no_plans();
	/* What it prints is what a real run writes. */
	ex(&w, "new", "rename-table", "customers", "clients", NULL);
	ck_assert_msg(w.status == 0, "exit %d: %s", w.status, w.err);
	text = read_plan("customers-to-clients");
	ck_assert_str_eq(text, r.out);
	free(text);
	tu_run_free(&r);
	tu_run_free(&w);
	/* A dry run refuses what the real run would refuse. */
	ex(&r, "new", "rename-table", "customers", "clients", "--dry-run", NULL);
	assert_fails(&r, 2, "already exists");
	tu_run_free(&r);
}
END_TEST

/* The plan goes to the first plan directory, created when missing. */
START_TEST(test_plan_dirs)
{
	struct run r;
	char *text;

	/* The first of several plan directories, created when missing. */
	ex(&r, "new", "drop-column", "t", "c", "--plans", "db/plans:more", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert(tu_has(r.out, "created db/plans/\nwrote db/plans/t-drop-c.yaml"));
	tu_run_free(&r);
	text = tu_read(dir, "db/plans/t-drop-c.yaml", NULL);
	ck_assert_ptr_nonnull(text);
	free(text);
	tu_write(dir, "excon.yaml", "plans: [team-a, team-b]\n");
	ex(&r, "new", "drop-column", "t", "d", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert(tu_has(r.out, "wrote team-a/t-drop-d.yaml"));
	tu_run_free(&r);
}
END_TEST

/* 'excon help new' is 'excon new --help', and lists every template. */
START_TEST(test_help_new)
{
	struct run a, b;
	const char *t[] = { "rename-column", "change-type", "add-not-null",
	    "drop-column", "rename-table", NULL };
	int i;

	ex(&a, "help", "new", NULL);
	ex(&b, "new", "--help", NULL);
	ck_assert_int_eq(a.status, 0);
	ck_assert_int_eq(b.status, 0);
	ck_assert_str_eq(a.out, b.out);
	ck_assert(tu_has(a.out, "usage: excon new TEMPLATE ARGS..."));
	for (i = 0; t[i] != NULL; i++)
		ck_assert_msg(tu_has(a.out, t[i]), "help lacks %s", t[i]);
	ck_assert(tu_has(a.out, "change-type TABLE COLUMN TYPE [--using EXPR] "
	    "[--down EXPR] [--new-column NAME] [--not-null]"));
	ck_assert(tu_has(a.out, "--default VALUE"));
	tu_run_free(&a);
	tu_run_free(&b);
}
END_TEST

/* --version and the version command print excon's and libyaml's versions. */
START_TEST(test_version)
{
	struct run a, b;

	ex(&a, "--version", NULL);
	ex(&b, "version", NULL);
	ck_assert_int_eq(a.status, 0);
	ck_assert_msg(strncmp(a.out, "excon ", 6) == 0, "version: %s", a.out);
	ck_assert_msg(tu_has(a.out, "\nlibyaml "), "version: %s", a.out);
	ck_assert_str_eq(a.out, b.out);
	tu_run_free(&a);
	tu_run_free(&b);
}
END_TEST

/*
 * Each examples/TEMPLATE/PLAN.yaml says in its first line which command
 * wrote it; running that command today must write the same bytes.
 */
START_TEST(test_examples_current)
{
	char *exdir = xasprintf("%s/../examples", tu_tests_dir());
	DIR *d = opendir(exdir);
	struct dirent *de;
	int n = 0;

	ck_assert_msg(d != NULL, "no %s", exdir);
	while ((de = readdir(d)) != NULL) {
		char *sub, *cmd, *want, *got, *readme, *out, *nl, *yaml = NULL;
		struct dirent *fe;
		struct run r;
		DIR *sd;

		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", exdir, de->d_name);
		if ((sd = opendir(sub)) == NULL) {
			free(sub);
			continue;
		}
		while ((fe = readdir(sd)) != NULL)
			if (strstr(fe->d_name, ".yaml") != NULL)
				yaml = xstrdup(fe->d_name);
		closedir(sd);
		ck_assert_msg(yaml != NULL, "%s has no plan", sub);
		readme = tu_read(sub, "README.md", NULL);
		ck_assert_msg(tu_has(readme, "| Release |"), "%s/README.md lacks "
		    "the release table", sub);
		want = tu_read(sub, yaml, NULL);
		ck_assert_msg(strncmp(want, "# Written by: excon new ", 24) == 0,
		    "%s/%s: no command line", sub, yaml);
		cmd = xstrdup(want + strlen("# Written by: "));
		if ((nl = strchr(cmd, '\n')) != NULL)
			*nl = '\0';
		tu_sh(&r, dir, "rm -rf out && \"$EXCON_BIN\" --plans out %s",
		    cmd + strlen("excon "));
		ck_assert_msg(r.status == 0, "%s: %s", cmd, r.err);
		tu_run_free(&r);
		out = xasprintf("out/%s", yaml);
		got = tu_read(dir, out, NULL);
		ck_assert_msg(got != NULL, "%s did not write %s", cmd, yaml);
		ck_assert_msg(strcmp(got, want) == 0, "examples/%s/%s is not what "
		    "'%s' writes today; regenerate it", de->d_name, yaml, cmd);
		n++;
		free(out);
		free(got);
		free(want);
		free(readme);
		free(cmd);
		free(yaml);
		free(sub);
	}
	closedir(d);
	ck_assert_int_eq(n, 5);
	free(exdir);
}
END_TEST

/* Runs the application SQL of release rel on ci; fails the test if it fails. */
static void
app_sql(const char *ci, int rel, const char *sql)
{
	struct pg *db = NULL;
	struct buf err = BUF_INIT;

	ck_assert_msg(pg_connect(&db, ci, "app", &err) == 0, "%s", buf_cstr(&err));
	ck_assert_msg(pg_exec_script(db, sql, NULL, &err) == 0, "the code of v%d "
	    "fails: %s: %s", rel, sql, buf_cstr(&err));
	pg_close(db);
	buf_free(&err);
}

/* Asserts that the code of release rel, reading table.col, sees no NULL. */
static void
app_reads(const char *ci, int rel, const char *table, const char *col)
{
	char *q = xasprintf("SELECT count(*) FROM %s WHERE %s IS NULL", table, col);
	char *n = pt_sql(ci, q);

	ck_assert_msg(strcmp(n, "0") == 0, "the code of v%d reads %s.%s, and %s "
	    "rows hold NULL", rel, table, col, n);
	free(q);
	free(n);
}

/* rename-column: until v2 the code uses name, from v2 full_name. */
static void
code_rename_column(const char *ci, int rel)
{
	if (rel < 2) {
		app_sql(ci, rel, "INSERT INTO users (name) VALUES ('old code')");
		app_reads(ci, rel, "users", "name");
	} else {
		app_sql(ci, rel, "INSERT INTO users (full_name) VALUES ('new code')");
		app_sql(ci, rel, "UPDATE users SET full_name = 'renamed' WHERE id = 1");
		app_reads(ci, rel, "users", "full_name");
	}
}

/* change-type: until v2 the code uses amount, from v2 amount_bigint. */
static void
code_change_type(const char *ci, int rel)
{
	if (rel < 2) {
		app_sql(ci, rel, "INSERT INTO orders (amount) VALUES (7)");
		app_reads(ci, rel, "orders", "amount");
	} else {
		app_sql(ci, rel, "INSERT INTO orders (amount_bigint) VALUES (8)");
		app_reads(ci, rel, "orders", "amount_bigint");
	}
}

/* add-not-null: from v1 the code writes and reads status. */
static void
code_add_not_null(const char *ci, int rel)
{
	if (rel < 1)
		app_sql(ci, rel, "INSERT INTO accounts (email) VALUES ('old code')");
	else {
		app_sql(ci, rel, "INSERT INTO accounts (email, status) VALUES "
		    "('new code', 'gold')");
		app_reads(ci, rel, "accounts", "status");
	}
}

/* drop-column: v0 reads and writes legacy_flags, v1 only writes it, v2 neither. */
static void
code_drop_column(const char *ci, int rel)
{
	if (rel < 2)
		app_sql(ci, rel, "INSERT INTO users (name, legacy_flags) VALUES ('x', 1)");
	else
		app_sql(ci, rel, "INSERT INTO users (name) VALUES ('y')");
	if (rel < 1)
		app_reads(ci, rel, "users", "legacy_flags");
}

/* rename-table: v0 says customers, from v1 the code says clients. */
static void
code_rename_table(const char *ci, int rel)
{
	if (rel < 1) {
		app_sql(ci, rel, "INSERT INTO customers (email) VALUES "
		    "(md5(random()::text))");
		app_reads(ci, rel, "customers", "email");
	} else {
		app_sql(ci, rel, "INSERT INTO clients (email) VALUES "
		    "(md5(random()::text)) ON CONFLICT (email) DO NOTHING RETURNING id");
		app_sql(ci, rel, "UPDATE clients SET email = email || '' WHERE id = 1");
		app_reads(ci, rel, "clients", "email");
	}
}

/*
 * Runs the template's plan on a real database through the real binary,
 * release after release, with the code of each release and of its
 * rollback target writing and reading at every point; then checks the
 * schedule and what the database finally holds (final, SQL returning "t").
 */
static void
db_walk(const char *db, const char *setup, const char *plan, code_fn code,
    const char *want, const char *final)
{
	char *ci = pt_db(db), *got, *v;

	v = pt_sql(ci, setup);
	free(v);
	got = walk_on(plan, ci, code);
	ck_assert_str_eq(got, want);
	pt_sql_eq(ci, final, "t");
	free(got);
	free(ci);
}

/* rename-column on PostgreSQL; --type read from the database. */
START_TEST(test_db_rename_column)
{
	char *ci = pt_db("excon_new_type");
	struct run r;

	free(pt_sql(ci, "CREATE TABLE users (id bigserial PRIMARY KEY, name "
	    "varchar(80) NOT NULL)"));
	ex(&r, "new", "rename-column", "users", "name", "full_name", "--db", ci, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert(tu_has(r.out, "users.name is character varying(80) in the database\n"));
	tu_run_free(&r);
	{
		char *text = read_plan("users-name-to-full-name");

		ck_assert(tu_has(text, "    type: character varying(80)\n"));
		ck_assert(tu_has(text, " --type 'character varying(80)'\n"));
		free(text);
	}
	ex(&r, "new", "rename-column", "users", "nope", "x", "--db", ci, NULL);
	assert_fails(&r, 2, "the database has no column users.nope");
	tu_run_free(&r);
	free(ci);
	db_walk("excon_new_rc", "CREATE TABLE users (id bigserial PRIMARY KEY, "
	    "name varchar(80) NOT NULL); INSERT INTO users (name) SELECT 'u' || g "
	    "FROM generate_series(1, 3000) g", "users-name-to-full-name",
	    code_rename_column, "add-column@1 dual-write@1 backfill@1 "
	    "switch-reads@2 stop-old-writes@2 drop-name@4 ",
	    /* 16 inserts by the code: 4 calls per release, 4 releases. */
	    "SELECT count(*) = 3000 + 16 FROM users WHERE full_name IS NOT NULL "
	    "AND to_regclass('excon_sync_name_full_name') IS NULL AND NOT EXISTS "
	    "(SELECT 1 FROM pg_attribute WHERE attrelid = 'users'::regclass AND "
	    "attname = 'name' AND NOT attisdropped)");
}
END_TEST

/* change-type on PostgreSQL, through the sync trigger's NEW expressions. */
START_TEST(test_db_change_type)
{
	struct run r;

	ex(&r, "new", "change-type", "orders", "amount", "bigint", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	db_walk("excon_new_ct", "CREATE TABLE orders (id bigserial PRIMARY KEY, "
	    "amount integer NOT NULL); INSERT INTO orders (amount) SELECT g FROM "
	    "generate_series(1, 3000) g", "orders-amount-to-bigint",
	    code_change_type, "add-column@1 dual-write@1 backfill@1 "
	    "switch-reads@2 stop-old-writes@2 drop-amount@4 ",
	    /* 6 inserts of 7 by the code before v2, 10 of 8 after. */
	    "SELECT sum(amount_bigint) = 3000 * 3001 / 2 + 6 * 7 + 10 * 8 FROM orders");
}
END_TEST

/* add-not-null on PostgreSQL. */
START_TEST(test_db_add_not_null)
{
	struct run r;

	ex(&r, "new", "add-not-null", "accounts", "status", "text", "--default",
	    "active", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	db_walk("excon_new_nn", "CREATE TABLE accounts (id bigserial PRIMARY KEY, "
	    "email text); INSERT INTO accounts (email) SELECT 'a' || g FROM "
	    "generate_series(1, 3000) g", "accounts-status-not-null",
	    code_add_not_null, "add-column@1 write-status@1 backfill@1 "
	    "set-not-null@2 ",
	    "SELECT attnotnull FROM pg_attribute WHERE attrelid = "
	    "'accounts'::regclass AND attname = 'status'");
}
END_TEST

/* drop-column on PostgreSQL: its NOT NULL goes before the code stops writing. */
START_TEST(test_db_drop_column)
{
	struct run r;

	ex(&r, "new", "drop-column", "users", "legacy_flags", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	db_walk("excon_new_dc", "CREATE TABLE users (id bigserial PRIMARY KEY, "
	    "name text, legacy_flags integer NOT NULL); INSERT INTO users (name, "
	    "legacy_flags) SELECT 'u', 0 FROM generate_series(1, 100)",
	    "users-drop-legacy-flags", code_drop_column, "stop-reads@1 "
	    "stop-writes@2 drop-legacy-flags@4 ",
	    "SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
	    "'users'::regclass AND attname = 'legacy_flags' AND NOT attisdropped)");
}
END_TEST

/* rename-table on PostgreSQL: old and new names work at every point. */
START_TEST(test_db_rename_table)
{
	struct run r;

	ex(&r, "new", "rename-table", "customers", "clients", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	tu_run_free(&r);
	db_walk("excon_new_rt", "CREATE TABLE customers (id bigserial PRIMARY KEY, "
	    "email text UNIQUE NOT NULL); INSERT INTO customers (email) SELECT "
	    "'c' || g FROM generate_series(1, 100) g", "customers-to-clients",
	    code_rename_table, "create-view@1 use-clients@1 swap@3 "
	    "drop-old-name@4 ",
	    "SELECT (SELECT relkind FROM pg_class WHERE oid = "
	    "to_regclass('clients')) = 'r' AND to_regclass('customers') IS NULL "
	    "AND (SELECT count(*) FROM clients) > 100");
}
END_TEST

/* Adds test as its own TCase (one behaviour each) to s. */
static void
add(Suite *s, const char *name, const TTest *test)
{
	tu_add(s, name, test, setup, teardown, 120);
}

/* The excon new suite. */
static Suite *
new_suite(void)
{
	Suite *s = suite_create("new");

	add(s, "rename-column", test_rename_column);
	add(s, "rename-column not null", test_rename_column_not_null);
	add(s, "change-type cast", test_change_type_cast);
	add(s, "change-type using down", test_change_type_using_down);
	add(s, "change-type needs down", test_change_type_needs_down);
	add(s, "change-type scanned as postgres does", test_change_type_scanned_as_postgres_does);
	add(s, "add-not-null", test_add_not_null);
	add(s, "drop-column", test_drop_column);
	add(s, "rename-table", test_rename_table);
	add(s, "keywords and schema", test_keywords_and_schema);
	add(s, "keywords of server quoted", test_keywords_of_server_quoted);
	add(s, "keywords of newer servers quoted", test_keywords_of_newer_servers_quoted);
	add(s, "refuses overwrite", test_refuses_overwrite);
	add(s, "bad identifiers", test_bad_identifiers);
	add(s, "usage errors", test_usage_errors);
	add(s, "dry run", test_dry_run);
	add(s, "plan dirs", test_plan_dirs);
	add(s, "help new", test_help_new);
	add(s, "version", test_version);
	add(s, "examples current", test_examples_current);
	add(s, "db rename-column", test_db_rename_column);
	add(s, "db change-type", test_db_change_type);
	add(s, "db add-not-null", test_db_add_not_null);
	add(s, "db drop-column", test_db_drop_column);
	add(s, "db rename-table", test_db_rename_table);
	return s;
}

/* Runs the suite; exits non-zero when a test failed. */
int
main(void)
{
	return tu_run_suite(new_suite());
}
