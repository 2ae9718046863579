/*
 * Library versions for `excon --version`, collected from the wrapper
 * modules so that no foreign header leaks out of them.
 */
#include "versions.h"
#include "ytree.h"

/* Prints the linked libraries' versions. */
void
versions_print(FILE *f)
{
	fprintf(f, "libyaml %s\n", ytree_lib_version());
}
