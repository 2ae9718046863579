#!/bin/sh
# `make check-layers BUILD`: the module boundaries of the README's Layout,
# checked on the sources and on the objects of one build, so that a change
# that crosses one fails `make test` instead of waiting for a reviewer.
#
#   - each foreign library's header is included by its wrapper only;
#   - no state backend (state-sqlite.c, state-pg.c) nor what they share
#     (state-common.c) calls a function of the facade above them
#     (state.c): the arrows run from the facade down, never back up;
#   - the same for the SQL analysis: nothing under src/lint/ includes
#     sqlcheck.h or calls a function of its core (sqlcheck.c).
#
# The calls are read from the objects (nm), not the sources, so a call
# through a macro or a misspelt declaration is caught as well.
set -eu

build=${1:?usage: check-layers.sh BUILD_DIR}
fail=0

# only HEADER FILE...: HEADER is included by exactly the FILEs under src/.
only() {
	hdr=$1
	shift
	found=$(grep -rlE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]$hdr[>\"]" src |
	    sort | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	if [ "$found" != "$want" ]; then
		echo "check-layers: $hdr is included by: ${found:-nothing}(only $want may)"
		fail=1
	fi
}

only 'sqlite3\.h' src/state-sqlite.c
only 'libpq-fe\.h' src/pg.c
only 'yaml\.h' src/ytree.c
only 'pg_query\.h' src/sqlcheck.c src/lint/lint-int.h

facade=$(nm -g --defined-only "$build/obj/state.o" | awk 'NF == 3 { print $3 }')
[ -n "$facade" ] || { echo "check-layers: no symbols in $build/obj/state.o"; exit 1; }
for o in state-sqlite state-pg state-common; do
	for sym in $(nm -u "$build/obj/$o.o" | awk '{ print $NF }'); do
		if printf '%s\n' "$facade" | grep -qxF "$sym"; then
			echo "check-layers: $o.c calls $sym of the facade (state.c)"
			fail=1
		fi
	done
done

found=$(grep -rlE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"sqlcheck\.h"' src/lint |
    sort | tr '\n' ' ')
if [ -n "$found" ]; then
	echo "check-layers: src/lint/ includes sqlcheck.h, the core above it: $found"
	fail=1
fi
core=$(nm -g --defined-only "$build/obj/sqlcheck.o" | awk 'NF == 3 { print $3 }')
[ -n "$core" ] || { echo "check-layers: no symbols in $build/obj/sqlcheck.o"; exit 1; }
nlint=0
for o in "$build"/obj/lint/*.o; do
	nlint=$((nlint + 1))
	for sym in $(nm -u "$o" | awk '{ print $NF }'); do
		if printf '%s\n' "$core" | grep -qxF "$sym"; then
			echo "check-layers: lint/$(basename "$o" .o).c calls $sym of the core (sqlcheck.c)"
			fail=1
		fi
	done
done

[ "$fail" -eq 0 ] || exit 1
echo "check-layers: 4 wrapped libraries, 3 state modules below the facade," \
    "$nlint analysis modules below its core"
