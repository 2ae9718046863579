/*
 * excon lint [FILE...] [--sql FILE...]: validates plans (schema, plan-level
 * rules, SQL safety for each step's phase) and checks plain SQL migration
 * files of other tools against the plans: a destructive statement passes
 * only where an open contract window of a plan covers that exact object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gate.h"
#include "out.h"
#include "sqlcheck.h"
#include "xalloc.h"

static const struct cmd_opt lint_opts[] = {
	{ "sql", OPT_BOOL, NULL, "the FILEs are SQL migration files of other tools (any *.sql is)" },
	{ "fail-on", OPT_STR, "LEVEL", "'error' (default) or 'warning': what makes lint exit 4" },
	{ "rules", OPT_BOOL, NULL, "list every rule: id, severity, what goes wrong, the safe alternative" },
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

/* 1 when file is one of the FILE arguments, or no plan file was named. */
static int
selected(const struct cmd_ctx *ctx, int nplanfiles, const char *file)
{
	int j;

	if (nplanfiles == 0)
		return 1;
	for (j = 0; j < ctx->nargs; j++)
		if (strcmp(ctx->args[j], file) == 0)
			return 1;
	return 0;
}

/* Adds a plan diagnostic as a finding. */
static void
add_diag(struct findings *f, const struct plan_diag *d, const char *rule)
{
	findings_add(f, rule, SEV_ERROR, d->file, d->pos.line, d->pos.col, d->msg,
	    NULL);
}

/*
 * The objects that contract steps of every plan may destroy, with whether
 * their window is open now (the same gate_window that audit reports).
 */
static struct cover *
build_covers(const struct cmd_ctx *ctx, const struct gate_ctx *g, size_t *n)
{
	struct cover *v = NULL;
	size_t cap = 0, i, j;

	*n = 0;
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];
		struct gate_window w;

		gate_window(g, p, &w);
		for (j = 0; j < p->nsteps; j++) {
			const struct step *s = &p->steps[j];
			struct cover c;

			memset(&c, 0, sizeof c);
			c.schema = s->schema.s;
			c.table = s->table.s;
			c.plan = p->name.s;
			c.step = s->id.s;
			c.open = w.open && (w.last_nc_seq > 0 || w.last_nc < 0);
			switch (s->kind) {
			case KIND_DROP_COLUMN:
				c.kind = COVER_COLUMN;
				c.column = s->column.s;
				break;
			case KIND_DROP_TABLE:
				c.kind = COVER_TABLE;
				break;
			case KIND_DROP_INDEX:
				c.kind = COVER_INDEX;
				c.name = s->name.s;
				break;
			case KIND_DROP_CONSTRAINT:
				c.kind = COVER_CONSTRAINT;
				c.name = s->name.s;
				break;
			case KIND_DROP_TRIGGER:
				c.kind = COVER_TRIGGER;
				c.name = s->name.s;
				break;
			case KIND_STOP_OLD_WRITES:
				if (!s->drop_not_null)
					continue;
				/* Dropping NOT NULL of the old column is this step's job. */
				c.kind = COVER_NOT_NULL;
				c.column = s->column.s;
				c.open = 1;
				break;
			default:
				continue;
			}
			XGROW(v, cap, *n + 1);
			v[(*n)++] = c;
		}
	}
	return v;
}

/* Prints the rule table. */
static int
print_rules(struct cmd_ctx *ctx)
{
	const struct sqlrule *r;
	struct buf out = BUF_INIT;
	size_t n, i;

	r = sqlcheck_rules(&n);
	if (ctx->format == FORMAT_JSON)
		buf_putc(&out, '[');
	for (i = 0; i < n; i++) {
		const char *sev = r[i].severity == SEV_ERROR ? "error" : "warning";

		if (ctx->format == FORMAT_JSON) {
			int f = 1;

			buf_puts(&out, i ? ",{" : "{");
			json_key(&out, &f, "rule");
			json_str(&out, r[i].id);
			json_key(&out, &f, "severity");
			json_str(&out, sev);
			json_key(&out, &f, "summary");
			json_str(&out, r[i].summary);
			json_key(&out, &f, "fix");
			json_str(&out, r[i].fix);
			buf_putc(&out, '}');
		} else
			buf_printf(&out, "%-28s %-7s %s\n%28s fix: %s\n", r[i].id, sev,
			    r[i].summary, "", r[i].fix);
	}
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, "]\n");
	cmd_out(&out);
	buf_free(&out);
	return EXCON_EXIT_OK;
}

/* Runs lint. */
static int
cmd_lint_exec(struct cmd_ctx *ctx)
{
	struct plan_diags lint = { NULL, 0, 0 };
	struct findings f = FINDINGS_INIT;
	struct state_history h;
	struct gate_ctx g;
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct cover *covers = NULL;
	size_t ncovers = 0, i;
	const char *fail_on = cmd_opt(ctx, "fail-on");
	int rc, j, nplanfiles = 0, nsql = 0, fail;

	memset(&h, 0, sizeof h);
	if (cmd_opt(ctx, "rules") != NULL)
		return print_rules(ctx);
	if (fail_on != NULL && strcmp(fail_on, "error") != 0 &&
	    strcmp(fail_on, "warning") != 0)
		return cmd_fail(EXCON_EXIT_USAGE, "--fail-on takes 'error' or "
		    "'warning', not '%s'", fail_on);
	for (j = 0; j < ctx->nargs; j++) {
		if (is_yaml(ctx->args[j]) && cmd_opt(ctx, "sql") == NULL)
			nplanfiles++;
		else
			nsql++;
	}
	if ((rc = cmd_load_plans(ctx, 1)) != 0)
		return rc;
	/* Named plan files outside the plan directories are loaded too. */
	for (j = 0; j < ctx->nargs; j++) {
		struct plan *p = NULL;

		if (!is_yaml(ctx->args[j]) || cmd_opt(ctx, "sql") != NULL)
			continue;
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
	/*
	 * Plans lint without a history.  Other tools' files are judged against
	 * the contract windows the history opens; with no history every
	 * window is closed, which can only add errors, and the user is told.
	 */
	if (nsql > 0 && cmd_have_state(ctx)) {
		if ((rc = cmd_history(ctx, &h, 0)) != 0)
			goto done;
	} else if (nsql > 0)
		fprintf(stderr, "excon: no history at '%s': every contract window "
		    "is taken as closed; point --state at the team's store to "
		    "judge against what shipped\n", ctx->cfg.state_path);
	cmd_gate(ctx, &h, &g);

	/* Plans: load errors, plan-level rules, SQL of every step. */
	if (nsql == 0 || nplanfiles > 0) {
		for (i = 0; i < ctx->diags.n; i++)
			if (selected(ctx, nplanfiles, ctx->diags.v[i].file))
				add_diag(&f, &ctx->diags.v[i], "E-PLAN-SCHEMA");
		for (i = 0; i < ctx->plans.nplans; i++) {
			const struct plan *p = ctx->plans.plans[i];
			size_t before = lint.n, k;

			if (!selected(ctx, nplanfiles, p->file))
				continue;
			plan_lint(p, &ctx->plans, ctx->cfg.contract_after, &lint);
			for (k = before; k < lint.n; k++)
				add_diag(&f, &lint.v[k], "E-PLAN-RULE");
			if (sqlcheck_plan(p, NULL, &f, &err) != 0) {
				rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
				goto done;
			}
		}
	}
	/* Other tools' migration files, against the plans' contract windows. */
	if (nsql > 0) {
		struct sqlctx sc;

		covers = build_covers(ctx, &g, &ncovers);
		sc = sqlctx_plain(covers, ncovers);
		for (j = 0; j < ctx->nargs; j++) {
			if (is_yaml(ctx->args[j]) && cmd_opt(ctx, "sql") == NULL)
				continue;
			if (sqlcheck_file(ctx->args[j], &sc, &f, &err) != 0) {
				rc = cmd_fail(EXCON_EXIT_USAGE, "%s", buf_cstr(&err));
				goto done;
			}
		}
	}
	findings_sort(&f);
	switch (ctx->format) {
	case FORMAT_JSON:
		sqlcheck_format_json(&f, &out);
		break;
	case FORMAT_GITHUB:
		sqlcheck_format_github(&f, &out);
		break;
	default:
		sqlcheck_format_text(&f, 1, &out);
		buf_printf(&out, "%zu error%s, %zu warning%s", findings_count(&f,
		    SEV_ERROR), findings_count(&f, SEV_ERROR) == 1 ? "" : "s",
		    findings_count(&f, SEV_WARNING), findings_count(&f,
		    SEV_WARNING) == 1 ? "" : "s");
		for (i = 0, j = 0; i < f.n; i++)
			j += f.v[i].suppressed;
		if (j > 0)
			buf_printf(&out, ", %d allowed by excon:allow", j);
		buf_putc(&out, '\n');
	}
	cmd_out(&out);
	fail = findings_count(&f, SEV_ERROR) > 0 || (fail_on != NULL &&
	    strcmp(fail_on, "warning") == 0 && findings_count(&f, SEV_WARNING) > 0);
	rc = fail ? EXCON_EXIT_PROBLEMS : EXCON_EXIT_OK;
done:
	free(covers);
	findings_free(&f);
	plan_diags_free(&lint);
	state_history_free(&h);
	buf_free(&out);
	buf_free(&err);
	return rc;
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
