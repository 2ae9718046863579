/*
 * The store backends behind state.h.  state.c is the facade: it opens the
 * backend a location names (state_open: the SQLite file of
 * state-sqlite.c; state_open_pg: the PostgreSQL store of state-pg.c), and
 * every public function hands its arguments to the matching entry of that
 * backend's table below.  What both stores use lives below them in
 * state-common.c; a backend includes this header and state-common.h and
 * never calls the facade.  Adding a table to the history (a new kind of
 * record) means adding a function to state.h, an entry here, and both
 * implementations.
 *
 * Only the state modules include this header.
 */
#ifndef EXCON_STATE_BE_H
#define EXCON_STATE_BE_H

#include "state-common.h"

/* One backend: every function takes the backend's own handle first. */
struct state_backend {
	const char	*name;		/* "sqlite", "postgresql" */
	/* Borrowed; NULL with err set when it cannot be read. */
	const char	*(*history_id)(void *be, struct buf *err);
	int	(*check)(void *be, struct buf *err);
	void	(*close)(void *be);
	int	(*begin)(void *be, struct buf *err);
	int	(*commit)(void *be, struct buf *err);
	void	(*rollback)(void *be);
	/* plans NULL: every ship; else only the ships of those nplans plans. */
	int	(*history_load)(void *be, struct state_history *h,
		    char *const *plans, size_t nplans, struct buf *err);
	/*
	 * A number that changes whenever another connection commits (NULL:
	 * the store cannot tell; see state_history_stamp).
	 */
	int	(*history_stamp)(void *be, int64_t *out, struct buf *err);
	int	(*release_add)(void *be, const char *name, const char *note,
		    int64_t *seq_out, struct buf *err);
	int	(*release_finish)(void *be, int64_t seq, struct buf *err);
	int	(*ship_put)(void *be, const struct state_ship *ship,
		    struct buf *err);
	int	(*ship_delete)(void *be, const char *plan, const char *step,
		    struct buf *err);
	int	(*event_append)(void *be, const struct state_event *ev,
		    struct buf *err);
	int	(*events_load)(void *be, const char *plan, const char *kind,
		    struct state_event **out, size_t *n, struct buf *err);
	int	(*log_verify)(void *be, int64_t *bad_id, struct buf *err);
	int	(*backfill_get)(void *be, const char *plan, const char *step,
		    struct state_backfill *out, int *found, struct buf *err);
	int	(*backfill_put)(void *be, const struct state_backfill *b,
		    struct buf *err);
	int	(*backfill_delete)(void *be, const char *plan, const char *step,
		    struct buf *err);
	/* For state_copy: rows written as they are. */
	int	(*backfills_load)(void *be, struct state_backfill **out,
		    size_t *n, struct buf *err);
	int	(*history_id_set)(void *be, const char *id, struct buf *err);
	int	(*release_put)(void *be, const struct state_release *r,
		    struct buf *err);
	int	(*event_put)(void *be, const struct state_event *ev,
		    struct buf *err);
};

/* The SQLite backend (state-sqlite.c). */
extern const struct state_backend state_sqlite_backend;
/* Opens the state file at path into *be (see state_open). */
int state_sqlite_open(void **be, const char *path, int create,
    struct buf *err);
/* The SQLite library version (see state_lib_version). */
const char *state_sqlite_version(void);

/* The PostgreSQL backend (state-pg.c). */
extern const struct state_backend state_pg_backend;
/*
 * Opens the PostgreSQL store at conninfo into *be (see state_open_pg);
 * *absent is set when there is no store and create is not set.
 */
int state_pg_open(void **be, const char *conninfo, int create, int *absent,
    struct buf *err);

#endif
