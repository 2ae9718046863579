/*
 * What the state stores share, below the facade (state.c) and every
 * backend (the SQLite store in state-sqlite.c, the PostgreSQL store in
 * state-pg.c): the clock, the hash of the event chain, the actor, and
 * freeing what the stores load.  It calls no store, so no arrow runs back
 * up from a backend to the facade.
 */
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
