/*
 * libFuzzer target: the plan loader and everything lint does with a plan
 * (plan rules, the SQL analysis of every field, the fragment parser the
 * executor builds statements from).  Any input must give an answer: a
 * plan or diagnostics, never a crash, a leak or a hang.
 *
 * Built and run by `make fuzz`, seeded from the plans of the test suite.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"
#include "sqlcheck.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loads data as a plan file and lints it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct plan_diags d = { NULL, 0, 0 };
	struct plan_set set = { NULL, 0, 0 };
	struct findings f = FINDINGS_INIT;
	struct plan *p = NULL;
	FILE *fp;

	if (path[0] == '\0')
		snprintf(path, sizeof path, "/tmp/excon-fuzz-%ld.yaml", (long)getpid());
	if ((fp = fopen(path, "wb")) == NULL)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	if (plan_load(&p, path, &d) == 0) {
		plan_set_add(&set, p);
		plan_lint(p, &set, 2, &d);
		(void)sqlcheck_plan(p, NULL, &f, NULL);
	}
	findings_free(&f);
	plan_set_free(&set);
	plan_diags_free(&d);
	return 0;
}
