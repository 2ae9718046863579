/*
 * What the state stores share (state-common.c), below the facade and
 * every backend.  Only the state modules include this header.
 */
#ifndef EXCON_STATE_COMMON_H
#define EXCON_STATE_COMMON_H

#include "state.h"

/* The hash that precedes the first event of every history. */
#define STATE_GENESIS_HASH \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* "Now" in unix seconds ($EXCON_NOW when set), as every store stamps it. */
int64_t state_clock(void);
/* The chain hash of ev after the hash prev, in hex (out has 65 bytes). */
void state_event_hash(const char *prev, const struct state_event *ev,
    char out[65]);
/* Frees the strings of one event and empties it. */
void state_event_clear(struct state_event *ev);

/*
 * Fills a history row by row, as every store's history_load does: the
 * strings go into the history's one arena, each plan's name is kept once,
 * and history_fill_end puts the ships in the order the gate reads them
 * (by plan, then position, then step) however the store returned them.
 */
struct fill_name;
struct history_fill {
	struct state_history	*h;
	size_t			 rcap;		/* capacity of h->releases */
	size_t			 scap;		/* capacity of h->ships */
	struct fill_name	*names;		/* distinct plan names, by id */
	size_t			 nnames;
	size_t			 namecap;	/* a power of two, or 0 */
	uint32_t		*table;		/* hash of names: id + 1, 0 free */
	uint32_t		*slot;		/* per ship: its plan's slot */
	size_t			 slotcap;
	int			 unsorted;	/* a ship came out of order */
};

/*
 * Starts filling h (emptied first); nships_hint, when not 0, is about how
 * many ships will come, so that the array is not copied as it grows.
 */
void history_fill_init(struct history_fill *f, struct state_history *h,
    size_t nships_hint);
/* Adds a release; state is the stored text ("started" or "deployed"). */
void history_fill_release(struct history_fill *f, int64_t seq,
    const char *name, const char *state, const char *note,
    int64_t started_at, int64_t finished_at);
/*
 * Adds a ship.  Its strings are copied, so they may be the store's own
 * (borrowed) row buffers; status is the stored text ("done" or "failed").
 */
void history_fill_ship(struct history_fill *f, const struct state_ship *row,
    const char *status);
/* Orders the ships and frees what only filling needed. */
void history_fill_end(struct history_fill *f);
/* Frees what filling needed and the history too, after a failed load. */
void history_fill_abort(struct history_fill *f);

#endif
