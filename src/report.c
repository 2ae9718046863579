/*
 * CI reports (see report.h).  Each format is one function over the same
 * findings; the escaping functions keep JSON and XML output well formed
 * whatever bytes a migration file held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "out.h"
#include "report.h"
#include "sha256.h"
#include "xalloc.h"

/* Appends the XML text of s. */
void
report_xml_chars(struct buf *out, const char *s)
{
	const unsigned char *p;
	size_t n;

	for (p = (const unsigned char *)s; p != NULL && *p != '\0'; p += n) {
		n = utf8_len(p);
		if (n == 0) {
			buf_puts(out, "\xef\xbf\xbd");
			n = 1;
		} else if (*p == '<')
			buf_puts(out, "&lt;");
		else if (*p == '>')
			buf_puts(out, "&gt;");
		else if (*p == '&')
			buf_puts(out, "&amp;");
		else if (*p == '"')
			buf_puts(out, "&quot;");
		else if (*p == '\'')
			buf_puts(out, "&apos;");
		else if (*p == '\n')
			buf_puts(out, "&#10;");
		else if (*p == '\t' || *p == '\r')
			buf_printf(out, "&#%d;", *p);
		else if (*p < 0x20)
			buf_puts(out, "\xef\xbf\xbd");
		else if (n == 3 && p[0] == 0xef && p[1] == 0xbf &&
		    (p[2] == 0xbe || p[2] == 0xbf))
			buf_puts(out, "\xef\xbf\xbd");	/* U+FFFE, U+FFFF */
		else
			buf_add(out, p, n);
	}
}

/* A JSON string literal of s (null for NULL). */
static void
jstr(struct buf *out, const char *s)
{
	if (s == NULL) {
		buf_puts(out, "null");
		return;
	}
	buf_putc(out, '"');
	json_chars(out, s);
	buf_putc(out, '"');
}

/* The word for a severity. */
const char *
report_severity(int sev)
{
	return sev == SEV_ERROR ? "error" : sev == SEV_WARNING ? "warning" :
	    "note";
}

/* The parse of a format name. */
int
report_format_parse(const char *name, enum report_format *out)
{
	static const struct { const char *name; enum report_format f; } tab[] = {
		{ "github", REPORT_GITHUB }, { "gitlab", REPORT_GITLAB },
		{ "junit", REPORT_JUNIT }, { "sarif", REPORT_SARIF },
		{ "markdown", REPORT_MARKDOWN },
	};
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcmp(tab[i].name, name) == 0) {
			*out = tab[i].f;
			return 0;
		}
	return -1;
}

/* The line of a finding as reports need it: at least 1. */
static int
line_of(const struct finding *x)
{
	return x->line > 0 ? x->line : 1;
}

/*
 * Appends s escaped for a GitHub workflow command: % CR LF always, and
 * also : and , in a property value.
 */
static void
gh_escape(struct buf *out, const char *s, int property)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '%')
			buf_puts(out, "%25");
		else if (*s == '\r')
			buf_puts(out, "%0D");
		else if (*s == '\n')
			buf_puts(out, "%0A");
		else if (property && *s == ':')
			buf_puts(out, "%3A");
		else if (property && *s == ',')
			buf_puts(out, "%2C");
		else
			buf_putc(out, *s);
	}
}

/*
 * GitHub annotations: `::error file=F,line=L,col=C,title=RULE::message`
 * with the fix on a second line of the message.
 */
static void
write_github(const struct report *r, struct buf *out)
{
	size_t i;

	for (i = 0; i < r->f->n; i++) {
		const struct finding *x = &r->f->v[i];

		if (x->suppressed)
			continue;
		buf_printf(out, "::%s ", x->severity == SEV_NOTE ? "notice" :
		    report_severity(x->severity));
		if (x->file[0] != '\0') {
			buf_puts(out, "file=");
			gh_escape(out, x->file, 1);
			if (x->line > 0)
				buf_printf(out, ",line=%d", x->line);
			if (x->col > 0)
				buf_printf(out, ",col=%d", x->col);
			buf_putc(out, ',');
		}
		buf_puts(out, "title=");
		gh_escape(out, x->rule, 1);
		buf_puts(out, "::");
		gh_escape(out, x->msg, 0);
		if (x->fix != NULL && x->fix[0] != '\0') {
			gh_escape(out, "\nfix: ", 0);
			gh_escape(out, x->fix, 0);
		}
		buf_putc(out, '\n');
	}
}

/* Appends s for a Markdown table cell: | escaped, newlines as <br>. */
static void
md_cell(struct buf *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '|')
			buf_puts(out, "\\|");
		else if (*s == '\n')
			buf_puts(out, "<br>");
		else if (*s == '\r')
			continue;
		else if (*s == '<')
			buf_puts(out, "&lt;");
		else
			buf_putc(out, *s);
	}
}

/* Counts unsuppressed findings of severity sev. */
static size_t
count(const struct report *r, int sev)
{
	return findings_count(r->f, sev);
}

/* A Markdown summary: a heading, counts, and one table row per finding. */
static void
write_markdown(const struct report *r, struct buf *out)
{
	size_t i, ne = count(r, SEV_ERROR), nw = count(r, SEV_WARNING),
	    nn = count(r, SEV_NOTE);

	buf_printf(out, "### excon %s\n\n", r->command);
	if (ne + nw + nn == 0) {
		buf_printf(out, "No problems found in %zu %s.\n", r->nunits,
		    r->nunits == 1 ? "file" : "files");
		return;
	}
	buf_printf(out, "%zu error%s, %zu warning%s", ne, ne == 1 ? "" : "s",
	    nw, nw == 1 ? "" : "s");
	if (nn > 0)
		buf_printf(out, ", %zu note%s", nn, nn == 1 ? "" : "s");
	buf_puts(out, "\n\n| | rule | location | problem | fix |\n"
	    "|---|---|---|---|---|\n");
	for (i = 0; i < r->f->n; i++) {
		const struct finding *x = &r->f->v[i];

		if (x->suppressed)
			continue;
		buf_printf(out, "| %s | `%s` | ", report_severity(x->severity),
		    x->rule);
		if (x->file[0] != '\0') {
			buf_putc(out, '`');
			md_cell(out, x->file);
			if (x->line > 0)
				buf_printf(out, ":%d:%d", x->line, x->col);
			buf_putc(out, '`');
		}
		buf_puts(out, " | ");
		md_cell(out, x->msg);
		buf_puts(out, " | ");
		md_cell(out, x->fix);
		buf_puts(out, " |\n");
	}
}

/* GitLab's severity for ours. */
static const char *
gitlab_severity(int sev)
{
	return sev == SEV_ERROR ? "major" : sev == SEV_WARNING ? "minor" : "info";
}

/*
 * GitLab Code Quality: an array of issues.  The fingerprint hashes the
 * rule, file, line and message, so the same finding keeps its identity
 * between pipelines and two findings never share one.
 */
static void
write_gitlab(const struct report *r, struct buf *out)
{
	size_t i;
	int first = 1;

	buf_putc(out, '[');
	for (i = 0; i < r->f->n; i++) {
		const struct finding *x = &r->f->v[i];
		struct sha256 c;
		char hex[65], num[32];

		if (x->suppressed)
			continue;
		sha256_init(&c);
		sha256_update(&c, x->rule, strlen(x->rule) + 1);
		sha256_update(&c, x->file, strlen(x->file) + 1);
		snprintf(num, sizeof num, "%d:%d", x->line, x->col);
		sha256_update(&c, num, strlen(num) + 1);
		sha256_update(&c, x->msg, strlen(x->msg));
		sha256_final_hex(&c, hex);
		buf_puts(out, first ? "\n{" : ",\n{");
		first = 0;
		buf_puts(out, "\"type\":\"issue\",\"description\":");
		jstr(out, x->msg);
		buf_puts(out, ",\"check_name\":");
		jstr(out, x->rule);
		buf_printf(out, ",\"fingerprint\":\"%s\",\"severity\":\"%s\"", hex,
		    gitlab_severity(x->severity));
		if (x->fix != NULL) {
			buf_puts(out, ",\"content\":{\"body\":");
			jstr(out, x->fix);
			buf_putc(out, '}');
		}
		buf_puts(out, ",\"location\":{\"path\":");
		jstr(out, x->file[0] != '\0' ? x->file : "excon.yaml");
		buf_printf(out, ",\"lines\":{\"begin\":%d}}}", line_of(x));
	}
	buf_puts(out, first ? "]\n" : "\n]\n");
}

/* The index of unit name in r->units, or -1. */
static long
unit_index(const struct report *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nunits; i++)
		if (strcmp(r->units[i], name) == 0)
			return (long)i;
	return -1;
}

/* One JUnit test case: the unit name and its findings as one failure. */
static void
junit_case(const struct report *r, const char *name, struct buf *out)
{
	struct buf body = BUF_INIT;
	const struct finding *first = NULL;
	size_t i, n = 0;

	for (i = 0; i < r->f->n; i++) {
		const struct finding *x = &r->f->v[i];

		if (x->suppressed || x->severity == SEV_NOTE ||
		    strcmp(x->file, name) != 0)
			continue;
		if (first == NULL)
			first = x;
		n++;
		buf_printf(&body, "%s:%d:%d: %s[%s]: %s\n", x->file[0] ? x->file :
		    "-", x->line, x->col, report_severity(x->severity), x->rule,
		    x->msg);
		if (x->fix != NULL)
			buf_printf(&body, "  fix: %s\n", x->fix);
	}
	buf_puts(out, "  <testcase classname=\"excon.");
	report_xml_chars(out, r->command);
	buf_puts(out, "\" name=\"");
	report_xml_chars(out, name[0] ? name : "(project)");
	buf_puts(out, "\" file=\"");
	report_xml_chars(out, name);
	buf_puts(out, "\"");
	if (first == NULL) {
		buf_puts(out, "/>\n");
		buf_free(&body);
		return;
	}
	buf_puts(out, ">\n    <failure type=\"");
	report_xml_chars(out, first->rule);
	buf_puts(out, "\" message=\"");
	if (n > 1)
		buf_printf(out, "%zu problems, first: ", n);
	report_xml_chars(out, first->msg);
	buf_puts(out, "\">");
	report_xml_chars(out, buf_cstr(&body));
	buf_puts(out, "</failure>\n  </testcase>\n");
	buf_free(&body);
}

/* 1 when the unit called name has an unsuppressed error or warning. */
static int
unit_fails(const struct report *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->f->n; i++)
		if (!r->f->v[i].suppressed && r->f->v[i].severity != SEV_NOTE &&
		    strcmp(r->f->v[i].file, name) == 0)
			return 1;
	return 0;
}

/*
 * JUnit XML: one testsuite, one test case per unit and per other file a
 * finding names; a failing case carries its findings (rule, location,
 * message and fix).
 */
static void
write_junit(const struct report *r, struct buf *out)
{
	const char **names = NULL;
	size_t cap = 0, n = 0, i, j, nfail = 0;

	for (i = 0; i < r->nunits; i++) {
		XGROW(names, cap, n + 1);
		names[n++] = r->units[i];
	}
	for (i = 0; i < r->f->n; i++) {
		const char *file = r->f->v[i].file;

		if (r->f->v[i].suppressed || r->f->v[i].severity == SEV_NOTE ||
		    unit_index(r, file) >= 0)
			continue;
		for (j = r->nunits; j < n; j++)
			if (strcmp(names[j], file) == 0)
				break;
		if (j < n)
			continue;
		XGROW(names, cap, n + 1);
		names[n++] = file;
	}
	for (i = 0; i < n; i++)
		nfail += unit_fails(r, names[i]);
	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	buf_printf(out, "<testsuites name=\"excon\" tests=\"%zu\" failures=\"%zu\" "
	    "errors=\"0\">\n <testsuite name=\"excon ", n, nfail);
	report_xml_chars(out, r->command);
	buf_printf(out, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
	    "skipped=\"0\">\n", n, nfail);
	for (i = 0; i < n; i++)
		junit_case(r, names[i], out);
	buf_puts(out, " </testsuite>\n</testsuites>\n");
	free(names);
}

/* The SARIF level for a severity. */
static const char *
sarif_level(int sev)
{
	return sev == SEV_ERROR ? "error" : sev == SEV_WARNING ? "warning" : "note";
}

/*
 * Appends a file name as a SARIF artifact URI, a relative reference: every
 * byte but the unreserved characters of RFC 3986 and '/' percent-encoded,
 * so a name with a space, a '%', a ':' or bytes beyond ASCII stays one
 * valid URI that code scanning maps back to the same file.
 */
static void
sarif_uri(struct buf *out, const char *path)
{
	const unsigned char *p;

	buf_putc(out, '"');
	for (p = (const unsigned char *)path; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p) != NULL)
			buf_putc(out, (char)*p);
		else
			buf_printf(out, "%%%02X", *p);
	}
	buf_putc(out, '"');
}

/*
 * SARIF 2.1.0: one run whose driver lists every rule the results use
 * (with the rule table's summary and fix where the rule is an SQL rule),
 * and one result per finding with its physical location.
 */
static void
write_sarif(const struct report *r, struct buf *out)
{
	const char **ids = NULL;
	size_t cap = 0, n = 0, i, j;
	int first = 1;

	for (i = 0; i < r->f->n; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(ids[j], r->f->v[i].rule) == 0)
				break;
		if (j < n)
			continue;
		XGROW(ids, cap, n + 1);
		ids[n++] = r->f->v[i].rule;
	}
	buf_puts(out, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\","
	    "\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{"
	    "\"name\":\"excon\",\"rules\":[");
	for (j = 0; j < n; j++) {
		const struct sqlrule *sr = sqlcheck_rule(ids[j]);

		buf_puts(out, j ? ",\n{\"id\":" : "\n{\"id\":");
		jstr(out, ids[j]);
		if (sr != NULL) {
			buf_puts(out, ",\"shortDescription\":{\"text\":");
			jstr(out, sr->summary);
			buf_puts(out, "},\"help\":{\"text\":");
			jstr(out, sr->fix);
			buf_printf(out, "},\"defaultConfiguration\":{\"level\":\"%s\"}",
			    sarif_level(sr->severity));
		}
		buf_putc(out, '}');
	}
	buf_puts(out, "]}},\"results\":[");
	for (i = 0; i < r->f->n; i++) {
		const struct finding *x = &r->f->v[i];

		for (j = 0; j < n; j++)
			if (strcmp(ids[j], x->rule) == 0)
				break;
		buf_puts(out, first ? "\n{" : ",\n{");
		first = 0;
		buf_puts(out, "\"ruleId\":");
		jstr(out, x->rule);
		buf_printf(out, ",\"ruleIndex\":%zu,\"level\":\"%s\",\"message\":"
		    "{\"text\":\"", j, sarif_level(x->severity));
		json_chars(out, x->msg);
		if (x->fix != NULL) {
			buf_puts(out, "\\nfix: ");
			json_chars(out, x->fix);
		}
		buf_puts(out, "\"}");
		if (x->file[0] != '\0') {
			buf_puts(out, ",\"locations\":[{\"physicalLocation\":{"
			    "\"artifactLocation\":{\"uri\":");
			sarif_uri(out, x->file);
			buf_putc(out, '}');
			if (x->line > 0) {
				buf_printf(out, ",\"region\":{\"startLine\":%d", x->line);
				if (x->col > 0)
					buf_printf(out, ",\"startColumn\":%d", x->col);
				buf_putc(out, '}');
			}
			buf_puts(out, "}}]");
		}
		if (x->suppressed) {
			buf_puts(out, ",\"suppressions\":[{\"kind\":\"inSource\"");
			if (x->reason != NULL) {
				buf_puts(out, ",\"justification\":");
				jstr(out, x->reason);
			}
			buf_puts(out, "}]");
		}
		buf_putc(out, '}');
	}
	buf_puts(out, "]}]}\n");
	free(ids);
}

/* Appends the report in the chosen format. */
void
report_write(enum report_format fmt, const struct report *r, struct buf *out)
{
	switch (fmt) {
	case REPORT_GITHUB:
		write_github(r, out);
		break;
	case REPORT_GITLAB:
		write_gitlab(r, out);
		break;
	case REPORT_JUNIT:
		write_junit(r, out);
		break;
	case REPORT_SARIF:
		write_sarif(r, out);
		break;
	case REPORT_MARKDOWN:
		write_markdown(r, out);
		break;
	}
}

/* Compiler-style text (see report.h). */
void
report_text(const struct findings *f, int show_suppressed, struct buf *out)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		const struct finding *x = &f->v[i];

		if (x->suppressed && !show_suppressed)
			continue;
		buf_printf(out, "%s:%d:%d: %s[%s]: %s\n", x->file, x->line,
		    x->col, x->suppressed ? "allowed" :
		    report_severity(x->severity), x->rule, x->msg);
		if (x->fix != NULL)
			buf_printf(out, "  fix: %s\n", x->fix);
		if (x->suppressed)
			buf_printf(out, "  allowed: %s\n",
			    x->reason != NULL ? x->reason : "");
	}
}

/* A JSON array of every finding (see report.h). */
void
report_json(const struct findings *f, struct buf *out)
{
	size_t i;

	buf_putc(out, '[');
	for (i = 0; i < f->n; i++) {
		const struct finding *x = &f->v[i];

		buf_puts(out, i == 0 ? "\n  {" : ",\n  {");
		buf_puts(out, "\"rule\": ");
		json_str(out, x->rule);
		buf_printf(out, ", \"severity\": \"%s\", \"file\": ",
		    report_severity(x->severity));
		json_str(out, x->file);
		buf_printf(out, ", \"line\": %d, \"column\": %d, \"message\": ",
		    x->line, x->col);
		json_str(out, x->msg);
		buf_puts(out, ", \"fix\": ");
		json_str(out, x->fix);
		buf_printf(out, ", \"suppressed\": %s, \"reason\": ",
		    x->suppressed ? "true" : "false");
		json_str(out, x->reason);
		buf_putc(out, '}');
	}
	buf_puts(out, f->n > 0 ? "\n]\n" : "]\n");
}
