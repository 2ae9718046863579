/*
 * Index rules: CREATE INDEX and REINDEX without CONCURRENTLY (and the
 * non-concurrent DROP INDEX, which the phase family's DROP check reports),
 * because they block writes to a live table while they build.
 */
#include <stdlib.h>
#include <string.h>

#include "lint/lint-int.h"
#include "xalloc.h"

/* CREATE INDEX. */
static void
check_index(struct an *a, const PgQuery__IndexStmt *st)
{
	int off = cur(a)->start;
	const char *name = empty(st->idxname) ? "(unnamed)" : st->idxname;
	char *key;

	if (st->relation == NULL)
		return;
	key = rv_key(st->relation);
	if (plan_forward(a) && a->ctx->stage == STAGE_POST)
		an_report(a, "E-ADDITIVE-IN-POST", off, "index \"%s\" created in a "
		    "post step, after the code that needs it is deployed", name);
	if (!st->concurrent && !is_new(a, key))
		an_report(a, "E-INDEX-NOT-CONCURRENT", off, "CREATE INDEX \"%s\" on "
		    "existing table \"%s\" without CONCURRENTLY", name, key);
	if (st->concurrent && a->in_tx)
		an_report(a, "E-CONCURRENT-IN-TX", off, "CREATE INDEX CONCURRENTLY "
		    "\"%s\" cannot run inside a transaction block", name);
	if (!st->if_not_exists)
		an_report(a, "W-NOT-IDEMPOTENT", off, "CREATE INDEX \"%s\" without "
		    "IF NOT EXISTS", name);
	free(key);
}

/* REINDEX. */
static void
check_reindex(struct an *a, const PgQuery__ReindexStmt *st)
{
	int off = cur(a)->start;
	int conc = has_option(st->params, st->n_params, "concurrently");
	char *key;

	if (conc && a->in_tx)
		an_report(a, "E-CONCURRENT-IN-TX", off, "REINDEX CONCURRENTLY cannot "
		    "run inside a transaction block");
	else if (!conc && st->kind >= PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SCHEMA &&
	    a->in_tx)
		an_report(a, "E-CONCURRENT-IN-TX", off, "REINDEX SCHEMA/DATABASE/"
		    "SYSTEM cannot run inside a transaction block");
	if (!conc)
		an_report(a, "E-REINDEX-NOT-CONCURRENT", off, "REINDEX \"%s\" without "
		    "CONCURRENTLY", st->relation != NULL ? st->relation->relname :
		    (empty(st->name) ? "?" : st->name));
	if (!conc && st->relation != NULL &&
	    st->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_TABLE) {
		key = rv_key(st->relation);
		lock_ae(a, key, off);
		free(key);
	}
}

/* Hook: CREATE INDEX. */
static void
on_index(struct an *a, const PgQuery__Node *n)
{
	check_index(a, n->index_stmt);
}

/* Hook: REINDEX. */
static void
on_reindex(struct an *a, const PgQuery__Node *n)
{
	check_reindex(a, n->reindex_stmt);
}

/* The rules of this family: id, severity, what goes wrong, the fix. */
static const struct sqlrule rules[] = {
	{ "E-INDEX-NOT-CONCURRENT", SEV_ERROR,
	  "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds",
	  "CREATE INDEX CONCURRENTLY IF NOT EXISTS outside a transaction (a create_index step)" },
	{ "E-DROP-INDEX-NOT-CONCURRENT", SEV_ERROR,
	  "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table",
	  "DROP INDEX CONCURRENTLY IF EXISTS outside a transaction (a drop_index step)" },
	{ "E-REINDEX-NOT-CONCURRENT", SEV_ERROR,
	  "REINDEX without CONCURRENTLY blocks writes and the reads that use the index",
	  "REINDEX ... CONCURRENTLY outside a transaction" },
};

/* The statements this family checks. */
static const struct lint_hook hooks[] = {
	{ NC(INDEX_STMT), on_index },
	{ NC(REINDEX_STMT), on_reindex },
};

/* The index family, listed in families[] of rules.c. */
const struct lint_family lint_family_index = {
	"index", rules, LINT_N(rules), hooks, LINT_N(hooks)
};
