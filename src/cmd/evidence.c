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

/* The number of servers the probe reads: the database and each replica. */
static size_t
nservers(const struct cmd_ctx *ctx)
{
	size_t n = 1;

	while (ctx->cfg.replicas != NULL && ctx->cfg.replicas[n - 1] != NULL)
		n++;
	return n;
}

/*
 * The conninfo of server i (borrowed) and its name in evidence (owned):
 * "database", or "replica <conninfo without its password>".
 */
static const char *
server(const struct cmd_ctx *ctx, size_t i, char **where)
{
	char *red;

	if (i == 0) {
		*where = xstrdup("database");
		return cmd_conninfo(ctx);
	}
	red = pg_conninfo_redact(ctx->cfg.replicas[i - 1]);
	*where = xasprintf("replica %s", red);
	free(red);
	return ctx->cfg.replicas[i - 1];
}

/* Takes and records a snapshot. */
int
evidence_snapshot(struct cmd_ctx *ctx, const struct plan *p,
    const char *reason, char **missing, struct buf *err)
{
	struct pg *db = NULL;
	struct buf snap = BUF_INIT;
	char *app = xasprintf("excon %s/probe", p->name.s), *where = NULL;
	size_t i, n = nservers(ctx);
	int ret = -1;

	if (n == 1)
		buf_puts(&snap, "pg_stat_statements snapshot of the database\n");
	else
		buf_printf(&snap, "pg_stat_statements snapshot of the database and "
		    "%zu replica%s\n", n - 1, n == 2 ? "" : "s");
	for (i = 0; i < n; i++) {
		const char *ci = server(ctx, i, &where);

		if (pg_connect(&db, ci, app, err) != 0 ||
		    probe_snapshot(db, where, &snap, missing, err) != 0)
			goto done;
		pg_close(db);
		db = NULL;
		if (*missing != NULL) {
			char *m = xasprintf("%s: %s", where, *missing);

			free(*missing);
			*missing = m;
			ret = 0;
			goto done;
		}
		free(where);
		where = NULL;
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
	free(where);
	return ret;
}

/* One server as the cache keeps it. */
struct evidence_server {
	int			 opened;	/* connecting was tried */
	char			*where;		/* its name in evidence */
	struct pg		*db;
	struct probe_stats	*stats;
	char			*error;		/* "where: why" it cannot be read */
};

/*
 * What gathering the evidence of many plans reads once: a connection to
 * each server and its statistics, and the history's snapshots.
 */
struct evidence_cache {
	struct evidence_server	*srv;		/* nservers() of them */
	size_t			 nsrv;
	struct state_event	*snaps;
	size_t			 nsnaps;
	int			 loaded;	/* snaps read */
	char			*app;		/* application_name */
	int			 single;	/* serves one plan only */
	struct use_target	*all;		/* every plan's targets */
	size_t			 nall;
};

/* A new, empty cache. */
struct evidence_cache *
evidence_cache_new(void)
{
	struct evidence_cache *c = xcalloc(1, sizeof *c);

	c->app = xstrdup("excon probe");
	return c;
}

/* Closes the connections and frees the cache (NULL-safe). */
void
evidence_cache_free(struct evidence_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nsrv; i++) {
		pg_close(c->srv[i].db);
		probe_stats_free(c->srv[i].stats);
		free(c->srv[i].where);
		free(c->srv[i].error);
	}
	free(c->srv);
	state_events_free(c->snaps, c->nsnaps);
	free(c->app);
	free(c->all);
	free(c);
}

/*
 * Server k of the cache, connected and its statistics read on first use.
 * A server that cannot be read keeps its error, so that it is tried once
 * per command, not once per plan.
 */
static struct evidence_server *
cache_server(struct cmd_ctx *ctx, struct evidence_cache *c, size_t k)
{
	struct evidence_server *s;
	struct buf err = BUF_INIT;
	const char *ci;

	if (c->srv == NULL) {
		c->nsrv = nservers(ctx);
		c->srv = xcalloc(c->nsrv, sizeof *c->srv);
	}
	s = &c->srv[k];
	if (s->opened)
		return s;
	s->opened = 1;
	ci = server(ctx, k, &s->where);
	if (pg_connect(&s->db, ci, c->app, &err) != 0 ||
	    probe_stats_read(s->db, &s->stats, &err) != 0)
		s->error = xasprintf("%s: %s", s->where, buf_cstr(&err));
	else if (k == 0 && !c->single) {
		/* The catalog (read on the database) for every plan at once. */
		size_t i, j, n;

		for (i = 0; i < ctx->plans.nplans; i++) {
			struct use_target *t = NULL;

			n = probe_targets(ctx->plans.plans[i], &t);
			c->all = xrealloc(c->all, (c->nall + n + 1) * sizeof *c->all);
			for (j = 0; j < n; j++)
				c->all[c->nall++] = t[j];
			free(t);
		}
		probe_stats_targets(s->stats, c->all, c->nall);
	}
	buf_free(&err);
	return s;
}

/* Gathers p's evidence through c. */
int
evidence_gather_cached(struct cmd_ctx *ctx, struct evidence_cache *c,
    const struct plan *p, struct evidence *e, struct buf *err)
{
	struct use_target *t = NULL;
	const char *snap = NULL;
	size_t n, i, k;
	int ret = -1;

	memset(e, 0, sizeof *e);
	buf_init(&e->lines);
	n = probe_targets(p, &t);
	if (!c->loaded) {
		if (state_events_load(ctx->st, NULL, EVIDENCE_EVENT, &c->snaps,
		    &c->nsnaps, err) != 0)
			goto done;
		c->loaded = 1;
	}
	/* The latest snapshot of p: events come oldest first. */
	for (i = c->nsnaps; i > 0; i--)
		if (c->snaps[i - 1].plan != NULL &&
		    strcmp(c->snaps[i - 1].plan, p->name.s) == 0) {
			snap = c->snaps[i - 1].detail;
			e->since = c->snaps[i - 1].at;
			break;
		}
	for (k = 0; k < nservers(ctx); k++) {
		struct evidence_server *s = cache_server(ctx, c, k);

		if (s->error != NULL) {
			buf_reset(err);
			buf_puts(err, s->error);
			goto done;
		}
		/* The catalog is the same on a standby: read it once. */
		if (probe_collect_stats(s->db, s->stats, s->where, snap, k == 0, t,
		    n, &e->res, err) != 0) {
			char *m = xasprintf("%s: %s", s->where, buf_cstr(err));

			buf_reset(err);
			buf_puts(err, m);
			free(m);
			goto done;
		}
	}
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
	free(t);
	return ret;
}

/* Gathers p's evidence alone. */
int
evidence_gather(struct cmd_ctx *ctx, const struct plan *p, struct evidence *e,
    struct buf *err)
{
	struct evidence_cache *c = evidence_cache_new();
	int ret = -1;

	/* One plan: its own snapshots, its name on the connections. */
	free(c->app);
	c->app = xasprintf("excon %s/probe", p->name.s);
	c->single = 1;
	if (state_events_load(ctx->st, p->name.s, EVIDENCE_EVENT, &c->snaps,
	    &c->nsnaps, err) != 0) {
		memset(e, 0, sizeof *e);
		buf_init(&e->lines);
		goto done;
	}
	c->loaded = 1;
	ret = evidence_gather_cached(ctx, c, p, e, err);
done:
	evidence_cache_free(c);
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
