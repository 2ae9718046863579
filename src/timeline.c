/*
 * The audit timeline page (see timeline.h).  Plans are grouped by where
 * their contract stands (overdue first), each group a <details> block so
 * that a thousand finished plans fold away; a filter box hides rows that
 * do not match a plan name or owner (also from the address: #filter=TEXT).
 * Every piece of text from plans or the history is escaped.
 */
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "timeline.h"

static const char *const group_title[] = {
	"Overdue contracts", "Contract window open", "Waiting for the window",
	"Contract shipped", "No contract step",
};
static const char *const group_class[] = {
	"overdue", "open", "waiting", "done", "none",
};

static const char style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff}"
	"h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}"
	".meta{color:#5b6475;margin:0 0 12px}"
	".usage{margin:4px 0 0;font-size:11px;white-space:pre-wrap;color:#5b6475}"
	"#filter{font:inherit;padding:4px 8px;width:320px;margin:8px 0}"
	"details{margin:8px 0}summary{cursor:pointer;font-weight:600;padding:4px 0}"
	"table{border-collapse:collapse}th,td{border:1px solid #d9dde5;padding:2px 6px;"
	"text-align:left;vertical-align:middle;white-space:nowrap}"
	"th{background:#f3f5f9;font-weight:600}td.r{min-width:22px;text-align:center}"
	"td.wait{background:#eef0f4}td.win{background:#d9f2dd}td.late{background:#f8d7d7}"
	".s{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 1px;"
	"vertical-align:middle}"
	".expand{background:#3b82f6}.migrate{background:#a855f7}.contract{background:#111827}"
	".forced{outline:2px solid #dc2626;outline-offset:1px}"
	".failed{background:#fff;border:2px solid #dc2626;width:6px;height:6px}"
	".tag{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px}"
	".tag.overdue{background:#f8d7d7;color:#8a1414}.tag.open{background:#d9f2dd;color:#14532d}"
	".tag.waiting{background:#eef0f4;color:#3b4252}.tag.done{background:#e0e7ff;color:#1e3a8a}"
	".tag.none{background:#f3f5f9;color:#5b6475}"
	"td.wrap{white-space:normal;max-width:520px}"
	".legend span{margin-right:14px}tr[hidden]{display:none}";

static const char script[] =
	"(function(){var f=document.getElementById('filter');"
	"function apply(){var q=f.value.trim().toLowerCase(),n=0;"
	"document.querySelectorAll('tr.plan').forEach(function(r){"
	"var hit=!q||r.dataset.plan.indexOf(q)>=0||r.dataset.owner.indexOf(q)>=0;"
	"r.hidden=!hit;if(hit)n++;});"
	"document.getElementById('shown').textContent=n;}"
	"var m=/[#&]filter=([^&]*)/.exec(location.hash);"
	"if(m)f.value=decodeURIComponent(m[1]);"
	"f.addEventListener('input',apply);apply();})();";

/* Appends s escaped for HTML text or a quoted attribute. */
static void
esc(struct buf *out, const char *s)
{
	report_xml_chars(out, s);
}

/* Appends s lowercased and escaped (for data-* filter attributes). */
static void
esc_lower(struct buf *out, const char *s)
{
	struct buf low = BUF_INIT;

	for (; s != NULL && *s != '\0'; s++)
		buf_putc(&low, *s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
	report_xml_chars(out, buf_cstr(&low));
	buf_free(&low);
}

/* The index of the first release that gets a column of its own. */
static size_t
first_column(const struct timeline *t)
{
	return t->nreleases > TIMELINE_COLUMNS ? t->nreleases - TIMELINE_COLUMNS : 0;
}

/* A bar of the plans per group, as an inline SVG. */
static void
summary_svg(const struct timeline *t, const size_t count[5], struct buf *out)
{
	static const char *const fill[] = { "#dc2626", "#16a34a", "#9ca3af",
		"#3b82f6", "#d1d5db" };
	double x = 0, w;
	size_t g;

	buf_puts(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" "
	    "height=\"22\" role=\"img\" aria-label=\"plans by contract status\">");
	for (g = 0; g < 5 && t->nplans > 0; g++) {
		if (count[g] == 0)
			continue;
		w = 600.0 * (double)count[g] / (double)t->nplans;
		buf_printf(out, "<rect x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"22\" "
		    "fill=\"%s\"><title>%s: %zu</title></rect>", x, w, fill[g],
		    group_title[g], count[g]);
		x += w;
	}
	buf_puts(out, "</svg>\n");
}

/* The header row: plan columns, then one per release column. */
static void
header_row(const struct timeline *t, struct buf *out)
{
	size_t i, first = first_column(t);

	buf_puts(out, "<thead><tr><th>plan</th><th>owner</th><th>status</th>"
	    "<th>contract</th><th>deadline</th>");
	if (first > 0)
		buf_printf(out, "<th title=\"releases #1 to #%lld\">earlier</th>",
		    (long long)t->releases[first - 1].seq);
	for (i = first; i < t->nreleases; i++) {
		buf_printf(out, "<th class=\"r\" title=\"#%lld ",
		    (long long)t->releases[i].seq);
		esc(out, t->releases[i].name);
		buf_printf(out, " (%s)\">", t->releases[i].deployed ? "deployed" :
		    "started");
		esc(out, t->releases[i].name);
		buf_puts(out, "</th>");
	}
	buf_puts(out, "</tr></thead>\n");
}

/* The markers of the steps of p that shipped in releases [lo, hi]. */
static void
markers(const struct tl_plan *p, int64_t lo, int64_t hi, struct buf *out)
{
	size_t k;

	for (k = 0; k < p->nsteps; k++) {
		const struct tl_step *s = &p->steps[k];

		if (s->seq < lo || s->seq > hi || s->seq == 0)
			continue;
		buf_printf(out, "<span class=\"s %s%s%s\" title=\"", s->phase,
		    s->forced ? " forced" : "", s->failed ? " failed" : "");
		esc(out, s->id);
		buf_puts(out, " (");
		esc(out, s->kind);
		buf_printf(out, ")%s%s\"></span>", s->forced ? ", forced" : "",
		    s->failed ? ", failed part way" : "");
	}
}

/* The class of the cell of release seq for p: its contract window. */
static const char *
cell_class(const struct tl_plan *p, int64_t seq)
{
	if (p->status > TL_WAITING || p->last_nc_seq == 0 || seq <= p->last_nc_seq)
		return "r";
	if (p->window_from == 0 || seq < p->window_from)
		return "r wait";
	return p->status == TL_OVERDUE ? "r late" : "r win";
}

/* One plan's row. */
static void
plan_row(const struct timeline *t, const struct tl_plan *p, struct buf *out)
{
	size_t i, first = first_column(t);

	buf_puts(out, "<tr class=\"plan\" data-plan=\"");
	esc_lower(out, p->name);
	buf_puts(out, "\" data-owner=\"");
	esc_lower(out, p->owner);
	buf_puts(out, "\"><td title=\"");
	esc(out, p->file);
	buf_puts(out, "\">");
	esc(out, p->name);
	buf_puts(out, "</td><td>");
	esc(out, p->owner != NULL ? p->owner : "-");
	buf_printf(out, "</td><td><span class=\"tag %s\">", group_class[p->status]);
	switch (p->status) {
	case TL_OVERDUE:
		buf_puts(out, "overdue");
		if (p->last_nc_seq == 0)
			buf_puts(out, ", expand/migrate pending");
		else if (p->passed < p->required)
			buf_printf(out, ", opens at #%lld", (long long)p->window_from);
		break;
	case TL_OPEN:
		buf_puts(out, "open");
		break;
	case TL_WAITING:
		if (p->last_nc_seq > 0)
			buf_printf(out, "opens at #%lld (%lld of %d)",
			    (long long)p->window_from, (long long)p->passed,
			    p->required);
		else
			buf_puts(out, "expand/migrate pending");
		break;
	case TL_DONE:
		buf_puts(out, "shipped");
		break;
	case TL_NONE:
		buf_puts(out, "no contract");
		break;
	}
	buf_puts(out, "</span>");
	if (p->usage != NULL) {
		buf_puts(out, "<pre class=\"usage\">");
		esc(out, p->usage);
		buf_puts(out, "</pre>");
	}
	buf_puts(out, "</td><td>");
	esc(out, p->contract != NULL ? p->contract : "-");
	buf_puts(out, "</td><td>");
	esc(out, p->deadline != NULL ? p->deadline : "-");
	buf_puts(out, "</td>");
	if (first > 0) {
		buf_puts(out, "<td class=\"r\">");
		markers(p, 1, t->releases[first - 1].seq, out);
		buf_puts(out, "</td>");
	}
	for (i = first; i < t->nreleases; i++) {
		int64_t seq = t->releases[i].seq;

		buf_printf(out, "<td class=\"%s\">", cell_class(p, seq));
		markers(p, seq, seq, out);
		buf_puts(out, "</td>");
	}
	buf_puts(out, "</tr>\n");
}

/* The overrides, newest last, with their reasons. */
static void
overrides(const struct timeline *t, struct buf *out)
{
	size_t i;

	buf_printf(out, "<h2 id=\"overrides\">Overrides (%zu)</h2>\n", t->noverrides);
	if (t->noverrides == 0) {
		buf_puts(out, "<p class=\"meta\">No gate was ever forced.</p>\n");
		return;
	}
	buf_puts(out, "<table><thead><tr><th>when</th><th>who</th><th>plan/step</th>"
	    "<th>release</th><th>gate</th><th>reason</th></tr></thead><tbody>\n");
	for (i = 0; i < t->noverrides; i++) {
		const struct tl_override *o = &t->overrides[i];

		buf_puts(out, "<tr class=\"override\"><td>");
		esc(out, o->at);
		buf_puts(out, "</td><td>");
		esc(out, o->actor ? o->actor : "-");
		buf_puts(out, "</td><td>");
		esc(out, o->plan ? o->plan : "-");
		buf_putc(out, '/');
		esc(out, o->step ? o->step : "-");
		buf_puts(out, "</td><td>");
		esc(out, o->release ? o->release : "-");
		buf_puts(out, "</td><td class=\"wrap\">");
		esc(out, o->gate ? o->gate : "-");
		buf_puts(out, "</td><td class=\"wrap\">");
		esc(out, o->reason ? o->reason : "-");
		buf_puts(out, "</td></tr>\n");
	}
	buf_puts(out, "</tbody></table>\n");
}

/* The page. */
void
timeline_html(const struct timeline *t, struct buf *out)
{
	size_t count[5] = { 0, 0, 0, 0, 0 }, i, g;

	for (i = 0; i < t->nplans; i++)
		count[t->plans[i].status]++;
	buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\">"
	    "<title>excon audit: contracts timeline</title><style>");
	buf_puts(out, style);
	buf_puts(out, "</style></head><body>\n<h1>excon audit</h1>\n<p class=\"meta\">");
	buf_printf(out, "Generated %s. %zu plan%s, %zu release%s", t->generated,
	    t->nplans, t->nplans == 1 ? "" : "s", t->nreleases,
	    t->nreleases == 1 ? "" : "s");
	if (t->nreleases > 0) {
		buf_puts(out, ", newest ");
		esc(out, t->releases[t->nreleases - 1].name);
		buf_printf(out, " (#%lld)", (long long)t->releases[t->nreleases - 1].seq);
	}
	buf_printf(out, ". Overdue %zu, open %zu, waiting %zu, shipped %zu, "
	    "without contract %zu.</p>\n", count[0], count[1], count[2], count[3],
	    count[4]);
	summary_svg(t, count, out);
	buf_puts(out, "<p class=\"legend\"><span><span class=\"s expand\"></span> "
	    "expand</span><span><span class=\"s migrate\"></span> migrate</span>"
	    "<span><span class=\"s contract\"></span> contract</span><span>"
	    "<span class=\"s expand forced\"></span> forced</span><span>"
	    "<span class=\"s failed\"></span> failed part way</span><span class=\"tag "
	    "waiting\">window not open</span> <span class=\"tag open\">window open"
	    "</span> <span class=\"tag overdue\">overdue</span></p>\n"
	    "<input id=\"filter\" type=\"search\" placeholder=\"filter by plan or "
	    "owner\" aria-label=\"filter plans\"> <span class=\"meta\"><span "
	    "id=\"shown\">");
	buf_printf(out, "%zu</span> of %zu plans shown</span>\n", t->nplans, t->nplans);
	for (g = 0; g < 5; g++) {
		if (count[g] == 0)
			continue;
		/* Finished groups fold away once they are long. */
		buf_printf(out, "<details id=\"group-%s\"%s><summary>%s (%zu)</summary>\n"
		    "<table>", group_class[g], g >= TL_DONE && count[g] > 50 ? "" :
		    " open", group_title[g], count[g]);
		header_row(t, out);
		buf_puts(out, "<tbody>\n");
		for (i = 0; i < t->nplans; i++)
			if (t->plans[i].status == (enum tl_status)g)
				plan_row(t, &t->plans[i], out);
		buf_puts(out, "</tbody></table></details>\n");
	}
	overrides(t, out);
	buf_puts(out, "<script>");
	buf_puts(out, script);
	buf_puts(out, "</script>\n</body></html>\n");
}
