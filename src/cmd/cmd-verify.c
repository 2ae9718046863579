/*
 * excon verify: compares the database with the state: every shipped
 * database step's effect is present, every contract's effect is gone.
 */
#include "cmd.h"
#include "cmd/dbstep.h"

/* Runs verify. */
static int
cmd_verify_exec(struct cmd_ctx *ctx)
{
	struct state_history h;
	int rc;

	if ((rc = cmd_load_plans(ctx, 0)) != 0)
		return rc;
	if (!cmd_have_db(ctx))
		return cmd_fail(EXCON_EXIT_USAGE, "verify reads the database: pass "
		    "--db CONNINFO (or set EXCON_DATABASE or 'database:' in "
		    "excon.yaml)");
	if ((rc = cmd_history(ctx, &h, 0)) != 0)
		return rc;
	rc = dbstep_verify(ctx, &h);
	state_history_free(&h);
	return rc;
}

const struct cmd_entry cmd_verify_entry = {
	.name = "verify",
	.args = "",
	.summary = "compare the database with the state: shipped effects present, contracted ones gone",
	.flags = CMD_REPORTS | CMD_DB,
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_verify_exec,
};
