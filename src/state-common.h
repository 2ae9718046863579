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

#endif
