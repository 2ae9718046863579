/*
 * Transaction rules: which statements run inside a transaction block
 * (BEGIN ... COMMIT), and the ACCESS EXCLUSIVE locks one transaction
 * holds: a second table locked in the same transaction invites lock
 * queues and deadlocks.  Statements that cannot run in a transaction at
 * all report E-CONCURRENT-IN-TX where they are checked.
 */
#include <stdlib.h>
#include <string.h>

#include "lint/lint-int.h"
#include "xalloc.h"

/*
 * The current transaction takes an ACCESS EXCLUSIVE lock on key; a
 * second table in the same transaction is a finding (once per statement).
 */
void
lock_ae(struct an *a, const char *key, int off)
{
	if (is_new(a, key))
		return;
	if (a->locked.n > 0 && !strset_has(&a->locked, key) &&
	    !a->lock_reported) {
		an_report(a, "E-MULTI-TABLE-LOCK", off, "ACCESS EXCLUSIVE lock on "
		    "\"%s\" while the same transaction holds one on \"%s\"",
		    key, a->locked.v[0]);
		a->lock_reported = 1;
	}
	strset_add(&a->locked, key);
}

/* Locks every RangeVar of a list ACCESS EXCLUSIVE. */
void
lock_list(struct an *a, PgQuery__Node **rels, size_t n, int off)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const PgQuery__RangeVar *rv = NULL;
		char *key;

		if (rels[i]->node_case == NC(RANGE_VAR))
			rv = rels[i]->range_var;
		else if (rels[i]->node_case == NC(VACUUM_RELATION))
			rv = rels[i]->vacuum_relation->relation;
		if (rv == NULL)
			continue;
		key = rv_key(rv);
		lock_ae(a, key, off);
		free(key);
	}
}

/* Hook: BEGIN, COMMIT, ROLLBACK... open or close the transaction. */
static void
on_transaction(struct an *a, const PgQuery__Node *n)
{
	switch (n->transaction_stmt->kind) {
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
		a->in_tx = 1;
		strset_clear(&a->locked);
		break;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
		a->in_tx = 0;
		strset_clear(&a->locked);
		break;
	default:
		break;
	}
}

/* The rules of this family: id, severity, what goes wrong, the fix. */
static const struct sqlrule rules[] = {
	{ "E-CONCURRENT-IN-TX", SEV_ERROR,
	  "statement cannot run inside a transaction block",
	  "run it outside BEGIN/COMMIT, in a step with transaction: false" },
	{ "E-MULTI-TABLE-LOCK", SEV_ERROR,
	  "one transaction takes ACCESS EXCLUSIVE locks on several tables, inviting lock queues and deadlocks",
	  "change one table per transaction (one step per table)" },
};

/* The statements this family checks. */
static const struct lint_hook hooks[] = {
	{ NC(TRANSACTION_STMT), on_transaction },
};

/* The transaction family, listed in families[] of rules.c. */
const struct lint_family lint_family_transaction = {
	"transaction", rules, LINT_N(rules), hooks, LINT_N(hooks)
};
