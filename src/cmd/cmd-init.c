/*
 * excon init: creates excon.yaml, plans/, state/ and an empty state file
 * in the working directory, leaving whatever already exists alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"

static const char default_config[] =
	"# excon configuration; see the README for every setting.\n"
	"plans: plans                 # directory (or list) of plan files\n"
	"state: state/excon.db        # SQLite state file\n"
	"database: \"\"                 # libpq conninfo; empty = PG* environment\n"
	"contract_after: 2            # releases between the last non-contract step and the contract\n"
	"lock_timeout: 2s             # for every DDL statement excon runs\n"
	"statement_timeout: 0         # 0 = none\n"
	"lock_retries: 10             # retries after a lock timeout\n"
	"backfill: {batch_size: 1000, target_batch_ms: 25, pause_ms: 0}\n";

/* Creates a directory unless it exists. */
static int
make_dir(const char *path, int dry)
{
	if (access(path, F_OK) == 0) {
		printf("exists   %s/\n", path);
		return 0;
	}
	if (!dry && mkdir(path, 0755) != 0)
		return cmd_fail(EXCON_EXIT_RUNTIME, "cannot create '%s': %s", path,
		    strerror(errno));
	printf("%s %s/\n", dry ? "would create" : "created ", path);
	return 0;
}

/*
 * Creates the shared history in PostgreSQL unless it exists: the excon
 * schema and its tables (see the README), never touching anything else.
 */
static int
init_pg_store(struct cmd_ctx *ctx)
{
	struct buf err = BUF_INIT;
	char *where = cmd_store_where(ctx);
	const char *ci = strcmp(ctx->cfg.state_path, "database") == 0 ?
	    cmd_conninfo(ctx) : ctx->cfg.state_path;
	int absent = 0, rc = EXCON_EXIT_OK;

	if (state_open_pg(&ctx->st, ci, 0, &absent, &err) == 0)
		printf("exists   history in %s\n", where);
	else if (!absent)
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
	else if (ctx->dry_run)
		printf("would create history in %s\n", where);
	else if (buf_reset(&err), state_open_pg(&ctx->st, ci, 1, &absent,
	    &err) != 0)
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
	else
		printf("created  history in %s\n", where);
	free(where);
	buf_free(&err);
	return rc;
}

/* Runs init. */
static int
cmd_init_exec(struct cmd_ctx *ctx)
{
	const char *cfgfile = ctx->cfg.file ? ctx->cfg.file : "excon.yaml";
	char *slash;
	size_t i;
	int rc;

	if (access(cfgfile, F_OK) == 0)
		printf("exists   %s\n", cfgfile);
	else if (ctx->dry_run)
		printf("would create %s\n", cfgfile);
	else {
		FILE *f = fopen(cfgfile, "w");

		if (f == NULL || fputs(default_config, f) == EOF || fclose(f) != 0)
			return cmd_fail(EXCON_EXIT_RUNTIME, "cannot write '%s': %s",
			    cfgfile, strerror(errno));
		printf("created  %s\n", cfgfile);
	}
	for (i = 0; ctx->cfg.plan_dirs[i] != NULL; i++)
		if ((rc = make_dir(ctx->cfg.plan_dirs[i], ctx->dry_run)) != 0)
			return rc;
	if (cmd_store_is_pg(ctx))
		return init_pg_store(ctx);
	slash = strrchr(ctx->cfg.state_path, '/');
	if (slash != NULL) {
		*slash = '\0';
		rc = make_dir(ctx->cfg.state_path, ctx->dry_run);
		*slash = '/';
		if (rc != 0)
			return rc;
	}
	if (access(ctx->cfg.state_path, F_OK) == 0) {
		/* Opening checks that the existing file really is ours. */
		if ((rc = cmd_open_state(ctx, 0)) != 0)
			return rc;
		printf("exists   %s\n", ctx->cfg.state_path);
		return EXCON_EXIT_OK;
	}
	if (ctx->dry_run) {
		printf("would create %s\n", ctx->cfg.state_path);
		return EXCON_EXIT_OK;
	}
	/* The one place a store is created. */
	if ((rc = cmd_open_state(ctx, 1)) != 0)
		return rc;
	printf("created  %s\n", ctx->cfg.state_path);
	return EXCON_EXIT_OK;
}

const struct cmd_entry cmd_init_entry = {
	.name = "init",
	.args = "",
	.summary = "create excon.yaml, plans/, state/ and an empty state file",
	.flags = CMD_CHANGES,
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_init_exec,
};
