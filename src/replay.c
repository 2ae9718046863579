/*
 * Replays the event log (see replay.h).  Every change to the releases and
 * ships is recorded by an event in the same transaction:
 *
 *   release.start   a release at the end of the sequence (seq = count)
 *   release.finish  that release deployed
 *   override        the next advance of that step was forced
 *   advance         a step shipped in a release
 *   failed          a step failed part way in a release
 *   rollback        a step's ship removed
 *
 * so the log alone says which rows must exist and what they hold.  Rows
 * are matched by key through sorted indexes, so a history of thousands of
 * ships is checked in O(n log n).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "xalloc.h"

/* A release as the log has it. */
struct rrel {
	const char	*name;
	int64_t		 seq;
	int		 deployed;
	int64_t		 event;		/* id of its release.start */
};

/* A ship as the log has it. */
struct rship {
	const char	*plan;
	const char	*step;
	const char	*release;	/* name */
	int		 failed;
	int		 forced;
	int		 removed;	/* rolled back since */
	int		 pending_force;	/* an override awaits the next advance */
	int		 seen;		/* matched by a row */
	int64_t		 event;
};

/* Order of struct rship: plan, then step. */
static int
rship_cmp(const void *a, const void *b)
{
	const struct rship *x = a, *y = b;
	int c = strcmp(x->plan, y->plan);

	return c != 0 ? c : strcmp(x->step, y->step);
}

/* Order of pointers to struct rrel by name. */
static int
rrel_name_cmp(const void *a, const void *b)
{
	const struct rrel *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Order of pointers to step events: plan, step, then id (log order). */
static int
event_key_cmp(const void *a, const void *b)
{
	const struct state_event *const *x = a, *const *y = b;
	int c = strcmp((*x)->plan, (*y)->plan);

	if (c == 0)
		c = strcmp((*x)->step, (*y)->step);
	if (c == 0)
		c = (*x)->id < (*y)->id ? -1 : (*x)->id > (*y)->id;
	return c;
}

/* Whether e changes a ship: advance, failed, rollback or override. */
static int
is_ship_event(const struct state_event *e)
{
	return e->plan != NULL && e->step != NULL &&
	    (strcmp(e->kind, "advance") == 0 || strcmp(e->kind, "failed") == 0 ||
	    strcmp(e->kind, "rollback") == 0 || strcmp(e->kind, "override") == 0);
}

/* The sequence of release name in the sorted index, or 0. */
static int64_t
release_seq_of(struct rrel **byname, size_t n, const char *name)
{
	struct rrel key = { name, 0, 0, 0 }, *kp = &key, **hit;

	if (name == NULL)
		return 0;
	hit = bsearch(&kp, byname, n, sizeof *byname, rrel_name_cmp);
	return hit != NULL ? (*hit)->seq : 0;
}

/* Compares the history's rows with the log; see replay.h. */
size_t
replay_check(const struct state_event *ev, size_t n,
    const struct state_history *h, struct buf *problems)
{
	struct rrel *rel = NULL, **byname = NULL;
	struct rship *sh = NULL, *s = NULL;
	const struct state_event **se = NULL;
	size_t nrel = 0, relcap = 0, nsh = 0, shcap = 0, nse = 0, i, bad = 0;

	se = xcalloc(n + 1, sizeof *se);
	for (i = 0; i < n; i++) {
		const struct state_event *e = &ev[i];

		if (strcmp(e->kind, "release.start") == 0 && e->release != NULL) {
			XGROW(rel, relcap, nrel + 1);
			rel[nrel].name = e->release;
			rel[nrel].seq = (int64_t)nrel + 1;
			rel[nrel].deployed = 0;
			rel[nrel].event = e->id;
			nrel++;
			continue;
		}
		if (strcmp(e->kind, "release.finish") == 0 && e->release != NULL) {
			size_t k;

			for (k = nrel; k-- > 0;)
				if (strcmp(rel[k].name, e->release) == 0) {
					rel[k].deployed = 1;
					break;
				}
			continue;
		}
		if (is_ship_event(e))
			se[nse++] = e;
	}
	/* Each step's events in log order, one step after another. */
	qsort(se, nse, sizeof *se, event_key_cmp);
	for (i = 0; i < nse; i++) {
		const struct state_event *e = se[i];

		if (s == NULL || strcmp(s->plan, e->plan) != 0 ||
		    strcmp(s->step, e->step) != 0) {
			XGROW(sh, shcap, nsh + 1);
			s = &sh[nsh++];
			memset(s, 0, sizeof *s);
			s->plan = e->plan;
			s->step = e->step;
			s->removed = 1;
		}
		if (strcmp(e->kind, "override") == 0) {
			s->pending_force = 1;
		} else if (strcmp(e->kind, "rollback") == 0) {
			s->removed = 1;
			s->pending_force = 0;
		} else {
			s->removed = 0;
			s->release = e->release;
			s->failed = strcmp(e->kind, "failed") == 0;
			s->forced = !s->failed && s->pending_force;
			s->pending_force = 0;
			s->event = e->id;
		}
	}

	/* Releases: row k must be the log's k-th release, in the same state. */
	byname = xcalloc(nrel + 1, sizeof *byname);
	for (i = 0; i < nrel; i++)
		byname[i] = &rel[i];
	qsort(byname, nrel, sizeof *byname, rrel_name_cmp);
	for (i = 0; i < h->nreleases; i++) {
		const struct state_release *r = &h->releases[i];
		const struct rrel *l = r->seq >= 1 && (size_t)r->seq <= nrel ?
		    &rel[r->seq - 1] : NULL;

		if (l == NULL) {
			buf_printf(problems, "release %s (#%" PRId64 ") has a row "
			    "but no event records it\n", r->name, r->seq);
			bad++;
		} else if (strcmp(l->name, r->name) != 0) {
			buf_printf(problems, "release #%" PRId64 " is %s in its row "
			    "but %s in the log (event %" PRId64 ")\n", r->seq,
			    r->name, l->name, l->event);
			bad++;
		} else if (l->deployed != (r->state == RELEASE_DEPLOYED)) {
			buf_printf(problems, "release %s (#%" PRId64 ") is %s in its "
			    "row but %s in the log\n", r->name, r->seq,
			    r->state == RELEASE_DEPLOYED ? "deployed" : "started",
			    l->deployed ? "deployed" : "started");
			bad++;
		}
	}
	for (i = 0; i < nrel; i++) {
		size_t lo = 0, hi = h->nreleases, mid;
		int found = 0;

		/* h->releases is ordered by seq. */
		while (lo < hi && !found) {
			mid = lo + (hi - lo) / 2;
			if (h->releases[mid].seq == rel[i].seq)
				found = 1;
			else if (h->releases[mid].seq < rel[i].seq)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!found) {
			buf_printf(problems, "release %s (#%" PRId64 ") is in the log "
			    "(event %" PRId64 ") but its row is missing\n",
			    rel[i].name, rel[i].seq, rel[i].event);
			bad++;
		}
	}

	/* Ships: every row must be the log's, and every logged ship a row. */
	for (i = 0; i < h->nships; i++) {
		const struct state_ship *r = &h->ships[i];
		struct rship key, *l;
		int64_t lseq;

		memset(&key, 0, sizeof key);
		key.plan = r->plan;
		key.step = r->step;
		l = bsearch(&key, sh, nsh, sizeof *sh, rship_cmp);
		if (l == NULL || l->removed) {
			buf_printf(problems, "ship %s/%s (release #%" PRId64 ") has a "
			    "row but %s\n", r->plan, r->step, r->release_seq,
			    l == NULL ? "no event records it" : "the log rolled it "
			    "back");
			bad++;
			continue;
		}
		l->seen = 1;
		lseq = release_seq_of(byname, nrel, l->release);
		if (lseq != r->release_seq) {
			buf_printf(problems, "ship %s/%s is in release #%" PRId64
			    " in its row but in %s (#%" PRId64 ") in the log (event "
			    "%" PRId64 ")\n", r->plan, r->step, r->release_seq,
			    l->release ? l->release : "?", lseq, l->event);
			bad++;
		} else if (l->failed != (r->status == SHIP_FAILED)) {
			buf_printf(problems, "ship %s/%s is %s in its row but %s in "
			    "the log (event %" PRId64 ")\n", r->plan, r->step,
			    r->status == SHIP_FAILED ? "failed" : "shipped",
			    l->failed ? "failed" : "shipped", l->event);
			bad++;
		} else if (l->forced != (r->forced != 0)) {
			buf_printf(problems, "ship %s/%s is %sforced in its row but "
			    "%sforced in the log (event %" PRId64 ")\n", r->plan,
			    r->step, r->forced ? "" : "not ", l->forced ? "" : "not ",
			    l->event);
			bad++;
		}
	}
	for (i = 0; i < nsh; i++) {
		if (sh[i].removed || sh[i].seen)
			continue;
		buf_printf(problems, "ship %s/%s %s in %s per the log (event %"
		    PRId64 ") but its row is missing\n", sh[i].plan, sh[i].step,
		    sh[i].failed ? "failed" : "shipped",
		    sh[i].release ? sh[i].release : "?", sh[i].event);
		bad++;
	}
	free(byname);
	free(rel);
	free(sh);
	free(se);
	return bad;
}
