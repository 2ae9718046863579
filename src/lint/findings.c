/*
 * Findings of the SQL analysis and the list that holds them (see
 * lint/lint.h): adding, dropping, sorting and counting.
 */
#include <stdlib.h>
#include <string.h>

#include "lint/lint.h"
#include "xalloc.h"

/* Appends a finding with copies of every string; returns it (borrowed). */
struct finding *
findings_add(struct findings *f, const char *rule, int severity,
    const char *file, int line, int col, const char *msg, const char *fix)
{
	struct finding *x;

	XGROW(f->v, f->cap, f->n + 1);
	x = &f->v[f->n++];
	memset(x, 0, sizeof *x);
	x->rule = xstrdup(rule);
	x->severity = severity;
	x->file = xstrdup(file != NULL ? file : "");
	x->line = line;
	x->col = col;
	x->msg = xstrdup(msg != NULL ? msg : "");
	x->fix = xstrdup(fix);
	return x;
}

/* Frees every finding and the array; NULL-safe. */
void
findings_free(struct findings *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->v[i].rule);
		free(f->v[i].file);
		free(f->v[i].msg);
		free(f->v[i].fix);
		free(f->v[i].reason);
	}
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}

/* Removes every finding whose rule is in the NULL-terminated list ids. */
void
findings_drop(struct findings *f, char *const *ids)
{
	size_t i, k, n = 0;

	for (i = 0; i < f->n; i++) {
		struct finding *x = &f->v[i];

		for (k = 0; ids != NULL && ids[k] != NULL; k++)
			if (strcmp(ids[k], x->rule) == 0)
				break;
		if (ids == NULL || ids[k] == NULL) {
			f->v[n++] = *x;
			continue;
		}
		free(x->rule);
		free(x->file);
		free(x->msg);
		free(x->fix);
		free(x->reason);
	}
	f->n = n;
}

/* Sorts by file, line, column; stable for equal positions. */
void
findings_sort(struct findings *f)
{
	size_t i, j;

	/*
	 * Insertion sort: stable (qsort is not), and fast for the nearly
	 * sorted lists that analysis produces.
	 */
	for (i = 1; i < f->n; i++) {
		struct finding t = f->v[i];

		for (j = i; j > 0; j--) {
			const struct finding *p = &f->v[j - 1];
			int c = strcmp(p->file, t.file);

			if (c < 0 || (c == 0 && (p->line < t.line ||
			    (p->line == t.line && p->col <= t.col))))
				break;
			f->v[j] = f->v[j - 1];
		}
		f->v[j] = t;
	}
}

/* Counts unsuppressed findings of severity sev (-1 = any). */
size_t
findings_count(const struct findings *f, int sev)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		if (!f->v[i].suppressed && (sev < 0 || f->v[i].severity == sev))
			n++;
	return n;
}
