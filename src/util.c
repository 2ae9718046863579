/*
 * Small pure helpers (see util.h): one definition of what several modules
 * would otherwise each check their own way.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* 1 when s matches [a-z0-9][a-z0-9_-]*. */
int
util_name_valid(const char *s)
{
	const char *p;

	if (s == NULL || !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		    *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* Milliseconds of a duration, or -1 (see util.h). */
long
util_duration_ms(const char *s)
{
	static const struct { const char *unit; double ms; } units[] = {
		{ "", 1 }, { "us", 0.001 }, { "ms", 1 }, { "s", 1000 },
		{ "min", 60000 }, { "h", 3600000 }, { "d", 86400000 },
	};
	const char *p = s;
	double v = 0, scale = 1;
	size_t i;

	if (s == NULL || !isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p - '0');
		p++;
	}
	if (p - s > 9)
		return -1;
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return -1;
		for (p++; isdigit((unsigned char)*p); p++)
			v += (*p - '0') * (scale /= 10);
	}
	if (*p == ' ' && p[1] != '\0')
		p++;
	for (i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(p, units[i].unit) == 0)
			return (long)(v * units[i].ms);
	return -1;
}

/* Appends a whole file to out (see util.h). */
int
util_read_file(const char *path, struct buf *out, struct buf *err)
{
	char chunk[65536];
	FILE *fp = NULL;
	size_t n;
	int ret = -1;

	if ((fp = fopen(path, "rb")) == NULL) {
		error_set(err, "cannot open '%s': %s", path, strerror(errno));
		goto done;
	}
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		buf_add(out, chunk, n);
	if (ferror(fp)) {
		error_set(err, "cannot read '%s': %s", path, strerror(errno));
		goto done;
	}
	ret = 0;
done:
	if (fp != NULL)
		fclose(fp);
	return ret;
}
