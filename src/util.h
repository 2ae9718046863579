/*
 * Small pure helpers shared by the modules: the names excon accepts, the
 * longest identifier PostgreSQL keeps, durations, and reading a whole
 * file.  No database, no printing.
 */
#ifndef EXCON_UTIL_H
#define EXCON_UTIL_H

#include "buf.h"

/*
 * The longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes); it
 * truncates a longer one, so an object named longer could never be found
 * by that name.
 */
#define IDENT_MAX	63

/* 1 when s matches [a-z0-9][a-z0-9_-]*, the form of plan names and step ids. */
int util_name_valid(const char *s);

/*
 * A duration as PostgreSQL reads it: at most 9 digits, an optional
 * fraction, an optional single space, and a unit among us, ms, s, min, h,
 * d (case-sensitive) or none (milliseconds): "2s", "1.5min", "30 s", "0".
 * Returns its milliseconds, or -1 when s (may be NULL) is not one.
 */
long util_duration_ms(const char *s);

/*
 * Appends the whole of the file at path to out.  -1 with "cannot open
 * 'x': ..." or "cannot read 'x': ...".
 */
int util_read_file(const char *path, struct buf *out, struct buf *err);

#endif
