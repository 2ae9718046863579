/*
 * CI reports (report.c) and the --format options of lint, check and
 * audit that use it.  Every format is read back with a real parser for
 * it: jq for JSON (GitLab Code Quality, SARIF), xmllint for JUnit XML;
 * SARIF is validated against the OASIS SARIF 2.1.0 schema and GitLab
 * Code Quality against its documented fields by a JSON schema validator
 * (tests/schema_check.py, Debian's python3-jsonschema).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report.h"
#include "sqlcheck.h"
#include "util/testutil.h"
#include "xalloc.h"

static char *dir;

/* A plan of the usual shape. */
#define PLAN_TEXT(name, table) \
	"plan: " name "\n" \
	"owner: accounts-team\n" \
	"steps:\n" \
	"  - id: stop-old-writes\n" \
	"    kind: stop_old_writes\n" \
	"  - id: drop-name\n" \
	"    kind: drop_column\n" \
	"    table: " table "\n" \
	"    column: name\n"

/* A project with a plan and two migration files, one of them clean. */
static void
setup(void)
{
	dir = tu_tmpdir();
	tu_write(dir, "plans/users-full-name.yaml", PLAN_TEXT("users-full-name",
	    "users"));
	tu_state_init(dir, "state/excon.db");
	tu_write(dir, "db/V1__ok.sql",
	    "CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY);\n");
	tu_write(dir, "db/V2__drop.sql",
	    "-- drops a column | with a pipe & <markup>\n"
	    "ALTER TABLE users DROP COLUMN IF EXISTS name;\n"
	    "CREATE INDEX i ON users (email);\n");
	setenv("EXCON_NOW", "1767225600", 1);		/* 2026-01-01T00:00:00Z */
	setenv("EXCON_ACTOR", "rm@ci", 1);
	unsetenv("GITHUB_STEP_SUMMARY");
	unsetenv("EXCON_CONFIG");
	unsetenv("EXCON_PLANS");
	unsetenv("EXCON_STATE");
	unsetenv("EXCON_DATABASE");
	unsetenv("PGHOST");
	unsetenv("PGDATABASE");
}

/* Removes the project. */
static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

/* Runs excon with the printf-built arguments and saves stdout to dir/name. */
static int
save(const char *name, const char *fmt, const char *arg)
{
	struct run r;
	int status;

	tu_excon_str(&r, dir, fmt, arg);
	tu_write(dir, name, r.out);
	status = r.status;
	tu_run_free(&r);
	return status;
}

/* Runs a shell command in dir and asserts it succeeds; returns stdout (owned). */
static char *
sh_ok(const char *cmd)
{
	struct run r;
	char *out;

	tu_sh(&r, dir, "%s", cmd);
	ck_assert_msg(r.status == 0, "%s: exit %d\n%s%s", cmd, r.status, r.out,
	    r.err);
	out = xstrdup(r.out);
	tu_run_free(&r);
	return out;
}

/*
 * Validates dir/doc against tests/data/<schema> with a real JSON schema
 * validator; returns its exit code (0 valid, 1 invalid, 2 cannot tell)
 * and sets *said (owned) to what it printed.
 */
static int
schema_check(const char *schema, const char *doc, char **said)
{
	struct run r;
	int status;

	tu_sh(&r, dir, "/usr/bin/python3 '%s/schema_check.py' '%s/data/%s' '%s'",
	    tu_tests_dir(), tu_tests_dir(), schema, doc);
	status = r.status;
	*said = xasprintf("%s%s", r.out, r.err);
	tu_run_free(&r);
	return status;
}

/* Asserts that dir/doc is valid against tests/data/<schema>. */
static void
schema_valid(const char *schema, const char *doc)
{
	char *said = NULL;
	int status = schema_check(schema, doc, &said);

	ck_assert_msg(status == 0, "%s: %s: exit %d\n%s", schema, doc, status,
	    said);
	free(said);
}

/* Asserts that dir/doc is rejected by tests/data/<schema>, naming what. */
static void
schema_invalid(const char *schema, const char *doc, const char *what)
{
	char *said = NULL;
	int status = schema_check(schema, doc, &said);

	ck_assert_msg(status == 1, "%s: %s: exit %d, expected 1\n%s", schema,
	    doc, status, said);
	ck_assert_msg(tu_has(said, what), "%s: %s: expected '%s' in\n%s",
	    schema, doc, what, said);
	free(said);
}

#define SARIF_SCHEMA	"sarif-schema-2.1.0.json"
#define GITLAB_SCHEMA	"gitlab-codequality.schema.json"

START_TEST(test_format_text)
{
	struct findings f = FINDINGS_INIT;
	struct buf b = BUF_INIT;
	struct finding *x;

	findings_add(&f, "E-DROP-COLUMN", SEV_ERROR, "m.sql", 3, 1,
	    "drop of column \"public.t.c\"", "use a contract step");
	x = findings_add(&f, "E-UNBATCHED-UPDATE", SEV_ERROR, "m.sql", 4, 1,
	    "update", "batch it");
	x->suppressed = 1;
	x->reason = xstrdup("tiny table");
	findings_add(&f, "W-NOT-IDEMPOTENT", SEV_WARNING, "m.sql", 5, 2, "w", NULL);
	report_text(&f, 0, &b);
	ck_assert_str_eq(buf_cstr(&b),
	    "m.sql:3:1: error[E-DROP-COLUMN]: drop of column \"public.t.c\"\n"
	    "  fix: use a contract step\n"
	    "m.sql:5:2: warning[W-NOT-IDEMPOTENT]: w\n");
	buf_reset(&b);
	report_text(&f, 1, &b);
	ck_assert(tu_has(buf_cstr(&b), "m.sql:4:1: allowed[E-UNBATCHED-UPDATE]: "
	    "update\n  fix: batch it\n  allowed: tiny table\n"));
	buf_free(&b);
	findings_free(&f);
}
END_TEST

START_TEST(test_format_json)
{
	struct findings f = FINDINGS_INIT;
	struct buf b = BUF_INIT;
	struct finding *x;

	report_json(&f, &b);
	ck_assert_str_eq(buf_cstr(&b), "[]\n");
	buf_reset(&b);
	findings_add(&f, "E-X", SEV_ERROR, "dir\\m.sql", 3, 1,
	    "a \"quoted\"\tname\nnext\x01", "fix");
	x = findings_add(&f, "W-Y", SEV_WARNING, "m.sql", 4, 2, "m", NULL);
	x->suppressed = 1;
	x->reason = xstrdup("why");
	report_json(&f, &b);
	ck_assert_str_eq(buf_cstr(&b), "[\n"
	    "  {\"rule\": \"E-X\", \"severity\": \"error\", \"file\": \"dir\\\\m.sql\", "
	    "\"line\": 3, \"column\": 1, \"message\": \"a \\\"quoted\\\"\\tname\\nnext\\u0001\", "
	    "\"fix\": \"fix\", \"suppressed\": false, \"reason\": null},\n"
	    "  {\"rule\": \"W-Y\", \"severity\": \"warning\", \"file\": \"m.sql\", "
	    "\"line\": 4, \"column\": 2, \"message\": \"m\", \"fix\": null, "
	    "\"suppressed\": true, \"reason\": \"why\"}\n"
	    "]\n");
	buf_free(&b);
	findings_free(&f);
}
END_TEST

START_TEST(test_format_github)
{
	struct findings f = FINDINGS_INIT;
	struct buf b = BUF_INIT;
	struct finding *x;

	findings_add(&f, "E-DROP-COLUMN", SEV_ERROR, "a,b:c.sql", 3, 1,
	    "50% done: a\nb", "fix");
	findings_add(&f, "W-NOT-IDEMPOTENT", SEV_WARNING, "m.sql", 4, 7, "w", NULL);
	x = findings_add(&f, "E-UNBATCHED-UPDATE", SEV_ERROR, "m.sql", 9, 1, "s", NULL);
	x->suppressed = 1;
	{
		struct report r = { "lint", &f, NULL, 0 };

		report_write(REPORT_GITHUB, &r, &b);
	}
	ck_assert_str_eq(buf_cstr(&b),
	    "::error file=a%2Cb%3Ac.sql,line=3,col=1,title=E-DROP-COLUMN::50%25 done: a%0Ab%0Afix: fix\n"
	    "::warning file=m.sql,line=4,col=7,title=W-NOT-IDEMPOTENT::w\n");
	buf_free(&b);
	findings_free(&f);
}
END_TEST


/* One finding with hostile text: invalid UTF-8, controls and markup. */
static void
hostile(struct findings *f)
{
	findings_add(f, "E-DROP-COLUMN", SEV_ERROR, "db/V\xff.sql", 3, 2,
	    "drop of \"na\xc3\x28me\" \x01 <b>&amp; \\ \x7f \xef\xbf\xbf",
	    "fix | it\nnow");
}

START_TEST(test_json_escaping_survives_any_bytes)
{
	struct findings f = FINDINGS_INIT;
	struct report r = { "lint", &f, NULL, 0 };
	struct buf b = BUF_INIT;
	char *out;

	hostile(&f);
	report_write(REPORT_GITLAB, &r, &b);
	tu_write(dir, "gl.json", buf_cstr(&b));
	out = sh_ok("jq -r '.[0].description' gl.json");
	/* Bad bytes became U+FFFD, everything else came through. */
	ck_assert_str_eq(out, "drop of \"na\xef\xbf\xbd(me\" \x01 <b>&amp; \\ \x7f "
	    "\xef\xbf\xbf\n");
	free(out);
	out = sh_ok("jq -r '.[0].location.path' gl.json");
	ck_assert_str_eq(out, "db/V\xef\xbf\xbd.sql\n");
	free(out);
	buf_reset(&b);
	report_write(REPORT_SARIF, &r, &b);
	tu_write(dir, "s.json", buf_cstr(&b));
	free(sh_ok("jq -e '.runs[0].results[0].message.text | test(\"fix \\\\| it\")' s.json"));
	buf_free(&b);
	findings_free(&f);
}
END_TEST

START_TEST(test_xml_escaping_survives_any_bytes)
{
	struct findings f = FINDINGS_INIT;
	const char *units[] = { "db/V1.sql" };
	struct report r = { "lint", &f, units, 1 };
	struct buf b = BUF_INIT;
	char *out;

	hostile(&f);
	report_write(REPORT_JUNIT, &r, &b);
	tu_write(dir, "j.xml", buf_cstr(&b));
	free(sh_ok("xmllint --noout j.xml"));
	out = sh_ok("xmllint --xpath 'string(//testcase[2]/failure/@type)' j.xml");
	ck_assert_str_eq(out, "E-DROP-COLUMN\n");
	free(out);
	/* The clean unit passes, the finding's file is a failing case. */
	out = sh_ok("xmllint --xpath 'count(//testcase[not(failure)])' j.xml");
	ck_assert_str_eq(out, "1\n");
	free(out);
	buf_free(&b);
	findings_free(&f);
}
END_TEST

START_TEST(test_lint_json_with_bytes_that_are_not_utf8)
{
	char *out;

	/* A Latin-1 file: the name in the message is not UTF-8. */
	tu_write(dir, "latin1.sql", "DROP TABLE \"caf\xe9\";\n");
	ck_assert_int_eq(save("l.json", "lint --sql %s --format json", "latin1.sql"), 4);
	/* Valid UTF-8 on the wire, not only after a lenient parser. */
	out = tu_read(dir, "l.json", NULL);
	ck_assert_msg(!tu_has(out, "\xe9"), "%s", out);
	ck_assert_msg(tu_has(out, "public.caf\\ufffd"), "%s", out);
	free(out);
	out = sh_ok("jq -r '.[0].message' l.json");
	ck_assert_msg(tu_has(out, "drop of table \"public.caf\xef\xbf\xbd\""), "%s", out);
	free(out);
	ck_assert_int_eq(save("s.json", "lint --sql %s --format sarif", "latin1.sql"), 4);
	free(sh_ok("jq -e '.runs[0].results[0].message.text | test(\"caf\")' s.json"));
	ck_assert_int_eq(save("j.xml", "lint --sql %s --format junit", "latin1.sql"), 4);
	free(sh_ok("xmllint --noout j.xml"));
}
END_TEST

START_TEST(test_lint_sarif_is_sarif_2_1_0)
{
	char *out;

	ck_assert_int_eq(save("s.json", "lint --sql db --format %s", "sarif"), 4);
	/*
	 * The shape the SARIF 2.1.0 schema requires of what we emit: version,
	 * a run with a named driver, rules with ids, results whose ruleIndex
	 * points at the rule with their ruleId, a level from the enum, a
	 * message text, and physical locations with a 1-based region.
	 */
	free(sh_ok("jq -e '.version == \"2.1.0\" and (.\"$schema\" | test(\"sarif-2.1.0\"))"
	    " and (.runs | length == 1) and .runs[0].tool.driver.name == \"excon\"' s.json"));
	free(sh_ok("jq -e '.runs[0] as $r | [$r.results[] | . as $x |"
	    " ($r.tool.driver.rules[$x.ruleIndex].id == $x.ruleId) and"
	    " (.level | IN(\"error\",\"warning\",\"note\",\"none\")) and"
	    " (.message.text | type == \"string\") and"
	    " (.locations[0].physicalLocation.artifactLocation.uri | type == \"string\") and"
	    " (.locations[0].physicalLocation.region.startLine >= 1)] | all' s.json"));
	out = sh_ok("jq -r '.runs[0].results[] | select(.ruleId == \"E-DROP-COLUMN\") |"
	    " \"\\(.locations[0].physicalLocation.artifactLocation.uri):"
	    "\\(.locations[0].physicalLocation.region.startLine) \\(.level)\"' s.json");
	ck_assert_str_eq(out, "db/V2__drop.sql:2 error\n");
	free(out);
	/* Rules carry their summary and fix from the rule table. */
	out = sh_ok("jq -r '.runs[0].tool.driver.rules[] | select(.id == "
	    "\"E-INDEX-NOT-CONCURRENT\") | .help.text' s.json");
	ck_assert_msg(tu_has(out, "CREATE INDEX CONCURRENTLY"), "%s", out);
	free(out);
}
END_TEST

START_TEST(test_lint_gitlab_code_quality)
{
	char *out;

	ck_assert_int_eq(save("gl.json", "lint --sql db --format %s", "gitlab"), 4);
	free(sh_ok("jq -e 'type == \"array\" and length >= 2 and all(.[];"
	    " (.description | type == \"string\") and (.check_name | type == \"string\")"
	    " and (.fingerprint | test(\"^[0-9a-f]{64}$\"))"
	    " and (.severity | IN(\"info\",\"minor\",\"major\",\"critical\",\"blocker\"))"
	    " and (.location.path | type == \"string\")"
	    " and (.location.lines.begin | type == \"number\"))' gl.json"));
	/* Fingerprints tell findings apart. */
	free(sh_ok("jq -e '[.[].fingerprint] | length == (unique | length)' gl.json"));
	out = sh_ok("jq -r '.[] | select(.check_name == \"E-DROP-COLUMN\") |"
	    " \"\\(.location.path) \\(.location.lines.begin) \\(.severity)\"' gl.json");
	ck_assert_str_eq(out, "db/V2__drop.sql 2 major\n");
	free(out);
}
END_TEST

START_TEST(test_lint_junit_one_case_per_file)
{
	char *out;

	ck_assert_int_eq(save("j.xml", "lint --sql db --format %s", "junit"), 4);
	free(sh_ok("xmllint --noout j.xml"));
	out = sh_ok("xmllint --xpath 'count(//testcase)' j.xml");
	ck_assert_str_eq(out, "2\n");
	free(out);
	out = sh_ok("xmllint --xpath 'string(//testcase[@name=\"db/V1__ok.sql\"]/failure)' j.xml");
	ck_assert_str_eq(out, "\n");
	free(out);
	/* The failure carries rule, location and fix. */
	out = sh_ok("xmllint --xpath 'string(//testcase[@name=\"db/V2__drop.sql\"]/failure)' j.xml");
	ck_assert_msg(tu_has(out, "db/V2__drop.sql:2:1: error[E-DROP-COLUMN]"), "%s", out);
	ck_assert_msg(tu_has(out, "fix: drop it in a contract step"), "%s", out);
	free(out);
	out = sh_ok("xmllint --xpath 'string(//testsuite/@failures)' j.xml");
	ck_assert_str_eq(out, "1\n");
	free(out);
}
END_TEST

START_TEST(test_lint_github_annotations_and_summary)
{
	const char *env[] = { NULL, NULL };
	const char *argv[] = { "lint", "--sql", "db", "--format", "github", NULL };
	char *summary_env = xasprintf("GITHUB_STEP_SUMMARY=%s/summary.md", dir);
	struct run r;
	char *text;

	env[0] = summary_env;
	tu_write(dir, "summary.md", "earlier step\n");
	tu_excon(&r, dir, env, argv);
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "::error file=db/V2__drop.sql,line=2,col=1,"
	    "title=E-DROP-COLUMN::drop of column \"public.users.name\""), "%s", r.out);
	/* The fix is the annotation's second line. */
	ck_assert_msg(tu_has(r.out, "%0Afix: drop it in a contract step (drop_column) "
	    "whose window is open\n"), "%s", r.out);
	ck_assert_msg(!tu_has(r.out, "V1__ok"), "%s", r.out);
	tu_run_free(&r);
	text = tu_read(dir, "summary.md", NULL);
	ck_assert_msg(strncmp(text, "earlier step\n### excon lint\n", 28) == 0, "%s", text);
	ck_assert_msg(tu_has(text, "| error | `E-DROP-COLUMN` | `db/V2__drop.sql:2:1` |"),
	    "%s", text);
	free(text);
	free(summary_env);
}
END_TEST

START_TEST(test_lint_markdown_table)
{
	struct run r;

	tu_excon_str(&r, dir, "lint --sql db --format markdown");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "### excon lint\n\n2 errors, 1 warning\n\n"
	    "| | rule | location | problem | fix |\n|---|---|---|---|---|\n"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "| error | `E-INDEX-NOT-CONCURRENT` | "
	    "`db/V2__drop.sql:3:1` |"), "%s", r.out);
	tu_run_free(&r);
	tu_excon_str(&r, dir, "lint --sql db/V1__ok.sql --format markdown");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "### excon lint\n\nNo problems found in 1 file.\n");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_check_reports)
{
	struct run r;
	char *out;

	tu_write(dir, "plans/broken.yaml", "plan: broken\nsteps:\n  - id: a\n"
	    "    kind: code\n    stgae: post\n");
	ck_assert_int_eq(save("j.xml", "check --format %s", "junit"), 4);
	free(sh_ok("xmllint --noout j.xml"));
	out = sh_ok("xmllint --xpath 'string(//testcase[@name=\"plans/broken.yaml\"]/failure)' j.xml");
	ck_assert_msg(tu_has(out, "plans/broken.yaml:5:5: error[E-PLAN-SCHEMA]: step "
	    "\"a\": unknown field \"stgae\""), "%s", out);
	free(out);
	out = sh_ok("xmllint --xpath 'count(//testcase[not(failure)])' j.xml");
	ck_assert_str_eq(out, "1\n");
	free(out);
	tu_excon_str(&r, dir, "check --format github");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "::error file=plans/broken.yaml,line=5,col=5,"
	    "title=E-PLAN-SCHEMA::step \"a\": unknown field"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(save("s.json", "check --format %s", "sarif"), 4);
	out = sh_ok("jq -r '.runs[0].results[0].ruleId' s.json");
	ck_assert_str_eq(out, "E-PLAN-SCHEMA\n");
	free(out);
}
END_TEST

/* Runs each command in dir and asserts it succeeds. */
static void
run_all(const char *const *cmds)
{
	struct run r;
	int i;

	for (i = 0; cmds[i] != NULL; i++) {
		tu_excon_str(&r, dir, "%s", cmds[i]);
		ck_assert_msg(r.status == 0, "%s: %s", cmds[i], r.err);
		tu_run_free(&r);
	}
}

START_TEST(test_audit_reports)
{
	const char *cmds[] = {
		"release start v1", "advance users-full-name --record-only",
		"advance orders-full-name --record-only", "release finish v1",
		NULL
	};
	const char *force[] = { "advance", "orders-full-name", "--record-only",
		"--force", "--reason", "table unused since v0", NULL };
	struct run r;
	char *out;

	tu_write(dir, "plans/users-full-name.yaml", "deadline: 2025-12-31\n"
	    PLAN_TEXT("users-full-name", "users"));
	tu_write(dir, "plans/orders-full-name.yaml", PLAN_TEXT("orders-full-name",
	    "orders"));
	run_all(cmds);
	tu_excon(&r, dir, NULL, force);
	ck_assert_msg(r.status == 0, "%s", r.err);
	tu_run_free(&r);

	/* Overdue is an error; the override is a note with its reason. */
	ck_assert_int_eq(save("gl.json", "audit --format %s", "gitlab"), 0);
	out = sh_ok("jq -r '.[] | \"\\(.check_name) \\(.severity) \\(.location.path)\"' gl.json");
	ck_assert_str_eq(out, "E-CONTRACT-OVERDUE major plans/users-full-name.yaml\n"
	    "N-OVERRIDE info plans/orders-full-name.yaml\n");
	free(out);
	out = sh_ok("jq -r '.[1].description' gl.json");
	ck_assert_msg(tu_has(out, "orders-full-name/drop-name forced in v1 by rm@ci"),
	    "%s", out);
	ck_assert_msg(tu_has(out, "reason: table unused since v0"), "%s", out);
	free(out);
	ck_assert_int_eq(save("s.json", "audit --format %s", "sarif"), 0);
	out = sh_ok("jq -r '[.runs[0].results[].level] | join(\",\")' s.json");
	ck_assert_str_eq(out, "error,note\n");
	free(out);
	/* --fail-on keeps its exit code in every format. */
	tu_excon_str(&r, dir, "audit --fail-on overdue --format github");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "::error file=plans/users-full-name.yaml,line=7,"
	    "col=5,title=E-CONTRACT-OVERDUE::contract users-full-name/drop-name"),
	    "%s", r.out);
	ck_assert_msg(tu_has(r.out, "::notice file=plans/orders-full-name.yaml,"
	    "title=N-OVERRIDE::"), "%s", r.out);
	tu_run_free(&r);
	ck_assert_int_eq(save("j.xml", "audit --format %s", "junit"), 0);
	free(sh_ok("xmllint --noout j.xml"));
	out = sh_ok("xmllint --xpath 'count(//testcase[failure])' j.xml");
	ck_assert_str_eq(out, "1\n");
	free(out);
}
END_TEST

START_TEST(test_schema_validator_rejects_invalid_documents)
{
	/* A document of the shape excon writes passes... */
	tu_write(dir, "ok.json", "{\"version\":\"2.1.0\",\"runs\":[{\"tool\":"
	    "{\"driver\":{\"name\":\"excon\"}},\"results\":[{\"ruleId\":\"R\","
	    "\"level\":\"error\",\"message\":{\"text\":\"m\"},\"locations\":"
	    "[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":\"a%20b.sql\"},"
	    "\"region\":{\"startLine\":1}}}]}]}]}");
	schema_valid(SARIF_SCHEMA, "ok.json");
	/* ...and every way of breaking it is caught, with where. */
	tu_write(dir, "nodriver.json", "{\"version\":\"2.1.0\",\"runs\":[{\"tool\":{}}]}");
	schema_invalid(SARIF_SCHEMA, "nodriver.json", "/runs/0/tool: 'driver' is a "
	    "required property");
	tu_write(dir, "level.json", "{\"version\":\"2.1.0\",\"runs\":[{\"tool\":"
	    "{\"driver\":{\"name\":\"excon\"}},\"results\":[{\"level\":\"fatal\","
	    "\"message\":{\"text\":\"m\"}}]}]}");
	schema_invalid(SARIF_SCHEMA, "level.json", "/runs/0/results/0/level: 'fatal'");
	tu_write(dir, "uri.json", "{\"version\":\"2.1.0\",\"runs\":[{\"tool\":"
	    "{\"driver\":{\"name\":\"excon\"}},\"results\":[{\"message\":{\"text\":"
	    "\"m\"},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":"
	    "{\"uri\":\"a b.sql\"},\"region\":{\"startLine\":0}}}]}]}]}");
	schema_invalid(SARIF_SCHEMA, "uri.json", "'a b.sql' is not a 'uri-reference'");
	schema_invalid(SARIF_SCHEMA, "uri.json", "startLine: 0 is less than the "
	    "minimum of 1");
	tu_write(dir, "version.json", "{\"version\":\"2.0.0\",\"runs\":[]}");
	schema_invalid(SARIF_SCHEMA, "version.json", "/version: '2.0.0'");
	/* GitLab Code Quality: the documented required fields. */
	tu_write(dir, "gl.json", "[{\"description\":\"d\",\"check_name\":\"c\","
	    "\"severity\":\"high\",\"location\":{\"path\":\"p\",\"lines\":{}}}]");
	schema_invalid(GITLAB_SCHEMA, "gl.json", "'fingerprint' is a required property");
	schema_invalid(GITLAB_SCHEMA, "gl.json", "/0/severity: 'high'");
	schema_invalid(GITLAB_SCHEMA, "gl.json", "'begin' is a required property");
	tu_write(dir, "gl.json", "[{\"description\":\"d\",\"check_name\":\"c\","
	    "\"fingerprint\":\"f\",\"severity\":\"minor\",\"location\":{\"path\":"
	    "\"p\",\"lines\":{\"begin\":3}}}]");
	schema_valid(GITLAB_SCHEMA, "gl.json");
}
END_TEST

START_TEST(test_lint_reports_valid_against_schemas)
{
	const char *argv[] = { "lint", "--sql", "db/V3 drop caf\xc3\xa9.sql",
		"--format", "sarif", NULL };
	struct run r;
	char *out;

	/* With findings, and with none. */
	ck_assert_int_eq(save("s.json", "lint --sql db --format %s", "sarif"), 4);
	schema_valid(SARIF_SCHEMA, "s.json");
	ck_assert_int_eq(save("s0.json", "lint --sql %s --format sarif",
	    "db/V1__ok.sql"), 0);
	schema_valid(SARIF_SCHEMA, "s0.json");
	out = sh_ok("jq -c '.runs[0].results' s0.json");
	ck_assert_str_eq(out, "[]\n");
	free(out);
	ck_assert_int_eq(save("gl.json", "lint --sql db --format %s", "gitlab"), 4);
	schema_valid(GITLAB_SCHEMA, "gl.json");
	ck_assert_int_eq(save("gl0.json", "lint --sql %s --format gitlab",
	    "db/V1__ok.sql"), 0);
	schema_valid(GITLAB_SCHEMA, "gl0.json");
	/* A file name that is not a URI as it stands becomes one. */
	tu_write(dir, "db/V3 drop caf\xc3\xa9.sql", "DROP TABLE IF EXISTS t;\n");
	tu_excon(&r, dir, NULL, argv);
	ck_assert_int_eq(r.status, 4);
	tu_write(dir, "s3.json", r.out);
	tu_run_free(&r);
	schema_valid(SARIF_SCHEMA, "s3.json");
	out = sh_ok("jq -r '.runs[0].results[0].locations[0].physicalLocation."
	    "artifactLocation.uri' s3.json");
	ck_assert_str_eq(out, "db/V3%20drop%20caf%C3%A9.sql\n");
	free(out);
}
END_TEST

START_TEST(test_check_reports_valid_against_schemas)
{
	ck_assert_int_eq(save("s0.json", "check --format %s", "sarif"), 0);
	schema_valid(SARIF_SCHEMA, "s0.json");
	ck_assert_int_eq(save("gl0.json", "check --format %s", "gitlab"), 0);
	schema_valid(GITLAB_SCHEMA, "gl0.json");
	tu_write(dir, "plans/broken.yaml", "plan: broken\nsteps:\n  - id: a\n"
	    "    kind: code\n    stgae: post\n");
	tu_write(dir, "plans/bad yaml.yaml", "plan: [\n");
	ck_assert_int_eq(save("s.json", "check --format %s", "sarif"), 4);
	schema_valid(SARIF_SCHEMA, "s.json");
	ck_assert_int_eq(save("gl.json", "check --format %s", "gitlab"), 4);
	schema_valid(GITLAB_SCHEMA, "gl.json");
	ck_assert_int_eq(save("j.xml", "check --format %s", "junit"), 4);
	free(sh_ok("xmllint --noout j.xml"));
}
END_TEST

START_TEST(test_audit_reports_valid_against_schemas)
{
	const char *cmds[] = {
		"release start v1", "advance users-full-name --record-only",
		"release finish v1", NULL
	};
	const char *force[] = { "advance", "users-full-name", "--record-only",
		"--force", "--reason", "unused since v0", NULL };
	struct run r;

	/* A pending contract not open yet (a note), then none at all. */
	ck_assert_int_eq(save("s.json", "audit --format %s", "sarif"), 0);
	schema_valid(SARIF_SCHEMA, "s.json");
	run_all(cmds);
	tu_excon(&r, dir, NULL, force);
	ck_assert_msg(r.status == 0, "%s", r.err);
	tu_run_free(&r);
	/* Nothing pending; the override is a finding without a line. */
	ck_assert_int_eq(save("s.json", "audit --format %s", "sarif"), 0);
	schema_valid(SARIF_SCHEMA, "s.json");
	ck_assert_int_eq(save("gl.json", "audit --format %s", "gitlab"), 0);
	schema_valid(GITLAB_SCHEMA, "gl.json");
	/* A project without contracts: nothing to report. */
	free(sh_ok("rm -r plans state"));
	tu_write(dir, "plans/none.yaml", "plan: none\nsteps:\n  - id: a\n"
	    "    kind: code\n");
	tu_state_init(dir, "state/excon.db");
	ck_assert_int_eq(save("s0.json", "audit --format %s", "sarif"), 0);
	schema_valid(SARIF_SCHEMA, "s0.json");
	ck_assert_int_eq(save("gl0.json", "audit --format %s", "gitlab"), 0);
	schema_valid(GITLAB_SCHEMA, "gl0.json");
}
END_TEST

START_TEST(test_advance_refusal_annotation)
{
	const char *cmds[] = {
		"release start v1", "advance users-full-name --record-only",
		"release finish v1", NULL
	};
	struct run r;

	run_all(cmds);
	tu_excon_str(&r, dir, "advance users-full-name --record-only --format github");
	ck_assert_int_eq(r.status, 3);
	/* On the contract step in its plan file, with the way past it. */
	ck_assert_msg(tu_has(r.out, "::error file=plans/users-full-name.yaml,line=6,"
	    "col=5,title=excon refused users-full-name/drop-name (gate rule 4)::"
	    "drop-name (contract) needs 2 releases after stop-old-writes"), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "%0Afix: wait for the release it names, or pass "
	    "the gate with --force --reason TEXT"), "%s", r.out);
	/* The text refusal still goes to stderr. */
	ck_assert_msg(tu_has(r.err, "refused: drop-name (contract)"), "%s", r.err);
	tu_run_free(&r);
	tu_excon_str(&r, dir, "advance users-full-name --format sarif");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "excon advance: unknown format 'sarif' (expected "
	    "text, json or github)\n");
	tu_run_free(&r);
}
END_TEST

/*
 * Every way advance stops, under --format github, is an annotation too:
 * on the plan file and step it concerns when there is one.
 */
START_TEST(test_advance_every_stop_is_an_annotation)
{
	struct run r;

	tu_write(dir, "plans/idx.yaml", "plan: idx\nsteps:\n"
	    "  - id: add\n    kind: add_column\n    table: users\n"
	    "    column: x\n    type: text\n"
	    "  - id: index\n    kind: sql\n    phase: expand\n    stage: pre\n"
	    "    up: CREATE INDEX i ON users (email)\n");
	/* No history: on the plan's file. */
	free(sh_ok("rm -r state"));
	tu_excon_str(&r, dir, "advance idx --format github");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.out, "::error file=plans/idx.yaml,line=1,title=excon "
	    "advance failed on idx::no history at 'state/excon.db': run 'excon "
	    "init'"), "%s", r.out);
	ck_assert_msg(tu_has(r.err, "excon: no history at"), "%s", r.err);
	tu_run_free(&r);
	tu_state_init(dir, "state/excon.db");
	/* An unknown plan: no file to put it on. */
	tu_excon_str(&r, dir, "advance nosuch --format github");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "::error title=excon advance failed::unknown plan "
	    "'nosuch'\n");
	tu_run_free(&r);
	/* No database for a step that needs one: on the step. */
	run_all((const char *const[]){ "release start v1", NULL });
	tu_excon_str(&r, dir, "advance idx --format github");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.out, "::error file=plans/idx.yaml,line=3,col=5,"
	    "title=excon advance failed on idx/add::idx/add (add_column) changes "
	    "the database, and no database is configured"), "%s", r.out);
	tu_run_free(&r);
	/* A step that does not lint clean: its findings, then the refusal. */
	run_all((const char *const[]){ "advance idx --record-only", NULL });
	tu_excon_str(&r, dir, "advance idx --format github");
	ck_assert_int_eq(r.status, 4);
	ck_assert_msg(tu_has(r.out, "::error file=plans/idx.yaml,line=12,col=9,"
	    "title=E-INDEX-NOT-CONCURRENT::CREATE INDEX \"i\""), "%s", r.out);
	ck_assert_msg(tu_has(r.out, "::error file=plans/idx.yaml,line=8,col=5,"
	    "title=excon refused idx/index (does not lint clean)::idx/index does "
	    "not lint clean (1 error, see 'excon lint'); nothing was run%0Afix: "), "%s",
	    r.out);
	ck_assert_msg(tu_has(r.err, "refused: idx/index does not lint clean"), "%s",
	    r.err);
	tu_run_free(&r);
	/* A plan that does not load: each diagnostic where it points. */
	tu_write(dir, "plans/broken.yaml", "plan: broken\nsteps:\n  - id: a\n"
	    "    kind: code\n    stgae: post\n");
	tu_excon_str(&r, dir, "advance idx --format github");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(tu_has(r.out, "::error file=plans/broken.yaml,line=5,col=5,"
	    "title=excon advance failed (the plan does not load)::step \"a\": "
	    "unknown field \"stgae\""), "%s", r.out);
	tu_run_free(&r);
	/* Text output is unchanged: nothing on stdout. */
	tu_excon_str(&r, dir, "advance nosuch");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "");
	tu_run_free(&r);
}
END_TEST

START_TEST(test_format_names)
{
	struct run r;

	tu_excon_str(&r, dir, "lint --format xml");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "excon lint: unknown format 'xml' (expected text, "
	    "json, github, gitlab, junit, sarif or markdown)\n");
	tu_run_free(&r);
	/* Commands that do not report to CI keep text and json. */
	tu_excon_str(&r, dir, "status --format sarif");
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "excon status: unknown format 'sarif' (expected "
	    "text or json)\n");
	tu_run_free(&r);
}
END_TEST

/* The suite: one TCase per behaviour. */
int
main(void)
{
	Suite *s = suite_create("report");
	const struct { const char *name; const TTest *t; } cases[] = {
		{ "text", test_format_text },
		{ "json", test_format_json },
		{ "github_escaping", test_format_github },
		{ "json_escaping", test_json_escaping_survives_any_bytes },
		{ "xml_escaping", test_xml_escaping_survives_any_bytes },
		{ "json_not_utf8", test_lint_json_with_bytes_that_are_not_utf8 },
		{ "schema_validator", test_schema_validator_rejects_invalid_documents },
		{ "lint_sarif", test_lint_sarif_is_sarif_2_1_0 },
		{ "lint_schemas", test_lint_reports_valid_against_schemas },
		{ "check_schemas", test_check_reports_valid_against_schemas },
		{ "audit_schemas", test_audit_reports_valid_against_schemas },
		{ "lint_gitlab", test_lint_gitlab_code_quality },
		{ "lint_junit", test_lint_junit_one_case_per_file },
		{ "lint_github", test_lint_github_annotations_and_summary },
		{ "lint_markdown", test_lint_markdown_table },
		{ "check_reports", test_check_reports },
		{ "audit_reports", test_audit_reports },
		{ "advance_annotation", test_advance_refusal_annotation },
		{ "advance_every_stop", test_advance_every_stop_is_an_annotation },
		{ "format_names", test_format_names },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		tu_add(s, cases[i].name, cases[i].t, setup, teardown, 60);
	return tu_run_suite(s);
}
