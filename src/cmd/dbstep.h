/*
 * The database side of advance and rollback, for the command layer: runs a
 * step's SQL through the executor, checks its verify query, and records
 * the outcome in the state file.
 */
#ifndef EXCON_CMD_DBSTEP_H
#define EXCON_CMD_DBSTEP_H

#include "cmd.h"
#include "gate.h"

/* A backfill's estimate for --dry-run (exec_estimate), when a database is set. */
int dbstep_estimate(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    int exact, struct buf *out, struct buf *err);
/* Appends the SQL that step idx would run, with its settings, to sql. */
int dbstep_dry(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    struct buf *sql, struct buf *err);
/* Appends the SQL that rolling back step idx would run. */
int dbstep_dry_undo(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    struct buf *sql, struct buf *err);
/*
 * Runs step idx of p on the database, then re-decides and records it in
 * release r.  Prints what happened; returns an exit code.
 */
int dbstep_run(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    const struct state_release *r, const struct gate_result *res,
    const char *reason);

/*
 * Records step idx of p as shipped in release r, in the open state
 * transaction, with its events: "override" when res->forced (with reason),
 * "record-only" when record_only and the step runs SQL, then "advance"
 * (detail, or the step kind when NULL; reason unless forced).  Without
 * record_only a backfill's cursor is dropped.  The one way a ship is
 * recorded: advance's record-only path and dbstep_run both call it.  row,
 * when not NULL, receives the ship row written (strings borrowed from p).
 */
int dbstep_record_ship(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    const struct state_release *r, const struct gate_result *res,
    const char *reason, int record_only, const char *detail,
    struct state_ship *row, struct buf *err);

/* Runs the down SQL of step idx and records the rollback; returns an exit code. */
int dbstep_undo(struct cmd_ctx *ctx, const struct plan *p, size_t idx);
/* Compares the database with the state (excon verify); returns an exit code. */
int dbstep_verify(struct cmd_ctx *ctx, const struct state_history *h);

#endif
