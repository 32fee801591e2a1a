/*
 * cacct - users, groups, quotas, accounting: the face.
 */
#include <stddef.h>

#include "acct.h"
#include "cli.h"
#include "compat.h"

static int
cacct_user_add(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (args_count(a) != 1)
		return cerr_set(err, CERR_USAGE, "usage: cacct user add NAME "
		    "[--uid UID] [--group GROUP] [--admin]");
	if (acct_user_add(ctx, args_pos(a, 0), args_str(a, "uid"),
	    args_str(a, "group"), args_bool(a, "admin"), &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cacct_user_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "list takes no arguments");
	return acct_user_list(ctx, cli_emit, err);
}

static const struct opt user_add_opts[] = {
	{ "uid", 'u', OPT_STR, "UID", "the Unix uid that acts as this user" },
	{ "group", 'g', OPT_STR, "GROUP", "the user's group (default users)" },
	{ "admin", 0, OPT_BOOL, NULL, "make the user an admin" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cmd cacct_cmds[] = {
	{ "user create", cacct_user_add, user_add_opts, CMD_WRITE,
	  "NAME [--uid UID] [--group GROUP] [--admin]",
	  "add a catalog user, mapped to a Unix uid" },
	{ "user list", cacct_user_list, NULL, CMD_READ, "",
	  "list catalog users (all for admins, yourself otherwise)" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

/* The old verbs of the create/delete pair, kept (cloudos(7)). */
static const struct cmd_alias cacct_aliases[] = {
	{ "user add", "user create" },
	{ NULL, NULL },
};

static const struct prog cacct = {
	.name = "cacct",
	.summary = "cacct manages users, groups, roles, quotas, tokens, usage "
	    "accounting,\nshowback and the audit log.",
	.kind = "User",
	.more = "Built so far: users (identity).  Groups, roles, quotas, "
	    "tokens, usage, showback\nand the audit log command arrive with "
	    "their own issue.",
	.cmds = cacct_cmds,
	.aliases = cacct_aliases,
};

int
main(int argc, char **argv)
{
	return cli_main(&cacct, argc, argv);
}
