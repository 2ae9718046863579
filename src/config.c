/*
 * excon.yaml and the EXCON_* environment.  Unknown keys are errors with a
 * position, as in plan files, because a misspelt setting silently ignored
 * is worse than a refusal.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "pg.h"
#include "plan.h"
#include "sqlcheck.h"
#include "xalloc.h"
#include "ytree.h"

/* Built-in defaults. */
void
config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->plan_dirs = xcalloc(2, sizeof *c->plan_dirs);
	c->plan_dirs[0] = xstrdup("plans");
	c->state_path = xstrdup("state/excon.db");
	c->database = xstrdup("");
	c->contract_after = 2;
	c->lock_timeout = xstrdup("2s");
	c->statement_timeout = xstrdup("0");
	c->lock_retries = 10;
	c->batch_size = 1000;
	c->target_batch_ms = 25;
	c->pause_ms = 0;
	c->max_replica_lag_ms = 2000;
	c->max_xact_age_ms = 600000;
	c->replicas = xcalloc(1, sizeof *c->replicas);
	c->probe = CONFIG_PROBE_ADVISORY;
}

/* Replaces a string setting. */
void
config_set_str(char **slot, const char *value)
{
	free(*slot);
	*slot = xstrdup(value);
}

/*
 * Replaces the plan directories with a separated list.  A list naming no
 * directory leaves them unchanged, so that the list is never empty.
 */
void
config_set_plans(struct config *c, const char *list)
{
	const char *p = list, *end;
	char **dirs;
	size_t n = 0;

	dirs = xcalloc(strlen(list) + 2, sizeof *dirs);
	while (*p != '\0') {
		end = p + strcspn(p, ":,");
		if (end > p)
			dirs[n++] = xstrndup(p, (size_t)(end - p));
		p = *end ? end + 1 : end;
	}
	if (n == 0) {
		free(dirs);
		return;
	}
	strv_free(c->plan_dirs);
	c->plan_dirs = dirs;
}

/* Reads a non-negative integer setting. */
static int
int_value(const struct ynode *v, const char *file, const char *key, int *out,
    struct buf *err)
{
	char *end;
	long n;

	if (v->type != YNODE_SCALAR)
		return error_set(err, "%s:%d:%d: \"%s\" must be a number", file,
		    v->pos.line, v->pos.col, key);
	errno = 0;
	n = strtol(v->value, &end, 10);
	if (*v->value == '\0' || *end != '\0' || n < 0 || n > 1000000000 || errno)
		return error_set(err, "%s:%d:%d: \"%s\" must be a whole number, "
		    "not \"%s\"", file, v->pos.line, v->pos.col, key, v->value);
	*out = (int)n;
	return 0;
}

/* How a setting is read; each type has its own messages. */
enum key_type {
	KEY_DIRS,	/* one directory, a separated list, or a list */
	KEY_FILE,	/* a non-empty single value */
	KEY_CONNINFO,	/* a single value; marks database_set */
	KEY_DURATION,	/* a single value like 2s, 500ms or 1min */
	KEY_INT,	/* a whole number, 0 to 10^9 */
	KEY_MS,		/* a duration in milliseconds, 0 = off (long) */
	KEY_BOOL,	/* true or false */
	KEY_CONNINFOS,	/* a list of conninfos */
	KEY_PROBE,	/* off, advisory or required (CONFIG_PROBE_*) */
	KEY_RULES,	/* a list of SQL analysis rule ids */
	KEY_SECTION,	/* a mapping of the settings in sub */
};

/*
 * One setting of excon.yaml: its name, type and the field of struct config
 * it fills.  The tables below are the only list of settings: reading, the
 * "unknown setting" message and its list of expected names all come from
 * them, as plan.c's field table does for plan files.
 */
struct config_key {
	const char		*name;
	enum key_type		 type;
	size_t			 off;		/* offsetof(struct config, field) */
	int			 null_default;	/* empty or ~ keeps the default */
	const struct config_key	*sub;		/* KEY_SECTION: its settings */
};

#define F(field) offsetof(struct config, field)

static const struct config_key backfill_keys[] = {
	{ "batch_size", KEY_INT, F(batch_size), 0, NULL },
	{ "target_batch_ms", KEY_INT, F(target_batch_ms), 0, NULL },
	{ "pause_ms", KEY_INT, F(pause_ms), 0, NULL },
	{ "max_replica_lag", KEY_MS, F(max_replica_lag_ms), 0, NULL },
	{ "max_xact_age", KEY_MS, F(max_xact_age_ms), 0, NULL },
	{ NULL, 0, 0, 0, NULL }
};

static const struct config_key lint_keys[] = {
	{ "assume_in_transaction", KEY_BOOL, F(lint_assume_tx), 0, NULL },
	{ "exclude_rules", KEY_RULES, F(lint_exclude), 0, NULL },
	{ NULL, 0, 0, 0, NULL }
};

static const struct config_key top_keys[] = {
	{ "plans", KEY_DIRS, F(plan_dirs), 1, NULL },
	{ "state", KEY_FILE, F(state_path), 1, NULL },
	{ "database", KEY_CONNINFO, F(database), 1, NULL },
	{ "contract_after", KEY_INT, F(contract_after), 1, NULL },
	{ "lock_timeout", KEY_DURATION, F(lock_timeout), 1, NULL },
	{ "statement_timeout", KEY_DURATION, F(statement_timeout), 1, NULL },
	{ "lock_retries", KEY_INT, F(lock_retries), 1, NULL },
	{ "replicas", KEY_CONNINFOS, F(replicas), 1, NULL },
	{ "probe", KEY_PROBE, F(probe), 0, NULL },
	{ "backfill", KEY_SECTION, 0, 1, backfill_keys },
	{ "lint", KEY_SECTION, 0, 0, lint_keys },
	{ NULL, 0, 0, 0, NULL }
};

#undef F

/* The field of c that k fills. */
#define SLOT(c, k, type) ((type *)(void *)((char *)(c) + (k)->off))

/* Appends the names of table as "a, b or c". */
static void
key_names(struct buf *out, const struct config_key *table)
{
	size_t i;

	for (i = 0; table[i].name != NULL; i++)
		buf_printf(out, "%s%s", i == 0 ? "" : table[i + 1].name == NULL ?
		    " or " : ", ", table[i].name);
}

/* Reads a list of non-empty scalars into a fresh NULL-terminated *slot. */
static int
str_list(char ***slot, const struct ynode *v, const char *file,
    const char *what, struct buf *err)
{
	size_t j;

	strv_free(*slot);
	*slot = xcalloc(v->n + 1, sizeof **slot);
	for (j = 0; j < v->n; j++) {
		if (v->items[j]->type != YNODE_SCALAR || v->items[j]->value[0] == '\0')
			return error_set(err, "%s:%d:%d: expected a %s", file,
			    v->items[j]->pos.line, v->items[j]->pos.col, what);
		(*slot)[j] = xstrdup(v->items[j]->value);
	}
	return 0;
}

static int apply_map(struct config *c, const struct config_key *table,
    const char *section, const struct ynode *map, const char *file,
    struct buf *err);

/* Applies the value v of setting k. */
static int
apply_key(struct config *c, const struct config_key *k, const struct ynode *v,
    const char *file, struct buf *err)
{
	size_t j;

	switch (k->type) {
	case KEY_DIRS:
		if ((v->type == YNODE_SCALAR && v->value[strspn(v->value,
		    ":,")] == '\0') || (v->type == YNODE_SEQ && v->n == 0))
			return error_set(err, "%s:%d:%d: \"%s\" names no directory",
			    file, v->pos.line, v->pos.col, k->name);
		if (v->type == YNODE_SCALAR) {
			config_set_plans(c, v->value);
			return 0;
		}
		if (v->type != YNODE_SEQ)
			return error_set(err, "%s:%d:%d: \"%s\" must be a directory or "
			    "a list of directories", file, v->pos.line, v->pos.col,
			    k->name);
		return str_list(SLOT(c, k, char **), v, file, "directory", err);
	case KEY_FILE:
	case KEY_CONNINFO:
	case KEY_DURATION:
		if (v->type != YNODE_SCALAR)
			return error_set(err, "%s:%d:%d: \"%s\" must be a single value",
			    file, v->pos.line, v->pos.col, k->name);
		if (k->type == KEY_FILE && v->value[0] == '\0')
			return error_set(err, "%s:%d:%d: \"%s\" names no file", file,
			    v->pos.line, v->pos.col, k->name);
		if (k->type == KEY_DURATION && !plan_duration_valid(v->value))
			return error_set(err, "%s:%d:%d: \"%s\" must be a duration "
			    "like 2s, 500ms or 1min, not \"%s\"", file, v->pos.line,
			    v->pos.col, k->name, v->value);
		config_set_str(SLOT(c, k, char *), v->value);
		if (k->type == KEY_CONNINFO)
			c->database_set = 1;
		return 0;
	case KEY_INT:
		return int_value(v, file, k->name, SLOT(c, k, int), err);
	case KEY_MS:
		if (v->type != YNODE_SCALAR || pg_timeout_ms(v->value) < 0)
			return error_set(err, "%s:%d:%d: \"%s\" must be a duration such "
			    "as 2s or 10min (0 = off)", file, v->pos.line, v->pos.col,
			    k->name);
		*SLOT(c, k, long) = pg_timeout_ms(v->value);
		return 0;
	case KEY_BOOL:
		if (v->type != YNODE_SCALAR || (strcmp(v->value, "true") != 0 &&
		    strcmp(v->value, "false") != 0))
			return error_set(err, "%s:%d:%d: \"%s\" must be true or false",
			    file, v->pos.line, v->pos.col, k->name);
		*SLOT(c, k, int) = strcmp(v->value, "true") == 0;
		return 0;
	case KEY_CONNINFOS:
		if (v->type != YNODE_SEQ)
			return error_set(err, "%s:%d:%d: \"%s\" must be a list of "
			    "conninfos", file, v->pos.line, v->pos.col, k->name);
		return str_list(SLOT(c, k, char **), v, file, "conninfo", err);
	case KEY_PROBE:
		if (v->type != YNODE_SCALAR || (strcmp(v->value, "off") != 0 &&
		    strcmp(v->value, "advisory") != 0 &&
		    strcmp(v->value, "required") != 0))
			return error_set(err, "%s:%d:%d: \"%s\" must be off, advisory "
			    "or required", file, v->pos.line, v->pos.col, k->name);
		*SLOT(c, k, int) = strcmp(v->value, "off") == 0 ? CONFIG_PROBE_OFF :
		    strcmp(v->value, "required") == 0 ? CONFIG_PROBE_REQUIRED :
		    CONFIG_PROBE_ADVISORY;
		return 0;
	case KEY_RULES:
		/* An unknown id is an error: a misspelt one would exclude nothing. */
		if (v->type != YNODE_SEQ)
			return error_set(err, "%s:%d:%d: \"%s\" must be a list of rule "
			    "ids", file, v->pos.line, v->pos.col, k->name);
		for (j = 0; j < v->n; j++) {
			const struct ynode *id = v->items[j];

			if (id->type != YNODE_SCALAR || sqlcheck_rule(id->value) == NULL)
				return error_set(err, "%s:%d:%d: %s: unknown rule \"%s\" "
				    "(excon lint --rules lists them)", file, id->pos.line,
				    id->pos.col, k->name, id->type == YNODE_SCALAR ?
				    id->value : "?");
		}
		return str_list(SLOT(c, k, char **), v, file, "rule id", err);
	case KEY_SECTION:
		if (v->type != YNODE_MAP)
			return error_set(err, "%s:%d:%d: \"%s\" must be a mapping", file,
			    v->pos.line, v->pos.col, k->name);
		return apply_map(c, k->sub, k->name, v, file, err);
	}
	return 0;
}

/*
 * Applies a mapping of settings from table; section names the enclosing
 * setting in messages (NULL at the top).
 */
static int
apply_map(struct config *c, const struct config_key *table,
    const char *section, const struct ynode *map, const char *file,
    struct buf *err)
{
	size_t i, j;

	for (i = 0; i < map->n; i++) {
		const struct ynode *v = map->items[i];
		const struct config_key *k = NULL;

		for (j = 0; table[j].name != NULL && k == NULL; j++)
			if (strcmp(table[j].name, map->keys[i]) == 0)
				k = &table[j];
		if (k == NULL) {
			struct buf names = BUF_INIT;

			key_names(&names, table);
			error_set(err, "%s:%d:%d: unknown %s%ssetting \"%s\" (expected %s)",
			    file, map->key_pos[i].line, map->key_pos[i].col,
			    section ? section : "", section ? " " : "", map->keys[i],
			    buf_cstr(&names));
			buf_free(&names);
			return -1;
		}
		/* A setting left empty (or ~) keeps its default. */
		if (k->null_default && ytree_is_null(v))
			continue;
		if (apply_key(c, k, v, file, err) != 0)
			return -1;
	}
	return 0;
}

/* Applies the settings of a parsed excon.yaml. */
static int
apply_file(struct config *c, const struct ynode *root, const char *file,
    struct buf *err)
{
	if (root == NULL)
		return 0;
	if (root->type != YNODE_MAP)
		return error_set(err, "%s:%d:%d: expected a mapping of settings",
		    file, root->pos.line, root->pos.col);
	return apply_map(c, top_keys, NULL, root, file, err);
}

/* Reads the config file and the environment. */
int
config_load(struct config *c, const char *path, struct buf *err)
{
	struct ynode *root = NULL;
	const char *env;
	int ret = -1;

	/* Empty variables count as unset, like EXCON_PLANS and EXCON_STATE. */
	if (path == NULL && (env = getenv("EXCON_CONFIG")) != NULL && *env != '\0')
		path = env;
	if (path == NULL && access("excon.yaml", F_OK) == 0)
		path = "excon.yaml";
	if (path != NULL) {
		struct buf msg = BUF_INIT;
		struct pos at;

		if (ytree_load(&root, path, &at, &msg) != 0) {
			if (at.line > 0)
				error_set(err, "%s:%d:%d: %s", path, at.line, at.col,
				    buf_cstr(&msg));
			else
				error_set(err, "%s", buf_cstr(&msg));
			buf_free(&msg);
			goto done;
		}
		if (apply_file(c, root, path, err) != 0)
			goto done;
		config_set_str(&c->file, path);
	}
	if ((env = getenv("EXCON_PLANS")) != NULL && *env != '\0')
		config_set_plans(c, env);
	if ((env = getenv("EXCON_STATE")) != NULL && *env != '\0')
		config_set_str(&c->state_path, env);
	if ((env = getenv("EXCON_DATABASE")) != NULL) {
		config_set_str(&c->database, env);
		c->database_set = 1;
	}
	ret = 0;
done:
	ytree_free(root);
	return ret;
}

/* Frees the configuration. */
void
config_free(struct config *c)
{
	strv_free(c->plan_dirs);
	strv_free(c->replicas);
	free(c->file);
	strv_free(c->lint_exclude);
	free(c->state_path);
	free(c->database);
	free(c->lock_timeout);
	free(c->statement_timeout);
	memset(c, 0, sizeof *c);
}
