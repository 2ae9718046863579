/*
 * Output helpers for the command layer: colour only on a terminal and
 * never under NO_COLOR, JSON string escaping, times, and a progress line.
 */
#ifndef EXCON_OUT_H
#define EXCON_OUT_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"

/* 1 when f is a terminal and NO_COLOR is unset. */
int out_color(FILE *f);
/* ANSI sequence for a colour name ("red", "green", "yellow", "bold", "dim", "reset") when on, else "". */
const char *out_c(int on, const char *name);
/*
 * Appends s as the contents of a JSON string (without quotes): quotes,
 * backslashes and control characters escaped, bytes that are not valid
 * UTF-8 replaced with \ufffd.  NULL appends nothing.
 */
void json_chars(struct buf *b, const char *s);
/* Appends s as a JSON string literal (with quotes; bytes that are not UTF-8 become \ufffd); NULL gives null. */
void json_str(struct buf *b, const char *s);
/* Appends "key": to an object under construction, with a comma when needed. */
void json_key(struct buf *b, int *first, const char *key);
/* Formats unix seconds as UTC "YYYY-MM-DDTHH:MM:SSZ" into a static buffer. */
const char *out_time(int64_t t);
/* The current time (or $EXCON_NOW, for tests) in unix seconds. */
int64_t out_now(void);

#endif
