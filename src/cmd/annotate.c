/*
 * GitHub annotations for refusals and errors (see annotate.h).  The
 * switch and the place are process-wide, like the colour decision of
 * out.c: cmd_fail is called from every layer of a command, and threading
 * a context through each of them would touch every caller for one line
 * of output.
 */
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "cmd/annotate.h"
#include "report.h"

static const char	*ann_command;	/* NULL: annotations off */
static const struct plan *ann_plan;
static const struct step *ann_step;

/* Turns annotations on when the format is github. */
void
annotate_begin(const struct cmd_ctx *ctx)
{
	ann_command = ctx->format == FORMAT_GITHUB ? ctx->entry->name : NULL;
	ann_plan = NULL;
	ann_step = NULL;
}

/* Sets where later errors are placed. */
void
annotate_at(const struct plan *p, const struct step *s)
{
	ann_plan = p;
	ann_step = p != NULL ? s : NULL;
}

/* Writes the findings f as annotations to stdout. */
static void
put(const struct findings *f)
{
	struct report r = { ann_command, f, NULL, 0 };
	struct buf out = BUF_INIT;

	report_write(REPORT_GITHUB, &r, &out);
	/* After whatever the command already wrote to stdout. */
	fflush(stdout);
	fwrite(buf_cstr(&out), 1, out.len, stdout);
	fflush(stdout);
	buf_free(&out);
}

/* Writes one annotation of severity sev on step s of p (either may be NULL). */
static void
emit(int sev, const struct plan *p, const struct step *s, const char *title,
    const char *msg, const char *fix)
{
	struct findings f = FINDINGS_INIT;

	findings_add(&f, title, sev, p != NULL ? p->file : "",
	    p == NULL ? 0 : s != NULL ? s->pos.line : 1,
	    s != NULL ? s->pos.col : 0, msg, fix);
	put(&f);
	findings_free(&f);
}

/* Annotates an error at the current place. */
void
annotate_error(const char *msg)
{
	struct buf title = BUF_INIT;

	if (ann_command == NULL)
		return;
	buf_printf(&title, "excon %s failed", ann_command);
	if (ann_plan != NULL)
		buf_printf(&title, " on %s%s%s", ann_plan->name.s,
		    ann_step != NULL ? "/" : "", ann_step != NULL ?
		    ann_step->id.s : "");
	emit(SEV_ERROR, ann_plan, ann_step, buf_cstr(&title), msg, NULL);
	buf_free(&title);
}

/* Prints a warning, annotated when annotations are on. */
void
annotate_warning(const struct plan *p, const struct step *s, const char *msg)
{
	struct buf title = BUF_INIT;

	if (ann_command != NULL) {
		buf_printf(&title, "excon %s warning on %s/%s", ann_command,
		    p->name.s, s->id.s);
		emit(SEV_WARNING, p, s, buf_cstr(&title), msg, NULL);
	}
	fprintf(stderr, "warning: %s\n", msg);
	buf_free(&title);
}

/* Annotates a plan's load diagnostic. */
void
annotate_diag(const char *file, int line, int col, const char *msg)
{
	struct findings f = FINDINGS_INIT;
	struct buf title = BUF_INIT;

	if (ann_command == NULL)
		return;
	buf_printf(&title, "excon %s failed (the plan does not load)",
	    ann_command);
	findings_add(&f, buf_cstr(&title), SEV_ERROR, file, line, col, msg, NULL);
	put(&f);
	buf_free(&title);
	findings_free(&f);
}

/* Prints a refusal, annotated when annotations are on. */
int
annotate_refusal(const struct plan *p, const struct step *s, const char *what,
    const char *why, const char *fix)
{
	struct buf title = BUF_INIT;

	if (ann_command != NULL) {
		buf_printf(&title, "excon refused %s%s%s (%s)", p->name.s,
		    s != NULL ? "/" : "", s != NULL ? s->id.s : "", what);
		emit(SEV_ERROR, p, s, buf_cstr(&title), why, fix);
	}
	fprintf(stderr, "refused: %s\n", why);
	buf_free(&title);
	return EXCON_EXIT_REFUSED;
}

/* Annotates findings (suppressed ones stay out). */
void
annotate_findings(const struct findings *f)
{
	if (ann_command != NULL)
		put(f);
}
