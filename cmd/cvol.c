/*
 * cvol - datastores and volumes: the face.  Options, the subcommand table
 * and thin handlers over lib/vol.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "cli.h"
#include "host.h"
#include "units.h"
#include "vm.h"
#include "vol.h"
#include "compat.h"

static const struct opt ds_add_opts[] = {
	{ "path", 0, OPT_STR, "DIR", "the pool's folder on each host" },
	{ "host", 0, OPT_LIST, "HOST", "a host to put it on (repeatable; "
	  "default: every enabled host)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt create_opts[] = {
	{ "size", 's', OPT_STR, "SIZE", "the volume's size (512MiB, 2GiB)" },
	{ "datastore", 'd', OPT_STR, "DS", "the datastore (default: the "
	  "first)" },
	{ "host", 0, OPT_STR, "HOST", "the host (default: the datastore's "
	  "host with most room)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt resize_opts[] = {
	{ "size", 's', OPT_STR, "SIZE", "the new, larger size" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt attach_opts[] = {
	{ "bus", 0, OPT_STR, "BUS", "scsi (default) or virtio" },
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
		return cerr_set(err, CERR_USAGE, "usage: cvol %s", usage);
	return 0;
}

static int
size_opt(struct args *a, long long *mib, struct cerr *err)
{
	const char *s = args_str(a, "size");

	if (s == NULL)
		return cerr_set(err, CERR_USAGE, "--size is required");
	return units_parse_mib(s, mib, err);
}

static int
cvol_ds_add(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *const *hosts;
	size_t n = args_list(a, "host", &hosts);
	struct doc *out = NULL;

	if (npos(a, 1, "datastore add NAME [--path DIR] [--host H]...", err) ||
	    vol_ds_add(ctx, args_pos(a, 0), args_str(a, "path"), hosts, n,
	    &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvol_ds_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "datastore list takes no "
		    "arguments");
	return vol_ds_list(ctx, cli_emit, err);
}

static int
ds_show_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	struct doc *out = NULL;

	(void)a;
	if (vol_ds_show(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cvol_ds_show(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Datastore", ds_show_one, err);
}

static int
ds_remove_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	(void)a;
	if (vol_ds_remove(ctx, ref, err))
		return err->code;
	cli_remark(ctx, "removed datastore '%s'", ref);
	return 0;
}

static int
cvol_ds_remove(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Datastore", ds_remove_one, err);
}

static int
cvol_create(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;
	long long size;

	if (npos(a, 1, "create NAME --size SIZE [--datastore D] [--host H]",
	    err) || size_opt(a, &size, err) ||
	    vol_create(ctx, args_pos(a, 0), size, args_str(a, "datastore"),
	    args_str(a, "host"), &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvol_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "list takes no arguments");
	return vol_list(ctx, cli_emit, err);
}

static int
show_one(struct ctx *ctx, struct args *a, const char *ref, struct cerr *err)
{
	struct doc *out = NULL;

	(void)a;
	if (vol_show(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cvol_show(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Volume", show_one, err);
}

static int
cvol_resize(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;
	long long size;

	if (npos(a, 1, "resize VOL --size SIZE", err) ||
	    size_opt(a, &size, err) ||
	    vol_resize(ctx, args_pos(a, 0), size, &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvol_clone(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (npos(a, 2, "clone VOL NAME", err) ||
	    vol_clone(ctx, args_pos(a, 0), args_pos(a, 1), &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvol_snapshot(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (npos(a, 2, "snapshot VOL NAME", err) ||
	    vol_snapshot(ctx, args_pos(a, 0), args_pos(a, 1), &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
delete_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	(void)a;
	if (vol_delete(ctx, ref, err))
		return err->code;
	cli_remark(ctx, "deleted volume '%s'", ref);
	return 0;
}

static int
cvol_delete(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Volume", delete_one, err);
}

static int
cvol_attach(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (npos(a, 2, "attach VOL VM [--bus scsi|virtio]", err) ||
	    vol_attach(ctx, args_pos(a, 0), args_pos(a, 1), args_str(a, "bus"),
	    &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvol_detach(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (npos(a, 1, "detach VOL", err) ||
	    vol_detach(ctx, args_pos(a, 0), &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static const struct cli_route cvol_routes[] = {
	{ "Datastore", vol_ds_apply, vol_ds_check },
	{ "Volume", vol_apply, vol_check },
	{ NULL, NULL, NULL },
};

static int
cvol_apply(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_apply(ctx, a, cvol_routes, false, err);
}

static const struct cmd cvol_cmds[] = {
	{ "datastore create", cvol_ds_add, ds_add_opts, CMD_WRITE,
	  "NAME [--path DIR] [--host HOST]...",
	  "add a datastore: a libvirt dir pool on each of its hosts" },
	{ "datastore list", cvol_ds_list, NULL, CMD_READ, "",
	  "list datastores" },
	{ "datastore show", cvol_ds_show, NULL, CMD_READ, "DS...|-",
	  "show datastores with each host's capacity and free space" },
	{ "datastore delete", cvol_ds_remove, NULL, CMD_WRITE, "DS...|-",
	  "remove datastores that hold no volume, undefining their pools" },
	{ "create", cvol_create, create_opts, CMD_WRITE,
	  "NAME --size SIZE [--datastore DS] [--host HOST]",
	  "create a blank qcow2 volume" },
	{ "list", cvol_list, NULL, CMD_READ, "", "list volumes" },
	{ "show", cvol_show, NULL, CMD_READ, "VOL...|-", "show volumes" },
	{ "resize", cvol_resize, resize_opts, CMD_WRITE, "VOL --size SIZE",
	  "grow a volume" },
	{ "clone", cvol_clone, NULL, CMD_WRITE, "VOL NAME",
	  "copy a volume on its host" },
	{ "snapshot", cvol_snapshot, NULL, CMD_WRITE, "VOL NAME",
	  "make a linked child of a volume (qcow2 backing file)" },
	{ "delete", cvol_delete, NULL, CMD_WRITE, "VOL...|-",
	  "delete volumes that are not attached" },
	{ "attach", cvol_attach, attach_opts, CMD_WRITE,
	  "VOL VM [--bus scsi|virtio]", "attach a volume to a VM on its host" },
	{ "detach", cvol_detach, NULL, CMD_WRITE, "VOL",
	  "detach a volume from its VM" },
	{ "apply", cvol_apply, apply_opts, CMD_WRITE, "-f FILE|-",
	  "create or grow Datastore and Volume documents by name; pass others "
	  "on" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

/* The old verbs of the create/delete pair, kept (cloudos(7)). */
static const struct cmd_alias cvol_aliases[] = {
	{ "datastore add", "datastore create" },
	{ "datastore remove", "datastore delete" },
	{ NULL, NULL },
};

static bool
cvol_complete(struct ctx *ctx, const char *cmd, const char *opt,
    const char *prefix, void (*each)(const char *))
{
	if (opt && strcmp(opt, "datastore") == 0) {
		vol_ds_names(ctx, prefix, each);
		return true;
	}
	if (opt && strcmp(opt, "host") == 0) {
		host_names(ctx, prefix, each);
		return true;
	}
	if (opt && strcmp(opt, "bus") == 0) {
		each("scsi");
		each("virtio");
		return true;
	}
	if (opt == NULL && strncmp(cmd, "datastore ", 10) == 0) {
		if (strcmp(cmd, "datastore create") != 0 &&
		    strcmp(cmd, "datastore list") != 0)
			vol_ds_names(ctx, prefix, each);
		return true;
	}
	return opt != NULL;
}

static const struct prog cvol = {
	.name = "cvol",
	.summary = "cvol manages datastores (libvirt storage pools) and "
	    "volumes.",
	.kind = "Volume",
	.more = "A datastore is a libvirt dir pool cloudos-ds-NAME on each of "
	    "its hosts;\na volume is a qcow2 file in it on one host.",
	.cmds = cvol_cmds,
	.aliases = cvol_aliases,
	.names = vol_names,
	.complete = cvol_complete,
};

int
main(int argc, char **argv)
{
	return cli_main(&cvol, argc, argv);
}
