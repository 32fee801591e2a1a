/*
 * vm-migrate.c - service: moving a VM to another host.  Choosing where it
 * may go, bringing its seed, images and disks there, and the move itself
 * (live, or of the definition when it is off).
 */
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "capacity.h"
#include "catalog.h"
#include "fault.h"
#include "fit.h"
#include "hv.h"
#include "net.h"
#include "valid.h"
#include "vm.h"
#include "vm-int.h"
#include "xalloc.h"
#include "compat.h"

/* cvol volumes live on one host: a VM with one attached stays there.
 * CERR_CONFLICT naming the first, for verb. */
int
vm_migrate_no_volumes(struct ctx *ctx, const struct vmrow *r, const char *verb,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, "SELECT name FROM volumes "
	    "WHERE vm_id = ? ORDER BY id LIMIT 1", "i", r->id))
		return err->code;
	if (cstmt_row(st, err))
		cerr_set(err, CERR_CONFLICT, "cannot %s vm '%s': volume '%s' "
		    "is attached to it and lives on host '%s' (cvol detach "
		    "it first)", verb, r->name, cstmt_text(st, 0),
		    r->host ? r->host : "?");
	cstmt_free(st);
	return err->code;
}

/* A host a VM may go to: enabled, not `exclude`, with room for r.  With
 * ref, only that host (by name or id).  Fills *id, *name, *uri and
 * *address (which may be NULL). */
int
vm_migrate_dest(struct ctx *ctx, const struct vmrow *r, const char *ref,
    long long exclude, long long *id, char **name, char **uri,
    char **address, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long rid = -1;
	int found;

	if (ref) {
		if (!valid_id(ref, &rid))
			rid = -1;
		if (catalog_query(ctx->cat, &st, err, "SELECT id, name, state "
		    "FROM hosts WHERE name = ? OR id = ?", "si", ref, rid))
			return err->code;
		if ((found = cstmt_row(st, err))) {
			rid = cstmt_int(st, 0);
			if (rid == exclude)
				cerr_set(err, CERR_CONFLICT, "vm '%s' is on "
				    "host '%s' already", r->name,
				    cstmt_text(st, 1));
			else if (strcmp(cstmt_text(st, 2), "enabled") != 0)
				cerr_set(err, CERR_CONFLICT, "host '%s' is %s",
				    cstmt_text(st, 1), cstmt_text(st, 2));
		}
		cstmt_free(st);
		if (err->code)
			return err->code;
		if (!found)
			return cerr_set(err, CERR_NOTFOUND, "no host '%s'",
			    ref);
		/* the datastores of its disks must be there too */
		if (catalog_query(ctx->cat, &st, err, "SELECT s.name FROM "
		    "vm_disks d JOIN datastores s ON s.id = d.datastore_id "
		    "WHERE d.vm_id = ? AND NOT EXISTS (SELECT 1 FROM "
		    "datastore_hosts x WHERE x.datastore_id = d.datastore_id "
		    "AND x.host_id = ?) LIMIT 1", "ii", r->id, rid))
			return err->code;
		if (cstmt_row(st, err))
			cerr_set(err, CERR_CONFLICT, "host '%s' does not have "
			    "datastore '%s', which vm '%s' has disks in", ref,
			    cstmt_text(st, 0), r->name);
		cstmt_free(st);
		if (err->code)
			return err->code;
	} else {
		/* the scheduler chooses, by the VM's own requirements,
		 * policy and group, among the hosts but its own */
		struct fit_req q = {
			.name = r->name, .cpu = r->cpu, .memory = r->memory,
			.disk = r->disk, .requirements = r->requirements,
			.policy = r->policy, .rank = r->rank,
			.group = r->group, .exclude = exclude, .vm_id = r->id,
		};

		if (fit_choose(ctx, &q, &rid, err))
			return err->code;
	}
	if (catalog_query(ctx->cat, &st, err,
	    "SELECT h.id, h.name, h.uri, h.migration_address FROM hosts h "
	    "WHERE h.state = 'enabled' AND h.id != ?3 AND (?4 < 0 OR "
	    "h.id = ?4) "
	    "AND " HOST_FREE_CPU " >= ?1 AND " HOST_FREE_MEMORY " >= ?2 "
	    "ORDER BY h.id LIMIT 1", "diii", r->cpu, r->memory, exclude, rid))
		return err->code;
	if ((found = cstmt_row(st, err))) {
		*id = cstmt_int(st, 0);
		*name = xstrdup(cstmt_text(st, 1));
		*uri = xstrdup(cstmt_text(st, 2));
		*address = vm_dup_or_null(cstmt_text(st, 3));
	}
	cstmt_free(st);
	if (err->code || found)
		return err->code;
	if (ref)
		return cerr_set(err, CERR_CAPACITY, "host '%s' has no room for "
		    "vm '%s' (cpu %d, memory %lld MiB)", ref, r->name, r->cpu,
		    r->memory);
	return cerr_set(err, CERR_CAPACITY, "no other host has room for vm "
	    "'%s' (cpu %d, memory %lld MiB)", r->name, r->cpu, r->memory);
}

/* Bring to dst (host dst_id, named dst_name) the images r's disks are
 * cloned from, and check that each sits at the path it has on src, where
 * the overlays' headers point (a domain off moves its overlays as they
 * are).  src may be NULL (not reachable, or not asked). */
static int
disks_bases(struct ctx *ctx, const struct vmrow *r, struct vmdisk *disks,
    size_t n, struct hv *src, struct hv *dst, long long dst_id,
    const char *dst_name, char **bases, char fmts[][16], struct cerr *err)
{
	struct cerr ignored = { 0 };
	char vol[96], *spath = NULL;
	size_t i;

	for (i = 0; i < n && err->code == 0; i++) {
		bases[i] = NULL;
		if (disks[i].image_id == 0)
			continue;
		if (vm_disk_image(ctx, dst, dst_id, dst_name,
		    disks[i].image_id, &bases[i], fmts[i], vol, err))
			break;
		if (src && hv_vol_path(src, vol, &spath, &ignored) == 0 &&
		    strcmp(spath, bases[i]) != 0)
			cerr_set(err, CERR_CONFLICT, "the image of disk %s of vm "
			    "'%s' is at '%s' on its host and '%s' on host '%s' "
			    "(storage pool '" HV_POOL "' is not at the same "
			    "path on both hosts)", disks[i].target, r->name,
			    spath, bases[i], dst_name);
		free(spath);
		spath = NULL;
		cerr_clear(&ignored);
	}
	return err->code;
}

/* Move r's domain to dst_uri (host dst_id).  Its seed goes first (a
 * domain, running or not, needs its CD-ROM's file at the same path on the
 * destination) and is deleted from the source once the domain has moved,
 * or from the destination when it has not.  Disks cloned from images
 * find their images on the destination first: a live move copies only
 * the overlays' own data (their top layer), a domain off moves the
 * overlays. */
static int
vm_move(struct ctx *ctx, const struct vmrow *r, struct vmdisk *disks,
    size_t ndisks, long long dst_id, const char *dst_name,
    const char *dst_uri, int live, const char *address, struct cerr *err)
{
	struct cerr ignored = { 0 };
	struct hv *src = NULL, *dst = NULL;
	char *dpath = NULL, *spath = NULL, **bases = NULL;
	char (*fmts)[16] = NULL;
	enum hv_state hs = HV_ABSENT;
	int copy = ndisks ? HV_COPY_DISKS : HV_COPY_NONE;
	struct net_nic *nics = NULL;
	size_t i, nnics = 0;

	bases = xcalloc(ndisks + 1, sizeof(*bases));
	fmts = xcalloc(ndisks + 1, sizeof(*fmts));
	/* its networks and its NICs' filters on the destination first */
	if (net_vm_nics(ctx, r->id, &nics, &nnics, err) ||
	    hv_connect(r->uri, &src, err) || hv_connect(dst_uri, &dst, err) ||
	    net_host_ensure_vm(ctx, dst, dst_id, r->id, err) ||
	    vm_nic_filters(ctx, dst, nics, nnics, NULL, err) ||
	    vm_seed_upload(ctx, dst, r, &dpath, err))
		goto out;
	if (dpath && hv_vol_path(src, strrchr(dpath, '/') + 1, &spath,
	    &ignored) == 0 && strcmp(spath, dpath) != 0) {
		cerr_set(err, CERR_CONFLICT, "the seed of vm '%s' would move "
		    "from '%s' to '%s' (storage pool '" HV_POOL "' is not at "
		    "the same path on both hosts)", r->name, spath, dpath);
		goto undo;
	}
	cerr_clear(&ignored);
	/* the disks: empty volumes (or overlays of the images) for the
	 * live copy to fill, or the volumes themselves when the domain is
	 * off */
	if (ndisks && hv_state(src, r->uuid, &hs, err))
		goto undo;
	if (disks_bases(ctx, r, disks, ndisks, hs == HV_RUNNING ||
	    hs == HV_PAUSED ? NULL : src, dst, dst_id, dst_name, bases, fmts,
	    err))
		goto undo;
	for (i = 0; i < ndisks && err->code == 0; i++) {
		if (bases[i])
			copy = HV_COPY_TOP;
		if (hs == HV_RUNNING || hs == HV_PAUSED) {
			if (bases[i] || strcmp(disks[i].pool, HV_POOL) != 0) {
				if (hv_pvol_delete(dst, disks[i].pool,
				    disks[i].volume, err) == 0)
					hv_pvol_create(dst, disks[i].pool,
					    disks[i].volume, disks[i].size,
					    bases[i], bases[i] ? fmts[i] : NULL,
					    NULL, err);
			} else {
				hv_vol_create(dst, disks[i].volume,
				    disks[i].size, NULL, err);
			}
		} else if (strcmp(disks[i].pool, HV_POOL) == 0) {
			hv_vol_copy(src, dst, disks[i].volume, err);
		} else {
			hv_pvol_copy(src, dst, disks[i].pool, disks[i].volume,
			    err);
		}
	}
	if (err->code || hv_migrate(src, dst, r->uuid, live, copy, address,
	    err))
		goto undo;
	fault_point("vm.moved");
	if (dpath)
		vm_seed_delete(src, r->uuid, &ignored);
	if (ndisks)
		vm_disk_purge(src, r->uuid, &ignored);
	if (nnics)
		vm_nic_filters_forget(ctx, src, r->id);
	goto out;
undo:
	if (dpath)
		vm_seed_delete(dst, r->uuid, &ignored);
	for (i = 0; dst && i < ndisks; i++)
		hv_pvol_delete(dst, disks[i].pool, disks[i].volume, &ignored);
out:
	for (i = 0; i < ndisks; i++)
		free(bases[i]);
	free(bases);
	free(fmts);
	free(dpath);
	free(spath);
	net_nics_free(nics, nnics);
	hv_close(dst);
	hv_close(src);
	return err->code;
}

int
vm_migrate(struct ctx *ctx, const char *ref, const char *to, bool live,
    struct doc **out, struct cerr *err)
{
	static const unsigned movable = VM_STATE_BIT(VM_STATE_RUNNING) |
	    VM_STATE_BIT(VM_STATE_SUSPENDED) | VM_STATE_BIT(VM_STATE_POWEROFF);
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	char *dname = NULL, *duri = NULL, *daddr = NULL;
	enum vm_state from;
	struct vmdisk *disks = NULL;
	long long dest = 0;
	size_t ndisks = 0;

	if (acct_require_admin(ctx, "migrate vms", err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_load(ctx, ref, &r, err))
		goto fail;
	if (!(movable & VM_STATE_BIT(r.state))) {
		cerr_set(err, CERR_CONFLICT, "cannot migrate vm '%s': it is "
		    "%s (migrate needs running, suspended or poweroff)",
		    r.name, vm_state_name(r.state));
		goto fail;
	}
	if (vm_migrate_no_volumes(ctx, &r, "migrate", err))
		goto fail;
	from = r.state;
	if (vm_migrate_dest(ctx, &r, to, r.host_id, &dest, &dname, &duri,
	    &daddr, err) ||
	    vm_intent(ctx, &r, from, VM_STATE_MIGRATING, from, -1, "migrate",
	    err) ||
	    catalog_exec(ctx->cat, err, "UPDATE vms SET target_host = ? "
	    "WHERE id = ?", "ii", dest, r.id) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	fault_point("vm.intent");
	if (vm_disk_load(ctx, r.id, &disks, &ndisks, &hverr) == 0)
		vm_move(ctx, &r, disks, ndisks, dest, dname, duri, live,
		    daddr, &hverr);
	fault_point("vm.outcome");
	if (hverr.code) {
		cerr_wrap(&hverr, "cannot migrate vm '%s' from host '%s' to "
		    "host '%s'", r.name, r.host, dname);
		if (vm_record(ctx, &r, VM_STATE_MIGRATING, from, -1, hverr.msg,
		    "migrate", err) == 0)
			cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
	if (vm_record(ctx, &r, VM_STATE_MIGRATING, from, dest, NULL, "migrate",
	    err) == 0) {
		struct cerr ignored = { 0 };

		/* networks no VM uses on the old host any more go */
		net_host_gc(ctx, r.host_id, &ignored);
		vm_show_id(ctx, r.id, out, err);
	}
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	vm_disk_free(disks, ndisks);
	free(dname);
	free(duri);
	free(daddr);
	vm_row_release(&r);
	return err->code;
}

/* The domain type of host id (for a fresh definition there). */
char *
vm_migrate_domain_type(struct ctx *ctx, long long id, struct cerr *err)
{
	struct cstmt *st = NULL;
	char *t = NULL;

	if (catalog_query(ctx->cat, &st, err, "SELECT domain_type FROM hosts "
	    "WHERE id = ?", "i", id) == 0 && cstmt_row(st, err))
		t = xstrdup(cstmt_text(st, 0));
	cstmt_free(st);
	return t;
}

/* Copy the disk volumes of r from the host at src_uri to dst_uri (host
 * dst_id, named dst_name), its images there first. */
int
vm_migrate_disks_copy(struct ctx *ctx, const struct vmrow *r,
    const char *src_uri, const char *dst_uri, long long dst_id,
    const char *dst_name, struct cerr *err)
{
	struct vmdisk *disks = NULL;
	struct hv *src = NULL, *dst = NULL;
	char **bases = NULL, (*fmts)[16] = NULL;
	size_t n = 0, i;

	if (vm_disk_load(ctx, r->id, &disks, &n, err) || n == 0)
		goto out;
	bases = xcalloc(n, sizeof(*bases));
	fmts = xcalloc(n, sizeof(*fmts));
	if (hv_connect(src_uri, &src, err) || hv_connect(dst_uri, &dst, err) ||
	    disks_bases(ctx, r, disks, n, src, dst, dst_id, dst_name, bases,
	    fmts, err))
		goto out;
	for (i = 0; i < n && err->code == 0; i++) {
		if (strcmp(disks[i].pool, HV_POOL) == 0)
			hv_vol_copy(src, dst, disks[i].volume, err);
		else
			hv_pvol_copy(src, dst, disks[i].pool, disks[i].volume,
			    err);
	}
	if (err->code)
		cerr_wrap(err, "cannot bring the disks of vm '%s'", r->name);
out:
	for (i = 0; bases && i < n; i++)
		free(bases[i]);
	free(bases);
	free(fmts);
	hv_close(src);
	hv_close(dst);
	vm_disk_free(disks, n);
	return err->code;
}
