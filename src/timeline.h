/*
 * The audit timeline: one self-contained HTML page (inline CSS and SVG, a
 * few lines of inline script for the filter; nothing fetched from the
 * network) showing plans against releases: where each step shipped,
 * forced steps, the contract window (waiting, open, overdue), deadlines
 * and every override with its reason.
 *
 * The command layer fills a struct timeline from the plans, the history
 * and the gate rules; this module only lays it out, so it is pure: it
 * appends to a buffer and never prints.  All strings are borrowed.
 */
#ifndef EXCON_TIMELINE_H
#define EXCON_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Where a plan's contract stands; also the page's groups, in this order. */
enum tl_status {
	TL_OVERDUE,	/* pending past its deadline */
	TL_OPEN,	/* pending, window open: may ship now */
	TL_WAITING,	/* pending, window not open yet */
	TL_DONE,	/* the contract shipped */
	TL_NONE,	/* no contract step */
};

struct tl_release {
	int64_t		 seq;
	const char	*name;
	int		 deployed;	/* 1 once finished */
	int64_t		 started_at;	/* unix seconds */
};

struct tl_step {
	const char	*id;
	const char	*kind;		/* step kind name */
	const char	*phase;		/* "expand", "migrate", "contract" */
	int64_t		 seq;		/* release it shipped in; 0 = not shipped */
	int		 forced;	/* shipped with --force */
	int		 failed;	/* failed part way */
};

struct tl_plan {
	const char	*name;
	const char	*owner;		/* may be NULL */
	const char	*file;
	const char	*deadline;	/* YYYY-MM-DD or NULL */
	const char	*usage;		/* rule 9's evidence as text, or NULL */
	enum tl_status	 status;
	const char	*contract;	/* contract step id, or NULL */
	int64_t		 window_from;	/* first release of the open window; 0 = unknown */
	int64_t		 last_nc_seq;	/* release of the last non-contract step; 0 = not yet */
	int64_t		 passed;	/* releases passed since it */
	int		 required;	/* contract_after */
	const struct tl_step *steps;
	size_t		 nsteps;
};

struct tl_override {
	const char	*at;		/* formatted time */
	const char	*actor, *plan, *step, *release, *gate, *reason;
};

struct timeline {
	const char		*generated;	/* formatted time */
	const struct tl_release	*releases;	/* by seq */
	size_t			 nreleases;
	const struct tl_plan	*plans;
	size_t			 nplans;
	const struct tl_override *overrides;
	size_t			 noverrides;
};

/*
 * Appends the page for t to out.  Releases beyond the newest
 * TIMELINE_COLUMNS get columns; older ones share one "earlier" column, so
 * the page stays readable after hundreds of releases.
 */
#define TIMELINE_COLUMNS	40
void timeline_html(const struct timeline *t, struct buf *out);

#endif
