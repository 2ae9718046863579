/*
 * excon.yaml and the EXCON_* environment.  Unknown keys are errors with a
 * position, as in plan files, because a misspelt setting silently ignored
 * is worse than a refusal.
 */
#include <errno.h>
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

/*
 * The `lint:` mapping: assume_in_transaction (a boolean) and
 * exclude_rules (a list of rule ids of the SQL analysis; an unknown id
 * is an error, since a misspelt id would silently exclude nothing).
 */
static int
lint_settings(struct config *c, const struct ynode *v, const char *file,
    struct buf *err)
{
	size_t j, k;

	if (v->type != YNODE_MAP)
		return error_set(err, "%s:%d:%d: \"lint\" must be a mapping", file,
		    v->pos.line, v->pos.col);
	for (j = 0; j < v->n; j++) {
		const char *lk = v->keys[j];
		const struct ynode *x = v->items[j];

		if (strcmp(lk, "assume_in_transaction") == 0) {
			if (x->type != YNODE_SCALAR || (strcmp(x->value, "true") != 0 &&
			    strcmp(x->value, "false") != 0))
				return error_set(err, "%s:%d:%d: \"assume_in_transaction\" "
				    "must be true or false", file, x->pos.line, x->pos.col);
			c->lint_assume_tx = strcmp(x->value, "true") == 0;
		} else if (strcmp(lk, "exclude_rules") == 0) {
			if (x->type != YNODE_SEQ)
				return error_set(err, "%s:%d:%d: \"exclude_rules\" must be "
				    "a list of rule ids", file, x->pos.line, x->pos.col);
			strv_free(c->lint_exclude);
			c->lint_exclude = xcalloc(x->n + 1, sizeof *c->lint_exclude);
			for (k = 0; k < x->n; k++) {
				const struct ynode *id = x->items[k];

				if (id->type != YNODE_SCALAR || sqlcheck_rule(id->value) ==
				    NULL)
					return error_set(err, "%s:%d:%d: exclude_rules: unknown "
					    "rule \"%s\" (excon lint --rules lists them)", file,
					    id->pos.line, id->pos.col, id->type == YNODE_SCALAR ?
					    id->value : "?");
				c->lint_exclude[k] = xstrdup(id->value);
			}
		} else
			return error_set(err, "%s:%d:%d: unknown lint setting \"%s\" "
			    "(expected assume_in_transaction or exclude_rules)", file,
			    v->key_pos[j].line, v->key_pos[j].col, lk);
	}
	return 0;
}

/* Applies the settings of a parsed excon.yaml. */
static int
apply_file(struct config *c, const struct ynode *root, const char *file,
    struct buf *err)
{
	size_t i, j;

	if (root == NULL)
		return 0;
	if (root->type != YNODE_MAP)
		return error_set(err, "%s:%d:%d: expected a mapping of settings",
		    file, root->pos.line, root->pos.col);
	for (i = 0; i < root->n; i++) {
		const char *k = root->keys[i];
		const struct ynode *v = root->items[i];
		struct pos kp = root->key_pos[i];

		/* A setting left empty (or ~) keeps its default. */
		if (ytree_is_null(v) && (strcmp(k, "plans") == 0 ||
		    strcmp(k, "replicas") == 0 ||
		    strcmp(k, "backfill") == 0 || strcmp(k, "contract_after") == 0 ||
		    strcmp(k, "lock_retries") == 0 || strcmp(k, "state") == 0 ||
		    strcmp(k, "database") == 0 || strcmp(k, "lock_timeout") == 0 ||
		    strcmp(k, "statement_timeout") == 0))
			continue;

		if (strcmp(k, "plans") == 0) {
			if ((v->type == YNODE_SCALAR && v->value[strspn(v->value,
			    ":,")] == '\0') || (v->type == YNODE_SEQ && v->n == 0))
				return error_set(err, "%s:%d:%d: \"plans\" names no "
				    "directory", file, v->pos.line, v->pos.col);
			if (v->type == YNODE_SCALAR) {
				config_set_plans(c, v->value);
				continue;
			}
			if (v->type != YNODE_SEQ)
				return error_set(err, "%s:%d:%d: \"plans\" must be a "
				    "directory or a list of directories", file,
				    v->pos.line, v->pos.col);
			strv_free(c->plan_dirs);
			c->plan_dirs = xcalloc(v->n + 1, sizeof *c->plan_dirs);
			for (j = 0; j < v->n; j++) {
				if (v->items[j]->type != YNODE_SCALAR ||
				    v->items[j]->value[0] == '\0')
					return error_set(err, "%s:%d:%d: expected a "
					    "directory", file, v->items[j]->pos.line,
					    v->items[j]->pos.col);
				c->plan_dirs[j] = xstrdup(v->items[j]->value);
			}
		} else if (strcmp(k, "backfill") == 0) {
			if (v->type != YNODE_MAP)
				return error_set(err, "%s:%d:%d: \"backfill\" must be a "
				    "mapping", file, v->pos.line, v->pos.col);
			for (j = 0; j < v->n; j++) {
				const char *bk = v->keys[j];
				long *dslot = strcmp(bk, "max_replica_lag") == 0 ?
				    &c->max_replica_lag_ms : strcmp(bk, "max_xact_age") == 0 ?
				    &c->max_xact_age_ms : NULL;
				int *slot = strcmp(bk, "batch_size") == 0 ? &c->batch_size :
				    strcmp(bk, "target_batch_ms") == 0 ? &c->target_batch_ms :
				    strcmp(bk, "pause_ms") == 0 ? &c->pause_ms : NULL;

				if (dslot != NULL) {
					const struct ynode *d = v->items[j];

					if (d->type != YNODE_SCALAR || pg_timeout_ms(d->value) < 0)
						return error_set(err, "%s:%d:%d: \"%s\" must be "
						    "a duration such as 2s or 10min (0 = off)",
						    file, d->pos.line, d->pos.col, bk);
					*dslot = pg_timeout_ms(d->value);
					continue;
				}
				if (slot == NULL)
					return error_set(err, "%s:%d:%d: unknown backfill "
					    "setting \"%s\" (expected batch_size, "
					    "target_batch_ms, pause_ms, max_replica_lag or "
					    "max_xact_age)", file,
					    v->key_pos[j].line, v->key_pos[j].col, bk);
				if (int_value(v->items[j], file, bk, slot, err) != 0)
					return -1;
			}
		} else if (strcmp(k, "lint") == 0) {
			if (lint_settings(c, v, file, err) != 0)
				return -1;
		} else if (strcmp(k, "contract_after") == 0) {
			if (int_value(v, file, k, &c->contract_after, err) != 0)
				return -1;
		} else if (strcmp(k, "lock_retries") == 0) {
			if (int_value(v, file, k, &c->lock_retries, err) != 0)
				return -1;
		} else if (strcmp(k, "replicas") == 0) {
			/* One conninfo, or a list of them; [] or empty = none. */
			strv_free(c->replicas);
			c->replicas = xcalloc((v->type == YNODE_SEQ ? v->n : 1) + 1,
			    sizeof *c->replicas);
			if (v->type == YNODE_SCALAR) {
				if (!ytree_is_null(v) && v->value[0] != '\0')
					c->replicas[0] = xstrdup(v->value);
				continue;
			}
			if (v->type != YNODE_SEQ)
				return error_set(err, "%s:%d:%d: \"replicas\" must be a "
				    "list of conninfos", file, v->pos.line, v->pos.col);
			for (j = 0; j < v->n; j++) {
				if (v->items[j]->type != YNODE_SCALAR ||
				    v->items[j]->value[0] == '\0')
					return error_set(err, "%s:%d:%d: expected a "
					    "conninfo", file, v->items[j]->pos.line,
					    v->items[j]->pos.col);
				c->replicas[j] = xstrdup(v->items[j]->value);
			}
		} else if (strcmp(k, "probe") == 0) {
			if (v->type != YNODE_SCALAR || (strcmp(v->value, "off") != 0 &&
			    strcmp(v->value, "advisory") != 0 &&
			    strcmp(v->value, "required") != 0))
				return error_set(err, "%s:%d:%d: \"probe\" must be off, "
				    "advisory or required", file, v->pos.line, v->pos.col);
			c->probe = strcmp(v->value, "off") == 0 ? CONFIG_PROBE_OFF :
			    strcmp(v->value, "required") == 0 ?
			    CONFIG_PROBE_REQUIRED : CONFIG_PROBE_ADVISORY;
		} else if (strcmp(k, "state") == 0 || strcmp(k, "database") == 0 ||
		    strcmp(k, "lock_timeout") == 0 ||
		    strcmp(k, "statement_timeout") == 0) {
			char **slot = strcmp(k, "state") == 0 ? &c->state_path :
			    strcmp(k, "database") == 0 ? &c->database :
			    strcmp(k, "lock_timeout") == 0 ? &c->lock_timeout :
			    &c->statement_timeout;

			if (v->type != YNODE_SCALAR)
				return error_set(err, "%s:%d:%d: \"%s\" must be a single "
				    "value", file, v->pos.line, v->pos.col, k);
			if (slot == &c->state_path && v->value[0] == '\0')
				return error_set(err, "%s:%d:%d: \"state\" names no "
				    "file", file, v->pos.line, v->pos.col);
			if ((slot == &c->lock_timeout || slot == &c->statement_timeout) &&
			    !plan_duration_valid(v->value))
				return error_set(err, "%s:%d:%d: \"%s\" must be a duration "
				    "like 2s, 500ms or 1min, not \"%s\"", file, v->pos.line,
				    v->pos.col, k, v->value);
			config_set_str(slot, v->value);
			if (slot == &c->database)
				c->database_set = 1;
		} else
			return error_set(err, "%s:%d:%d: unknown setting \"%s\" "
			    "(expected plans, state, database, contract_after, "
			    "lock_timeout, statement_timeout, lock_retries, "
			    "replicas, probe, backfill or lint)", file, kp.line, kp.col, k);
	}
	return 0;
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
