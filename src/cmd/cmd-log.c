/*
 * excon log [PLAN] [--verify]: the append-only, hash-chained event log,
 * oldest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string.h>

#include "cmd.h"
#include "out.h"
#include "replay.h"

static const struct cmd_opt log_opts[] = {
	{ "verify", OPT_BOOL, NULL, "check the hash chain and that every release and ship row agrees with the log; exit 4 if not" },
	{ "head", OPT_BOOL, NULL, "print the hash of the newest event (the chain's head)" },
	{ "since-head", OPT_STR, "HASH", "with --verify: also prove that the history up to a head printed earlier was not rewritten" },
	{ NULL, 0, NULL, NULL }
};

/*
 * The checks of log --verify beyond the chain: the releases and ships
 * replayed from the log must be the rows (problems gets one line per
 * disagreement), and with since set, an event must carry that head hash.
 * Returns the number of problems, or -1 with err set.
 */
static int
log_verify_rows(struct cmd_ctx *ctx, const char *since, struct buf *problems,
    struct buf *err)
{
	struct state_history h;
	struct state_event *ev = NULL;
	size_t n = 0, i;
	int bad = -1, found = 0;

	memset(&h, 0, sizeof h);
	if (state_events_load(ctx->st, NULL, NULL, &ev, &n, err) != 0 ||
	    state_history_load(ctx->st, &h, err) != 0)
		goto done;
	bad = (int)replay_check(ev, n, &h, problems);
	if (since != NULL) {
		for (i = 0; i < n && !found; i++)
			found = ev[i].hash != NULL && strcmp(ev[i].hash, since) == 0;
		if (!found) {
			buf_printf(problems, "no event carries head %s: the history "
			    "recorded up to it was rewritten or removed\n", since);
			bad++;
		}
	}
done:
	state_events_free(ev, n);
	state_history_free(&h);
	return bad;
}

/* Prints the chain's head: the newest event's hash (and id in JSON). */
static int
log_head(struct cmd_ctx *ctx)
{
	struct state_event *ev = NULL;
	struct buf err = BUF_INIT;
	size_t n = 0;
	int rc = EXCON_EXIT_OK;

	if (state_events_load(ctx->st, NULL, NULL, &ev, &n, &err) != 0)
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
	else if (ctx->format == FORMAT_JSON)
		printf("{\"head_id\":%lld,\"head\":\"%s\"}\n",
		    n ? (long long)ev[n - 1].id : 0LL,
		    n && ev[n - 1].hash ? ev[n - 1].hash : "");
	else if (n == 0)
		printf("the event log is empty\n");
	else
		printf("%s\n", ev[n - 1].hash ? ev[n - 1].hash : "");
	state_events_free(ev, n);
	buf_free(&err);
	return rc;
}

/* Runs log. */
static int
cmd_log_exec(struct cmd_ctx *ctx)
{
	struct state_event *ev = NULL;
	struct buf out = BUF_INIT, err = BUF_INIT;
	size_t n = 0, i;
	int64_t bad = 0;
	int rc, known = 0;

	if (ctx->nargs == 1) {
		/* A plan is known when a file defines it or the log names it. */
		if ((rc = cmd_load_plans(ctx, 1)) != 0)
			return rc;
		known = plan_set_find(&ctx->plans, ctx->args[0]) != NULL;
	}
	if (cmd_opt(ctx, "since-head") != NULL && cmd_opt(ctx, "verify") == NULL)
		return cmd_fail(EXCON_EXIT_USAGE, "--since-head goes with --verify");
	if ((rc = cmd_open_state(ctx, 0)) != 0)
		return rc;
	if (cmd_opt(ctx, "head") != NULL)
		return log_head(ctx);
	if (cmd_opt(ctx, "verify") != NULL) {
		struct buf problems = BUF_INIT;
		int v = state_check(ctx->st, &err) == -1 ? -1 :
		    state_log_verify(ctx->st, &bad, &err), nbad = 0;

		if (v == 0)
			nbad = log_verify_rows(ctx, cmd_opt(ctx, "since-head"),
			    &problems, &err);
		if (v < 0 || nbad < 0)
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		else if (nbad > 0) {
			if (ctx->format == FORMAT_JSON) {
				char *line = problems.ptr, *nl;
				int first = 1;

				printf("{\"intact\":false,\"first_bad_event\":null,"
				    "\"problems\":[");
				while (line != NULL && *line != '\0') {
					struct buf j = BUF_INIT;

					nl = strchr(line, '\n');
					*nl = '\0';
					json_str(&j, line);
					printf("%s%s", first ? "" : ",", buf_cstr(&j));
					buf_free(&j);
					first = 0;
					line = nl + 1;
				}
				printf("]}\n");
			} else
				printf("%sthe history disagrees with its event log "
				    "in %d place%s\n", buf_cstr(&problems), nbad,
				    nbad == 1 ? "" : "s");
			rc = EXCON_EXIT_PROBLEMS;
		} else if (v > 0) {
			if (ctx->format == FORMAT_JSON)
				printf("{\"intact\":false,\"first_bad_event\":%lld}\n",
				    (long long)bad);
			else
				printf("event log broken at event %lld: an event was "
				    "edited or deleted\n", (long long)bad);
			rc = EXCON_EXIT_PROBLEMS;
		} else if (ctx->format == FORMAT_JSON)
			printf("{\"intact\":true,\"first_bad_event\":null}\n");
		else
			printf("event log intact\n");
		buf_free(&problems);
		goto done;
	}
	if (state_events_load(ctx->st, ctx->nargs ? ctx->args[0] : NULL, NULL,
	    &ev, &n, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	if (ctx->nargs == 1 && !known && n == 0) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "unknown plan '%s'", ctx->args[0]);
		goto done;
	}
	if (ctx->format == FORMAT_JSON)
		buf_putc(&out, '[');
	for (i = 0; i < n; i++) {
		const struct state_event *e = &ev[i];

		if (ctx->format == FORMAT_JSON) {
			int f = 1;

			buf_puts(&out, i ? ",{" : "{");
			json_key(&out, &f, "id");
			buf_printf(&out, "%lld", (long long)e->id);
			json_key(&out, &f, "at");
			json_str(&out, out_time(e->at));
			json_key(&out, &f, "actor");
			json_str(&out, e->actor);
			json_key(&out, &f, "kind");
			json_str(&out, e->kind);
			json_key(&out, &f, "plan");
			json_str(&out, e->plan);
			json_key(&out, &f, "step");
			json_str(&out, e->step);
			json_key(&out, &f, "release");
			json_str(&out, e->release);
			json_key(&out, &f, "detail");
			json_str(&out, e->detail);
			json_key(&out, &f, "reason");
			json_str(&out, e->reason);
			json_key(&out, &f, "hash");
			json_str(&out, e->hash);
			buf_putc(&out, '}');
			continue;
		}
		buf_printf(&out, "%-5lld %s %-14s %s", (long long)e->id,
		    out_time(e->at), e->kind, e->actor ? e->actor : "-");
		if (e->plan != NULL)
			buf_printf(&out, " %s%s%s", e->plan, e->step ? "/" : "",
			    e->step ? e->step : "");
		if (e->release != NULL)
			buf_printf(&out, " in %s", e->release);
		/* A multi-line detail (a probe snapshot) shows its first line. */
		if (e->detail != NULL)
			buf_printf(&out, ": %.*s", (int)strcspn(e->detail, "\n"),
			    e->detail);
		if (e->reason != NULL)
			buf_printf(&out, " (reason: %s)", e->reason);
		buf_putc(&out, '\n');
	}
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, "]\n");
	cmd_out(&out);
done:
	state_events_free(ev, n);
	buf_free(&out);
	buf_free(&err);
	return rc;
}

const struct cmd_entry cmd_log_entry = {
	.name = "log",
	.args = "[PLAN] [--verify [--since-head HASH]] [--head]",
	.summary = "show the event log, newest last, or verify its hash chain",
	.opts = log_opts,
	.flags = CMD_REPORTS,
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_log_exec,
};
