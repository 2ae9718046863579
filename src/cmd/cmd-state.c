/*
 * excon state copy FROM TO: moves a whole history between stores (an
 * SQLite file and PostgreSQL, either way), keeping its id, releases,
 * ships, events with their hash chain, and backfill progress; refuses a
 * target that holds anything; verifies the copy before saying it is done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "replay.h"

/*
 * The number of rows of st that disagree with its log (see replay.h), or
 * -1 with err set.
 */
static long
rows_disagreeing(struct state *st, struct buf *err)
{
	struct state_history h;
	struct state_event *ev = NULL;
	struct buf rows = BUF_INIT;
	size_t n = 0;
	long bad = -1;

	memset(&h, 0, sizeof h);
	if (state_events_load(st, NULL, NULL, &ev, &n, err) == 0 &&
	    state_history_load(st, &h, err) == 0)
		bad = (long)replay_check(ev, n, &h, &rows);
	state_events_free(ev, n);
	state_history_free(&h);
	buf_free(&rows);
	return bad;
}

/*
 * Checks the copy in to: the chain verifies, its rows agree with its log
 * exactly as far as the source's did (src_bad places disagree there), and
 * it holds as much as from did, under the same id.  Returns 0, or -1 with
 * err saying what differs.
 */
static int
copy_verify(struct state *to, const char *id,
    const struct state_copy_counts *want, long src_bad, struct buf *err)
{
	struct state_history h;
	struct state_event *ev = NULL;
	struct buf rows = BUF_INIT;
	const char *tid;
	size_t n = 0;
	int64_t bad = 0;
	int v, ret = -1;

	memset(&h, 0, sizeof h);
	if ((v = state_log_verify(to, &bad, err)) != 0) {
		if (v > 0)
			error_set(err, "the copy's event log is broken at event %lld",
			    (long long)bad);
		goto done;
	}
	if (state_events_load(to, NULL, NULL, &ev, &n, err) != 0 ||
	    state_history_load(to, &h, err) != 0 ||
	    (tid = state_history_id(to, err)) == NULL)
		goto done;
	if ((long)replay_check(ev, n, &h, &rows) != src_bad) {
		error_set(err, "the copy disagrees with its log: %s",
		    buf_cstr(&rows));
		goto done;
	}
	if (strcmp(tid, id) != 0 || h.nreleases != want->releases ||
	    h.nships != want->ships || n != want->events) {
		error_set(err, "the copy differs from its source");
		goto done;
	}
	ret = 0;
done:
	state_events_free(ev, n);
	state_history_free(&h);
	buf_free(&rows);
	return ret;
}

/* Runs state copy. */
static int
cmd_state_exec(struct cmd_ctx *ctx)
{
	struct state *from = NULL, *to = NULL;
	struct state_copy_counts c;
	struct buf err = BUF_INIT;
	struct stat sb;
	const char *src, *dst, *id;
	char *wsrc = NULL, *wdst = NULL;
	long src_bad = 0;
	int rc, created = 0;

	if (strcmp(ctx->args[0], "copy") != 0 || ctx->nargs != 3) {
		fprintf(stderr, "excon state: expected 'copy FROM TO'\n\n");
		cmd_usage(stderr, ctx->entry);
		return EXCON_EXIT_USAGE;
	}
	src = ctx->args[1];
	dst = ctx->args[2];
	wsrc = cmd_loc_where(ctx, src);
	wdst = cmd_loc_where(ctx, dst);
	if (strcmp(wsrc, wdst) == 0) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "FROM and TO are the same store "
		    "(%s)", wsrc);
		goto done;
	}
	if ((rc = cmd_store_open(ctx, src, 0, &from)) != 0)
		goto done;
	if ((src_bad = rows_disagreeing(from, &err)) < 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	/* A dry run creates nothing: a missing target is empty. */
	if (ctx->dry_run && !state_location_is_pg(dst) &&
	    strcmp(dst, "database") != 0 && stat(dst, &sb) != 0)
		to = NULL;
	else if (ctx->dry_run && (state_location_is_pg(dst) ||
	    strcmp(dst, "database") == 0)) {
		int absent = 0;

		if (state_open_pg(&to, strcmp(dst, "database") == 0 ?
		    cmd_conninfo(ctx) : dst, 0, &absent, &err) != 0 && !absent) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
			goto done;
		}
		buf_reset(&err);
	} else {
		created = !state_location_is_pg(dst) &&
		    strcmp(dst, "database") != 0 && stat(dst, &sb) != 0;
		if ((rc = cmd_store_open(ctx, dst, !ctx->dry_run, &to)) != 0)
			goto done;
	}
	if (to == NULL) {
		struct state_history h;
		struct state_event *ev = NULL;
		size_t n = 0;

		/* Count from's rows only: state_copy needs a target. */
		memset(&c, 0, sizeof c);
		if (state_history_load(from, &h, &err) != 0 ||
		    state_events_load(from, NULL, NULL, &ev, &n, &err) != 0) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
			goto done;
		}
		c.releases = h.nreleases;
		c.ships = h.nships;
		c.events = n;
		state_history_free(&h);
		state_events_free(ev, n);
	} else if (state_copy(from, to, ctx->dry_run, &c, &err) != 0) {
		rc = cmd_fail(strstr(buf_cstr(&err), "already holds") != NULL ?
		    EXCON_EXIT_USAGE : EXCON_EXIT_RUNTIME, "cannot copy %s to %s: "
		    "%s", wsrc, wdst, buf_cstr(&err));
		goto done;
	}
	if ((id = state_history_id(from, &err)) == NULL) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
		goto done;
	}
	if (!ctx->dry_run && copy_verify(to, id, &c, src_bad, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "copied %s to %s, but %s", wsrc,
		    wdst, buf_cstr(&err));
		goto done;
	}
	printf("%s history %s from %s to %s: %zu release%s, %zu ship%s, %zu "
	    "event%s, %zu backfill%s%s\n", ctx->dry_run ? "would copy" : "copied",
	    id, wsrc, wdst, c.releases, c.releases == 1 ? "" : "s", c.ships,
	    c.ships == 1 ? "" : "s", c.events, c.events == 1 ? "" : "s",
	    c.backfills, c.backfills == 1 ? "" : "s",
	    ctx->dry_run ? "" : src_bad ? "; verified: log intact" :
	    "; verified: log intact, rows agree");
	if (src_bad)
		printf("note: %ld row%s of %s disagree%s with its event log, and so "
		    "do%s the copy's (see 'excon log --verify')\n", src_bad,
		    src_bad == 1 ? "" : "s", wsrc, src_bad == 1 ? "s" : "",
		    src_bad == 1 ? "es" : "");
	created = 0;
	rc = EXCON_EXIT_OK;
done:
	state_close(from);
	state_close(to);
	/* A file this command created for a copy that failed goes again. */
	if (created && rc != EXCON_EXIT_OK) {
		struct buf side = BUF_INIT;

		unlink(dst);
		buf_printf(&side, "%s-wal", dst);
		unlink(buf_cstr(&side));
		buf_reset(&side);
		buf_printf(&side, "%s-shm", dst);
		unlink(buf_cstr(&side));
		buf_free(&side);
	}
	free(wsrc);
	free(wdst);
	buf_free(&err);
	return rc;
}

/* More usage text: what FROM and TO may be. */
static void
cmd_state_more(FILE *f)
{
	fputs("FROM and TO are stores as 'state:' names them: a file path (the\n"
	    "SQLite store), a PostgreSQL URI or conninfo, or 'database' (the\n"
	    "target database of --db).  TO must be empty or missing; it is\n"
	    "created as 'excon init' would.\n", f);
}

const struct cmd_entry cmd_state_entry = {
	.name = "state",
	.args = "copy FROM TO",
	.summary = "copy a whole history between stores (SQLite file and PostgreSQL)",
	.flags = CMD_CHANGES,
	.min_args = 3,
	.max_args = 3,
	.exec = cmd_state_exec,
	.more = cmd_state_more,
};
