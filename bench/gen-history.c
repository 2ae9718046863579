/*
 * Records many releases in a state file at once, for bench/gen-state.sh:
 * releases named rFIRST .. rLAST, each started and deployed with its
 * release.start and release.finish events, exactly as `excon release
 * start` and `excon release finish` record them (the same functions of
 * the state store, so the hash chain is excon's own and `excon log
 * --verify` passes), but in one transaction instead of two processes per
 * release.
 *
 *   gen-history STATE FIRST LAST
 */
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "state.h"
#include "xalloc.h"

/* Appends an event of kind for release name, as excon's commands do. */
static int
event(struct state *st, const char *kind, const char *name, struct buf *err)
{
	struct state_event ev = { 0 };
	int rc;

	ev.actor = state_actor();
	ev.kind = (char *)kind;
	ev.release = (char *)name;
	rc = state_event_append(st, &ev, err);
	free(ev.actor);
	return rc;
}

int
main(int argc, char **argv)
{
	struct state *st = NULL;
	struct buf err = BUF_INIT;
	long first, last, i;
	int rc = 1;

	if (argc != 4 || (first = atol(argv[2])) < 1 ||
	    (last = atol(argv[3])) < first) {
		fprintf(stderr, "usage: gen-history STATE FIRST LAST\n");
		return 2;
	}
	if (state_open(&st, argv[1], 0, &err) != 0 ||
	    state_begin(st, &err) != 0)
		goto done;
	for (i = first; i <= last; i++) {
		char *name = xasprintf("r%ld", i);
		int64_t seq = 0;
		int bad = state_release_add(st, name, NULL, &seq, &err) != 0 ||
		    event(st, "release.start", name, &err) != 0 ||
		    state_release_finish(st, seq, &err) != 0 ||
		    event(st, "release.finish", name, &err) != 0;

		free(name);
		if (bad)
			goto done;
	}
	if (state_commit(st, &err) != 0)
		goto done;
	rc = 0;
done:
	if (rc != 0)
		fprintf(stderr, "gen-history: %s\n", buf_cstr(&err));
	state_close(st);
	buf_free(&err);
	return rc;
}
