/*
 * Versions of the linked libraries, each asked of its own wrapper module.
 */
#ifndef EXCON_VERSIONS_H
#define EXCON_VERSIONS_H

#include <stdio.h>

/* Prints one "library version" line per linked library. */
void versions_print(FILE *f);

#endif
