/*
 * The growable string buffer (see buf.h for its invariants) and the
 * error-message convention shared by every module.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

/* Makes b empty without allocating. */
void
buf_init(struct buf *b)
{
	b->ptr = NULL;
	b->len = b->cap = 0;
}

/* Frees b's memory; NULL-safe. */
void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->ptr);
	buf_init(b);
}

/* Empties b, keeping its memory. */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->ptr != NULL)
		b->ptr[0] = '\0';
}

/* Ensures room for n more bytes plus the terminator. */
static void
buf_grow(struct buf *b, size_t n)
{
	size_t want = b->len + n + 1;

	assert(b->ptr != NULL ? b->len < b->cap : b->len == 0 && b->cap == 0);
	assert(want > b->len);	/* no overflow */
	if (want <= b->cap)
		return;
	if (want < 64)
		want = 64;
	if (want < b->cap * 2)
		want = b->cap * 2;
	b->ptr = xrealloc(b->ptr, want);
	b->cap = want;
}

/* Appends n bytes. */
void
buf_add(struct buf *b, const void *data, size_t n)
{
	/* Room is checked here: output loops append many short pieces. */
	if (b->cap - b->len <= n)
		buf_grow(b, n);
	if (n > 0)
		memcpy(b->ptr + b->len, data, n);
	b->len += n;
	b->ptr[b->len] = '\0';
	assert(b->len < b->cap);
}

/* Appends a C string. */
void
buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Appends one byte. */
void
buf_putc(struct buf *b, int c)
{
	char ch = (char)c;

	buf_add(b, &ch, 1);
}

/* Appends s padded with spaces to width bytes, like "%-*s". */
void
buf_putpad(struct buf *b, const char *s, size_t width)
{
	size_t n = strlen(s);

	buf_add(b, s, n);
	if (n >= width)
		return;
	if (b->cap - b->len <= width - n)
		buf_grow(b, width - n);
	memset(b->ptr + b->len, ' ', width - n);
	b->len += width - n;
	b->ptr[b->len] = '\0';
}

/* Appends v in decimal, like "%lld". */
void
buf_putll(struct buf *b, long long v)
{
	char digits[24];	/* 20 digits of 2^64, a sign, the end */
	size_t i = sizeof digits;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
	    (unsigned long long)v;

	do {
		digits[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		digits[--i] = '-';
	buf_add(b, digits + i, sizeof digits - i);
}

/* Appends formatted text from a va_list. */
void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	size_t room;
	int n;

	/*
	 * Formats straight into the spare room, which is usually enough (a
	 * buffer grows by doubling), and only formats again after growing
	 * when it was not: output-heavy commands spent a tenth of their time
	 * formatting every piece twice.  256 bytes of room hold a whole
	 * gate message, which a fresh buffer would otherwise format twice.
	 */
	buf_grow(b, 256);
	room = b->cap - b->len;
	va_copy(cp, ap);
	n = vsnprintf(b->ptr + b->len, room, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->ptr[b->len] = '\0';
		return;
	}
	if ((size_t)n >= room) {
		buf_grow(b, (size_t)n);
		vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	}
	b->len += (size_t)n;
	assert(b->len < b->cap && b->ptr[b->len] == '\0');
}

/* Appends formatted text. */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* The contents as a borrowed C string. */
const char *
buf_cstr(const struct buf *b)
{
	return b->ptr != NULL ? b->ptr : "";
}

/* Hands the contents to the caller and empties b. */
char *
buf_detach(struct buf *b)
{
	char *p = b->ptr != NULL ? b->ptr : xstrdup("");

	buf_init(b);
	return p;
}

/* Cuts b to n bytes. */
void
buf_truncate(struct buf *b, size_t n)
{
	if (n >= b->len)
		return;
	b->len = n;
	b->ptr[n] = '\0';
}

/* Replaces err's contents with a message; returns -1 for `return error_set()`. */
int
error_set(struct buf *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	buf_reset(err);
	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
	return -1;
}

/* Length of the well-formed UTF-8 sequence at p, or 0 (see buf.h). */
size_t
utf8_len(const unsigned char *p)
{
	size_t n, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2, cp = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3, cp = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;	/* also stops at the terminating NUL */
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}
