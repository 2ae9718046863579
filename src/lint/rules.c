/*
 * The rule table of the SQL analysis: the core's own rules, the list of
 * rule families (src/lint/rule-*.c) in the order of `excon lint --rules`
 * and of the checks run on each statement, and the table assembled from
 * their rows.  The core (sqlcheck.c) takes the table from here and hands
 * it to each run (struct an), through which the families report: they
 * never call this file, which lists them.
 */
#include <stdlib.h>
#include <string.h>

#include "lint/lint-int.h"
#include "xalloc.h"

/* The rules of the core: syntax, idempotence, allow comments, fragments. */
static const struct sqlrule core_rules[] = {
	{ "E-SYNTAX", SEV_ERROR,
	  "statement does not parse",
	  "fix the statement; it must parse with PostgreSQL's grammar" },
	{ "W-NOT-IDEMPOTENT", SEV_WARNING,
	  "statement fails when run twice",
	  "add IF NOT EXISTS / IF EXISTS so a retried migration is harmless" },
	{ "E-ALLOW-NO-REASON", SEV_ERROR,
	  "excon:allow comment without a reason",
	  "write `-- excon:allow RULE-ID why this is safe here`" },
	{ "E-ALLOW-UNKNOWN-RULE", SEV_ERROR,
	  "excon:allow names a rule that does not exist",
	  "use a rule id from the table in the README, e.g. E-DROP-COLUMN" },
	{ "E-SQL-FRAGMENT", SEV_ERROR,
	  "a plan's SQL field is not exactly one expression, type, assignment list or query of the shape excon builds around it",
	  "write one expression (check, where, up, down, default), one type (type), `col = expr, ...` (set) or one SELECT (verify), with no ';' and no '$excon$'" },
};

/* The core's own family: its rules, no statement checks. */
static const struct lint_family lint_family_core = {
	"core", core_rules, LINT_N(core_rules), NULL, 0
};

/*
 * Every rule family, in the order of the rule table (excon lint --rules)
 * and of the checks run on each statement.
 */
static const struct lint_family *const families[] = {
	&lint_family_core,
	&lint_family_index,
	&lint_family_transaction,
	&lint_family_constraint,
	&lint_family_column,
	&lint_family_phase,
	&lint_family_table,
};

#define NFAMILIES LINT_N(families)

/* The rule table: the families' rows, assembled once (never freed). */
static struct sqlrule *rules;
static size_t nrules;

/* Assembles the rule table from the families' rows on first use. */
static void
rules_init(void)
{
	size_t i, k, n = 0;

	if (rules != NULL)
		return;
	for (i = 0; i < NFAMILIES; i++)
		n += families[i]->nrules;
	rules = xcalloc(n, sizeof *rules);
	for (i = 0; i < NFAMILIES; i++)
		for (k = 0; k < families[i]->nrules; k++)
			rules[nrules++] = families[i]->rules[k];
}

/* The rule table; *n gets its length. */
const struct sqlrule *
sqlcheck_rules(size_t *n)
{
	rules_init();
	if (n != NULL)
		*n = nrules;
	return rules;
}

/* The fix of rule id for a plan's SQL or a plain file. */
const char *
sqlcheck_fix(const char *id, int in_plan)
{
	const struct sqlrule *r = sqlcheck_rule(id);

	if (!in_plan && lint_plain_fix(id) != NULL)
		return lint_plain_fix(id);
	return r != NULL ? r->fix : NULL;
}

/* The rule called id, or NULL. */
const struct sqlrule *
sqlcheck_rule(const char *id)
{
	size_t i;

	rules_init();
	for (i = 0; i < nrules; i++)
		if (strcmp(rules[i].id, id) == 0)
			return &rules[i];
	return NULL;
}

/*
 * One top-level statement: every family's hook for its node case, in the
 * order of families[].
 */
void
lint_check_stmt(struct an *a, const PgQuery__Node *n)
{
	size_t i, k;

	for (i = 0; i < NFAMILIES; i++)
		for (k = 0; k < families[i]->nhooks; k++)
			if (families[i]->hooks[k].node_case == n->node_case)
				families[i]->hooks[k].check(a, n);
}
