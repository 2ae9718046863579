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
#include "sqlcheck.h"
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

/*
 * Adds one problem as a finding for the CI reports: rule, where (file may
 * be "" and line 0 when the problem has no place in a file) and message.
 */
static void
found(struct findings *f, const char *rule, const char *file, int line,
    int col, const char *msg, const char *fix)
{
	findings_add(f, rule, SEV_ERROR, file, line, col, msg, fix);
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

/*
 * Adds the errors of lint's SQL analysis of plan p as problems, one line
 * each, `file:line:col: error[RULE]: message`, and as findings of the CI
 * reports in rep.  Returns -1 when the analysis could not run.
 */
static int
sql_problems(const struct plan *p, struct buf *text, struct buf *json, int *n,
    struct findings *rep)
{
	struct findings f = FINDINGS_INIT;
	struct buf line = BUF_INIT, err = BUF_INIT;
	size_t i;
	int ret = -1;

	if (sqlcheck_plan(p, NULL, &f, &err) != 0)
		goto done;
	findings_sort(&f);
	for (i = 0; i < f.n; i++) {
		const struct finding *x = &f.v[i];

		if (x->suppressed || x->severity != SEV_ERROR)
			continue;
		buf_reset(&line);
		buf_printf(&line, "%s:%d:%d: error[%s]: %s", x->file, x->line,
		    x->col, x->rule, x->msg);
		problem(text, json, n, "sql", buf_cstr(&line));
		findings_add(rep, x->rule, SEV_ERROR, x->file, x->line, x->col,
		    x->msg, x->fix);
	}
	ret = 0;
done:
	findings_free(&f);
	buf_free(&line);
	buf_free(&err);
	return ret;
}

/* Runs check. */
static int
cmd_check_exec(struct cmd_ctx *ctx)
{
	struct state_history h;
	struct gate_ctx g;
	struct buf text = BUF_INIT, json = BUF_INIT, line = BUF_INIT;
	struct plan_diags lint = { NULL, 0, 0 };
	struct findings f = FINDINGS_INIT;
	const char **units = NULL;
	size_t nunits = 0, capunits = 0;
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
		found(&f, "E-PLAN-SCHEMA", d->file, d->pos.line, d->pos.col, d->msg,
		    NULL);
		if (nunits == 0 || strcmp(units[nunits - 1], d->file) != 0) {
			XGROW(units, capunits, nunits + 1);
			units[nunits++] = d->file;
		}
	}
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];
		size_t before = lint.n, j;
		char *s, *nl;

		XGROW(units, capunits, nunits + 1);
		units[nunits++] = p->file;
		plan_lint(p, &ctx->plans, ctx->cfg.contract_after, &lint);
		for (j = before; j < lint.n; j++) {
			buf_reset(&line);
			buf_printf(&line, "%s:%d:%d: %s", lint.v[j].file,
			    lint.v[j].pos.line, lint.v[j].pos.col, lint.v[j].msg);
			problem(&text, &json, &n, "lint", buf_cstr(&line));
			found(&f, "E-PLAN-RULE", lint.v[j].file, lint.v[j].pos.line,
			    lint.v[j].pos.col, lint.v[j].msg, NULL);
		}
		/* The SQL analysis too: check means "lints clean". */
		if (sql_problems(p, &text, &json, &n, &f) != 0) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "plan %s: the SQL analysis "
			    "failed", p->name.s);
			goto done;
		}
		buf_reset(&line);
		gate_immutable(&g, p, &line);
		s = line.ptr;
		while (s != NULL && *s != '\0') {
			nl = strchr(s, '\n');
			if (nl != NULL)
				*nl = '\0';
			problem(&text, &json, &n, "shipped", s);
			found(&f, "E-SHIPPED-CHANGED", p->file, 0, 0, s, "restore the "
			    "shipped step as it shipped; change what follows in a new step "
			    "or a new plan");
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
		found(&f, "E-PLAN-MISSING", "", 0, 0, buf_cstr(&line), "restore "
		    "the plan file (its shipped steps are history)");
	}
	strv_free(broken);
	/* Rows edited, deleted or inserted behind excon's back (log --verify). */
	if (cmd_opt(ctx, "plans-only") == NULL) {
		struct state_event *ev = NULL;
		struct buf rows = BUF_INIT, err = BUF_INIT;
		size_t nev = 0;
		char *s, *nl;

		if (state_events_load(ctx->st, NULL, NULL, &ev, &nev, &err) != 0) {
			problem(&text, &json, &n, "history", buf_cstr(&err));
			found(&f, "E-HISTORY-ROWS", "", 0, 0, buf_cstr(&err), NULL);
		} else if (replay_check(ev, nev, &h, &rows) > 0)
			for (s = rows.ptr; s != NULL && *s != '\0'; s = nl + 1) {
				nl = strchr(s, '\n');
				*nl = '\0';
				problem(&text, &json, &n, "history", s);
				found(&f, "E-HISTORY-ROWS", "", 0, 0, s, "restore the "
				    "history from a copy; 'excon log --verify' names every "
				    "row that disagrees with the event log");
			}
		state_events_free(ev, nev);
		buf_free(&rows);
		buf_free(&err);
	}
	if (ctx->format >= FORMAT_GITHUB) {
		if ((rc = cmd_report(ctx, "check", &f, units, nunits)) != 0)
			goto done;
	} else if (ctx->format == FORMAT_JSON)
		printf("{\"ok\":%s,\"plans\":%zu,\"problems\":[%s]}\n",
		    n ? "false" : "true", ctx->plans.nplans, buf_cstr(&json));
	else if (n) {
		cmd_out(&text);
		printf("check: %d problem%s\n", n, n == 1 ? "" : "s");
	} else
		printf("check: %zu plan%s ok\n", ctx->plans.nplans,
		    ctx->plans.nplans == 1 ? "" : "s");
	rc = n ? EXCON_EXIT_PROBLEMS : EXCON_EXIT_OK;
done:
	findings_free(&f);
	free(units);
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
	.flags = CMD_REPORTS | CMD_GITHUB,
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_check_exec,
};
