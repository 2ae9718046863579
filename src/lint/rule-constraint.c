/*
 * Constraint rules: a CHECK or FOREIGN KEY added without NOT VALID scans
 * the table under its lock; a UNIQUE, PRIMARY KEY or EXCLUDE constraint
 * added directly builds its index under an ACCESS EXCLUSIVE lock.  The
 * CHECK (col IS NOT NULL) constraints seen are remembered, so that the
 * column family can prove a later SET NOT NULL cheap.
 */
#include <stdlib.h>
#include <string.h>

#include "lint/lint-int.h"
#include "xalloc.h"

/* The column of a CHECK (column IS NOT NULL) expression, or NULL. */
static const char *
notnull_check_column(const PgQuery__Node *e)
{
	const PgQuery__ColumnRef *cr;

	if (e == NULL || e->node_case != NC(NULL_TEST) ||
	    e->null_test->nulltesttype != PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL)
		return NULL;
	e = e->null_test->arg;
	if (e == NULL || e->node_case != NC(COLUMN_REF))
		return NULL;
	cr = e->column_ref;
	return cr->n_fields > 0 ? node_str(cr->fields[cr->n_fields - 1]) : NULL;
}

/* ALTER TABLE ... ADD CONSTRAINT; returns 1 when it takes ACCESS EXCLUSIVE. */
int
check_add_constraint(struct an *a, const char *key, const PgQuery__Constraint *con)
{
	int fresh = is_new(a, key), off = loc(a, con->location);
	const char *name = empty(con->conname) ? "(unnamed)" : con->conname;

	switch (con->contype) {
	case CT(CHECK): {
		struct check *ck;
		const char *col = notnull_check_column(con->raw_expr);

		XGROW(a->checks, a->capchecks, a->nchecks + 1);
		ck = &a->checks[a->nchecks++];
		ck->table = xstrdup(key);
		ck->name = empty(con->conname) ? NULL : xstrdup(con->conname);
		ck->column = col != NULL ? xstrdup(col) : NULL;
		ck->validated = !con->skip_validation;
		if (!fresh && !con->skip_validation)
			an_report(a, "E-CONSTRAINT-NOT-VALID", off, "CHECK constraint "
			    "\"%s\" added to existing table \"%s\" without NOT "
			    "VALID", name, key);
		return 1;
	}
	case CT(FOREIGN):
		if (!fresh && !con->skip_validation)
			an_report(a, "E-CONSTRAINT-NOT-VALID", off, "FOREIGN KEY "
			    "constraint \"%s\" added to existing table \"%s\" "
			    "without NOT VALID", name, key);
		return 0;	/* SHARE ROW EXCLUSIVE */
	case CT(PRIMARY):
	case CT(UNIQUE):
		if (!fresh && empty(con->indexname))
			an_report(a, "E-UNIQUE-DIRECT", off, "%s constraint \"%s\" "
			    "added to existing table \"%s\" without USING INDEX",
			    con->contype == CT(PRIMARY) ? "PRIMARY KEY" : "UNIQUE",
			    name, key);
		return 1;
	case CT(EXCLUSION):
		if (!fresh)
			an_report(a, "E-UNIQUE-DIRECT", off, "EXCLUDE constraint \"%s\" "
			    "added to existing table \"%s\" builds its index "
			    "under an ACCESS EXCLUSIVE lock", name, key);
		return 1;
	default:
		return 1;
	}
}

/* The rules of this family: id, severity, what goes wrong, the fix. */
static const struct sqlrule rules[] = {
	{ "E-CONSTRAINT-NOT-VALID", SEV_ERROR,
	  "adding a CHECK or FOREIGN KEY constraint checks every row while holding a lock",
	  "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT separately (add_constraint + validate_constraint steps)" },
	{ "E-UNIQUE-DIRECT", SEV_ERROR,
	  "adding a UNIQUE, PRIMARY KEY or EXCLUDE constraint builds its index under an ACCESS EXCLUSIVE lock",
	  "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX" },
};

/* The constraint family, listed in families[] of rules.c. */
const struct lint_family lint_family_constraint = {
	"constraint", rules, LINT_N(rules), NULL, 0
};
