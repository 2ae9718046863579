/*
 * libFuzzer target: the SQL analysis of a plain migration file, and the
 * parser of plan fragments in each of its shapes.  Any input must give
 * findings or a clean answer, never a crash, a leak or a hang.
 *
 * Built and run by `make fuzz`, seeded from the rule corpus tests/sql/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlcheck.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Analyzes data (up to its first NUL) as SQL and as every fragment shape. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum sqlfrag kinds[] = { FRAG_EXPR, FRAG_TYPE, FRAG_SET,
	    FRAG_QUERY };
	struct findings f = FINDINGS_INIT;
	struct pos base = { .line = 1, .col = 1 };
	struct buf err = BUF_INIT;
	char *sql = xstrndup((const char *)data, size), *clean;
	size_t i;

	(void)sqlcheck_sql(sql, "fuzz.sql", base, 0, NULL, &f, &err);
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		clean = NULL;
		buf_reset(&err);
		if (sqlcheck_fragment(kinds[i], sql, &clean, &err) == 0 &&
		    strstr(clean, "--") != NULL && strchr(clean, '\'') == NULL &&
		    strchr(clean, '"') == NULL && strchr(clean, '$') == NULL)
			abort();	/* a comment survived into the built text */
		free(clean);
	}
	findings_free(&f);
	buf_free(&err);
	free(sql);
	return 0;
}
