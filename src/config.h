/*
 * Configuration: built-in defaults < excon.yaml < environment < flags.
 * config.c reads the file and the environment; the command layer applies
 * flags last.
 */
#ifndef EXCON_CONFIG_H
#define EXCON_CONFIG_H

#include "buf.h"

struct config {
	char	*file;			/* the excon.yaml read, or NULL */
	char	**plan_dirs;		/* NULL-terminated */
	char	*state_path;
	char	*database;		/* conninfo; "" = libpq PG* environment */
	int	 database_set;		/* database came from file, env or flag */
	int	 contract_after;
	char	*lock_timeout;		/* e.g. "2s" */
	char	*statement_timeout;	/* "0" = none */
	int	 lock_retries;
	int	 batch_size;
	int	 target_batch_ms;
	int	 pause_ms;
	int	 lint_assume_tx;	/* lint.assume_in_transaction */
	char	**lint_exclude;		/* lint.exclude_rules: NULL-terminated, or NULL */
	long	 max_replica_lag_ms;	/* backfill pauses beyond it; 0 = never */
	long	 max_xact_age_ms;	/* backfill pauses beyond it; 0 = never */
	char	**replicas;		/* conninfos of standbys to watch, NULL-terminated */
	int	 probe;			/* CONFIG_PROBE_*: rule 9 */
};

/* The `probe:` setting: usage evidence before a contract (rule 9). */
#define CONFIG_PROBE_OFF	0
#define CONFIG_PROBE_ADVISORY	1	/* the default: warn, never refuse */
#define CONFIG_PROBE_REQUIRED	2	/* refuse without evidence of disuse */

/* Fills c with the built-in defaults. */
void config_init(struct config *c);
/*
 * Reads path (or, when NULL, $EXCON_CONFIG, else ./excon.yaml if present)
 * and then the EXCON_* environment.  An explicitly named file that is
 * missing is an error; so is any malformed or unknown field, reported as
 * file:line:col.
 */
int config_load(struct config *c, const char *path, struct buf *err);
/*
 * Replaces the plan directories with a ':'- or ','-separated list; a list
 * naming no directory leaves them unchanged.
 */
void config_set_plans(struct config *c, const char *list);
/* Replaces a string setting (frees the old value). */
void config_set_str(char **slot, const char *value);
/* Frees everything c owns. */
void config_free(struct config *c);

#endif
