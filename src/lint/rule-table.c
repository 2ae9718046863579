/*
 * Table rules: statements on a whole table - ALTER TABLE (whose
 * subcommands the column, constraint and phase families judge), CREATE
 * TABLE without a primary key, UPDATE or DELETE of every row, TRUNCATE,
 * LOCK TABLE, VACUUM FULL, CLUSTER and other rewrites - and the
 * idempotence of CREATE SCHEMA and CREATE SEQUENCE.
 */
#include <stdlib.h>
#include <string.h>

#include "lint/lint-int.h"
#include "xalloc.h"

/* ALTER TABLE. */
static void
check_alter_table(struct an *a, const PgQuery__AlterTableStmt *st)
{
	const PgQuery__RangeVar *rv = st->relation;
	char *key = NULL, *what = NULL;
	int off = cur(a)->start, ae = 0;
	size_t i, j;

	if (rv == NULL || st->objtype != OT(TABLE))
		return;
	key = rv_key(rv);
	for (i = 0; i < st->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd;

		if (st->cmds[i]->node_case != NC(ALTER_TABLE_CMD))
			continue;
		cmd = st->cmds[i]->alter_table_cmd;
		free(what);
		what = NULL;
		switch (cmd->subtype) {
		case AT(AddColumn):
		case AT(AddColumnRecurse):
			check_add_column(a, key, cmd);
			ae = 1;
			break;
		case AT(DropColumn):
		case AT(DropColumnRecurse):
			what = xasprintf("drop of column \"%s.%s\"", key, cmd->name);
			destructive(a, "E-DROP-COLUMN", COVER_COLUMN,
			    rv_schema(rv), rv->relname, cmd->name, NULL, what, off);
			if (!cmd->missing_ok)
				an_report(a, "W-NOT-IDEMPOTENT", off, "DROP COLUMN "
				    "\"%s\" without IF EXISTS", cmd->name);
			ae = 1;
			break;
		case AT(AlterColumnType):
			check_type_change(a, key, cmd, off);
			ae = 1;
			break;
		case AT(SetNotNull):
			check_set_not_null(a, key, cmd->name, off);
			ae = 1;
			break;
		case AT(DropNotNull):
			what = xasprintf("DROP NOT NULL on \"%s.%s\"", key, cmd->name);
			destructive(a, "E-DROP-NOT-NULL", COVER_NOT_NULL,
			    rv_schema(rv), rv->relname, cmd->name, NULL, what, off);
			ae = 1;
			break;
		case AT(AddConstraint):
		case AT(AddConstraintRecurse):
			if (cmd->def != NULL && cmd->def->node_case == NC(CONSTRAINT) &&
			    check_add_constraint(a, key, cmd->def->constraint))
				ae = 1;
			break;
		case AT(ValidateConstraint):
		case AT(ValidateConstraintRecurse):
			for (j = 0; j < a->nchecks; j++)
				if (a->checks[j].name != NULL &&
				    strcmp(a->checks[j].table, key) == 0 &&
				    strcmp(a->checks[j].name, cmd->name) == 0)
					a->checks[j].validated = 1;
			break;	/* SHARE UPDATE EXCLUSIVE */
		case AT(DropConstraint):
		case AT(DropConstraintRecurse):
			what = xasprintf("drop of constraint \"%s\" on \"%s\"",
			    cmd->name, key);
			destructive(a, "E-DROP-CONSTRAINT", COVER_CONSTRAINT,
			    rv_schema(rv), rv->relname, NULL, cmd->name, what, off);
			if (!cmd->missing_ok)
				an_report(a, "W-NOT-IDEMPOTENT", off, "DROP CONSTRAINT "
				    "\"%s\" without IF EXISTS", cmd->name);
			ae = 1;
			break;
		case AT(SetTableSpace):
		case AT(SetLogged):
		case AT(SetUnLogged):
		case AT(SetAccessMethod):
			if (!is_new(a, key))
				an_report(a, "E-FULL-REWRITE", off, "ALTER TABLE \"%s\" "
				    "rewrites the table (tablespace, persistence or "
				    "access method change)", key);
			ae = 1;
			break;
		case AT(DetachPartition):
			if (cmd->def != NULL && cmd->def->node_case == NC(PARTITION_CMD) &&
			    cmd->def->partition_cmd->concurrent) {
				if (a->in_tx)
					an_report(a, "E-CONCURRENT-IN-TX", off, "DETACH "
					    "PARTITION CONCURRENTLY cannot run inside a "
					    "transaction block");
			} else
				ae = 1;
			break;
		case AT(SetStatistics):
		case AT(ClusterOn):
		case AT(DropCluster):
		case AT(SetRelOptions):
		case AT(ResetRelOptions):
		case AT(AttachPartition):
		case AT(EnableTrig):
		case AT(EnableAlwaysTrig):
		case AT(EnableReplicaTrig):
		case AT(DisableTrig):
		case AT(EnableTrigAll):
		case AT(DisableTrigAll):
		case AT(EnableTrigUser):
		case AT(DisableTrigUser):
			break;	/* weaker than ACCESS EXCLUSIVE */
		default:
			ae = 1;
			break;
		}
	}
	if (ae)
		lock_ae(a, key, off);
	free(what);
	free(key);
}

/* CREATE TABLE. */
static void
check_create(struct an *a, const PgQuery__CreateStmt *st)
{
	const PgQuery__RangeVar *rv = st->relation;
	int off = cur(a)->start, pk = 0;
	char *key;
	size_t i, j;

	if (rv == NULL)
		return;
	key = rv_key(rv);
	if (plan_forward(a) && a->ctx->stage == STAGE_POST)
		an_report(a, "E-ADDITIVE-IN-POST", off, "table \"%s\" created in a "
		    "post step, after the code that needs it is deployed", key);
	if (!st->if_not_exists)
		an_report(a, "W-NOT-IDEMPOTENT", off, "CREATE TABLE \"%s\" without "
		    "IF NOT EXISTS", key);
	for (i = 0; i < st->n_table_elts; i++) {
		const PgQuery__Node *e = st->table_elts[i];

		if (e->node_case == NC(COLUMN_DEF)) {
			const PgQuery__ColumnDef *cd = e->column_def;

			remember_type(a, key, cd->colname, cd->type_name);
			for (j = 0; j < cd->n_constraints; j++)
				if (cd->constraints[j]->node_case == NC(CONSTRAINT) &&
				    cd->constraints[j]->constraint->contype == CT(PRIMARY))
					pk = 1;
		} else if (e->node_case == NC(CONSTRAINT)) {
			if (e->constraint->contype == CT(PRIMARY))
				pk = 1;
		} else if (e->node_case == NC(TABLE_LIKE_CLAUSE)) {
			/* LIKE ... INCLUDING INDEXES (or ALL) copies the key. */
			if (e->table_like_clause->options & (1u << 6))
				pk = 1;
		}
	}
	for (i = 0; i < st->n_constraints; i++)
		if (st->constraints[i]->node_case == NC(CONSTRAINT) &&
		    st->constraints[i]->constraint->contype == CT(PRIMARY))
			pk = 1;
	if (!pk && st->partbound == NULL && !(rv->relpersistence != NULL &&
	    strcmp(rv->relpersistence, "t") == 0))
		an_report(a, "E-CREATE-TABLE-NO-PK", off, "table \"%s\" created "
		    "without a primary key", key);
	strset_add(&a->created, key);
	free(key);
}

/* CREATE TABLE ... AS. */
static void
check_create_as(struct an *a, const PgQuery__CreateTableAsStmt *st)
{
	const PgQuery__RangeVar *rv;
	int off = cur(a)->start;
	char *key;

	if (st->objtype != OT(TABLE) || st->into == NULL || st->into->rel == NULL)
		return;
	rv = st->into->rel;
	key = rv_key(rv);
	if (plan_forward(a) && a->ctx->stage == STAGE_POST)
		an_report(a, "E-ADDITIVE-IN-POST", off, "table \"%s\" created in a "
		    "post step, after the code that needs it is deployed", key);
	if (!st->if_not_exists)
		an_report(a, "W-NOT-IDEMPOTENT", off, "CREATE TABLE \"%s\" AS "
		    "without IF NOT EXISTS", key);
	if (!(rv->relpersistence != NULL && strcmp(rv->relpersistence, "t") == 0))
		an_report(a, "E-CREATE-TABLE-NO-PK", off, "table \"%s\" created by "
		    "CREATE TABLE AS has no primary key", key);
	strset_add(&a->created, key);
	free(key);
}

/* UPDATE / DELETE without WHERE. */
static void
check_unbatched(struct an *a, const char *rule, const char *verb,
    const PgQuery__RangeVar *rv, const PgQuery__Node *where)
{
	char *key;

	if (rv == NULL || where != NULL || a->no_unbatched)
		return;
	key = rv_key(rv);
	if (!is_new(a, key))
		an_report(a, rule, cur(a)->start, "%s of every row of \"%s\" in one "
		    "statement (no WHERE)", verb, key);
	free(key);
}

/*
 * TRUNCATE: empties tables the running code still uses, so like a DROP
 * it belongs to an open contract (a table created earlier in the same
 * input is exempt: nothing uses it yet).
 */
static void
check_truncate(struct an *a, const PgQuery__TruncateStmt *st, int off)
{
	size_t i;

	for (i = 0; i < st->n_relations; i++) {
		const PgQuery__RangeVar *rv;
		char *key, *what;

		if (st->relations[i]->node_case != NC(RANGE_VAR))
			continue;
		rv = st->relations[i]->range_var;
		key = rv_key(rv);
		what = xasprintf("TRUNCATE of \"%s\"", key);
		destructive(a, "E-TRUNCATE", COVER_TABLE, rv_schema(rv),
		    rv->relname, NULL, NULL, what, off);
		free(what);
		free(key);
	}
}

/*
 * LOCK TABLE in SHARE mode (5) or stronger blocks the application's
 * writes until the transaction ends, whatever the phase: an error on
 * every table that existed before this input.
 */
static void
check_lock(struct an *a, const PgQuery__LockStmt *st, int off)
{
	static const char *const modes[] = { "", "ACCESS SHARE", "ROW SHARE",
		"ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE",
		"SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE" };
	size_t i;

	if (st->mode < 5 || st->mode > 8)
		return;
	for (i = 0; i < st->n_relations; i++) {
		char *key;

		if (st->relations[i]->node_case != NC(RANGE_VAR))
			continue;
		key = rv_key(st->relations[i]->range_var);
		if (!is_new(a, key))
			an_report(a, "E-LOCK-TABLE", off, "LOCK TABLE \"%s\" IN %s MODE "
			    "blocks %s on it until the transaction ends", key,
			    modes[st->mode], st->mode == 8 ? "every read and write" :
			    "every write");
		free(key);
	}
}

/* VACUUM [FULL]. */
static void
check_vacuum(struct an *a, const PgQuery__VacuumStmt *st)
{
	int off = cur(a)->start;
	size_t i;

	if (!st->is_vacuumcmd)
		return;		/* ANALYZE */
	if (a->in_tx)
		an_report(a, "E-CONCURRENT-IN-TX", off, "VACUUM cannot run inside a "
		    "transaction block");
	if (!has_option(st->options, st->n_options, "full"))
		return;
	for (i = 0; i < st->n_rels; i++) {
		const PgQuery__RangeVar *rv;
		char *key;

		if (st->rels[i]->node_case != NC(VACUUM_RELATION) ||
		    (rv = st->rels[i]->vacuum_relation->relation) == NULL)
			continue;
		key = rv_key(rv);
		if (!is_new(a, key))
			an_report(a, "E-FULL-REWRITE", off, "VACUUM FULL rewrites "
			    "\"%s\" under an ACCESS EXCLUSIVE lock", key);
		free(key);
	}
	if (st->n_rels == 0)
		an_report(a, "E-FULL-REWRITE", off, "VACUUM FULL rewrites every "
		    "table of the database under ACCESS EXCLUSIVE locks");
	lock_list(a, st->rels, st->n_rels, off);
}

/* Hook: ALTER TABLE. */
static void
on_alter_table(struct an *a, const PgQuery__Node *n)
{
	check_alter_table(a, n->alter_table_stmt);
}

/* Hook: CREATE TABLE. */
static void
on_create(struct an *a, const PgQuery__Node *n)
{
	check_create(a, n->create_stmt);
}

/* Hook: CREATE TABLE ... AS. */
static void
on_create_as(struct an *a, const PgQuery__Node *n)
{
	check_create_as(a, n->create_table_as_stmt);
}

/* Hook: UPDATE. */
static void
on_update(struct an *a, const PgQuery__Node *n)
{
	check_unbatched(a, "E-UNBATCHED-UPDATE", "UPDATE",
	    n->update_stmt->relation, n->update_stmt->where_clause);
}

/* Hook: DELETE. */
static void
on_delete(struct an *a, const PgQuery__Node *n)
{
	check_unbatched(a, "E-UNBATCHED-DELETE", "DELETE",
	    n->delete_stmt->relation, n->delete_stmt->where_clause);
}

/* Hook: LOCK TABLE. */
static void
on_lock(struct an *a, const PgQuery__Node *n)
{
	int off = cur(a)->start;

	check_lock(a, n->lock_stmt, off);
	/* 8 = AccessExclusiveLock, the default of LOCK TABLE. */
	if (n->lock_stmt->mode >= 8)
		lock_list(a, n->lock_stmt->relations,
		    n->lock_stmt->n_relations, off);
}

/* Hook: TRUNCATE. */
static void
on_truncate(struct an *a, const PgQuery__Node *n)
{
	int off = cur(a)->start;

	check_truncate(a, n->truncate_stmt, off);
	lock_list(a, n->truncate_stmt->relations,
	    n->truncate_stmt->n_relations, off);
}

/* Hook: VACUUM. */
static void
on_vacuum(struct an *a, const PgQuery__Node *n)
{
	check_vacuum(a, n->vacuum_stmt);
}

/* Hook: CLUSTER. */
static void
on_cluster(struct an *a, const PgQuery__Node *n)
{
	int off = cur(a)->start;
	char *key;

	if (n->cluster_stmt->relation == NULL)
		return;
	key = rv_key(n->cluster_stmt->relation);
	if (!is_new(a, key))
		an_report(a, "E-FULL-REWRITE", off, "CLUSTER rewrites \"%s\" "
		    "under an ACCESS EXCLUSIVE lock", key);
	lock_ae(a, key, off);
	free(key);
}

/* Hook: CREATE SCHEMA. */
static void
on_create_schema(struct an *a, const PgQuery__Node *n)
{
	int off = cur(a)->start;

	if (!n->create_schema_stmt->if_not_exists)
		an_report(a, "W-NOT-IDEMPOTENT", off, "CREATE SCHEMA \"%s\" "
		    "without IF NOT EXISTS", n->create_schema_stmt->schemaname);
}

/* Hook: CREATE SEQUENCE. */
static void
on_create_seq(struct an *a, const PgQuery__Node *n)
{
	int off = cur(a)->start;

	if (!n->create_seq_stmt->if_not_exists &&
	    n->create_seq_stmt->sequence != NULL)
		an_report(a, "W-NOT-IDEMPOTENT", off, "CREATE SEQUENCE \"%s\" "
		    "without IF NOT EXISTS",
		    n->create_seq_stmt->sequence->relname);
}

/* The rules of this family: id, severity, what goes wrong, the fix. */
static const struct sqlrule rules[] = {
	{ "E-UNBATCHED-UPDATE", SEV_ERROR,
	  "UPDATE without WHERE rewrites every row in one long transaction",
	  "use a backfill step (batched, resumable), or UPDATE in keyed batches" },
	{ "E-UNBATCHED-DELETE", SEV_ERROR,
	  "DELETE without WHERE removes every row in one long transaction",
	  "delete in keyed batches, or TRUNCATE in a contract step when the table is unused" },
	{ "E-CREATE-TABLE-NO-PK", SEV_ERROR,
	  "table without a primary key: no batched backfill, no logical replication of updates",
	  "declare a PRIMARY KEY in CREATE TABLE" },
	{ "E-FULL-REWRITE", SEV_ERROR,
	  "statement rewrites the whole table under an ACCESS EXCLUSIVE lock",
	  "avoid it on a live table (pg_repack for bloat, a new table for storage changes)" },
	{ "E-TRUNCATE", SEV_ERROR,
	  "TRUNCATE empties the table under an ACCESS EXCLUSIVE lock and breaks the code still using its rows",
	  "delete in keyed batches, or truncate in a contract step whose window is open" },
	{ "E-LOCK-TABLE", SEV_ERROR,
	  "LOCK TABLE in SHARE mode or stronger blocks the application's writes (ACCESS EXCLUSIVE: its reads too) until the transaction ends",
	  "drop the explicit lock; each statement takes the lock it needs, bounded by lock_timeout" },
};

/* The statements this family checks. */
static const struct lint_hook hooks[] = {
	{ NC(ALTER_TABLE_STMT), on_alter_table },
	{ NC(CREATE_STMT), on_create },
	{ NC(CREATE_TABLE_AS_STMT), on_create_as },
	{ NC(UPDATE_STMT), on_update },
	{ NC(DELETE_STMT), on_delete },
	{ NC(LOCK_STMT), on_lock },
	{ NC(TRUNCATE_STMT), on_truncate },
	{ NC(VACUUM_STMT), on_vacuum },
	{ NC(CLUSTER_STMT), on_cluster },
	{ NC(CREATE_SCHEMA_STMT), on_create_schema },
	{ NC(CREATE_SEQ_STMT), on_create_seq },
};

/* The table family, listed in families[] of rules.c. */
const struct lint_family lint_family_table = {
	"table", rules, LINT_N(rules), hooks, LINT_N(hooks)
};
