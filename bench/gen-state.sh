#!/bin/sh
# Generates a large excon project for benchmarks: N plans of 6 steps each
# (the rename plan on N different tables) and about N releases, with five
# of the six steps of every plan shipped and every contract pending.
#
#   bench/gen-state.sh DIR [N]
set -e
dir=$1
n=${2:-1000}
excon=${EXCON_BIN:-excon}
[ -n "$dir" ] || { echo "usage: gen-state.sh DIR [N]" >&2; exit 2; }
mkdir -p "$dir/plans"
cd "$dir"
i=1
while [ "$i" -le "$n" ]; do
	name=$(printf 'p%04d' "$i")
	cat >"plans/$name.yaml" <<PLAN
plan: $name
description: Rename t_$name.name to t_$name.full_name
owner: team-$((i % 17))
deadline: 2027-0$((i % 9 + 1))-15
steps:
  - id: add-column
    kind: add_column
    table: t_$name
    column: full_name
    type: text
  - id: dual-write
    kind: dual_write
    table: t_$name
    from: name
    to: full_name
    trigger: true
  - id: backfill
    kind: backfill
    table: t_$name
    set: full_name = name
    where: full_name IS NULL
  - id: switch-reads
    kind: switch_reads
  - id: stop-old-writes
    kind: stop_old_writes
  - id: drop-name
    kind: drop_column
    table: t_$name
    column: name
PLAN
	i=$((i + 1))
done
"$excon" init >/dev/null
# The older releases, recorded directly: excon's own commands would take
# one process per release.
now=$(date +%s)
{
	echo "BEGIN;"
	i=1
	while [ "$i" -le $((n - 3)) ]; do
		echo "INSERT INTO releases (seq, name, state, started_at, finished_at) VALUES ($i, 'r$i', 'deployed', $now, $now);"
		i=$((i + 1))
	done
	echo "COMMIT;"
} | sqlite3 state/excon.db
"$excon" release start "r$((n - 2))" >/dev/null
"$excon" advance --all --stage pre --record-only >/dev/null
"$excon" release finish "r$((n - 2))" >/dev/null
"$excon" advance --all --stage post --record-only >/dev/null
"$excon" release start "r$((n - 1))" >/dev/null
"$excon" advance --all --stage code --record-only >/dev/null
"$excon" release finish "r$((n - 1))" >/dev/null
"$excon" release start "r$n" >/dev/null
