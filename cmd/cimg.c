/*
 * cimg - the image repository: the face.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "img.h"
#include "labels.h"
#include "progress.h"
#include "units.h"
#include "valid.h"
#include "xalloc.h"
#include "compat.h"

/* what cimg wait waits by default, in seconds (as cvm wait) */
#define CIMG_WAIT_TIMEOUT 30

static void
spec_from_args(struct args *a, struct img_spec *spec)
{
	spec->name = args_str(a, "name");
	spec->description = args_str(a, "description");
	spec->os = args_str(a, "os");
	spec->arch = args_str(a, "arch");
}

static int
cimg_import(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct img_spec spec = { 0 };
	struct doclist more = { 0 };
	struct doc *out = NULL;
	const char *t;
	char *end;
	size_t i;
	int rc;

	if (args_count(a) != 1)
		return cerr_set(err, CERR_USAGE, "usage: cimg import FILE|URL "
		    "--name NAME [--sha256 HEX]");
	spec_from_args(a, &spec);
	spec.sha256 = args_str(a, "sha256");
	if ((t = args_str(a, "timeout"))) {
		spec.stall_timeout = strtol(t, &end, 10);
		if (*t < '0' || *t > '9' || *end || spec.stall_timeout < 1 ||
		    spec.stall_timeout > 86400)
			return cerr_set(err, CERR_USAGE, "--timeout: expected "
			    "seconds from 1 to 86400, found '%s'", t);
	}
	if ((t = args_str(a, "max-size")) && (units_parse_mib(t,
	    &spec.max_size, err) || (spec.max_size < 1 && cerr_set(err,
	    CERR_USAGE, "invalid size '%s'", t))))
		return cerr_wrap(err, "--max-size");
	spec.more = &more;
	rc = img_import(ctx, args_pos(a, 0), &spec, progress_bytes, &out,
	    err);
	progress_end(ctx);
	if (rc == 0 && cli_emit_result(ctx, out, err) == 0)
		for (i = 0; i < more.n; i++) {
			if (cli_emit_result(ctx, more.v[i], err))
				break;
			more.v[i] = NULL;
		}
	doclist_release(&more);
	return err->code;
}

static int
cimg_clone(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;
	const char *name = args_str(a, "name");

	if (args_count(a) != (name ? 1 : 2))
		return cerr_set(err, CERR_USAGE, "usage: cimg clone IMAGE NEW "
		    "(or IMAGE --name NEW)");
	if (img_clone(ctx, args_pos(a, 0), name ? name : args_pos(a, 1),
	    &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cimg_export(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *file = args_str(a, "file");

	if (args_count(a) != 1)
		return cerr_set(err, CERR_USAGE, "usage: cimg export IMAGE "
		    "[-f FILE] (or > FILE)");
	if (img_export(ctx, args_pos(a, 0), file, err))
		return err->code;
	if (file)
		cli_remark(ctx, "exported image '%s' to '%s'", args_pos(a, 0),
		    file);
	return 0;
}

static int
cimg_config(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "usage: cimg config "
		    "[--reserve SIZE|N%%|default] [--max-size SIZE|none]");
	if (img_config(ctx, args_str(a, "reserve"), args_str(a, "max-size"),
	    &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cimg_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "list takes no arguments");
	return img_list(ctx, cli_emit, err);
}

static int
show_one(struct ctx *ctx, struct args *a, const char *ref, struct cerr *err)
{
	struct doc *out = NULL;

	if (img_show(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cimg_show(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Image", show_one, err);
}

/* cimg wait: the images named are gathered first, then waited for
 * together. */
static const char **wait_refs;
static size_t wait_nrefs, wait_cap;

static int
wait_gather(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	xgrow(&wait_refs, &wait_cap, wait_nrefs + 1, sizeof(*wait_refs));
	wait_refs[wait_nrefs++] = xstrdup(ref);
	return 0;
}

static int
wait_emit(struct ctx *ctx, const struct doc *d, struct cerr *err)
{
	return ctx->quiet ? 0 : cli_emit(ctx, d, err);
}

static int
cimg_wait(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *st = args_str(a, "state"), *t = args_str(a, "timeout");
	long long secs = CIMG_WAIT_TIMEOUT;
	size_t i;

	if (st == NULL)
		return cerr_set(err, CERR_USAGE, "wait needs --state");
	if (t && (!valid_id(t, &secs) || secs > 86400))
		return cerr_set(err, CERR_USAGE, "invalid timeout '%s' (whole "
		    "seconds, 0 to 86400)", t);
	if (cli_each_ref(ctx, a, "Image", wait_gather, err) == 0)
		img_wait(ctx, wait_refs, wait_nrefs, st, (int)secs, wait_emit,
		    err);
	for (i = 0; i < wait_nrefs; i++)
		free((char *)wait_refs[i]);
	free(wait_refs);
	return err->code;
}

static int
set_one(struct ctx *ctx, struct args *a, const char *ref, struct cerr *err)
{
	const char *const *kv;
	size_t n = args_list(a, "label", &kv);
	struct img_spec spec = { 0 };
	struct doc *labels = NULL, *out = NULL;

	const char *cpu = args_str(a, "cpu"), *mem = args_str(a, "memory");
	char *end;

	spec_from_args(a, &spec);
	if (cpu) {
		spec.cpu = strtoll(cpu, &end, 10);
		if (*cpu < '1' || *cpu > '9' || *end || spec.cpu > VM_MAX_CPU)
			return cerr_set(err, CERR_USAGE, "--cpu: expected 1 to "
			    "%d vCPUs, found '%s'", VM_MAX_CPU, cpu);
	}
	if (mem && units_parse_mib(mem, &spec.memory, err))
		return cerr_wrap(err, "--memory");
	if (mem && spec.memory < 1)
		return cerr_set(err, CERR_USAGE, "--memory: expected a size "
		    "of at least 1 MiB, found '%s'", mem);
	if (n > 0 && labels_from_args(kv, n, &labels, err))
		return err->code;
	spec.labels = labels;
	spec.merge_labels = 1;
	if (spec.name == NULL && spec.description == NULL && spec.os == NULL &&
	    spec.arch == NULL && labels == NULL && cpu == NULL && mem == NULL)
		cerr_set(err, CERR_USAGE, "nothing to set (see 'cimg set "
		    "--help')");
	else if (img_update(ctx, ref, &spec, &out, err) == 0)
		cli_emit_result(ctx, out, err);
	doc_free(labels);
	return err->code;
}

static int
cimg_set(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_str(a, "name") && args_count(a) > 1)
		return cerr_set(err, CERR_USAGE, "--name renames one image, "
		    "not %zu", args_count(a));
	return cli_each_ref(ctx, a, "Image", set_one, err);
}

static int
delete_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	if (img_delete(ctx, ref, err))
		return err->code;
	cli_remark(ctx, "deleted image '%s'", ref);
	return 0;
}

static int
cimg_delete(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Image", delete_one, err);
}

#define VIS_CMD(fn, vis)						\
static int								\
fn##_one(struct ctx *ctx, struct args *a, const char *ref,		\
    struct cerr *err)							\
{									\
	struct doc *out = NULL;						\
									\
	if (img_set_visibility(ctx, ref, vis, &out, err))		\
		return err->code;					\
	return cli_emit_result(ctx, out, err);				\
}									\
static int								\
fn(struct ctx *ctx, struct args *a, struct cerr *err)			\
{									\
	return cli_each_ref(ctx, a, "Image", fn##_one, err);		\
}

VIS_CMD(cimg_publish, "public")
VIS_CMD(cimg_unpublish, "private")

static const struct cli_route cimg_routes[] = {
	{ "Image", img_apply, img_check },
	{ NULL, NULL, NULL },
};

static int
cimg_apply(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_apply(ctx, a, cimg_routes, false, err);
}

static const struct opt import_opts[] = {
	{ "name", 'n', OPT_STR, "NAME", "the image's name (required)" },
	{ "sha256", 0, OPT_STR, "HEX", "compute and record the sha256; refuse the file unless it is HEX" },
	{ "description", 'd', OPT_STR, "TEXT", "what the image holds" },
	{ "os", 0, OPT_STR, "OS", "the guest operating system" },
	{ "arch", 0, OPT_STR, "ARCH", "the guest architecture (x86_64, aarch64, ...)" },
	{ "timeout", 't', OPT_STR, "SECONDS", "give up on a URL that sends nothing for this long (default 60)" },
	{ "max-size", 0, OPT_STR, "SIZE", "refuse, or stop the download of, an image larger than SIZE" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt config_opts[] = {
	{ "reserve", 0, OPT_STR, "SIZE|N%", "free space imports leave on the repository's file system (default: 5%, at most 1GiB)" },
	{ "max-size", 0, OPT_STR, "SIZE", "the largest image an import takes (none: no limit)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt set_opts[] = {
	{ "name", 'n', OPT_STR, "NAME", "rename the image" },
	{ "description", 'd', OPT_STR, "TEXT", "what the image holds" },
	{ "os", 0, OPT_STR, "OS", "the guest operating system" },
	{ "arch", 0, OPT_STR, "ARCH", "the guest architecture" },
	{ "label", 'l', OPT_LIST, "KEY=VALUE", "add or change a label" },
	{ "cpu", 0, OPT_STR, "N", "the vCPUs the image suggests for its VMs" },
	{ "memory", 'm', OPT_STR, "SIZE", "the memory the image suggests (512MiB, 2GiB)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt clone_opts[] = {
	{ "name", 'n', OPT_STR, "NEW", "the copy's name (instead of NEW)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt export_opts[] = {
	{ "file", 'f', OPT_STR, "FILE", "write the OVA to FILE, not standard output" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt apply_opts[] = {
	{ "file", 'f', OPT_STR, "FILE", "read documents from FILE (- for stdin)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt wait_opts[] = {
	{ "state", 's', OPT_STR, "STATE", "the state to wait for: locked, ready, used or error" },
	{ "timeout", 't', OPT_STR, "SECONDS", "give up after SECONDS (default 30; 0 looks once)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cmd cimg_cmds[] = {
	{ "import", cimg_import, import_opts, CMD_WRITE,
	  "FILE|URL --name NAME [--sha256 HEX] [--description D] [--os OS] "
	  "[--arch ARCH] [--timeout S] [--max-size SIZE]",
	  "copy a disk image or an OVA (a file, or an http(s) URL) into "
	  "the repository, checking it" },
	{ "clone", cimg_clone, clone_opts, CMD_WRITE, "IMAGE NEW|--name NEW",
	  "copy an image to a new, independent one" },
	{ "export", cimg_export, export_opts, CMD_READ, "IMAGE [-f FILE]",
	  "write an image as an OVA (OVF, manifest, streamOptimized vmdk)" },
	{ "config", cimg_config, config_opts, CMD_WRITE,
	  "[--reserve SIZE|N%] [--max-size SIZE|none]",
	  "show the repository's limits, or set them (admins)" },
	{ "list", cimg_list, NULL, CMD_READ, "", "list the images you may see" },
	{ "show", cimg_show, NULL, CMD_READ, "IMAGE...|-", "show images" },
	{ "set", cimg_set, set_opts, CMD_WRITE,
	  "IMAGE...|- [--name N] [--description D] [--os OS] [--arch A] "
	  "[--label K=V]... [--cpu N] [--memory SIZE]",
	  "change images' name, description, os, arch, labels, suggested "
	  "size" },
	{ "wait", cimg_wait, wait_opts, CMD_READ,
	  "IMAGE...|- --state STATE [--timeout SECONDS]",
	  "wait until images are in a state, such as ready after an import" },
	{ "publish", cimg_publish, NULL, CMD_WRITE, "IMAGE...|-",
	  "let every user see and use images" },
	{ "unpublish", cimg_unpublish, NULL, CMD_WRITE, "IMAGE...|-",
	  "make images private again" },
	{ "delete", cimg_delete, NULL, CMD_WRITE, "IMAGE...|-",
	  "delete images no VM uses, with their files" },
	{ "apply", cimg_apply, apply_opts, CMD_WRITE, "-f FILE|-",
	  "update Image documents by name, importing new ones from their "
	  "source; pass others on" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

static bool
cimg_complete(struct ctx *ctx, const char *cmd, const char *opt,
    const char *prefix, void (*each)(const char *))
{
	static const char *const states[] = { "locked", "ready", "used",
	    "error" };
	size_t i;

	if (opt && strcmp(opt, "state") == 0) {
		for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			if (strncmp(states[i], prefix, strlen(prefix)) == 0)
				each(states[i]);
		return true;
	}
	/* import takes a file: let the shell complete it */
	return opt != NULL || strcmp(cmd, "import") == 0 ||
	    strcmp(cmd, "config") == 0;
}

static const struct prog cimg = {
	.name = "cimg",
	.summary = "cimg manages the image repository.",
	.kind = "Image",
	.more = "Images are files kept beside the catalog, in its images "
	    "folder; their format\nis read from their header, never from "
	    "their name.",
	.cmds = cimg_cmds,
	.names = img_names,
	.complete = cimg_complete,
};

int
main(int argc, char **argv)
{
	return cli_main(&cimg, argc, argv);
}
