/*
 * Plan templates for `excon new`.  Each template turns a few validated
 * names into the YAML of a complete expand/contract plan whose every step
 * carries a note saying what the application code does in that release.
 *
 * The plans lean on the gate defaults of plan.c rather than restating
 * them: no template writes contract_after (the configured default, which
 * a plan may not lower, applies), and min_releases appears only where a
 * template wants more than its kind's default.
 *
 * SQL text inside the plans (backfill `set`, `verify`, `sql` steps) is
 * written here, so identifiers that are SQL keywords are double-quoted;
 * the executor quotes the identifiers of the built-in kinds itself.
 * dual_write `up` and `down` are expressions over the row as NEW (see
 * exec.h on the executor branch): `up: NEW.amount::bigint`.  The user
 * writes --using over plain column names, as in ALTER TABLE ... USING,
 * and template_render adds the NEW. for the trigger, reading the
 * expression with PostgreSQL's own scanner (sqlcheck_scan).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sqlcheck.h"
#include "template.h"
#include "util.h"
#include "xalloc.h"

#define TYPE_MAX	200
#define EXPR_MAX	2000

/*
 * Words that cannot stand unquoted as a column or table name everywhere
 * are PostgreSQL's reserved, type/function-name and column-name keywords
 * (pg_get_keywords() categories R, T and C).  Those of PostgreSQL 15 come
 * from its own scanner (sqlcheck_keyword: libpg_query implements 15's
 * grammar).  A plan written today must still run after the server is
 * upgraded, so these, which PostgreSQL 16 and 17 added to categories R, T
 * and C (src/include/parser/kwlist.h of REL_16 and REL_17), are quoted
 * too.  Sorted, for bsearch.
 */
static const char *const newer_keywords[] = {
	"json",			/* 16, C */
	"json_array",		/* 16, C */
	"json_arrayagg",	/* 16, C */
	"json_exists",		/* 17, C */
	"json_object",		/* 16, C */
	"json_objectagg",	/* 16, C */
	"json_query",		/* 17, C */
	"json_scalar",		/* 17, C */
	"json_serialize",	/* 17, C */
	"json_table",		/* 17, C */
	"json_value",		/* 17, C */
	"merge_action",		/* 17, C */
	"system_user",		/* 16, R */
};

/* One step of a plan being written; NULL fields are left out. */
struct ystep {
	const char	*id;
	const char	*kind;
	const char	*phase;		/* sql and code steps */
	const char	*stage;		/* sql steps */
	const char	*table;
	const char	*column;
	const char	*type;
	const char	*default_;
	const char	*from;
	const char	*to;
	int		 trigger;
	int		 drop_not_null;
	const char	*up;
	const char	*down;
	const char	*set;
	const char	*where;
	const char	*verify;
	int		 min_releases;	/* -1 = the kind's default */
	const char	*note;
};

/* Rendering state: the output and the strings to free at the end. */
struct tmpl_gen {
	struct buf		*out;
	const struct tmpl_opts	*o;
	char			**keep;
	size_t			 nkeep;
	size_t			 cap;
};

/* Keeps s (owned) until the rendering ends; returns it. */
static const char *
keep(struct tmpl_gen *g, char *s)
{
	XGROW(g->keep, g->cap, g->nkeep + 1);
	g->keep[g->nkeep++] = s;
	return s;
}

/* Compares two strings for bsearch. */
static int
kw_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when name must be double-quoted in SQL text. */
static int
is_keyword(const char *name)
{
	int cat = sqlcheck_keyword(name);

	if (cat == 'R' || cat == 'T' || cat == 'C')
		return 1;
	return bsearch(&name, newer_keywords, sizeof newer_keywords /
	    sizeof newer_keywords[0], sizeof newer_keywords[0], kw_cmp) != NULL;
}

/* Checks a plain lowercase identifier. */
int
template_check_ident(const char *what, const char *s, struct buf *err)
{
	const char *p;
	int upper = 0;

	if (s == NULL || *s == '\0')
		return error_set(err, "%s must not be empty", what);
	for (p = s; *p != '\0'; p++)
		if (isupper((unsigned char)*p))
			upper = 1;
	if (upper)
		return error_set(err, "%s '%s' has capital letters: give the name "
		    "as PostgreSQL stores it, in lower case ('%s' unquoted in SQL "
		    "means the same as a lower-case name)", what, s, s);
	if (!(islower((unsigned char)*s) || *s == '_'))
		goto bad;
	for (p = s; *p != '\0'; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		    *p == '_'))
			goto bad;
	if (p - s > IDENT_MAX)
		return error_set(err, "%s '%s' is longer than %d bytes, the most "
		    "PostgreSQL keeps of a name", what, s, IDENT_MAX);
	return 0;
bad:
	return error_set(err, "%s '%s' is not a plain identifier: use lower-case "
	    "letters, digits and '_', starting with a letter or '_'", what, s);
}

/* The identifier as SQL text: bare, or double-quoted when a keyword. */
static const char *
q_ident(struct tmpl_gen *g, const char *name)
{
	return is_keyword(name) ? keep(g, xasprintf("\"%s\"", name)) : name;
}

/* The table as SQL text, qualified with --schema when given. */
static const char *
q_table(struct tmpl_gen *g, const char *table)
{
	if (g->o->schema == NULL)
		return q_ident(g, table);
	return keep(g, xasprintf("%s.%s", q_ident(g, g->o->schema),
	    q_ident(g, table)));
}

/* The table for messages and descriptions: schema.table or table. */
static const char *
dotted(struct tmpl_gen *g, const char *table)
{
	if (g->o->schema == NULL)
		return table;
	return keep(g, xasprintf("%s.%s", g->o->schema, table));
}

/* 0 when s is free of control characters and at most max bytes, else -1. */
static int
check_text(const char *what, const char *s, size_t max, struct buf *err)
{
	const unsigned char *p;

	if (strlen(s) > max)
		return error_set(err, "%s is longer than %zu bytes", what, max);
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return error_set(err, "%s must be one line without control "
			    "characters", what);
	return 0;
}

/*
 * Checks a type name such as bigint, numeric(12,2), text[], timestamp with
 * time zone, app.money or app."Money": letters, digits, '_', spaces, '.',
 * ',', balanced brackets and double-quoted names (as format_type() prints
 * them), starting with a letter, '_' or '"'.
 */
static int
check_type(const char *s, struct buf *err)
{
	const char *p;
	int paren = 0, bracket = 0, quote = 0;

	if (*s == '\0')
		return error_set(err, "the type must not be empty");
	if (check_text("the type", s, TYPE_MAX, err) != 0)
		return -1;
	if (!(isalpha((unsigned char)*s) || *s == '_' || *s == '"'))
		goto bad;
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			quote = !quote;
		else if (quote)
			continue;
		else if (*p == '(')
			paren++;
		else if (*p == ')' && --paren < 0)
			goto bad;
		else if (*p == '[')
			bracket++;
		else if (*p == ']' && --bracket < 0)
			goto bad;
		else if (!(isalnum((unsigned char)*p) || *p == '_' || *p == ' ' ||
		    *p == '.' || *p == ',' || *p == ')' || *p == ']'))
			goto bad;
	}
	if (paren == 0 && bracket == 0 && !quote && p[-1] != ' ')
		return 0;
bad:
	return error_set(err, "'%s' does not look like a type name (expected "
	    "e.g. bigint, numeric(12,2), text[] or timestamp with time zone)", s);
}

/*
 * Appends s to b as a name part: lower-case letters and digits kept,
 * anything else becomes one '-' (runs collapse, no '-' at either end).
 */
static void
slug_add(struct buf *b, const char *s)
{
	int dash = b->len > 0;

	for (; *s != '\0'; s++) {
		if (isalnum((unsigned char)*s)) {
			if (dash && b->len > 0 && b->ptr[b->len - 1] != '-')
				buf_putc(b, '-');
			buf_putc(b, tolower((unsigned char)*s));
			dash = 0;
		} else
			dash = 1;
	}
}

/* The plan name: --name when given (and valid), else the derived one. */
static int
plan_name_of(struct tmpl_gen *g, const char *const *parts, char **out,
    struct buf *err)
{
	struct buf b = BUF_INIT;
	size_t i;

	if (g->o->name != NULL) {
		if (!util_name_valid(g->o->name))
			return error_set(err, "plan name '%s' must match "
			    "[a-z0-9][a-z0-9_-]*", g->o->name);
		*out = xstrdup(g->o->name);
		return 0;
	}
	if (g->o->schema != NULL && strcmp(g->o->schema, "public") != 0)
		slug_add(&b, g->o->schema);
	for (i = 0; parts[i] != NULL; i++)
		slug_add(&b, parts[i]);
	if (b.len == 0)
		buf_puts(&b, "plan");
	*out = buf_detach(&b);
	return 0;
}

/* 1 when s can be written as a plain YAML scalar and reads back the same. */
static int
yaml_plain_ok(const char *s)
{
	static const char *const special[] = { "~", "null", "Null", "NULL",
	    "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes",
	    "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
	    "y", "Y", "n", "N", NULL };
	size_t n = strlen(s), i;

	if (n == 0 || strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) != NULL ||
	    s[n - 1] == ' ' || s[n - 1] == ':')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
		if ((c == ':' && s[i + 1] == ' ') || (c == ' ' && s[i + 1] == '#'))
			return 0;
	}
	for (i = 0; special[i] != NULL; i++)
		if (strcmp(s, special[i]) == 0)
			return 0;
	return 1;
}

/* Appends s as a YAML double-quoted scalar. */
static void
yaml_quoted(struct buf *b, const char *s)
{
	const unsigned char *p;

	buf_putc(b, '"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(b, "\\n");
		else if (*p == '\t')
			buf_puts(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(b, "\\x%02x", *p);
		else
			buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

/*
 * Appends "key: value" at indent: plain when that reads back the same,
 * a literal block when value has several lines, double-quoted otherwise.
 */
static void
yaml_kv(struct buf *b, int indent, const char *key, const char *value)
{
	const char *line, *nl;

	if (value == NULL)
		return;
	buf_printf(b, "%*s%s: ", indent, "", key);
	if (strchr(value, '\n') != NULL) {
		buf_puts(b, "|\n");
		for (line = value; *line != '\0'; line = nl + 1) {
			nl = strchr(line, '\n');
			if (nl == NULL)
				nl = line + strlen(line);
			buf_printf(b, "%*s", indent + 2, "");
			buf_add(b, line, (size_t)(nl - line));
			buf_putc(b, '\n');
			if (*nl == '\0')
				break;
		}
		return;
	}
	if (yaml_plain_ok(value))
		buf_puts(b, value);
	else
		yaml_quoted(b, value);
	buf_putc(b, '\n');
}

/* Appends one step. */
static void
emit_step(struct tmpl_gen *g, const struct ystep *s)
{
	struct buf *b = g->out;

	buf_printf(b, "  - id: %s\n", s->id);
	yaml_kv(b, 4, "kind", s->kind);
	yaml_kv(b, 4, "phase", s->phase);
	yaml_kv(b, 4, "stage", s->stage);
	if (s->table != NULL)
		yaml_kv(b, 4, "schema", g->o->schema);
	yaml_kv(b, 4, "table", s->table);
	yaml_kv(b, 4, "column", s->column);
	yaml_kv(b, 4, "type", s->type);
	yaml_kv(b, 4, "default", s->default_);
	yaml_kv(b, 4, "from", s->from);
	yaml_kv(b, 4, "to", s->to);
	if (s->trigger)
		buf_puts(b, "    trigger: true\n");
	if (s->drop_not_null)
		buf_puts(b, "    drop_not_null: true\n");
	yaml_kv(b, 4, "up", s->up);
	yaml_kv(b, 4, "down", s->down);
	yaml_kv(b, 4, "set", s->set);
	yaml_kv(b, 4, "where", s->where);
	yaml_kv(b, 4, "verify", s->verify);
	if (s->min_releases >= 0)
		buf_printf(b, "    min_releases: %d\n", s->min_releases);
	yaml_kv(b, 4, "note", s->note);
}

/* A step with every field unset. */
static struct ystep
step_new(const char *id, const char *kind, const char *note)
{
	struct ystep s;

	memset(&s, 0, sizeof s);
	s.id = id;
	s.kind = kind;
	s.note = note;
	s.min_releases = -1;
	return s;
}

/* Appends the plan's header: comment, name, description, owner, "steps:". */
static void
emit_header(struct tmpl_gen *g, const char *name, const char *description)
{
	struct buf *b = g->out;

	if (g->o->command != NULL)
		buf_printf(b, "# Written by: %s\n", g->o->command);
	buf_puts(b, "# Review the steps and their notes before the first one ships:\n"
	    "# a shipped step must not change (excon check compares checksums).\n");
	yaml_kv(b, 0, "plan", name);
	yaml_kv(b, 0, "description", description);
	yaml_kv(b, 0, "owner", g->o->owner);
	buf_puts(b, "steps:\n");
}

/* The step id for a column name: "drop-" + name with '_' as '-'. */
static const char *
col_id(struct tmpl_gen *g, const char *prefix, const char *col)
{
	char *s = xasprintf("%s%s", prefix, col), *p;

	for (p = s; *p != '\0'; p++)
		if (*p == '_')
			*p = '-';
	return keep(g, s);
}

/*
 * The tokens of an expression, from PostgreSQL's own scanner
 * (sqlcheck_scan), with the white space and comments between them as
 * T_SPACE tokens, so that the tokens laid end to end are the text again.
 */
enum ttype {
	T_SPACE,	/* white space or a comment */
	T_IDENT,	/* unquoted identifier or keyword */
	T_QIDENT,	/* "quoted identifier" */
	T_STRING,	/* '...', E'...', $tag$...$tag$ */
	T_CAST,		/* :: */
	T_DOT,
	T_LPAREN,
	T_SEMI,
	T_OTHER,	/* numbers, operators, punctuation, $1 */
};

struct token {
	enum ttype	 type;
	const char	*start;
	size_t		 len;
};

/* Appends the token [start, end) of s to v (*n of them, capacity *cap). */
static void
tok_add(struct token **v, size_t *cap, size_t *n, enum ttype type,
    const char *s, int start, int end)
{
	if (end <= start)
		return;
	XGROW(*v, *cap, *n + 1);
	(*v)[*n].type = type;
	(*v)[*n].start = s + start;
	(*v)[*n].len = (size_t)(end - start);
	(*n)++;
}

/* Splits s into tokens (*out owned by the caller); -1 with err on bad input. */
static int
lex(const char *s, const char *what, struct token **out, size_t *n,
    struct buf *err)
{
	static const enum ttype map[] = {
		[SQLTOK_IDENT] = T_IDENT, [SQLTOK_QIDENT] = T_QIDENT,
		[SQLTOK_STRING] = T_STRING, [SQLTOK_COMMENT] = T_SPACE,
		[SQLTOK_CAST] = T_CAST, [SQLTOK_DOT] = T_DOT,
		[SQLTOK_LPAREN] = T_LPAREN, [SQLTOK_SEMI] = T_SEMI,
		[SQLTOK_OTHER] = T_OTHER,
	};
	struct sqltoken *tv = NULL;
	struct token *v = NULL;
	struct buf msg = BUF_INIT;
	size_t cap = 0, ntv, i;
	int at = 0, ret = -1;

	*out = NULL;
	*n = 0;
	if (sqlcheck_scan(s, &tv, &ntv, &msg) != 0) {
		/* The message the old hand-written lexer gave, where it applies. */
		if (strstr(buf_cstr(&msg), "unterminated") != NULL)
			error_set(err, "%s has an unterminated quote or comment", what);
		else
			error_set(err, "%s does not scan as SQL: %s", what,
			    buf_cstr(&msg));
		goto done;
	}
	for (i = 0; i < ntv; i++) {
		tok_add(&v, &cap, n, T_SPACE, s, at, tv[i].start);
		tok_add(&v, &cap, n, map[tv[i].kind], s, tv[i].start, tv[i].end);
		at = tv[i].end;
	}
	tok_add(&v, &cap, n, T_SPACE, s, at, (int)strlen(s));
	*out = v;
	v = NULL;
	ret = 0;
done:
	free(v);
	free(tv);
	buf_free(&msg);
	return ret;
}

/* Index of the significant token before i (skipping T_SPACE), or -1. */
static long
tok_prev(const struct token *v, size_t i)
{
	long j;

	for (j = (long)i - 1; j >= 0 && v[j].type == T_SPACE; j--)
		;
	return j;
}

/* Index of the significant token after i, or n. */
static size_t
tok_next(const struct token *v, size_t n, size_t i)
{
	size_t j;

	for (j = i + 1; j < n && v[j].type == T_SPACE; j++)
		;
	return j;
}

/* 1 when token t is the unquoted identifier word (any case). */
static int
tok_is(const struct token *t, const char *word)
{
	return t->type == T_IDENT && strlen(word) == t->len &&
	    strncasecmp(t->start, word, t->len) == 0;
}

/* 1 when token t names column col (unquoted, any case, or quoted exactly). */
static int
tok_names(const struct token *t, const char *col)
{
	if (t->type == T_IDENT)
		return tok_is(t, col);
	return t->type == T_QIDENT && t->len == strlen(col) + 2 &&
	    strncmp(t->start + 1, col, t->len - 2) == 0;
}

/*
 * Copies expr, an SQL expression over plain column names, to out with
 * every reference to column col written as NEW.col, for the dual_write
 * trigger.  A reference is the name not after '.', '::' or AS and not
 * before '(' or '.'.  Returns the number of references, or -1 with err
 * when expr is not one expression, has a line comment or already says NEW.
 */
static int
qualify_new(struct buf *out, const char *expr, const char *col,
    const char *what, struct buf *err)
{
	struct token *v = NULL;
	size_t n, i, nx;
	long pv;
	int refs = 0, ret = -1;

	if (lex(expr, what, &v, &n, err) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		const struct token *t = &v[i];

		if (t->type == T_SEMI) {
			error_set(err, "%s must be a single expression, without ';'", what);
			goto done;
		}
		/* excon puts SQL after the expression, on the same line. */
		if (t->type == T_SPACE && t->len >= 2 && strncmp(t->start, "--", 2) == 0) {
			error_set(err, "%s must not end in a -- comment", what);
			goto done;
		}
		nx = tok_next(v, n, i);
		pv = tok_prev(v, i);
		if (tok_is(t, "new") && nx < n && v[nx].type == T_DOT &&
		    (pv < 0 || v[pv].type != T_DOT)) {
			error_set(err, "%s refers to NEW: write it over the column "
			    "names, as in ALTER TABLE ... USING (excon adds NEW. "
			    "for the trigger)", what);
			goto done;
		}
		if (tok_names(t, col) &&
		    (pv < 0 || (v[pv].type != T_DOT && v[pv].type != T_CAST &&
		    !tok_is(&v[pv], "as"))) &&
		    (nx >= n || (v[nx].type != T_LPAREN && v[nx].type != T_DOT))) {
			buf_puts(out, "NEW.");
			refs++;
		}
		buf_add(out, t->start, t->len);
	}
	ret = refs;
done:
	free(v);
	return ret;
}

/* Lower-cases s and drops its white space, for comparing expressions. */
static char *
squeeze(const char *s)
{
	char *r = xmalloc(strlen(s) + 1), *q = r;

	for (; *s != '\0'; s++)
		if (!isspace((unsigned char)*s))
			*q++ = (char)tolower((unsigned char)*s);
	*q = '\0';
	return r;
}

/* 1 when expr is col itself, col::type or CAST(col AS type). */
static int
plain_cast(const char *expr, const char *qcol, const char *type)
{
	char *e = squeeze(expr), *c = squeeze(qcol), *t = squeeze(type);
	char *a = xasprintf("%s::%s", c, t), *b = xasprintf("cast(%sas%s)", c, t);
	int r = strcmp(e, c) == 0 || strcmp(e, a) == 0 || strcmp(e, b) == 0;

	free(e);
	free(c);
	free(t);
	free(a);
	free(b);
	return r;
}

/* The string literal 'v' for SQL text (quotes doubled). */
static const char *
sql_literal(struct tmpl_gen *g, const char *v)
{
	struct buf b = BUF_INIT;

	buf_putc(&b, '\'');
	for (; *v != '\0'; v++) {
		if (*v == '\'')
			buf_putc(&b, '\'');
		buf_putc(&b, *v);
	}
	buf_putc(&b, '\'');
	return keep(g, buf_detach(&b));
}

/*
 * Appends the steps that bring a new column `to` in sync with `from`:
 * add it, install the sync trigger, backfill and verify, optionally set
 * NOT NULL, then switch reads, stop old writes and drop `from`.  up_set is
 * the backfill value over plain names; up and down are the trigger's
 * expressions over NEW (down may be NULL: the default, NEW.to).
 */
static void
emit_sync_steps(struct tmpl_gen *g, const char *table, const char *from,
    const char *to, const char *type, const char *up_set, const char *up,
    const char *down, const char *dual_note)
{
	const char *qt = q_table(g, table), *qf = q_ident(g, from);
	const char *qto = q_ident(g, to);
	struct ystep s;

	s = step_new("add-column", "add_column", keep(g, xasprintf("no code "
	    "change; %s (%s) is added, NULL for now", to, type)));
	s.table = table;
	s.column = to;
	s.type = type;
	emit_step(g, &s);

	s = step_new("dual-write", "dual_write", dual_note);
	s.table = table;
	s.from = from;
	s.to = to;
	s.trigger = 1;
	s.up = up;
	s.down = down;
	emit_step(g, &s);

	s = step_new("backfill", "backfill", keep(g, xasprintf("no code change; "
	    "fills %s for the existing rows, in batches; the step counts as "
	    "shipped once verify finds no row where it differs", to)));
	s.table = table;
	s.set = keep(g, xasprintf("%s = %s", qto, up_set));
	s.where = keep(g, xasprintf("%s IS NULL AND %s IS NOT NULL", qto, qf));
	s.verify = keep(g, xasprintf("SELECT count(*) = 0 FROM %s WHERE %s IS "
	    "DISTINCT FROM %s%s%s", qt, qto, strcmp(up_set, qf) == 0 ? "" : "(",
	    up_set, strcmp(up_set, qf) == 0 ? "" : ")"));
	emit_step(g, &s);

	if (g->o->not_null) {
		s = step_new("set-not-null", "set_not_null", keep(g, xasprintf("no "
		    "code change; %s becomes NOT NULL (a CHECK is validated "
		    "first, so writes never wait on a table scan); the trigger "
		    "fills it for code that writes only %s", to, from)));
		s.table = table;
		s.column = to;
		emit_step(g, &s);
	}

	s = step_new("switch-reads", "switch_reads", keep(g, xasprintf("the code "
	    "reads %s instead of %s; it may still write %s, the trigger keeps "
	    "both in step", to, from, from)));
	emit_step(g, &s);

	s = step_new("stop-old-writes", "stop_old_writes", keep(g, xasprintf("the "
	    "code writes only %s; the trigger still fills %s for the previous "
	    "release, the rollback target", to, from)));
	emit_step(g, &s);

	s = step_new(col_id(g, "drop-", from), "drop_column", keep(g,
	    xasprintf("no code change; nothing reads or writes %s any more, so "
	    "it is dropped together with the sync trigger", from)));
	s.table = table;
	s.column = from;
	emit_step(g, &s);
}

/* rename-column TABLE OLD NEW --type TYPE. */
static int
gen_rename_column(struct tmpl_gen *g, char *const *a, char **name, struct buf *err)
{
	const char *table = a[0], *from = a[1], *to = a[2];
	const char *parts[] = { table, from, "to", to, NULL };

	if (template_check_ident("table", table, err) != 0 ||
	    template_check_ident("column", from, err) != 0 ||
	    template_check_ident("new column", to, err) != 0 ||
	    check_type(g->o->type, err) != 0)
		return -1;
	if (strcmp(from, to) == 0)
		return error_set(err, "the new name is the old one ('%s')", to);
	if (plan_name_of(g, parts, name, err) != 0)
		return -1;
	emit_header(g, *name, keep(g, xasprintf("Rename %s.%s to %s.%s",
	    dotted(g, table), from, dotted(g, table), to)));
	emit_sync_steps(g, table, from, to, g->o->type, q_ident(g, from), NULL,
	    NULL, keep(g, xasprintf("no code change; a trigger copies %s to %s "
	    "(and back) on every insert and update, so old and new code both "
	    "stay correct", from, to)));
	return 0;
}

/*
 * Appends expr, over plain column names, to out in the NEW. form the sync
 * trigger needs (see qualify_new); it must refer to col.  Returns 0, or -1
 * with err, whose message explains the option with role.
 */
static int
trigger_expr(struct buf *out, const char *opt, const char *expr,
    const char *col, const char *role, struct buf *err)
{
	int refs;

	if (check_text(opt, expr, EXPR_MAX, err) != 0)
		return -1;
	refs = qualify_new(out, expr, col, opt, err);
	if (refs == 0)
		return error_set(err, "%s '%s' does not refer to the column '%s': "
		    "it %s", opt, expr, col, role);
	return refs < 0 ? -1 : 0;
}

/* The default name of the new column of change-type: amount_bigint. */
static const char *
typed_name(struct tmpl_gen *g, const char *col, const char *type)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_puts(&b, col);
	slug_add(&b, type);	/* joined with a '-', made a '_' below */
	for (i = 0; i < b.len; i++)
		if (b.ptr[i] == '-')
			b.ptr[i] = '_';
	return keep(g, buf_detach(&b));
}

/* change-type TABLE COLUMN TYPE [--using EXPR] [--down EXPR] [--new-column C]. */
static int
gen_change_type(struct tmpl_gen *g, char *const *a, char **name, struct buf *err)
{
	const char *table = a[0], *col = a[1], *type = a[2], *to, *using_;
	const char *parts[] = { table, col, "to", type, NULL };
	struct buf up = BUF_INIT, down = BUF_INIT;
	int ret = -1;

	if (template_check_ident("table", table, err) != 0 ||
	    template_check_ident("column", col, err) != 0 ||
	    check_type(type, err) != 0)
		goto done;
	to = g->o->new_column != NULL ? g->o->new_column : typed_name(g, col, type);
	if (g->o->new_column == NULL && strlen(to) > IDENT_MAX) {
		error_set(err, "the new column's name '%s' would be longer than %d "
		    "bytes: choose one with --new-column", to, IDENT_MAX);
		goto done;
	}
	if (template_check_ident("new column", to, err) != 0)
		goto done;
	if (strcmp(to, col) == 0) {
		error_set(err, "--new-column must differ from the column ('%s')", col);
		goto done;
	}
	using_ = g->o->using_ != NULL ? g->o->using_ :
	    keep(g, xasprintf("%s::%s", q_ident(g, col), type));
	if (trigger_expr(&up, "--using", using_, col, "computes the new value "
	    "from the old one, e.g. amount::bigint", err) != 0)
		goto done;
	if (g->o->down != NULL) {
		if (trigger_expr(&down, "--down", g->o->down, to, "computes the old "
		    "value from the new one, e.g. amount_bigint::integer", err) != 0)
			goto done;
	} else if (!plain_cast(using_, q_ident(g, col), type)) {
		/*
		 * The trigger computes the old column from the new one whenever
		 * only the new one is written, the backfill included.  Assigning
		 * the new value back is the right inverse only of a plain cast.
		 */
		error_set(err, "--using '%s' is more than a cast of '%s', so give "
		    "--down EXPR too: how to compute %s from %s (the trigger needs "
		    "it whenever only %s is written)", using_, col, col, to, to);
		goto done;
	} else
		buf_printf(&down, "NEW.%s", q_ident(g, to));
	if (plan_name_of(g, parts, name, err) != 0)
		goto done;
	emit_header(g, *name, keep(g, xasprintf("Change %s.%s to %s (new column "
	    "%s)", dotted(g, table), col, type, to)));
	emit_sync_steps(g, table, col, to, type, using_, buf_cstr(&up),
	    buf_cstr(&down), keep(g, xasprintf("no code change; a trigger sets "
	    "%s from %s on every insert and update, and %s from %s when only %s "
	    "is written; up and down are expressions over the row as NEW and "
	    "must be inverses for every stored value", to, col, col, to, to)));
	ret = 0;
done:
	buf_free(&up);
	buf_free(&down);
	return ret;
}

/* add-not-null TABLE COLUMN TYPE --default VALUE. */
static int
gen_add_not_null(struct tmpl_gen *g, char *const *a, char **name, struct buf *err)
{
	const char *table = a[0], *col = a[1], *type = a[2], *v = g->o->default_;
	const char *parts[] = { table, col, "not-null", NULL };
	const char *qc, *lit;
	struct ystep s;

	if (template_check_ident("table", table, err) != 0 ||
	    template_check_ident("column", col, err) != 0 ||
	    check_type(type, err) != 0 ||
	    check_text("--default", v, EXPR_MAX, err) != 0)
		return -1;
	if (plan_name_of(g, parts, name, err) != 0)
		return -1;
	qc = q_ident(g, col);
	lit = sql_literal(g, v);
	emit_header(g, *name, keep(g, xasprintf("Add %s.%s %s NOT NULL DEFAULT %s",
	    dotted(g, table), col, type, lit)));

	s = step_new("add-column", "add_column", keep(g, xasprintf("no code "
	    "change; %s is added with the constant default %s, so existing rows "
	    "read it without a table rewrite and inserts by the running code "
	    "get it", col, lit)));
	s.table = table;
	s.column = col;
	s.type = type;
	s.default_ = v;
	emit_step(g, &s);

	s = step_new(col_id(g, "write-", col), "code", keep(g, xasprintf("the "
	    "code reads and writes %s and never writes NULL to it (an insert "
	    "that leaves it out gets %s)", col, lit)));
	s.phase = "migrate";
	emit_step(g, &s);

	s = step_new("backfill", "backfill", keep(g, xasprintf("no code change; "
	    "sets %s to %s where it is NULL; the step counts as shipped once "
	    "verify finds no NULL", col, lit)));
	s.table = table;
	s.set = keep(g, xasprintf("%s = %s::%s", qc, lit, type));
	s.where = keep(g, xasprintf("%s IS NULL", qc));
	s.verify = keep(g, xasprintf("SELECT count(*) = 0 FROM %s WHERE %s IS NULL",
	    q_table(g, table), qc));
	emit_step(g, &s);

	s = step_new("set-not-null", "set_not_null", keep(g, xasprintf("no code "
	    "change; %s becomes NOT NULL (a CHECK is validated first, so writes "
	    "never wait on a table scan); no release still running writes NULL "
	    "to it", col)));
	s.table = table;
	s.column = col;
	emit_step(g, &s);
	return 0;
}

/* drop-column TABLE COLUMN. */
static int
gen_drop_column(struct tmpl_gen *g, char *const *a, char **name, struct buf *err)
{
	const char *table = a[0], *col = a[1];
	const char *parts[] = { table, "drop", col, NULL };
	struct ystep s;

	if (template_check_ident("table", table, err) != 0 ||
	    template_check_ident("column", col, err) != 0)
		return -1;
	if (plan_name_of(g, parts, name, err) != 0)
		return -1;
	emit_header(g, *name, keep(g, xasprintf("Drop %s.%s", dotted(g, table),
	    col)));

	s = step_new("stop-reads", "switch_reads", keep(g, xasprintf("the code "
	    "stops reading %s (queries, models, reports) but keeps writing it, "
	    "so the previous release still reads correct values", col)));
	s.table = table;
	s.column = col;
	emit_step(g, &s);

	s = step_new("stop-writes", "stop_old_writes", keep(g, xasprintf("the "
	    "code stops writing %s; the step itself runs at stage pre, before "
	    "the new code starts, and drops the column's NOT NULL (if any) so "
	    "that inserts without it succeed", col)));
	s.table = table;
	s.column = col;
	s.drop_not_null = 1;
	emit_step(g, &s);

	s = step_new(col_id(g, "drop-", col), "drop_column", keep(g, xasprintf("no "
	    "code change; no release that could still run reads or writes %s",
	    col)));
	s.table = table;
	s.column = col;
	emit_step(g, &s);
	return 0;
}

/*
 * rename-table OLD NEW.  A RENAME breaks whatever code still uses the old
 * name, so the new name first appears as a view over the table (a simple
 * view is automatically updatable: INSERT, UPDATE, DELETE, RETURNING and
 * ON CONFLICT reach the table) and the code moves to it.  Once no release
 * that may run uses the old name, one transaction drops the view, renames
 * the table and leaves a view under the old name for stragglers; a last
 * step, a release later, drops that view.
 */
static int
gen_rename_table(struct tmpl_gen *g, char *const *a, char **name, struct buf *err)
{
	const char *from = a[0], *to = a[1], *qf, *qt, *qtb, *lt;
	const char *parts[] = { from, "to", to, NULL };
	struct ystep s;

	if (template_check_ident("table", from, err) != 0 ||
	    template_check_ident("new table", to, err) != 0)
		return -1;
	if (strcmp(from, to) == 0)
		return error_set(err, "the new name is the old one ('%s')", to);
	if (plan_name_of(g, parts, name, err) != 0)
		return -1;
	qf = q_table(g, from);
	qt = q_table(g, to);
	qtb = q_ident(g, to);
	lt = sql_literal(g, qt);
	emit_header(g, *name, keep(g, xasprintf("Rename table %s to %s",
	    dotted(g, from), to)));

	s = step_new("create-view", "sql", keep(g, xasprintf("no code change; %s "
	    "appears as a view over %s (a simple view is updatable, so SELECT, "
	    "INSERT, UPDATE, DELETE, RETURNING and ON CONFLICT work through it)",
	    to, from)));
	s.phase = "expand";
	s.stage = "pre";
	s.up = keep(g, xasprintf("CREATE OR REPLACE VIEW %s AS SELECT * FROM %s",
	    qt, qf));
	s.down = keep(g, xasprintf("DROP VIEW IF EXISTS %s", qt));
	s.verify = keep(g, xasprintf("SELECT to_regclass(%s) IS NOT NULL", lt));
	emit_step(g, &s);

	s = step_new(col_id(g, "use-", to), "code", keep(g, xasprintf("the code "
	    "says %s instead of %s everywhere (queries, ORM table names); until "
	    "the swap, COPY, TRUNCATE and DDL still need %s", to, from,
	    from)));
	s.phase = "migrate";
	emit_step(g, &s);

	s = step_new("swap", "sql", keep(g, xasprintf("no code change; in one "
	    "transaction the view %s goes, the table %s becomes %s, and %s "
	    "becomes a view over it, so anything still saying %s keeps working",
	    to, from, to, from, from)));
	s.phase = "contract";
	s.stage = "post";
	s.up = keep(g, xasprintf("DROP VIEW IF EXISTS %s;\n"
	    "ALTER TABLE IF EXISTS %s RENAME TO %s;\n"
	    "CREATE OR REPLACE VIEW %s AS SELECT * FROM %s;\n", qt, qf, qtb, qf, qt));
	s.verify = keep(g, xasprintf("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class "
	    "WHERE oid = to_regclass(%s) AND relkind = 'r')", lt));
	emit_step(g, &s);

	s = step_new("drop-old-name", "sql", keep(g, xasprintf("no code change; "
	    "the view %s goes, so first check that nothing still "
	    "queries it (pg_stat_statements, logs, other services)", from)));
	s.phase = "contract";
	s.stage = "post";
	s.min_releases = 1;
	s.up = keep(g, xasprintf("DROP VIEW IF EXISTS %s", qf));
	emit_step(g, &s);
	return 0;
}

static const struct template templates[] = {
	{ .name = "rename-column", .args = "TABLE OLD NEW", .nargs = 3,
	  .opts = TOPT_TYPE | TOPT_NOTNULL, .required = TOPT_TYPE,
	  .summary = "rename a column through a copy kept in sync by a trigger",
	  .render = gen_rename_column },
	{ .name = "change-type", .args = "TABLE COLUMN TYPE", .nargs = 3,
	  .opts = TOPT_USING | TOPT_DOWN | TOPT_NEWCOL | TOPT_NOTNULL,
	  .summary = "change a column's type through a new column kept in sync",
	  .render = gen_change_type },
	{ .name = "add-not-null", .args = "TABLE COLUMN TYPE", .nargs = 3,
	  .opts = TOPT_DEFAULT, .required = TOPT_DEFAULT,
	  .summary = "add a NOT NULL column with a constant default",
	  .render = gen_add_not_null },
	{ .name = "drop-column", .args = "TABLE COLUMN", .nargs = 2,
	  .summary = "stop reading, then stop writing, then drop a column",
	  .render = gen_drop_column },
	{ .name = "rename-table", .args = "OLD NEW", .nargs = 2,
	  .summary = "rename a table, bridged by updatable views",
	  .render = gen_rename_table },
	{ .name = NULL }
};

/* The template table. */
const struct template *
template_list(void)
{
	return templates;
}

/* Finds a template by name. */
const struct template *
template_find(const char *name)
{
	const struct template *t;

	for (t = templates; t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* Renders template t. */
int
template_render(const struct template *t, char *const *args,
    const struct tmpl_opts *o, struct buf *out, char **plan_name,
    struct buf *err)
{
	struct tmpl_gen g;
	size_t i;
	int ret = -1;

	memset(&g, 0, sizeof g);
	g.out = out;
	g.o = o;
	*plan_name = NULL;
	if (o->schema != NULL && template_check_ident("schema", o->schema, err) != 0)
		return -1;
	if (o->owner != NULL && check_text("--owner", o->owner, 200, err) != 0)
		return -1;
	ret = t->render(&g, args, plan_name, err);
	for (i = 0; i < g.nkeep; i++)
		free(g.keep[i]);
	free(g.keep);
	if (ret != 0) {
		free(*plan_name);
		*plan_name = NULL;
	}
	return ret;
}
