/*
 * excon help [COMMAND]: the same text as COMMAND --help.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

/* Prints usage of a command, or the command list. */
static int
cmd_help_exec(struct cmd_ctx *ctx)
{
	int i;

	if (ctx->nargs == 0) {
		cmd_usage(stdout, NULL);
		return EXCON_EXIT_OK;
	}
	for (i = 0; cmd_table[i] != NULL; i++)
		if (strcmp(cmd_table[i]->name, ctx->args[0]) == 0) {
			cmd_usage(stdout, cmd_table[i]);
			return EXCON_EXIT_OK;
		}
	return cmd_fail(EXCON_EXIT_USAGE, "unknown command '%s'", ctx->args[0]);
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.args = "[COMMAND]",
	.summary = "show the usage of a command",
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_help_exec,
};
