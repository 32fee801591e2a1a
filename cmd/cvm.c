/*
 * cvm - virtual machines: the face.  Options, subcommands, printing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "net.h"
#include "out.h"
#include "units.h"
#include "valid.h"
#include "vm.h"
#include "xalloc.h"
#include "compat.h"

#define CVM_MAX_COUNT 100000
/* what cvm wait waits by default, in seconds (kubectl wait's 30 s) */
#define CVM_WAIT_TIMEOUT 30
/* how often cvm list --watch looks, in seconds (watch(1)'s 2 s) */
#define CVM_WATCH_INTERVAL 2

/* The options of create and of the actions, from the command line. */
static int
vm_opts_from_args(struct args *a, struct vm_opts *o, struct cerr *err)
{
	const char *t = args_str(a, "timeout");
	long long v;

	memset(o, 0, sizeof(*o));
	o->hold = args_bool(a, "hold");
	o->queue = args_bool(a, "queue");
	if (o->hold && o->queue)
		return cerr_set(err, CERR_USAGE, "--hold and --queue do not "
		    "go together");
	o->hard = args_bool(a, "hard");
	if (t) {
		if (!valid_id(t, &v) || v < 1 || v > 86400)
			return cerr_set(err, CERR_USAGE, "invalid timeout "
			    "'%s' (whole seconds, 1 to 86400)", t);
		o->timeout = (int)v;
	}
	return 0;
}

static int
create_one(struct ctx *ctx, struct args *a, const struct doc *d,
    const char *where, int n, struct cerr *err)
{
	struct doc *out = NULL;
	struct vm_opts o;
	char name[256];
	const char *base = doc_get_str(d, "name");

	if (vm_opts_from_args(a, &o, err))
		return err->code;
	if (n > 0 && base) {
		/* --count: NAME-1 .. NAME-N */
		snprintf(name, sizeof(name), "%s-%d", base, n);
		o.name = name;
	}
	if (vm_create(ctx, d, where, &o, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cvm_create(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *count = args_str(a, "count");
	long long n = 0;
	struct vm_opts o;

	if (vm_opts_from_args(a, &o, err))
		return err->code;
	if (count && (!valid_id(count, &n) || n < 1 || n > CVM_MAX_COUNT))
		return cerr_set(err, CERR_USAGE, "invalid count '%s' (1 to "
		    "%d)", count, CVM_MAX_COUNT);
	/* queued or held VMs touch no hypervisor: one transaction for the
	 * batch (each VM a savepoint) instead of one per VM */
	if ((o.queue || o.hold) && vm_batch_begin(ctx, err))
		return err->code;
	cli_each_doc(ctx, a, (int)n, vm_check, create_one, err);
	if (o.queue || o.hold) {
		struct cerr end = { 0 };

		if (vm_batch_end(ctx, &end) && err->code == 0)
			cerr_set(err, end.code, "%s", end.msg);
	}
	return err->code;
}

static int
apply_vm(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	bool changed;

	return vm_apply(ctx, d, where, NULL, out, &changed, err);
}

static const struct cli_route cvm_routes[] = {
	{ "VM", apply_vm, vm_check },
	{ NULL, NULL, NULL },
};

static int
cvm_apply(struct ctx *ctx, struct args *a, struct cerr *err)
{
	/* a VM document may leave kind out, as create allows */
	return cli_apply(ctx, a, cvm_routes, true, err);
}

/*
 * cvm list --watch.  A table on a terminal is drawn again from the top
 * every interval, as watch(1) does; elsewhere, as kubectl get -w does, the
 * list is printed once and then each VM as it changes (a table printed
 * elsewhere comes again whole when anything changed).  Until interrupted,
 * or until the reader of a pipe leaves.
 */
static int
list_watch(struct ctx *ctx, struct args *a, const struct vm_filter *f,
    struct cerr *err)
{
	const char *iv = args_str(a, "interval");
	long long secs = CVM_WATCH_INTERVAL;
	bool table = out_format(ctx->out) == OUT_TABLE;
	bool redraw = table && isatty(STDOUT_FILENO);
	struct vm_watch *w = NULL;
	size_t changed;

	if (iv && (!valid_id(iv, &secs) || secs < 1 || secs > 3600))
		return cerr_set(err, CERR_USAGE, "invalid interval '%s' (whole "
		    "seconds, 1 to 3600)", iv);
	while (!out_gone(ctx->out) && vm_watch_look(ctx, f, &w, table ? NULL :
	    cli_emit, &changed, err) == 0) {
		if ((redraw || (table && changed)) && ((redraw &&
		    out_clear(ctx->out, err)) || vm_list(ctx, f, cli_emit, err)))
			break;
		if (out_finish(ctx->out, err))
			break;
		sleep((unsigned)secs);
	}
	vm_watch_free(w);
	return err->code;
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
	if (args_str(a, "interval") && !args_bool(a, "watch"))
		return cerr_set(err, CERR_USAGE, "--interval goes with --watch");
	if (args_bool(a, "watch"))
		return list_watch(ctx, a, &f, err);
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

static int
history_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	return vm_history(ctx, ref, cli_emit, err);
}

static int
cvm_history(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "VM", history_one, err);
}

static int
release_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	struct doc *out = NULL;

	if (vm_release(ctx, ref, &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvm_release(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "VM", release_one, err);
}

static int
migrate_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	struct doc *out = NULL;

	if (vm_migrate(ctx, ref, args_str(a, "to"), args_bool(a, "live"),
	    &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvm_migrate(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "VM", migrate_one, err);
}

static void
note(struct ctx *ctx, const char *msg)
{
	cli_remark(ctx, "%s", msg);
}

static int
cvm_reconcile(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char **refs;
	size_t i, n = args_count(a);
	int rc;

	if (!args_bool(a, "force")) {
		if (n > 0)
			return cerr_set(err, CERR_USAGE, "reconcile takes no "
			    "arguments");
		return vm_reconcile(ctx, cli_emit, note, err);
	}
	if (n == 0)
		return cerr_set(err, CERR_USAGE, "reconcile --force needs "
		    "the VMs whose actions to take over");
	refs = xcalloc(n, sizeof(*refs));
	for (i = 0; i < n; i++)
		refs[i] = args_pos(a, i);
	rc = vm_reconcile_force(ctx, refs, n, cli_emit, note, err);
	free(refs);
	return rc;
}

/* The life-cycle actions print the VM as it is afterwards, unless -q. */
#define ACTION(fn, svc)							\
static int								\
fn##_one(struct ctx *ctx, struct args *a, const char *ref,		\
    struct cerr *err)							\
{									\
	struct doc *out = NULL;						\
	struct vm_opts o;						\
									\
	if (vm_opts_from_args(a, &o, err) || svc(ctx, ref, &o, &out, err)) \
		return err->code;					\
	return cli_emit_result(ctx, out, err);				\
}									\
static int								\
fn(struct ctx *ctx, struct args *a, struct cerr *err)			\
{									\
	return cli_each_ref(ctx, a, "VM", fn##_one, err);		\
}

ACTION(cvm_start, vm_start)
ACTION(cvm_poweroff, vm_poweroff)
ACTION(cvm_shutdown, vm_shutdown)
ACTION(cvm_reboot, vm_reboot)
ACTION(cvm_suspend, vm_suspend)
ACTION(cvm_resume, vm_resume)
ACTION(cvm_delete, vm_delete)
ACTION(cvm_stop, vm_stop)

static int
resize_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	const char *c = args_str(a, "cpu"), *m = args_str(a, "memory");
	struct doc *out = NULL;
	long long cpu = 0, mem = 0;

	if (c && (!valid_id(c, &cpu) || cpu < 1 || cpu > 1024))
		return cerr_set(err, CERR_USAGE, "invalid cpu '%s' (a whole "
		    "number of vCPUs, 1 to 1024)", c);
	if (m && units_parse_mib(m, &mem, err))
		return cerr_wrap(err, "--memory");
	if (m && mem < 1)
		return cerr_set(err, CERR_USAGE, "invalid memory '%s' (at "
		    "least 1 MiB)", m);
	if (vm_resize(ctx, ref, (int)cpu, mem, &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvm_resize(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (!args_str(a, "cpu") && !args_str(a, "memory"))
		return cerr_set(err, CERR_USAGE, "resize needs --cpu or "
		    "--memory");
	return cli_each_ref(ctx, a, "VM", resize_one, err);
}

static int
cvm_console(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct termios saved, raw;
	int tty = isatty(STDIN_FILENO);

	if (args_count(a) != 1 || strcmp(args_pos(a, 0), "-") == 0)
		return cerr_set(err, CERR_USAGE, "console takes one VM");
	if (tty) {
		/* raw: every key goes to the guest, Ctrl-] leaves */
		if (tcgetattr(STDIN_FILENO, &saved) < 0)
			return cerr_set(err, CERR_FAIL, "cannot read the "
			    "terminal's mode");
		raw = saved;
		cfmakeraw(&raw);
		cli_remark(ctx, "connected to vm '%s' (Ctrl-] to leave)",
		    args_pos(a, 0));
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	vm_console(ctx, args_pos(a, 0), STDIN_FILENO, STDOUT_FILENO,
	    args_bool(a, "force"), err);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	return err->code;
}

/* cvm wait: the VMs named are gathered first, then waited for together
 * (every one in the state at the same time). */
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
cvm_wait(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *st = args_str(a, "state"), *t = args_str(a, "timeout");
	long long secs = CVM_WAIT_TIMEOUT;
	enum vm_state want;
	size_t i;

	if (st == NULL)
		return cerr_set(err, CERR_USAGE, "wait needs --state");
	if (vm_wait_state(st, &want, err))
		return err->code;
	if (t && (!valid_id(t, &secs) || secs > 86400))
		return cerr_set(err, CERR_USAGE, "invalid timeout '%s' (whole "
		    "seconds, 0 to 86400)", t);
	if (cli_each_ref(ctx, a, "VM", wait_gather, err) == 0)
		vm_wait(ctx, wait_refs, wait_nrefs, want, (int)secs,
		    wait_emit, err);
	for (i = 0; i < wait_nrefs; i++)
		free((char *)wait_refs[i]);
	free(wait_refs);
	return err->code;
}

static const struct opt create_opts[] = {
	{ "file", 'f', OPT_STR, "FILE", "read VM documents from FILE (- for stdin)" },
	{ "count", 'n', OPT_STR, "N", "create N VMs per document, named NAME-1..NAME-N" },
	{ "hold", 0, OPT_BOOL, NULL, "leave the VMs in hold, unplaced, until 'cvm release'" },
	{ "queue", 0, OPT_BOOL, NULL, "leave the VMs pending for the next 'csched pass'" },
	{ NULL, 0, 0, NULL, NULL },
};

static int
cvm_disk_attach(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *sz = args_str(a, "size");
	struct doc *out = NULL;
	long long mib = 0;

	if (args_count(a) != 1 || strcmp(args_pos(a, 0), "-") == 0)
		return cerr_set(err, CERR_USAGE, "disk attach takes one VM");
	if (sz == NULL)
		return cerr_set(err, CERR_USAGE, "disk attach needs --size");
	if (units_parse_mib(sz, &mib, err))
		return cerr_wrap(err, "--size");
	if (vm_disk_attach(ctx, args_pos(a, 0), mib, &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvm_disk_detach(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (args_count(a) != 2 || strcmp(args_pos(a, 0), "-") == 0)
		return cerr_set(err, CERR_USAGE, "disk detach takes a VM and a "
		    "disk (its target, such as sdb)");
	if (vm_disk_detach(ctx, args_pos(a, 0), args_pos(a, 1), &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static const struct opt nic_attach_opts[] = {
	{ "network", 'n', OPT_STR, "NET", "the cnet network" },
	{ "ip", 0, OPT_STR, "IP", "the IPv4 address to lease (default: the "
	  "lowest free)" },
	{ "ip6", 0, OPT_STR, "IP", "the IPv6 address to lease" },
	{ "model", 0, OPT_STR, "MODEL", "virtio (default), e1000, rtl8139 or usb-net" },
	{ "security-group", 0, OPT_LIST, "SG", "a security group for the NIC "
	  "(repeatable)" },
	{ NULL, 0, 0, NULL, NULL },
};

static int
cvm_nic_attach(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *const *sgs;
	size_t nsg = args_list(a, "security-group", &sgs), i;
	struct doc *nic, *l, *out = NULL;

	if (args_count(a) != 1 || strcmp(args_pos(a, 0), "-") == 0)
		return cerr_set(err, CERR_USAGE, "nic attach takes one VM");
	if (args_str(a, "network") == NULL)
		return cerr_set(err, CERR_USAGE, "nic attach needs --network");
	nic = doc_new(DOC_MAP);
	doc_set_str(nic, "network", args_str(a, "network"));
	if (args_str(a, "ip"))
		doc_set_str(nic, "ip", args_str(a, "ip"));
	if (args_str(a, "ip6"))
		doc_set_str(nic, "ip6", args_str(a, "ip6"));
	if (args_str(a, "model"))
		doc_set_str(nic, "model", args_str(a, "model"));
	if (nsg) {
		l = doc_new(DOC_LIST);
		for (i = 0; i < nsg; i++)
			doc_list_push(l, doc_new_str(sgs[i]));
		doc_map_set(nic, "security_groups", l);
	}
	vm_nic_attach(ctx, args_pos(a, 0), nic, &out, err);
	doc_free(nic);
	if (err->code)
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvm_nic_detach(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (args_count(a) != 2 || strcmp(args_pos(a, 0), "-") == 0)
		return cerr_set(err, CERR_USAGE, "nic detach takes a VM and a "
		    "NIC (its number, such as 0, or its MAC)");
	if (vm_nic_detach(ctx, args_pos(a, 0), args_pos(a, 1), &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvm_snapshot_create(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;
	char name[64];

	if (args_count(a) < 1 || args_count(a) > 2 ||
	    strcmp(args_pos(a, 0), "-") == 0)
		return cerr_set(err, CERR_USAGE, "snapshot create takes a VM "
		    "and, optionally, a name");
	if (args_count(a) == 2) {
		snprintf(name, sizeof(name), "%s", args_pos(a, 1));
		if (strlen(args_pos(a, 1)) >= sizeof(name))
			return cerr_set(err, CERR_USAGE, "snapshot name too "
			    "long (at most %zu bytes)", sizeof(name) - 1);
	} else {
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(name, sizeof(name), "snap-%Y%m%dT%H%M%SZ", &tm);
	}
	if (vm_snapshot_create(ctx, args_pos(a, 0), name, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
cvm_snapshot_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) != 1 || strcmp(args_pos(a, 0), "-") == 0)
		return cerr_set(err, CERR_USAGE, "snapshot list takes one VM");
	return vm_snapshot_list(ctx, args_pos(a, 0), cli_emit, err);
}

static int
cvm_snapshot_revert(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct doc *out = NULL;

	if (args_count(a) != 2 || strcmp(args_pos(a, 0), "-") == 0)
		return cerr_set(err, CERR_USAGE, "snapshot revert takes a VM "
		    "and a snapshot");
	if (vm_snapshot_revert(ctx, args_pos(a, 0), args_pos(a, 1), &out,
	    err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
cvm_snapshot_delete(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) != 2 || strcmp(args_pos(a, 0), "-") == 0)
		return cerr_set(err, CERR_USAGE, "snapshot delete takes a VM "
		    "and a snapshot");
	return vm_snapshot_delete(ctx, args_pos(a, 0), args_pos(a, 1), err);
}

static const struct opt disk_attach_opts[] = {
	{ "size", 's', OPT_STR, "SIZE", "the disk's size (20GiB, 512MiB, ...)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt apply_opts[] = {
	{ "file", 'f', OPT_STR, "FILE", "read documents from FILE (- for stdin)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt list_opts[] = {
	{ "state", 's', OPT_STR, "STATE", "only VMs in STATE" },
	{ "host", 0, OPT_STR, "HOST", "only VMs on HOST (name or id)" },
	{ "name", 'n', OPT_STR, "GLOB", "only VMs whose name matches GLOB" },
	{ "all", 'a', OPT_BOOL, NULL, "include deleted (done) VMs" },
	{ "watch", 'w', OPT_BOOL, NULL, "keep watching: redraw on a terminal, else print VMs as they change" },
	{ "interval", 0, OPT_STR, "SECONDS", "with --watch: look every SECONDS (default 2)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt shutdown_opts[] = {
	{ "timeout", 't', OPT_STR, "SECONDS", "power off after SECONDS if the guest is still up (default 60)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt reboot_opts[] = {
	{ "hard", 0, OPT_BOOL, NULL, "reset at once instead of asking the guest" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt migrate_opts[] = {
	{ "to", 't', OPT_STR, "HOST", "the target host (default: the first other host with room)" },
	{ "live", 0, OPT_BOOL, NULL, "migrate running VMs without pausing them" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt resize_opts[] = {
	{ "cpu", 0, OPT_STR, "N", "the number of vCPUs" },
	{ "memory", 'm', OPT_STR, "SIZE", "the memory (512MiB, 2GiB, ...)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt reconcile_opts[] = {
	{ "force", 0, OPT_BOOL, NULL, "take over the actions in flight on the VMs named, whoever runs them" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt wait_opts[] = {
	{ "state", 's', OPT_STR, "STATE", "the state to wait for (running, poweroff, ...)" },
	{ "timeout", 't', OPT_STR, "SECONDS", "give up after SECONDS (default 30; 0 looks once)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt console_opts[] = {
	{ "force", 0, OPT_BOOL, NULL, "take the console from whoever holds it" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cmd cvm_cmds[] = {
	{ "create", cvm_create, create_opts, CMD_WRITE,
	  "FILE...|-|-f FILE [--count N] [--hold|--queue]",
	  "create VMs from documents, place and start them" },
	{ "apply", cvm_apply, apply_opts, CMD_WRITE, "FILE...|-|-f FILE",
	  "create or update VMs by name; other kinds pass through" },
	{ "list", cvm_list, list_opts, CMD_READ,
	  "[--state S] [--host H] [--name GLOB] [--all] [--watch "
	  "[--interval SECONDS]]", "list VMs" },
	{ "show", cvm_show, NULL, CMD_READ, "VM...|-", "show VMs" },
	{ "start", cvm_start, NULL, CMD_WRITE, "VM...|-",
	  "power on VMs that are off or stopped" },
	{ "shutdown", cvm_shutdown, shutdown_opts, CMD_WRITE,
	  "VM...|- [--timeout SECONDS]",
	  "shut VMs down (ACPI), powering off those that do not stop" },
	{ "poweroff", cvm_poweroff, NULL, CMD_WRITE, "VM...|-",
	  "power off VMs at once (no guest shutdown), keeping their host" },
	{ "reboot", cvm_reboot, reboot_opts, CMD_WRITE, "VM...|- [--hard]",
	  "reboot VMs (ACPI), or reset them with --hard" },
	{ "suspend", cvm_suspend, NULL, CMD_WRITE, "VM...|-",
	  "pause running VMs in memory" },
	{ "resume", cvm_resume, NULL, CMD_WRITE, "VM...|-",
	  "resume suspended VMs" },
	{ "stop", cvm_stop, NULL, CMD_WRITE, "VM...|-",
	  "save VMs' memory to disk and release their host's capacity" },
	{ "resize", cvm_resize, resize_opts, CMD_WRITE,
	  "VM...|- [--cpu N] [--memory SIZE]",
	  "change VMs' vCPUs and memory (live where the hypervisor can)" },
	{ "console", cvm_console, console_opts, CMD_READ, "VM [--force]",
	  "attach the terminal to a VM's serial console (Ctrl-] leaves)" },
	{ "disk attach", cvm_disk_attach, disk_attach_opts, CMD_WRITE,
	  "VM --size SIZE", "add a blank disk to a VM (live when it runs)" },
	{ "disk detach", cvm_disk_detach, NULL, CMD_WRITE, "VM DISK",
	  "remove a disk (sdb, ...) from a VM and delete it" },
	{ "nic attach", cvm_nic_attach, nic_attach_opts, CMD_WRITE,
	  "VM --network NET [--ip IP] [--ip6 IP] [--model M] "
	  "[--security-group SG]...",
	  "add a NIC on a cnet network to a VM (live when it runs)" },
	{ "nic detach", cvm_nic_detach, NULL, CMD_WRITE, "VM NIC",
	  "remove a NIC (its number or MAC) from a VM, releasing its "
	  "addresses" },
	{ "snapshot create", cvm_snapshot_create, NULL, CMD_WRITE,
	  "VM [NAME]", "snapshot a VM's disks (and memory when it runs)" },
	{ "snapshot list", cvm_snapshot_list, NULL, CMD_READ, "VM",
	  "list a VM's snapshots, oldest first" },
	{ "snapshot revert", cvm_snapshot_revert, NULL, CMD_WRITE,
	  "VM NAME", "put a VM back as it was at a snapshot" },
	{ "snapshot delete", cvm_snapshot_delete, NULL, CMD_WRITE,
	  "VM NAME", "delete a snapshot" },
	{ "migrate", cvm_migrate, migrate_opts, CMD_WRITE,
	  "VM...|- [--to HOST] [--live]", "move VMs to another host" },
	{ "release", cvm_release, NULL, CMD_WRITE, "VM...|-",
	  "place and start VMs created with --hold" },
	{ "delete", cvm_delete, NULL, CMD_WRITE, "VM...|-",
	  "delete VMs from their host; the record stays as done" },
	{ "wait", cvm_wait, wait_opts, CMD_READ,
	  "VM...|- --state STATE [--timeout SECONDS]",
	  "wait until VMs are in a state (exit 7 on timeout, 5 if they fail)" },
	{ "history", cvm_history, NULL, CMD_READ, "VM...|-",
	  "every transition of VMs: time, actor, action, outcome" },
	{ "reconcile", cvm_reconcile, reconcile_opts, CMD_WRITE,
	  "[--force VM...]",
	  "bring the catalog and the hosts into agreement" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

/* Offer word when it starts with prefix. */
static void
some(void (*each)(const char *), const char *prefix, const char *word)
{
	if (strncmp(word, prefix, strlen(prefix)) == 0)
		each(word);
}

static bool
cvm_complete(struct ctx *ctx, const char *cmd, const char *opt,
    const char *prefix, void (*each)(const char *))
{
	int i;

	(void)cmd;
	if (opt && strcmp(opt, "state") == 0) {
		for (i = 0; i <= VM_STATE_DONE; i++)
			some(each, prefix, vm_state_name((enum vm_state)i));
		return true;
	}
	if (opt && strcmp(opt, "network") == 0) {
		net_names(ctx, prefix, each);
		return true;
	}
	if (opt && strcmp(opt, "model") == 0) {
		some(each, prefix, "virtio");
		some(each, prefix, "e1000");
		some(each, prefix, "rtl8139");
		some(each, prefix, "usb-net");
		return true;
	}
	return false;
}

static const struct prog cvm = {
	.name = "cvm",
	.summary = "cvm manages virtual machines: their documents, placement "
	    "and life cycle.",
	.kind = "VM",
	.more = "VM arguments are ids, UUIDs or names; - reads VM documents "
	    "from stdin,\nso 'cvm list -o json | cvm delete -' works.",
	.cmds = cvm_cmds,
	.names = vm_names,
	.complete = cvm_complete,
};

int
main(int argc, char **argv)
{
	return cli_main(&cvm, argc, argv);
}
