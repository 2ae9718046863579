/*
 * Allocation helpers that never return NULL.  Out of memory is the one
 * failure excon does not try to recover from: it aborts with a message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* Reports exhaustion and aborts. */
static void
oom(size_t n)
{
	fprintf(stderr, "excon: out of memory (%zu bytes)\n", n);
	abort();
}

/* malloc that never fails. */
void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

/* calloc that never fails. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		oom(nmemb * size);
	return p;
}

/* realloc that never fails. */
void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

/* strdup that never fails; NULL gives NULL. */
char *
xstrdup(const char *s)
{
	return s == NULL ? NULL : xstrndup(s, strlen(s));
}

/* strndup that never fails. */
char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* printf into a fresh string owned by the caller. */
char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	return s;
}

/* Doubles the capacity of an array until it holds want elements. */
void
xgrow(void **arr, size_t *cap, size_t want, size_t sz)
{
	size_t n = *cap ? *cap : 8;

	if (want <= *cap)
		return;
	while (n < want)
		n *= 2;
	*arr = xrealloc(*arr, n * sz);
	*cap = n;
}

/* Frees a NULL-terminated list of strings. */
void
strv_free(char **v)
{
	char **p;

	for (p = v; p != NULL && *p != NULL; p++)
		free(*p);
	free(v);
}
