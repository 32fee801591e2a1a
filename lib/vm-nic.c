/*
 * vm-nic.c - service: a VM's NICs.  Their security groups' filters on the
 * VM's host, and NIC attach and detach.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "buf.h"
#include "catalog.h"
#include "domxml.h"
#include "fault.h"
#include "hv.h"
#include "net.h"
#include "secgroup.h"
#include "vm.h"
#include "vm-int.h"
#include "compat.h"

/* The security groups' filters of nics (n of them) on the host behind hv,
 * defined before a domain there names them; each NIC's filter name into
 * names[i] (names may be NULL; "" for a NIC in no group). */
int
vm_nic_filters(struct ctx *ctx, struct hv *hv, const struct net_nic *nics,
    size_t n, char (*names)[64], struct cerr *err)
{
	char scratch[64];
	size_t i;

	for (i = 0; i < n; i++)
		if (secgroup_nic_filter(ctx, hv, nics[i].id,
		    names ? names[i] : scratch, sizeof(scratch), err))
			return err->code;
	return 0;
}

/* Once vm_id's domain has left the host behind hv: its NICs' filters
 * go from there (best effort; reconcile finds what is left). */
void
vm_nic_filters_forget(struct ctx *ctx, struct hv *hv, long long vm_id)
{
	struct cerr ignored = { 0 };
	struct net_nic *nics = NULL;
	size_t n = 0, i;

	if (net_vm_nics(ctx, vm_id, &nics, &n, &ignored))
		return;
	for (i = 0; i < n; i++) {
		secgroup_nic_forget(ctx, hv, nics[i].id, &ignored);
		cerr_clear(&ignored);
	}
	net_nics_free(nics, n);
}

/* Peers' filters after NICs came or went (best effort: a group left
 * stale stays marked for reconcile). */
void
vm_nic_peers_refresh(struct ctx *ctx)
{
	struct cerr ignored = { 0 };

	if (!catalog_in_batch(ctx->cat))
		secgroup_refresh_marked(ctx, &ignored);
}

int
vm_nic_attach(struct ctx *ctx, const char *ref, const struct doc *nic,
    struct doc **out, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	struct doc *l = doc_new(DOC_LIST);
	struct hv *hv = NULL;
	struct net_nic c = { 0 };
	struct buf xml = BUF_INIT;
	char now[32], detail[64], idxs[16], filter[64] = "", *seed = NULL;
	size_t n;
	int idx = 0;

	doc_list_push(l, doc_copy(nic));
	if (net_nics_check(l, &n, err) || catalog_begin(ctx->cat, err))
		goto out;
	if (vm_load(ctx, ref, &r, err))
		goto fail;
	if (!vm_disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot attach a NIC to vm '%s': "
		    "it is %s (nic attach needs running, suspended, poweroff, "
		    "pending or hold)", r.name, vm_state_name(r.state));
		goto fail;
	}
	/* intent: the NIC, its MAC and leases are recorded first */
	catalog_now(now);
	if (net_nic_next(ctx, r.id, &idx, err) ||
	    net_nic_add(ctx, r.id, r.name, idx, l->u.list.v[0], err) ||
	    secgroup_mark_members(ctx, r.id, 0, err) ||
	    catalog_exec(ctx->cat, err, "UPDATE vms SET updated = ? WHERE "
	    "id = ?", "si", now, r.id))
		goto fail;
	snprintf(detail, sizeof(detail), "nic %d", idx);
	if (acct_audit(ctx, "nic attach", "VM", r.id, r.name, detail, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	if (r.host_id == 0)
		goto done;	/* made when the VM is deployed */
	fault_point("vm.intent");
	snprintf(idxs, sizeof(idxs), "%d", idx);
	if (net_vm_nic(ctx, r.id, idxs, &c, &hverr) == 0 &&
	    hv_connect(r.uri, &hv, &hverr) == 0 &&
	    net_host_ensure_vm(ctx, hv, r.host_id, r.id, &hverr) == 0 &&
	    secgroup_nic_filter(ctx, hv, c.id, filter, sizeof(filter),
	    &hverr) == 0) {
		struct domnic dn = { c.mac, c.libvirt, c.model,
		    c.idx % 2 + 1, filter };

		domxml_nic(&xml, &dn, strcmp(r.domain_type, "test") != 0);
		if (hv_device_attach(hv, r.uuid, xml.s, &hverr) == 0 &&
		    r.state != VM_STATE_STOPPED)
			/* the guest's network-config names the new NIC */
			vm_seed_upload(ctx, hv, &r, &seed, &hverr);
	}
	hv_close(hv);
	if (hverr.code) {
		struct cerr ignored = { 0 };

		/* not attached: the record goes again */
		cerr_wrap(&hverr, "cannot attach a NIC to vm '%s' on host "
		    "'%s'", r.name, r.host);
		if (catalog_begin(ctx->cat, err) == 0 &&
		    (catalog_exec(ctx->cat, err, "DELETE FROM vm_nics WHERE "
		    "vm_id = ? AND idx = ?", "ii", r.id, (long long)idx) ||
		    acct_audit(ctx, "nic attach", "VM", r.id, r.name,
		    hverr.msg, err) || catalog_commit(ctx->cat, err)))
			catalog_rollback(ctx->cat);
		net_host_gc(ctx, r.host_id, &ignored);
		vm_nic_peers_refresh(ctx);
		cerr_clear(err);
		cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
done:
	vm_nic_peers_refresh(ctx);
	vm_show_id(ctx, r.id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	free(seed);
	buf_release(&xml);
	net_nic_release(&c);
	doc_free(l);
	vm_row_release(&r);
	return err->code;
}

int
vm_nic_detach(struct ctx *ctx, const char *ref, const char *nic,
    struct doc **out, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	struct hv *hv = NULL;
	struct net_nic c = { 0 };
	struct buf xml = BUF_INIT;
	char now[32], detail[64], *seed = NULL;

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (!vm_disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot detach a NIC from vm "
		    "'%s': it is %s (nic detach needs running, suspended, "
		    "poweroff, pending or hold)", r.name,
		    vm_state_name(r.state));
		goto out;
	}
	if (net_vm_nic(ctx, r.id, nic, &c, err)) {
		if (err->code == CERR_NOTFOUND) {
			cerr_clear(err);
			cerr_set(err, CERR_NOTFOUND, "vm '%s' has no NIC '%s'",
			    r.name, nic);
		}
		goto out;
	}
	/* the device goes first, then the record: each step is a no-op
	 * when repeated */
	if (r.host_id) {
		struct domnic dn = { c.mac, c.libvirt, c.model,
		    c.idx % 2 + 1, NULL };

		domxml_nic(&xml, &dn, strcmp(r.domain_type, "test") != 0);
		if (hv_connect(r.uri, &hv, &hverr) == 0)
			hv_nic_detach(hv, r.uuid, xml.s, c.mac, &hverr);
		if (hverr.code) {
			cerr_wrap(&hverr, "cannot detach NIC %d from vm '%s' "
			    "on host '%s'", c.idx, r.name, r.host);
			cerr_set(err, hverr.code, "%s", hverr.msg);
			goto out;
		}
		fault_point("vm.outcome");
	}
	catalog_now(now);
	snprintf(detail, sizeof(detail), "nic %d (%s)", c.idx, c.mac);
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (secgroup_mark_members(ctx, r.id, c.id, err) ||
	    net_nic_remove(ctx, c.id, err) ||
	    catalog_exec(ctx->cat, err, "UPDATE vms SET updated = ? WHERE "
	    "id = ?", "si", now, r.id) ||
	    acct_audit(ctx, "nic detach", "VM", r.id, r.name, detail, err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	if (hv) {
		struct cerr ignored = { 0 };

		/* the seed without it; its filter; the host's network when
		 * unused */
		if (r.state != VM_STATE_STOPPED)
			vm_seed_upload(ctx, hv, &r, &seed, &ignored);
		cerr_clear(&ignored);
		secgroup_nic_forget(ctx, hv, c.id, &ignored);
		net_host_gc(ctx, r.host_id, &ignored);
	}
	vm_nic_peers_refresh(ctx);
	vm_show_id(ctx, r.id, out, err);
out:
	hv_close(hv);
	free(seed);
	buf_release(&xml);
	net_nic_release(&c);
	vm_row_release(&r);
	return err->code;
}
