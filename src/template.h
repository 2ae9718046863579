/*
 * Plan templates for `excon new`: the YAML text of a plan for a common
 * breaking change (rename a column, change its type, add a NOT NULL
 * column, drop a column, rename a table), built from a few names given on
 * the command line.
 *
 * Everything here is pure: names are validated, the plan is rendered into
 * a struct buf, and problems come back as one message in err.  Writing the
 * file, and checking that it loads and lints clean, is the command's job.
 *
 * Names given by the user must be plain lowercase SQL identifiers
 * ([a-z_][a-z0-9_]*, at most 63 bytes): that is how PostgreSQL stores an
 * unquoted name, and it keeps the YAML and the SQL in it unambiguous.
 * Reserved words (user, order, ...) are allowed and double-quoted wherever
 * the plan holds SQL text.
 */
#ifndef EXCON_TEMPLATE_H
#define EXCON_TEMPLATE_H

#include "buf.h"

/* Options a template may take (struct template.opts). */
#define TOPT_TYPE	0x01	/* --type: the column's type (rename-column) */
#define TOPT_USING	0x02	/* --using: conversion old -> new (change-type) */
#define TOPT_DOWN	0x04	/* --down: conversion new -> old (change-type) */
#define TOPT_NEWCOL	0x08	/* --new-column: name of the new column (change-type) */
#define TOPT_DEFAULT	0x10	/* --default: constant value (add-not-null) */
#define TOPT_NOTNULL	0x20	/* --not-null: the new column becomes NOT NULL */

/* Every value is borrowed; NULL means not given. */
struct tmpl_opts {
	const char	*name;		/* plan name; NULL = derived from the arguments */
	const char	*schema;	/* NULL = unqualified (public) */
	const char	*owner;		/* team shown by audit */
	const char	*type;
	const char	*using_;
	const char	*down;
	const char	*new_column;
	const char	*default_;
	int		 not_null;
	const char	*command;	/* the command line, for the header comment */
};

struct tmpl_gen;

struct template {
	const char	*name;		/* "rename-column" */
	const char	*args;		/* "TABLE OLD NEW" */
	int		 nargs;		/* number of positional arguments */
	unsigned	 opts;		/* TOPT_* it accepts */
	unsigned	 required;	/* TOPT_* it needs */
	const char	*summary;	/* one line */
	/* Writes the plan (template.c); see template_render. */
	int		(*render)(struct tmpl_gen *g, char *const *args,
			    char **plan_name, struct buf *err);
};

/* The templates, terminated by an entry with a NULL name (static). */
const struct template *template_list(void);
/* The template called name, or NULL. */
const struct template *template_find(const char *name);

/*
 * Appends the YAML plan of template t for the positional arguments args
 * (t->nargs of them) and options o to out, and sets *plan_name to the
 * plan's name (owned by the caller).  Returns 0, or -1 with a message in
 * err when an argument or option is invalid; out is then unspecified.
 */
int template_render(const struct template *t, char *const *args,
    const struct tmpl_opts *o, struct buf *out, char **plan_name,
    struct buf *err);

/* 0 when s is a plain lowercase identifier (see above), else -1 with err. */
int template_check_ident(const char *what, const char *s, struct buf *err);

#endif
