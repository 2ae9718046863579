/*
 * The one growable string buffer.
 *
 * Invariants: len < cap whenever ptr != NULL, and ptr[len] == '\0'; a
 * buffer with ptr == NULL is empty and buf_cstr() returns "".  The buffer
 * owns ptr until buf_detach() hands it to the caller.
 */
#ifndef EXCON_BUF_H
#define EXCON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*ptr;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* Makes b empty without allocating. */
void buf_init(struct buf *b);
/* Frees b's memory and leaves it empty (NULL-safe). */
void buf_free(struct buf *b);
/* Empties b but keeps its memory. */
void buf_reset(struct buf *b);
/* Appends n bytes. */
void buf_add(struct buf *b, const void *data, size_t n);
/* Appends a NUL-terminated string. */
void buf_puts(struct buf *b, const char *s);
/* Appends one byte. */
void buf_putc(struct buf *b, int c);
/*
 * Appends s, then spaces up to width bytes in all (as "%-*s" would, but
 * without printf's cost in output-heavy loops).
 */
void buf_putpad(struct buf *b, const char *s, size_t width);
/* Appends a decimal integer, like "%lld". */
void buf_putll(struct buf *b, long long v);
/* Appends formatted text. */
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends formatted text from a va_list. */
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* The contents as a C string, borrowed; never NULL. */
const char *buf_cstr(const struct buf *b);
/* Hands the contents (never NULL) to the caller and empties b. */
char *buf_detach(struct buf *b);
/* Cuts b to n bytes (n <= len). */
void buf_truncate(struct buf *b, size_t n);

/*
 * Error reporting convention: library functions take a `struct buf *err`
 * and on failure put one lowercase message without a full stop in it (via
 * error_set) and return -1.  err may be NULL when the caller does not care.
 */
int error_set(struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Length (1-4) of the well-formed UTF-8 sequence starting at p, or 0 when
 * the bytes there are not one (a stray continuation byte, an overlong or
 * truncated sequence, a surrogate, a code point past U+10FFFF).
 */
size_t utf8_len(const unsigned char *p);

#endif
