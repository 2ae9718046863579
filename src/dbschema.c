/*
 * The excon schema of a target database (see dbschema.h): the versioned
 * DDL of each part, the reading of the version recorded in the database,
 * dbschema_ensure, and the advisory locks excon takes there.  It speaks to
 * the server only through pg.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbschema.h"
#include "pg.h"

/* What a part's comment says, followed by its version. */
#define VERSION_TAG	"excon schema version "

/* One part: its table, its name in messages, its DDL per version. */
struct part {
	const char	*table;
	const char	*what;		/* "excon ledger" */
	/*
	 * SQL giving the version of a table made before versions were
	 * recorded, from its shape; $1 is the table.
	 */
	const char	*legacy;
	/* ddl[v - 1] brings version v - 1 to v; NULL-terminated. */
	const char	*ddl[4];
};

static const struct part parts[DBSCHEMA__COUNT] = {
	[DBSCHEMA_LEDGER] = {
		.table = "excon.ledger",
		.what = "excon ledger",
		.legacy = "CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute"
		    " WHERE attrelid = to_regclass($1) AND attname = 'history_id'"
		    " AND NOT attisdropped) THEN 2 ELSE 1 END",
		.ddl = {
			/* 1: the applied steps. */
			"CREATE SCHEMA IF NOT EXISTS excon;"
			"CREATE TABLE IF NOT EXISTS excon.ledger ("
			" plan text NOT NULL, step text NOT NULL, checksum text NOT NULL,"
			" applied_at timestamptz NOT NULL DEFAULT now(),"
			" applied_by text NOT NULL DEFAULT current_user,"
			" PRIMARY KEY (plan, step));",
			/*
			 * 2: the history that applied them.  The columns
			 * default to the session's settings, which
			 * exec_history_claim sets, so every INSERT records
			 * them.
			 */
			"ALTER TABLE excon.ledger"
			" ADD COLUMN IF NOT EXISTS history_id text"
			"  DEFAULT current_setting('excon.history_id', true),"
			" ADD COLUMN IF NOT EXISTS release text"
			"  DEFAULT current_setting('excon.release', true),"
			" ADD COLUMN IF NOT EXISTS actor text"
			"  DEFAULT current_setting('excon.actor', true);",
			NULL,
		},
	},
	[DBSCHEMA_BACKFILL] = {
		.table = "excon.backfill",
		.what = "excon backfill cursors",
		.legacy = "1",
		.ddl = {
			/* 1: one cursor per backfill step. */
			"CREATE SCHEMA IF NOT EXISTS excon;"
			"CREATE TABLE IF NOT EXISTS excon.backfill ("
			" plan text NOT NULL, step text NOT NULL,"
			" key_columns text[] NOT NULL, cursor text[],"
			" rows_done bigint NOT NULL DEFAULT 0, rows_updated bigint NOT NULL DEFAULT 0,"
			" rows_total bigint NOT NULL DEFAULT 0, finished boolean NOT NULL DEFAULT false,"
			" started_at timestamptz NOT NULL DEFAULT now(),"
			" updated_at timestamptz NOT NULL DEFAULT now(),"
			" PRIMARY KEY (plan, step));",
			NULL,
		},
	},
};

/* The later columns of excon.backfills: a running backfill's rate and pause. */
#define STORE_BACKFILLS_V2						\
	"ALTER TABLE excon.backfills"					\
	"  ADD COLUMN IF NOT EXISTS rate bigint NOT NULL DEFAULT 0,"	\
	"  ADD COLUMN IF NOT EXISTS waiting text,"			\
	"  ADD COLUMN IF NOT EXISTS waiting_since bigint NOT NULL DEFAULT 0;"

const char dbschema_store_backfills_v2[] = STORE_BACKFILLS_V2;

/*
 * The store, version 1.  The events trigger refuses UPDATE and DELETE
 * (whoever drops it is still caught by the hash chain); excon.chain holds
 * the chain's head.
 */
const char dbschema_store_ddl[] =
	"CREATE SCHEMA IF NOT EXISTS excon;"
	"CREATE TABLE IF NOT EXISTS excon.store ("
	"  k int PRIMARY KEY CHECK (k = 1),"
	"  schema_version int NOT NULL,"
	"  history_id text NOT NULL,"
	"  created_at bigint NOT NULL"
	");"
	"CREATE TABLE IF NOT EXISTS excon.releases ("
	"  seq bigint PRIMARY KEY,"
	"  name text NOT NULL UNIQUE,"
	"  state text NOT NULL CHECK (state IN ('started', 'deployed')),"
	"  note text,"
	"  started_at bigint NOT NULL,"
	"  finished_at bigint NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE IF NOT EXISTS excon.ships ("
	"  plan text NOT NULL,"
	"  step text NOT NULL,"
	"  idx int NOT NULL,"
	"  release_seq bigint NOT NULL,"
	"  checksum text NOT NULL,"
	"  status text NOT NULL CHECK (status IN ('done', 'failed')),"
	"  forced boolean NOT NULL DEFAULT false,"
	"  at bigint NOT NULL,"
	"  PRIMARY KEY (plan, step)"
	");"
	"CREATE TABLE IF NOT EXISTS excon.events ("
	"  id bigint PRIMARY KEY,"
	"  at bigint NOT NULL,"
	"  actor text NOT NULL,"
	"  kind text NOT NULL,"
	"  plan text,"
	"  step text,"
	"  release text,"
	"  detail text,"
	"  reason text,"
	"  hash text NOT NULL"
	");"
	"CREATE INDEX IF NOT EXISTS events_plan ON excon.events (plan, id);"
	"CREATE OR REPLACE FUNCTION excon.events_append_only() RETURNS trigger"
	"  LANGUAGE plpgsql AS $f$BEGIN"
	"  RAISE EXCEPTION 'the event log is append-only'; END$f$;"
	"CREATE OR REPLACE TRIGGER events_append_only BEFORE UPDATE OR DELETE"
	"  ON excon.events FOR EACH ROW"
	"  EXECUTE FUNCTION excon.events_append_only();"
	"CREATE TABLE IF NOT EXISTS excon.chain ("
	"  k int PRIMARY KEY CHECK (k = 1),"
	"  head_id bigint NOT NULL,"
	"  head_hash text NOT NULL"
	");"
	"CREATE TABLE IF NOT EXISTS excon.backfills ("
	"  plan text NOT NULL,"
	"  step text NOT NULL,"
	"  cursor text,"
	"  rows_done bigint NOT NULL DEFAULT 0,"
	"  rows_total bigint NOT NULL DEFAULT 0,"
	"  finished boolean NOT NULL DEFAULT false,"
	"  updated_at bigint NOT NULL,"
	"  PRIMARY KEY (plan, step)"
	");"
	STORE_BACKFILLS_V2;

/* The qualified table of a part. */
const char *
dbschema_table(enum dbschema_part part)
{
	return parts[part].table;
}

/* The number of versions of a part's list. */
int
dbschema_current(enum dbschema_part part)
{
	int n = 0;

	while (parts[part].ddl[n] != NULL)
		n++;
	return n;
}

/* Appends the DDL from version `from` to the current one (see dbschema.h). */
void
dbschema_ddl(enum dbschema_part part, int from, struct buf *out)
{
	const struct part *pt = &parts[part];
	int v, cur = dbschema_current(part);

	for (v = from < 0 ? 0 : from; v < cur; v++)
		buf_puts(out, pt->ddl[v]);
	buf_printf(out, "COMMENT ON TABLE %s IS '" VERSION_TAG "%d';", pt->table, cur);
}

/* The version in a comment of ours, or 0 when it is not one. */
static int
comment_version(const char *c)
{
	size_t n = strlen(VERSION_TAG);
	char *end;
	long v;

	if (c == NULL || strncmp(c, VERSION_TAG, n) != 0 || c[n] < '1' || c[n] > '9')
		return 0;
	v = strtol(c + n, &end, 10);
	if (*end != '\0' || v > 1000000)
		return 0;
	return (int)v;
}

/*
 * Reads what the database holds of part: *version (0 absent), *stamped
 * when the version comes from our comment, *owned when the role owns the
 * table.  One round trip.
 */
static int
part_read(struct pg *db, enum dbschema_part part, int *version, int *stamped,
    int *owned, struct buf *err)
{
	const struct part *pt = &parts[part];
	const char *params[] = { pt->table };
	struct pg_result *res = NULL;
	struct buf q = BUF_INIT;
	int ret = -1;

	*version = 0;
	*stamped = 0;
	*owned = 0;
	buf_printf(&q, "SELECT pg_catalog.to_regclass($1) IS NOT NULL,"
	    " pg_catalog.obj_description(to_regclass($1), 'pg_class'),"
	    " (SELECT pg_catalog.pg_has_role(relowner, 'USAGE') FROM pg_catalog.pg_class"
	    "  WHERE oid = to_regclass($1)), %s", pt->legacy);
	if (pg_exec(db, buf_cstr(&q), 1, params, &res, err) == -1)
		goto done;
	if (strcmp(pg_result_get(res, 0, 0), "t") == 0) {
		const char *o = pg_result_get(res, 0, 2);

		*version = comment_version(pg_result_get(res, 0, 1));
		*stamped = *version > 0;
		if (!*stamped)
			*version = atoi(pg_result_get(res, 0, 3));
		*owned = o != NULL && strcmp(o, "t") == 0;
	}
	ret = 0;
done:
	pg_result_free(res);
	buf_free(&q);
	return ret;
}

/* Reads the version of part (see dbschema.h). */
int
dbschema_version(struct pg *db, enum dbschema_part part, int *version,
    int *owned, struct buf *err)
{
	int stamped, own;

	if (part_read(db, part, version, &stamped, &own, err) == -1)
		return -1;
	if (owned != NULL)
		*owned = own;
	return 0;
}

/* Creates or migrates part (see dbschema.h). */
int
dbschema_ensure(struct pg *db, enum dbschema_part part, struct buf *err)
{
	const struct part *pt = &parts[part];
	int cur = dbschema_current(part);
	struct buf sql = BUF_INIT;
	int version, stamped, owned, ret = -1;

	if (part_read(db, part, &version, &stamped, &owned, err) == -1)
		goto done;
	if (version > cur) {
		error_set(err, "the %s in this database was made by a newer excon "
		    "(schema version %d; this excon knows %d): upgrade excon",
		    pt->what, version, cur);
		goto done;
	}
	if (version == cur) {
		/*
		 * Made by an excon that did not record versions: record it
		 * when we may, else use it as it is (a role that may write
		 * the table need not own it).
		 */
		if (!stamped && owned) {
			dbschema_ddl(part, cur, &sql);
			(void)pg_exec(db, buf_cstr(&sql), 0, NULL, NULL, NULL);
		}
		ret = 0;
		goto done;
	}
	/*
	 * The transaction-level advisory lock serialises two first uses,
	 * which would otherwise race on CREATE SCHEMA IF NOT EXISTS.
	 */
	buf_printf(&sql, "BEGIN;SELECT pg_catalog.pg_advisory_xact_lock(%d, %d);",
	    DBSCHEMA_LOCK_CLASS, DBSCHEMA_LOCK_DDL);
	dbschema_ddl(part, version, &sql);
	buf_puts(&sql, "COMMIT");
	if (pg_exec_script(db, buf_cstr(&sql), NULL, err) == -1) {
		if (err != NULL) {
			struct buf m = BUF_INIT;

			buf_printf(&m, "cannot create the %s: %s", pt->what, buf_cstr(err));
			error_set(err, "%s", buf_cstr(&m));
			buf_free(&m);
		}
		if (pg_in_transaction(db))
			(void)pg_exec(db, "ROLLBACK", 0, NULL, NULL, NULL);
		goto done;
	}
	ret = 0;
done:
	buf_free(&sql);
	return ret;
}

/* The second advisory key of a plan: FNV-1a of its name, kept positive. */
static unsigned
plan_key(const char *plan)
{
	uint32_t h = 2166136261u;

	for (; *plan != '\0'; plan++) {
		h ^= (unsigned char)*plan;
		h *= 16777619u;
	}
	return h & 0x7fffffffu;
}

/* Tries the plan's advisory lock; describes the holder when refused (see dbschema.h). */
int
dbschema_plan_lock(struct pg *db, const char *plan, int *got, struct buf *holder,
    struct buf *err)
{
	struct pg_result *res = NULL;
	char k1[16], k2[16];
	const char *params[] = { k1, k2 };
	int ret = -1;

	*got = 0;
	snprintf(k1, sizeof k1, "%d", DBSCHEMA_LOCK_CLASS);
	snprintf(k2, sizeof k2, "%u", plan_key(plan));
	if (pg_exec(db, "SELECT pg_catalog.pg_try_advisory_lock($1::int4, $2::int4)",
	    2, params, &res, err) == -1)
		goto done;
	if (strcmp(pg_result_get(res, 0, 0), "t") == 0) {
		*got = 1;
		ret = 0;
		goto done;
	}
	pg_result_free(res);
	res = NULL;
	/* Two-key advisory locks show as classid, objid, objsubid = 2. */
	if (pg_exec(db,
	    "SELECT a.pid, coalesce(a.client_hostname, host(a.client_addr), '[local]'),"
	    " coalesce(a.application_name, '')"
	    " FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
	    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
	    " AND l.database = (SELECT oid FROM pg_catalog.pg_database"
	    "  WHERE datname = current_database())"
	    " AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid LIMIT 1",
	    2, params, &res, err) == -1)
		goto done;
	if (holder != NULL) {
		buf_reset(holder);
		if (pg_result_nrows(res) == 0)
			buf_puts(holder, "a session that has just ended");
		else
			buf_printf(holder, "pid %s on host %s, '%s'",
			    pg_result_get(res, 0, 0), pg_result_get(res, 0, 1),
			    pg_result_get(res, 0, 2));
	}
	ret = 0;
done:
	pg_result_free(res);
	return ret;
}

/* Releases the plan's advisory lock. */
int
dbschema_plan_unlock(struct pg *db, const char *plan, struct buf *err)
{
	char k1[16], k2[16];
	const char *params[] = { k1, k2 };

	snprintf(k1, sizeof k1, "%d", DBSCHEMA_LOCK_CLASS);
	snprintf(k2, sizeof k2, "%u", plan_key(plan));
	return pg_exec(db, "SELECT pg_catalog.pg_advisory_unlock($1::int4, $2::int4)",
	    2, params, NULL, err);
}
