/*
 * A YAML document as a plain tree of nodes with positions.  ytree.c is the
 * only file that includes yaml.h: it turns libyaml's document (and its
 * errors) into this tree, so plan and config loading never see libyaml.
 */
#ifndef EXCON_YTREE_H
#define EXCON_YTREE_H

#include <stddef.h>

#include "buf.h"
#include "pos.h"

enum ynode_type {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP,
};

struct ynode {
	enum ynode_type	 type;
	struct pos	 pos;		/* of the node; for block scalars, of the
					   content, with pos.block set */
	char		*value;		/* scalars only */
	int		 plain;		/* scalar written without quotes */
	struct ynode	**items;	/* sequence items, or map values */
	char		**keys;		/* map keys (NULL for sequences) */
	struct pos	*key_pos;	/* map key positions */
	size_t		 n;
};

/*
 * Parses the file at path.  On success *out is the root (owned by the
 * caller, ytree_free), or NULL for an empty file.  Otherwise returns -1
 * with the message in err and where it is in *at (line 0 when the file
 * cannot be read; the message then names the file).  A syntax error, a
 * duplicate key in a mapping and a second document are errors.
 */
int ytree_load(struct ynode **out, const char *path, struct pos *at,
    struct buf *err);
/* Same as ytree_load, for text already in memory; name is used in messages. */
int ytree_parse(struct ynode **out, const char *name, const char *text,
    size_t len, struct pos *at, struct buf *err);
/* Frees a tree (NULL-safe). */
void ytree_free(struct ynode *n);
/* The value of key in a map node, or NULL. */
struct ynode *ytree_get(const struct ynode *map, const char *key);
/* 1 when n is YAML's null: an unquoted empty value, ~, null, Null or NULL. */
int ytree_is_null(const struct ynode *n);
/* Human name of a node's type: "a string", "a list", "a mapping". */
const char *ytree_type_name(const struct ynode *n);

/* The libyaml version string, for `excon --version`. */
const char *ytree_lib_version(void);

#endif
