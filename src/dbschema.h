/*
 * The excon schema of a target database: the one owner of the tables
 * excon keeps there, of their DDL, of their versions, and of the advisory
 * locks excon takes (their keys, the plan lock).
 *
 * Parts, each a table (or tables) of schema `excon`:
 *   - DBSCHEMA_LEDGER: excon.ledger, the steps applied to this database
 *     (exec.c); version 1 had plan, step, checksum, applied_at, applied_by;
 *     version 2 added history_id, release and actor;
 *   - DBSCHEMA_BACKFILL: excon.backfill, the backfill cursors (backfill.c);
 *   - the shared history store (state-pg.c) in excon.store, excon.releases,
 *     excon.ships, excon.events, excon.chain and excon.backfills, whose
 *     version is the schema_version column of excon.store.
 *
 * The version of the ledger and of the cursors is recorded in the
 * database as the comment of its table ("excon schema version 2"), read
 * in the same round trip that looks for the table.  A table made before
 * versions were recorded has no such comment: its version is read from
 * its shape.  dbschema_ensure brings a part from the version found to
 * the current one by running the DDL of each later version in order, in
 * one transaction under the DDL advisory lock, so a future change is one
 * more entry of the part's list of versions.
 */
#ifndef EXCON_DBSCHEMA_H
#define EXCON_DBSCHEMA_H

#include "buf.h"

struct pg;

/*
 * The first key of excon's two-key advisory locks ("exco"); the second is
 * DBSCHEMA_LOCK_DDL while the ledger or the cursors are created, or a
 * hash of the plan's name for the plan lock (dbschema_plan_lock).
 */
#define DBSCHEMA_LOCK_CLASS	1702388591
#define DBSCHEMA_LOCK_DDL	0
/* The one-key advisory lock under which the shared store is created ("EXCN"). */
#define DBSCHEMA_LOCK_STORE	1163412302

/* A part of the excon schema that dbschema_ensure keeps current. */
enum dbschema_part {
	DBSCHEMA_LEDGER,
	DBSCHEMA_BACKFILL,
	DBSCHEMA__COUNT
};

/* The qualified table of a part, e.g. "excon.ledger". */
const char *dbschema_table(enum dbschema_part part);
/* The version of a part this excon writes. */
int dbschema_current(enum dbschema_part part);
/*
 * The DDL that brings part from version `from` (0 = absent) to the
 * current one, statements ending in ";", ending with the COMMENT that
 * records the version; appended to out.  Pure.
 */
void dbschema_ddl(enum dbschema_part part, int from, struct buf *out);

/*
 * Reads the version of part in the database: 0 when its table is
 * absent.  *owned (may be NULL) is 1 when the session's role owns the
 * table.  Creates nothing.
 */
int dbschema_version(struct pg *db, enum dbschema_part part, int *version,
    int *owned, struct buf *err);

/*
 * Makes sure part exists in its current version: creates it, or migrates
 * an older one, in one transaction under the DDL advisory lock.  A table
 * of the current shape made before versions were recorded is used as it
 * is (and stamped when the role owns it).  -1 with e.g. "cannot create
 * the excon ledger: permission denied for database x", or "the excon
 * ledger in this database was made by a newer excon (schema version 3;
 * this excon knows 2): upgrade excon".
 */
int dbschema_ensure(struct pg *db, enum dbschema_part part, struct buf *err);

/* The version of the shared store's tables, kept in excon.store.schema_version. */
#define DBSCHEMA_STORE_VERSION	1

/*
 * Tries to take the session advisory lock of plan, (DBSCHEMA_LOCK_CLASS,
 * a hash of its name), never waiting.  *got is 1 when taken (or already
 * held by this session); when another session holds it, *got is 0 and
 * holder receives e.g. "pid 123 on host [local], 'excon users/backfill'".
 */
int dbschema_plan_lock(struct pg *db, const char *plan, int *got,
    struct buf *holder, struct buf *err);
/* Releases the plan lock taken by dbschema_plan_lock. */
int dbschema_plan_unlock(struct pg *db, const char *plan, struct buf *err);

/*
 * The tables of the shared history store, version 1 with the later
 * columns of excon.backfills (idempotent; the caller adds the rows of
 * excon.store and excon.chain in the same transaction).
 */
extern const char dbschema_store_ddl[];
/* Adds the later columns of excon.backfills to a store made before them. */
extern const char dbschema_store_backfills_v2[];

#endif
