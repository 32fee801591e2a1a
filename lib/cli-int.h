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

extern const struct opt global_opts[];
extern const char *progname;

void die_usage(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* cli-help.c */
void complete(const struct prog *p, int n, char **w);
const struct cmd *find_cmd(const struct prog *p, const char *const *w, int n, int *words);
int group_words(const struct prog *p, const char *const *w, int n);
void die_unknown(const struct prog *p, const char *const *w, int k) __attribute__((noreturn));
void help_group(const struct prog *p, const char *const *w, int n, FILE *fp);
int builtin_help(const struct prog *p, struct args *a);
void help_cmd(const struct prog *p, const struct cmd *c, FILE *fp);
void help_prog(const struct prog *p, FILE *fp);

#endif
