/*
 * Library versions for `excon --version`, collected from the wrapper
 * modules so that no foreign header leaks out of them (STYLE.md, rule 4).
 *
 * Every library excon links, and the one module that may ask it:
 *
 *   libyaml       ytree_lib_version()      ytree.c
 *   SQLite        state_lib_version()      state.c     sqlite3_libversion()
 *   libpq         pg_lib_version()         pg.c        PQlibVersion()
 *   libpg_query   sqlcheck_lib_version()   sqlcheck.c  PG_VERSION of pg_query.h
 *
 * A library appears in the table below once its wrapper exports the
 * function; until then it is left out rather than having this file
 * include the library's header.
 */
#include "versions.h"
#include "ytree.h"

/* One linked library: its name and the wrapper function that knows its version. */
static const struct lib_version {
	const char	*name;
	const char	*(*version)(void);
} libs[] = {
	{ "libyaml", ytree_lib_version },
};

/* Prints one "library version" line per linked library, in table order. */
void
versions_print(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof libs / sizeof libs[0]; i++)
		fprintf(f, "%s %s\n", libs[i].name, libs[i].version());
}
