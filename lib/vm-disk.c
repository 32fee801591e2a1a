/*
 * vm-disk.c - service: a VM's disks.  The qcow2 volumes of its disks on
 * its host, the host's image cache they are cloned from, disk attach and
 * detach, and the slot cvol attaches a volume in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acct.h"
#include "buf.h"
#include "catalog.h"
#include "domxml.h"
#include "fault.h"
#include "hv.h"
#include "img.h"
#include "owner.h"
#include "vm.h"
#include "vm-int.h"
#include "xalloc.h"
#include "compat.h"

/* Disks.  A VM's disk is the qcow2 volume UUID-TARGET.qcow2 in the pool
 * of its host, on the SCSI bus; vm_disks holds target, volume and size. */

void
vm_disk_target(size_t i, char out[8])
{
	snprintf(out, 8, "sd%c", (char)('b' + i));
}

void
vm_disk_volume(const char *uuid, const char *target, char out[64])
{
	snprintf(out, 64, "%s-%s.qcow2", uuid, target);
}

int
vm_disk_load(struct ctx *ctx, long long vm_id, struct vmdisk **out,
    size_t *n, struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (catalog_query(ctx->cat, &st, err, "SELECT d.target, d.volume, "
	    "d.size, COALESCE(d.image_id, 0), s.name FROM vm_disks d LEFT "
	    "JOIN datastores s ON s.id = d.datastore_id WHERE d.vm_id = ? "
	    "ORDER BY d.target", "i", vm_id))
		return err->code;
	while (cstmt_row(st, err)) {
		struct vmdisk *d;

		xgrow(out, &cap, *n + 1, sizeof(**out));
		d = &(*out)[(*n)++];
		snprintf(d->target, sizeof(d->target), "%s", cstmt_text(st, 0));
		snprintf(d->volume, sizeof(d->volume), "%s", cstmt_text(st, 1));
		d->size = cstmt_int(st, 2);
		d->image_id = cstmt_int(st, 3);
		if (cstmt_null(st, 4))
			snprintf(d->pool, sizeof(d->pool), "%s", HV_POOL);
		else
			snprintf(d->pool, sizeof(d->pool), VOL_DS_POOL_PREFIX
			    "%s", cstmt_text(st, 4));
		d->path = NULL;
	}
	cstmt_free(st);
	return err->code;
}

void
vm_disk_free(struct vmdisk *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

struct purge {
	const char *prefix;	/* "UUID-" */
	char **names;
	size_t n, cap;
};

static void
purge_each(void *arg, const char *name)
{
	struct purge *p = arg;
	size_t len = strlen(name);

	if (strncmp(name, p->prefix, strlen(p->prefix)) == 0 && len > 6 &&
	    strcmp(name + len - 6, ".qcow2") == 0) {
		xgrow(&p->names, &p->cap, p->n + 1, sizeof(*p->names));
		p->names[p->n++] = xstrdup(name);
	}
}

/* The pools that hold VMs' disks: the host's own and datastores'. */
void
vm_disk_pool_add(void *arg, const char *name)
{
	struct pool_set *ps = arg;

	if (strcmp(name, HV_POOL) != 0 && strncmp(name, VOL_DS_POOL_PREFIX,
	    strlen(VOL_DS_POOL_PREFIX)) != 0)
		return;
	xgrow(&ps->v, &ps->cap, ps->n + 1, sizeof(*ps->v));
	ps->v[ps->n++] = xstrdup(name);
}

void
vm_disk_pool_set_release(struct pool_set *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		free(ps->v[i]);
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

/* Delete every disk volume of VM uuid from hv's pools (after its domain
 * is gone from that host). */
int
vm_disk_purge(struct hv *hv, const char *uuid, struct cerr *err)
{
	char prefix[48];
	struct pool_set ps = { 0 };
	size_t i, j;

	snprintf(prefix, sizeof(prefix), "%s-", uuid);
	if (hv_pools(hv, vm_disk_pool_add, &ps, err))
		return err->code;
	for (j = 0; j < ps.n && err->code == 0; j++) {
		struct purge p = { .prefix = prefix };

		if (hv_pvols(hv, ps.v[j], purge_each, &p, err) == 0)
			for (i = 0; i < p.n && err->code == 0; i++)
				hv_pvol_delete(hv, ps.v[j], p.names[i], err);
		for (i = 0; i < p.n; i++)
			free(p.names[i]);
		free(p.names);
	}
	vm_disk_pool_set_release(&ps);
	return err->code;
}

/*
 * The image cache.  An image reaches a host once: uploaded through a
 * libvirt stream into the volume img-HEX of the host's pool (HEX: the
 * image's xxh128 checksum, or its sha256 for an image from before
 * checksums), recorded in image_hosts under that key, so images of the
 * same bytes share one volume; every disk cloned from it there is a qcow2 overlay with
 * that volume as its backing file.  The row is written before the upload
 * (state uploading, with the uploader's pid): another command that needs
 * the same image on the same host waits for it rather than upload again,
 * and takes over when the uploader died.
 */
#define CACHE_PREFIX "img-"
#define CACHE_WAIT 3600		/* seconds to wait for another's upload */

/* Whether the owner recorded with pid has gone (dead, or this process),
 * so that what it began is another's to finish; one on another machine
 * or that cannot be judged from here has not. */
bool
vm_disk_owner_gone(long long pid, const char *owner)
{
	enum owner_verdict v = owner_judge(pid, owner);

	return v == OWNER_DEAD || v == OWNER_SELF;
}

static void
cache_vol(const char *key, char out[96])
{
	const char *hex = strchr(key, ':');

	snprintf(out, 96, CACHE_PREFIX "%s", hex ? hex + 1 : key);
}

/* Forget the upload this process began (its row), after a failure. */
static void
cache_forget(struct ctx *ctx, long long host_id, const char *key)
{
	struct cerr e = { 0 };

	if (catalog_begin(ctx->cat, &e) == 0 && (catalog_exec(ctx->cat, &e,
	    "DELETE FROM image_hosts WHERE host_id = ? AND checksum = ? AND "
	    "state = 'uploading' AND pid = ?", "isi", host_id, key,
	    (long long)getpid()) || catalog_commit(ctx->cat, &e)))
		catalog_rollback(ctx->cat);
}

/* Image image_id on host host_id (reached as hv): uploaded there unless
 * it is already; *base (the caller's to free) is its path there, fmt its
 * format and vol its volume. */
int
vm_disk_image(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, long long image_id, char **base, char fmt[16],
    char vol[96], struct cerr *err)
{
	struct img_disk im;
	struct cstmt *st = NULL;
	char now[32], detail[300];
	time_t start = time(NULL);
	int fd = -1;

	*base = NULL;
	if (img_disk(ctx, NULL, image_id, &im, err))
		return err->code;
	snprintf(fmt, 16, "%s", im.format);
	cache_vol(im.checksum, vol);
	for (;;) {
		char state[16] = "", *owner = NULL;
		long long pid = 0;
		bool busy = false;
		int found;

		if (catalog_begin(ctx->cat, err))
			goto out;
		if (catalog_query(ctx->cat, &st, err, "SELECT state, "
		    "COALESCE(pid, 0), owner FROM image_hosts WHERE host_id = "
		    "? AND checksum = ?", "is", host_id, im.checksum))
			goto fail;
		if ((found = cstmt_row(st, err))) {
			snprintf(state, sizeof(state), "%s", cstmt_text(st, 0));
			pid = cstmt_int(st, 1);
			owner = vm_dup_or_null(cstmt_text(st, 2));
			busy = strcmp(state, "ready") != 0 &&
			    !vm_disk_owner_gone(pid, owner);
			free(owner);
		}
		cstmt_free(st);
		st = NULL;
		if (err->code)
			goto fail;
		if (found && strcmp(state, "ready") == 0) {
			catalog_rollback(ctx->cat);
			/* cached: nothing to copy, if the host still has it */
			if (hv_vol_path(hv, vol, base, err) == 0 ||
			    err->code != CERR_NOTFOUND)
				goto out;
			cerr_clear(err);
			if (catalog_begin(ctx->cat, err))
				goto out;
			if (catalog_exec(ctx->cat, err, "DELETE FROM "
			    "image_hosts WHERE host_id = ? AND checksum = ? "
			    "AND state = 'ready'", "is", host_id, im.checksum) ||
			    catalog_commit(ctx->cat, err))
				goto fail;
			continue;
		}
		if (found && busy) {
			/* another command uploads it: wait for that one */
			catalog_rollback(ctx->cat);
			if (time(NULL) - start > CACHE_WAIT) {
				cerr_set(err, CERR_CONFLICT, "image '%s' is "
				    "still being uploaded to host '%s' (by "
				    "process %lld)", im.name, host, pid);
				goto out;
			}
			usleep(100000);
			continue;
		}
		/* ours to upload (or to take over from a dead uploader):
		 * the intent first */
		catalog_now(now);
		if (catalog_exec(ctx->cat, err, "INSERT OR REPLACE INTO "
		    "image_hosts (host_id, checksum, volume, format, size, "
		    "state, pid, owner, created, updated) VALUES (?, ?, ?, ?, "
		    "?, 'uploading', ?, nullif(?, ''), ?, ?)", "isssiisss",
		    host_id, im.checksum, vol, im.format, (long long)im.bytes,
		    (long long)getpid(), owner_self(), now, now) ||
		    catalog_commit(ctx->cat, err))
			goto fail;
		break;
	}
	fault_point("vm.cache");
	if ((fd = open(im.path, O_RDONLY | O_CLOEXEC)) < 0) {
		cerr_set(err, CERR_FAIL, "cannot read the file of image '%s': "
		    "%s", im.name, strerror(errno));
		goto undo;
	}
	/* the first upload to this host: the bytes must be the image's */
	if (img_disk_verify(&im, fd, err) ||
	    hv_vol_upload_fd(hv, vol, fd, im.bytes, base, err))
		goto undo;
	fault_point("vm.cached");
	catalog_now(now);
	snprintf(detail, sizeof(detail), "to host '%s': %llu bytes", host,
	    im.bytes);
	if (catalog_begin(ctx->cat, err))
		goto undo;
	if (catalog_exec(ctx->cat, err, "UPDATE image_hosts SET state = "
	    "'ready', pid = NULL, owner = NULL, updated = ? WHERE host_id = ? "
	    "AND "
	    "checksum = ? AND pid = ?", "sisi", now, host_id, im.checksum,
	    (long long)getpid()) ||
	    acct_audit(ctx, "upload", "Image", im.id, im.name, detail, err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto undo;
	}
	goto out;
undo:
	{
		struct cerr ignored = { 0 };

		hv_vol_delete(hv, vol, &ignored);
		cache_forget(ctx, host_id, im.checksum);
		free(*base);
		*base = NULL;
		cerr_wrap(err, "cannot bring image '%s' to host '%s'", im.name,
		    host);
	}
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	if (fd >= 0)
		close(fd);
	img_disk_release(&im);
	return err->code;
}

/* A datastore disk of size MiB must fit in what its pool has free. */
static int
pool_room(struct hv *hv, const struct vmdisk *d, const char *host,
    struct cerr *err)
{
	struct hv_pool_info pi = { 0 };
	const char *ds = d->pool + strlen(VOL_DS_POOL_PREFIX);

	if (hv_pool_info(hv, d->pool, &pi, err))
		return cerr_wrap(err, "datastore '%s' on host '%s'", ds, host);
	if (d->size > pi.available)
		return cerr_set(err, CERR_CAPACITY, "disk %s: %lld MiB is more "
		    "than the %lld MiB datastore '%s' has free on host '%s'",
		    d->target, d->size, pi.available, ds, host);
	return 0;
}

/* Make disk d on hv (host host_id), unless it is there: a qcow2 overlay
 * of its image's cached copy, or a blank qcow2 volume, in its pool.
 * d->path gets its path. */
int
vm_disk_make(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, struct vmdisk *d, struct cerr *err)
{
	char *base = NULL, fmt[16], vol[96];

	if (d->image_id == 0 && strcmp(d->pool, HV_POOL) == 0)
		return hv_vol_create(hv, d->volume, d->size, &d->path, err);
	if (strcmp(d->pool, HV_POOL) == 0 && hv_pool_ensure(hv, err))
		return err->code;
	if (hv_pvol_path(hv, d->pool, d->volume, &d->path, err) == 0)
		return 0;
	if (err->code != CERR_NOTFOUND)
		return err->code;
	cerr_clear(err);
	if ((d->image_id == 0 || vm_disk_image(ctx, hv, host_id, host,
	    d->image_id, &base, fmt, vol, err) == 0) &&
	    (strcmp(d->pool, HV_POOL) == 0 || pool_room(hv, d, host,
	    err) == 0))
		hv_pvol_create(hv, d->pool, d->volume, d->size, base,
		    base ? fmt : NULL, &d->path, err);
	free(base);
	return err->code;
}

/* States in which a VM's disks and snapshots may change: its domain is
 * defined and not in flight, and no saved memory expects the old set. */
bool
vm_disk_state(enum vm_state s)
{
	return s == VM_STATE_RUNNING || s == VM_STATE_SUSPENDED ||
	    s == VM_STATE_POWEROFF || s == VM_STATE_PENDING ||
	    s == VM_STATE_HOLD;
}

/* Refuse to change the disk set of a VM that has snapshots: each holds
 * the set it was taken with (and libvirt 9.0 crashes deleting one whose
 * disk is gone). */
static int
no_snapshots(const struct vmrow *r, const char *verb, struct cerr *err)
{
	struct hv_snapshot *all = NULL;
	struct hv *hv = NULL;
	size_t n = 0;

	if (r->host_id == 0)
		return 0;
	if (hv_connect(r->uri, &hv, err) == 0 &&
	    hv_snapshot_list(hv, r->uuid, &all, &n, err) == 0 && n > 0)
		cerr_set(err, CERR_CONFLICT, "cannot %s vm '%s': it has %zu "
		    "snapshot%s, each holding the disks it was taken with "
		    "(delete them first)", verb, r->name, n, n == 1 ? "" : "s");
	free(all);
	hv_close(hv);
	return err->code;
}

int
vm_disk_attach(struct ctx *ctx, const char *ref, long long size,
    struct doc **out, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	struct domdisk dd = { 0 };
	struct buf xml = BUF_INIT;
	char target[8] = "", vol[64], now[32], id[32], *path = NULL;
	bool used[VM_MAX_DISKS] = { false };
	size_t i;

	if (size < 1)
		return cerr_set(err, CERR_USAGE, "invalid size (at least "
		    "1 MiB)");
	/* asked of the hypervisor before the catalog is locked */
	if (vm_load(ctx, ref, &r, err) == 0)
		no_snapshots(&r, "attach a disk to", err);
	vm_row_release(&r);
	if (err->code || catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_load(ctx, ref, &r, err))
		goto fail;
	if (!vm_disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot attach a disk to vm '%s': "
		    "it is %s (disk attach needs running, suspended, poweroff, "
		    "pending or hold)", r.name, vm_state_name(r.state));
		goto fail;
	}
	/* cvol volumes attached on the SCSI bus hold their targets too */
	if (catalog_query(ctx->cat, &st, err, "SELECT target FROM vm_disks "
	    "WHERE vm_id = ?1 UNION ALL SELECT target FROM volumes WHERE "
	    "vm_id = ?1", "i", r.id))
		goto fail;
	while (cstmt_row(st, err)) {
		const char *t = cstmt_text(st, 0);

		if (strlen(t) == 3 && t[2] >= 'b' && t[2] < 'b' + VM_MAX_DISKS)
			used[t[2] - 'b'] = true;
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	for (i = 0; i < VM_MAX_DISKS && target[0] == '\0'; i++)
		if (!used[i])
			vm_disk_target(i, target);
	if (target[0] == '\0') {
		cerr_set(err, CERR_CAPACITY, "vm '%s' has %d disks, the most "
		    "it can have", r.name, VM_MAX_DISKS);
		goto fail;
	}
	/* intent: the disk is recorded first; detach finishes a killed
	 * attach either way */
	vm_disk_volume(r.uuid, target, vol);
	catalog_now(now);
	snprintf(id, sizeof(id), "%s, %lld MiB", target, size);
	if (catalog_exec(ctx->cat, err, "INSERT INTO vm_disks (vm_id, target, "
	    "volume, size, created) VALUES (?, ?, ?, ?, ?)", "issis", r.id,
	    target, vol, size, now) ||
	    catalog_exec(ctx->cat, err, "UPDATE vms SET updated = ? WHERE "
	    "id = ?", "si", now, r.id) ||
	    acct_audit(ctx, "disk attach", "VM", r.id, r.name, id, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	if (r.host_id == 0)
		goto done;	/* made when the VM is deployed */
	fault_point("vm.intent");
	if (hv_connect(r.uri, &hv, &hverr) == 0 &&
	    hv_vol_create(hv, vol, size, &path, &hverr) == 0) {
		dd.target = target;
		dd.path = path;
		domxml_disk(&xml, &dd, strcmp(r.domain_type, "test") != 0);
		if (hv_device_attach(hv, r.uuid, xml.s, &hverr)) {
			struct cerr ignored = { 0 };

			hv_vol_delete(hv, vol, &ignored);
		}
	}
	hv_close(hv);
	if (hverr.code) {
		/* not attached: the record goes again */
		cerr_wrap(&hverr, "cannot attach a disk to vm '%s' on host "
		    "'%s'", r.name, r.host);
		if (catalog_begin(ctx->cat, err) == 0 &&
		    (catalog_exec(ctx->cat, err, "DELETE FROM vm_disks WHERE "
		    "vm_id = ? AND target = ?", "is", r.id, target) ||
		    acct_audit(ctx, "disk attach", "VM", r.id, r.name,
		    hverr.msg, err) || catalog_commit(ctx->cat, err)))
			catalog_rollback(ctx->cat);
		cerr_clear(err);
		cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
done:
	vm_show_id(ctx, r.id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	free(path);
	buf_release(&xml);
	vm_row_release(&r);
	return err->code;
}

int
vm_disk_detach(struct ctx *ctx, const char *ref, const char *target,
    struct doc **out, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	struct buf xml = BUF_INIT;
	char vol[64] = "", pool[160] = HV_POOL, now[32];
	int found;

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (!vm_disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot detach a disk from vm "
		    "'%s': it is %s (disk detach needs running, suspended, "
		    "poweroff, pending or hold)", r.name,
		    vm_state_name(r.state));
		goto out;
	}
	if (no_snapshots(&r, "detach a disk from", err))
		goto out;
	if (catalog_query(ctx->cat, &st, err, "SELECT d.volume, s.name FROM "
	    "vm_disks d LEFT JOIN datastores s ON s.id = d.datastore_id "
	    "WHERE d.vm_id = ? AND d.target = ?", "is", r.id, target))
		goto out;
	if ((found = cstmt_row(st, err))) {
		snprintf(vol, sizeof(vol), "%s", cstmt_text(st, 0));
		if (!cstmt_null(st, 1))
			snprintf(pool, sizeof(pool), VOL_DS_POOL_PREFIX "%s",
			    cstmt_text(st, 1));
	}
	cstmt_free(st);
	if (err->code)
		goto out;
	if (!found) {
		cerr_set(err, CERR_NOTFOUND, "vm '%s' has no disk '%s'", r.name,
		    target);
		goto out;
	}
	/* the device goes first, then its volume, then the record: each
	 * step is a no-op when repeated */
	if (r.host_id) {
		buf_puts(&xml, "<disk type='file' device='disk'><target dev='");
		buf_xml(&xml, target);
		buf_puts(&xml, "' bus='scsi'/></disk>");
		if (hv_connect(r.uri, &hv, &hverr) == 0 &&
		    hv_device_detach(hv, r.uuid, xml.s, &hverr) == 0) {
			fault_point("vm.outcome");
			hv_pvol_delete(hv, pool, vol, &hverr);
		}
		hv_close(hv);
		if (hverr.code) {
			cerr_wrap(&hverr, "cannot detach disk '%s' from vm '%s' "
			    "on host '%s'", target, r.name, r.host);
			cerr_set(err, hverr.code, "%s", hverr.msg);
			goto out;
		}
	}
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (catalog_exec(ctx->cat, err, "DELETE FROM vm_disks WHERE vm_id = ? "
	    "AND target = ?", "is", r.id, target) ||
	    catalog_exec(ctx->cat, err, "UPDATE vms SET updated = ? WHERE "
	    "id = ?", "si", now, r.id) ||
	    acct_audit(ctx, "disk detach", "VM", r.id, r.name, target, err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	vm_show_id(ctx, r.id, out, err);
out:
	buf_release(&xml);
	vm_row_release(&r);
	return err->code;
}

int
vm_volume_slot(struct ctx *ctx, const char *ref, long long host_id,
    const char *host, const char *bus, struct vm_slot *out, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cstmt *st = NULL;
	bool used[VM_MAX_DISKS + 1] = { false };
	bool scsi = strcmp(bus, "scsi") == 0;
	char first = scsi ? 'b' : 'a';
	size_t i;

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (!vm_disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot attach a volume to vm '%s': "
		    "it is %s (attach needs running, suspended, poweroff, "
		    "pending or hold)", r.name, vm_state_name(r.state));
		goto out;
	}
	if (r.host_id != host_id) {
		cerr_set(err, CERR_CONFLICT, "cannot attach a volume on host "
		    "'%s' to vm '%s': the vm is %s%s%s", host, r.name,
		    r.host_id ? "on host '" : "not placed on a host",
		    r.host_id ? r.host : "", r.host_id ? "'" : "");
		goto out;
	}
	/* SCSI: after the VM's own disks (sdb...); virtio: vda... */
	if (catalog_query(ctx->cat, &st, err, "SELECT target FROM vm_disks "
	    "WHERE vm_id = ?1 UNION ALL SELECT target FROM volumes WHERE "
	    "vm_id = ?1", "i", r.id))
		goto out;
	while (cstmt_row(st, err)) {
		const char *t = cstmt_text(st, 0);

		if (strlen(t) == 3 && t[0] == (scsi ? 's' : 'v') &&
		    t[1] == 'd' && t[2] >= first &&
		    t[2] < first + VM_MAX_DISKS)
			used[t[2] - first] = true;
	}
	cstmt_free(st);
	if (err->code)
		goto out;
	out->target[0] = '\0';
	for (i = 0; i < VM_MAX_DISKS && out->target[0] == '\0'; i++)
		if (!used[i])
			snprintf(out->target, sizeof(out->target), "%s%c",
			    scsi ? "sd" : "vd", (char)(first + i));
	if (out->target[0] == '\0') {
		cerr_set(err, CERR_CAPACITY, "vm '%s' has %d %s disks, the "
		    "most it can have", r.name, VM_MAX_DISKS, bus);
		goto out;
	}
	out->id = r.id;
	snprintf(out->name, sizeof(out->name), "%s", r.name);
	snprintf(out->uuid, sizeof(out->uuid), "%s", r.uuid);
	out->is_qemu = strcmp(r.domain_type, "test") != 0;
out:
	vm_row_release(&r);
	return err->code;
}
