/*
 * excon probe [PLAN]: the usage evidence of rule 9 for each pending
 * contract, and `--restart --reason TEXT`, which starts a new evidence
 * window once the application is fixed (an event of the history).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd/evidence.h"
#include "out.h"

static const struct cmd_opt probe_opts[] = {
	{ "restart", OPT_BOOL, NULL, "take a new snapshot: the evidence window starts again (needs PLAN and --reason)" },
	{ "reason", OPT_STR, "TEXT", "why the window restarts (logged and audited)" },
	{ "fail-on", OPT_STR, "used", "exit 4 when a statement or object still uses what a contract removes, or nothing can be read" },
	{ NULL, 0, NULL, NULL }
};

/* Describes what p's contract removes, e.g. "public.users.name". */
static void
removes(struct buf *out, const struct plan *p)
{
	struct use_target *t = NULL;
	size_t i, n = probe_targets(p, &t);

	for (i = 0; i < n; i++)
		buf_printf(out, "%s%s.%s%s%s", i ? ", " : "",
		    t[i].schema ? t[i].schema : "public", t[i].name,
		    t[i].kind == USE_COLUMN ? "." : "",
		    t[i].kind == USE_COLUMN ? t[i].column : "");
	free(t);
}

/* Appends p's evidence e as text. */
static void
text_one(struct buf *out, const struct plan *p, const struct evidence *e)
{
	const struct probe_result *r = &e->res;

	buf_printf(out, "%s: the contract removes ", p->name.s);
	removes(out, p);
	buf_putc(out, '\n');
	if (!r->gathered) {
		buf_printf(out, "  cannot tell: %s\n", r->missing ? r->missing : "?");
		return;
	}
	if (r->reset != NULL)
		buf_printf(out, "  note: %s\n", r->reset);
	if (r->nuses == 0) {
		buf_printf(out, "  no use seen since %s across %zu database%s\n",
		    e->since ? out_time(e->since) : "the statistics began",
		    r->nservers, r->nservers == 1 ? "" : "s");
		return;
	}
	buf_printf(out, "  still used (since %s):\n",
	    e->since ? out_time(e->since) : "the statistics began");
	buf_puts(out, buf_cstr(&e->lines));
}

/* Appends p's evidence e as a JSON object. */
static void
json_one(struct buf *out, const struct plan *p, const struct evidence *e)
{
	const struct probe_result *r = &e->res;
	struct buf what = BUF_INIT;
	size_t i;
	int f = 1;

	removes(&what, p);
	buf_putc(out, '{');
	json_key(out, &f, "plan");
	json_str(out, p->name.s);
	json_key(out, &f, "removes");
	json_str(out, buf_cstr(&what));
	json_key(out, &f, "since");
	json_str(out, e->since ? out_time(e->since) : NULL);
	json_key(out, &f, "gathered");
	buf_puts(out, r->gathered ? "true" : "false");
	json_key(out, &f, "missing");
	json_str(out, r->missing);
	json_key(out, &f, "reset");
	json_str(out, r->reset);
	json_key(out, &f, "databases");
	buf_printf(out, "%zu", r->nservers);
	json_key(out, &f, "uses");
	buf_putc(out, '[');
	for (i = 0; i < r->nuses; i++) {
		int g = 1;

		buf_puts(out, i ? ",{" : "{");
		json_key(out, &g, "where");
		json_str(out, r->uses[i].where);
		json_key(out, &g, "calls");
		buf_printf(out, "%lld", (long long)r->uses[i].calls);
		json_key(out, &g, "text");
		json_str(out, r->uses[i].text);
		json_key(out, &g, "catalog");
		buf_puts(out, r->uses[i].calls == 0 ? "true" : "false");
		buf_putc(out, '}');
	}
	buf_puts(out, "]}");
	buf_free(&what);
}

/* probe --restart: a new snapshot for p. */
static int
restart(struct cmd_ctx *ctx, const struct plan *p, const char *reason)
{
	struct buf err = BUF_INIT;
	char *missing = NULL;
	int rc = 0;

	if (ctx->dry_run) {
		printf("would record a new snapshot of pg_stat_statements for %s: "
		    "its evidence window would start again (reason: %s)\n",
		    p->name.s, reason);
		return 0;
	}
	if (evidence_snapshot(ctx, p, reason, &missing, &err) != 0)
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
	else if (missing != NULL)
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s: no snapshot taken: %s",
		    p->name.s, missing);
	else if (ctx->format == FORMAT_JSON)
		printf("{\"plan\":\"%s\",\"restarted\":true}\n", p->name.s);
	else
		printf("%s: new evidence window from now: snapshot of "
		    "pg_stat_statements recorded (reason: %s)\n", p->name.s, reason);
	free(missing);
	buf_free(&err);
	return rc;
}

/* Runs probe. */
static int
cmd_probe_exec(struct cmd_ctx *ctx)
{
	const char *fail_on = cmd_opt(ctx, "fail-on");
	const char *reason = cmd_opt(ctx, "reason");
	const struct plan *one = NULL;
	struct state_history h;
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct evidence_cache *evc = NULL;
	size_t i, shown = 0;
	int rc, bad = 0;

	memset(&h, 0, sizeof h);
	if (fail_on != NULL && strcmp(fail_on, "used") != 0)
		return cmd_fail(EXCON_EXIT_USAGE, "--fail-on takes 'used', not '%s'",
		    fail_on);
	if ((rc = cmd_load_plans(ctx, 0)) != 0)
		return rc;
	if (ctx->nargs == 1 && (one = plan_set_find(&ctx->plans,
	    ctx->args[0])) == NULL)
		return cmd_fail(EXCON_EXIT_USAGE, "unknown plan '%s'", ctx->args[0]);
	if (cmd_opt(ctx, "restart") != NULL) {
		struct use_target *t = NULL;
		size_t n;

		if (one == NULL || reason == NULL || *reason == '\0')
			return cmd_fail(EXCON_EXIT_USAGE, "--restart needs a PLAN and "
			    "--reason TEXT: every restart is logged and audited");
		n = probe_targets(one, &t);
		free(t);
		if (n == 0)
			return cmd_fail(EXCON_EXIT_USAGE, "plan '%s' removes no column "
			    "or table: there is nothing to probe", one->name.s);
	} else if (reason != NULL)
		return cmd_fail(EXCON_EXIT_USAGE, "--reason goes with --restart");
	if (!cmd_have_db(ctx))
		return cmd_fail(EXCON_EXIT_USAGE, "probe reads the database: pass "
		    "--db CONNINFO (or set EXCON_DATABASE or 'database:' in "
		    "excon.yaml)");
	if ((rc = cmd_history(ctx, &h, 0)) != 0)
		return rc;
	if (cmd_opt(ctx, "restart") != NULL) {
		rc = restart(ctx, one, reason);
		goto done;
	}
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, "{\"plans\":[");
	evc = evidence_cache_new();
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];
		struct evidence e;

		if ((one != NULL && p != one) || !evidence_pending(ctx, &h, p))
			continue;
		if (evidence_gather_cached(ctx, evc, p, &e, &err) != 0) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s: %s", p->name.s,
			    buf_cstr(&err));
			evidence_free(&e);
			goto done;
		}
		if (!e.res.gathered || e.res.nuses > 0)
			bad = 1;
		if (ctx->format == FORMAT_JSON) {
			if (shown)
				buf_putc(&out, ',');
			json_one(&out, p, &e);
		} else
			text_one(&out, p, &e);
		shown++;
		evidence_free(&e);
	}
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, "]}\n");
	else if (shown == 0)
		buf_printf(&out, "%s%sno contract is waiting for its window: "
		    "nothing to probe\n", one ? one->name.s : "", one ? ": " : "");
	cmd_out(&out);
	if (bad && fail_on != NULL)
		rc = EXCON_EXIT_PROBLEMS;
done:
	evidence_cache_free(evc);
	state_history_free(&h);
	buf_free(&out);
	buf_free(&err);
	return rc;
}

const struct cmd_entry cmd_probe_entry = {
	.name = "probe",
	.args = "[PLAN] [--fail-on used] | PLAN --restart --reason TEXT",
	.summary = "show whether anything still uses what a pending contract removes (rule 9)",
	.opts = probe_opts,
	.flags = CMD_REPORTS | CMD_CHANGES | CMD_DB,
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_probe_exec,
};
