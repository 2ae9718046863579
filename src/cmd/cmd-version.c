/*
 * excon version (also --version): excon's version and those of the
 * libraries it links.
 */
#include <stdio.h>

#include "cmd.h"
#include "versions.h"

/* Prints the versions. */
static int
cmd_version_exec(struct cmd_ctx *ctx)
{
	(void)ctx;
	printf("excon %s\n", EXCON_VERSION);
	versions_print(stdout);
	return EXCON_EXIT_OK;
}

const struct cmd_entry cmd_version_entry = {
	.name = "version",
	.args = "",
	.summary = "print the version of excon and of the libraries it links",
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_version_exec,
};
