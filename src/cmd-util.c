/*
 * What every command shares: error lines, diagnostics, loading
 * the plans (through the plan cache), finding and opening the history,
 * the database's conninfo, CI reports, gate contexts and events.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd/annotate.h"
#include "pg.h"
#include "plancache.h"
#include "report.h"
#include "sha256.h"
#include "xalloc.h"

/*
 * Prints an error line and returns code; under an annotating --format
 * github the line is also an annotation (annotate.h).
 */
int
cmd_fail(int code, const char *fmt, ...)
{
	va_list ap;
	struct buf msg = BUF_INIT;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "excon: %s\n", buf_cstr(&msg));
	annotate_error(buf_cstr(&msg));
	buf_free(&msg);
	return code;
}

/* Prints a diagnostic in compiler style (and annotates it, see annotate.h). */
void
cmd_print_diag(FILE *f, const struct plan_diag *d)
{
	if (d->pos.line > 0)
		fprintf(f, "%s:%d:%d: %s\n", d->file, d->pos.line, d->pos.col, d->msg);
	else if (strncmp(d->msg, d->file, strlen(d->file)) == 0)
		fprintf(f, "%s\n", d->msg);
	else
		fprintf(f, "%s: %s\n", d->file, d->msg);
	annotate_diag(d->file, d->pos.line, d->pos.col, d->msg);
}

/*
 * The plan cache of a project whose history is in PostgreSQL: there is no
 * state file to sit beside, so it goes in the user's cache directory
 * ($XDG_CACHE_HOME or ~/.cache)/excon/, named after the working directory
 * and the plan directories.  NULL when there is no writable place.
 */
static char *
pg_store_cache_path(const struct cmd_ctx *ctx)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	struct sha256 c;
	char *base, *dir = NULL, *cwd, hex[65];
	size_t i;

	if (xdg != NULL && *xdg == '/')
		base = xstrdup(xdg);
	else if (home != NULL && *home == '/')
		base = xasprintf("%s/.cache", home);
	else
		return NULL;
	dir = xasprintf("%s/excon", base);
	(void)mkdir(base, 0700);
	(void)mkdir(dir, 0700);
	free(base);
	if (access(dir, W_OK) != 0) {
		free(dir);
		return NULL;
	}
	sha256_init(&c);
	if ((cwd = getcwd(NULL, 0)) != NULL)
		sha256_update(&c, cwd, strlen(cwd) + 1);
	free(cwd);
	for (i = 0; ctx->cfg.plan_dirs[i] != NULL; i++)
		sha256_update(&c, ctx->cfg.plan_dirs[i],
		    strlen(ctx->cfg.plan_dirs[i]) + 1);
	sha256_final_hex(&c, hex);
	base = xasprintf("%s/plans-%.16s", dir, hex);
	free(dir);
	return base;
}

/*
 * Where the plan cache lives: beside the state file, when its directory is
 * writable; NULL when it is not or $EXCON_PLAN_CACHE=0 turns the cache off.
 * The caller owns the result.
 */
static char *
cmd_plan_cache_path(const struct cmd_ctx *ctx)
{
	const char *off = getenv("EXCON_PLAN_CACHE");
	char *path, *slash;

	if (off != NULL && strcmp(off, "0") == 0)
		return NULL;
	if (cmd_store_is_pg(ctx))
		return pg_store_cache_path(ctx);
	path = xasprintf("%s.plans", ctx->cfg.state_path);
	slash = strrchr(path, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (access(path, W_OK) != 0) {
			free(path);
			return NULL;
		}
		*slash = '/';
	}
	return path;
}

/* Loads plans from the configured directories: all, or what want needs. */
static int
load_plans(struct cmd_ctx *ctx, int lax, const char *want)
{
	char *cache;
	size_t i;
	int rc;

	if (ctx->plans_loaded)
		return 0;
	ctx->plans_loaded = 1;
	ctx->plans_some = want != NULL;
	cache = cmd_plan_cache_path(ctx);
	rc = plan_set_load_cached_for(&ctx->plans, ctx->cfg.plan_dirs, cache,
	    want, &ctx->diags);
	free(cache);
	if (rc == 0 || lax)
		return 0;
	for (i = 0; i < ctx->diags.n; i++)
		cmd_print_diag(stderr, &ctx->diags.v[i]);
	return EXCON_EXIT_USAGE;
}

/* Loads plans from the configured directories. */
int
cmd_load_plans(struct cmd_ctx *ctx, int lax)
{
	return load_plans(ctx, lax, NULL);
}

/* Loads what a command about the plan called name needs. */
int
cmd_load_plan(struct cmd_ctx *ctx, const char *name)
{
	return load_plans(ctx, 0, name);
}

/* Whether loc (a `state:` value) names a PostgreSQL store. */
static int
loc_is_pg(const char *loc)
{
	return strcmp(loc, "database") == 0 || state_location_is_pg(loc);
}

/* The conninfo of the PostgreSQL store at loc ("database": the target). */
static const char *
loc_conninfo(const struct cmd_ctx *ctx, const char *loc)
{
	return strcmp(loc, "database") == 0 ? cmd_conninfo(ctx) : loc;
}

/* Where loc's history lives, quoted and without a password; owned. */
char *
cmd_loc_where(const struct cmd_ctx *ctx, const char *loc)
{
	char *r, *q;

	if (!loc_is_pg(loc))
		return xasprintf("'%s'", loc);
	r = pg_conninfo_redact(loc_conninfo(ctx, loc));
	q = r[0] != '\0' ? xasprintf("'%s'", r) :
	    xstrdup("the PG* environment's database");
	free(r);
	return q;
}

/*
 * The exit code for a command that needs a history where there is none:
 * names where it looked and how to create one or reach the shared one.
 */
static int
no_history_at(const struct cmd_ctx *ctx, const char *loc)
{
	char *where = cmd_loc_where(ctx, loc);

	cmd_fail(EXCON_EXIT_USAGE, "no history at %s: run 'excon init' "
	    "to create one, or point --state, EXCON_STATE or 'state:' in "
	    "excon.yaml at the team's store", where);
	free(where);
	return EXCON_EXIT_USAGE;
}

/* Says that there is no history where the config points; returns 2. */
int
cmd_no_history(const struct cmd_ctx *ctx)
{
	return no_history_at(ctx, ctx->cfg.state_path);
}

/* Whether the history lives in PostgreSQL (a URI, conninfo or "database"). */
int
cmd_store_is_pg(const struct cmd_ctx *ctx)
{
	return loc_is_pg(ctx->cfg.state_path);
}

/* Where the configured history lives, quoted, without a password; owned. */
char *
cmd_store_where(const struct cmd_ctx *ctx)
{
	return cmd_loc_where(ctx, ctx->cfg.state_path);
}

/*
 * Whether the configured store exists.  An empty file exists: opening it
 * says it is not an excon store, rather than claiming nothing is there.
 */
int
cmd_have_state(const struct cmd_ctx *ctx)
{
	struct stat sb;

	/* A PostgreSQL store is known to exist only once connected. */
	return ctx->st != NULL || cmd_store_is_pg(ctx) ||
	    stat(ctx->cfg.state_path, &sb) == 0;
}

/* Opens the store at loc into *out; see cmd.h.  Returns an exit code. */
int
cmd_store_open(struct cmd_ctx *ctx, const char *loc, int create,
    struct state **out)
{
	struct buf err = BUF_INIT;
	struct stat sb;
	int absent = 0, rc = 0;

	*out = NULL;
	if (loc_is_pg(loc)) {
		if (state_open_pg(out, loc_conninfo(ctx, loc), create, &absent,
		    &err) != 0)
			rc = absent ? no_history_at(ctx, loc) :
			    cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
	} else if (!create && stat(loc, &sb) != 0)
		rc = no_history_at(ctx, loc);
	else if (state_open(out, loc, create, &err) != 0)
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
	buf_free(&err);
	return rc;
}

/*
 * Opens the store.  Only `excon init` passes create: every other command
 * that finds no store exits 2 (cmd_no_history) rather than starting an
 * empty history silently.
 */
int
cmd_open_state(struct cmd_ctx *ctx, int create)
{
	if (ctx->st != NULL)
		return 0;
	return cmd_store_open(ctx, ctx->cfg.state_path, create, &ctx->st);
}

/* Whether a database is configured. */
int
cmd_have_db(const struct cmd_ctx *ctx)
{
	static const char *const vars[] = { "PGHOST", "PGDATABASE", "PGSERVICE",
	    "PGHOSTADDR", NULL };
	int i;

	if (ctx->cfg.database != NULL && ctx->cfg.database[0] != '\0')
		return 1;
	for (i = 0; vars[i] != NULL; i++) {
		const char *v = getenv(vars[i]);

		if (v != NULL && *v != '\0')
			return 1;
	}
	return 0;
}

/* The conninfo to use. */
const char *
cmd_conninfo(const struct cmd_ctx *ctx)
{
	return ctx->cfg.database != NULL ? ctx->cfg.database : "";
}

/* Writes a buffer to stdout. */
void
cmd_out(const struct buf *b)
{
	fwrite(buf_cstr(b), 1, b->len, stdout);
}

/* Writes and empties b once it holds a chunk's worth. */
void
cmd_out_chunk(struct buf *b)
{
	if (b->len < 64 * 1024)
		return;
	cmd_out(b);
	buf_reset(b);
}

/* Writes a CI report, and the job summary for GitHub. */
int
cmd_report(const struct cmd_ctx *ctx, const char *command,
    const struct findings *f, const char *const *units, size_t nunits)
{
	static const enum report_format map[] = {
		[FORMAT_GITHUB] = REPORT_GITHUB, [FORMAT_GITLAB] = REPORT_GITLAB,
		[FORMAT_JUNIT] = REPORT_JUNIT, [FORMAT_SARIF] = REPORT_SARIF,
		[FORMAT_MARKDOWN] = REPORT_MARKDOWN,
	};
	struct report r = { command, f, units, nunits };
	struct buf out = BUF_INIT;
	const char *path = getenv("GITHUB_STEP_SUMMARY");
	FILE *fp;
	int rc = EXCON_EXIT_OK;

	assert(ctx->format >= FORMAT_GITHUB && ctx->format <= FORMAT_MARKDOWN);
	report_write(map[ctx->format], &r, &out);
	cmd_out(&out);
	if (ctx->format != FORMAT_GITHUB || path == NULL || *path == '\0')
		goto done;
	buf_reset(&out);
	report_write(REPORT_MARKDOWN, &r, &out);
	if ((fp = fopen(path, "a")) == NULL ||
	    fwrite(buf_cstr(&out), 1, out.len, fp) != out.len) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "cannot append the job summary to "
		    "'%s': %s", path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		goto done;
	}
	if (fclose(fp) != 0)
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "cannot append the job summary to "
		    "'%s': %s", path, strerror(errno));
done:
	buf_free(&out);
	return rc;
}


/*
 * Loads the history, in a write transaction when asked: every ship, or
 * when only some plans were loaded, only theirs.
 */
int
cmd_history(struct cmd_ctx *ctx, struct state_history *h, int write)
{
	struct buf err = BUF_INIT;
	char **names = NULL;
	size_t i;
	int rc, failed;

	memset(h, 0, sizeof *h);
	if ((rc = cmd_open_state(ctx, 0)) != 0)
		return rc;
	if (write && state_begin(ctx->st, &err) != 0)
		goto fail;
	if (ctx->plans_some) {
		names = xcalloc(ctx->plans.nplans + 1, sizeof *names);
		for (i = 0; i < ctx->plans.nplans; i++)
			names[i] = ctx->plans.plans[i]->name.s;
		failed = state_history_load_plans(ctx->st, h, names,
		    ctx->plans.nplans, &err) != 0;
		free(names);
	} else
		failed = state_history_load(ctx->st, h, &err) != 0;
	if (failed) {
		if (write)
			state_rollback(ctx->st);
		goto fail;
	}
	return 0;
fail:
	rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
	buf_free(&err);
	return rc;
}

/* The history read on a second thread while the plans load. */
struct history_job {
	const struct cmd_ctx	*ctx;
	struct state		*st;
	struct state_history	*h;
	int			 ok;
};

/*
 * Opens the store and reads the whole history, printing nothing: any
 * failure is left to cmd_history, which the caller then runs to say why.
 */
static void *
history_job_run(void *arg)
{
	struct history_job *j = arg;
	const char *loc = j->ctx->cfg.state_path;
	struct buf err = BUF_INIT;
	struct stat sb;
	int absent = 0;

	if (loc_is_pg(loc))
		j->ok = state_open_pg(&j->st, loc_conninfo(j->ctx, loc), 0,
		    &absent, &err) == 0;
	else
		j->ok = stat(loc, &sb) == 0 &&
		    state_open(&j->st, loc, 0, &err) == 0;
	if (j->ok && state_history_load(j->st, j->h, &err) != 0)
		j->ok = 0;
	buf_free(&err);
	return NULL;
}

/*
 * Loads every plan and the whole history, as cmd_load_plans and then
 * cmd_history would, but both at once: the store is opened and read on a
 * second thread while this one reads the plan files and their cache.  The
 * two share nothing (the plan cache's path comes from the configuration,
 * not from the open store), and at ten thousand plans each is tens of
 * milliseconds, most of it in the kernel (a stat per plan file, the
 * history's pages).  When the thread cannot start or the store fails, the
 * history is read again the plain way, which prints why, exactly as
 * before.
 */
int
cmd_load_plans_history(struct cmd_ctx *ctx, struct state_history *h)
{
	struct history_job j = { ctx, NULL, h, 0 };
	pthread_t t;
	int rc, started;

	memset(h, 0, sizeof *h);
	started = ctx->st == NULL &&
	    pthread_create(&t, NULL, history_job_run, &j) == 0;
	rc = cmd_load_plans(ctx, 0);
	if (started)
		pthread_join(t, NULL);
	if (rc == 0 && started && j.ok) {
		ctx->st = j.st;
		return 0;
	}
	state_history_free(h);
	state_close(j.st);
	if (rc != 0)
		return rc;
	return cmd_history(ctx, h, 0);
}

/* Fills a gate context for the plans and history. */
void
cmd_gate(const struct cmd_ctx *ctx, const struct state_history *h,
    struct gate_ctx *g)
{
	memset(g, 0, sizeof *g);
	g->plans = &ctx->plans;
	g->hist = h;
	g->default_contract_after = ctx->cfg.contract_after;
	g->probe = ctx->cfg.probe == CONFIG_PROBE_OFF ? GATE_PROBE_OFF :
	    ctx->cfg.probe == CONFIG_PROBE_REQUIRED ? GATE_PROBE_REQUIRED :
	    GATE_PROBE_ADVISORY;
}

/* Appends an event. */
int
cmd_event(struct cmd_ctx *ctx, const char *kind, const char *plan,
    const char *step, const char *release, const char *detail,
    const char *reason, struct buf *err)
{
	struct state_event ev;
	int rc;

	memset(&ev, 0, sizeof ev);
	ev.actor = state_actor();
	ev.kind = (char *)kind;
	ev.plan = (char *)plan;
	ev.step = (char *)step;
	ev.release = (char *)release;
	ev.detail = (char *)detail;
	ev.reason = (char *)reason;
	rc = state_event_append(ctx->st, &ev, err);
	free(ev.actor);
	return rc;
}
