/*
 * Replays the event log into the releases and ships it implies, and
 * compares them with the rows of the history, so that a row deleted,
 * inserted or edited behind excon's back is found even when the hash
 * chain of the events is intact.  Pure: no I/O, works for every store.
 */
#ifndef EXCON_REPLAY_H
#define EXCON_REPLAY_H

#include <stddef.h>

#include "buf.h"
#include "state.h"

/*
 * Compares h with what the n events (oldest first) record.  Appends one
 * line per disagreement to problems (each ending in '\n') and returns
 * their number; 0 means the rows agree with the log.
 */
size_t replay_check(const struct state_event *ev, size_t n,
    const struct state_history *h, struct buf *problems);

#endif
