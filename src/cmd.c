/*
 * The command table, the one option parser, usage text, and the helpers
 * every command shares (loading plans, opening the state file).
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd/annotate.h"
#include "out.h"
#include "pg.h"
#include "plancache.h"
#include "report.h"
#include "sha256.h"
#include "xalloc.h"

extern const struct cmd_entry cmd_init_entry, cmd_new_entry, cmd_lint_entry,
    cmd_release_entry, cmd_status_entry, cmd_advance_entry,
    cmd_rollback_entry, cmd_compat_entry, cmd_check_entry, cmd_audit_entry,
    cmd_log_entry, cmd_verify_entry, cmd_state_entry, cmd_help_entry,
    cmd_version_entry, cmd_completion_entry, cmd_probe_entry;

const struct cmd_entry *const cmd_table[] = {
	&cmd_init_entry,
	&cmd_new_entry,
	&cmd_lint_entry,
	&cmd_release_entry,
	&cmd_status_entry,
	&cmd_advance_entry,
	&cmd_rollback_entry,
	&cmd_compat_entry,
	&cmd_check_entry,
	&cmd_audit_entry,
	&cmd_log_entry,
	&cmd_verify_entry,
	&cmd_probe_entry,
	&cmd_state_entry,
	&cmd_help_entry,
	&cmd_version_entry,
	&cmd_completion_entry,
	NULL
};

/* Options every command takes, whatever its flags say about the rest. */
static const struct cmd_opt global_opts[] = {
	{ "config", OPT_STR, "FILE", "configuration file (default ./excon.yaml)" },
	{ "state", OPT_STR, "FILE", "the history: a file, a PostgreSQL URI or conninfo, or 'database' (default state/excon.db)" },
	{ "plans", OPT_STR, "DIRS", "plan directories, ':'-separated (default plans)" },
	{ "help", OPT_BOOL, NULL, "show this help" },
	{ NULL, 0, NULL, NULL }
};
static const struct cmd_opt db_opt =
	{ "db", OPT_STR, "CONNINFO", "PostgreSQL conninfo or URI" };
static const struct cmd_opt format_opt =
	{ "format", OPT_STR, "FMT", "output format: text or json" };
static const struct cmd_opt format_gh_opt =
	{ "format", OPT_STR, "FMT", "output format: text, json, github, gitlab, junit, sarif or markdown" };
static const struct cmd_opt format_html_opt =
	{ "format", OPT_STR, "FMT", "output format: text, json, github, gitlab, junit, sarif, markdown or html" };
static const struct cmd_opt format_annotate_opt =
	{ "format", OPT_STR, "FMT", "output format: text, json or github (refusals as annotations)" };
static const struct cmd_opt dry_opt =
	{ "dry-run", OPT_BOOL, NULL, "print the SQL and state changes, change nothing" };

/* Finds a command by name. */
static const struct cmd_entry *
cmd_find(const char *name)
{
	int i;

	for (i = 0; cmd_table[i] != NULL; i++)
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
	return NULL;
}

/*
 * The command closest to a mistyped name: the only command it begins, or
 * one a typo or two away; NULL when nothing is close.
 */
static const char *
cmd_suggest(const char *name)
{
	const char *names[32], *prefix = NULL;
	size_t n = 0, len = strlen(name);
	int i, nprefix = 0;

	for (i = 0; cmd_table[i] != NULL && n < 31; i++) {
		names[n++] = cmd_table[i]->name;
		if (len > 0 && strncmp(cmd_table[i]->name, name, len) == 0) {
			prefix = cmd_table[i]->name;
			nprefix++;
		}
	}
	names[n] = NULL;
	if (nprefix == 1)
		return prefix;
	return plan_nearest_name(name, names, n);
}

/* Prints one option line of a usage text. */
static void
usage_opt(FILE *f, const struct cmd_opt *o)
{
	char left[64];

	snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "",
	    o->arg ? o->arg : "");
	fprintf(f, "  %-22s %s\n", left, o->help);
}

/* Prints usage of one command, or the command list. */
void
cmd_usage(FILE *f, const struct cmd_entry *e)
{
	const struct cmd_opt *o;
	int i;

	if (e == NULL) {
		fprintf(f, "usage: excon [--config FILE] [--state STORE] [--plans DIRS] "
		    "[--db CONNINFO] COMMAND [ARGS]\n\ncommands:\n");
		for (i = 0; cmd_table[i] != NULL; i++)
			fprintf(f, "  %-10s %s\n", cmd_table[i]->name,
			    cmd_table[i]->summary);
		fprintf(f, "\nrun 'excon help COMMAND' for the options of a "
		    "command\n");
		return;
	}
	fprintf(f, "usage: excon %s%s%s\n\n%s\n\noptions:\n", e->name,
	    e->args[0] ? " " : "", e->args, e->summary);
	for (o = e->opts; o != NULL && o->name != NULL; o++)
		usage_opt(f, o);
	if (e->flags & CMD_DB)
		usage_opt(f, &db_opt);
	if (e->flags & CMD_CHANGES)
		usage_opt(f, &dry_opt);
	if (e->flags & CMD_REPORTS)
		usage_opt(f, (e->flags & CMD_HTML) ? &format_html_opt :
		    (e->flags & CMD_GITHUB) ? &format_gh_opt :
		    (e->flags & CMD_ANNOTATE) ? &format_annotate_opt : &format_opt);
	for (o = global_opts; o->name != NULL; o++)
		usage_opt(f, o);
	if (e->more != NULL) {
		fputc('\n', f);
		e->more(f);
	}
}

/* Looks up an option by name in a command's table; *idx gets its index. */
static const struct cmd_opt *
opt_lookup(const struct cmd_entry *e, const char *name, int *idx)
{
	const struct cmd_opt *o;

	*idx = -1;
	for (o = e->opts; o != NULL && o->name != NULL; o++)
		if (strcmp(o->name, name) == 0) {
			*idx = (int)(o - e->opts);
			return o;
		}
	/* --db is global: a wrapper may pass it to a command that has no use for it. */
	if (strcmp(name, "db") == 0)
		return &db_opt;
	if ((e->flags & CMD_CHANGES) && strcmp(name, "dry-run") == 0)
		return &dry_opt;
	if ((e->flags & CMD_REPORTS) && strcmp(name, "format") == 0)
		return &format_opt;
	for (o = global_opts; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* Global options that may come before the command name take a value. */
static int
global_takes_value(const char *arg)
{
	static const char *const v[] = { "--config", "--state", "--plans",
	    "--db", "--format", NULL };
	int i;

	for (i = 0; v[i] != NULL; i++)
		if (strcmp(arg, v[i]) == 0)
			return 1;
	return 0;
}

/* Appends a value to a NULL-terminated list. */
static void
list_add(char ***list, const char *v)
{
	size_t n = 0;

	while (*list != NULL && (*list)[n] != NULL)
		n++;
	*list = xrealloc(*list, (n + 2) * sizeof **list);
	(*list)[n] = (char *)v;
	(*list)[n + 1] = NULL;
}

/*
 * Parses argv (after argv[0]): global options anywhere, the command name,
 * then its options and positional arguments.  Returns -1 after printing a
 * message on a usage error, 1 when --help was given, else 0.
 */
static int
cmd_parse(struct cmd_ctx *ctx, int argc, char **argv, const char **flags_out)
{
	const char *cmdname = NULL;
	int i, dashdash = 0, help = 0;

	/* Find the command name first: skip global options and their values. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (argv[i][0] == '-') {
			if (global_takes_value(argv[i]))
				i++;
			continue;
		}
		cmdname = argv[i];
		break;
	}
	if (cmdname == NULL) {
		for (i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				cmd_usage(stdout, NULL);
				return 1;
			}
			if (strcmp(argv[i], "--version") == 0 ||
			    strcmp(argv[i], "-V") == 0) {
				ctx->entry = cmd_find("version");
				return 0;
			}
		}
		cmd_usage(stderr, NULL);
		return -1;
	}
	ctx->entry = cmd_find(cmdname);
	if (ctx->entry == NULL) {
		const char *sug = cmd_suggest(cmdname);

		fprintf(stderr, "excon: unknown command '%s'%s%s%s\n\n", cmdname,
		    sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
		cmd_usage(stderr, NULL);
		return -1;
	}
	ctx->args = xcalloc((size_t)argc + 1, sizeof *ctx->args);
	for (i = 1; i < argc; i++) {
		const struct cmd_opt *o;
		char *name, *eq, *value = NULL;
		enum report_format rf;
		int idx;

		if (argv[i] == cmdname)
			continue;
		if (dashdash || argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
			ctx->args[ctx->nargs++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			dashdash = 1;
			continue;
		}
		if (strcmp(argv[i], "-h") == 0) {
			help = 1;
			continue;
		}
		if (argv[i][1] != '-') {
			fprintf(stderr, "excon %s: unknown option '%s'\n\n",
			    ctx->entry->name, argv[i]);
			cmd_usage(stderr, ctx->entry);
			return -1;
		}
		name = xstrdup(argv[i] + 2);
		if ((eq = strchr(name, '=')) != NULL) {
			*eq = '\0';
			value = argv[i] + 2 + (eq - name) + 1;
		}
		o = opt_lookup(ctx->entry, name, &idx);
		if (o == NULL) {
			fprintf(stderr, "excon %s: unknown option '--%s'\n\n",
			    ctx->entry->name, name);
			free(name);
			cmd_usage(stderr, ctx->entry);
			return -1;
		}
		free(name);
		if (o->type == OPT_BOOL) {
			if (value != NULL) {
				fprintf(stderr, "excon %s: option '--%s' takes no value\n",
				    ctx->entry->name, o->name);
				return -1;
			}
			value = (char *)"1";
		} else if (value == NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "excon %s: option '--%s' needs a value "
				    "(%s)\n", ctx->entry->name, o->name, o->arg);
				return -1;
			}
			value = argv[++i];
		}
		if (o == &global_opts[3]) {
			help = 1;
		} else if (o == &global_opts[0]) {
			flags_out[0] = value;
		} else if (o == &global_opts[1]) {
			flags_out[1] = value;
		} else if (o == &global_opts[2]) {
			flags_out[2] = value;
		} else if (o == &db_opt) {
			flags_out[3] = value;
		} else if (o == &dry_opt) {
			ctx->dry_run = 1;
		} else if (o == &format_opt) {
			if (strcmp(value, "text") == 0)
				ctx->format = FORMAT_TEXT;
			else if (strcmp(value, "json") == 0)
				ctx->format = FORMAT_JSON;
			else if ((ctx->entry->flags & CMD_GITHUB) &&
			    report_format_parse(value, &rf) == 0)
				ctx->format = FORMAT_GITHUB + (int)(rf - REPORT_GITHUB);
			else if ((ctx->entry->flags & CMD_HTML) &&
			    strcmp(value, "html") == 0)
				ctx->format = FORMAT_HTML;
			else if ((ctx->entry->flags & CMD_ANNOTATE) &&
			    strcmp(value, "github") == 0)
				ctx->format = FORMAT_GITHUB;
			else {
				fprintf(stderr, "excon %s: unknown format '%s' (expected "
				    "text%s)\n", ctx->entry->name, value,
				    (ctx->entry->flags & CMD_HTML) ? ", json, github, gitlab, "
				    "junit, sarif, markdown or html" :
				    (ctx->entry->flags & CMD_GITHUB) ? ", json, github, gitlab, "
				    "junit, sarif or markdown" : (ctx->entry->flags &
				    CMD_ANNOTATE) ? ", json or github" : " or json");
				return -1;
			}
		} else if (idx >= 0 && idx < CMD_MAX_OPTS) {
			ctx->val[idx] = value;
			if (o->type == OPT_LIST)
				list_add(&ctx->list[idx], value);
		}
	}
	if (help) {
		cmd_usage(stdout, ctx->entry);
		return 1;
	}
	if (ctx->nargs < ctx->entry->min_args ||
	    (ctx->entry->max_args >= 0 && ctx->nargs > ctx->entry->max_args)) {
		fprintf(stderr, "excon %s: %s arguments\n\n", ctx->entry->name,
		    ctx->nargs < ctx->entry->min_args ? "missing" : "too many");
		cmd_usage(stderr, ctx->entry);
		return -1;
	}
	return 0;
}

/* Value of an option of the running command. */
const char *
cmd_opt(const struct cmd_ctx *ctx, const char *name)
{
	int idx;

	if (opt_lookup(ctx->entry, name, &idx) == NULL || idx < 0)
		return NULL;
	return ctx->val[idx];
}

/* Values of a repeatable option. */
char **
cmd_opt_list(const struct cmd_ctx *ctx, const char *name)
{
	int idx;

	if (opt_lookup(ctx->entry, name, &idx) == NULL || idx < 0)
		return NULL;
	return ctx->list[idx];
}

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

/* Loads plans from the configured directories. */
int
cmd_load_plans(struct cmd_ctx *ctx, int lax)
{
	char *cache;
	size_t i;
	int rc;

	if (ctx->plans_loaded)
		return 0;
	ctx->plans_loaded = 1;
	cache = cmd_plan_cache_path(ctx);
	rc = plan_set_load_cached(&ctx->plans, ctx->cfg.plan_dirs, cache,
	    &ctx->diags);
	free(cache);
	if (rc == 0 || lax)
		return 0;
	for (i = 0; i < ctx->diags.n; i++)
		cmd_print_diag(stderr, &ctx->diags.v[i]);
	return EXCON_EXIT_USAGE;
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

/* Frees everything the context owns. */
static void
ctx_free(struct cmd_ctx *ctx)
{
	int i;

	state_close(ctx->st);
	plan_set_free(&ctx->plans);
	plan_diags_free(&ctx->diags);
	config_free(&ctx->cfg);
	for (i = 0; i < CMD_MAX_OPTS; i++)
		free(ctx->list[i]);
	free(ctx->args);
}

/* Parses, configures and runs one command. */
int
cmd_main(int argc, char **argv)
{
	struct cmd_ctx ctx;
	struct buf err = BUF_INIT;
	const char *flags[4] = { NULL, NULL, NULL, NULL };
	int rc;

	memset(&ctx, 0, sizeof ctx);
	config_init(&ctx.cfg);
	rc = cmd_parse(&ctx, argc, argv, flags);
	if (rc != 0) {
		rc = rc > 0 ? EXCON_EXIT_OK : EXCON_EXIT_USAGE;
		goto done;
	}
	ctx.color = out_color(stdout);
	/* Precedence: flag > environment > excon.yaml > default. */
	if (config_load(&ctx.cfg, flags[0], &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "%s", buf_cstr(&err));
		goto done;
	}
	if (flags[1] != NULL)
		config_set_str(&ctx.cfg.state_path, flags[1]);
	if (flags[2] != NULL)
		config_set_plans(&ctx.cfg, flags[2]);
	if (flags[3] != NULL) {
		config_set_str(&ctx.cfg.database, flags[3]);
		ctx.cfg.database_set = 1;
	}
	rc = ctx.entry->exec(&ctx);
done:
	fflush(stdout);
	buf_free(&err);
	ctx_free(&ctx);
	return rc;
}

/* Loads the history, in a write transaction when asked. */
int
cmd_history(struct cmd_ctx *ctx, struct state_history *h, int write)
{
	struct buf err = BUF_INIT;
	int rc;

	memset(h, 0, sizeof *h);
	if ((rc = cmd_open_state(ctx, 0)) != 0)
		return rc;
	if (write && state_begin(ctx->st, &err) != 0)
		goto fail;
	if (state_history_load(ctx->st, h, &err) != 0) {
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

/* The options command e accepts: its own, the shared ones, the global ones. */
int
cmd_opts_all(const struct cmd_entry *e, const struct cmd_opt **v, int max)
{
	const struct cmd_opt *o;
	int n = 0;

	for (o = e->opts; o != NULL && o->name != NULL && n < max; o++)
		v[n++] = o;
	if ((e->flags & CMD_DB) && n < max)
		v[n++] = &db_opt;
	if ((e->flags & CMD_CHANGES) && n < max)
		v[n++] = &dry_opt;
	if ((e->flags & CMD_REPORTS) && n < max)
		v[n++] = (e->flags & CMD_HTML) ? &format_html_opt :
		    (e->flags & CMD_GITHUB) ? &format_gh_opt :
		    (e->flags & CMD_ANNOTATE) ? &format_annotate_opt : &format_opt;
	for (o = global_opts; o->name != NULL && n < max; o++)
		v[n++] = o;
	return n;
}

/* The --format values of e, space separated ("" when it takes none). */
const char *
cmd_format_names(const struct cmd_entry *e)
{
	if (!(e->flags & CMD_REPORTS))
		return "";
	if (e->flags & CMD_HTML)
		return "text json github gitlab junit sarif markdown html";
	if (e->flags & CMD_GITHUB)
		return "text json github gitlab junit sarif markdown";
	if (e->flags & CMD_ANNOTATE)
		return "text json github";
	return "text json";
}
