/*
 * Output helpers shared by commands.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "out.h"

/* Whether to colour output going to f. */
int
out_color(FILE *f)
{
	const char *nc = getenv("NO_COLOR");

	if (nc != NULL && *nc != '\0')
		return 0;
	return isatty(fileno(f));
}

/* ANSI escape for a colour name. */
const char *
out_c(int on, const char *name)
{
	static const struct { const char *n, *seq; } tab[] = {
		{ "red", "\033[31m" }, { "green", "\033[32m" },
		{ "yellow", "\033[33m" }, { "bold", "\033[1m" },
		{ "dim", "\033[2m" }, { "reset", "\033[0m" },
	};
	size_t i;

	if (!on)
		return "";
	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcmp(tab[i].n, name) == 0)
			return tab[i].seq;
	return "";
}

/* Appends the JSON string contents of s (see out.h). */
void
json_chars(struct buf *out, const char *s)
{
	const unsigned char *p;
	size_t n;

	for (p = (const unsigned char *)s; p != NULL && *p != '\0'; p += n) {
		/* Printable ASCII that needs no escape goes in one piece. */
		for (n = 0; p[n] >= 0x20 && p[n] < 0x7f && p[n] != '"' &&
		    p[n] != '\\'; n++)
			;
		if (n > 0) {
			buf_add(out, p, n);
			continue;
		}
		n = utf8_len(p);
		if (n == 0) {
			buf_puts(out, "\\ufffd");
			n = 1;
		} else if (*p == '"')
			buf_puts(out, "\\\"");
		else if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else if (*p == '\t')
			buf_puts(out, "\\t");
		else if (*p == '\r')
			buf_puts(out, "\\r");
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(out, "\\u%04x", *p);
		else
			buf_add(out, p, n);
	}
}

/* Appends a JSON string literal; bytes that are not UTF-8 become U+FFFD. */
void
json_str(struct buf *b, const char *s)
{
	if (s == NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	json_chars(b, s);
	buf_putc(b, '"');
}

/* Appends an object key with its separator. */
void
json_key(struct buf *b, int *first, const char *key)
{
	if (!*first)
		buf_putc(b, ',');
	*first = 0;
	json_str(b, key);
	buf_putc(b, ':');
}

/* UTC timestamp text. */
const char *
out_time(int64_t t)
{
	static char s[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return s;
}

/* Now, or $EXCON_NOW when set (tests pin the clock with it). */
int64_t
out_now(void)
{
	const char *e = getenv("EXCON_NOW");

	if (e != NULL && *e != '\0')
		return strtoll(e, NULL, 10);
	return (int64_t)time(NULL);
}
