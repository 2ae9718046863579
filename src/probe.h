/*
 * The usage probe of rule 9: what PostgreSQL's own statistics say about
 * the use of what a contract removes.
 *
 * A snapshot of pg_stat_statements (queryid and calls per statement of
 * the current database, with the stats_reset time and the dealloc count
 * that show a reset or evicted entries) is taken when the evidence window
 * opens and kept in the history as text.  Later, every statement whose
 * calls grew since the snapshot is parsed (sqlcheck_uses) and matched
 * against the objects the contract removes; the catalog is searched for
 * views, rules, policies, triggers, indexes, constraints, generated
 * columns and SQL or PL/pgSQL functions that depend on them.
 *
 * Library module: functions return 0, or -1 with a message in err when
 * the database could not be read; "no evidence can be gathered" (the
 * extension missing, not preloaded, no permission) is not an error but
 * a result, with what is missing and how to enable it.
 *
 * The snapshot keeps counters, not statement texts: only a statement
 * whose calls grew can be evidence, and its text is read then, so the
 * history stays small (pg_stat_statements.max is 5000 by default).
 */
#ifndef EXCON_PROBE_H
#define EXCON_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pg.h"
#include "plan.h"
#include "sqlcheck.h"

/* One use of what a contract removes.  Strings are owned. */
struct probe_use {
	char	*where;		/* the server it ran on, e.g. "database" */
	char	*text;		/* shortened statement, or the catalog object */
	int64_t	 calls;		/* calls since the window opened; 0 = catalog */
};

/* The evidence for one plan.  Zeroed memory is empty. */
struct probe_result {
	int			 gathered;	/* 0: see missing */
	char			*missing;	/* what is missing, how to enable it */
	char			*reset;		/* a stats reset seen since the snapshot */
	struct probe_use	*uses;
	size_t			 nuses;
	size_t			 nservers;	/* servers read */
};

/* Frees what r owns, leaving it empty (NULL-safe). */
void probe_result_free(struct probe_result *r);

/*
 * The objects the contract steps of p remove (drop_column: a column,
 * drop_table: a table; other contract kinds remove nothing the
 * application names).  *out is owned by the caller (free); strings are
 * borrowed from p.  Returns the count.
 */
size_t probe_targets(const struct plan *p, struct use_target **out);

/*
 * Appends to snap the snapshot of db's pg_stat_statements, as the
 * section of the server named where: a line "@<TAB>where<TAB>stats_reset
 * <TAB>dealloc", then "queryid calls" lines.  A snapshot of several
 * servers is their sections one after the other, after a first line for
 * people.  When the statistics cannot be read, sets *missing (owned) to
 * what is missing and how to enable it and returns 0 with snap untouched.
 */
int probe_snapshot(struct pg *db, const char *where, struct buf *snap,
    char **missing, struct buf *err);

/*
 * Adds to res the statements of db (named where) whose calls grew since
 * where's section of snap (see probe_snapshot; NULL or no such section:
 * every call counts) and that use one of the n targets, and with catalog
 * set the catalog objects that depend on them (except excon's own sync
 * trigger and function, which the contract removes with the column).  A
 * reset since snap is noted in res->reset, and every call since the
 * reset counts.
 */
int probe_collect(struct pg *db, const char *where, const char *snap,
    int catalog, const struct use_target *t, size_t n,
    struct probe_result *res, struct buf *err);

/*
 * One server's pg_stat_statements (counters and texts, stats_reset and
 * dealloc), read once so that the evidence of many plans costs one read
 * per server, each text parsed at most once for all of them.
 */
struct probe_stats;

/*
 * Reads db's statistics into *out (owned, free with probe_stats_free).
 * "Cannot be read" is kept in the result, for probe_collect_stats to
 * report per plan, not an error.
 */
int probe_stats_read(struct pg *db, struct probe_stats **out,
    struct buf *err);
/* Frees statistics read by probe_stats_read (NULL-safe). */
void probe_stats_free(struct probe_stats *st);

/*
 * Names the targets of every plan whose evidence st will serve (borrowed,
 * until st is freed): the catalog's SQL and PL/pgSQL functions that may
 * name them are then read for all of them in one query, on first need,
 * not once per target.  Ignored once that read was made.
 */
void probe_stats_targets(struct probe_stats *st, const struct use_target *all,
    size_t nall);

/*
 * probe_collect with db's statistics read before by probe_stats_read
 * (st caches the parsed statements): db is only read for the catalog.
 */
int probe_collect_stats(struct pg *db, struct probe_stats *st,
    const char *where, const char *snap, int catalog,
    const struct use_target *t, size_t n, struct probe_result *res,
    struct buf *err);

#endif
