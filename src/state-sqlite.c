/*
 * The state store on SQLite: one backend behind state-be.h, which the
 * facade (state.c) opens for a file path and calls through the table at
 * the end of this file.  This is the only file that includes sqlite3.h;
 * everything else sees the narrow interface of state.h.
 *
 * Safety of an existing file comes first: before SQLite is allowed near a
 * file, its first 100 bytes are read with plain read(2) and checked for the
 * SQLite magic, the excon application id and a schema version this excon
 * knows.  A file failing any of these is refused without ever being opened
 * by SQLite, so it stays byte-for-byte untouched and grows no -wal/-shm/
 * -journal side files.  Only then is it opened read-write, and the same
 * facts are checked again through SQLite (in WAL mode the newest page 1 may
 * live in the -wal file), and PRAGMA quick_check runs before the first
 * write (see integrity_check).
 *
 * A new file is created by us with open(O_CREAT | O_EXCL, 0600), so its
 * mode never depends on the umask, and SQLite's side files inherit that
 * mode.  The schema is written in rollback-journal mode, in one transaction
 * that also sets application_id and user_version, and only then is the file
 * switched to WAL; so a non-empty excon file always carries its application
 * id in the main file, where the raw header check looks for it.  An empty
 * (0-byte) file is therefore treated as "not created yet": initialised when
 * create is set (it is what a concurrent excon leaves between its open(2)
 * and its first commit, or what `touch` leaves), refused otherwise.
 *
 * Clock: times are unix seconds from time(NULL), unless EXCON_NOW holds a
 * number of unix seconds, which then is "now" (tests use it to fix the
 * clock; it is not meant for production use): state_clock, in
 * state-common.c with the rest of what both stores share.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "state-be.h"
#include "xalloc.h"

/* PRAGMA application_id of every excon state file: "EXCN". */
#define STATE_APPLICATION_ID	0x4558434e

/*
 * How long a writer waits for another to finish.  Every excon transaction
 * is short (milliseconds), so 30 s lets dozens of concurrent writers queue
 * up behind each other instead of failing with "database is locked".
 */
#define STATE_BUSY_TIMEOUT_MS	30000

/* An open state file: the backend handle of every function below. */
struct ssq {
	sqlite3	*db;
	char	*path;
	int	 unchecked;	/* quick_check still owed before a write */
	int	 readonly;	/* opened read-only: the file or its directory is */
	char	*history_id;	/* from the history table */
};

static void	ssq_close(void *be);
static int	ssq_begin(void *be, struct buf *err);
static int	ssq_commit(void *be, struct buf *err);
static void	ssq_rollback(void *be);

/*
 * The schema of version 1.  events is append-only: the triggers refuse
 * UPDATE and DELETE (defence in depth; whoever drops them is still caught
 * by the hash chain).  chain holds the head of the hash chain (the newest
 * id and hash, updated in the same transaction as each insert), which is
 * how state_log_verify notices that the newest events were deleted: the
 * chain of the remaining events is intact, but no longer reaches the head.
 */
static const char schema_v1[] =
	"CREATE TABLE releases ("
	"  seq INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  state TEXT NOT NULL CHECK (state IN ('started', 'deployed')),"
	"  note TEXT,"
	"  started_at INTEGER NOT NULL,"
	"  finished_at INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE ships ("
	"  plan TEXT NOT NULL,"
	"  step TEXT NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  release_seq INTEGER NOT NULL,"
	"  checksum TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('done', 'failed')),"
	"  forced INTEGER NOT NULL DEFAULT 0,"
	"  at INTEGER NOT NULL,"
	"  PRIMARY KEY (plan, step)"
	");"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  plan TEXT,"
	"  step TEXT,"
	"  release TEXT,"
	"  detail TEXT,"
	"  reason TEXT,"
	"  hash TEXT NOT NULL"
	");"
	"CREATE INDEX events_plan ON events (plan, id);"
	"CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
	"  BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;"
	"CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
	"  BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;"
	"CREATE TABLE chain ("
	"  k INTEGER PRIMARY KEY CHECK (k = 1),"
	"  head_id INTEGER NOT NULL,"
	"  head_hash TEXT NOT NULL"
	");"
	"INSERT INTO chain VALUES (1, 0, '" STATE_GENESIS_HASH "');"
	"CREATE TABLE backfills ("
	"  plan TEXT NOT NULL,"
	"  step TEXT NOT NULL,"
	"  cursor TEXT,"
	"  rows_done INTEGER NOT NULL DEFAULT 0,"
	"  rows_total INTEGER NOT NULL DEFAULT 0,"
	"  finished INTEGER NOT NULL DEFAULT 0,"
	"  updated_at INTEGER NOT NULL,"
	"  PRIMARY KEY (plan, step)"
	");";

/*
 * Upgrades, in order: entry i takes a file from schema version i + 1 to
 * i + 2.  Adding schema version 2 means bumping STATE_SCHEMA_VERSION and
 * appending its SQL here; state_open then copies an older file aside
 * (path.v<N>.bak) and runs the missing entries in one transaction.
 */
static const char *const migrations[] = {
	/*
	 * 2: the history's id, made once (random, 128 bits) and kept by
	 * `excon state copy`; the ledger of every database this history
	 * migrates records it, so that another history is refused there.
	 */
	"CREATE TABLE history ("
	"  k INTEGER PRIMARY KEY CHECK (k = 1),"
	"  id TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	");"
	"INSERT INTO history VALUES (1, lower(hex(randomblob(16))),"
	"  CAST(strftime('%s', 'now') AS INTEGER));",
	/* 3: a running backfill's rate and what it is paused for, for status. */
	"ALTER TABLE backfills ADD COLUMN rate INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE backfills ADD COLUMN waiting TEXT;"
	"ALTER TABLE backfills ADD COLUMN waiting_since INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 4: events by kind, so that audit reads the overrides and the
	 * evidence snapshots without scanning the whole log.
	 */
	"CREATE INDEX events_kind ON events (kind, id);",
};

/*
 * The oldest schema that reads like the newest without an upgrade: a file
 * that cannot be written here is read as it is from this version on
 * (schema 4 only added an index).
 */
#define SCHEMA_READABLE	3

/* The tables a version-1 file must have. */
static const char *const schema_tables[] = {
	"releases", "ships", "events", "chain", "backfills",
};

/* Sets err to "what 'path': sqlite message" and returns -1. */
static int
db_error(struct ssq *st, struct buf *err, const char *what)
{
	int code = sqlite3_extended_errcode(st->db) & 0xff;

	if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		return error_set(err, "'%s' is corrupt: %s", st->path,
		    sqlite3_errmsg(st->db));
	return error_set(err, "%s '%s': %s", what, st->path,
	    sqlite3_errmsg(st->db));
}

/* Runs SQL without results; on failure err says what failed. */
static int
db_exec(struct ssq *st, const char *sql, const char *what, struct buf *err)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(st, err, what);
	return 0;
}

/* Prepares one statement into *out (owned by the caller). */
static int
db_prepare(struct ssq *st, sqlite3_stmt **out, const char *sql,
    struct buf *err)
{
	*out = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK)
		return db_error(st, err, "cannot query state file");
	return 0;
}

/* Binds a C string, or NULL, as a text parameter. */
static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

/* Column i as a fresh string (owned), or NULL when SQL NULL. */
static char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	if (v == NULL)
		return NULL;
	return xstrndup((const char *)v, (size_t)sqlite3_column_bytes(s, i));
}

/* Reads one integer pragma (application_id, user_version) into *out. */
static int
pragma_int(struct ssq *st, const char *name, int64_t *out, struct buf *err)
{
	sqlite3_stmt *s = NULL;
	char *sql = xasprintf("PRAGMA %s", name);
	int ret = -1;

	if (db_prepare(st, &s, sql, err) == -1)
		goto done;
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_error(st, err, "cannot read");
		goto done;
	}
	*out = sqlite3_column_int64(s, 0);
	ret = 0;
done:
	sqlite3_finalize(s);
	free(sql);
	return ret;
}

/*
 * Starts a transaction of our own when the caller has none open, so that
 * every mutating function is atomic on its own too.  *own says whether
 * tx_leave must end it.
 */
static int
tx_enter(struct ssq *st, int *own, struct buf *err)
{
	*own = 0;
	if (!sqlite3_get_autocommit(st->db))
		return 0;
	if (ssq_begin(st, err) == -1)
		return -1;
	*own = 1;
	return 0;
}

/* Ends the transaction tx_enter started: commit when ok, else roll back. */
static int
tx_leave(struct ssq *st, int own, int ok, struct buf *err)
{
	if (!own)
		return ok ? 0 : -1;
	if (!ok) {
		ssq_rollback(st);
		return -1;
	}
	return ssq_commit(st, err);
}

/* Reads a 32-bit big-endian integer. */
static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/*
 * Looks at the file header without SQLite.  *empty is set for a 0-byte
 * file; otherwise the file must be an SQLite database with excon's
 * application id and a schema version this excon knows.
 */
static int
header_check(const char *path, int *empty, struct buf *err)
{
	unsigned char h[100];
	struct stat sb;
	uint32_t appid, version;
	ssize_t n;
	size_t got = 0;
	int fd = -1, ret = -1;

	*empty = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		error_set(err, "cannot open '%s': %s", path, strerror(errno));
		goto done;
	}
	if (fstat(fd, &sb) == -1) {
		error_set(err, "cannot stat '%s': %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		error_set(err, "'%s' is not a regular file", path);
		goto done;
	}
	if (sb.st_size == 0) {
		*empty = 1;
		ret = 0;
		goto done;
	}
	while (got < sizeof h) {
		n = read(fd, h + got, sizeof h - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error_set(err, "cannot read '%s': %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof h || memcmp(h, "SQLite format 3", 16) != 0) {
		error_set(err, "'%s' is not an excon state file", path);
		goto done;
	}
	version = be32(h + 60);
	appid = be32(h + 68);
	if (appid != STATE_APPLICATION_ID) {
		error_set(err, "'%s' is not an excon state file (it is an "
		    "SQLite database of another application)", path);
		goto done;
	}
	/* user_version is a signed 32-bit integer: -1 is corrupt, not newer. */
	if ((int32_t)version > STATE_SCHEMA_VERSION) {
		error_set(err, "'%s' was written by a newer excon (state schema "
		    "%" PRIu32 ", this excon knows %d): upgrade excon", path,
		    version, STATE_SCHEMA_VERSION);
		goto done;
	}
	if ((int32_t)version < 1) {
		error_set(err, "'%s' is corrupt: it carries no schema version",
		    path);
		goto done;
	}
	ret = 0;
done:
	if (fd != -1)
		close(fd);
	return ret;
}

/*
 * Writes the version-1 schema into a file that is still empty.  Runs in an
 * immediate transaction and re-checks inside it, because another excon may
 * have initialised the file since we looked.
 */
static int
schema_init(struct ssq *st, struct buf *err)
{
	sqlite3_stmt *s = NULL;
	int64_t appid = 0, nobjects = 0;
	char *sql = NULL;
	int ret = -1;

	if (ssq_begin(st, err) == -1)
		goto done;
	if (pragma_int(st, "application_id", &appid, err) == -1)
		goto done;
	if (db_prepare(st, &s, "SELECT count(*) FROM sqlite_schema",
	    err) == -1)
		goto done;
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_error(st, err, "cannot read");
		goto done;
	}
	nobjects = sqlite3_column_int64(s, 0);
	if (appid == 0 && nobjects != 0) {
		/* Someone else's database appeared since we looked. */
		error_set(err, "'%s' is not an excon state file", st->path);
		goto done;
	}
	if (appid == 0) {
		sql = xasprintf("%s%s%s%sPRAGMA application_id = %d;"
		    "PRAGMA user_version = %d;", schema_v1, migrations[0],
		    migrations[1], migrations[2], STATE_APPLICATION_ID,
		    STATE_SCHEMA_VERSION);
		if (db_exec(st, sql, "cannot create state file", err) == -1)
			goto done;
	}
	if (ssq_commit(st, err) == -1)
		goto done;
	ret = 0;
done:
	sqlite3_finalize(s);
	if (ret == -1)
		ssq_rollback(st);
	free(sql);
	return ret;
}

/*
 * Checks, through SQLite and before anything is written, that the open
 * file is an excon state file of a known version and not corrupt; sets
 * *version to its schema version.
 */
static int
schema_check(struct ssq *st, int64_t *version, struct buf *err)
{
	sqlite3_stmt *s = NULL;
	int64_t appid = 0;
	size_t i;
	int ret = -1;

	if (pragma_int(st, "application_id", &appid, err) == -1 ||
	    pragma_int(st, "user_version", version, err) == -1)
		goto done;
	if (appid != STATE_APPLICATION_ID) {
		error_set(err, "'%s' is not an excon state file", st->path);
		goto done;
	}
	if (*version > STATE_SCHEMA_VERSION) {
		error_set(err, "'%s' was written by a newer excon (state schema "
		    "%" PRId64 ", this excon knows %d): upgrade excon",
		    st->path, *version, STATE_SCHEMA_VERSION);
		goto done;
	}
	if (*version < 1) {
		error_set(err, "'%s' is corrupt: it carries no schema version",
		    st->path);
		goto done;
	}
	if (db_prepare(st, &s, "SELECT 1 FROM sqlite_schema "
	    "WHERE type = 'table' AND name = ?", err) == -1)
		goto done;
	for (i = 0; i < sizeof schema_tables / sizeof *schema_tables; i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, schema_tables[i], -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_ROW) {
			error_set(err, "'%s' is corrupt: table '%s' is missing",
			    st->path, schema_tables[i]);
			goto done;
		}
	}
	ret = 0;
done:
	sqlite3_finalize(s);
	return ret;
}

/*
 * PRAGMA quick_check, once per open and before the first write.
 *
 * Why not at every open: it reads every page, which made it the largest
 * single cost of a read-only command such as status on a big state file.
 * A command that only reads needs no more than what SQLite checks on the
 * pages it reads (a damaged one fails with SQLITE_CORRUPT, reported as
 * "is corrupt" by db_error); a command that writes must not build on a
 * damaged b-tree, so the full check runs before its first write.
 */
static int
integrity_check(struct ssq *st, struct buf *err)
{
	sqlite3_stmt *s = NULL;
	const char *msg;
	int rc, ret = -1;

	if (!st->unchecked)
		return 0;
	if (db_prepare(st, &s, "PRAGMA quick_check", err) == -1)
		goto done;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		msg = (const char *)sqlite3_column_text(s, 0);
		if (msg == NULL || strcmp(msg, "ok") != 0) {
			error_set(err, "'%s' is corrupt: %s", st->path,
			    msg != NULL ? msg : "unreadable");
			goto done;
		}
	}
	if (rc != SQLITE_DONE) {
		error_set(err, "'%s' is corrupt: %s", st->path,
		    sqlite3_errmsg(st->db));
		goto done;
	}
	st->unchecked = 0;
	ret = 0;
done:
	sqlite3_finalize(s);
	return ret;
}

/* Checks the whole file now (see state_check). */
static int
ssq_check(void *be, struct buf *err)
{
	struct ssq *st = be;

	st->unchecked = 1;
	return integrity_check(st, err);
}

/* Puts the file in WAL mode unless it already is (the mode persists). */
static int
wal_enable(struct ssq *st, struct buf *err)
{
	sqlite3_stmt *s = NULL;
	const char *mode;
	int rc, waited, ret = -1;

	if (db_prepare(st, &s, "PRAGMA journal_mode", err) == -1)
		goto done;
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_error(st, err, "cannot read");
		goto done;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode != NULL && strcmp(mode, "wal") == 0) {
		ret = 0;
		goto done;
	}
	sqlite3_finalize(s);
	s = NULL;
	/* The switch writes the file header. */
	if (integrity_check(st, err) == -1)
		goto done;
	if (db_prepare(st, &s, "PRAGMA journal_mode = WAL", err) == -1)
		goto done;
	/*
	 * The switch needs an exclusive lock, and SQLite does not always wait
	 * for it through the busy handler (other excon processes may be
	 * reading the new file), so retry for as long as the busy timeout.
	 */
	for (waited = 0; (rc = sqlite3_step(s)) != SQLITE_ROW; waited += 10) {
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		if (waited >= STATE_BUSY_TIMEOUT_MS)
			break;
		sqlite3_reset(s);
		sqlite3_sleep(10);
	}
	if (rc != SQLITE_ROW) {
		db_error(st, err, "cannot switch to WAL mode");
		goto done;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		error_set(err, "cannot switch '%s' to WAL mode", st->path);
		goto done;
	}
	ret = 0;
done:
	sqlite3_finalize(s);
	return ret;
}

/*
 * Copies the file aside as path.v<version>.bak (mode 0600) before an
 * upgrade.  An existing backup is kept: it is the older, and so the more
 * precious, copy (or a concurrent excon is writing the same one).
 */
static int
schema_backup(struct ssq *st, int64_t version, struct buf *err)
{
	sqlite3_stmt *s = NULL;
	char *bak = xasprintf("%s.v%" PRId64 ".bak", st->path, version);
	int fd, ret = -1;

	fd = open(bak, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST) {
		ret = 0;
		goto done;
	}
	if (fd == -1) {
		error_set(err, "cannot create '%s': %s", bak, strerror(errno));
		goto done;
	}
	close(fd);
	/* VACUUM INTO writes a consistent snapshot, WAL contents included. */
	if (db_prepare(st, &s, "VACUUM INTO ?", err) == -1)
		goto done;
	sqlite3_bind_text(s, 1, bak, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		error_set(err, "cannot copy '%s' to '%s': %s", st->path, bak,
		    sqlite3_errmsg(st->db));
		unlink(bak);
		goto done;
	}
	ret = 0;
done:
	sqlite3_finalize(s);
	free(bak);
	return ret;
}

/* Upgrades an older file to STATE_SCHEMA_VERSION, after a backup. */
static int
schema_upgrade(struct ssq *st, int64_t version, struct buf *err)
{
	char *sql = NULL;
	int64_t v;
	int ret = -1;

	if (version >= STATE_SCHEMA_VERSION)
		return 0;
	if (schema_backup(st, version, err) == -1)
		goto done;
	if (ssq_begin(st, err) == -1)
		goto done;
	/* Another excon may have upgraded it since we looked. */
	if (pragma_int(st, "user_version", &version, err) == -1)
		goto done;
	for (v = version; v < STATE_SCHEMA_VERSION; v++) {
		if ((size_t)v - 1 >= sizeof migrations / sizeof *migrations ||
		    migrations[v - 1] == NULL) {
			error_set(err, "cannot upgrade '%s' from state schema "
			    "%" PRId64, st->path, v);
			goto done;
		}
		if (db_exec(st, migrations[v - 1], "cannot upgrade", err) == -1)
			goto done;
	}
	sql = xasprintf("PRAGMA user_version = %d", STATE_SCHEMA_VERSION);
	if (db_exec(st, sql, "cannot upgrade", err) == -1)
		goto done;
	if (ssq_commit(st, err) == -1)
		goto done;
	ret = 0;
done:
	if (ret == -1)
		ssq_rollback(st);
	free(sql);
	return ret;
}

/*
 * 1 when this process cannot write path, or cannot create the journal
 * files beside it: the store is then opened read-only, so that commands
 * which only read the history still work (an auditor's copy, a read-only
 * mount).  Root passes every access check except a read-only mount.
 */
static int
place_readonly(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int ro;

	if (access(path, W_OK) != 0)
		return errno == EACCES || errno == EROFS || errno == EPERM;
	dir = slash == NULL ? xstrdup(".") : slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
	ro = access(dir, W_OK) != 0 && (errno == EACCES || errno == EROFS ||
	    errno == EPERM);
	free(dir);
	return ro;
}

/*
 * The "file:" URI that opens path read-only and immutable: SQLite then
 * needs no -shm file, which a read-only directory could not hold.  Only
 * used when no -wal file exists, so that every committed change is in
 * the main file.
 */
static char *
immutable_uri(const char *path)
{
	struct buf b = BUF_INIT;
	const unsigned char *p;

	buf_puts(&b, "file:");
	for (p = (const unsigned char *)path; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~", *p) != NULL)
			buf_putc(&b, (char)*p);
		else
			buf_printf(&b, "%%%02X", *p);
	}
	buf_puts(&b, "?mode=ro&immutable=1");
	return buf_detach(&b);
}

/* Opens (creating when asked) and checks the state file; see state_open. */
int
state_sqlite_open(void **be, const char *path, int create, struct buf *err)
{
	struct ssq *st = NULL;
	int64_t version = 0;
	char *uri = NULL;
	int fd, empty = 0, ret = -1;

	*be = NULL;
	if (create) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST) {
			error_set(err, "cannot create '%s': %s", path,
			    strerror(errno));
			goto done;
		}
		if (fd != -1)
			close(fd);
	}
	if (header_check(path, &empty, err) == -1)
		goto done;
	if (empty && !create) {
		error_set(err, "'%s' is empty, not an excon state file", path);
		goto done;
	}

	st = xcalloc(1, sizeof *st);
	st->path = xstrdup(path);
	/*
	 * Symbolic links are followed, as in header_check: a state file on a
	 * shared volume may well be reached through one.
	 */
	st->readonly = !create && place_readonly(path);
	if (st->readonly) {
		char *wal = xasprintf("%s-wal", path);

		uri = access(wal, F_OK) != 0 ? immutable_uri(path) : NULL;
		free(wal);
	}
	if (sqlite3_open_v2(uri != NULL ? uri : path, &st->db, (st->readonly ?
	    SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX |
	    (uri != NULL ? SQLITE_OPEN_URI : 0), NULL) != SQLITE_OK) {
		if (st->db == NULL)
			error_set(err, "cannot open '%s': out of memory", path);
		else
			db_error(st, err, "cannot open");
		goto done;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STATE_BUSY_TIMEOUT_MS);

	if (empty && schema_init(st, err) == -1)
		goto done;
	if (schema_check(st, &version, err) == -1)
		goto done;
	/* A command that opens to write checks the whole file now. */
	st->unchecked = 1;
	if (create && integrity_check(st, err) == -1)
		goto done;
	if (st->readonly && version < SCHEMA_READABLE) {
		error_set(err, "'%s' has state schema %" PRId64 " and is read-only "
		    "here: run excon once where it may write the file, to "
		    "upgrade it", path, version);
		goto done;
	}
	/* Nothing was written before this point. */
	if (!st->readonly && wal_enable(st, err) == -1)
		goto done;
	if (db_exec(st, "PRAGMA foreign_keys = ON; "
	    "PRAGMA synchronous = NORMAL", "cannot set up", err) == -1)
		goto done;
	/* A file read as it is stays as it is (see SCHEMA_READABLE). */
	if (!st->readonly && schema_upgrade(st, version, err) == -1)
		goto done;
	*be = st;
	st = NULL;
	ret = 0;
done:
	free(uri);
	ssq_close(st);
	return ret;
}

/* Rolls back any open transaction and closes the file (NULL-safe). */
static void
ssq_close(void *be)
{
	struct ssq *st = be;

	if (st == NULL)
		return;
	if (st->db != NULL) {
		ssq_rollback(st);
		sqlite3_close_v2(st->db);
	}
	free(st->path);
	free(st->history_id);
	free(st);
}

/* BEGIN IMMEDIATE: waits (busy timeout) until no other writer is active. */
static int
ssq_begin(void *be, struct buf *err)
{
	struct ssq *st = be;

	if (!sqlite3_get_autocommit(st->db))
		return error_set(err, "a transaction on '%s' is already open",
		    st->path);
	if (st->readonly)
		return error_set(err, "cannot change the history: '%s' (or its "
		    "directory) is read-only here", st->path);
	if (integrity_check(st, err) == -1)
		return -1;
	return db_exec(st, "BEGIN IMMEDIATE", "cannot lock", err);
}

/* Commits; on failure rolls back so the store is usable again. */
static int
ssq_commit(void *be, struct buf *err)
{
	struct ssq *st = be;

	if (sqlite3_get_autocommit(st->db))
		return error_set(err, "no transaction on '%s' to commit",
		    st->path);
	if (db_exec(st, "COMMIT", "cannot commit to", err) == -1) {
		ssq_rollback(st);
		return -1;
	}
	return 0;
}

/* Rolls back the open transaction, if any. */
static void
ssq_rollback(void *be)
{
	struct ssq *st = be;

	if (st == NULL || st->db == NULL || sqlite3_get_autocommit(st->db))
		return;
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Feeds every row of s, a statement over ships, to f; -1 on failure. */
static int
ships_read(struct ssq *st, sqlite3_stmt *s, struct history_fill *f,
    struct buf *err)
{
	struct state_ship row;
	int rc;

	memset(&row, 0, sizeof row);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row.plan = (char *)sqlite3_column_text(s, 0);
		row.step = (char *)sqlite3_column_text(s, 1);
		row.idx = sqlite3_column_int(s, 2);
		row.release_seq = sqlite3_column_int64(s, 3);
		row.checksum = (char *)sqlite3_column_text(s, 4);
		row.forced = sqlite3_column_int(s, 6) != 0;
		row.at = sqlite3_column_int64(s, 7);
		history_fill_ship(f, &row, (const char *)sqlite3_column_text(s, 5));
	}
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot read ships from");
	return 0;
}

/*
 * Fills h (owned by the caller) with every release and the ships of the
 * nplans plans named, or of every plan when plans is NULL, in order
 * (history_fill does the ordering and the copying for every store).
 */
static int
ssq_history_load(void *be, struct state_history *h, char *const *plans,
    size_t nplans, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	struct history_fill f;
	int64_t hint = 0;
	size_t i;
	int rc, ret = -1;

	/*
	 * The largest rowid is at least the number of ships and costs one
	 * descent of the b-tree: the array is sized once, not copied as it
	 * grows.
	 */
	if (plans == NULL) {
		if (db_prepare(st, &s, "SELECT max(rowid) FROM ships", err) == -1)
			return -1;
		if (sqlite3_step(s) == SQLITE_ROW)
			hint = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		s = NULL;
	}
	history_fill_init(&f, h, hint > 0 && hint < 10000000 ? (size_t)hint : 0);
	if (db_prepare(st, &s, "SELECT seq, name, state, note, started_at, "
	    "finished_at FROM releases ORDER BY seq", err) == -1)
		goto done;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		history_fill_release(&f, sqlite3_column_int64(s, 0),
		    (const char *)sqlite3_column_text(s, 1),
		    (const char *)sqlite3_column_text(s, 2),
		    (const char *)sqlite3_column_text(s, 3),
		    sqlite3_column_int64(s, 4), sqlite3_column_int64(s, 5));
	if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read releases from");
		goto done;
	}
	sqlite3_finalize(s);
	s = NULL;

	/*
	 * Every ship: a plain table scan, ordered by history_fill (letting
	 * SQLite ORDER BY plan, idx costs a temporary b-tree, or an index
	 * seek per row, several times the scan itself).  A few plans' ships:
	 * one look-up each in the (plan, step) key's index.
	 */
	if (db_prepare(st, &s, plans == NULL ? "SELECT plan, step, idx, "
	    "release_seq, checksum, status, forced, at FROM ships" :
	    "SELECT plan, step, idx, release_seq, checksum, status, forced, at "
	    "FROM ships WHERE plan = ?", err) == -1)
		goto done;
	if (plans == NULL && ships_read(st, s, &f, err) == -1)
		goto done;
	for (i = 0; plans != NULL && i < nplans; i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, plans[i], -1, SQLITE_STATIC);
		if (ships_read(st, s, &f, err) == -1)
			goto done;
	}
	history_fill_end(&f);
	ret = 0;
done:
	sqlite3_finalize(s);
	if (ret == -1)
		history_fill_abort(&f);
	return ret;
}

/*
 * The history's version: PRAGMA data_version, which changes whenever
 * another connection commits to the file (this connection's own commits
 * are counted by the facade).
 */
static int
ssq_history_stamp(void *be, int64_t *out, struct buf *err)
{
	return pragma_int(be, "data_version", out, err);
}

/* Appends a started release at the end of the sequence; names are unique. */
static int
ssq_release_add(void *be, const char *name, const char *note,
    int64_t *seq_out, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	int64_t seq = 0;
	int own = 0, ok = 0, rc;

	if (tx_enter(st, &own, err) == -1)
		return -1;
	if (db_prepare(st, &s, "SELECT 1 FROM releases WHERE name = ?",
	    err) == -1)
		goto done;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		error_set(err, "release '%s' already exists", name);
		goto done;
	}
	if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read releases from");
		goto done;
	}
	sqlite3_finalize(s);
	if (db_prepare(st, &s, "INSERT INTO releases (seq, name, state, note, "
	    "started_at) SELECT coalesce(max(seq), 0) + 1, ?, 'started', ?, ? "
	    "FROM releases RETURNING seq", err) == -1)
		goto done;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	bind_text(s, 2, note);
	sqlite3_bind_int64(s, 3, state_clock());
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_error(st, err, "cannot add release to");
		goto done;
	}
	seq = sqlite3_column_int64(s, 0);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot add release to");
		goto done;
	}
	ok = 1;
done:
	sqlite3_finalize(s);
	if (tx_leave(st, own, ok, err) == -1)
		return -1;
	if (seq_out != NULL)
		*seq_out = seq;
	return 0;
}

/* Marks release seq deployed; finishing it again changes nothing. */
static int
ssq_release_finish(void *be, int64_t seq, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	int own = 0, ok = 0;

	if (tx_enter(st, &own, err) == -1)
		return -1;
	/* Finishing a deployed release again keeps its first finish time. */
	if (db_prepare(st, &s, "UPDATE releases SET state = 'deployed', "
	    "finished_at = ? WHERE seq = ? AND state = 'started'", err) == -1)
		goto done;
	sqlite3_bind_int64(s, 1, state_clock());
	sqlite3_bind_int64(s, 2, seq);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot finish release in");
		goto done;
	}
	if (sqlite3_changes(st->db) == 0) {
		sqlite3_finalize(s);
		if (db_prepare(st, &s, "SELECT 1 FROM releases WHERE seq = ?",
		    err) == -1)
			goto done;
		sqlite3_bind_int64(s, 1, seq);
		if (sqlite3_step(s) != SQLITE_ROW) {
			error_set(err, "no release with sequence %" PRId64,
			    seq);
			goto done;
		}
	}
	ok = 1;
done:
	sqlite3_finalize(s);
	return tx_leave(st, own, ok, err);
}

/* Inserts or replaces the ship row of (plan, step); at 0 means now. */
static int
ssq_ship_put(void *be, const struct state_ship *ship, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	int own = 0, ok = 0;

	if (tx_enter(st, &own, err) == -1)
		return -1;
	if (db_prepare(st, &s, "INSERT OR REPLACE INTO ships (plan, step, idx, "
	    "release_seq, checksum, status, forced, at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", err) == -1)
		goto done;
	sqlite3_bind_text(s, 1, ship->plan, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, ship->step, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, ship->idx);
	sqlite3_bind_int64(s, 4, ship->release_seq);
	sqlite3_bind_text(s, 5, ship->checksum != NULL ? ship->checksum : "",
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, ship->status == SHIP_FAILED ? "failed" : "done",
	    -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 7, ship->forced != 0);
	sqlite3_bind_int64(s, 8, ship->at != 0 ? ship->at : state_clock());
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot record step in");
		goto done;
	}
	ok = 1;
done:
	sqlite3_finalize(s);
	return tx_leave(st, own, ok, err);
}

/* Deletes the row of (plan, step) from table, which is ships or backfills. */
static int
delete_plan_step(struct ssq *st, const char *table, const char *plan,
    const char *step, struct buf *err)
{
	sqlite3_stmt *s = NULL;
	char *sql = xasprintf("DELETE FROM %s WHERE plan = ? AND step = ?",
	    table);
	int own = 0, ok = 0;

	if (tx_enter(st, &own, err) == -1)
		goto done;
	if (db_prepare(st, &s, sql, err) == -1)
		goto done;
	sqlite3_bind_text(s, 1, plan, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, step, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot delete from");
		goto done;
	}
	ok = 1;
done:
	sqlite3_finalize(s);
	free(sql);
	return tx_leave(st, own, ok, err);
}

/* Deletes the ship row of (plan, step), if any. */
static int
ssq_ship_delete(void *be, const char *plan, const char *step,
    struct buf *err)
{
	return delete_plan_step(be, "ships", plan, step, err);
}

/* Reads the chain head; a missing row reads as the genesis. */
static int
chain_head(struct ssq *st, int64_t *id, char hash[65], struct buf *err)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *h;
	int rc, ret = -1;

	*id = 0;
	memcpy(hash, STATE_GENESIS_HASH, 65);
	if (db_prepare(st, &s, "SELECT head_id, head_hash FROM chain "
	    "WHERE k = 1", err) == -1)
		goto done;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		h = sqlite3_column_text(s, 1);
		if (h != NULL && sqlite3_column_bytes(s, 1) == 64)
			memcpy(hash, h, 65);
		else
			memset(hash, 'x', 64);
	} else if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read event log of");
		goto done;
	}
	ret = 0;
done:
	sqlite3_finalize(s);
	return ret;
}

/*
 * Appends an event as chain head + 1; NULL actor / 0 at mean actor / now.
 * The facade has checked that it has a kind.
 */
static int
ssq_event_append(void *be, const struct state_event *in, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	struct state_event ev = *in;
	char *actor = NULL;
	char prev[65], hash[65];
	int own = 0, ok = 0;

	if (tx_enter(st, &own, err) == -1)
		return -1;
	if (ev.actor == NULL)
		ev.actor = actor = state_actor();
	if (ev.at == 0)
		ev.at = state_clock();
	if (chain_head(st, &ev.id, prev, err) == -1)
		goto done;
	ev.id++;
	state_event_hash(prev, &ev, hash);

	if (db_prepare(st, &s, "INSERT INTO events (id, at, actor, kind, plan, "
	    "step, release, detail, reason, hash) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", err) == -1)
		goto done;
	sqlite3_bind_int64(s, 1, ev.id);
	sqlite3_bind_int64(s, 2, ev.at);
	bind_text(s, 3, ev.actor);
	bind_text(s, 4, ev.kind);
	bind_text(s, 5, ev.plan);
	bind_text(s, 6, ev.step);
	bind_text(s, 7, ev.release);
	bind_text(s, 8, ev.detail);
	bind_text(s, 9, ev.reason);
	sqlite3_bind_text(s, 10, hash, 64, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot append event to");
		goto done;
	}
	sqlite3_finalize(s);
	if (db_prepare(st, &s, "INSERT OR REPLACE INTO chain (k, head_id, "
	    "head_hash) VALUES (1, ?, ?)", err) == -1)
		goto done;
	sqlite3_bind_int64(s, 1, ev.id);
	sqlite3_bind_text(s, 2, hash, 64, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot append event to");
		goto done;
	}
	ok = 1;
done:
	sqlite3_finalize(s);
	free(actor);
	return tx_leave(st, own, ok, err);
}

#define EVENT_COLUMNS \
	"id, at, actor, kind, plan, step, release, detail, reason, hash"

/* Fills ev (owned by the caller) from a row of EVENT_COLUMNS. */
static void
event_from_row(sqlite3_stmt *s, struct state_event *ev)
{
	ev->id = sqlite3_column_int64(s, 0);
	ev->at = sqlite3_column_int64(s, 1);
	ev->actor = col_text(s, 2);
	ev->kind = col_text(s, 3);
	ev->plan = col_text(s, 4);
	ev->step = col_text(s, 5);
	ev->release = col_text(s, 6);
	ev->detail = col_text(s, 7);
	ev->reason = col_text(s, 8);
	ev->hash = col_text(s, 9);
}

/* Loads events oldest first, filtered by plan and kind; caller owns *out. */
static int
ssq_events_load(void *be, const char *plan, const char *kind,
    struct state_event **out, size_t *n, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	struct state_event *v = NULL;
	size_t nv = 0, cap = 0;
	int rc, ret = -1;

	/* Conditions only for what is given, so that an index serves them. */
	if (db_prepare(st, &s, plan != NULL && kind != NULL ?
	    "SELECT " EVENT_COLUMNS " FROM events WHERE plan = ?1 AND kind = ?2 "
	    "ORDER BY id" : plan != NULL ?
	    "SELECT " EVENT_COLUMNS " FROM events WHERE plan = ?1 ORDER BY id" :
	    kind != NULL ?
	    "SELECT " EVENT_COLUMNS " FROM events WHERE kind = ?2 ORDER BY id" :
	    "SELECT " EVENT_COLUMNS " FROM events ORDER BY id", err) == -1)
		goto done;
	bind_text(s, 1, plan);
	bind_text(s, 2, kind);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		XGROW(v, cap, nv + 1);
		event_from_row(s, &v[nv++]);
	}
	if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read event log of");
		goto done;
	}
	*out = v;
	*n = nv;
	v = NULL;
	nv = 0;
	ret = 0;
done:
	sqlite3_finalize(s);
	state_events_free(v, nv);
	return ret;
}

/*
 * Walks the log oldest first.  Ids are handed out consecutively from 1
 * (state_event_append takes head + 1, and a rolled-back append rolls the
 * head back too), so a missing id is a deleted event; every stored hash
 * must equal the recomputed one; and the newest event must be the chain
 * head, or events were deleted from the end.  *bad_id is the first id that
 * is missing or altered; err, when not NULL, says which of the two.
 */
static int
ssq_log_verify(void *be, int64_t *bad_id, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	struct state_event ev;
	char prev[65], calc[65], head[65];
	int64_t expect = 1, head_id = 0;
	int rc, ret = -1;

	memset(&ev, 0, sizeof ev);
	memcpy(prev, STATE_GENESIS_HASH, 65);
	if (chain_head(st, &head_id, head, err) == -1)
		goto done;
	if (db_prepare(st, &s, "SELECT " EVENT_COLUMNS " FROM events "
	    "ORDER BY id", err) == -1)
		goto done;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		event_from_row(s, &ev);
		if (ev.id != expect) {
			*bad_id = expect;
			error_set(err, "event %" PRId64 " is missing", expect);
			ret = 1;
			goto done;
		}
		state_event_hash(prev, &ev, calc);
		if (ev.hash == NULL || strcmp(ev.hash, calc) != 0) {
			*bad_id = ev.id;
			error_set(err, "event %" PRId64 " was altered", ev.id);
			ret = 1;
			goto done;
		}
		memcpy(prev, calc, 65);
		state_event_clear(&ev);
		expect++;
	}
	if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read event log of");
		goto done;
	}
	if (head_id >= expect) {
		*bad_id = expect;
		error_set(err, "event %" PRId64 " is missing (the log ends at "
		    "%" PRId64 ", its head is %" PRId64 ")", expect, expect - 1,
		    head_id);
		ret = 1;
		goto done;
	}
	if (head_id != expect - 1 || strcmp(head, prev) != 0) {
		*bad_id = head_id + 1;
		error_set(err, "event %" PRId64 " is not in the hash chain "
		    "head", head_id + 1);
		ret = 1;
		goto done;
	}
	ret = 0;
done:
	state_event_clear(&ev);
	sqlite3_finalize(s);
	return ret;
}

/* Reads the progress of (plan, step) into out (caller owns); *found 0: none. */
static int
ssq_backfill_get(void *be, const char *plan, const char *step,
    struct state_backfill *out, int *found, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	int rc, ret = -1;

	if (db_prepare(st, &s, "SELECT plan, step, cursor, rows_done, "
	    "rows_total, finished, updated_at, rate, waiting, waiting_since "
	    "FROM backfills "
	    "WHERE plan = ? AND step = ?", err) == -1)
		goto done;
	sqlite3_bind_text(s, 1, plan, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, step, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->plan = col_text(s, 0);
		out->step = col_text(s, 1);
		out->cursor = col_text(s, 2);
		out->rows_done = sqlite3_column_int64(s, 3);
		out->rows_total = sqlite3_column_int64(s, 4);
		out->finished = sqlite3_column_int(s, 5) != 0;
		out->updated_at = sqlite3_column_int64(s, 6);
		out->rate = sqlite3_column_int64(s, 7);
		out->waiting = col_text(s, 8);
		out->waiting_since = sqlite3_column_int64(s, 9);
		*found = 1;
	} else if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read backfill progress from");
		goto done;
	}
	ret = 0;
done:
	sqlite3_finalize(s);
	return ret;
}

/* Inserts or replaces the backfill progress row; updated_at 0 means now. */
static int
ssq_backfill_put(void *be, const struct state_backfill *b, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	int own = 0, ok = 0;

	if (tx_enter(st, &own, err) == -1)
		return -1;
	if (db_prepare(st, &s, "INSERT OR REPLACE INTO backfills (plan, step, "
	    "cursor, rows_done, rows_total, finished, updated_at, rate, "
	    "waiting, waiting_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    err) == -1)
		goto done;
	sqlite3_bind_text(s, 1, b->plan, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, b->step, -1, SQLITE_STATIC);
	bind_text(s, 3, b->cursor);
	sqlite3_bind_int64(s, 4, b->rows_done);
	sqlite3_bind_int64(s, 5, b->rows_total);
	sqlite3_bind_int(s, 6, b->finished != 0);
	sqlite3_bind_int64(s, 7, b->updated_at != 0 ? b->updated_at :
	    state_clock());
	sqlite3_bind_int64(s, 8, b->rate);
	bind_text(s, 9, b->waiting);
	sqlite3_bind_int64(s, 10, b->waiting_since);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot record backfill progress in");
		goto done;
	}
	ok = 1;
done:
	sqlite3_finalize(s);
	return tx_leave(st, own, ok, err);
}

/* Deletes the backfill progress of (plan, step), if any. */
static int
ssq_backfill_delete(void *be, const char *plan, const char *step,
    struct buf *err)
{
	return delete_plan_step(be, "backfills", plan, step, err);
}

/* The SQLite library version, for state_lib_version. */
const char *
state_sqlite_version(void)
{
	return sqlite3_libversion();
}

/*
 * The history's id (borrowed); see state_history_id.  Read on first use
 * rather than at open, so that a command that never needs it does not
 * read the page it lives on.
 */
static const char *
ssq_history_id(void *be, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;

	if (st->history_id != NULL)
		return st->history_id;
	if (db_prepare(st, &s, "SELECT id FROM history WHERE k = 1",
	    err) == -1)
		return NULL;
	if (sqlite3_step(s) == SQLITE_ROW)
		st->history_id = col_text(s, 0);
	else
		error_set(err, "'%s' is corrupt: it has no history id", st->path);
	sqlite3_finalize(s);
	return st->history_id;
}

/*
 * The raw writes of `excon state copy`: rows as they are, ids and hashes
 * included, into a store that state_copy has checked is empty.
 */

/* Sets the history's id (copying a history keeps it). */
static int
ssq_history_id_set(void *be, const char *id, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	int ret = -1;

	if (db_prepare(st, &s, "UPDATE history SET id = ? WHERE k = 1",
	    err) == -1)
		goto done;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot copy into");
		goto done;
	}
	free(st->history_id);
	st->history_id = xstrdup(id);
	ret = 0;
done:
	sqlite3_finalize(s);
	return ret;
}

/* Inserts a release row as it is. */
static int
ssq_release_put(void *be, const struct state_release *r, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	int ret = -1;

	if (db_prepare(st, &s, "INSERT INTO releases (seq, name, state, note, "
	    "started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?)", err) == -1)
		goto done;
	sqlite3_bind_int64(s, 1, r->seq);
	sqlite3_bind_text(s, 2, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r->state == RELEASE_DEPLOYED ? "deployed" :
	    "started", -1, SQLITE_STATIC);
	bind_text(s, 4, r->note);
	sqlite3_bind_int64(s, 5, r->started_at);
	sqlite3_bind_int64(s, 6, r->finished_at);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot copy into");
		goto done;
	}
	ret = 0;
done:
	sqlite3_finalize(s);
	return ret;
}

/* Inserts an event as it is (id and hash kept) and moves the head to it. */
static int
ssq_event_put(void *be, const struct state_event *ev, struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	int ret = -1;

	if (db_prepare(st, &s, "INSERT INTO events (" EVENT_COLUMNS ") "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", err) == -1)
		goto done;
	sqlite3_bind_int64(s, 1, ev->id);
	sqlite3_bind_int64(s, 2, ev->at);
	bind_text(s, 3, ev->actor);
	bind_text(s, 4, ev->kind);
	bind_text(s, 5, ev->plan);
	bind_text(s, 6, ev->step);
	bind_text(s, 7, ev->release);
	bind_text(s, 8, ev->detail);
	bind_text(s, 9, ev->reason);
	bind_text(s, 10, ev->hash);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot copy into");
		goto done;
	}
	sqlite3_finalize(s);
	if (db_prepare(st, &s, "INSERT OR REPLACE INTO chain (k, head_id, "
	    "head_hash) VALUES (1, ?, ?)", err) == -1)
		goto done;
	sqlite3_bind_int64(s, 1, ev->id);
	bind_text(s, 2, ev->hash);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_error(st, err, "cannot copy into");
		goto done;
	}
	ret = 0;
done:
	sqlite3_finalize(s);
	return ret;
}

/* Loads every backfill progress row; *out owned by the caller. */
static int
ssq_backfills_load(void *be, struct state_backfill **out, size_t *n,
    struct buf *err)
{
	struct ssq *st = be;
	sqlite3_stmt *s = NULL;
	struct state_backfill *v = NULL;
	size_t nv = 0, cap = 0;
	int rc, ret = -1;

	if (db_prepare(st, &s, "SELECT plan, step, cursor, rows_done, "
	    "rows_total, finished, updated_at, rate, waiting, waiting_since "
	    "FROM backfills ORDER BY plan, "
	    "step", err) == -1)
		goto done;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct state_backfill *b;

		XGROW(v, cap, nv + 1);
		b = &v[nv++];
		b->plan = col_text(s, 0);
		b->step = col_text(s, 1);
		b->cursor = col_text(s, 2);
		b->rows_done = sqlite3_column_int64(s, 3);
		b->rows_total = sqlite3_column_int64(s, 4);
		b->finished = sqlite3_column_int(s, 5) != 0;
		b->updated_at = sqlite3_column_int64(s, 6);
		b->rate = sqlite3_column_int64(s, 7);
		b->waiting = col_text(s, 8);
		b->waiting_since = sqlite3_column_int64(s, 9);
	}
	if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read backfill progress from");
		goto done;
	}
	*out = v;
	*n = nv;
	v = NULL;
	nv = 0;
	ret = 0;
done:
	sqlite3_finalize(s);
	state_backfills_free(v, nv);
	return ret;
}

/* The SQLite store, as the facade calls it. */
const struct state_backend state_sqlite_backend = {
	.name = "sqlite",
	.history_id = ssq_history_id,
	.check = ssq_check,
	.close = ssq_close,
	.begin = ssq_begin,
	.commit = ssq_commit,
	.rollback = ssq_rollback,
	.history_load = ssq_history_load,
	.history_stamp = ssq_history_stamp,
	.release_add = ssq_release_add,
	.release_finish = ssq_release_finish,
	.ship_put = ssq_ship_put,
	.ship_delete = ssq_ship_delete,
	.event_append = ssq_event_append,
	.events_load = ssq_events_load,
	.log_verify = ssq_log_verify,
	.backfill_get = ssq_backfill_get,
	.backfill_put = ssq_backfill_put,
	.backfill_delete = ssq_backfill_delete,
	.backfills_load = ssq_backfills_load,
	.history_id_set = ssq_history_id_set,
	.release_put = ssq_release_put,
	.event_put = ssq_event_put,
};
