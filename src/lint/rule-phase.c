/*
 * Phase rules: what a statement destroys or renames (columns, tables,
 * indexes, constraints, triggers, NOT NULL), which only a contract step
 * - or, in a plain migration file, an open contract step of a plan that
 * names the object - may do; and new objects in a post step, which
 * arrive after the code that needs them.
 */
#include <stdlib.h>
#include <string.h>

#include "lint/lint-int.h"
#include "xalloc.h"

/*
 * Splits a qualified name list ([catalog.][schema.]name, or for triggers
 * [schema.]table.trigger) into its parts; absent parts become NULL.
 */
static void
split_names(PgQuery__Node **items, size_t n, int with_table,
    const char **schema, const char **table, const char **name)
{
	*schema = *table = *name = NULL;
	if (n == 0)
		return;
	*name = node_str(items[n - 1]);
	if (with_table) {
		if (n >= 2)
			*table = node_str(items[n - 2]);
		if (n >= 3)
			*schema = node_str(items[n - 3]);
	} else if (n >= 2)
		*schema = node_str(items[n - 2]);
}

/* The items of a List node (count in *n), or NULL. */
static PgQuery__Node **
list_items(const PgQuery__Node *node, size_t *n)
{
	*n = 0;
	if (node == NULL || node->node_case != NC(LIST) || node->list == NULL)
		return NULL;
	*n = node->list->n_items;
	return node->list->items;
}

/* "a"/"an" phase name for messages. */
const char *
phase_article(enum phase p)
{
	switch (p) {
	case PHASE_EXPAND:
		return "an expand";
	case PHASE_MIGRATE:
		return "a migrate";
	case PHASE_CONTRACT:
		return "a contract";
	}
	return "a";
}

/* 1 when cover c names exactly this object. */
static int
cover_match(const struct cover *c, enum cover_kind kind, const char *schema,
    const char *table, const char *column, const char *name)
{
	const char *cs = empty(c->schema) ? "public" : c->schema;

	if (c->kind != kind || strcmp(cs, empty(schema) ? "public" : schema) != 0)
		return 0;
	switch (kind) {
	case COVER_TABLE:
		return c->table != NULL && table != NULL &&
		    strcmp(c->table, table) == 0;
	case COVER_COLUMN:
	case COVER_NOT_NULL:
		return c->table != NULL && table != NULL && c->column != NULL &&
		    column != NULL && strcmp(c->table, table) == 0 &&
		    strcmp(c->column, column) == 0;
	case COVER_INDEX:
		return c->name != NULL && name != NULL &&
		    strcmp(c->name, name) == 0;
	case COVER_CONSTRAINT:
	case COVER_TRIGGER:
		return c->table != NULL && table != NULL && c->name != NULL &&
		    name != NULL && strcmp(c->table, table) == 0 &&
		    strcmp(c->name, name) == 0;
	}
	return 0;
}

/*
 * A statement destroys an object (`what` describes it for messages).
 * In a plan: expected in a contract step at stage code/post (and DROP
 * NOT NULL in stop_old_writes), an error elsewhere; never for `down`.
 * In a plain file: passes only when an open cover names the object.
 */
void
destructive(struct an *a, const char *rule, enum cover_kind kind,
    const char *schema, const char *table, const char *column,
    const char *name, const char *what, int off)
{
	const struct sqlctx *c = a->ctx;
	const struct cover *closed = NULL;
	struct finding *f;
	size_t i;

	if (table != NULL && kind != COVER_INDEX) {
		char *key = qual_key(schema, table);
		int fresh = is_new(a, key);

		free(key);
		if (fresh)
			return;
	}
	if (c->in_plan) {
		if (c->rollback)
			return;
		if (c->phase != PHASE_CONTRACT &&
		    !(kind == COVER_NOT_NULL && c->kind == KIND_STOP_OLD_WRITES))
			an_report(a, rule, off, "%s in %s step: the running code "
			    "still uses it; destructive changes belong in a "
			    "contract step", what, phase_article(c->phase));
		else if (c->stage == STAGE_PRE)
			an_report(a, rule, off, "%s in a pre step runs while the "
			    "previous release still serves traffic; destructive "
			    "changes run at stage post", what);
		return;
	}
	/*
	 * A rename breaks the code of the running release whatever a contract
	 * window says: the old name disappears and the new one is unknown to
	 * it.  No plan makes it legal.
	 */
	if (strncmp(rule, "E-RENAME-", 9) == 0) {
		an_report(a, rule, off, "%s breaks the running release, which still "
		    "uses the old name; a rename never becomes safe: use a new %s "
		    "and a plan", what, kind == COVER_COLUMN ? "column" : "table");
		return;
	}
	for (i = 0; i < c->ncovers; i++) {
		if (!cover_match(&c->covers[i], kind, schema, table, column, name))
			continue;
		if (c->covers[i].open)
			return;
		if (closed == NULL)
			closed = &c->covers[i];
	}
	if (kind == COVER_INDEX) {
		/* Dropping an index breaks no release's code, only its speed. */
		f = an_report(a, rule, off, "%s outside an open contract step: no "
		    "release's code breaks, but queries that use the index slow "
		    "down (check pg_stat_user_indexes.idx_scan first)", what);
		f->severity = SEV_WARNING;
	} else if (closed != NULL)
		an_report(a, rule, off, "%s becomes legal when contract step "
		    "'%s/%s' ships (window not open yet)", what,
		    closed->plan != NULL ? closed->plan : "?",
		    closed->step != NULL ? closed->step : "?");
	else
		an_report(a, rule, off, "%s: no plan covers it; only an open "
		    "contract step may destroy an object", what);
}

/* The SQL keyword of a DROP statement's object type. */
static const char *
drop_word(PgQuery__ObjectType t)
{
	switch (t) {
	case OT(TABLE):
		return "TABLE";
	case OT(INDEX):
		return "INDEX";
	case OT(VIEW):
		return "VIEW";
	case OT(MATVIEW):
		return "MATERIALIZED VIEW";
	case OT(FOREIGN_TABLE):
		return "FOREIGN TABLE";
	case OT(TRIGGER):
		return "TRIGGER";
	case OT(SEQUENCE):
		return "SEQUENCE";
	case OT(SCHEMA):
		return "SCHEMA";
	case OT(TYPE):
		return "TYPE";
	case OT(FUNCTION):
		return "FUNCTION";
	default:
		return "statement";
	}
}

/* DROP TABLE / INDEX / TRIGGER / .... */
static void
check_drop(struct an *a, const PgQuery__DropStmt *st)
{
	int off = cur(a)->start;
	size_t i, n;
	char *what = NULL, *key = NULL;

	for (i = 0; i < st->n_objects; i++) {
		PgQuery__Node **items = list_items(st->objects[i], &n);
		const char *schema, *table, *name;

		free(what);
		free(key);
		what = key = NULL;
		switch (st->remove_type) {
		case OT(TABLE):
		case OT(VIEW):
		case OT(MATVIEW):
		case OT(FOREIGN_TABLE):
			split_names(items, n, 0, &schema, &table, &name);
			if (name == NULL)
				break;
			key = qual_key(schema, name);
			what = xasprintf("drop of %s \"%s\"",
			    st->remove_type == OT(TABLE) ? "table" : "view", key);
			destructive(a, "E-DROP-TABLE", COVER_TABLE, schema, name,
			    NULL, NULL, what, off);
			if (st->remove_type == OT(TABLE))
				lock_ae(a, key, off);
			break;
		case OT(INDEX):
			split_names(items, n, 0, &schema, &table, &name);
			if (name == NULL)
				break;
			key = qual_key(schema, name);
			what = xasprintf("drop of index \"%s\"", key);
			destructive(a, "E-DROP-INDEX", COVER_INDEX, schema, NULL,
			    NULL, name, what, off);
			if (!st->concurrent && i == 0)
				an_report(a, "E-DROP-INDEX-NOT-CONCURRENT", off, "DROP "
				    "INDEX \"%s\" without CONCURRENTLY", key);
			if (st->concurrent && a->in_tx && i == 0)
				an_report(a, "E-CONCURRENT-IN-TX", off, "DROP INDEX "
				    "CONCURRENTLY \"%s\" cannot run inside a "
				    "transaction block", key);
			break;
		case OT(TRIGGER):
			split_names(items, n, 1, &schema, &table, &name);
			if (name == NULL || table == NULL)
				break;
			key = qual_key(schema, table);
			what = xasprintf("drop of trigger \"%s\" on \"%s\"", name, key);
			destructive(a, "E-DROP-TRIGGER", COVER_TRIGGER, schema,
			    table, NULL, name, what, off);
			lock_ae(a, key, off);
			break;
		default:
			break;
		}
	}
	if (!st->missing_ok)
		an_report(a, "W-NOT-IDEMPOTENT", off, "DROP %s without IF EXISTS",
		    drop_word(st->remove_type));
	free(what);
	free(key);
}

/* ALTER TABLE ... RENAME [COLUMN]. */
static void
check_rename(struct an *a, const PgQuery__RenameStmt *st)
{
	const PgQuery__RangeVar *rv = st->relation;
	int off = cur(a)->start;
	char *key, *what = NULL;

	if (rv == NULL)
		return;
	key = rv_key(rv);
	if (st->rename_type == OT(COLUMN) && st->relation_type == OT(TABLE)) {
		what = xasprintf("rename of column \"%s.%s\" to \"%s\"", key,
		    st->subname, st->newname);
		destructive(a, "E-RENAME-COLUMN", COVER_COLUMN, rv_schema(rv),
		    rv->relname, st->subname, NULL, what, off);
		lock_ae(a, key, off);
	} else if (st->rename_type == OT(TABLE)) {
		what = xasprintf("rename of table \"%s\" to \"%s\"", key,
		    st->newname);
		destructive(a, "E-RENAME-TABLE", COVER_TABLE, rv_schema(rv),
		    rv->relname, NULL, NULL, what, off);
		lock_ae(a, key, off);
	}
	free(what);
	free(key);
}

/* Hook: DROP. */
static void
on_drop(struct an *a, const PgQuery__Node *n)
{
	check_drop(a, n->drop_stmt);
}

/* Hook: ALTER ... RENAME. */
static void
on_rename(struct an *a, const PgQuery__Node *n)
{
	check_rename(a, n->rename_stmt);
}

/* The rules of this family: id, severity, what goes wrong, the fix. */
static const struct sqlrule rules[] = {
	{ "E-RENAME-COLUMN", SEV_ERROR,
	  "renaming a column breaks the running code that uses the old name",
	  "add the new column, dual-write, backfill, switch reads, drop the old one (excon new rename-column)" },
	{ "E-RENAME-TABLE", SEV_ERROR,
	  "renaming a table breaks the running code that uses the old name",
	  "create the new table, move the code, drop the old one in a contract step (excon new rename-table)" },
	{ "E-DROP-COLUMN", SEV_ERROR,
	  "dropping a column breaks the code still reading or writing it",
	  "drop it in a contract step (drop_column) whose window is open" },
	{ "E-DROP-TABLE", SEV_ERROR,
	  "dropping a table breaks the code still using it",
	  "drop it in a contract step (drop_table) whose window is open" },
	{ "E-DROP-INDEX", SEV_ERROR,
	  "dropping an index can break the code relying on it (ON CONFLICT, query plans)",
	  "drop it in a contract step (drop_index) whose window is open" },
	{ "E-DROP-CONSTRAINT", SEV_ERROR,
	  "dropping a constraint removes a guarantee the running code may rely on",
	  "drop it in a contract step (drop_constraint) whose window is open" },
	{ "E-DROP-TRIGGER", SEV_ERROR,
	  "dropping a trigger stops work the running code relies on (e.g. dual writes)",
	  "drop it in a contract step (drop_trigger) whose window is open" },
	{ "E-DROP-NOT-NULL", SEV_ERROR,
	  "dropping NOT NULL lets new code write rows the old code cannot read",
	  "declare it in a stop_old_writes step (drop_not_null) or a contract step" },
	{ "E-ADDITIVE-IN-POST", SEV_ERROR,
	  "a new table, column or index in a post step arrives after the code that needs it",
	  "move it to a pre step (an expand step of the release before the code uses it)" },
};

/* The statements this family checks. */
static const struct lint_hook hooks[] = {
	{ NC(DROP_STMT), on_drop },
	{ NC(RENAME_STMT), on_rename },
};

/* The phase family, listed in families[] of rules.c. */
const struct lint_family lint_family_phase = {
	"phase", rules, LINT_N(rules), hooks, LINT_N(hooks)
};
