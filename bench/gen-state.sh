#!/bin/sh
# Generates a large excon project for benchmarks: N plans of 6 steps each
# (the rename plan on N different tables) and about N releases, with five
# of the six steps of every plan shipped and every contract pending.  The
# history is excon's own, hash chain and all: `excon log --verify` passes
# on it (checked at the end).
#
#   bench/gen-state.sh DIR [N]
#
# EXCON_BIN is the excon to use, EXCON_GEN_HISTORY the bench's release
# generator (default: build/bench/gen-history; without it, releases are
# recorded one excon process at a time, slowly).
set -e
dir=$1
n=${2:-1000}
excon=${EXCON_BIN:-excon}
[ -n "$dir" ] || { echo "usage: gen-state.sh DIR [N]" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
gen_history=${EXCON_GEN_HISTORY:-$here/build/bench/gen-history}
mkdir -p "$dir/plans"
cd "$dir"
# The plan files, written by one awk rather than one process per plan.
awk -v n="$n" 'BEGIN {
	for (i = 1; i <= n; i++) {
		name = sprintf("p%04d", i)
		f = "plans/" name ".yaml"
		printf "plan: %s\n", name > f
		printf "description: Rename t_%s.name to t_%s.full_name\n", name, name > f
		printf "owner: team-%d\n", i % 17 > f
		printf "deadline: 2027-0%d-15\n", i % 9 + 1 > f
		printf "steps:\n" > f
		printf "  - id: add-column\n    kind: add_column\n    table: t_%s\n", name > f
		printf "    column: full_name\n    type: text\n" > f
		printf "  - id: dual-write\n    kind: dual_write\n    table: t_%s\n", name > f
		printf "    from: name\n    to: full_name\n    trigger: true\n" > f
		printf "  - id: backfill\n    kind: backfill\n    table: t_%s\n", name > f
		printf "    set: full_name = name\n    where: full_name IS NULL\n" > f
		printf "  - id: switch-reads\n    kind: switch_reads\n" > f
		printf "  - id: stop-old-writes\n    kind: stop_old_writes\n" > f
		printf "  - id: drop-name\n    kind: drop_column\n    table: t_%s\n", name > f
		printf "    column: name\n" > f
		close(f)
	}
}'
"$excon" init >/dev/null
# The older releases, started and deployed with their events: by
# gen-history (bench/gen-history.c, built by `make bench`) in one
# transaction through excon's own state functions, else by excon itself,
# two processes per release.
if [ "$n" -gt 3 ]; then
	if [ -x "$gen_history" ]; then
		"$gen_history" state/excon.db 1 $((n - 3))
	else
		i=1
		while [ "$i" -le $((n - 3)) ]; do
			"$excon" release start "r$i" >/dev/null
			"$excon" release finish "r$i" >/dev/null
			i=$((i + 1))
		done
	fi
fi
"$excon" release start "r$((n - 2))" >/dev/null
"$excon" advance --all --stage pre --record-only >/dev/null
"$excon" release finish "r$((n - 2))" >/dev/null
"$excon" advance --all --stage post --record-only >/dev/null
"$excon" release start "r$((n - 1))" >/dev/null
"$excon" advance --all --stage code --record-only >/dev/null
"$excon" release finish "r$((n - 1))" >/dev/null
"$excon" release start "r$n" >/dev/null
"$excon" log --verify >/dev/null
