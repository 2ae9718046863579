/*
 * Background processes for the end-to-end suites: excon, psql, pgbench or
 * gdb started without waiting, so that a test can write to the database
 * while excon runs, kill excon -9 at a chosen moment, or hold a lock while
 * a step waits for it.
 *
 * Each process runs in a process group of its own (so that a kill reaches
 * a shell's children too), with stdin from /dev/null, NO_COLOR set, and
 * stdout and stderr captured in temporary files that tu_proc_wait reads
 * back into a struct run (see testutil.h).
 */
#ifndef EXCON_TU_PROC_H
#define EXCON_TU_PROC_H

#include <sys/types.h>

#include "util/testutil.h"

struct tu_proc {
	pid_t	 pid;		/* 0 when not started or already reaped */
	int	 status;	/* as in struct run, once reaped */
	char	 outp[40];	/* stdout file */
	char	 errp[40];	/* stderr file */
};

/*
 * Starts argv (argv[0] is looked up in PATH) in dir (NULL = cwd) with the
 * extra environment entries env ("K=V", NULL-terminated, may be NULL).
 * Returns the pid, or -1.
 */
pid_t tu_proc_start(struct tu_proc *p, const char *dir, const char *const *env,
    const char *const *argv);
/* Starts $EXCON_BIN with argv (without argv[0]). */
pid_t tu_proc_excon(struct tu_proc *p, const char *dir, const char *const *env,
    const char *const *argv);
/* Starts /bin/sh -c CMD; use "exec prog" in CMD to make pid the program's. */
pid_t tu_proc_sh(struct tu_proc *p, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 while the process runs (reaps it when it has ended). */
int tu_proc_running(struct tu_proc *p);
/* Sends sig to the process's group. */
void tu_proc_kill(struct tu_proc *p, int sig);
/*
 * Waits for the process (at most timeout_ms when >= 0; then returns -1
 * and leaves it running), fills r with its status and output, removes the
 * output files and returns r->status.
 */
int tu_proc_wait(struct tu_proc *p, struct run *r, int timeout_ms);
/* The output captured so far (owned): stdout when err is 0, else stderr. */
char *tu_proc_peek(const struct tu_proc *p, int err);

/* Milliseconds on a monotonic clock. */
double tu_ms(void);
/* Sleeps ms milliseconds. */
void tu_sleep_ms(int ms);

#endif
