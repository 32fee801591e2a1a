/*
 * cli-int.h - face kit: what the files of the cli family share (cli.c,
 * cli-help.c).  Only lib/cli*.c include it.
 */
#ifndef CLOUDOS_CLI_INT_H
#define CLOUDOS_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"

struct optval {
	const struct opt *opt;
	bool set;
	const char *str;
	const char **list;
	size_t nlist, caplist;
};

struct args {
	struct optval vals[64];
	size_t nvals;
	const char **pos;
	size_t npos, cappos;
	const struct cmd *cmd;	/* the subcommand running */
};

extern const struct opt cli_global_opts[];
extern const char *cli_progname;

void cli_die_usage(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* cli-help.c: the subcommand tables read */
/* The subcommand words w[0..n-1] name (*words of them), or NULL. */
const struct cmd *cli_help_find_cmd(const struct prog *p,
    const char *const *w, int n, int *words);
/* How many of w[0..n-1] name a group of subcommands, or 0. */
int cli_help_group_words(const struct prog *p, const char *const *w, int n);
/* An unknown subcommand: its line, with the nearest when close; exit 2. */
void cli_help_die_unknown(const struct prog *p, const char *const *w,
    int k) __attribute__((noreturn));
void cli_help_prog(const struct prog *p, FILE *fp);
void cli_help_group(const struct prog *p, const char *const *w, int n,
    FILE *fp);
void cli_help_cmd(const struct prog *p, const struct cmd *c, FILE *fp);
/* The help subcommand (help [SUB...]): print the help it asks for. */
int cli_help_builtin(const struct prog *p, struct args *a);
/* The hidden __complete: the words that may come next. */
void cli_help_complete(const struct prog *p, int n, char **w);

#endif
