/*
 * ctx.h - core: what a command runs with: who acts, on which catalog,
 * printing where.  Built by cli_main, passed to every service call.
 */
#ifndef CLOUDOS_CTX_H
#define CLOUDOS_CTX_H

#include <stdbool.h>

struct catalog;
struct out;

/* The catalog user a command acts as. */
struct ident {
	long long user_id;
	char user[128];
	long long group_id;
	char group[128];
	bool admin;
};

struct ctx {
	const char *prog;	/* "cvm" */
	struct catalog *cat;	/* NULL for commands that need none */
	struct ident who;
	struct out *out;
	bool quiet;
};

#endif
