/*
 * Tests of the SQL safety analysis: the rule corpus under tests/sql/
 * (for every rule a .bad.sql whose marked lines must each carry exactly
 * one finding of that rule, and a .ok.sql with near misses that must
 * carry none), location mapping, suppression, contract covers, phase
 * awareness, plan fields and output formats (speed is measured by make
 * bench, not here).
 *
 * Corpus format: an optional first line `-- ctx: k=v ...` sets the
 * context (phase=expand|migrate|contract puts the SQL in a plan step;
 * stage=pre|code|post; kind=sql|...; tx=0|1); without it the file is a
 * plain migration file.  A line containing `-- expect` or the C comment `expect`
 * expects one finding of the file's rule on that line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "plan.h"
#include "sqlcheck.h"
#include "util/testutil.h"
#include "xalloc.h"

static const struct pos P11 = { .line = 1, .col = 1 };

/* Builds the context named by a corpus file's `-- ctx:` line. */
static struct sqlctx
corpus_ctx(const char *text)
{
	struct sqlctx c = sqlctx_plain(NULL, 0);
	const char *p;

	if (strncmp(text, "-- ctx:", 7) != 0)
		return c;
	p = text + 7;
	while (*p != '\0' && *p != '\n') {
		while (*p == ' ')
			p++;
		if (strncmp(p, "phase=", 6) == 0) {
			c.in_plan = 1;
			c.kind = KIND_SQL;
			c.transaction = 1;
			p += 6;
			c.phase = strncmp(p, "expand", 6) == 0 ? PHASE_EXPAND :
			    strncmp(p, "migrate", 7) == 0 ? PHASE_MIGRATE :
			    PHASE_CONTRACT;
		} else if (strncmp(p, "stage=", 6) == 0) {
			p += 6;
			c.stage = strncmp(p, "pre", 3) == 0 ? STAGE_PRE :
			    strncmp(p, "code", 4) == 0 ? STAGE_CODE : STAGE_POST;
		} else if (strncmp(p, "tx=", 3) == 0) {
			p += 3;
			c.transaction = *p == '1';
		} else if (strncmp(p, "assume-tx=", 10) == 0) {
			p += 10;
			c.assume_tx = *p == '1';
		}
		while (*p != '\0' && *p != ' ' && *p != '\n')
			p++;
	}
	return c;
}

/*
 * Reads tests/sql/<rule>.<kind>.sql (owned), failing the test when absent.
 * A rule about plan fields has a plan instead: <rule>.<kind>.yaml, whose
 * lines are marked with `# -- expect`.
 */
static char *
corpus_read(const char *rule, const char *kind, char **name)
{
	char *dir = xasprintf("%s/sql", tu_tests_dir());
	char *file = xasprintf("%s.%s.sql", rule, kind);
	char *text = tu_read(dir, file, NULL);

	if (text == NULL) {
		free(file);
		file = xasprintf("%s.%s.yaml", rule, kind);
		text = tu_read(dir, file, NULL);
	}
	ck_assert_msg(text != NULL, "corpus file tests/sql/%s is missing", file);
	*name = file;
	free(dir);
	return text;
}

/* Analyzes corpus file name (text): a .sql file with ctx, or a plan. */
static void
corpus_analyze(const char *name, const char *text, const struct sqlctx *ctx,
    struct findings *f)
{
	struct plan_diags d = { NULL, 0, 0 };
	struct plan *p = NULL;
	char *path;
	size_t i;

	if (strstr(name, ".yaml") == NULL) {
		ck_assert_int_eq(sqlcheck_sql(text, name, P11, 0, ctx, f, NULL), 0);
		return;
	}
	path = xasprintf("%s/sql/%s", tu_tests_dir(), name);
	ck_assert_msg(plan_load(&p, path, &d) == 0, "%s does not load: %s", name,
	    d.n > 0 ? d.v[0].msg : "?");
	ck_assert_int_eq(sqlcheck_plan(p, NULL, f, NULL), 0);
	/* Findings name the file as the corpus does. */
	for (i = 0; i < f->n; i++) {
		free(f->v[i].file);
		f->v[i].file = xstrdup(name);
	}
	plan_free(p);
	plan_diags_free(&d);
	free(path);
}

/* Every rule: its bad file is flagged on exactly the marked lines. */
START_TEST(test_corpus_bad)
{
	size_t n;
	const struct sqlrule *r = &sqlcheck_rules(&n)[_i];
	struct findings f = FINDINGS_INIT;
	struct sqlctx ctx;
	char *name, *text = corpus_read(r->id, "bad", &name);
	int expect[256], nexpect = 0, lineno = 0, i;
	size_t j, got = 0;

	ctx = corpus_ctx(text);
	corpus_analyze(name, text, &ctx, &f);
	/* The marked lines, counted from 1. */
	for (i = 0, lineno = 1; text[i] != '\0'; lineno++) {
		const char *eol = strchr(text + i, '\n');
		size_t len = eol != NULL ? (size_t)(eol - (text + i)) : strlen(text + i);
		char *l = xstrndup(text + i, len);

		if (strstr(l, "-- expect") != NULL || strstr(l, "/* expect */") != NULL) {
			ck_assert(nexpect < 256);
			expect[nexpect++] = lineno;
		}
		free(l);
		i += (int)len + (eol != NULL);
	}
	ck_assert_msg(nexpect >= 5, "%s: only %d cases", name, nexpect);
	for (j = 0; j < f.n; j++) {
		int k, found = 0;

		if (strcmp(f.v[j].rule, r->id) != 0)
			continue;
		got++;
		for (k = 0; k < nexpect; k++)
			if (expect[k] == f.v[j].line)
				found = 1;
		ck_assert_msg(found, "%s:%d: unexpected %s: %s", name,
		    f.v[j].line, r->id, f.v[j].msg);
		/* Dropping an index outside a plan breaks no code: a warning. */
		ck_assert_int_eq(f.v[j].severity, strcmp(r->id, "E-DROP-INDEX") == 0 &&
		    !ctx.in_plan ? SEV_WARNING : r->severity);
		ck_assert_str_eq(f.v[j].fix, sqlcheck_fix(r->id, ctx.in_plan));
	}
	for (i = 0; i < nexpect; i++) {
		int count = 0;

		for (j = 0; j < f.n; j++)
			if (strcmp(f.v[j].rule, r->id) == 0 && f.v[j].line == expect[i])
				count++;
		ck_assert_msg(count == 1, "%s:%d: %d findings of %s, want 1",
		    name, expect[i], count, r->id);
	}
	ck_assert_uint_eq(got, (size_t)nexpect);
	findings_free(&f);
	free(text);
	free(name);
}
END_TEST

/* Every rule: its ok file (near misses) gives no finding of that rule. */
START_TEST(test_corpus_ok)
{
	size_t n, j;
	const struct sqlrule *r = &sqlcheck_rules(&n)[_i];
	struct findings f = FINDINGS_INIT;
	struct sqlctx ctx;
	char *name, *text = corpus_read(r->id, "ok", &name);
	int stmts = 0;
	const char *p;

	for (p = text; (p = strchr(p, ';')) != NULL; p++)
		stmts++;
	ck_assert_msg(stmts >= 5, "%s: only %d statements", name, stmts);
	ctx = corpus_ctx(text);
	corpus_analyze(name, text, &ctx, &f);
	for (j = 0; j < f.n; j++)
		ck_assert_msg(strcmp(f.v[j].rule, r->id) != 0, "%s:%d: %s: %s",
		    name, f.v[j].line, r->id, f.v[j].msg);
	findings_free(&f);
	free(text);
	free(name);
}
END_TEST

/* Analyzes sql as a plain file (1:1) with ctx; returns the findings. */
static struct findings
run(const char *sql, const struct sqlctx *ctx)
{
	struct findings f = FINDINGS_INIT;

	ck_assert_int_eq(sqlcheck_sql(sql, "m.sql", P11, 0, ctx, &f, NULL), 0);
	return f;
}

/* The first finding of rule, or NULL. */
static const struct finding *
find(const struct findings *f, const char *rule)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->v[i].rule, rule) == 0)
			return &f->v[i];
	return NULL;
}

/* Number of findings of rule. */
static int
count(const struct findings *f, const char *rule)
{
	size_t i;
	int n = 0;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->v[i].rule, rule) == 0)
			n++;
	return n;
}

START_TEST(test_location_block_scalar)
{
	struct findings f = FINDINGS_INIT;
	struct pos base = { .line = 10, .col = 7 };
	const struct finding *x;

	/* Every line of a YAML block scalar starts at base.col. */
	sqlcheck_sql("SELECT 1;\nUPDATE users SET a = 1;\n  DELETE FROM t;",
	    "plans/p.yaml", base, 1, NULL, &f, NULL);
	x = find(&f, "E-UNBATCHED-UPDATE");
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->file, "plans/p.yaml");
	ck_assert_int_eq(x->line, 11);
	ck_assert_int_eq(x->col, 7);
	x = find(&f, "E-UNBATCHED-DELETE");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->line, 12);
	ck_assert_int_eq(x->col, 9);
	findings_free(&f);
}
END_TEST

START_TEST(test_location_plain_scalar_and_file)
{
	struct findings f = FINDINGS_INIT;
	struct pos base = { .line = 5, .col = 12 };
	const struct finding *x;

	/* A one-line scalar: column = base.col + offset. */
	sqlcheck_sql("SELECT 1; UPDATE t SET a = 1", "p.yaml", base, 0, NULL,
	    &f, NULL);
	x = find(&f, "E-UNBATCHED-UPDATE");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->line, 5);
	ck_assert_int_eq(x->col, 22);
	findings_free(&f);

	/* A file: later lines start at column 1; columns count characters. */
	f = run("SELECT 'é';\n  /* c */ DELETE FROM t;\nSELECT 'ü'; DELETE FROM u;", NULL);
	ck_assert_int_eq(count(&f, "E-UNBATCHED-DELETE"), 2);
	ck_assert_int_eq(f.v[0].line, 2);
	ck_assert_int_eq(f.v[0].col, 11);
	ck_assert_int_eq(f.v[1].line, 3);
	ck_assert_int_eq(f.v[1].col, 13);
	findings_free(&f);
}
END_TEST

START_TEST(test_syntax_error_position)
{
	struct findings f;
	const struct finding *x;

	f = run("SELECT 1;\nSELECT * FORM t;\nDELETE FROM u;", NULL);
	x = find(&f, "E-SYNTAX");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->line, 2);
	ck_assert_int_eq(x->col, 10);	/* at "FORM" */
	ck_assert(tu_has(x->msg, "syntax error"));
	/* The statements around it are still analyzed. */
	ck_assert_int_eq(count(&f, "E-UNBATCHED-DELETE"), 1);
	findings_free(&f);

	/* One statement with an error: position of the error itself. */
	f = run("\n\nALTER TABLE t ADD COLUMN x int NOT NUL;", NULL);
	x = find(&f, "E-SYNTAX");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->line, 3);
	ck_assert_int_eq(x->col, 36);
	findings_free(&f);
}
END_TEST

START_TEST(test_suppression_with_reason)
{
	struct findings f;
	const struct finding *x;

	f = run("-- excon:allow E-UNBATCHED-UPDATE lookup table of 10 rows\n"
	    "UPDATE t SET a = 1;\n"
	    "UPDATE t SET b = 2;\n", NULL);
	ck_assert_int_eq(count(&f, "E-UNBATCHED-UPDATE"), 2);
	x = &f.v[0];
	ck_assert_str_eq(x->rule, "E-UNBATCHED-UPDATE");
	ck_assert_int_eq(x->suppressed, 1);
	ck_assert_str_eq(x->reason, "lookup table of 10 rows");
	/* Only that one statement: the next one is still reported. */
	ck_assert_int_eq(f.v[1].suppressed, 0);
	ck_assert_uint_eq(findings_count(&f, SEV_ERROR), 1);
	findings_free(&f);

	/* End of line, multi-line statement, several ids. */
	f = run("DELETE\n  FROM t; -- excon:allow E-UNBATCHED-DELETE,E-SYNTAX empty in prod\n", NULL);
	ck_assert_int_eq(f.n, 1);
	ck_assert_int_eq(f.v[0].suppressed, 1);
	findings_free(&f);

	/* A blank line between comment and statement detaches it. */
	f = run("-- excon:allow E-UNBATCHED-DELETE reason\n\nDELETE FROM t;\n", NULL);
	ck_assert_int_eq(f.n, 1);
	ck_assert_int_eq(f.v[0].suppressed, 0);
	findings_free(&f);

	/* Another rule of the same statement is not suppressed. */
	f = run("-- excon:allow E-DROP-COLUMN unused\nALTER TABLE t DROP COLUMN c;\n", NULL);
	ck_assert_int_eq(find(&f, "E-DROP-COLUMN")->suppressed, 1);
	ck_assert_int_eq(find(&f, "W-NOT-IDEMPOTENT")->suppressed, 0);
	findings_free(&f);
}
END_TEST

START_TEST(test_suppression_without_reason)
{
	struct findings f;
	const struct finding *x;

	f = run("SELECT 1;\n-- excon:allow E-UNBATCHED-DELETE\nDELETE FROM t;\n", NULL);
	x = find(&f, "E-UNBATCHED-DELETE");
	ck_assert_int_eq(x->suppressed, 0);
	ck_assert_ptr_null(x->reason);
	x = find(&f, "E-ALLOW-NO-REASON");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->line, 2);
	ck_assert_int_eq(x->col, 1);
	ck_assert(tu_has(x->msg, "E-UNBATCHED-DELETE"));
	ck_assert_uint_eq(findings_count(&f, SEV_ERROR), 2);
	findings_free(&f);
}
END_TEST

/* Covers used by the --sql tests. */
static const struct cover covers[] = {
	{ NULL, "users", "name", NULL, COVER_COLUMN, "users-full-name",
	  "drop-name", 1 },
	{ NULL, "users", "email", NULL, COVER_COLUMN, "users-email",
	  "drop-email", 0 },
	{ "app", "orders", "total", NULL, COVER_COLUMN, "orders-total",
	  "drop-total", 1 },
	{ NULL, "legacy", NULL, NULL, COVER_TABLE, "legacy", "drop-legacy", 1 },
	{ NULL, NULL, NULL, "users_email_idx", COVER_INDEX, "idx", "drop-idx", 1 },
	{ NULL, "users", NULL, "users_chk", COVER_CONSTRAINT, "chk", "drop-chk", 1 },
	{ NULL, "users", "nick", NULL, COVER_NOT_NULL, "nick", "stop-nick", 1 },
	{ NULL, "users", NULL, "sync_name", COVER_TRIGGER, "users-full-name",
	  "drop-trigger", 0 },
};

/* Findings of a --sql check with the covers above. */
static struct findings
run_covered(const char *sql)
{
	struct sqlctx c = sqlctx_plain(covers, sizeof covers / sizeof covers[0]);

	return run(sql, &c);
}

START_TEST(test_cover_open_passes)
{
	struct findings f;

	f = run_covered(
	    "ALTER TABLE users DROP COLUMN IF EXISTS name;\n"
	    "ALTER TABLE public.users DROP COLUMN IF EXISTS name;\n"
	    "ALTER TABLE Users DROP COLUMN IF EXISTS NAME;\n"
	    "ALTER TABLE users RENAME COLUMN name TO full_name;\n"
	    "ALTER TABLE app.orders DROP COLUMN IF EXISTS total;\n"
	    "DROP TABLE IF EXISTS legacy;\n"
	    "DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;\n"
	    "ALTER TABLE users DROP CONSTRAINT IF EXISTS users_chk;\n"
	    "ALTER TABLE users ALTER COLUMN nick DROP NOT NULL;\n");
	ck_assert_int_eq(count(&f, "E-DROP-COLUMN"), 0);
	/* A rename never becomes safe, whatever the window. */
	ck_assert_int_eq(count(&f, "E-RENAME-COLUMN"), 1);
	ck_assert(tu_has(find(&f, "E-RENAME-COLUMN")->msg, "a rename never becomes safe"));
	ck_assert_int_eq(count(&f, "E-DROP-TABLE"), 0);
	ck_assert_int_eq(count(&f, "E-DROP-INDEX"), 0);
	ck_assert_int_eq(count(&f, "E-DROP-CONSTRAINT"), 0);
	ck_assert_int_eq(count(&f, "E-DROP-NOT-NULL"), 0);
	findings_free(&f);
}
END_TEST

START_TEST(test_cover_closed_names_plan_step)
{
	struct findings f;
	const struct finding *x;

	f = run_covered("SELECT 1;\nALTER TABLE users DROP COLUMN IF EXISTS email;\n"
	    "DROP TRIGGER IF EXISTS sync_name ON users;\n");
	x = find(&f, "E-DROP-COLUMN");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->line, 2);
	ck_assert_str_eq(x->msg, "drop of column \"public.users.email\" becomes "
	    "legal when contract step 'users-email/drop-email' ships (window "
	    "not open yet)");
	x = find(&f, "E-DROP-TRIGGER");
	ck_assert_ptr_nonnull(x);
	ck_assert(tu_has(x->msg, "'users-full-name/drop-trigger' ships"));
	findings_free(&f);
}
END_TEST

START_TEST(test_cover_none)
{
	struct findings f;
	const struct finding *x;

	f = run_covered("ALTER TABLE users DROP COLUMN IF EXISTS age;\n");
	x = find(&f, "E-DROP-COLUMN");
	ck_assert_ptr_nonnull(x);
	ck_assert(tu_has(x->msg, "\"public.users.age\": no plan covers it"));
	findings_free(&f);
	/* A cover of another kind does not count: the table, not the column. */
	f = run_covered("ALTER TABLE legacy DROP COLUMN IF EXISTS a;\n");
	ck_assert(tu_has(find(&f, "E-DROP-COLUMN")->msg, "no plan covers"));
	findings_free(&f);
}
END_TEST

START_TEST(test_cover_identifiers)
{
	struct findings f;

	/* Quoted names keep their case and do not match the cover. */
	f = run_covered("ALTER TABLE \"Users\" DROP COLUMN IF EXISTS name;\n"
	    "ALTER TABLE users DROP COLUMN IF EXISTS \"Name\";\n");
	ck_assert_int_eq(count(&f, "E-DROP-COLUMN"), 2);
	ck_assert(tu_has(f.v[0].msg, "no plan covers"));
	findings_free(&f);
	/* Unquoted names fold to lower case; "public" is the default schema. */
	f = run_covered("ALTER TABLE PUBLIC.USERS DROP COLUMN IF EXISTS Name;\n"
	    "ALTER TABLE \"public\".\"users\" DROP COLUMN IF EXISTS \"name\";\n");
	ck_assert_int_eq(count(&f, "E-DROP-COLUMN"), 0);
	findings_free(&f);
	/* Schema-qualified covers match only their schema. */
	f = run_covered("ALTER TABLE orders DROP COLUMN IF EXISTS total;\n"
	    "ALTER TABLE other.users DROP COLUMN IF EXISTS name;\n"
	    "ALTER TABLE App.Orders DROP COLUMN IF EXISTS total;\n");
	ck_assert_int_eq(count(&f, "E-DROP-COLUMN"), 2);
	ck_assert_int_eq(f.v[0].line, 1);
	findings_free(&f);
}
END_TEST

/* A plan-step context. */
static struct sqlctx
step_ctx(enum phase ph, enum stage st, enum step_kind k)
{
	struct sqlctx c = sqlctx_plain(NULL, 0);

	c.in_plan = 1;
	c.phase = ph;
	c.stage = st;
	c.kind = k;
	c.transaction = 1;
	return c;
}

START_TEST(test_phase_drop_column)
{
	struct sqlctx c;
	struct findings f;
	const struct finding *x;

	c = step_ctx(PHASE_EXPAND, STAGE_PRE, KIND_SQL);
	c.stage = STAGE_CODE;
	f = run("ALTER TABLE users DROP COLUMN IF EXISTS name;", &c);
	x = find(&f, "E-DROP-COLUMN");
	ck_assert_ptr_nonnull(x);
	ck_assert(tu_has(x->msg, "in an expand step"));
	findings_free(&f);

	c = step_ctx(PHASE_CONTRACT, STAGE_POST, KIND_SQL);
	f = run("ALTER TABLE users DROP COLUMN IF EXISTS name;", &c);
	ck_assert_int_eq(count(&f, "E-DROP-COLUMN"), 0);
	findings_free(&f);
	/* Other rules still apply in a contract step. */
	f = run("ALTER TABLE users DROP COLUMN IF EXISTS name;\n"
	    "ALTER TABLE orders DROP COLUMN IF EXISTS x;\nDELETE FROM t;", &c);
	ck_assert_int_eq(count(&f, "E-DROP-COLUMN"), 0);
	ck_assert_int_eq(count(&f, "E-MULTI-TABLE-LOCK"), 1);
	ck_assert_int_eq(count(&f, "E-UNBATCHED-DELETE"), 1);
	findings_free(&f);

	/* A contract step at stage pre still destroys too early. */
	c = step_ctx(PHASE_CONTRACT, STAGE_PRE, KIND_SQL);
	f = run("DROP TABLE IF EXISTS legacy;", &c);
	ck_assert(tu_has(find(&f, "E-DROP-TABLE")->msg, "pre step"));
	findings_free(&f);

	/* A step's `down` undoes it: dropping what it added is expected. */
	c = step_ctx(PHASE_EXPAND, STAGE_PRE, KIND_SQL);
	c.rollback = 1;
	f = run("ALTER TABLE users DROP COLUMN IF EXISTS full_name;", &c);
	ck_assert_int_eq(count(&f, "E-DROP-COLUMN"), 0);
	findings_free(&f);

	/* DROP NOT NULL is what stop_old_writes is for. */
	c = step_ctx(PHASE_MIGRATE, STAGE_CODE, KIND_STOP_OLD_WRITES);
	f = run("ALTER TABLE users ALTER COLUMN name DROP NOT NULL;", &c);
	ck_assert_int_eq(count(&f, "E-DROP-NOT-NULL"), 0);
	findings_free(&f);
	c.kind = KIND_SQL;
	f = run("ALTER TABLE users ALTER COLUMN name DROP NOT NULL;", &c);
	ck_assert(tu_has(find(&f, "E-DROP-NOT-NULL")->msg, "in a migrate step"));
	findings_free(&f);

	/* SET NOT NULL outside set_not_null and contract is destructive. */
	c = step_ctx(PHASE_EXPAND, STAGE_PRE, KIND_SQL);
	f = run("ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\n"
	    "ALTER TABLE t VALIDATE CONSTRAINT c;\n"
	    "ALTER TABLE t ALTER COLUMN a SET NOT NULL;", &c);
	ck_assert(tu_has(find(&f, "E-SET-NOT-NULL")->msg, "in an expand step"));
	findings_free(&f);
}
END_TEST

START_TEST(test_transaction_detection)
{
	struct sqlctx c = sqlctx_plain(NULL, 0);
	struct findings f;

	/* A plain file runs outside a transaction unless it says otherwise. */
	f = run("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 0);
	findings_free(&f);
	f = run("DROP INDEX CONCURRENTLY IF EXISTS i;", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 0);
	findings_free(&f);
	/* Inside an explicit BEGIN it is flagged, with the file's own fix. */
	f = run("BEGIN;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);\nCOMMIT;", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 1);
	ck_assert_int_eq(f.v[0].line, 2);
	ck_assert(tu_has(f.v[0].fix, "run it outside a transaction"));
	ck_assert(!tu_has(f.v[0].fix, "step"));
	findings_free(&f);
	/* assume_in_transaction: the whole file is one transaction... */
	c.assume_tx = 1;
	f = run("ALTER TABLE t ADD COLUMN IF NOT EXISTS b int;\n"
	    "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 1);
	findings_free(&f);
	/* ...except one of only such statements, which Flyway runs outside one. */
	f = run("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);\n"
	    "DROP INDEX CONCURRENTLY IF EXISTS j;", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 0);
	findings_free(&f);
	/* ...unless a tool's marker says it is not. */
	f = run("-- +goose NO TRANSACTION\nSELECT 1;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 0);
	findings_free(&f);
	f = run("-- migrate:up transaction:false\nSELECT 1;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 0);
	findings_free(&f);
	f = run("-- excon:no-transaction\nSELECT 1;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 0);
	findings_free(&f);
	/* A plan step says it itself. */
	c = step_ctx(PHASE_EXPAND, STAGE_PRE, KIND_SQL);
	c.transaction = 0;
	f = run("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 0);
	findings_free(&f);
	c.transaction = 1;
	f = run("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", &c);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 1);
	ck_assert(tu_has(f.v[0].fix, "transaction: false"));
	findings_free(&f);
}
END_TEST

/* Sets a pstr. */
static struct pstr
ps(const char *s, int line, int col, int block)
{
	struct pstr p;

	p.s = (char *)s;
	p.pos.line = line;
	p.pos.col = col;
	p.pos.block = block != 0;
	return p;
}

START_TEST(test_plan_fields)
{
	struct plan p;
	struct step st[5];
	struct findings f = FINDINGS_INIT;
	const struct finding *x;
	size_t i;

	memset(&p, 0, sizeof p);
	memset(st, 0, sizeof st);
	p.file = (char *)"plans/users.yaml";
	p.name = ps("users-full-name", 1, 7, 0);
	p.steps = st;
	p.nsteps = 5;
	for (i = 0; i < 5; i++)
		st[i].transaction = 1;
	/* 0: an expand sql step (block scalar at 5:7) that drops a column. */
	st[0].id = ps("prep", 3, 9, 0);
	st[0].kind = KIND_SQL;
	st[0].phase = PHASE_EXPAND;
	st[0].stage = STAGE_PRE;
	st[0].up = ps("ALTER TABLE users ADD COLUMN IF NOT EXISTS a int;\n"
	    "ALTER TABLE users DROP COLUMN IF EXISTS name;", 5, 7, 1);
	st[0].down = ps("ALTER TABLE users DROP COLUMN IF EXISTS a;", 8, 11, 0);
	/* 1: a backfill with a set (batched by excon) and a bad where. */
	st[1].id = ps("backfill", 9, 9, 0);
	st[1].kind = KIND_BACKFILL;
	st[1].phase = PHASE_EXPAND;
	st[1].stage = STAGE_POST;
	st[1].set = ps("full_name = name", 12, 10, 0);
	st[1].where = ps("full_name IS NUL", 13, 12, 0);
	st[1].verify = ps("SELECT count(*) = 0 FROM users WHERE full_name IS NULL",
	    14, 13, 0);
	/* 2: add_column with a function-like constant default and a serial type. */
	st[2].id = ps("add", 15, 9, 0);
	st[2].kind = KIND_ADD_COLUMN;
	st[2].phase = PHASE_EXPAND;
	st[2].stage = STAGE_PRE;
	st[2].default_ = ps("gen_random_uuid()", 18, 14, 0);
	st[2].type = ps("bigserial", 19, 11, 0);
	/* 3: a non-transactional step creating an index concurrently. */
	st[3].id = ps("idx", 20, 9, 0);
	st[3].kind = KIND_SQL;
	st[3].phase = PHASE_EXPAND;
	st[3].stage = STAGE_PRE;
	st[3].transaction = 0;
	st[3].up = ps("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (a)", 22, 9, 0);
	/* 4: the contract step. */
	st[4].id = ps("drop", 23, 9, 0);
	st[4].kind = KIND_SQL;
	st[4].phase = PHASE_CONTRACT;
	st[4].stage = STAGE_POST;
	st[4].up = ps("ALTER TABLE users DROP COLUMN IF EXISTS name", 25, 9, 0);

	ck_assert_int_eq(sqlcheck_plan(&p, NULL, &f, NULL), 0);
	findings_sort(&f);
	ck_assert_int_eq(count(&f, "E-DROP-COLUMN"), 1);
	x = find(&f, "E-DROP-COLUMN");
	ck_assert_str_eq(x->file, "plans/users.yaml");
	ck_assert_int_eq(x->line, 6);
	ck_assert_int_eq(x->col, 7);
	ck_assert(tu_has(x->msg, "in an expand step"));
	ck_assert_int_eq(count(&f, "E-UNBATCHED-UPDATE"), 0);
	x = find(&f, "E-SYNTAX");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->line, 13);
	ck_assert_int_eq(x->col, 12 + 13);	/* "NUL" after "full_name IS " */
	/* add_column's default is a constant the executor quotes: not SQL. */
	ck_assert_int_eq(count(&f, "E-VOLATILE-DEFAULT"), 1);
	x = find(&f, "E-VOLATILE-DEFAULT");
	ck_assert_int_eq(x->line, 19);
	ck_assert_int_eq(x->col, 11);
	ck_assert_int_eq(count(&f, "E-CONCURRENT-IN-TX"), 0);
	ck_assert_uint_eq(f.n, 3);
	findings_free(&f);
}
END_TEST

START_TEST(test_file_errors_and_rules)
{
	struct findings f = FINDINGS_INIT;
	struct buf err = BUF_INIT;
	size_t n, i;
	const struct sqlrule *r = sqlcheck_rules(&n);
	char *dir = tu_tmpdir(), *path;

	ck_assert_int_eq(sqlcheck_file("/nonexistent/x.sql", NULL, &f, &err), -1);
	ck_assert(tu_has(buf_cstr(&err), "cannot open '/nonexistent/x.sql'"));
	ck_assert_uint_eq(f.n, 0);
	tu_write(dir, "m.sql", "SELECT 1;\nDELETE FROM t;\n");
	path = xasprintf("%s/m.sql", dir);
	ck_assert_int_eq(sqlcheck_file(path, NULL, &f, &err), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.v[0].file, path);
	ck_assert_int_eq(f.v[0].line, 2);
	/* Rule ids are unique and documented with a fix. */
	for (i = 0; i < n; i++) {
		ck_assert_ptr_eq(sqlcheck_rule(r[i].id), &r[i]);
		ck_assert(strlen(r[i].summary) > 0 && strlen(r[i].fix) > 0);
		ck_assert(r[i].id[0] == (r[i].severity == SEV_ERROR ? 'E' : 'W'));
	}
	ck_assert_ptr_null(sqlcheck_rule("E-NOPE"));
	free(path);
	tu_rmrf(dir);
	free(dir);
	buf_free(&err);
	findings_free(&f);
}
END_TEST

/* One statement and whether it uses the target. */
struct use_case {
	const char	*sql;
	int		 used;
};

/*
 * Asserts sqlcheck_uses(sql, t) for every case, naming the failing one,
 * and that the parse-once path (sqlcheck_parsed_uses) answers the same,
 * asked twice.
 */
static void
check_uses(const struct use_target *t, const struct use_case *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct sqlcheck_parsed *sp = sqlcheck_parse_uses(c[i].sql);

		ck_assert_msg(sqlcheck_uses(c[i].sql, t) == c[i].used,
		    "%s: expected %s", c[i].sql, c[i].used ? "use" : "no use");
		ck_assert_msg(sqlcheck_parsed_uses(sp, t) == c[i].used &&
		    sqlcheck_parsed_uses(sp, t) == c[i].used,
		    "%s: expected %s, parsed once", c[i].sql,
		    c[i].used ? "use" : "no use");
		sqlcheck_parsed_free(sp);
	}
}

static const struct use_target USERS_NAME = {
	USE_COLUMN, NULL, "users", "name"
};

/* A removed column is seen through aliases, schemas, quoting, CTEs, subqueries. */
START_TEST(test_uses_column_names)
{
	static const struct use_case c[] = {
		{ "SELECT name FROM users WHERE id = $1", 1 },
		{ "SELECT u.name FROM users u WHERE u.id = $1", 1 },
		{ "SELECT x.\"name\" FROM public.users AS x", 1 },
		{ "SELECT public.users.name FROM public.users", 1 },
		{ "SELECT \"u\".id FROM \"users\" \"u\" WHERE \"u\".name = $1", 1 },
		{ "SELECT id FROM users WHERE lower(name) LIKE $1", 1 },
		{ "SELECT id FROM users ORDER BY name LIMIT $1", 1 },
		{ "WITH a AS (SELECT id, name FROM users) SELECT id FROM a", 1 },
		{ "SELECT id FROM (SELECT u.name AS n, u.id FROM users u) s", 1 },
		{ "SELECT o.id FROM orders o WHERE EXISTS "
		  "(SELECT 1 FROM users u WHERE u.id = o.user_id AND u.name = $1)", 1 },
		{ "SELECT o.id, (SELECT name FROM users WHERE id = o.user_id) FROM orders o", 1 },
		{ "SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id "
		  "WHERE u.name = $1", 1 },
		{ "SELECT u.id FROM users u WHERE u.id IN (SELECT user_id FROM orders "
		  "WHERE orders.note = u.name)", 1 },
		{ "UPDATE users SET name = $1 WHERE id = $2", 1 },
		{ "UPDATE users u SET full_name = $1 WHERE u.name = $2", 1 },
		{ "INSERT INTO users (id, name) VALUES ($1, $2)", 1 },
		{ "INSERT INTO users (id, full_name) VALUES ($1, $2) "
		  "ON CONFLICT (id) DO UPDATE SET name = excluded.full_name", 1 },
		{ "DELETE FROM users WHERE name = $1", 1 },
		{ "SELECT u FROM users u", 1 },
		{ "SELECT row_to_json(users) FROM users", 1 },
		{ "SELECT a.id FROM users a JOIN users_old b USING (name)", 1 },
		{ "SELECT id FROM users; SELECT name FROM users", 1 },
	};

	check_uses(&USERS_NAME, c, sizeof c / sizeof c[0]);
}
END_TEST

/* Every column is used by *, t.*, RETURNING *, INSERT or COPY without a list. */
START_TEST(test_uses_column_star)
{
	static const struct use_case c[] = {
		{ "SELECT * FROM users WHERE id = $1", 1 },
		{ "SELECT u.* FROM users u", 1 },
		{ "SELECT o.id, u.* FROM orders o JOIN users u ON u.id = o.user_id", 1 },
		{ "SELECT * FROM orders o JOIN users u ON u.id = o.user_id", 1 },
		{ "WITH a AS (SELECT * FROM users) SELECT id FROM a", 1 },
		{ "SELECT * FROM (SELECT * FROM users) s", 1 },
		{ "UPDATE users SET full_name = $1 WHERE id = $2 RETURNING *", 1 },
		{ "DELETE FROM users WHERE id = $1 RETURNING *", 1 },
		{ "INSERT INTO users VALUES ($1, $2, $3)", 1 },
		{ "INSERT INTO users SELECT * FROM users_import", 1 },
		{ "INSERT INTO users (id) VALUES ($1) RETURNING *", 1 },
		{ "COPY users TO STDOUT", 1 },
		{ "COPY users (id, name) FROM STDIN", 1 },
	};

	check_uses(&USERS_NAME, c, sizeof c / sizeof c[0]);
}
END_TEST

/* Near misses: the same name elsewhere, renamed, hidden behind a subquery. */
START_TEST(test_uses_column_near_misses)
{
	static const struct use_case c[] = {
		{ "SELECT id, full_name FROM users WHERE id = $1", 0 },
		{ "SELECT name FROM orders WHERE id = $1", 0 },
		{ "SELECT o.name FROM orders o JOIN users u ON u.id = o.user_id", 0 },
		{ "SELECT name FROM accounts.users", 0 },
		{ "SELECT * FROM orders", 0 },
		{ "SELECT o.* FROM orders o JOIN users u ON u.id = o.user_id", 0 },
		{ "SELECT * FROM (SELECT id, full_name FROM users) s", 0 },
		{ "SELECT s.name FROM (SELECT full_name AS name FROM users) s", 0 },
		{ "WITH users AS (SELECT 1 AS id, $1::text AS name) SELECT name FROM users", 0 },
		{ "SELECT count(*) FROM users", 0 },
		{ "INSERT INTO users (id, full_name) VALUES ($1, $2)", 0 },
		{ "INSERT INTO users (id, full_name) SELECT id, name FROM people", 0 },
		{ "UPDATE users SET full_name = $1 WHERE id = $2", 0 },
		{ "UPDATE users SET full_name = $1 WHERE id = $2 RETURNING id", 0 },
		{ "DELETE FROM users WHERE id = $1", 0 },
		{ "COPY users (id, full_name) TO STDOUT", 0 },
		{ "SELECT 'name' FROM users", 0 },
		{ "SELECT id AS name FROM users_old", 0 },
		{ "BEGIN", 0 },
		{ "SET search_path = public", 0 },
	};

	check_uses(&USERS_NAME, c, sizeof c / sizeof c[0]);
}
END_TEST

/* A removed table or view is used wherever it is named, not a CTE of that name. */
START_TEST(test_uses_relation)
{
	static const struct use_target t = { USE_RELATION, NULL, "users_v", NULL };
	static const struct use_case c[] = {
		{ "SELECT id FROM users_v WHERE id = $1", 1 },
		{ "SELECT count(*) FROM public.users_v", 1 },
		{ "SELECT o.id FROM orders o WHERE o.user_id IN (SELECT id FROM \"users_v\")", 1 },
		{ "INSERT INTO users_v (id) VALUES ($1)", 1 },
		{ "UPDATE users_v SET x = $1", 1 },
		{ "DELETE FROM users_v", 1 },
		{ "TRUNCATE users_v", 1 },
		{ "LOCK TABLE users_v IN SHARE MODE", 1 },
		{ "COPY users_v TO STDOUT", 1 },
		{ "SELECT id FROM users", 0 },
		{ "SELECT id FROM other.users_v", 0 },
		{ "SELECT users_v FROM orders", 0 },
		{ "WITH users_v AS (SELECT 1 AS id) SELECT id FROM users_v", 0 },
		{ "SELECT \"USERS_V\".id FROM \"USERS_V\"", 0 },
	};

	check_uses(&t, c, sizeof c / sizeof c[0]);
}
END_TEST

/* A removed function is used wherever it is called. */
START_TEST(test_uses_function)
{
	static const struct use_target t = { USE_FUNCTION, NULL, "full_name_of", NULL };
	static const struct use_case c[] = {
		{ "SELECT full_name_of(id) FROM users", 1 },
		{ "SELECT public.full_name_of($1)", 1 },
		{ "SELECT * FROM full_name_of($1)", 1 },
		{ "SELECT id FROM users WHERE upper(full_name_of(id)) = $1", 1 },
		{ "CALL full_name_of($1)", 1 },
		{ "SELECT full_name FROM users", 0 },
		{ "SELECT other.full_name_of($1)", 0 },
		{ "SELECT full_name_of FROM users", 0 },
	};

	check_uses(&t, c, sizeof c / sizeof c[0]);
}
END_TEST

/* Text that does not parse counts as use only when it contains the name. */
START_TEST(test_uses_unparsable)
{
	static const struct use_case c[] = {
		{ "SELECT interval $1 FROM users WHERE name = $2", 1 },
		{ "SELEC name FROM users", 1 },
		{ "<insufficient privilege>", 0 },
		{ "SELECT FROM WHERE nickname", 0 },
		{ "", 0 },
	};
	struct buf deep = BUF_INIT;
	int i;

	check_uses(&USERS_NAME, c, sizeof c / sizeof c[0]);
	/* Deep nesting neither crashes nor hides the column. */
	buf_puts(&deep, "SELECT ");
	for (i = 0; i < 3000; i++)
		buf_puts(&deep, "(");
	buf_puts(&deep, "name");
	for (i = 0; i < 3000; i++)
		buf_puts(&deep, ")");
	buf_puts(&deep, " FROM users");
	ck_assert_int_eq(sqlcheck_uses(buf_cstr(&deep), &USERS_NAME), 1);
	buf_free(&deep);
}
END_TEST

/*
 * The parse-once path skips texts that cannot name the target, but not
 * those that hide a name: a Unicode-escaped identifier, or a name with a
 * double quote (written doubled).
 */
START_TEST(test_uses_parsed_once_hidden_names)
{
	static const struct use_case c[] = {
		{ "SELECT U&\"n\\0061me\" FROM U&\"\\0075sers\"", 1 },
		{ "SELECT u&\"n\\0061me\" FROM users", 1 },
		{ "SELECT id FROM orders", 0 },
		/* Without the table: only the fallback on the word. */
		{ "SELECT name FROM orders", 0 },
		{ "SELEC name FROM orders", 1 },
		{ "SELEC nickname FROM orders", 0 },
	};
	static const struct use_case q[] = {
		{ "SELECT \"na\"\"me\" FROM \"us\"\"ers\"", 1 },
		{ "SELECT name FROM users", 0 },
	};
	static const struct use_target quoted = {
		USE_COLUMN, NULL, "us\"ers", "na\"me"
	};
	static const struct use_target tables[] = {
		{ USE_RELATION, NULL, "orders", NULL },
		{ USE_RELATION, NULL, "users", NULL },
		{ USE_COLUMN, NULL, "orders", "id" },
	};
	struct sqlcheck_parsed *sp;
	struct buf deep = BUF_INIT;
	struct use_case d[2];
	int i;

	check_uses(&USERS_NAME, c, sizeof c / sizeof c[0]);
	check_uses(&quoted, q, sizeof q / sizeof q[0]);
	/* Deep nesting without the table: as sqlcheck_uses, no use. */
	buf_puts(&deep, "SELECT ");
	for (i = 0; i < 3000; i++)
		buf_puts(&deep, "(");
	buf_puts(&deep, "name");
	for (i = 0; i < 3000; i++)
		buf_puts(&deep, ")");
	buf_puts(&deep, " FROM orders");
	d[0].sql = buf_cstr(&deep);
	d[0].used = 0;
	d[1].sql = "SELECT (((name))) FROM orders";
	d[1].used = 0;
	check_uses(&USERS_NAME, d, 2);
	buf_free(&deep);
	/* One text, several targets, in any order. */
	sp = sqlcheck_parse_uses("SELECT o.id FROM orders o");
	ck_assert_int_eq(sqlcheck_parsed_uses(sp, &tables[1]), 0);
	ck_assert_int_eq(sqlcheck_parsed_uses(sp, &tables[0]), 1);
	ck_assert_int_eq(sqlcheck_parsed_uses(sp, &USERS_NAME), 0);
	ck_assert_int_eq(sqlcheck_parsed_uses(sp, &tables[2]), 1);
	sqlcheck_parsed_free(sp);
}
END_TEST

/* Every statement of the rule corpus is walked for every kind of target. */
START_TEST(test_uses_corpus_walks)
{
	static const struct use_target t[] = {
		{ USE_COLUMN, NULL, "users", "name" },
		{ USE_RELATION, "public", "users", NULL },
		{ USE_FUNCTION, NULL, "now", NULL },
	};
	const struct sqlrule *r;
	size_t n, i, k;
	int used = 0;

	r = sqlcheck_rules(&n);
	for (i = 0; i < n; i++) {
		char *name, *bad = corpus_read(r[i].id, "bad", &name);

		free(name);
		for (k = 0; k < sizeof t / sizeof t[0]; k++)
			used += sqlcheck_uses(bad, &t[k]);
		free(bad);
	}
	/* The corpus alters and drops users.name in places. */
	ck_assert_int_gt(used, 0);
}
END_TEST


/* The sqlcheck suite: one TCase per rule (its corpus), one per behaviour. */
/* Seconds on a monotonic clock. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Checks that sqlcheck_fragment(k, in) gives clean text want. */
static void
frag_ok(enum sqlfrag k, const char *in, const char *want)
{
	struct buf err = BUF_INIT;
	char *clean = NULL;

	ck_assert_msg(sqlcheck_fragment(k, in, &clean, &err) == 0, "%s: %s", in,
	    buf_cstr(&err));
	ck_assert_str_eq(clean, want);
	free(clean);
	buf_free(&err);
}

/* Checks that sqlcheck_fragment(k, in) fails with message want. */
static void
frag_bad(enum sqlfrag k, const char *in, const char *want)
{
	struct buf err = BUF_INIT;
	char *clean = NULL;

	ck_assert_int_eq(sqlcheck_fragment(k, in, &clean, &err), -1);
	ck_assert_ptr_null(clean);
	ck_assert_str_eq(buf_cstr(&err), want);
	buf_free(&err);
}

/*
 * A fragment is built into a statement from the tokens the parser read:
 * comments and ';' are gone, strings that look like them stay; anything
 * but exactly one fragment of the shape is refused.
 */
START_TEST(test_fragment_parsed)
{
	frag_ok(FRAG_SET, "full_name = name  -- copy the old value",
	    "full_name = name");
	frag_ok(FRAG_SET, "a = '--x', b = $$;$$ /* c */ ;", "a = '--x', b = $$;$$");
	frag_ok(FRAG_TYPE, "integer  -- number of logins", "integer");
	frag_ok(FRAG_TYPE, "numeric(10, 2)", "numeric(10, 2)");
	frag_ok(FRAG_TYPE, "text COLLATE \"C\"", "text COLLATE \"C\"");
	frag_ok(FRAG_EXPR, "x > 0 -- positive\n", "x > 0");
	frag_ok(FRAG_EXPR, "a /* x */ = 1", "a         = 1");
	frag_ok(FRAG_QUERY, "SELECT true; -- done", "SELECT true");
	frag_bad(FRAG_EXPR, "NEW.name; DELETE FROM users",
	    "must be one expression, not 2 statements");
	frag_bad(FRAG_EXPR, "x > 0) NOT VALID; DELETE FROM audit; SELECT (1",
	    "syntax error at or near \")\"");
	frag_bad(FRAG_EXPR, "1 FROM users", "must be one expression and nothing else");
	frag_bad(FRAG_EXPR, "$excon$x$excon$",
	    "'$excon$' is reserved: it would end the code excon wraps around this field");
	frag_bad(FRAG_TYPE, "integer DEFAULT 5", "syntax error at or near \"5\"");
	frag_bad(FRAG_TYPE, "integer, 1", "must be one type name and nothing else");
	frag_bad(FRAG_SET, "a = 1 WHERE true", "must be one list of assignments "
	    "(col = expr, ...) and nothing else");
	frag_bad(FRAG_QUERY, "DELETE FROM t RETURNING true",
	    "must be one SELECT query and nothing else");
	frag_bad(FRAG_QUERY, "SELECT 1 INTO t2", "must be one SELECT query and nothing else");
}
END_TEST

/*
 * Deeply nested SQL is an E-SYNTAX finding at a documented depth, not a
 * crash (the parse tree's unpacking used to overflow the stack).
 */
START_TEST(test_deep_nesting)
{
	struct sqlctx c = sqlctx_plain(NULL, 0);
	struct findings f;
	struct buf q = BUF_INIT;
	const struct finding *x;
	int i;

	buf_puts(&q, "SELECT a");
	for (i = 0; i < 5000; i++)
		buf_puts(&q, "->'x'");
	buf_puts(&q, " FROM t;\nSELECT 1;\n");
	f = run(buf_cstr(&q), &c);
	x = find(&f, "E-SYNTAX");
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->msg, "statement nested more than 1000 levels deep");
	ck_assert_int_eq(x->line, 1);
	findings_free(&f);

	buf_reset(&q);
	buf_puts(&q, "SELECT ");
	for (i = 0; i < 1500; i++)
		buf_puts(&q, "(SELECT ");
	buf_puts(&q, "1");
	for (i = 0; i < 1500; i++)
		buf_puts(&q, ")");
	f = run(buf_cstr(&q), &c);
	x = find(&f, "E-SYNTAX");
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->msg, "statement nested more than 1000 levels deep");
	findings_free(&f);

	/* Real nesting is fine. */
	buf_reset(&q);
	buf_puts(&q, "SELECT ");
	for (i = 0; i < 100; i++)
		buf_puts(&q, "(SELECT ");
	buf_puts(&q, "1");
	for (i = 0; i < 100; i++)
		buf_puts(&q, ")");
	f = run(buf_cstr(&q), &c);
	ck_assert_uint_eq(f.n, 0);
	findings_free(&f);
	buf_free(&q);
}
END_TEST

/*
 * 40,000 statements with findings, and 20,000 allow comments, are
 * analyzed in linear time (the old code took over 30 s for the first;
 * the limit leaves room for a loaded machine).
 */
START_TEST(test_many_findings_fast)
{
	struct sqlctx c = sqlctx_plain(NULL, 0);
	struct findings f;
	struct buf q = BUF_INIT;
	double t0;
	int i;

	for (i = 0; i < 40000; i++)
		buf_printf(&q, "DROP TABLE t%d;\n", i);
	t0 = now_s();
	f = run(buf_cstr(&q), &c);
	ck_assert_msg(now_s() - t0 < 4, "%.1f s", now_s() - t0);
	ck_assert_uint_ge(findings_count(&f, SEV_ERROR), 40000);
	ck_assert_int_eq(f.v[f.n - 1].line, 40000);
	findings_free(&f);

	buf_reset(&q);
	for (i = 0; i < 20000; i++)
		buf_printf(&q, "UPDATE t SET a = %d; -- excon:allow E-UNBATCHED-UPDATE ok\n", i);
	t0 = now_s();
	f = run(buf_cstr(&q), &c);
	ck_assert_msg(now_s() - t0 < 4, "%.1f s", now_s() - t0);
	ck_assert_uint_eq(findings_count(&f, -1), 0);
	ck_assert_uint_eq(f.n, 20000);
	findings_free(&f);
	buf_free(&q);
}
END_TEST

static Suite *
sqlcheck_suite(void)
{
	Suite *s = suite_create("sqlcheck");
	size_t n, i;
	const struct sqlrule *r = sqlcheck_rules(&n);
	struct { const char *name; const TTest *fn; } cases[] = {
		{ "location_block_scalar", test_location_block_scalar },
		{ "location_plain", test_location_plain_scalar_and_file },
		{ "syntax_error_position", test_syntax_error_position },
		{ "suppression_with_reason", test_suppression_with_reason },
		{ "suppression_without_reason", test_suppression_without_reason },
		{ "cover_open", test_cover_open_passes },
		{ "cover_closed", test_cover_closed_names_plan_step },
		{ "cover_none", test_cover_none },
		{ "cover_identifiers", test_cover_identifiers },
		{ "phase", test_phase_drop_column },
		{ "transaction_detection", test_transaction_detection },
		{ "plan_fields", test_plan_fields },
		{ "file_and_rules", test_file_errors_and_rules },
		{ "fragment_parsed", test_fragment_parsed },
		{ "deep_nesting", test_deep_nesting },
		{ "many_findings_fast", test_many_findings_fast },
		{ "uses_column_names", test_uses_column_names },
		{ "uses_column_star", test_uses_column_star },
		{ "uses_column_near_misses", test_uses_column_near_misses },
		{ "uses_relation", test_uses_relation },
		{ "uses_function", test_uses_function },
		{ "uses_unparsable", test_uses_unparsable },
		{ "uses_corpus", test_uses_corpus_walks },
		{ "uses_parsed_once_hidden_names", test_uses_parsed_once_hidden_names },
	};

	for (i = 0; i < n; i++) {
		TCase *tc = tcase_create(r[i].id);

		tcase_add_loop_test(tc, test_corpus_bad, (int)i, (int)i + 1);
		tcase_add_loop_test(tc, test_corpus_ok, (int)i, (int)i + 1);
		suite_add_tcase(s, tc);
	}
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tu_add(s, cases[i].name, cases[i].fn, NULL, NULL, 30);
	}
	return s;
}

int
main(void)
{
	return tu_run_suite(sqlcheck_suite());
}
