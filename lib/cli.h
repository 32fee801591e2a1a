/*
 * cli.h - face kit: what all nine programs share.
 *
 * A program is a table of subcommands, each with a table of options; those
 * tables are the only declaration of options: parsing, help, usage and
 * shell completion all come from them.  cli_main does the rest: global
 * options, "help [SUB]", "SUB --help", "--version", the hidden __complete,
 * opening the catalog as the command's flags say, identity, the output
 * stream, the one error line on stderr and the exit status.
 *
 * Help is at every level: "PROG help", "PROG --help", "PROG GROUP --help"
 * ("cvm snapshot"), "PROG SUB --help" print on stdout; a bare PROG or
 * GROUP prints the same list on stderr and exits 2 (no subcommand is a
 * usage error); an unknown subcommand exits 2 naming the nearest one.
 * -q is one rule: no document and no remark is printed, only errors.
 */
#ifndef CLOUDOS_CLI_H
#define CLOUDOS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "cerr.h"
#include "ctx.h"
#include "doc.h"

enum opt_type { OPT_BOOL, OPT_STR, OPT_LIST };

struct opt {
	const char *name;	/* long name, without "--" */
	char shrt;		/* short letter or 0 */
	enum opt_type type;
	const char *arg;	/* the value's name in help ("HOST") */
	const char *help;
};

struct args;

#define CMD_READ	0x01	/* reads the catalog only */
#define CMD_WRITE	0x02	/* may write the catalog */
#define CMD_NOCAT	0x04	/* needs no catalog */

struct cmd {
	const char *name;	/* "list", or two words: "user add" */
	int (*fn)(struct ctx *ctx, struct args *a, struct cerr *err);
	const struct opt *opts;
	unsigned flags;
	const char *usage;	/* the arguments part of the usage line */
	const char *help;	/* one line */
};

/* Another name for a subcommand: "add" for "create", "cluster remove" for
 * "cluster delete".  Shown in help, completed, parsed as the command. */
struct cmd_alias {
	const char *alias;
	const char *name;	/* the subcommand's name in cmds */
};

struct prog {
	const char *name;
	const char *summary;	/* one line: what the program owns */
	const char *kind;	/* the kind its "-" arguments name ("VM") */
	const char *more;	/* extra help text, or NULL */
	const struct cmd *cmds;
	const struct cmd_alias *aliases;	/* NULL, or ends with NULL */
	/* names of objects of kind starting with prefix, for completion */
	void (*names)(struct ctx *ctx, const char *prefix,
	    void (*each)(const char *name));
	/* optional: candidates for the value of option opt of subcommand
	 * cmd, or (opt NULL) for cmd's arguments; false lets the arguments
	 * complete as names of kind */
	bool (*complete)(struct ctx *ctx, const char *cmd, const char *opt,
	    const char *prefix, void (*each)(const char *name));
};

int cli_main(const struct prog *p, int argc, char **argv);

/* Option values: str is NULL when absent; list gives all values given. */
const char *args_str(struct args *a, const char *name);
bool args_bool(struct args *a, const char *name);
size_t args_list(struct args *a, const char *name, const char *const **out);
size_t args_count(struct args *a);
const char *args_pos(struct args *a, size_t i);

/* Print one document on stdout in the chosen format; nothing under -q. */
int cli_emit(struct ctx *ctx, const struct doc *d, struct cerr *err);
/* The same, then doc_free(d); d may be NULL (nothing printed). */
int cli_emit_free(struct ctx *ctx, struct doc *d, struct cerr *err);
/* The result of an action: the same as cli_emit_free (kept for the
 * faces that name what they print as a result). */
int cli_emit_result(struct ctx *ctx, struct doc *d, struct cerr *err);

/* A remark on stderr ("PROG: ..."), silenced by -q. */
void cli_remark(struct ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An error on stderr ("PROG: ..."), one line, never silenced: for the
 * failures of a batch that goes on. */
void cli_error(struct ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Read every document of FILE ("-" is stdin). */
int cli_read_docs(const char *file, struct doclist *out, struct cerr *err);

/*
 * Batches.  cli_each_ref calls fn once per object the positional arguments
 * name (ids or names), reading stdin for "-": documents, taking each one's
 * id (or name), or a bare list of ids or names one per line.  A document
 * of another kind is refused, except by a command named "... delete" or
 * "... remove", which prints it unchanged in its place for the next
 * program of a pipe.  cli_each_doc calls fn once per document of the
 * inputs given as positional arguments or -f.  Each failure is printed on
 * stderr as it happens; the result is 0, the one failure's code when only
 * one object was named (left in err, not printed), the common code when
 * all failed alike, or CERR_PARTIAL.
 *
 * A batch is atomic for bad input: cli_each_doc reads and parses every
 * input, then calls check (when not NULL) on every document, and only
 * when all pass calls fn on any.  check does what can be done with the
 * document alone (no catalog, no hypervisor); a bad document is printed
 * (with where it is) and nothing is done: the result is the code of the
 * one bad document, or CERR_USAGE when several are bad.  So only run-time
 * failures can make a batch partial.
 */
typedef int (*cli_ref_fn)(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err);
typedef int (*cli_doc_fn)(struct ctx *ctx, struct args *a,
    const struct doc *d, const char *where, int n, struct cerr *err);
/* A service's check of one document (where: "FILE: line N"), wrapping its
 * error with where; 0 or CERR_USAGE. */
typedef int (*cli_check_fn)(const struct doc *d, const char *where,
    struct cerr *err);
int cli_each_ref(struct ctx *ctx, struct args *a, const char *kind,
    cli_ref_fn fn, struct cerr *err);
/* With repeat > 0, fn is called repeat times per document, with n from 1
 * to repeat (n is 0 otherwise), each call one object of the batch. */
int cli_each_doc(struct ctx *ctx, struct args *a, int repeat,
    cli_check_fn check, cli_doc_fn fn, struct cerr *err);

/*
 * apply (CONTRACT.md): every document of the inputs goes, by its kind, to
 * the service that owns that kind, and what it makes is printed (unless
 * -q); documents of other kinds pass through to stdout unchanged, in
 * order, for the next program of a pipe (under -q too: they are the
 * next program's input, not this one's output).  A document without a
 * kind goes to routes[0] when kindless is true, and is refused otherwise.
 * routes ends with a NULL kind.  Every document of a routed kind is
 * checked by its route's check before any is applied (see cli_each_doc).
 */
typedef int (*cli_apply_fn)(struct ctx *ctx, const struct doc *d,
    const char *where, struct doc **out, struct cerr *err);
struct cli_route {
	const char *kind;
	cli_apply_fn fn;
	cli_check_fn check;	/* NULL: the document is not checked first */
};
int cli_apply(struct ctx *ctx, struct args *a, const struct cli_route *routes,
    bool kindless, struct cerr *err);

#endif
