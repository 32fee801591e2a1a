/*
 * vol.c - service: volumes (datastores are vol-ds.c's, sharing
 * vol-int.h).  Uses the catalog and hv adapters, and vm for where a volume
 * may attach; includes neither sqlite3 nor libvirt.
 *
 * Every hypervisor action follows the house rule: the catalog is checked
 * (and, for a new volume, the row recorded) and committed first, libvirt
 * is called holding no lock, and the outcome is recorded after.
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
#include "units.h"
#include "valid.h"
#include "vm.h"
#include "vol-int.h"
#include "vol.h"
#include "xalloc.h"
#include "rows.h"
#include "compat.h"
#define VOL_VISIBLE "(?1 OR v.owner = ?2)"

void
vol_pool_name(const char *name, char out[160])
{
	snprintf(out, 160, VOL_DS_POOL_PREFIX "%s", name);
}

static void
vol_file(long long id, char out[40])
{
	snprintf(out, 40, "vol-%lld.qcow2", id);
}

/* Volumes. */

struct volrow {
	long long id, ds_id, host_id, size, parent_id, vm_id, children;
	char *name, *ds, *host, *uri, *vm, *vm_state, *target, *bus;
	enum vm_state vm_st;	/* vm_state's, VM_STATE_NONE for none */
	char pool[160];
	char file[40];
	bool attached;		/* to a VM that is not done */
};

static void
volrow_release(struct volrow *r)
{
	free(r->name);
	free(r->ds);
	free(r->host);
	free(r->uri);
	free(r->vm);
	free(r->vm_state);
	free(r->target);
	free(r->bus);
	memset(r, 0, sizeof(*r));
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* The state named state (a VM's, of a volume's row): VM_STATE_NONE for
 * none or a name no state has. */
static enum vm_state
state_of(const char *state)
{
	enum vm_state s = VM_STATE_NONE;

	if (state)
		vm_state_parse(state, &s);
	return s;
}

#define VOL_COLS \
	"SELECT v.id, v.name, v.datastore_id, d.name, v.host_id, h.name, " \
	"h.uri, v.size, v.format, v.parent_id, p.name, v.vm_id, m.name, " \
	"m.state, v.target, v.bus, " \
	"(SELECT count(*) FROM volumes c WHERE c.parent_id = v.id), " \
	"u.name, g.name, v.created, v.updated FROM volumes v " \
	"JOIN datastores d ON d.id = v.datastore_id " \
	"JOIN hosts h ON h.id = v.host_id " \
	"LEFT JOIN volumes p ON p.id = v.parent_id " \
	"LEFT JOIN vms m ON m.id = v.vm_id " \
	"JOIN users u ON u.id = v.owner JOIN groups g ON g.id = v.group_id "

/* The columns of VOL_COLS, in its order: a row is read by these names. */
enum vol_col {
	VOL_COL_ID, VOL_COL_NAME,
	VOL_COL_DATASTORE_ID, VOL_COL_DATASTORE,	/* d.name */
	VOL_COL_HOST_ID, VOL_COL_HOST,	/* h.name */
	VOL_COL_URI,			/* the host's */
	VOL_COL_SIZE, VOL_COL_FORMAT,
	VOL_COL_PARENT_ID, VOL_COL_PARENT,	/* p.name */
	VOL_COL_VM_ID, VOL_COL_VM, VOL_COL_VM_STATE,	/* m.name, m.state */
	VOL_COL_TARGET, VOL_COL_BUS,
	VOL_COL_CHILDREN,		/* how many volumes it is parent of */
	VOL_COL_OWNER,			/* u.name */
	VOL_COL_GROUP_OWNER,		/* g.name */
	VOL_COL_CREATED, VOL_COL_UPDATED,
};

static struct doc *
vol_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);
	const char *state = cstmt_text(st, VOL_COL_VM_STATE);
	bool attached = !cstmt_null(st, VOL_COL_VM_ID) && state &&
	    state_of(state) != VM_STATE_DONE;

	doc_set_str(d, "kind", "Volume");
	doc_set_int(d, "id", cstmt_int(st, VOL_COL_ID));
	doc_set_str(d, "name", cstmt_text(st, VOL_COL_NAME));
	doc_set_str(d, "datastore", cstmt_text(st, VOL_COL_DATASTORE));
	doc_set_str(d, "host", cstmt_text(st, VOL_COL_HOST));
	doc_set_int(d, "size", cstmt_int(st, VOL_COL_SIZE));
	doc_set_str(d, "format", cstmt_text(st, VOL_COL_FORMAT));
	if (!cstmt_null(st, VOL_COL_PARENT_ID))
		doc_set_str(d, "parent", cstmt_text(st, VOL_COL_PARENT));
	doc_set_int(d, "children", cstmt_int(st, VOL_COL_CHILDREN));
	if (attached) {
		doc_set_str(d, "vm", cstmt_text(st, VOL_COL_VM));
		doc_set_str(d, "target", cstmt_text(st, VOL_COL_TARGET));
		doc_set_str(d, "bus", cstmt_text(st, VOL_COL_BUS));
	}
	doc_set_str(d, "owner", cstmt_text(st, VOL_COL_OWNER));
	doc_set_str(d, "group_owner", cstmt_text(st, VOL_COL_GROUP_OWNER));
	doc_set_str(d, "created", cstmt_text(st, VOL_COL_CREATED));
	doc_set_str(d, "updated", cstmt_text(st, VOL_COL_UPDATED));
	return d;
}

static int
vol_query(struct ctx *ctx, const char *ref, struct cstmt **st,
    struct cerr *err)
{
	long long id;

	if (!valid_id(ref, &id))
		id = -1;
	return catalog_query(ctx->cat, st, err, VOL_COLS "WHERE "
	    VOL_VISIBLE " AND (v.id = ?3 OR (?3 < 0 AND v.name = ?4))",
	    "diis", (int)ctx->who.admin, ctx->who.user_id, id, ref);
}

static int
vol_load(struct ctx *ctx, const char *ref, struct volrow *r,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (vol_query(ctx, ref, &st, err))
		return err->code;
	if (cstmt_row(st, err)) {
		r->id = cstmt_int(st, VOL_COL_ID);
		r->name = xstrdup(cstmt_text(st, VOL_COL_NAME));
		r->ds_id = cstmt_int(st, VOL_COL_DATASTORE_ID);
		r->ds = xstrdup(cstmt_text(st, VOL_COL_DATASTORE));
		r->host_id = cstmt_int(st, VOL_COL_HOST_ID);
		r->host = xstrdup(cstmt_text(st, VOL_COL_HOST));
		r->uri = xstrdup(cstmt_text(st, VOL_COL_URI));
		r->size = cstmt_int(st, VOL_COL_SIZE);
		r->parent_id = cstmt_int(st, VOL_COL_PARENT_ID);
		r->vm_id = cstmt_int(st, VOL_COL_VM_ID);
		r->vm = dup_or_null(cstmt_text(st, VOL_COL_VM));
		r->vm_state = dup_or_null(cstmt_text(st, VOL_COL_VM_STATE));
		r->target = dup_or_null(cstmt_text(st, VOL_COL_TARGET));
		r->bus = dup_or_null(cstmt_text(st, VOL_COL_BUS));
		r->children = cstmt_int(st, VOL_COL_CHILDREN);
		r->vm_st = state_of(r->vm_state);
		r->attached = r->vm_id && r->vm_state &&
		    r->vm_st != VM_STATE_DONE;
		vol_pool_name(r->ds, r->pool);
		vol_file(r->id, r->file);
	} else if (err->code == 0) {
		cerr_set(err, CERR_NOTFOUND, "no volume '%s'", ref);
	}
	cstmt_free(st);
	return err->code;
}

int
vol_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (vol_query(ctx, ref, &st, err))
		return err->code;
	if (cstmt_row(st, err))
		*out = vol_doc(st);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no volume '%s'", ref);
	cstmt_free(st);
	return err->code;
}

int
vol_list(struct ctx *ctx, emit_fn emit, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, VOL_COLS "WHERE " VOL_VISIBLE
	    " ORDER BY v.id", "di", (int)ctx->who.admin, ctx->who.user_id))
		return err->code;
	rows_emit(ctx, st, vol_doc, emit, err);
	cstmt_free(st);
	return err->code;
}

/* Room for size MiB more in pool on hv's host, read now.  A refusal
 * writes nothing: the figures are recorded after a change (refresh). */
static int
room_for(struct hv *hv, const char *dsname, const char *host,
    const char *pool, long long size, const char *what, struct cerr *err)
{
	struct hv_pool_info pi = { 0 };

	if (hv_pool_info(hv, pool, &pi, err))
		return cerr_wrap(err, "cannot %s: datastore '%s' on host '%s'",
		    what, dsname, host);
	if (size > pi.available)
		return cerr_set(err, CERR_CAPACITY, "cannot %s: %lld MiB is "
		    "more than the %lld MiB datastore '%s' has free on host "
		    "'%s'", what, size, pi.available, dsname, host);
	return 0;
}

/* After a change, what the pool has free, for placement. */
static void
refresh(struct ctx *ctx, struct hv *hv, const struct volrow *r)
{
	struct hv_pool_info pi = { 0 };
	struct cerr e = { 0 };
	char now[32];

	if (hv_pool_info(hv, r->pool, &pi, &e))
		return;
	catalog_now(now);
	catalog_exec(ctx->cat, &e, "UPDATE datastore_hosts SET capacity = ?, "
	    "available = ?, monitored = ? WHERE datastore_id = ? AND "
	    "host_id = ?", "iisii", pi.capacity, pi.available, now, r->ds_id,
	    r->host_id);
}

static int
name_free(struct ctx *ctx, const char *name, struct cerr *err)
{
	struct cstmt *st = NULL;
	bool taken;

	if (valid_name("volume", name, err) ||
	    catalog_query(ctx->cat, &st, err, "SELECT 1 FROM volumes WHERE "
	    "name = ?", "s", name))
		return err->code;
	taken = cstmt_row(st, err);
	cstmt_free(st);
	if (err->code == 0 && taken)
		cerr_set(err, CERR_CONFLICT, "volume '%s' exists already",
		    name);
	return err->code;
}

/* Record volume name (the intent), or CERR_CONFLICT when its name was
 * taken meanwhile; *id is its id. */
static int
record_new(struct ctx *ctx, const char *name, long long ds, long long host,
    long long size, long long parent, const char *how, long long *id,
    struct cerr *err)
{
	char now[32];

	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (parent ? catalog_exec(ctx->cat, err, "INSERT INTO volumes (name, "
	    "datastore_id, host_id, size, parent_id, owner, group_id, created, "
	    "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", "siiiiiiss", name,
	    ds, host, size, parent, ctx->who.user_id, ctx->who.group_id, now,
	    now) : catalog_exec(ctx->cat, err, "INSERT INTO volumes (name, "
	    "datastore_id, host_id, size, owner, group_id, created, updated) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "siiiiiss", name, ds, host,
	    size, ctx->who.user_id, ctx->who.group_id, now, now)) {
		catalog_rollback(ctx->cat);
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "volume '%s' exists "
			    "already", name);
		}
		return err->code;
	}
	*id = catalog_last_id(ctx->cat);
	if (acct_audit(ctx, "create", "Volume", *id, name, how, err) ||
	    catalog_commit(ctx->cat, err))
		catalog_rollback(ctx->cat);
	return err->code;
}

/* A volume whose hypervisor part failed goes again. */
static void
forget(struct ctx *ctx, long long id)
{
	struct cerr e = { 0 };

	if (catalog_begin(ctx->cat, &e) == 0 &&
	    (catalog_exec(ctx->cat, &e, "DELETE FROM volumes WHERE id = ?",
	    "i", id) || catalog_commit(ctx->cat, &e)))
		catalog_rollback(ctx->cat);
}

static int
show_id(struct ctx *ctx, long long id, struct doc **out, struct cerr *err)
{
	char ref[32];

	snprintf(ref, sizeof(ref), "%lld", id);
	return vol_show(ctx, ref, out, err);
}

int
vol_create(struct ctx *ctx, const char *name, long long size,
    const char *ds, const char *host, struct doc **out, struct cerr *err)
{
	struct volrow r = { 0 };
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	char what[300];
	long long id;
	bool found;

	if (size < 1)
		return cerr_set(err, CERR_USAGE, "invalid size (at least "
		    "1 MiB)");
	if (name_free(ctx, name, err))
		return err->code;
	if (ds == NULL) {
		if (catalog_query(ctx->cat, &st, err, "SELECT id, name FROM "
		    "datastores ORDER BY id LIMIT 1", ""))
			return err->code;
		if ((found = cstmt_row(st, err))) {
			r.ds_id = cstmt_int(st, 0);
			r.ds = xstrdup(cstmt_text(st, 1));
		}
		cstmt_free(st);
		if (err->code == 0 && !found)
			cerr_set(err, CERR_NOTFOUND, "no datastore to create "
			    "volume '%s' in (add one with 'cvol datastore "
			    "add')", name);
	} else {
		vol_ds_id(ctx, ds, &r.ds_id, &r.ds, NULL, err);
	}
	if (err->code)
		goto out;
	/* the host given, else the one with most room at the last look */
	if (catalog_query(ctx->cat, &st, err, "SELECT h.id, h.name, h.uri "
	    "FROM datastore_hosts x JOIN hosts h ON h.id = x.host_id WHERE "
	    "x.datastore_id = ?1 AND (?2 IS NULL OR h.name = ?2) ORDER BY "
	    "x.available DESC, h.id LIMIT 1", "is", r.ds_id, host))
		goto out;
	if ((found = cstmt_row(st, err))) {
		r.host_id = cstmt_int(st, 0);
		r.host = xstrdup(cstmt_text(st, 1));
		r.uri = xstrdup(cstmt_text(st, 2));
	}
	cstmt_free(st);
	if (err->code == 0 && !found)
		cerr_set(err, CERR_NOTFOUND, host ? "datastore '%s' is not on "
		    "host '%s'" : "datastore '%s' has no host", r.ds, host);
	if (err->code)
		goto out;
	vol_pool_name(r.ds, r.pool);
	snprintf(what, sizeof(what), "create volume '%s'", name);
	if (hv_connect(r.uri, &hv, err) ||
	    room_for(hv, r.ds, r.host, r.pool, size,
	    what, err) ||
	    record_new(ctx, name, r.ds_id, r.host_id, size, 0, r.ds, &id,
	    err))
		goto out;
	vol_file(id, r.file);
	fault_point("vol.intent");
	if (hv_pvol_create(hv, r.pool, r.file, size, NULL, NULL, NULL, err)) {
		forget(ctx, id);
		cerr_wrap(err, "cannot create volume '%s' on host '%s'", name,
		    r.host);
		goto out;
	}
	refresh(ctx, hv, &r);
	show_id(ctx, id, out, err);
out:
	hv_close(hv);
	volrow_release(&r);
	return err->code;
}

/* Refuse what a base of snapshots or an attached volume may not do. */
static int
not_busy(const struct volrow *r, const char *verb, bool attach_ok,
    struct cerr *err)
{
	if (r->children > 0)
		return cerr_set(err, CERR_CONFLICT, "cannot %s volume '%s': "
		    "it is the base of %lld snapshot%s (delete them first)",
		    verb, r->name, r->children, r->children == 1 ? "" : "s");
	if (!attach_ok && r->attached)
		return cerr_set(err, CERR_CONFLICT, "cannot %s volume '%s': "
		    "it is attached to vm '%s' as %s (detach it first)", verb,
		    r->name, r->vm, r->target);
	return 0;
}

static bool
vol_vm_active(enum vm_state s)
{
	return s == VM_STATE_RUNNING || s == VM_STATE_SUSPENDED ||
	    s == VM_STATE_DEPLOYING || s == VM_STATE_MIGRATING ||
	    s == VM_STATE_SHUTTING_DOWN;
}

static int
vol_vm_uuid(struct ctx *ctx, long long vm, char uuid[40], struct cerr *err)
{
	struct cstmt *st = NULL;

	uuid[0] = '\0';
	if (catalog_query(ctx->cat, &st, err, "SELECT uuid FROM vms WHERE "
	    "id = ?", "i", vm) == 0 && cstmt_row(st, err))
		snprintf(uuid, 40, "%s", cstmt_text(st, 0));
	cstmt_free(st);
	if (err->code == 0 && uuid[0] == '\0')
		cerr_set(err, CERR_NOTFOUND, "no vm %lld", vm);
	return err->code;
}

int
vol_resize(struct ctx *ctx, const char *ref, long long size,
    struct doc **out, struct cerr *err)
{
	struct volrow r = { 0 };
	struct hv *hv = NULL;
	char what[300], now[32], uuid[40];

	if (size < 1)
		return cerr_set(err, CERR_USAGE, "invalid size (at least "
		    "1 MiB)");
	if (vol_load(ctx, ref, &r, err) || not_busy(&r, "resize", true, err))
		goto out;
	if (size < r.size) {
		cerr_set(err, CERR_USAGE, "cannot shrink volume '%s' from "
		    "%lld to %lld MiB (volumes only grow)", r.name, r.size,
		    size);
		goto out;
	}
	if (size == r.size) {
		vol_show(ctx, ref, out, err);
		goto out;
	}
	snprintf(what, sizeof(what), "resize volume '%s'", r.name);
	if (hv_connect(r.uri, &hv, err) ||
	    room_for(hv, r.ds, r.host, r.pool,
	    size - r.size, what, err))
		goto out;
	/* a running guest's qemu holds the file: it grows it itself */
	if (r.attached && vol_vm_active(r.vm_st) ? vol_vm_uuid(ctx, r.vm_id,
	    uuid, err) || hv_block_resize(hv, uuid, r.target, size, err) :
	    hv_pvol_resize(hv, r.pool, r.file, size, err)) {
		cerr_wrap(err, "cannot resize volume '%s' on host '%s'",
		    r.name, r.host);
		goto out;
	}
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (catalog_exec(ctx->cat, err, "UPDATE volumes SET size = ?, "
	    "updated = ? WHERE id = ?", "isi", size, now, r.id) ||
	    acct_audit(ctx, "resize", "Volume", r.id, r.name, NULL, err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	refresh(ctx, hv, &r);
	show_id(ctx, r.id, out, err);
out:
	hv_close(hv);
	volrow_release(&r);
	return err->code;
}

/* Clone (full copy) or snapshot (linked child) of ref named name. */
static int
derive(struct ctx *ctx, const char *ref, const char *name, bool linked,
    struct doc **out, struct cerr *err)
{
	const char *verb = linked ? "snapshot" : "clone";
	struct volrow r = { 0 };
	struct hv *hv = NULL;
	char what[300], file[40], *base = NULL;
	long long id;

	if (vol_load(ctx, ref, &r, err))
		return err->code;
	/* a copy of a disk a running guest writes is torn; a linked child
	 * of an attached volume would see its base change under it */
	if (r.attached && (linked || vol_vm_active(r.vm_st))) {
		cerr_set(err, CERR_CONFLICT, "cannot %s volume '%s': it is "
		    "attached to vm '%s' (%s)%s", verb, r.name, r.vm,
		    r.vm_state, linked ? " and would change under its "
		    "snapshot (detach it first)" : " (power it off or "
		    "detach it first)");
		goto out;
	}
	if (name_free(ctx, name, err))
		goto out;
	snprintf(what, sizeof(what), "%s volume '%s' as '%s'", verb, r.name,
	    name);
	if (hv_connect(r.uri, &hv, err) ||
	    room_for(hv, r.ds, r.host, r.pool,
	    linked ? 1 : r.size, what, err) ||
	    (linked && hv_pvol_path(hv, r.pool, r.file, &base, err)) ||
	    record_new(ctx, name, r.ds_id, r.host_id, r.size,
	    linked ? r.id : 0, linked ? "snapshot" : "clone", &id, err))
		goto out;
	vol_file(id, file);
	if (linked ? hv_pvol_create(hv, r.pool, file, r.size, base, NULL, NULL,
	    err) : hv_pvol_clone(hv, r.pool, r.file, file, err)) {
		forget(ctx, id);
		cerr_wrap(err, "cannot %s on host '%s'", what, r.host);
		goto out;
	}
	refresh(ctx, hv, &r);
	show_id(ctx, id, out, err);
out:
	free(base);
	hv_close(hv);
	volrow_release(&r);
	return err->code;
}

int
vol_clone(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err)
{
	return derive(ctx, ref, name, false, out, err);
}

int
vol_snapshot(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err)
{
	return derive(ctx, ref, name, true, out, err);
}

int
vol_delete(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct volrow r = { 0 };
	struct hv *hv = NULL;

	if (vol_load(ctx, ref, &r, err) || not_busy(&r, "delete", false, err))
		goto out;
	/* the file first, then the record: a retry finishes either */
	if (hv_connect(r.uri, &hv, err) ||
	    hv_pvol_delete(hv, r.pool, r.file, err)) {
		cerr_wrap(err, "cannot delete volume '%s' on host '%s'",
		    r.name, r.host);
		goto out;
	}
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (catalog_exec(ctx->cat, err, "DELETE FROM volumes WHERE id = ?",
	    "i", r.id) ||
	    acct_audit(ctx, "delete", "Volume", r.id, r.name, NULL, err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	refresh(ctx, hv, &r);
out:
	hv_close(hv);
	volrow_release(&r);
	return err->code;
}

static int
set_attached(struct ctx *ctx, const struct volrow *r, long long vm,
    const char *target, const char *bus, const char *detail,
    struct cerr *err)
{
	char now[32];

	catalog_now(now);
	if ((vm ? catalog_exec(ctx->cat, err, "UPDATE volumes SET vm_id = ?, "
	    "target = ?, bus = ?, updated = ? WHERE id = ?", "isssi", vm,
	    target, bus, now, r->id) : catalog_exec(ctx->cat, err, "UPDATE "
	    "volumes SET vm_id = NULL, target = NULL, bus = NULL, updated = ? "
	    "WHERE id = ?", "si", now, r->id)) ||
	    acct_audit(ctx, vm ? "attach" : "detach", "Volume", r->id,
	    r->name, detail, err))
		return err->code;
	return 0;
}

int
vol_attach(struct ctx *ctx, const char *ref, const char *vm,
    const char *bus, struct doc **out, struct cerr *err)
{
	struct volrow r = { 0 };
	struct vm_slot slot;
	struct cerr hverr = { 0 };
	struct hv *hv = NULL;
	struct domdisk dd = { 0 };
	struct buf xml = BUF_INIT;
	char *path = NULL, detail[256];
	static const char *const buses[] = { "scsi", "virtio" };
	size_t k;

	if (bus == NULL)
		bus = "scsi";
	if (valid_enum(bus, buses, ARRAY_SIZE(buses), &k, "bus", err))
		return err->code;
	bus = buses[k];
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (vol_load(ctx, ref, &r, err) ||
	    not_busy(&r, "attach", true, err))
		goto fail;
	if (r.attached) {
		cerr_set(err, CERR_CONFLICT, "cannot attach volume '%s': it "
		    "is attached to vm '%s' as %s already", r.name, r.vm,
		    r.target);
		goto fail;
	}
	if (vm_volume_slot(ctx, vm, r.host_id, r.host, bus, &slot, err))
		goto fail;
	snprintf(detail, sizeof(detail), "vm %s as %s", slot.name,
	    slot.target);
	if (set_attached(ctx, &r, slot.id, slot.target, bus, detail, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	fault_point("vol.attach");
	if (hv_connect(r.uri, &hv, &hverr) == 0 &&
	    hv_pvol_path(hv, r.pool, r.file, &path, &hverr) == 0) {
		dd.target = slot.target;
		dd.path = path;
		dd.bus = bus;
		domxml_disk(&xml, &dd, slot.is_qemu);
		hv_device_attach(hv, slot.uuid, xml.s, &hverr);
	}
	hv_close(hv);
	if (hverr.code) {
		/* not attached: the record says so again */
		cerr_wrap(&hverr, "cannot attach volume '%s' to vm '%s' on "
		    "host '%s'", r.name, slot.name, r.host);
		if (catalog_begin(ctx->cat, err) == 0 &&
		    (set_attached(ctx, &r, 0, NULL, NULL, hverr.msg, err) ||
		    catalog_commit(ctx->cat, err)))
			catalog_rollback(ctx->cat);
		cerr_clear(err);
		cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
	show_id(ctx, r.id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	free(path);
	buf_release(&xml);
	volrow_release(&r);
	return err->code;
}

int
vol_detach(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct volrow r = { 0 };
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	struct buf xml = BUF_INIT;
	char uuid[40] = "";

	if (vol_load(ctx, ref, &r, err))
		return err->code;
	if (!r.attached) {
		cerr_set(err, CERR_CONFLICT, "cannot detach volume '%s': it is "
		    "not attached", r.name);
		goto out;
	}
	if (catalog_query(ctx->cat, &st, err, "SELECT uuid FROM vms WHERE "
	    "id = ?", "i", r.vm_id) == 0 && cstmt_row(st, err))
		snprintf(uuid, sizeof(uuid), "%s", cstmt_text(st, 0));
	cstmt_free(st);
	if (err->code)
		goto out;
	/* the device first, then the record: a retry finishes either */
	buf_puts(&xml, "<disk type='file' device='disk'><target dev='");
	buf_xml(&xml, r.target);
	buf_puts(&xml, "' bus='");
	buf_xml(&xml, r.bus ? r.bus : "scsi");
	buf_puts(&xml, "'/></disk>");
	if (hv_connect(r.uri, &hv, err) ||
	    hv_device_detach(hv, uuid, xml.s, err)) {
		cerr_wrap(err, "cannot detach volume '%s' from vm '%s' on host "
		    "'%s'", r.name, r.vm, r.host);
		goto out;
	}
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (set_attached(ctx, &r, 0, NULL, NULL, r.vm, err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	show_id(ctx, r.id, out, err);
out:
	hv_close(hv);
	buf_release(&xml);
	volrow_release(&r);
	return err->code;
}

static void
names(struct ctx *ctx, const char *table, const char *prefix,
    void (*each)(const char *))
{
	struct cerr err = { 0 };
	struct cstmt *st = NULL;
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT name FROM %s WHERE substr(name, 1, "
	    "length(?1)) = ?1 ORDER BY name", table);
	if (catalog_query(ctx->cat, &st, &err, sql, "s", prefix))
		return;
	while (cstmt_row(st, &err))
		each(cstmt_text(st, 0));
	cstmt_free(st);
}

void
vol_names(struct ctx *ctx, const char *prefix, void (*each)(const char *))
{
	names(ctx, "volumes", prefix, each);
}

void
vol_ds_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *))
{
	names(ctx, "datastores", prefix, each);
}

/* Apply. */

int
vol_doc_str(const struct doc *d, const char *key, bool need, const char **out,
    const char *where, struct cerr *err)
{
	const struct doc *v = doc_map_get(d, key);

	*out = NULL;
	if (v == NULL || v->type == DOC_NULL) {
		if (need) {
			cerr_set(err, CERR_USAGE, "%s: missing", key);
			return cerr_wrap(err, "%s", where);
		}
		return 0;
	}
	if (v->type != DOC_STR) {
		cerr_set(err, CERR_USAGE, "%s: expected a string", key);
		return cerr_wrap(err, "%s", where);
	}
	*out = v->u.s;
	return 0;
}

/* The fields of a Volume document (strings borrowed from d). */
static int
vol_doc_read(const struct doc *d, const char *where, const char **name,
    const char **ds, const char **host, long long *size, struct cerr *err)
{
	const struct doc *sz = doc_map_get(d, "size");

	if (vol_doc_str(d, "name", true, name, where, err) ||
	    vol_doc_str(d, "datastore", false, ds, where, err) ||
	    vol_doc_str(d, "host", false, host, where, err))
		return err->code;
	if (sz == NULL) {
		cerr_set(err, CERR_USAGE, "size: missing");
		return cerr_wrap(err, "%s", where);
	}
	if (units_doc_mib(sz, size, err))
		return cerr_wrap(err, "%s: size", where);
	return 0;
}

int
vol_check(const struct doc *d, const char *where, struct cerr *err)
{
	const char *name, *ds, *host;
	long long size;

	if (vol_doc_read(d, where, &name, &ds, &host, &size, err))
		return err->code;
	if (valid_name("volume", name, err))
		return cerr_wrap(err, "%s", where);
	if (size < 1) {
		cerr_set(err, CERR_USAGE, "invalid size (at least 1 MiB)");
		return cerr_wrap(err, "%s", where);
	}
	return 0;
}

int
vol_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	const char *name, *ds, *host;
	struct volrow r = { 0 };
	long long size;

	if (vol_doc_read(d, where, &name, &ds, &host, &size, err))
		return err->code;
	if (vol_load(ctx, name, &r, err) == 0) {
		if ((ds && strcmp(ds, r.ds) != 0) ||
		    (host && strcmp(host, r.host) != 0))
			cerr_set(err, CERR_CONFLICT, "cannot move volume '%s' "
			    "(it is in datastore '%s' on host '%s')", name,
			    r.ds, r.host);
		else
			vol_resize(ctx, name, size, out, err);
	} else if (err->code == CERR_NOTFOUND) {
		cerr_clear(err);
		vol_create(ctx, name, size, ds, host, out, err);
	}
	volrow_release(&r);
	return err->code;
}
