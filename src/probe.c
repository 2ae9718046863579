/*
 * The usage probe of rule 9 (see probe.h): reads pg_stat_statements and
 * the catalog through pg.c, and parses statements through sqlcheck.c.
 *
 * Telling excon's own statements apart: pg_stat_statements keeps no
 * application_name and merges identical statements of every client under
 * one queryid (comments do not change it), so neither a marker nor the
 * statement's shape can separate excon's calls from an application's
 * without hiding the application's.  excon instead never runs a
 * statement that names a removed object inside the evidence window: the
 * SQL and verify queries of the steps before the contract run before the
 * snapshot is taken, and everything excon runs afterwards (this probe,
 * verify, the ledger) passes object names as parameters, so its texts
 * cannot match.  Statements run inside functions (the sync trigger's) are
 * not top-level and pg_stat_statements' default `track = top` does not
 * record them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe.h"
#include "xalloc.h"

/* Longest statement text shown in evidence, in bytes. */
#define PROBE_TEXT_MAX	160

/* One counter of a snapshot. */
struct snap_row {
	long long	 queryid;
	long long	 calls;
};

/* A parsed snapshot. */
struct snap {
	long long	 reset;		/* stats_reset, unix seconds; 0 unknown */
	long long	 dealloc;	/* -1 unknown */
	struct snap_row	*rows;		/* sorted by queryid */
	size_t		 n;
};

/* Frees a result. */
void
probe_result_free(struct probe_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nuses; i++) {
		free(r->uses[i].where);
		free(r->uses[i].text);
	}
	free(r->uses);
	free(r->missing);
	free(r->reset);
	memset(r, 0, sizeof *r);
}

/* The removed objects of p's contract steps. */
size_t
probe_targets(const struct plan *p, struct use_target **out)
{
	size_t i, n = 0;

	*out = xcalloc(p->nsteps + 1, sizeof **out);
	for (i = 0; i < p->nsteps; i++) {
		const struct step *s = &p->steps[i];
		struct use_target *t = &(*out)[n];

		if (s->phase != PHASE_CONTRACT || s->table.s == NULL)
			continue;
		if (s->kind == KIND_DROP_COLUMN && s->column.s != NULL) {
			t->kind = USE_COLUMN;
			t->column = s->column.s;
		} else if (s->kind == KIND_DROP_TABLE)
			t->kind = USE_RELATION;
		else
			continue;
		t->schema = s->schema.s;
		t->name = s->table.s;
		n++;
	}
	return n;
}

/* Adds a use to res. */
static void
add_use(struct probe_result *res, const char *where, const char *text,
    long long calls)
{
	struct probe_use *u;
	size_t i, j = 0;
	int space = 0;

	res->uses = xrealloc(res->uses, (res->nuses + 1) * sizeof *res->uses);
	u = &res->uses[res->nuses++];
	u->where = xstrdup(where);
	u->calls = calls;
	/* One line, runs of white space folded, long texts cut. */
	u->text = xmalloc(PROBE_TEXT_MAX + 4);
	for (i = 0; text[i] != '\0' && j < PROBE_TEXT_MAX; i++) {
		if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' ||
		    text[i] == '\r') {
			space = j > 0;
			continue;
		}
		if (space)
			u->text[j++] = ' ';
		space = 0;
		if (j < PROBE_TEXT_MAX)
			u->text[j++] = text[i];
	}
	if (text[i] != '\0') {
		/* Do not end inside a UTF-8 sequence. */
		while (j > 0 && ((unsigned char)u->text[j - 1] & 0xC0) == 0x80)
			j--;
		if (j > 0 && ((unsigned char)u->text[j - 1] & 0x80))
			j--;
		memcpy(u->text + j, "...", 3);
		j += 3;
	}
	u->text[j] = '\0';
}

/* Sets *missing (owned) once. */
static void
set_missing(char **missing, const char *fmt, const char *arg)
{
	if (*missing == NULL)
		*missing = xasprintf(fmt, arg != NULL ? arg : "");
}

/*
 * Finds the schema of pg_stat_statements (*schema, owned) and checks that
 * the role may read every role's statements; sets *missing otherwise.
 */
static int
stats_open(struct pg *db, char **schema, char **missing, struct buf *err)
{
	struct pg_result *r = NULL;
	int ret = -1;

	if (pg_exec(db, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
	    "ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'",
	    0, NULL, &r, err) != 0)
		goto done;
	if (pg_result_nrows(r) == 0) {
		set_missing(missing, "pg_stat_statements is not installed in the "
		    "database: run CREATE EXTENSION pg_stat_statements (the server "
		    "must also load it: shared_preload_libraries = "
		    "'pg_stat_statements')%s", NULL);
		ret = 0;
		goto done;
	}
	*schema = xstrdup(pg_result_get(r, 0, 0));
	pg_result_free(r);
	r = NULL;
	if (pg_exec(db, "SELECT r.rolsuper OR pg_has_role(current_user, "
	    "'pg_read_all_stats', 'MEMBER'), current_user FROM pg_roles r "
	    "WHERE r.rolname = current_user", 0, NULL, &r, err) != 0)
		goto done;
	if (pg_result_nrows(r) == 1 && strcmp(pg_result_get(r, 0, 0), "t") != 0) {
		struct buf q = BUF_INIT;

		pg_quote_ident(&q, pg_result_get(r, 0, 1));
		set_missing(missing, "the role cannot read other roles' statements "
		    "in pg_stat_statements: GRANT pg_read_all_stats TO %s",
		    buf_cstr(&q));
		buf_free(&q);
	}
	ret = 0;
done:
	pg_result_free(r);
	return ret;
}

/*
 * Reads the counters of the current database (with the texts when
 * texts = 1) into *out (owned), ordered by queryid; sets *missing when
 * the server does not load the extension.
 */
static int
stats_read(struct pg *db, const char *schema, int texts,
    struct pg_result **out, char **missing, struct buf *err)
{
	struct buf sql = BUF_INIT;
	int ret = -1;

	buf_printf(&sql, "SELECT s.queryid, sum(s.calls)::bigint%s FROM ",
	    texts ? ", min(s.query)" : "");
	pg_quote_ident(&sql, schema);
	buf_puts(&sql, ".pg_stat_statements s WHERE s.dbid = (SELECT oid FROM "
	    "pg_database WHERE datname = current_database()) AND s.queryid IS "
	    "NOT NULL GROUP BY s.queryid ORDER BY s.queryid");
	if (pg_exec(db, buf_cstr(&sql), 0, NULL, out, err) != 0) {
		/* 55000: "must be loaded via shared_preload_libraries". */
		if (strcmp(pg_sqlstate(db), "55000") == 0) {
			buf_reset(err);
			set_missing(missing, "pg_stat_statements is installed but the "
			    "server does not load it: add it to "
			    "shared_preload_libraries in postgresql.conf and restart "
			    "the server%s", NULL);
			ret = 0;
		}
		goto done;
	}
	ret = 0;
done:
	buf_free(&sql);
	return ret;
}

/* stats_reset (unix seconds, 0 unknown) and dealloc (-1 unknown). */
static void
stats_info(struct pg *db, const char *schema, long long *reset,
    long long *dealloc)
{
	struct buf sql = BUF_INIT, err = BUF_INIT;
	struct pg_result *r = NULL;

	*reset = 0;
	*dealloc = -1;
	buf_puts(&sql, "SELECT coalesce(extract(epoch FROM stats_reset)::bigint, 0), "
	    "dealloc FROM ");
	pg_quote_ident(&sql, schema);
	buf_puts(&sql, ".pg_stat_statements_info");
	/* Before PostgreSQL 14 there is no such view: resets go unseen. */
	if (pg_exec(db, buf_cstr(&sql), 0, NULL, &r, &err) == 0 &&
	    pg_result_nrows(r) == 1) {
		*reset = atoll(pg_result_get(r, 0, 0));
		*dealloc = atoll(pg_result_get(r, 0, 1));
	}
	pg_result_free(r);
	buf_free(&sql);
	buf_free(&err);
}

/* Takes a snapshot. */
int
probe_snapshot(struct pg *db, const char *where, struct buf *snap,
    char **missing, struct buf *err)
{
	struct pg_result *r = NULL;
	char *schema = NULL;
	long long reset, dealloc;
	int i, n, ret = -1;

	if (stats_open(db, &schema, missing, err) != 0)
		goto done;
	if (*missing == NULL && stats_read(db, schema, 0, &r, missing, err) != 0)
		goto done;
	if (*missing != NULL) {
		ret = 0;
		goto done;
	}
	stats_info(db, schema, &reset, &dealloc);
	n = pg_result_nrows(r);
	buf_printf(snap, "@\t%s\t%lld\t%lld\n", where, reset, dealloc);
	for (i = 0; i < n; i++)
		buf_printf(snap, "%s %s\n", pg_result_get(r, i, 0),
		    pg_result_get(r, i, 1));
	ret = 0;
done:
	pg_result_free(r);
	free(schema);
	return ret;
}

/* Orders snapshot rows by queryid. */
static int
snap_cmp(const void *a, const void *b)
{
	const struct snap_row *x = a, *y = b;

	return x->queryid < y->queryid ? -1 : x->queryid > y->queryid;
}

/*
 * Parses where's section of a snapshot text into s; returns 0 when there
 * is none (NULL text, or where was not read then).  Malformed lines are
 * skipped.
 */
static int
snap_parse(struct snap *s, const char *text, const char *where)
{
	const char *p = text;
	size_t cap = 0, n = strlen(where);

	memset(s, 0, sizeof *s);
	s->dealloc = -1;
	if (text == NULL)
		return 0;
	/* The section header: "@\twhere\treset\tdealloc". */
	for (; (p = strchr(p, '\n')) != NULL; p++)
		if (strncmp(p + 1, "@\t", 2) == 0 &&
		    strncmp(p + 3, where, n) == 0 && p[3 + n] == '\t')
			break;
	if (p == NULL)
		return 0;
	p += 4 + n;
	if (sscanf(p, "%lld\t%lld", &s->reset, &s->dealloc) != 2)
		s->dealloc = -1;
	while ((p = strchr(p, '\n')) != NULL) {
		struct snap_row row;

		p++;
		if (*p == '@')
			break;		/* the next server's section */
		if (sscanf(p, "%lld %lld", &row.queryid, &row.calls) != 2)
			continue;
		if (s->n == cap) {
			cap = cap ? cap * 2 : 64;
			s->rows = xrealloc(s->rows, cap * sizeof *s->rows);
		}
		s->rows[s->n++] = row;
	}
	qsort(s->rows, s->n, sizeof *s->rows, snap_cmp);
	return 1;
}

/* The snapshot's calls of queryid, 0 when absent. */
static long long
snap_calls(const struct snap *s, long long queryid)
{
	struct snap_row key = { queryid, 0 };
	const struct snap_row *r = s->n ? bsearch(&key, s->rows, s->n,
	    sizeof *s->rows, snap_cmp) : NULL;

	return r != NULL ? r->calls : 0;
}

/* One server's statistics, read once for every plan (see probe.h). */
struct probe_stats {
	char			 *missing;	/* set: nothing was read */
	struct pg_result	 *r;		/* queryid, calls, query */
	long long		  reset;
	long long		  dealloc;
	struct sqlcheck_parsed	**parsed;	/* per row of r, on first need */
	long long		 *ids;		/* per row of r: queryid */
	long long		 *calls;	/* per row of r: calls */
	/* The catalog's functions for every target, read on first need. */
	const struct use_target	 *all;		/* borrowed */
	size_t			  nall;
	char			**rels;		/* per target of all: regclass */
	struct pg_result	 *fn;		/* i, proc, lang, src, trigger */
	int			 *from;		/* per target: its first row of fn */
	struct pg_result	 *dep;		/* i, object */
	int			 *dep_from;	/* per target: its first row of dep */
};

/* The word the catalog's function bodies are searched for. */
static const char *
target_word(const struct use_target *t)
{
	return t->kind == USE_COLUMN ? t->column : t->name;
}

/* "schema"."table" of t, for to_regclass (owned). */
static char *
target_regclass(const struct use_target *t)
{
	struct buf b = BUF_INIT;

	pg_quote_ident(&b, t->schema != NULL ? t->schema : "public");
	buf_putc(&b, '.');
	pg_quote_ident(&b, t->name);
	return buf_detach(&b);
}

/*
 * The catalog's dependencies on a table (REL, its regclass text) or on
 * its column COL (NULL for the table), as SQL expressions: the single
 * query passes them as $1 and $2, the query for every target takes them
 * from the targets' list.
 */
#define DEP_SQL(REL, COL) \
	"WITH t AS (SELECT to_regclass(" REL ") AS rel), " \
	"a AS (SELECT a.attnum FROM pg_attribute a, t WHERE a.attrelid = t.rel " \
	"  AND a.attname = " COL " AND NOT a.attisdropped) " \
	"SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass THEN " \
	"  (SELECT CASE WHEN r.rulename = '_RETURN' THEN CASE c.relkind " \
	"   WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || " \
	"   c.oid::regclass::text ELSE pg_describe_object(d.classid, d.objid, " \
	"   d.objsubid) END FROM pg_rewrite r JOIN pg_class c ON c.oid = " \
	"   r.ev_class WHERE r.oid = d.objid) " \
	"  ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END " \
	"FROM pg_depend d, t " \
	"WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = t.rel " \
	"  AND d.deptype IN ('n', 'a') " \
	"  AND (" COL "::text IS NULL OR d.refobjsubid = (SELECT attnum FROM a)) " \
	"  AND d.classid <> 'pg_attrdef'::regclass " \
	"  AND NOT (d.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 " \
	"   FROM pg_class s WHERE s.oid = d.objid AND (s.relkind = 'S' OR " \
	"   (" COL "::text IS NULL AND (s.oid = t.rel OR s.relkind = 'i'))))) " \
	"  AND NOT (d.classid = 'pg_trigger'::regclass AND EXISTS (SELECT 1 " \
	"   FROM pg_trigger g WHERE g.oid = d.objid AND (g.tgname LIKE " \
	"   'excon\\_sync\\_%' OR (" COL "::text IS NULL AND g.tgrelid = t.rel)))) " \
	"  AND NOT (d.classid = 'pg_rewrite'::regclass AND EXISTS (SELECT 1 " \
	"   FROM pg_rewrite r WHERE r.oid = d.objid AND r.ev_class = t.rel " \
	"   AND (r.rulename = '_RETURN' OR " COL "::text IS NULL))) " \
	"  AND NOT (" COL "::text IS NULL AND d.classid = 'pg_constraint'::regclass " \
	"   AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.oid = d.objid " \
	"   AND k.conrelid = t.rel)) " \
	"  AND NOT (" COL "::text IS NULL AND d.classid = 'pg_policy'::regclass) " \
	"ORDER BY 1"

/*
 * Runs sql (taking the targets' arrays as $1 and $2, its first column
 * the target's number from 1) into *out, and sets from[k] to target k's
 * first row (rows come ordered by target), from[nall] to the end.
 */
static int
batch_read(struct pg *db, const char *sql, const char *a1, const char *a2,
    size_t nall, struct pg_result **out, int *from, struct buf *err)
{
	const char *params[2] = { a1, a2 };
	size_t k;
	int i;

	if (pg_exec(db, sql, 2, params, out, err) != 0)
		return -1;
	for (i = 0; i < pg_result_nrows(*out); i++) {
		long long x = atoll(pg_result_get(*out, i, 0));

		if (x >= 1 && (size_t)x <= nall)
			from[x]++;
	}
	for (k = 1; k <= nall; k++)
		from[k] += from[k - 1];
	return 0;
}

/*
 * The number of t (regclass rel) among st->all in *k, -1 when it is not
 * one of them; on first need, reads the catalog's dependencies and
 * functions for every target of st->all in one query each.
 */
static int
catalog_batch(struct pg *db, struct probe_stats *st, const struct use_target *t,
    const char *rel, long *k, struct buf *err)
{
	static const char dep_sql[] =
	    "SELECT x.i, d.o FROM unnest($1::text[], $2::text[]) WITH ORDINALITY "
	    "AS x(rel, col, i) CROSS JOIN LATERAL (" DEP_SQL("x.rel", "x.col")
	    ") AS d(o) ORDER BY x.i, d.o";
	static const char fn_sql[] =
	    "SELECT x.i, p.oid::regprocedure::text, l.lanname, p.prosrc, EXISTS "
	    "(SELECT 1 FROM pg_trigger g WHERE g.tgfoid = p.oid AND g.tgrelid = "
	    "to_regclass(x.rel)) FROM unnest($1::text[], $2::text[]) WITH "
	    "ORDINALITY AS x(word, rel, i) JOIN pg_proc p ON "
	    "strpos(lower(p.prosrc), lower(x.word)) > 0 "
	    "JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON "
	    "n.oid = p.pronamespace WHERE l.lanname IN ('sql', 'plpgsql') AND "
	    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND "
	    "p.proname NOT LIKE 'excon\\_sync\\_%' ORDER BY x.i, 2";
	struct buf words = BUF_INIT, rels = BUF_INIT, cols = BUF_INIT;
	size_t j;
	int ret = -1;

	*k = -1;
	if (st->nall == 0)
		return 0;
	if (st->rels == NULL) {
		st->rels = xcalloc(st->nall, sizeof *st->rels);
		st->from = xcalloc(st->nall + 1, sizeof *st->from);
		st->dep_from = xcalloc(st->nall + 1, sizeof *st->dep_from);
		buf_putc(&words, '{');
		buf_putc(&rels, '{');
		buf_putc(&cols, '{');
		for (j = 0; j < st->nall; j++) {
			const struct use_target *a = &st->all[j];

			st->rels[j] = target_regclass(a);
			if (j > 0) {
				buf_putc(&words, ',');
				buf_putc(&rels, ',');
				buf_putc(&cols, ',');
			}
			pg_array_elem(&words, target_word(a));
			pg_array_elem(&rels, st->rels[j]);
			if (a->kind == USE_COLUMN)
				pg_array_elem(&cols, a->column);
			else
				buf_puts(&cols, "NULL");
		}
		buf_putc(&words, '}');
		buf_putc(&rels, '}');
		buf_putc(&cols, '}');
		if (batch_read(db, dep_sql, buf_cstr(&rels), buf_cstr(&cols),
		    st->nall, &st->dep, st->dep_from, err) != 0 ||
		    batch_read(db, fn_sql, buf_cstr(&words), buf_cstr(&rels),
		    st->nall, &st->fn, st->from, err) != 0)
			goto done;
	}
	if (st->dep == NULL || st->fn == NULL)
		return error_set(err, "the catalog could not be read");
	for (j = 0; j < st->nall; j++)
		if (st->all[j].kind == t->kind &&
		    strcmp(st->rels[j], rel) == 0 &&
		    strcmp(target_word(&st->all[j]), target_word(t)) == 0) {
			*k = (long)j;
			break;
		}
	ret = 0;
done:
	buf_free(&words);
	buf_free(&rels);
	buf_free(&cols);
	return ret;
}

/*
 * Catalog objects that depend on t: through pg_depend (views and
 * materialized views, rules, policies, triggers, indexes, constraints,
 * generated columns, SQL-standard function bodies), and SQL or PL/pgSQL
 * functions whose source names it.  The column's own default and owned
 * sequence, and excon's sync trigger and function, go with it.
 */
static int
catalog_uses(struct pg *db, struct probe_stats *st, const char *where,
    const struct use_target *t, struct probe_result *res, struct buf *err)
{
	static const char dep_sql[] = DEP_SQL("$1", "$2");
	static const char fn_sql[] =
	    "SELECT p.oid::regprocedure::text, l.lanname, p.prosrc, EXISTS "
	    "(SELECT 1 FROM pg_trigger g WHERE g.tgfoid = p.oid AND g.tgrelid = "
	    "to_regclass($2)) FROM pg_proc p "
	    "JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON "
	    "n.oid = p.pronamespace WHERE l.lanname IN ('sql', 'plpgsql') AND "
	    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND "
	    "p.proname NOT LIKE 'excon\\_sync\\_%' AND "
	    "strpos(lower(p.prosrc), lower($1)) > 0 ORDER BY 1";
	struct pg_result *r = NULL;
	const struct pg_result *fr;
	char *rel = target_regclass(t), *text = NULL;
	const char *params[2];
	long k = -1;
	int i, from, to, c, ret = -1;

	/* Read for every target at once, or for t alone. */
	if (st != NULL && catalog_batch(db, st, t, rel, &k, err) != 0)
		goto done;
	if (st != NULL && k >= 0) {
		fr = st->dep;
		c = 1;
		from = st->dep_from[k];
		to = st->dep_from[k + 1];
	} else {
		params[0] = rel;
		params[1] = t->kind == USE_COLUMN ? t->column : NULL;
		if (pg_exec(db, dep_sql, 2, params, &r, err) != 0)
			goto done;
		fr = r;
		c = 0;
		from = 0;
		to = pg_result_nrows(r);
	}
	for (i = from; i < to; i++) {
		free(text);
		text = xasprintf("%s depends on %s%s%s", pg_result_get(fr, i, c),
		    rel, t->kind == USE_COLUMN ? "." : "",
		    t->kind == USE_COLUMN ? t->column : "");
		add_use(res, where, text, 0);
	}
	pg_result_free(r);
	r = NULL;
	if (st != NULL && k >= 0) {
		fr = st->fn;
		c = 1;
		from = st->from[k];
		to = st->from[k + 1];
	} else {
		params[0] = target_word(t);
		params[1] = rel;
		if (pg_exec(db, fn_sql, 2, params, &r, err) != 0)
			goto done;
		fr = r;
		c = 0;
		from = 0;
		to = pg_result_nrows(r);
	}
	for (i = from; i < to; i++) {
		const char *lang = pg_result_get(fr, i, c + 1);
		const char *src = pg_result_get(fr, i, c + 2);
		int uses;

		/*
		 * SQL bodies are parsed like statements; PL/pgSQL is not SQL
		 * text as a whole, so naming the column (or table) is taken as
		 * use when the body also names the table, or when the function
		 * is a trigger's on that table (NEW.col).
		 */
		if (strcmp(lang, "sql") == 0)
			uses = sqlcheck_uses(src, t);
		else
			uses = strcasestr(src, t->name) != NULL ||
			    strcmp(pg_result_get(fr, i, c + 3), "t") == 0;
		if (!uses)
			continue;
		free(text);
		text = xasprintf("function %s names %s%s%s",
		    pg_result_get(fr, i, c + 0),
		    rel, t->kind == USE_COLUMN ? "." : "",
		    t->kind == USE_COLUMN ? t->column : "");
		add_use(res, where, text, 0);
	}
	ret = 0;
done:
	pg_result_free(r);
	free(rel);
	free(text);
	return ret;
}

/* Formats unix seconds as UTC. */
static void
utc(char out[32], long long at)
{
	time_t tt = (time_t)at;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%lld", at);
}

/* Reads one server's statistics. */
int
probe_stats_read(struct pg *db, struct probe_stats **out, struct buf *err)
{
	struct probe_stats *st = xcalloc(1, sizeof *st);
	char *schema = NULL;
	int ret = -1;

	st->dealloc = -1;
	if (stats_open(db, &schema, &st->missing, err) != 0)
		goto done;
	if (st->missing == NULL && stats_read(db, schema, 1, &st->r,
	    &st->missing, err) != 0)
		goto done;
	if (st->missing == NULL) {
		stats_info(db, schema, &st->reset, &st->dealloc);
		int i, n = pg_result_nrows(st->r);

		st->parsed = xcalloc((size_t)n + 1, sizeof *st->parsed);
		st->ids = xcalloc((size_t)n + 1, sizeof *st->ids);
		st->calls = xcalloc((size_t)n + 1, sizeof *st->calls);
		for (i = 0; i < n; i++) {
			st->ids[i] = atoll(pg_result_get(st->r, i, 0));
			st->calls[i] = atoll(pg_result_get(st->r, i, 1));
		}
	}
	ret = 0;
done:
	free(schema);
	if (ret != 0) {
		probe_stats_free(st);
		st = NULL;
	}
	*out = st;
	return ret;
}

/* Frees one server's statistics and their parsed statements (NULL-safe). */
void
probe_stats_free(struct probe_stats *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; st->parsed != NULL && i < pg_result_nrows(st->r); i++)
		sqlcheck_parsed_free(st->parsed[i]);
	free(st->parsed);
	free(st->ids);
	free(st->calls);
	pg_result_free(st->r);
	free(st->missing);
	for (i = 0; st->rels != NULL && (size_t)i < st->nall; i++)
		free(st->rels[i]);
	free(st->rels);
	free(st->from);
	pg_result_free(st->fn);
	free(st->dep_from);
	pg_result_free(st->dep);
	free(st);
}

/* Collects the evidence of one server from statistics read before. */
int
probe_collect_stats(struct pg *db, struct probe_stats *st, const char *where,
    const char *snaptext, int catalog, const struct use_target *t, size_t n,
    struct probe_result *res, struct buf *err)
{
	struct snap snap;
	char when[32];
	size_t j;
	int i, ret = -1, fresh, have;

	have = snap_parse(&snap, snaptext, where);
	if (st->missing != NULL) {
		if (res->missing == NULL)
			res->missing = xasprintf("%s: %s", where, st->missing);
		res->gathered = 0;
		ret = 0;
		goto done;
	}
	res->nservers++;
	res->gathered = res->missing == NULL;
	/*
	 * A reset (or a restart that lost the statistics) since the snapshot
	 * makes its counters meaningless: every call since the reset counts.
	 */
	fresh = !have || (snap.reset != 0 && st->reset != snap.reset);
	if (snaptext != NULL && !have && res->reset == NULL)
		res->reset = xasprintf("the snapshot has no counters of the %s: "
		    "every call recorded there counts", where);
	else if (snaptext != NULL && fresh && res->reset == NULL) {
		utc(when, st->reset);
		res->reset = xasprintf("the statistics of the %s were reset at %s, "
		    "after the snapshot: only calls since the reset are seen", where,
		    when);
	} else if (have && snap.dealloc >= 0 &&
	    st->dealloc > snap.dealloc && res->reset == NULL)
		res->reset = xasprintf("pg_stat_statements on the %s evicted %lld "
		    "entries since the snapshot (pg_stat_statements.max): a "
		    "statement evicted and recorded again counts from then", where,
		    st->dealloc - snap.dealloc);
	for (i = 0; i < pg_result_nrows(st->r); i++) {
		long long calls = st->calls[i];
		long long base = fresh ? 0 : snap_calls(&snap, st->ids[i]);
		const char *text;

		if (base > calls)
			base = 0;	/* evicted and recorded again */
		if (calls - base <= 0 ||
		    (text = pg_result_get(st->r, i, 2)) == NULL)
			continue;
		/* Each text is parsed once, for every target of every plan. */
		if (st->parsed[i] == NULL)
			st->parsed[i] = sqlcheck_parse_uses(text);
		for (j = 0; j < n; j++)
			if (sqlcheck_parsed_uses(st->parsed[i], &t[j])) {
				add_use(res, where, text, calls - base);
				break;
			}
	}
	for (j = 0; catalog && j < n; j++)
		if (catalog_uses(db, st, where, &t[j], res, err) != 0)
			goto done;
	ret = 0;
done:
	free(snap.rows);
	return ret;
}

/* Collects the evidence of one server. */
int
probe_collect(struct pg *db, const char *where, const char *snaptext,
    int catalog, const struct use_target *t, size_t n,
    struct probe_result *res, struct buf *err)
{
	struct probe_stats *st = NULL;
	int ret = -1;

	if (probe_stats_read(db, &st, err) != 0)
		goto done;
	ret = probe_collect_stats(db, st, where, snaptext, catalog, t, n, res,
	    err);
done:
	probe_stats_free(st);
	return ret;
}

/* Names the targets whose catalog functions are read together. */
void
probe_stats_targets(struct probe_stats *st, const struct use_target *all,
    size_t nall)
{
	if (st == NULL || st->rels != NULL)
		return;
	st->all = all;
	st->nall = nall;
}
