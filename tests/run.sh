#!/bin/sh
# Runs every Check suite given as an argument against one throwaway
# PostgreSQL (started only when a suite given needs one), then prints one
# summary line for the whole run:
# "N passed, N failed".  Exits non-zero when anything failed.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pg.sh"

trap 'pg_stop' EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
# Suites that need no database: when only these run, no server starts.
no_pg="check_sqlgen check_util"
need_pg=
for t in "$@"; do
	case " $no_pg " in
	*" $(basename "$t") "*) ;;
	*) need_pg=1 ;;
	esac
done
if [ -n "$need_pg" ] && ! pg_start; then
	echo "could not start the test PostgreSQL" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
export EXCON_TESTS_DIR="$here"
export CK_FORK=yes
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
out=$(mktemp)
for t in "$@"; do
	echo "== $(basename "$t")"
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$out" | tail -n 1)
	if [ -n "$line" ]; then
		checks=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		fails=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
		errs=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
		passed=$((passed + checks - fails - errs))
		failed=$((failed + fails + errs))
	else
		echo "$(basename "$t"): no Check summary (exit $rc)"
		failed=$((failed + 1))
	fi
	if [ "$rc" != 0 ] && [ -n "$line" ] && [ "$(echo "$line" | sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1\2/')" = 00 ]; then
		echo "$(basename "$t"): exit $rc"
		failed=$((failed + 1))
	fi
done
rm -f "$out"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
