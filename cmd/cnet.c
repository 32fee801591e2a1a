/*
 * cnet - virtual networks, leases and security groups: the face.
 * Options, the subcommand table and thin handlers over lib/secgroup.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "cli.h"
#include "secgroup.h"
#include "valid.h"
#include "compat.h"

/* ---- security groups ---------------------------------------------- */

static const struct opt sg_create_opts[] = {
	{ "description", 'd', OPT_STR, "TEXT", "what the group is for" },
	{ "visibility", 0, OPT_STR, "VIS", "private (default), group or "
	  "public: who may see and use it" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt sg_rule_opts[] = {
	{ "in", 0, OPT_BOOL, NULL, "traffic to the NIC" },
	{ "out", 0, OPT_BOOL, NULL, "traffic from the NIC" },
	{ "proto", 'p', OPT_STR, "PROTO", "tcp, udp, icmp or all" },
	{ "port", 0, OPT_STR, "P[-Q]", "a port or range (tcp and udp; "
	  "default: all)" },
	{ "cidr", 0, OPT_STR, "CIDR", "the peer: an IPv4 or IPv6 network "
	  "(default: any)" },
	{ "group", 'g', OPT_STR, "GROUP", "the peer: the NICs of a security "
	  "group" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt sg_apply_opts[] = {
	{ "file", 'f', OPT_STR, "FILE", "read documents from FILE (- for "
	  "stdin)" },
	{ NULL, 0, 0, NULL, NULL },
};

static int
cnet_sg_create(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (args_count(a) != 1)
		return cerr_set(err, CERR_USAGE, "usage: cnet secgroup create "
		    "NAME [--description TEXT] [--visibility VIS]");
	if (secgroup_create(ctx, args_pos(a, 0), args_str(a, "description"),
	    args_str(a, "visibility"), &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cnet_sg_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "secgroup list takes no "
		    "arguments");
	return secgroup_list(ctx, cli_emit, err);
}

static int
sg_show_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	struct doc *out = NULL;

	(void)a;
	if (secgroup_show(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cnet_sg_show(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "SecurityGroup", sg_show_one, err);
}

static int
sg_delete_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	(void)a;
	if (secgroup_delete(ctx, ref, err))
		return err->code;
	cli_remark(ctx, "deleted security group '%s'", ref);
	return 0;
}

static int
cnet_sg_delete(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "SecurityGroup", sg_delete_one, err);
}

#define SG_VIS_CMD(fn, vis)						\
static int								\
fn##_one(struct ctx *ctx, struct args *a, const char *ref,		\
    struct cerr *err)							\
{									\
	struct doc *out = NULL;						\
									\
	(void)a;							\
	if (secgroup_set_visibility(ctx, ref, vis, &out, err))		\
		return err->code;					\
	return cli_emit_result(ctx, out, err);				\
}									\
static int								\
fn(struct ctx *ctx, struct args *a, struct cerr *err)			\
{									\
	return cli_each_ref(ctx, a, "SecurityGroup", fn##_one, err);	\
}

SG_VIS_CMD(cnet_sg_publish, "public")
SG_VIS_CMD(cnet_sg_unpublish, "private")

/* The rule the options give; direction from --in or --out. */
static int
rule_from_args(struct args *a, struct secgroup_rule *r, struct cerr *err)
{
	bool in = args_bool(a, "in"), out = args_bool(a, "out");

	memset(r, 0, sizeof(*r));
	if (in == out)
		return cerr_set(err, CERR_USAGE, "give one of --in and --out");
	r->direction = in ? "in" : "out";
	r->proto = args_str(a, "proto");
	if (r->proto == NULL)
		return cerr_set(err, CERR_USAGE, "--proto is required (tcp, "
		    "udp, icmp or all)");
	r->port = args_str(a, "port");
	r->cidr = args_str(a, "cidr");
	r->group = args_str(a, "group");
	if (r->cidr && r->group)
		return cerr_set(err, CERR_USAGE, "give --cidr or --group, not "
		    "both");
	return 0;
}

/* The group's document after a rule change, printed even when some host
 * was left behind (the change is kept; the error follows). */
static int
rule_result(struct ctx *ctx, struct doc *out, struct cerr *err)
{
	struct cerr shown = { 0 };

	if (out)
		cli_emit_result(ctx, out, err->code ? &shown : err);
	return err->code;
}

static int
cnet_sg_rule_add(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct secgroup_rule r;
	struct doc *out = NULL;

	if (args_count(a) != 1)
		return cerr_set(err, CERR_USAGE, "usage: cnet secgroup rule add "
		    "GROUP --in|--out --proto PROTO [--port P[-Q]] "
		    "[--cidr CIDR | --group OTHER]");
	if (rule_from_args(a, &r, err))
		return err->code;
	secgroup_rule_add(ctx, args_pos(a, 0), &r, &out, err);
	return rule_result(ctx, out, err);
}

static int
cnet_sg_rule_remove(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct secgroup_rule r = { 0 };
	struct doc *out = NULL;
	long long id = 0;

	if (args_count(a) == 2) {
		if (!valid_id(args_pos(a, 1), &id) || id < 1)
			return cerr_set(err, CERR_USAGE, "rule: expected a "
			    "rule id, found '%s'", args_pos(a, 1));
		if (args_bool(a, "in") || args_bool(a, "out") ||
		    args_str(a, "proto") || args_str(a, "port") ||
		    args_str(a, "cidr") || args_str(a, "group"))
			return cerr_set(err, CERR_USAGE, "give a rule id or "
			    "the rule's options, not both");
	} else if (args_count(a) != 1) {
		return cerr_set(err, CERR_USAGE, "usage: cnet secgroup rule "
		    "remove GROUP RULE-ID | GROUP --in|--out --proto PROTO "
		    "[--port P[-Q]] [--cidr CIDR | --group OTHER]");
	} else if (rule_from_args(a, &r, err)) {
		return err->code;
	}
	secgroup_rule_remove(ctx, args_pos(a, 0), id, &r, &out, err);
	return rule_result(ctx, out, err);
}

static int
sg_refresh_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	(void)a;
	if (secgroup_sync(ctx, ref, err))
		return err->code;
	cli_remark(ctx, "refreshed the filters of security group '%s'", ref);
	return 0;
}

static int
cnet_sg_refresh(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "SecurityGroup", sg_refresh_one, err);
}

/* Routes of cnet apply: the lead merges the Network kind in here. */
static const struct cli_route cnet_routes[] = {
	{ "SecurityGroup", secgroup_apply },
	{ NULL, NULL },
};

static int
cnet_apply(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_apply(ctx, a, cnet_routes, false, err);
}

static const struct cmd cnet_cmds[] = {
	{ "secgroup create", cnet_sg_create, sg_create_opts, CMD_WRITE,
	  "NAME [--description TEXT] [--visibility private|group|public]",
	  "create a security group (no rules: its NICs take no traffic in)" },
	{ "secgroup list", cnet_sg_list, NULL, CMD_READ, "",
	  "list the security groups you may see" },
	{ "secgroup show", cnet_sg_show, NULL, CMD_READ, "GROUP...|-",
	  "show security groups with their rules and NICs" },
	{ "secgroup delete", cnet_sg_delete, NULL, CMD_WRITE, "GROUP...|-",
	  "delete security groups no NIC and no other group's rule uses" },
	{ "secgroup publish", cnet_sg_publish, NULL, CMD_WRITE,
	  "GROUP...|-", "let every user see and use security groups" },
	{ "secgroup unpublish", cnet_sg_unpublish, NULL, CMD_WRITE,
	  "GROUP...|-", "make security groups private again" },
	{ "secgroup rule add", cnet_sg_rule_add, sg_rule_opts, CMD_WRITE,
	  "GROUP --in|--out --proto PROTO [--port P[-Q]] [--cidr CIDR | "
	  "--group OTHER]",
	  "allow traffic; running guests get the rule at once" },
	{ "secgroup rule remove", cnet_sg_rule_remove, sg_rule_opts,
	  CMD_WRITE, "GROUP RULE-ID | GROUP --in|--out --proto PROTO "
	  "[--port P[-Q]] [--cidr CIDR | --group OTHER]",
	  "remove a rule, by id or by its options" },
	{ "secgroup refresh", cnet_sg_refresh, NULL, CMD_WRITE, "GROUP...|-",
	  "define the groups' filters again on every host with their NICs" },
	{ "apply", cnet_apply, sg_apply_opts, CMD_WRITE, "-f FILE|-",
	  "create or update SecurityGroup documents by name; pass others on" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static bool
cnet_complete(struct ctx *ctx, const char *cmd, const char *opt,
    const char *prefix, void (*each)(const char *))
{
	static const char *const protos[] = { "tcp", "udp", "icmp", "all" };
	static const char *const vis[] = { "private", "group", "public" };
	size_t i;

	if (opt && strcmp(opt, "proto") == 0) {
		for (i = 0; i < 4; i++)
			if (strncmp(protos[i], prefix, strlen(prefix)) == 0)
				each(protos[i]);
		return true;
	}
	if (opt && strcmp(opt, "visibility") == 0) {
		for (i = 0; i < 3; i++)
			if (strncmp(vis[i], prefix, strlen(prefix)) == 0)
				each(vis[i]);
		return true;
	}
	if ((opt && strcmp(opt, "group") == 0) ||
	    (opt == NULL && strncmp(cmd, "secgroup ", 9) == 0 &&
	    strcmp(cmd, "secgroup create") != 0 &&
	    strcmp(cmd, "secgroup list") != 0)) {
		secgroup_names(ctx, prefix, each);
		return true;
	}
	/* apply takes a file: let the shell complete it */
	return opt != NULL || strcmp(cmd, "apply") == 0;
}

static const struct prog cnet = {
	.name = "cnet",
	.summary = "cnet manages virtual networks, address ranges, leases and "
	    "security groups.",
	.kind = "SecurityGroup",
	.more = "A security group's rules become libvirt nwfilter rules on "
	    "each of its NICs\n(filters cloudos-sg-ID and cloudos-nic-ID on "
	    "their hosts).",
	.cmds = cnet_cmds,
	.names = secgroup_names,
	.complete = cnet_complete,
};

int
main(int argc, char **argv)
{
	return cli_main(&cnet, argc, argv);
}
