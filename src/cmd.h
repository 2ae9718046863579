/*
 * The command layer: one struct cmd_entry per command (src/cmd/cmd-*.c),
 * collected in the table of cmd.c.  Only this layer prints and chooses exit
 * codes.  Options are declared as arrays and parsed in one place
 * (cmd_parse); usage text is generated from the same arrays.
 */
#ifndef EXCON_CMD_H
#define EXCON_CMD_H

#include <stdio.h>

#include "buf.h"
#include "config.h"
#include "gate.h"
#include "plan.h"
#include "state.h"

/* Exit codes of every command (SPEC section 4). */
enum {
	EXCON_EXIT_OK = 0,
	EXCON_EXIT_RUNTIME = 1,		/* database, file system */
	EXCON_EXIT_USAGE = 2,		/* bad flag, bad input, unknown name */
	EXCON_EXIT_REFUSED = 3,		/* a gate refused; compat unsafe */
	EXCON_EXIT_PROBLEMS = 4,	/* lint, check, verify, audit --fail-on */
	EXCON_EXIT_INTERRUPTED = 130,	/* Ctrl-C: stopped cleanly, resumable */
};

enum cmd_format {
	FORMAT_TEXT,
	FORMAT_JSON,
	FORMAT_GITHUB,
	FORMAT_GITLAB,
	FORMAT_JUNIT,
	FORMAT_SARIF,
	FORMAT_MARKDOWN,
	FORMAT_HTML,		/* audit only */
};

enum opt_type {
	OPT_BOOL,
	OPT_STR,
	OPT_LIST,	/* repeatable; values collected in order */
};

struct cmd_opt {
	const char	*name;		/* long name without dashes */
	enum opt_type	 type;
	const char	*arg;		/* placeholder in usage, e.g. "STEP" */
	const char	*help;
};

/* Command flags: which of the shared options apply. */
#define CMD_REPORTS	0x01	/* --format text|json */
#define CMD_CHANGES	0x02	/* --dry-run */
#define CMD_DB		0x04	/* --db */
#define CMD_GITHUB	0x08	/* --format github, gitlab, junit, sarif, markdown too */
#define CMD_ANNOTATE	0x10	/* --format github too: refusals become annotations */
#define CMD_HTML	0x20	/* --format html too (audit) */

struct cmd_ctx;

struct cmd_entry {
	const char		*name;
	const char		*args;		/* synopsis after the name */
	const char		*summary;	/* one line */
	const struct cmd_opt	*opts;		/* NULL-name terminated, or NULL */
	unsigned		 flags;
	int			 min_args;
	int			 max_args;	/* -1 = any */
	int			 (*exec)(struct cmd_ctx *ctx);
	/* Prints more usage text after the options (may be NULL). */
	void			 (*more)(FILE *f);
};

#define CMD_MAX_OPTS 24

struct cmd_ctx {
	const struct cmd_entry	*entry;
	struct config		 cfg;
	enum cmd_format		 format;
	int			 dry_run;
	int			 color;		/* stdout is a colour terminal */
	char			**args;		/* positional arguments */
	int			 nargs;
	const char		*val[CMD_MAX_OPTS];	/* per entry->opts index */
	char			**list[CMD_MAX_OPTS];	/* OPT_LIST values, NULL-terminated */
	struct plan_set		 plans;
	struct plan_diags	 diags;
	int			 plans_loaded;
	/*
	 * 1 when only some plans were loaded (cmd_load_plan): cmd_history
	 * then reads only their ships.
	 */
	int			 plans_some;
	struct state		*st;
};

extern const struct cmd_entry *const cmd_table[];

/* Runs excon with argv; returns the exit code. */
int cmd_main(int argc, char **argv);
/*
 * Parses argv (after argv[0]) into ctx: the command, its options and
 * arguments; the global --config, --state, --plans and --db values go to
 * flags_out[0..3].  Returns -1 after printing a message on a usage error,
 * 1 when --help was given, else 0 (cmd-opt.c).
 */
int cmd_parse(struct cmd_ctx *ctx, int argc, char **argv,
    const char **flags_out);
/* Prints usage of e (or of excon when NULL) to f. */
void cmd_usage(FILE *f, const struct cmd_entry *e);

/* The value of option name (NULL when absent; "1" for a given bool). */
const char *cmd_opt(const struct cmd_ctx *ctx, const char *name);
/* The values of a repeatable option (NULL-terminated, may be NULL). */
char **cmd_opt_list(const struct cmd_ctx *ctx, const char *name);

/* Prints "excon: <message>" to stderr; returns code. */
int cmd_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Loads every plan; prints file:line:col diagnostics on failure and
 * returns EXCON_EXIT_USAGE, else 0.  With lax set, plans that loaded are
 * kept and diagnostics are left in ctx->diags for the caller (lint, check).
 */
int cmd_load_plans(struct cmd_ctx *ctx, int lax);
/*
 * Like cmd_load_plans(ctx, 0), but ctx->plans then holds only the plan
 * called name and the plans it depends on (when it exists), for a command
 * about that plan alone; every plan file is still checked.
 */
int cmd_load_plan(struct cmd_ctx *ctx, const char *name);
/*
 * Loads every plan and the whole history (as cmd_load_plans(ctx, 0) and
 * cmd_history(ctx, h, 0)), reading both at once; h is the caller's.
 */
int cmd_load_plans_history(struct cmd_ctx *ctx, struct state_history *h);
/*
 * Opens the store; returns an exit code.  Only `excon init` sets create;
 * without it a missing store is a usage error (exit 2, cmd_no_history).
 */
int cmd_open_state(struct cmd_ctx *ctx, int create);
/* 1 when the configured store exists. */
int cmd_have_state(const struct cmd_ctx *ctx);
/* Says that there is no history where the config points; returns 2. */
int cmd_no_history(const struct cmd_ctx *ctx);
/* 1 when `state:` names a PostgreSQL store (URI, conninfo or "database"). */
int cmd_store_is_pg(const struct cmd_ctx *ctx);
/* Where the history lives, quoted, never with a password (owned). */
char *cmd_store_where(const struct cmd_ctx *ctx);
/* The same for a `state:` value loc (a path, URI, conninfo or "database"). */
char *cmd_loc_where(const struct cmd_ctx *ctx, const char *loc);
/*
 * Opens the store at loc into *out (owned by the caller); with create a
 * missing one is created, without it a missing one exits 2 naming loc.
 * Returns an exit code, having printed the message.
 */
int cmd_store_open(struct cmd_ctx *ctx, const char *loc, int create,
    struct state **out);
/* Prints one diagnostic as file:line:col: message. */
void cmd_print_diag(FILE *f, const struct plan_diag *d);
/* 1 when a database is configured (flag, env, file, or PG* variables). */
int cmd_have_db(const struct cmd_ctx *ctx);
/* The conninfo to use ("" = libpq defaults). */
const char *cmd_conninfo(const struct cmd_ctx *ctx);
/* Writes buf to stdout. */
void cmd_out(const struct buf *b);
/*
 * Writes b to stdout and empties it once it holds 64 KiB or more, so that
 * long output streams through one reused buffer instead of growing it.
 */
void cmd_out_chunk(struct buf *b);
/*
 * The options command e accepts, as its usage lists them: its own, the
 * shared ones its flags give, then the global ones (borrowed).  Fills v
 * with at most max; returns the count.
 */
int cmd_opts_all(const struct cmd_entry *e, const struct cmd_opt **v, int max);
/* The --format values e accepts, space separated (static; "" for none). */
const char *cmd_format_names(const struct cmd_entry *e);
/*
 * Writes the findings f of command (borrowed, like units: the files or
 * plans examined) in one of the CI formats of ctx->format to stdout; with
 * --format github also appends the Markdown summary to the file named by
 * $GITHUB_STEP_SUMMARY when it is set.  Returns an exit code (0, or 1
 * when the summary cannot be written).
 */
struct findings;
int cmd_report(const struct cmd_ctx *ctx, const char *command,
    const struct findings *f, const char *const *units, size_t nunits);



/*
 * Loads the history.  With write set, starts a write transaction first, so
 * the caller decides on fresh data.  A missing store is never created here:
 * it exits 2 naming where it looked.  Returns an exit code.
 */
int cmd_history(struct cmd_ctx *ctx, struct state_history *h, int write);
/* Fills g to ask the gate rules about ctx's plans and the history h. */
void cmd_gate(const struct cmd_ctx *ctx, const struct state_history *h,
    struct gate_ctx *g);
/* Appends an event with the current actor; returns 0 or -1 with err. */
int cmd_event(struct cmd_ctx *ctx, const char *kind, const char *plan,
    const char *step, const char *release, const char *detail,
    const char *reason, struct buf *err);
#endif
