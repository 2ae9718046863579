/*
 * audit --format html (timeline.c): the page is self-contained and
 * escapes what plans and the history hold, and a real browser (headless
 * Chromium, installed from Debian for this suite only) renders it: the
 * DOM holds the plan rows, the filter works, a screenshot is not blank,
 * and a thousand plans stay usable.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/testutil.h"
#include "xalloc.h"

static char *dir;

#define PLAN_TEXT(name, table, extra) \
	"plan: " name "\n" \
	extra \
	"steps:\n" \
	"  - id: stop-old-writes\n" \
	"    kind: stop_old_writes\n" \
	"  - id: drop-name\n" \
	"    kind: drop_column\n" \
	"    table: " table "\n" \
	"    column: name\n"

/* A fresh directory and a fixed clock. */
static void
setup(void)
{
	dir = tu_tmpdir();
	tu_state_init(dir, "state/excon.db");
	setenv("EXCON_NOW", "1767225600", 1);		/* 2026-01-01T00:00:00Z */
	setenv("EXCON_ACTOR", "rm@ci", 1);
	unsetenv("EXCON_CONFIG");
	unsetenv("EXCON_PLANS");
	unsetenv("EXCON_STATE");
	unsetenv("EXCON_DATABASE");
	unsetenv("PGHOST");
	unsetenv("PGDATABASE");
}

/* Removes it. */
static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

/* Runs each command in dir, asserting it succeeds. */
static void
run_all(const char *const *cmds)
{
	struct run r;
	int i;

	for (i = 0; cmds[i] != NULL; i++) {
		tu_excon_str(&r, dir, "%s", cmds[i]);
		ck_assert_msg(r.status == 0, "%s: %s", cmds[i], r.err);
		tu_run_free(&r);
	}
}

/*
 * Two plans: users-full-name overdue (deadline passed, window not open),
 * orders-full-name contracted with a forced gate; writes audit.html.
 */
static void
history(void)
{
	const char *cmds[] = {
		"release start v1", "advance users-full-name --record-only",
		"advance orders-full-name --record-only", "release finish v1", NULL
	};
	const char *force[] = { "advance", "orders-full-name", "--record-only",
		"--force", "--reason", "orders <unused> & safe", NULL };
	struct run r;

	tu_write(dir, "plans/users.yaml", PLAN_TEXT("users-full-name", "users",
	    "owner: \"<script>alert(1)</script>\"\ndeadline: 2025-12-31\n"));
	tu_write(dir, "plans/orders.yaml", PLAN_TEXT("orders-full-name", "orders",
	    "owner: billing\n"));
	run_all(cmds);
	tu_excon(&r, dir, NULL, force);
	ck_assert_msg(r.status == 0, "%s", r.err);
	tu_run_free(&r);
	tu_excon_str(&r, dir, "audit --format html");
	ck_assert_msg(r.status == 0, "%s", r.err);
	tu_write(dir, "audit.html", r.out);
	tu_run_free(&r);
}

START_TEST(test_self_contained_and_escaped)
{
	char *page;

	history();
	page = tu_read(dir, "audit.html", NULL);
	ck_assert_msg(strncmp(page, "<!DOCTYPE html>", 15) == 0, "%.80s", page);
	/* Nothing to fetch: no external script, style, image or link. */
	ck_assert(!tu_has(page, " src="));
	ck_assert(!tu_has(page, "<link"));
	ck_assert(!tu_has(page, "href="));
	ck_assert(!tu_has(page, "url("));
	ck_assert(!tu_has(page, "@import"));
	/* What a plan file holds is text, never markup. */
	ck_assert(!tu_has(page, "<script>alert"));
	ck_assert_msg(tu_has(page, "&lt;script&gt;alert(1)&lt;/script&gt;"), "%s", page);
	ck_assert_msg(tu_has(page, "orders &lt;unused&gt; &amp; safe"), "%s", page);
	free(page);
}
END_TEST

/*
 * The browser, installed through the project's installer when this runs
 * as root; NULL (after saying why) when it cannot be had.
 */
static const char *
browser(void)
{
	struct run r;
	int ok;

	tu_sh(&r, NULL, "command -v chromium && command -v pngtopnm");
	ok = r.status == 0;
	tu_run_free(&r);
	if (!ok && geteuid() == 0) {
		tu_sh(&r, NULL, "sh '%s/../scripts/deps.sh' chromium netpbm",
		    tu_tests_dir());
		tu_run_free(&r);
		tu_sh(&r, NULL, "command -v chromium && command -v pngtopnm");
		ok = r.status == 0;
		tu_run_free(&r);
	}
	if (!ok) {
		fprintf(stderr, "check_timeline: SKIPPED the browser test: headless "
		    "chromium (Debian packages chromium and netpbm) is not installed "
		    "and cannot be installed here (run as root, or apt-get install "
		    "chromium netpbm)\n");
		return NULL;
	}
	return "chromium --headless --no-sandbox --disable-gpu "
	    "--no-first-run --user-data-dir=profile";
}

/* The DOM Chromium built from dir/page with the address fragment frag. */
static char *
dump_dom(const char *chrome, const char *page, const char *frag)
{
	struct run r;
	char *out;

	tu_sh(&r, dir, "timeout 120 %s --dump-dom \"file://$PWD/%s%s\" 2>/dev/null",
	    chrome, page, frag);
	ck_assert_msg(r.status == 0, "chromium: exit %d", r.status);
	out = xstrdup(r.out);
	tu_run_free(&r);
	return out;
}

/* Occurrences of needle in s. */
static int
occurrences(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

START_TEST(test_browser_renders_timeline)
{
	const char *chrome = browser();
	struct run r;
	char *dom;

	if (chrome == NULL)
		return;
	history();
	dom = dump_dom(chrome, "audit.html", "");
	/* One row per plan, in its group, with the override and its reason. */
	ck_assert_msg(tu_has(dom, "<tr class=\"plan\" data-plan=\"users-full-name\""),
	    "%s", dom);
	ck_assert_msg(tu_has(dom, "<tr class=\"plan\" data-plan=\"orders-full-name\""),
	    "%s", dom);
	ck_assert_int_eq(occurrences(dom, "<tr class=\"plan\""), 2);
	ck_assert_msg(tu_has(dom, "Overdue contracts (1)"), "%s", dom);
	ck_assert_msg(tu_has(dom, "overdue, opens at #3"), "%s", dom);
	ck_assert_msg(tu_has(dom, "class=\"s contract forced\""), "%s", dom);
	ck_assert_msg(tu_has(dom, "orders &lt;unused&gt; &amp; safe"), "%s", dom);
	ck_assert_msg(tu_has(dom, "<span id=\"shown\">2</span>"), "%s", dom);
	free(dom);
	/* The filter runs in the browser: one plan left. */
	dom = dump_dom(chrome, "audit.html", "#filter=orders");
	ck_assert_msg(tu_has(dom, "data-plan=\"users-full-name\" data-owner="
	    "\"&lt;script&gt;alert(1)&lt;/script&gt;\" hidden=\"\""), "%s", dom);
	ck_assert_msg(tu_has(dom, "<span id=\"shown\">1</span>"), "%s", dom);
	free(dom);
	/* A screenshot that shows something: many colours, not one. */
	tu_sh(&r, dir, "timeout 120 %s --window-size=1200,800 "
	    "--screenshot=\"$PWD/shot.png\" \"file://$PWD/audit.html\" "
	    ">/dev/null 2>&1; pngtopnm shot.png | ppmhist -noheader | wc -l",
	    chrome);
	ck_assert_msg(atoi(r.out) > 20, "screenshot has %s colours", r.out);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_thousand_plans)
{
	const char *chrome;
	struct run r;
	char *dom, name[64], *text;
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "plans/p%04d.yaml", i);
		text = xasprintf("plan: plan-%04d\nowner: team-%d\nsteps:\n"
		    "  - id: stop\n    kind: stop_old_writes\n  - id: drop\n"
		    "    kind: drop_column\n    table: t%d\n    column: c\n", i, i % 7, i);
		tu_write(dir, name, text);
		free(text);
	}
	tu_write(dir, "plans/p0000.yaml", "plan: plan-0000\nowner: team-0\n"
	    "steps:\n  - {id: a, kind: code}\n");
	tu_excon_str(&r, dir, "release start v1");
	tu_run_free(&r);
	tu_excon_str(&r, dir, "audit --format html");
	ck_assert_int_eq(r.status, 0);
	tu_write(dir, "audit.html", r.out);
	ck_assert_int_eq(occurrences(r.out, "<tr class=\"plan\""), 1000);
	ck_assert_msg(tu_has(r.out, "Waiting for the window (999)"), "%.2000s", r.out);
	ck_assert_msg(tu_has(r.out, "No contract step (1)"), "%.2000s", r.out);
	tu_run_free(&r);
	if ((chrome = browser()) == NULL)
		return;
	dom = dump_dom(chrome, "audit.html", "#filter=team-3");
	ck_assert_int_eq(occurrences(dom, "<tr class=\"plan\""), 1000);
	ck_assert_int_eq(occurrences(dom, "hidden=\"\""), 1000 - 143);
	ck_assert_msg(tu_has(dom, "<span id=\"shown\">143</span>"), "%.3000s", dom);
	free(dom);
}
END_TEST

/* The suite: one TCase per behaviour. */
int
main(void)
{
	Suite *s = suite_create("timeline");

	tu_add(s, "self_contained", test_self_contained_and_escaped, setup,
	    teardown, 60);
	/* A first run may install the browser. */
	tu_add(s, "browser", test_browser_renders_timeline, setup, teardown, 900);
	tu_add(s, "thousand_plans", test_thousand_plans, setup, teardown, 300);
	return tu_run_suite(s);
}
