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
#include "replay.h"
#include "xalloc.h"
#include "ytree.h"

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

/* 1 when name is in the NULL-terminated list v. */
static int
name_listed(char **v, const char *name)
{
	for (; v != NULL && *v != NULL; v++)
		if (strcmp(*v, name) == 0)
			return 1;
	return 0;
}

/*
 * The plan names declared by files that failed to load: their YAML may
 * still parse far enough to say `plan: NAME`.  A file that does not even
 * parse names no plan.
 */
static char **
broken_plan_names(const struct cmd_ctx *ctx)
{
	char **v = xcalloc(ctx->diags.n + 1, sizeof *v);
	size_t i, n = 0;

	for (i = 0; i < ctx->diags.n; i++) {
		struct ynode *root = NULL;
		const struct ynode *name;

		if (i > 0 && strcmp(ctx->diags.v[i].file, ctx->diags.v[i - 1].file) == 0)
			continue;
		if (ytree_load(&root, ctx->diags.v[i].file, NULL, NULL) == 0 &&
		    (name = ytree_get(root, "plan")) != NULL &&
		    name->type == YNODE_SCALAR)
			v[n++] = xstrdup(name->value);
		ytree_free(root);
	}
	return v;
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
	char **broken;
	size_t k;
	int rc, n = 0;

	if ((rc = cmd_load_plans(ctx, 1)) != 0)
		return rc;
	/* --plans-only: for a fork that cannot reach the team's store. */
	if (cmd_opt(ctx, "plans-only") != NULL)
		memset(&h, 0, sizeof h);
	else if ((rc = cmd_history(ctx, &h, 0)) != 0)
		return rc;
	cmd_gate(ctx, &h, &g);
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
	/*
	 * Plans the state file knows that no file defines any more.  A plan
	 * whose file failed to load is reported above, not as missing.
	 */
	broken = broken_plan_names(ctx);
	for (i = 0; i < h.nships; i++) {
		if (i > 0 && strcmp(h.ships[i].plan, h.ships[i - 1].plan) == 0)
			continue;
		if (plan_set_find(&ctx->plans, h.ships[i].plan) != NULL ||
		    name_listed(broken, h.ships[i].plan))
			continue;
		buf_reset(&line);
		buf_printf(&line, "plan %s has shipped steps in the state file "
		    "but no plan file in ", h.ships[i].plan);
		for (k = 0; ctx->cfg.plan_dirs[k] != NULL; k++)
			buf_printf(&line, "%s%s", k ? ", " : "", ctx->cfg.plan_dirs[k]);
		problem(&text, &json, &n, "missing", buf_cstr(&line));
	}
	strv_free(broken);
	/* Rows edited, deleted or inserted behind excon's back (log --verify). */
	if (cmd_opt(ctx, "plans-only") == NULL) {
		struct state_event *ev = NULL;
		struct buf rows = BUF_INIT, err = BUF_INIT;
		size_t nev = 0;
		char *s, *nl;

		if (state_events_load(ctx->st, NULL, NULL, &ev, &nev, &err) != 0)
			problem(&text, &json, &n, "history", buf_cstr(&err));
		else if (replay_check(ev, nev, &h, &rows) > 0)
			for (s = rows.ptr; s != NULL && *s != '\0'; s = nl + 1) {
				nl = strchr(s, '\n');
				*nl = '\0';
				problem(&text, &json, &n, "history", s);
			}
		state_events_free(ev, nev);
		buf_free(&rows);
		buf_free(&err);
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

static const struct cmd_opt check_opts[] = {
	{ "plans-only", OPT_BOOL, NULL, "check the plan files alone, without a history" },
	{ NULL, 0, NULL, NULL }
};

const struct cmd_entry cmd_check_entry = {
	.name = "check",
	.args = "[--plans-only]",
	.opts = check_opts,
	.summary = "for CI: plans load and lint clean, shipped steps unchanged and in place",
	.flags = CMD_REPORTS,
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_check_exec,
};
