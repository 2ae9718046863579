/*
 * Tests of the string buffer and SHA-256.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sha256.h"
#include "xalloc.h"
#include "util/testutil.h"

START_TEST(test_buf_grows_and_detaches)
{
	struct buf b = BUF_INIT;
	char *s;
	int i;

	ck_assert_str_eq(buf_cstr(&b), "");
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	ck_assert(b.len > 3000);
	ck_assert_int_eq(b.ptr[b.len], '\0');
	buf_truncate(&b, 4);
	ck_assert_str_eq(buf_cstr(&b), "0,1,");
	s = buf_detach(&b);
	ck_assert_ptr_null(b.ptr);
	ck_assert_str_eq(s, "0,1,");
	free(s);
}
END_TEST

START_TEST(test_buf_putpad_matches_printf)
{
	static const char *const words[] = { "", "a", "add-column", "exactly-twenty-chars",
	    "longer-than-twenty-bytes-here" };
	struct buf a = BUF_INIT, b = BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		buf_printf(&a, "[%-20s|%-4s]", words[i], words[i]);
		buf_putc(&b, '[');
		buf_putpad(&b, words[i], 20);
		buf_putc(&b, '|');
		buf_putpad(&b, words[i], 4);
		buf_putc(&b, ']');
	}
	ck_assert_str_eq(buf_cstr(&b), buf_cstr(&a));
	ck_assert_uint_eq(b.len, a.len);
	buf_free(&a);
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_putll_matches_printf)
{
	static const long long vals[] = { 0, 7, -7, 10, 1000, -123456789,
	    9223372036854775807LL, -9223372036854775807LL - 1 };
	struct buf a = BUF_INIT, b = BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		buf_printf(&a, "%lld,", vals[i]);
		buf_putll(&b, vals[i]);
		buf_putc(&b, ',');
	}
	ck_assert_str_eq(buf_cstr(&b), buf_cstr(&a));
	buf_free(&a);
	buf_free(&b);
}
END_TEST

START_TEST(test_arena_keeps_every_string)
{
	struct arena a = { NULL };
	struct buf big = BUF_INIT;
	char *v[3000], *large;
	char word[32];
	int i;

	for (i = 0; i < 3000; i++) {
		snprintf(word, sizeof word, "string-%d", i);
		v[i] = arena_strndup(&a, word, strlen(word));
		if (i == 1500) {
			/* Larger than a block, in the middle of small ones. */
			while (big.len < 100000)
				buf_puts(&big, "0123456789");
			large = arena_strndup(&a, big.ptr, big.len);
		}
	}
	for (i = 0; i < 3000; i++) {
		snprintf(word, sizeof word, "string-%d", i);
		ck_assert_str_eq(v[i], word);
	}
	ck_assert_str_eq(large, big.ptr);
	ck_assert_str_eq(arena_strndup(&a, "abcdef", 3), "abc");
	arena_free(&a);
	ck_assert_ptr_null(a.head);
	arena_free(&a);
	buf_free(&big);
}
END_TEST

START_TEST(test_sha256_known_vectors)
{
	char h[65];

	sha256_hex("", 0, h);
	ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

/* The buffer suite. */
static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_add_test(tc, test_buf_grows_and_detaches);
	tcase_add_test(tc, test_sha256_known_vectors);
	suite_add_tcase(s, tc);
	tc = tcase_create("putpad");
	tcase_add_test(tc, test_buf_putpad_matches_printf);
	suite_add_tcase(s, tc);
	tc = tcase_create("arena");
	tcase_add_test(tc, test_arena_keeps_every_string);
	suite_add_tcase(s, tc);
	tc = tcase_create("putll");
	tcase_add_test(tc, test_buf_putll_matches_printf);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run_suite(buf_suite());
}
