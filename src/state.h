/*
 * The state store: releases, shipped steps, backfill progress and the
 * hash-chained event log.  This header is the one narrow interface every
 * command uses; state.c implements it by handing every call to the
 * backend the store was opened with (see state-be.h): the SQLite file of
 * state-sqlite.c (the only file that includes sqlite3.h) or the
 * PostgreSQL store of state-pg.c, so gates and commands work on either
 * store alike.
 *
 * Concurrency: a command that changes anything calls state_begin() (an
 * immediate write transaction), reads the history inside it, decides, writes
 * and commits.  Two processes therefore never decide on the same stale
 * history, and exactly one of them ships a given step.
 *
 * Ownership: structures filled by *_load() functions are owned by the
 * caller and released by the matching *_free().
 */
#ifndef EXCON_STATE_H
#define EXCON_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Schema version of the state file, kept in PRAGMA user_version. */
#define STATE_SCHEMA_VERSION 4

enum release_state {
	RELEASE_STARTED,
	RELEASE_DEPLOYED,
};

struct state_release {
	int64_t			 seq;		/* 1, 2, 3 ... */
	char			*name;
	enum release_state	 state;
	char			*note;		/* may be NULL */
	int64_t			 started_at;	/* unix seconds */
	int64_t			 finished_at;	/* 0 while started */
};

enum ship_status {
	SHIP_DONE,		/* shipped and counted */
	SHIP_FAILED,		/* failed part way: blocks the plan (gate 8) */
};

struct state_ship {
	char			*plan;
	char			*step;
	int			 idx;		/* position of the step in its plan */
	int64_t			 release_seq;
	char			*checksum;	/* of the step's normalized definition */
	enum ship_status	 status;
	int			 forced;	/* shipped with --force */
	int64_t			 at;		/* unix seconds */
};

struct arena;

/* Everything the gate rules need, loaded in one go. */
struct state_history {
	struct state_release	*releases;	/* ordered by seq */
	size_t			 nreleases;
	struct state_ship	*ships;		/* ordered by plan, idx */
	size_t			 nships;
	struct arena		*strings;	/* when set, holds every string above */
};

struct state_event {
	int64_t		 id;		/* assigned by the store */
	int64_t		 at;		/* unix seconds; 0 = now */
	char		*actor;		/* user@host */
	char		*kind;		/* release.start, advance, override, ... */
	char		*plan;		/* may be NULL */
	char		*step;		/* may be NULL */
	char		*release;	/* release name, may be NULL */
	char		*detail;	/* human-readable text, may be NULL */
	char		*reason;	/* for overrides, may be NULL */
	char		*hash;		/* hex, assigned by the store */
};

struct state_backfill {
	char		*plan;
	char		*step;
	char		*cursor;	/* last key done, as text; NULL = not started */
	int64_t		 rows_done;
	int64_t		 rows_total;	/* estimate; 0 = unknown */
	int		 finished;
	int64_t		 updated_at;
	int64_t		 rate;		/* rows per second of the run, 0 = unknown */
	char		*waiting;	/* why the run is paused, NULL = not paused */
	int64_t		 waiting_since;	/* unix seconds the pause began, 0 = none */
};

struct state;

/*
 * Opens the state file at path.  With create set, a missing file is created
 * (mode 0600, parent directory must exist).  A file that is not an excon
 * state file, is corrupt (see state_check), or has a newer schema version
 * is refused with a message in err and left byte-for-byte untouched; an
 * older version is copied aside (path + ".v<N>.bak") and upgraded.  *out
 * is owned by the caller (state_close).
 */
int state_open(struct state **out, const char *path, int create, struct buf *err);
/*
 * Opens the PostgreSQL store (tables in the excon schema) at conninfo, a
 * libpq URI or conninfo ("" = the PG* environment).  With create set, a
 * missing store is created; without it, *absent is set to 1 and -1
 * returned when the schema holds no store.  A role that may only read
 * can open it and run every reading function; a write fails saying the
 * role cannot write.  *out is owned by the caller (state_close).
 */
int state_open_pg(struct state **out, const char *conninfo, int create,
    int *absent, struct buf *err);
/*
 * 1 when loc (the `state:` setting) names a PostgreSQL store: a
 * postgres:// or postgresql:// URI, or a key=value conninfo.
 */
int state_location_is_pg(const char *loc);
/*
 * The history's id: made once when the store is created (or upgraded from
 * a file without one) and kept by `excon state copy` (borrowed); NULL
 * with err set when it cannot be read.
 */
const char *state_history_id(struct state *st, struct buf *err);
/* "sqlite" or "postgresql" (borrowed). */
const char *state_kind(const struct state *st);
/*
 * Checks the structure of the whole file (PRAGMA quick_check).  state_open
 * does so only with create set; otherwise the check is deferred to the
 * first write, and reads rely on SQLite noticing a damaged page it reads.
 */
int state_check(struct state *st, struct buf *err);
/* Closes the store, rolling back an open transaction (NULL-safe). */
void state_close(struct state *st);

/* Starts a write transaction that excludes every other writer. */
int state_begin(struct state *st, struct buf *err);
/* Commits the transaction started by state_begin. */
int state_commit(struct state *st, struct buf *err);
/* Rolls back the open transaction, if any. */
void state_rollback(struct state *st);

/* Loads every release and shipped step. */
int state_history_load(struct state *st, struct state_history *h, struct buf *err);
/*
 * Loads every release and the shipped steps of the nplans plans named (a
 * command about a few plans need not read the whole history's ships).
 */
int state_history_load_plans(struct state *st, struct state_history *h,
    char *const *plans, size_t nplans, struct buf *err);
void state_history_free(struct state_history *h);

/* One version of the releases and ships, as state_history_stamp reads it. */
struct state_stamp {
	int64_t		store;		/* the store's: others' commits change it */
	int64_t		own;		/* this handle's writes and rollbacks */
};
/*
 * Reads the history's version into *out.  Two equal stamps, the second
 * read inside a write transaction, mean that no release or ship changed
 * in between, through this handle or any other; so a history loaded
 * right after the first (and updated with this handle's own writes,
 * then stamped again) can stand in for a new load.  Returns 1 when the
 * store cannot tell (the PostgreSQL store): then load the history again.
 */
int state_history_stamp(struct state *st, struct state_stamp *out,
    struct buf *err);

/* Appends a release (state started) at seq = last + 1; *seq_out may be NULL. */
int state_release_add(struct state *st, const char *name, const char *note,
    int64_t *seq_out, struct buf *err);
/* Marks release seq deployed now. */
int state_release_finish(struct state *st, int64_t seq, struct buf *err);

/* Inserts or replaces the row of (ship->plan, ship->step). */
int state_ship_put(struct state *st, const struct state_ship *ship, struct buf *err);
/* Deletes the row of (plan, step); no row is not an error. */
int state_ship_delete(struct state *st, const char *plan, const char *step,
    struct buf *err);

/* Appends an event, chaining its hash to the previous one. */
int state_event_append(struct state *st, const struct state_event *ev,
    struct buf *err);
/*
 * Loads events oldest first; plan and kind filter when not NULL.
 * *out is an array of *n events owned by the caller (state_events_free).
 */
int state_events_load(struct state *st, const char *plan, const char *kind,
    struct state_event **out, size_t *n, struct buf *err);
void state_events_free(struct state_event *v, size_t n);
/*
 * Recomputes the hash chain.  Returns 0 when intact, 1 when broken, -1 on
 * error.  When broken, *bad_id is the first id that is altered or missing
 * (a deleted event's own id, also when the newest events were deleted) and
 * err, when not NULL, says which: "event 3 was altered", "event 3 is
 * missing".
 */
int state_log_verify(struct state *st, int64_t *bad_id, struct buf *err);

/* Backfill progress mirror. *found is 0 when there is no row. */
int state_backfill_get(struct state *st, const char *plan, const char *step,
    struct state_backfill *out, int *found, struct buf *err);
int state_backfill_put(struct state *st, const struct state_backfill *b,
    struct buf *err);
int state_backfill_delete(struct state *st, const char *plan, const char *step,
    struct buf *err);
void state_backfill_free(struct state_backfill *b);

/* Every backfill progress row, by plan and step; *out owned by the caller. */
int state_backfills_load(struct state *st, struct state_backfill **out,
    size_t *n, struct buf *err);
void state_backfills_free(struct state_backfill *v, size_t n);

/* What a history holds, as counted by state_copy. */
struct state_copy_counts {
	size_t	releases;
	size_t	ships;
	size_t	events;
	size_t	backfills;
};

/*
 * Copies the whole history of from into to, which must be empty: its id,
 * releases, ships, events (ids, hashes and chain head as they are) and
 * backfill progress, in one transaction of to.  counts receives what from
 * holds.  With dry_run set, only counts and checks that to is empty.
 */
int state_copy(struct state *from, struct state *to, int dry_run,
    struct state_copy_counts *counts, struct buf *err);

/*
 * Clock: the store stamps times with time(NULL), or with $EXCON_NOW (unix
 * seconds) when set, so that tests can fix the clock.
 */

/* user@host of whoever runs this process ($EXCON_ACTOR overrides); owned. */
char *state_actor(void);

/* The SQLite library version, for `excon --version`. */
const char *state_lib_version(void);

#endif
