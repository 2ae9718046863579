/*
 * GitHub workflow annotations for the commands that change things
 * (advance): under --format github every refusal and every error a
 * command prints also becomes an `::error` annotation on stdout, placed
 * on the plan file and step it concerns, so that a pipeline shows why it
 * stopped where the change is, not only in the job log.
 */
#ifndef EXCON_CMD_ANNOTATE_H
#define EXCON_CMD_ANNOTATE_H

#include "cmd.h"
#include "sqlcheck.h"

/*
 * Turns annotations on for the rest of the process when ctx's format is
 * github: the command's errors (cmd_fail) and refusals are annotated.
 */
void annotate_begin(const struct cmd_ctx *ctx);

/*
 * Where later errors are placed: step s of p (s may be NULL: the plan's
 * first line), or nowhere when p is NULL.  Both are borrowed and must
 * outlive the next annotate_at.
 */
void annotate_at(const struct plan *p, const struct step *s);

/*
 * Annotates an error message, titled after the command, at the place
 * annotate_at set; nothing when annotations are off.  cmd_fail calls it.
 */
void annotate_error(const char *msg);

/*
 * Prints "warning: msg" on stderr and, when annotations are on, a
 * `::warning` annotation on step s of p.
 */
void annotate_warning(const struct plan *p, const struct step *s,
    const char *msg);

/*
 * Annotates a diagnostic of a plan that does not load, at file:line:col
 * (line 0: the file), when annotations are on.  cmd_print_diag calls it.
 */
void annotate_diag(const char *file, int line, int col, const char *msg);

/*
 * Prints a refusal: "refused: why" on stderr and, when annotations are
 * on, an `::error` annotation titled "excon refused PLAN/STEP (what)"
 * on step s of p, with fix (may be NULL) as its second line.  Returns
 * EXCON_EXIT_REFUSED.
 */
int annotate_refusal(const struct plan *p, const struct step *s,
    const char *what, const char *why, const char *fix);

/* Annotates the findings of f that are not suppressed, when annotations are on. */
void annotate_findings(const struct findings *f);

#endif
