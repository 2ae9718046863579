/*
 * Helpers shared by the Check suites: running the real excon binary,
 * temporary directories, files, and shell commands (psql, pgbench).
 */
#ifndef EXCON_TESTUTIL_H
#define EXCON_TESTUTIL_H

#include <check.h>
#include <stddef.h>

struct run {
	int	 status;	/* exit code, or 128 + signal */
	char	*out;		/* captured stdout, owned */
	char	*err;		/* captured stderr, owned */
};

/*
 * Runs $EXCON_BIN with argv (NULL-terminated, without argv[0]) in dir,
 * with extra environment entries env ("K=V", NULL-terminated, may be NULL)
 * and NO_COLOR set.  Fills r; returns r->status.
 */
int tu_excon(struct run *r, const char *dir, const char *const *env,
    const char *const *argv);
/* Convenience: tu_excon with a printf-built, space-split argument string. */
int tu_excon_str(struct run *r, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Runs /bin/sh -c cmd in dir (NULL = cwd); fills r; returns r->status. */
int tu_sh(struct run *r, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tu_run_free(struct run *r);

/* A fresh temporary directory (owned); removed by tu_rmrf. */
char *tu_tmpdir(void);
void tu_rmrf(const char *dir);
/* Writes text to dir/name, creating parent directories. */
void tu_write(const char *dir, const char *name, const char *text);
/*
 * Creates an empty excon store at dir/name (parent directories too), as
 * `excon init` would, for tests that start from an initialised project.
 */
void tu_state_init(const char *dir, const char *name);
/* Reads dir/name (owned), or NULL; *len may be NULL. */
char *tu_read(const char *dir, const char *name, size_t *len);
/* The test PostgreSQL conninfo from $EXCON_TEST_PG, or NULL. */
const char *tu_pg(void);
/* The tests/ directory ($EXCON_TESTS_DIR). */
const char *tu_tests_dir(void);
/* 1 when haystack contains needle. */
int tu_has(const char *haystack, const char *needle);

/*
 * Adds test to s as its own TCase called name (one behaviour each), with
 * the checked fixture setup/teardown (either may be NULL) and a timeout.
 */
void tu_add(Suite *s, const char *name, const TTest *test, SFun setup,
    SFun teardown, int timeout_s);
/* Runs a suite in Check's normal mode; the exit status main() returns. */
int tu_run_suite(Suite *s);

#endif
