/*
 * The state store's facade: the functions of state.h, on whichever
 * backend (state-be.h) the store was opened with.  state_open opens the
 * SQLite file of state-sqlite.c, state_open_pg the PostgreSQL store of
 * state-pg.c; state_location_is_pg tells which of the two a `state:`
 * setting names.  Every other function hands its arguments to the
 * backend's table, after what is the same on every store (the output
 * arguments emptied, an event's kind checked); state_copy, which only
 * calls functions of this interface, copies between any two of them.
 *
 * No backend calls back into this file: what they share lives in
 * state-common.c, below both.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "state.h"
#include "state-be.h"
#include "xalloc.h"

/* An open store: the backend and its own handle. */
struct state {
	const struct state_backend *be;
	void	*bctx;
	int64_t	 own;		/* counts writes to the history (state_stamp) */
	int64_t	 own_begin;	/* own when the transaction began */
};

/* Wraps an opened backend handle into a store (owned by the caller). */
static struct state *
state_new(const struct state_backend *be, void *bctx)
{
	struct state *st = xcalloc(1, sizeof *st);

	st->be = be;
	st->bctx = bctx;
	return st;
}

/* Opens (creating when asked) and checks the state file; see state.h. */
int
state_open(struct state **out, const char *path, int create, struct buf *err)
{
	void *be = NULL;

	*out = NULL;
	if (state_sqlite_open(&be, path, create, err) != 0)
		return -1;
	*out = state_new(&state_sqlite_backend, be);
	return 0;
}

/* Opens the PostgreSQL store at conninfo; see state.h. */
int
state_open_pg(struct state **out, const char *conninfo, int create,
    int *absent, struct buf *err)
{
	void *be = NULL;

	*out = NULL;
	*absent = 0;
	if (state_pg_open(&be, conninfo, create, absent, err) != 0)
		return -1;
	*out = state_new(&state_pg_backend, be);
	return 0;
}

/* Whether loc names a PostgreSQL store rather than a file; see state.h. */
int
state_location_is_pg(const char *loc)
{
	if (strncmp(loc, "postgres://", 11) == 0 ||
	    strncmp(loc, "postgresql://", 13) == 0)
		return 1;
	/*
	 * A conninfo is key=value pairs: it starts with a keyword (letters
	 * and underscores) and "=", which no file path excon writes does.
	 */
	while (*loc == ' ')
		loc++;
	if (!((*loc >= 'a' && *loc <= 'z') || *loc == '_'))
		return 0;
	while ((*loc >= 'a' && *loc <= 'z') || *loc == '_')
		loc++;
	while (*loc == ' ')
		loc++;
	return *loc == '=';
}

/* The name of the store's kind: the backend's, "sqlite" or "postgresql". */
const char *
state_kind(const struct state *st)
{
	return st->be->name;
}

/* The history's id (borrowed); see state.h. */
const char *
state_history_id(struct state *st, struct buf *err)
{
	return st->be->history_id(st->bctx, err);
}

/* Checks the whole store now (see state.h). */
int
state_check(struct state *st, struct buf *err)
{
	return st->be->check(st->bctx, err);
}

/* Rolls back any open transaction and closes the store (NULL-safe). */
void
state_close(struct state *st)
{
	if (st == NULL)
		return;
	st->be->close(st->bctx);
	free(st);
}

/* Starts a write transaction that excludes every other writer. */
int
state_begin(struct state *st, struct buf *err)
{
	st->own_begin = st->own;
	return st->be->begin(st->bctx, err);
}

/* Commits; on failure the store rolls back so it is usable again. */
int
state_commit(struct state *st, struct buf *err)
{
	return st->be->commit(st->bctx, err);
}

/* Rolls back the open transaction, if any (NULL-safe). */
void
state_rollback(struct state *st)
{
	if (st == NULL)
		return;
	/* Writes undone change the history back: a new version too. */
	if (st->own != st->own_begin)
		st->own++;
	st->be->rollback(st->bctx);
}

/* Fills h (owned by the caller) with every release and ship, in order. */
int
state_history_load(struct state *st, struct state_history *h, struct buf *err)
{
	memset(h, 0, sizeof *h);
	return st->be->history_load(st->bctx, h, NULL, 0, err);
}

/* Loads every release and the ships of the plans named. */
int
state_history_load_plans(struct state *st, struct state_history *h,
    char *const *plans, size_t nplans, struct buf *err)
{
	static char *const none[1] = { NULL };

	memset(h, 0, sizeof *h);
	/* No plans named means no ships, not every ship. */
	return st->be->history_load(st->bctx, h, plans != NULL ? plans : none,
	    nplans, err);
}

/* Reads the history's version; 1 when the store cannot tell (see state.h). */
int
state_history_stamp(struct state *st, struct state_stamp *out,
    struct buf *err)
{
	memset(out, 0, sizeof *out);
	if (st->be->history_stamp == NULL)
		return 1;
	out->own = st->own;
	return st->be->history_stamp(st->bctx, &out->store, err);
}

/* Appends a started release at the end of the sequence; names are unique. */
int
state_release_add(struct state *st, const char *name, const char *note,
    int64_t *seq_out, struct buf *err)
{
	st->own++;
	return st->be->release_add(st->bctx, name, note, seq_out, err);
}

/* Marks release seq deployed; finishing it again changes nothing. */
int
state_release_finish(struct state *st, int64_t seq, struct buf *err)
{
	st->own++;
	return st->be->release_finish(st->bctx, seq, err);
}

/* Inserts or replaces the ship row of (plan, step); at 0 means now. */
int
state_ship_put(struct state *st, const struct state_ship *ship,
    struct buf *err)
{
	st->own++;
	return st->be->ship_put(st->bctx, ship, err);
}

/* Deletes the ship row of (plan, step), if any. */
int
state_ship_delete(struct state *st, const char *plan, const char *step,
    struct buf *err)
{
	st->own++;
	return st->be->ship_delete(st->bctx, plan, step, err);
}

/* Appends an event as chain head + 1; NULL actor / 0 at mean actor / now. */
int
state_event_append(struct state *st, const struct state_event *in,
    struct buf *err)
{
	if (in->kind == NULL || *in->kind == '\0')
		return error_set(err, "an event needs a kind");
	return st->be->event_append(st->bctx, in, err);
}

/* Loads events oldest first, filtered by plan and kind; caller owns *out. */
int
state_events_load(struct state *st, const char *plan, const char *kind,
    struct state_event **out, size_t *n, struct buf *err)
{
	*out = NULL;
	*n = 0;
	return st->be->events_load(st->bctx, plan, kind, out, n, err);
}

/* Recomputes the hash chain; see state.h. */
int
state_log_verify(struct state *st, int64_t *bad_id, struct buf *err)
{
	*bad_id = 0;
	return st->be->log_verify(st->bctx, bad_id, err);
}

/* Reads the progress of (plan, step) into out (caller owns); *found 0: none. */
int
state_backfill_get(struct state *st, const char *plan, const char *step,
    struct state_backfill *out, int *found, struct buf *err)
{
	memset(out, 0, sizeof *out);
	*found = 0;
	return st->be->backfill_get(st->bctx, plan, step, out, found, err);
}

/* Inserts or replaces the backfill progress row; updated_at 0 means now. */
int
state_backfill_put(struct state *st, const struct state_backfill *b,
    struct buf *err)
{
	return st->be->backfill_put(st->bctx, b, err);
}

/* Deletes the backfill progress of (plan, step), if any. */
int
state_backfill_delete(struct state *st, const char *plan, const char *step,
    struct buf *err)
{
	return st->be->backfill_delete(st->bctx, plan, step, err);
}

/* Loads every backfill progress row; *out owned by the caller. */
int
state_backfills_load(struct state *st, struct state_backfill **out,
    size_t *n, struct buf *err)
{
	*out = NULL;
	*n = 0;
	return st->be->backfills_load(st->bctx, out, n, err);
}

/* The SQLite library version. */
const char *
state_lib_version(void)
{
	return state_sqlite_version();
}

/* Counts what a store holds, for state_copy. */
static int
copy_count(struct state *st, struct state_copy_counts *c,
    struct state_history *h, struct state_event **ev,
    struct state_backfill **bf, struct buf *err)
{
	memset(c, 0, sizeof *c);
	if (state_history_load(st, h, err) != 0 ||
	    state_events_load(st, NULL, NULL, ev, &c->events, err) != 0 ||
	    state_backfills_load(st, bf, &c->backfills, err) != 0)
		return -1;
	c->releases = h->nreleases;
	c->ships = h->nships;
	return 0;
}

/*
 * Copies a whole history; see state.h.  The raw writes (the history's id,
 * releases and events as they are, ids and hashes included) go through
 * the backend's entries for state_copy, into a store checked empty.
 */
int
state_copy(struct state *from, struct state *to, int dry_run,
    struct state_copy_counts *counts, struct buf *err)
{
	struct state_history h, th;
	struct state_event *ev = NULL, *tev = NULL;
	struct state_backfill *bf = NULL, *tbf = NULL;
	struct state_copy_counts tc;
	const char *id;
	size_t i;
	int own = 0, ret = -1;

	memset(&h, 0, sizeof h);
	memset(&th, 0, sizeof th);
	memset(&tc, 0, sizeof tc);
	if ((id = state_history_id(from, err)) == NULL ||
	    copy_count(from, counts, &h, &ev, &bf, err) != 0)
		goto done;
	if (!dry_run) {
		if (state_begin(to, err) != 0)
			goto done;
		own = 1;
	}
	/* The target is read inside the transaction: nobody writes meanwhile. */
	if (copy_count(to, &tc, &th, &tev, &tbf, err) != 0)
		goto done;
	if (tc.releases || tc.ships || tc.events || tc.backfills) {
		error_set(err, "the target already holds a history (%zu "
		    "release%s, %zu ship%s, %zu event%s): excon copies only into "
		    "an empty store", tc.releases, tc.releases == 1 ? "" : "s",
		    tc.ships, tc.ships == 1 ? "" : "s", tc.events,
		    tc.events == 1 ? "" : "s");
		goto done;
	}
	if (dry_run) {
		ret = 0;
		goto done;
	}
	if (to->be->history_id_set(to->bctx, id, err) != 0)
		goto done;
	to->own++;
	for (i = 0; i < h.nreleases; i++)
		if (to->be->release_put(to->bctx, &h.releases[i], err) != 0)
			goto done;
	for (i = 0; i < h.nships; i++)
		if (state_ship_put(to, &h.ships[i], err) != 0)
			goto done;
	for (i = 0; i < counts->events; i++)
		if (to->be->event_put(to->bctx, &ev[i], err) != 0)
			goto done;
	for (i = 0; i < counts->backfills; i++)
		if (state_backfill_put(to, &bf[i], err) != 0)
			goto done;
	if (state_commit(to, err) != 0)
		goto done;
	own = 0;
	ret = 0;
done:
	if (own)
		state_rollback(to);
	state_history_free(&h);
	state_history_free(&th);
	state_events_free(ev, counts->events);
	state_events_free(tev, tc.events);
	state_backfills_free(bf, counts->backfills);
	state_backfills_free(tbf, tc.backfills);
	return ret;
}
