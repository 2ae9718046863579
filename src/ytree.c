/*
 * YAML loading on libyaml's document API, converted to struct ynode so
 * that libyaml types and errors stay inside this file.  libyaml counts
 * lines and columns from 0; excon counts from 1, like compilers do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "xalloc.h"
#include "ytree.h"

/* Position of the first content character of a block scalar. */
static struct pos
block_content_pos(const char *text, size_t len, const yaml_mark_t *m)
{
	struct pos p = { (int)m->line + 2, 1 };
	size_t i = m->index;

	/* Skip to the line after the indicator, then over its indentation. */
	while (i < len && text[i] != '\n')
		i++;
	if (i < len)
		i++;
	while (i < len && text[i] == ' ') {
		i++;
		p.col++;
	}
	return p;
}

/* Converts libyaml node id into a ynode tree, depth-limited against cycles. */
static struct ynode *
convert(yaml_document_t *doc, yaml_node_t *yn, const char *text, size_t len,
    int depth)
{
	struct ynode *n = xcalloc(1, sizeof *n);
	size_t i;

	n->pos.line = (int)yn->start_mark.line + 1;
	n->pos.col = (int)yn->start_mark.column + 1;
	if (depth > 64 || yn->type == YAML_NO_NODE) {
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
		n->block = yn->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
		    yn->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
		if (n->block)
			n->pos = block_content_pos(text, len, &yn->start_mark);
		break;
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;

		n->type = YNODE_SEQ;
		n->n = (size_t)(yn->data.sequence.items.top -
		    yn->data.sequence.items.start);
		n->items = xcalloc(n->n ? n->n : 1, sizeof *n->items);
		for (i = 0, it = yn->data.sequence.items.start;
		    it < yn->data.sequence.items.top; it++, i++)
			n->items[i] = convert(doc, yaml_document_get_node(doc, *it),
			    text, len, depth + 1);
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
			yaml_node_t *k = yaml_document_get_node(doc, pr->key);

			if (k != NULL && k->type == YAML_SCALAR_NODE)
				n->keys[i] = xstrndup((const char *)k->data.scalar.value,
				    k->data.scalar.length);
			else
				n->keys[i] = xstrdup("");
			if (k != NULL) {
				n->key_pos[i].line = (int)k->start_mark.line + 1;
				n->key_pos[i].col = (int)k->start_mark.column + 1;
			}
			n->items[i] = convert(doc, yaml_document_get_node(doc,
			    pr->value), text, len, depth + 1);
		}
		break;
	}
	default:
		break;
	}
	return n;
}

/* Parses YAML text into a tree. */
int
ytree_parse(struct ynode **out, const char *name, const char *text, size_t len,
    struct buf *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int ret = -1, have_doc = 0;

	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		return error_set(err, "%s: cannot initialise the YAML parser", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		const yaml_mark_t *m = &parser.problem_mark;

		if (parser.context != NULL)
			error_set(err, "%s:%zu:%zu: %s %s", name, m->line + 1,
			    m->column + 1, parser.problem, parser.context);
		else
			error_set(err, "%s:%zu:%zu: %s", name, m->line + 1,
			    m->column + 1, parser.problem ? parser.problem :
			    "malformed YAML");
		goto done;
	}
	have_doc = 1;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL)
		*out = convert(&doc, root, text, len, 0);
	ret = 0;
done:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ret;
}

/* Reads and parses a YAML file. */
int
ytree_load(struct ynode **out, const char *path, struct buf *err)
{
	struct buf text = BUF_INIT;
	char chunk[8192];
	size_t n;
	FILE *f;
	int ret = -1;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		return error_set(err, "cannot open '%s': %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&text, chunk, n);
	if (ferror(f)) {
		error_set(err, "cannot read '%s': %s", path, strerror(errno));
		goto done;
	}
	ret = ytree_parse(out, path, buf_cstr(&text), text.len, err);
done:
	fclose(f);
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
