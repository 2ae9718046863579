#!/bin/sh
# `make check-layers BUILD`: the module boundaries of the README's Layout,
# checked on the sources and on the objects of one build, so that a change
# that crosses one fails `make test` instead of waiting for a reviewer.
#
#   - each foreign library's header is included by its wrapper only;
#   - no state backend (state-sqlite.c, state-pg.c) nor what they share
#     (state-common.c) calls a function of the facade above them
#     (state.c): the arrows run from the facade down, never back up.
#
# The second is read from the objects (nm), not the sources, so a call
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

[ "$fail" -eq 0 ] || exit 1
echo "check-layers: 4 wrapped libraries, 3 state modules below the facade"
