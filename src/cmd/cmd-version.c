/*
 * excon version (also --version): excon's version and those of the
 * libraries it links, each asked of its own wrapper module so that no
 * foreign header leaks out of them.
 */
#include <stdio.h>

#include "cmd.h"
#include "pg.h"
#include "sqlcheck.h"
#include "state.h"
#include "ytree.h"

/* Prints excon's version and one "library version" line per linked library. */
static int
cmd_version_exec(struct cmd_ctx *ctx)
{
	(void)ctx;
	printf("excon %s\n", EXCON_VERSION);
	printf("libpq %s\n", pg_lib_version());
	printf("sqlite %s\n", state_lib_version());
	printf("libyaml %s\n", ytree_lib_version());
	printf("libpg_query %s\n", sqlcheck_lib_version());
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
