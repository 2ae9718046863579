/*
 * Test helpers: process spawning with captured output, temp files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "buf.h"
#include "state.h"

extern char **environ;

/* Reads the whole of fd into a fresh string. */
static char *
slurp_fd(int fd)
{
	size_t cap = 4096, len = 0;
	char *p = malloc(cap);
	ssize_t n;

	for (;;) {
		if (len + 1 >= cap)
			p = realloc(p, cap *= 2);
		n = read(fd, p + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	p[len] = '\0';
	return p;
}

/* Spawns argv with output to temp files, waits, fills r. */
static int
spawn(struct run *r, const char *dir, const char *const *env, char *const *argv)
{
	char outp[] = "/tmp/excon-tu-out.XXXXXX", errp[] = "/tmp/excon-tu-err.XXXXXX";
	int ofd = mkstemp(outp), efd = mkstemp(errp), st;
	pid_t pid;

	memset(r, 0, sizeof *r);
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		dup2(nul, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		if (dir != NULL && chdir(dir) != 0)
			_exit(127);
		setenv("NO_COLOR", "1", 1);
		for (; env != NULL && *env != NULL; env++)
			putenv((char *)*env);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	lseek(ofd, 0, SEEK_SET);
	lseek(efd, 0, SEEK_SET);
	r->out = slurp_fd(ofd);
	r->err = slurp_fd(efd);
	close(ofd);
	close(efd);
	unlink(outp);
	unlink(errp);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r->status;
}

/* Runs the excon binary under test. */
int
tu_excon(struct run *r, const char *dir, const char *const *env,
    const char *const *argv)
{
	const char *bin = getenv("EXCON_BIN");
	char *av[64];
	int i = 0;

	av[i++] = (char *)(bin != NULL ? bin : "excon");
	for (; argv != NULL && *argv != NULL && i < 63; argv++)
		av[i++] = (char *)*argv;
	av[i] = NULL;
	return spawn(r, dir, env, av);
}

/* Runs excon with a space-split argument string (no quoting). */
int
tu_excon_str(struct run *r, const char *dir, const char *fmt, ...)
{
	const char *av[64];
	char *s = NULL, *tok, *save = NULL;
	va_list ap;
	int i = 0, rc;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	for (tok = strtok_r(s, " ", &save); tok != NULL && i < 63;
	    tok = strtok_r(NULL, " ", &save))
		av[i++] = tok;
	av[i] = NULL;
	rc = tu_excon(r, dir, NULL, av);
	free(s);
	return rc;
}

/* Runs a shell command. */
int
tu_sh(struct run *r, const char *dir, const char *fmt, ...)
{
	char *s = NULL, *av[4];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	av[0] = (char *)"/bin/sh";
	av[1] = (char *)"-c";
	av[2] = s;
	av[3] = NULL;
	rc = spawn(r, dir, NULL, av);
	free(s);
	return rc;
}

/* Frees captured output. */
void
tu_run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* A fresh temporary directory. */
char *
tu_tmpdir(void)
{
	char *p = strdup("/tmp/excon-test.XXXXXX");

	if (mkdtemp(p) == NULL)
		abort();
	return p;
}

/* Removes a directory tree. */
void
tu_rmrf(const char *dir)
{
	struct run r;

	if (dir == NULL || strncmp(dir, "/tmp/", 5) != 0)
		return;
	tu_sh(&r, NULL, "rm -rf '%s'", dir);
	tu_run_free(&r);
}

/* Writes text to dir/name, creating parents. */
void
tu_write(const char *dir, const char *name, const char *text)
{
	char *path = NULL, *slash;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	free(path);
}

/* Creates an empty store at dir/name, as excon init does. */
void
tu_state_init(const char *dir, const char *name)
{
	struct state *st = NULL;
	struct buf err = BUF_INIT;
	char *path = NULL;

	if (asprintf(&path, "%s/%s.tu-keep", dir, name) < 0)
		abort();
	/* tu_write creates the parent directories of name. */
	tu_write(dir, path + strlen(dir) + 1, "");
	unlink(path);
	path[strlen(path) - strlen(".tu-keep")] = '\0';
	if (state_open(&st, path, 1, &err) != 0)
		ck_abort_msg("cannot create %s: %s", path, buf_cstr(&err));
	state_close(st);
	buf_free(&err);
	free(path);
}

/* Reads dir/name. */
char *
tu_read(const char *dir, const char *name, size_t *len)
{
	char *path = NULL, *p = NULL;
	long n;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	f = fopen(path, "rb");
	free(path);
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	p[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return p;
}

/* The test server's conninfo. */
const char *
tu_pg(void)
{
	return getenv("EXCON_TEST_PG");
}

/* The tests/ directory. */
const char *
tu_tests_dir(void)
{
	const char *d = getenv("EXCON_TESTS_DIR");

	return d != NULL ? d : "tests";
}

/* Substring test. */
int
tu_has(const char *haystack, const char *needle)
{
	return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* Runs a suite and turns its failures into main()'s exit status. */
int
tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Adds one test as its own TCase. */
void
tu_add(Suite *s, const char *name, const TTest *test, SFun setup,
    SFun teardown, int timeout_s)
{
	TCase *tc = tcase_create(name);

	if (setup != NULL || teardown != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, timeout_s);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}
