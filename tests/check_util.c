/*
 * Tests of the shared helpers (src/util.c): the names excon accepts, the
 * one duration grammar that lint, the config and the executor all read,
 * the identifier limit, and reading a whole file.  Pure: this suite needs
 * no PostgreSQL (tests/run.sh starts none for it).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pg.h"
#include "plan.h"
#include "template.h"
#include "util.h"
#include "util/testutil.h"
#include "xalloc.h"

START_TEST(test_names)
{
	static const char *const good[] = { "users-full-name", "a", "0day", "x_y-z9", NULL };
	static const char *const bad[] = { "", "-x", "_x", "Users", "a b", "a.b", "a/b",
	    "ä", "a$", NULL };
	size_t i;

	for (i = 0; good[i] != NULL; i++)
		ck_assert_msg(util_name_valid(good[i]), "%s", good[i]);
	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(!util_name_valid(bad[i]), "%s", bad[i]);
	ck_assert(!util_name_valid(NULL));
}
END_TEST

START_TEST(test_durations)
{
	static const struct { const char *s; long ms; } v[] = {
		{ "0", 0 }, { "250", 250 }, { "2s", 2000 }, { "500ms", 500 },
		{ "1min", 60000 }, { "1.5min", 90000 }, { "1.5s", 1500 }, { "30 s", 30000 },
		{ "2h", 7200000 }, { "1d", 86400000 }, { "1500us", 1 },
		{ "999999999ms", 999999999 },
		/* Not durations: */
		{ "", -1 }, { "s", -1 }, { "2 seconds", -1 }, { "2S", -1 }, { "1.s", -1 },
		{ "2s ", -1 }, { " 2s", -1 }, { "2  s", -1 }, { "-1s", -1 }, { ".5s", -1 },
		{ "1s'; DROP TABLE users; --", -1 }, { "1000000000ms", -1 },
		{ "99999999999999999999999999s", -1 },
	};
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		ck_assert_msg(util_duration_ms(v[i].s) == v[i].ms, "'%s': %ld, want %ld",
		    v[i].s, util_duration_ms(v[i].s), v[i].ms);
		/* What lint and the config accept is exactly what excon runs with. */
		ck_assert_msg(plan_duration_valid(v[i].s) == (v[i].ms >= 0), "'%s'", v[i].s);
		ck_assert_msg(pg_timeout_ms(v[i].s) == v[i].ms, "'%s'", v[i].s);
	}
	ck_assert_int_eq(util_duration_ms(NULL), -1);
}
END_TEST

START_TEST(test_ident_limit)
{
	struct buf err = BUF_INIT;
	char name[IDENT_MAX + 2];

	/* `excon new` takes a name of 63 bytes and refuses one of 64. */
	ck_assert_int_eq(IDENT_MAX, 63);
	memset(name, 'a', IDENT_MAX);
	name[IDENT_MAX] = '\0';
	ck_assert_msg(template_check_ident("table", name, &err) == 0, "%s", buf_cstr(&err));
	name[IDENT_MAX] = 'a';
	name[IDENT_MAX + 1] = '\0';
	ck_assert_int_eq(template_check_ident("table", name, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "is longer than 63 bytes, the most PostgreSQL keeps of a name"),
	    "%s", buf_cstr(&err));
	buf_free(&err);
}
END_TEST

START_TEST(test_read_file)
{
	char *d = tu_tmpdir(), *path = NULL;
	struct buf out = BUF_INIT, err = BUF_INIT;
	FILE *f;

	path = xasprintf("%s/f.bin", d);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	/* Every byte, a NUL too, and more than one read's worth. */
	{
		size_t i;

		for (i = 0; i < 200000; i++)
			fputc((int)(i % 251), f);
	}
	fclose(f);
	buf_puts(&out, "kept:");
	ck_assert_msg(util_read_file(path, &out, &err) == 0, "%s", buf_cstr(&err));
	ck_assert_uint_eq(out.len, 5 + 200000);
	ck_assert_int_eq(memcmp(out.ptr, "kept:", 5), 0);
	ck_assert_int_eq((unsigned char)out.ptr[5 + 250], 250);
	ck_assert_int_eq((unsigned char)out.ptr[5 + 251], 0);
	ck_assert_int_eq((unsigned char)out.ptr[5 + 199999], 199999 % 251);
	/* A missing file names itself and why. */
	free(path);
	path = xasprintf("%s/f.bin.gone", d);
	ck_assert_int_eq(util_read_file(path, &out, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "cannot open '") &&
	    tu_has(buf_cstr(&err), "/f.bin.gone': No such file or directory"), "%s", buf_cstr(&err));
	/* A directory opens but cannot be read. */
	ck_assert_int_eq(util_read_file(d, &out, &err), -1);
	ck_assert_msg(tu_has(buf_cstr(&err), "cannot read '"), "%s", buf_cstr(&err));
	buf_free(&out);
	buf_free(&err);
	free(path);
	tu_rmrf(d);
	free(d);
}
END_TEST

/* One TCase per behaviour. */
static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	struct { const char *name; const TTest *t; } tests[] = {
		{ "names", test_names },
		{ "durations", test_durations },
		{ "ident_limit", test_ident_limit },
		{ "read_file", test_read_file },
	};
	size_t i;

	for (i = 0; i < sizeof tests / sizeof tests[0]; i++)
		tu_add(s, tests[i].name, tests[i].t, NULL, NULL, 30);
	return s;
}

int
main(void)
{
	return tu_run_suite(util_suite());
}
