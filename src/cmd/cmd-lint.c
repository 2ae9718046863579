/*
 * excon lint [FILE...] [--sql FILE...]: validates plans (schema, plan-level
 * rules, SQL safety for each step's phase) and checks plain SQL migration
 * files of other tools against the plans.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gate.h"
#include "out.h"

static const struct cmd_opt lint_opts[] = {
	{ "sql", OPT_BOOL, NULL, "the FILEs are SQL migration files of other tools (any *.sql is)" },
	{ "fail-on", OPT_STR, "LEVEL", "'error' (default) or 'warning': what makes lint exit 4" },
	{ NULL, 0, NULL, NULL }
};

/* 1 when path names a YAML file. */
static int
is_yaml(const char *path)
{
	size_t n = strlen(path);

	return (n > 5 && strcmp(path + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(path + n - 4, ".yml") == 0);
}

/* Prints one plan-level diagnostic in the chosen format. */
static void
emit(struct cmd_ctx *ctx, struct buf *out, int *n, const struct plan_diag *d,
    const char *rule)
{
	if (ctx->format == FORMAT_JSON) {
		int f = 1;

		buf_puts(out, *n ? ",{" : "{");
		json_key(out, &f, "rule");
		json_str(out, rule);
		json_key(out, &f, "severity");
		json_str(out, "error");
		json_key(out, &f, "file");
		json_str(out, d->file);
		json_key(out, &f, "line");
		buf_printf(out, "%d", d->pos.line);
		json_key(out, &f, "column");
		buf_printf(out, "%d", d->pos.col);
		json_key(out, &f, "message");
		json_str(out, d->msg);
		json_key(out, &f, "fix");
		buf_puts(out, "null");
		buf_putc(out, '}');
	} else if (ctx->format == FORMAT_GITHUB)
		buf_printf(out, "::error file=%s,line=%d,col=%d,title=%s::%s\n",
		    d->file, d->pos.line, d->pos.col, rule, d->msg);
	else if (d->pos.line > 0)
		buf_printf(out, "%s:%d:%d: error[%s]: %s\n", d->file, d->pos.line,
		    d->pos.col, rule, d->msg);
	else
		buf_printf(out, "%s: error[%s]: %s\n", d->file, rule, d->msg);
	(*n)++;
}

/* Runs lint. */
static int
cmd_lint_exec(struct cmd_ctx *ctx)
{
	struct plan_diags lint = { NULL, 0, 0 };
	struct buf out = BUF_INIT;
	const char *fail_on = cmd_opt(ctx, "fail-on");
	size_t i;
	int rc, j, nerr = 0, nfiles = 0;

	if (fail_on != NULL && strcmp(fail_on, "error") != 0 &&
	    strcmp(fail_on, "warning") != 0)
		return cmd_fail(EXCON_EXIT_USAGE, "--fail-on takes 'error' or "
		    "'warning', not '%s'", fail_on);
	if ((rc = cmd_load_plans(ctx, 1)) != 0)
		return rc;
	/* Named plan files that are not in the plan directories load too. */
	for (j = 0; j < ctx->nargs; j++) {
		struct plan *p = NULL;

		if (!is_yaml(ctx->args[j]))
			continue;
		nfiles++;
		for (i = 0; i < ctx->plans.nplans; i++)
			if (strcmp(ctx->plans.plans[i]->file, ctx->args[j]) == 0)
				break;
		if (i < ctx->plans.nplans)
			continue;
		if (plan_load(&p, ctx->args[j], &ctx->diags) == 0 &&
		    plan_set_find(&ctx->plans, p->name.s) == NULL)
			plan_set_add(&ctx->plans, p);
		else
			plan_free(p);
	}
	if (ctx->format == FORMAT_JSON)
		buf_putc(&out, '[');
	for (i = 0; i < ctx->diags.n; i++) {
		const struct plan_diag *d = &ctx->diags.v[i];

		if (nfiles > 0) {
			for (j = 0; j < ctx->nargs; j++)
				if (strcmp(ctx->args[j], d->file) == 0)
					break;
			if (j == ctx->nargs)
				continue;
		}
		emit(ctx, &out, &nerr, d, "E-PLAN-SCHEMA");
	}
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];
		size_t before = lint.n, k;

		if (nfiles > 0) {
			for (j = 0; j < ctx->nargs; j++)
				if (strcmp(ctx->args[j], p->file) == 0)
					break;
			if (j == ctx->nargs)
				continue;
		}
		plan_lint(p, &ctx->plans, ctx->cfg.contract_after, &lint);
		for (k = before; k < lint.n; k++)
			emit(ctx, &out, &nerr, &lint.v[k], "E-PLAN-RULE");
	}
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, "]\n");
	else if (ctx->format == FORMAT_TEXT)
		buf_printf(&out, "%d error%s\n", nerr, nerr == 1 ? "" : "s");
	cmd_out(&out);
	buf_free(&out);
	plan_diags_free(&lint);
	return nerr ? EXCON_EXIT_PROBLEMS : EXCON_EXIT_OK;
}

const struct cmd_entry cmd_lint_entry = {
	.name = "lint",
	.args = "[FILE...] [--sql FILE...]",
	.summary = "validate plans and check SQL (plans' and other tools') for unsafe statements",
	.opts = lint_opts,
	.flags = CMD_REPORTS | CMD_GITHUB,
	.min_args = 0,
	.max_args = -1,
	.exec = cmd_lint_exec,
};
