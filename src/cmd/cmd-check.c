/*
 * excon check: the CI gate.  Every plan loads and lints clean, every
 * shipped step is unchanged, none was removed or moved, and every plan in
 * the state file still has its file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gate.h"
#include "out.h"

/* Adds one problem line to the text and JSON outputs. */
static void
problem(struct buf *text, struct buf *json, int *n, const char *kind,
    const char *msg)
{
	int f = 1;

	buf_printf(text, "%s\n", msg);
	buf_puts(json, *n ? ",{" : "{");
	json_key(json, &f, "kind");
	json_str(json, kind);
	json_key(json, &f, "message");
	json_str(json, msg);
	buf_putc(json, '}');
	(*n)++;
}

/* Runs check. */
static int
cmd_check_exec(struct cmd_ctx *ctx)
{
	struct state_history h;
	struct gate_ctx g;
	struct buf text = BUF_INIT, json = BUF_INIT, line = BUF_INIT;
	struct plan_diags lint = { NULL, 0, 0 };
	size_t i;
	int rc, n = 0;

	if ((rc = cmd_load_plans(ctx, 1)) != 0)
		return rc;
	if ((rc = cmd_history(ctx, &h, 0)) != 0)
		return rc;
	g.plans = &ctx->plans;
	g.hist = &h;
	g.default_contract_after = ctx->cfg.contract_after;
	for (i = 0; i < ctx->diags.n; i++) {
		const struct plan_diag *d = &ctx->diags.v[i];

		buf_reset(&line);
		if (d->pos.line > 0)
			buf_printf(&line, "%s:%d:%d: %s", d->file, d->pos.line,
			    d->pos.col, d->msg);
		else
			buf_printf(&line, "%s", d->msg);
		problem(&text, &json, &n, "load", buf_cstr(&line));
	}
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];
		size_t before = lint.n, j;
		char *s, *nl;

		plan_lint(p, &ctx->plans, ctx->cfg.contract_after, &lint);
		for (j = before; j < lint.n; j++) {
			buf_reset(&line);
			buf_printf(&line, "%s:%d:%d: %s", lint.v[j].file,
			    lint.v[j].pos.line, lint.v[j].pos.col, lint.v[j].msg);
			problem(&text, &json, &n, "lint", buf_cstr(&line));
		}
		buf_reset(&line);
		gate_immutable(&g, p, &line);
		s = line.ptr;
		while (s != NULL && *s != '\0') {
			nl = strchr(s, '\n');
			if (nl != NULL)
				*nl = '\0';
			problem(&text, &json, &n, "shipped", s);
			s = nl ? nl + 1 : NULL;
		}
	}
	/* Plans the state file knows that no file defines any more. */
	for (i = 0; i < h.nships; i++) {
		if (i > 0 && strcmp(h.ships[i].plan, h.ships[i - 1].plan) == 0)
			continue;
		if (plan_set_find(&ctx->plans, h.ships[i].plan) == NULL) {
			int loaded_with_errors = 0;
			size_t k;

			/* A plan whose file failed to load is reported above. */
			for (k = 0; k < ctx->diags.n; k++)
				loaded_with_errors |= strstr(ctx->diags.v[k].file,
				    h.ships[i].plan) != NULL;
			if (loaded_with_errors)
				continue;
			buf_reset(&line);
			buf_printf(&line, "plan %s has shipped steps in the state file "
			    "but no plan file in %s", h.ships[i].plan,
			    ctx->cfg.plan_dirs[0]);
			problem(&text, &json, &n, "missing", buf_cstr(&line));
		}
	}
	if (ctx->format == FORMAT_JSON)
		printf("{\"ok\":%s,\"plans\":%zu,\"problems\":[%s]}\n",
		    n ? "false" : "true", ctx->plans.nplans, buf_cstr(&json));
	else if (n) {
		cmd_out(&text);
		printf("check: %d problem%s\n", n, n == 1 ? "" : "s");
	} else
		printf("check: %zu plan%s ok\n", ctx->plans.nplans,
		    ctx->plans.nplans == 1 ? "" : "s");
	rc = n ? EXCON_EXIT_PROBLEMS : EXCON_EXIT_OK;
	plan_diags_free(&lint);
	buf_free(&text);
	buf_free(&json);
	buf_free(&line);
	state_history_free(&h);
	return rc;
}

const struct cmd_entry cmd_check_entry = {
	.name = "check",
	.args = "",
	.summary = "for CI: plans load and lint clean, shipped steps unchanged and in place",
	.flags = CMD_REPORTS,
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_check_exec,
};
