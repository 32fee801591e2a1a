/*
 * vm-snapshot.c - service: a VM's snapshots, kept by the hypervisor
 * inside its qcow2 disks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acct.h"
#include "catalog.h"
#include "hv.h"
#include "valid.h"
#include "vm.h"
#include "vm-int.h"
#include "compat.h"

/* An audit event in its own transaction. */
static int
audit_now(struct ctx *ctx, const char *action, const char *kind,
    long long id, const char *name, const char *detail, struct cerr *err)
{
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (acct_audit(ctx, action, kind, id, name, detail, err) ||
	    catalog_commit(ctx->cat, err))
		catalog_rollback(ctx->cat);
	return err->code;
}

/* A VM for a snapshot action: placed, in a state that allows it, with a
 * disk to keep snapshots in; connects *hv to its host. */
static int
snapshot_vm(struct ctx *ctx, const char *ref, const char *verb,
    struct vmrow *r, struct hv **hv, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long disks = 0;

	if (vm_load(ctx, ref, r, err))
		return err->code;
	if (r->state != VM_STATE_RUNNING && r->state != VM_STATE_SUSPENDED &&
	    r->state != VM_STATE_POWEROFF)
		return cerr_set(err, CERR_CONFLICT, "cannot %s vm '%s': it is "
		    "%s (snapshots need running, suspended or poweroff)", verb,
		    r->name, vm_state_name(r->state));
	if (catalog_query(ctx->cat, &st, err, "SELECT count(*) FROM vm_disks "
	    "WHERE vm_id = ?", "i", r->id))
		return err->code;
	if (cstmt_row(st, err))
		disks = cstmt_int(st, 0);
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (disks == 0 && strcmp(verb, "list the snapshots of") != 0)
		return cerr_set(err, CERR_CONFLICT, "cannot %s vm '%s': it has "
		    "no disk to keep snapshots in (add one with 'cvm disk "
		    "attach')", verb, r->name);
	if (hv_connect(r->uri, hv, err))
		return cerr_wrap(err, "vm '%s'", r->name);
	return 0;
}

static struct doc *
snapshot_doc(const struct vmrow *r, const struct hv_snapshot *s)
{
	struct doc *d = doc_new(DOC_MAP);
	char when[32];
	time_t t = (time_t)s->created;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	doc_set_str(d, "kind", "Snapshot");
	/* its name: unique within its VM, what snapshot revert and delete
	 * take after the VM */
	doc_set_str(d, "id", s->name);
	doc_set_str(d, "name", s->name);
	doc_set_str(d, "vm", r->name);
	doc_set_int(d, "vm_id", r->id);
	doc_set_str(d, "created", when);
	/* libvirt's names of the states, as the VM's */
	doc_set_str(d, "state", strcmp(s->state, "shutoff") == 0 ?
	    vm_state_name(VM_STATE_POWEROFF) : strcmp(s->state, "paused") ==
	    0 ? vm_state_name(VM_STATE_SUSPENDED) : s->state);
	doc_map_set(d, "current", doc_new_bool(s->current != 0));
	return d;
}

int
vm_snapshot_create(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct hv *hv = NULL;
	struct hv_snapshot *all = NULL;
	size_t n = 0, i;

	if (valid_name("snapshot", name, err))
		return err->code;
	if (snapshot_vm(ctx, ref, "snapshot", &r, &hv, err) ||
	    hv_snapshot_create(hv, r.uuid, name, err) ||
	    hv_snapshot_list(hv, r.uuid, &all, &n, err)) {
		if (err->code == CERR_FAIL && strstr(err->msg, "already exists"))
			err->code = CERR_CONFLICT;
		goto out;
	}
	if (audit_now(ctx, "snapshot create", "VM", r.id, r.name, name,
	    err))
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(all[i].name, name) == 0)
			*out = snapshot_doc(&r, &all[i]);
out:
	free(all);
	hv_close(hv);
	vm_row_release(&r);
	return err->code;
}

int
vm_snapshot_list(struct ctx *ctx, const char *ref, emit_fn emit,
    struct cerr *err)
{
	struct vmrow r = { 0 };
	struct hv *hv = NULL;
	struct hv_snapshot *all = NULL;
	size_t n = 0, i;

	if (snapshot_vm(ctx, ref, "list the snapshots of", &r, &hv, err) ||
	    hv_snapshot_list(hv, r.uuid, &all, &n, err))
		goto out;
	for (i = 0; i < n; i++) {
		struct doc *d = snapshot_doc(&r, &all[i]);
		int rc = emit(ctx, d, err);

		doc_free(d);
		if (rc)
			break;
	}
out:
	free(all);
	hv_close(hv);
	vm_row_release(&r);
	return err->code;
}

int
vm_snapshot_revert(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	struct hv *hv = NULL;
	enum hv_state hs = HV_ABSENT;
	char detail[200];
	enum vm_state want;

	if (snapshot_vm(ctx, ref, "revert", &r, &hv, err))
		goto out;
	if (hv_snapshot_revert(hv, r.uuid, name, err))
		goto out;
	/* the domain is as the snapshot was: running, paused or off */
	hv_state(hv, r.uuid, &hs, &hverr);
	want = hs == HV_RUNNING ? VM_STATE_RUNNING : hs == HV_PAUSED ?
	    VM_STATE_SUSPENDED : VM_STATE_POWEROFF;
	snprintf(detail, sizeof(detail), "to snapshot '%s'", name);
	if (want != r.state)
		vm_record(ctx, &r, r.state, want, -1, NULL, "snapshot revert",
		    err);
	if (err->code == 0)
		audit_now(ctx, "snapshot revert", "VM", r.id, r.name,
		    detail, err);
	if (err->code == 0) {
		vm_show_id(ctx, r.id, out, err);
	}
out:
	hv_close(hv);
	vm_row_release(&r);
	return err->code;
}

int
vm_snapshot_delete(struct ctx *ctx, const char *ref, const char *name,
    struct cerr *err)
{
	struct vmrow r = { 0 };
	struct hv *hv = NULL;

	if (snapshot_vm(ctx, ref, "delete a snapshot of", &r, &hv, err) == 0 &&
	    hv_snapshot_delete(hv, r.uuid, name, err) == 0)
		audit_now(ctx, "snapshot delete", "VM", r.id, r.name, name,
		    err);
	if (err->code == CERR_NOTFOUND)
		cerr_wrap(err, "vm '%s'", r.name);
	hv_close(hv);
	vm_row_release(&r);
	return err->code;
}
