/*
 * The one option parser of every command, and the usage text generated
 * from the same option arrays (the command's own, the shared --db,
 * --dry-run and --format, the global ones).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "report.h"
#include "xalloc.h"

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
int
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
