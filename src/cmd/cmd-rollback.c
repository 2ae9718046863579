/*
 * excon rollback PLAN: undoes the newest shipped step of a plan, or the
 * step that failed part way after it, when the gate allows it (see
 * gate_rollback: not a contract step, and it has `down`, is a code step, or
 * is a dual-write whose trigger excon drops), and records it.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd/annotate.h"
#include "cmd/dbstep.h"
#include "exec.h"
#include "gate.h"
#include "out.h"

static const struct cmd_opt rollback_opts[] = {
	{ "record-only", OPT_BOOL, NULL, "record the rollback without touching the database" },
	{ NULL, 0, NULL, NULL }
};

/* 1 when undoing s needs SQL: exactly the steps whose shipping ran SQL. */
static int
needs_sql(const struct step *s)
{
	return exec_step_runs_sql(s);
}

/* The "rule" of a refusal in JSON: why the step cannot be undone. */
static const char *
refusal_rule(enum gate_undo_rule r)
{
	return r == GATE_UNDO_CONTRACT ? "contract" : "no_down";
}

/*
 * Prints the JSON answer of rollback on stdout: step s of p, which was
 * (or under --dry-run would be) rolled back, or, when rule is not NULL,
 * the refusal to roll it back (rule and message).  sh is the ship row of
 * s, h the history it came from.
 */
static void
print_json(const struct plan *p, const struct step *s,
    const struct state_ship *sh, const struct state_history *h, int ran_sql,
    int dry_run, const char *rule, const char *message)
{
	struct buf b = BUF_INIT;
	int f = 1;

	buf_puts(&b, "{\"rolled_back\":");
	if (rule == NULL) {
		buf_puts(&b, "{");
		json_key(&b, &f, "plan");
		json_str(&b, p->name.s);
		json_key(&b, &f, "step");
		json_str(&b, s->id.s);
		json_key(&b, &f, "kind");
		json_str(&b, step_kind_name(s->kind));
		json_key(&b, &f, "release");
		json_str(&b, gate_release(h, sh->release_seq)->name);
		json_key(&b, &f, "seq");
		buf_printf(&b, "%lld", (long long)sh->release_seq);
		json_key(&b, &f, "had");
		json_str(&b, sh->status == SHIP_FAILED ? "failed" : "shipped");
		json_key(&b, &f, "ran_sql");
		buf_puts(&b, ran_sql ? "true" : "false");
		json_key(&b, &f, "dry_run");
		buf_puts(&b, dry_run ? "true" : "false");
		buf_puts(&b, "},\"refused\":null}\n");
	} else {
		buf_puts(&b, "null,\"refused\":{");
		json_key(&b, &f, "plan");
		json_str(&b, p->name.s);
		json_key(&b, &f, "step");
		json_str(&b, s->id.s);
		json_key(&b, &f, "rule");
		json_str(&b, rule);
		json_key(&b, &f, "message");
		json_str(&b, message);
		buf_puts(&b, "}}\n");
	}
	cmd_out(&b);
	buf_free(&b);
}

/* Runs rollback. */
static int
cmd_rollback_exec(struct cmd_ctx *ctx)
{
	struct state_history h;
	struct gate_ctx g;
	struct gate_progress pr;
	struct buf err = BUF_INIT;
	const struct plan *p;
	const struct step *s;
	const struct state_ship *sh;
	struct gate_undo undo;
	int rc, idx = -1, in_tx = !ctx->dry_run;
	int record_only = cmd_opt(ctx, "record-only") != NULL;

	memset(&pr, 0, sizeof pr);
	gate_undo_init(&undo);
	annotate_begin(ctx);
	if ((rc = cmd_load_plans(ctx, 0)) != 0)
		return rc;
	if ((p = plan_set_find(&ctx->plans, ctx->args[0])) == NULL)
		return cmd_fail(EXCON_EXIT_USAGE, "unknown plan '%s'", ctx->args[0]);
	if ((rc = cmd_history(ctx, &h, in_tx)) != 0)
		return rc;
	cmd_gate(ctx, &h, &g);
	gate_progress_load(&g, p, &pr);
	if ((idx = gate_rollback_target(&g, p)) < 0) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "plan '%s' has no shipped step to "
		    "roll back", p->name.s);
		goto done;
	}
	s = &p->steps[idx];
	sh = pr.ships[idx];
	annotate_at(p, s);
	gate_rollback(&g, p, (size_t)idx, needs_sql(s), &undo);
	if (!undo.allowed) {
		if (ctx->format == FORMAT_JSON)
			print_json(p, s, sh, &h, 0, ctx->dry_run,
			    refusal_rule(undo.rule), buf_cstr(&undo.why));
		rc = annotate_refusal(p, s, undo.hint, buf_cstr(&undo.why), NULL);
		goto done;
	}
	if (needs_sql(s) && !record_only && !cmd_have_db(ctx)) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "rolling back %s/%s runs SQL and no "
		    "database is configured: pass --db CONNINFO, or --record-only",
		    p->name.s, s->id.s);
		goto done;
	}
	if (ctx->dry_run) {
		if (needs_sql(s) && !record_only) {
			struct buf sql = BUF_INIT;

			if (dbstep_dry_undo(ctx, p, (size_t)idx, &sql, &err) != 0) {
				buf_free(&sql);
				rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
				goto done;
			}
			if (ctx->format != FORMAT_JSON)
				fputs(buf_cstr(&sql), stdout);
			buf_free(&sql);
		}
		if (ctx->format == FORMAT_JSON) {
			print_json(p, s, sh, &h, needs_sql(s) && !record_only, 1,
			    NULL, NULL);
			goto done;
		}
		printf("would roll back %s/%s (%s in %s, #%lld)%s\n", p->name.s,
		    s->id.s, sh->status == SHIP_FAILED ? "failed part way" : "shipped",
		    gate_release(&h, sh->release_seq)->name,
		    (long long)sh->release_seq, needs_sql(s) && !record_only ?
		    " running its down SQL" : "");
		goto done;
	}
	if (needs_sql(s) && !record_only) {
		state_rollback(ctx->st);
		in_tx = 0;
		rc = dbstep_undo(ctx, p, (size_t)idx);
		if (ctx->format == FORMAT_JSON && rc == EXCON_EXIT_OK)
			print_json(p, s, sh, &h, 1, 0, NULL, NULL);
		else if (ctx->format == FORMAT_JSON && rc == EXCON_EXIT_REFUSED) {
			struct buf why = BUF_INIT;

			buf_printf(&why, "plan '%s' is held by another excon",
			    p->name.s);
			print_json(p, s, sh, &h, 0, 0, "locked", buf_cstr(&why));
			buf_free(&why);
		}
		goto done;
	}
	if (state_ship_delete(ctx->st, p->name.s, s->id.s, &err) != 0 ||
	    cmd_event(ctx, "rollback", p->name.s, s->id.s,
	    gate_release(&h, sh->release_seq)->name, record_only && needs_sql(s) ?
	    "recorded only; database untouched" : NULL, NULL, &err) != 0 ||
	    state_commit(ctx->st, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	in_tx = 0;
	if (ctx->format == FORMAT_JSON) {
		print_json(p, s, sh, &h, 0, 0, NULL, NULL);
		goto done;
	}
	printf("rolled back %s/%s (had %s in %s, #%lld)\n", p->name.s, s->id.s,
	    sh->status == SHIP_FAILED ? "failed part way" : "shipped",
	    gate_release(&h, sh->release_seq)->name, (long long)sh->release_seq);
done:
	if (in_tx && ctx->st != NULL)
		state_rollback(ctx->st);
	gate_progress_free(&pr);
	gate_undo_free(&undo);
	state_history_free(&h);
	buf_free(&err);
	return rc;
}

const struct cmd_entry cmd_rollback_entry = {
	.name = "rollback",
	.args = "PLAN [--record-only]",
	.summary = "undo the newest shipped step of a plan (never a contract step)",
	.opts = rollback_opts,
	.flags = CMD_REPORTS | CMD_CHANGES | CMD_DB | CMD_ANNOTATE,
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_rollback_exec,
};
