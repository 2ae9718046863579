/*
 * excon new TEMPLATE ARGS...: writes a plan for a common breaking change
 * from a template (template.c) into the first plan directory.
 *
 * The plan is checked before anything is written: it must load and pass
 * the plan-level lint rules, exactly as `excon lint` would see the file.
 * An existing file is never overwritten (the file is created with
 * O_EXCL, so two runs at once cannot both write it), and neither is a
 * plan name that another file already uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "gate.h"
#include "pg.h"
#include "template.h"
#include "xalloc.h"

static const struct cmd_opt new_opts[] = {
	{ "name", OPT_STR, "PLAN", "plan name (default: derived from the arguments)" },
	{ "schema", OPT_STR, "SCHEMA", "schema of the table (default: none, i.e. public)" },
	{ "owner", OPT_STR, "TEAM", "owner of the plan, shown by 'excon audit'" },
	{ "type", OPT_STR, "TYPE", "rename-column: the column's type (default: read from --db)" },
	{ "using", OPT_STR, "EXPR", "change-type: the new value from the old column (default COLUMN::TYPE)" },
	{ "down", OPT_STR, "EXPR", "change-type: the old value from the new column" },
	{ "new-column", OPT_STR, "NAME", "change-type: the new column (default COLUMN_TYPE)" },
	{ "default", OPT_STR, "VALUE", "add-not-null: constant value for existing and new rows" },
	{ "not-null", OPT_BOOL, NULL, "rename-column, change-type: the new column becomes NOT NULL" },
	{ NULL, 0, NULL, NULL }
};

/* The template options, with the TOPT_* bit each one stands for. */
static const struct {
	unsigned	 bit;
	const char	*opt;
	const char	*arg;
} topts[] = {
	{ TOPT_TYPE, "type", "TYPE" },
	{ TOPT_USING, "using", "EXPR" },
	{ TOPT_DOWN, "down", "EXPR" },
	{ TOPT_NEWCOL, "new-column", "NAME" },
	{ TOPT_DEFAULT, "default", "VALUE" },
	{ TOPT_NOTNULL, "not-null", NULL },
};
#define NTOPTS (sizeof topts / sizeof topts[0])

/* Appends the synopsis of t: "rename-column TABLE OLD NEW --type TYPE [--not-null]". */
static void
synopsis(struct buf *b, const struct template *t)
{
	size_t i;

	buf_printf(b, "%s %s", t->name, t->args);
	for (i = 0; i < NTOPTS; i++) {
		int req = (t->required & topts[i].bit) != 0;

		if (!(t->opts & topts[i].bit))
			continue;
		buf_printf(b, " %s--%s%s%s%s", req ? "" : "[", topts[i].opt,
		    topts[i].arg ? " " : "", topts[i].arg ? topts[i].arg : "",
		    req ? "" : "]");
	}
}

/* Prints the templates after new's options, from the template table. */
static void
new_usage_more(FILE *f)
{
	const struct template *t;
	struct buf b = BUF_INIT;

	fprintf(f, "templates:\n");
	for (t = template_list(); t->name != NULL; t++) {
		buf_reset(&b);
		synopsis(&b, t);
		fprintf(f, "  %s\n      %s\n", buf_cstr(&b), t->summary);
	}
	buf_free(&b);
	fprintf(f, "\nThe plan goes to the first plan directory as PLAN.yaml; an "
	    "existing file is\nnever overwritten.  --dry-run prints the plan "
	    "instead of writing it.\nNames are plain lower-case identifiers.\n");
}

/* Appends arg to b, single-quoted for a POSIX shell when it needs to be. */
static void
shell_arg(struct buf *b, const char *arg)
{
	const char *p;

	buf_putc(b, ' ');
	if (*arg != '\0' && strspn(arg, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,:/=@+%") == strlen(arg)) {
		buf_puts(b, arg);
		return;
	}
	buf_putc(b, '\'');
	for (p = arg; *p != '\0'; p++) {
		if (*p == '\'')
			buf_puts(b, "'\\''");
		else
			buf_putc(b, *p);
	}
	buf_putc(b, '\'');
}

/*
 * The command line that writes this plan again, for the plan's header;
 * type, when not NULL, is the --type read from the database.
 */
static void
command_line(struct cmd_ctx *ctx, const char *type, struct buf *b)
{
	const struct cmd_opt *o;
	int i;

	buf_puts(b, "excon new");
	for (i = 0; i < ctx->nargs; i++)
		shell_arg(b, ctx->args[i]);
	for (o = new_opts; o->name != NULL; o++) {
		const char *v = cmd_opt(ctx, o->name);

		if (v == NULL && type != NULL && strcmp(o->name, "type") == 0)
			v = type;
		if (v == NULL)
			continue;
		buf_printf(b, " --%s", o->name);
		if (o->type != OPT_BOOL)
			shell_arg(b, v);
	}
}

/* Checks that t takes every template option given and got the ones it needs. */
static int
check_options(struct cmd_ctx *ctx, const struct template *t)
{
	const struct template *u;
	struct buf who = BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < NTOPTS && rc == 0; i++) {
		int given = cmd_opt(ctx, topts[i].opt) != NULL;

		if (given && !(t->opts & topts[i].bit)) {
			for (u = template_list(); u->name != NULL; u++)
				if (u->opts & topts[i].bit)
					buf_printf(&who, "%s%s", who.len ? ", " : "", u->name);
			rc = cmd_fail(EXCON_EXIT_USAGE, "--%s does not apply to %s "
			    "(only to %s)", topts[i].opt, t->name, buf_cstr(&who));
		} else if (!given && (t->required & topts[i].bit) &&
		    !(topts[i].bit == TOPT_TYPE && cmd_have_db(ctx))) {
			buf_reset(&who);
			synopsis(&who, t);
			rc = cmd_fail(EXCON_EXIT_USAGE, "%s needs --%s %s%s: excon new %s",
			    t->name, topts[i].opt, topts[i].arg,
			    topts[i].bit == TOPT_TYPE ? " (or a database to read it "
			    "from: --db, EXCON_DATABASE or PGHOST)" : "", buf_cstr(&who));
		}
	}
	buf_free(&who);
	return rc;
}

/* Creates dir and its missing parents (mode 0755); 0 or -1 with errno. */
static int
make_dirs(const char *dir)
{
	char *p = xstrdup(dir), *s = p;
	int ret = 0;

	do {
		s += strspn(s, "/");
		s += strcspn(s, "/");
		if (*s == '\0') {
			if (mkdir(p, 0755) != 0 && errno != EEXIST)
				ret = -1;
			break;
		}
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			ret = -1;
		*s = '/';
	} while (ret == 0);
	free(p);
	return ret;
}

/*
 * Reads the type of table.column (in schema, or on the search path when
 * NULL) from the configured database, as format_type() prints it; *out is
 * owned by the caller.  Returns an exit code after printing a failure.
 */
static int
column_type(struct cmd_ctx *ctx, const char *schema, const char *table,
    const char *column, char **out)
{
	static const char sql[] =
	    "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) "
	    "FROM pg_catalog.pg_attribute a "
	    "WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = $2 "
	    "AND a.attnum > 0 AND NOT a.attisdropped";
	struct buf err = BUF_INIT, rel = BUF_INIT;
	struct pg *db = NULL;
	struct pg_result *res = NULL;
	const char *params[2];
	int rc = 0;

	*out = NULL;
	if (schema != NULL) {
		pg_quote_ident(&rel, schema);
		buf_putc(&rel, '.');
	}
	pg_quote_ident(&rel, table);
	params[0] = buf_cstr(&rel);
	params[1] = column;
	if (pg_connect(&db, cmd_conninfo(ctx), "excon new", &err) != 0 ||
	    pg_exec(db, sql, 2, params, &res, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "%s (to read the type of %s.%s; "
		    "or give --type)", buf_cstr(&err), table, column);
		goto done;
	}
	if (pg_result_nrows(res) != 1 || pg_result_get(res, 0, 0) == NULL) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "the database has no column %s%s%s.%s",
		    schema ? schema : "", schema ? "." : "", table, column);
		goto done;
	}
	*out = xstrdup(pg_result_get(res, 0, 0));
done:
	pg_result_free(res);
	pg_close(db);
	buf_free(&err);
	buf_free(&rel);
	return rc;
}

/*
 * The --type of rename-column when it was not given: the type of TABLE.OLD
 * (ctx->args[1], ctx->args[2]) in the configured database, in *out (owned
 * by the caller).  Returns an exit code after printing a failure.
 */
static int
type_from_db(struct cmd_ctx *ctx, const char *schema, char **out)
{
	struct buf err = BUF_INIT;
	int rc;

	if (template_check_ident("table", ctx->args[1], &err) != 0 ||
	    template_check_ident("column", ctx->args[2], &err) != 0 ||
	    (schema != NULL && template_check_ident("schema", schema, &err) != 0)) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "%s", buf_cstr(&err));
		buf_free(&err);
		return rc;
	}
	if ((rc = column_type(ctx, schema, ctx->args[1], ctx->args[2], out)) != 0)
		return rc;
	/* On stderr under --dry-run, whose stdout is the plan alone. */
	fprintf(ctx->dry_run ? stderr : stdout, "%s.%s is %s in the database\n",
	    ctx->args[1], ctx->args[2], *out);
	return 0;
}

/* Writes n bytes to fd, retrying short writes; 0 or -1 with errno. */
static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Checks the generated YAML the way lint sees a file: writes it to a
 * temporary file, loads it and applies the plan-level rules.  Prints the
 * problems against path (where it would go) and returns an exit code.
 */
static int
check_plan(struct cmd_ctx *ctx, const struct buf *yaml, const char *path,
    struct plan **out)
{
	const char *tmpdir = getenv("TMPDIR");
	struct plan_diags diags = { NULL, 0, 0 };
	struct plan *p = NULL;
	char *tmp;
	size_t i;
	int fd, rc = 0;

	*out = NULL;
	tmp = xasprintf("%s/excon-new.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if ((fd = mkstemp(tmp)) < 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "cannot create a temporary file "
		    "in '%s': %s", tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(errno));
		free(tmp);
		return rc;
	}
	if (write_all(fd, yaml->ptr, yaml->len) != 0 || close(fd) != 0) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "cannot write '%s': %s", tmp,
		    strerror(errno));
		goto done;
	}
	if (plan_load(&p, tmp, &diags) == 0)
		plan_lint(p, &ctx->plans, ctx->cfg.contract_after, &diags);
	if (diags.n > 0) {
		for (i = 0; i < diags.n; i++) {
			struct plan_diag d = diags.v[i];

			d.file = (char *)path;
			cmd_print_diag(stderr, &d);
		}
		rc = cmd_fail(EXCON_EXIT_USAGE, "the plan for these arguments does "
		    "not pass lint; nothing written");
		goto done;
	}
	*out = p;
	p = NULL;
done:
	unlink(tmp);
	free(tmp);
	plan_free(p);
	plan_diags_free(&diags);
	return rc;
}

/* Prints the steps of the plan just written, with the wait each one has. */
static void
print_summary(struct cmd_ctx *ctx, const struct plan *p, const char *path)
{
	size_t i;
	int after = p->contract_after > ctx->cfg.contract_after ?
	    p->contract_after : ctx->cfg.contract_after, contract = 0, w = 4;

	for (i = 0; i < p->nsteps; i++)
		if ((int)strlen(p->steps[i].id.s) > w)
			w = (int)strlen(p->steps[i].id.s);

	printf("wrote %s (plan %s, %zu steps)\n", path, p->name.s, p->nsteps);
	for (i = 0; i < p->nsteps; i++) {
		const struct step *s = &p->steps[i];
		int wait = gate_min_releases(p, i);

		printf("  %zu  %-*s  %-15s  %-8s  %s", i + 1, w, s->id.s,
		    step_kind_name(s->kind), phase_name(s->phase),
		    stage_name(s->stage));
		if (s->phase == PHASE_CONTRACT && !contract) {
			contract = 1;
			wait = after;
		}
		if (wait > 0 && i > 0)
			printf("%*s%d release%s after step %zu%s",
			    6 - (int)strlen(stage_name(s->stage)), "", wait,
			    wait == 1 ? "" : "s", i, contract == 1 ?
			    " (contract window)" : "");
		if (contract == 1)
			contract = 2;
		putchar('\n');
	}
	printf("next: read the notes in %s, run 'excon lint', then ship it step "
	    "by step with 'excon advance %s'\n", path, p->name.s);
}

/* Runs new. */
static int
cmd_new_exec(struct cmd_ctx *ctx)
{
	const struct template *t = template_find(ctx->args[0]), *u;
	const struct plan *other;
	struct tmpl_opts o;
	struct buf yaml = BUF_INIT, err = BUF_INIT, line = BUF_INIT;
	struct plan *p = NULL;
	char *name = NULL, *path = NULL, *dbtype = NULL;
	const char *dir = ctx->cfg.plan_dirs[0];
	int rc, fd, werr;

	if (t == NULL) {
		for (u = template_list(); u->name != NULL; u++)
			buf_printf(&line, "%s%s", line.len ? ", " : "", u->name);
		rc = cmd_fail(EXCON_EXIT_USAGE, "unknown template '%s' (one of: %s)",
		    ctx->args[0], buf_cstr(&line));
		goto done;
	}
	if (ctx->nargs - 1 != t->nargs) {
		synopsis(&line, t);
		rc = cmd_fail(EXCON_EXIT_USAGE, "%s takes %d arguments, not %d: "
		    "excon new %s", t->name, t->nargs, ctx->nargs - 1, buf_cstr(&line));
		goto done;
	}
	if ((rc = check_options(ctx, t)) != 0)
		goto done;
	memset(&o, 0, sizeof o);
	o.name = cmd_opt(ctx, "name");
	o.schema = cmd_opt(ctx, "schema");
	o.owner = cmd_opt(ctx, "owner");
	o.type = cmd_opt(ctx, "type");
	if (o.type == NULL && (t->required & TOPT_TYPE)) {
		/* rename-column: the new column gets the old one's type. */
		if ((rc = type_from_db(ctx, o.schema, &dbtype)) != 0)
			goto done;
		o.type = dbtype;
	}
	o.using_ = cmd_opt(ctx, "using");
	o.down = cmd_opt(ctx, "down");
	o.new_column = cmd_opt(ctx, "new-column");
	o.default_ = cmd_opt(ctx, "default");
	o.not_null = cmd_opt(ctx, "not-null") != NULL;
	command_line(ctx, dbtype, &line);
	o.command = buf_cstr(&line);
	if (template_render(t, ctx->args + 1, &o, &yaml, &name, &err) != 0) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "%s", buf_cstr(&err));
		goto done;
	}
	path = xasprintf("%s/%s.yaml", dir, name);

	if (access(path, F_OK) == 0) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "'%s' already exists; not "
		    "overwriting it (remove it, or choose a name with --name)", path);
		goto done;
	}
	/* Plan names are unique across every plan directory. */
	if ((rc = cmd_load_plans(ctx, 1)) != 0)
		goto done;
	if ((other = plan_set_find(&ctx->plans, name)) != NULL) {
		rc = cmd_fail(EXCON_EXIT_USAGE, "a plan called '%s' already exists "
		    "in '%s'; not writing another (choose a name with --name)",
		    name, other->file);
		goto done;
	}
	if ((rc = check_plan(ctx, &yaml, path, &p)) != 0)
		goto done;
	if (ctx->dry_run) {
		cmd_out(&yaml);
		fprintf(stderr, "dry run: would write %s\n", path);
		goto done;
	}
	if (access(dir, F_OK) != 0) {
		if (make_dirs(dir) != 0) {
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "cannot create '%s': %s", dir,
			    strerror(errno));
			goto done;
		}
		printf("created %s/\n", dir);
	}
	/* O_EXCL: a file that appeared meanwhile is not overwritten either. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0) {
		if (errno == EEXIST)
			rc = cmd_fail(EXCON_EXIT_USAGE, "'%s' already exists; not "
			    "overwriting it", path);
		else
			rc = cmd_fail(EXCON_EXIT_RUNTIME, "cannot create '%s': %s",
			    path, strerror(errno));
		goto done;
	}
	werr = write_all(fd, yaml.ptr, yaml.len) != 0 || fsync(fd) != 0;
	if (close(fd) != 0 || werr) {
		rc = cmd_fail(EXCON_EXIT_RUNTIME, "cannot write '%s': %s", path,
		    strerror(errno));
		unlink(path);
		goto done;
	}
	print_summary(ctx, p, path);
done:
	plan_free(p);
	free(name);
	free(path);
	free(dbtype);
	buf_free(&yaml);
	buf_free(&err);
	buf_free(&line);
	return rc;
}

const struct cmd_entry cmd_new_entry = {
	.name = "new",
	.args = "TEMPLATE ARGS... [--name PLAN] [--schema SCHEMA] [--owner TEAM]",
	.summary = "write a plan for a common breaking change from a template",
	.opts = new_opts,
	.flags = CMD_CHANGES | CMD_DB,
	.min_args = 1,
	.max_args = -1,
	.exec = cmd_new_exec,
	.more = new_usage_more,
};
