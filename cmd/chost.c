/*
 * chost - hypervisor hosts: the face.
 */
#include <stddef.h>

#include "cli.h"
#include "host.h"
#include "labels.h"
#include "compat.h"

static int
chost_add(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *const *kv;
	size_t n = args_list(a, "label", &kv);
	struct doc *labels = NULL, *out = NULL;

	if (args_count(a) != 2)
		return cerr_set(err, CERR_USAGE, "usage: chost add NAME URI "
		    "[--label KEY=VALUE]...");
	if (labels_from_args(kv, n, &labels, err) == 0 &&
	    host_add(ctx, args_pos(a, 0), args_pos(a, 1),
	    args_str(a, "migration-address"), labels, &out, err) == 0)
		cli_emit_free(ctx, out, err);
	doc_free(labels);
	return err->code;
}

static int
chost_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "list takes no arguments");
	return host_list(ctx, args_str(a, "state"), cli_emit, err);
}

static int
show_one(struct ctx *ctx, struct args *a, const char *ref, struct cerr *err)
{
	struct doc *out = NULL;

	if (host_show(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
chost_show(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Host", show_one, err);
}

static int
remove_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	if (host_remove(ctx, ref, err))
		return err->code;
	cli_remark(ctx, "removed host '%s'", ref);
	return 0;
}

static int
chost_remove(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Host", remove_one, err);
}

#define STATE_CMD(fn, state)					\
static int								\
fn##_one(struct ctx *ctx, struct args *a, const char *ref,		\
    struct cerr *err)							\
{									\
	struct doc *out = NULL;						\
									\
	if (host_set_state(ctx, ref, state, &out, err))			\
		return err->code;					\
	return cli_emit_result(ctx, out, err);				\
}									\
static int								\
fn(struct ctx *ctx, struct args *a, struct cerr *err)			\
{									\
	return cli_each_ref(ctx, a, "Host", fn##_one, err);		\
}

STATE_CMD(chost_enable, "enabled")
STATE_CMD(chost_disable, "disabled")

static void
note(struct ctx *ctx, const char *msg)
{
	cli_remark(ctx, "%s", msg);
}

static int
chost_drain(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) != 1)
		return cerr_set(err, CERR_USAGE, "usage: chost drain HOST");
	return host_drain(ctx, args_pos(a, 0), cli_emit, note, err);
}

static const struct opt add_opts[] = {
	{ "label", 'l', OPT_LIST, "KEY=VALUE", "attach a label to the host" },
	{ "migration-address", 0, OPT_STR, "ADDR", "where migrations to this host go (default: its hostname)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt list_opts[] = {
	{ "state", 's', OPT_STR, "STATE", "only hosts in STATE (enabled, disabled, error)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cmd chost_cmds[] = {
	{ "add", chost_add, add_opts, CMD_WRITE, "NAME URI [--label K=V]...",
	  "register a libvirt host, reading its capacity" },
	{ "list", chost_list, list_opts, CMD_READ, "[--state S]",
	  "list hosts with their capacity and use" },
	{ "show", chost_show, NULL, CMD_READ, "HOST...|-", "show hosts" },
	{ "enable", chost_enable, NULL, CMD_WRITE, "HOST...|-",
	  "let hosts take new VMs" },
	{ "disable", chost_disable, NULL, CMD_WRITE, "HOST...|-",
	  "take no new VMs on hosts; those on them stay" },
	{ "drain", chost_drain, NULL, CMD_WRITE, "HOST",
	  "disable a host and migrate its VMs away, live where running" },
	{ "remove", chost_remove, NULL, CMD_WRITE, "HOST...|-",
	  "forget hosts that no VM occupies" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static const struct prog chost = {
	.name = "chost",
	.summary = "chost manages hypervisor hosts, reached through libvirt "
	    "URIs.",
	.kind = "Host",
	.more = "Clusters, declared capacity, overcommit and monitoring "
	    "arrive with the VM\nlife cycle work.",
	.cmds = chost_cmds,
	.names = host_names,
};

int
main(int argc, char **argv)
{
	return cli_main(&chost, argc, argv);
}
