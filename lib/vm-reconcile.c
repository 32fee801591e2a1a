/*
 * vm-reconcile.c - service: reconcile.  Brings the catalog and the hosts'
 * domains into agreement: finishes or rolls back the actions a killed
 * command left half done, follows domains changed behind cloudos's back,
 * restarts HA VMs, and removes what no VM owns (seeds, disks, filters,
 * cached images).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acct.h"
#include "catalog.h"
#include "hv.h"
#include "net.h"
#include "owner.h"
#include "secgroup.h"
#include "vm.h"
#include "vm-int.h"
#include "xalloc.h"
#include "yml.h"
#include "compat.h"

/* Reconcile. */

struct domain_seen {
	char uuid[40];
	char *name;
	enum hv_state state;
	bool known;
};

struct domain_set {
	struct domain_seen *v;
	size_t n, cap;
};

static void
domain_add(void *arg, const char *uuid, const char *name,
    enum hv_state state)
{
	struct domain_set *ds = arg;

	xgrow(&ds->v, &ds->cap, ds->n + 1, sizeof(*ds->v));
	snprintf(ds->v[ds->n].uuid, sizeof(ds->v[ds->n].uuid), "%s", uuid);
	ds->v[ds->n].name = xstrdup(name ? name : "?");
	ds->v[ds->n].state = state;
	ds->v[ds->n].known = false;
	ds->n++;
}

static void
domain_set_release(struct domain_set *ds)
{
	size_t i;

	for (i = 0; i < ds->n; i++)
		free(ds->v[i].name);
	free(ds->v);
	memset(ds, 0, sizeof(*ds));
}

bool
vm_reconcile_transitional(enum vm_state s)
{
	return s == VM_STATE_DEPLOYING || s == VM_STATE_SHUTTING_DOWN ||
	    s == VM_STATE_MIGRATING;
}

static enum vm_state
state_for(enum hv_state hs)
{
	return hs == HV_RUNNING ? VM_STATE_RUNNING : hs == HV_PAUSED ?
	    VM_STATE_SUSPENDED : hs == HV_CRASHED ? VM_STATE_FAILED :
	    VM_STATE_POWEROFF;
}

/* The state the action in flight on r aims for (its target), NONE when
 * it aims for none (a resize, or nothing in flight). */
static enum vm_state
target_state(const struct vmrow *r)
{
	enum vm_state s = VM_STATE_NONE;

	if (r->target)
		vm_state_parse(r->target, &s);
	return s;
}

typedef void (*note_fn)(struct ctx *, const char *);

/* Whether the action in flight on r is to be left to the process that
 * runs it: its owner (owner.h) still runs, or runs on another machine, or
 * cannot be judged from here (said through note, as for a host that does
 * not answer).  A dead owner, or this process (reconcile --force took
 * it over), leaves the action to this pass. */
static bool
intent_held(struct ctx *ctx, const struct vmrow *r, note_fn note)
{
	struct cerr e = { 0 };
	struct cstmt *st = NULL;
	char *owner = NULL, host[128], msg[1200];
	enum owner_verdict v;

	if (r->intent_pid <= 0)
		return false;
	if (catalog_query(ctx->cat, &st, &e, "SELECT intent_owner FROM vms "
	    "WHERE id = ?", "i", r->id) == 0 && cstmt_row(st, &e))
		owner = vm_dup_or_null(cstmt_text(st, 0));
	cstmt_free(st);
	v = owner_judge(r->intent_pid, owner);
	if (note && (v == OWNER_ELSEWHERE || v == OWNER_UNSURE)) {
		owner_host(owner, host, sizeof(host));
		if (v == OWNER_ELSEWHERE)
			snprintf(msg, sizeof(msg), "vm '%s': it is %s by "
			    "process %lld on another machine ('%s'), which "
			    "cannot be judged from here; left alone "
			    "(reconcile --force takes it over)", r->name,
			    vm_state_name(r->state), r->intent_pid, host);
		else
			snprintf(msg, sizeof(msg), "vm '%s': it is %s by "
			    "process %lld in a pid namespace this process may "
			    "not look into; left alone (reconcile --force "
			    "takes it over)", r->name,
			    vm_state_name(r->state), r->intent_pid);
		note(ctx, msg);
	}
	free(owner);
	return v == OWNER_ALIVE || v == OWNER_ELSEWHERE || v == OWNER_UNSURE;
}

/* How long reconcile waits for libvirt to finish what it is doing with a
 * domain (a start, a migration in or out, a save) whose command died:
 * libvirt ends those on its own. */
#define SETTLE_STEPS 100	/* of 100 ms */

/* Wait for that; *d is the domain afterwards.  Returns 0, -1 when libvirt
 * is at it still (leave the VM for the next pass), or an error code. */
static int
dom_settle(struct hv *hv, const char *uuid, struct hv_dom *d,
    struct cerr *err)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int i;

	for (i = 0;; i++) {
		if (hv_dom_state(hv, uuid, d, err))
			return err->code;
		if (!d->job && d->why != HV_WHY_STARTING)
			return 0;
		if (i == SETTLE_STEPS)
			return -1;
		nanosleep(&pause, NULL);
	}
}

static void
note_in_flight(struct ctx *ctx, note_fn note, const struct vmrow *r,
    const char *host)
{
	char msg[1200];

	if (note == NULL)
		return;
	snprintf(msg, sizeof(msg), "vm '%s': libvirt is still starting or "
	    "moving its domain on host '%s'; left for the next pass",
	    r->name, host ? host : "?");
	note(ctx, msg);
}

/* A migration whose command died: where is the guest now?  The
 * destination has it when its domain runs there, or is paused for a
 * reason of its own (not an incoming migration that has not finished,
 * and no job holds it), or when the source has no domain left: finish
 * there (drop what is left on the source).  Else the guest is still on
 * the source: roll back (drop the copy on the destination, inactive or
 * paused for a migration that can no longer finish), resume the source
 * if the migration paused it, and record what it is.  Nowhere: failed.
 * A running guest is never what goes. */
static int
reconcile_migration(struct ctx *ctx, struct hv *src, struct vmrow *r,
    note_fn note, bool *changed, struct cerr *err)
{
	struct cerr hverr = { 0 };
	struct cstmt *st = NULL;
	struct hv *dst = NULL;
	struct hv_dom sd = { HV_ABSENT, HV_WHY_OTHER, 0 };
	struct hv_dom dd = { HV_ABSENT, HV_WHY_OTHER, 0 };
	enum vm_state want;
	const char *why = NULL;
	long long host = -1;
	char *duri = NULL, *dname = NULL;
	int rc;

	if (r->target_host && catalog_query(ctx->cat, &st, err, "SELECT uri, "
	    "name FROM hosts WHERE id = ?", "i", r->target_host) == 0) {
		if (cstmt_row(st, err)) {
			duri = xstrdup(cstmt_text(st, 0));
			dname = xstrdup(cstmt_text(st, 1));
		}
		cstmt_free(st);
	}
	if (err->code)
		goto out;
	if (duri && (hv_connect(duri, &dst, &hverr) ||
	    hv_dom_state(dst, r->uuid, &dd, &hverr)))
		goto out;	/* destination unreachable: try next pass */
	if (hv_dom_state(src, r->uuid, &sd, &hverr))
		goto out;
	if (dd.state != HV_ABSENT && sd.state == HV_ABSENT) {
		/* only the destination has it: once libvirt is done */
		if ((rc = dom_settle(dst, r->uuid, &dd, &hverr)) != 0) {
			if (rc < 0)
				note_in_flight(ctx, note, r, dname);
			goto out;
		}
	}
	if (dd.state == HV_RUNNING || (dd.state == HV_PAUSED &&
	    dd.why == HV_WHY_OTHER && !dd.job) ||
	    (dd.state != HV_ABSENT && sd.state == HV_ABSENT)) {
		if (sd.state != HV_ABSENT && vm_act_remove(src, r->uuid, NULL,
		    &hverr))
			goto out;
		want = state_for(dd.state);
		host = r->target_host;
	} else if (sd.state != HV_ABSENT) {
		if (dd.state != HV_ABSENT && vm_act_remove(dst, r->uuid, NULL,
		    &hverr))
			goto out;
		/* the source's side of the migration ends with it (libvirt
		 * resumes a guest it paused when the migration fails) */
		if ((rc = dom_settle(src, r->uuid, &sd, &hverr)) != 0) {
			if (rc < 0)
				note_in_flight(ctx, note, r, r->host);
			goto out;
		}
		/* paused by the migration, and not resumed: it ran before
		 * (the intent's target is the state it had) */
		if (sd.state == HV_PAUSED && sd.why == HV_WHY_MIGRATION &&
		    target_state(r) == VM_STATE_RUNNING &&
		    (hv_resume(src, r->uuid, &hverr) ||
		    hv_dom_state(src, r->uuid, &sd, &hverr)))
			goto out;
		if (sd.state == HV_ABSENT) {
			want = VM_STATE_FAILED;
			host = 0;
			why = "the domain is gone from both hosts of its "
			    "migration";
		} else {
			want = state_for(sd.state);
		}
	} else {
		want = VM_STATE_FAILED;
		host = 0;
		why = "the domain is gone from both hosts of its migration";
	}
	if (vm_record(ctx, r, VM_STATE_MIGRATING, want, host, why, "reconcile",
	    err) == 0)
		*changed = true;
	else if (err->code == CERR_CONFLICT)
		cerr_clear(err);
out:
	hv_close(dst);
	free(duri);
	free(dname);
	return err->code;
}

/* Whether r's document asks for HA restarts (ha: restart). */
static bool
vm_ha(const struct vmrow *r)
{
	struct doclist dl = { 0 };
	struct cerr e = { 0 };
	const char *ha;
	bool on = false;

	if (r->spec && yml_read("spec", r->spec, strlen(r->spec), &dl, &e) == 0
	    && dl.n == 1 && (ha = doc_get_str(dl.v[0], "ha")) != NULL)
		on = strcmp(ha, "restart") == 0;
	doclist_release(&dl);
	return on;
}

/* HA on the VM's own host: a crashed domain is started again, a vanished
 * one defined again from the catalog.  Records running, or failed with
 * the reason the restart did not work. */
static int
ha_restart(struct ctx *ctx, struct hv *hv, struct vmrow *r, enum hv_state hs,
    bool *changed, struct cerr *err)
{
	struct cerr hverr = { 0 };
	const char *why = hs == HV_CRASHED ? "the domain crashed" :
	    "the domain vanished from its host";
	char msg[1100];

	if (hs == HV_CRASHED)
		hv_start(hv, r->uuid, &hverr);
	else
		vm_act_deploy(ctx, r, &hverr);
	if (hverr.code)
		snprintf(msg, sizeof(msg), "%s; HA restart failed: %s", why,
		    hverr.msg);
	else
		snprintf(msg, sizeof(msg), "%s; HA restarted it on host '%s'",
		    why, r->host);
	if (vm_record(ctx, r, r->state, hverr.code ? VM_STATE_FAILED :
	    VM_STATE_RUNNING, hverr.code && hs == HV_ABSENT ? 0 : -1,
	    hverr.code ? msg : NULL, "reconcile", err) ||
	    (!hverr.code && catalog_begin(ctx->cat, err) == 0 &&
	    (acct_audit(ctx, "ha", "VM", r->id, r->name, msg, err) ||
	    catalog_commit(ctx->cat, err)))) {
		catalog_rollback(ctx->cat);
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			return 0;
		}
		return err->code;
	}
	*changed = true;
	return 0;
}

/* HA off a host in error that does not answer: the VM is deployed afresh
 * on another enabled host with room (intent first, target_host naming
 * the old host); the copy on the old host is destroyed by the first
 * pass that reaches it again. */
static int
ha_move(struct ctx *ctx, struct vmrow *r, bool *changed, struct cerr *err)
{
	struct cerr hverr = { 0 };
	struct vmrow d;
	char *dname = NULL, *duri = NULL, *daddr = NULL, *dtype = NULL;
	enum vm_state from = r->state;
	char msg[1200];
	long long old = r->host_id, dest = 0;
	bool rebuilt;

	{
		struct vmdisk *disks = NULL;
		size_t n = 0, i;
		struct cerr e = { 0 };

		if (vm_disk_load(ctx, r->id, &disks, &n, err))
			return err->code;
		/* a blank disk's data is on the silent host: the VM waits
		 * for it; disks cloned from images are cloned afresh on the
		 * new host (what the guest wrote to them stays behind, as
		 * when an instance is evacuated without shared storage) */
		for (i = 0; i < n; i++)
			if (disks[i].image_id == 0)
				break;
		rebuilt = n > 0;
		vm_disk_free(disks, n);
		if (i < n)
			return 0;
		if (vm_migrate_no_volumes(ctx, r, "move", &e))
			return 0;	/* and so are its volumes */
	}
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_migrate_dest(ctx, r, NULL, old, &dest, &dname, &duri, &daddr,
	    err) ||
	    (dtype = vm_migrate_domain_type(ctx, dest, err)) == NULL ||
	    vm_intent(ctx, r, from, VM_STATE_DEPLOYING, VM_STATE_RUNNING, dest,
	    "ha", err) ||
	    catalog_exec(ctx->cat, err, "UPDATE vms SET target_host = ? WHERE "
	    "id = ?", "ii", old, r->id) || catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		if (err->code == CERR_CAPACITY || err->code == CERR_CONFLICT) {
			/* nowhere to go: it stays as it is, said once */
			cerr_clear(err);
		}
		goto out;
	}
	d = *r;
	d.uri = duri;
	d.domain_type = dtype;
	d.host = dname;
	d.host_id = dest;
	vm_act_deploy(ctx, &d, &hverr);
	if (hverr.code)
		snprintf(msg, sizeof(msg), "host '%s' is in error; HA restart "
		    "on host '%s' failed: %s", r->host, dname, hverr.msg);
	else
		snprintf(msg, sizeof(msg), "host '%s' is in error; HA "
		    "restarted it on host '%s'%s", r->host, dname, rebuilt ?
		    ", its disks cloned afresh from their images" : "");
	if (vm_record(ctx, r, VM_STATE_DEPLOYING, hverr.code ?
	    VM_STATE_FAILED : VM_STATE_RUNNING, hverr.code ? 0 : -1,
	    hverr.code ? msg : NULL, "reconcile", err) == 0 && !hverr.code &&
	    catalog_begin(ctx->cat, err) == 0) {
		if (acct_audit(ctx, "ha", "VM", r->id, r->name, msg, err) ||
		    catalog_commit(ctx->cat, err))
			catalog_rollback(ctx->cat);
	}
	if (err->code == 0)
		*changed = true;
out:
	free(dname);
	free(duri);
	free(daddr);
	free(dtype);
	return err->code;
}

/* Remove, if it can, the copy a start that moved VM r left on its old
 * host (r->target_host); else the next pass finds it stale. */
static void
drop_old_copy(struct ctx *ctx, const struct vmrow *r)
{
	struct cerr e = { 0 };
	struct cstmt *st = NULL;
	struct hv *hv = NULL;

	if (catalog_query(ctx->cat, &st, &e, "SELECT uri FROM hosts WHERE "
	    "id = ?", "i", r->target_host) == 0 && cstmt_row(st, &e) &&
	    hv_connect(cstmt_text(st, 0), &hv, &e) == 0)
		vm_act_remove(hv, r->uuid, NULL, &e);
	hv_close(hv);
	cstmt_free(st);
}

/* A start that was moving a stopped VM to another host died before the
 * domain appeared there: if the copy with the saved state is still on
 * the old host (r->target_host), the VM is stopped there again.  Returns
 * -1 when that does not apply (the caller goes on), else 0 or an error. */
static int
reconcile_unstart(struct ctx *ctx, struct vmrow *r, bool *changed,
    struct cerr *err)
{
	struct cerr hverr = { 0 };
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	enum hv_state hs = HV_ABSENT;
	char *uri = NULL;
	int rc = -1;

	if (catalog_query(ctx->cat, &st, err, "SELECT uri FROM hosts WHERE "
	    "id = ?", "i", r->target_host))
		return err->code;
	if (cstmt_row(st, err))
		uri = xstrdup(cstmt_text(st, 0));
	cstmt_free(st);
	if (uri && hv_connect(uri, &hv, &hverr) == 0 &&
	    hv_state(hv, r->uuid, &hs, &hverr) == 0 && hs == HV_SHUTOFF) {
		rc = 0;
		if (vm_record(ctx, r, VM_STATE_DEPLOYING, VM_STATE_STOPPED,
		    r->target_host, "a start was interrupted; the VM is "
		    "stopped on its old "
		    "host again", "reconcile", err) == 0)
			*changed = true;
		else if (err->code == CERR_CONFLICT)
			cerr_clear(err);
	}
	hv_close(hv);
	free(uri);
	return rc ? rc : err->code;
}

/* A resize whose command died after recording the new size: apply it
 * (the catalog's size is the one holding the host's capacity). */
static int
reconcile_resize(struct ctx *ctx, struct hv *hv, struct vmrow *r,
    bool *changed, struct cerr *err)
{
	struct cerr hverr = { 0 };
	char now[32];

	hv_resize(hv, r->uuid, r->cpu, r->memory, &hverr);
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (catalog_exec(ctx->cat, err, "UPDATE vms SET target = NULL, "
	    "intent_pid = NULL, intent_owner = NULL, updated = ?, error = ? "
	    "WHERE id = ? AND "
	    "target = 'resize'", "ssi", now, hverr.code ? hverr.msg : NULL,
	    r->id) || acct_audit(ctx, "reconcile", "VM", r->id, r->name,
	    hverr.code ? hverr.msg : "an interrupted resize finished", err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		return err->code;
	}
	*changed = true;
	return 0;
}

/* Bring one VM and its domain (state hs on the reachable host hv) into
 * agreement.  *changed says whether anything was recorded. */
static int
reconcile_vm(struct ctx *ctx, struct hv *hv, struct vmrow *r,
    enum hv_state hs, note_fn note, bool *changed, struct cerr *err)
{
	struct cerr hverr = { 0 };
	enum vm_state want = VM_STATE_NONE;
	const char *why = NULL;
	long long host = -1;

	*changed = false;
	if (vm_reconcile_transitional(r->state)) {
		enum vm_state target = target_state(r);

		if (intent_held(ctx, r, note))
			return 0;	/* still in flight */
		/* the command died: finish what it began */
		if (r->state == VM_STATE_MIGRATING)
			return reconcile_migration(ctx, hv, r, note, changed,
			    err);
		/* libvirt goes on with what it was asked (a start ends
		 * running though its caller died): what it ends with is
		 * the domain's state, not what it is half way */
		if (hs != HV_ABSENT && target != VM_STATE_DONE) {
			struct hv_dom d;
			int rc = dom_settle(hv, r->uuid, &d, &hverr);

			if (rc < 0)
				note_in_flight(ctx, note, r, r->host);
			if (rc)
				return 0;	/* try again next pass */
			hs = d.state;
		}
		if (target == VM_STATE_RUNNING && r->target_host &&
		    r->state == VM_STATE_DEPLOYING) {
			/* a start moving a stopped VM to another host */
			if (hs != HV_ABSENT)
				drop_old_copy(ctx, r);
			else if (reconcile_unstart(ctx, r, changed, err) != -1)
				return err->code;
		}
		if (target == VM_STATE_DONE) {
			if (vm_act_remove(hv, r->uuid, NULL, &hverr) == 0) {
				want = VM_STATE_DONE;
				host = 0;
			}
		} else if (hs == HV_ABSENT) {
			want = VM_STATE_FAILED;
			host = 0;
			why = "the domain is gone from its host (an action was "
			    "interrupted)";
		} else if (target == VM_STATE_STOPPED) {
			/* saved already, or save it now */
			if (hv_save(hv, r->uuid, &hverr) == 0) {
				want = VM_STATE_STOPPED;
			} else if (hverr.code == CERR_CONFLICT) {
				cerr_clear(&hverr);
				want = VM_STATE_POWEROFF;
				why = "a stop was interrupted before the guest's "
				    "state was saved";
			}
		} else if (target == VM_STATE_POWEROFF) {
			if (hv_poweroff(hv, r->uuid, &hverr) == 0)
				want = VM_STATE_POWEROFF;
		} else if (target == VM_STATE_RUNNING) {
			struct hv_dom d;
			struct cerr e = { 0 };

			if (hs == HV_PAUSED)
				hv_resume(hv, r->uuid, &hverr);
			else if (hs != HV_RUNNING)
				hv_start(hv, r->uuid, &hverr);
			want = VM_STATE_RUNNING;
			/* failed: what the domain is now, not what the
			 * failure suggests (it may run all the same) */
			if (hverr.code && hv_dom_state(hv, r->uuid, &d, &e))
				want = VM_STATE_NONE;
			else if (hverr.code && d.state == HV_RUNNING)
				cerr_clear(&hverr);
			else if (hverr.code && d.state == HV_ABSENT) {
				want = VM_STATE_FAILED;
				host = 0;
			} else if (hverr.code)
				want = state_for(d.state);
		} else {
			want = hs == HV_RUNNING ? VM_STATE_RUNNING :
			    hs == HV_PAUSED ? VM_STATE_SUSPENDED :
			    VM_STATE_POWEROFF;
		}
		if (hverr.code) {
			if (want == VM_STATE_NONE)
				return 0;	/* try again next pass */
			why = hverr.msg;
		}
	} else {
		if (r->target && strcmp(r->target, "resize") == 0 &&
		    hs != HV_ABSENT && !intent_held(ctx, r, note))
			return reconcile_resize(ctx, hv, r, changed, err);
		switch (hs) {
		case HV_RUNNING: want = VM_STATE_RUNNING; break;
		case HV_PAUSED: {
			struct hv_dom d;
			struct cerr e = { 0 };

			/* paused while libvirt starts or moves it (a start or
			 * migration behind cloudos's back): not a result */
			if (hv_dom_state(hv, r->uuid, &d, &e) ||
			    d.state != HV_PAUSED || d.job ||
			    d.why == HV_WHY_STARTING)
				return 0;
			want = VM_STATE_SUSPENDED;
			break;
		}
		case HV_SHUTOFF:
			/* a stopped VM's domain is off, its state saved */
			want = r->state == VM_STATE_STOPPED ? VM_STATE_STOPPED :
			    VM_STATE_POWEROFF;
			break;
		case HV_CRASHED:
		case HV_ABSENT:
			if ((r->state == VM_STATE_RUNNING ||
			    r->state == VM_STATE_UNKNOWN ||
			    r->state == VM_STATE_SUSPENDED) && vm_ha(r))
				return ha_restart(ctx, hv, r, hs, changed, err);
			want = VM_STATE_FAILED;
			if (hs == HV_ABSENT) {
				host = 0;
				why = "the domain vanished from its host";
			} else {
				why = "the domain crashed";
			}
			break;
		default:
			return 0;
		}
		if (want == r->state)
			return 0;
	}
	if (vm_record(ctx, r, r->state, want, host, why, "reconcile", err)) {
		if (err->code == CERR_CONFLICT) {
			/* someone acted on it meanwhile: theirs wins */
			cerr_clear(err);
			return 0;
		}
		return err->code;
	}
	*changed = true;
	return 0;
}

struct name_set {
	char **v;
	size_t n, cap;
};

static void
name_add(void *arg, const char *name)
{
	struct name_set *ns = arg;

	xgrow(&ns->v, &ns->cap, ns->n + 1, sizeof(*ns->v));
	ns->v[ns->n++] = xstrdup(name);
}

/* Seeds on a host that no VM of the catalog has there (a deploy or a
 * migration killed half way leaves them): deleted.  A VM in flight to
 * the host has it as its host or its migration's target already. */
static int
reconcile_seeds(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, const struct domain_set *ds,
    void (*note)(struct ctx *, const char *), struct cerr *err)
{
	static const size_t uuid_len = 36;
	struct name_set ns = { 0 };
	struct cerr hverr = { 0 };
	char msg[1200];
	size_t i, n;

	if (hv_vols(hv, name_add, &ns, &hverr)) {
		snprintf(msg, sizeof(msg), "host '%s': %s", host, hverr.msg);
		note(ctx, msg);
		goto out;
	}
	for (i = 0; i < ns.n && err->code == 0; i++) {
		struct cstmt *q = NULL;
		char uuid[40];
		int ours;

		n = strlen(ns.v[i]);
		if (n != uuid_len + strlen(VM_SEED_SUFFIX) ||
		    strcmp(ns.v[i] + uuid_len, VM_SEED_SUFFIX) != 0)
			continue;	/* not a seed: not ours to judge */
		snprintf(uuid, sizeof(uuid), "%.*s", (int)uuid_len, ns.v[i]);
		/* a domain defined there owns it, whoever manages it
		 * (another catalog's VM is left alone, and so is its seed) */
		for (n = 0; n < ds->n; n++)
			if (strcmp(ds->v[n].uuid, uuid) == 0)
				break;
		if (n < ds->n)
			continue;
		if (catalog_query(ctx->cat, &q, err, "SELECT 1 FROM vms WHERE "
		    "uuid = ? AND state != 'done' AND (host_id = ?2 OR "
		    "target_host = ?2)", "si", uuid, host_id))
			break;
		ours = cstmt_row(q, err);
		cstmt_free(q);
		if (ours || err->code)
			continue;
		if (hv_vol_delete(hv, ns.v[i], &hverr))
			snprintf(msg, sizeof(msg), "host '%s': %s", host,
			    hverr.msg);
		else
			snprintf(msg, sizeof(msg), "host '%s': removed seed "
			    "volume '%s' of no VM on it", host, ns.v[i]);
		cerr_clear(&hverr);
		note(ctx, msg);
	}
out:
	for (i = 0; i < ns.n; i++)
		free(ns.v[i]);
	free(ns.v);
	return err->code;
}

/* Whether name is a VM's disk volume, UUID-sdX.qcow2; its UUID in uuid. */
static bool
disk_volume_uuid(const char *name, char uuid[40])
{
	static const size_t uuid_len = 36;
	size_t n = strlen(name);

	if (n != uuid_len + strlen("-sdb.qcow2") || name[uuid_len] != '-' ||
	    strncmp(name + uuid_len + 1, "sd", 2) != 0 ||
	    strcmp(name + n - 6, ".qcow2") != 0)
		return false;
	snprintf(uuid, 40, "%.*s", (int)uuid_len, name);
	return true;
}

/* Disk volumes (overlays of images, blank disks) in the host's pools that
 * no VM of the catalog has there and no domain defined there holds: what
 * a create, deploy or migration killed half way leaves.  Deleted. */
static int
reconcile_disks(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, const struct domain_set *ds,
    void (*note)(struct ctx *, const char *), struct cerr *err)
{
	struct pool_set ps = { 0 };
	struct cerr hverr = { 0 };
	char msg[1200];
	size_t i, j, n;

	if (hv_pools(hv, vm_disk_pool_add, &ps, &hverr)) {
		snprintf(msg, sizeof(msg), "host '%s': %s", host, hverr.msg);
		note(ctx, msg);
		return 0;
	}
	for (j = 0; j < ps.n && err->code == 0; j++) {
		struct name_set ns = { 0 };

		if (hv_pvols(hv, ps.v[j], name_add, &ns, &hverr))
			cerr_clear(&hverr);
		for (i = 0; i < ns.n && err->code == 0; i++) {
			struct cstmt *q = NULL;
			char uuid[40];
			int ours;

			if (!disk_volume_uuid(ns.v[i], uuid))
				continue;
			for (n = 0; n < ds->n; n++)
				if (strcmp(ds->v[n].uuid, uuid) == 0)
					break;
			if (n < ds->n)
				continue;
			if (catalog_query(ctx->cat, &q, err, "SELECT 1 FROM "
			    "vms WHERE uuid = ? AND state != 'done' AND "
			    "(host_id = ?2 OR target_host = ?2)", "si", uuid,
			    host_id))
				break;
			ours = cstmt_row(q, err);
			cstmt_free(q);
			if (ours || err->code)
				continue;
			if (hv_pvol_delete(hv, ps.v[j], ns.v[i], &hverr))
				snprintf(msg, sizeof(msg), "host '%s': %s",
				    host, hverr.msg);
			else
				snprintf(msg, sizeof(msg), "host '%s': removed "
				    "disk volume '%s' of no VM on it", host,
				    ns.v[i]);
			cerr_clear(&hverr);
			note(ctx, msg);
		}
		for (i = 0; i < ns.n; i++)
			free(ns.v[i]);
		free(ns.v);
	}
	vm_disk_pool_set_release(&ps);
	return err->code;
}

struct filter_names {
	char **v;
	size_t n, cap;
};

static void
filter_name_add(void *arg, const char *name)
{
	struct filter_names *f = arg;

	if (strncmp(name, SECGROUP_NIC_FILTER_PREFIX,
	    strlen(SECGROUP_NIC_FILTER_PREFIX)) != 0)
		return;
	xgrow(&f->v, &f->cap, f->n + 1, sizeof(*f->v));
	f->v[f->n++] = xstrdup(name);
}

/* NIC filters on the host that no NIC of a live VM there (or moving
 * there) names: left by a command killed between a domain's going and
 * its filters', or by an unreachable host.  One a domain still uses
 * stays (libvirt refuses). */
static int
reconcile_filters(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, void (*note)(struct ctx *, const char *),
    struct cerr *err)
{
	struct filter_names f = { 0 };
	struct cerr ignored = { 0 };
	char msg[256];
	size_t i;

	if (hv_nwfilters(hv, filter_name_add, &f, &ignored))
		return 0;	/* a driver without filters */
	for (i = 0; i < f.n && err->code == 0; i++) {
		struct cstmt *st = NULL;
		long long nic = atoll(f.v[i] +
		    strlen(SECGROUP_NIC_FILTER_PREFIX));
		bool live;

		if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM vm_nics n "
		    "JOIN vms v ON v.id = n.vm_id WHERE n.id = ?1 AND "
		    "v.state != 'done' AND (v.host_id = ?2 OR "
		    "v.target_host = ?2)", "ii", nic, host_id))
			break;
		live = cstmt_row(st, err);
		cstmt_free(st);
		if (live || err->code)
			continue;
		if (secgroup_nic_forget(ctx, hv, nic, &ignored) == 0) {
			snprintf(msg, sizeof(msg), "host '%s': removed network "
			    "filter '%s', which no NIC there uses", host,
			    f.v[i]);
			note(ctx, msg);
		}
		cerr_clear(&ignored);
	}
	for (i = 0; i < f.n; i++)
		free(f.v[i]);
	free(f.v);
	return err->code;
}

/* The host's image cache: an upload whose command died is removed (the
 * next disk that needs the image uploads it again), and so is the copy
 * of an image no longer in the repository. */
static int
reconcile_cache(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, void (*note)(struct ctx *, const char *),
    struct cerr *err)
{
	struct cstmt *st = NULL;
	struct name_set ns = { 0 };
	char msg[1200];
	size_t i;

	if (catalog_query(ctx->cat, &st, err, "SELECT c.checksum, c.volume, "
	    "c.state, COALESCE(c.pid, 0), c.owner, EXISTS (SELECT 1 FROM "
	    "images i "
	    "WHERE coalesce(i.checksum, i.sha256) = c.checksum) FROM "
	    "image_hosts c WHERE "
	    "c.host_id = ?", "i", host_id))
		return err->code;
	while (cstmt_row(st, err)) {
		bool dead = strcmp(cstmt_text(st, 2), "uploading") == 0 &&
		    vm_disk_owner_gone(cstmt_int(st, 3), cstmt_text(st, 4));

		if (!dead && cstmt_int(st, 5))
			continue;
		name_add(&ns, cstmt_text(st, 0));
		name_add(&ns, cstmt_text(st, 1));
	}
	cstmt_free(st);
	for (i = 0; i + 1 < ns.n && err->code == 0; i += 2) {
		struct cerr hverr = { 0 };

		if (hv_vol_delete(hv, ns.v[i + 1], &hverr)) {
			snprintf(msg, sizeof(msg), "host '%s': %s", host,
			    hverr.msg);
			note(ctx, msg);
			continue;
		}
		if (catalog_begin(ctx->cat, err))
			break;
		if (catalog_exec(ctx->cat, err, "DELETE FROM image_hosts WHERE "
		    "host_id = ? AND checksum = ?", "is", host_id, ns.v[i]) ||
		    catalog_commit(ctx->cat, err)) {
			catalog_rollback(ctx->cat);
			break;
		}
		snprintf(msg, sizeof(msg), "host '%s': removed cached image "
		    "volume '%s'", host, ns.v[i + 1]);
		note(ctx, msg);
	}
	for (i = 0; i < ns.n; i++)
		free(ns.v[i]);
	free(ns.v);
	return err->code;
}

/* Reconcile one host over hv, its connection, or with what connecting
 * to it said (conn_err) when it did not answer; *silent tells whether it
 * did not. */
static int
reconcile_host(struct ctx *ctx, long long host_id, const char *host,
    struct hv *hv, const struct cerr *conn_err, bool in_error, emit_fn emit,
    void (*note)(struct ctx *, const char *), bool *silent,
    struct cerr *err)
{
	struct domain_set ds = { 0 };
	struct cerr hverr = *conn_err;
	struct cstmt *st = NULL;
	long long *ids = NULL;
	size_t n = 0, cap = 0, i, j;
	char msg[1200];

	if (catalog_query(ctx->cat, &st, err, "SELECT id FROM vms WHERE "
	    "host_id = ? AND state != 'done' ORDER BY id", "i", host_id))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(&ids, &cap, n + 1, sizeof(*ids));
		ids[n++] = cstmt_int(st, 0);
	}
	cstmt_free(st);
	if (err->code)
		goto out;
	if (hverr.code || hv_domains(hv, domain_add, &ds, &hverr)) {
		snprintf(msg, sizeof(msg), "host '%s': %s", host, hverr.msg);
		note(ctx, msg);
		*silent = true;
	}
	for (i = 0; i < n && err->code == 0; i++) {
		struct vmrow r = { 0 };
		enum hv_state hs = HV_ABSENT;
		bool changed = false;
		char id[32];

		snprintf(id, sizeof(id), "%lld", ids[i]);
		if (vm_load(ctx, id, &r, err))
			break;
		for (j = 0; j < ds.n; j++) {
			if (strcmp(ds.v[j].uuid, r.uuid) == 0) {
				hs = ds.v[j].state;
				ds.v[j].known = true;
			}
		}
		if (hverr.code && in_error && (r.state == VM_STATE_RUNNING ||
		    r.state == VM_STATE_SUSPENDED ||
		    r.state == VM_STATE_UNKNOWN) && vm_ha(&r)) {
			/* its host is in error and still does not answer */
			ha_move(ctx, &r, &changed, err);
		} else if (hverr.code) {
			/* the host does not answer: what runs there is
			 * unknown until it does */
			if (!vm_reconcile_transitional(r.state) &&
			    r.state != VM_STATE_UNKNOWN &&
			    r.state != VM_STATE_FAILED &&
			    vm_record(ctx, &r, r.state, VM_STATE_UNKNOWN, -1,
			    hverr.msg, "reconcile", err) == 0)
				changed = true;
		} else {
			reconcile_vm(ctx, hv, &r, hs, note, &changed, err);
		}
		if (changed && err->code == 0) {
			struct doc *d = NULL;

			if (vm_show(ctx, id, &d, err) == 0)
				emit(ctx, d, err);
			doc_free(d);
		}
		vm_row_release(&r);
	}
	for (j = 0; j < ds.n && err->code == 0; j++) {
		struct cstmt *q = NULL;
		enum vm_state qs = VM_STATE_NONE;
		int ours = 0;

		if (ds.v[j].known)
			continue;
		/* a VM of this catalog recorded on another host, or none */
		if (catalog_query(ctx->cat, &q, err, "SELECT state, "
		    "intent_pid, name FROM vms WHERE uuid = ? AND state != "
		    "'done'", "s", ds.v[j].uuid))
			break;
		if ((ours = cstmt_row(q, err)))
			vm_state_parse(cstmt_text(q, 0), &qs);
		if (ours && (qs == VM_STATE_RUNNING ||
		    qs == VM_STATE_SUSPENDED) &&
		    (ds.v[j].state == HV_RUNNING ||
		    ds.v[j].state == HV_PAUSED)) {
			/* it runs elsewhere: this is what an HA restart
			 * left on a host that was in error and is back */
			struct cerr rmerr = { 0 };

			if (vm_act_remove(hv, ds.v[j].uuid, NULL, &rmerr) == 0)
				snprintf(msg, sizeof(msg), "host '%s': "
				    "duplicate of vm '%s' (it runs on another "
				    "host) destroyed", host, cstmt_text(q, 2));
			else
				snprintf(msg, sizeof(msg), "host '%s': "
				    "duplicate of vm '%s' left: %s", host,
				    cstmt_text(q, 2), rmerr.msg);
			note(ctx, msg);
		} else if (ours && !vm_reconcile_transitional(qs) &&
		    ds.v[j].state == HV_SHUTOFF) {
			/* an inactive copy its VM left behind (a start
			 * elsewhere that could not reach this host) */
			struct cerr rmerr = { 0 };

			if (vm_act_remove(hv, ds.v[j].uuid, NULL, &rmerr) == 0)
				snprintf(msg, sizeof(msg), "host '%s': stale "
				    "copy of vm '%s' removed", host,
				    cstmt_text(q, 2));
			else
				snprintf(msg, sizeof(msg), "host '%s': stale "
				    "copy of vm '%s' left: %s", host,
				    cstmt_text(q, 2), rmerr.msg);
			note(ctx, msg);
		}
		cstmt_free(q);
		if (ours)
			continue;
		snprintf(msg, sizeof(msg), "host '%s': domain '%s' (%s) is "
		    "not in the catalog; left alone", host, ds.v[j].name,
		    ds.v[j].uuid);
		note(ctx, msg);
	}
	if (hverr.code == 0 && err->code == 0 &&
	    reconcile_seeds(ctx, hv, host_id, host, &ds, note, err) == 0 &&
	    reconcile_disks(ctx, hv, host_id, host, &ds, note, err) == 0 &&
	    reconcile_cache(ctx, hv, host_id, host, note, err) == 0)
		reconcile_filters(ctx, hv, host_id, host, note, err);
	if (hverr.code == 0 && err->code == 0) {
		struct cerr ignored = { 0 };

		/* networks a killed command left on the host unused */
		net_host_gc(ctx, host_id, &ignored);
	}
out:
	domain_set_release(&ds);
	free(ids);
	return err->code;
}

/* reconcile --force: this process takes over the actions in flight on
 * the VMs refs name, whoever its recorded owner is (alive, on another
 * machine, in a namespace it cannot see); the pass then finishes or rolls
 * them back as for a dead owner.  All are found first: one that is
 * missing changes nothing.  A VM with nothing in flight is left as is. */
static int
reconcile_take(struct ctx *ctx, const char *const *refs, size_t n,
    struct cerr *err)
{
	char detail[256];
	size_t i;

	if (catalog_begin(ctx->cat, err))
		return err->code;
	for (i = 0; i < n; i++) {
		struct vmrow r = { 0 };

		if (vm_load(ctx, refs[i], &r, err))
			break;
		if (r.intent_pid > 0) {
			snprintf(detail, sizeof(detail), "took over its action "
			    "in flight (%s, process %lld)",
			    vm_state_name(r.state), r.intent_pid);
			if (catalog_exec(ctx->cat, err, "UPDATE vms SET "
			    "intent_pid = ?, intent_owner = nullif(?, '') "
			    "WHERE id = ?", "isi", (long long)getpid(),
			    owner_self(), r.id) == 0)
				acct_audit(ctx, "reconcile", "VM", r.id, r.name,
				    detail, err);
		}
		vm_row_release(&r);
		if (err->code)
			break;
	}
	if (err->code || catalog_commit(ctx->cat, err))
		catalog_rollback(ctx->cat);
	return err->code;
}

int
vm_reconcile_force(struct ctx *ctx, const char *const *refs, size_t n,
    emit_fn emit, void (*note)(struct ctx *, const char *),
    struct cerr *err)
{
	if (acct_require_admin(ctx, "reconcile", err) ||
	    reconcile_take(ctx, refs, n, err))
		return err->code;
	return vm_reconcile(ctx, emit, note, err);
}

/*
 * Every host is reconciled, one after the other, over connections opened
 * to all of them at once: a host that does not answer costs the host
 * timeout once (hv.h), not once per host, and leaves the others
 * reconciled; it is reported, and makes the run partial (exit 8), or
 * unreachable (exit 7) when no host answered.
 */
int
vm_reconcile(struct ctx *ctx, emit_fn emit,
    void (*note)(struct ctx *, const char *), struct cerr *err)
{
	struct cstmt *st = NULL;
	struct {
		long long id;
		char *name, *uri;
		bool in_error;
	} *hosts = NULL;
	const char **uris = NULL;
	struct hv **hvs = NULL;
	struct cerr *errs = NULL;
	size_t n = 0, cap = 0, i, nsilent = 0;

	if (acct_require_admin(ctx, "reconcile", err))
		return err->code;
	if (catalog_query(ctx->cat, &st, err, "SELECT id, name, uri, "
	    "state = 'error' FROM hosts ORDER BY id", ""))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(&hosts, &cap, n + 1, sizeof(*hosts));
		hosts[n].id = cstmt_int(st, 0);
		hosts[n].name = xstrdup(cstmt_text(st, 1));
		hosts[n].uri = xstrdup(cstmt_text(st, 2));
		hosts[n].in_error = cstmt_int(st, 3) != 0;
		n++;
	}
	cstmt_free(st);
	if (err->code)
		goto out;
	uris = xcalloc(n + 1, sizeof(*uris));
	hvs = xcalloc(n + 1, sizeof(*hvs));
	errs = xcalloc(n + 1, sizeof(*errs));
	for (i = 0; i < n; i++)
		uris[i] = hosts[i].uri;
	if (hv_connect_all(uris, n, hvs, errs) == CERR_USAGE) {
		cerr_set(err, CERR_USAGE, "%s", errs[0].msg);
		goto out;
	}
	for (i = 0; i < n && err->code == 0; i++) {
		bool silent = false;

		reconcile_host(ctx, hosts[i].id, hosts[i].name, hvs[i],
		    &errs[i], hosts[i].in_error, emit, note, &silent, err);
		/* done with it: a host is not kept waiting for the others */
		hv_close(hvs[i]);
		hvs[i] = NULL;
		nsilent += silent;
	}
	if (err->code == 0) {
		struct cerr sg = { 0 };

		/* security groups whose peers' addresses changed and whose
		 * filters a command could not bring up to date */
		if (secgroup_refresh_marked(ctx, &sg))
			note(ctx, sg.msg);
	}
	if (err->code == 0 && nsilent == n && n > 0)
		cerr_set(err, CERR_UNREACHABLE, "no host answered (%zu host%s)",
		    n, n == 1 ? "" : "s");
	else if (err->code == 0 && nsilent)
		cerr_set(err, CERR_PARTIAL, "%zu of %zu hosts did not answer",
		    nsilent, n);
out:
	for (i = 0; i < n; i++) {
		if (hvs)
			hv_close(hvs[i]);
		free(hosts[i].name);
		free(hosts[i].uri);
	}
	free(hvs);
	free(errs);
	free(uris);
	free(hosts);
	return err->code;
}
