/*
 * Column rules: ADD COLUMN (NOT NULL without a default, volatile
 * defaults, computed columns), ALTER COLUMN ... TYPE and SET NOT NULL.
 *
 * Volatile defaults: since PostgreSQL 11, ADD COLUMN with a default that
 * is not volatile (a constant, or a STABLE call such as now() or
 * current_timestamp, evaluated once at ALTER time) only updates the
 * catalog; a VOLATILE default (random(), clock_timestamp(),
 * gen_random_uuid(), nextval() - hence serial columns -, identity and
 * stored generated columns) is evaluated per row and rewrites the table.
 * Functions this file does not know are reported as a warning.
 *
 * Type changes: PostgreSQL skips the rewrite only when the new type is
 * binary coercible and the new typmod accepts every old value: varchar(n)
 * to varchar(m >= n), varchar or text, text to varchar, numeric(p,s) to
 * numeric(q >= p, s) or numeric, varbit(n) to varbit(m >= n), cidr to
 * inet.  Anything else, and anything with USING, rewrites.  When the old
 * type is not declared in the same input the change is an error, unless
 * the new type could be such a widening: then it is a warning.
 */
#include <stdlib.h>
#include <string.h>

#include "lint/lint-int.h"
#include "xalloc.h"

/* Integer typmods of a type into mods[2]; returns how many (-1: not ints). */
static int
type_mods(const PgQuery__TypeName *t, int mods[2])
{
	size_t i;

	if (t == NULL)
		return 0;
	for (i = 0; i < t->n_typmods && i < 2; i++) {
		const PgQuery__Node *m = t->typmods[i];

		if (m->node_case != NC(A_CONST) ||
		    m->a_const->val_case != PG_QUERY__A__CONST__VAL_IVAL)
			return -1;
		mods[i] = m->a_const->ival->ival;
	}
	return (int)i;
}

/* The type as the user would write it, e.g. "varchar(20)" (owned). */
static char *
type_display(const PgQuery__TypeName *t)
{
	int mods[2], n = type_mods(t, mods);

	if (n == 1)
		return xasprintf("%s(%d)", type_base(t), mods[0]);
	if (n == 2)
		return xasprintf("%s(%d,%d)", type_base(t), mods[0], mods[1]);
	return xstrdup(type_base(t));
}

/* 1 when name is in the NULL-terminated list. */
static int
in_list(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

/* Functions that pg_proc marks VOLATILE and that people use as defaults. */
static const char *const volatile_funcs[] = {
	"random", "random_normal", "gen_random_uuid", "uuid_generate_v1",
	"uuid_generate_v1mc", "uuid_generate_v4", "clock_timestamp",
	"timeofday", "nextval", "setval", "currval", "lastval",
	"gen_random_bytes", "gen_salt", NULL
};

/*
 * Functions known to be IMMUTABLE or STABLE (a STABLE default is
 * evaluated once by ALTER TABLE, so it does not rewrite either).
 */
static const char *const stable_funcs[] = {
	"now", "transaction_timestamp", "statement_timestamp",
	"current_setting", "current_database", "current_schema", "lower",
	"upper", "concat", "concat_ws", "abs", "round", "trunc", "floor",
	"ceil", "to_char", "to_timestamp", "to_date", "to_number",
	"make_date", "make_time", "make_timestamp", "make_timestamptz",
	"make_interval", "date_trunc", "date_part", "jsonb_build_object",
	"json_build_object", "jsonb_build_array", "json_build_array",
	"array_fill", "md5", "length", "btrim", "ltrim", "rtrim", "replace",
	"substr", "substring", "left", "right", "lpad", "rpad", "format",
	"timezone", "int4", "int8", "text", "numeric", NULL
};

/*
 * Volatility of an expression: 0 known non-volatile, 1 volatile (the
 * function in *fn), 2 calls an unknown function (in *fn, when no
 * volatile call was found).
 */
static int
expr_volatility(const PgQuery__Node *n, const char **fn)
{
	PgQuery__Node **kids = NULL;
	size_t nkids = 0, i;
	const PgQuery__Node *one[3] = { NULL, NULL, NULL };
	int ret = 0, r;

	if (n == NULL)
		return 0;
	switch (n->node_case) {
	case NC(FUNC_CALL): {
		const PgQuery__FuncCall *f = n->func_call;
		const char *name = f->n_funcname > 0 ?
		    node_str(f->funcname[f->n_funcname - 1]) : NULL;

		if (name != NULL && in_list(name, volatile_funcs)) {
			*fn = name;
			return 1;
		}
		if (name != NULL && !in_list(name, stable_funcs)) {
			*fn = name;
			ret = 2;
		}
		kids = f->args;
		nkids = f->n_args;
		break;
	}
	case NC(TYPE_CAST):
		one[0] = n->type_cast->arg;
		break;
	case NC(A_EXPR):
		one[0] = n->a_expr->lexpr;
		one[1] = n->a_expr->rexpr;
		break;
	case NC(BOOL_EXPR):
		kids = n->bool_expr->args;
		nkids = n->bool_expr->n_args;
		break;
	case NC(COALESCE_EXPR):
		kids = n->coalesce_expr->args;
		nkids = n->coalesce_expr->n_args;
		break;
	case NC(MIN_MAX_EXPR):
		kids = n->min_max_expr->args;
		nkids = n->min_max_expr->n_args;
		break;
	case NC(ROW_EXPR):
		kids = n->row_expr->args;
		nkids = n->row_expr->n_args;
		break;
	case NC(A_ARRAY_EXPR):
		kids = n->a_array_expr->elements;
		nkids = n->a_array_expr->n_elements;
		break;
	case NC(NULL_TEST):
		one[0] = n->null_test->arg;
		break;
	case NC(CASE_EXPR):
		one[0] = n->case_expr->arg;
		one[1] = n->case_expr->defresult;
		kids = n->case_expr->args;
		nkids = n->case_expr->n_args;
		break;
	case NC(CASE_WHEN):
		one[0] = n->case_when->expr;
		one[1] = n->case_when->result;
		break;
	case NC(LIST):
		kids = n->list->items;
		nkids = n->list->n_items;
		break;
	case NC(SUB_LINK):
		*fn = "(subquery)";
		return 2;
	default:
		return 0;
	}
	for (i = 0; i < 3; i++) {
		const char *f2 = NULL;

		if ((r = expr_volatility(one[i], &f2)) == 1) {
			*fn = f2;
			return 1;
		}
		if (r == 2 && ret == 0) {
			*fn = f2;
			ret = 2;
		}
	}
	for (i = 0; i < nkids; i++) {
		const char *f2 = NULL;

		if ((r = expr_volatility(kids[i], &f2)) == 1) {
			*fn = f2;
			return 1;
		}
		if (r == 2 && ret == 0) {
			*fn = f2;
			ret = 2;
		}
	}
	return ret;
}

/* Remembers the declared type of table.column for later type changes. */
void
remember_type(struct an *a, const char *tkey, const char *col,
    const PgQuery__TypeName *t)
{
	char *key = xasprintf("%s.%s", tkey, col);
	struct coltype *ct = NULL;
	long i;
	int n;

	if ((i = strset_index(&a->typekeys, key)) >= 0) {
		ct = &a->types[i];
		free(ct->type);
		free(key);
		key = NULL;
	} else {
		XGROW(a->types, a->captypes, a->ntypes + 1);
		ct = &a->types[a->ntypes++];
		ct->key = key;
		strset_add(&a->typekeys, key);
	}
	ct->type = xstrdup(type_base(t));
	n = type_mods(t, ct->typmods);
	ct->ntypmods = n < 0 ? 0 : n;
}

/* The remembered type of table.column, or NULL. */
static const struct coltype *
find_type(const struct an *a, const char *tkey, const char *col)
{
	char *key = xasprintf("%s.%s", tkey, col);
	long i = strset_index(&a->typekeys, key);

	free(key);
	return i >= 0 ? &a->types[i] : NULL;
}

/* 1 when changing old to new is one of the rewrite-free widenings. */
static int
type_change_free(const struct coltype *old, const PgQuery__TypeName *nt)
{
	const char *nb = type_base(nt);
	int m[2], nm = type_mods(nt, m);

	if (nm < 0)
		return 0;
	if (strcmp(old->type, nb) == 0 && old->ntypmods == nm &&
	    (nm < 1 || old->typmods[0] == m[0]) &&
	    (nm < 2 || old->typmods[1] == m[1]))
		return 1;
	if (strcmp(old->type, "varchar") == 0) {
		if (strcmp(nb, "text") == 0)
			return 1;
		if (strcmp(nb, "varchar") == 0)
			return nm == 0 || (old->ntypmods == 1 && m[0] >= old->typmods[0]);
	}
	if (strcmp(old->type, "text") == 0)
		return strcmp(nb, "varchar") == 0 && nm == 0;
	if (strcmp(old->type, "varbit") == 0 && strcmp(nb, "varbit") == 0)
		return nm == 0 || (old->ntypmods == 1 && m[0] >= old->typmods[0]);
	if (strcmp(old->type, "numeric") == 0 && strcmp(nb, "numeric") == 0) {
		int os = old->ntypmods == 2 ? old->typmods[1] : 0;
		int ns = nm == 2 ? m[1] : 0;

		if (nm == 0)
			return 1;
		return old->ntypmods >= 1 && ns == os && m[0] >= old->typmods[0];
	}
	if (strcmp(old->type, "cidr") == 0 && strcmp(nb, "inet") == 0)
		return 1;
	return 0;
}

/* 1 when a type could be the target of a rewrite-free widening. */
static int
type_widening_target(const PgQuery__TypeName *nt)
{
	static const char *const t[] = { "text", "varchar", "numeric",
	    "varbit", "inet", NULL };

	return in_list(type_base(nt), t);
}

/* ALTER TABLE ... ADD COLUMN. */
void
check_add_column(struct an *a, const char *key, const PgQuery__AlterTableCmd *cmd)
{
	const PgQuery__ColumnDef *cd;
	const PgQuery__Node *def = NULL;
	const char *computed = NULL, *fn = NULL;
	int notnull = 0, off, fresh = is_new(a, key);
	size_t i;

	if (cmd->def == NULL || cmd->def->node_case != NC(COLUMN_DEF))
		return;
	cd = cmd->def->column_def;
	off = loc(a, cd->location);
	remember_type(a, key, cd->colname, cd->type_name);
	if (plan_forward(a) && a->ctx->stage == STAGE_POST)
		an_report(a, "E-ADDITIVE-IN-POST", off, "column \"%s.%s\" added "
		    "in a post step, after the code that needs it is deployed",
		    key, cd->colname);
	if (!cmd->missing_ok)
		an_report(a, "W-NOT-IDEMPOTENT", off, "ADD COLUMN \"%s\" without "
		    "IF NOT EXISTS", cd->colname);
	if (fresh)
		return;
	if (is_serial(type_base(cd->type_name)))
		computed = type_base(cd->type_name);
	for (i = 0; i < cd->n_constraints; i++) {
		const PgQuery__Constraint *con;

		if (cd->constraints[i]->node_case != NC(CONSTRAINT))
			continue;
		con = cd->constraints[i]->constraint;
		switch (con->contype) {
		case CT(NOTNULL):
			notnull = 1;
			break;
		case CT(DEFAULT):
			def = con->raw_expr;
			break;
		case CT(IDENTITY):
			computed = "identity";
			break;
		case CT(GENERATED):
			computed = "stored generated";
			break;
		case CT(PRIMARY):
		case CT(UNIQUE):
			an_report(a, "E-UNIQUE-DIRECT", loc(a, con->location),
			    "column \"%s\" added with %s on existing table "
			    "\"%s\" builds the index under an ACCESS EXCLUSIVE "
			    "lock", cd->colname, con->contype == CT(PRIMARY) ?
			    "PRIMARY KEY" : "UNIQUE", key);
			break;
		case CT(CHECK):
		case CT(FOREIGN):
			an_report(a, "E-CONSTRAINT-NOT-VALID", loc(a, con->location),
			    "column \"%s\" added with a %s constraint on "
			    "existing table \"%s\" checks every row under the "
			    "lock; add the column, then the constraint NOT VALID",
			    cd->colname, con->contype == CT(CHECK) ? "CHECK" :
			    "REFERENCES", key);
			break;
		default:
			break;
		}
	}
	if (computed != NULL) {
		an_report(a, "E-VOLATILE-DEFAULT", off, "%s column \"%s\" added to "
		    "existing table \"%s\" computes a value per row and "
		    "rewrites the table", computed, cd->colname, key);
		return;
	}
	if (def != NULL) {
		switch (expr_volatility(def, &fn)) {
		case 1:
			an_report(a, "E-VOLATILE-DEFAULT", off, "column \"%s\" "
			    "added to existing table \"%s\" with volatile "
			    "default %s() rewrites the table", cd->colname,
			    key, fn);
			return;
		case 2:
			an_report(a, "W-DEFAULT-VOLATILITY", off, "default of column "
			    "\"%s\" calls %s(), whose volatility is not known; "
			    "if it is VOLATILE, \"%s\" is rewritten",
			    cd->colname, fn, key);
			break;
		default:
			break;
		}
	}
	if (notnull && def == NULL)
		an_report(a, "E-ADD-COLUMN-NOT-NULL", off, "column \"%s\" added "
		    "NOT NULL without a default to existing table \"%s\"",
		    cd->colname, key);
}

/* ALTER TABLE ... ALTER COLUMN ... SET NOT NULL. */
void
check_set_not_null(struct an *a, const char *key, const char *col, int off)
{
	const struct sqlctx *c = a->ctx;
	size_t i;

	if (is_new(a, key))
		return;
	if (plan_forward(a) && c->phase != PHASE_CONTRACT &&
	    c->kind != KIND_SET_NOT_NULL) {
		an_report(a, "E-SET-NOT-NULL", off, "SET NOT NULL on \"%s.%s\" in "
		    "%s step breaks the running code that still writes NULL; "
		    "use a set_not_null step", key, col, phase_article(c->phase));
		return;
	}
	for (i = 0; i < a->nchecks; i++)
		if (a->checks[i].validated && a->checks[i].column != NULL &&
		    strcmp(a->checks[i].table, key) == 0 &&
		    strcmp(a->checks[i].column, col) == 0)
			return;
	an_report(a, "E-SET-NOT-NULL", off, "SET NOT NULL on \"%s.%s\" without a "
	    "validated CHECK (%s IS NOT NULL) before it", key, col, col);
}

/* ALTER TABLE ... ALTER COLUMN ... TYPE. */
void
check_type_change(struct an *a, const char *key, const PgQuery__AlterTableCmd *cmd,
    int off)
{
	const PgQuery__ColumnDef *cd;
	const struct coltype *old;
	char *disp = NULL;

	if (cmd->def == NULL || cmd->def->node_case != NC(COLUMN_DEF))
		return;
	cd = cmd->def->column_def;
	if (is_new(a, key))
		goto done;
	disp = type_display(cd->type_name);
	old = find_type(a, key, cmd->name);
	if (cd->raw_default != NULL)
		an_report(a, "E-TYPE-REWRITE", off, "type of \"%s.%s\" changed to "
		    "%s with USING rewrites the table", key, cmd->name, disp);
	else if (old != NULL && type_change_free(old, cd->type_name))
		;
	else if (old == NULL && type_widening_target(cd->type_name))
		an_report(a, "W-TYPE-CHANGE", off, "type of \"%s.%s\" changed to "
		    "%s: no rewrite only if the old type is a narrower "
		    "varchar, numeric, varbit (or cidr)", key, cmd->name, disp);
	else
		an_report(a, "E-TYPE-REWRITE", off, "type of \"%s.%s\" changed to "
		    "%s rewrites the table", key, cmd->name, disp);
done:
	remember_type(a, key, cmd->name, cd->type_name);
	free(disp);
}

/* The rules of this family: id, severity, what goes wrong, the fix. */
static const struct sqlrule rules[] = {
	{ "E-SET-NOT-NULL", SEV_ERROR,
	  "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
	  "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT c, then SET NOT NULL (a set_not_null step)" },
	{ "E-ADD-COLUMN-NOT-NULL", SEV_ERROR,
	  "ADD COLUMN NOT NULL without a default fails on a non-empty table",
	  "add the column nullable or with a constant default, backfill, then a set_not_null step" },
	{ "E-VOLATILE-DEFAULT", SEV_ERROR,
	  "a column whose value is computed per row (volatile default, serial, identity, stored generated) rewrites the table",
	  "add the column without that default, SET DEFAULT separately, backfill in batches" },
	{ "W-DEFAULT-VOLATILITY", SEV_WARNING,
	  "the default calls a function of unknown volatility; a VOLATILE one rewrites the table",
	  "check pg_proc.provolatile; if volatile, add the column without the default and backfill" },
	{ "E-TYPE-REWRITE", SEV_ERROR,
	  "changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock",
	  "add a column of the new type, dual-write, backfill, switch reads, drop the old column (excon new change-type)" },
	{ "W-TYPE-CHANGE", SEV_WARNING,
	  "type change is free only when it widens varchar, varbit or numeric, and the old type is not known here",
	  "make sure the old type is varchar/text/numeric/varbit with a smaller limit, or use excon new change-type" },
};

/* The column family, listed in families[] of rules.c. */
const struct lint_family lint_family_column = {
	"column", rules, LINT_N(rules), NULL, 0
};
