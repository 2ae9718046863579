/*
 * The state store on PostgreSQL: the history a team shares, in tables of
 * the excon schema, behind the same functions as the SQLite file (see
 * state-be.h).  It speaks to the server only through pg.h.
 *
 * Concurrency: every change is one transaction that first locks the one
 * row of excon.store (SELECT ... FOR UPDATE), so writers on any number of
 * hosts queue behind each other and each decides on the history as the
 * previous writer committed it (READ COMMITTED: every statement after the
 * lock sees that commit).  Readers take no lock and never block writers:
 * they read in one REPEATABLE READ READ ONLY snapshot, all tables in one
 * round trip (libpq's pipeline), whatever the size of the history.
 *
 * Privileges: the lock row needs UPDATE, so a role granted only SELECT on
 * the schema fails at the start of any change, with a message that says
 * so; every reading function works for it.
 *
 * The event log is chained with the same hash as the SQLite store's, so a
 * history copied between the two kinds verifies on either.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dbschema.h"
#include "pg.h"
#include "state-be.h"
#include "xalloc.h"

/* The schema version of the PostgreSQL store, kept in excon.store. */
#define STATE_PG_VERSION	DBSCHEMA_STORE_VERSION

struct spg {
	struct pg	*db;
	char		*where;		/* conninfo without its password */
	char		*history_id;
	int		 in_tx;		/* a change is open (state_begin) */
};

/*
 * The added columns of excon.backfills, read from row b: a running
 * backfill's rate and what it is paused for, for status.  A store made
 * before gets them when a role that may alter it opens it
 * (dbschema_store_backfills_v2); reads go through to_jsonb, so that a
 * store without them still reads.
 */
#define BACKFILLS_V2_COLS						\
	", (to_jsonb(b) ->> 'rate')::bigint, to_jsonb(b) ->> 'waiting', "	\
	"(to_jsonb(b) ->> 'waiting_since')::bigint"

/* Integer as text for a parameter; buf holds at least 24 bytes. */
static const char *
itoa64(char *buf, size_t n, int64_t v)
{
	snprintf(buf, n, "%" PRId64, v);
	return buf;
}

/* Column value as int64 (0 for NULL). */
static int64_t
get_int(const struct pg_result *r, int row, int col)
{
	const char *v = pg_result_get(r, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

/* Column value as a fresh string (owned), or NULL. */
static char *
get_str(const struct pg_result *r, int row, int col)
{
	const char *v = pg_result_get(r, row, col);

	return v != NULL ? xstrdup(v) : NULL;
}

/*
 * Turns the failure in e into err: a write refused for lack of privilege
 * says that the role cannot write; anything else names the store.
 */
static int
spg_error(struct spg *sp, const char *what, struct buf *e, struct buf *err)
{
	const char *code = pg_sqlstate(sp->db);

	if (strcmp(code, "42501") == 0 && sp->in_tx)
		return error_set(err, "cannot %s: the role cannot write to the "
		    "history in %s (%s); a writer role needs SELECT, INSERT, "
		    "UPDATE and DELETE on the excon tables", what, sp->where,
		    buf_cstr(e));
	return error_set(err, "cannot %s in %s: %s", what, sp->where,
	    buf_cstr(e));
}

/* Runs one statement with text parameters; *res when res is not NULL. */
static int
spg_exec(struct spg *sp, const char *what, const char *sql, int n,
    const char *const *params, struct pg_result **res, struct buf *err)
{
	struct buf e = BUF_INIT;
	int ret = 0;

	if (pg_exec(sp->db, sql, n, params, res, &e) != 0)
		ret = spg_error(sp, what, &e, err);
	buf_free(&e);
	return ret;
}

/* Starts a change: a transaction holding the store's lock row. */
static int
spg_begin(void *be, struct buf *err)
{
	struct spg *sp = be;
	struct buf e = BUF_INIT;
	int ret = 0;

	if (sp->in_tx)
		return error_set(err, "a transaction on %s is already open",
		    sp->where);
	sp->in_tx = 1;
	if (pg_exec_script(sp->db, "BEGIN; SELECT 1 FROM excon.store "
	    "WHERE k = 1 FOR UPDATE", NULL, &e) != 0) {
		ret = spg_error(sp, "lock the history", &e, err);
		if (pg_in_transaction(sp->db))
			(void)pg_exec(sp->db, "ROLLBACK", 0, NULL, NULL, NULL);
		sp->in_tx = 0;
	}
	buf_free(&e);
	return ret;
}

/* Commits the change. */
static int
spg_commit(void *be, struct buf *err)
{
	struct spg *sp = be;
	int ret;

	if (!sp->in_tx)
		return error_set(err, "no transaction on %s to commit",
		    sp->where);
	ret = spg_exec(sp, "commit the history", "COMMIT", 0, NULL, NULL,
	    err);
	if (ret != 0 && pg_in_transaction(sp->db))
		(void)pg_exec(sp->db, "ROLLBACK", 0, NULL, NULL, NULL);
	sp->in_tx = 0;
	return ret;
}

/* Rolls the open change back, if any. */
static void
spg_rollback(void *be)
{
	struct spg *sp = be;

	if (sp == NULL || sp->db == NULL)
		return;
	if (pg_in_transaction(sp->db))
		(void)pg_exec(sp->db, "ROLLBACK", 0, NULL, NULL, NULL);
	sp->in_tx = 0;
}

/* As tx_enter in state-sqlite.c: a change of our own when none is open. */
static int
tx_enter(struct spg *sp, int *own, struct buf *err)
{
	*own = 0;
	if (sp->in_tx)
		return 0;
	if (spg_begin(sp, err) != 0)
		return -1;
	*own = 1;
	return 0;
}

/* Ends what tx_enter started: commit when ok, else roll back. */
static int
tx_leave(struct spg *sp, int own, int ok, struct buf *err)
{
	if (!own)
		return ok ? 0 : -1;
	if (!ok) {
		spg_rollback(sp);
		return -1;
	}
	return spg_commit(sp, err);
}

/*
 * Runs n reading statements in one round trip: inside the open change
 * when there is one, else in a REPEATABLE READ READ ONLY snapshot of
 * their own.  res receives the n results (caller frees).
 */
static int
spg_read(struct spg *sp, const char *what, int n, const struct pg_stmt *q,
    struct pg_result **res, struct buf *err)
{
	struct pg_stmt all[8];
	struct pg_result *r[8];
	struct buf e = BUF_INIT;
	int i, k = 0, ret = -1;

	memset(r, 0, sizeof r);
	if (!sp->in_tx)
		all[k++] = (struct pg_stmt){ "BEGIN ISOLATION LEVEL REPEATABLE "
		    "READ READ ONLY", NULL, 0, NULL };
	for (i = 0; i < n; i++)
		all[k++] = q[i];
	if (!sp->in_tx)
		all[k++] = (struct pg_stmt){ "COMMIT", NULL, 0, NULL };
	if (pg_exec_pipeline(sp->db, k, all, r, &e) != 0) {
		spg_error(sp, what, &e, err);
		if (!sp->in_tx && pg_in_transaction(sp->db))
			(void)pg_exec(sp->db, "ROLLBACK", 0, NULL, NULL, NULL);
		goto done;
	}
	for (i = 0; i < n; i++) {
		res[i] = r[i + (sp->in_tx ? 0 : 1)];
		r[i + (sp->in_tx ? 0 : 1)] = NULL;
	}
	ret = 0;
done:
	for (i = 0; i < k; i++)
		pg_result_free(r[i]);
	buf_free(&e);
	return ret;
}

/* The history's id, read when the store was opened. */
static const char *
spg_history_id(void *be, struct buf *err)
{
	(void)err;
	return ((struct spg *)be)->history_id;
}

/* Nothing to check beyond what the server guarantees. */
static int
spg_check(void *be, struct buf *err)
{
	(void)be;
	(void)err;
	return 0;
}

/* Closes the connection, rolling back an open change. */
static void
spg_close(void *be)
{
	struct spg *sp = be;

	if (sp == NULL)
		return;
	spg_rollback(sp);
	pg_close(sp->db);
	free(sp->where);
	free(sp->history_id);
	free(sp);
}

/*
 * Loads every release and the ships of the nplans plans named (every
 * plan's when plans is NULL) in one snapshot and one round trip.
 */
static int
spg_history_load(void *be, struct state_history *h, char *const *plans,
    size_t nplans, struct buf *err)
{
	struct spg *sp = be;
	char *names = NULL;
	const char *param[1];
	struct pg_stmt q[2] = {
		{ "SELECT seq, name, state, note, started_at, finished_at "
		  "FROM excon.releases ORDER BY seq", NULL, 0, NULL },
		{ "SELECT plan, step, idx, release_seq, checksum, status, "
		  "forced, at FROM excon.ships "
		  "ORDER BY plan COLLATE \"C\", idx, step COLLATE \"C\"",
		  NULL, 0, NULL },
	};
	struct pg_result *res[2] = { NULL, NULL };
	struct history_fill f;
	struct state_ship row;
	const char *v;
	int i, n, ret = -1;

	memset(h, 0, sizeof *h);
	if (plans != NULL) {
		names = pg_array_literal(plans, nplans);
		param[0] = names;
		q[1] = (struct pg_stmt){ "SELECT plan, step, idx, release_seq, "
		    "checksum, status, forced, at FROM excon.ships "
		    "WHERE plan = ANY ($1::text[]) "
		    "ORDER BY plan COLLATE \"C\", idx, step COLLATE \"C\"",
		    NULL, 1, param };
	}
	if (spg_read(sp, "read the history", 2, q, res, err) != 0)
		goto done;
	/* Already in order: history_fill only copies. */
	history_fill_init(&f, h, (size_t)pg_result_nrows(res[1]));
	n = pg_result_nrows(res[0]);
	for (i = 0; i < n; i++)
		history_fill_release(&f, get_int(res[0], i, 0),
		    pg_result_get(res[0], i, 1), pg_result_get(res[0], i, 2),
		    pg_result_get(res[0], i, 3), get_int(res[0], i, 4),
		    get_int(res[0], i, 5));
	n = pg_result_nrows(res[1]);
	memset(&row, 0, sizeof row);
	for (i = 0; i < n; i++) {
		row.plan = (char *)pg_result_get(res[1], i, 0);
		row.step = (char *)pg_result_get(res[1], i, 1);
		row.idx = (int)get_int(res[1], i, 2);
		row.release_seq = get_int(res[1], i, 3);
		row.checksum = (char *)pg_result_get(res[1], i, 4);
		v = pg_result_get(res[1], i, 6);
		row.forced = v != NULL && v[0] == 't';
		row.at = get_int(res[1], i, 7);
		history_fill_ship(&f, &row, pg_result_get(res[1], i, 5));
	}
	history_fill_end(&f);
	ret = 0;
done:
	free(names);
	pg_result_free(res[0]);
	pg_result_free(res[1]);
	return ret;
}

/* Appends a started release at seq = last + 1; names are unique. */
static int
spg_release_add(void *be, const char *name, const char *note,
    int64_t *seq_out, struct buf *err)
{
	struct spg *sp = be;
	struct pg_result *r = NULL;
	char now[32];
	const char *p[3];
	int own = 0, ok = 0;

	if (tx_enter(sp, &own, err) != 0)
		return -1;
	p[0] = name;
	if (spg_exec(sp, "read releases", "SELECT 1 FROM excon.releases "
	    "WHERE name = $1", 1, p, &r, err) != 0)
		goto done;
	if (pg_result_nrows(r) > 0) {
		error_set(err, "release '%s' already exists", name);
		goto done;
	}
	pg_result_free(r);
	r = NULL;
	p[1] = note;
	p[2] = itoa64(now, sizeof now, state_clock());
	if (spg_exec(sp, "add a release", "INSERT INTO excon.releases (seq, "
	    "name, state, note, started_at) SELECT coalesce(max(seq), 0) + 1, "
	    "$1, 'started', $2, $3 FROM excon.releases RETURNING seq", 3, p, &r,
	    err) != 0)
		goto done;
	if (seq_out != NULL)
		*seq_out = get_int(r, 0, 0);
	ok = 1;
done:
	pg_result_free(r);
	return tx_leave(sp, own, ok, err);
}

/* Marks release seq deployed; finishing it again changes nothing. */
static int
spg_release_finish(void *be, int64_t seq, struct buf *err)
{
	struct spg *sp = be;
	struct pg_result *r = NULL;
	char now[32], sq[32];
	const char *p[2];
	int own = 0, ok = 0;

	if (tx_enter(sp, &own, err) != 0)
		return -1;
	p[0] = itoa64(now, sizeof now, state_clock());
	p[1] = itoa64(sq, sizeof sq, seq);
	if (spg_exec(sp, "finish a release", "UPDATE excon.releases SET "
	    "state = 'deployed', finished_at = $1 WHERE seq = $2 AND "
	    "state = 'started'", 2, p, &r, err) != 0)
		goto done;
	if (pg_result_affected(r) == 0) {
		pg_result_free(r);
		r = NULL;
		if (spg_exec(sp, "read releases", "SELECT 1 FROM excon.releases "
		    "WHERE seq = $1", 1, p + 1, &r, err) != 0)
			goto done;
		if (pg_result_nrows(r) == 0) {
			error_set(err, "no release with sequence %" PRId64, seq);
			goto done;
		}
	}
	ok = 1;
done:
	pg_result_free(r);
	return tx_leave(sp, own, ok, err);
}

/* Inserts or replaces the ship row of (plan, step); at 0 means now. */
static int
spg_ship_put(void *be, const struct state_ship *ship, struct buf *err)
{
	struct spg *sp = be;
	char idx[32], rs[32], at[32];
	const char *p[8];
	int own = 0, ok = 0;

	if (tx_enter(sp, &own, err) != 0)
		return -1;
	p[0] = ship->plan;
	p[1] = ship->step;
	p[2] = itoa64(idx, sizeof idx, ship->idx);
	p[3] = itoa64(rs, sizeof rs, ship->release_seq);
	p[4] = ship->checksum != NULL ? ship->checksum : "";
	p[5] = ship->status == SHIP_FAILED ? "failed" : "done";
	p[6] = ship->forced ? "true" : "false";
	p[7] = itoa64(at, sizeof at, ship->at != 0 ? ship->at : state_clock());
	if (spg_exec(sp, "record a step", "INSERT INTO excon.ships (plan, step, "
	    "idx, release_seq, checksum, status, forced, at) VALUES ($1, $2, "
	    "$3, $4, $5, $6, $7, $8) ON CONFLICT (plan, step) DO UPDATE SET "
	    "idx = EXCLUDED.idx, release_seq = EXCLUDED.release_seq, "
	    "checksum = EXCLUDED.checksum, status = EXCLUDED.status, "
	    "forced = EXCLUDED.forced, at = EXCLUDED.at", 8, p, NULL,
	    err) != 0)
		goto done;
	ok = 1;
done:
	return tx_leave(sp, own, ok, err);
}

/* Deletes the row of (plan, step) from excon.ships or excon.backfills. */
static int
spg_delete(struct spg *sp, const char *sql, const char *plan,
    const char *step, struct buf *err)
{
	const char *p[2] = { plan, step };
	int own = 0, ok = 0;

	if (tx_enter(sp, &own, err) != 0)
		return -1;
	if (spg_exec(sp, "delete a record", sql, 2, p, NULL, err) == 0)
		ok = 1;
	return tx_leave(sp, own, ok, err);
}

/* Deletes the ship row of (plan, step), if any. */
static int
spg_ship_delete(void *be, const char *plan, const char *step,
    struct buf *err)
{
	return spg_delete(be, "DELETE FROM excon.ships WHERE plan = $1 AND "
	    "step = $2", plan, step, err);
}

/* Appends an event as chain head + 1, moving the head with it. */
static int
spg_event_append(void *be, const struct state_event *in, struct buf *err)
{
	struct spg *sp = be;
	struct state_event ev = *in;
	struct pg_result *r = NULL;
	char *actor = NULL;
	char prev[65], hash[65], id[32], at[32];
	const char *p[10];
	const char *h;
	int own = 0, ok = 0;

	if (tx_enter(sp, &own, err) != 0)
		return -1;
	if (ev.actor == NULL)
		ev.actor = actor = state_actor();
	if (ev.at == 0)
		ev.at = state_clock();
	if (spg_exec(sp, "read the event log", "SELECT head_id, head_hash "
	    "FROM excon.chain WHERE k = 1", 0, NULL, &r, err) != 0)
		goto done;
	ev.id = pg_result_nrows(r) > 0 ? get_int(r, 0, 0) : 0;
	h = pg_result_nrows(r) > 0 ? pg_result_get(r, 0, 1) : NULL;
	if (h != NULL && strlen(h) == 64)
		memcpy(prev, h, 65);
	else
		memcpy(prev, STATE_GENESIS_HASH, 65);
	ev.id++;
	state_event_hash(prev, &ev, hash);
	p[0] = itoa64(id, sizeof id, ev.id);
	p[1] = itoa64(at, sizeof at, ev.at);
	p[2] = ev.actor;
	p[3] = ev.kind;
	p[4] = ev.plan;
	p[5] = ev.step;
	p[6] = ev.release;
	p[7] = ev.detail;
	p[8] = ev.reason;
	p[9] = hash;
	if (spg_exec(sp, "append to the event log", "WITH e AS (INSERT INTO "
	    "excon.events (id, at, actor, kind, plan, step, release, detail, "
	    "reason, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)) "
	    "INSERT INTO excon.chain (k, head_id, head_hash) VALUES (1, $1, $10) "
	    "ON CONFLICT (k) DO UPDATE SET head_id = EXCLUDED.head_id, "
	    "head_hash = EXCLUDED.head_hash", 10, p, NULL, err) != 0)
		goto done;
	ok = 1;
done:
	pg_result_free(r);
	free(actor);
	return tx_leave(sp, own, ok, err);
}

#define EVENT_COLUMNS \
	"id, at, actor, kind, plan, step, release, detail, reason, hash"

/* Fills ev (owned by the caller) from row i of EVENT_COLUMNS. */
static void
event_from_row(const struct pg_result *r, int i, struct state_event *ev)
{
	ev->id = get_int(r, i, 0);
	ev->at = get_int(r, i, 1);
	ev->actor = get_str(r, i, 2);
	ev->kind = get_str(r, i, 3);
	ev->plan = get_str(r, i, 4);
	ev->step = get_str(r, i, 5);
	ev->release = get_str(r, i, 6);
	ev->detail = get_str(r, i, 7);
	ev->reason = get_str(r, i, 8);
	ev->hash = get_str(r, i, 9);
}

/* Loads events oldest first, filtered by plan and kind; caller owns *out. */
static int
spg_events_load(void *be, const char *plan, const char *kind,
    struct state_event **out, size_t *n, struct buf *err)
{
	struct spg *sp = be;
	const char *p[2] = { plan, kind };
	struct pg_stmt q = { "SELECT " EVENT_COLUMNS " FROM excon.events "
	    "WHERE ($1::text IS NULL OR plan = $1) AND "
	    "($2::text IS NULL OR kind = $2) ORDER BY id", NULL, 2, p };
	struct pg_result *r = NULL;
	int i, nr;

	*out = NULL;
	*n = 0;
	if (spg_read(sp, "read the event log", 1, &q, &r, err) != 0)
		return -1;
	nr = pg_result_nrows(r);
	*out = xcalloc((size_t)nr + 1, sizeof **out);
	for (i = 0; i < nr; i++)
		event_from_row(r, i, &(*out)[i]);
	*n = (size_t)nr;
	pg_result_free(r);
	return 0;
}

/*
 * Walks the chain oldest first, as state_log_verify does on the file: a
 * missing id, a stored hash that differs from the recomputed one, or a
 * log that does not reach the head is a break.
 */
static int
spg_log_verify(void *be, int64_t *bad_id, struct buf *err)
{
	struct spg *sp = be;
	struct pg_stmt q[2] = {
		{ "SELECT head_id, head_hash FROM excon.chain WHERE k = 1",
		  NULL, 0, NULL },
		{ "SELECT " EVENT_COLUMNS " FROM excon.events ORDER BY id",
		  NULL, 0, NULL },
	};
	struct pg_result *res[2] = { NULL, NULL };
	struct state_event ev;
	char prev[65], calc[65];
	const char *head = STATE_GENESIS_HASH;
	int64_t expect = 1, head_id = 0;
	int i, nr, ret = -1;

	memset(&ev, 0, sizeof ev);
	*bad_id = 0;
	memcpy(prev, STATE_GENESIS_HASH, 65);
	if (spg_read(sp, "read the event log", 2, q, res, err) != 0)
		goto done;
	if (pg_result_nrows(res[0]) > 0) {
		head_id = get_int(res[0], 0, 0);
		head = pg_result_get(res[0], 0, 1);
		if (head == NULL)
			head = "";
	}
	nr = pg_result_nrows(res[1]);
	for (i = 0; i < nr; i++) {
		event_from_row(res[1], i, &ev);
		if (ev.id != expect) {
			*bad_id = expect;
			error_set(err, "event %" PRId64 " is missing", expect);
			ret = 1;
			goto done;
		}
		state_event_hash(prev, &ev, calc);
		if (ev.hash == NULL || strcmp(ev.hash, calc) != 0) {
			*bad_id = ev.id;
			error_set(err, "event %" PRId64 " was altered", ev.id);
			ret = 1;
			goto done;
		}
		memcpy(prev, calc, 65);
		state_event_clear(&ev);
		expect++;
	}
	if (head_id >= expect) {
		*bad_id = expect;
		error_set(err, "event %" PRId64 " is missing (the log ends at "
		    "%" PRId64 ", its head is %" PRId64 ")", expect, expect - 1,
		    head_id);
		ret = 1;
		goto done;
	}
	if (head_id != expect - 1 || strcmp(head, prev) != 0) {
		*bad_id = head_id + 1;
		error_set(err, "event %" PRId64 " is not in the hash chain "
		    "head", head_id + 1);
		ret = 1;
		goto done;
	}
	ret = 0;
done:
	state_event_clear(&ev);
	pg_result_free(res[0]);
	pg_result_free(res[1]);
	return ret;
}

/* Reads the progress of (plan, step) into out (caller owns); *found 0: none. */
static int
spg_backfill_get(void *be, const char *plan, const char *step,
    struct state_backfill *out, int *found, struct buf *err)
{
	struct spg *sp = be;
	const char *p[2] = { plan, step };
	struct pg_result *r = NULL;
	const char *v;

	memset(out, 0, sizeof *out);
	*found = 0;
	if (spg_exec(sp, "read backfill progress", "SELECT plan, step, cursor, "
	    "rows_done, rows_total, finished, updated_at" BACKFILLS_V2_COLS
	    " FROM excon.backfills b WHERE plan = $1 AND step = $2", 2, p, &r,
	    err) != 0)
		return -1;
	if (pg_result_nrows(r) > 0) {
		out->plan = get_str(r, 0, 0);
		out->step = get_str(r, 0, 1);
		out->cursor = get_str(r, 0, 2);
		out->rows_done = get_int(r, 0, 3);
		out->rows_total = get_int(r, 0, 4);
		v = pg_result_get(r, 0, 5);
		out->finished = v != NULL && v[0] == 't';
		out->updated_at = get_int(r, 0, 6);
		out->rate = get_int(r, 0, 7);
		out->waiting = get_str(r, 0, 8);
		out->waiting_since = get_int(r, 0, 9);
		*found = 1;
	}
	pg_result_free(r);
	return 0;
}

/* Inserts or replaces the backfill progress row; updated_at 0 means now. */
static int
spg_backfill_put(void *be, const struct state_backfill *b, struct buf *err)
{
	struct spg *sp = be;
	char done_[32], total[32], at[32], rate[32], since[32];
	const char *p[10];
	int own = 0, ok = 0;

	if (tx_enter(sp, &own, err) != 0)
		return -1;
	p[0] = b->plan;
	p[1] = b->step;
	p[2] = b->cursor;
	p[3] = itoa64(done_, sizeof done_, b->rows_done);
	p[4] = itoa64(total, sizeof total, b->rows_total);
	p[5] = b->finished ? "true" : "false";
	p[6] = itoa64(at, sizeof at, b->updated_at != 0 ? b->updated_at :
	    state_clock());
	p[7] = itoa64(rate, sizeof rate, b->rate);
	p[8] = b->waiting;
	p[9] = itoa64(since, sizeof since, b->waiting_since);
	if (spg_exec(sp, "record backfill progress", "INSERT INTO "
	    "excon.backfills (plan, step, cursor, rows_done, rows_total, "
	    "finished, updated_at, rate, waiting, waiting_since) VALUES ($1, "
	    "$2, $3, $4, $5, $6, $7, $8, $9, $10) "
	    "ON CONFLICT (plan, step) DO UPDATE SET cursor = EXCLUDED.cursor, "
	    "rows_done = EXCLUDED.rows_done, rows_total = EXCLUDED.rows_total, "
	    "finished = EXCLUDED.finished, updated_at = EXCLUDED.updated_at, "
	    "rate = EXCLUDED.rate, waiting = EXCLUDED.waiting, "
	    "waiting_since = EXCLUDED.waiting_since", 10, p, NULL, err) == 0)
		ok = 1;
	return tx_leave(sp, own, ok, err);
}

/* Deletes the backfill progress of (plan, step), if any. */
static int
spg_backfill_delete(void *be, const char *plan, const char *step,
    struct buf *err)
{
	return spg_delete(be, "DELETE FROM excon.backfills WHERE plan = $1 "
	    "AND step = $2", plan, step, err);
}

/* Loads every backfill progress row (state_copy). */
static int
spg_backfills_load(void *be, struct state_backfill **out, size_t *n,
    struct buf *err)
{
	struct spg *sp = be;
	struct pg_stmt q = { "SELECT plan, step, cursor, rows_done, rows_total, "
	    "finished, updated_at" BACKFILLS_V2_COLS " FROM excon.backfills b "
	    "ORDER BY plan COLLATE "
	    "\"C\", step COLLATE \"C\"", NULL, 0, NULL };
	struct pg_result *r = NULL;
	const char *v;
	int i, nr;

	*out = NULL;
	*n = 0;
	if (spg_read(sp, "read backfill progress", 1, &q, &r, err) != 0)
		return -1;
	nr = pg_result_nrows(r);
	*out = xcalloc((size_t)nr + 1, sizeof **out);
	for (i = 0; i < nr; i++) {
		struct state_backfill *b = &(*out)[i];

		b->plan = get_str(r, i, 0);
		b->step = get_str(r, i, 1);
		b->cursor = get_str(r, i, 2);
		b->rows_done = get_int(r, i, 3);
		b->rows_total = get_int(r, i, 4);
		v = pg_result_get(r, i, 5);
		b->finished = v != NULL && v[0] == 't';
		b->updated_at = get_int(r, i, 6);
		b->rate = get_int(r, i, 7);
		b->waiting = get_str(r, i, 8);
		b->waiting_since = get_int(r, i, 9);
	}
	*n = (size_t)nr;
	pg_result_free(r);
	return 0;
}

/* Sets the history's id (state_copy keeps it). */
static int
spg_history_id_set(void *be, const char *id, struct buf *err)
{
	struct spg *sp = be;
	const char *p[1] = { id };

	if (spg_exec(sp, "copy the history id", "UPDATE excon.store SET "
	    "history_id = $1 WHERE k = 1", 1, p, NULL, err) != 0)
		return -1;
	free(sp->history_id);
	sp->history_id = xstrdup(id);
	return 0;
}

/* Inserts a release row as it is (state_copy). */
static int
spg_release_put(void *be, const struct state_release *r, struct buf *err)
{
	struct spg *sp = be;
	char seq[32], st[32], fin[32];
	const char *p[6];

	p[0] = itoa64(seq, sizeof seq, r->seq);
	p[1] = r->name;
	p[2] = r->state == RELEASE_DEPLOYED ? "deployed" : "started";
	p[3] = r->note;
	p[4] = itoa64(st, sizeof st, r->started_at);
	p[5] = itoa64(fin, sizeof fin, r->finished_at);
	return spg_exec(sp, "copy a release", "INSERT INTO excon.releases (seq, "
	    "name, state, note, started_at, finished_at) VALUES ($1, $2, $3, "
	    "$4, $5, $6)", 6, p, NULL, err);
}

/* Inserts an event as it is and moves the head to it (state_copy). */
static int
spg_event_put(void *be, const struct state_event *ev, struct buf *err)
{
	struct spg *sp = be;
	char id[32], at[32];
	const char *p[10];

	p[0] = itoa64(id, sizeof id, ev->id);
	p[1] = itoa64(at, sizeof at, ev->at);
	p[2] = ev->actor;
	p[3] = ev->kind;
	p[4] = ev->plan;
	p[5] = ev->step;
	p[6] = ev->release;
	p[7] = ev->detail;
	p[8] = ev->reason;
	p[9] = ev->hash;
	return spg_exec(sp, "copy an event", "WITH e AS (INSERT INTO "
	    "excon.events (id, at, actor, kind, plan, step, release, detail, "
	    "reason, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)) "
	    "INSERT INTO excon.chain (k, head_id, head_hash) VALUES (1, $1, $10) "
	    "ON CONFLICT (k) DO UPDATE SET head_id = EXCLUDED.head_id, "
	    "head_hash = EXCLUDED.head_hash", 10, p, NULL, err);
}

/*
 * Reads the store's version row.  *absent is set when the schema or the
 * row is missing; a newer version or a missing table is refused.
 */
static int
spg_probe(struct spg *sp, int *absent, struct buf *err)
{
	struct pg_result *r = NULL;
	struct buf e = BUF_INIT;
	const char *code;
	int64_t version, ntables;
	int ret = -1;

	*absent = 0;
	if (pg_exec(sp->db, "SELECT s.schema_version, (SELECT count(*) FROM "
	    "pg_catalog.pg_tables WHERE schemaname = 'excon' AND tablename = "
	    "ANY ('{releases,ships,events,chain,backfills}')) "
	    ", s.history_id FROM excon.store s WHERE k = 1", 0, NULL, &r,
	    &e) != 0) {
		code = pg_sqlstate(sp->db);
		if (strcmp(code, "42P01") == 0 || strcmp(code, "3F000") == 0)
			*absent = 1;
		else
			error_set(err, "cannot read the history in %s: %s",
			    sp->where, buf_cstr(&e));
		goto done;
	}
	if (pg_result_nrows(r) == 0) {
		*absent = 1;
		goto done;
	}
	version = get_int(r, 0, 0);
	ntables = get_int(r, 0, 1);
	free(sp->history_id);
	sp->history_id = get_str(r, 0, 2);
	if (version > STATE_PG_VERSION) {
		error_set(err, "the history in %s was written by a newer excon "
		    "(store schema %" PRId64 ", this excon knows %d): upgrade "
		    "excon", sp->where, version, STATE_PG_VERSION);
		goto done;
	}
	if (version < 1 || ntables != 5) {
		error_set(err, "the excon schema in %s is not a complete excon "
		    "history (a table is missing); it was left untouched",
		    sp->where);
		goto done;
	}
	ret = 0;
done:
	if (*absent)
		error_set(err, "no history in %s", sp->where);
	pg_result_free(r);
	buf_free(&e);
	return ret;
}

/* Creates the store: the schema, its tables and the history's id. */
static int
spg_create(struct spg *sp, struct buf *err)
{
	struct buf sql = BUF_INIT, e = BUF_INIT;
	int ret = -1;

	/*
	 * Two excon init at once: the advisory lock lets one create it.  The
	 * tables are dbschema.h's; the store row and the chain's head are
	 * the history's first content.
	 */
	buf_printf(&sql, "BEGIN; SELECT pg_advisory_xact_lock(%d);%s"
	    "INSERT INTO excon.chain VALUES (1, 0, '" STATE_GENESIS_HASH "')"
	    "  ON CONFLICT DO NOTHING;"
	    "INSERT INTO excon.store VALUES (1, %d, "
	    "replace(gen_random_uuid()::text, '-', ''), "
	    "%" PRId64 ") ON CONFLICT DO NOTHING; COMMIT", DBSCHEMA_LOCK_STORE,
	    dbschema_store_ddl, STATE_PG_VERSION, state_clock());
	if (pg_exec_script(sp->db, buf_cstr(&sql), NULL, &e) != 0) {
		if (strcmp(pg_sqlstate(sp->db), "42501") == 0)
			error_set(err, "cannot create the history in %s: the role "
			    "may not create the excon schema or its tables (%s)",
			    sp->where, buf_cstr(&e));
		else
			error_set(err, "cannot create the history in %s: %s",
			    sp->where, buf_cstr(&e));
		if (pg_in_transaction(sp->db))
			(void)pg_exec(sp->db, "ROLLBACK", 0, NULL, NULL, NULL);
		goto done;
	}
	ret = 0;
done:
	buf_free(&sql);
	buf_free(&e);
	return ret;
}

/*
 * Adds the later columns of excon.backfills to a store made before them, when they
 * are missing and the role may; a role that may not still reads it.
 */
static void
spg_upgrade(struct spg *sp)
{
	struct pg_result *r = NULL;
	const char *v;

	if (pg_exec(sp->db, "SELECT count(*) FROM pg_catalog.pg_attribute WHERE "
	    "attrelid = 'excon.backfills'::regclass AND attname = "
	    "'waiting_since' AND NOT attisdropped", 0, NULL, &r, NULL) != 0)
		return;
	v = pg_result_get(r, 0, 0);
	if (v != NULL && strcmp(v, "0") == 0)
		(void)pg_exec(sp->db, dbschema_store_backfills_v2, 0, NULL, NULL, NULL);
	pg_result_free(r);
}

/* Connects and checks (creating when asked) the store; see state-be.h. */
int
state_pg_open(void **be, const char *conninfo, int create, int *absent,
    struct buf *err)
{
	struct spg *sp = xcalloc(1, sizeof *sp);
	int ret = -1;

	*be = NULL;
	*absent = 0;
	sp->where = pg_conninfo_redact(conninfo != NULL ? conninfo : "");
	if (sp->where[0] == '\0') {
		free(sp->where);
		sp->where = xstrdup("the PG* environment's database");
	} else {
		char *q = xasprintf("'%s'", sp->where);

		free(sp->where);
		sp->where = q;
	}
	if (pg_connect(&sp->db, conninfo, "excon state", err) != 0)
		goto done;
	if (spg_probe(sp, absent, err) != 0) {
		if (!*absent || !create)
			goto done;
		*absent = 0;
		if (err != NULL)
			buf_reset(err);
		if (spg_create(sp, err) != 0 || spg_probe(sp, absent, err) != 0)
			goto done;
	}
	spg_upgrade(sp);
	*be = sp;
	sp = NULL;
	ret = 0;
done:
	spg_close(sp);
	return ret;
}

const struct state_backend state_pg_backend = {
	.name = "postgresql",
	.history_id = spg_history_id,
	.check = spg_check,
	.close = spg_close,
	.begin = spg_begin,
	.commit = spg_commit,
	.rollback = spg_rollback,
	.history_load = spg_history_load,
	.release_add = spg_release_add,
	.release_finish = spg_release_finish,
	.ship_put = spg_ship_put,
	.ship_delete = spg_ship_delete,
	.event_append = spg_event_append,
	.events_load = spg_events_load,
	.log_verify = spg_log_verify,
	.backfill_get = spg_backfill_get,
	.backfill_put = spg_backfill_put,
	.backfill_delete = spg_backfill_delete,
	.backfills_load = spg_backfills_load,
	.history_id_set = spg_history_id_set,
	.release_put = spg_release_put,
	.event_put = spg_event_put,
};
