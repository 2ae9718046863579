/*
 * excon lint [FILE...] [--sql FILE...]: validates plans (schema, plan-level
 * rules, SQL safety for each step's phase) and checks plain SQL migration
 * files of other tools against the plans: a destructive statement passes
 * only where an open contract window of a plan covers that exact object.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cmd.h"
#include "gate.h"
#include "out.h"
#include "report.h"
#include "sqlcheck.h"
#include "xalloc.h"

static const struct cmd_opt lint_opts[] = {
	{ "sql", OPT_LIST, "PATH", "an SQL migration file of another tool, a directory of them, or - (stdin); any *.sql PATH is one too" },
	{ "fail-on", OPT_STR, "LEVEL", "'error' (default) or 'warning': what makes lint exit 4" },
	{ "assume-in-transaction", OPT_BOOL, NULL, "SQL files without BEGIN or a tool's no-transaction marker run in one transaction (lint.assume_in_transaction)" },
	{ "rules", OPT_BOOL, NULL, "list every rule: id, severity, what goes wrong, the safe alternative" },
	{ NULL, 0, NULL, NULL }
};

/* 1 when path names a YAML file. */
static int
is_yaml(const char *path)
{
	size_t n = strlen(path);

	return (n > 5 && strcmp(path + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(path + n - 4, ".yml") == 0);
}

/* Adds a plan diagnostic as a finding. */
static void
add_diag(struct findings *f, const struct plan_diag *d, const char *rule)
{
	findings_add(f, rule, SEV_ERROR, d->file, d->pos.line, d->pos.col, d->msg,
	    NULL);
}

/*
 * The objects that contract steps of every plan may destroy, with whether
 * their window is open now (the same gate_window that audit reports).
 */
static struct cover *
build_covers(const struct cmd_ctx *ctx, const struct gate_ctx *g, size_t *n)
{
	struct cover *v = NULL;
	size_t cap = 0, i, j;

	*n = 0;
	for (i = 0; i < ctx->plans.nplans; i++) {
		const struct plan *p = ctx->plans.plans[i];
		struct gate_window w;

		gate_window(g, p, &w);
		for (j = 0; j < p->nsteps; j++) {
			const struct step *s = &p->steps[j];
			struct cover c;

			memset(&c, 0, sizeof c);
			c.schema = s->schema.s;
			c.table = s->table.s;
			c.plan = p->name.s;
			c.step = s->id.s;
			c.open = w.open && (w.last_nc_seq > 0 || w.last_nc < 0);
			switch (s->kind) {
			case KIND_DROP_COLUMN:
				c.kind = COVER_COLUMN;
				c.column = s->column.s;
				break;
			case KIND_DROP_TABLE:
				c.kind = COVER_TABLE;
				break;
			case KIND_DROP_INDEX:
				c.kind = COVER_INDEX;
				c.name = s->name.s;
				break;
			case KIND_DROP_CONSTRAINT:
				c.kind = COVER_CONSTRAINT;
				c.name = s->name.s;
				break;
			case KIND_DROP_TRIGGER:
				c.kind = COVER_TRIGGER;
				c.name = s->name.s;
				break;
			case KIND_STOP_OLD_WRITES:
				if (!s->drop_not_null)
					continue;
				/* Dropping NOT NULL of the old column is this step's job. */
				c.kind = COVER_NOT_NULL;
				c.column = s->column.s;
				c.open = 1;
				break;
			default:
				continue;
			}
			XGROW(v, cap, *n + 1);
			v[(*n)++] = c;
		}
	}
	return v;
}

/* Prints the rule table. */
static int
print_rules(struct cmd_ctx *ctx)
{
	const struct sqlrule *r;
	struct buf out = BUF_INIT;
	size_t n, i;

	r = sqlcheck_rules(&n);
	if (ctx->format == FORMAT_JSON)
		buf_putc(&out, '[');
	for (i = 0; i < n; i++) {
		const char *sev = r[i].severity == SEV_ERROR ? "error" : "warning";

		if (ctx->format == FORMAT_JSON) {
			int f = 1;

			buf_puts(&out, i ? ",{" : "{");
			json_key(&out, &f, "rule");
			json_str(&out, r[i].id);
			json_key(&out, &f, "severity");
			json_str(&out, sev);
			json_key(&out, &f, "summary");
			json_str(&out, r[i].summary);
			json_key(&out, &f, "fix");
			json_str(&out, r[i].fix);
			buf_putc(&out, '}');
		} else
			buf_printf(&out, "%-28s %-7s %s\n%28s fix: %s\n", r[i].id, sev,
			    r[i].summary, "", r[i].fix);
	}
	if (ctx->format == FORMAT_JSON)
		buf_puts(&out, "]\n");
	cmd_out(&out);
	buf_free(&out);
	return EXCON_EXIT_OK;
}

/* The files lint reads: plan files and SQL files, each in order. */
struct inputs {
	char	**plans;	/* NULL-terminated; owned */
	size_t	  nplans, capplans;
	char	**sql;		/* NULL-terminated; "-" is standard input */
	size_t	  nsql, capsql;
};

/* Appends an owned copy of path to *v. */
static void
strv_push(char ***v, size_t *n, size_t *cap, const char *path)
{
	XGROW(*v, *cap, *n + 2);
	(*v)[(*n)++] = xstrdup(path);
	(*v)[*n] = NULL;
}

/* 1 when path names an SQL file. */
static int
is_sql(const char *path)
{
	size_t n = strlen(path);

	return n > 4 && strcmp(path + n - 4, ".sql") == 0;
}

/* Orders paths bytewise, for qsort. */
static int
path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Collects into v the files under dir, recursively, whose names pass
 * want(): hidden entries are skipped, symbolic links to directories are
 * not followed (a loop must not hang lint).  Returns 0, or -1 with err.
 */
static int
walk(const char *dir, int (*want)(const char *), char ***v, size_t *n,
    size_t *cap, struct buf *err)
{
	struct buf path = BUF_INIT;
	struct dirent *e;
	struct stat st;
	DIR *d;
	int ret = 0;

	if ((d = opendir(dir)) == NULL)
		return error_set(err, "cannot read '%s': %s", dir, strerror(errno));
	while (ret == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" :
		    "/", e->d_name);
		if (lstat(buf_cstr(&path), &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			ret = walk(buf_cstr(&path), want, v, n, cap, err);
		else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) &&
		    want(buf_cstr(&path)))
			strv_push(v, n, cap, buf_cstr(&path));
	}
	closedir(d);
	buf_free(&path);
	return ret;
}

/* 1 for a plan or SQL file name. */
static int
is_plan_or_sql(const char *path)
{
	return is_yaml(path) || is_sql(path);
}

/*
 * Adds one PATH argument: a directory gives its files (SQL files only
 * when sql_only, else plan and SQL files) in name order; "-" is SQL on
 * standard input.  A path that does not exist is a usage error.
 */
static int
add_input(struct inputs *in, const char *arg, int sql_only, struct buf *err)
{
	char **found = NULL;
	size_t nfound = 0, cap = 0, i;
	struct stat st;
	int ret = 0;

	if (strcmp(arg, "-") == 0) {
		strv_push(&in->sql, &in->nsql, &in->capsql, arg);
		return 0;
	}
	if (stat(arg, &st) != 0)
		return error_set(err, "cannot read '%s': %s", arg, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (!sql_only && is_yaml(arg))
			strv_push(&in->plans, &in->nplans, &in->capplans, arg);
		else
			strv_push(&in->sql, &in->nsql, &in->capsql, arg);
		return 0;
	}
	if ((ret = walk(arg, sql_only ? is_sql : is_plan_or_sql, &found, &nfound,
	    &cap, err)) != 0)
		goto done;
	if (nfound == 0) {
		ret = error_set(err, "no %s files under '%s'", sql_only ? ".sql" :
		    ".yaml or .sql", arg);
		goto done;
	}
	if (nfound > 1)
		qsort(found, nfound, sizeof *found, path_cmp);
	for (i = 0; i < nfound; i++)
		add_input(in, found[i], sql_only, err);
done:
	for (i = 0; i < nfound; i++)
		free(found[i]);
	free(found);
	return ret;
}

/* Frees the lists. */
static void
inputs_free(struct inputs *in)
{
	strv_free(in->plans);
	strv_free(in->sql);
}

/* 1 when file is one of the named plan files, or none was named. */
static int
selected(const struct inputs *in, const char *file)
{
	size_t j;

	if (in->nplans == 0)
		return 1;
	for (j = 0; j < in->nplans; j++)
		if (strcmp(in->plans[j], file) == 0)
			return 1;
	return 0;
}

/*
 * How the tool that owns the SQL file at path runs it: 0 when Flyway's
 * `V…sql.conf` beside it says executeInTransaction=false, else
 * SQL_TX_DETECT (the file's own markers decide).
 */
static int
file_transaction(const char *path)
{
	struct buf conf = BUF_INIT;
	char *line = NULL;	/* a whole line, however long */
	size_t cap = 0;
	FILE *fp;
	int tx = SQL_TX_DETECT;

	if (strcmp(path, "-") == 0)
		return tx;
	buf_printf(&conf, "%s.conf", path);
	if ((fp = fopen(buf_cstr(&conf), "r")) != NULL) {
		while (getline(&line, &cap, fp) != -1) {
			char *s = line, *e;

			s += strspn(s, " \t");
			if (strncmp(s, "executeInTransaction", 20) != 0)
				continue;
			s += 20 + strspn(s + 20, " \t");
			if (*s != '=')
				continue;
			s++;
			s += strspn(s, " \t");
			for (e = s; *e != '\0' && strchr(" \t\r\n", *e) == NULL; e++)
				;
			if (e - s == 5 && strncasecmp(s, "false", 5) == 0)
				tx = 0;
		}
		fclose(fp);
	}
	free(line);
	buf_free(&conf);
	return tx;
}

/* Analyzes SQL read from standard input, named "-" in findings. */
static int
lint_stdin(const struct sqlctx *sc, struct findings *f, struct buf *err)
{
	struct buf text = BUF_INIT;
	struct pos base = { .line = 1, .col = 1 };
	char chunk[65536];
	size_t n;
	int ret = -1;

	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		buf_add(&text, chunk, n);
	if (ferror(stdin)) {
		error_set(err, "cannot read standard input: %s", strerror(errno));
		goto done;
	}
	if (memchr(buf_cstr(&text), '\0', text.len) != NULL) {
		error_set(err, "standard input is not text");
		goto done;
	}
	ret = sqlcheck_sql(buf_cstr(&text), "-", base, 0, sc, f, err);
done:
	buf_free(&text);
	return ret;
}

/* Adds name to the report units unless it is there already. */
static void
unit_add(const char ***v, size_t *n, size_t *cap, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], name) == 0)
			return;
	XGROW(*v, *cap, *n + 1);
	(*v)[(*n)++] = name;
}

/* Runs lint. */
static int
cmd_lint_exec(struct cmd_ctx *ctx)
{
	struct plan_diags lint = { NULL, 0, 0 };
	struct findings f = FINDINGS_INIT;
	struct inputs in;
	struct state_history h;
	struct gate_ctx g;
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct cover *covers = NULL;
	const char **units = NULL;
	size_t ncovers = 0, nunits = 0, capunits = 0, i;
	const char *fail_on = cmd_opt(ctx, "fail-on");
	char **sqlv = cmd_opt_list(ctx, "sql");
	int rc = EXCON_EXIT_OK, j, fail;

	memset(&h, 0, sizeof h);
	memset(&in, 0, sizeof in);
	if (cmd_opt(ctx, "rules") != NULL)
		return print_rules(ctx);
	if (fail_on != NULL && strcmp(fail_on, "error") != 0 &&
	    strcmp(fail_on, "warning") != 0)
		return cmd_fail(EXCON_EXIT_USAGE, "--fail-on takes 'error' or "
		    "'warning', not '%s'", fail_on);
	for (j = 0; j < ctx->nargs && rc == 0; j++)
		if (add_input(&in, ctx->args[j], 0, &err) != 0)
			rc = cmd_fail(EXCON_EXIT_USAGE, "%s", buf_cstr(&err));
	for (j = 0; sqlv != NULL && sqlv[j] != NULL && rc == 0; j++)
		if (add_input(&in, sqlv[j], 1, &err) != 0)
			rc = cmd_fail(EXCON_EXIT_USAGE, "%s", buf_cstr(&err));
	if (rc != 0 || (rc = cmd_load_plans(ctx, 1)) != 0)
		goto done;
	/* Named plan files outside the plan directories are loaded too. */
	for (i = 0; i < in.nplans; i++) {
		struct plan *p = NULL;
		size_t k;

		for (k = 0; k < ctx->plans.nplans; k++)
			if (strcmp(ctx->plans.plans[k]->file, in.plans[i]) == 0)
				break;
		if (k < ctx->plans.nplans)
			continue;
		/* A file of the plan directories that failed is reported once. */
		for (k = 0; k < ctx->diags.n; k++)
			if (strcmp(ctx->diags.v[k].file, in.plans[i]) == 0)
				break;
		if (k < ctx->diags.n)
			continue;
		if (plan_load(&p, in.plans[i], &ctx->diags) == 0 &&
		    plan_set_find(&ctx->plans, p->name.s) == NULL)
			plan_set_add(&ctx->plans, p);
		else
			plan_free(p);
	}
	/*
	 * Plans lint without a history.  Other tools' files are judged against
	 * the contract windows the history opens; with no history every
	 * window is closed, which can only add errors, and the user is told.
	 */
	if (in.nsql > 0 && cmd_have_state(ctx)) {
		if ((rc = cmd_history(ctx, &h, 0)) != 0)
			goto done;
	} else if (in.nsql > 0) {
		char *where = cmd_store_where(ctx);

		fprintf(stderr, "excon: no history at %s: every contract window "
		    "is taken as closed; point --state at the team's store to "
		    "judge against what shipped\n", where);
		free(where);
	}
	cmd_gate(ctx, &h, &g);

	/* Plans: load errors, plan-level rules, SQL of every step. */
	if (in.nsql == 0 || in.nplans > 0) {
		for (i = 0; i < ctx->plans.nplans; i++)
			if (selected(&in, ctx->plans.plans[i]->file))
				unit_add(&units, &nunits, &capunits,
				    ctx->plans.plans[i]->file);
		for (i = 0; i < ctx->diags.n; i++)
			if (selected(&in, ctx->diags.v[i].file)) {
				add_diag(&f, &ctx->diags.v[i], "E-PLAN-SCHEMA");
				unit_add(&units, &nunits, &capunits,
				    ctx->diags.v[i].file);
			}
		for (i = 0; i < ctx->plans.nplans; i++) {
			const struct plan *p = ctx->plans.plans[i];
			size_t before = lint.n, k;

			if (!selected(&in, p->file))
				continue;
			plan_lint(p, &ctx->plans, ctx->cfg.contract_after, &lint);
			for (k = before; k < lint.n; k++)
				add_diag(&f, &lint.v[k], "E-PLAN-RULE");
			if (sqlcheck_plan(p, NULL, &f, &err) != 0) {
				rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s", buf_cstr(&err));
				goto done;
			}
		}
	}
	/* Other tools' migration files, against the plans' contract windows. */
	if (in.nsql > 0) {
		struct sqlctx sc;

		covers = build_covers(ctx, &g, &ncovers);
		sc = sqlctx_plain(covers, ncovers);
		sc.assume_tx = ctx->cfg.lint_assume_tx ||
		    cmd_opt(ctx, "assume-in-transaction") != NULL;
		for (i = 0; i < in.nsql; i++) {
			sc.transaction = file_transaction(in.sql[i]);
			unit_add(&units, &nunits, &capunits, in.sql[i]);
			if ((strcmp(in.sql[i], "-") == 0 ? lint_stdin(&sc, &f, &err) :
			    sqlcheck_file(in.sql[i], &sc, &f, &err)) != 0) {
				rc = cmd_fail(EXCON_EXIT_USAGE, "%s", buf_cstr(&err));
				goto done;
			}
		}
	}
	/* Rules switched off for the project. */
	findings_drop(&f, ctx->cfg.lint_exclude);
	findings_sort(&f);
	switch (ctx->format) {
	case FORMAT_JSON:
		report_json(&f, &out);
		break;
	case FORMAT_TEXT:
		report_text(&f, 1, &out);
		buf_printf(&out, "%zu error%s, %zu warning%s", findings_count(&f,
		    SEV_ERROR), findings_count(&f, SEV_ERROR) == 1 ? "" : "s",
		    findings_count(&f, SEV_WARNING), findings_count(&f,
		    SEV_WARNING) == 1 ? "" : "s");
		for (i = 0, j = 0; i < f.n; i++)
			j += f.v[i].suppressed;
		if (j > 0)
			buf_printf(&out, ", %d allowed by excon:allow", j);
		buf_putc(&out, '\n');
		break;
	default:
		if ((rc = cmd_report(ctx, "lint", &f, units, nunits)) != 0)
			goto done;
	}
	cmd_out(&out);
	fail = findings_count(&f, SEV_ERROR) > 0 || (fail_on != NULL &&
	    strcmp(fail_on, "warning") == 0 && findings_count(&f, SEV_WARNING) > 0);
	rc = fail ? EXCON_EXIT_PROBLEMS : EXCON_EXIT_OK;
done:
	free(covers);
	free(units);
	inputs_free(&in);
	findings_free(&f);
	plan_diags_free(&lint);
	state_history_free(&h);
	buf_free(&out);
	buf_free(&err);
	return rc;
}

const struct cmd_entry cmd_lint_entry = {
	.name = "lint",
	.args = "[PATH...] [--sql PATH...]",
	.summary = "validate plans and check SQL (plans' and other tools') for unsafe statements",
	.opts = lint_opts,
	.flags = CMD_REPORTS | CMD_GITHUB,
	.min_args = 0,
	.max_args = -1,
	.exec = cmd_lint_exec,
};
