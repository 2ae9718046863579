/*
 * Library versions for `excon --version`, collected from the wrapper
 * modules so that no foreign header leaks out of them.
 */
#include "pg.h"
#include "sqlcheck.h"
#include "state.h"
#include "versions.h"
#include "ytree.h"

/* Prints the linked libraries' versions. */
void
versions_print(FILE *f)
{
	fprintf(f, "libpq %s\n", pg_lib_version());
	fprintf(f, "sqlite %s\n", state_lib_version());
	fprintf(f, "libyaml %s\n", ytree_lib_version());
	fprintf(f, "libpg_query %s\n", sqlcheck_lib_version());
}
