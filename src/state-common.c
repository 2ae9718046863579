/*
 * What the state stores share, below the facade (state.c) and every
 * backend (the SQLite store in state-sqlite.c, the PostgreSQL store in
 * state-pg.c): the clock, the hash of the event chain, the actor, filling
 * the history from rows as any store returns them, and freeing what the
 * stores load.  It calls no store, so no arrow runs back
 * up from a backend to the facade.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"
#include "state-common.h"
#include "xalloc.h"

/*
 * "Now" in unix seconds, as every store stamps it: $EXCON_NOW when set to
 * a number (tests use it to fix the clock), else time(NULL).
 */
int64_t
state_clock(void)
{
	const char *s = getenv("EXCON_NOW");
	char *end;
	long long v;

	if (s != NULL && *s != '\0') {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0' && v >= 0)
			return v;
	}
	return (int64_t)time(NULL);
}

/* Feeds an integer to the chain hash as "I<decimal>;". */
static void
hash_int(struct sha256 *c, int64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "I%" PRId64 ";", v);

	sha256_update(c, tmp, (size_t)n);
}

/*
 * Feeds a string to the chain hash as "S<length>:<bytes>", or "N" for
 * NULL; the length prefix makes the serialization unambiguous whatever
 * bytes the fields hold.
 */
static void
hash_str(struct sha256 *c, const char *s, size_t len)
{
	char tmp[32];
	int n;

	if (s == NULL) {
		sha256_update(c, "N", 1);
		return;
	}
	n = snprintf(tmp, sizeof tmp, "S%zu:", len);
	sha256_update(c, tmp, (size_t)n);
	sha256_update(c, s, len);
}

/* Hashes a NUL-terminated string (or NULL) into the chain. */
static void
hash_cstr(struct sha256 *c, const char *s)
{
	hash_str(c, s, s != NULL ? strlen(s) : 0);
}

/*
 * The hash of one event: SHA-256 over the previous event's hash, then the
 * event's id and every field in a fixed order.  Binding the id means that
 * renumbering events breaks the chain too.  Shared by every backend, so
 * that a copied chain verifies.
 */
void
state_event_hash(const char *prev, const struct state_event *ev, char out[65])
{
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, "excon-event-v1\n", 15);
	hash_cstr(&c, prev);
	hash_int(&c, ev->id);
	hash_int(&c, ev->at);
	hash_cstr(&c, ev->actor);
	hash_cstr(&c, ev->kind);
	hash_cstr(&c, ev->plan);
	hash_cstr(&c, ev->step);
	hash_cstr(&c, ev->release);
	hash_cstr(&c, ev->detail);
	hash_cstr(&c, ev->reason);
	sha256_final_hex(&c, out);
}

/* Frees the strings of one event and empties it, for every backend. */
void
state_event_clear(struct state_event *ev)
{
	free(ev->actor);
	free(ev->kind);
	free(ev->plan);
	free(ev->step);
	free(ev->release);
	free(ev->detail);
	free(ev->reason);
	free(ev->hash);
	memset(ev, 0, sizeof *ev);
}

/* Frees the strings of one release. */
static void
release_clear(struct state_release *r)
{
	free(r->name);
	free(r->note);
}

/* Frees the strings of one ship. */
static void
ship_clear(struct state_ship *s)
{
	free(s->plan);
	free(s->step);
	free(s->checksum);
}

/* Frees what any store's history_load filled and empties h (NULL-safe). */
void
state_history_free(struct state_history *h)
{
	size_t i;

	if (h == NULL)
		return;
	if (h->strings != NULL) {
		arena_free(h->strings);
		free(h->strings);
	} else {
		for (i = 0; i < h->nreleases; i++)
			release_clear(&h->releases[i]);
		for (i = 0; i < h->nships; i++)
			ship_clear(&h->ships[i]);
	}
	free(h->releases);
	free(h->ships);
	memset(h, 0, sizeof *h);
}

/* One distinct plan name of a history being filled. */
struct fill_name {
	const char	*s;	/* in the history's arena */
	uint32_t	 hash;
	uint32_t	 rank;	/* its place in name order, once sorted */
};

/* Starts filling h, which is emptied first. */
void
history_fill_init(struct history_fill *f, struct state_history *h,
    size_t nships_hint)
{
	memset(f, 0, sizeof *f);
	memset(h, 0, sizeof *h);
	f->h = h;
	h->strings = xcalloc(1, sizeof *h->strings);
	if (nships_hint > 0) {
		XGROW(h->ships, f->scap, nships_hint);
		XGROW(f->slot, f->slotcap, nships_hint);
	}
}

/* Copies s into the history's arena (NULL stays NULL). */
static char *
fill_str(struct history_fill *f, const char *s)
{
	return s != NULL ? arena_strndup(f->h->strings, s, strlen(s)) : NULL;
}

/* Adds a release. */
void
history_fill_release(struct history_fill *f, int64_t seq, const char *name,
    const char *state, const char *note, int64_t started_at,
    int64_t finished_at)
{
	struct state_history *h = f->h;
	struct state_release *r;

	XGROW(h->releases, f->rcap, h->nreleases + 1);
	r = &h->releases[h->nreleases++];
	r->seq = seq;
	r->name = fill_str(f, name);
	r->state = state != NULL && strcmp(state, "deployed") == 0 ?
	    RELEASE_DEPLOYED : RELEASE_STARTED;
	r->note = fill_str(f, note);
	r->started_at = started_at;
	r->finished_at = finished_at;
}

/* FNV-1a of s; *len receives its length. */
static uint32_t
name_hash(const char *s, size_t *len)
{
	uint32_t v = 2166136261u;
	const char *p;

	for (p = s; *p != '\0'; p++)
		v = (v ^ (unsigned char)*p) * 16777619u;
	*len = (size_t)(p - s);
	return v;
}

/*
 * The id of plan name s among the distinct names, added (and copied into
 * the arena) when new.  The hash table holds id + 1, 0 for a free slot;
 * it has twice the names' capacity, so it is at most half full.
 */
static uint32_t
fill_intern(struct history_fill *f, const char *s)
{
	size_t len, i, mask;
	uint32_t hash = name_hash(s, &len), id;

	if (f->nnames == f->namecap) {
		/* XGROW keeps namecap a power of two. */
		XGROW(f->names, f->namecap, f->nnames + 1);
		free(f->table);
		f->table = xcalloc(2 * f->namecap, sizeof *f->table);
		mask = 2 * f->namecap - 1;
		for (id = 0; id < f->nnames; id++) {
			for (i = f->names[id].hash & mask; f->table[i] != 0;
			    i = (i + 1) & mask)
				;
			f->table[i] = id + 1;
		}
	}
	mask = 2 * f->namecap - 1;
	for (i = hash & mask; f->table[i] != 0; i = (i + 1) & mask) {
		id = f->table[i] - 1;
		if (f->names[id].hash == hash && strcmp(f->names[id].s, s) == 0)
			return id;
	}
	assert(f->nnames < UINT32_MAX);
	id = (uint32_t)f->nnames++;
	f->names[id].s = arena_strndup(f->h->strings, s, len);
	f->names[id].hash = hash;
	f->names[id].rank = 0;
	f->table[i] = id + 1;
	return id;
}

/* The order of ships within one plan: by position, then step. */
static int
ship_cmp_in_plan(const struct state_ship *x, const struct state_ship *y)
{
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return strcmp(x->step, y->step);
}

/* Adds a ship, noting whether the rows still come in order. */
void
history_fill_ship(struct history_fill *f, const struct state_ship *row,
    const char *status)
{
	struct state_history *h = f->h;
	struct state_ship *p;
	/* The schema says NOT NULL; a damaged row still must not crash. */
	uint32_t id = fill_intern(f, row->plan != NULL ? row->plan : "");

	XGROW(h->ships, f->scap, h->nships + 1);
	XGROW(f->slot, f->slotcap, h->nships + 1);
	p = &h->ships[h->nships];
	*p = *row;
	p->plan = (char *)f->names[id].s;
	p->step = fill_str(f, row->step != NULL ? row->step : "");
	p->checksum = fill_str(f, row->checksum != NULL ? row->checksum : "");
	p->status = status != NULL && strcmp(status, "failed") == 0 ?
	    SHIP_FAILED : SHIP_DONE;
	if (!f->unsorted && h->nships > 0) {
		const struct state_ship *q = p - 1;
		uint32_t qid = f->slot[h->nships - 1];
		int c = qid == id ? 0 : strcmp(q->plan, p->plan);

		if (c > 0 || (c == 0 && ship_cmp_in_plan(q, p) > 0))
			f->unsorted = 1;
	}
	f->slot[h->nships++] = id;
}

/* qsort order of distinct names: by byte value, as C collation sorts. */
static int
name_ptr_cmp(const void *a, const void *b)
{
	const struct fill_name *x = *(struct fill_name *const *)a;
	const struct fill_name *y = *(struct fill_name *const *)b;

	return strcmp(x->s, y->s);
}

/* qsort order of ships of one plan. */
static int
ship_qsort_in_plan(const void *a, const void *b)
{
	return ship_cmp_in_plan(a, b);
}

/*
 * Orders the ships by plan, position and step.  Sorting the distinct
 * names (a thousand, not every ship's) and then placing the ships by their
 * name's rank (a counting sort) costs a fraction of a comparison sort of
 * every ship by name; within a plan, the few ships are sorted by position.
 */
static void
fill_sort(struct history_fill *f)
{
	struct state_history *h = f->h;
	struct fill_name **order = xcalloc(f->nnames, sizeof *order);
	size_t *start = xcalloc(f->nnames + 1, sizeof *start);
	struct state_ship *out = xcalloc(h->nships, sizeof *out);
	size_t i, j, k, n;

	for (i = 0; i < f->nnames; i++)
		order[i] = &f->names[i];
	qsort(order, f->nnames, sizeof *order, name_ptr_cmp);
	for (i = 0; i < f->nnames; i++)
		order[i]->rank = (uint32_t)i;
	for (i = 0; i < h->nships; i++)
		start[f->names[f->slot[i]].rank + 1]++;
	for (i = 0; i < f->nnames; i++)
		start[i + 1] += start[i];
	for (i = 0; i < h->nships; i++)
		out[start[f->names[f->slot[i]].rank]++] = h->ships[i];
	/* start[r] is now the end of rank r's ships; sort each run. */
	for (i = 0, j = 0; i < f->nnames; j = start[i++]) {
		n = start[i] - j;
		if (n > 16) {
			qsort(out + j, n, sizeof *out, ship_qsort_in_plan);
			continue;
		}
		for (k = j + 1; k < j + n; k++) {
			struct state_ship t = out[k];
			size_t m = k;

			for (; m > j && ship_cmp_in_plan(&out[m - 1], &t) > 0; m--)
				out[m] = out[m - 1];
			out[m] = t;
		}
	}
	free(h->ships);
	h->ships = out;
	f->scap = h->nships;
	free(start);
	free(order);
}

/* Orders the ships and frees what only filling needed. */
void
history_fill_end(struct history_fill *f)
{
	assert(f->h != NULL);
	if (f->unsorted)
		fill_sort(f);
	free(f->names);
	free(f->table);
	free(f->slot);
	memset(f, 0, sizeof *f);
}

/* Frees what filling needed and the history, after a failed load. */
void
history_fill_abort(struct history_fill *f)
{
	struct state_history *h = f->h;

	free(f->names);
	free(f->table);
	free(f->slot);
	memset(f, 0, sizeof *f);
	state_history_free(h);
}

/* Frees an array of n events (NULL-safe). */
void
state_events_free(struct state_event *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		state_event_clear(&v[i]);
	free(v);
}

/* Frees the strings of b and empties it (NULL-safe). */
void
state_backfill_free(struct state_backfill *b)
{
	if (b == NULL)
		return;
	free(b->plan);
	free(b->step);
	free(b->cursor);
	free(b->waiting);
	memset(b, 0, sizeof *b);
}

/* Frees what state_backfills_load filled (NULL-safe). */
void
state_backfills_free(struct state_backfill *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		state_backfill_free(&v[i]);
	free(v);
}

/* $EXCON_ACTOR, else user@host of the effective user; owned by the caller. */
char *
state_actor(void)
{
	const char *env = getenv("EXCON_ACTOR");
	struct passwd *pw;
	char host[HOST_NAME_MAX + 1];
	char *user;
	char *ret;

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	pw = getpwuid(geteuid());
	if (pw != NULL && pw->pw_name != NULL && *pw->pw_name != '\0')
		user = xstrdup(pw->pw_name);
	else
		user = xasprintf("uid%ld", (long)geteuid());
	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	ret = xasprintf("%s@%s", user, host);
	free(user);
	return ret;
}
