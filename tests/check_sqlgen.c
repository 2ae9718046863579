/*
 * Tests of the SQL generation (src/sqlgen.c): the exact statements each
 * kind of step turns into, their grouping into transactions, the names
 * excon gives to the objects it creates, and the refusals.  Pure: this
 * suite needs no PostgreSQL (tests/run.sh starts none for it).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "plan.h"
#include "sqlgen.h"
#include "util/testutil.h"

/* A string literal as the plan model's (char *). */
#define S(x) ((char *)(x))

/*
 * A step with the loader's defaults for "not given", and the checksum
 * "sum-ID" (each test builds one or two steps).
 */
static void
step_init(struct step *s, enum step_kind kind, const char *id, const char *table)
{
	static char sums[8][80];
	static unsigned next;

	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->id.s = S(id);
	s->table.s = S(table);
	s->min_releases = -1;
	s->lock_retries = -1;
	s->pause_ms = -1;
	s->transaction = 1;
	s->checksum = sums[next++ % 8];
	snprintf(s->checksum, sizeof sums[0], "sum-%s", id);
}

/* A plan named "p" over one step (borrowed). */
static void
plan_init(struct plan *p, struct step *s)
{
	memset(p, 0, sizeof *p);
	p->name.s = S("p");
	p->steps = s;
	p->nsteps = 1;
	p->contract_after = -1;
}

/*
 * Generates step s (rollback when set) as exec does, parsed first, and
 * renders every unit into out, one "-- unit <kind>" line before each.
 * Returns what sqlgen returned; err gets its message.
 */
static int
gen(struct step *s, int rollback, struct buf *out, struct buf *err)
{
	static const char *const kinds[] = { "tx", "notx", "index", "backfill" };
	struct sqlgen_script sc = { 0 };
	struct sqlgen_parsed ps;
	struct plan p;
	size_t i;
	int ret;

	buf_reset(out);
	buf_reset(err);
	if (sqlgen_parse(s, &ps, err) == -1)
		return -1;
	plan_init(&p, &ps.s);
	ret = rollback ? sqlgen_rollback(&p, &ps.s, &sc, err) :
	    sqlgen_step(&p, &ps.s, &sc, err);
	for (i = 0; ret == 0 && i < sc.n; i++) {
		buf_printf(out, "-- unit %s\n", kinds[sc.v[i].kind]);
		sqlgen_render_unit(out, &sc.v[i]);
	}
	sqlgen_script_free(&sc);
	sqlgen_parsed_free(&ps);
	return ret;
}

/* Asserts that step s generates exactly want. */
#define GEN_EQ(s, rollback, want) do {					\
	struct buf o_ = BUF_INIT, e_ = BUF_INIT;			\
	ck_assert_msg(gen((s), (rollback), &o_, &e_) == 0, "%s", buf_cstr(&e_)); \
	ck_assert_str_eq(buf_cstr(&o_), (want));			\
	buf_free(&o_);							\
	buf_free(&e_);							\
} while (0)

/* Asserts that step s is refused with exactly want. */
#define GEN_ERR(s, rollback, want) do {					\
	struct buf o_ = BUF_INIT, e_ = BUF_INIT;			\
	ck_assert_int_eq(gen((s), (rollback), &o_, &e_), -1);		\
	ck_assert_str_eq(buf_cstr(&e_), (want));			\
	buf_free(&o_);							\
	buf_free(&e_);							\
} while (0)

START_TEST(test_add_column)
{
	struct step s;

	step_init(&s, KIND_ADD_COLUMN, "add-status", "users");
	s.column.s = S("status");
	s.type.s = S("text");
	s.default_.s = S("it's");
	GEN_EQ(&s, 0,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "ALTER TABLE \"public\".\"users\" ADD COLUMN IF NOT EXISTS \"status\" text DEFAULT 'it''s'::text;\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'add-status', 'sum-add-status');\n"
	    "COMMIT;\n");
	/* A schema and a name needing quotes are quoted, never pasted. */
	s.schema.s = S("app");
	s.column.s = S("we\"ird");
	s.default_.s = NULL;
	GEN_EQ(&s, 0,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "ALTER TABLE \"app\".\"users\" ADD COLUMN IF NOT EXISTS \"we\"\"ird\" text;\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'add-status', 'sum-add-status');\n"
	    "COMMIT;\n");
	s.type.s = NULL;
	GEN_ERR(&s, 0, "step 'add-status': missing 'type'");
}
END_TEST

START_TEST(test_sync_trigger)
{
	struct step s;

	step_init(&s, KIND_DUAL_WRITE, "dw", "users");
	s.from.s = S("name");
	s.to.s = S("full_name");
	s.trigger = 1;
	GEN_EQ(&s, 0,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "CREATE OR REPLACE FUNCTION \"public\".\"excon_sync_name_full_name\"() RETURNS trigger LANGUAGE plpgsql AS $excon$\n"
	    "BEGIN\n"
	    "  IF TG_OP = 'INSERT' THEN\n"
	    "    IF NEW.\"full_name\" IS NULL THEN\n      NEW.\"full_name\" := NEW.\"name\";\n"
	    "    ELSIF NEW.\"name\" IS NULL THEN\n      NEW.\"name\" := NEW.\"full_name\";\n    END IF;\n"
	    "  ELSIF NEW.\"name\" IS DISTINCT FROM OLD.\"name\" AND NEW.\"full_name\" IS NOT DISTINCT FROM OLD.\"full_name\" THEN\n"
	    "    NEW.\"full_name\" := NEW.\"name\";\n"
	    "  ELSIF NEW.\"full_name\" IS DISTINCT FROM OLD.\"full_name\" AND NEW.\"name\" IS NOT DISTINCT FROM OLD.\"name\"\n"
	    "      AND current_setting('excon.writer', true) IS DISTINCT FROM 'backfill' THEN\n"
	    "    NEW.\"name\" := NEW.\"full_name\";\n"
	    "  END IF;\n"
	    "  RETURN NEW;\n"
	    "END\n$excon$;\n"
	    "DROP TRIGGER IF EXISTS \"excon_sync_name_full_name\" ON \"public\".\"users\";\n"
	    "CREATE TRIGGER \"excon_sync_name_full_name\" BEFORE INSERT OR UPDATE OF \"name\", \"full_name\" ON \"public\".\"users\" FOR EACH ROW EXECUTE FUNCTION \"public\".\"excon_sync_name_full_name\"();\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'dw', 'sum-dw');\n"
	    "COMMIT;\n");
	/* Its rollback drops trigger and function with the ledger row. */
	GEN_EQ(&s, 1,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "DROP TRIGGER IF EXISTS \"excon_sync_name_full_name\" ON \"public\".\"users\";\n"
	    "DROP FUNCTION IF EXISTS \"public\".\"excon_sync_name_full_name\"();\n"
	    "DELETE FROM excon.ledger WHERE plan = 'p' AND step = 'dw';\n"
	    "COMMIT;\n");
	/* Expressions are what the parser read: a comment cannot end the statement. */
	s.up.s = S("NEW.amount::bigint -- x");
	{
		struct buf o = BUF_INIT, e = BUF_INIT;

		ck_assert_int_eq(gen(&s, 0, &o, &e), 0);
		ck_assert_msg(tu_has(buf_cstr(&o), "      NEW.\"full_name\" := NEW.amount::bigint;\n"),
		    "%s", buf_cstr(&o));
		ck_assert(!tu_has(buf_cstr(&o), "-- x"));
		buf_free(&o);
		buf_free(&e);
	}
	s.up.s = NULL;
	s.to.s = NULL;
	GEN_ERR(&s, 0, "step 'dw': missing 'to'");
}
END_TEST

START_TEST(test_concurrent_index)
{
	struct step s;
	char *cols[] = { S("email"), S("org"), NULL };

	step_init(&s, KIND_CREATE_INDEX, "idx", "users");
	s.columns = cols;
	s.unique = 1;
	s.where.s = S("deleted_at IS NULL");
	/* Outside a transaction, the ledger row in one of its own afterwards. */
	GEN_EQ(&s, 0,
	    "-- unit index\n"
	    "-- drop a leftover INVALID index of that name first:\n"
	    "SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
	    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
	    " AND c.relname = 'users_email_org_idx' AND NOT i.indisvalid;\n"
	    "-- when found: DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"users_email_org_idx\";\n"
	    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"users_email_org_idx\" ON \"public\".\"users\" (\"email\", \"org\") WHERE deleted_at IS NULL;\n"
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'idx', 'sum-idx');\n"
	    "COMMIT;\n");
	s.columns = NULL;
	GEN_ERR(&s, 0, "step 'idx': create_index needs 'columns'");
}
END_TEST

START_TEST(test_not_null_via_check)
{
	struct step s;

	step_init(&s, KIND_SET_NOT_NULL, "nn", "users");
	s.column.s = S("full_name");
	/*
	 * 1. a CHECK NOT VALID (brief lock), 2. VALIDATE (writes go on),
	 * 3. SET NOT NULL (uses the valid CHECK) and drop the CHECK: three
	 * transactions, each a no-op when already done.
	 */
	GEN_EQ(&s, 0,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "DO $excon$\nBEGIN\n"
	    "  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = '\"public\".\"users\"'::regclass"
	    " AND attname = 'full_name' AND attnotnull) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint"
	    " WHERE conrelid = '\"public\".\"users\"'::regclass AND conname = 'excon_nn_full_name') THEN\n"
	    "    ALTER TABLE \"public\".\"users\" ADD CONSTRAINT \"excon_nn_full_name\" CHECK (\"full_name\" IS NOT NULL) NOT VALID;\n"
	    "  END IF;\nEND $excon$;\n"
	    "COMMIT;\n"
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "DO $excon$\nBEGIN\n"
	    "  IF EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = '\"public\".\"users\"'::regclass"
	    " AND conname = 'excon_nn_full_name' AND NOT convalidated) THEN\n"
	    "    ALTER TABLE \"public\".\"users\" VALIDATE CONSTRAINT \"excon_nn_full_name\";\n"
	    "  END IF;\nEND $excon$;\n"
	    "COMMIT;\n"
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "ALTER TABLE \"public\".\"users\" ALTER COLUMN \"full_name\" SET NOT NULL;\n"
	    "ALTER TABLE \"public\".\"users\" DROP CONSTRAINT IF EXISTS \"excon_nn_full_name\";\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'nn', 'sum-nn');\n"
	    "COMMIT;\n");
}
END_TEST

START_TEST(test_foreign_key_not_valid)
{
	struct step s;
	char *fk[] = { S("org_id"), NULL }, *ref[] = { S("id"), NULL };

	step_init(&s, KIND_ADD_CONSTRAINT, "fk", "users");
	s.fk_columns = fk;
	s.ref_columns = ref;
	s.references.s = S("billing.orgs");
	GEN_EQ(&s, 0,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "DO $excon$\nBEGIN\n"
	    "  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = '\"public\".\"users\"'::regclass"
	    " AND conname = 'users_org_id_fkey') THEN\n"
	    "    ALTER TABLE \"public\".\"users\" ADD CONSTRAINT \"users_org_id_fkey\" FOREIGN KEY (\"org_id\")"
	    " REFERENCES \"billing\".\"orgs\" (\"id\") NOT VALID;\n"
	    "  END IF;\nEND $excon$;\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'fk', 'sum-fk');\n"
	    "COMMIT;\n");
	s.references.s = NULL;
	GEN_ERR(&s, 0, "step 'fk': add_constraint needs 'check', or 'foreign_key' and 'references'");
}
END_TEST

START_TEST(test_rename_table_view)
{
	struct step s;

	/* What `excon new rename-table` writes: verbatim SQL, run as a script. */
	step_init(&s, KIND_SQL, "swap", NULL);
	s.up.s = S("DROP VIEW IF EXISTS \"public\".\"clients\";\n"
	    "ALTER TABLE \"public\".\"users\" RENAME TO \"clients\";\n"
	    "CREATE OR REPLACE VIEW \"public\".\"users\" AS SELECT * FROM \"public\".\"clients\";\n");
	s.down.s = S("DROP VIEW IF EXISTS \"public\".\"users\"; ALTER TABLE \"public\".\"clients\" RENAME TO \"users\"");
	GEN_EQ(&s, 0,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "DROP VIEW IF EXISTS \"public\".\"clients\";\n"
	    "ALTER TABLE \"public\".\"users\" RENAME TO \"clients\";\n"
	    "CREATE OR REPLACE VIEW \"public\".\"users\" AS SELECT * FROM \"public\".\"clients\";\n"
	    "\n"	/* the script is shown as written, its last newline too */
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'swap', 'sum-swap');\n"
	    "COMMIT;\n");
	GEN_EQ(&s, 1,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "DROP VIEW IF EXISTS \"public\".\"users\"; ALTER TABLE \"public\".\"clients\" RENAME TO \"users\";\n"
	    "DELETE FROM excon.ledger WHERE plan = 'p' AND step = 'swap';\n"
	    "COMMIT;\n");
	/* transaction: false runs it in autocommit, the ledger row afterwards. */
	s.transaction = 0;
	GEN_EQ(&s, 1,
	    "-- unit notx\n"
	    "DROP VIEW IF EXISTS \"public\".\"users\"; ALTER TABLE \"public\".\"clients\" RENAME TO \"users\";\n"
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "DELETE FROM excon.ledger WHERE plan = 'p' AND step = 'swap';\n"
	    "COMMIT;\n");
}
END_TEST

START_TEST(test_drops)
{
	struct step s;

	step_init(&s, KIND_DROP_COLUMN, "drop", "users");
	s.column.s = S("name");
	/* An excon sync trigger reading the column goes first, in the same transaction. */
	GEN_EQ(&s, 0,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "DO $excon$\nDECLARE r record;\nBEGIN\n"
	    "  FOR r IN SELECT t.tgname, t.tgfoid::regprocedure AS fn\n"
	    "    FROM pg_catalog.pg_trigger t\n"
	    "    WHERE t.tgrelid = to_regclass('\"public\".\"users\"') AND t.tgname LIKE 'excon\\_sync\\_%'\n"
	    "    AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.tgrelid"
	    " AND a.attnum = ANY (t.tgattr::int2[]) AND a.attname = 'name')\n"
	    "  LOOP\n"
	    "    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', r.tgname, '\"public\".\"users\"');\n"
	    "    EXECUTE format('DROP FUNCTION IF EXISTS %s', r.fn);\n"
	    "  END LOOP;\nEND $excon$;\n"
	    "ALTER TABLE IF EXISTS \"public\".\"users\" DROP COLUMN IF EXISTS \"name\";\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'drop', 'sum-drop');\n"
	    "COMMIT;\n");

	step_init(&s, KIND_DROP_INDEX, "drop-idx", "users");
	s.name.s = S("users_email_idx");
	GEN_EQ(&s, 0,
	    "-- unit notx\n"
	    "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"users_email_idx\";\n"
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'drop-idx', 'sum-drop-idx');\n"
	    "COMMIT;\n");

	step_init(&s, KIND_DROP_CONSTRAINT, "drop-ck", "users");
	s.name.s = S("users_age_check");
	GEN_EQ(&s, 0,
	    "-- unit tx\n"
	    "BEGIN;\n"
	    "ALTER TABLE IF EXISTS \"public\".\"users\" DROP CONSTRAINT IF EXISTS \"users_age_check\";\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'drop-ck', 'sum-drop-ck');\n"
	    "COMMIT;\n");
	s.name.s = NULL;
	GEN_ERR(&s, 0, "step 'drop-ck': missing 'name'");
	/* A contract without down cannot be rolled back. */
	s.name.s = S("users_age_check");
	GEN_ERR(&s, 1, "step 'drop-ck' has no 'down': cannot roll it back");
}
END_TEST

START_TEST(test_no_sql_kinds)
{
	struct step s;
	struct buf o = BUF_INIT, e = BUF_INIT;

	step_init(&s, KIND_SWITCH_READS, "reads", "users");
	ck_assert_int_eq(sqlgen_runs_sql(&s), 0);
	ck_assert_int_eq(gen(&s, 0, &o, &e), 0);
	ck_assert_str_eq(buf_cstr(&o), "");
	step_init(&s, KIND_DUAL_WRITE, "dw-app", "users");
	ck_assert_int_eq(sqlgen_runs_sql(&s), 0);	/* the application writes both */
	s.trigger = 1;
	ck_assert_int_eq(sqlgen_runs_sql(&s), 1);
	step_init(&s, KIND_BACKFILL, "bf", "users");
	s.set.s = S("full_name = name");
	ck_assert_int_eq(sqlgen_runs_sql(&s), 1);
	ck_assert_int_eq(gen(&s, 0, &o, &e), 0);
	/* The walk itself is backfill.c's; its ledger row follows it. */
	ck_assert_str_eq(buf_cstr(&o), "-- unit backfill\n-- unit tx\nBEGIN;\n"
	    "INSERT INTO excon.ledger (plan, step, checksum) VALUES ('p', 'bf', 'sum-bf');\nCOMMIT;\n");
	buf_free(&o);
	buf_free(&e);
}
END_TEST

START_TEST(test_long_names)
{
	struct step s;
	struct buf n = BUF_INIT;
	char *cols[] = { S("a_rather_long_column_name_for_an_index"), NULL };

	step_init(&s, KIND_CREATE_INDEX, "idx", "a_rather_long_table_name_of_forty_bytes_");
	s.columns = cols;
	sqlgen_index_name(&n, &s);
	/* 63 bytes: the readable start and a hash, so two long names never collide. */
	ck_assert_uint_eq(n.len, 63);
	ck_assert_msg(strncmp(buf_cstr(&n), "a_rather_long_table_name_of_forty_bytes__a_rather_long_", 50) == 0,
	    "%s", buf_cstr(&n));
	ck_assert_int_eq(buf_cstr(&n)[50], '_');
	buf_reset(&n);
	step_init(&s, KIND_DUAL_WRITE, "dw", "t");
	s.from.s = S("short");
	s.to.s = S("other");
	sqlgen_sync_name(&n, &s);
	ck_assert_str_eq(buf_cstr(&n), "excon_sync_short_other");
	/* What the catalog keeps of a longer name: 63 bytes, whole characters. */
	buf_reset(&n);
	buf_puts(&n, "ééééééééééééééééééééééééééééééééé");	/* 66 bytes */
	sqlgen_catalog_name(&n);
	ck_assert_uint_eq(n.len, 62);
	buf_free(&n);
}
END_TEST

START_TEST(test_refusals)
{
	struct step s;

	/* '$excon$' would end the quoting of the DO blocks. */
	step_init(&s, KIND_DROP_COLUMN, "drop", "users");
	s.column.s = S("x$excon$y");
	GEN_ERR(&s, 0, "step 'drop': '$excon$' is reserved and cannot appear in names or expressions");
	/* A fragment is one expression: a second statement is refused. */
	step_init(&s, KIND_BACKFILL, "bf", "users");
	s.set.s = S("a = 1");
	s.where.s = S("true; DROP TABLE users");
	{
		struct buf o = BUF_INIT, e = BUF_INIT;

		ck_assert_int_eq(gen(&s, 0, &o, &e), -1);
		ck_assert_msg(tu_has(buf_cstr(&e), "step 'bf': 'where' "), "%s", buf_cstr(&e));
		buf_free(&o);
		buf_free(&e);
	}
	step_init(&s, KIND_ADD_COLUMN, "add", NULL);
	s.column.s = S("c");
	s.type.s = S("int");
	GEN_ERR(&s, 0, "step 'add': missing 'table'");
}
END_TEST

/* One TCase per behaviour. */
static Suite *
sqlgen_suite(void)
{
	Suite *s = suite_create("sqlgen");
	struct { const char *name; const TTest *t; } tests[] = {
		{ "add_column", test_add_column },
		{ "sync_trigger", test_sync_trigger },
		{ "concurrent_index", test_concurrent_index },
		{ "not_null_via_check", test_not_null_via_check },
		{ "foreign_key_not_valid", test_foreign_key_not_valid },
		{ "rename_table_view", test_rename_table_view },
		{ "drops", test_drops },
		{ "no_sql_kinds", test_no_sql_kinds },
		{ "long_names", test_long_names },
		{ "refusals", test_refusals },
	};
	size_t i;

	for (i = 0; i < sizeof tests / sizeof tests[0]; i++)
		tu_add(s, tests[i].name, tests[i].t, NULL, NULL, 30);
	return s;
}

int
main(void)
{
	return tu_run_suite(sqlgen_suite());
}
