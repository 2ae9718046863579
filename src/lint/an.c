/*
 * What the core and the rule families share to analyze one input (see
 * lint/lint-int.h): small string sets, reporting a finding at a byte
 * offset of the parsed text, and helpers over the parse tree.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lint/lint-int.h"
#include "xalloc.h"

/* ------------------------------------------------------------------ */
/* Small string sets                                                   */
/* ------------------------------------------------------------------ */

/* FNV-1a hash of s. */
static size_t
str_hash(const char *s)
{
	size_t h = (size_t)14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
	return h;
}

/* The slot of s in set: where it is, or the empty one where it would go. */
static size_t
strset_slot(const struct strset *set, const char *s)
{
	size_t i = str_hash(s) & (set->nslots - 1);

	while (set->slots[i] != 0 && strcmp(set->v[set->slots[i] - 1], s) != 0)
		i = (i + 1) & (set->nslots - 1);
	return i;
}

/* 1 when s is in set. */
int
strset_has(const struct strset *set, const char *s)
{
	return set->n > 0 && set->slots[strset_slot(set, s)] != 0;
}

/* 1 when the table "schema.table" was created earlier in this input. */
int
is_new(const struct an *a, const char *key)
{
	return strset_has(&a->created, key);
}

/* The index of s in set->v (the order of adding), or -1. */
long
strset_index(const struct strset *set, const char *s)
{
	return set->n > 0 ? (long)set->slots[strset_slot(set, s)] - 1 : -1;
}

/* Adds a copy of s unless present. */
void
strset_add(struct strset *set, const char *s)
{
	size_t i;

	if (strset_has(set, s))
		return;
	if (2 * (set->n + 1) > set->nslots) {
		free(set->slots);
		set->nslots = set->nslots ? 2 * set->nslots : 16;
		set->slots = xcalloc(set->nslots, sizeof *set->slots);
		for (i = 0; i < set->n; i++)
			set->slots[strset_slot(set, set->v[i])] = i + 1;
	}
	XGROW(set->v, set->cap, set->n + 1);
	set->v[set->n++] = xstrdup(s);
	set->slots[strset_slot(set, s)] = set->n;
}

/* Empties set, keeping nothing. */
void
strset_clear(struct strset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->v[i]);
	set->n = 0;
	if (set->slots != NULL)
		memset(set->slots, 0, set->nslots * sizeof *set->slots);
}

/* Frees set. */
void
strset_free(struct strset *set)
{
	strset_clear(set);
	free(set->v);
	free(set->slots);
	set->v = NULL;
	set->slots = NULL;
	set->cap = 0;
	set->nslots = 0;
}

/* ------------------------------------------------------------------ */
/* Findings at offsets of the parsed text                              */
/* ------------------------------------------------------------------ */

/*
 * Fix texts for plain migration files of other tools, where the plan
 * vocabulary (steps, transaction: false) means nothing: the rule table's
 * fix is for plans.
 */
static const struct { const char *id, *fix; } plain_fixes[] = {
	{ "E-CONCURRENT-IN-TX", "run it outside a transaction: no BEGIN/COMMIT "
	  "around it, and tell the tool (-- excon:no-transaction, goose's "
	  "-- +goose NO TRANSACTION, dbmate's transaction:false, Flyway's "
	  "executeInTransaction=false)" },
	{ "E-INDEX-NOT-CONCURRENT", "CREATE INDEX CONCURRENTLY IF NOT EXISTS, "
	  "in a file that runs outside a transaction" },
	{ "E-DROP-INDEX-NOT-CONCURRENT", "DROP INDEX CONCURRENTLY IF EXISTS, "
	  "in a file that runs outside a transaction" },
	{ "E-DROP-INDEX", "make sure no query needs it (pg_stat_user_indexes."
	  "idx_scan), then DROP INDEX CONCURRENTLY IF EXISTS outside a "
	  "transaction" },
	{ "E-RENAME-COLUMN", "add a column with the new name and let a plan "
	  "move the code to it: excon new rename-column TABLE OLD NEW" },
	{ "E-RENAME-TABLE", "create the new table and let a plan move the "
	  "code to it: excon new rename-table OLD NEW" },
};

/* The fix of rule id in the words of a plain migration file, or NULL. */
const char *
lint_plain_fix(const char *id)
{
	size_t i;

	for (i = 0; i < LINT_N(plain_fixes); i++)
		if (strcmp(plain_fixes[i].id, id) == 0)
			return plain_fixes[i].fix;
	return NULL;
}

/* The rule called id in the table the core gave a, or NULL. */
static const struct sqlrule *
an_rule(const struct an *a, const char *id)
{
	size_t i;

	for (i = 0; i < a->nrules; i++)
		if (strcmp(a->rules[i].id, id) == 0)
			return &a->rules[i];
	return NULL;
}


/* Maps a byte offset of the parsed text to a position in the file. */
struct pos
an_pos(struct an *a, int off)
{
	const unsigned char *t = (const unsigned char *)a->sql + a->shift;
	int n = off - a->shift, i = 0, line = 0, col = 0;
	int tlen = a->len - a->shift;
	struct pos p;

	if (n < 0)
		n = 0;
	if (n > tlen)
		n = tlen;
	/*
	 * The line from a table of line starts built once: scanning from
	 * the top for every finding would make a long file with many
	 * findings cost time quadratic in its length.
	 */
	if (a->lines == NULL) {
		size_t cap = 0;

		XGROW(a->lines, cap, 1);
		a->lines[a->nlines++] = 0;
		for (i = 0; i < tlen; i++)
			if (t[i] == '\n') {
				XGROW(a->lines, cap, a->nlines + 1);
				a->lines[a->nlines++] = i + 1;
			}
	}
	{
		size_t lo = 0, hi = a->nlines;	/* last start <= n */

		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (a->lines[mid] <= n)
				lo = mid;
			else
				hi = mid;
		}
		line = (int)lo;
		i = a->lines[lo];
	}
	for (; i < n; i++)
		if ((t[i] & 0xC0) != 0x80)
			col++;
	p.line = (a->base.line > 0 ? a->base.line : 1) + line;
	if (a->block || line == 0)
		p.col = (a->base.col > 0 ? a->base.col : 1) + col;
	else
		p.col = 1 + col;
	return p;
}

/* Adds a finding of rule id at byte offset off with a printf message. */
struct finding *
an_report(struct an *a, const char *id, int off, const char *fmt, ...)
{
	const struct sqlrule *r = an_rule(a, id);
	struct buf msg = BUF_INIT;
	const char *fix = r != NULL ? r->fix : NULL;
	struct finding *f;
	struct pos p;
	va_list ap;

	assert(r != NULL);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	assert(a->ctx != NULL);
	if (!a->ctx->in_plan && lint_plain_fix(id) != NULL)
		fix = lint_plain_fix(id);
	p = an_pos(a, off);
	f = findings_add(a->out, id, r->severity, a->file, p.line, p.col,
	    buf_cstr(&msg), fix);
	buf_free(&msg);
	return f;
}

/* ------------------------------------------------------------------ */
/* Parse tree helpers                                                  */
/* ------------------------------------------------------------------ */

/* "schema.name" (owned). */
char *
qual_key(const char *schema, const char *name)
{
	return xasprintf("%s.%s", empty(schema) ? "public" : schema, name);
}

/* The "schema.table" key of a RangeVar (owned). */
char *
rv_key(const PgQuery__RangeVar *rv)
{
	return qual_key(rv->schemaname, rv->relname);
}

/* The last name of a type ("varchar" for pg_catalog.varchar). */
const char *
type_base(const PgQuery__TypeName *t)
{
	const char *s;

	if (t == NULL || t->n_names == 0)
		return "";
	s = node_str(t->names[t->n_names - 1]);
	return s != NULL ? s : "";
}

/* 1 when a type name is one of the serial pseudo-types. */
int
is_serial(const char *base)
{
	static const char *const names[] = { "serial", "serial4",
	    "bigserial", "serial8", "smallserial", "serial2" };
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(base, names[i]) == 0)
			return 1;
	return 0;
}

/* 1 when a DefElem list contains name (with no argument or a true one). */
int
has_option(PgQuery__Node **opts, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const PgQuery__DefElem *d;

		if (opts[i]->node_case != NC(DEF_ELEM))
			continue;
		d = opts[i]->def_elem;
		if (d->defname == NULL || strcmp(d->defname, name) != 0)
			continue;
		if (d->arg == NULL)
			return 1;
		if (d->arg->node_case == NC(BOOLEAN))
			return d->arg->boolean->boolval;
		if (d->arg->node_case == NC(A_CONST) &&
		    d->arg->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
			return d->arg->a_const->ival->ival != 0;
		if (d->arg->node_case == NC(STRING))
			return strcmp(d->arg->string->sval, "false") != 0 &&
			    strcmp(d->arg->string->sval, "off") != 0 &&
			    strcmp(d->arg->string->sval, "0") != 0;
		return 1;
	}
	return 0;
}
