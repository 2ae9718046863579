/*
 * Rule 9 for the command layer (see evidence.h).  Snapshots live in the
 * history as events, so that both stores keep them, hash-chained, with
 * who took them and why: the first line of the detail is for people, the
 * following "queryid calls" lines for the probe.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd/evidence.h"
#include "gate.h"
#include "out.h"
#include "xalloc.h"

/* Whether rule 9 is about p now. */
int
evidence_pending(const struct cmd_ctx *ctx, const struct state_history *h,
    const struct plan *p)
{
	struct use_target *t = NULL;
	struct gate_ctx g;
	struct gate_window w;
	size_t n = probe_targets(p, &t);

	free(t);
	if (n == 0)
		return 0;
	cmd_gate(ctx, h, &g);
	gate_window(&g, p, &w);
	return w.contract >= 0 && !w.shipped && w.last_nc_seq > 0;
}

/* Takes and records a snapshot. */
int
evidence_snapshot(struct cmd_ctx *ctx, const struct plan *p,
    const char *reason, char **missing, struct buf *err)
{
	struct pg *db = NULL;
	struct buf snap = BUF_INIT;
	char *app = xasprintf("excon %s/probe", p->name.s);
	int ret = -1;

	if (pg_connect(&db, cmd_conninfo(ctx), app, err) != 0 ||
	    probe_snapshot(db, &snap, missing, err) != 0)
		goto done;
	if (*missing != NULL) {
		ret = 0;
		goto done;
	}
	if (state_begin(ctx->st, err) != 0)
		goto done;
	if (cmd_event(ctx, EVIDENCE_EVENT, p->name.s, NULL, NULL,
	    buf_cstr(&snap), reason, err) != 0 ||
	    state_commit(ctx->st, err) != 0) {
		state_rollback(ctx->st);
		goto done;
	}
	ret = 0;
done:
	pg_close(db);
	buf_free(&snap);
	free(app);
	return ret;
}

/* Gathers p's evidence. */
int
evidence_gather(struct cmd_ctx *ctx, const struct plan *p, struct evidence *e,
    struct buf *err)
{
	struct state_event *ev = NULL;
	struct use_target *t = NULL;
	struct pg *db = NULL;
	const char *snap = NULL;
	char *app = xasprintf("excon %s/probe", p->name.s);
	size_t nev = 0, n, i;
	int ret = -1;

	memset(e, 0, sizeof *e);
	buf_init(&e->lines);
	n = probe_targets(p, &t);
	if (state_events_load(ctx->st, p->name.s, EVIDENCE_EVENT, &ev, &nev,
	    err) != 0)
		goto done;
	if (nev > 0) {
		snap = ev[nev - 1].detail;
		e->since = ev[nev - 1].at;
	}
	if (pg_connect(&db, cmd_conninfo(ctx), app, err) != 0 ||
	    probe_collect(db, "database", snap, t, n, &e->res, err) != 0)
		goto done;
	if (snap == NULL && e->res.gathered && e->res.reset == NULL)
		e->res.reset = xstrdup("no snapshot was taken when the window "
		    "opened: every call recorded so far counts ('excon probe PLAN "
		    "--restart --reason TEXT' takes one)");
	for (i = 0; i < e->res.nuses; i++) {
		const struct probe_use *u = &e->res.uses[i];

		if (u->calls > 0)
			buf_printf(&e->lines, "  %lld call%s on the %s: %s\n",
			    (long long)u->calls, u->calls == 1 ? "" : "s", u->where,
			    u->text);
		else
			buf_printf(&e->lines, "  %s (on the %s)\n", u->text, u->where);
	}
	e->gate.plan = p->name.s;
	e->gate.gathered = e->res.gathered;
	e->gate.missing = e->res.missing;
	e->gate.nuses = e->res.nuses;
	e->gate.uses = buf_cstr(&e->lines);
	ret = 0;
done:
	state_events_free(ev, nev);
	pg_close(db);
	free(t);
	free(app);
	return ret;
}

/* Frees an evidence. */
void
evidence_free(struct evidence *e)
{
	if (e == NULL)
		return;
	probe_result_free(&e->res);
	buf_free(&e->lines);
	memset(e, 0, sizeof *e);
}
