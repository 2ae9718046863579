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
#include "xalloc.h"

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

/*
 * A warm project of three cached plans: p depends on q, whose step has
 * not shipped, and r stands by; one release is recorded.
 */
static char *
warm_three(void)
{
	char *d = tu_tmpdir();
	struct run r;

	tu_write(d, "plans/p.yaml", "plan: p\ndescription: first words\n"
	    "depends_on: [q]\nsteps:\n"
	    "  - {id: s1, kind: add_column, table: t, column: c, type: text}\n");
	tu_write(d, "plans/q.yaml", "plan: q\ndescription: q words\nsteps:\n"
	    "  - {id: s1, kind: add_column, table: u, column: c, type: text}\n");
	tu_write(d, "plans/r.yaml", "plan: r\ndescription: r words\nsteps:\n"
	    "  - {id: s1, kind: add_column, table: v, column: c, type: text}\n");
	tu_excon_str(&r, d, "init");
	tu_run_free(&r);
	tu_excon_str(&r, d, "release start v1");
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	sleep(3);
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	return d;
}

/* The block of plan name in the text of a whole `excon status` (owned). */
static char *
status_block(const char *all, const char *name)
{
	char *head = xasprintf("%s  ", name);
	const char *b = strncmp(all, head, strlen(head)) == 0 ? all : NULL;
	const char *e;
	char *nl = xasprintf("\n%s", head);

	if (b == NULL && (b = strstr(all, nl)) != NULL)
		b++;
	ck_assert_msg(b != NULL, "no %s in:\n%s", name, all);
	e = strstr(b, "\n\n");
	free(head);
	free(nl);
	return e != NULL ? xasprintf("%.*s\n", (int)(e - b), b) : xasprintf("%s", b);
}

/* Asserts that status of each plan alone says what the whole status does. */
static void
same_as_whole(const char *d)
{
	const char *names[] = { "p", "q", "r" };
	struct run all, one;
	char *want;
	size_t i;

	tu_excon_str(&all, d, "status");
	ck_assert_int_eq(all.status, 0);
	for (i = 0; i < 3; i++) {
		tu_excon_str(&one, d, "status %s", names[i]);
		ck_assert_int_eq(one.status, 0);
		want = status_block(all.out, names[i]);
		ck_assert_str_eq(one.out, want);
		free(want);
		tu_run_free(&one);
	}
	tu_run_free(&all);
}

/*
 * status PLAN reads only that plan and its dependencies from the cache,
 * and only their ships from the history, yet says exactly what the plan's
 * part of a whole status says (rule 5 included, which reads the
 * dependency's ships), in text and in JSON.
 */
START_TEST(test_status_plan_same_as_whole)
{
	char *d = warm_three();
	struct run all, one;

	tu_excon_str(&all, d, "status");
	ck_assert_msg(tu_has(all.out, "depends on q, which has not shipped yet"),
	    "%s", all.out);
	tu_run_free(&all);
	same_as_whole(d);
	tu_excon_str(&all, d, "status --format json");
	tu_excon_str(&one, d, "status p --format json");
	ck_assert_int_eq(one.status, 0);
	ck_assert_msg(one.out[0] == '[' && strncmp(one.out + 1, all.out + 1,
	    strlen(one.out) - 3) == 0 && tu_has(one.out, "depends on q"),
	    "%s\n%s", one.out, all.out);
	tu_run_free(&all);
	tu_run_free(&one);
	/* Once q has shipped, p alone sees it (and r's ship stays r's). */
	tu_excon_str(&one, d, "advance q --record-only");
	ck_assert_int_eq(one.status, 0);
	tu_run_free(&one);
	tu_excon_str(&one, d, "advance r --record-only");
	ck_assert_int_eq(one.status, 0);
	tu_run_free(&one);
	tu_excon_str(&one, d, "status p");
	ck_assert_msg(!tu_has(one.out, "has not shipped") &&
	    tu_has(one.out, "allowed now"), "%s", one.out);
	tu_run_free(&one);
	same_as_whole(d);
	tu_excon_str(&one, d, "advance p --record-only");
	ck_assert_int_eq(one.status, 0);
	tu_run_free(&one);
	same_as_whole(d);
	tu_rmrf(d);
	free(d);
}
END_TEST

/*
 * status PLAN still checks every file against the cache: an edit of the
 * plan itself that keeps its size and modification time is seen, another
 * plan's file that no longer loads is reported, and a second definition
 * of the plan's name in another file is refused, as by a whole status.
 */
START_TEST(test_status_plan_checks_every_file)
{
	char *d = warm_three();
	struct run r;

	tu_sh(&r, d, "cp plans/p.yaml x && sed -i 's/first/FIRST/' plans/p.yaml && "
	    "touch -r x plans/p.yaml");
	tu_run_free(&r);
	tu_excon_str(&r, d, "status p");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(tu_has(r.out, "FIRST words"), "%s", r.out);
	tu_run_free(&r);
	tu_write(d, "plans/r.yaml", "plan: r\nsteps:\n  - {id: s1, kind: add_colum}\n");
	tu_excon_str(&r, d, "status p");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "plans/r.yaml:3:") && r.out[0] == '\0',
	    "%s%s", r.out, r.err);
	tu_run_free(&r);
	tu_write(d, "plans/r.yaml", "plan: q\nsteps:\n"
	    "  - {id: s1, kind: add_column, table: v, column: c, type: text}\n");
	tu_sh(&r, d, "sleep 3");
	tu_run_free(&r);
	/* Once with r.yaml parsed, once with it cached: both see the twin. */
	tu_excon_str(&r, d, "status p");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "plan \"q\" is also defined in plans/q.yaml"),
	    "%s", r.err);
	tu_run_free(&r);
	tu_excon_str(&r, d, "status p");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.err, "plan \"q\" is also defined in plans/q.yaml"),
	    "%s", r.err);
	tu_run_free(&r);
	tu_rmrf(d);
	free(d);
}
END_TEST

/*
 * status PLAN keeps the cache whole: the entries it did not need are
 * kept, a stale one is dropped, and a whole status afterwards reads the
 * kept ones from the cache (the cached words, edited behind the file's
 * back, show).
 */
START_TEST(test_status_plan_keeps_cache)
{
	char *d = warm_three();
	struct run r;

	tu_sh(&r, d, "LC_ALL=C sed -i 's/r words/R WORDS/' state/excon.db.plans");
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	/* q changes: status p rewrites the cache without q's old entry. */
	tu_sh(&r, d, "cp plans/q.yaml x && sed -i 's/q words/Q WORDS/' plans/q.yaml "
	    "&& touch -r x plans/q.yaml");
	tu_run_free(&r);
	tu_excon_str(&r, d, "status p");
	ck_assert_int_eq(r.status, 0);
	tu_run_free(&r);
	tu_sh(&r, d, "grep -c 'q words' state/excon.db.plans");
	ck_assert_msg(r.status == 1, "q's stale entry is still cached");
	tu_run_free(&r);
	tu_excon_str(&r, d, "status");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(tu_has(r.out, "R WORDS") && tu_has(r.out, "Q WORDS") &&
	    tu_has(r.out, "first words"), "%s", r.out);
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
	tu_add(s, "status_plan_same", test_status_plan_same_as_whole, NULL, NULL, 60);
	tu_add(s, "status_plan_checks", test_status_plan_checks_every_file, NULL, NULL, 60);
	tu_add(s, "status_plan_keeps_cache", test_status_plan_keeps_cache, NULL, NULL, 60);
	return s;
}

int
main(void)
{
	return tu_run_suite(plancache_suite());
}
