/*
 * expr.h - engine: requirement and rank expressions (CONTRACT.md, "Hosts
 * and placement").  Pure: no I/O, no allocation while evaluating.
 *
 *   expr     := or
 *   or       := and ( "||" and )*
 *   and      := not ( "&&" not )*
 *   not      := "!" not | cmp
 *   cmp      := sum ( ( "==" | "!=" | "<" | "<=" | ">" | ">=" | "=~" ) sum )?
 *   sum      := atom            (no arithmetic; kept for growth)
 *   atom     := NUMBER [UNIT] | STRING | ATTR | "(" expr ")" | "true" | "false"
 *   ATTR     := name | cluster | hypervisor | cpu | memory | free_cpu |
 *               free_memory | free_disk | load | running_vms | labels.KEY
 *   UNIT     := KiB MiB GiB TiB K M G T (sizes become MiB, as memory is)
 *   STRING   := "..." with \" and \\ escapes
 *
 * Values are numbers, strings or booleans.  == and != compare like with
 * like (a number with a string is unequal); < <= > >= take numbers; =~
 * matches a string against a glob (* ? [...]).  A label the host lacks is
 * a missing value: every comparison with it is false except !=.  A rank
 * is the expression's number (a boolean counts 1 or 0; anything else 0).
 *
 * Labels are strings, but a label compared with a number (or used as a
 * rank) reads as one when all of it does ("8", "-1.5", "2GiB", "1e3");
 * one that does not is missing there.  Comparisons whose types are wrong
 * whatever the host (name < 3, cpu =~ "x", name == 3, ! cpu) are refused
 * by expr_compile, at the operator's column.
 *
 * Errors are CERR_USAGE "column N: ..." (1-based, counting bytes of src).
 */
#ifndef CLOUDOS_EXPR_H
#define CLOUDOS_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "cerr.h"

/* Limits, so a hostile document cannot make compiling slow or deep. */
#define EXPR_MAX_SOURCE 4096		/* bytes */
#define EXPR_MAX_DEPTH 64		/* nested parentheses and ! */

/* What an expression reads of a host. */
struct expr_host {
	const char *name;
	const char *cluster;		/* "" when none */
	const char *hypervisor;
	double cpu, memory;		/* effective capacity (vCPUs, MiB) */
	double free_cpu, free_memory, free_disk;
	double load;			/* percent busy; < 0 when unknown */
	double running_vms;
	/* labels, sorted by key (strcmp) so lookups can bisect */
	const char *const *label_keys;
	const char *const *label_values;
	size_t nlabels;
};

struct expr;

/* Compile src; *out is the caller's to expr_free.  Returns 0, or
 * CERR_USAGE with "column N: ..." (then *out is untouched). */
int expr_compile(const char *src, struct expr **out, struct cerr *err);
void expr_free(struct expr *e);
/* The source it was compiled from. */
const char *expr_source(const struct expr *e);
/* Whether the expression reads only name, cluster, hypervisor, cpu,
 * memory and labels (nothing that placing a VM changes): then its value
 * for a host can be computed once per pass. */
bool expr_static(const struct expr *e);
/* Whether the expression's value is a boolean, as a requirement's should
 * be (callers may refuse requirements that are not). */
bool expr_boolean(const struct expr *e);
/* A requirement: true when the host passes, that is when expr_rank is not
 * 0 (a boolean true, a number other than 0).  Allocates nothing; NULL
 * name, cluster or hypervisor read as "", a NULL label value as missing;
 * label_keys may be NULL when nlabels is 0. */
bool expr_test(const struct expr *e, const struct expr_host *h);
/* A rank: higher wins. */
double expr_rank(const struct expr *e, const struct expr_host *h);

#endif
