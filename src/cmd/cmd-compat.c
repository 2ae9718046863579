/*
 * excon compat RELEASE: can the code of RELEASE run on the schema as it is
 * now?  Every step shipped after RELEASE must leave that code working.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "gate.h"
#include "out.h"

/* Runs compat. */
static int
cmd_compat_exec(struct cmd_ctx *ctx)
{
	struct state_history h;
	struct gate_ctx g;
	struct buf out = BUF_INIT, why = BUF_INIT;
	const struct state_release *r;
	size_t i, j;
	int rc, nbad = 0;

	if ((rc = cmd_load_plans(ctx, 0)) != 0)
		return rc;
	if ((rc = cmd_history(ctx, &h, 0)) != 0)
		return rc;
	cmd_gate(ctx, &h, &g);
	if ((r = gate_release_named(&h, ctx->args[0])) == NULL) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "unknown release '%s'", ctx->args[0]);
		goto done;
	}
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, "{\"release\":");
	if (ctx->format == FORMAT_JSON)
		json_str(&out, r->name);
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, ",\"breaking\":[");
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];
		struct gate_progress pr;

		gate_progress_load(&g, p, &pr);
		for (j = 0; j < p->nsteps; j++) {
			if (pr.ships[j] == NULL || pr.ships[j]->release_seq <= r->seq)
				continue;
			buf_reset(&why);
			if (!gate_breaks(&g, p, j, r->seq, &why))
				continue;
			if (ctx->format == FORMAT_JSON) {
				int f = 1;

				buf_puts(&out, nbad ? ",{" : "{");
				json_key(&out, &f, "plan");
				json_str(&out, p->name.s);
				json_key(&out, &f, "step");
				json_str(&out, p->steps[j].id.s);
				json_key(&out, &f, "shipped_in");
				json_str(&out, gate_release(&h, pr.ships[j]->release_seq)->name);
				json_key(&out, &f, "reason");
				json_str(&out, buf_cstr(&why));
				buf_putc(&out, '}');
			} else
				buf_printf(&out, "  %s (shipped in %s)\n", buf_cstr(&why),
				    gate_release(&h, pr.ships[j]->release_seq)->name);
			nbad++;
		}
		gate_progress_free(&pr);
	}
	if (ctx->format == FORMAT_JSON) {
		buf_printf(&out, "],\"safe\":%s}\n", nbad ? "false" : "true");
		cmd_out(&out);
	} else if (nbad) {
		printf("unsafe: the code of %s (#%lld) does not work on the current "
		    "schema; %d step%s broke it:\n", r->name, (long long)r->seq,
		    nbad, nbad == 1 ? "" : "s");
		cmd_out(&out);
	} else
		printf("safe: the code of %s (#%lld) works on the current schema\n",
		    r->name, (long long)r->seq);
	rc = nbad ? EXCON_EXIT_REFUSED : EXCON_EXIT_OK;
done:
	buf_free(&out);
	buf_free(&why);
	state_history_free(&h);
	return rc;
}

const struct cmd_entry cmd_compat_entry = {
	.name = "compat",
	.args = "RELEASE",
	.summary = "say whether the code of RELEASE can run on the schema as it is now",
	.flags = CMD_REPORTS,
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_compat_exec,
};
