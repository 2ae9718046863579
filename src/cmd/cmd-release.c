/*
 * excon release start NAME [--note T] | finish NAME | list: the ordered
 * record of application releases and their deploy state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gate.h"
#include "out.h"
#include "xalloc.h"

static const struct cmd_opt release_opts[] = {
	{ "note", OPT_STR, "TEXT", "a note kept with the release (start)" },
	{ NULL, 0, NULL, NULL }
};

/* Records a new release at the end of the sequence. */
static int
release_start(struct cmd_ctx *ctx, const char *name)
{
	struct state_history h;
	struct buf err = BUF_INIT;
	const struct state_release *r;
	int64_t seq;
	int rc;

	if (*name == '\0' || strlen(name) > 200)
		return cmd_fail(EXCON_EXIT_USAGE, "a release name must be 1 to 200 "
		    "characters");
	if ((rc = cmd_history(ctx, &h, !ctx->dry_run)) != 0)
		return rc;
	if ((r = gate_release_named(&h, name)) != NULL) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "release '%s' already exists (#%lld)",
		    name, (long long)r->seq);
		goto done;
	}
	seq = h.nreleases ? h.releases[h.nreleases - 1].seq + 1 : 1;
	if (ctx->dry_run) {
		printf("would record release %s as #%lld (started)\n", name,
		    (long long)seq);
		goto done;
	}
	if (state_release_add(ctx->st, name, cmd_opt(ctx, "note"), &seq, &err) != 0 ||
	    cmd_event(ctx, "release.start", NULL, NULL, name, cmd_opt(ctx, "note"),
	    NULL, &err) != 0 || state_commit(ctx->st, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	printf("release %s started (#%lld)\n", name, (long long)seq);
done:
	if (rc != 0 && ctx->st != NULL)
		state_rollback(ctx->st);
	state_history_free(&h);
	buf_free(&err);
	return rc;
}

/* Marks a release deployed. */
static int
release_finish(struct cmd_ctx *ctx, const char *name)
{
	struct state_history h;
	struct buf err = BUF_INIT;
	const struct state_release *r;
	int rc;

	if ((rc = cmd_history(ctx, &h, !ctx->dry_run)) != 0)
		return rc;
	if ((r = gate_release_named(&h, name)) == NULL) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "unknown release '%s'", name);
		goto done;
	}
	if (r->state == RELEASE_DEPLOYED) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "release '%s' (#%lld) is already "
		    "deployed", name, (long long)r->seq);
		goto done;
	}
	if (ctx->dry_run) {
		printf("would mark release %s (#%lld) deployed\n", name,
		    (long long)r->seq);
		goto done;
	}
	if (state_release_finish(ctx->st, r->seq, &err) != 0 ||
	    cmd_event(ctx, "release.finish", NULL, NULL, name, NULL, NULL, &err) != 0 ||
	    state_commit(ctx->st, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	printf("release %s deployed (#%lld)\n", name, (long long)r->seq);
done:
	if (rc != 0 && ctx->st != NULL)
		state_rollback(ctx->st);
	state_history_free(&h);
	buf_free(&err);
	return rc;
}

/* Orders ships by release, then plan and position. */
static int
ship_cmp(const void *a, const void *b)
{
	const struct state_ship *x = *(const struct state_ship *const *)a;
	const struct state_ship *y = *(const struct state_ship *const *)b;
	int c;

	if (x->release_seq != y->release_seq)
		return x->release_seq < y->release_seq ? -1 : 1;
	if ((c = strcmp(x->plan, y->plan)) != 0)
		return c;
	return x->idx - y->idx;
}

/* Lists releases with the steps that shipped in each. */
static int
release_list(struct cmd_ctx *ctx)
{
	struct state_history h;
	struct buf out = BUF_INIT;
	const struct state_ship **by_release;
	size_t i, j, from = 0;
	int rc, first, sfirst = 1;

	if ((rc = cmd_history(ctx, &h, 0)) != 0)
		return rc;
	by_release = xcalloc(h.nships ? h.nships : 1, sizeof *by_release);
	for (i = 0; i < h.nships; i++)
		by_release[i] = &h.ships[i];
	qsort(by_release, h.nships, sizeof *by_release, ship_cmp);
	if (ctx->format == FORMAT_JSON)
		buf_putc(&out, '[');
	else if (h.nreleases == 0)
		buf_puts(&out, "no releases recorded; start one with 'excon release "
		    "start NAME'\n");
	for (i = 0; i < h.nreleases; i++) {
		const struct state_release *r = &h.releases[i];

		if (ctx->format == FORMAT_JSON) {
			first = 1;
			buf_puts(&out, i ? ",{" : "{");
			json_key(&out, &first, "seq");
			buf_printf(&out, "%lld", (long long)r->seq);
			json_key(&out, &first, "name");
			json_str(&out, r->name);
			json_key(&out, &first, "state");
			json_str(&out, r->state == RELEASE_DEPLOYED ? "deployed" : "started");
			json_key(&out, &first, "note");
			json_str(&out, r->note);
			json_key(&out, &first, "started_at");
			json_str(&out, out_time(r->started_at));
			json_key(&out, &first, "finished_at");
			json_str(&out, r->finished_at ? out_time(r->finished_at) : NULL);
			json_key(&out, &first, "steps");
			buf_putc(&out, '[');
			sfirst = 1;
		} else {
			buf_printf(&out, "#%-4lld %-16s %-9s started %s", (long long)r->seq,
			    r->name, r->state == RELEASE_DEPLOYED ? "deployed" : "started",
			    out_time(r->started_at));
			if (r->finished_at)
				buf_printf(&out, "  deployed %s", out_time(r->finished_at));
			if (r->note != NULL)
				buf_printf(&out, "  (%s)", r->note);
			buf_putc(&out, '\n');
		}
		for (j = from; j < h.nships; j++) {
			const struct state_ship *s = by_release[j];

			if (s->release_seq < r->seq) {
				from = j + 1;
				continue;
			}
			if (s->release_seq > r->seq)
				break;
			if (ctx->format == FORMAT_JSON) {
				int f2 = 1;

				buf_puts(&out, sfirst ? "{" : ",{");
				sfirst = 0;
				json_key(&out, &f2, "plan");
				json_str(&out, s->plan);
				json_key(&out, &f2, "step");
				json_str(&out, s->step);
				json_key(&out, &f2, "status");
				json_str(&out, s->status == SHIP_DONE ? "shipped" : "failed");
				json_key(&out, &f2, "forced");
				buf_puts(&out, s->forced ? "true" : "false");
				buf_putc(&out, '}');
			} else
				buf_printf(&out, "       %s/%s%s%s\n", s->plan, s->step,
				    s->status == SHIP_FAILED ? " (failed part way)" : "",
				    s->forced ? " (forced)" : "");
		}
		if (ctx->format == FORMAT_JSON)
			buf_puts(&out, "]}");
	}
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, "]\n");
	cmd_out(&out);
	buf_free(&out);
	free(by_release);
	state_history_free(&h);
	return EXCON_EXIT_OK;
}

/* Dispatches the release subcommands. */
static int
cmd_release_exec(struct cmd_ctx *ctx)
{
	const char *sub = ctx->args[0];

	if (strcmp(sub, "list") == 0 && ctx->nargs == 1)
		return release_list(ctx);
	if (strcmp(sub, "start") == 0 && ctx->nargs == 2)
		return release_start(ctx, ctx->args[1]);
	if (strcmp(sub, "finish") == 0 && ctx->nargs == 2)
		return release_finish(ctx, ctx->args[1]);
	fprintf(stderr, "excon release: expected 'start NAME', 'finish NAME' or "
	    "'list'\n\n");
	cmd_usage(stderr, ctx->entry);
	return EXCON_EXIT_USAGE;
}

const struct cmd_entry cmd_release_entry = {
	.name = "release",
	.args = "start NAME [--note TEXT] | finish NAME | list",
	.summary = "record releases as they start and finish deploying, or list them",
	.opts = release_opts,
	.flags = CMD_REPORTS | CMD_CHANGES,
	.min_args = 1,
	.max_args = 2,
	.exec = cmd_release_exec,
};
