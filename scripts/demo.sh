#!/bin/sh
# excon demo: renames users.name to users.full_name on a live table, across
# four releases, while a small simulated application keeps writing.
#
#   make demo            (or: EXCON_BIN=./excon sh scripts/demo.sh)
#
# It starts a throwaway PostgreSQL (tests/pg.sh), loads 100,000 users,
# creates a temporary excon project with plans/users-full-name.yaml and
# runs two writers with pgbench: the old code (writes only `name`) and the
# new code (writes only `full_name`), each only in the releases where that
# code is deployed.  It ends by counting the application's statements and
# failures: it exits non-zero if any application statement failed.  The
# server, the writers and the project are removed on exit, even on error or
# Ctrl-C.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
PG_BINDIR=${PG_BINDIR:-}
PG_DIR=
. "$here/tests/pg.sh"

EXCON_BIN=${EXCON_BIN:-$here/excon}
ROWS=${DEMO_ROWS:-100000}
RATE=${DEMO_RATE:-40}		# statements per second, per code version
CHUNK=2				# seconds per pgbench run of a writer

work=
old_pid=
new_pid=

# Stops the writers, the server, and removes the temporary files.
cleanup() {
	set +e
	[ -n "$work" ] && touch "$work/stop-old" "$work/stop-new" 2>/dev/null
	[ -n "$old_pid" ] && wait "$old_pid" 2>/dev/null
	[ -n "$new_pid" ] && wait "$new_pid" 2>/dev/null
	pg_stop
	[ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

start_s=$(date +%s)

# Prints a section title.
say() {
	printf '\n== %s\n' "$*"
}

# Prints an indented line of narration.
note() {
	printf '   %s\n' "$*"
}

# Shows an excon command, then runs it with its output indented; a
# failure fails the demo.
excon() {
	printf '\n   $ excon %s\n' "$*"
	rc=0
	"$EXCON_BIN" "$@" >"$work/out" 2>&1 || rc=$?
	sed 's/^/     /' "$work/out"
	if [ "$rc" != 0 ]; then
		echo "demo: 'excon $*' failed (exit $rc)" >&2
		exit 1
	fi
}

# Runs an excon command that is expected to be refused (exit 3); any other
# exit code fails the demo.
excon_refused() {
	printf '\n   $ excon %s\n' "$*"
	rc=0
	"$EXCON_BIN" "$@" >"$work/out" 2>&1 || rc=$?
	sed 's/^/     /' "$work/out"
	if [ "$rc" != 3 ]; then
		echo "demo: expected 'excon $*' to exit 3 (refused), got $rc" >&2
		exit 1
	fi
	note "(exit code 3: refused, as expected)"
}

# One row of SQL output.
sql() {
	"$PG_BIN/psql" -qAtX -v ON_ERROR_STOP=1 -c "$1"
}

# Runs one simulated application version (old or new) until $work/stop-ROLE
# exists, as back-to-back pgbench runs of CHUNK seconds, each output kept.
writer() {
	role=$1
	n=0
	while [ ! -e "$work/stop-$role" ]; do
		n=$((n + 1))
		rc=0
		"$PG_BIN/pgbench" -n -c 2 -T "$CHUNK" -R "$RATE" \
		    -f "$work/app/$role-insert.sql@1" -f "$work/app/$role-update.sql@3" \
		    >"$work/app/$role.$n.out" 2>&1 || rc=$?
		echo "$rc" >"$work/app/$role.$n.rc"
	done
}

# Starts the writer of one code version in the background.
app_start() {
	rm -f "$work/stop-$1"
	writer "$1" &
	eval "${1}_pid=\$!"
}

# Stops the writer of one code version and waits for its last run to end.
app_stop() {
	touch "$work/stop-$1"
	eval "pid=\$${1}_pid"
	wait "$pid"
	eval "${1}_pid="
}

# Totals of a writer's runs: "statements failed".
app_tally() {
	ran=0
	failed=0
	for f in "$work"/app/"$1".*.out; do
		[ -e "$f" ] || continue
		n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$f")
		ft=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$f")
		ab=$(grep -c 'aborted in command' "$f" || true)
		rc=$(cat "${f%.out}.rc")
		ran=$((ran + ${n:-0} + ab))
		failed=$((failed + ${ft:-0} + ab))
		# A run that failed without saying why still counts as a failure.
		if [ "$rc" != 0 ] && [ "${ft:-0}" = 0 ] && [ "$ab" = 0 ]; then
			failed=$((failed + 1))
		fi
	done
	echo "$ran $failed"
}

# The errors the application saw, if any.
app_errors() {
	grep -h 'ERROR' "$work"/app/*.out 2>/dev/null | sed 's/^pgbench: error: //' |
	    sort | uniq -c | sort -rn | head -n 5
}

cat <<'INTRO'
excon demo: rename a column of a live table without downtime

The table users(id, name) must become users(id, full_name).  A plain
ALTER TABLE ... RENAME would break every running instance of the current
code, and the previous release could no longer be rolled back to.  excon
walks the change through expand/contract across releases instead:

  expand    add full_name, keep it in sync with name, copy existing rows
  migrate   ship code that reads and writes full_name
  contract  drop name, only once no release still in use needs it

A small application keeps writing during the whole demo: the old code
writes only name, the new code writes only full_name.
INTRO

say "Setup: a throwaway PostgreSQL with $ROWS users"
pg_start
work=$(mktemp -d /tmp/excon-demo.XXXXXX)
mkdir "$work/app" "$work/project"
sql "CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL);
     INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, $ROWS) g;
     ANALYZE users" >/dev/null
note "server: $PGHOST (port $PGPORT), table users: $(sql 'SELECT count(*) FROM users') rows"

# The two code versions, as pgbench scripts (3 updates for every insert).
cat >"$work/app/old-insert.sql" <<'SQL'
\set n random(1, 1000000)
INSERT INTO users (name) VALUES ('old code ' || :n);
SQL
cat >"$work/app/old-update.sql" <<SQL
\set id random(1, $ROWS)
UPDATE users SET name = 'renamed by old code ' || :id WHERE id = :id;
SQL
cat >"$work/app/new-insert.sql" <<'SQL'
\set n random(1, 1000000)
INSERT INTO users (full_name) VALUES ('new code ' || :n);
SQL
cat >"$work/app/new-update.sql" <<SQL
\set id random(1, $ROWS)
UPDATE users SET full_name = 'renamed by new code ' || :id WHERE id = :id;
SQL

cd "$work/project"
export EXCON_DATABASE="$EXCON_TEST_PG"
NO_COLOR=1
export NO_COLOR
note "project: a new excon project with the rename plan"
excon init
cp "$here/plans/users-full-name.yaml" plans/
excon lint

echo
note "The application (old code) is running: $RATE statements/s, inserts and"
note "updates that write only name."
app_start old
sleep 2

say "Release v1.1 (expand): new column and sync trigger; the code is unchanged"
note "The deploy pipeline records the release, then ships the steps that"
note "must run before the new code starts (stage pre)."
excon release start v1.1
excon advance --all --stage pre
note "... v1.1 deploys (its code still writes only name) ..."
sleep 2
excon release finish v1.1
note "Every instance now runs v1.1: the steps that run after the deploy"
note "(stage post) copy name into full_name for the existing rows, in small"
note "batches, while the application keeps writing."
excon advance --all --stage post
note "rows where full_name differs from name: $(sql 'SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name')"

say "Release v1.2 (migrate): the code switches to full_name"
excon release start v1.2
excon advance --all --stage pre
note "The code of v1.2 reads and writes only full_name; excon records it."
excon advance --all --stage code
note "... rolling deploy: the new code starts next to the old code ..."
app_start new
sleep 4
app_stop old
note "... the last instance of the old code has stopped ..."
excon release finish v1.2
excon advance --all --stage post
note "rows where full_name differs from name: $(sql 'SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name')"
note "(the trigger fills name for the new code, so v1.1 could still be rolled back to)"

say "Release v1.3: too early to drop name"
excon release start v1.3
sleep 1
excon release finish v1.3
note "Dropping name now would break v1.1 if v1.2 had to be rolled back to it."
note "excon refuses, and says why and from which release it will be allowed:"
excon_refused advance users-full-name
echo
note "Where every plan stands, and the contracts that are waiting:"
excon status
excon audit
echo
note "Can the code of v1.1 still run on today's schema (a rollback target)?"
excon compat v1.1

say "Release v1.4 (contract): the window is open, drop name"
excon release start v1.4
sleep 1
excon release finish v1.4
excon status
excon advance --all --stage post
note "users now has the columns: $(sql "SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped")"
note "rows without full_name: $(sql 'SELECT count(*) FROM users WHERE full_name IS NULL')"
echo
note "The database matches what excon recorded:"
excon verify
sleep 2
app_stop new

say "Result"
set -- $(app_tally old)
old_ran=$1 old_failed=$2
set -- $(app_tally new)
new_ran=$1 new_failed=$2
note "application statements: old code $old_ran ($old_failed failed), new code $new_ran ($new_failed failed)"
note "total: $((old_ran + new_ran)) statements, $((old_failed + new_failed)) failed"
if [ $((old_failed + new_failed)) -ne 0 ]; then
	note "errors seen by the application:"
	app_errors | sed 's/^/     /'
	note "demo: FAILED (the application saw errors)"
	exit 1
fi
if [ $((old_ran + new_ran)) -eq 0 ]; then
	note "demo: FAILED (the application ran no statement)"
	exit 1
fi
note "the column was renamed in 4 releases with no application error,"
note "and every release stayed safe to roll back to until the contract"
note "demo finished in $(($(date +%s) - start_s)) s"
