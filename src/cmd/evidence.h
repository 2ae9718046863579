/*
 * The command layer's side of rule 9: takes and records snapshots of
 * pg_stat_statements in the history, and gathers a plan's evidence of
 * use for the gate (advance, status, audit) and for `excon probe`.
 */
#ifndef EXCON_CMD_EVIDENCE_H
#define EXCON_CMD_EVIDENCE_H

#include <stdint.h>

#include "cmd.h"
#include "probe.h"

/* The event kind of a snapshot (the start of an evidence window). */
#define EVIDENCE_EVENT	"probe.snapshot"

/* A plan's evidence, ready for the gate.  Zeroed memory is empty. */
struct evidence {
	struct probe_result	 res;
	int64_t			 since;		/* the snapshot's time, 0 = none */
	struct buf		 lines;		/* one line per use */
	struct gate_evidence	 gate;		/* borrows from res and lines */
};

/*
 * 1 when p has a contract step that removes something the probe can look
 * for and whose window has started (every non-contract step shipped,
 * the contract not yet): the plans rule 9 is about now.
 */
int evidence_pending(const struct cmd_ctx *ctx, const struct state_history *h,
    const struct plan *p);

/*
 * Snapshots the database's pg_stat_statements and records it as an
 * EVIDENCE_EVENT of p (with reason, for `probe --restart`), in its own
 * write transaction; the state must not be in one.  When the statistics
 * cannot be read, records nothing and sets *missing (owned).  Returns 0
 * or -1 with err.
 */
int evidence_snapshot(struct cmd_ctx *ctx, const struct plan *p,
    const char *reason, char **missing, struct buf *err);

/*
 * Gathers p's evidence since its latest snapshot from the database into
 * e (free with evidence_free).  Without a snapshot every recorded call
 * counts, and res.reset says so.  Returns 0 or -1 with err.
 */
int evidence_gather(struct cmd_ctx *ctx, const struct plan *p,
    struct evidence *e, struct buf *err);

/*
 * What the evidence of many plans (status, audit, probe) reads once per
 * command: one connection to each server, its pg_stat_statements read
 * once and each statement parsed at most once for every plan, and the
 * snapshots of the history.  A server that cannot be read is tried once.
 * Owned by the caller: evidence_cache_new, evidence_cache_free (closes
 * the connections; NULL-safe).
 */
struct evidence_cache;
struct evidence_cache *evidence_cache_new(void);
void evidence_cache_free(struct evidence_cache *c);

/*
 * evidence_gather through c: the same evidence, with what c holds read
 * at most once.
 */
int evidence_gather_cached(struct cmd_ctx *ctx, struct evidence_cache *c,
    const struct plan *p, struct evidence *e, struct buf *err);

/* Frees what e owns (NULL-safe). */
void evidence_free(struct evidence *e);

#endif
