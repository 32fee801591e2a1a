/*
 * vm.c - service: VMs, the first file of the vm family (vm-int.h).  A VM's
 * row and its document (show, list, history), create and apply of VM
 * documents (read and checked by vm-spec.c), and the record of every
 * transition (intent, outcome) the family's other files share.  Uses the
 * catalog and yml adapters and the expr, seed, units and valid engines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "acct.h"
#include "buf.h"
#include "catalog.h"
#include "expr.h"
#include "fault.h"
#include "fit.h"
#include "img.h"
#include "labels.h"
#include "net.h"
#include "owner.h"
#include "secgroup.h"
#include "seed.h"
#include "units.h"
#include "valid.h"
#include "vm.h"
#include "xalloc.h"
#include "yml.h"
#include "rows.h"
#include "vm-int.h"
#include "compat.h"

#define VM_COLS \
	"SELECT v.id, v.uuid, v.name, v.state, h.name, v.cpu, v.memory, " \
	"v.labels, u.name, g.name, v.created, v.updated, v.error, h.uri, " \
	"h.domain_type, v.host_id, v.target, v.intent_pid, v.target_host, " \
	"v.spec, (SELECT json_object('disks', json_group_array(json_object(" \
	"'target', d.target, 'size', d.size, 'image', i.name, 'datastore', " \
	"s.name))) FROM " \
	"vm_disks d LEFT JOIN images i ON i.id = d.image_id LEFT JOIN " \
	"datastores s ON s.id = d.datastore_id WHERE d.vm_id = v.id), " \
	"v.requirements, v.policy, v.rank, ag.name, v.priority, v.reason, " \
	"COALESCE(v.vm_group, 0), (SELECT COALESCE(sum(d.size), 0) FROM " \
	"vm_disks d WHERE d.vm_id = v.id), " NET_VM_IPS ", " NET_VM_NICS " " \
	"FROM vms v JOIN users u ON u.id = v.owner " \
	"JOIN groups g ON g.id = v.group_id " \
	"LEFT JOIN hosts h ON h.id = v.host_id " \
	"LEFT JOIN vm_groups ag ON ag.id = v.vm_group "

/* The columns of VM_COLS, in its order: a row is read by these names. */
enum vm_col {
	VM_COL_ID, VM_COL_UUID, VM_COL_NAME, VM_COL_STATE,
	VM_COL_HOST,			/* h.name */
	VM_COL_CPU, VM_COL_MEMORY, VM_COL_LABELS,
	VM_COL_OWNER,			/* u.name */
	VM_COL_GROUP_OWNER,		/* g.name */
	VM_COL_CREATED, VM_COL_UPDATED, VM_COL_ERROR,
	VM_COL_URI, VM_COL_DOMAIN_TYPE,	/* the host's */
	VM_COL_HOST_ID, VM_COL_TARGET, VM_COL_INTENT_PID, VM_COL_TARGET_HOST,
	VM_COL_SPEC,
	VM_COL_DISKS,			/* {"disks": [...]} */
	VM_COL_REQUIREMENTS, VM_COL_POLICY, VM_COL_RANK,
	VM_COL_AFFINITY,		/* ag.name, the affinity group */
	VM_COL_PRIORITY, VM_COL_REASON,
	VM_COL_AFFINITY_ID,		/* v.vm_group, 0 for none */
	VM_COL_DISK_MIB,		/* the sum of its disks' sizes */
	VM_COL_IPS, VM_COL_NICS,	/* NET_VM_IPS, NET_VM_NICS */
};

/* Who may see and change a VM: admins and its owner.  Sharing with the
 * group is explicit and arrives with cacct's permissions; ?3 (the group id)
 * is bound already for it.  Binds ?1 (admin), ?2 (user id). */
#define VM_VISIBLE "(?1 OR v.owner = ?2)"

void
vm_row_release(struct vmrow *r)
{
	free(r->name);
	free(r->host);
	free(r->uri);
	free(r->domain_type);
	free(r->target);
	free(r->requirements);
	free(r->policy);
	free(r->rank);
	free(r->spec);
	memset(r, 0, sizeof(*r));
}

char *
vm_dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
vm_row_fill(struct cstmt *st, struct vmrow *r)
{
	r->id = cstmt_int(st, VM_COL_ID);
	snprintf(r->uuid, sizeof(r->uuid), "%s", cstmt_text(st, VM_COL_UUID));
	r->name = xstrdup(cstmt_text(st, VM_COL_NAME));
	/* the catalog's CHECK admits only the states' names */
	if (vm_state_parse(cstmt_text(st, VM_COL_STATE), &r->state))
		r->state = VM_STATE_UNKNOWN;
	r->host = vm_dup_or_null(cstmt_text(st, VM_COL_HOST));
	r->cpu = (int)cstmt_int(st, VM_COL_CPU);
	r->memory = cstmt_int(st, VM_COL_MEMORY);
	r->uri = vm_dup_or_null(cstmt_text(st, VM_COL_URI));
	r->domain_type = vm_dup_or_null(cstmt_text(st, VM_COL_DOMAIN_TYPE));
	r->host_id = cstmt_null(st, VM_COL_HOST_ID) ? 0 :
	    cstmt_int(st, VM_COL_HOST_ID);
	r->target = vm_dup_or_null(cstmt_text(st, VM_COL_TARGET));
	r->intent_pid = cstmt_null(st, VM_COL_INTENT_PID) ? 0 :
	    cstmt_int(st, VM_COL_INTENT_PID);
	r->target_host = cstmt_null(st, VM_COL_TARGET_HOST) ? 0 :
	    cstmt_int(st, VM_COL_TARGET_HOST);
	r->requirements = vm_dup_or_null(cstmt_text(st, VM_COL_REQUIREMENTS));
	r->policy = vm_dup_or_null(cstmt_text(st, VM_COL_POLICY));
	r->rank = vm_dup_or_null(cstmt_text(st, VM_COL_RANK));
	r->group = cstmt_int(st, VM_COL_AFFINITY_ID);
	r->disk = cstmt_int(st, VM_COL_DISK_MIB);
	r->spec = vm_dup_or_null(cstmt_text(st, VM_COL_SPEC));
}

/* The JSON of a VM's disks ({"disks": [...]}) as a list of {target, size,
 * image, datastore}, without the fields a disk does not have. */
static struct doc *
disks_doc(const char *json)
{
	struct doc *l = doc_new(DOC_LIST);
	struct doclist dl = { 0 };
	struct cerr err = { 0 };
	const struct doc *a;
	size_t i;

	/* {"disks": [...]}: a bare array would read as a stream of maps */
	if (json == NULL || yml_read("disks", json, strlen(json), &dl, &err) ||
	    dl.n != 1 || (a = doc_map_get(dl.v[0], "disks")) == NULL ||
	    a->type != DOC_LIST)
		goto out;
	for (i = 0; i < a->u.list.n; i++) {
		const struct doc *d = a->u.list.v[i], *v;
		struct doc *m = doc_new(DOC_MAP);
		static const char *const keys[] = {
			"target", "size", "image", "datastore", NULL,
		};
		size_t k;

		for (k = 0; keys[k]; k++)
			if ((v = doc_map_get(d, keys[k])) != NULL &&
			    v->type != DOC_NULL)
				doc_map_set(m, keys[k], doc_copy(v));
		doc_list_push(l, m);
	}
out:
	doclist_release(&dl);
	return l;
}

static struct doc *
vm_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "VM");
	doc_set_int(d, "id", cstmt_int(st, VM_COL_ID));
	doc_set_str(d, "name", cstmt_text(st, VM_COL_NAME));
	doc_set_str(d, "uuid", cstmt_text(st, VM_COL_UUID));
	doc_set_str(d, "state", cstmt_text(st, VM_COL_STATE));
	doc_set_str(d, "host", cstmt_text(st, VM_COL_HOST));
	doc_set_int(d, "cpu", cstmt_int(st, VM_COL_CPU));
	doc_set_int(d, "memory", cstmt_int(st, VM_COL_MEMORY));
	doc_map_set(d, "labels", labels_from_json(cstmt_text(st,
	    VM_COL_LABELS)));
	doc_map_set(d, "ips", net_json_list(cstmt_text(st, VM_COL_IPS)));
	doc_set_str(d, "owner", cstmt_text(st, VM_COL_OWNER));
	doc_set_str(d, "group_owner", cstmt_text(st, VM_COL_GROUP_OWNER));
	doc_set_str(d, "created", cstmt_text(st, VM_COL_CREATED));
	doc_set_str(d, "updated", cstmt_text(st, VM_COL_UPDATED));
	if (!cstmt_null(st, VM_COL_ERROR))
		doc_set_str(d, "error", cstmt_text(st, VM_COL_ERROR));
	doc_map_set(d, "disks", disks_doc(cstmt_text(st, VM_COL_DISKS)));
	doc_map_set(d, "nics", net_json_list(cstmt_text(st, VM_COL_NICS)));
	if (!cstmt_null(st, VM_COL_REQUIREMENTS))
		doc_set_str(d, "requirements", cstmt_text(st,
		    VM_COL_REQUIREMENTS));
	if (strcmp(cstmt_text(st, VM_COL_POLICY), "rank") == 0) {
		struct doc *p = doc_new(DOC_MAP);

		doc_set_str(p, "rank", cstmt_text(st, VM_COL_RANK));
		doc_map_set(d, "policy", p);
	} else {
		doc_set_str(d, "policy", cstmt_text(st, VM_COL_POLICY));
	}
	if (!cstmt_null(st, VM_COL_AFFINITY))
		doc_set_str(d, "group", cstmt_text(st, VM_COL_AFFINITY));
	doc_set_int(d, "priority", cstmt_int(st, VM_COL_PRIORITY));
	if (!cstmt_null(st, VM_COL_REASON))
		doc_set_str(d, "reason", cstmt_text(st, VM_COL_REASON));
	return d;
}

/* Query the VM ref names (id, UUID, or live name), visible to the caller. */
static int
vm_query(struct ctx *ctx, const char *ref, struct cstmt **st,
    struct cerr *err)
{
	long long id;

	if (valid_id(ref, &id))
		return catalog_query(ctx->cat, st, err, VM_COLS "WHERE "
		    VM_VISIBLE " AND v.id = ?4", "iiii",
		    (long long)ctx->who.admin, ctx->who.user_id,
		    ctx->who.group_id, id);
	return catalog_query(ctx->cat, st, err, VM_COLS "WHERE " VM_VISIBLE
	    " AND (v.uuid = lower(?4) OR (v.name = ?4 AND v.state != 'done'))"
	    " ORDER BY v.id DESC LIMIT 1", "iiis", (long long)ctx->who.admin,
	    ctx->who.user_id, ctx->who.group_id, ref);
}

int
vm_load(struct ctx *ctx, const char *ref, struct vmrow *r, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (vm_query(ctx, ref, &st, err))
		return err->code;
	if (cstmt_row(st, err))
		vm_row_fill(st, r);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no vm '%s'", ref);
	cstmt_free(st);
	return err->code;
}

int
vm_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (vm_query(ctx, ref, &st, err))
		return err->code;
	if (cstmt_row(st, err))
		*out = vm_doc(st);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no vm '%s'", ref);
	cstmt_free(st);
	return err->code;
}

/* vm_show by catalog id, for what an action hands back. */
int
vm_show_id(struct ctx *ctx, long long id, struct doc **out,
    struct cerr *err)
{
	char ref[32];

	snprintf(ref, sizeof(ref), "%lld", id);
	return vm_show(ctx, ref, out, err);
}

static const char *const vm_state_names[] = {
	[VM_STATE_PENDING] = "pending",
	[VM_STATE_HOLD] = "hold",
	[VM_STATE_DEPLOYING] = "deploying",
	[VM_STATE_RUNNING] = "running",
	[VM_STATE_SUSPENDED] = "suspended",
	[VM_STATE_STOPPED] = "stopped",
	[VM_STATE_POWEROFF] = "poweroff",
	[VM_STATE_MIGRATING] = "migrating",
	[VM_STATE_SHUTTING_DOWN] = "shutting-down",
	[VM_STATE_FAILED] = "failed",
	[VM_STATE_UNKNOWN] = "unknown",
	[VM_STATE_DONE] = "done",
};
#define VM_NSTATES (sizeof(vm_state_names) / sizeof(vm_state_names[0]))

const char *
vm_state_name(enum vm_state s)
{
	return s >= 0 && (size_t)s < VM_NSTATES ? vm_state_names[s] : "?";
}

int
vm_state_parse(const char *name, enum vm_state *s)
{
	size_t i;

	for (i = 0; i < VM_NSTATES; i++)
		if (strcmp(vm_state_names[i], name) == 0) {
			*s = (enum vm_state)i;
			return 0;
		}
	*s = VM_STATE_NONE;
	return -1;
}

int
vm_state_from_user(const char *text, enum vm_state *s, struct cerr *err)
{
	size_t i;

	if (valid_enum(text, vm_state_names, VM_NSTATES, &i, "state", err))
		return err->code;
	*s = (enum vm_state)i;
	return 0;
}

int
vm_list(struct ctx *ctx, const struct vm_filter *f, emit_fn emit,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	long long hid = -1;
	enum vm_state state = VM_STATE_NONE;

	if (f->state && vm_state_from_user(f->state, &state, err))
		return err->code;
	if (f->host && !valid_id(f->host, &hid))
		hid = -1;
	if (catalog_query(ctx->cat, &st, err, VM_COLS "WHERE " VM_VISIBLE
	    " AND (?4 IS NULL OR v.state = ?4)"
	    " AND (?4 IS NOT NULL OR ?5 OR v.state != 'done')"
	    " AND (?6 IS NULL OR h.name = ?6 OR h.id = ?7)"
	    " AND (?8 IS NULL OR v.name GLOB ?8)"
	    " ORDER BY v.id", "iiisdsis", (long long)ctx->who.admin,
	    ctx->who.user_id, ctx->who.group_id,
	    f->state ? vm_state_name(state) : NULL, (int)f->all,
	    f->host, hid, f->name))
		return err->code;
	rows_emit(ctx, st, vm_doc, emit, err);
	cstmt_free(st);
	return err->code;
}

static int
new_uuid(char out[40], struct cerr *err)
{
	unsigned char u[16];
	ssize_t n;

	do
		n = getrandom(u, sizeof(u), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(u))
		return cerr_set(err, CERR_FAIL, "cannot make a UUID: %s",
		    strerror(errno));
	u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

/* Inside a transaction: move VM id from state `from` to `to` (setting the
 * host to host_id, 0 for none, or keeping it when host_id < 0) and record
 * the error text (NULL clears it), with an audit event. */
int
vm_transition(struct ctx *ctx, const struct vmrow *r, enum vm_state from,
    enum vm_state to, long long host_id, const char *error,
    const char *action, struct cerr *err)
{
	char now[32], detail[128];

	catalog_now(now);
	if (catalog_exec(ctx->cat, err, "UPDATE vms SET state = ?1, "
	    "host_id = CASE WHEN ?2 < 0 THEN host_id WHEN ?2 = 0 THEN NULL "
	    "ELSE ?2 END, error = ?3, updated = ?4, target = NULL, "
	    "target_host = NULL, intent_pid = NULL, intent_owner = NULL "
	    "WHERE id = ?5 AND state = ?6",
	    "sissis", vm_state_name(to), host_id, error, now, r->id,
	    vm_state_name(from)))
		return err->code;
	if (catalog_changes(ctx->cat) != 1)
		return cerr_set(err, CERR_CONFLICT, "vm '%s' changed "
		    "concurrently (it is no longer %s)", r->name,
		    vm_state_name(from));
	/* a deleted VM's disks are gone from its host */
	if (to == VM_STATE_DONE && catalog_exec(ctx->cat, err, "DELETE "
	    "FROM vm_disks WHERE vm_id = ?", "i", r->id))
		return err->code;
	/* and its NICs, with their leases and security groups (groups
	 * that let its addresses in are marked for a refresh) */
	if (to == VM_STATE_DONE && (secgroup_mark_members(ctx, r->id, 0,
	    err) || catalog_exec(ctx->cat, err, "DELETE FROM vm_nics WHERE "
	    "vm_id = ?", "i", r->id)))
		return err->code;
	snprintf(detail, sizeof(detail), "%s -> %s", vm_state_name(from),
	    vm_state_name(to));
	return acct_audit(ctx, action, "VM", r->id, r->name,
	    error ? error : detail, err);
}

/* Inside a transaction: record the intent to take r from `from` to
 * target through the transitional state `during`, run by this process. */
int
vm_intent(struct ctx *ctx, const struct vmrow *r, enum vm_state from,
    enum vm_state during, enum vm_state target, long long host_id,
    const char *action, struct cerr *err)
{
	if (vm_transition(ctx, r, from, during, host_id, NULL, action, err))
		return err->code;
	return catalog_exec(ctx->cat, err, "UPDATE vms SET target = ?, "
	    "intent_pid = ?, intent_owner = nullif(?, '') WHERE id = ?",
	    "sisi", vm_state_name(target), (long long)getpid(), owner_self(),
	    r->id);
}

/* Record an outcome in its own transaction. */
int
vm_record(struct ctx *ctx, const struct vmrow *r, enum vm_state from,
    enum vm_state to, long long host_id, const char *error,
    const char *action, struct cerr *err)
{
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_transition(ctx, r, from, to, host_id, error, action, err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		return err->code;
	}
	return 0;
}

/* Inside a transaction: the first enabled host with room for r. */
int
vm_place(struct ctx *ctx, struct vmrow *r, struct cerr *err)
{
	struct fit_req q = {
		.name = r->name, .cpu = r->cpu, .memory = r->memory,
		.disk = r->disk, .requirements = r->requirements,
		.policy = r->policy, .rank = r->rank, .group = r->group,
		.ds = r->ds, .nds = r->nds, .vm_id = r->id,
	};
	struct cstmt *st = NULL;
	long long id = 0;

	if (fit_choose(ctx, &q, &id, err) ||
	    catalog_query(ctx->cat, &st, err, "SELECT name, uri, domain_type "
	    "FROM hosts WHERE id = ?", "i", id))
		return err->code;
	if (cstmt_row(st, err)) {
		r->host_id = id;
		r->host = xstrdup(cstmt_text(st, 0));
		r->uri = xstrdup(cstmt_text(st, 1));
		r->domain_type = xstrdup(cstmt_text(st, 2));
	}
	cstmt_free(st);
	return err->code;
}

/* What a document's disks come to in the catalog. */
struct resolved {
	long long size[VM_MAX_DISKS];	/* MiB */
	long long image[VM_MAX_DISKS];	/* image id, or 0 */
	long long ds[VM_MAX_DISKS];	/* datastore id, or 0 */
	struct fit_ds need[VM_MAX_DISKS];	/* MiB per datastore */
	size_t nneed;
};

/*
 * Inside the transaction that records the VM: the images its disks clone
 * (visible to the caller, ready or used: the VM's row makes them used in
 * the same transaction) and their sizes, and the datastores they go to
 * with room for them on some enabled host at the last look.
 */
static int
disks_resolve(struct ctx *ctx, const struct vmspec *s, struct resolved *rv,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t i, j;

	memset(rv, 0, sizeof(*rv));
	for (i = 0; i < s->ndisks; i++) {
		const struct specdisk *sd = &s->disks[i];

		rv->size[i] = sd->size;
		if (sd->image) {
			struct img_disk im;

			if (img_disk(ctx, sd->image, 0, &im, err))
				return cerr_wrap(err, "disks[%zu].image", i);
			rv->image[i] = im.id;
			if (sd->size == 0) {
				rv->size[i] = im.virtual_size > 0 ?
				    im.virtual_size : 1;
			} else if (sd->size < im.virtual_size) {
				cerr_set(err, CERR_USAGE, "disks[%zu].size: "
				    "%lld MiB is smaller than image '%s' "
				    "(%lld MiB)", i, sd->size, im.name,
				    im.virtual_size);
				img_disk_release(&im);
				return err->code;
			}
			img_disk_release(&im);
		}
		if (sd->datastore == NULL)
			continue;
		if (catalog_query(ctx->cat, &st, err, "SELECT id FROM "
		    "datastores WHERE name = ?", "s", sd->datastore))
			return err->code;
		if (cstmt_row(st, err))
			rv->ds[i] = cstmt_int(st, 0);
		else if (err->code == 0)
			cerr_set(err, CERR_NOTFOUND, "disks[%zu].datastore: no "
			    "datastore '%s'", i, sd->datastore);
		cstmt_free(st);
		if (err->code)
			return err->code;
		for (j = 0; j < rv->nneed; j++)
			if (strcmp(rv->need[j].name, sd->datastore) == 0)
				break;
		if (j == rv->nneed)
			rv->need[rv->nneed++].name = sd->datastore;
		rv->need[j].size += rv->size[i];
	}
	/* room: what the datastore had free on its roomiest enabled host */
	for (j = 0; j < rv->nneed; j++) {
		long long avail = -1;
		char *host = NULL;

		if (catalog_query(ctx->cat, &st, err, "SELECT "
		    "COALESCE(x.available, 0), h.name FROM datastore_hosts x "
		    "JOIN datastores s ON s.id = x.datastore_id JOIN hosts h "
		    "ON h.id = x.host_id WHERE s.name = ? AND h.state = "
		    "'enabled' ORDER BY x.available DESC, h.id LIMIT 1", "s",
		    rv->need[j].name))
			return err->code;
		if (cstmt_row(st, err)) {
			avail = cstmt_int(st, 0);
			host = xstrdup(cstmt_text(st, 1));
		}
		cstmt_free(st);
		if (err->code == 0 && avail < 0)
			cerr_set(err, CERR_CAPACITY, "disks: datastore '%s' is "
			    "on no enabled host", rv->need[j].name);
		else if (err->code == 0 && avail < rv->need[j].size)
			cerr_set(err, CERR_CAPACITY, "disks: %lld MiB in "
			    "datastore '%s' is more than it has free (at most "
			    "%lld MiB, on host '%s')", rv->need[j].size,
			    rv->need[j].name, avail, host);
		free(host);
		if (err->code)
			return err->code;
	}
	return 0;
}

/* The cpu and memory a document leaves out, from the suggested size of
 * the image of its first disk cloned from one (an OVF's virtual
 * hardware, or cimg set --cpu --memory). */
static int
suggested_size(struct ctx *ctx, const struct vmspec *s,
    const struct resolved *rv, struct vmrow *r, struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t i;

	for (i = 0; i < s->ndisks && rv->image[i] == 0; i++)
		;
	if (i == s->ndisks)
		return cerr_set(err, CERR_USAGE, "%s: missing", s->cpu == 0 ?
		    "cpu" : "memory");
	if (catalog_query(ctx->cat, &st, err, "SELECT name, cpu, memory FROM "
	    "images WHERE id = ?", "i", rv->image[i]))
		return err->code;
	if (cstmt_row(st, err)) {
		if (s->cpu == 0 && cstmt_null(st, 1))
			cerr_set(err, CERR_USAGE, "cpu: missing, and image "
			    "'%s' suggests none (cimg set --cpu)",
			    cstmt_text(st, 0));
		else if (s->memory == 0 && cstmt_null(st, 2))
			cerr_set(err, CERR_USAGE, "memory: missing, and image "
			    "'%s' suggests none (cimg set --memory)",
			    cstmt_text(st, 0));
		if (err->code == 0 && s->cpu == 0)
			r->cpu = (int)cstmt_int(st, 1);
		if (err->code == 0 && s->memory == 0)
			r->memory = cstmt_int(st, 2);
	} else if (err->code == 0) {
		cerr_set(err, CERR_NOTFOUND, "no image %lld", rv->image[i]);
	}
	cstmt_free(st);
	return err->code;
}

int
vm_check(const struct doc *d, const char *where, struct cerr *err)
{
	struct vmspec s = { .labels = BUF_INIT };

	if (vm_spec_from_doc(d, &s, err))
		cerr_wrap(err, "%s", where);
	buf_release(&s.labels);
	free(s.spec);
	return err->code;
}

int
vm_create(struct ctx *ctx, const struct doc *d, const char *where,
    const struct vm_opts *o, struct doc **out, struct cerr *err)
{
	struct vmspec s = { .labels = BUF_INIT };
	struct resolved rv;
	struct vmrow r = { 0 };
	struct cstmt *st = NULL;
	char now[32];
	size_t i;
	int taken;

	if (vm_spec_from_doc(d, &s, err)) {
		cerr_wrap(err, "%s", where);
		goto out;
	}
	r.name = xstrdup(o && o->name ? o->name : s.name);
	if (o && o->name && valid_name("vm", r.name, err))
		goto out;
	r.cpu = s.cpu;
	r.memory = s.memory;
	r.spec = xstrdup(s.spec);
	r.requirements = vm_dup_or_null(s.requirements);
	r.policy = xstrdup(s.policy);
	r.rank = vm_dup_or_null(s.rank);
	if (new_uuid(r.uuid, err) || catalog_begin(ctx->cat, err))
		goto out;
	if (disks_resolve(ctx, &s, &rv, err)) {
		if (err->code == CERR_USAGE)
			cerr_wrap(err, "%s", where);
		goto fail;
	}
	if ((s.cpu == 0 || s.memory == 0) &&
	    suggested_size(ctx, &s, &rv, &r, err)) {
		if (err->code == CERR_USAGE)
			cerr_wrap(err, "%s", where);
		goto fail;
	}
	for (i = 0; i < s.ndisks; i++)
		r.disk += rv.size[i];
	r.ds = rv.need;
	r.nds = rv.nneed;
	if (s.group && fit_group_id(ctx, s.group, &r.group, err)) {
		cerr_wrap(err, "%s: group", where);
		goto fail;
	}
	if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM vms WHERE "
	    "name = ? AND state != 'done'", "s", r.name))
		goto fail;
	taken = cstmt_row(st, err);
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (taken) {
		cerr_set(err, CERR_CONFLICT, "vm '%s' exists already", r.name);
		goto fail;
	}
	if (!(o && (o->hold || o->queue)) && vm_place(ctx, &r, err))
		goto fail;
	/* intent: the VM is deploying to the chosen host (or held) */
	catalog_now(now);
	if (catalog_exec(ctx->cat, err, "INSERT INTO vms (uuid, name, state, "
	    "host_id, cpu, memory, labels, spec, owner, group_id, created, "
	    "updated, target, intent_pid, intent_owner) VALUES (?, ?, ?, "
	    "nullif(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, 0), "
	    "nullif(?, ''))", "sssidissiisssis", r.uuid, r.name,
	    vm_state_name(o && o->hold ? VM_STATE_HOLD : o && o->queue ?
	    VM_STATE_PENDING : VM_STATE_DEPLOYING),
	    r.host_id, r.cpu, r.memory, s.labels.s, s.spec, ctx->who.user_id,
	    ctx->who.group_id, now, now,
	    o && (o->hold || o->queue) ? NULL :
	    vm_state_name(VM_STATE_RUNNING),
	    o && (o->hold || o->queue) ? 0LL : (long long)getpid(),
	    o && (o->hold || o->queue) ? "" : owner_self()))
		goto fail;
	r.id = catalog_last_id(ctx->cat);
	if (catalog_exec(ctx->cat, err, "UPDATE vms SET requirements = ?, "
	    "policy = ?, rank = ?, vm_group = nullif(?, 0), priority = ? "
	    "WHERE id = ?", "sssiii", r.requirements, r.policy, r.rank,
	    r.group, (long long)s.priority, r.id))
		goto fail;
	for (i = 0; i < s.ndisks; i++) {
		char target[8], vol[64];

		vm_disk_target(i, target);
		vm_disk_volume(r.uuid, target, vol);
		if (catalog_exec(ctx->cat, err, "INSERT INTO vm_disks (vm_id, "
		    "target, volume, size, created, image_id, datastore_id) "
		    "VALUES (?, ?, ?, ?, ?, nullif(?, 0), nullif(?, 0))",
		    "issisii", r.id, target, vol, rv.size[i], now, rv.image[i],
		    rv.ds[i]))
			goto fail;
	}
	/* NICs: MACs and leases taken in this transaction, for queued and
	 * held VMs too */
	for (i = 0; i < s.nnics; i++)
		if (net_nic_add(ctx, r.id, r.name, (int)i,
		    s.nics->u.list.v[i], err)) {
			cerr_wrap(err, "cannot create vm '%s': nics[%zu]",
			    r.name, i);
			goto fail;
		}
	if (s.nnics && secgroup_mark_members(ctx, r.id, 0, err))
		goto fail;
	if (acct_audit(ctx, "create", "VM", r.id, r.name,
	    r.host ? r.host : o && o->hold ? "hold" : "pending", err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	fault_point("vm.intent");
	if (s.nnics)
		vm_nic_peers_refresh(ctx);
	if (o && (o->hold || o->queue)) {
		vm_show_id(ctx, r.id, out, err);
	} else {
		vm_act_deploy_outcome(ctx, &r, out, err);
	}
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	vm_row_release(&r);
	buf_release(&s.labels);
	free(s.spec);
	return err->code;
}

/* The JSON of a document's context ("" when it has none). */
static char *
context_json(const struct doc *d)
{
	const struct doc *c = d ? doc_map_get(d, "context") : NULL;
	struct buf b = BUF_INIT;

	if (!vm_spec_empty(c))
		doc_json(&b, c);
	buf_puts(&b, "");
	return buf_detach(&b);
}

int
vm_apply(struct ctx *ctx, const struct doc *d, const char *where,
    const struct vm_opts *o, struct doc **out, bool *changed,
    struct cerr *err)
{
	struct vmspec s = { .labels = BUF_INIT };
	struct doclist old = { 0 };
	struct cstmt *st = NULL;
	struct doc *tmp = NULL;
	char id[32], now[32], detail[64] = "", *ctx_new = NULL, *ctx_old = NULL;
	char *labels = NULL, *spec = NULL;
	long long vid = 0, mem = 0;
	int cpu = 0, found, new_labels, new_context, new_ha;

	*changed = false;
	if (vm_spec_from_doc(d, &s, err)) {
		cerr_wrap(err, "%s", where);
		goto out;
	}
	if (catalog_query(ctx->cat, &st, err, "SELECT v.id, v.cpu, v.memory, "
	    "v.labels, v.spec FROM vms v WHERE " VM_VISIBLE " AND v.name = ?4 "
	    "AND v.state != 'done'", "iiis", (long long)ctx->who.admin,
	    ctx->who.user_id, ctx->who.group_id, s.name))
		goto out;
	if ((found = cstmt_row(st, err))) {
		vid = cstmt_int(st, 0);
		cpu = (int)cstmt_int(st, 1);
		mem = cstmt_int(st, 2);
		labels = xstrdup(cstmt_text(st, 3));
		spec = xstrdup(cstmt_text(st, 4));
	}
	cstmt_free(st);
	if (err->code)
		goto out;
	if (!found) {
		*changed = true;
		vm_create(ctx, d, where, o, out, err);
		goto out;
	}
	snprintf(id, sizeof(id), "%lld", vid);
	/* a size the document leaves to its image is the VM's own */
	if (s.cpu == 0)
		s.cpu = cpu;
	if (s.memory == 0)
		s.memory = mem;
	/* the size, by the rules of resize */
	if ((cpu != s.cpu || mem != s.memory) && vm_resize(ctx, id,
	    cpu != s.cpu ? s.cpu : 0, mem != s.memory ? s.memory : 0, &tmp,
	    err)) {
		cerr_wrap(err, "%s", where);
		goto out;
	}
	*changed = cpu != s.cpu || mem != s.memory;
	/* labels and context, when the document gives them */
	if (yml_read("spec", spec, strlen(spec), &old, err) || old.n != 1) {
		cerr_clear(err);
		cerr_set(err, CERR_FAIL, "the stored document of vm '%s' is "
		    "unreadable", s.name);
		goto out;
	}
	ctx_old = context_json(old.v[0]);
	ctx_new = context_json(d);
	new_labels = doc_map_get(d, "labels") != NULL &&
	    strcmp(labels, s.labels.s ? s.labels.s : "{}") != 0;
	new_context = doc_map_get(d, "context") != NULL &&
	    strcmp(ctx_old, ctx_new) != 0;
	{
		const char *ha_old = doc_get_str(old.v[0], "ha");
		const char *ha_new = doc_get_str(d, "ha");

		new_ha = doc_map_get(d, "ha") != NULL &&
		    strcasecmp(ha_old ? ha_old : "none", ha_new ? ha_new :
		    "none") != 0;
	}
	if (new_labels || new_context || new_ha) {
		struct doc *keep = doc_copy(d);

		/* the stored document: the new one, with what it leaves out
		 * (context) kept from the old */
		if (!new_context &&
		    !vm_spec_empty(doc_map_get(old.v[0], "context")))
			doc_map_set(keep, "context", doc_copy(doc_map_get(
			    old.v[0], "context")));
		if (!new_ha && doc_map_get(old.v[0], "ha"))
			doc_map_set(keep, "ha", doc_copy(doc_map_get(old.v[0],
			    "ha")));
		free(s.spec);
		s.spec = vm_spec_json(keep);
		doc_free(keep);
		snprintf(detail, sizeof(detail), "%s%s%s%s%s",
		    new_labels ? "labels" : "",
		    new_labels && new_context ? ", " : "",
		    new_context ? "context" : "",
		    (new_labels || new_context) && new_ha ? ", " : "",
		    new_ha ? "ha" : "");
		catalog_now(now);
		if (catalog_begin(ctx->cat, err))
			goto out;
		if (catalog_exec(ctx->cat, err, "UPDATE vms SET labels = "
		    "CASE WHEN ?1 THEN ?2 ELSE labels END, spec = ?3, "
		    "updated = ?4 WHERE id = ?5", "isssi",
		    (long long)new_labels, s.labels.s ? s.labels.s : "{}",
		    s.spec, now, vid) ||
		    acct_audit(ctx, "update", "VM", vid, s.name, detail, err) ||
		    catalog_commit(ctx->cat, err)) {
			catalog_rollback(ctx->cat);
			goto out;
		}
		*changed = true;
		/* the guest reads a new seed when it next boots */
		if (new_context && vm_reseed(ctx, id, err))
			goto out;
	}
	vm_show(ctx, id, out, err);
out:
	doc_free(tmp);
	doclist_release(&old);
	free(ctx_old);
	free(ctx_new);
	free(labels);
	free(spec);
	buf_release(&s.labels);
	free(s.spec);
	return err->code;
}

int
vm_batch_begin(struct ctx *ctx, struct cerr *err)
{
	return catalog_batch_begin(ctx->cat, err);
}

int
vm_batch_end(struct ctx *ctx, struct cerr *err)
{
	if (catalog_batch_end(ctx->cat, err) == 0)
		vm_nic_peers_refresh(ctx);
	return err->code;
}

static struct doc *
audit_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "AuditEvent");
	doc_set_int(d, "id", cstmt_int(st, 0));
	doc_set_str(d, "time", cstmt_text(st, 1));
	doc_set_str(d, "user", cstmt_text(st, 2));
	doc_set_str(d, "action", cstmt_text(st, 3));
	doc_set_str(d, "object_kind", cstmt_text(st, 4));
	doc_set_int(d, "object_id", cstmt_int(st, 5));
	doc_set_str(d, "name", cstmt_text(st, 6));
	doc_set_str(d, "detail", cstmt_text(st, 7));
	return d;
}

int
vm_history(struct ctx *ctx, const char *ref, emit_fn emit, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cstmt *st = NULL;

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (catalog_query(ctx->cat, &st, err, "SELECT id, time, user, "
	    "action, kind, object_id, object_name, detail FROM audit "
	    "WHERE kind = 'VM' AND object_id = ? ORDER BY id", "i", r.id) == 0) {
		rows_emit(ctx, st, audit_doc, emit, err);
	}
	cstmt_free(st);
	vm_row_release(&r);
	return err->code;
}

void
vm_names(struct ctx *ctx, const char *prefix, void (*each)(const char *))
{
	struct cerr err = { 0 };
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, &err, "SELECT v.name FROM vms v "
	    "WHERE " VM_VISIBLE " AND v.state != 'done' AND "
	    "substr(v.name, 1, length(?4)) = ?4 ORDER BY v.name", "iiis",
	    (long long)ctx->who.admin, ctx->who.user_id, ctx->who.group_id,
	    prefix))
		return;
	while (cstmt_row(st, &err))
		each(cstmt_text(st, 0));
	cstmt_free(st);
}
