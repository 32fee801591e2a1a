/*
 * csched - placement: the face.  Options, subcommands, printing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "scheduler.h"
#include "valid.h"
#include "vm.h"
#include "compat.h"

static int
number(struct args *a, const char *name, long lo, long hi, long *out,
    struct cerr *err)
{
	const char *s = args_str(a, name);
	long long v;

	if (s == NULL)
		return 0;
	if (!valid_id(s, &v) || v < lo || v > hi)
		return cerr_set(err, CERR_USAGE, "invalid --%s '%s' (a whole "
		    "number from %ld to %ld)", name, s, lo, hi);
	*out = (long)v;
	return 0;
}

static int
opts_from_args(struct args *a, struct sched_opts *o, struct cerr *err)
{
	long dispatch = 8;

	memset(o, 0, sizeof(*o));
	o->reconcile = !args_bool(a, "no-reconcile");
	if (number(a, "max-vms", 1, 100000000, &o->max_vms, err) ||
	    number(a, "max-dispatch", 1, 256, &dispatch, err))
		return err->code;
	o->max_dispatch = (int)dispatch;
	return 0;
}

static void
note(struct ctx *ctx, const char *msg)
{
	cli_remark(ctx, "%s", msg);
}

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int
csched_pass(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct sched_opts o;
	long loop = 0;

	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "pass takes no arguments");
	if (opts_from_args(a, &o, err) ||
	    number(a, "loop", 1, 86400, &loop, err))
		return err->code;
	if (loop == 0)
		return sched_pass(ctx, &o, cli_emit, note, err);
	/* a foreground service: a pass every loop seconds until a signal;
	 * a failed pass is reported and the next one runs */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stopping) {
		time_t next = time(NULL) + loop;
		struct cerr one = { 0 };

		if (sched_pass(ctx, &o, cli_emit, note, &one))
			cli_error(ctx, "%s", one.msg);
		fflush(stdout);
		while (!stopping && time(NULL) < next)
			sleep(1);
	}
	return 0;
}

static int
csched_plan(struct ctx *ctx, struct args *a, struct cerr *err)
{
	struct sched_opts o;

	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "plan takes no arguments");
	if (opts_from_args(a, &o, err))
		return err->code;
	return sched_plan(ctx, &o, cli_emit, err);
}

static int
apply_one(struct ctx *ctx, struct args *a, const struct doc *d,
    const char *where, int n, struct cerr *err)
{
	struct doc *out = NULL;

	if (sched_apply(ctx, d, where, &out, err)) {
		doc_free(out);
		return err->code;
	}
	return cli_emit_result(ctx, out, err);
}

static int
csched_apply(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_doc(ctx, a, 0, sched_check, apply_one, err);
}

static int
csched_rebalance(struct ctx *ctx, struct args *a, struct cerr *err)
{
	const char *policy = args_str(a, "policy");
	long max = -1;

	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "rebalance takes no "
		    "arguments");
	if (policy == NULL)
		return cerr_set(err, CERR_USAGE, "rebalance needs --policy "
		    "pack or spread");
	if (number(a, "max-migrations", 0, 1000000, &max, err))
		return err->code;
	return sched_rebalance(ctx, policy, max, cli_emit, err);
}

static int
explain_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	struct doc *out = NULL;

	if (sched_explain(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
csched_explain(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "VM", explain_one, err);
}

static int
csched_group_create(struct ctx *ctx, struct args *a, struct cerr *err)
{
	bool aff = args_bool(a, "affinity"), anti = args_bool(a, "anti-affinity");
	struct doc *out = NULL;

	if (args_count(a) != 1)
		return cerr_set(err, CERR_USAGE, "group create takes one NAME");
	if (aff == anti)
		return cerr_set(err, CERR_USAGE, "group create needs "
		    "--affinity or --anti-affinity");
	if (sched_group_create(ctx, args_pos(a, 0), anti,
	    args_str(a, "visibility"), &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
group_set_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	struct doc *out = NULL;

	if (sched_group_set_visibility(ctx, ref, args_str(a, "visibility"),
	    &out, err))
		return err->code;
	return cli_emit_result(ctx, out, err);
}

static int
csched_group_set(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_str(a, "visibility") == NULL)
		return cerr_set(err, CERR_USAGE, "group set needs "
		    "--visibility");
	return cli_each_ref(ctx, a, "AffinityGroup", group_set_one, err);
}

static int
csched_group_list(struct ctx *ctx, struct args *a, struct cerr *err)
{
	if (args_count(a) > 0)
		return cerr_set(err, CERR_USAGE, "group list takes no "
		    "arguments");
	return sched_group_list(ctx, cli_emit, err);
}

static int
group_show_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	struct doc *out = NULL;

	if (sched_group_show(ctx, ref, &out, err))
		return err->code;
	return cli_emit_free(ctx, out, err);
}

static int
csched_group_show(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "AffinityGroup", group_show_one, err);
}

static int
group_remove_one(struct ctx *ctx, struct args *a, const char *ref,
    struct cerr *err)
{
	return sched_group_remove(ctx, ref, err);
}

static int
csched_group_remove(struct ctx *ctx, struct args *a, struct cerr *err)
{
	return cli_each_ref(ctx, a, "AffinityGroup", group_remove_one, err);
}

static const struct opt pass_opts[] = {
	{ "max-vms", 0, OPT_STR, "N", "consider at most N pending VMs (priority, then age)" },
	{ "max-dispatch", 0, OPT_STR, "N", "deploy to at most N hosts at once (default 8)" },
	{ "no-reconcile", 0, OPT_BOOL, NULL, "skip the reconcile that starts a pass" },
	{ "loop", 0, OPT_STR, "SECONDS", "run a pass every SECONDS until interrupted" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt plan_opts[] = {
	{ "max-vms", 0, OPT_STR, "N", "consider at most N pending VMs (priority, then age)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt apply_opts[] = {
	{ "file", 'f', OPT_STR, "FILE", "read Placement documents from FILE (- for stdin)" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt rebalance_opts[] = {
	{ "policy", 'p', OPT_STR, "POLICY", "pack (empty hosts) or spread (even allocation)" },
	{ "max-migrations", 0, OPT_STR, "N", "at most N migrations" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt group_create_opts[] = {
	{ "affinity", 0, OPT_BOOL, NULL, "its VMs run on one host" },
	{ "anti-affinity", 0, OPT_BOOL, NULL, "its VMs run on different hosts" },
	{ "visibility", 0, OPT_STR, "V", "private (the default), group or public" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct opt group_set_opts[] = {
	{ "visibility", 0, OPT_STR, "V", "private, group or public" },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct cmd csched_cmds[] = {
	{ "pass", csched_pass, pass_opts, CMD_WRITE,
	  "[--max-vms N] [--max-dispatch N] [--no-reconcile] [--loop SECONDS]",
	  "reconcile, place pending VMs and deploy them" },
	{ "plan", csched_plan, plan_opts, CMD_READ, "[--max-vms N]",
	  "print where pending VMs would go; change nothing" },
	{ "apply", csched_apply, apply_opts, CMD_WRITE, "FILE...|-|-f FILE",
	  "carry out Placement documents (deploy or migrate)" },
	{ "rebalance", csched_rebalance, rebalance_opts, CMD_READ,
	  "--policy pack|spread [--max-migrations N]",
	  "print the fewest migrations that reach a policy" },
	{ "explain", csched_explain, NULL, CMD_READ, "VM...|-",
	  "why VMs are pending, and what the engine says now" },
	{ "group create", csched_group_create, group_create_opts, CMD_WRITE,
	  "NAME --affinity|--anti-affinity [--visibility V]",
	  "make an affinity group" },
	{ "group list", csched_group_list, NULL, CMD_READ, "",
	  "list affinity groups" },
	{ "group show", csched_group_show, NULL, CMD_READ, "GROUP...|-",
	  "show affinity groups" },
	{ "group set", csched_group_set, group_set_opts, CMD_WRITE,
	  "GROUP...|- --visibility V", "share affinity groups, or stop" },
	{ "group delete", csched_group_remove, NULL, CMD_WRITE, "GROUP...|-",
	  "remove affinity groups no VM is in" },
	{ NULL, NULL, NULL, 0, NULL, NULL },
};

/* The old verbs of the create/delete pair, kept (cloudos(7)). */
static const struct cmd_alias csched_aliases[] = {
	{ "group remove", "group delete" },
	{ NULL, NULL },
};

static bool
csched_complete(struct ctx *ctx, const char *cmd, const char *opt,
    const char *prefix, void (*each)(const char *))
{
	static const char *const policies[] = { "pack", "spread", NULL };
	static const char *const vis[] = { "private", "group", "public",
	    NULL };
	const char *const *words = NULL;
	size_t i;

	if (opt && strcmp(opt, "policy") == 0)
		words = policies;
	else if (opt && strcmp(opt, "visibility") == 0)
		words = vis;
	if (words) {
		for (i = 0; words[i]; i++)
			if (strncmp(words[i], prefix, strlen(prefix)) == 0)
				each(words[i]);
		return true;
	}
	if (opt == NULL && strncmp(cmd, "group ", 6) == 0) {
		if (strcmp(cmd, "group create") != 0)
			sched_group_names(ctx, prefix, each);
		return true;
	}
	return opt != NULL;
}

static const struct prog csched = {
	.name = "csched",
	.summary = "csched places pending VMs on hosts: passes, plans, "
	    "rebalancing and affinity groups.",
	.kind = "VM",
	.more = "A pass is safe from cron every minute: one runs at a time.  "
	    "Plans are Placement\ndocuments: 'csched plan | csched apply -', "
	    "'csched rebalance --policy pack |\ncsched apply -'.",
	.cmds = csched_cmds,
	.aliases = csched_aliases,
	.names = vm_names,
	.complete = csched_complete,
};

int
main(int argc, char **argv)
{
	return cli_main(&csched, argc, argv);
}
