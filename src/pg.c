/*
 * The PostgreSQL wrapper (see pg.h).  Every libpq object lives and dies in
 * this file; libpq errors become our messages, with the SQLSTATE kept so
 * that callers can tell a lock timeout from a real failure.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pg.h"
#include "util.h"
#include "xalloc.h"

/*
 * libpq is loaded when excon first connects (pq_load), not when it
 * starts: its dependency tree (TLS, Kerberos, LDAP: some thirty
 * libraries) costs the dynamic loader milliseconds that the commands
 * which never connect (status or audit on a state file) should not pay.
 * Every libpq call of this file goes through the table pq, filled once.
 */
#define PQ_SONAME	"libpq.so.5"
#define PQ_FUNCS(X) \
	X(PQbackendPID) X(PQclear) X(PQcmdTuples) X(PQconnectdbParams) \
	X(PQconsumeInput) X(PQenterPipelineMode) X(PQerrorMessage) X(PQexec) \
	X(PQexecParams) X(PQexitPipelineMode) X(PQfinish) X(PQftype) \
	X(PQgetResult) X(PQgetisnull) X(PQgetvalue) X(PQisBusy) \
	X(PQlibVersion) X(PQnfields) X(PQntuples) X(PQpipelineSync) \
	X(PQprepare) X(PQresultErrorField) X(PQresultStatus) \
	X(PQsendQueryParams) X(PQsendQueryPrepared) X(PQsetNoticeProcessor) \
	X(PQsocket) X(PQstatus) X(PQtransactionStatus)

static struct {
#define PQ_FIELD(f) __typeof__(&f) f;
	PQ_FUNCS(PQ_FIELD)
#undef PQ_FIELD
} pq;

/*
 * Loads libpq and its functions into pq, once; -1 with err when it cannot
 * be loaded (then every later call tries again and fails the same way).
 */
static int
pq_load(struct buf *err)
{
	static int loaded;
	const char *missing = NULL;
	void *h;

	if (loaded)
		return 0;
	if ((h = dlopen(PQ_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		error_set(err, "cannot load libpq: %s", dlerror());
		return -1;
	}
#define PQ_SYM(f) \
	if ((pq.f = (__typeof__(pq.f))dlsym(h, #f)) == NULL && missing == NULL) \
		missing = #f;
	PQ_FUNCS(PQ_SYM)
#undef PQ_SYM
	if (missing != NULL) {
		error_set(err, "cannot load libpq: %s has no %s (too old?)",
		    PQ_SONAME, missing);
		/* The handle stays open: a dlclose would unload it under pq. */
		return -1;
	}
	loaded = 1;
	return 0;
}

/*
 * The calls that send SQL or end a session, each in its own function that
 * is neither inlined nor cloned, with libpq's arguments: tests/check_crash.c
 * stops excon at each of them with gdb breakpoints on these names (the
 * second argument is the SQL or the statement name), so that the product
 * carries no test hook.  GCC's noipa keeps each one whole; clang lacks
 * it and gets noinline (clang builds only the fuzz targets, which no gdb
 * test runs).
 */
#if defined(__clang__)
#define PQ_CALL	__attribute__((noinline))
#else
#define PQ_CALL	__attribute__((noipa))
#endif

static PQ_CALL PGresult *
pq_PQexecParams(PGconn *c, const char *sql, int n, const Oid *types,
    const char *const *vals, const int *lens, const int *fmts, int rfmt)
{
	return pq.PQexecParams(c, sql, n, types, vals, lens, fmts, rfmt);
}

/* PQexec, as a kill point (see above). */
static PQ_CALL PGresult *
pq_PQexec(PGconn *c, const char *sql)
{
	return pq.PQexec(c, sql);
}

/* PQprepare, as a kill point (see above). */
static PQ_CALL PGresult *
pq_PQprepare(PGconn *c, const char *name, const char *sql, int n,
    const Oid *types)
{
	return pq.PQprepare(c, name, sql, n, types);
}

/* PQsendQueryParams, as a kill point (see above). */
static PQ_CALL int
pq_PQsendQueryParams(PGconn *c, const char *sql, int n, const Oid *types,
    const char *const *vals, const int *lens, const int *fmts, int rfmt)
{
	return pq.PQsendQueryParams(c, sql, n, types, vals, lens, fmts, rfmt);
}

/* PQsendQueryPrepared, as a kill point (see above). */
static PQ_CALL int
pq_PQsendQueryPrepared(PGconn *c, const char *name, int n,
    const char *const *vals, const int *lens, const int *fmts, int rfmt)
{
	return pq.PQsendQueryPrepared(c, name, n, vals, lens, fmts, rfmt);
}

/* PQfinish, as a kill point (see above). */
static PQ_CALL void
pq_PQfinish(PGconn *c)
{
	pq.PQfinish(c);
}

/* From here on, libpq's names mean the table's entries or the kill points. */
#define PQexecParams		pq_PQexecParams
#define PQexec			pq_PQexec
#define PQprepare		pq_PQprepare
#define PQsendQueryParams	pq_PQsendQueryParams
#define PQsendQueryPrepared	pq_PQsendQueryPrepared
#define PQfinish		pq_PQfinish
#define PQbackendPID		pq.PQbackendPID
#define PQclear			pq.PQclear
#define PQcmdTuples		pq.PQcmdTuples
#define PQconnectdbParams	pq.PQconnectdbParams
#define PQconsumeInput		pq.PQconsumeInput
#define PQenterPipelineMode	pq.PQenterPipelineMode
#define PQerrorMessage		pq.PQerrorMessage
#define PQexitPipelineMode	pq.PQexitPipelineMode
#define PQftype			pq.PQftype
#define PQgetResult		pq.PQgetResult
#define PQgetisnull		pq.PQgetisnull
#define PQgetvalue		pq.PQgetvalue
#define PQisBusy		pq.PQisBusy
#define PQlibVersion		pq.PQlibVersion
#define PQnfields		pq.PQnfields
#define PQntuples		pq.PQntuples
#define PQpipelineSync		pq.PQpipelineSync
#define PQresultErrorField	pq.PQresultErrorField
#define PQresultStatus		pq.PQresultStatus
#define PQsetNoticeProcessor	pq.PQsetNoticeProcessor
#define PQsocket		pq.PQsocket
#define PQstatus		pq.PQstatus
#define PQtransactionStatus	pq.PQtransactionStatus

struct pg {
	PGconn		*conn;
	char		 sqlstate[6];
	pg_notify_fn	 notify;
	void		*arg;
};

struct pg_result {
	PGresult	*res;
};

/* libpq notice processor: forwards one notice to the caller, or drops it. */
static void
pg_notice(void *arg, const char *message)
{
	struct pg *db = arg;
	struct buf line = BUF_INIT;
	size_t n;

	if (db->notify == NULL)
		return;
	buf_puts(&line, message);
	n = line.len;
	while (n > 0 && (line.ptr[n - 1] == '\n' || line.ptr[n - 1] == ' '))
		n--;
	buf_truncate(&line, n);
	db->notify(db->arg, buf_cstr(&line));
	buf_free(&line);
}

static char *scrub_secrets(const char *msg, const char *conninfo);

/*
 * Session settings of every excon session, applied after it connects:
 *   - jit off: excon's statements are short, and a JIT compile (tens of
 *     milliseconds, triggered by cost estimates that grow with the table)
 *     would run while a batch holds its rows;
 *   - client_connection_check_interval: a backend whose excon was killed
 *     notices it within seconds even in the middle of a long statement,
 *     and lets go of the plan's advisory lock.
 * A setting the server does not know (an older version) is skipped.
 */
static const char session_sql[] =
    "SELECT pg_catalog.set_config(s.name, v.value, false)"
    " FROM (VALUES ('jit', 'off'), ('client_connection_check_interval', '2s'))"
    " AS v(name, value) JOIN pg_catalog.pg_settings s ON s.name = v.name";

/*
 * Connects with conninfo and application_name appname.  Defaults placed
 * before the conninfo (which may override them): TCP keepalives, so that
 * the server notices a vanished client host, and a connect_timeout unless
 * PGCONNECT_TIMEOUT says otherwise, so that an unreachable server fails
 * instead of hanging.
 */
int
pg_connect(struct pg **out, const char *conninfo, const char *appname,
    struct buf *err)
{
	const char *timeout = getenv("PGCONNECT_TIMEOUT");
	const char *keys[] = { "keepalives", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "connect_timeout",
	    "dbname", "application_name", NULL };
	const char *vals[] = { "1", "10", "5", "3",
	    timeout != NULL && timeout[0] != '\0' ? timeout : "10",
	    conninfo ? conninfo : "", appname, NULL };
	struct pg *db = NULL;
	char *safe = NULL;
	int ret = -1;

	*out = NULL;
	if (pq_load(err) != 0)
		goto done;
	db = xcalloc(1, sizeof *db);
	/* expand_dbname=1: dbname holds a whole conninfo; later keys override. */
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		char *msg = scrub_secrets(db->conn ? PQerrorMessage(db->conn) :
		    "out of memory", conninfo ? conninfo : "");

		char *redacted = pg_conninfo_redact(conninfo ? conninfo : "");

		/* Our own redaction may read a malformed URI differently. */
		safe = scrub_secrets(redacted, conninfo ? conninfo : "");
		free(redacted);
		error_set(err, "cannot connect to '%s': %s", safe, msg);
		free(msg);
		if (err != NULL)
			while (err->len > 0 && (err->ptr[err->len - 1] == '\n' ||
			    err->ptr[err->len - 1] == ' '))
				buf_truncate(err, err->len - 1);
		goto done;
	}
	PQsetNoticeProcessor(db->conn, pg_notice, db);
	if (pg_exec(db, session_sql, 0, NULL, NULL, err) == -1) {
		/* The server went away while the connection was set up: say which. */
		char *msg = xstrdup(err != NULL ? buf_cstr(err) : "");
		char *redacted = pg_conninfo_redact(conninfo ? conninfo : "");

		safe = scrub_secrets(redacted, conninfo ? conninfo : "");
		free(redacted);
		error_set(err, "cannot connect to '%s': %s", safe, msg);
		free(msg);
		goto done;
	}
	*out = db;
	db = NULL;
	ret = 0;
done:
	pg_close(db);
	free(safe);
	return ret;
}

/* Closes the connection; NULL-safe. */
void
pg_close(struct pg *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db);
}

/* Sets the notice callback. */
void
pg_set_notify(struct pg *db, pg_notify_fn fn, void *arg)
{
	db->notify = fn;
	db->arg = arg;
}

/* Sets application_name through set_config, as a parameter. */
int
pg_set_appname(struct pg *db, const char *appname, struct buf *err)
{
	const char *params[] = { appname };

	return pg_exec(db, "SELECT pg_catalog.set_config('application_name', $1, false)",
	    1, params, NULL, err);
}

/* The backend pid of the session. */
int
pg_backend_pid(const struct pg *db)
{
	return PQbackendPID(db->conn);
}

/*
 * Turns a failed result into err and db->sqlstate: the primary message,
 * then the detail when there is one.  Takes ownership of res.
 */
static int
pg_fail(struct pg *db, PGresult *res, struct buf *err)
{
	const char *state = NULL, *msg = NULL, *detail = NULL;
	struct buf m = BUF_INIT;

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	}
	snprintf(db->sqlstate, sizeof db->sqlstate, "%s",
	    state ? state : "08000");
	if (msg != NULL) {
		buf_puts(&m, msg);
		if (detail != NULL)
			buf_printf(&m, " (%s)", detail);
	} else {
		buf_puts(&m, PQerrorMessage(db->conn));
		while (m.len > 0 && (m.ptr[m.len - 1] == '\n' || m.ptr[m.len - 1] == ' '))
			buf_truncate(&m, m.len - 1);
		if (m.len == 0)
			buf_puts(&m, "lost the database connection");
	}
	error_set(err, "%s", buf_cstr(&m));
	buf_free(&m);
	PQclear(res);
	return -1;
}

/* Checks a result; on success hands it to *out (or frees it). */
static int
pg_finish(struct pg *db, PGresult *res, struct pg_result **out, struct buf *err)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY)
		return pg_fail(db, res, err);
	db->sqlstate[0] = '\0';
	if (out != NULL) {
		*out = xcalloc(1, sizeof **out);
		(*out)->res = res;
	} else
		PQclear(res);
	return 0;
}

/* Runs one statement with text parameters. */
int
pg_exec(struct pg *db, const char *sql, int nparams, const char *const *params,
    struct pg_result **res, struct buf *err)
{
	if (res != NULL)
		*res = NULL;
	return pg_finish(db, PQexecParams(db->conn, sql, nparams, NULL, params,
	    NULL, NULL, 0), res, err);
}

/* Prepares a named statement. */
int
pg_prepare(struct pg *db, const char *name, const char *sql, int nparams,
    struct buf *err)
{
	return pg_finish(db, PQprepare(db->conn, name, sql, nparams, NULL), NULL, err);
}

/*
 * Pipeline mode, in blocking mode: each group of statements is queued and
 * sent by its Sync; the results come back in order, each followed by a
 * NULL, and the Sync's own result last.  A statement after a failed one
 * in its group comes back PGRES_PIPELINE_ABORTED; the next group runs
 * normally.  On a broken connection PQgetResult returns NULL early.
 */
int
pg_pipeline_enter(struct pg *db, struct buf *err)
{
	if (PQenterPipelineMode(db->conn) != 1)
		return pg_fail(db, NULL, err);
	return 0;
}

/* Queues a group of statements and its Sync, and sends them. */
int
pg_pipeline_send(struct pg *db, int n, const struct pg_stmt *st, struct buf *err)
{
	int i, sent;

	for (i = 0; i < n; i++) {
		if (st[i].sql != NULL)
			sent = PQsendQueryParams(db->conn, st[i].sql, st[i].nparams, NULL,
			    st[i].params, NULL, NULL, 0);
		else
			sent = PQsendQueryPrepared(db->conn, st[i].name, st[i].nparams,
			    st[i].params, NULL, NULL, 0);
		if (sent != 1)
			return pg_fail(db, NULL, err);
	}
	if (PQpipelineSync(db->conn) != 1)
		return pg_fail(db, NULL, err);
	return 0;
}

/*
 * Waits up to timeout_ms for the next result to be readable without
 * blocking: 1 when it is, 0 on timeout, -1 when the session failed (the
 * next read then reports it).
 */
int
pg_wait_result(struct pg *db, int timeout_ms)
{
	struct pollfd p;

	if (PQconsumeInput(db->conn) == 0)
		return -1;
	if (!PQisBusy(db->conn))
		return 1;
	p.fd = PQsocket(db->conn);
	p.events = POLLIN;
	p.revents = 0;
	if (p.fd < 0)
		return -1;
	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;	/* timeout, or a signal: the caller looks again */
	if (PQconsumeInput(db->conn) == 0)
		return -1;
	return !PQisBusy(db->conn);
}

/* Reads the results of the oldest group sent, up to and with its Sync. */
int
pg_pipeline_recv(struct pg *db, int n, struct pg_result **res, struct buf *err)
{
	PGresult *r;
	int i, ret = 0;

	for (i = 0; res != NULL && i < n; i++)
		res[i] = NULL;
	for (i = 0; i < n; i++) {
		ExecStatusType rs;

		if ((r = PQgetResult(db->conn)) == NULL)
			break;
		rs = PQresultStatus(r);
		if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
			if (ret == 0 && res != NULL) {
				res[i] = xcalloc(1, sizeof *res[i]);
				res[i]->res = r;
			} else
				PQclear(r);
		} else if (ret == 0)
			ret = pg_fail(db, r, err);
		else
			PQclear(r);
		/* The NULL that ends statement i's results. */
		while ((r = PQgetResult(db->conn)) != NULL)
			PQclear(r);
	}
	if (i < n && ret == 0)
		ret = pg_fail(db, NULL, err);
	/* The Sync's result. */
	while ((r = PQgetResult(db->conn)) != NULL) {
		int sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;

		PQclear(r);
		if (sync)
			break;
	}
	if (ret == 0)
		db->sqlstate[0] = '\0';
	else
		for (i = 0; res != NULL && i < n; i++) {
			pg_result_free(res[i]);
			res[i] = NULL;
		}
	return ret;
}

/* Leaves pipeline mode; every group sent must have been received. */
void
pg_pipeline_exit(struct pg *db)
{
	(void)PQexitPipelineMode(db->conn);
}

/* One group in one round trip. */
int
pg_exec_pipeline(struct pg *db, int n, const struct pg_stmt *st,
    struct pg_result **res, struct buf *err)
{
	int i, ret;

	for (i = 0; res != NULL && i < n; i++)
		res[i] = NULL;
	if (pg_pipeline_enter(db, err) == -1)
		return -1;
	/*
	 * When libpq refuses to queue or send (a broken connection), nothing
	 * ran, and the session is not usable for more than the error.
	 */
	ret = pg_pipeline_send(db, n, st, err);
	if (ret == 0)
		ret = pg_pipeline_recv(db, n, res, err);
	pg_pipeline_exit(db);
	return ret;
}

/* Frees a named statement. */
int
pg_deallocate(struct pg *db, const char *name, struct buf *err)
{
	struct buf q = BUF_INIT;
	int ret;

	buf_puts(&q, "DEALLOCATE ");
	pg_quote_ident(&q, name);
	ret = pg_exec(db, buf_cstr(&q), 0, NULL, NULL, err);
	buf_free(&q);
	return ret;
}

/* Runs a multi-statement script with the simple query protocol. */
int
pg_exec_script(struct pg *db, const char *sql, struct pg_result **res,
    struct buf *err)
{
	if (res != NULL)
		*res = NULL;
	return pg_finish(db, PQexec(db->conn, sql), res, err);
}

/* SQLSTATE of the last failure, or "". */
const char *
pg_sqlstate(const struct pg *db)
{
	return db->sqlstate;
}

/* 1 inside a transaction block. */
int
pg_in_transaction(const struct pg *db)
{
	PGTransactionStatusType t = PQtransactionStatus(db->conn);

	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

/* Number of rows. */
int
pg_result_nrows(const struct pg_result *r)
{
	return PQntuples(r->res);
}

/* Number of columns. */
int
pg_result_ncols(const struct pg_result *r)
{
	return PQnfields(r->res);
}

/* A value as text (borrowed), NULL for SQL NULL or out of range. */
const char *
pg_result_get(const struct pg_result *r, int row, int col)
{
	if (row < 0 || row >= PQntuples(r->res) || col < 0 ||
	    col >= PQnfields(r->res) || PQgetisnull(r->res, row, col))
		return NULL;
	return PQgetvalue(r->res, row, col);
}

/* 1 when column col is boolean (type oid 16). */
int
pg_result_is_bool(const struct pg_result *r, int col)
{
	return PQftype(r->res, col) == 16;
}

/* Rows changed, from the command tag ("" for other statements). */
long long
pg_result_affected(const struct pg_result *r)
{
	return strtoll(PQcmdTuples(r->res), NULL, 10);
}

/* Frees a result; NULL-safe. */
void
pg_result_free(struct pg_result *r)
{
	if (r == NULL)
		return;
	PQclear(r->res);
	free(r);
}

/* Appends a double-quoted identifier. */
void
pg_quote_ident(struct buf *out, const char *name)
{
	buf_putc(out, '"');
	for (; *name != '\0'; name++) {
		if (*name == '"')
			buf_putc(out, '"');
		buf_putc(out, *name);
	}
	buf_putc(out, '"');
}

/* Appends a string literal that is right under any standard_conforming_strings. */
void
pg_quote_literal(struct buf *out, const char *s)
{
	if (strchr(s, '\\') != NULL)
		buf_putc(out, 'E');
	buf_putc(out, '\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'' || *s == '\\')
			buf_putc(out, *s);
		buf_putc(out, *s);
	}
	buf_putc(out, '\'');
}

/* Milliseconds of a duration such as "2s", "500ms", "1min", "0"; -1 if invalid. */
long
pg_timeout_ms(const char *s)
{
	return util_duration_ms(s);
}

/* 1 when s is a duration we accept. */
int
pg_timeout_valid(const char *s)
{
	return pg_timeout_ms(s) >= 0;
}

/* Removes user:PASSWORD@ and password= from a postgres:// URI. */
static char *
redact_uri(const char *uri)
{
	struct buf b = BUF_INIT;
	const char *rest = strstr(uri, "://") + 3;
	const char *end = rest + strcspn(rest, "/?");
	const char *at = NULL, *p, *q;

	for (p = rest; p < end; p++)
		if (*p == '@')
			at = p;
	buf_add(&b, uri, (size_t)(rest - uri));
	if (at != NULL) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));

		buf_add(&b, rest, (size_t)((colon ? colon : at) - rest));
		p = at;
	} else
		p = rest;
	q = strchr(p, '?');
	if (q == NULL) {
		buf_puts(&b, p);
		return buf_detach(&b);
	}
	buf_add(&b, p, (size_t)(q - p));
	{
		int first = 1;

		q++;
		while (*q != '\0') {
			size_t n = strcspn(q, "&");

			if (!(n >= 9 && strncmp(q, "password=", 9) == 0)) {
				buf_putc(&b, first ? '?' : '&');
				buf_add(&b, q, n);
				first = 0;
			}
			q += n;
			if (*q == '&')
				q++;
		}
	}
	return buf_detach(&b);
}

/* A copy of conninfo without its password (key=value or URI form). */
char *
pg_conninfo_redact(const char *conninfo)
{
	struct buf b = BUF_INIT;
	const char *p = conninfo;

	if (conninfo == NULL)
		return xstrdup("");
	if (strncmp(conninfo, "postgresql://", 13) == 0 ||
	    strncmp(conninfo, "postgres://", 11) == 0)
		return redact_uri(conninfo);
	/* key = value pairs; values may be 'quoted' with \ escapes. */
	while (*p != '\0') {
		const char *ks, *ke, *vs;
		int skip;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		ks = p;
		while (*p != '\0' && *p != '=' && !isspace((unsigned char)*p))
			p++;
		ke = p;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '=')
			p++;
		while (isspace((unsigned char)*p))
			p++;
		vs = p;
		if (*p == '\'') {
			p++;
			while (*p != '\0' && *p != '\'') {
				if (*p == '\\' && p[1] != '\0')
					p++;
				p++;
			}
			if (*p == '\'')
				p++;
		} else
			while (*p != '\0' && !isspace((unsigned char)*p))
				p++;
		skip = (size_t)(ke - ks) == 8 && strncmp(ks, "password", 8) == 0;
		if (!skip) {
			if (b.len > 0)
				buf_putc(&b, ' ');
			buf_add(&b, ks, (size_t)(ke - ks));
			buf_putc(&b, '=');
			buf_add(&b, vs, (size_t)(p - vs));
		}
	}
	return buf_detach(&b);
}

/* Appends s[0..n) with %XX escapes decoded (invalid escapes kept). */
static void
percent_decode(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], '\0' };

			buf_putc(b, (char)strtol(hex, NULL, 16));
			i += 2;
		} else
			buf_putc(b, s[i]);
	}
}

/* Adds the secret s[0..n) to list v, raw and percent-decoded. */
static void
add_secret(char ***v, size_t *nv, size_t *cap, const char *s, size_t n)
{
	struct buf d = BUF_INIT;

	if (n == 0)
		return;
	XGROW(*v, *cap, *nv + 2);
	(*v)[(*nv)++] = xstrndup(s, n);
	percent_decode(&d, s, n);
	if (strcmp(buf_cstr(&d), (*v)[*nv - 1]) != 0 && d.len > 0)
		(*v)[(*nv)++] = buf_detach(&d);
	buf_free(&d);
}

/*
 * Every text in conninfo that may be a password: in a URI, what follows
 * the first ':' of the user information up to the first '@', up to
 * the last '@' and up to the first '/' (libpq's reading of a malformed
 * URI may differ from ours, so all are hidden); each password= value (URI parameter or keyword);
 * raw and percent-decoded.  The caller frees the list and its strings.
 */
static char **
find_secrets(const char *conninfo, size_t *nv)
{
	char **v = NULL;
	size_t cap = 0;
	const char *p, *q, *first, *last;

	*nv = 0;
	if ((p = strstr(conninfo, "://")) != NULL) {
		p += 3;
		first = strchr(p, '@');
		last = strrchr(p, '@');
		if (first != NULL &&
		    (q = memchr(p, ':', (size_t)(first - p))) != NULL) {
			add_secret(&v, nv, &cap, q + 1, (size_t)(first - q - 1));
			add_secret(&v, nv, &cap, q + 1, (size_t)(last - q - 1));
			/* libpq reads "u:pa/ss@h" as host u, port "pa". */
			add_secret(&v, nv, &cap, q + 1, strcspn(q + 1, "/?@"));
		}
	}
	for (p = conninfo; (p = strstr(p, "password")) != NULL; ) {
		p += 8;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			continue;
		p++;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\'') {
			struct buf b = BUF_INIT;

			for (q = p + 1; *q != '\0' && *q != '\''; q++) {
				if (*q == '\\' && q[1] != '\0')
					q++;
				buf_putc(&b, *q);
			}
			add_secret(&v, nv, &cap, p + 1, (size_t)(q - p - 1));
			add_secret(&v, nv, &cap, buf_cstr(&b), b.len);
			buf_free(&b);
		} else {
			size_t n = strcspn(p, " \t\n\r&");

			add_secret(&v, nv, &cap, p, n);
		}
	}
	return v;
}

/*
 * A copy of msg (libpq's own message, which may quote the conninfo or a
 * part of it word for word) with every possible password of conninfo
 * replaced by "***".  Longest secrets first, so that a password holding
 * another candidate is hidden whole.
 */
static char *
scrub_secrets(const char *msg, const char *conninfo)
{
	struct buf out = BUF_INIT, next = BUF_INIT;
	char **v;
	size_t nv, i, j;

	v = find_secrets(conninfo, &nv);
	for (i = 0; i < nv; i++)
		for (j = i + 1; j < nv; j++)
			if (strlen(v[j]) > strlen(v[i])) {
				char *t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
	buf_puts(&out, msg);
	for (i = 0; i < nv; i++) {
		const char *p = buf_cstr(&out), *hit;
		size_t n = strlen(v[i]);

		buf_reset(&next);
		while ((hit = strstr(p, v[i])) != NULL) {
			buf_add(&next, p, (size_t)(hit - p));
			buf_puts(&next, "***");
			p = hit + n;
		}
		buf_puts(&next, p);
		buf_reset(&out);
		buf_puts(&out, buf_cstr(&next));
	}
	for (i = 0; i < nv; i++)
		free(v[i]);
	free(v);
	buf_free(&next);
	return buf_detach(&out);
}

/* A small xorshift generator for jitter; seeded once per process. */
static uint64_t
jitter_next(void)
{
	static uint64_t s;

	if (s == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
		    ((uint64_t)getpid() << 40) ^ 0x9e3779b97f4a7c15ULL;
	}
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

/* Sleeps ms milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Applies the session's lock_timeout and statement_timeout (see pg.h). */
int
pg_set_timeouts(struct pg *db, const struct pg_retry *r, struct buf *err)
{
	const char *lt = r->lock_timeout ? r->lock_timeout : "2s";
	char sql[96];

	/* Validated durations are digits and a unit: safe inside quotes. */
	if (!pg_timeout_valid(lt))
		return error_set(err, "invalid lock_timeout '%s' (expected e.g. 2s or 500ms)", lt);
	snprintf(sql, sizeof sql, "SET lock_timeout = '%s'", lt);
	if (pg_exec(db, sql, 0, NULL, NULL, err) == -1)
		return -1;
	if (r->statement_timeout == NULL)
		return 0;
	if (!pg_timeout_valid(r->statement_timeout))
		return error_set(err, "invalid statement_timeout '%s' (expected e.g. 0, 30s or 5min)",
		    r->statement_timeout);
	snprintf(sql, sizeof sql, "SET statement_timeout = '%s'", r->statement_timeout);
	return pg_exec(db, sql, 0, NULL, NULL, err);
}

/*
 * The retry loop for DDL.
 *
 * Why this policy: a DDL statement that waits for its lock queues every
 * later query on the table behind it, so excon never waits long: a short
 * lock_timeout makes it give up, let the application's queued queries
 * through, and try again.  The sleeps grow exponentially so that a long
 * transaction holding the table gets time to finish instead of being
 * polled, and they use "decorrelated jitter" (sleep = random between base
 * and 3 x the previous sleep, capped) so that several waiters — two
 * excons, or excon and a deploy tool — do not retry in lockstep and
 * collide again; it spreads retries better than full jitter while keeping
 * the exponential growth.  The cap bounds one sleep, the retry count
 * bounds the total.
 */
int
pg_retry_run(struct pg *db, const struct pg_retry *r, pg_unit_fn fn, void *ctx,
    int *attempts, struct buf *err)
{
	long base = r->base_ms > 0 ? r->base_ms : 100;
	long cap = r->cap_ms > 0 ? r->cap_ms : 10000;
	long sleep = base;
	struct buf rb = BUF_INIT;
	int tries = 0, ret = -1;

	for (;;) {
		char st[6];

		tries++;
		if (!r->timeouts_set && pg_set_timeouts(db, r, err) == -1)
			goto done;
		if (fn(db, ctx, err) == 0) {
			ret = 0;
			goto done;
		}
		/* Copied: the ROLLBACK below resets the session's SQLSTATE. */
		snprintf(st, sizeof st, "%s", pg_sqlstate(db));
		if (pg_in_transaction(db))
			(void)pg_exec(db, "ROLLBACK", 0, NULL, NULL, &rb);
		snprintf(db->sqlstate, sizeof db->sqlstate, "%s", st);
		if (strcmp(st, "55P03") != 0 && strcmp(st, "40P01") != 0)
			goto done;
		if (tries > r->retries) {
			if (err != NULL)
				buf_printf(err, " (gave up after %d tries)", tries);
			goto done;
		}
		{
			long hi = sleep * 3;
			long span;

			if (hi > cap)
				hi = cap;
			span = hi - base;
			sleep = base + (span > 0 ? (long)(jitter_next() % (uint64_t)(span + 1)) : 0);
		}
		if (r->notify != NULL) {
			struct buf line = BUF_INIT;

			buf_printf(&line, "%s: %s; retry %d of %d in %ld ms",
			    r->what ? r->what : "statement",
			    strcmp(st, "40P01") == 0 ? "deadlock" : "lock timeout",
			    tries, r->retries, sleep);
			r->notify(r->arg, buf_cstr(&line));
			buf_free(&line);
		}
		sleep_ms(sleep);
	}
done:
	if (attempts != NULL)
		*attempts = tries;
	buf_free(&rb);
	return ret;
}

/* The libpq version as text. */
const char *
pg_lib_version(void)
{
	static char v[32];
	int n;

	if (pq_load(NULL) != 0)
		return "(cannot be loaded)";
	n = PQlibVersion();
	if (n >= 100000)
		snprintf(v, sizeof v, "%d.%d", n / 10000, n % 10000);
	else
		snprintf(v, sizeof v, "%d.%d.%d", n / 10000, n / 100 % 100, n % 100);
	return v;
}

/* The text[] literal {"a","b"} of the n strings of v; the caller owns it. */
char *
pg_array_literal(char *const *v, size_t n)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_putc(&b, '{');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		pg_array_elem(&b, v[i]);
	}
	buf_putc(&b, '}');
	return buf_detach(&b);
}

/* Appends s as an element of a text[] literal: "..." with \ and " escaped. */
void
pg_array_elem(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}
