/*
 * vm-act.c - service: a VM's life-cycle actions.  Deploy and its outcome
 * (create, release, csched's dispatch), the actions as a table with one
 * driver (vm_act: intent, fault point, libvirt, fault point, outcome),
 * start of a stopped VM, resize and the console.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acct.h"
#include "capacity.h"
#include "catalog.h"
#include "domxml.h"
#include "fault.h"
#include "hv.h"
#include "net.h"
#include "owner.h"
#include "valid.h"
#include "vm.h"
#include "vm-int.h"
#include "xalloc.h"
#include "compat.h"

int
vm_act_deploy(struct ctx *ctx, const struct vmrow *r, struct cerr *err)
{
	struct domspec ds = {
		.id = r->id, .uuid = r->uuid, .name = r->name,
		.owner = ctx->who.user, .domain_type = r->domain_type,
		.cpu = r->cpu, .memory = r->memory,
	};
	struct cerr ignored = { 0 };
	struct hv *hv = NULL;
	struct vmdisk *disks = NULL;
	struct domdisk *dd = NULL;
	struct net_nic *nics = NULL;
	struct domnic *dn = NULL;
	char *xml = NULL, *seed = NULL, (*filters)[64] = NULL;
	size_t n = 0, i, nnics = 0;

	if (vm_disk_load(ctx, r->id, &disks, &n, err) ||
	    net_vm_nics(ctx, r->id, &nics, &nnics, err))
		goto out;
	dd = xcalloc(n + 1, sizeof(*dd));
	dn = xcalloc(nnics + 1, sizeof(*dn));
	filters = xcalloc(nnics + 1, sizeof(*filters));
	for (i = 0; i < nnics; i++) {
		dn[i].mac = nics[i].mac;
		dn[i].network = nics[i].libvirt;
		dn[i].model = nics[i].model;
		dn[i].usb_port = nics[i].idx % 2 + 1;
		dn[i].filter = filters[i];
	}
	ds.nics = dn;
	ds.nnics = nnics;
	/* its networks and its security groups' filters first: realised
	 * on the host where they are not */
	if (hv_connect(r->uri, &hv, err) == 0 &&
	    net_host_ensure_vm(ctx, hv, r->host_id, r->id, err) == 0 &&
	    vm_nic_filters(ctx, hv, nics, nnics, filters, err) == 0 &&
	    vm_seed_upload(ctx, hv, r, &seed, err) == 0) {
		/* the disks: made where they do not exist yet, clones of
		 * their images over the host's cached copies */
		for (i = 0; i < n && err->code == 0; i++) {
			vm_disk_make(ctx, hv, r->host_id, r->host, &disks[i],
			    err);
			dd[i].target = disks[i].target;
			dd[i].path = disks[i].path;
		}
		ds.seed = seed;
		ds.disks = dd;
		ds.ndisks = n;
		if (err->code == 0) {
			xml = domxml_build(&ds);
			hv_deploy(hv, xml, err);
		}
		/* a domain that did not start is undefined again: its seed
		 * goes with it */
		if (err->code && seed)
			vm_seed_delete(hv, r->uuid, &ignored);
	}
out:
	hv_close(hv);
	vm_disk_free(disks, n);
	net_nics_free(nics, nnics);
	free(filters);
	free(dn);
	free(dd);
	free(seed);
	free(xml);
	return err->code;
}

/* The deploy and its outcome, for a VM committed as deploying to r->host:
 * running, or failed with the host released and the hypervisor's error
 * returned.  Fills *out with the VM as it is afterwards. */
int
vm_act_deploy_outcome(struct ctx *ctx, struct vmrow *r, struct doc **out,
    struct cerr *err)
{
	struct cerr hverr = { 0 };
	char id[32];

	snprintf(id, sizeof(id), "%lld", r->id);
	vm_act_deploy(ctx, r, &hverr);
	fault_point("vm.outcome");
	if (hverr.code) {
		cerr_wrap(&hverr, "cannot deploy vm '%s' on host '%s'", r->name,
		    r->host);
		if (vm_record(ctx, r, VM_STATE_DEPLOYING, VM_STATE_FAILED, 0,
		    hverr.msg, "deploy", err) == 0) {
			struct cerr ignored = { 0 };

			/* networks defined for it alone go again */
			net_host_gc(ctx, r->host_id, &ignored);
			cerr_set(err, hverr.code, "%s (vm left in state "
			    "failed)", hverr.msg);
		}
		return err->code;
	}
	if (vm_record(ctx, r, VM_STATE_DEPLOYING, VM_STATE_RUNNING, -1, NULL,
	    "deploy", err) == 0)
		vm_show(ctx, id, out, err);
	return err->code;
}

int
vm_dispatch(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	char now[32];

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (r.state != VM_STATE_DEPLOYING || r.host_id == 0) {
		cerr_set(err, CERR_CONFLICT, "cannot deploy vm '%s': it is %s",
		    r.name, vm_state_name(r.state));
		goto out;
	}
	vm_act_deploy(ctx, &r, &hverr);
	fault_point("vm.outcome");
	if (hverr.code == 0) {
		vm_record(ctx, &r, VM_STATE_DEPLOYING, VM_STATE_RUNNING, -1,
		    NULL, "deploy", err);
		goto out;
	}
	/* back to pending, away from this host: at once the first time,
	 * then after a back-off that doubles, up to an hour */
	cerr_wrap(&hverr, "cannot deploy vm '%s' on host '%s'", r.name,
	    r.host);
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (catalog_exec(ctx->cat, err, "UPDATE vms SET state = 'pending', "
	    "host_id = NULL, avoid_host = ?1, attempts = attempts + 1, "
	    "retry_after = CASE WHEN attempts = 0 THEN NULL ELSE "
	    "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '+' || "
	    "min(3600, 30 << min(attempts, 7)) || ' seconds') END, "
	    "reason = ?2, error = ?2, target = NULL, intent_pid = NULL, "
	    "intent_owner = NULL, updated = ?3 WHERE id = ?4 AND state = "
	    "'deploying'", "issi",
	    r.host_id, hverr.msg, now, r.id) ||
	    acct_audit(ctx, "deploy", "VM", r.id, r.name, hverr.msg, err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	{
		struct cerr ignored = { 0 };

		net_host_gc(ctx, r.host_id, &ignored);
	}
	cerr_set(err, hverr.code, "%s (back to pending, to try another "
	    "host)", hverr.msg);
out:
	vm_row_release(&r);
	return err->code;
}

int
vm_release(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct vmrow r = { 0 };

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_load(ctx, ref, &r, err))
		goto fail;
	if (r.state != VM_STATE_HOLD) {
		cerr_set(err, CERR_CONFLICT, "cannot release vm '%s': it is "
		    "%s (release needs hold)", r.name, vm_state_name(r.state));
		goto fail;
	}
	if (vm_place(ctx, &r, err) ||
	    vm_intent(ctx, &r, VM_STATE_HOLD, VM_STATE_DEPLOYING,
	    VM_STATE_RUNNING, r.host_id, "release", err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	vm_act_deploy_outcome(ctx, &r, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	vm_row_release(&r);
	return err->code;
}

/* The life-cycle actions, as data. */
struct action {
	const char *verb;
	unsigned from;			/* states that allow it (bits) */
	const char *needs;		/* for the refusal message */
	enum vm_state intent;		/* NONE: no transitional state */
	enum vm_state outcome;		/* NONE: the state it had */
	int (*hv)(struct hv *, const char *uuid, const struct vm_opts *,
	    struct cerr *);
	bool release;			/* outcome frees the host */
	unsigned there;			/* states that are its target already:
					 * it succeeds and changes nothing */
};

static int
do_start(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err)
{
	return hv_start(hv, uuid, err);
}

static int
do_poweroff(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err)
{
	return hv_poweroff(hv, uuid, err);
}

static int
do_shutdown(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err)
{
	int forced;

	return hv_shutdown(hv, uuid, o && o->timeout > 0 ? o->timeout :
	    VM_SHUTDOWN_TIMEOUT, &forced, err);
}

static int
do_reboot(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err)
{
	return hv_reboot(hv, uuid, o && o->hard, err);
}

static int
do_suspend(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err)
{
	return hv_suspend(hv, uuid, err);
}

static int
do_resume(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err)
{
	return hv_resume(hv, uuid, err);
}

static int
do_stop(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err)
{
	return hv_save(hv, uuid, err);
}

int
vm_act_remove(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err)
{
	if (hv_remove(hv, uuid, err) == 0 &&
	    vm_seed_delete(hv, uuid, err) == 0)
		vm_disk_purge(hv, uuid, err);
	return err->code;
}

#define FROM_RUNNING	VM_STATE_BIT(VM_STATE_RUNNING)
#define FROM_SUSPENDED	VM_STATE_BIT(VM_STATE_SUSPENDED)
#define FROM_START	VM_STATE_BIT(VM_STATE_POWEROFF)
#define FROM_POWEROFF	(VM_STATE_BIT(VM_STATE_RUNNING) | \
	VM_STATE_BIT(VM_STATE_SUSPENDED) | VM_STATE_BIT(VM_STATE_UNKNOWN))
#define FROM_STOP	(VM_STATE_BIT(VM_STATE_RUNNING) | \
	VM_STATE_BIT(VM_STATE_SUSPENDED))
#define FROM_DELETE	(VM_STATE_BIT(VM_STATE_PENDING) | \
	VM_STATE_BIT(VM_STATE_HOLD) | VM_STATE_BIT(VM_STATE_RUNNING) | \
	VM_STATE_BIT(VM_STATE_SUSPENDED) | VM_STATE_BIT(VM_STATE_STOPPED) | \
	VM_STATE_BIT(VM_STATE_POWEROFF) | VM_STATE_BIT(VM_STATE_FAILED) | \
	VM_STATE_BIT(VM_STATE_UNKNOWN))

#define THERE_RUNNING	VM_STATE_BIT(VM_STATE_RUNNING)
#define THERE_POWEROFF	VM_STATE_BIT(VM_STATE_POWEROFF)
#define THERE_SUSPENDED	VM_STATE_BIT(VM_STATE_SUSPENDED)
#define THERE_STOPPED	VM_STATE_BIT(VM_STATE_STOPPED)
#define THERE_DONE	VM_STATE_BIT(VM_STATE_DONE)

static const struct action act_start = {
	"start", FROM_START, "poweroff", VM_STATE_DEPLOYING, VM_STATE_RUNNING,
	do_start, false, THERE_RUNNING,
};
static const struct action act_poweroff = {
	"power off", FROM_POWEROFF, "running, suspended or unknown",
	VM_STATE_SHUTTING_DOWN, VM_STATE_POWEROFF, do_poweroff, false,
	THERE_POWEROFF,
};
static const struct action act_shutdown = {
	"shut down", FROM_RUNNING, "running", VM_STATE_SHUTTING_DOWN,
	VM_STATE_POWEROFF, do_shutdown, false, THERE_POWEROFF,
};
static const struct action act_reboot = {
	"reboot", FROM_RUNNING, "running", VM_STATE_NONE, VM_STATE_NONE,
	do_reboot, false, 0,
};
static const struct action act_suspend = {
	"suspend", FROM_RUNNING, "running", VM_STATE_NONE, VM_STATE_SUSPENDED,
	do_suspend, false, THERE_SUSPENDED,
};
static const struct action act_resume = {
	"resume", FROM_SUSPENDED, "suspended", VM_STATE_NONE,
	VM_STATE_RUNNING, do_resume, false, THERE_RUNNING,
};
static const struct action act_stop = {
	"stop", FROM_STOP, "running or suspended", VM_STATE_SHUTTING_DOWN,
	VM_STATE_STOPPED, do_stop, false, THERE_STOPPED,
};
static const struct action act_delete = {
	"delete", FROM_DELETE, "a state with no action in flight",
	VM_STATE_SHUTTING_DOWN, VM_STATE_DONE, vm_act_remove, true,
	THERE_DONE,
};

static int
vm_act(struct ctx *ctx, const char *ref, const struct action *a,
    const struct vm_opts *o, struct doc **out, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	struct hv *hv = NULL;
	enum vm_state from, during, after;

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_load(ctx, ref, &r, err))
		goto fail;
	if (a->there & VM_STATE_BIT(r.state)) {
		/* there already: as systemctl start of a running unit,
		 * nothing written, nothing asked of libvirt */
		catalog_rollback(ctx->cat);
		vm_show_id(ctx, r.id, out, err);
		goto out;
	}
	if (!(a->from & VM_STATE_BIT(r.state))) {
		cerr_set(err, CERR_CONFLICT, "cannot %s vm '%s': it is %s "
		    "(%s needs %s)", a->verb, r.name, vm_state_name(r.state),
		    a->verb, a->needs);
		goto fail;
	}
	from = r.state;
	during = a->intent != VM_STATE_NONE ? a->intent : from;
	after = a->outcome != VM_STATE_NONE ? a->outcome : from;
	if (r.host_id == 0) {
		/* nothing on any hypervisor: one step */
		if (vm_transition(ctx, &r, from, after, 0, NULL, a->verb,
		    err) || catalog_commit(ctx->cat, err))
			goto fail;
		goto done;
	}
	/* intent (quick actions keep their state: reconcile reads the
	 * domain's own state if a command dies during them) */
	if ((a->intent != VM_STATE_NONE && vm_intent(ctx, &r, from, a->intent,
	    after, -1, a->verb, err)) || catalog_commit(ctx->cat, err))
		goto fail;
	fault_point("vm.intent");
	/* action, holding no catalog lock */
	if (hv_connect(r.uri, &hv, &hverr) == 0)
		a->hv(hv, r.uuid, o, &hverr);
	hv_close(hv);
	fault_point("vm.outcome");
	/* outcome */
	if (hverr.code) {
		cerr_wrap(&hverr, "cannot %s vm '%s' on host '%s'", a->verb,
		    r.name, r.host);
		if (vm_record(ctx, &r, during, from, -1, hverr.msg, a->verb,
		    err) == 0)
			cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
	if (vm_record(ctx, &r, during, after, a->release ? 0 : -1, NULL,
	    a->verb, err))
		goto out;
	if (a->release) {
		struct cerr ignored = { 0 };

		/* networks no VM uses on the host any more go */
		net_host_gc(ctx, r.host_id, &ignored);
		/* peers no longer let a deleted VM's addresses in */
		vm_nic_peers_refresh(ctx);
	}
done:
	vm_show_id(ctx, r.id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	vm_row_release(&r);
	return err->code;
}

int
vm_poweroff(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err)
{
	return vm_act(ctx, ref, &act_poweroff, o, out, err);
}

int
vm_shutdown(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err)
{
	return vm_act(ctx, ref, &act_shutdown, o, out, err);
}

int
vm_reboot(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err)
{
	return vm_act(ctx, ref, &act_reboot, o, out, err);
}

int
vm_suspend(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err)
{
	return vm_act(ctx, ref, &act_suspend, o, out, err);
}

int
vm_resume(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err)
{
	return vm_act(ctx, ref, &act_resume, o, out, err);
}

int
vm_delete(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err)
{
	return vm_act(ctx, ref, &act_delete, o, out, err);
}

int
vm_stop(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err)
{
	return vm_act(ctx, ref, &act_stop, o, out, err);
}

/* Start a stopped VM: back on the host that holds its saved state when
 * that host is enabled and has room (the guest resumes where it was);
 * otherwise placed on another host, where it boots afresh and the saved
 * state is dropped with the old copy. */
static int
vm_start_stopped(struct ctx *ctx, struct vmrow *r, struct doc **out,
    struct cerr *err)
{
	struct cerr hverr = { 0 };
	struct hv *hv = NULL;
	char *dname = NULL, *duri = NULL, *daddr = NULL, *dtype = NULL;
	char home_ref[32], detail[600];
	long long home = r->host_id, dest = 0;
	bool back;

	snprintf(home_ref, sizeof(home_ref), "%lld", home);
	back = vm_migrate_dest(ctx, r, home_ref, -1, &dest, &dname, &duri,
	    &daddr, err) == 0;
	if (!back) {
		if (err->code != CERR_CONFLICT && err->code != CERR_CAPACITY)
			goto fail;
		/* volumes cannot follow it: it waits for its own host */
		if (vm_migrate_no_volumes(ctx, r, "start", &hverr)) {
			cerr_wrap(err, "cannot start vm '%s' elsewhere: it has "
			    "volumes on host '%s'", r->name, r->host);
			goto fail;
		}
		cerr_clear(err);
		if (vm_migrate_dest(ctx, r, NULL, home, &dest, &dname, &duri,
		    &daddr, err) ||
		    (dtype = vm_migrate_domain_type(ctx, dest, err)) == NULL)
			goto fail;
	}
	/* intent: deploying on dest; target_host remembers the saved
	 * state's host so a reconcile pass can roll back to it */
	if (vm_intent(ctx, r, VM_STATE_STOPPED, VM_STATE_DEPLOYING,
	    VM_STATE_RUNNING, dest, "start", err) || (!back &&
	    catalog_exec(ctx->cat, err, "UPDATE vms SET target_host = ? "
	    "WHERE id = ?", "ii", home, r->id)) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	fault_point("vm.intent");
	if (back) {
		if (hv_connect(duri, &hv, &hverr) == 0)
			hv_start(hv, r->uuid, &hverr);
		hv_close(hv);
	} else {
		struct vmrow d = *r;

		d.uri = duri;
		d.domain_type = dtype;
		d.host = dname;
		d.host_id = dest;
		/* its disks come along: copied from the old host */
		if (vm_migrate_disks_copy(ctx, r, r->uri, duri, dest, dname,
		    &hverr) == 0)
			vm_act_deploy(ctx, &d, &hverr);
	}
	fault_point("vm.outcome");
	if (hverr.code) {
		cerr_wrap(&hverr, "cannot start vm '%s' on host '%s'", r->name,
		    dname);
		if (vm_record(ctx, r, VM_STATE_DEPLOYING, VM_STATE_STOPPED,
		    home, hverr.msg, "start", err) == 0)
			cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
	if (!back) {
		/* the copy left on the old host, saved state and all */
		struct cerr rmerr = { 0 };

		if (hv_connect(r->uri, &hv, &rmerr) == 0)
			vm_act_remove(hv, r->uuid, NULL, &rmerr);
		hv_close(hv);
		hv = NULL;
		snprintf(detail, sizeof(detail), "host '%s' could not take it "
		    "back; booted afresh on host '%s', its saved state on "
		    "'%s' dropped%s%s", r->host, dname, r->host,
		    rmerr.code ? " (left for reconcile: " : "",
		    rmerr.code ? "unreachable)" : "");
	}
	if (vm_record(ctx, r, VM_STATE_DEPLOYING, VM_STATE_RUNNING, -1, NULL,
	    "start", err))
		goto out;
	if (!back && (catalog_begin(ctx->cat, err) || acct_audit(ctx, "start",
	    "VM", r->id, r->name, detail, err) || catalog_commit(ctx->cat,
	    err))) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	if (!back) {
		struct cerr ignored = { 0 };

		net_host_gc(ctx, home, &ignored);
	}
	vm_show_id(ctx, r->id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	free(dname);
	free(duri);
	free(daddr);
	free(dtype);
	return err->code;
}

int
vm_start(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err)
{
	struct vmrow r = { 0 };

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_load(ctx, ref, &r, err) == 0 &&
	    r.state == VM_STATE_STOPPED && r.host_id) {
		vm_start_stopped(ctx, &r, out, err);
		vm_row_release(&r);
		return err->code;
	}
	catalog_rollback(ctx->cat);
	vm_row_release(&r);
	if (err->code)
		return err->code;
	return vm_act(ctx, ref, &act_start, o, out, err);
}

/* Resize: the new size is recorded first (holding the host's capacity,
 * with target 'resize' so a reconcile pass can finish a killed one), then
 * applied to the domain, then confirmed or put back. */
int
vm_resize(struct ctx *ctx, const char *ref, int cpu, long long memory,
    struct doc **out, struct cerr *err)
{
	static const unsigned resizable = VM_STATE_BIT(VM_STATE_PENDING) |
	    VM_STATE_BIT(VM_STATE_HOLD) | VM_STATE_BIT(VM_STATE_POWEROFF) |
	    VM_STATE_BIT(VM_STATE_RUNNING) | VM_STATE_BIT(VM_STATE_SUSPENDED) |
	    VM_STATE_BIT(VM_STATE_FAILED);
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	char now[32], detail[128];
	int ncpu, room = 1;
	long long nmem;

	if (cpu == 0 && memory == 0)
		return cerr_set(err, CERR_USAGE, "resize needs --cpu or "
		    "--memory");
	if (cpu < 0 || cpu > VM_MAX_CPU)
		return cerr_set(err, CERR_USAGE, "invalid cpu %d (1 to %d)",
		    cpu, VM_MAX_CPU);
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_load(ctx, ref, &r, err))
		goto fail;
	if (!(resizable & VM_STATE_BIT(r.state))) {
		cerr_set(err, CERR_CONFLICT, "cannot resize vm '%s': it is %s "
		    "(resize needs pending, hold, poweroff, running, suspended "
		    "or failed%s)", r.name, vm_state_name(r.state),
		    r.state == VM_STATE_STOPPED ? "; its saved memory "
		    "has the old size, so start it first" : "");
		goto fail;
	}
	ncpu = cpu ? cpu : r.cpu;
	nmem = memory ? memory : r.memory;
	if (ncpu == r.cpu && nmem == r.memory) {
		catalog_rollback(ctx->cat);
		goto done;	/* nothing to change */
	}
	if (r.host_id && (ncpu > r.cpu || nmem > r.memory)) {
		/* the growth must fit on the host */
		if (catalog_query(ctx->cat, &st, err, "SELECT "
		    HOST_FREE_CPU " >= ?2 AND " HOST_FREE_MEMORY " >= ?3 "
		    "FROM hosts h WHERE h.id = ?1", "iii", r.host_id,
		    (long long)(ncpu > r.cpu ? ncpu - r.cpu : 0),
		    nmem > r.memory ? nmem - r.memory : 0))
			goto fail;
		if (cstmt_row(st, err))
			room = (int)cstmt_int(st, 0);
		cstmt_free(st);
		if (err->code)
			goto fail;
		if (!room) {
			cerr_set(err, CERR_CAPACITY, "host '%s' has no room to "
			    "grow vm '%s' to cpu %d, memory %lld MiB", r.host,
			    r.name, ncpu, nmem);
			goto fail;
		}
	}
	catalog_now(now);
	if (ncpu == r.cpu)
		snprintf(detail, sizeof(detail), "memory %lld -> %lld MiB",
		    r.memory, nmem);
	else if (nmem == r.memory)
		snprintf(detail, sizeof(detail), "cpu %d -> %d", r.cpu, ncpu);
	else
		snprintf(detail, sizeof(detail), "cpu %d -> %d, memory %lld -> "
		    "%lld MiB", r.cpu, ncpu, r.memory, nmem);
	if (catalog_exec(ctx->cat, err, "UPDATE vms SET cpu = ?, memory = ?, "
	    "updated = ?, target = CASE WHEN host_id IS NULL THEN NULL ELSE "
	    "'resize' END, intent_pid = CASE WHEN host_id IS NULL THEN NULL "
	    "ELSE ? END, intent_owner = CASE WHEN host_id IS NULL THEN NULL "
	    "ELSE nullif(?, '') END, error = NULL WHERE id = ?", "iisisi",
	    (long long)ncpu, nmem, now, (long long)getpid(), owner_self(),
	    r.id) ||
	    acct_audit(ctx, "resize", "VM", r.id, r.name, detail, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	if (r.host_id == 0)
		goto done;
	fault_point("vm.intent");
	if (hv_connect(r.uri, &hv, &hverr) == 0)
		hv_resize(hv, r.uuid, ncpu, nmem, &hverr);
	hv_close(hv);
	fault_point("vm.outcome");
	if (hverr.code && hverr.code != CERR_UNREACHABLE &&
	    r.state != VM_STATE_POWEROFF && r.state != VM_STATE_FAILED) {
		struct cerr why = hverr;

		cerr_clear(&hverr);
		cerr_set(&hverr, CERR_CONFLICT, "cannot resize vm '%s' while "
		    "it is %s (power it off first): %s", r.name,
		    vm_state_name(r.state), why.msg);
	} else if (hverr.code) {
		cerr_wrap(&hverr, "cannot resize vm '%s' on host '%s'", r.name,
		    r.host);
	}
	/* outcome: confirmed, or the old size back */
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (hverr.code)
		snprintf(detail, sizeof(detail), "back to cpu %d, memory %lld "
		    "MiB", r.cpu, r.memory);
	if (catalog_exec(ctx->cat, err, "UPDATE vms SET cpu = ?, memory = ?, "
	    "updated = ?, target = NULL, intent_pid = NULL, intent_owner = "
	    "NULL WHERE id = ?",
	    "iisi", (long long)(hverr.code ? r.cpu : ncpu),
	    hverr.code ? r.memory : nmem, now, r.id) ||
	    (hverr.code && acct_audit(ctx, "resize", "VM", r.id, r.name,
	    hverr.msg, err)) || catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	if (hverr.code) {
		cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
done:
	vm_show_id(ctx, r.id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	vm_row_release(&r);
	return err->code;
}

int
vm_console(struct ctx *ctx, const char *ref, int in, int out, bool force,
    struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr why = { 0 };
	int held = 0;

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (r.state != VM_STATE_RUNNING)
		cerr_set(err, CERR_CONFLICT, "cannot open the console of vm "
		    "'%s': it is %s (console needs running)", r.name,
		    vm_state_name(r.state));
	else if (hv_console(r.uri, r.uuid, in, out, VM_CONSOLE_ESCAPE, force,
	    &held, &why) && held)
		cerr_set(err, CERR_CONFLICT, "cannot open the console of vm "
		    "'%s' on host '%s': %s (--force takes it over)", r.name,
		    r.host, why.msg);
	else if (why.code)
		cerr_set(err, why.code, "vm '%s' on host '%s': %s", r.name,
		    r.host, why.msg);
	vm_row_release(&r);
	return err->code;
}
