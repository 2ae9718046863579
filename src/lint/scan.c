/*
 * PostgreSQL's own scanner and keyword list, for the modules that write
 * SQL text (template.c): sqlcheck_scan splits text into the tokens the
 * server would read, sqlcheck_keyword says how reserved a word is.  Both
 * come from libpg_query, so they implement the grammar of the PostgreSQL
 * version that sqlcheck_lib_version names (15), no other.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lint/lint-int.h"
#include "xalloc.h"

/* Our kind of a scanner token. */
static enum sqltok
tok_kind(const char *sql, const PgQuery__ScanToken *t)
{
	switch (t->token) {
	case PG_QUERY__TOKEN__SQL_COMMENT:
	case PG_QUERY__TOKEN__C_COMMENT:
		return SQLTOK_COMMENT;
	case PG_QUERY__TOKEN__IDENT:
	case PG_QUERY__TOKEN__UIDENT:
		/* The scanner calls "quoted" and U&"quoted" names IDENT too. */
		return sql[t->start] == '"' || sql[t->start] == 'u' ||
		    sql[t->start] == 'U' ? SQLTOK_QIDENT : SQLTOK_IDENT;
	case PG_QUERY__TOKEN__SCONST:
	case PG_QUERY__TOKEN__USCONST:
	case PG_QUERY__TOKEN__BCONST:
	case PG_QUERY__TOKEN__XCONST:
		return SQLTOK_STRING;
	case PG_QUERY__TOKEN__TYPECAST:
		return SQLTOK_CAST;
	case PG_QUERY__TOKEN__ASCII_46:
		return SQLTOK_DOT;
	case PG_QUERY__TOKEN__ASCII_40:
		return SQLTOK_LPAREN;
	case PG_QUERY__TOKEN__ASCII_59:
		return SQLTOK_SEMI;
	default:
		return t->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD ?
		    SQLTOK_IDENT : SQLTOK_OTHER;
	}
}

/* Splits sql into the server's tokens (*out owned by the caller). */
int
sqlcheck_scan(const char *sql, struct sqltoken **out, size_t *n,
    struct buf *err)
{
	PgQueryScanResult sr;
	PgQuery__ScanResult *tr = NULL;
	struct sqltoken *v = NULL;
	size_t cap = 0, i;
	int ret = -1;

	*out = NULL;
	*n = 0;
	sr = pg_query_scan(sql);
	if (sr.error != NULL) {
		error_set(err, "%s", sr.error->message);
		goto done;
	}
	if ((tr = pg_query__scan_result__unpack(NULL, sr.pbuf.len,
	    (const uint8_t *)sr.pbuf.data)) == NULL) {
		error_set(err, "cannot read the scanner's tokens");
		goto done;
	}
	for (i = 0; i < tr->n_tokens; i++) {
		const PgQuery__ScanToken *t = tr->tokens[i];

		assert(t->start >= 0 && t->end >= t->start &&
		    (size_t)t->end <= strlen(sql));
		XGROW(v, cap, *n + 1);
		v[*n].kind = tok_kind(sql, t);
		v[*n].start = t->start;
		v[*n].end = t->end;
		(*n)++;
	}
	*out = v;
	v = NULL;
	ret = 0;
done:
	free(v);
	if (tr != NULL)
		pg_query__scan_result__free_unpacked(tr, NULL);
	pg_query_free_scan_result(sr);
	return ret;
}

/* The keyword category of word, as pg_get_keywords() spells it, or 0. */
int
sqlcheck_keyword(const char *word)
{
	PgQueryScanResult sr;
	PgQuery__ScanResult *tr = NULL;
	int ret = 0;

	sr = pg_query_scan(word);
	if (sr.error != NULL || (tr = pg_query__scan_result__unpack(NULL,
	    sr.pbuf.len, (const uint8_t *)sr.pbuf.data)) == NULL)
		goto done;
	/* One token covering the whole word, or it is no keyword. */
	if (tr->n_tokens != 1 || tr->tokens[0]->start != 0 ||
	    (size_t)tr->tokens[0]->end != strlen(word))
		goto done;
	switch (tr->tokens[0]->keyword_kind) {
	case PG_QUERY__KEYWORD_KIND__UNRESERVED_KEYWORD:
		ret = 'U';
		break;
	case PG_QUERY__KEYWORD_KIND__COL_NAME_KEYWORD:
		ret = 'C';
		break;
	case PG_QUERY__KEYWORD_KIND__TYPE_FUNC_NAME_KEYWORD:
		ret = 'T';
		break;
	case PG_QUERY__KEYWORD_KIND__RESERVED_KEYWORD:
		ret = 'R';
		break;
	default:
		break;
	}
done:
	if (tr != NULL)
		pg_query__scan_result__free_unpacked(tr, NULL);
	pg_query_free_scan_result(sr);
	return ret;
}
