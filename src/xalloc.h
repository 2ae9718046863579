/*
 * Allocation helpers that never return NULL: on exhaustion they print one
 * line and abort, because no caller could do anything useful instead.
 */
#ifndef EXCON_XALLOC_H
#define EXCON_XALLOC_H

#include <stddef.h>

/* malloc that never fails; the caller owns the result. */
void *xmalloc(size_t n);
/* calloc that never fails; the caller owns the result. */
void *xcalloc(size_t nmemb, size_t size);
/* realloc that never fails; the caller owns the result. */
void *xrealloc(void *p, size_t n);
/* strdup that never fails; NULL in gives NULL out. */
char *xstrdup(const char *s);
/* strndup that never fails. */
char *xstrndup(const char *s, size_t n);
/* printf into a fresh string owned by the caller. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Frees a NULL-terminated list of strings and the list (NULL-safe). */
void strv_free(char **v);

/*
 * A string arena: many small strings in a few large blocks, all freed at
 * once by arena_free (explicitly, so that leak checkers see it).  Start
 * from a zeroed struct.
 */
struct arena {
	struct arena_block	*head;	/* newest block first */
};
/* A copy of the n bytes at s plus a NUL, owned by a. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Frees every string of a and empties it (NULL-safe). */
void arena_free(struct arena *a);

/* Grows *arr (of *cap elements of size sz) to hold at least want elements. */
void xgrow(void **arr, size_t *cap, size_t want, size_t sz);
#define XGROW(arr, cap, want) xgrow((void **)&(arr), &(cap), (want), sizeof *(arr))

#endif
