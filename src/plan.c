/*
 * Plan files: loading a plan's YAML into struct plan with positions,
 * field-by-field validation with "did you mean" suggestions, the canonical
 * checksum of each step, and the plan-level lint rules that need no SQL
 * parser.
 *
 * Every known field is listed once in the field table below, with the
 * kinds it applies to; loading, suggestions and checksums all read it.
 */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "sha256.h"
#include "util.h"
#include "xalloc.h"
#include "ytree.h"

#define K(x)	(1u << KIND_##x)
#define KALL	((1u << KIND__COUNT) - 1)

static const struct kind_info {
	const char	*name;
	enum phase	 phase;
	enum stage	 stage;
	int		 min_releases;
	int		 db;
} kinds[KIND__COUNT] = {
	[KIND_ADD_COLUMN] = { "add_column", PHASE_EXPAND, STAGE_PRE, 0, 1 },
	[KIND_CREATE_TABLE] = { "create_table", PHASE_EXPAND, STAGE_PRE, 0, 1 },
	[KIND_CREATE_INDEX] = { "create_index", PHASE_EXPAND, STAGE_PRE, 0, 1 },
	[KIND_ADD_CONSTRAINT] = { "add_constraint", PHASE_EXPAND, STAGE_PRE, 0, 1 },
	[KIND_DUAL_WRITE] = { "dual_write", PHASE_EXPAND, STAGE_CODE, 0, 0 },
	[KIND_BACKFILL] = { "backfill", PHASE_EXPAND, STAGE_POST, 0, 1 },
	[KIND_VALIDATE_CONSTRAINT] = { "validate_constraint", PHASE_MIGRATE, STAGE_POST, 0, 1 },
	[KIND_SET_NOT_NULL] = { "set_not_null", PHASE_MIGRATE, STAGE_POST, 1, 1 },
	[KIND_SWITCH_READS] = { "switch_reads", PHASE_MIGRATE, STAGE_CODE, 1, 0 },
	[KIND_STOP_OLD_WRITES] = { "stop_old_writes", PHASE_MIGRATE, STAGE_CODE, 1, 0 },
	[KIND_DROP_COLUMN] = { "drop_column", PHASE_CONTRACT, STAGE_POST, 0, 1 },
	[KIND_DROP_TABLE] = { "drop_table", PHASE_CONTRACT, STAGE_POST, 0, 1 },
	[KIND_DROP_INDEX] = { "drop_index", PHASE_CONTRACT, STAGE_POST, 0, 1 },
	[KIND_DROP_CONSTRAINT] = { "drop_constraint", PHASE_CONTRACT, STAGE_POST, 0, 1 },
	[KIND_DROP_TRIGGER] = { "drop_trigger", PHASE_CONTRACT, STAGE_POST, 0, 1 },
	[KIND_SQL] = { "sql", PHASE_MIGRATE, STAGE_PRE, 0, 1 },
	[KIND_CODE] = { "code", PHASE_MIGRATE, STAGE_CODE, 0, 0 },
};

static const char *const phase_names[] = { "expand", "migrate", "contract" };
static const char *const stage_names[] = { "pre", "code", "post" };

enum ftype {
	F_STR,		/* struct pstr */
	F_BOOL,		/* int */
	F_INT,		/* int, >= 0 */
	F_LIST,		/* char **, NULL-terminated */
	F_COLUMNS,	/* create_index: list of names; create_table: column maps */
	F_SPECIAL,	/* id, kind, stage, phase: handled by name */
};

static const struct field {
	const char	*name;
	enum ftype	 type;
	size_t		 off;
	unsigned	 kinds;
} fields[] = {
	{ "id", F_SPECIAL, 0, KALL },
	{ "kind", F_SPECIAL, 0, KALL },
	{ "stage", F_SPECIAL, 0, KALL },
	{ "phase", F_SPECIAL, 0, K(SQL) | K(CODE) },
	{ "note", F_STR, offsetof(struct step, note), KALL },
	{ "min_releases", F_INT, offsetof(struct step, min_releases), KALL },
	{ "verify", F_STR, offsetof(struct step, verify), KALL },
	{ "down", F_STR, offsetof(struct step, down), KALL },
	{ "lock_timeout", F_STR, offsetof(struct step, lock_timeout), KALL },
	{ "statement_timeout", F_STR, offsetof(struct step, statement_timeout), KALL },
	{ "lock_retries", F_INT, offsetof(struct step, lock_retries), KALL },
	{ "transaction", F_BOOL, offsetof(struct step, transaction), KALL },
	{ "schema", F_STR, offsetof(struct step, schema), KALL },
	{ "table", F_STR, offsetof(struct step, table), KALL & ~(K(SQL) | K(DROP_INDEX)) },
	{ "column", F_STR, offsetof(struct step, column), K(ADD_COLUMN) |
	    K(SET_NOT_NULL) | K(STOP_OLD_WRITES) | K(DROP_COLUMN) | K(SWITCH_READS) | K(CODE) },
	{ "type", F_STR, offsetof(struct step, type), K(ADD_COLUMN) },
	{ "default", F_STR, offsetof(struct step, default_), K(ADD_COLUMN) },
	{ "name", F_STR, offsetof(struct step, name), K(CREATE_INDEX) |
	    K(ADD_CONSTRAINT) | K(VALIDATE_CONSTRAINT) | K(DROP_INDEX) |
	    K(DROP_CONSTRAINT) | K(DROP_TRIGGER) },
	{ "unique", F_BOOL, offsetof(struct step, unique), K(CREATE_INDEX) },
	{ "columns", F_COLUMNS, offsetof(struct step, columns), K(CREATE_INDEX) | K(CREATE_TABLE) },
	{ "where", F_STR, offsetof(struct step, where), K(CREATE_INDEX) | K(BACKFILL) },
	{ "using", F_STR, offsetof(struct step, using_), K(CREATE_INDEX) },
	{ "check", F_STR, offsetof(struct step, check), K(ADD_CONSTRAINT) },
	{ "foreign_key", F_LIST, offsetof(struct step, fk_columns), K(ADD_CONSTRAINT) },
	{ "references", F_STR, offsetof(struct step, references), K(ADD_CONSTRAINT) },
	{ "ref_columns", F_LIST, offsetof(struct step, ref_columns), K(ADD_CONSTRAINT) },
	{ "primary_key", F_LIST, offsetof(struct step, primary_key), K(CREATE_TABLE) },
	{ "from", F_STR, offsetof(struct step, from), K(DUAL_WRITE) },
	{ "to", F_STR, offsetof(struct step, to), K(DUAL_WRITE) },
	{ "trigger", F_BOOL, offsetof(struct step, trigger), K(DUAL_WRITE) },
	{ "up", F_STR, offsetof(struct step, up), K(DUAL_WRITE) | K(SQL) },
	{ "set", F_STR, offsetof(struct step, set), K(BACKFILL) },
	{ "batch_size", F_INT, offsetof(struct step, batch_size), K(BACKFILL) },
	{ "target_batch_ms", F_INT, offsetof(struct step, target_batch_ms), K(BACKFILL) },
	{ "pause_ms", F_INT, offsetof(struct step, pause_ms), K(BACKFILL) },
	{ "drop_not_null", F_BOOL, offsetof(struct step, drop_not_null), K(STOP_OLD_WRITES) },
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char *const plan_fields[] = {
	"plan", "description", "owner", "contract_after", "deadline",
	"depends_on", "steps", NULL
};

/* Name of a kind. */
const char *
step_kind_name(enum step_kind k)
{
	return k < KIND__COUNT ? kinds[k].name : "?";
}

/* Looks a kind up by name. */
int
step_kind_from_name(const char *name, enum step_kind *out)
{
	int k;

	for (k = 0; k < KIND__COUNT; k++)
		if (strcmp(kinds[k].name, name) == 0) {
			*out = (enum step_kind)k;
			return 0;
		}
	return -1;
}

/* The phase a kind belongs to. */
enum phase
step_kind_phase(enum step_kind k)
{
	return kinds[k].phase;
}

/* The stage a kind runs at by default. */
enum stage
step_kind_stage(enum step_kind k)
{
	return kinds[k].stage;
}

/* The default least number of releases after the previous step. */
int
step_kind_min_releases(enum step_kind k)
{
	return kinds[k].min_releases;
}

/* 1 when the kind runs SQL. */
int
step_kind_is_db(enum step_kind k)
{
	return kinds[k].db;
}

/* Name of a phase. */
const char *
phase_name(enum phase p)
{
	return phase_names[p];
}

/* Name of a stage. */
const char *
stage_name(enum stage s)
{
	return stage_names[s];
}

/* Looks a stage up by name. */
int
stage_from_name(const char *s, enum stage *out)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(stage_names[i], s) == 0) {
			*out = (enum stage)i;
			return 0;
		}
	return -1;
}

/* Whether s is a duration like 2s, 500ms, 1min or 0 (util_duration_ms). */
int
plan_duration_valid(const char *s)
{
	return util_duration_ms(s) >= 0;
}

/* The effective min_releases of a step. */
int
step_min_releases(const struct step *s)
{
	return s->min_releases >= 0 ? s->min_releases : kinds[s->kind].min_releases;
}

/* The step's schema, "public" by default. */
const char *
step_schema(const struct step *s)
{
	return s->schema.s != NULL ? s->schema.s : "public";
}

/* Appends a diagnostic. */
void
plan_diags_add(struct plan_diags *d, const char *file, struct pos pos,
    const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	XGROW(d->v, d->cap, d->n + 1);
	d->v[d->n].file = xstrdup(file);
	d->v[d->n].pos = pos;
	d->v[d->n].msg = buf_detach(&b);
	d->n++;
}

/* Frees diagnostics. */
void
plan_diags_free(struct plan_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof *d);
}

/* Edit distance, for "did you mean" suggestions. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		cur[j] = j;
	for (i = 1; i <= la; i++) {
		prev = cur[0];
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t t = cur[j], best = prev + (a[i - 1] != b[j - 1]);

			if (cur[j] + 1 < best)
				best = cur[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			cur[j] = best;
			prev = t;
		}
	}
	return cur[lb];
}

/* The closest name in a NULL-terminated list, or NULL when none is close. */
static const char *
nearest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t i, bd = (size_t)-1, d, limit = strlen(word) <= 4 ? 1 : 2;

	for (i = 0; i < n && names[i] != NULL; i++) {
		d = edit_distance(word, names[i]);
		if (d < bd) {
			bd = d;
			best = names[i];
		}
	}
	return bd <= limit ? best : NULL;
}

/* The closest step field name. */
static const char *
nearest_field(const char *word)
{
	const char *names[NFIELDS + 1];
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		names[i] = fields[i].name;
	names[NFIELDS] = NULL;
	return nearest(word, names, NFIELDS);
}

/* Looks a step field up by name. */
static const struct field *
field_find(const char *name)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

/* 1 when map has key with a value other than null. */
static int
given(const struct ynode *map, const char *key)
{
	const struct ynode *v = ytree_get(map, key);

	return v != NULL && !ytree_is_null(v);
}

/* Parses a YAML boolean (the YAML 1.1 words that are not ambiguous). */
static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes",
	    "YES", "on", "On", "ON", NULL };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No",
	    "NO", "off", "Off", "OFF", NULL };
	int i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcmp(s, yes[i]) == 0)
			return *out = 1, 0;
	for (i = 0; no[i] != NULL; i++)
		if (strcmp(s, no[i]) == 0)
			return *out = 0, 0;
	return -1;
}

/* Parses a non-negative decimal integer. */
static int
parse_int(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > 1000000000)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * Reports a name excon cannot use safely: longer than PostgreSQL keeps
 * (the object would be created truncated, and every later lookup, drift
 * check and drop would miss it), or holding '$excon$', which would end
 * the DO blocks excon wraps around names.  `references` may be
 * schema.table: each part counts alone.
 */
static int
check_ident(const struct ynode *v, const char *key, const char *file,
    const char *what, struct plan_diags *d)
{
	const char *p = v->value, *dot;
	size_t n;

	if (strstr(p, "$excon$") != NULL) {
		plan_diags_add(d, file, v->pos, "%s: \"%s\" may not contain "
		    "'$excon$' (reserved by excon)", what, key);
		return -1;
	}
	for (;;) {
		dot = strcmp(key, "references") == 0 ? strchr(p, '.') : NULL;
		n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (n > IDENT_MAX) {
			plan_diags_add(d, file, v->pos, "%s: \"%s\" name is %zu "
			    "bytes long; PostgreSQL keeps only %d, so the object "
			    "could never be found by that name", what, key, n,
			    IDENT_MAX);
			return -1;
		}
		if (dot == NULL)
			return 0;
		p = dot + 1;
	}
}

/*
 * Checks every name of a step's mapping n (single names, lists of names,
 * create_table column names) with check_ident.  Returns -1 when one is bad.
 */
static int
check_names(const struct ynode *n, const char *file, const char *what,
    struct plan_diags *d)
{
	static const char *const keys[] = { "schema", "table", "column", "name",
	    "from", "to", "references", "using", "columns", "foreign_key",
	    "ref_columns", "primary_key", NULL };
	size_t i, j, k;
	int bad = 0;

	for (i = 0; i < n->n; i++) {
		const struct ynode *v = n->items[i];

		for (k = 0; keys[k] != NULL; k++)
			if (strcmp(n->keys[i], keys[k]) == 0)
				break;
		if (keys[k] == NULL)
			continue;
		if (v->type == YNODE_SCALAR) {
			bad |= check_ident(v, keys[k], file, what, d) != 0;
			continue;
		}
		for (j = 0; v->type == YNODE_SEQ && j < v->n; j++) {
			const struct ynode *it = v->items[j];

			if (it->type == YNODE_MAP)
				it = ytree_get(it, "name");
			if (it != NULL && it->type == YNODE_SCALAR)
				bad |= check_ident(it, keys[k], file, what, d) != 0;
		}
	}
	return bad ? -1 : 0;
}

/* Copies a scalar into a pstr. */
static void
pstr_set(struct pstr *p, const struct ynode *n)
{
	free(p->s);
	p->s = xstrdup(n->value);
	p->pos = n->pos;
}

/* Reads a list of scalars (or one scalar) into a NULL-terminated list. */
static int
load_strv(char ***out, const struct ynode *n, const char *file,
    const char *what, struct plan_diags *d)
{
	size_t i;

	strv_free(*out);
	*out = NULL;
	if (n->type == YNODE_SCALAR) {
		*out = xcalloc(2, sizeof **out);
		(*out)[0] = xstrdup(n->value);
		return 0;
	}
	if (n->type != YNODE_SEQ) {
		plan_diags_add(d, file, n->pos, "%s: expected a list of names, got %s",
		    what, ytree_type_name(n));
		return -1;
	}
	*out = xcalloc(n->n + 1, sizeof **out);
	for (i = 0; i < n->n; i++) {
		if (n->items[i]->type != YNODE_SCALAR) {
			plan_diags_add(d, file, n->items[i]->pos,
			    "%s: expected a name, got %s", what,
			    ytree_type_name(n->items[i]));
			return -1;
		}
		(*out)[i] = xstrdup(n->items[i]->value);
	}
	return 0;
}

/* Reads create_table columns: a list of {name, type, null, default, primary_key}. */
static int
load_tcols(struct step *s, const struct ynode *n, const char *file,
    const char *what, struct plan_diags *d)
{
	static const char *const known[] = { "name", "type", "null", "default",
	    "primary_key", NULL };
	size_t i, j;
	int bad = 0;

	if (n->type != YNODE_SEQ) {
		plan_diags_add(d, file, n->pos, "%s: \"columns\" must be a list of "
		    "{name, type} mappings", what);
		return -1;
	}
	s->tcols = xcalloc(n->n ? n->n : 1, sizeof *s->tcols);
	for (i = 0; i < n->n; i++) {
		const struct ynode *c = n->items[i];
		struct plan_column *pc = &s->tcols[s->ntcols++];

		if (c->type != YNODE_MAP) {
			plan_diags_add(d, file, c->pos, "%s: a column must be a "
			    "mapping with name and type", what);
			bad = 1;
			continue;
		}
		for (j = 0; j < c->n; j++) {
			const char *k = c->keys[j];
			const struct ynode *v = c->items[j];
			int b;

			if (v->type != YNODE_SCALAR) {
				plan_diags_add(d, file, v->pos, "%s: column field \"%s\" "
				    "must be a string", what, k);
				bad = 1;
			} else if (strcmp(k, "name") == 0)
				pc->name = xstrdup(v->value);
			else if (strcmp(k, "type") == 0)
				pc->type = xstrdup(v->value);
			else if (strcmp(k, "default") == 0)
				pc->default_ = xstrdup(v->value);
			else if (strcmp(k, "null") == 0 || strcmp(k, "primary_key") == 0) {
				if (parse_bool(v->value, &b) != 0) {
					plan_diags_add(d, file, v->pos, "%s: \"%s\" must be "
					    "true or false", what, k);
					bad = 1;
				} else if (k[0] == 'n')
					pc->not_null = !b;
				else
					pc->primary_key = b;
			} else {
				const char *sug = nearest(k, known, 5);

				plan_diags_add(d, file, c->key_pos[j], "%s: unknown column "
				    "field \"%s\"%s%s%s", what, k, sug ? " (did you mean \"" : "",
				    sug ? sug : "", sug ? "\"?)" : "");
				bad = 1;
			}
		}
		if (pc->name == NULL || pc->type == NULL) {
			plan_diags_add(d, file, c->pos, "%s: a column needs \"name\" and "
			    "\"type\"", what);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/* Appends a length-prefixed string to a canonical form. */
static void
canon_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	/* Trailing blanks and newlines are formatting, not meaning. */
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	buf_printf(b, "s%zu:", n);
	buf_add(b, s, n);
}

/* Appends the canonical form of a node: maps sorted by key. */
static void
canon_node(struct buf *b, const struct ynode *n, const struct field *f)
{
	size_t i, j, *order;
	int v;

	switch (n->type) {
	case YNODE_SCALAR:
		if (f != NULL && f->type == F_BOOL && parse_bool(n->value, &v) == 0)
			canon_str(b, v ? "true" : "false");
		else if (f != NULL && f->type == F_INT && parse_int(n->value, &v) == 0)
			buf_printf(b, "i%d;", v);
		else
			canon_str(b, n->value);
		break;
	case YNODE_SEQ:
		buf_printf(b, "l%zu[", n->n);
		for (i = 0; i < n->n; i++)
			canon_node(b, n->items[i], NULL);
		buf_putc(b, ']');
		break;
	case YNODE_MAP:
		order = xcalloc(n->n ? n->n : 1, sizeof *order);
		for (i = 0; i < n->n; i++)
			order[i] = i;
		for (i = 1; i < n->n; i++)
			for (j = i; j > 0 && strcmp(n->keys[order[j - 1]],
			    n->keys[order[j]]) > 0; j--) {
				size_t t = order[j];

				order[j] = order[j - 1];
				order[j - 1] = t;
			}
		/* A note documents the step; adding or editing one changes nothing. */
		for (i = 0, j = 0; i < n->n; i++)
			j += f == NULL && strcmp(n->keys[i], "note") == 0;
		buf_printf(b, "m%zu{", n->n - j);
		for (i = 0; i < n->n; i++) {
			const char *k = n->keys[order[i]];

			if (f == NULL && strcmp(k, "note") == 0)
				continue;
			canon_str(b, k);
			canon_node(b, n->items[order[i]], f == NULL ? field_find(k) : NULL);
		}
		buf_putc(b, '}');
		free(order);
		break;
	}
}

/* Loads one step from its mapping node. */
static int
load_step(struct step *s, const struct ynode *n, const char *file,
    size_t index, struct plan_diags *d)
{
	const struct ynode *kn, *v;
	struct buf what = BUF_INIT, canon = BUF_INIT;
	size_t i;
	int bad = 0, phase_set = 0;

	s->pos = n->pos;
	s->min_releases = -1;
	s->lock_retries = -1;
	s->pause_ms = -1;
	s->transaction = 1;
	kn = ytree_get(n, "id");
	if (kn != NULL && kn->type == YNODE_SCALAR) {
		pstr_set(&s->id, kn);
		buf_printf(&what, "step \"%s\"", kn->value);
	} else {
		buf_printf(&what, "step %zu", index + 1);
		plan_diags_add(d, file, n->pos, "%s: missing \"id\"", buf_cstr(&what));
		bad = 1;
	}
	kn = ytree_get(n, "kind");
	if (kn == NULL || kn->type != YNODE_SCALAR) {
		plan_diags_add(d, file, n->pos, "%s: missing \"kind\"", buf_cstr(&what));
		buf_free(&what);
		return -1;
	}
	if (step_kind_from_name(kn->value, &s->kind) != 0) {
		const char *names[KIND__COUNT + 1], *sug;
		int k;

		for (k = 0; k < KIND__COUNT; k++)
			names[k] = kinds[k].name;
		names[KIND__COUNT] = NULL;
		sug = nearest(kn->value, names, KIND__COUNT);
		plan_diags_add(d, file, kn->pos, "%s: unknown kind \"%s\"%s%s%s",
		    buf_cstr(&what), kn->value, sug ? " (did you mean \"" : "",
		    sug ? sug : "", sug ? "\"?)" : "");
		buf_free(&what);
		return -1;
	}
	s->phase = kinds[s->kind].phase;
	s->stage = kinds[s->kind].stage;

	for (i = 0; i < n->n; i++) {
		const char *key = n->keys[i];
		const struct field *f = field_find(key);

		v = n->items[i];
		if (f == NULL) {
			const char *sug = nearest_field(key);

			plan_diags_add(d, file, n->key_pos[i], "%s: unknown field \"%s\"%s%s%s",
			    buf_cstr(&what), key, sug ? " (did you mean \"" : "",
			    sug ? sug : "", sug ? "\"?)" : "");
			bad = 1;
			continue;
		}
		if (!(f->kinds & (1u << s->kind))) {
			plan_diags_add(d, file, n->key_pos[i], "%s: field \"%s\" does "
			    "not apply to kind \"%s\"", buf_cstr(&what), key,
			    kinds[s->kind].name);
			bad = 1;
			continue;
		}
		/* `down: ~` or an empty value means not given, never the SQL "~". */
		if (f->type != F_SPECIAL && ytree_is_null(v))
			continue;
		if (f->type != F_LIST && f->type != F_COLUMNS && v->type != YNODE_SCALAR) {
			plan_diags_add(d, file, v->pos, "%s: \"%s\" must be a single "
			    "value, got %s", buf_cstr(&what), key, ytree_type_name(v));
			bad = 1;
			continue;
		}
		switch (f->type) {
		case F_SPECIAL:
			if (strcmp(key, "stage") == 0) {
				if (stage_from_name(v->value, &s->stage) != 0) {
					plan_diags_add(d, file, v->pos, "%s: stage must be "
					    "pre, code or post, not \"%s\"", buf_cstr(&what),
					    v->value);
					bad = 1;
				}
				s->stage_set = 1;
			} else if (strcmp(key, "phase") == 0) {
				int p;

				for (p = 0; p < 3; p++)
					if (strcmp(phase_names[p], v->value) == 0)
						break;
				if (p == 3) {
					plan_diags_add(d, file, v->pos, "%s: phase must be "
					    "expand, migrate or contract, not \"%s\"",
					    buf_cstr(&what), v->value);
					bad = 1;
				} else
					s->phase = (enum phase)p;
				phase_set = 1;
			}
			break;
		case F_STR:
			pstr_set((struct pstr *)(void *)((char *)s + f->off), v);
			if ((f->off == offsetof(struct step, lock_timeout) ||
			    f->off == offsetof(struct step, statement_timeout)) &&
			    !plan_duration_valid(v->value)) {
				plan_diags_add(d, file, v->pos, "%s: \"%s\" must be a "
				    "duration like 2s, 500ms or 1min, not \"%s\"",
				    buf_cstr(&what), key, v->value);
				bad = 1;
			}
			break;
		case F_BOOL:
			if (parse_bool(v->value, (int *)(void *)((char *)s + f->off)) != 0) {
				plan_diags_add(d, file, v->pos, "%s: \"%s\" must be true "
				    "or false, not \"%s\"", buf_cstr(&what), key, v->value);
				bad = 1;
			}
			break;
		case F_INT:
			if (parse_int(v->value, (int *)(void *)((char *)s + f->off)) != 0) {
				plan_diags_add(d, file, v->pos, "%s: \"%s\" must be a "
				    "whole number, not \"%s\"", buf_cstr(&what), key, v->value);
				bad = 1;
			}
			break;
		case F_LIST:
			if (load_strv((char ***)(void *)((char *)s + f->off), v, file,
			    buf_cstr(&what), d) != 0)
				bad = 1;
			break;
		case F_COLUMNS:
			if (s->kind == KIND_CREATE_TABLE) {
				if (load_tcols(s, v, file, buf_cstr(&what), d) != 0)
					bad = 1;
			} else if (load_strv(&s->columns, v, file, buf_cstr(&what), d) != 0)
				bad = 1;
			break;
		}
	}

	/* Required fields per kind. */
	/* A field given with a wrong value was reported above: not "needs" too. */
#define NEED(cond, fname) do { \
	if (!(cond) && !given(n, fname)) { \
		plan_diags_add(d, file, n->pos, "%s: kind \"%s\" needs \"%s\"", \
		    buf_cstr(&what), kinds[s->kind].name, fname); \
		bad = 1; \
	} \
} while (0)
	switch (s->kind) {
	case KIND_ADD_COLUMN:
		NEED(s->table.s, "table");
		NEED(s->column.s, "column");
		NEED(s->type.s, "type");
		break;
	case KIND_CREATE_TABLE:
		NEED(s->table.s, "table");
		NEED(s->ntcols > 0, "columns");
		break;
	case KIND_CREATE_INDEX:
		NEED(s->table.s, "table");
		NEED(s->name.s, "name");
		NEED(s->columns != NULL, "columns");
		break;
	case KIND_ADD_CONSTRAINT:
		NEED(s->table.s, "table");
		NEED(s->name.s, "name");
		NEED(s->check.s || s->fk_columns, "check\" or \"foreign_key");
		if (s->fk_columns != NULL)
			NEED(s->references.s, "references");
		break;
	case KIND_DUAL_WRITE:
		NEED(s->table.s, "table");
		NEED(s->from.s, "from");
		NEED(s->to.s, "to");
		if (s->trigger && !s->stage_set)
			s->stage = STAGE_PRE;
		break;
	case KIND_BACKFILL:
		NEED(s->table.s, "table");
		NEED(s->set.s, "set");
		break;
	case KIND_VALIDATE_CONSTRAINT:
	case KIND_DROP_CONSTRAINT:
	case KIND_DROP_TRIGGER:
		NEED(s->table.s, "table");
		NEED(s->name.s, "name");
		break;
	case KIND_SET_NOT_NULL:
	case KIND_DROP_COLUMN:
		NEED(s->table.s, "table");
		NEED(s->column.s, "column");
		break;
	case KIND_STOP_OLD_WRITES:
		if (s->drop_not_null) {
			NEED(s->table.s, "table");
			NEED(s->column.s, "column");
			/*
			 * The new code inserts without the column: its NOT NULL
			 * must be gone before that code starts.
			 */
			if (!s->stage_set)
				s->stage = STAGE_PRE;
		}
		break;
	case KIND_DROP_TABLE:
		NEED(s->table.s, "table");
		break;
	case KIND_DROP_INDEX:
		NEED(s->name.s, "name");
		break;
	case KIND_SQL:
		NEED(s->up.s, "up");
		NEED(phase_set, "phase");
		NEED(s->stage_set, "stage");
		break;
	default:
		break;
	}
#undef NEED
	if (check_names(n, file, buf_cstr(&what), d) != 0)
		bad = 1;
	if (s->id.s != NULL && !util_name_valid(s->id.s)) {
		plan_diags_add(d, file, s->id.pos, "%s: id must match "
		    "[a-z0-9][a-z0-9_-]*", buf_cstr(&what));
		bad = 1;
	}

	canon_node(&canon, n, NULL);
	s->checksum = xmalloc(65);
	sha256_hex(canon.ptr, canon.len, s->checksum);
	buf_free(&canon);
	buf_free(&what);
	return bad ? -1 : 0;
}

/* Frees the contents of a step. */
static void
step_clear(struct step *s)
{
	struct pstr *strs[] = { &s->id, &s->note, &s->schema, &s->table,
	    &s->column, &s->type, &s->default_, &s->name, &s->where, &s->using_,
	    &s->check, &s->references, &s->from, &s->to, &s->up, &s->down,
	    &s->set, &s->verify, &s->lock_timeout, &s->statement_timeout };
	size_t i;

	for (i = 0; i < sizeof strs / sizeof strs[0]; i++)
		free(strs[i]->s);
	free(s->checksum);
	strv_free(s->columns);
	strv_free(s->fk_columns);
	strv_free(s->ref_columns);
	strv_free(s->primary_key);
	for (i = 0; i < s->ntcols; i++) {
		free(s->tcols[i].name);
		free(s->tcols[i].type);
		free(s->tcols[i].default_);
	}
	free(s->tcols);
}

/* Frees a plan. */
void
plan_free(struct plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	if (p->borrowed) {
		/* The plan, its arrays and strings all live in the block. */
		if (p->block != NULL && --p->block->refs == 0)
			p->block->release(p->block);
		return;
	}
	for (i = 0; i < p->nsteps; i++)
		step_clear(&p->steps[i]);
	free(p->steps);
	for (i = 0; i < p->ndeps; i++) {
		free(p->deps[i].plan);
		free(p->deps[i].step);
	}
	free(p->deps);
	free(p->name.s);
	free(p->description.s);
	free(p->owner.s);
	free(p->deadline.s);
	free(p->file);
	free(p);
}

/* 1 when s is a valid YYYY-MM-DD date (2027-02-30 is not). */
static int
valid_date(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, i, leap;
	char tail;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return 0;
	if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
		return 0;
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return 0;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= mdays[m - 1] + (m == 2 && leap);
}

/* Loads one plan file. */
int
plan_load(struct plan **out, const char *path, struct plan_diags *diags)
{
	struct ynode *root = NULL, *n;
	struct buf err = BUF_INIT;
	struct plan *p = NULL;
	struct pos at;
	size_t before = diags->n, i;
	int ret = -1;

	*out = NULL;
	if (ytree_load(&root, path, &at, &err) != 0) {
		plan_diags_add(diags, path, at, "%s", buf_cstr(&err));
		goto done;
	}
	if (root == NULL || root->type != YNODE_MAP) {
		plan_diags_add(diags, path, root ? root->pos : (struct pos){ .line = 1, .col = 1 },
		    "a plan must be a mapping with \"plan\" and \"steps\"");
		goto done;
	}
	p = xcalloc(1, sizeof *p);
	p->file = xstrdup(path);
	p->contract_after = -1;
	for (i = 0; i < root->n; i++) {
		const char *k = root->keys[i];
		int j, known = 0;

		for (j = 0; plan_fields[j] != NULL; j++)
			known |= strcmp(plan_fields[j], k) == 0;
		if (!known) {
			const char *sug = nearest(k, plan_fields, 7);

			plan_diags_add(diags, path, root->key_pos[i], "unknown plan field "
			    "\"%s\"%s%s%s", k, sug ? " (did you mean \"" : "",
			    sug ? sug : "", sug ? "\"?)" : "");
			continue;
		}
		n = root->items[i];
		if (strcmp(k, "steps") != 0 && ytree_is_null(n))
			continue;	/* not given */
		if (strcmp(k, "steps") != 0 && strcmp(k, "depends_on") != 0 &&
		    n->type != YNODE_SCALAR) {
			plan_diags_add(diags, path, n->pos, "\"%s\" must be a single "
			    "value, got %s", k, ytree_type_name(n));
			continue;
		}
		if (strcmp(k, "plan") == 0) {
			pstr_set(&p->name, n);
			if (!util_name_valid(n->value))
				plan_diags_add(diags, path, n->pos, "plan name \"%s\" must "
				    "match [a-z0-9][a-z0-9_-]*", n->value);
		} else if (strcmp(k, "description") == 0)
			pstr_set(&p->description, n);
		else if (strcmp(k, "owner") == 0)
			pstr_set(&p->owner, n);
		else if (strcmp(k, "deadline") == 0) {
			pstr_set(&p->deadline, n);
			if (!valid_date(n->value))
				plan_diags_add(diags, path, n->pos, "deadline must be a "
				    "date like 2027-03-01, not \"%s\"", n->value);
		} else if (strcmp(k, "contract_after") == 0) {
			p->contract_after_pos = n->pos;
			if (parse_int(n->value, &p->contract_after) != 0)
				plan_diags_add(diags, path, n->pos, "contract_after must "
				    "be a whole number, not \"%s\"", n->value);
		}
	}
	n = ytree_get(root, "depends_on");
	if (n != NULL && !ytree_is_null(n)) {
		char **v = NULL, **q;

		if (load_strv(&v, n, path, "depends_on", diags) == 0) {
			for (q = v; *q != NULL; q++) {
				char *colon = strchr(*q, ':');

				p->deps = xrealloc(p->deps, (p->ndeps + 1) * sizeof *p->deps);
				p->deps[p->ndeps].plan = colon ?
				    xstrndup(*q, (size_t)(colon - *q)) : xstrdup(*q);
				p->deps[p->ndeps].step = colon ? xstrdup(colon + 1) : NULL;
				p->deps[p->ndeps].pos = n->type == YNODE_SEQ ?
				    n->items[q - v]->pos : n->pos;
				p->ndeps++;
			}
		}
		strv_free(v);
	}
	if (p->name.s == NULL && !given(root, "plan"))
		plan_diags_add(diags, path, root->pos, "missing \"plan\" (the plan's name)");
	n = ytree_get(root, "steps");
	if (n == NULL || n->type != YNODE_SEQ || n->n == 0) {
		plan_diags_add(diags, path, n ? n->pos : root->pos,
		    "\"steps\" must be a non-empty list of steps");
	} else {
		p->steps = xcalloc(n->n, sizeof *p->steps);
		for (i = 0; i < n->n; i++) {
			if (n->items[i]->type != YNODE_MAP) {
				plan_diags_add(diags, path, n->items[i]->pos,
				    "step %zu: expected a mapping with id and kind", i + 1);
				continue;
			}
			load_step(&p->steps[p->nsteps++], n->items[i], path, i, diags);
		}
	}
	if (diags->n == before) {
		*out = p;
		p = NULL;
		ret = 0;
	}
done:
	plan_free(p);
	ytree_free(root);
	buf_free(&err);
	return ret;
}

/* A loaded plan and the order it was found in, for a stable sort. */
struct plan_order {
	struct plan	*plan;
	size_t		 order;
};

/* Compares plans by name, then by the order they were found in. */
static int
plan_order_cmp(const void *a, const void *b)
{
	const struct plan_order *pa = a, *pb = b;
	int c = strcmp(pa->plan->name.s, pb->plan->name.s);

	if (c != 0)
		return c;
	return pa->order < pb->order ? -1 : pa->order > pb->order;
}

/* Compares strings, for sorting file names. */
static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds a plan to a set. */
void
plan_set_add(struct plan_set *set, struct plan *p)
{
	XGROW(set->plans, set->cap, set->nplans + 1);
	set->plans[set->nplans++] = p;
}

/* Makes borrowed plan p share block, which plan_free releases. */
void
plan_hold(struct plan *p, struct plan_block *block)
{
	p->block = block;
	block->refs++;
}

/*
 * Appends the *.yaml and *.yml files of dir, sorted, to files.  Returns -1
 * with a diagnostic when dir exists but cannot be read.
 */
static int
dir_files(const char *dir, char ***files, size_t *nfiles, size_t *cap,
    struct plan_diags *diags)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	size_t first = *nfiles, dlen = strlen(dir);

	if (dp == NULL) {
		if (errno == ENOENT)
			return 0;
		plan_diags_add(diags, dir, (struct pos){ .line = 0, .col = 0 },
		    "cannot read plan directory: %s", strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		size_t len = strlen(de->d_name);
		char *f;

		if (de->d_name[0] == '.' || len < 5 ||
		    ((len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0) &&
		    strcmp(de->d_name + len - 4, ".yml") != 0))
			continue;
		XGROW(*files, *cap, *nfiles + 1);
		/* dir/name, without printf: a thousand files are common. */
		f = xmalloc(dlen + 1 + len + 1);
		memcpy(f, dir, dlen);
		f[dlen] = '/';
		memcpy(f + dlen + 1, de->d_name, len + 1);
		(*files)[(*nfiles)++] = f;
	}
	closedir(dp);
	if (*nfiles - first > 1)
		qsort(*files + first, *nfiles - first, sizeof **files, str_cmp);
	return 0;
}

/* Lists the plan files of dirs: directory by directory, each sorted. */
int
plan_files(char *const *dirs, char ***files, size_t *n, struct plan_diags *diags)
{
	size_t i, cap = 0;
	int ret = 0;

	*files = NULL;
	*n = 0;
	for (i = 0; dirs != NULL && dirs[i] != NULL; i++)
		if (dir_files(dirs[i], files, n, &cap, diags) != 0)
			ret = -1;
	return ret;
}

/* Frees a file list. */
void
plan_files_free(char **files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

/*
 * Sorts a set by plan name.  Plans were added directory by directory in
 * the order given, so when two files define the same plan the one added
 * first stays and the other is reported and dropped, keeping names unique.
 */
int
plan_set_finish(struct plan_set *set, struct plan_diags *diags)
{
	struct plan_order *ord;
	size_t i, n = set->nplans;
	int ret = 0;

	if (n == 0)
		return 0;
	ord = xcalloc(n, sizeof *ord);
	for (i = 0; i < n; i++) {
		ord[i].plan = set->plans[i];
		ord[i].order = i;
	}
	qsort(ord, n, sizeof *ord, plan_order_cmp);
	set->nplans = 0;
	for (i = 0; i < n; i++) {
		struct plan *p = ord[i].plan, *kept;

		kept = set->nplans ? set->plans[set->nplans - 1] : NULL;
		if (kept != NULL && strcmp(kept->name.s, p->name.s) == 0) {
			plan_diags_add(diags, p->file, p->name.pos, "plan \"%s\" is "
			    "also defined in %s", p->name.s, kept->file);
			plan_free(p);
			ret = -1;
			continue;
		}
		set->plans[set->nplans++] = p;
	}
	free(ord);
	return ret;
}

/* Loads every plan file of the directories. */
int
plan_set_load(struct plan_set *set, char *const *dirs, struct plan_diags *diags)
{
	size_t i, nfiles;
	char **files;
	int ret = plan_files(dirs, &files, &nfiles, diags);

	for (i = 0; i < nfiles; i++) {
		struct plan *p;

		if (plan_load(&p, files[i], diags) != 0)
			ret = -1;
		else
			plan_set_add(set, p);
	}
	plan_files_free(files, nfiles);
	if (plan_set_finish(set, diags) != 0)
		ret = -1;
	return ret;
}

/* Index of the plan called name (binary search: the set is sorted), or -1. */
static int
plan_set_slot(const struct plan_set *set, const char *name)
{
	size_t lo = 0, hi = set->nplans;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(set->plans[mid]->name.s, name);

		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Finds a plan by name. */
struct plan *
plan_set_find(const struct plan_set *set, const char *name)
{
	int i = plan_set_slot(set, name);

	return i >= 0 ? set->plans[i] : NULL;
}

/* Frees a set and its plans. */
void
plan_set_free(struct plan_set *set)
{
	size_t i;

	for (i = 0; i < set->nplans; i++)
		plan_free(set->plans[i]);
	free(set->plans);
	memset(set, 0, sizeof *set);
}

/* Index of step id in p, or -1. */
int
plan_step_index(const struct plan *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->nsteps; i++)
		if (p->steps[i].id.s != NULL && strcmp(p->steps[i].id.s, id) == 0)
			return (int)i;
	return -1;
}

/*
 * 1 when a chain of depends_on starting at from leads to the plan called
 * target.  Each plan is visited once, so a large graph with many paths
 * (or a cycle elsewhere) costs linear time.
 */
static int
dep_reaches(const struct plan_set *set, const struct plan *from,
    const char *target)
{
	unsigned char *seen = xcalloc(set->nplans + 1, 1);
	const struct plan **stack = xcalloc(set->nplans + 1, sizeof *stack);
	size_t top = 0, i;
	int found = 0, k;

	stack[top++] = from;
	if ((k = plan_set_slot(set, from->name.s)) >= 0)
		seen[k] = 1;
	while (top > 0 && !found) {
		const struct plan *q = stack[--top];

		for (i = 0; i < q->ndeps && !found; i++) {
			if (strcmp(q->deps[i].plan, target) == 0) {
				found = 1;
				break;
			}
			k = plan_set_slot(set, q->deps[i].plan);
			if (k < 0 || seen[k])
				continue;
			seen[k] = 1;
			stack[top++] = set->plans[k];
		}
	}
	free(stack);
	free(seen);
	return found;
}

/* Plan-level rules. */
int
plan_lint(const struct plan *p, const struct plan_set *set,
    int default_contract_after, struct plan_diags *diags)
{
	size_t before = diags->n, i, j;
	int seen_contract = -1;

	for (i = 0; i < p->nsteps; i++) {
		const struct step *s = &p->steps[i];

		for (j = 0; j < i; j++)
			if (strcmp(p->steps[j].id.s, s->id.s) == 0)
				plan_diags_add(diags, p->file, s->id.pos, "step id \"%s\" "
				    "is used twice (also at line %d)", s->id.s,
				    p->steps[j].id.pos.line);
		if (s->phase == PHASE_CONTRACT && seen_contract < 0)
			seen_contract = (int)i;
		if (s->phase != PHASE_CONTRACT && seen_contract >= 0)
			plan_diags_add(diags, p->file, s->pos, "step \"%s\" (%s) comes "
			    "after contract step \"%s\": every contract step must come "
			    "after every expand and migrate step", s->id.s,
			    phase_name(s->phase), p->steps[seen_contract].id.s);
		if (s->stage == STAGE_POST && (s->kind == KIND_ADD_COLUMN ||
		    s->kind == KIND_CREATE_TABLE))
			plan_diags_add(diags, p->file, s->pos, "step \"%s\": a new %s "
			    "must not be created in a post step (the code already "
			    "running cannot use it); use stage pre", s->id.s,
			    s->kind == KIND_ADD_COLUMN ? "column" : "table");
		if (s->kind == KIND_CREATE_TABLE) {
			int pk = s->primary_key != NULL;

			for (j = 0; j < s->ntcols; j++)
				pk |= s->tcols[j].primary_key;
			if (!pk)
				plan_diags_add(diags, p->file, s->pos, "step \"%s\": "
				    "create_table needs a primary key (\"primary_key\" "
				    "or a column with primary_key: true)", s->id.s);
		}
	}
	if (p->contract_after >= 0 && p->contract_after < default_contract_after)
		plan_diags_add(diags, p->file, p->contract_after_pos, "contract_after "
		    "%d is below the configured default %d: a plan may raise it, "
		    "never lower it", p->contract_after, default_contract_after);
	for (i = 0; i < p->ndeps; i++) {
		const struct plan_dep *dp = &p->deps[i];
		const struct plan *q = set ? plan_set_find(set, dp->plan) : NULL;

		if (set == NULL)
			break;
		if (q == NULL)
			plan_diags_add(diags, p->file, dp->pos, "depends_on: unknown "
			    "plan \"%s\"", dp->plan);
		else if (dp->step != NULL && plan_step_index(q, dp->step) < 0)
			plan_diags_add(diags, p->file, dp->pos, "depends_on: plan \"%s\" "
			    "has no step \"%s\"", dp->plan, dp->step);
		else if (strcmp(dp->plan, p->name.s) == 0 ||
		    dep_reaches(set, q, p->name.s))
			plan_diags_add(diags, p->file, dp->pos, "depends_on: \"%s\" "
			    "leads back to \"%s\" (dependency cycle)", dp->plan,
			    p->name.s);
	}
	return (int)(diags->n - before);
}

/*
 * Encoding for the plan cache: native-endian, never shared between
 * machines.  Strings are a 32-bit length (UINT32_MAX for NULL), the bytes
 * and a NUL, so that a decoded plan points into the cache instead of
 * copying; a field that is absent altogether (no value, no position) is
 * the one word ENC_ABSENT.  The step fields follow the field table, so a
 * field added to the table is cached without further work; only those
 * set are encoded, after a mask of them (fields_set).
 */
#define ENC_NULL	0xffffffffu
#define ENC_ABSENT	0xfffffffeu

/* Appends a 32-bit integer. */
static void
enc_i32(struct buf *b, int32_t v)
{
	buf_add(b, &v, sizeof v);
}

/* Appends a string or NULL. */
static void
enc_str(struct buf *b, const char *s)
{
	uint32_t n = s == NULL ? ENC_NULL : (uint32_t)strlen(s);

	buf_add(b, &n, sizeof n);
	if (s != NULL)
		buf_add(b, s, n + 1);
}

/* Appends a pstr. */
static void
enc_pstr(struct buf *b, const struct pstr *p)
{
	if (p->s == NULL && p->pos.line == 0 && p->pos.col == 0 &&
	    p->pos.block == 0) {
		enc_i32(b, (int32_t)ENC_ABSENT);
		return;
	}
	enc_str(b, p->s);
	enc_i32(b, p->pos.line);
	enc_i32(b, p->pos.col);
	enc_i32(b, p->pos.block);
}

/* Appends a NULL-terminated list. */
static void
enc_strv(struct buf *b, char **v)
{
	int32_t n = 0;

	if (v == NULL) {
		enc_i32(b, -1);
		return;
	}
	while (v[n] != NULL)
		n++;
	enc_i32(b, n);
	for (n = 0; v[n] != NULL; n++)
		enc_str(b, v[n]);
}

/* Appends a 64-bit integer. */
static void
enc_u64(struct buf *b, uint64_t v)
{
	buf_add(b, &v, sizeof v);
}

/*
 * Whether field j of s differs from the zeroes a decoded step starts
 * with: only such fields are encoded, after a mask that says which, so
 * that decoding a step costs its few values rather than the whole table.
 */
static int
field_set(const struct step *s, size_t j)
{
	const void *at = (const char *)s + fields[j].off;
	const struct pstr *ps = at;

	switch (fields[j].type) {
	case F_STR:
		return ps->s != NULL || ps->pos.line != 0 || ps->pos.col != 0 ||
		    ps->pos.block != 0;
	case F_BOOL:
	case F_INT:
		return *(const int *)at != 0;
	case F_LIST:
		return *(char **const *)at != NULL;
	case F_COLUMNS:
		return s->columns != NULL || s->ntcols > 0;
	case F_SPECIAL:
		break;
	}
	return 0;
}

/* The mask of the fields of s that are encoded (bit j: fields[j]). */
static uint64_t
fields_set(const struct step *s)
{
	uint64_t m = 0;
	size_t j;

	_Static_assert(NFIELDS <= 64, "the field mask has 64 bits");
	for (j = 0; j < NFIELDS; j++)
		if (field_set(s, j))
			m |= (uint64_t)1 << j;
	return m;
}

/* Bytes of n, rounded up to the alignment of the decoding arena. */
static size_t
arena_round(size_t n)
{
	return (n + PLAN_ARENA_ALIGN - 1) & ~(size_t)(PLAN_ARENA_ALIGN - 1);
}

/* Arena bytes that decoding the NULL-terminated list v takes. */
static size_t
strv_need(char **v)
{
	size_t n = 0;

	if (v == NULL)
		return 0;
	while (v[n] != NULL)
		n++;
	return arena_round((n + 1) * sizeof *v);
}

/*
 * Arena bytes that plan_decode takes for p: the plan, its dependencies,
 * its steps and their lists, each piece rounded as plan_decode takes it.
 */
static size_t
decoded_need(const struct plan *p)
{
	size_t i, j, need = arena_round(sizeof *p);

	if (p->ndeps > 0)
		need += arena_round(p->ndeps * sizeof *p->deps);
	need += arena_round(p->nsteps * sizeof *p->steps);
	for (i = 0; i < p->nsteps; i++) {
		const struct step *s = &p->steps[i];

		for (j = 0; j < NFIELDS; j++) {
			const void *at = (const char *)s + fields[j].off;

			if (fields[j].type == F_LIST)
				need += strv_need(*(char **const *)at);
			else if (fields[j].type == F_COLUMNS) {
				need += strv_need(s->columns);
				if (s->ntcols > 0)
					need += arena_round(s->ntcols * sizeof *s->tcols);
			}
		}
	}
	return need;
}

/* Serializes a plan. */
void
plan_encode(const struct plan *p, struct buf *out)
{
	size_t i, j, k;

	enc_i32(out, (int32_t)decoded_need(p));
	enc_str(out, p->file);
	enc_pstr(out, &p->name);
	enc_pstr(out, &p->description);
	enc_pstr(out, &p->owner);
	enc_i32(out, p->contract_after);
	enc_i32(out, p->contract_after_pos.line);
	enc_i32(out, p->contract_after_pos.col);
	enc_pstr(out, &p->deadline);
	enc_i32(out, (int32_t)p->ndeps);
	for (i = 0; i < p->ndeps; i++) {
		enc_str(out, p->deps[i].plan);
		enc_str(out, p->deps[i].step);
		enc_i32(out, p->deps[i].pos.line);
		enc_i32(out, p->deps[i].pos.col);
	}
	enc_i32(out, (int32_t)p->nsteps);
	for (i = 0; i < p->nsteps; i++) {
		const struct step *s = &p->steps[i];

		enc_pstr(out, &s->id);
		enc_i32(out, (int32_t)s->kind);
		enc_i32(out, (int32_t)s->phase);
		enc_i32(out, (int32_t)s->stage);
		enc_i32(out, s->stage_set);
		enc_i32(out, s->pos.line);
		enc_i32(out, s->pos.col);
		buf_add(out, s->checksum, 65);
		enc_u64(out, fields_set(s));
		for (j = 0; j < NFIELDS; j++) {
			const void *at = (const char *)s + fields[j].off;

			if (!field_set(s, j))
				continue;
			switch (fields[j].type) {
			case F_STR:
				enc_pstr(out, at);
				break;
			case F_BOOL:
			case F_INT:
				enc_i32(out, *(const int *)at);
				break;
			case F_LIST:
				enc_strv(out, *(char **const *)at);
				break;
			case F_COLUMNS:
				enc_strv(out, s->columns);
				enc_i32(out, (int32_t)s->ntcols);
				for (k = 0; k < s->ntcols; k++) {
					enc_str(out, s->tcols[k].name);
					enc_str(out, s->tcols[k].type);
					enc_str(out, s->tcols[k].default_);
					enc_i32(out, s->tcols[k].not_null);
					enc_i32(out, s->tcols[k].primary_key);
				}
				break;
			case F_SPECIAL:
				break;
			}
		}
	}
}

struct dec {
	const char	*cur;
	const char	*end;
	int		 bad;
	char		*mem;		/* the arena's unused bytes */
	size_t		 left;
};

/*
 * n zeroed bytes of the arena (it starts zeroed and is never reused), or
 * NULL and d->bad when the plan's declared need is used up.
 */
static void *
dec_take(struct dec *d, size_t n)
{
	void *v;

	n = arena_round(n);
	if (d->bad || n > d->left) {
		d->bad = 1;
		return NULL;
	}
	v = d->mem;
	d->mem += n;
	d->left -= n;
	return v;
}

/* Reads a 32-bit integer. */
static int32_t
dec_i32(struct dec *d)
{
	int32_t v = 0;

	if (d->bad || d->end - d->cur < (ptrdiff_t)sizeof v) {
		d->bad = 1;
		return 0;
	}
	memcpy(&v, d->cur, sizeof v);
	d->cur += sizeof v;
	return v;
}

/* Reads a 64-bit integer. */
static uint64_t
dec_u64(struct dec *d)
{
	uint64_t v = 0;

	if (d->bad || d->end - d->cur < (ptrdiff_t)sizeof v) {
		d->bad = 1;
		return 0;
	}
	memcpy(&v, d->cur, sizeof v);
	d->cur += sizeof v;
	return v;
}

/*
 * The string of n bytes (and its NUL) at the cursor, or NULL for ENC_NULL:
 * borrowed from the bytes being decoded, which plan_decode's caller keeps.
 */
static char *
dec_str_n(struct dec *d, uint32_t n)
{
	char *s;

	if (d->bad || n == ENC_NULL)
		return NULL;
	if (n == ENC_ABSENT || (size_t)(d->end - d->cur) <= n || d->cur[n] != '\0') {
		d->bad = 1;
		return NULL;
	}
	s = (char *)d->cur;	/* borrowed and never written (see plan.h) */
	d->cur += n + 1;
	return s;
}

/* Reads a string (borrowed) or NULL. */
static char *
dec_str(struct dec *d)
{
	return dec_str_n(d, (uint32_t)dec_i32(d));
}

/* Reads a pstr. */
static void
dec_pstr(struct dec *d, struct pstr *p)
{
	uint32_t n = (uint32_t)dec_i32(d);

	if (n == ENC_ABSENT && !d->bad) {
		memset(p, 0, sizeof *p);
		return;
	}
	p->s = dec_str_n(d, n);
	p->pos.line = dec_i32(d);
	p->pos.col = dec_i32(d);
	p->pos.block = dec_i32(d) != 0;
}

/* Reads a list, or NULL. */
static char **
dec_strv(struct dec *d)
{
	int32_t n = dec_i32(d), i;
	char **v;

	if (d->bad || n < 0)
		return NULL;
	if (n > 100000) {
		d->bad = 1;
		return NULL;
	}
	if ((v = dec_take(d, ((size_t)n + 1) * sizeof *v)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		v[i] = dec_str(d);
	return v;
}

/* The arena bytes that decoding the plan encoded at cur takes, or 0. */
size_t
plan_decode_need(const char *cur, const char *end)
{
	int32_t n;

	if (end - cur < (ptrdiff_t)sizeof n)
		return 0;
	memcpy(&n, cur, sizeof n);
	/*
	 * Every piece of a decoded plan comes from at least a few encoded
	 * bytes, and is at most eight times their size: a larger claim comes
	 * from a damaged cache and must not make the caller map gigabytes.
	 */
	if (n <= 0 || (size_t)n / 8 > (size_t)(end - cur) + 128)
		return 0;
	return arena_round((size_t)n);
}

/* The name of the plan encoded at cur (borrowed), or NULL. */
const char *
plan_encoded_name(const char *cur, const char *end)
{
	struct dec d = { cur, end, 0, NULL, 0 };
	struct pstr name;

	(void)dec_i32(&d);
	(void)dec_str(&d);
	dec_pstr(&d, &name);
	return d.bad ? NULL : name.s;
}

/* Rebuilds a plan from its encoding, in the arena at mem. */
int
plan_decode(const char **cur, const char *end, void *mem, size_t memlen,
    struct plan **out)
{
	struct dec d = { *cur, end, 0, mem, memlen };
	struct plan *p;
	uint64_t mask;
	int32_t n, i;
	size_t j, k;

	*out = NULL;
	assert(((uintptr_t)mem & (PLAN_ARENA_ALIGN - 1)) == 0);
	if ((size_t)dec_i32(&d) != memlen ||
	    (p = dec_take(&d, sizeof *p)) == NULL)
		return -1;
	p->borrowed = 1;
	p->file = dec_str(&d);
	dec_pstr(&d, &p->name);
	dec_pstr(&d, &p->description);
	dec_pstr(&d, &p->owner);
	p->contract_after = dec_i32(&d);
	p->contract_after_pos.line = dec_i32(&d);
	p->contract_after_pos.col = dec_i32(&d);
	dec_pstr(&d, &p->deadline);
	n = dec_i32(&d);
	if (n < 0 || n > 10000)
		d.bad = 1;
	else if (n > 0 && (p->deps = dec_take(&d, (size_t)n * sizeof *p->deps)) != NULL) {
		for (i = 0; i < n && !d.bad; i++, p->ndeps++) {
			p->deps[i].plan = dec_str(&d);
			p->deps[i].step = dec_str(&d);
			p->deps[i].pos.line = dec_i32(&d);
			p->deps[i].pos.col = dec_i32(&d);
		}
	}
	n = dec_i32(&d);
	if (n <= 0 || n > 100000)
		d.bad = 1;
	else
		p->steps = dec_take(&d, (size_t)n * sizeof *p->steps);
	for (i = 0; i < n && !d.bad; i++) {
		struct step *s = &p->steps[p->nsteps++];

		dec_pstr(&d, &s->id);
		s->kind = (enum step_kind)dec_i32(&d);
		s->phase = (enum phase)dec_i32(&d);
		s->stage = (enum stage)dec_i32(&d);
		s->stage_set = dec_i32(&d);
		s->pos.line = dec_i32(&d);
		s->pos.col = dec_i32(&d);
		if (d.bad || s->kind >= KIND__COUNT || s->phase > PHASE_CONTRACT ||
		    s->stage > STAGE_POST || d.end - d.cur < 65 ||
		    d.cur[64] != '\0') {
			d.bad = 1;
			break;
		}
		s->checksum = (char *)d.cur;	/* borrowed, as the strings */
		d.cur += 65;
		mask = dec_u64(&d);
		if (NFIELDS < 64 && (mask >> NFIELDS) != 0)
			d.bad = 1;
		for (j = 0; j < NFIELDS && !d.bad; j++) {
			void *at = (char *)s + fields[j].off;

			/* Absent fields stay as the arena's zeroes. */
			if ((mask & ((uint64_t)1 << j)) == 0)
				continue;
			switch (fields[j].type) {
			case F_STR:
				dec_pstr(&d, at);
				break;
			case F_BOOL:
			case F_INT:
				*(int *)at = dec_i32(&d);
				break;
			case F_LIST:
				*(char ***)at = dec_strv(&d);
				break;
			case F_COLUMNS:
				s->columns = dec_strv(&d);
				k = (size_t)dec_i32(&d);
				if (d.bad || k > 10000) {
					d.bad = 1;
					break;
				}
				s->tcols = k ? dec_take(&d, k * sizeof *s->tcols) : NULL;
				for (; s->ntcols < k && !d.bad; s->ntcols++) {
					struct plan_column *c = &s->tcols[s->ntcols];

					c->name = dec_str(&d);
					c->type = dec_str(&d);
					c->default_ = dec_str(&d);
					c->not_null = dec_i32(&d);
					c->primary_key = dec_i32(&d);
				}
				break;
			case F_SPECIAL:
				d.bad = 1;	/* never in the mask */
				break;
			}
		}
	}
	if (d.bad || p->name.s == NULL || p->file == NULL)
		return -1;	/* nothing to free: all of it is in the arena */
	*cur = d.cur;
	*out = p;
	return 0;
}

/* The closest of n names to word, or NULL when none is close (borrowed). */
const char *
plan_nearest_name(const char *word, const char *const *names, size_t n)
{
	return nearest(word, names, n);
}
