/*
 * The plan cache through the binary: a cached plan is used only while its
 * file is unchanged; edits, broken files and a garbage cache all fall back
 * to parsing.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/testutil.h"

static const char plan_v1[] =
	"plan: p\n"
	"description: first words\n"
	"steps:\n"
	"  - {id: s1, kind: add_column, table: t, column: c, type: text}\n";

/* A project whose plan file is old enough to be cached, with a warm cache. */
static char *
warm_project(void)
{
	char *d = tu_tmpdir();
	struct run r;

	tu_write(d, "plans/p.yaml", plan_v1);
	tu_excon_str(&r, d, "init");
	tu_run_free(&r);
	/* Files changed in the last two seconds are never cached. */
	sleep(3);
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	return d;
}

START_TEST(test_cache_written_and_used)
{
	char *d = warm_project();
	size_t len = 0;
	char *cache = tu_read(d, "state/excon.db.plans", &len);
	struct run r;

	ck_assert_ptr_nonnull(cache);
	ck_assert(len > 16);
	ck_assert(memcmp(cache, "EXCONPC", 7) == 0);
	ck_assert_ptr_nonnull(memmem(cache, len, "first words", 11));
	/*
	 * Rewrite the cached description behind the file's back (same length,
	 * the plan file untouched): status must show the cache's words, which
	 * it can only do when it reads the cache instead of the file.
	 */
	tu_sh(&r, d, "LC_ALL=C sed -i 's/first words/CACHE words/' state/excon.db.plans");
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	tu_excon_str(&r, d, "status");
	ck_assert_msg(tu_has(r.out, "CACHE words"), "%s", r.out);
	tu_run_free(&r);
	free(cache);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_edit_seen_at_once)
{
	char *d = warm_project();
	struct run r;

	tu_write(d, "plans/p.yaml", "plan: p\ndescription: other words\nsteps:\n"
	    "  - {id: s1, kind: add_column, table: t, column: c, type: text}\n");
	tu_excon_str(&r, d, "status");
	ck_assert_msg(tu_has(r.out, "other words"), "%s", r.out);
	tu_run_free(&r);
	/* An edit of the same size, with the old modification time put back. */
	tu_sh(&r, d, "cp plans/p.yaml x && sed -i 's/other/OTHER/' plans/p.yaml && "
	    "touch -r x plans/p.yaml");
	tu_run_free(&r);
	tu_excon_str(&r, d, "status");
	ck_assert_msg(tu_has(r.out, "OTHER words"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_broken_file_reported_not_cached)
{
	char *d = warm_project();
	struct run r;

	tu_write(d, "plans/p.yaml", "plan: p\nsteps:\n  - {id: s1, kind: add_colum}\n");
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "plans/p.yaml:3:") &&
	    tu_has(r.err, "did you mean \"add_column\""), "%s", r.err);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_garbage_cache_ignored)
{
	char *d = warm_project();
	struct run r;

	/* tu_write stops at the NUL: printf writes all 31 bytes. */
	tu_sh(&r, d, "printf 'EXCONPC\\000garbage garbage garbage' > state/excon.db.plans"
	    " && test $(wc -c < state/excon.db.plans) = 31");
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(tu_has(r.out, "first words"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

/* Size of d's plan cache after status has cached plan text, or 0. */
static size_t
cache_size(const char *d, const char *plan)
{
	struct run r;
	size_t len = 0;
	char *cache;

	tu_write(d, "plans/p.yaml", plan);
	tu_sh(&r, d, "rm -f state/excon.db.plans && sleep 3");
	tu_run_free(&r);
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	cache = tu_read(d, "state/excon.db.plans", &len);
	free(cache);
	return cache != NULL ? len : 0;
}

START_TEST(test_cache_compact)
{
	char *d = warm_project();
	size_t one, two;

	one = cache_size(d, plan_v1);
	two = cache_size(d, "plan: p\ndescription: first words\nsteps:\n"
	    "  - {id: s1, kind: add_column, table: t, column: c, type: text}\n"
	    "  - {id: s2, kind: add_column, table: t, column: e, type: text}\n");
	ck_assert_uint_gt(one, 0);
	ck_assert_uint_gt(two, one);
	/*
	 * A step of three fields costs its values, its checksum and one word
	 * per absent field, not a length and a position for each.
	 */
	ck_assert_msg(two - one < 320, "a step costs %zu bytes", two - one);
	tu_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_unterminated_string_ignored)
{
	char *d = warm_project();
	struct run r;

	/* Cached strings end with a NUL; one that does not is not trusted. */
	tu_sh(&r, d, "perl -pi -e 's/first words\\0/first wordsX/' state/excon.db.plans"
	    " && grep -c 'first wordsX' state/excon.db.plans");
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(tu_has(r.out, "  first words\n"), "%s", r.out);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

/* The plan cache suite. */
static Suite *
plancache_suite(void)
{
	Suite *s = suite_create("plancache");

	tu_add(s, "written_and_used", test_cache_written_and_used, NULL, NULL, 60);
	tu_add(s, "edit_seen", test_edit_seen_at_once, NULL, NULL, 60);
	tu_add(s, "broken_file", test_broken_file_reported_not_cached, NULL, NULL, 60);
	tu_add(s, "garbage_cache", test_garbage_cache_ignored, NULL, NULL, 60);
	tu_add(s, "compact", test_cache_compact, NULL, NULL, 60);
	tu_add(s, "unterminated_string", test_unterminated_string_ignored, NULL, NULL, 60);
	return s;
}

int
main(void)
{
	return tu_run_suite(plancache_suite());
}
