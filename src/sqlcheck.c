/*
 * SQL safety analysis: parses SQL with libpg_query (PostgreSQL 15's own
 * grammar), walks the protobuf-c parse tree and reports statements that
 * are unsafe on a live database for the phase they run in.
 *
 * This file is the analysis core: parsing into statements, the walk
 * that hands each statement to the rule families' checks (src/lint/:
 * the families, the rule table in rules.c, findings; see
 * lint/lint-int.h), excon:allow comments, plan fragments and the usage
 * analysis of rule 9.  The arrows run from here down into src/lint/.
 *
 * One run over one input string keeps a little state across statements
 * (struct an): tables created earlier in the same input (exempt from the
 * "existing table" rules, because they are empty and unused), CHECK
 * constraints added and validated (so SET NOT NULL can be proven cheap),
 * column types declared earlier (so a type change can be proven a free
 * widening), and the ACCESS EXCLUSIVE locks held by the current
 * transaction.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "lint/lint-int.h"
#include "sqlcheck.h"
#include "util.h"
#include "xalloc.h"

/* ------------------------------------------------------------------ */
/* Parse tree helpers                                                  */
/* ------------------------------------------------------------------ */

/*
 * 1 when n cannot run inside a transaction block (CREATE/DROP INDEX
 * CONCURRENTLY, REINDEX CONCURRENTLY, VACUUM): Flyway runs a script made
 * only of such statements outside a transaction, whatever it assumes.
 */
static int
nontx_stmt(const PgQuery__Node *n)
{
	if (n == NULL)
		return 0;
	switch (n->node_case) {
	case NC(INDEX_STMT):
		return n->index_stmt->concurrent;
	case NC(DROP_STMT):
		return n->drop_stmt->concurrent;
	case NC(REINDEX_STMT):
		return has_option(n->reindex_stmt->params,
		    n->reindex_stmt->n_params, "concurrently");
	case NC(VACUUM_STMT):
		return n->vacuum_stmt->is_vacuumcmd;
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ */
/* Driver: statements, comments, suppression                          */
/* ------------------------------------------------------------------ */

/* What an analysis run parses: statements, one expression, one type. */
enum an_mode {
	MODE_STMTS,	/* statements: every rule */
	MODE_EXPR,	/* "SELECT <expr>": syntax only */
	MODE_TYPE,	/* "SELECT NULL::<type>": syntax and serial */
};

/* Skips whitespace and comments from i (before end); returns the offset. */
static int
skip_blank(const char *s, int i, int end)
{
	while (i < end) {
		if (isspace((unsigned char)s[i]))
			i++;
		else if (s[i] == '-' && i + 1 < end && s[i + 1] == '-') {
			while (i < end && s[i] != '\n')
				i++;
		} else if (s[i] == '/' && i + 1 < end && s[i + 1] == '*') {
			int depth = 1;

			for (i += 2; i < end && depth > 0; i++) {
				if (s[i] == '/' && i + 1 < end && s[i + 1] == '*') {
					depth++;
					i++;
				} else if (s[i] == '*' && i + 1 < end && s[i + 1] == '/') {
					depth--;
					i++;
				}
			}
		} else
			break;
	}
	return i < end ? i : end;
}

/* Byte offset of the 1-based character position cpos in s (0 = unknown). */
static int
char_to_byte(const char *s, int len, int cpos)
{
	int i, c = 0;

	if (cpos <= 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80 && ++c == cpos)
			return i;
	}
	return len;
}

/* Adds a statement record to a. */
static struct stmt *
add_stmt(struct an *a, const PgQuery__Node *node, int loc0, int end, int delta)
{
	struct stmt *s;

	XGROW(a->stmts, a->capstmts, a->nstmts + 1);
	s = &a->stmts[a->nstmts++];
	memset(s, 0, sizeof *s);
	s->node = node;
	s->start = skip_blank(a->sql, loc0, end);
	s->end = end;
	s->delta = delta;
	s->errpos = -1;
	return s;
}

/* Parsed protobuf results kept alive while their nodes are in use. */
struct results {
	PgQuery__ParseResult	**v;
	size_t			  n;
	size_t			  cap;
};

/* Adds the statements of one parse result whose text starts at delta. */
static void
add_parsed(struct an *a, struct results *res, PgQuery__ParseResult *pr,
    int delta, int piece_end)
{
	size_t i;

	XGROW(res->v, res->cap, res->n + 1);
	res->v[res->n++] = pr;
	for (i = 0; i < pr->n_stmts; i++) {
		const PgQuery__RawStmt *rs = pr->stmts[i];
		int l = delta + rs->stmt_location;
		int e = rs->stmt_len > 0 ? l + rs->stmt_len : piece_end;

		if (rs->stmt == NULL)
			continue;
		add_stmt(a, rs->stmt, l, e, delta);
	}
}

/* Records a statement that does not parse. */
static void
add_error(struct an *a, int loc0, int end, int errpos, const char *msg)
{
	struct stmt *s = add_stmt(a, NULL, loc0, end, loc0);

	s->errpos = errpos >= 0 ? errpos : s->start;
	s->errmsg = xstrdup(msg != NULL ? msg : "syntax error");
}

/*
 * Deepest parse tree excon reads, in nodes.  protobuf-c unpacks a tree
 * recursively, with a large stack frame per level: a few thousand levels
 * (`a->'x'` repeated, nested subselects) overflow the stack.  Real SQL
 * stays far below this.
 */
#define SQL_MAX_DEPTH	1000

/*
 * 1 when the parse tree of sql (whose protobuf form is pblen bytes) is
 * nested more than SQL_MAX_DEPTH nodes deep.  Measured on the JSON form,
 * which libpg_query writes without deep recursion in the reader: every
 * node is two nested objects ({"A_Expr":{...}}).  A tree of n levels
 * needs at least 2n bytes of protobuf, so small trees are not measured.
 */
static int
sql_too_deep(const char *sql, size_t pblen)
{
	PgQueryParseResult r;
	const char *p;
	int depth = 0, max = 0, in_str = 0;

	if (pblen < 2 * SQL_MAX_DEPTH)
		return 0;
	r = pg_query_parse(sql);
	for (p = r.error == NULL ? r.parse_tree : ""; *p != '\0'; p++) {
		if (in_str) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				in_str = 0;
		} else if (*p == '"')
			in_str = 1;
		else if (*p == '{' && ++depth > max)
			max = depth;
		else if (*p == '}')
			depth--;
	}
	pg_query_free_parse_result(r);
	return max > 2 * SQL_MAX_DEPTH;
}

/* Unpacks a protobuf parse tree, or NULL. */
static PgQuery__ParseResult *
unpack(PgQueryProtobuf pb)
{
	return pg_query__parse_result__unpack(NULL, pb.len,
	    (const uint8_t *)pb.data);
}

static void parse_piece(struct an *a, struct results *res, int l, int end);

/*
 * Parses a->sql into a->stmts.  When the whole text does not parse, it is
 * split with the scanner and each statement parsed alone, so that one
 * bad statement does not hide the findings of the others.
 */

static void
an_parse(struct an *a, struct results *res)
{
	PgQueryProtobufParseResult r;
	PgQueryScanResult sr;
	PgQuery__ScanResult *tr;
	PgQueryError *e;
	size_t i;
	int piece = 0, end, any = 0;

	r = pg_query_parse_protobuf(a->sql);
	if (r.error == NULL && !sql_too_deep(a->sql, r.parse_tree.len)) {
		PgQuery__ParseResult *pr = unpack(r.parse_tree);

		if (pr != NULL)
			add_parsed(a, res, pr, 0, a->len);
		pg_query_free_protobuf_parse_result(r);
		return;
	}
	sr = pg_query_scan(a->sql);
	tr = sr.error == NULL ? pg_query__scan_result__unpack(NULL,
	    sr.pbuf.len, (const uint8_t *)sr.pbuf.data) : NULL;
	if (tr == NULL) {
		e = r.error;
		if (e == NULL)
			add_error(a, 0, a->len, -1, "statement nested too deeply");
		else
			add_error(a, 0, a->len,
			    char_to_byte(a->sql, a->len, e->cursorpos), e->message);
		goto done;
	}
	/*
	 * Split at every ';' token.  (pg_query_split_with_scanner drops a
	 * leading statement that starts with an unknown word and lets an
	 * unclosed parenthesis swallow the rest, which is what broken SQL
	 * looks like.)  Strings, comments and dollar quotes are single
	 * tokens, so their semicolons do not split.
	 */
	for (i = 0; i <= tr->n_tokens; i++) {
		const PgQuery__ScanToken *t = i < tr->n_tokens ? tr->tokens[i] : NULL;

		if (t != NULL && t->token != PG_QUERY__TOKEN__ASCII_59) {
			if (t->token != PG_QUERY__TOKEN__SQL_COMMENT &&
			    t->token != PG_QUERY__TOKEN__C_COMMENT)
				any = 1;
			continue;
		}
		end = t != NULL ? t->start : a->len;
		if (any)
			parse_piece(a, res, piece, end);
		any = 0;
		piece = end + 1;
	}
done:
	if (tr != NULL)
		pg_query__scan_result__free_unpacked(tr, NULL);
	pg_query_free_scan_result(sr);
	pg_query_free_protobuf_parse_result(r);
}

/* Parses the statement [l, end) of a->sql alone. */
static void
parse_piece(struct an *a, struct results *res, int l, int end)
{
	int n = end - l;
	char *piece = xstrndup(a->sql + l, (size_t)n);
	PgQueryProtobufParseResult pr = pg_query_parse_protobuf(piece);

	if (pr.error != NULL) {
		add_error(a, l, end, l + char_to_byte(piece, n,
		    pr.error->cursorpos), pr.error->message);
	} else if (sql_too_deep(piece, pr.parse_tree.len)) {
		char *msg = xasprintf("statement nested more than %d levels "
		    "deep", SQL_MAX_DEPTH);

		add_error(a, l, end, -1, msg);
		a->stmts[a->nstmts - 1].too_deep = 1;
		free(msg);
	} else {
		PgQuery__ParseResult *p = unpack(pr.parse_tree);

		if (p != NULL)
			add_parsed(a, res, p, l, end);
	}
	pg_query_free_protobuf_parse_result(pr);
	free(piece);
}

/* 1 when the text [s, s+n) contains needle. */
static int
has_text(const char *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle)) != NULL;
}

/* Reads one comment [off, end): allow directives and transaction markers. */
static void
parse_comment(struct an *a, int off, int end)
{
	const char *s = a->sql + off, *e = a->sql + end, *p, *q;
	struct allow *al;
	int whole_file = 0;

	if (e - s >= 2 && s[0] == '/' && s[1] == '*') {
		s += 2;
		if (e - s >= 2 && e[-2] == '*' && e[-1] == '/')
			e -= 2;
	} else
		while (s < e && *s == '-')
			s++;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (has_text(s, (size_t)(e - s), "+goose NO TRANSACTION") ||
	    has_text(s, (size_t)(e - s), "transaction:false") ||
	    has_text(s, (size_t)(e - s), "excon:no-transaction"))
		a->tx_marker = 1;
	if ((size_t)(e - s) < 11 || strncmp(s, "excon:allow", 11) != 0)
		return;
	p = s + 11;
	if ((size_t)(e - p) >= 5 && strncmp(p, "-file", 5) == 0) {
		whole_file = 1;
		p += 5;
	}
	if (p < e && !isspace((unsigned char)*p))
		return;			/* excon:allowed..., not ours */
	while (p < e && isspace((unsigned char)*p))
		p++;
	q = p;
	while (q < e && !isspace((unsigned char)*q))
		q++;
	XGROW(a->allows, a->capallows, a->nallows + 1);
	al = &a->allows[a->nallows++];
	memset(al, 0, sizeof *al);
	al->off = off;
	al->end = end;
	al->stmt = -1;
	al->whole_file = whole_file;
	al->rules = xstrndup(p, (size_t)(q - p));
	while (q < e && isspace((unsigned char)*q))
		q++;
	al->reason = q < e ? xstrndup(q, (size_t)(e - q)) : NULL;
}

/* Line index (from 0) of byte offset off of a->sql. */
static int
line_of(struct an *a, int off)
{
	/* an_pos keeps a table of the lines of the user's text. */
	return an_pos(a, off).line - (a->base.line > 0 ? a->base.line : 1);
}

/* 1 when [from, to) holds a blank line (two newlines with only blanks between). */
static int
has_blank_line(const char *s, int from, int to)
{
	int i, nl = 0;

	for (i = from; i < to; i++) {
		if (s[i] == '\n') {
			if (++nl == 2)
				return 1;
		} else if (!isspace((unsigned char)s[i]))
			nl = 0;
	}
	return 0;
}

/*
 * Attaches every allow comment to its statement: one inside a statement
 * or on the line where it ends (after its ';') belongs to it; otherwise
 * it belongs to the next statement when only comments and no blank line
 * separate them.
 */
static void
assign_allows(struct an *a)
{
	size_t i, j = 0;

	a->file_allows = xcalloc(a->nallows + 1, sizeof *a->file_allows);
	/* Both lists are in text order: one pass over each. */
	for (i = 0; i < a->nallows; i++) {
		struct allow *al = &a->allows[i];
		int prev = -1, next = -1;

		if (al->whole_file) {
			if (al->reason != NULL)
				a->file_allows[a->nfile_allows++] = i;
			continue;
		}
		while (j < a->nstmts && a->stmts[j].start <= al->off)
			j++;
		prev = (int)j - 1;
		next = j < a->nstmts ? (int)j : -1;
		if (prev >= 0 && (al->off < a->stmts[prev].end ||
		    line_of(a, al->off) == line_of(a, a->stmts[prev].end))) {
			al->stmt = prev;
			continue;
		}
		if (next >= 0 && !has_blank_line(a->sql, al->end,
		    a->stmts[next].start))
			al->stmt = next;
	}
	/* Index them by statement (a counting sort), for apply_allows. */
	a->allow_at = xcalloc(a->nstmts + 2, sizeof *a->allow_at);
	a->allow_by = xcalloc(a->nallows + 1, sizeof *a->allow_by);
	for (i = 0; i < a->nallows; i++)
		if (a->allows[i].stmt >= 0)
			a->allow_at[a->allows[i].stmt + 2]++;
	for (i = 2; i < a->nstmts + 2; i++)
		a->allow_at[i] += a->allow_at[i - 1];
	for (i = 0; i < a->nallows; i++)
		if (a->allows[i].stmt >= 0)
			a->allow_by[a->allow_at[a->allows[i].stmt + 1]++] = i;
}

/* 1 when the allow's rule list (comma separated) names id. */
static int
allow_names(const struct allow *al, const char *id)
{
	const char *p = al->rules;
	size_t n = strlen(id);

	while (*p != '\0') {
		size_t k = strcspn(p, ",");

		if (k == n && strncmp(p, id, n) == 0)
			return 1;
		p += k;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Marks the findings [from, out->n) that the allow al covers. */
static void
apply_allow(struct an *a, const struct allow *al, size_t from)
{
	size_t j;

	if (al->reason == NULL)
		return;
	for (j = from; j < a->out->n; j++) {
		struct finding *f = &a->out->v[j];

		if (!f->suppressed && allow_names(al, f->rule)) {
			f->suppressed = 1;
			f->reason = xstrdup(al->reason);
		}
	}
}

/*
 * Marks the findings [from, out->n) of statement i that an allow covers:
 * the statement's own allows, then the file's.
 */
static void
apply_allows(struct an *a, size_t i, size_t from)
{
	size_t k;

	if (from == a->out->n)
		return;
	for (k = a->allow_at[i]; k < a->allow_at[i + 1]; k++)
		apply_allow(a, &a->allows[a->allow_by[k]], from);
	for (k = 0; k < a->nfile_allows; k++)
		apply_allow(a, &a->allows[a->file_allows[k]], from);
}

/* Reports allow comments without a reason or with unknown rule ids. */
static void
check_allows(struct an *a)
{
	size_t k;

	for (k = 0; k < a->nallows; k++) {
		const struct allow *al = &a->allows[k];
		const char *p = al->rules;

		if (*p == '\0') {
			an_report(a, "E-ALLOW-NO-REASON", al->off, "excon:allow%s "
			    "without a rule id and a reason", al->whole_file ? "-file" : "");
			continue;
		}
		if (al->reason == NULL)
			an_report(a, "E-ALLOW-NO-REASON", al->off, "excon:allow%s %s "
			    "has no reason, so it suppresses nothing", al->whole_file ?
			    "-file" : "", al->rules);
		while (*p != '\0') {
			size_t n = strcspn(p, ",");
			char *id = xstrndup(p, n);

			if (n > 0 && sqlcheck_rule(id) == NULL)
				an_report(a, "E-ALLOW-UNKNOWN-RULE", al->off,
				    "excon:allow%s names unknown rule \"%s\"",
				    al->whole_file ? "-file" : "", id);
			free(id);
			p += n;
			if (*p == ',')
				p++;
		}
	}
}

/* Reads comments with the scanner when the text may hold directives. */
static void
an_comments(struct an *a)
{
	PgQueryScanResult sr;
	PgQuery__ScanResult *tr;
	size_t i;

	if (strstr(a->sql, "excon:") == NULL &&
	    !(a->ctx->transaction == SQL_TX_DETECT &&
	    (strstr(a->sql, "goose") != NULL ||
	    strstr(a->sql, "transaction:false") != NULL)))
		return;
	sr = pg_query_scan(a->sql);
	if (sr.error == NULL && (tr = pg_query__scan_result__unpack(NULL,
	    sr.pbuf.len, (const uint8_t *)sr.pbuf.data)) != NULL) {
		for (i = 0; i < tr->n_tokens; i++) {
			const PgQuery__ScanToken *t = tr->tokens[i];

			if (t->token == PG_QUERY__TOKEN__SQL_COMMENT ||
			    t->token == PG_QUERY__TOKEN__C_COMMENT)
				parse_comment(a, t->start, t->end);
		}
		pg_query__scan_result__free_unpacked(tr, NULL);
	}
	pg_query_free_scan_result(sr);
}

/* Checks the single SELECT of an expression/type wrapper. */
static void
check_wrapped(struct an *a, enum an_mode mode, const PgQuery__Node *n)
{
	const PgQuery__SelectStmt *sel;
	const PgQuery__Node *v;
	int off = a->shift;

	if (n->node_case != NC(SELECT_STMT))
		return;
	sel = n->select_stmt;
	if (sel->n_target_list != 1 ||
	    sel->target_list[0]->node_case != NC(RES_TARGET))
		return;
	v = sel->target_list[0]->res_target->val;
	if (mode == MODE_TYPE && v != NULL &&
	    v->node_case == NC(TYPE_CAST) &&
	    is_serial(type_base(v->type_cast->type_name)))
		an_report(a, "E-VOLATILE-DEFAULT", off, "%s column added to an "
		    "existing table computes a value per row and rewrites the "
		    "table", type_base(v->type_cast->type_name));
}

/*
 * One analysis run over text, whose first shift bytes are a wrapper
 * added here (not in the file).  Appends findings to out.
 */
static void
an_run(const char *text, int shift, enum an_mode mode, const char *file,
    struct pos base, int block, const struct sqlctx *ctx, int no_unbatched,
    struct findings *out)
{
	struct an a;
	struct results res = { NULL, 0, 0 };
	size_t i, from;
	int manages = 0, nontx;

	memset(&a, 0, sizeof a);
	a.sql = text;
	a.len = (int)strlen(text);
	a.shift = shift;
	a.file = file;
	a.base = base;
	a.block = block;
	a.ctx = ctx;
	a.rules = sqlcheck_rules(&a.nrules);
	a.out = out;
	a.no_unbatched = no_unbatched;

	an_parse(&a, &res);
	if (mode == MODE_STMTS)
		an_comments(&a);
	if (ctx->transaction == SQL_TX_DETECT) {
		manages = a.tx_marker;
		for (i = 0; i < a.nstmts && !manages; i++)
			if (a.stmts[i].node != NULL &&
			    a.stmts[i].node->node_case == NC(TRANSACTION_STMT))
				manages = 1;
		/* A file of only non-transactional statements runs outside one. */
		for (i = 0, nontx = a.nstmts > 0; i < a.nstmts && nontx; i++)
			nontx = nontx_stmt(a.stmts[i].node);
		a.in_tx = !manages && !nontx && ctx->assume_tx;
	} else
		a.in_tx = ctx->transaction != 0;
	assign_allows(&a);

	for (i = 0; i < a.nstmts; i++) {
		a.cstmt = i;
		from = out->n;
		a.lock_reported = 0;
		if (!a.in_tx)
			strset_clear(&a.locked);
		if (a.stmts[i].node == NULL && a.stmts[i].too_deep)
			an_report(&a, "E-SYNTAX", a.stmts[i].errpos, "%s",
			    a.stmts[i].errmsg);
		else if (a.stmts[i].node == NULL)
			an_report(&a, "E-SYNTAX", a.stmts[i].errpos, "%s (excon parses "
			    "with the grammar of PostgreSQL " PG_MAJORVERSION "; newer "
			    "syntax is not understood yet)", a.stmts[i].errmsg);
		else if (mode == MODE_STMTS)
			lint_check_stmt(&a, a.stmts[i].node);
		else
			check_wrapped(&a, mode, a.stmts[i].node);
		/* Outside explicit BEGIN, an autocommit statement ends its tx. */
		if (!a.in_tx)
			strset_clear(&a.locked);
		apply_allows(&a, i, from);
	}
	check_allows(&a);

	for (i = 0; i < res.n; i++)
		pg_query__parse_result__free_unpacked(res.v[i], NULL);
	free(res.v);
	for (i = 0; i < a.nstmts; i++)
		free(a.stmts[i].errmsg);
	free(a.stmts);
	for (i = 0; i < a.nallows; i++) {
		free(a.allows[i].rules);
		free(a.allows[i].reason);
	}
	free(a.allows);
	for (i = 0; i < a.nchecks; i++) {
		free(a.checks[i].table);
		free(a.checks[i].name);
		free(a.checks[i].column);
	}
	free(a.checks);
	for (i = 0; i < a.ntypes; i++) {
		free(a.types[i].key);
		free(a.types[i].type);
	}
	free(a.types);
	free(a.lines);
	free(a.allow_at);
	free(a.allow_by);
	free(a.file_allows);
	strset_free(&a.typekeys);
	strset_free(&a.created);
	strset_free(&a.locked);
}

/* ------------------------------------------------------------------ */
/* Plan fragments                                                      */
/* ------------------------------------------------------------------ */

/* What each fragment shape is parsed inside of, and what it must be. */
static const struct {
	const char	*prefix;
	const char	*what;
} frags[] = {
	[FRAG_EXPR] = { "SELECT ", "one expression" },
	[FRAG_TYPE] = { "SELECT NULL::", "one type name" },
	[FRAG_SET] = { "UPDATE t SET ", "one list of assignments (col = expr, ...)" },
	[FRAG_QUERY] = { "", "one SELECT query" },
};

/* 1 when sel is `SELECT <one unnamed value>` and nothing else. */
static int
bare_select(const PgQuery__SelectStmt *sel)
{
	return sel->n_target_list == 1 &&
	    sel->target_list[0]->node_case == NC(RES_TARGET) &&
	    empty(sel->target_list[0]->res_target->name) &&
	    sel->n_distinct_clause == 0 && sel->into_clause == NULL &&
	    sel->n_from_clause == 0 && sel->where_clause == NULL &&
	    sel->n_group_clause == 0 && sel->having_clause == NULL &&
	    sel->n_window_clause == 0 && sel->n_values_lists == 0 &&
	    sel->n_sort_clause == 0 && sel->limit_offset == NULL &&
	    sel->limit_count == NULL && sel->n_locking_clause == 0 &&
	    sel->with_clause == NULL &&
	    sel->op == PG_QUERY__SET_OPERATION__SETOP_NONE;
}

/* 1 when the WITH clause holds only SELECT queries (no data-modifying CTE). */
static int
with_reads_only(const PgQuery__WithClause *w)
{
	size_t i;

	for (i = 0; w != NULL && i < w->n_ctes; i++) {
		const PgQuery__Node *c = w->ctes[i];

		if (c->node_case != NC(COMMON_TABLE_EXPR) ||
		    c->common_table_expr->ctequery == NULL ||
		    c->common_table_expr->ctequery->node_case != NC(SELECT_STMT))
			return 0;
	}
	return 1;
}

/* 1 when the one statement n has the shape of fragment kind k. */
static int
frag_shape(enum sqlfrag k, const PgQuery__Node *n)
{
	const PgQuery__SelectStmt *sel;
	const PgQuery__UpdateStmt *up;
	const PgQuery__Node *v;

	switch (k) {
	case FRAG_EXPR:
		return n->node_case == NC(SELECT_STMT) && bare_select(n->select_stmt);
	case FRAG_TYPE:
		if (n->node_case != NC(SELECT_STMT) || !bare_select(n->select_stmt))
			return 0;
		v = n->select_stmt->target_list[0]->res_target->val;
		/* `text COLLATE "C"` is a type with its collation. */
		if (v != NULL && v->node_case == NC(COLLATE_CLAUSE))
			v = v->collate_clause->arg;
		return v != NULL && v->node_case == NC(TYPE_CAST) &&
		    v->type_cast->arg != NULL &&
		    v->type_cast->arg->node_case == NC(A_CONST) &&
		    v->type_cast->arg->a_const->isnull;
	case FRAG_SET:
		if (n->node_case != NC(UPDATE_STMT))
			return 0;
		up = n->update_stmt;
		return up->relation != NULL && empty(up->relation->schemaname) &&
		    up->relation->alias == NULL && up->n_target_list > 0 &&
		    up->where_clause == NULL && up->n_from_clause == 0 &&
		    up->n_returning_list == 0 && up->with_clause == NULL;
	case FRAG_QUERY:
		if (n->node_case != NC(SELECT_STMT))
			return 0;
		sel = n->select_stmt;
		return sel->into_clause == NULL && sel->n_locking_clause == 0 &&
		    with_reads_only(sel->with_clause);
	}
	return 0;
}

/*
 * The fragment text with every comment turned into a space and every ';'
 * removed, trimmed: the tokens the parser read, nothing else.  wrapped
 * is prefix + text; shift is the prefix's length.  NULL when the text
 * cannot be scanned.
 */
static char *
frag_tokens(const char *wrapped, int shift)
{
	PgQueryScanResult sr;
	PgQuery__ScanResult *tr = NULL;
	char *out = NULL;
	size_t i, n, len;
	int j;

	sr = pg_query_scan(wrapped);
	if (sr.error != NULL || (tr = pg_query__scan_result__unpack(NULL,
	    sr.pbuf.len, (const uint8_t *)sr.pbuf.data)) == NULL)
		goto done;
	out = xstrdup(wrapped + shift);
	len = strlen(out);
	for (i = 0; i < tr->n_tokens; i++) {
		const PgQuery__ScanToken *t = tr->tokens[i];

		if (t->start < shift || (size_t)t->end > (size_t)shift + len)
			continue;
		if (t->token == PG_QUERY__TOKEN__SQL_COMMENT ||
		    t->token == PG_QUERY__TOKEN__C_COMMENT ||
		    t->token == PG_QUERY__TOKEN__ASCII_59)
			for (j = t->start; j < t->end; j++)
				out[j - shift] = ' ';
	}
	n = strlen(out);
	while (n > 0 && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	for (i = 0; isspace((unsigned char)out[i]); i++)
		;
	memmove(out, out + i, n - i + 1);
done:
	if (tr != NULL)
		pg_query__scan_result__free_unpacked(tr, NULL);
	pg_query_free_scan_result(sr);
	return out;
}

/*
 * Parses text as fragment kind k.  Returns 0 and *clean (owned by the
 * caller, may be NULL) on success; -1 with a message when it does not
 * parse, -2 when it parses but is not of the shape; *off (may be NULL)
 * gets the byte offset in text the message is about.
 */
static int
frag_parse(enum sqlfrag k, const char *text, char **clean, int *off,
    struct buf *err)
{
	PgQueryProtobufParseResult r;
	PgQuery__ParseResult *pr = NULL;
	const char *dollar;
	char *wrapped;
	int shift = (int)strlen(frags[k].prefix), ret = -2, o = 0;

	if (clean != NULL)
		*clean = NULL;
	if ((dollar = strstr(text, "$excon$")) != NULL) {
		if (off != NULL)
			*off = (int)(dollar - text);
		return error_set(err, "'$excon$' is reserved: it would end the "
		    "code excon wraps around this field"), -2;
	}
	wrapped = xasprintf("%s%s", frags[k].prefix, text);
	r = pg_query_parse_protobuf(wrapped);
	if (r.error != NULL) {
		o = char_to_byte(wrapped, (int)strlen(wrapped), r.error->cursorpos) - shift;
		error_set(err, "%s", r.error->message);
		ret = -1;
		goto done;
	}
	if (sql_too_deep(wrapped, r.parse_tree.len)) {
		error_set(err, "SQL nested more than %d levels deep", SQL_MAX_DEPTH);
		ret = -1;
		goto done;
	}
	if ((pr = unpack(r.parse_tree)) == NULL) {
		error_set(err, "cannot read the parse tree");
		ret = -1;
		goto done;
	}
	if (pr->n_stmts != 1 || pr->stmts[0]->stmt == NULL) {
		if (pr->n_stmts > 1)
			o = skip_blank(wrapped, pr->stmts[1]->stmt_location,
			    (int)strlen(wrapped)) - shift;
		error_set(err, "must be %s, not %zu statements", frags[k].what,
		    pr->n_stmts);
		goto done;
	}
	if (!frag_shape(k, pr->stmts[0]->stmt)) {
		error_set(err, "must be %s and nothing else", frags[k].what);
		goto done;
	}
	if (clean != NULL && (*clean = frag_tokens(wrapped, shift)) == NULL) {
		error_set(err, "cannot scan the SQL");
		ret = -1;
		goto done;
	}
	ret = 0;
done:
	if (off != NULL)
		*off = o < 0 ? 0 : o;
	if (pr != NULL)
		pg_query__parse_result__free_unpacked(pr, NULL);
	pg_query_free_protobuf_parse_result(r);
	free(wrapped);
	return ret;
}

/* Parses one plan fragment (see sqlcheck.h). */
int
sqlcheck_fragment(enum sqlfrag k, const char *text, char **clean,
    struct buf *err)
{
	struct buf why = BUF_INIT;
	int ret = 0;

	*clean = NULL;
	if (text == NULL)
		return 0;
	if (frag_parse(k, text, clean, NULL, &why) != 0) {
		error_set(err, "%s", buf_cstr(&why));
		ret = -1;
	}
	buf_free(&why);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Public entry points                                                 */
/* ------------------------------------------------------------------ */

/* A context for a plain migration file. */
struct sqlctx
sqlctx_plain(const struct cover *covers, size_t ncovers)
{
	struct sqlctx c;

	memset(&c, 0, sizeof c);
	c.transaction = SQL_TX_DETECT;
	c.covers = covers;
	c.ncovers = ncovers;
	return c;
}

/* A context for the SQL of step s of plan p. */
struct sqlctx
sqlctx_step(const struct plan *p, const struct step *s)
{
	struct sqlctx c;

	memset(&c, 0, sizeof c);
	c.in_plan = 1;
	c.phase = s->phase;
	c.stage = s->stage;
	c.kind = s->kind;
	c.plan = p != NULL ? p->name.s : NULL;
	c.step = s->id.s;
	c.transaction = s->transaction ? 1 : 0;
	return c;
}

/* Analyzes the statements of sql. */
int
sqlcheck_sql(const char *sql, const char *file, struct pos base, int block,
    const struct sqlctx *ctx, struct findings *out, struct buf *err)
{
	struct sqlctx plain;

	(void)err;
	if (ctx == NULL) {
		plain = sqlctx_plain(NULL, 0);
		ctx = &plain;
	}
	if (sql == NULL)
		return 0;
	an_run(sql, 0, MODE_STMTS, file, base, block, ctx, 0, out);
	return 0;
}

/* Reads a plain .sql file and analyzes it. */
int
sqlcheck_file(const char *path, const struct sqlctx *ctx,
    struct findings *out, struct buf *err)
{
	struct buf text = BUF_INIT;
	struct pos base = { .line = 1, .col = 1 };
	int ret = -1;

	if (util_read_file(path, &text, err) != 0)
		goto done;
	if (memchr(buf_cstr(&text), '\0', text.len) != NULL) {
		error_set(err, "'%s' is not a text file", path);
		goto done;
	}
	ret = sqlcheck_sql(buf_cstr(&text), path, base, 0, ctx, out, err);
done:
	buf_free(&text);
	return ret;
}

/*
 * Analyzes one field of a step: prefix + value, with findings mapped to
 * the value's position (the step's when the value has none).  With
 * frag >= 0 the value must also parse as that fragment shape
 * (E-SQL-FRAGMENT); a value that does not parse at all is the E-SYNTAX
 * finding of the analysis.
 */
static void
plan_field(const struct plan *p, const struct step *s, const struct pstr *v,
    const char *field, int frag, const char *prefix, enum an_mode mode,
    const struct sqlctx *ctx, int no_unbatched, struct findings *out)
{
	struct buf why = BUF_INIT;
	struct pos base;
	struct an a;
	char *text;
	int off = 0;

	if (v->s == NULL)
		return;
	base = v->pos.line > 0 ? v->pos : s->pos;
	text = xasprintf("%s%s", prefix, v->s);
	an_run(text, (int)strlen(prefix), mode, p->file, base, v->pos.block, ctx,
	    no_unbatched, out);
	free(text);
	if (frag < 0 || frag_parse((enum sqlfrag)frag, v->s, NULL, &off,
	    &why) != -2)
		goto done;
	memset(&a, 0, sizeof a);
	a.sql = v->s;
	a.len = (int)strlen(v->s);
	a.file = p->file;
	a.base = base;
	a.block = v->pos.block;
	a.ctx = ctx;
	a.rules = sqlcheck_rules(&a.nrules);
	a.out = out;
	an_report(&a, "E-SQL-FRAGMENT", off, "step \"%s\": \"%s\" %s",
	    s->id.s != NULL ? s->id.s : "?", field, buf_cstr(&why));
	free(a.lines);
done:
	buf_free(&why);
}

/* Analyzes every SQL-bearing field of step s of p (see sqlcheck.h). */
int
sqlcheck_step(const struct plan *p, const struct step *s,
    const struct sqlctx *base_ctx, struct findings *out, struct buf *err)
{
	struct sqlctx c = sqlctx_step(p, s), down;
	size_t i;

	(void)err;
	if (base_ctx != NULL) {
		c.covers = base_ctx->covers;
		c.ncovers = base_ctx->ncovers;
	}
	down = c;
	down.rollback = 1;
	if (s->kind == KIND_DUAL_WRITE) {
		plan_field(p, s, &s->up, "up", FRAG_EXPR, "SELECT ", MODE_EXPR,
		    &c, 0, out);
		plan_field(p, s, &s->down, "down", FRAG_EXPR, "SELECT ",
		    MODE_EXPR, &c, 0, out);
	} else {
		plan_field(p, s, &s->up, "up", -1, "", MODE_STMTS, &c, 0, out);
		plan_field(p, s, &s->down, "down", -1, "", MODE_STMTS, &down, 0,
		    out);
	}
	plan_field(p, s, &s->verify, "verify", FRAG_QUERY, "", MODE_STMTS, &c,
	    0, out);
	/* The backfill runs `set` in batches: no unbatched finding. */
	plan_field(p, s, &s->set, "set", FRAG_SET, "UPDATE t SET ", MODE_STMTS,
	    &c, 1, out);
	plan_field(p, s, &s->where, "where", FRAG_EXPR, "SELECT 1 WHERE ",
	    MODE_EXPR, &c, 0, out);
	plan_field(p, s, &s->check, "check", FRAG_EXPR, "SELECT ", MODE_EXPR,
	    &c, 0, out);
	/*
	 * add_column's `default` is a constant value that the executor
	 * quotes and casts itself (never SQL, never volatile): only the
	 * type is SQL here.
	 */
	if (s->kind == KIND_ADD_COLUMN)
		plan_field(p, s, &s->type, "type", FRAG_TYPE, "SELECT NULL::",
		    MODE_TYPE, &c, 0, out);
	/* create_table columns: their type and default expression. */
	for (i = 0; i < s->ntcols; i++) {
		struct pstr t = { s->tcols[i].type, s->pos };
		struct pstr d = { s->tcols[i].default_, s->pos };

		plan_field(p, s, &t, "type", FRAG_TYPE, "SELECT NULL::",
		    MODE_EXPR, &c, 0, out);
		plan_field(p, s, &d, "default", FRAG_EXPR, "SELECT ", MODE_EXPR,
		    &c, 0, out);
	}
	return 0;
}

/* Analyzes every SQL-bearing field of every step of p. */
int
sqlcheck_plan(const struct plan *p, const struct sqlctx *base_ctx,
    struct findings *out, struct buf *err)
{
	size_t i;

	for (i = 0; i < p->nsteps; i++)
		if (sqlcheck_step(p, &p->steps[i], base_ctx, out, err) != 0)
			return -1;
	return 0;
}

/* The libpg_query version. */
const char *
sqlcheck_lib_version(void)
{
	return "grammar of PostgreSQL " PG_VERSION;
}

/* ------------------------------------------------------------------ */
/* Usage analysis (rule 9)                                             */
/* ------------------------------------------------------------------ */

/*
 * sqlcheck_uses walks a statement's parse tree with a scope per query
 * level: the names its FROM list makes visible (a table under its alias
 * or its own name, a subquery or function under its alias) and the CTEs
 * it defines.  Nodes this analysis has no rule for are walked through
 * protobuf-c's reflection, so a new node type of the grammar is still
 * searched rather than skipped.  Without the catalog an unqualified
 * column cannot be tied to one table: a name equal to the removed column
 * counts as use whenever the removed table is visible, which can only
 * err towards seeing use.
 */

/* Deeper trees are not walked; they count as use when they name the object. */
#define USE_MAX_DEPTH	2000

/* One name visible in a query level. */
struct urel {
	const char	*name;		/* alias, or the table's own name */
	int		 target;	/* 1 when it is the removed table */
};

/* The names visible in one query level; up is the enclosing level. */
struct uscope {
	const struct uscope	*up;
	struct urel		*rels;
	size_t			 nrels;
	const char		**ctes;
	size_t			 nctes;
};

/* The state of one walk. */
struct uwalk {
	const struct use_target	*t;
	int			 used;
	int			 deep;	/* the depth limit was reached */
	int			 depth;
};

static void use_walk(struct uwalk *w, const ProtobufCMessage *m,
    struct uscope *sc);

/* Frees what sc owns (not sc itself). */
static void
uscope_free(struct uscope *sc)
{
	free(sc->rels);
	free(sc->ctes);
}

/* Makes name visible in sc. */
static void
uscope_add(struct uscope *sc, const char *name, int target)
{
	sc->rels = xrealloc(sc->rels, (sc->nrels + 1) * sizeof *sc->rels);
	sc->rels[sc->nrels].name = name;
	sc->rels[sc->nrels].target = target;
	sc->nrels++;
}

/* 1 when name is a CTE visible from sc. */
static int
uscope_cte(const struct uscope *sc, const char *name)
{
	size_t i;

	for (; sc != NULL; sc = sc->up)
		for (i = 0; i < sc->nctes; i++)
			if (strcmp(sc->ctes[i], name) == 0)
				return 1;
	return 0;
}

/* The innermost visible name called name, or NULL. */
static const struct urel *
uscope_find(const struct uscope *sc, const char *name)
{
	size_t i;

	for (; sc != NULL; sc = sc->up)
		for (i = 0; i < sc->nrels; i++)
			if (strcmp(sc->rels[i].name, name) == 0)
				return &sc->rels[i];
	return NULL;
}

/* 1 when the removed table is visible in sc (up = 1: or any enclosing level). */
static int
uscope_target(const struct uscope *sc, int up)
{
	size_t i;

	for (; sc != NULL; sc = up ? sc->up : NULL)
		for (i = 0; i < sc->nrels; i++)
			if (sc->rels[i].target)
				return 1;
	return 0;
}

/* 1 when schema (possibly empty) names the target's schema. */
static int
use_schema(const struct use_target *t, const char *schema)
{
	return empty(schema) ||
	    strcmp(schema, t->schema != NULL ? t->schema : "public") == 0;
}

/* 1 when rv names the removed table (and is not a CTE of that name). */
static int
use_rv_target(const struct uwalk *w, const PgQuery__RangeVar *rv,
    const struct uscope *sc)
{
	if (rv == NULL || empty(rv->relname) || w->t->kind == USE_FUNCTION ||
	    strcmp(rv->relname, w->t->name) != 0 ||
	    !use_schema(w->t, rv->schemaname))
		return 0;
	return !empty(rv->schemaname) || !uscope_cte(sc, rv->relname);
}

/* Walks every message field of m except those named in skip (NULL-ended). */
static void
use_fields(struct uwalk *w, const ProtobufCMessage *m, struct uscope *sc,
    const char *const *skip)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	unsigned i;
	size_t j, n;

	for (i = 0; i < d->n_fields && !w->used; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *const *k;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		for (k = skip; k != NULL && *k != NULL; k++)
			if (strcmp(*k, f->name) == 0)
				break;
		if (k != NULL && *k != NULL)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(const void *)(base +
		    f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			ProtobufCMessage *const *v;

			n = *(const size_t *)(const void *)(base +
			    f->quantifier_offset);
			v = *(ProtobufCMessage *const *const *)(const void *)
			    (base + f->offset);
			for (j = 0; j < n && !w->used; j++)
				use_walk(w, v[j], sc);
		} else
			use_walk(w, *(ProtobufCMessage *const *)(const void *)
			    (base + f->offset), sc);
	}
}

/* Walks a Node (NULL-safe). */
static void
use_node(struct uwalk *w, const PgQuery__Node *n, struct uscope *sc)
{
	if (n != NULL)
		use_walk(w, &n->base, sc);
}

/* Walks a list of Nodes. */
static void
use_nodes(struct uwalk *w, PgQuery__Node *const *v, size_t n,
    struct uscope *sc)
{
	size_t i;

	for (i = 0; i < n && !w->used; i++)
		use_node(w, v[i], sc);
}

/* Defines the CTEs of wc in sc, walking each query where it is visible. */
static void
use_with(struct uwalk *w, const PgQuery__WithClause *wc, struct uscope *sc)
{
	size_t i;

	if (wc == NULL)
		return;
	for (i = 0; i < wc->n_ctes; i++) {
		const PgQuery__Node *n = wc->ctes[i];
		const PgQuery__CommonTableExpr *c;

		if (n->node_case != NC(COMMON_TABLE_EXPR))
			continue;
		c = n->common_table_expr;
		if (wc->recursive) {
			sc->ctes = xrealloc(sc->ctes, (sc->nctes + 1) *
			    sizeof *sc->ctes);
			sc->ctes[sc->nctes++] = c->ctename;
		}
		use_node(w, c->ctequery, sc);
		if (!wc->recursive) {
			sc->ctes = xrealloc(sc->ctes, (sc->nctes + 1) *
			    sizeof *sc->ctes);
			sc->ctes[sc->nctes++] = c->ctename;
		}
	}
}

/* A column name of a name list (String nodes) equal to the removed column. */
static int
use_names(const struct uwalk *w, PgQuery__Node *const *v, size_t n)
{
	size_t i;
	const char *s;

	for (i = 0; i < n; i++) {
		s = node_str(v[i]);
		if (s == NULL && v[i]->node_case == NC(RES_TARGET))
			s = v[i]->res_target->name;
		if (s == NULL && v[i]->node_case == NC(INDEX_ELEM))
			s = v[i]->index_elem->name;
		if (s != NULL && strcmp(s, w->t->column) == 0)
			return 1;
	}
	return 0;
}

/* Makes the names of one FROM item visible in sc, walking what it holds. */
static void
use_from(struct uwalk *w, const PgQuery__Node *n, struct uscope *sc)
{
	if (n == NULL || w->used)
		return;
	switch (n->node_case) {
	case NC(RANGE_VAR): {
		const PgQuery__RangeVar *rv = n->range_var;
		int target = use_rv_target(w, rv, sc);

		if (target && w->t->kind == USE_RELATION)
			w->used = 1;
		uscope_add(sc, rv->alias != NULL && !empty(rv->alias->aliasname) ?
		    rv->alias->aliasname : rv->relname, target);
		break;
	}
	case NC(JOIN_EXPR): {
		const PgQuery__JoinExpr *j = n->join_expr;
		size_t before = sc->nrels, i;
		int target = 0;

		use_from(w, j->larg, sc);
		use_from(w, j->rarg, sc);
		for (i = before; i < sc->nrels; i++)
			target |= sc->rels[i].target;
		/* USING (col) and NATURAL read the joined columns. */
		if (target && w->t->kind == USE_COLUMN &&
		    (j->is_natural ||
		    use_names(w, j->using_clause, j->n_using_clause)))
			w->used = 1;
		use_node(w, j->quals, sc);
		if (j->alias != NULL && !empty(j->alias->aliasname))
			uscope_add(sc, j->alias->aliasname, target);
		break;
	}
	case NC(RANGE_SUBSELECT): {
		const PgQuery__RangeSubselect *r = n->range_subselect;

		use_node(w, r->subquery, sc);
		if (r->alias != NULL && !empty(r->alias->aliasname))
			uscope_add(sc, r->alias->aliasname, 0);
		break;
	}
	case NC(RANGE_FUNCTION): {
		const PgQuery__RangeFunction *r = n->range_function;

		use_walk(w, &r->base, sc);
		if (r->alias != NULL && !empty(r->alias->aliasname))
			uscope_add(sc, r->alias->aliasname, 0);
		break;
	}
	default:
		use_node(w, n, sc);
		break;
	}
}

/* A column reference: x, x.col, x.*, s.x.col, *. */
static void
use_colref(struct uwalk *w, const PgQuery__ColumnRef *c,
    const struct uscope *sc)
{
	const PgQuery__Node *last;
	const struct urel *r;
	const char *col, *q;
	int star, target;

	if (c->n_fields == 0)
		return;
	last = c->fields[c->n_fields - 1];
	star = last->node_case == NC(A_STAR);
	col = node_str(last);
	if (w->t->kind == USE_RELATION && !star && c->n_fields == 1 &&
	    col != NULL) {
		/* A whole-row reference to a removed view or table by name. */
		r = uscope_find(sc, col);
		if (r != NULL && r->target)
			w->used = 1;
		return;
	}
	if (w->t->kind != USE_COLUMN)
		return;
	if (c->n_fields == 1) {
		if (star)
			w->used = uscope_target(sc, 0);
		else if (col != NULL && strcmp(col, w->t->column) == 0)
			w->used = uscope_target(sc, 1);
		else if (col != NULL && (r = uscope_find(sc, col)) != NULL)
			w->used = r->target;	/* whole row: every column */
		return;
	}
	q = node_str(c->fields[c->n_fields - 2]);
	if (q == NULL)
		return;
	if (c->n_fields >= 3) {
		const char *s = node_str(c->fields[c->n_fields - 3]);

		target = strcmp(q, w->t->name) == 0 && use_schema(w->t, s);
	} else {
		r = uscope_find(sc, q);
		target = r != NULL && r->target;
	}
	if (target && (star || (col != NULL && strcmp(col, w->t->column) == 0)))
		w->used = 1;
}

/* 1 when the function name list names the removed function. */
static int
use_func(const struct uwalk *w, PgQuery__Node *const *v, size_t n)
{
	const char *name, *schema;

	if (w->t->kind != USE_FUNCTION || n == 0)
		return 0;
	name = node_str(v[n - 1]);
	schema = n >= 2 ? node_str(v[n - 2]) : NULL;
	return name != NULL && strcmp(name, w->t->name) == 0 &&
	    use_schema(w->t, schema);
}

/* SELECT: a new query level. */
static void
use_select(struct uwalk *w, const PgQuery__SelectStmt *s,
    const struct uscope *outer)
{
	static const char *const skip[] = { "with_clause", "from_clause", NULL };
	struct uscope sc = { outer, NULL, 0, NULL, 0 };
	size_t i;

	use_with(w, s->with_clause, &sc);
	for (i = 0; i < s->n_from_clause && !w->used; i++)
		use_from(w, s->from_clause[i], &sc);
	if (!w->used)
		use_fields(w, &s->base, &sc, skip);
	uscope_free(&sc);
}

/*
 * The target relation of INSERT, UPDATE, DELETE or COPY: a removed table
 * is used; a removed column is used when cols (n of them) names it, or
 * when there is no list and all = 1 (INSERT or COPY without a column list).
 */
static int
use_write(struct uwalk *w, const PgQuery__RangeVar *rv, struct uscope *sc,
    PgQuery__Node *const *cols, size_t n, int all)
{
	int target = use_rv_target(w, rv, sc);

	if (target && (w->t->kind == USE_RELATION ||
	    use_names(w, cols, n) || (n == 0 && all)))
		w->used = 1;
	if (rv != NULL)
		uscope_add(sc, rv->alias != NULL && !empty(rv->alias->aliasname) ?
		    rv->alias->aliasname : rv->relname, target);
	return target;
}

/* INSERT: the query feeding it does not see the target; RETURNING does. */
static void
use_insert(struct uwalk *w, const PgQuery__InsertStmt *s,
    const struct uscope *outer)
{
	struct uscope sc = { outer, NULL, 0, NULL, 0 };
	const PgQuery__OnConflictClause *oc = s->on_conflict_clause;
	int target;

	use_with(w, s->with_clause, &sc);
	use_node(w, s->select_stmt, &sc);
	target = use_write(w, s->relation, &sc, s->cols, s->n_cols,
	    s->select_stmt != NULL);
	if (oc != NULL && !w->used) {
		if (target && w->t->kind == USE_COLUMN &&
		    ((oc->infer != NULL && use_names(w, oc->infer->index_elems,
		    oc->infer->n_index_elems)) ||
		    use_names(w, oc->target_list, oc->n_target_list)))
			w->used = 1;
		uscope_add(&sc, "excluded", target);
		use_fields(w, &oc->base, &sc, NULL);
	}
	use_nodes(w, s->returning_list, s->n_returning_list, &sc);
	uscope_free(&sc);
}

/* UPDATE: SET col names written columns. */
static void
use_update(struct uwalk *w, const PgQuery__UpdateStmt *s,
    const struct uscope *outer)
{
	static const char *const skip[] = { "with_clause", "relation",
	    "from_clause", NULL };
	struct uscope sc = { outer, NULL, 0, NULL, 0 };
	size_t i;

	use_with(w, s->with_clause, &sc);
	use_write(w, s->relation, &sc, s->target_list, s->n_target_list, 0);
	for (i = 0; i < s->n_from_clause && !w->used; i++)
		use_from(w, s->from_clause[i], &sc);
	if (!w->used)
		use_fields(w, &s->base, &sc, skip);
	uscope_free(&sc);
}

/* DELETE: the target and USING are visible to WHERE and RETURNING. */
static void
use_delete(struct uwalk *w, const PgQuery__DeleteStmt *s,
    const struct uscope *outer)
{
	static const char *const skip[] = { "with_clause", "relation",
	    "using_clause", NULL };
	struct uscope sc = { outer, NULL, 0, NULL, 0 };
	size_t i;

	use_with(w, s->with_clause, &sc);
	use_write(w, s->relation, &sc, NULL, 0, 0);
	for (i = 0; i < s->n_using_clause && !w->used; i++)
		use_from(w, s->using_clause[i], &sc);
	if (!w->used)
		use_fields(w, &s->base, &sc, skip);
	uscope_free(&sc);
}

/* COPY: without a column list it reads or writes every column. */
static void
use_copy(struct uwalk *w, const PgQuery__CopyStmt *s,
    const struct uscope *outer)
{
	struct uscope sc = { outer, NULL, 0, NULL, 0 };

	use_write(w, s->relation, &sc, s->attlist, s->n_attlist, 1);
	use_node(w, s->query, &sc);
	uscope_free(&sc);
}

/* Walks any message, with rules for the nodes that name objects. */
static void
use_walk(struct uwalk *w, const ProtobufCMessage *m, struct uscope *sc)
{
	const ProtobufCMessageDescriptor *d;

	if (m == NULL || w->used)
		return;
	if (w->depth >= USE_MAX_DEPTH) {
		w->deep = 1;
		return;
	}
	w->depth++;
	d = m->descriptor;
	if (d == &pg_query__select_stmt__descriptor)
		use_select(w, (const PgQuery__SelectStmt *)(const void *)m, sc);
	else if (d == &pg_query__insert_stmt__descriptor)
		use_insert(w, (const PgQuery__InsertStmt *)(const void *)m, sc);
	else if (d == &pg_query__update_stmt__descriptor)
		use_update(w, (const PgQuery__UpdateStmt *)(const void *)m, sc);
	else if (d == &pg_query__delete_stmt__descriptor)
		use_delete(w, (const PgQuery__DeleteStmt *)(const void *)m, sc);
	else if (d == &pg_query__copy_stmt__descriptor)
		use_copy(w, (const PgQuery__CopyStmt *)(const void *)m, sc);
	else if (d == &pg_query__column_ref__descriptor)
		use_colref(w, (const PgQuery__ColumnRef *)(const void *)m, sc);
	else if (d == &pg_query__range_var__descriptor) {
		/* Outside FROM (DDL, LOCK, TRUNCATE, INTO): names the table. */
		if (w->t->kind == USE_RELATION &&
		    use_rv_target(w, (const PgQuery__RangeVar *)(const void *)m,
		    sc))
			w->used = 1;
	} else if (d == &pg_query__func_call__descriptor) {
		const PgQuery__FuncCall *f = (const PgQuery__FuncCall *)
		    (const void *)m;

		if (use_func(w, f->funcname, f->n_funcname))
			w->used = 1;
		else
			use_fields(w, m, sc, NULL);
	} else
		use_fields(w, m, sc, NULL);
	w->depth--;
}

/* 1 when text contains word as a whole identifier, case-insensitively. */
static int
use_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	if (n == 0)
		return 0;
	for (p = text; *p != '\0'; p++) {
		if (strncasecmp(p, word, n) != 0)
			continue;
		if ((p == text || !(isalnum((unsigned char)p[-1]) ||
		    p[-1] == '_')) && !(isalnum((unsigned char)p[n]) ||
		    p[n] == '_' || p[n] == '$'))
			return 1;
	}
	return 0;
}

/* Whether sql uses t; see sqlcheck.h. */
int
sqlcheck_uses(const char *sql, const struct use_target *t)
{
	PgQueryProtobufParseResult r;
	PgQuery__ParseResult *pr = NULL;
	struct uwalk w = { t, 0, 0, 0 };
	const char *word = t->kind == USE_COLUMN ? t->column : t->name;
	size_t i;

	assert(t->name != NULL && (t->kind != USE_COLUMN || t->column != NULL));
	r = pg_query_parse_protobuf(sql);
	if (r.error == NULL)
		pr = unpack(r.parse_tree);
	if (pr == NULL) {
		w.used = use_word(sql, word);
		goto done;
	}
	for (i = 0; i < pr->n_stmts && !w.used; i++)
		if (pr->stmts[i] != NULL)
			use_node(&w, pr->stmts[i]->stmt, NULL);
	if (w.deep && !w.used)
		w.used = use_word(sql, word);
done:
	if (pr != NULL)
		pg_query__parse_result__free_unpacked(pr, NULL);
	pg_query_free_protobuf_parse_result(r);
	return w.used;
}

/*
 * A statement parsed once for sqlcheck_parsed_uses: the texts of
 * pg_stat_statements are tested against every target of every plan, and
 * parsing and walking dominate that work.
 */
struct sqlcheck_parsed {
	char			*sql;	/* owned copy */
	int			 parsed;	/* r and pr are set */
	int			 deep;	/* -1 unknown; 1 the walk hits the limit */
	PgQueryProtobufParseResult r;
	PgQuery__ParseResult	*pr;	/* NULL: the text does not parse */
};

/* Keeps sql for sqlcheck_parsed_uses, which parses it on first need. */
struct sqlcheck_parsed *
sqlcheck_parse_uses(const char *sql)
{
	struct sqlcheck_parsed *sp = xcalloc(1, sizeof *sp);

	sp->sql = xstrdup(sql);
	sp->deep = -1;
	return sp;
}

/* Parses sp's text once. */
static void
parsed_parse(struct sqlcheck_parsed *sp)
{
	if (sp->parsed)
		return;
	sp->parsed = 1;
	sp->r = pg_query_parse_protobuf(sp->sql);
	if (sp->r.error == NULL)
		sp->pr = unpack(sp->r.parse_tree);
}

/* Walks sp's statements for t (parsed); *deep says the limit was hit. */
static int
parsed_walk(const struct sqlcheck_parsed *sp, const struct use_target *t,
    int *deep)
{
	struct uwalk w = { t, 0, 0, 0 };
	size_t i;

	for (i = 0; i < sp->pr->n_stmts && !w.used; i++)
		if (sp->pr->stmts[i] != NULL)
			use_node(&w, sp->pr->stmts[i]->stmt, NULL);
	*deep = w.deep;
	return w.used;
}

/*
 * Whether the statement uses t: sqlcheck_uses, parsing once.  Every use
 * the walk finds goes through a relation named in the text, so a text
 * that does not contain t's table name in any letter case cannot be
 * found using it by the walk; only the fallback on the word (a text that
 * does not parse, or nests too deep) remains, and whether the walk hits
 * the depth limit is a property of the text, learnt once.  A name with a
 * double quote (written doubled) or a Unicode-escaped identifier (U&"")
 * may hide the name: those texts are always walked.
 */
int
sqlcheck_parsed_uses(struct sqlcheck_parsed *sp, const struct use_target *t)
{
	static const struct use_target none = { USE_COLUMN, NULL, "", "" };
	const char *word = t->kind == USE_COLUMN ? t->column : t->name;
	int used, deep;

	assert(t->name != NULL && (t->kind != USE_COLUMN || t->column != NULL));
	if (strchr(t->name, '"') == NULL && strchr(word, '"') == NULL &&
	    strcasestr(sp->sql, "u&") == NULL &&
	    strcasestr(sp->sql, t->name) == NULL) {
		if (!use_word(sp->sql, word))
			return 0;
		parsed_parse(sp);
		if (sp->pr == NULL)
			return 1;
		if (sp->deep < 0)
			(void)parsed_walk(sp, &none, &sp->deep);
		return sp->deep;
	}
	parsed_parse(sp);
	if (sp->pr == NULL)
		return use_word(sp->sql, word);
	used = parsed_walk(sp, t, &deep);
	if (deep && !used)
		used = use_word(sp->sql, word);
	return used;
}

/* Frees a parsed statement (NULL-safe). */
void
sqlcheck_parsed_free(struct sqlcheck_parsed *sp)
{
	if (sp == NULL)
		return;
	if (sp->pr != NULL)
		pg_query__parse_result__free_unpacked(sp->pr, NULL);
	if (sp->parsed)
		pg_query_free_protobuf_parse_result(sp->r);
	free(sp->sql);
	free(sp);
}
