/*
 * YAML loading on libyaml's document API, converted to struct ynode so
 * that libyaml types and errors stay inside this file.  libyaml counts
 * lines and columns from 0; excon counts from 1, like compilers do.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util.h"
#include "xalloc.h"
#include "ytree.h"

/* What convert() needs besides the node: the source text and the error. */
struct conv {
	yaml_document_t	*doc;
	const char	*text;
	size_t		 len;
	struct pos	*at;
	struct buf	*err;
	int		 failed;
	size_t		 nodes;		/* converted so far, aliases expanded */
};

/*
 * Aliases are expanded while converting, so a small file of nested
 * aliases ("billion laughs") could expand into billions of nodes: stop
 * well above anything a plan or excon.yaml needs.
 */
#define YTREE_MAX_NODES	100000

/*
 * Deepest nesting of collections a file may have.  Plans and excon.yaml
 * need a handful of levels; libyaml's composer recurses per level and its
 * scanner rescans every open flow level per token, so a file of nested
 * `[` would take time quadratic in its size (and stack) before this file
 * sees a node.  Flow brackets are counted before libyaml parses.
 */
#define YTREE_MAX_DEPTH	64
#define YTREE_MAX_FLOW	256

/* Records the first conversion error at pos. */
static void
conv_fail(struct conv *cv, struct pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
conv_fail(struct conv *cv, struct pos pos, const char *fmt, ...)
{
	va_list ap;

	if (cv->failed)
		return;
	cv->failed = 1;
	if (cv->at != NULL)
		*cv->at = pos;
	if (cv->err != NULL) {
		buf_reset(cv->err);
		va_start(ap, fmt);
		buf_vprintf(cv->err, fmt, ap);
		va_end(ap);
	}
}

/*
 * Where line 0 of a block scalar's value starts: the line after the
 * indicator, at the column of the block's indentation, so that character
 * c of value line n sits at (line + n, col + c).  Leading blank lines are
 * part of the value but carry no indentation, so the column comes from
 * the first line with text, less the spaces the value keeps beyond the
 * block's indentation (an indentation indicator such as `|2`).
 */
static struct pos
block_content_pos(const char *text, size_t len, const yaml_mark_t *m,
    const char *value)
{
	struct pos p = { .line = (int)m->line + 2, .col = 1 };
	size_t i = m->index, kept = 0;
	int col;

	/* Skip to the line after the indicator (and any comment on it). */
	while (i < len && text[i] != '\n')
		i++;
	if (i < len)
		i++;
	for (;;) {
		col = 1;
		while (i < len && text[i] == ' ') {
			i++;
			col++;
		}
		if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			i++;
		if (i < len && text[i] == '\n') {
			i++;
			continue;	/* a blank line: no column to take */
		}
		break;
	}
	while (*value == '\n')
		value++;
	while (value[kept] == ' ')
		kept++;
	p.col = col > (int)kept ? col - (int)kept : 1;
	return p;
}

/* The mapping whose keys key_order() sorts (qsort passes no argument). */
static const struct ynode *sort_map;

/* Orders key indexes by key, then by position in the mapping. */
static int
key_order(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(sort_map->keys[i], sort_map->keys[j]);

	return c != 0 ? c : (i > j) - (i < j);
}

/*
 * Fails on the first key of mapping n (in file order) that repeats an
 * earlier one: YAML keys are unique, and a repeated one would silently
 * win.  Sorting keeps a mapping of many keys from costing n^2 compares.
 */
static void
duplicate_keys(struct conv *cv, struct ynode *n)
{
	size_t *ix, i, dup = (size_t)-1, first = 0;

	if (n->n < 2)
		return;
	ix = xcalloc(n->n, sizeof *ix);
	for (i = 0; i < n->n; i++)
		ix[i] = i;
	sort_map = n;
	qsort(ix, n->n, sizeof *ix, key_order);
	sort_map = NULL;
	for (i = 1; i < n->n; i++) {
		/* In a run of equal keys the first is the original. */
		if (strcmp(n->keys[ix[i]], n->keys[ix[i - 1]]) != 0 ||
		    (i >= 2 && strcmp(n->keys[ix[i - 1]], n->keys[ix[i - 2]]) == 0))
			continue;
		if (ix[i] < dup) {
			dup = ix[i];
			first = ix[i - 1];
		}
	}
	if (dup != (size_t)-1)
		conv_fail(cv, n->key_pos[dup], "duplicate key \"%s\" (first at "
		    "line %d)", n->keys[dup], n->key_pos[first].line);
	free(ix);
}

/*
 * The offset of the bracket where text nests flow collections ('[' or
 * '{') more than YTREE_MAX_FLOW deep, or -1.  Quotes and comments are not
 * skipped, so a bracket in a string counts too: the limit is far above
 * what real files use.
 */
static long
flow_too_deep(const char *text, size_t len)
{
	size_t i;
	long depth = 0;

	for (i = 0; i < len; i++) {
		if (text[i] == '[' || text[i] == '{') {
			if (++depth > YTREE_MAX_FLOW)
				return (long)i;
		} else if ((text[i] == ']' || text[i] == '}') && depth > 0)
			depth--;
	}
	return -1;
}

/* Line and column (from 1) of byte offset off in text. */
static struct pos
offset_pos(const char *text, size_t len, size_t off)
{
	struct pos p = { .line = 1, .col = 1 };
	size_t i;

	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			p.line++;
			p.col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80)
			p.col++;
	}
	return p;
}

/* Converts libyaml node yn into a ynode tree, depth-limited against cycles. */
static struct ynode *
convert(struct conv *cv, yaml_node_t *yn, int depth)
{
	struct ynode *n = xcalloc(1, sizeof *n);
	size_t i;

	n->pos.line = (int)yn->start_mark.line + 1;
	n->pos.col = (int)yn->start_mark.column + 1;
	if (++cv->nodes > YTREE_MAX_NODES) {
		/* Only aliases make more values than the document has nodes. */
		if ((size_t)(cv->doc->nodes.top - cv->doc->nodes.start) > YTREE_MAX_NODES)
			conv_fail(cv, n->pos, "more than %d values: too large for "
			    "a plan or a config file", YTREE_MAX_NODES);
		else
			conv_fail(cv, n->pos, "more than %d values (aliases "
			    "expanding into each other?)", YTREE_MAX_NODES);
	}
	if (depth > YTREE_MAX_DEPTH)
		conv_fail(cv, n->pos, "nested more than %d levels deep",
		    YTREE_MAX_DEPTH);
	if (cv->failed || yn->type == YAML_NO_NODE) {
		n->type = YNODE_SCALAR;
		n->value = xstrdup("");
		return n;
	}
	switch (yn->type) {
	case YAML_SCALAR_NODE:
		n->type = YNODE_SCALAR;
		n->value = xstrndup((const char *)yn->data.scalar.value,
		    yn->data.scalar.length);
		n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (yn->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
		    yn->data.scalar.style == YAML_FOLDED_SCALAR_STYLE) {
			n->pos = block_content_pos(cv->text, cv->len,
			    &yn->start_mark, n->value);
			n->pos.block = 1;
		}
		break;
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;

		n->type = YNODE_SEQ;
		n->n = (size_t)(yn->data.sequence.items.top -
		    yn->data.sequence.items.start);
		n->items = xcalloc(n->n ? n->n : 1, sizeof *n->items);
		for (i = 0, it = yn->data.sequence.items.start;
		    it < yn->data.sequence.items.top; it++, i++)
			n->items[i] = convert(cv, yaml_document_get_node(cv->doc,
			    *it), depth + 1);
		break;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *pr;

		n->type = YNODE_MAP;
		n->n = (size_t)(yn->data.mapping.pairs.top -
		    yn->data.mapping.pairs.start);
		n->items = xcalloc(n->n ? n->n : 1, sizeof *n->items);
		n->keys = xcalloc(n->n ? n->n : 1, sizeof *n->keys);
		n->key_pos = xcalloc(n->n ? n->n : 1, sizeof *n->key_pos);
		for (i = 0, pr = yn->data.mapping.pairs.start;
		    pr < yn->data.mapping.pairs.top; pr++, i++) {
			yaml_node_t *k = yaml_document_get_node(cv->doc, pr->key);

			if (k != NULL && k->type == YAML_SCALAR_NODE)
				n->keys[i] = xstrndup((const char *)k->data.scalar.value,
				    k->data.scalar.length);
			else
				n->keys[i] = xstrdup("");
			if (k != NULL) {
				n->key_pos[i].line = (int)k->start_mark.line + 1;
				n->key_pos[i].col = (int)k->start_mark.column + 1;
			}
			n->items[i] = convert(cv, yaml_document_get_node(cv->doc,
			    pr->value), depth + 1);
		}
		duplicate_keys(cv, n);
		break;
	}
	default:
		break;
	}
	return n;
}

/*
 * Puts libyaml's parse error, with where its context started, into err.
 * A reader error (NUL, invalid UTF-8) has no mark, only a byte offset.
 */
static void
parse_error(const yaml_parser_t *parser, const char *text, size_t len,
    struct pos *at, struct buf *err)
{
	const yaml_mark_t *m = &parser->problem_mark;

	if (at != NULL && parser->error == YAML_READER_ERROR)
		*at = offset_pos(text, len, parser->problem_offset);
	else if (at != NULL) {
		at->line = (int)m->line + 1;
		at->col = (int)m->column + 1;
	}
	if (err == NULL)
		return;
	buf_reset(err);
	buf_puts(err, parser->problem ? parser->problem : "malformed YAML");
	if (parser->context != NULL)
		buf_printf(err, " %s started at line %zu, column %zu",
		    parser->context, parser->context_mark.line + 1,
		    parser->context_mark.column + 1);
}

/* Parses YAML text into a tree. */
int
ytree_parse(struct ynode **out, const char *name, const char *text, size_t len,
    struct pos *at, struct buf *err)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	struct conv cv;
	long deep;
	int ret = -1, have_doc = 0;

	*out = NULL;
	if (at != NULL)
		at->line = at->col = 0;
	if ((deep = flow_too_deep(text, len)) >= 0) {
		if (at != NULL)
			*at = offset_pos(text, len, (size_t)deep);
		return error_set(err, "'[' or '{' nested more than %d levels "
		    "deep", YTREE_MAX_FLOW);
	}
	if (!yaml_parser_initialize(&parser))
		return error_set(err, "%s: cannot initialise the YAML parser", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		parse_error(&parser, text, len, at, err);
		goto done;
	}
	have_doc = 1;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL) {
		memset(&cv, 0, sizeof cv);
		cv.doc = &doc;
		cv.text = text;
		cv.len = len;
		cv.at = at;
		cv.err = err;
		*out = convert(&cv, root, 0);
		if (cv.failed) {
			ytree_free(*out);
			*out = NULL;
			goto done;
		}
	}
	/* A second document would be ignored without a word: refuse it. */
	if (!yaml_parser_load(&parser, &extra)) {
		parse_error(&parser, text, len, at, err);
		goto fail;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		if (at != NULL) {
			at->line = (int)extra.start_mark.line + 1;
			at->col = (int)extra.start_mark.column + 1;
		}
		error_set(err, "only one YAML document is allowed in a file; a "
		    "second one starts here");
		yaml_document_delete(&extra);
		goto fail;
	}
	yaml_document_delete(&extra);
	ret = 0;
	goto done;
fail:
	ytree_free(*out);
	*out = NULL;
done:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ret;
}

/* Reads and parses a YAML file. */
int
ytree_load(struct ynode **out, const char *path, struct pos *at,
    struct buf *err)
{
	struct buf text = BUF_INIT;
	int ret = -1;

	*out = NULL;
	if (at != NULL)
		at->line = at->col = 0;
	if (util_read_file(path, &text, err) == -1)
		goto done;
	ret = ytree_parse(out, path, buf_cstr(&text), text.len, at, err);
done:
	buf_free(&text);
	return ret;
}

/* Frees a tree. */
void
ytree_free(struct ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++) {
		ytree_free(n->items[i]);
		if (n->keys != NULL)
			free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->key_pos);
	free(n->value);
	free(n);
}

/* Looks a key up in a mapping. */
struct ynode *
ytree_get(const struct ynode *map, const char *key)
{
	size_t i;

	if (map == NULL || map->type != YNODE_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return map->items[i];
	return NULL;
}

/* Whether a node is YAML's null. */
int
ytree_is_null(const struct ynode *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	int i;

	if (n == NULL || n->type != YNODE_SCALAR || !n->plain)
		return 0;
	for (i = 0; nulls[i] != NULL; i++)
		if (strcmp(n->value, nulls[i]) == 0)
			return 1;
	return 0;
}

/* Names a node's type for messages. */
const char *
ytree_type_name(const struct ynode *n)
{
	switch (n->type) {
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a mapping";
	default:
		return "a string";
	}
}

/* The libyaml version string. */
const char *
ytree_lib_version(void)
{
	return yaml_get_version_string();
}
