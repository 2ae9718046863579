/*
 * The gate rules of SPEC section 5, as pure functions: they read a plan,
 * the recorded history and a target release, and return a decision with
 * its reasons.  No I/O.  status, advance, check, audit and compat all ask
 * these functions, so they can never disagree.
 */
#ifndef EXCON_GATE_H
#define EXCON_GATE_H

#include <stdint.h>

#include "buf.h"
#include "plan.h"
#include "state.h"

enum gate_rule {
	GATE_OK = 0,
	GATE_ORDER = 1,
	GATE_RELEASE = 2,
	GATE_GAP = 3,
	GATE_WINDOW = 4,
	GATE_DEPS = 5,
	GATE_IMMUTABLE = 6,
	GATE_VERIFY = 7,
	GATE_HALF = 8,
	GATE_EVIDENCE = 9,
};

/* The `probe:` setting, for rule 9. */
enum gate_probe {
	GATE_PROBE_OFF,
	GATE_PROBE_ADVISORY,	/* warn in res->warn, never refuse */
	GATE_PROBE_REQUIRED,	/* refuse without evidence of disuse */
};

/*
 * Rule 9's evidence for one plan, gathered by the command layer (which
 * reads pg_stat_statements and the catalog) and passed in, so that the
 * rule itself stays pure.  Strings are borrowed.
 */
struct gate_evidence {
	const char	*plan;		/* the plan it was gathered for */
	int		 gathered;	/* 0: could not be gathered; see missing */
	const char	*missing;	/* what is missing and how to enable it */
	size_t		 nuses;		/* statements and catalog objects using it */
	const char	*uses;		/* one line per use, each ending in '\n' */
};

struct gate_ctx {
	const struct plan_set		*plans;		/* for depends_on */
	const struct state_history	*hist;
	int				 default_contract_after;
	enum gate_probe			 probe;
	const struct gate_evidence	*evidence;	/* rule 9, or NULL */
	size_t				 nevidence;
};

/* What of a plan has shipped, step by step. */
struct gate_progress {
	const struct state_ship	**ships;	/* per step index, NULL = not shipped */
	size_t			 nsteps;
	int			 next;		/* first step not done, -1 when all done */
	int			 failed;	/* index of a half-done step, or -1 */
	const struct state_ship	*stray;		/* a shipped row no step matches */
};

struct gate_result {
	int		 allowed;
	enum gate_rule	 rule;		/* the first refusing rule, GATE_OK if allowed */
	int		 forced;	/* allowed only because force passed rules 3-5 */
	int64_t		 from_seq;	/* first release number where it passes; 0 = n/a */
	struct buf	 why;		/* refusal (or overridden rule) text */
	struct buf	 warn;		/* rule 9 under probe: advisory, or "" */
	int		 forced_evidence; /* force passed rule 9 (said in why) */
};

/* Fills pr (free with gate_progress_free) from the history of plan p. */
void gate_progress_load(const struct gate_ctx *ctx, const struct plan *p,
    struct gate_progress *pr);
void gate_progress_free(struct gate_progress *pr);

/* The release with sequence seq, or NULL (borrowed). */
const struct state_release *gate_release(const struct state_history *h,
    int64_t seq);
/* The release called name, or NULL (borrowed). */
const struct state_release *gate_release_named(const struct state_history *h,
    const char *name);
/* The newest release, or NULL. */
const struct state_release *gate_newest(const struct state_history *h);
/* The contract_after in force for p. */
int gate_contract_after(const struct gate_ctx *ctx, const struct plan *p);
/* The effective min_releases of step idx of p (stop_old_writes knows triggers). */
int gate_min_releases(const struct plan *p, size_t idx);

/*
 * 1 when step idx of p is the first contract step, the one rule 9 asks
 * evidence of disuse for.
 */
int gate_first_contract(const struct plan *p, size_t idx);

/*
 * Decides whether step idx of p may ship in release seq.  With force, rules
 * 3-5 and 9 are passed and reported in res->why with res->forced set.  res must
 * be initialised with gate_result_init and freed with gate_result_free.
 */
void gate_step(const struct gate_ctx *ctx, const struct plan *p, size_t idx,
    int64_t seq, int force, struct gate_result *res);
void gate_result_init(struct gate_result *res);
void gate_result_free(struct gate_result *res);

/* Why a step may not be rolled back. */
enum gate_undo_rule {
	GATE_UNDO_OK = 0,
	GATE_UNDO_CONTRACT,	/* a contract step removed data or schema */
	GATE_UNDO_NO_DOWN,	/* its shipping ran SQL and it has no `down` */
};

/* The answer of gate_rollback. */
struct gate_undo {
	int			 allowed;
	enum gate_undo_rule	 rule;
	const char		*hint;	/* short reason, e.g. "a contract step" */
	struct buf		 why;	/* the refusal the user reads */
};

/*
 * The step `excon rollback` undoes: the newest step of p with a ship row
 * (shipped, or failed part way), or -1 when none.
 */
int gate_rollback_target(const struct gate_ctx *ctx, const struct plan *p);

/*
 * Decides whether step idx of p may be rolled back: never a contract step,
 * and a step whose shipping ran SQL (runs_sql, see exec_step_runs_sql) only
 * when it has `down` or is a dual_write (excon drops its trigger).  res must
 * be initialised with gate_undo_init and freed with gate_undo_free.
 */
void gate_rollback(const struct gate_ctx *ctx, const struct plan *p, size_t idx,
    int runs_sql, struct gate_undo *res);
void gate_undo_init(struct gate_undo *res);
void gate_undo_free(struct gate_undo *res);

/*
 * Rule 6 for one plan: shipped steps unchanged, not removed, not moved.
 * Appends one line per violation to out; returns the number found.
 */
int gate_immutable(const struct gate_ctx *ctx, const struct plan *p,
    struct buf *out);

/* The contract window of a plan, for audit. */
struct gate_window {
	int		 contract;	/* index of the first contract step, -1 none */
	int		 last_nc;	/* index of the last non-contract step */
	int64_t		 last_nc_seq;	/* its release, 0 when not shipped */
	int		 required;	/* contract_after */
	int64_t		 passed;	/* releases since, counted to the newest */
	int64_t		 from_seq;	/* first release where the window is open */
	int		 open;		/* passed >= required */
	int		 shipped;	/* the contract step already shipped */
};
void gate_window(const struct gate_ctx *ctx, const struct plan *p,
    struct gate_window *w);

/*
 * Whether the code of release seq still works with step idx of p, which
 * shipped after it.  Returns 1 and a reason in why when the step breaks it.
 */
int gate_breaks(const struct gate_ctx *ctx, const struct plan *p, size_t idx,
    int64_t seq, struct buf *why);

#endif
