/*
 * Helpers for the suites that run against the test PostgreSQL: a fresh
 * database per test, one-shot SQL, and hand-built plans and steps.
 * Everything is static so that each suite includes its own copy.
 */
#ifndef EXCON_PGTEST_H
#define EXCON_PGTEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "exec.h"
#include "pg.h"
#include "plan.h"
#include "util/testutil.h"
#include "xalloc.h"

/* Creates (or recreates) database name; returns its conninfo (owned). */
static inline char *
pt_db(const char *name)
{
	struct pg *db = NULL;
	struct buf err = BUF_INIT, q = BUF_INIT;
	const char *base = tu_pg();

	ck_assert_msg(base != NULL, "EXCON_TEST_PG is not set");
	ck_assert_msg(pg_connect(&db, base, "excon-test", &err) == 0, "%s", buf_cstr(&err));
	buf_printf(&q, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	ck_assert_msg(pg_exec(db, buf_cstr(&q), 0, NULL, NULL, &err) == 0, "%s", buf_cstr(&err));
	buf_reset(&q);
	buf_printf(&q, "CREATE DATABASE %s", name);
	ck_assert_msg(pg_exec(db, buf_cstr(&q), 0, NULL, NULL, &err) == 0, "%s", buf_cstr(&err));
	pg_close(db);
	buf_free(&err);
	buf_free(&q);
	return xasprintf("%s dbname=%s", base, name);
}

/* Runs sql on conninfo and returns the first value of the last result (owned, "" if none). */
static inline char *
pt_sql(const char *conninfo, const char *sql)
{
	struct pg *db = NULL;
	struct pg_result *res = NULL;
	struct buf err = BUF_INIT;
	char *v;

	ck_assert_msg(pg_connect(&db, conninfo, "excon-test", &err) == 0, "%s", buf_cstr(&err));
	ck_assert_msg(pg_exec_script(db, sql, &res, &err) == 0, "%s: %s", sql, buf_cstr(&err));
	v = xstrdup(res && pg_result_get(res, 0, 0) ? pg_result_get(res, 0, 0) : "");
	pg_result_free(res);
	pg_close(db);
	buf_free(&err);
	return v;
}

/* Asserts that sql's first value is want. */
#define pt_sql_eq(ci, sql, want) do {					\
	char *pt_v_ = pt_sql((ci), (sql));				\
	ck_assert_msg(strcmp(pt_v_, (want)) == 0, "%s: got '%s', want '%s'", \
	    (sql), pt_v_, (want));					\
	free(pt_v_);							\
} while (0)

/*
 * A step with the loader's defaults for "not given", and the checksum
 * "sum-ID" from a small ring of buffers (a test builds a few steps).
 */
static inline void
pt_step(struct step *s, enum step_kind kind, const char *id, const char *table)
{
	static char sums[32][80];
	static unsigned next;

	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->id.s = (char *)id;
	s->table.s = (char *)table;
	s->min_releases = -1;
	s->lock_retries = -1;
	s->pause_ms = -1;
	s->transaction = 1;
	s->checksum = sums[next++ % 32];
	snprintf(s->checksum, sizeof sums[0], "sum-%s", id);
}

/* A plan over steps (borrowed). */
static inline void
pt_plan(struct plan *p, const char *name, struct step *steps, size_t n)
{
	memset(p, 0, sizeof *p);
	p->name.s = (char *)name;
	p->steps = steps;
	p->nsteps = n;
	p->contract_after = -1;
}

/* Collected callback lines. */
struct pt_log {
	struct buf	lines;
	int		n;
};

/* notify callback: appends a line. */
static inline void
pt_notify(void *arg, const char *line)
{
	struct pt_log *l = arg;

	buf_printf(&l->lines, "%s\n", line);
	l->n++;
}

/* Options on conninfo with a collecting notify. */
static inline void
pt_opts(struct exec_opts *o, const char *conninfo, struct pt_log *log)
{
	exec_opts_init(o);
	o->conninfo = conninfo;
	o->notify = pt_notify;
	o->arg = log;
}

/* Milliseconds since an arbitrary start. */
static inline double
pt_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/*
 * Polls sql on conninfo every 20 ms until its first value is want: the
 * way a test waits for something to have happened (a session to hold a
 * lock, a row to appear) instead of sleeping a guess.  Fails the test
 * after timeout_ms, showing the last value.
 */
static inline void
pt_wait_sql(const char *conninfo, const char *sql, const char *want,
    int timeout_ms)
{
	const struct timespec pause = { 0, 20 * 1000000L };
	double end = pt_ms() + timeout_ms;
	char *v = NULL;

	for (;;) {
		free(v);
		v = pt_sql(conninfo, sql);
		if (strcmp(v, want) == 0)
			break;
		ck_assert_msg(pt_ms() < end, "waited %d ms for %s = '%s' (last '%s')",
		    timeout_ms, sql, want, v);
		nanosleep(&pause, NULL);
	}
	free(v);
}

#endif
