/*
 * Allocation helpers that never return NULL.  Out of memory is the one
 * failure excon does not try to recover from: it aborts with a message.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
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

/* One block of an arena: used bytes of size, after the header. */
struct arena_block {
	struct arena_block	*next;
	size_t			 used;
	size_t			 size;
	char			 bytes[];
};

#define ARENA_BLOCK	(64 * 1024 - sizeof(struct arena_block))

/* Copies n bytes of s and a NUL into a's newest block (or a new one). */
char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	struct arena_block *b = a->head;
	char *out;

	assert(n < SIZE_MAX / 2);
	if (b == NULL || b->size - b->used < n + 1) {
		size_t size = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;

		b = xmalloc(sizeof *b + size);
		b->used = 0;
		b->size = size;
		/* A string larger than a block keeps the newest block in front. */
		if (a->head != NULL && size > ARENA_BLOCK) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	out = b->bytes + b->used;
	memcpy(out, s, n);
	out[n] = '\0';
	b->used += n + 1;
	return out;
}

/* Frees every block of a. */
void
arena_free(struct arena *a)
{
	struct arena_block *b, *next;

	if (a == NULL)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}
