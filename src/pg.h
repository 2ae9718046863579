/*
 * The PostgreSQL wrapper: the only module that includes libpq-fe.h.
 *
 * It connects (always with an application_name), runs statements with
 * parameters and hands rows back as strings, remembers the SQLSTATE of the
 * last error, runs units of work under lock_timeout with a retry policy for
 * lock timeouts and deadlocks, and takes the per-plan session advisory lock.
 * It also quotes identifiers and literals, and scrubs passwords out of
 * connection strings so that they can appear in messages.
 *
 * Ownership: a struct pg owns its connection (pg_close); a struct pg_result
 * owns its rows (pg_result_free); strings read from a result are borrowed
 * from it.  Functions return 0 or -1 with a message in err.
 */
#ifndef EXCON_PG_H
#define EXCON_PG_H

#include "buf.h"

struct pg;
struct pg_result;

/* A line-oriented callback for notices and retry messages; never NULL-called. */
typedef void (*pg_notify_fn)(void *arg, const char *line);

/*
 * Connects with conninfo (a libpq conninfo string or URI; "" or NULL means
 * libpq's PG* environment) and sets application_name to appname, which
 * overrides one given in conninfo.  *out is owned by the caller.  Messages
 * show the conninfo without its password.
 */
int pg_connect(struct pg **out, const char *conninfo, const char *appname,
    struct buf *err);
/* Closes the connection (NULL-safe); session locks die with it. */
void pg_close(struct pg *db);
/* Routes server notices (and nothing else) to fn; NULL drops them. */
void pg_set_notify(struct pg *db, pg_notify_fn fn, void *arg);
/* Changes application_name of the session (e.g. "excon plan/step"). */
int pg_set_appname(struct pg *db, const char *appname, struct buf *err);
/* The server's backend pid of this session. */
int pg_backend_pid(const struct pg *db);

/*
 * Runs one statement with nparams text parameters ($1..; a NULL entry is
 * SQL NULL).  With res non-NULL, *res receives the result (caller frees).
 */
int pg_exec(struct pg *db, const char *sql, int nparams,
    const char *const *params, struct pg_result **res, struct buf *err);
/*
 * Prepares sql as the session's statement name, for pg_exec_pipeline: a
 * statement run many times is then parsed once, and PostgreSQL may keep
 * its plan.  The name stays taken until pg_deallocate or the session ends.
 */
int pg_prepare(struct pg *db, const char *name, const char *sql, int nparams,
    struct buf *err);
/* One statement of pg_exec_pipeline: sql, or a prepared statement's name. */
struct pg_stmt {
	const char		*sql;
	const char		*name;		/* used when sql is NULL */
	int			 nparams;
	const char *const	*params;
};
/*
 * Sends n statements in one round trip (libpq's pipeline mode) and reads
 * their results; res (may be NULL) receives the n results, all NULL when
 * one failed.  Without an explicit BEGIN they run as
 * one implicit transaction, like a script of several statements; with
 * one, the transaction stays open after the last unless it commits.
 * Returns -1 with err set from the first statement that failed (the
 * server skips the rest).
 */
int pg_exec_pipeline(struct pg *db, int n, const struct pg_stmt *stmts,
    struct pg_result **res, struct buf *err);
/*
 * Waits up to timeout_ms until the next result can be read without
 * blocking: 1 ready, 0 timeout, -1 the session failed.
 */
int pg_wait_result(struct pg *db, int timeout_ms);
/*
 * Pipeline mode piece by piece, for a caller that keeps a group of
 * statements in flight while it reads the results of the one before:
 * pg_pipeline_enter; then pg_pipeline_send of each group (its statements
 * and a Sync, so one implicit transaction unless it opens one) and
 * pg_pipeline_recv of each, in the order sent; then pg_pipeline_exit once
 * every group sent was received.  Nothing else may run on the session in
 * between.  A failed group does not stop the ones sent after it.
 */
int pg_pipeline_enter(struct pg *db, struct buf *err);
int pg_pipeline_send(struct pg *db, int n, const struct pg_stmt *stmts,
    struct buf *err);
/* res as in pg_exec_pipeline; -1 with err set when a statement failed. */
int pg_pipeline_recv(struct pg *db, int n, struct pg_result **res,
    struct buf *err);
void pg_pipeline_exit(struct pg *db);
/* Frees the prepared statement name (NULL-safe on a closed session). */
int pg_deallocate(struct pg *db, const char *name, struct buf *err);
/*
 * Runs a script of one or more statements verbatim with the simple query
 * protocol (no parameters).  Several statements outside an explicit
 * transaction run as one implicit transaction, as in PostgreSQL.
 */
int pg_exec_script(struct pg *db, const char *sql, struct pg_result **res,
    struct buf *err);
/* SQLSTATE of the last failed statement, "" when the last one succeeded. */
const char *pg_sqlstate(const struct pg *db);
/* 1 when the session is inside a transaction block (open or failed). */
int pg_in_transaction(const struct pg *db);

int pg_result_nrows(const struct pg_result *r);
int pg_result_ncols(const struct pg_result *r);
/* The value at row, col as text (borrowed), or NULL for SQL NULL. */
const char *pg_result_get(const struct pg_result *r, int row, int col);
/* 1 when column col is of type boolean. */
int pg_result_is_bool(const struct pg_result *r, int col);
/* Rows an INSERT, UPDATE or DELETE changed (its command tag), else 0. */
long long pg_result_affected(const struct pg_result *r);
/* Frees a result (NULL-safe). */
void pg_result_free(struct pg_result *r);

/* Appends name as a double-quoted identifier, doubling embedded quotes. */
void pg_quote_ident(struct buf *out, const char *name);
/*
 * Appends s as a string literal: '...' with quotes doubled, or E'...' with
 * backslashes doubled too when s holds a backslash (so the result is right
 * whatever standard_conforming_strings says).
 */
void pg_quote_literal(struct buf *out, const char *s);
/*
 * 1 when s is a PostgreSQL duration we accept for lock_timeout and
 * statement_timeout: digits, optionally followed by us, ms, s, min, h or d.
 * Such a value is safe to embed in SET without quoting issues.
 */
int pg_timeout_valid(const char *s);
/* Milliseconds of a valid duration (0 = none), or -1 when invalid. */
long pg_timeout_ms(const char *s);

/*
 * A copy of conninfo (key=value string or postgres:// URI) without its
 * password, for messages and logs.  The caller owns the result.
 */
char *pg_conninfo_redact(const char *conninfo);
/*
 * Appends s to b as one element of a text[] literal ("..." with \ and "
 * escaped), for an array passed as a parameter.
 */
void pg_array_elem(struct buf *b, const char *s);
/* The text[] literal of the n strings of v, for a parameter; owned. */
char *pg_array_literal(char *const *v, size_t n);

/*
 * The retry policy for DDL (see pg_retry_run).  lock_timeout and
 * statement_timeout are durations as in pg_timeout_valid(); NULL
 * statement_timeout leaves the session's value alone.
 */
struct pg_retry {
	const char	*lock_timeout;		/* NULL = "2s" */
	const char	*statement_timeout;	/* NULL = unchanged */
	int		 retries;		/* retries after the first try */
	int		 base_ms;		/* least sleep, 0 = 100 */
	int		 cap_ms;		/* longest sleep, 0 = 10000 */
	const char	*what;			/* named in notices, e.g. "step 'x'" */
	pg_notify_fn	 notify;		/* retry notices; may be NULL */
	void		*arg;
	int		 timeouts_set;		/* pg_set_timeouts ran on the session */
};

/*
 * Sets r's lock_timeout (and statement_timeout) on the session, outside
 * any transaction so that they stay.  A caller that runs many short units
 * with nothing else on the session in between sets them once and marks
 * its copy of r with timeouts_set, sparing a round trip per unit.
 */
int pg_set_timeouts(struct pg *db, const struct pg_retry *r, struct buf *err);

/* One unit of work to retry as a whole; returns 0 or -1 with err set. */
typedef int (*pg_unit_fn)(struct pg *db, void *ctx, struct buf *err);

/*
 * Sets lock_timeout (and statement_timeout) on the session unless
 * r->timeouts_set, then runs fn;
 * when fn fails with SQLSTATE 55P03 (lock_not_available) or 40P01
 * (deadlock_detected) it rolls back an open transaction, sleeps and tries
 * again, up to r->retries more times.  *attempts (may be NULL) receives the
 * number of tries made.
 */
int pg_retry_run(struct pg *db, const struct pg_retry *r, pg_unit_fn fn,
    void *ctx, int *attempts, struct buf *err);


/*
 * The libpq version as text ("15.18" style), for `excon --version`, or
 * "(cannot be loaded)" when libpq cannot be loaded (pg.c loads it on
 * first use, so that commands which never connect do not pay for it).
 */
const char *pg_lib_version(void);

#endif
