/*
 * excon completion bash|zsh: the generated scripts are loaded into the
 * real shells and asked to complete, as a user's shell would.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util/testutil.h"
#include "xalloc.h"

static char *dir;

/* A directory holding both scripts. */
static void
setup(void)
{
	struct run r;

	dir = tu_tmpdir();
	tu_excon_str(&r, dir, "completion bash");
	ck_assert_int_eq(r.status, 0);
	tu_write(dir, "excon.bash", r.out);
	tu_run_free(&r);
	tu_excon_str(&r, dir, "completion zsh");
	ck_assert_int_eq(r.status, 0);
	tu_write(dir, "_excon", r.out);
	tu_run_free(&r);
}

/* Removes it. */
static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

/* What bash completes for the words (a bash array body) with the cursor on word cword. */
static char *
bash_complete(const char *words, int cword)
{
	struct run r;
	char *out;

	tu_sh(&r, dir, "bash -c 'source ./excon.bash; COMP_WORDS=(%s); "
	    "COMP_CWORD=%d; _excon; printf \"%%s\\n\" \"${COMPREPLY[@]}\"'",
	    words, cword);
	ck_assert_msg(r.status == 0, "%s", r.err);
	out = xstrdup(r.out);
	tu_run_free(&r);
	return out;
}

START_TEST(test_bash)
{
	struct run r;
	char *out;

	tu_sh(&r, dir, "bash -n excon.bash");
	ck_assert_msg(r.status == 0, "%s", r.err);
	tu_run_free(&r);
	out = bash_complete("excon li", 1);
	ck_assert_str_eq(out, "lint\n");
	free(out);
	/* Every command of the table, completion itself included. */
	out = bash_complete("excon \"\"", 1);
	ck_assert_msg(tu_has(out, "advance\n") && tu_has(out, "audit\n") &&
	    tu_has(out, "completion\n"), "%s", out);
	free(out);
	/* A global option's value is not taken for the command. */
	out = bash_complete("excon --state s.db lint --format s", 5);
	ck_assert_str_eq(out, "sarif\n");
	free(out);
	out = bash_complete("excon lint --assume", 2);
	ck_assert_str_eq(out, "--assume-in-transaction\n");
	free(out);
	/* Commands only offer their own formats. */
	out = bash_complete("excon status --format \"\"", 3);
	ck_assert_str_eq(out, "text\njson\n");
	free(out);
	out = bash_complete("excon advance --fo", 2);
	ck_assert_str_eq(out, "--force\n--format\n");
	free(out);
}
END_TEST

START_TEST(test_zsh)
{
	struct run r;

	tu_sh(&r, dir, "zsh -n _excon");
	ck_assert_msg(r.status == 0, "%s", r.err);
	tu_run_free(&r);
	/*
	 * Loaded by a real zsh, with the completion system's functions
	 * replaced by ones that print what they were given.
	 */
	tu_sh(&r, dir, "zsh -fc '_describe() { print -l -- ${(P)2} }; "
	    "words=(excon \"\"); CURRENT=2; source ./_excon'");
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(tu_has(r.out, "lint:validate plans and check SQL"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "completion:print a shell completion script"),
	    "%s", r.out);
	tu_run_free(&r);
	tu_sh(&r, dir, "zsh -fc '_arguments() { print -l -- \"$@\" }; "
	    "words=(excon --state s.db audit --f); CURRENT=5; source ./_excon'");
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(tu_has(r.out, "--format[output format: text, json, github, gitlab, "
	    "junit, sarif, markdown or html]:FMT:(text json github gitlab junit "
	    "sarif markdown html)"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "--fail-on["), "%s", r.out);
	ck_assert_msg(!tu_has(r.out, "--sql["), "%s", r.out);
	tu_run_free(&r);
}
END_TEST

START_TEST(test_unknown_shell)
{
	struct run r;

	tu_excon_str(&r, dir, "completion fish");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "excon: no completion for shell 'fish' (expected "
	    "bash or zsh)\n");
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
}
END_TEST

/* The suite: one TCase per behaviour. */
int
main(void)
{
	Suite *s = suite_create("completion");

	tu_add(s, "bash", test_bash, setup, teardown, 60);
	tu_add(s, "zsh", test_zsh, setup, teardown, 60);
	tu_add(s, "unknown_shell", test_unknown_shell, setup, teardown, 60);
	return tu_run_suite(s);
}
