/*
 * excon new TEMPLATE ...: writes a plan for a common breaking change.
 */
#include "cmd.h"

/* Runs new. */
static int
cmd_new_exec(struct cmd_ctx *ctx)
{
	return cmd_fail(EXCON_EXIT_USAGE, "unknown template '%s'", ctx->args[0]);
}

const struct cmd_entry cmd_new_entry = {
	.name = "new",
	.args = "TEMPLATE ARGS...",
	.summary = "write a plan for a common breaking change from a template",
	.flags = CMD_CHANGES,
	.min_args = 1,
	.max_args = -1,
	.exec = cmd_new_exec,
};
