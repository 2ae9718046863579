#!/bin/sh
# Throwaway PostgreSQL for tests, the demo and benchmarks.
#
#   . tests/pg.sh; pg_start; ... ; pg_stop
#
# pg_start runs initdb in a fresh temporary directory and starts a server
# listening only on a Unix socket in that directory, as an unprivileged
# user (created if missing) because PostgreSQL refuses to run as root.  It
# exports PGHOST, PGPORT, PGUSER, PGDATABASE and EXCON_TEST_PG (a conninfo).
# pg_stop stops the server and removes the directory; callers trap it so it
# runs even when a test fails.

PG_RUN_USER=${PG_RUN_USER:-excon-pg}

# Runs a command as the unprivileged server user (or as ourselves when not root).
pg_as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$PG_RUN_USER" -- "$@"
	else
		"$@"
	fi
}

pg_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	done
	dirname "$(command -v initdb)"
}

pg_start() {
	bindir=$(pg_bindir)
	[ -x "$bindir/initdb" ] || { echo "pg.sh: initdb not found" >&2; return 1; }
	if [ "$(id -u)" = 0 ] && ! id "$PG_RUN_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_RUN_USER" ||
			{ echo "pg.sh: cannot create user $PG_RUN_USER" >&2; return 1; }
	fi
	PG_DIR=$(mktemp -d /tmp/excon-pg.XXXXXX) || return 1
	chmod 755 "$PG_DIR"
	[ "$(id -u)" = 0 ] && chown "$PG_RUN_USER" "$PG_DIR"
	pg_as_user "$bindir/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
		--no-sync -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 ||
		{ cat "$PG_DIR/initdb.log" >&2; return 1; }
	PGPORT=${PGPORT_TEST:-54329}
	pg_as_user "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses='' -k $PG_DIR -p $PGPORT -c fsync=off \
		-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
		-c shared_buffers=256MB -c max_wal_size=2GB \
		-c shared_preload_libraries=pg_stat_statements" start >/dev/null ||
		{ cat "$PG_DIR/server.log" >&2; return 1; }
	PGHOST=$PG_DIR PGUSER=postgres PGDATABASE=postgres
	EXCON_TEST_PG="host=$PG_DIR port=$PGPORT user=postgres dbname=postgres"
	PG_BIN=$bindir
	export PGHOST PGPORT PGUSER PGDATABASE EXCON_TEST_PG PG_DIR PG_BIN
}

# pg_standby_start makes a streaming standby of the running test server
# (pg_basebackup -R into $PG_DIR/standby) and starts it on port PGPORT+1,
# listening on the Unix socket in $PG_DIR/standby-sock.  It prints the
# standby's conninfo.  Like the server, it preloads pg_stat_statements,
# which records the queries run on the standby.  pg_standby_stop stops and removes it; pg_stop does
# too, so a failed test never leaves it running.
pg_standby_start() {
	sdir=$PG_DIR/standby
	sock=$PG_DIR/standby-sock
	pg_standby_stop
	pg_as_user mkdir -p "$sock" || return 1
	pg_as_user "$PG_BIN/pg_basebackup" -h "$PG_DIR" -p "$PGPORT" -U postgres \
		-D "$sdir" -R -X stream -c fast >"$PG_DIR/basebackup.log" 2>&1 ||
		{ cat "$PG_DIR/basebackup.log" >&2; return 1; }
	pg_as_user "$PG_BIN/pg_ctl" -D "$sdir" -l "$PG_DIR/standby.log" -w -t 60 \
		-o "-c listen_addresses='' -k $sock -p $((PGPORT + 1)) -c fsync=off \
		-c hot_standby=on -c wal_receiver_status_interval=1s -c max_connections=200 \
		-c shared_preload_libraries=pg_stat_statements" start >/dev/null ||
		{ cat "$PG_DIR/standby.log" >&2; return 1; }
	echo "host=$sock port=$((PGPORT + 1)) user=postgres dbname=postgres"
}

pg_standby_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	if [ -f "$PG_DIR/standby/postmaster.pid" ]; then
		pg_as_user "$(pg_bindir)/pg_ctl" -D "$PG_DIR/standby" -m immediate -w stop \
			>/dev/null 2>&1
	fi
	rm -rf "$PG_DIR/standby" "$PG_DIR/standby-sock"
}

# pg_second_start makes a second throwaway server (initdb into
# $PG_DIR/second) on port PGPORT+2, listening on the Unix socket in
# $PG_DIR/second-sock, for tests that stop a server under excon without
# stopping the one every other test uses; it prints its conninfo.
# pg_second_ctl start | stop [fast|immediate] starts or stops it again;
# pg_second_stop stops and removes it, and pg_stop does too.
pg_second_start() {
	pg_second_stop
	pg_as_user mkdir -p "$PG_DIR/second-sock" || return 1
	pg_as_user "$PG_BIN/initdb" -D "$PG_DIR/second" -U postgres --auth=trust \
		--no-sync -E UTF8 --locale=C >"$PG_DIR/second-initdb.log" 2>&1 ||
		{ cat "$PG_DIR/second-initdb.log" >&2; return 1; }
	pg_second_ctl start || return 1
	echo "host=$PG_DIR/second-sock port=$((PGPORT + 2)) user=postgres dbname=postgres"
}

pg_second_ctl() {
	case $1 in
	start)
		pg_as_user "$PG_BIN/pg_ctl" -D "$PG_DIR/second" -l "$PG_DIR/second.log" \
			-w -t 60 -o "-c listen_addresses='' -k $PG_DIR/second-sock \
			-p $((PGPORT + 2)) -c fsync=off -c max_connections=50" start \
			>/dev/null || { cat "$PG_DIR/second.log" >&2; return 1; } ;;
	stop)
		pg_as_user "$PG_BIN/pg_ctl" -D "$PG_DIR/second" -m "${2:-fast}" -w \
			-t 60 stop >/dev/null ;;
	*)
		echo "pg.sh: pg_second_ctl start | stop [fast|immediate]" >&2
		return 2 ;;
	esac
}

pg_second_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	if [ -f "$PG_DIR/second/postmaster.pid" ]; then
		pg_as_user "$(pg_bindir)/pg_ctl" -D "$PG_DIR/second" -m immediate -w stop \
			>/dev/null 2>&1
	fi
	rm -rf "$PG_DIR/second" "$PG_DIR/second-sock"
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	pg_standby_stop
	pg_second_stop
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		pg_as_user "$(pg_bindir)/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop \
			>/dev/null 2>&1
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
}
