/*
 * chost - hypervisor hosts: the face.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster.h"
#include "host.h"
#include "labels.h"
#include "scheduler.h"
#include "compat.h"

/* The capacity options shared by add and set, as host_spec_option names
 * them. */
static const char *const capacity_opts[] = {
	"cpu", "memory", "disk", "reserved-cpu", "reserved-memory",
	"cpu-ratio", "memory-ratio",
};

static int
spec_from_args(struct args *a, struct host_spec *spec, struct cerr *err)
{
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(capacity_opts) / sizeof(*capacity_opts); i++)
		if ((v = args_str(a, capacity_opts[i])) &&
		    host_spec_option(spec, capacity_opts[i], v, err))
			return err->code;
	if (args_str(a, "cluster") && args_bool(a, "no-cluster"))
		return cerr_set(err, CERR_USAGE, "--cluster and --no-cluster "
		    "exclude each other");
	if ((v = args_str(a, "cluster")) || args_bool(a, "no-cluster")) {
		spec->set |= HS_CLUSTER;
		spec->cluster = v;
	}
	if ((v = args_str(a, "migration-address"))) {
		spec->set |= HS_ADDRESS;
		spec->address = v;
	}
	return 0;
}

static int
chost_add(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *const *kv;
	size_t n = args_list(a, "label", &kv);
	struct doc *labels = NULL, *out = NULL;
	struct host_spec spec = { 0 };

	if (args_count(a) != 2)
		return cerr_set(err, CERR_USAGE, "usage: chost add NAME URI "
		    "[--label KEY=VALUE]...");
	if (labels_from_args(kv, n, &labels, err) == 0 &&
	    spec_from_args(a, &spec, err) == 0) {
		spec.set |= HS_LABELS;
		spec.labels = labels;
		if (host_add(ctx, args_pos(a, 0), args_pos(a, 1), &spec, &out,
		    err) == 0)
			cli_emit_free(ctx, out, err);
	}
	doc_free(labels);
	return err->code;
}

static int
set_one(struct ctx *ctx, struct args *a, const char *ref, struct cerr *err)
{
	struct host_spec spec = { 0 };
	struct doc *out = NULL;

	if (spec_from_args(a, &spec, err))
		return err->code;
	if (spec.set == 0)
		return cerr_set(err, CERR_USAGE, "nothing to set (see 'chost "
		    "set --help')");
	if (host_update(ctx, ref, &spec, &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
chost_set(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct host_spec spec = { 0 };

	/* bad options fail once, before any host is named */
	if (spec_from_args(a, &spec, err))
		return err->code;
	return cli_each_ref(ctx, a, "Host", set_one, err);
}

static const struct cli_route chost_routes[] = {
	{ "Host", host_apply, host_check },
	{ "Cluster", cluster_apply, cluster_check },
	{ NULL, NULL, NULL },
};

static int
chost_apply(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_apply(ctx, a, chost_routes, false, err);
}

static void
note_error(struct ctx *ctx, const char *msg)
{
	cli_error(ctx, "%s", msg);
}

static int
chost_monitor(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *t = args_str(a, "timeout");
	const char **refs;
	double secs = 10;
	char *end;
	size_t i, n = args_count(a);
	int rc;

	if (t) {
		secs = strtod(t, &end);
		if (*t < '0' || *t > '9' || *end || !(secs > 0) ||
		    secs > 3600)
			return cerr_set(err, CERR_USAGE, "--timeout: expected "
			    "seconds above 0 and at most 3600, found '%s'", t);
	}
	refs = calloc(n + 1, sizeof(*refs));
	if (refs == NULL)
		return cerr_set(err, CERR_FAIL, "out of memory");
	for (i = 0; i < n; i++)
		refs[i] = args_pos(a, i);
	rc = host_monitor(ctx, refs, n, (long)(secs * 1000), cli_emit,
	    note_error, err);
	free(refs);
	return rc;
}

static int
chost_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "list takes no arguments");
	return host_list(ctx, args_str(a, "state"), args_str(a, "cluster"),
	    cli_emit, err);
}

static int
chost_cluster_add(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (args_count(a) != 1)
		return cerr_set(err, CERR_USAGE, "usage: chost cluster add "
		    "NAME");
	if (cluster_add(ctx, args_pos(a, 0), &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
chost_cluster_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "cluster list takes no "
		    "arguments");
	return cluster_list(ctx, cli_emit, err);
}

static int
cluster_show_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	struct doc *out = NULL;

	if (cluster_show(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
chost_cluster_show(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Cluster", cluster_show_one, err);
}

static int
cluster_remove_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	if (cluster_remove(ctx, ref, err))
		return err->code;
	cli_remark(ctx, "removed cluster '%s'", ref);
	return 0;
}

static int
chost_cluster_remove(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "Cluster", cluster_remove_one, err);
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

#define CAPACITY_OPTS \
	{ "cpu", 0, OPT_STR, "N", "declare N CPUs, overriding what the hypervisor reports ('auto': use that)" }, \
	{ "memory", 0, OPT_STR, "SIZE", "declare the memory (e.g. 64GiB; 'auto': as reported)" }, \
	{ "disk", 0, OPT_STR, "SIZE", "declare the disk for VMs ('auto': unknown)" }, \
	{ "reserved-cpu", 0, OPT_STR, "N", "CPUs kept from VMs (for the host itself)" }, \
	{ "reserved-memory", 0, OPT_STR, "SIZE", "memory kept from VMs" }, \
	{ "cpu-ratio", 0, OPT_STR, "X", "CPU overcommit ratio (above 0; 1 is none)" }, \
	{ "memory-ratio", 0, OPT_STR, "X", "memory overcommit ratio (above 0; 1 is none)" }, \
	{ "migration-address", 0, OPT_STR, "ADDR", "where migrations to this host go (default: its hostname)" }

static const struct opt add_opts[] = {
	{ "label", 'l', OPT_LIST, "KEY=VALUE", "attach a label to the host" },
	{ "cluster", 0, OPT_STR, "CLUSTER", "put the host in this cluster" },
	CAPACITY_OPTS,
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt set_opts[] = {
	{ "cluster", 0, OPT_STR, "CLUSTER", "move the hosts to this cluster" },
	{ "no-cluster", 0, OPT_BOOL, NULL, "take the hosts out of their cluster" },
	CAPACITY_OPTS,
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt list_opts[] = {
	{ "state", 's', OPT_STR, "STATE", "only hosts in STATE (enabled, disabled, error)" },
	{ "cluster", 0, OPT_STR, "CLUSTER", "only hosts in this cluster" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt apply_opts[] = {
	{ "file", 'f', OPT_STR, "FILE", "read documents from FILE (- for stdin)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt monitor_opts[] = {
	{ "timeout", 't', OPT_STR, "SECONDS", "stop waiting for hosts after this long (default 10)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cmd chost_cmds[] = {
	{ "create", chost_add, add_opts, CMD_WRITE,
	  "NAME URI [--cluster C] [--label K=V]... [--cpu N] [--memory SIZE] ...",
	  "register a libvirt host, reading its capacity" },
	{ "list", chost_list, list_opts, CMD_READ, "[--state S] [--cluster C]",
	  "list hosts with their capacity and use" },
	{ "show", chost_show, NULL, CMD_READ, "HOST...|-", "show hosts" },
	{ "set", chost_set, set_opts, CMD_WRITE,
	  "HOST...|- [--cluster C|--no-cluster] [--cpu N] [--cpu-ratio X] ...",
	  "change hosts' cluster, declared capacity, reservations, ratios" },
	{ "apply", chost_apply, apply_opts, CMD_WRITE, "-f FILE|-",
	  "create or update Host and Cluster documents by name; pass others on" },
	{ "monitor", chost_monitor, monitor_opts, CMD_WRITE,
	  "[HOST...] [--timeout S]",
	  "poll hosts at once: capacity, load, free memory, VM usage" },
	{ "enable", chost_enable, NULL, CMD_WRITE, "HOST...|-",
	  "let hosts take new VMs" },
	{ "disable", chost_disable, NULL, CMD_WRITE, "HOST...|-",
	  "take no new VMs on hosts; those on them stay" },
	{ "drain", chost_drain, NULL, CMD_WRITE, "HOST",
	  "disable a host and migrate its VMs away, live where running" },
	{ "delete", chost_remove, NULL, CMD_WRITE, "HOST...|-",
	  "forget hosts that no VM occupies" },
	{ "cluster create", chost_cluster_add, NULL, CMD_WRITE, "NAME",
	  "create a cluster" },
	{ "cluster list", chost_cluster_list, NULL, CMD_READ, "",
	  "list clusters with their hosts' capacity" },
	{ "cluster show", chost_cluster_show, NULL, CMD_READ, "CLUSTER...|-",
	  "show clusters" },
	{ "cluster delete", chost_cluster_remove, NULL, CMD_WRITE,
	  "CLUSTER...|-", "remove clusters that no host is in" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

/* The old verbs of the create/delete pair, kept (cloudos(7)). */
static const struct cmd_alias chost_aliases[] = {
	{ "add", "create" },
	{ "remove", "delete" },
	{ "cluster add", "cluster create" },
	{ "cluster remove", "cluster delete" },
	{ NULL, NULL },
};

/* Cluster names where a subcommand or option takes a cluster. */
static bool
chost_complete(struct ctx *ctx, const char *cmd, const char *opt,
    const char *prefix, void (*each)(const char *))
{
	if ((opt && strcmp(opt, "cluster") == 0) || (opt == NULL &&
	    strncmp(cmd, "cluster ", 8) == 0)) {
		if (strcmp(cmd, "cluster create") != 0)
			cluster_names(ctx, prefix, each);
		return true;
	}
	return opt != NULL;
}

static const struct prog chost = {
	.name = "chost",
	.summary = "chost manages hypervisor hosts, reached through libvirt "
	    "URIs.",
	.kind = "Host",
	.more = "A host offers VMs its declared (or reported) capacity, less "
	    "reservations,\ntimes the overcommit ratios.",
	.cmds = chost_cmds,
	.aliases = chost_aliases,
	.names = host_names,
	.complete = chost_complete,
};

int
main(int argc, char **argv)
{
	return cli_main(&chost, argc, argv);
}
