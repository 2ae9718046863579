/*
 * Database execution of steps for advance and rollback (see dbstep.h).
 */
#include "cmd/dbstep.h"

/* The SQL a step would run. */
int
dbstep_dry(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    struct buf *sql, struct buf *err)
{
	(void)ctx;
	(void)sql;
	return error_set(err, "%s/%s: database execution is not available in "
	    "this build", p->name.s, p->steps[idx].id.s);
}

/* Runs a step on the database and records it. */
int
dbstep_run(struct cmd_ctx *ctx, const struct plan *p, size_t idx,
    const struct state_release *r, const struct gate_result *res,
    const char *reason)
{
	(void)ctx;
	(void)r;
	(void)res;
	(void)reason;
	return cmd_fail(EXCON_EXIT_RUNTIME, "%s/%s: database execution is not "
	    "available in this build; use --record-only", p->name.s,
	    p->steps[idx].id.s);
}

/* Runs a step's down SQL. */
int
dbstep_undo(struct cmd_ctx *ctx, const struct plan *p, size_t idx)
{
	(void)ctx;
	return cmd_fail(EXCON_EXIT_RUNTIME, "%s/%s: database execution is not "
	    "available in this build; use --record-only", p->name.s,
	    p->steps[idx].id.s);
}

/* Compares database and state. */
int
dbstep_verify(struct cmd_ctx *ctx, const struct state_history *h)
{
	(void)ctx;
	(void)h;
	return cmd_fail(EXCON_EXIT_RUNTIME, "database verification is not "
	    "available in this build");
}
