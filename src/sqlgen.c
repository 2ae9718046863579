/*
 * SQL generation (see sqlgen.h for the API, exec.h for the naming
 * conventions in the database).  Pure: builds strings only; exec.c runs
 * them and exec_dry_run shows them, so the dry run shows what really runs.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "sha256.h"
#include "sqlcheck.h"
#include "sqlgen.h"
#include "util.h"
#include "xalloc.h"

/* Frees a script's units and statements. */
void
sqlgen_script_free(struct sqlgen_script *sc)
{
	size_t i, j;
	int k;

	for (i = 0; i < sc->n; i++) {
		for (j = 0; j < sc->v[i].n; j++) {
			free(sc->v[i].v[j].sql);
			for (k = 0; k < sc->v[i].v[j].nparams; k++)
				free(sc->v[i].v[j].params[k]);
		}
		free(sc->v[i].v);
		free(sc->v[i].schema);
		free(sc->v[i].name);
	}
	free(sc->v);
	memset(sc, 0, sizeof *sc);
}

/* Starts a new unit of kind k; returns it (borrowed). */
static struct sqlgen_unit *
script_unit(struct sqlgen_script *sc, enum sqlgen_unit_kind k)
{
	struct sqlgen_unit *u;

	XGROW(sc->v, sc->cap, sc->n + 1);
	u = &sc->v[sc->n++];
	memset(u, 0, sizeof *u);
	u->kind = k;
	return u;
}

/* Adds a statement (taking ownership of sql) with up to 4 parameters. */
static struct sqlgen_stmt *
unit_add(struct sqlgen_unit *u, char *sql, int nparams, const char *p0,
    const char *p1, const char *p2)
{
	struct sqlgen_stmt *s;

	XGROW(u->v, u->cap, u->n + 1);
	s = &u->v[u->n++];
	memset(s, 0, sizeof *s);
	s->sql = sql;
	s->nparams = nparams;
	if (nparams > 0)
		s->params[0] = xstrdup(p0);
	if (nparams > 1)
		s->params[1] = xstrdup(p1);
	if (nparams > 2)
		s->params[2] = xstrdup(p2);
	return s;
}

/* The step's schema, "public" when absent. */
const char *
sqlgen_schema_of(const struct step *s)
{
	return s->schema.s != NULL && s->schema.s[0] != '\0' ? s->schema.s : "public";
}

/* Appends "schema"."name". */
void
sqlgen_qualified(struct buf *b, const char *schema, const char *name)
{
	pg_quote_ident(b, schema);
	buf_putc(b, '.');
	pg_quote_ident(b, name);
}

/* Appends the step's quoted table. */
void
sqlgen_table(struct buf *b, const struct step *s)
{
	sqlgen_qualified(b, sqlgen_schema_of(s), s->table.s);
}

/* "table" or "schema.table" for messages. */
void
sqlgen_display_table(struct buf *b, const struct step *s)
{
	if (strcmp(sqlgen_schema_of(s), "public") != 0)
		buf_printf(b, "%s.", sqlgen_schema_of(s));
	buf_puts(b, s->table.s);
}

/*
 * Writes a database object name: prefix + parts joined by "_", or, when
 * that exceeds 63 bytes, the prefix, the start of the readable form and a
 * hash, so two long names never collide after PostgreSQL truncates them.
 */
static void
object_name(struct buf *out, const char *prefix, const char *a, const char *b)
{
	struct buf full = BUF_INIT;
	char h[65];

	buf_printf(&full, "%s%s%s%s", prefix, a, b ? "_" : "", b ? b : "");
	if (full.len <= IDENT_MAX) {
		buf_puts(out, buf_cstr(&full));
		buf_free(&full);
		return;
	}
	sha256_hex(full.ptr, full.len, h);
	h[12] = '\0';
	buf_add(out, full.ptr, IDENT_MAX - 13);
	buf_printf(out, "_%s", h);
	buf_free(&full);
}

/* The sync trigger (and function) name of a dual_write step. */
void
sqlgen_sync_name(struct buf *out, const struct step *s)
{
	object_name(out, "excon_sync_", s->from.s, s->to.s);
}

/* An index name: the step's, or <table>_<col>..._idx. */
void
sqlgen_index_name(struct buf *out, const struct step *s)
{
	struct buf cols = BUF_INIT;
	size_t i;

	if (s->name.s != NULL) {
		buf_puts(out, s->name.s);
		return;
	}
	for (i = 0; s->columns != NULL && s->columns[i] != NULL; i++)
		buf_printf(&cols, "%s%s", i ? "_" : "", s->columns[i]);
	buf_puts(&cols, "_idx");
	object_name(out, "", s->table.s, buf_cstr(&cols));
	buf_free(&cols);
}

/* A constraint name: the step's, or <table>_<col>_check / _fkey. */
void
sqlgen_constraint_name(struct buf *out, const struct step *s)
{
	struct buf suffix = BUF_INIT;
	const char *col;

	if (s->name.s != NULL) {
		buf_puts(out, s->name.s);
		return;
	}
	col = s->fk_columns != NULL && s->fk_columns[0] != NULL ? s->fk_columns[0] :
	    s->column.s != NULL ? s->column.s : NULL;
	if (col != NULL)
		buf_printf(&suffix, "%s_", col);
	buf_puts(&suffix, s->check.s != NULL ? "check" : "fkey");
	object_name(out, "", s->table.s, buf_cstr(&suffix));
	buf_free(&suffix);
}

/* Appends ("a", "b", ...) from a NULL-terminated list. */
static void
ident_list(struct buf *b, char *const *v)
{
	size_t i;

	buf_putc(b, '(');
	for (i = 0; v != NULL && v[i] != NULL; i++) {
		if (i > 0)
			buf_puts(b, ", ");
		pg_quote_ident(b, v[i]);
	}
	buf_putc(b, ')');
}

/* Refuses plan text that would end the $excon$ quoting of a DO block. */
static int
check_dollar(const struct step *s, const char *text, struct buf *err)
{
	if (text != NULL && strstr(text, "$excon$") != NULL)
		return error_set(err, "step '%s': '$excon$' is reserved and cannot appear in names or expressions",
		    s->id.s);
	return 0;
}

/* Refuses '$excon$' in every name of the step (see check_dollar). */
static int
check_dollar_names(const struct step *s, struct buf *err)
{
	const struct pstr *one[] = { &s->table, &s->schema, &s->column,
	    &s->name, &s->from, &s->to, &s->references, &s->using_ };
	char **const lists[] = { s->columns, s->fk_columns, s->ref_columns,
	    s->primary_key };
	size_t i, j;

	for (i = 0; i < sizeof one / sizeof one[0]; i++)
		if (check_dollar(s, one[i]->s, err) == -1)
			return -1;
	for (i = 0; i < sizeof lists / sizeof lists[0]; i++)
		for (j = 0; lists[i] != NULL && lists[i][j] != NULL; j++)
			if (check_dollar(s, lists[i][j], err) == -1)
				return -1;
	for (i = 0; i < s->ntcols; i++)
		if (check_dollar(s, s->tcols[i].name, err) == -1)
			return -1;
	return 0;
}

/* Replaces fragment f of ps->s by its parsed text; -1 with a message. */
static int
parsed_field(struct sqlgen_parsed *ps, char **f, enum sqlfrag k, const char *field,
    struct buf *err)
{
	struct buf why = BUF_INIT;
	char *clean = NULL;
	int ret = 0;

	if (*f == NULL)
		return 0;
	if (sqlcheck_fragment(k, *f, &clean, &why) == -1) {
		ret = error_set(err, "step '%s': '%s' %s", ps->s.id.s, field,
		    buf_cstr(&why));
	} else if (ps->nown < sizeof ps->own / sizeof ps->own[0]) {
		ps->own[ps->nown++] = clean;
		*f = clean;
	} else
		free(clean);
	buf_free(&why);
	return ret;
}

/* Frees what a parsed copy owns (NULL-safe). */
void
sqlgen_parsed_free(struct sqlgen_parsed *ps)
{
	size_t i;

	if (ps == NULL)
		return;
	for (i = 0; i < ps->nown; i++)
		free(ps->own[i]);
	for (i = 0; ps->tcols != NULL && i < ps->s.ntcols; i++) {
		free(ps->tcols[i].type);
		free(ps->tcols[i].default_);
	}
	free(ps->tcols);
	memset(ps, 0, sizeof *ps);
}

/*
 * Fills ps with the parsed copy of s.  Returns -1 with a message when a
 * fragment is not of its shape; ps is then empty (sqlgen_parsed_free is safe).
 */
int
sqlgen_parse(const struct step *s, struct sqlgen_parsed *ps, struct buf *err)
{
	struct step *c = &ps->s;
	size_t i;

	memset(ps, 0, sizeof *ps);
	*c = *s;
	if (check_dollar_names(s, err) == -1)
		goto fail;
	if (s->kind == KIND_DUAL_WRITE &&
	    (parsed_field(ps, &c->up.s, FRAG_EXPR, "up", err) == -1 ||
	    parsed_field(ps, &c->down.s, FRAG_EXPR, "down", err) == -1))
		goto fail;
	if (s->kind == KIND_ADD_COLUMN &&
	    parsed_field(ps, &c->type.s, FRAG_TYPE, "type", err) == -1)
		goto fail;
	if (parsed_field(ps, &c->verify.s, FRAG_QUERY, "verify", err) == -1 ||
	    parsed_field(ps, &c->set.s, FRAG_SET, "set", err) == -1 ||
	    parsed_field(ps, &c->where.s, FRAG_EXPR, "where", err) == -1 ||
	    parsed_field(ps, &c->check.s, FRAG_EXPR, "check", err) == -1)
		goto fail;
	if (s->ntcols > 0) {
		ps->tcols = xcalloc(s->ntcols, sizeof *ps->tcols);
		c->tcols = ps->tcols;
		for (i = 0; i < s->ntcols; i++) {
			struct buf why = BUF_INIT;
			int bad;

			ps->tcols[i] = s->tcols[i];
			ps->tcols[i].type = NULL;
			ps->tcols[i].default_ = NULL;
			bad = sqlcheck_fragment(FRAG_TYPE, s->tcols[i].type,
			    &ps->tcols[i].type, &why) == -1 ||
			    sqlcheck_fragment(FRAG_EXPR, s->tcols[i].default_,
			    &ps->tcols[i].default_, &why) == -1;
			if (bad)
				error_set(err, "step '%s': column '%s': %s",
				    s->id.s, s->tcols[i].name, buf_cstr(&why));
			buf_free(&why);
			if (bad)
				goto fail;
		}
	}
	return 0;
fail:
	sqlgen_parsed_free(ps);
	return -1;
}

/* 1 when the kind writes its ledger row (every DB kind). */
int
sqlgen_runs_sql(const struct step *s)
{
	switch (s->kind) {
	case KIND_DUAL_WRITE:
		return s->trigger;
	case KIND_STOP_OLD_WRITES:
		return s->drop_not_null;
	case KIND_SWITCH_READS:
	case KIND_CODE:
	case KIND__COUNT:
		return 0;
	case KIND_SQL:
		return s->up.s != NULL;
	default:
		return 1;
	}
}

/* Adds the ledger INSERT for p/s to u. */
static void
ledger_insert(struct sqlgen_unit *u, const struct plan *p, const struct step *s)
{
	unit_add(u, xstrdup("INSERT INTO excon.ledger (plan, step, checksum) VALUES ($1, $2, $3)"),
	    3, p->name.s, s->id.s, s->checksum);
}

/* Adds the ledger DELETE for p/s to u. */
static void
ledger_delete(struct sqlgen_unit *u, const struct plan *p, const struct step *s)
{
	unit_add(u, xstrdup("DELETE FROM excon.ledger WHERE plan = $1 AND step = $2"),
	    2, p->name.s, s->id.s, NULL);
}

/*
 * A DO block that drops every excon sync trigger (and its function) on the
 * step's table, or only those whose column list holds `column` when it is
 * not NULL.  The trigger's columns come from pg_trigger.tgattr (see the
 * BEFORE ... UPDATE OF declaration in gen_dual_write).
 */
static char *
drop_sync_triggers_sql(const struct step *s, const char *column)
{
	struct buf b = BUF_INIT, t = BUF_INIT, tl = BUF_INIT;

	sqlgen_table(&t, s);
	pg_quote_literal(&tl, buf_cstr(&t));
	buf_printf(&b,
	    "DO $excon$\nDECLARE r record;\nBEGIN\n"
	    "  FOR r IN SELECT t.tgname, t.tgfoid::regprocedure AS fn\n"
	    "    FROM pg_catalog.pg_trigger t\n"
	    "    WHERE t.tgrelid = to_regclass(%s) AND t.tgname LIKE 'excon\\_sync\\_%%'",
	    buf_cstr(&tl));
	if (column != NULL) {
		buf_puts(&b, "\n    AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a"
		    " WHERE a.attrelid = t.tgrelid AND a.attnum = ANY (t.tgattr::int2[]) AND a.attname = ");
		pg_quote_literal(&b, column);
		buf_putc(&b, ')');
	}
	buf_printf(&b, "\n  LOOP\n"
	    "    EXECUTE format('DROP TRIGGER IF EXISTS %%I ON %%s', r.tgname, %s);\n"
	    "    EXECUTE format('DROP FUNCTION IF EXISTS %%s', r.fn);\n"
	    "  END LOOP;\nEND $excon$", buf_cstr(&tl));
	buf_free(&t);
	buf_free(&tl);
	return buf_detach(&b);
}

/*
 * SQL of a DO block running `ddl` only when `cond` (SQL boolean) holds.
 * Used where PostgreSQL has no IF [NOT] EXISTS form.
 */
static char *
do_if(const char *cond, const char *ddl)
{
	return xasprintf("DO $excon$\nBEGIN\n  IF %s THEN\n    %s;\n  END IF;\nEND $excon$",
	    cond, ddl);
}

/* Condition: constraint `name` exists on the step's table. */
static char *
constraint_exists(const struct step *s, const char *name, const char *extra)
{
	struct buf b = BUF_INIT, t = BUF_INIT;

	sqlgen_table(&t, s);
	buf_puts(&b, "EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = ");
	pg_quote_literal(&b, buf_cstr(&t));
	buf_puts(&b, "::regclass AND conname = ");
	pg_quote_literal(&b, name);
	if (extra != NULL)
		buf_printf(&b, " AND %s", extra);
	buf_putc(&b, ')');
	buf_free(&t);
	return buf_detach(&b);
}

/* Requires a step field; names it in the message. */
static int
need(const struct step *s, const char *v, const char *field, struct buf *err)
{
	if (v == NULL || v[0] == '\0')
		return error_set(err, "step '%s': missing '%s'", s->id.s ? s->id.s : "?", field);
	return 0;
}

/* create_table: CREATE TABLE IF NOT EXISTS with a required primary key. */
static int
gen_create_table(const struct step *s, struct buf *b, struct buf *err)
{
	size_t i;
	int pk = s->primary_key != NULL && s->primary_key[0] != NULL;

	if (s->ntcols == 0)
		return error_set(err, "step '%s': create_table needs 'columns'", s->id.s);
	for (i = 0; i < s->ntcols; i++)
		pk |= s->tcols[i].primary_key;
	if (!pk)
		return error_set(err, "step '%s': create_table needs a primary key ('primary_key' or a column with 'primary_key: true')",
		    s->id.s);
	buf_puts(b, "CREATE TABLE IF NOT EXISTS ");
	sqlgen_table(b, s);
	buf_puts(b, " (");
	for (i = 0; i < s->ntcols; i++) {
		const struct plan_column *c = &s->tcols[i];

		buf_puts(b, i ? ",\n    " : "\n    ");
		pg_quote_ident(b, c->name);
		buf_printf(b, " %s", c->type);
		if (c->default_ != NULL)
			buf_printf(b, " DEFAULT %s", c->default_);
		if (c->not_null)
			buf_puts(b, " NOT NULL");
		if (c->primary_key)
			buf_puts(b, " PRIMARY KEY");
	}
	if (s->primary_key != NULL && s->primary_key[0] != NULL) {
		buf_puts(b, ",\n    PRIMARY KEY ");
		ident_list(b, s->primary_key);
	}
	buf_puts(b, "\n)");
	return 0;
}

/* The dual_write sync trigger: function, trigger (replaced if present). */
static int
gen_dual_write(const struct step *s, struct sqlgen_unit *u, struct buf *err)
{
	struct buf name = BUF_INIT, fn = BUF_INIT, from = BUF_INIT, to = BUF_INIT;
	struct buf up = BUF_INIT, down = BUF_INIT, b = BUF_INIT, t = BUF_INIT;
	int ret = -1;

	if (need(s, s->from.s, "from", err) == -1 || need(s, s->to.s, "to", err) == -1)
		goto done;
	if (check_dollar(s, s->up.s, err) == -1 || check_dollar(s, s->down.s, err) == -1)
		goto done;
	sqlgen_sync_name(&name, s);
	sqlgen_qualified(&fn, sqlgen_schema_of(s), buf_cstr(&name));
	sqlgen_table(&t, s);
	pg_quote_ident(&from, s->from.s);
	pg_quote_ident(&to, s->to.s);
	if (s->up.s != NULL)
		buf_puts(&up, s->up.s);
	else
		buf_printf(&up, "NEW.%s", buf_cstr(&from));
	if (s->down.s != NULL)
		buf_puts(&down, s->down.s);
	else
		buf_printf(&down, "NEW.%s", buf_cstr(&to));
	/*
	 * BEFORE triggers run before NOT NULL is checked, so an INSERT by new
	 * code that writes only `to` still fills a NOT NULL `from`.  On UPDATE
	 * the column that changed wins; when both changed, the writer wrote
	 * both and nothing is touched.  A backfill (its session sets
	 * excon.writer, see backfill.h) writes `to` from `from`: copying it
	 * back through `down` would at best redo work and, with a lossy `down`,
	 * change the value the running code reads.
	 */
	buf_printf(&b,
	    "CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $excon$\n"
	    "BEGIN\n"
	    "  IF TG_OP = 'INSERT' THEN\n"
	    "    IF NEW.%s IS NULL THEN\n      NEW.%s := %s;\n"
	    "    ELSIF NEW.%s IS NULL THEN\n      NEW.%s := %s;\n    END IF;\n"
	    "  ELSIF NEW.%s IS DISTINCT FROM OLD.%s AND NEW.%s IS NOT DISTINCT FROM OLD.%s THEN\n"
	    "    NEW.%s := %s;\n"
	    "  ELSIF NEW.%s IS DISTINCT FROM OLD.%s AND NEW.%s IS NOT DISTINCT FROM OLD.%s\n"
	    "      AND current_setting('excon.writer', true) IS DISTINCT FROM 'backfill' THEN\n"
	    "    NEW.%s := %s;\n"
	    "  END IF;\n"
	    "  RETURN NEW;\n"
	    "END\n$excon$",
	    buf_cstr(&fn),
	    buf_cstr(&to), buf_cstr(&to), buf_cstr(&up),
	    buf_cstr(&from), buf_cstr(&from), buf_cstr(&down),
	    buf_cstr(&from), buf_cstr(&from), buf_cstr(&to), buf_cstr(&to),
	    buf_cstr(&to), buf_cstr(&up),
	    buf_cstr(&to), buf_cstr(&to), buf_cstr(&from), buf_cstr(&from),
	    buf_cstr(&from), buf_cstr(&down));
	unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
	buf_puts(&b, "DROP TRIGGER IF EXISTS ");
	pg_quote_ident(&b, buf_cstr(&name));
	buf_printf(&b, " ON %s", buf_cstr(&t));
	unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
	buf_puts(&b, "CREATE TRIGGER ");
	pg_quote_ident(&b, buf_cstr(&name));
	buf_printf(&b, " BEFORE INSERT OR UPDATE OF %s, %s ON %s FOR EACH ROW EXECUTE FUNCTION %s()",
	    buf_cstr(&from), buf_cstr(&to), buf_cstr(&t), buf_cstr(&fn));
	unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
	ret = 0;
done:
	buf_free(&name);
	buf_free(&fn);
	buf_free(&from);
	buf_free(&to);
	buf_free(&up);
	buf_free(&down);
	buf_free(&b);
	buf_free(&t);
	return ret;
}

/* Drops the dual_write trigger and its function (rollback of dual_write). */
static void
gen_drop_sync(const struct step *s, struct sqlgen_unit *u)
{
	struct buf name = BUF_INIT, b = BUF_INIT;

	sqlgen_sync_name(&name, s);
	buf_puts(&b, "DROP TRIGGER IF EXISTS ");
	pg_quote_ident(&b, buf_cstr(&name));
	buf_puts(&b, " ON ");
	sqlgen_table(&b, s);
	unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
	buf_puts(&b, "DROP FUNCTION IF EXISTS ");
	sqlgen_qualified(&b, sqlgen_schema_of(s), buf_cstr(&name));
	buf_puts(&b, "()");
	unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
	buf_free(&name);
}

/* set_not_null in three idempotent transactions. */
static void
gen_set_not_null(const struct step *s, struct sqlgen_script *sc, struct sqlgen_unit **last)
{
	struct buf chk = BUF_INIT, t = BUF_INIT, col = BUF_INIT, ddl = BUF_INIT;
	struct buf cond = BUF_INIT;
	char *c1, *c2;
	struct sqlgen_unit *u;

	object_name(&chk, "excon_nn_", s->column.s, NULL);
	sqlgen_table(&t, s);
	pg_quote_ident(&col, s->column.s);

	/* 1. CHECK (col IS NOT NULL) NOT VALID, unless already NOT NULL or there. */
	buf_puts(&cond, "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = ");
	pg_quote_literal(&cond, buf_cstr(&t));
	buf_puts(&cond, "::regclass AND attname = ");
	pg_quote_literal(&cond, s->column.s);
	buf_puts(&cond, " AND attnotnull) AND NOT ");
	c1 = constraint_exists(s, buf_cstr(&chk), NULL);
	buf_puts(&cond, c1);
	buf_printf(&ddl, "ALTER TABLE %s ADD CONSTRAINT ", buf_cstr(&t));
	pg_quote_ident(&ddl, buf_cstr(&chk));
	buf_printf(&ddl, " CHECK (%s IS NOT NULL) NOT VALID", buf_cstr(&col));
	u = script_unit(sc, SQLGEN_TX);
	unit_add(u, do_if(buf_cstr(&cond), buf_cstr(&ddl)), 0, NULL, NULL, NULL);

	/* 2. VALIDATE it (SHARE UPDATE EXCLUSIVE: writes go on). */
	buf_reset(&ddl);
	buf_printf(&ddl, "ALTER TABLE %s VALIDATE CONSTRAINT ", buf_cstr(&t));
	pg_quote_ident(&ddl, buf_cstr(&chk));
	c2 = constraint_exists(s, buf_cstr(&chk), "NOT convalidated");
	u = script_unit(sc, SQLGEN_TX);
	unit_add(u, do_if(c2, buf_cstr(&ddl)), 0, NULL, NULL, NULL);

	/* 3. SET NOT NULL uses the valid CHECK instead of a scan; drop the CHECK. */
	u = script_unit(sc, SQLGEN_TX);
	unit_add(u, xasprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL",
	    buf_cstr(&t), buf_cstr(&col)), 0, NULL, NULL, NULL);
	buf_reset(&ddl);
	buf_printf(&ddl, "ALTER TABLE %s DROP CONSTRAINT IF EXISTS ", buf_cstr(&t));
	pg_quote_ident(&ddl, buf_cstr(&chk));
	unit_add(u, buf_detach(&ddl), 0, NULL, NULL, NULL);
	*last = u;
	free(c1);
	free(c2);
	buf_free(&chk);
	buf_free(&t);
	buf_free(&col);
	buf_free(&ddl);
	buf_free(&cond);
}

/*
 * Builds the script of step s (forward).  The ledger INSERT goes into the
 * last transactional unit, or into a unit of its own after autocommit work.
 */
int
sqlgen_step(const struct plan *p, const struct step *s,
    struct sqlgen_script *sc, struct buf *err)
{
	struct buf b = BUF_INIT, n = BUF_INIT;
	struct sqlgen_unit *u = NULL;
	int tx = s->transaction;
	int ret = -1;

	if (s->kind != KIND_SQL && s->kind != KIND_CODE && s->kind != KIND_SWITCH_READS &&
	    !(s->kind == KIND_DUAL_WRITE && !s->trigger) &&
	    !(s->kind == KIND_STOP_OLD_WRITES && !s->drop_not_null) &&
	    need(s, s->table.s, "table", err) == -1)
		goto done;
	if (check_dollar(s, s->table.s, err) == -1 || check_dollar(s, s->schema.s, err) == -1 ||
	    check_dollar(s, s->column.s, err) == -1 || check_dollar(s, s->check.s, err) == -1)
		goto done;
	switch (s->kind) {
	case KIND_ADD_COLUMN:
		if (need(s, s->column.s, "column", err) == -1 ||
		    need(s, s->type.s, "type", err) == -1)
			goto done;
		buf_puts(&b, "ALTER TABLE ");
		sqlgen_table(&b, s);
		buf_puts(&b, " ADD COLUMN IF NOT EXISTS ");
		pg_quote_ident(&b, s->column.s);
		buf_printf(&b, " %s", s->type.s);
		if (s->default_.s != NULL) {
			buf_puts(&b, " DEFAULT ");
			pg_quote_literal(&b, s->default_.s);
			buf_printf(&b, "::%s", s->type.s);
		}
		break;
	case KIND_CREATE_TABLE:
		if (gen_create_table(s, &b, err) == -1)
			goto done;
		break;
	case KIND_CREATE_INDEX:
		if (s->columns == NULL || s->columns[0] == NULL) {
			error_set(err, "step '%s': create_index needs 'columns'", s->id.s);
			goto done;
		}
		sqlgen_index_name(&n, s);
		u = script_unit(sc, SQLGEN_INDEX);
		u->schema = xstrdup(sqlgen_schema_of(s));
		u->name = xstrdup(buf_cstr(&n));
		buf_printf(&b, "CREATE %sINDEX CONCURRENTLY IF NOT EXISTS ", s->unique ? "UNIQUE " : "");
		pg_quote_ident(&b, buf_cstr(&n));
		buf_puts(&b, " ON ");
		sqlgen_table(&b, s);
		if (s->using_.s != NULL) {
			buf_puts(&b, " USING ");
			pg_quote_ident(&b, s->using_.s);
		}
		buf_putc(&b, ' ');
		ident_list(&b, s->columns);
		if (s->where.s != NULL)
			buf_printf(&b, " WHERE %s", s->where.s);
		unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
		tx = 0;
		break;
	case KIND_ADD_CONSTRAINT: {
		char *cond, *ncond;

		sqlgen_constraint_name(&n, s);
		buf_puts(&b, "ALTER TABLE ");
		sqlgen_table(&b, s);
		buf_puts(&b, " ADD CONSTRAINT ");
		pg_quote_ident(&b, buf_cstr(&n));
		if (s->check.s != NULL)
			buf_printf(&b, " CHECK (%s)", s->check.s);
		else {
			const char *ref = s->references.s, *dot;

			if (s->fk_columns == NULL || s->fk_columns[0] == NULL || ref == NULL) {
				error_set(err, "step '%s': add_constraint needs 'check', or 'foreign_key' and 'references'",
				    s->id.s);
				goto done;
			}
			buf_puts(&b, " FOREIGN KEY ");
			ident_list(&b, s->fk_columns);
			buf_puts(&b, " REFERENCES ");
			if ((dot = strchr(ref, '.')) != NULL) {
				char *sch = xstrndup(ref, (size_t)(dot - ref));

				sqlgen_qualified(&b, sch, dot + 1);
				free(sch);
			} else
				sqlgen_qualified(&b, sqlgen_schema_of(s), ref);
			if (s->ref_columns != NULL && s->ref_columns[0] != NULL) {
				buf_putc(&b, ' ');
				ident_list(&b, s->ref_columns);
			}
		}
		buf_puts(&b, " NOT VALID");
		cond = constraint_exists(s, buf_cstr(&n), NULL);
		ncond = xasprintf("NOT %s", cond);
		u = script_unit(sc, tx ? SQLGEN_TX : SQLGEN_NOTX);
		unit_add(u, do_if(ncond, buf_cstr(&b)), 0, NULL, NULL, NULL);
		free(cond);
		free(ncond);
		buf_reset(&b);
		break;
	}
	case KIND_DUAL_WRITE:
		u = script_unit(sc, tx ? SQLGEN_TX : SQLGEN_NOTX);
		if (gen_dual_write(s, u, err) == -1)
			goto done;
		break;
	case KIND_BACKFILL:
		if (need(s, s->set.s, "set", err) == -1)
			goto done;
		u = script_unit(sc, SQLGEN_BACKFILL);
		tx = 0;
		break;
	case KIND_VALIDATE_CONSTRAINT:
		if (need(s, s->name.s, "name", err) == -1)
			goto done;
		buf_puts(&b, "ALTER TABLE ");
		sqlgen_table(&b, s);
		buf_puts(&b, " VALIDATE CONSTRAINT ");
		pg_quote_ident(&b, s->name.s);
		break;
	case KIND_SET_NOT_NULL:
		if (need(s, s->column.s, "column", err) == -1)
			goto done;
		gen_set_not_null(s, sc, &u);
		if (!tx)
			u = NULL;
		break;
	case KIND_STOP_OLD_WRITES:
		if (!s->drop_not_null)
			break;
		if (need(s, s->column.s, "column", err) == -1)
			goto done;
		buf_puts(&b, "ALTER TABLE ");
		sqlgen_table(&b, s);
		buf_puts(&b, " ALTER COLUMN ");
		pg_quote_ident(&b, s->column.s);
		buf_puts(&b, " DROP NOT NULL");
		break;
	case KIND_DROP_COLUMN:
		if (need(s, s->column.s, "column", err) == -1)
			goto done;
		/* An excon sync trigger reading the column goes first, in the same transaction. */
		u = script_unit(sc, tx ? SQLGEN_TX : SQLGEN_NOTX);
		unit_add(u, drop_sync_triggers_sql(s, s->column.s), 0, NULL, NULL, NULL);
		buf_puts(&b, "ALTER TABLE IF EXISTS ");
		sqlgen_table(&b, s);
		buf_puts(&b, " DROP COLUMN IF EXISTS ");
		pg_quote_ident(&b, s->column.s);
		unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
		break;
	case KIND_DROP_TABLE:
		u = script_unit(sc, tx ? SQLGEN_TX : SQLGEN_NOTX);
		unit_add(u, drop_sync_triggers_sql(s, NULL), 0, NULL, NULL, NULL);
		buf_puts(&b, "DROP TABLE IF EXISTS ");
		sqlgen_table(&b, s);
		unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
		break;
	case KIND_DROP_INDEX:
		if (need(s, s->name.s, "name", err) == -1)
			goto done;
		buf_puts(&b, "DROP INDEX CONCURRENTLY IF EXISTS ");
		sqlgen_qualified(&b, sqlgen_schema_of(s), s->name.s);
		u = script_unit(sc, SQLGEN_NOTX);
		unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
		tx = 0;
		break;
	case KIND_DROP_CONSTRAINT:
		if (need(s, s->name.s, "name", err) == -1)
			goto done;
		buf_puts(&b, "ALTER TABLE IF EXISTS ");
		sqlgen_table(&b, s);
		buf_puts(&b, " DROP CONSTRAINT IF EXISTS ");
		pg_quote_ident(&b, s->name.s);
		break;
	case KIND_DROP_TRIGGER:
		if (need(s, s->name.s, "name", err) == -1)
			goto done;
		buf_puts(&b, "DROP TRIGGER IF EXISTS ");
		pg_quote_ident(&b, s->name.s);
		buf_puts(&b, " ON ");
		sqlgen_table(&b, s);
		break;
	case KIND_SQL:
		if (s->up.s == NULL)
			break;
		u = script_unit(sc, tx ? SQLGEN_TX : SQLGEN_NOTX);
		unit_add(u, xstrdup(s->up.s), 0, NULL, NULL, NULL)->script = 1;
		break;
	case KIND_SWITCH_READS:
	case KIND_CODE:
	case KIND__COUNT:
		break;
	}
	if (b.len > 0) {
		u = script_unit(sc, tx ? SQLGEN_TX : SQLGEN_NOTX);
		unit_add(u, buf_detach(&b), 0, NULL, NULL, NULL);
	}
	if (sc->n > 0) {
		if (u == NULL || u->kind != SQLGEN_TX)
			u = script_unit(sc, SQLGEN_TX);
		ledger_insert(u, p, s);
	}
	ret = 0;
done:
	buf_free(&b);
	buf_free(&n);
	return ret;
}

/* Builds the rollback script of step s. */
int
sqlgen_rollback(const struct plan *p, const struct step *s, struct sqlgen_script *sc,
    struct buf *err)
{
	struct sqlgen_unit *u;

	if (!sqlgen_runs_sql(s))
		return 0;
	if (s->kind == KIND_DUAL_WRITE) {
		if (need(s, s->table.s, "table", err) == -1)
			return -1;
		u = script_unit(sc, SQLGEN_TX);
		gen_drop_sync(s, u);
		ledger_delete(u, p, s);
		return 0;
	}
	if (s->down.s == NULL)
		return error_set(err, "step '%s' has no 'down': cannot roll it back", s->id.s);
	u = script_unit(sc, s->transaction ? SQLGEN_TX : SQLGEN_NOTX);
	unit_add(u, xstrdup(s->down.s), 0, NULL, NULL, NULL)->script = 1;
	if (u->kind != SQLGEN_TX)
		u = script_unit(sc, SQLGEN_TX);
	ledger_delete(u, p, s);
	return 0;
}

/* Appends stmt with its parameters inlined as literals (dry run). */
void
sqlgen_render_stmt(struct buf *out, const struct sqlgen_stmt *st)
{
	const char *q = st->sql;

	if (st->script) {
		size_t n = strlen(q);

		buf_puts(out, q);
		while (n > 0 && (q[n - 1] == '\n' || q[n - 1] == ' '))
			n--;
		if (n > 0 && q[n - 1] != ';')
			buf_putc(out, ';');
		buf_putc(out, '\n');
		return;
	}
	while (*q != '\0') {
		if (*q == '$' && q[1] >= '1' && q[1] <= '9') {
			int i = q[1] - '1';

			if (i < st->nparams) {
				pg_quote_literal(out, st->params[i]);
				q += 2;
				continue;
			}
		}
		buf_putc(out, *q++);
	}
	buf_puts(out, ";\n");
}

/*
 * Cuts name to what PostgreSQL stores: at most IDENT_MAX bytes, never
 * inside a UTF-8 character, as the server truncates a longer identifier.
 */
void
sqlgen_catalog_name(struct buf *name)
{
	size_t n = name->len;

	if (n <= IDENT_MAX)
		return;
	n = IDENT_MAX;
	while (n > 0 && ((unsigned char)name->ptr[n] & 0xC0) == 0x80)
		n--;
	buf_truncate(name, n);
	assert(name->len <= IDENT_MAX);
}

/* Renders one unit for the dry run (see sqlgen.h). */
void
sqlgen_render_unit(struct buf *out, const struct sqlgen_unit *u)
{
	size_t j;

	if (u->kind == SQLGEN_BACKFILL)
		return;
	if (u->kind == SQLGEN_INDEX) {
		buf_puts(out, "-- drop a leftover INVALID index of that name first:\n"
		    "SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
		    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ");
		pg_quote_literal(out, u->schema);
		buf_puts(out, " AND c.relname = ");
		pg_quote_literal(out, u->name);
		buf_puts(out, " AND NOT i.indisvalid;\n-- when found: DROP INDEX CONCURRENTLY IF EXISTS ");
		sqlgen_qualified(out, u->schema, u->name);
		buf_puts(out, ";\n");
	}
	if (u->kind == SQLGEN_TX)
		buf_puts(out, "BEGIN;\n");
	for (j = 0; j < u->n; j++)
		sqlgen_render_stmt(out, &u->v[j]);
	if (u->kind == SQLGEN_TX)
		buf_puts(out, "COMMIT;\n");
}
