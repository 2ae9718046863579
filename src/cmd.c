/*
 * The command table and the dispatch: cmd_main parses the command line
 * (cmd-opt.c), loads the configuration and runs the command.  The
 * functions every command shares are in cmd-util.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "out.h"

extern const struct cmd_entry cmd_init_entry, cmd_new_entry, cmd_lint_entry,
    cmd_release_entry, cmd_status_entry, cmd_advance_entry,
    cmd_rollback_entry, cmd_compat_entry, cmd_check_entry, cmd_audit_entry,
    cmd_log_entry, cmd_verify_entry, cmd_state_entry, cmd_help_entry,
    cmd_version_entry, cmd_completion_entry, cmd_probe_entry;

const struct cmd_entry *const cmd_table[] = {
	&cmd_init_entry,
	&cmd_new_entry,
	&cmd_lint_entry,
	&cmd_release_entry,
	&cmd_status_entry,
	&cmd_advance_entry,
	&cmd_rollback_entry,
	&cmd_compat_entry,
	&cmd_check_entry,
	&cmd_audit_entry,
	&cmd_log_entry,
	&cmd_verify_entry,
	&cmd_probe_entry,
	&cmd_state_entry,
	&cmd_help_entry,
	&cmd_version_entry,
	&cmd_completion_entry,
	NULL
};

/* Frees everything the context owns. */
static void
ctx_free(struct cmd_ctx *ctx)
{
	int i;

	state_close(ctx->st);
	plan_set_free(&ctx->plans);
	plan_diags_free(&ctx->diags);
	config_free(&ctx->cfg);
	for (i = 0; i < CMD_MAX_OPTS; i++)
		free(ctx->list[i]);
	free(ctx->args);
}

/* Parses, configures and runs one command. */
int
cmd_main(int argc, char **argv)
{
	struct cmd_ctx ctx;
	struct buf err = BUF_INIT;
	const char *flags[4] = { NULL, NULL, NULL, NULL };
	int rc;

	memset(&ctx, 0, sizeof ctx);
	config_init(&ctx.cfg);
	rc = cmd_parse(&ctx, argc, argv, flags);
	if (rc != 0) {
		rc = rc > 0 ? EXCON_EXIT_OK : EXCON_EXIT_USAGE;
		goto done;
	}
	ctx.color = out_color(stdout);
	/* Precedence: flag > environment > excon.yaml > default. */
	if (config_load(&ctx.cfg, flags[0], &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "%s", buf_cstr(&err));
		goto done;
	}
	if (flags[1] != NULL)
		config_set_str(&ctx.cfg.state_path, flags[1]);
	if (flags[2] != NULL)
		config_set_plans(&ctx.cfg, flags[2]);
	if (flags[3] != NULL) {
		config_set_str(&ctx.cfg.database, flags[3]);
		ctx.cfg.database_set = 1;
	}
	rc = ctx.entry->exec(&ctx);
done:
	fflush(stdout);
	buf_free(&err);
	ctx_free(&ctx);
	return rc;
}
