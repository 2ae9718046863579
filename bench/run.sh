#!/bin/sh
# excon benchmarks.  Every figure is printed next to a baseline measured in
# the same run on the same machine, since absolute figures vary by machine:
#
#   a. status/audit: `excon status` and `excon audit` on a project of 1,000
#      plans x 6 steps and ~1,000 releases (bench/gen-state.sh), against
#      sqlite3 counting the ships of the same state file; `excon advance
#      --all` with nothing to ship against status, and at 5x the plans
#      against itself (linear growth), with `status` and `status PLAN` on
#      that larger project; `status` at 10,000 plans against its goal
#      (100 ms) and against sqlite3 counting the same file; how long
#      generating each project took (excon's own advance --all ships five
#      steps of every plan); then status and audit with the target
#      database reachable (rule 9's usage evidence read for every pending
#      contract), on the SQLite store and on the same history in the
#      PostgreSQL store, against each other;
#   b. backfill: rows/s of excon's batched backfill against one plain
#      `UPDATE t SET b = a` of a 1,000,000-row table, then the latency of a
#      concurrent writer (pgbench, random single-row updates) with no
#      backfill, during the plain UPDATE and during excon's backfill;
#   c. lint: `excon lint --sql` on 1,000 files x 10 statements against `cat`
#      of the same files (skipped if lint --sql does not analyse SQL);
#   d. the figures go to bench/RESULTS.md as well.
#
#   make bench            (or: EXCON_BIN=./excon sh bench/run.sh)
#
# Knobs (environment): BENCH_PLANS (1000), BENCH_ROWS (1000000), BENCH_RUNS
# (7, runs per timing; the median is kept), BENCH_ADVANCE_SCALE (5, the
# larger project of advance --all and status, as a multiple of BENCH_PLANS;
# 1 = none), BENCH_STATUS_PLANS (10000, the project of the absolute
# status figure; 0 = none), BENCH_BACKFILL_RUNS (7, runs
# each of the plain UPDATE and of excon's backfill), BENCH_BATCH_SIZE and
# BENCH_TARGET_MS (backfill settings for the bench's excon.yaml; unset =
# excon's built-in defaults, which are what the bench is meant to show),
# BENCH_RESULTS (the results file; empty = do not write one).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
PG_BINDIR=${PG_BINDIR:-}
PG_DIR=
. "$here/tests/pg.sh"

EXCON_BIN=${EXCON_BIN:-$here/excon}
PLANS=${BENCH_PLANS:-1000}
ROWS=${BENCH_ROWS:-1000000}
RUNS=${BENCH_RUNS:-7}
ADV_SCALE=${BENCH_ADVANCE_SCALE:-5}
case $ADV_SCALE in
''|*[!0-9]*|0) echo "bench: BENCH_ADVANCE_SCALE must be a positive number" >&2; exit 2 ;;
esac
STATUS_PLANS=${BENCH_STATUS_PLANS:-10000}
case $STATUS_PLANS in
''|*[!0-9]*) echo "bench: BENCH_STATUS_PLANS must be a number (0 = none)" >&2; exit 2 ;;
esac
# The bench's release generator (bench/gen-history.c, built by make bench).
EXCON_GEN_HISTORY=${EXCON_GEN_HISTORY:-$here/build/bench/gen-history}
export EXCON_GEN_HISTORY
BF_RUNS=${BENCH_BACKFILL_RUNS:-7}
case $BF_RUNS in
''|*[!0-9]*|0) echo "bench: BENCH_BACKFILL_RUNS must be a positive number" >&2; exit 2 ;;
esac
BATCH_SIZE=${BENCH_BATCH_SIZE:-}
TARGET_MS=${BENCH_TARGET_MS:-}
# The backfill settings of the bench's excon.yaml: only those asked for.
BF_SET=
[ -n "$BATCH_SIZE" ] && BF_SET="batch_size: $BATCH_SIZE"
[ -n "$TARGET_MS" ] && BF_SET="${BF_SET:+$BF_SET, }target_batch_ms: $TARGET_MS"
RESULTS=${BENCH_RESULTS-$here/bench/RESULTS.md}
WRITER_CLIENTS=4
WRITER_CHUNK=2			# seconds per pgbench run of the writer
BASELINE_S=5			# seconds of writer alone
LINT_FILES=1000
LINT_STMTS=10

tmp=
writer_pid=

# Stops the writer and the server, and removes the temporary files.
cleanup() {
	set +e
	if [ -n "$writer_pid" ]; then
		touch "$tmp/stop-writer"
		wait "$writer_pid"
	fi
	pg_stop
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "bench: interrupted"; exit 130' INT TERM

tmp=$(mktemp -d /tmp/excon-bench.XXXXXX)
report="$tmp/report"
: >"$report"
bench_t0=$(date +%s)

# Prints a line and keeps it for RESULTS.md.
out() {
	printf '%s\n' "$*" | tee -a "$report"
}

# Microseconds since the epoch.
now_us() {
	date +%s%6N
}

# Runs "$@" RUNS times (after one warm-up run); prints the median wall
# time in ms.  A failing run fails the bench.
median_ms() {
	"$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; exit 1; }
	: >"$tmp/times"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		s=$(now_us)
		"$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; exit 1; }
		e=$(now_us)
		echo $((e - s)) >>"$tmp/times"
		i=$((i + 1))
	done
	sort -n "$tmp/times" | awk '{ v[NR] = $1 }
	    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
	          printf "%.1f", m / 1000 }'
}

# a / b with two decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

# Rows per second for ROWS rows in $1 microseconds.
rate() {
	awk -v n="$ROWS" -v us="$1" 'BEGIN { printf "%.0f", n * 1e6 / us }'
}

# One line of SQL on the bench server, quietly.
sql() {
	"$PG_BIN/psql" -qAtX -v ON_ERROR_STOP=1 "$@"
}

mem=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
out "excon bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
out "machine: $(nproc) cores${cpu:+ ($cpu)}, $mem memory"

# The 1-minute load average, with a warning when other work competes.
load() {
	l=$(cut -d' ' -f1 /proc/loadavg)
	busy=$(awk -v l="$l" -v n="$(nproc)" 'BEGIN { print (l > n * 0.75) ? 1 : 0 }')
	if [ "$busy" = 1 ]; then
		echo "load average $l (busy: other work competes; wall-clock figures are noisy)"
	else
		echo "load average $l"
	fi
}
out "at start: $(load)"

# ---------------------------------------------------------------------------
# a. status and audit on a large state file
# ---------------------------------------------------------------------------
out ""
out "a. status/audit: $PLANS plans x 6 steps, ~$PLANS releases (median of $RUNS runs)"
[ -x "$EXCON_GEN_HISTORY" ] ||
	echo "bench: no $EXCON_GEN_HISTORY (make bench builds it): releases are recorded one process at a time, slowly" >&2
# Generates the project of $2 plans in $1; keeps how long it took in gen_s.
# The plan cache never keeps a file changed in the last two seconds, and a
# small project is generated in less: wait that out, so that what is
# measured is the cached run a team sees, not a parse of every file.
gen() {
	g0=$(now_us)
	EXCON_BIN=$EXCON_BIN sh "$here/bench/gen-state.sh" "$1" "$2" >/dev/null
	gen_s=$(awk -v us="$(($(now_us) - g0))" 'BEGIN { printf "%.1f", us / 1e6 }')
	sleep 3
	(cd "$1" && "$EXCON_BIN" status >/dev/null)
}
gen "$tmp/state" "$PLANS"
gen_small=$gen_s
cd "$tmp/state"
base=$(median_ms sqlite3 state/excon.db 'SELECT count(*) FROM ships')
st=$(median_ms "$EXCON_BIN" status)
au=$(median_ms "$EXCON_BIN" audit)
row() {
	printf '   %-36s %9s ms%s\n' "$1" "$2" "${3:+  $3}" | tee -a "$report"
}
row "sqlite3 count(*) of ships (baseline)" "$base"
row "excon status" "$st" "$(ratio "$st" "$base")x baseline"
row "excon audit" "$au" "$(ratio "$au" "$base")x baseline"

# a (continued). `advance --all` with nothing to ship (every contract waits
# for its window): at PLANS plans against status, and at ADV_SCALE x PLANS
# plans against PLANS.  Linear means the second ratio stays near ADV_SCALE
# (goal <= 6 for 5x); it was quadratic while every plan reloaded the whole
# history in its own write transaction.
adv=$(median_ms "$EXCON_BIN" advance --all)
row "excon advance --all, nothing to ship" "$adv" "$(ratio "$adv" "$st")x status (goal <= 3)"
big=0
if [ "$ADV_SCALE" -gt 1 ]; then
	big=$((PLANS * ADV_SCALE))
	gen "$tmp/state-big" "$big"
	gen_big=$gen_s
	cd "$tmp/state-big"
	advbig=$(median_ms "$EXCON_BIN" advance --all)
	row "excon advance --all, $big plans" "$advbig" "$(ratio "$advbig" "$adv")x at $PLANS plans (goal <= $((ADV_SCALE + 1)))"
	# status on the same larger project, and status of one plan against it.
	stbig=$(median_ms "$EXCON_BIN" status)
	row "excon status, $big plans" "$stbig" "$(ratio "$stbig" "$st")x at $PLANS plans"
	one=$(printf 'p%04d' "$big")
	st1=$(median_ms "$EXCON_BIN" status "$one")
	row "excon status PLAN, $big plans" "$st1" "$(ratio "$st1" "$stbig")x status of all"
	cd "$tmp/state"
	rm -rf "$tmp/state-big"
fi
# status at STATUS_PLANS plans, as an absolute figure against its goal
# (<= 100 ms at 10,000 plans), and against sqlite3 counting the ships of
# the same file.
if [ "$STATUS_PLANS" -gt 0 ]; then
	gen "$tmp/state-st" "$STATUS_PLANS"
	gen_st=$gen_s
	cd "$tmp/state-st"
	base10=$(median_ms sqlite3 state/excon.db 'SELECT count(*) FROM ships')
	st10=$(median_ms "$EXCON_BIN" status)
	goal10=""
	[ "$STATUS_PLANS" = 10000 ] && goal10=" (goal <= 100 ms)"
	row "sqlite3 count(*), $STATUS_PLANS plans" "$base10"
	row "excon status, $STATUS_PLANS plans" "$st10" "$(ratio "$st10" "$base10")x baseline$goal10"
	cd "$tmp/state"
	rm -rf "$tmp/state-st"
fi
# Generating a project is excon's own work too: the releases through the
# state store in one transaction, then five steps of every plan shipped
# by three runs of advance --all --record-only (linear: ~5x at 5x plans).
gens="$PLANS plans ${gen_small} s"
[ "$big" -gt 0 ] && gens="$gens, $big plans ${gen_big} s ($(ratio "$gen_big" "$gen_small")x)"
[ "$STATUS_PLANS" -gt 0 ] && gens="$gens, $STATUS_PLANS plans ${gen_st} s"
out "   generating the projects (log --verify passes on each): $gens"

# ---------------------------------------------------------------------------
# b. backfill against a plain UPDATE, with and without a concurrent writer
# ---------------------------------------------------------------------------
cd /
pg_start
pgver=$(sql -c 'SHOW server_version' | cut -d' ' -f1)

# a (continued). With the target database reachable, every pending
# contract's usage evidence (rule 9) is read: the application's database,
# excon_app, has pg_stat_statements and the plans' tables, and
# application statements on a tenth of them (one of which still reads a
# column a contract drops).  status and audit on the SQLite store, then
# the same history in the PostgreSQL store (loopback), copied with `excon
# state copy`, against them.  The goal is within 2x; the whole history is
# read in a constant number of round trips, and each server's statistics
# once per command, not once per plan.
sql -c "CREATE DATABASE excon_app"
{
	echo "CREATE EXTENSION pg_stat_statements;"
	i=1
	while [ "$i" -le "$PLANS" ]; do
		printf 'CREATE TABLE t_p%04d (id int, name text, full_name text);\n' "$i"
		i=$((i + 1))
	done
} | sql -d excon_app >/dev/null
i=1
while [ "$i" -le "$PLANS" ]; do
	printf 'SELECT full_name FROM t_p%04d WHERE id = 1;\n' "$i"
	i=$((i + 10))
done | sql -d excon_app >/dev/null
sql -d excon_app -c "SELECT name FROM t_p0001 WHERE id = 1" >/dev/null
cd "$tmp/state"
dst=$(PGDATABASE=excon_app median_ms "$EXCON_BIN" status)
dau=$(PGDATABASE=excon_app median_ms "$EXCON_BIN" audit)
row "excon status, database reachable" "$dst" "$(ratio "$dst" "$st")x with none (rule 9 read)"
row "excon audit, database reachable" "$dau" "$(ratio "$dau" "$au")x with none (rule 9 read)"
sql -c "CREATE DATABASE excon_state"
pgstate="$EXCON_TEST_PG dbname=excon_state"
"$EXCON_BIN" state copy state/excon.db "$pgstate" >/dev/null
export EXCON_STATE="$pgstate"
pst=$(PGDATABASE=excon_app median_ms "$EXCON_BIN" status)
pau=$(PGDATABASE=excon_app median_ms "$EXCON_BIN" audit)
unset EXCON_STATE
row "excon status, PostgreSQL store" "$pst" "$(ratio "$pst" "$dst")x the SQLite store (goal <= 2)"
row "excon audit, PostgreSQL store" "$pau" "$(ratio "$pau" "$dau")x the SQLite store (goal <= 2)"
cd /

# Server CPU time in ms: the postmaster, its live children and the children
# it has reaped (backends that have exited).  Less sensitive than wall time
# to other work on the machine.
server_cpu_ms() {
	pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
	{
		awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat"
		for c in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
			awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || true
		done
	} | awk -v hz="$(getconf CLK_TCK)" '{ s += $1 } END { printf "%.0f", s * 1000 / hz }'
}

# Times "$@" once: prints "wall_us server_cpu_ms".
time_us() {
	sql -c CHECKPOINT
	c0=$(server_cpu_ms)
	s=$(now_us)
	"$@" >"$tmp/last.out" 2>&1 || { cat "$tmp/last.out" >&2; echo "bench: '$*' failed" >&2; exit 1; }
	e=$(now_us)
	sleep 0.3	# let the postmaster reap the backend
	echo "$((e - s)) $(($(server_cpu_ms) - c0))"
}

# Autovacuum would start on a table just updated and run into the next
# measurement: the bench vacuums explicitly instead.
sql -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null

# The data: a template table, copied for each measurement so that every
# run starts from the same fresh, vacuumed table.
sql -c "CREATE TABLE template AS SELECT g::bigint AS id, g::int AS a FROM generate_series(1, $ROWS) g"

# Creates table $1 (id bigint primary key, a int) as a copy of the template.
# The copy commits with synchronous_commit on: the server's default here is
# off, and VACUUM can mark a page all-visible only once the commit of its
# rows is flushed, so the table would otherwise start with no page
# all-visible, unlike a table autovacuum keeps.
make_table() {
	sql -c "SET synchronous_commit = on" -c "CREATE TABLE $1 AS SELECT * FROM template" \
	    -c "ALTER TABLE $1 ADD PRIMARY KEY (id), ALTER COLUMN a SET NOT NULL" \
	    -c "VACUUM ANALYZE $1"
}
excon_tables=t_excon_w
i=1
while [ "$i" -le "$BF_RUNS" ]; do
	excon_tables="$excon_tables t_excon$i"
	make_table "t_plain$i"
	make_table "t_excon$i"
	i=$((i + 1))
done
make_table t_plain_w
make_table t_excon_w
# The plain UPDATE's tables get the column the way excon's add_column adds it.
for t in $(sql -c "SELECT relname FROM pg_class WHERE relname LIKE 't_plain%' AND relkind = 'r'"); do
	sql -c "ALTER TABLE $t ADD COLUMN b int"
done

mkdir "$tmp/proj" "$tmp/wlog" "$tmp/wout"
cd "$tmp/proj"
"$EXCON_BIN" init >/dev/null
cat >excon.yaml <<YAML
plans: plans
state: state/excon.db
database: "$EXCON_TEST_PG"
YAML
[ -n "$BF_SET" ] && echo "backfill: {$BF_SET}" >>excon.yaml
for t in $excon_tables; do
	cat >"plans/fill-$t.yaml" <<YAML
plan: fill-$t
description: bench backfill of $t.b
steps:
  - id: add-b
    kind: add_column
    table: $t
    column: b
    type: int
  - id: fill-b
    kind: backfill
    table: $t
    set: b = a
YAML
done
"$EXCON_BIN" release start r1 >/dev/null
"$EXCON_BIN" advance --all --stage pre >/dev/null
"$EXCON_BIN" release finish r1 >/dev/null

out ""
out "b. backfill: $ROWS rows, PostgreSQL $pgver (excon backfill: ${BF_SET:-the default settings})"
out "   $BF_RUNS pairs of runs (plain, then excon); the table shows the fastest run of each; server"
out "   CPU = CPU time of every server process.  On a shared machine the noise drifts over"
out "   minutes: the ratio within each pair cancels it best, so their median is the headline"
: >"$tmp/pairs"
i=1
while [ "$i" -le "$BF_RUNS" ]; do
	p=$(time_us sql -c "UPDATE t_plain$i SET b = a")
	e=$(time_us "$EXCON_BIN" advance "fill-t_excon$i")
	[ "$(sql -c "SELECT count(*) FROM t_excon$i WHERE b IS DISTINCT FROM a")" = 0 ] ||
		{ echo "bench: excon's backfill left rows of t_excon$i unfilled" >&2; exit 1; }
	echo "$p $e" >>"$tmp/pairs"
	i=$((i + 1))
done
# Fastest of each by wall time, then every pair's ratio (plain wall / excon wall).
set -- $(awk 'NR == 1 || $1 < pw { pw = $1; pc = $2 } NR == 1 || $3 < ew { ew = $3; ec = $4 }
    END { print pw, pc, ew, ec }' "$tmp/pairs")
plain_us=$1 plain_cpu=$2 excon_us=$3 excon_cpu=$4
pairs=$(awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 / $3 }' "$tmp/pairs")
pair_median=$(awk '{ print $1 / $3 }' "$tmp/pairs" | sort -n | awk '{ v[NR] = $1 }
    END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
plain_rate=$(rate "$plain_us")
excon_rate=$(rate "$excon_us")
printf '   %-36s %9s %9s %9s\n' "" "rows/s" "wall s" "cpu s" | tee -a "$report"
printf '   %-36s %9s %9.1f %9.1f\n' "plain UPDATE t SET b = a (baseline)" "$plain_rate" \
    "$(awk -v u="$plain_us" 'BEGIN { print u / 1e6 }')" \
    "$(awk -v c="$plain_cpu" 'BEGIN { print c / 1e3 }')" | tee -a "$report"
printf '   %-36s %9s %9.1f %9.1f\n' "excon backfill" "$excon_rate" \
    "$(awk -v u="$excon_us" 'BEGIN { print u / 1e6 }')" \
    "$(awk -v c="$excon_cpu" 'BEGIN { print c / 1e3 }')" | tee -a "$report"
out "   ratio excon/plain by rows/s: median of the pairs $pair_median (goal >= 0.9)"
out "   ratio of each pair, in run order: $pairs"
out "   fastest vs fastest: $(ratio "$excon_rate" "$plain_rate") by rows/s, $(ratio "$plain_cpu" "$excon_cpu") by server CPU"
plain_runs=$(awk '{ printf " %.1f", $1 / 1e6 }' "$tmp/pairs")
excon_runs=$(awk '{ printf " %.1f", $3 / 1e6 }' "$tmp/pairs")
out "   wall s of each run: plain$plain_runs, excon$excon_runs"

# The writer: WRITER_CLIENTS pgbench clients doing random single-row
# updates of table $1, as back-to-back runs of WRITER_CHUNK seconds until
# $tmp/stop-writer exists, with per-transaction logs tagged $2.
writer_loop() {
	n=0
	while [ ! -e "$tmp/stop-writer" ]; do
		n=$((n + 1))
		rc=0
		"$PG_BIN/pgbench" -n -c "$WRITER_CLIENTS" -j 2 -T "$WRITER_CHUNK" -f "$tmp/writer-$1.sql" \
		    -l --log-prefix="$tmp/wlog/$2.$n" >"$tmp/wout/$2.$n" 2>&1 || rc=$?
		echo "$rc" >"$tmp/wout/$2.$n.rc"
	done
}

# Starts the writer on table $1, tagged $2, and lets it warm up.
writer_start() {
	cat >"$tmp/writer-$1.sql" <<SQL
\set id random(1, $ROWS)
UPDATE $1 SET a = a + 1 WHERE id = :id;
SQL
	rm -f "$tmp/stop-writer"
	writer_loop "$1" "$2" &
	writer_pid=$!
	sleep 1
}

# Stops the writer and waits for its last run.
writer_stop() {
	touch "$tmp/stop-writer"
	wait "$writer_pid"
	writer_pid=
}

# The writer's transactions tagged $1 that started in [$2, $3) (µs):
# prints "tps p99_ms max_ms slow failed", slow = how many took over 50 ms.
writer_figures() {
	failed=0
	for f in "$tmp"/wout/"$1".*; do
		case $f in *.rc) continue ;; esac
		ft=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$f")
		ab=$(grep -c 'aborted in command' "$f" || true)
		failed=$((failed + ${ft:-0} + ab))
		if [ "$(cat "$f.rc")" != 0 ] && [ "${ft:-0}" = 0 ] && [ "$ab" = 0 ]; then
			failed=$((failed + 1))
		fi
	done
	# Log lines: client, transaction, latency (µs), script, end (s, µs).
	cat "$tmp"/wlog/"$1".* | awk -v s="$2" -v e="$3" '
	    $3 ~ /^[0-9]+$/ { st = $5 * 1000000 + $6 - $3; if (st >= s && st < e) print $3 }' |
	    sort -n | awk -v s="$2" -v e="$3" -v f="$failed" '
	    { v[NR] = $1; if ($1 > 50000) slow++ }
	    END {
		if (NR == 0) { printf "0 - - 0 %d\n", f; exit }
		i = int(NR * 0.99 + 0.999999); if (i > NR) i = NR
		printf "%.0f %.1f %.1f %d %d\n", NR * 1e6 / (e - s), v[i] / 1000,
		    v[NR] / 1000, slow, f
	    }'
}

# Prints one row of the writer table.
writer_row() {
	set -- "$1" $2
	printf '   %-36s %9s %9s %9s %9s %7s\n' "$1" "$2" "$3" "$4" "$5" "$6" | tee -a "$report"
}

out ""
out "   writer: $WRITER_CLIENTS pgbench clients, random single-row updates of the table"
printf '   %-36s %9s %9s %9s %9s %7s\n' "" "tps" "p99 ms" "max ms" ">50 ms" "failed" | tee -a "$report"

writer_start t_plain_w base
s=$(now_us)
sleep "$BASELINE_S"
e=$(now_us)
writer_stop
base_fig=$(writer_figures base "$s" "$e")
writer_row "no backfill (baseline)" "$base_fig"
sql -c "VACUUM t_plain_w"

writer_start t_plain_w plain
s=$(now_us)
sql -c "UPDATE t_plain_w SET b = a"
e=$(now_us)
sleep 1
writer_stop
plain_fig=$(writer_figures plain "$s" "$e")
writer_row "during plain UPDATE" "$plain_fig"
plain_w_us=$((e - s))

writer_start t_excon_w excon
s=$(now_us)
"$EXCON_BIN" advance fill-t_excon_w >"$tmp/last.out" 2>&1 ||
	{ cat "$tmp/last.out" >&2; echo "bench: excon advance failed" >&2; exit 1; }
e=$(now_us)
sleep 1
writer_stop
excon_fig=$(writer_figures excon "$s" "$e")
writer_row "during excon backfill" "$excon_fig"
excon_w_us=$((e - s))
out "   with the writer: plain UPDATE $(rate "$plain_w_us") rows/s, excon backfill $(rate "$excon_w_us") rows/s (ratio $(ratio "$plain_w_us" "$excon_w_us"))"
set -- $excon_fig
excon_max=$3
failed_total=$(( $(echo "$base_fig" | cut -d' ' -f5) + $(echo "$plain_fig" | cut -d' ' -f5) + $5 ))
out "   goal: writer max latency <= 50 ms during excon's backfill: $excon_max ms"
pg_stop

# ---------------------------------------------------------------------------
# c. lint --sql on many files
# ---------------------------------------------------------------------------
out ""
mkdir -p "$tmp/lint/sql"
cd "$tmp/lint"
"$EXCON_BIN" init >/dev/null
# LINT_FILES files of LINT_STMTS statements that are safe for an expand step.
awk -v nf="$LINT_FILES" -v ns="$LINT_STMTS" -v dir="$tmp/lint/sql" 'BEGIN {
	for (f = 1; f <= nf; f++) {
		path = sprintf("%s/%04d_migration.sql", dir, f)
		# CONCURRENTLY cannot run in a transaction: say the file runs without one.
		printf "-- excon:no-transaction\n" > path
		for (s = 1; s <= ns; s++) {
			t = sprintf("t%04d", f)
			if (s % 3 == 1)
				printf "CREATE INDEX CONCURRENTLY IF NOT EXISTS %s_c%d_idx ON %s (c%d);\n", t, s, t, s > path
			else if (s % 3 == 2)
				printf "ALTER TABLE %s ADD COLUMN IF NOT EXISTS c%d text;\n", t, s > path
			else
				printf "CREATE TABLE IF NOT EXISTS %s_%d (id bigint PRIMARY KEY, note text);\n", t, s > path
		}
		close(path)
	}
}'
# lint --sql counts as available once it flags a non-concurrent index build.
printf 'CREATE INDEX probe_idx ON probe (a);\n' >"$tmp/lint/probe.sql"
probe=0
"$EXCON_BIN" lint --sql "$tmp/lint/probe.sql" >/dev/null 2>&1 || probe=$?
if [ "$probe" = 4 ]; then
	out "c. lint: $LINT_FILES files x $LINT_STMTS statements (median of $RUNS runs)"
	# Findings (exit 4) do not fail the timing; they are shown below.
	lint_sql() {
		rc=0
		"$EXCON_BIN" lint --sql sql/*.sql >"$tmp/lint.out" 2>&1 || rc=$?
		[ "$rc" = 0 ] || [ "$rc" = 4 ]
	}
	base=$(median_ms sh -c 'cat sql/*.sql')
	li=$(median_ms lint_sql)
	row "cat of the files (baseline)" "$base"
	row "excon lint --sql" "$li" "$(ratio "$li" "$base")x baseline"
	out "   lint said: $(tail -n 1 "$tmp/lint.out")"
else
	out "c. lint: skipped (not available)"
fi

out ""
out "at end: $(load)"
out "bench finished in $(($(date +%s) - bench_t0)) s"

# ---------------------------------------------------------------------------
# d. RESULTS.md
# ---------------------------------------------------------------------------
if [ -n "$RESULTS" ]; then
	{
		echo "# Benchmark results"
		echo
		echo "Latest \`make bench\` run ($(date -u '+%Y-%m-%d')), on $(nproc) cores and $mem"
		echo "of memory, PostgreSQL $pgver.  Absolute figures vary by machine (and"
		echo "by what else runs on it); the ratios against the baselines measured in"
		echo "the same run are the figures to compare.  See bench/run.sh for what"
		echo "each line measures.  The server is the throwaway one of tests/pg.sh"
		echo "(fsync off), with autovacuum off so that it cannot run into the next"
		echo "measurement."
		echo
		echo '```'
		cat "$report"
		echo '```'
	} >"$RESULTS"
	echo "results written to $RESULTS"
fi

if [ "$failed_total" != 0 ]; then
	echo "bench: the writer saw $failed_total failed transactions" >&2
	exit 1
fi
