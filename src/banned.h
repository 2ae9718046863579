/*
 * Functions banned from src/: each writes into a buffer whose size it does
 * not know (or keeps hidden state), so a use becomes a compile error that
 * names the function.  Use struct buf (buf.h), snprintf or memcpy with a
 * known length instead.
 *
 * The Makefile forces this header into every file of src/ (-include), so it
 * first includes the system headers that declare the banned functions: their
 * include guards keep later includes from seeing the macros below.
 */
#ifndef EXCON_BANNED_H
#define EXCON_BANNED_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)

#endif
