/*
 * cvm - virtual machines: the face.  Options, subcommands, printing.
 */
#include <stddef.h>

#include "cli.h"
#include "vm.h"
#include "compat.h"

static int
create_one(struct ctx *ctx, struct args *a, const struct doc *d,
    const char *where, struct cerr *err)
{
	struct doc *out = NULL;

	if (vm_create(ctx, d, where, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cvm_create(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_doc(ctx, a, create_one, err);
}

static int
cvm_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct vm_filter f = {
		.state = args_str(a, "state"),
		.host = args_str(a, "host"),
		.name = args_str(a, "name"),
		.all = args_bool(a, "all"),
	};

	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "list takes no arguments "
		    "(filter with --state, --host, --name)");
	return vm_list(ctx, &f, cli_emit, err);
}

static int
show_one(struct ctx *ctx, struct args *a, const char *ref, struct cerr *err)
{
	struct doc *out = NULL;

	if (vm_show(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cvm_show(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "VM", show_one, err);
}

/* The life-cycle actions print the VM as it is afterwards, unless -q. */
#define ACTION(fn, svc)							\
static int								\
fn##_one(struct ctx *ctx, struct args *a, const char *ref,		\
    struct cerr *err)							\
{									\
	struct doc *out = NULL;						\
									\
	if (svc(ctx, ref, &out, err))					\
		return err->code;					\
	if (ctx->quiet) {						\
		doc_free(out);						\
		return 0;						\
	}								\
	return cli_emit_free(ctx, out, err);				\
}									\
static int								\
fn(struct ctx *ctx, struct args *a, struct cerr *err)			\
{									\
	return cli_each_ref(ctx, a, "VM", fn##_one, err);		\
}

ACTION(cvm_start, vm_start)
ACTION(cvm_poweroff, vm_poweroff)
ACTION(cvm_delete, vm_delete)

static const struct opt create_opts[] = {
	{ "file", 'f', OPT_STR, "FILE", "read VM documents from FILE (- for stdin)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt list_opts[] = {
	{ "state", 's', OPT_STR, "STATE", "only VMs in STATE" },
	{ "host", 0, OPT_STR, "HOST", "only VMs on HOST (name or id)" },
	{ "name", 'n', OPT_STR, "GLOB", "only VMs whose name matches GLOB" },
	{ "all", 'a', OPT_BOOL, NULL, "include deleted (done) VMs" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cmd cvm_cmds[] = {
	{ "create", cvm_create, create_opts, CMD_WRITE, "FILE...|-|-f FILE",
	  "create VMs from documents, place and start them" },
	{ "list", cvm_list, list_opts, CMD_READ,
	  "[--state S] [--host H] [--name GLOB] [--all]", "list VMs" },
	{ "show", cvm_show, NULL, CMD_READ, "VM...|-", "show VMs" },
	{ "start", cvm_start, NULL, CMD_WRITE, "VM...|-",
	  "power on VMs that are off" },
	{ "poweroff", cvm_poweroff, NULL, CMD_WRITE, "VM...|-",
	  "power off VMs at once (no guest shutdown), keeping their host" },
	{ "delete", cvm_delete, NULL, CMD_WRITE, "VM...|-",
	  "delete VMs from their host; the record stays as done" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static const struct prog cvm = {
	.name = "cvm",
	.summary = "cvm manages virtual machines: their documents, placement "
	    "and life cycle.",
	.kind = "VM",
	.more = "VM arguments are ids, UUIDs or names; - reads VM documents "
	    "from stdin,\nso 'cvm list -o json | cvm delete -' works.",
	.cmds = cvm_cmds,
	.names = vm_names,
};

int
main(int argc, char **argv)
{
	return cli_main(&cvm, argc, argv);
}
