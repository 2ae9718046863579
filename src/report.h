/*
 * CI reports: the findings of lint, check and audit written in the
 * formats CI systems read natively (SPEC section 9).
 *
 * GitHub workflow annotations (with the fix text), GitLab Code Quality
 * JSON, JUnit XML (one test case per examined unit: a file or a plan),
 * SARIF 2.1.0 and a Markdown table.  Every function is pure: it appends
 * to a buffer owned by the caller and never prints; the command layer
 * decides where the text goes (stdout, $GITHUB_STEP_SUMMARY).
 *
 * Text from findings may hold anything a file held, including bytes that
 * are not UTF-8: JSON and XML output replace such bytes with U+FFFD, XML
 * output also the control characters XML 1.0 forbids, so the output is
 * always well formed.
 */
#ifndef EXCON_REPORT_H
#define EXCON_REPORT_H

#include <stddef.h>

#include "buf.h"
#include "sqlcheck.h"

/* The CI formats. */
enum report_format {
	REPORT_GITHUB,
	REPORT_GITLAB,
	REPORT_JUNIT,
	REPORT_SARIF,
	REPORT_MARKDOWN,
};

/*
 * What one command found.  Everything is borrowed from the caller.
 * units are the files (or plans) the command examined, in order: each
 * becomes a JUnit test case, passing when no finding names it as its
 * file.  A finding whose file is not among the units gets a test case
 * of its own.
 */
struct report {
	const char		*command;	/* "lint", "check", "audit" */
	const struct findings	*f;
	const char *const	*units;
	size_t			 nunits;
};

/* Parses a format name ("github", ...); returns 0, or -1 when unknown. */
int report_format_parse(const char *name, enum report_format *out);

/* Appends the report r in format fmt to out. */
void report_write(enum report_format fmt, const struct report *r,
    struct buf *out);

/* The severity's word: "error", "warning" or "note". */
const char *report_severity(int sev);

/*
 * Compiler-style text, one finding a line with its fix (and, when
 * show_suppressed, the findings an allow comment covers, with the reason).
 */
void report_text(const struct findings *f, int show_suppressed,
    struct buf *out);

/*
 * JSON (lint --format json): an array of objects with keys rule, severity
 * ("error", "warning" or "note"), file, line, column, message, fix,
 * suppressed (boolean) and reason (string or null); every finding,
 * suppressed ones included.
 */
void report_json(const struct findings *f, struct buf *out);

/*
 * Appends s to out as XML character data or attribute text: markup
 * characters as entities, characters XML 1.0 forbids and bytes that are
 * not valid UTF-8 replaced with U+FFFD.  NULL appends nothing.
 */
void report_xml_chars(struct buf *out, const char *s);

#endif
