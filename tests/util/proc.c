/*
 * Background processes for the end-to-end suites (see proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/proc.h"

/* Reads a whole file into a fresh string ("" when missing). */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, len = 0, n;
	char *s = malloc(cap);

	if (s == NULL)
		abort();
	if (f != NULL) {
		while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
			len += n;
			if (len + 1 >= cap && (s = realloc(s, cap *= 2)) == NULL)
				abort();
		}
		fclose(f);
	}
	s[len] = '\0';
	return s;
}

/* Starts argv in the background. */
pid_t
tu_proc_start(struct tu_proc *p, const char *dir, const char *const *env,
    const char *const *argv)
{
	int ofd, efd;

	memset(p, 0, sizeof *p);
	snprintf(p->outp, sizeof p->outp, "/tmp/excon-bg-out.XXXXXX");
	snprintf(p->errp, sizeof p->errp, "/tmp/excon-bg-err.XXXXXX");
	if ((ofd = mkstemp(p->outp)) < 0 || (efd = mkstemp(p->errp)) < 0)
		abort();
	p->pid = fork();
	if (p->pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(nul, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		if (dir != NULL && chdir(dir) != 0)
			_exit(127);
		setenv("NO_COLOR", "1", 1);
		for (; env != NULL && *env != NULL; env++)
			putenv((char *)*env);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(ofd);
	close(efd);
	if (p->pid < 0) {
		p->pid = 0;
		return -1;
	}
	/* Also from here, so that a kill right after the fork reaches the group. */
	setpgid(p->pid, p->pid);
	return p->pid;
}

/* Starts the excon under test. */
pid_t
tu_proc_excon(struct tu_proc *p, const char *dir, const char *const *env,
    const char *const *argv)
{
	const char *bin = getenv("EXCON_BIN");
	const char *av[64];
	int i = 0;

	av[i++] = bin != NULL ? bin : "excon";
	for (; argv != NULL && *argv != NULL && i < 63; argv++)
		av[i++] = *argv;
	av[i] = NULL;
	return tu_proc_start(p, dir, env, av);
}

/* Starts a shell command. */
pid_t
tu_proc_sh(struct tu_proc *p, const char *dir, const char *fmt, ...)
{
	const char *av[4];
	char *s = NULL;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	av[0] = "/bin/sh";
	av[1] = "-c";
	av[2] = s;
	av[3] = NULL;
	pid = tu_proc_start(p, dir, NULL, av);
	free(s);
	return pid;
}

/* Records a reaped status. */
static void
reaped(struct tu_proc *p, int st)
{
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	p->pid = 0;
}

/* 1 while running. */
int
tu_proc_running(struct tu_proc *p)
{
	int st;
	pid_t r;

	if (p->pid == 0)
		return 0;
	while ((r = waitpid(p->pid, &st, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == p->pid) {
		reaped(p, st);
		return 0;
	}
	return 1;
}

/* Signals the group. */
void
tu_proc_kill(struct tu_proc *p, int sig)
{
	if (p->pid > 0)
		kill(-p->pid, sig);
}

/* Waits (bounded) and collects the output. */
int
tu_proc_wait(struct tu_proc *p, struct run *r, int timeout_ms)
{
	double end = tu_ms() + timeout_ms;
	int st;

	memset(r, 0, sizeof *r);
	if (p->pid > 0) {
		if (timeout_ms >= 0) {
			while (tu_proc_running(p)) {
				if (tu_ms() > end)
					return -1;
				tu_sleep_ms(10);
			}
		} else {
			while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
				;
			reaped(p, st);
		}
	}
	r->status = p->status;
	r->out = slurp(p->outp);
	r->err = slurp(p->errp);
	unlink(p->outp);
	unlink(p->errp);
	return r->status;
}

/* Output so far. */
char *
tu_proc_peek(const struct tu_proc *p, int err)
{
	return slurp(err ? p->errp : p->outp);
}

/* Monotonic milliseconds. */
double
tu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Sleeps. */
void
tu_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
