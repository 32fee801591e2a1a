/*
 * cnet - virtual networks, address ranges, leases and security groups: the
 * face.  Options, the subcommand table and thin handlers over lib/net and
 * lib/secgroup.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "net.h"
#include "secgroup.h"
#include "valid.h"
#include "compat.h"

static const struct opt create_opts[] = {
	{ "mode", 'm', OPT_STR, "MODE", "nat, routed, isolated or bridge" },
	{ "cidr", 0, OPT_LIST, "CIDR", "the IPv4 and/or IPv6 block (given "
	  "once per family)" },
	{ "bridge", 0, OPT_STR, "BR", "mode bridge: the host's bridge" },
	{ "vlan", 0, OPT_STR, "ID", "mode bridge: a VLAN tag (1 to 4094)" },
	{ "visibility", 0, OPT_STR, "V", "private (default), group or public" },
	{ "dns", 0, OPT_LIST, "IP", "a DNS server for the default ranges "
	  "(repeatable)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt set_opts[] = {
	{ "visibility", 0, OPT_STR, "V", "private, group or public" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt range_add_opts[] = {
	{ "first", 0, OPT_STR, "IP", "the range's first address" },
	{ "last", 0, OPT_STR, "IP", "the range's last address" },
	{ "gateway", 0, OPT_STR, "IP", "the range's gateway (default: the "
	  "network's)" },
	{ "dns", 0, OPT_LIST, "IP", "a DNS server (repeatable)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt config_opts[] = {
	{ "mac-prefix", 0, OPT_STR, "PREFIX", "the prefix of new MACs "
	  "(1 to 5 octets, such as 02:c1:0d)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt apply_opts[] = {
	{ "file", 'f', OPT_STR, "FILE", "read documents from FILE (- for "
	  "stdin)" },
	{ NULL, 0, 0, NULL, NULL },
};

static int
npos(struct args *a, size_t n, const char *usage, struct cerr *err)
{
	if (args_count(a) != n)
		return cerr_set(err, CERR_USAGE, "usage: cnet %s", usage);
	return 0;
}

static int
cnet_create(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct net_spec s = { 0 };
	const char *const *cidrs, *vlan = args_str(a, "vlan");
	struct doc *out = NULL;
	size_t n, i;

	if (npos(a, 1, "create NAME --mode MODE --cidr CIDR [--cidr CIDR6] "
	    "[--bridge BR] [--vlan ID]", err))
		return err->code;
	s.name = args_pos(a, 0);
	s.mode = args_str(a, "mode");
	s.bridge = args_str(a, "bridge");
	s.visibility = args_str(a, "visibility");
	s.ndns = args_list(a, "dns", &s.dns);
	if (vlan && (!valid_id(vlan, &s.vlan) || s.vlan < 1 ||
	    s.vlan > 4094))
		return cerr_set(err, CERR_USAGE, "invalid vlan '%s' (1 to "
		    "4094)", vlan);
	n = args_list(a, "cidr", &cidrs);
	for (i = 0; i < n; i++) {
		const char **slot = strchr(cidrs[i], ':') ? &s.cidr6 : &s.cidr;

		if (*slot)
			return cerr_set(err, CERR_USAGE, "--cidr: one IPv4 and "
			    "one IPv6 block at most");
		*slot = cidrs[i];
	}
	if (net_create(ctx, &s, &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cnet_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "list takes no arguments");
	return net_list(ctx, cli_emit, err);
}

static int
show_one(struct ctx *ctx, struct args *a, const char *ref, struct cerr *err)
{
	struct doc *out = NULL;

	(void)a;
	if (net_show(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cnet_show(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Network", show_one, err);
}

static int
delete_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	(void)a;
	if (net_delete(ctx, ref, err))
		return err->code;
	cli_remark(ctx, "deleted network '%s'", ref);
	return 0;
}

static int
cnet_delete(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Network", delete_one, err);
}

static int
cnet_set(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (npos(a, 1, "set NET --visibility V", err))
		return err->code;
	if (args_str(a, "visibility") == NULL)
		return cerr_set(err, CERR_USAGE, "set needs --visibility");
	if (net_set_visibility(ctx, args_pos(a, 0), args_str(a, "visibility"),
	    &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cnet_range_add(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *const *dns;
	size_t ndns = args_list(a, "dns", &dns);
	struct doc *out = NULL;

	if (npos(a, 1, "range add NET --first IP --last IP [--gateway IP] "
	    "[--dns IP]...", err) ||
	    net_range_add(ctx, args_pos(a, 0), args_str(a, "first"),
	    args_str(a, "last"), args_str(a, "gateway"), dns, ndns, &out,
	    err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cnet_range_remove(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (npos(a, 2, "range remove NET RANGE", err) ||
	    net_range_remove(ctx, args_pos(a, 0), args_pos(a, 1), &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cnet_reserve(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (npos(a, 2, "reserve NET IP", err) ||
	    net_reserve(ctx, args_pos(a, 0), args_pos(a, 1), &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cnet_release(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (npos(a, 2, "release NET IP", err) ||
	    net_release(ctx, args_pos(a, 0), args_pos(a, 1), err))
		return err->code;
	cli_remark(ctx, "released %s of network '%s'", args_pos(a, 1),
	    args_pos(a, 0));
	return 0;
}

static int
cnet_lease_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (npos(a, 1, "lease list NET", err))
		return err->code;
	return net_lease_list(ctx, args_pos(a, 0), cli_emit, err);
}

static int
cnet_config(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (npos(a, 0, "config [--mac-prefix PREFIX]", err) ||
	    net_config(ctx, args_str(a, "mac-prefix"), &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

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

static const struct cli_route cnet_routes[] = {
	{ "Network", net_apply, net_check },
	{ "SecurityGroup", secgroup_apply, secgroup_check },
	{ NULL, NULL, NULL },
};

static int
cnet_apply(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_apply(ctx, a, cnet_routes, false, err);
}

static const struct cmd cnet_cmds[] = {
	{ "create", cnet_create, create_opts, CMD_WRITE,
	  "NAME --mode MODE --cidr CIDR [--cidr CIDR6] [--bridge BR] "
	  "[--vlan ID] [--visibility V] [--dns IP]...",
	  "create a network with a default address range per CIDR" },
	{ "list", cnet_list, NULL, CMD_READ, "", "list the networks you may "
	  "use" },
	{ "show", cnet_show, NULL, CMD_READ, "NET...|-",
	  "show networks with their ranges, lease counts and hosts" },
	{ "delete", cnet_delete, NULL, CMD_WRITE, "NET...|-",
	  "delete networks that hold no lease" },
	{ "set", cnet_set, set_opts, CMD_WRITE, "NET --visibility V",
	  "share a network with your group or everyone, or make it private" },
	{ "range create", cnet_range_add, range_add_opts, CMD_WRITE,
	  "NET --first IP --last IP [--gateway IP] [--dns IP]...",
	  "add an address range to a network" },
	{ "range delete", cnet_range_remove, NULL, CMD_WRITE, "NET RANGE",
	  "remove a range (by id or first address) no NIC uses" },
	{ "reserve", cnet_reserve, NULL, CMD_WRITE, "NET IP",
	  "reserve an address so that no NIC gets it" },
	{ "release", cnet_release, NULL, CMD_WRITE, "NET IP",
	  "release a reserved address" },
	{ "lease list", cnet_lease_list, NULL, CMD_READ, "NET",
	  "list a network's leases: NICs' addresses and reservations" },
	{ "config", cnet_config, config_opts, CMD_WRITE, "[--mac-prefix P]",
	  "show cnet's settings, or set the MAC prefix (admins)" },
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
	{ "secgroup rule create", cnet_sg_rule_add, sg_rule_opts, CMD_WRITE,
	  "GROUP --in|--out --proto PROTO [--port P[-Q]] [--cidr CIDR | "
	  "--group OTHER]",
	  "allow traffic; running guests get the rule at once" },
	{ "secgroup rule delete", cnet_sg_rule_remove, sg_rule_opts,
	  CMD_WRITE, "GROUP RULE-ID | GROUP --in|--out --proto PROTO "
	  "[--port P[-Q]] [--cidr CIDR | --group OTHER]",
	  "remove a rule, by id or by its options" },
	{ "secgroup refresh", cnet_sg_refresh, NULL, CMD_WRITE, "GROUP...|-",
	  "define the groups' filters again on every host with their NICs" },
	{ "apply", cnet_apply, apply_opts, CMD_WRITE, "-f FILE|-",
	  "create or update Network and SecurityGroup documents by name; "
	  "pass others on" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

/* The old verbs of the create/delete pair, kept (cloudos(7)). */
static const struct cmd_alias cnet_aliases[] = {
	{ "range add", "range create" },
	{ "range remove", "range delete" },
	{ "secgroup rule add", "secgroup rule create" },
	{ "secgroup rule remove", "secgroup rule delete" },
	{ NULL, NULL },
};

/* Offer word when it starts with prefix. */
static void
some(void (*each)(const char *), const char *prefix, const char *word)
{
	if (strncmp(word, prefix, strlen(prefix)) == 0)
		each(word);
}

static bool
cnet_complete(struct ctx *ctx, const char *cmd, const char *opt,
    const char *prefix, void (*each)(const char *))
{
	if (opt && strcmp(opt, "proto") == 0) {
		some(each, prefix, "tcp");
		some(each, prefix, "udp");
		some(each, prefix, "icmp");
		some(each, prefix, "all");
		return true;
	}
	if ((opt && strcmp(opt, "group") == 0) ||
	    (opt == NULL && strncmp(cmd, "secgroup ", 9) == 0 &&
	    strcmp(cmd, "secgroup create") != 0 &&
	    strcmp(cmd, "secgroup list") != 0)) {
		secgroup_names(ctx, prefix, each);
		return true;
	}
	if (opt && strcmp(opt, "mode") == 0) {
		some(each, prefix, "nat");
		some(each, prefix, "routed");
		some(each, prefix, "isolated");
		some(each, prefix, "bridge");
		return true;
	}
	if (opt && strcmp(opt, "visibility") == 0) {
		some(each, prefix, "private");
		some(each, prefix, "group");
		some(each, prefix, "public");
		return true;
	}
	if (opt == NULL && (strcmp(cmd, "create") == 0 ||
	    strcmp(cmd, "config") == 0 || strcmp(cmd, "list") == 0 ||
	    strcmp(cmd, "secgroup create") == 0 ||
	    strcmp(cmd, "secgroup list") == 0))
		return true;
	return opt != NULL;
}

static const struct prog cnet = {
	.name = "cnet",
	.summary = "cnet manages virtual networks, address ranges, leases and "
	    "security groups.",
	.kind = "Network",
	.more = "A network is the libvirt network cloudos-net-ID on each host "
	    "with a NIC on it;\nNET arguments are ids or names.  A security "
	    "group's rules become libvirt\nnwfilter rules on each of its NICs "
	    "(filters cloudos-sg-ID and cloudos-nic-ID).",
	.cmds = cnet_cmds,
	.aliases = cnet_aliases,
	.names = net_names,
	.complete = cnet_complete,
};

int
main(int argc, char **argv)
{
	return cli_main(&cnet, argc, argv);
}
