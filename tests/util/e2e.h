/*
 * Helpers for the end-to-end suites, which drive the real excon binary
 * against a database of their own: a project directory (excon.yaml,
 * plans/, state/), the users table of the sample plan, excon runs with
 * --db, waiting for database conditions, picking values out of excon's
 * JSON, and pgbench clients standing for the application code.  Everything
 * is static so that each suite has its own copy, as with pgtest.h.
 */
#ifndef EXCON_E2E_H
#define EXCON_E2E_H

#include <stdarg.h>

#include "util/pgtest.h"
#include "util/proc.h"

/* A project and its database. */
struct e2e {
	char	*dir;		/* project directory (owned) */
	char	*db;		/* database name (owned) */
	char	*ci;		/* the database's conninfo (owned) */
};

/*
 * Creates database `name` and a project directory whose excon.yaml names
 * plans/ and state/excon.db, followed by the lines in config (may be NULL).
 */
static inline void
e2e_setup(struct e2e *e, const char *name, const char *config)
{
	struct buf y = BUF_INIT;

	e->db = xstrdup(name);
	e->ci = pt_db(name);
	e->dir = tu_tmpdir();
	buf_puts(&y, "plans: plans\nstate: state/excon.db\n");
	if (config != NULL)
		buf_puts(&y, config);
	tu_write(e->dir, "excon.yaml", buf_cstr(&y));
	tu_state_init(e->dir, "state/excon.db");
	buf_free(&y);
}

/* Writes plans/<file> with yaml, or a copy of the repository's plan when yaml is NULL. */
static inline void
e2e_plan(struct e2e *e, const char *file, const char *yaml)
{
	char *path = NULL, *text;
	size_t n;

	if (yaml != NULL) {
		path = xasprintf("plans/%s", file);
		tu_write(e->dir, path, yaml);
		free(path);
		return;
	}
	path = xasprintf("%s/../plans", tu_tests_dir());
	text = tu_read(path, "users-full-name.yaml", &n);
	ck_assert_msg(text != NULL, "cannot read %s/users-full-name.yaml", path);
	free(path);
	path = xasprintf("plans/%s", file);
	tu_write(e->dir, path, text);
	free(path);
	free(text);
}

/* Drops the database and removes the project. */
static inline void
e2e_free(struct e2e *e)
{
	struct pg *db = NULL;
	struct buf err = BUF_INIT, q = BUF_INIT;

	if (pg_connect(&db, tu_pg(), "excon-test", &err) == 0) {
		buf_printf(&q, "DROP DATABASE IF EXISTS %s WITH (FORCE)", e->db);
		(void)pg_exec(db, buf_cstr(&q), 0, NULL, NULL, &err);
		pg_close(db);
	}
	tu_rmrf(e->dir);
	free(e->dir);
	free(e->db);
	free(e->ci);
	buf_free(&err);
	buf_free(&q);
	memset(e, 0, sizeof *e);
}

/* Creates users(id bigserial primary key, name text NOT NULL) with n rows named u<id>. */
static inline void
e2e_users(const char *ci, long n)
{
	char *sql = xasprintf(
	    "CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL)"
	    " WITH (autovacuum_enabled = false);"
	    "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, %ld) g;"
	    "ANALYZE users", n);

	free(pt_sql(ci, sql));
	free(sql);
}

/* Runs excon in the project with the NULL-terminated args, adding --db when db is set. */
static inline int
e2e_vrun(struct e2e *e, struct run *r, int db, va_list ap)
{
	const char *av[64];
	const char *a;
	int n = 0;

	while ((a = va_arg(ap, const char *)) != NULL && n < 60)
		av[n++] = a;
	if (db) {
		av[n++] = "--db";
		av[n++] = e->ci;
	}
	av[n] = NULL;
	return tu_excon(r, e->dir, NULL, av);
}

/* Runs excon (see e2e_vrun); returns its exit status. */
static inline int
e2e_run(struct e2e *e, struct run *r, int db, ...)
{
	va_list ap;
	int rc;

	va_start(ap, db);
	rc = e2e_vrun(e, r, db, ap);
	va_end(ap);
	return rc;
}

/* Runs excon and asserts that it succeeded; returns its stdout (owned). */
static inline char *
e2e_ok(struct e2e *e, int db, ...)
{
	struct run r;
	va_list ap;
	char *out;

	va_start(ap, db);
	e2e_vrun(e, &r, db, ap);
	va_end(ap);
	ck_assert_msg(r.status == 0, "excon exited %d\nstdout: %s\nstderr: %s",
	    r.status, r.out, r.err);
	out = r.out;
	free(r.err);
	return out;
}

/* Number of (non-overlapping) occurrences of needle in haystack. */
static inline int
e2e_count(const char *haystack, const char *needle)
{
	size_t n = strlen(needle);
	int c = 0;

	while (n > 0 && (haystack = strstr(haystack, needle)) != NULL) {
		c++;
		haystack += n;
	}
	return c;
}

/* Number of lines of text that contain needle. */
static inline int
e2e_lines_with(const char *text, const char *needle)
{
	int c = 0;

	while (text != NULL && *text != '\0') {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		char *line = xstrndup(text, len);

		c += strstr(line, needle) != NULL;
		free(line);
		text += len + (nl != NULL);
	}
	return c;
}

/*
 * The value of "key" in the JSON object that starts with {"<idkey>":"<id>"
 * (as excon writes it, without spaces), as raw text without quotes (owned),
 * or NULL when there is no such object or key.  Good enough for excon's
 * flat objects; not a JSON parser.
 */
static inline char *
e2e_json_get(const char *json, const char *idkey, const char *id, const char *key)
{
	char *start = xasprintf("{\"%s\":\"%s\"", idkey, id);
	char *k = xasprintf("\"%s\":", key);
	const char *o = strstr(json, start), *end, *v;
	char *val = NULL;

	if (o == NULL)
		goto done;
	/* The object ends at the next '}' (excon's step objects are flat). */
	end = strchr(o, '}');
	v = strstr(o, k);
	if (v == NULL || (end != NULL && v > end))
		goto done;
	v += strlen(k);
	if (*v == '"') {
		const char *q = strchr(v + 1, '"');

		val = xstrndup(v + 1, (size_t)(q - v - 1));
	} else
		val = xstrndup(v, strcspn(v, ",}]"));
done:
	free(start);
	free(k);
	return val;
}

/* Polls sql on ci every 20 ms until its first value is want; fails after timeout_ms. */
static inline void
e2e_wait_sql(const char *ci, const char *sql, const char *want, int timeout_ms)
{
	pt_wait_sql(ci, sql, want, timeout_ms);
}

/* Waits until no excon session is connected to database e->db (a killed one may linger). */
static inline void
e2e_wait_no_excon(struct e2e *e)
{
	char *sql = xasprintf("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'"
	    " AND (application_name = 'excon' OR application_name LIKE 'excon %%')", e->db);

	e2e_wait_sql(tu_pg(), sql, "0", 20000);
	free(sql);
}

/* Runs sql on ci and returns its first value as a number. */
static inline long long
e2e_num(const char *ci, const char *sql)
{
	char *v = pt_sql(ci, sql);
	long long n = atoll(v);

	free(v);
	return n;
}

/*
 * The application code of the release before the sample plan, as a pgbench
 * script: it writes only users.name (an insert and an update of one of
 * the first 50,000 rows) and checks the name it reads back, turning a
 * wrong one into an error.
 */
static inline const char *
e2e_old_sql(void)
{
	return
	    "\\set id random(1, 50000)\n"
	    "WITH n AS (SELECT nextval('users_id_seq') AS id)"
	    " INSERT INTO users (id, name) SELECT id, 'u' || id || ':o' FROM n;\n"
	    "UPDATE users SET name = 'u' || id || ':o' || floor(random() * 1000000)::int"
	    " WHERE id = :id;\n"
	    "SELECT (name IS NULL OR (name <> 'u' || id AND name NOT LIKE 'u' || id || ':%'))::int"
	    " AS bad FROM users WHERE id = :id\n"
	    "\\gset\n"
	    "\\if :bad\n"
	    "SELECT ('old code read a wrong name in row ' || :id)::int;\n"
	    "\\endif\n";
}

/*
 * A database client standing for application code: pgbench runs (-c 2,
 * 1 second each) of one script in a shell loop until its stop file
 * exists, so that its lifetime follows the test whatever the speed of the
 * machine.  A statement that fails aborts pgbench, which ends the loop
 * with a non-zero status.
 */
struct e2e_client {
	const char	*name;
	struct tu_proc	 p;
	long long	 tx;		/* transactions, once stopped */
};

/* Starts client c running script (written to the project) against e's database. */
static inline void
e2e_client_start(struct e2e *e, struct e2e_client *c, const char *name, const char *script)
{
	char *file = xasprintf("%s.sql", name);
	const char *bin = getenv("PG_BIN");

	c->name = name;
	tu_write(e->dir, file, script);
	/*
	 * -R keeps the two cores free enough for excon and the server; the
	 * application name lets e2e_client_ran see this client's sessions.
	 */
	ck_assert(tu_proc_sh(&c->p, e->dir,
	    "PGAPPNAME='client %s'; export PGAPPNAME; "
	    "while [ ! -e %s.stop ]; do "
	    "\"%s%spgbench\" -n -c 2 -R 150 -T 1 -f %s %s || exit $?; done",
	    name, name, bin ? bin : "", bin ? "/" : "", file, e->db) > 0);
	free(file);
}

/* Asserts that client c is still writing (so it ran through what just happened). */
static inline void
e2e_client_running(struct e2e_client *c, const char *when)
{
	struct run r;

	if (tu_proc_running(&c->p))
		return;
	tu_proc_wait(&c->p, &r, 0);
	ck_abort_msg("the %s client stopped before %s (exit %d):\n%s%s", c->name,
	    when, r.status, r.err, r.out);
}

/*
 * Waits until client c has finished a statement after this call: it
 * runs, and ran on whatever the database is now (a step just shipped).
 * Fails the test after 20 s, or when the client stopped.
 */
static inline void
e2e_client_ran(struct e2e *e, struct e2e_client *c)
{
	char *t = pt_sql(e->ci, "SELECT clock_timestamp()");
	char *q = xasprintf("SELECT count(*) > 0 FROM pg_stat_activity"
	    " WHERE application_name = 'client %s' AND state = 'idle'"
	    " AND state_change > '%s'", c->name, t);

	e2e_client_running(c, "it ran a statement");
	e2e_wait_sql(e->ci, q, "t", 20000);
	free(q);
	free(t);
}

/* Stops client c, asserts that none of its statements failed, counts its transactions. */
static inline void
e2e_client_stop(struct e2e *e, struct e2e_client *c)
{
	struct run r;
	const char *p;
	char *stop = xasprintf("%s.stop", c->name);
	int runs = 0;

	tu_write(e->dir, stop, "");
	free(stop);
	ck_assert_msg(tu_proc_wait(&c->p, &r, 30000) >= 0, "the %s client did not stop", c->name);
	ck_assert_msg(r.status == 0 && !tu_has(r.err, "error") && !tu_has(r.err, "abort"),
	    "the %s client failed (exit %d):\n%s", c->name, r.status, r.err);
	c->tx = 0;
	for (p = r.out; (p = strstr(p, "actually processed: ")) != NULL; p++) {
		c->tx += atoll(p + strlen("actually processed: "));
		runs++;
	}
	ck_assert_int_gt(runs, 0);
	ck_assert_int_eq(e2e_count(r.out, "number of failed transactions: 0 "), runs);
	ck_assert_msg(c->tx > 0, "the %s client wrote nothing", c->name);
	tu_run_free(&r);
}

#endif
