/*
 * vm.c - service: VMs.  Uses the catalog, hv, iso and yml adapters and the
 * domxml, seed, units and valid engines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "acct.h"
#include "buf.h"
#include "catalog.h"
#include "domxml.h"
#include "expr.h"
#include "fault.h"
#include "hv.h"
#include "img.h"
#include "iso.h"
#include "labels.h"
#include "net.h"
#include "owner.h"
#include "scheduler.h"
#include "secgroup.h"
#include "seed.h"
#include "units.h"
#include "valid.h"
#include "vm.h"
#include "vol.h"
#include "xalloc.h"
#include "yml.h"
#include "rows.h"
#include "compat.h"

/* disks take sdb to sdz (sda is the seed's CD-ROM) */
#define VM_MAX_DISKS 25

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

/* Who may see and change a VM: admins and its owner.  Sharing with the
 * group is explicit and arrives with cacct's permissions; ?3 (the group id)
 * is bound already for it.  Binds ?1 (admin), ?2 (user id). */
#define VM_VISIBLE "(?1 OR v.owner = ?2)"

/* A VM as loaded for an action. */
struct vmrow {
	long long id;
	long long host_id;	/* 0 when it has none */
	char uuid[40];
	char *name;
	char state[16];
	char *host;
	char *uri;
	char *domain_type;
	int cpu;
	long long memory;
	char *target;		/* what an action in flight aims for */
	char *requirements;	/* what it asks of its host, or NULL */
	char *policy, *rank;
	long long group;	/* its affinity group, 0 for none */
	long long disk;		/* MiB of its disks */
	long long intent_pid;	/* the process running it, 0 if none */
	long long target_host;	/* where a migration goes, 0 if none */
	char *spec;		/* the VM document as JSON */
	/* a VM not recorded yet: what its disks need of datastores */
	const struct sched_ds *ds;
	size_t nds;
};

static void
vmrow_release(struct vmrow *r)
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

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
vmrow_fill(struct cstmt *st, struct vmrow *r)
{
	r->id = cstmt_int(st, 0);
	snprintf(r->uuid, sizeof(r->uuid), "%s", cstmt_text(st, 1));
	r->name = xstrdup(cstmt_text(st, 2));
	snprintf(r->state, sizeof(r->state), "%s", cstmt_text(st, 3));
	r->host = dup_or_null(cstmt_text(st, 4));
	r->cpu = (int)cstmt_int(st, 5);
	r->memory = cstmt_int(st, 6);
	r->uri = dup_or_null(cstmt_text(st, 13));
	r->domain_type = dup_or_null(cstmt_text(st, 14));
	r->host_id = cstmt_null(st, 15) ? 0 : cstmt_int(st, 15);
	r->target = dup_or_null(cstmt_text(st, 16));
	r->intent_pid = cstmt_null(st, 17) ? 0 : cstmt_int(st, 17);
	r->target_host = cstmt_null(st, 18) ? 0 : cstmt_int(st, 18);
	r->requirements = dup_or_null(cstmt_text(st, 21));
	r->policy = dup_or_null(cstmt_text(st, 22));
	r->rank = dup_or_null(cstmt_text(st, 23));
	r->group = cstmt_int(st, 27);
	r->disk = cstmt_int(st, 28);
	r->spec = dup_or_null(cstmt_text(st, 19));
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
	doc_set_int(d, "id", cstmt_int(st, 0));
	doc_set_str(d, "name", cstmt_text(st, 2));
	doc_set_str(d, "uuid", cstmt_text(st, 1));
	doc_set_str(d, "state", cstmt_text(st, 3));
	doc_set_str(d, "host", cstmt_text(st, 4));
	doc_set_int(d, "cpu", cstmt_int(st, 5));
	doc_set_int(d, "memory", cstmt_int(st, 6));
	doc_map_set(d, "labels", labels_from_json(cstmt_text(st, 7)));
	doc_map_set(d, "ips", net_json_list(cstmt_text(st, 29)));
	doc_set_str(d, "owner", cstmt_text(st, 8));
	doc_set_str(d, "group_owner", cstmt_text(st, 9));
	doc_set_str(d, "created", cstmt_text(st, 10));
	doc_set_str(d, "updated", cstmt_text(st, 11));
	if (!cstmt_null(st, 12))
		doc_set_str(d, "error", cstmt_text(st, 12));
	doc_map_set(d, "disks", disks_doc(cstmt_text(st, 20)));
	doc_map_set(d, "nics", net_json_list(cstmt_text(st, 30)));
	if (!cstmt_null(st, 21))
		doc_set_str(d, "requirements", cstmt_text(st, 21));
	if (strcmp(cstmt_text(st, 22), "rank") == 0) {
		struct doc *p = doc_new(DOC_MAP);

		doc_set_str(p, "rank", cstmt_text(st, 23));
		doc_map_set(d, "policy", p);
	} else {
		doc_set_str(d, "policy", cstmt_text(st, 22));
	}
	if (!cstmt_null(st, 24))
		doc_set_str(d, "group", cstmt_text(st, 24));
	doc_set_int(d, "priority", cstmt_int(st, 25));
	if (!cstmt_null(st, 26))
		doc_set_str(d, "reason", cstmt_text(st, 26));
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

static int
vm_load(struct ctx *ctx, const char *ref, struct vmrow *r, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (vm_query(ctx, ref, &st, err))
		return err->code;
	if (cstmt_row(st, err))
		vmrow_fill(st, r);
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
static int
vm_show_id(struct ctx *ctx, long long id, struct doc **out,
    struct cerr *err)
{
	char ref[32];

	snprintf(ref, sizeof(ref), "%lld", id);
	return vm_show(ctx, ref, out, err);
}

static const char *const vm_states[] = {
	"pending", "hold", "deploying", "running", "suspended", "stopped",
	"poweroff", "migrating", "shutting-down", "failed", "unknown", "done",
	NULL,
};

int
vm_list(struct ctx *ctx, const struct vm_filter *f, emit_fn emit,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	long long hid = -1;
	size_t i;

	if (f->state) {
		for (i = 0; vm_states[i]; i++)
			if (strcmp(vm_states[i], f->state) == 0)
				break;
		if (vm_states[i] == NULL)
			return cerr_set(err, CERR_USAGE, "unknown state '%s'",
			    f->state);
	}
	if (f->host && !valid_id(f->host, &hid))
		hid = -1;
	if (catalog_query(ctx->cat, &st, err, VM_COLS "WHERE " VM_VISIBLE
	    " AND (?4 IS NULL OR v.state = ?4)"
	    " AND (?4 IS NOT NULL OR ?5 OR v.state != 'done')"
	    " AND (?6 IS NULL OR h.name = ?6 OR h.id = ?7)"
	    " AND (?8 IS NULL OR v.name GLOB ?8)"
	    " ORDER BY v.id", "iiisdsis", (long long)ctx->who.admin,
	    ctx->who.user_id, ctx->who.group_id, f->state, (int)f->all,
	    f->host, hid, f->name))
		return err->code;
	rows_emit(ctx, st, vm_doc, emit, err);
	cstmt_free(st);
	return err->code;
}

/* What a VM document asks for. */
struct vmspec {
	const char *name;
	int cpu;
	long long memory;
	struct buf labels;	/* JSON */
	char *spec;		/* its known fields as JSON, kept for later */
	struct specdisk {
		long long size;		/* MiB; 0: the image's size */
		const char *image;	/* a cimg image to clone, or NULL */
		const char *datastore;	/* a cvol datastore, or NULL */
	} disks[VM_MAX_DISKS];
	size_t ndisks;
	const char *requirements;	/* NULL for none */
	const char *policy;		/* pack, spread, load, rank */
	const char *rank;
	const char *group;		/* an affinity group's name */
	int priority;
	const struct doc *nics;		/* the document's nics: list */
	size_t nnics;
};

static int
empty(const struct doc *d)
{
	return d == NULL || d->type == DOC_NULL ||
	    (d->type == DOC_LIST && d->u.list.n == 0) ||
	    (d->type == DOC_MAP && d->u.map.n == 0) ||
	    (d->type == DOC_STR && d->u.s[0] == '\0');
}

/* disks: a list of {image: NAME, size: SIZE, datastore: NAME}: a clone
 * of an image (size: the image's, or more), or a blank disk (size
 * needed), in a datastore's pool or the host's own; target (as printed)
 * is ignored. */
static int
disks_from_doc(const struct doc *l, struct vmspec *s, struct cerr *err)
{
	size_t i, j;

	s->ndisks = 0;
	if (l == NULL || l->type == DOC_NULL)
		return 0;
	if (l->type != DOC_LIST)
		return cerr_set(err, CERR_USAGE, "disks: expected a list, "
		    "found a %s", doc_type_name(l->type));
	if (l->u.list.n > VM_MAX_DISKS)
		return cerr_set(err, CERR_USAGE, "disks: at most %d",
		    VM_MAX_DISKS);
	for (i = 0; i < l->u.list.n; i++) {
		const struct doc *d = l->u.list.v[i], *v;
		struct specdisk *sd = &s->disks[i];

		memset(sd, 0, sizeof(*sd));
		if (d->type != DOC_MAP)
			return cerr_set(err, CERR_USAGE, "disks[%zu]: expected "
			    "a map such as {size: 20GiB}", i);
		for (j = 0; j < d->u.map.n; j++) {
			const char *k = d->u.map.kv[j].key;

			if (strcmp(k, "size") != 0 && strcmp(k, "target") != 0 &&
			    strcmp(k, "image") != 0 &&
			    strcmp(k, "datastore") != 0)
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "%s: unknown field", i, k);
		}
		if ((v = doc_map_get(d, "image")) != NULL &&
		    v->type != DOC_NULL) {
			if (v->type != DOC_STR || *v->u.s == '\0')
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "image: expected the name of an image", i);
			sd->image = v->u.s;
		}
		if ((v = doc_map_get(d, "datastore")) != NULL &&
		    v->type != DOC_NULL) {
			if (v->type != DOC_STR || *v->u.s == '\0')
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "datastore: expected the name of a "
				    "datastore", i);
			sd->datastore = v->u.s;
		}
		if ((v = doc_map_get(d, "size")) == NULL ||
		    v->type == DOC_NULL) {
			if (sd->image == NULL)
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "size: missing (a blank disk needs one)",
				    i);
		} else {
			if (units_doc_mib(v, &sd->size, err))
				return cerr_wrap(err, "disks[%zu].size", i);
			if (sd->size < 1)
				return cerr_set(err, CERR_USAGE, "disks[%zu]."
				    "size: must be at least 1 MiB", i);
		}
		s->ndisks++;
	}
	return 0;
}

/* requirements, policy (pack, spread, load, or rank: EXPR as a string or
 * a map), group and priority; expressions are compiled to be checked. */
static int
sched_from_doc(const struct doc *d, struct vmspec *s, struct cerr *err)
{
	const struct doc *v;
	struct expr *e = NULL;

	s->policy = "pack";
	if ((v = doc_map_get(d, "requirements")) && v->type != DOC_NULL) {
		if (v->type != DOC_STR)
			return cerr_set(err, CERR_USAGE, "requirements: "
			    "expected a string, found a %s",
			    doc_type_name(v->type));
		if (expr_compile(v->u.s, &e, err))
			return cerr_wrap(err, "requirements");
		expr_free(e);
		s->requirements = *v->u.s ? v->u.s : NULL;
	}
	if ((v = doc_map_get(d, "policy")) && v->type != DOC_NULL) {
		const char *rank = NULL;

		if (v->type == DOC_MAP && v->u.map.n == 1 &&
		    strcmp(v->u.map.kv[0].key, "rank") == 0 &&
		    v->u.map.kv[0].val->type == DOC_STR)
			rank = v->u.map.kv[0].val->u.s;
		else if (v->type == DOC_STR && strncmp(v->u.s, "rank:", 5) == 0)
			rank = v->u.s + 5 + strspn(v->u.s + 5, " ");
		else if (v->type != DOC_STR || (strcmp(v->u.s, "pack") &&
		    strcmp(v->u.s, "spread") && strcmp(v->u.s, "load")))
			return cerr_set(err, CERR_USAGE, "policy: expected "
			    "pack, spread, load, or rank: EXPR");
		if (rank) {
			if (expr_compile(rank, &e, err))
				return cerr_wrap(err, "policy: rank");
			expr_free(e);
			s->policy = "rank";
			s->rank = rank;
		} else {
			s->policy = v->u.s;
		}
	}
	if ((v = doc_map_get(d, "group")) && v->type != DOC_NULL) {
		if (v->type != DOC_STR || *v->u.s == '\0')
			return cerr_set(err, CERR_USAGE, "group: expected the "
			    "name of an affinity group");
		s->group = v->u.s;
	}
	if ((v = doc_map_get(d, "priority")) && v->type != DOC_NULL) {
		if (v->type != DOC_INT || v->u.i < -1000 || v->u.i > 1000)
			return cerr_set(err, CERR_USAGE, "priority: expected a "
			    "whole number from -1000 to 1000");
		s->priority = (int)v->u.i;
	}
	return 0;
}

/* The fields of a VM document the catalog keeps (vms.spec): what
 * vmspec_from_doc checks.  Anything else a document carries is read and
 * dropped, so a stored document never grows with what it does not use. */
static const char *const vm_spec_fields[] = {
	"kind", "name", "cpu", "memory", "disks", "nics", "context",
	"requirements", "policy", "group", "priority", "ha", "labels", NULL,
};

/* d (a checked VM document) as it is stored: its known fields, as JSON. */
static char *
vm_spec_json(const struct doc *d)
{
	struct doc *keep = doc_new(DOC_MAP);
	struct buf b = BUF_INIT;
	const struct doc *v;
	size_t i;

	for (i = 0; vm_spec_fields[i]; i++)
		if ((v = doc_map_get(d, vm_spec_fields[i])) != NULL)
			doc_map_add(keep, vm_spec_fields[i], doc_copy(v));
	doc_json(&b, keep);
	doc_free(keep);
	return buf_detach(&b);
}

static int
vmspec_from_doc(const struct doc *d, struct vmspec *s, struct cerr *err)
{
	const struct doc *v;
	const char *kind = doc_get_str(d, "kind");

	if ((v = doc_map_get(d, "kind")) && kind == NULL)
		return cerr_set(err, CERR_USAGE, "kind: expected a string, "
		    "found a %s", doc_type_name(v->type));
	if (kind && strcmp(kind, "VM") != 0)
		return cerr_set(err, CERR_USAGE, "kind '%s' is not VM", kind);
	if ((v = doc_map_get(d, "name")) == NULL)
		return cerr_set(err, CERR_USAGE, "name: missing");
	if (v->type != DOC_STR)
		return cerr_set(err, CERR_USAGE, "name: expected a string, "
		    "found a %s", doc_type_name(v->type));
	s->name = v->u.s;
	if (valid_name("vm", s->name, err))
		return err->code;
	/* cpu and memory: given, or suggested by the image of a disk
	 * (vm_create reads them; 0 until then) */
	s->cpu = 0;
	s->memory = 0;
	if ((v = doc_map_get(d, "cpu")) == NULL) {
		/* checked once the disks are known */
	} else if (v->type != DOC_INT || v->u.i < 1 ||
	    v->u.i > VM_MAX_CPU) {
		char tmp[64];

		return cerr_set(err, CERR_USAGE, "cpu: expected a whole number "
		    "from 1 to %d, found '%s'", VM_MAX_CPU,
		    v->type == DOC_MAP || v->type == DOC_LIST ?
		    doc_type_name(v->type) : doc_scalar_text(v, tmp));
	} else {
		s->cpu = (int)v->u.i;
	}
	if ((v = doc_map_get(d, "memory")) != NULL) {
		if (units_doc_mib(v, &s->memory, err))
			return cerr_wrap(err, "memory");
		if (s->memory < 1)
			return cerr_set(err, CERR_USAGE, "memory: must be at "
			    "least 1 MiB");
	}
	if (net_nics_check(doc_map_get(d, "nics"), &s->nnics, err))
		return err->code;
	s->nics = doc_map_get(d, "nics");
	{
		struct seed_context c;
		int has;

		if (seed_context_from_doc(doc_map_get(d, "context"), &c, &has,
		    err))
			return err->code;
		seed_context_release(&c);
	}
	if (disks_from_doc(doc_map_get(d, "disks"), s, err))
		return err->code;
	if (s->cpu == 0 || s->memory == 0) {
		bool image = false;
		size_t i;

		for (i = 0; i < s->ndisks; i++)
			image = image || s->disks[i].image != NULL;
		if (!image && s->cpu == 0)
			return cerr_set(err, CERR_USAGE, "cpu: missing (the "
			    "number of vCPUs)");
		if (!image && s->memory == 0)
			return cerr_set(err, CERR_USAGE, "memory: missing (a "
			    "size such as 512MiB)");
	}
	if (sched_from_doc(d, s, err))
		return err->code;
	if ((v = doc_map_get(d, "ha")) != NULL && v->type != DOC_NULL &&
	    (v->type != DOC_STR || (strcmp(v->u.s, "none") != 0 &&
	    strcmp(v->u.s, "restart") != 0)))
		return cerr_set(err, CERR_USAGE, "ha: expected none or "
		    "restart");
	if (labels_to_json(doc_map_get(d, "labels"), &s->labels, err))
		return err->code;
	s->spec = vm_spec_json(d);
	return 0;
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
static int
vm_transition(struct ctx *ctx, const struct vmrow *r, const char *from,
    const char *to, long long host_id, const char *error, const char *action,
    struct cerr *err)
{
	char now[32], detail[128];

	catalog_now(now);
	if (catalog_exec(ctx->cat, err, "UPDATE vms SET state = ?1, "
	    "host_id = CASE WHEN ?2 < 0 THEN host_id WHEN ?2 = 0 THEN NULL "
	    "ELSE ?2 END, error = ?3, updated = ?4, target = NULL, "
	    "target_host = NULL, intent_pid = NULL, intent_owner = NULL "
	    "WHERE id = ?5 AND state = ?6",
	    "sissis", to, host_id, error, now, r->id, from))
		return err->code;
	if (catalog_changes(ctx->cat) != 1)
		return cerr_set(err, CERR_CONFLICT, "vm '%s' changed "
		    "concurrently (it is no longer %s)", r->name, from);
	/* a deleted VM's disks are gone from its host */
	if (strcmp(to, "done") == 0 && catalog_exec(ctx->cat, err, "DELETE "
	    "FROM vm_disks WHERE vm_id = ?", "i", r->id))
		return err->code;
	/* and its NICs, with their leases and security groups (groups
	 * that let its addresses in are marked for a refresh) */
	if (strcmp(to, "done") == 0 && (secgroup_mark_members(ctx, r->id, 0,
	    err) || catalog_exec(ctx->cat, err, "DELETE FROM vm_nics WHERE "
	    "vm_id = ?", "i", r->id)))
		return err->code;
	snprintf(detail, sizeof(detail), "%s -> %s", from, to);
	return acct_audit(ctx, action, "VM", r->id, r->name,
	    error ? error : detail, err);
}

/* Inside a transaction: record the intent to take r from `from` to
 * target through the transitional state `during`, run by this process. */
static int
vm_intent(struct ctx *ctx, const struct vmrow *r, const char *from,
    const char *during, const char *target, long long host_id,
    const char *action, struct cerr *err)
{
	if (vm_transition(ctx, r, from, during, host_id, NULL, action, err))
		return err->code;
	return catalog_exec(ctx->cat, err, "UPDATE vms SET target = ?, "
	    "intent_pid = ?, intent_owner = nullif(?, '') WHERE id = ?",
	    "sisi", target, (long long)getpid(), owner_self(), r->id);
}

/* An audit event in its own transaction. */
static int
acct_audit_now(struct ctx *ctx, const char *action, const char *kind,
    long long id, const char *name, const char *detail, struct cerr *err)
{
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (acct_audit(ctx, action, kind, id, name, detail, err) ||
	    catalog_commit(ctx->cat, err))
		catalog_rollback(ctx->cat);
	return err->code;
}

/* Record an outcome in its own transaction. */
static int
vm_record(struct ctx *ctx, const struct vmrow *r, const char *from,
    const char *to, long long host_id, const char *error, const char *action,
    struct cerr *err)
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
static int
vm_place(struct ctx *ctx, struct vmrow *r, struct cerr *err)
{
	struct sched_req q = {
		.name = r->name, .cpu = r->cpu, .memory = r->memory,
		.disk = r->disk, .requirements = r->requirements,
		.policy = r->policy, .rank = r->rank, .group = r->group,
		.ds = r->ds, .nds = r->nds, .vm_id = r->id,
	};
	struct cstmt *st = NULL;
	long long id = 0;

	if (sched_choose(ctx, &q, &id, err) ||
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

/* cvol volumes live on one host: a VM with one attached stays there.
 * CERR_CONFLICT naming the first, for verb. */
static int
no_volumes(struct ctx *ctx, const struct vmrow *r, const char *verb,
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

/* Disks.  A VM's disk is the qcow2 volume UUID-TARGET.qcow2 in the pool
 * of its host, on the SCSI bus; vm_disks holds target, volume and size. */

static void
disk_target(size_t i, char out[8])
{
	snprintf(out, 8, "sd%c", (char)('b' + i));
}

static void
disk_volume(const char *uuid, const char *target, char out[64])
{
	snprintf(out, 64, "%s-%s.qcow2", uuid, target);
}

struct vmdisk {
	char target[8];
	char volume[64];
	long long size;
	long long image_id;	/* the image it is cloned from, or 0 */
	char pool[160];		/* HV_POOL, or its datastore's pool */
	char *path;		/* on the host, once known */
};

static int
vm_disks_load(struct ctx *ctx, long long vm_id, struct vmdisk **out,
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

static void
vmdisks_free(struct vmdisk *v, size_t n)
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

struct pool_set {
	char **v;
	size_t n, cap;
};

/* The pools that hold VMs' disks: the host's own and datastores'. */
static void
pool_add(void *arg, const char *name)
{
	struct pool_set *ps = arg;

	if (strcmp(name, HV_POOL) != 0 && strncmp(name, VOL_DS_POOL_PREFIX,
	    strlen(VOL_DS_POOL_PREFIX)) != 0)
		return;
	xgrow(&ps->v, &ps->cap, ps->n + 1, sizeof(*ps->v));
	ps->v[ps->n++] = xstrdup(name);
}

static void
pool_set_release(struct pool_set *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		free(ps->v[i]);
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

/* Delete every disk volume of VM uuid from hv's pools (after its domain
 * is gone from that host). */
static int
vm_disks_purge(struct hv *hv, const char *uuid, struct cerr *err)
{
	char prefix[48];
	struct pool_set ps = { 0 };
	size_t i, j;

	snprintf(prefix, sizeof(prefix), "%s-", uuid);
	if (hv_pools(hv, pool_add, &ps, err))
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
	pool_set_release(&ps);
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
static bool
owner_gone(long long pid, const char *owner)
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
static int
image_cache(struct ctx *ctx, struct hv *hv, long long host_id,
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
			owner = dup_or_null(cstmt_text(st, 2));
			busy = strcmp(state, "ready") != 0 &&
			    !owner_gone(pid, owner);
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
static int
disk_make(struct ctx *ctx, struct hv *hv, long long host_id,
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
	if ((d->image_id == 0 || image_cache(ctx, hv, host_id, host,
	    d->image_id, &base, fmt, vol, err) == 0) &&
	    (strcmp(d->pool, HV_POOL) == 0 || pool_room(hv, d, host,
	    err) == 0))
		hv_pvol_create(hv, d->pool, d->volume, d->size, base,
		    base ? fmt : NULL, &d->path, err);
	free(base);
	return err->code;
}

/* Seeds.  A VM's seed is the volume UUID-seed.iso in the pool of the host
 * that has its domain, so a reconcile pass can tell whose it is. */

#define SEED_SUFFIX "-seed.iso"

static void
seed_vol(const char *uuid, char out[64])
{
	snprintf(out, 64, "%s" SEED_SUFFIX, uuid);
}

/* The seed image of r, or *iso = NULL when r has neither a context nor
 * NICs.  Its network-config gives the NICs' leased addresses. */
static int
vm_seed_image(struct ctx *ctx, const struct vmrow *r, void **iso,
    size_t *len, struct cerr *err)
{
	struct doclist dl = { 0 };
	struct seed_context c = { 0 };
	struct seed_files f = { 0 };
	struct seed_vm vm = { .uuid = r->uuid, .name = r->name, .context = &c };
	struct seed_addr *addrs = NULL;
	struct net_nic *nics = NULL;
	struct iso_file files[3];
	size_t n = 0, nnics = 0, i;
	int has = 0;

	*iso = NULL;
	*len = 0;
	if (r->spec == NULL)
		return 0;
	if (yml_read("spec", r->spec, strlen(r->spec), &dl, err) ||
	    dl.n != 1 ||
	    seed_context_from_doc(doc_map_get(dl.v[0], "context"), &c, &has,
	    err)) {
		cerr_clear(err);
		cerr_set(err, CERR_FAIL, "the stored document of vm '%s' is "
		    "unreadable", r->name);
		cerr_wrap(err, "cannot make the seed of vm '%s'", r->name);
		goto out;
	}
	if (net_vm_nics(ctx, r->id, &nics, &nnics, err))
		goto out;
	/* NICs alone make a seed, but not on libvirt's test driver, which
	 * cannot take volume uploads (a context there fails as before) */
	if (!has && (nnics == 0 || (r->domain_type &&
	    strcmp(r->domain_type, "test") == 0)))
		goto out;
	addrs = xcalloc(nnics + 1, sizeof(*addrs));
	for (i = 0; i < nnics; i++) {
		if (nics[i].addr4 == NULL && nics[i].addr6 == NULL)
			continue;
		addrs[vm.naddrs].mac = nics[i].mac;
		addrs[vm.naddrs].address = nics[i].addr4;
		addrs[vm.naddrs].gateway = nics[i].gw4;
		addrs[vm.naddrs].address6 = nics[i].addr6;
		addrs[vm.naddrs].gateway6 = nics[i].gw6;
		addrs[vm.naddrs].dns = (const char *const *)nics[i].dns;
		addrs[vm.naddrs].nic = nics[i].idx;
		vm.naddrs++;
	}
	vm.addrs = addrs;
	seed_build(&vm, &f);
	files[n++] = (struct iso_file){ "meta-data", f.meta_data,
	    strlen(f.meta_data) };
	files[n++] = (struct iso_file){ "user-data", f.user_data,
	    strlen(f.user_data) };
	if (f.network_config)
		files[n++] = (struct iso_file){ "network-config",
		    f.network_config, strlen(f.network_config) };
	if (iso_build("cidata", files, n, iso, len, err))
		cerr_wrap(err, "cannot make the seed of vm '%s'", r->name);
out:
	free(addrs);
	net_nics_free(nics, nnics);
	seed_files_release(&f);
	seed_context_release(&c);
	doclist_release(&dl);
	return err->code;
}

/* Put r's seed on hv; *path is where the host keeps it (the caller's to
 * free), NULL when r has no seed. */
static int
vm_seed_upload(struct ctx *ctx, struct hv *hv, const struct vmrow *r,
    char **path, struct cerr *err)
{
	char vol[64];
	void *iso = NULL;
	size_t len;

	*path = NULL;
	seed_vol(r->uuid, vol);
	if (vm_seed_image(ctx, r, &iso, &len, err) == 0 && iso)
		hv_vol_upload(hv, vol, iso, len, path, err);
	free(iso);
	return err->code;
}

/* Remove r's seed from hv, if it is there. */
static int
vm_seed_delete(struct hv *hv, const char *uuid, struct cerr *err)
{
	char vol[64];

	seed_vol(uuid, vol);
	return hv_vol_delete(hv, vol, err);
}

/* The security groups' filters of nics (n of them) on the host behind hv,
 * defined before a domain there names them; each NIC's filter name into
 * names[i] (names may be NULL; "" for a NIC in no group). */
static int
nics_filters(struct ctx *ctx, struct hv *hv, const struct net_nic *nics,
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
static void
nics_filters_forget(struct ctx *ctx, struct hv *hv, long long vm_id)
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
static void
peers_refresh(struct ctx *ctx)
{
	struct cerr ignored = { 0 };

	if (!catalog_in_batch(ctx->cat))
		secgroup_refresh_marked(ctx, &ignored);
}

static int
vm_deploy(struct ctx *ctx, const struct vmrow *r, struct cerr *err)
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

	if (vm_disks_load(ctx, r->id, &disks, &n, err) ||
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
	    nics_filters(ctx, hv, nics, nnics, filters, err) == 0 &&
	    vm_seed_upload(ctx, hv, r, &seed, err) == 0) {
		/* the disks: made where they do not exist yet, clones of
		 * their images over the host's cached copies */
		for (i = 0; i < n && err->code == 0; i++) {
			disk_make(ctx, hv, r->host_id, r->host, &disks[i], err);
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
	vmdisks_free(disks, n);
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
static int
vm_deploy_outcome(struct ctx *ctx, struct vmrow *r, struct doc **out,
    struct cerr *err)
{
	struct cerr hverr = { 0 };
	char id[32];

	snprintf(id, sizeof(id), "%lld", r->id);
	vm_deploy(ctx, r, &hverr);
	fault_point("vm.outcome");
	if (hverr.code) {
		cerr_wrap(&hverr, "cannot deploy vm '%s' on host '%s'", r->name,
		    r->host);
		if (vm_record(ctx, r, "deploying", "failed", 0, hverr.msg,
		    "deploy", err) == 0) {
			struct cerr ignored = { 0 };

			/* networks defined for it alone go again */
			net_host_gc(ctx, r->host_id, &ignored);
			cerr_set(err, hverr.code, "%s (vm left in state "
			    "failed)", hverr.msg);
		}
		return err->code;
	}
	if (vm_record(ctx, r, "deploying", "running", -1, NULL, "deploy",
	    err) == 0)
		vm_show(ctx, id, out, err);
	return err->code;
}

/* What a document's disks come to in the catalog. */
struct resolved {
	long long size[VM_MAX_DISKS];	/* MiB */
	long long image[VM_MAX_DISKS];	/* image id, or 0 */
	long long ds[VM_MAX_DISKS];	/* datastore id, or 0 */
	struct sched_ds need[VM_MAX_DISKS];	/* MiB per datastore */
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

	if (vmspec_from_doc(d, &s, err))
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

	if (vmspec_from_doc(d, &s, err)) {
		cerr_wrap(err, "%s", where);
		goto out;
	}
	r.name = xstrdup(o && o->name ? o->name : s.name);
	if (o && o->name && valid_name("vm", r.name, err))
		goto out;
	r.cpu = s.cpu;
	r.memory = s.memory;
	r.spec = xstrdup(s.spec);
	r.requirements = dup_or_null(s.requirements);
	r.policy = xstrdup(s.policy);
	r.rank = dup_or_null(s.rank);
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
	if (s.group && sched_group_id(ctx, s.group, &r.group, err)) {
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
	    o && o->hold ? "hold" : o && o->queue ? "pending" : "deploying",
	    r.host_id, r.cpu, r.memory, s.labels.s, s.spec, ctx->who.user_id,
	    ctx->who.group_id, now, now,
	    o && (o->hold || o->queue) ? NULL : "running",
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

		disk_target(i, target);
		disk_volume(r.uuid, target, vol);
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
		peers_refresh(ctx);
	if (o && (o->hold || o->queue)) {
		vm_show_id(ctx, r.id, out, err);
	} else {
		vm_deploy_outcome(ctx, &r, out, err);
	}
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	vmrow_release(&r);
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

	if (!empty(c))
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
	if (vmspec_from_doc(d, &s, err)) {
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
		    strcmp(ha_old ? ha_old : "none", ha_new ? ha_new :
		    "none") != 0;
	}
	if (new_labels || new_context || new_ha) {
		struct doc *keep = doc_copy(d);

		/* the stored document: the new one, with what it leaves out
		 * (context) kept from the old */
		if (!new_context && !empty(doc_map_get(old.v[0], "context")))
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
vm_dispatch(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	char now[32];

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (strcmp(r.state, "deploying") != 0 || r.host_id == 0) {
		cerr_set(err, CERR_CONFLICT, "cannot deploy vm '%s': it is %s",
		    r.name, r.state);
		goto out;
	}
	vm_deploy(ctx, &r, &hverr);
	fault_point("vm.outcome");
	if (hverr.code == 0) {
		vm_record(ctx, &r, "deploying", "running", -1, NULL, "deploy",
		    err);
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
	vmrow_release(&r);
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
		peers_refresh(ctx);
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
	if (strcmp(r.state, "hold") != 0) {
		cerr_set(err, CERR_CONFLICT, "cannot release vm '%s': it is "
		    "%s (release needs hold)", r.name, r.state);
		goto fail;
	}
	if (vm_place(ctx, &r, err) ||
	    vm_intent(ctx, &r, "hold", "deploying", "running", r.host_id,
	    "release", err) || catalog_commit(ctx->cat, err))
		goto fail;
	vm_deploy_outcome(ctx, &r, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	vmrow_release(&r);
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
	vmrow_release(&r);
	return err->code;
}

/* The life-cycle actions, as data. */
struct action {
	const char *verb;
	const char *const *from;	/* states that allow it */
	const char *needs;		/* for the refusal message */
	const char *intent;		/* NULL: no transitional state */
	const char *outcome;		/* NULL: the state it had */
	int (*hv)(struct hv *, const char *uuid, const struct vm_opts *,
	    struct cerr *);
	bool release;			/* outcome frees the host */
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

static int
do_remove(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err)
{
	if (hv_remove(hv, uuid, err) == 0 &&
	    vm_seed_delete(hv, uuid, err) == 0)
		vm_disks_purge(hv, uuid, err);
	return err->code;
}

static const char *const from_running[] = { "running", NULL };
static const char *const from_suspended[] = { "suspended", NULL };
static const char *const from_start[] = { "poweroff", NULL };
static const char *const from_poweroff[] = {
	"running", "suspended", "unknown", NULL,
};
static const char *const from_stop[] = { "running", "suspended", NULL };
static const char *const from_delete[] = {
	"pending", "hold", "running", "suspended", "stopped", "poweroff",
	"failed", "unknown", NULL,
};

static const struct action act_start = {
	"start", from_start, "poweroff", "deploying", "running", do_start,
	false,
};
static const struct action act_poweroff = {
	"power off", from_poweroff, "running, suspended or unknown",
	"shutting-down", "poweroff", do_poweroff, false,
};
static const struct action act_shutdown = {
	"shut down", from_running, "running", "shutting-down", "poweroff",
	do_shutdown, false,
};
static const struct action act_reboot = {
	"reboot", from_running, "running", NULL, NULL, do_reboot, false,
};
static const struct action act_suspend = {
	"suspend", from_running, "running", NULL, "suspended", do_suspend,
	false,
};
static const struct action act_resume = {
	"resume", from_suspended, "suspended", NULL, "running", do_resume,
	false,
};
static const struct action act_stop = {
	"stop", from_stop, "running or suspended", "shutting-down",
	"stopped", do_stop, false,
};
static const struct action act_delete = {
	"delete", from_delete, "a state with no action in flight",
	"shutting-down", "done", do_remove, true,
};

static int
vm_act(struct ctx *ctx, const char *ref, const struct action *a,
    const struct vm_opts *o, struct doc **out, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	struct hv *hv = NULL;
	char from[16];
	const char *during, *after;
	size_t i;

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_load(ctx, ref, &r, err))
		goto fail;
	for (i = 0; a->from[i]; i++)
		if (strcmp(a->from[i], r.state) == 0)
			break;
	if (a->from[i] == NULL) {
		cerr_set(err, CERR_CONFLICT, "cannot %s vm '%s': it is %s "
		    "(%s needs %s)", a->verb, r.name, r.state, a->verb,
		    a->needs);
		goto fail;
	}
	memcpy(from, r.state, sizeof(from));
	during = a->intent ? a->intent : from;
	after = a->outcome ? a->outcome : from;
	if (r.host_id == 0) {
		/* nothing on any hypervisor: one step */
		if (vm_transition(ctx, &r, from, after, 0, NULL, a->verb,
		    err) || catalog_commit(ctx->cat, err))
			goto fail;
		goto done;
	}
	/* intent (quick actions keep their state: reconcile reads the
	 * domain's own state if a command dies during them) */
	if ((a->intent && vm_intent(ctx, &r, from, a->intent, after, -1,
	    a->verb, err)) || catalog_commit(ctx->cat, err))
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
		peers_refresh(ctx);
	}
done:
	vm_show_id(ctx, r.id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	vmrow_release(&r);
	return err->code;
}

#define VM_ACTION(fn, act)						\
int									\
fn(struct ctx *ctx, const char *ref, const struct vm_opts *o,		\
    struct doc **out, struct cerr *err)					\
{									\
	return vm_act(ctx, ref, &act, o, out, err);			\
}

VM_ACTION(vm_poweroff, act_poweroff)
VM_ACTION(vm_shutdown, act_shutdown)
VM_ACTION(vm_reboot, act_reboot)
VM_ACTION(vm_suspend, act_suspend)
VM_ACTION(vm_resume, act_resume)
VM_ACTION(vm_delete, act_delete)
VM_ACTION(vm_stop, act_stop)

/* A host a VM may go to: enabled, not `exclude`, with room for r.  With
 * ref, only that host (by name or id).  Fills *id, *name, *uri and
 * *address (which may be NULL). */
static int
vm_dest(struct ctx *ctx, const struct vmrow *r, const char *ref,
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
		struct sched_req q = {
			.name = r->name, .cpu = r->cpu, .memory = r->memory,
			.disk = r->disk, .requirements = r->requirements,
			.policy = r->policy, .rank = r->rank,
			.group = r->group, .exclude = exclude, .vm_id = r->id,
		};

		if (sched_choose(ctx, &q, &rid, err))
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
		*address = dup_or_null(cstmt_text(st, 3));
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
		if (image_cache(ctx, dst, dst_id, dst_name, disks[i].image_id,
		    &bases[i], fmts[i], vol, err))
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
	    nics_filters(ctx, dst, nics, nnics, NULL, err) ||
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
		vm_disks_purge(src, r->uuid, &ignored);
	if (nnics)
		nics_filters_forget(ctx, src, r->id);
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
	static const char *const movable[] = {
		"running", "suspended", "poweroff", NULL,
	};
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	char *dname = NULL, *duri = NULL, *daddr = NULL, from[16];
	struct vmdisk *disks = NULL;
	long long dest = 0;
	size_t i, ndisks = 0;

	if (acct_require_admin(ctx, "migrate vms", err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_load(ctx, ref, &r, err))
		goto fail;
	for (i = 0; movable[i]; i++)
		if (strcmp(movable[i], r.state) == 0)
			break;
	if (movable[i] == NULL) {
		cerr_set(err, CERR_CONFLICT, "cannot migrate vm '%s': it is "
		    "%s (migrate needs running, suspended or poweroff)",
		    r.name, r.state);
		goto fail;
	}
	if (no_volumes(ctx, &r, "migrate", err))
		goto fail;
	memcpy(from, r.state, sizeof(from));
	if (vm_dest(ctx, &r, to, r.host_id, &dest, &dname, &duri, &daddr,
	    err) ||
	    vm_intent(ctx, &r, from, "migrating", from, -1, "migrate", err) ||
	    catalog_exec(ctx->cat, err, "UPDATE vms SET target_host = ? "
	    "WHERE id = ?", "ii", dest, r.id) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	fault_point("vm.intent");
	if (vm_disks_load(ctx, r.id, &disks, &ndisks, &hverr) == 0)
		vm_move(ctx, &r, disks, ndisks, dest, dname, duri, live,
		    daddr, &hverr);
	fault_point("vm.outcome");
	if (hverr.code) {
		cerr_wrap(&hverr, "cannot migrate vm '%s' from host '%s' to "
		    "host '%s'", r.name, r.host, dname);
		if (vm_record(ctx, &r, "migrating", from, -1, hverr.msg,
		    "migrate", err) == 0)
			cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
	if (vm_record(ctx, &r, "migrating", from, dest, NULL, "migrate",
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
	vmdisks_free(disks, ndisks);
	free(dname);
	free(duri);
	free(daddr);
	vmrow_release(&r);
	return err->code;
}

/* The domain type of host id (for a fresh definition there). */
static char *
host_domain_type(struct ctx *ctx, long long id, struct cerr *err)
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
static int
vm_disks_copy(struct ctx *ctx, const struct vmrow *r, const char *src_uri,
    const char *dst_uri, long long dst_id, const char *dst_name,
    struct cerr *err)
{
	struct vmdisk *disks = NULL;
	struct hv *src = NULL, *dst = NULL;
	char **bases = NULL, (*fmts)[16] = NULL;
	size_t n = 0, i;

	if (vm_disks_load(ctx, r->id, &disks, &n, err) || n == 0)
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
	vmdisks_free(disks, n);
	return err->code;
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
	back = vm_dest(ctx, r, home_ref, -1, &dest, &dname, &duri, &daddr,
	    err) == 0;
	if (!back) {
		if (err->code != CERR_CONFLICT && err->code != CERR_CAPACITY)
			goto fail;
		/* volumes cannot follow it: it waits for its own host */
		if (no_volumes(ctx, r, "start", &hverr)) {
			cerr_wrap(err, "cannot start vm '%s' elsewhere: it has "
			    "volumes on host '%s'", r->name, r->host);
			goto fail;
		}
		cerr_clear(err);
		if (vm_dest(ctx, r, NULL, home, &dest, &dname, &duri, &daddr,
		    err) || (dtype = host_domain_type(ctx, dest, err)) == NULL)
			goto fail;
	}
	/* intent: deploying on dest; target_host remembers the saved
	 * state's host so a reconcile pass can roll back to it */
	if (vm_intent(ctx, r, "stopped", "deploying", "running", dest,
	    "start", err) || (!back && catalog_exec(ctx->cat, err,
	    "UPDATE vms SET target_host = ? WHERE id = ?", "ii", home,
	    r->id)) || catalog_commit(ctx->cat, err))
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
		if (vm_disks_copy(ctx, r, r->uri, duri, dest, dname,
		    &hverr) == 0)
			vm_deploy(ctx, &d, &hverr);
	}
	fault_point("vm.outcome");
	if (hverr.code) {
		cerr_wrap(&hverr, "cannot start vm '%s' on host '%s'", r->name,
		    dname);
		if (vm_record(ctx, r, "deploying", "stopped", home, hverr.msg,
		    "start", err) == 0)
			cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
	if (!back) {
		/* the copy left on the old host, saved state and all */
		struct cerr rmerr = { 0 };

		if (hv_connect(r->uri, &hv, &rmerr) == 0)
			do_remove(hv, r->uuid, NULL, &rmerr);
		hv_close(hv);
		hv = NULL;
		snprintf(detail, sizeof(detail), "host '%s' could not take it "
		    "back; booted afresh on host '%s', its saved state on "
		    "'%s' dropped%s%s", r->host, dname, r->host,
		    rmerr.code ? " (left for reconcile: " : "",
		    rmerr.code ? "unreachable)" : "");
	}
	if (vm_record(ctx, r, "deploying", "running", -1, NULL, "start", err))
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
	    strcmp(r.state, "stopped") == 0 && r.host_id) {
		vm_start_stopped(ctx, &r, out, err);
		vmrow_release(&r);
		return err->code;
	}
	catalog_rollback(ctx->cat);
	vmrow_release(&r);
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
	static const char *const resizable[] = {
		"pending", "hold", "poweroff", "running", "suspended", "failed",
		NULL,
	};
	struct vmrow r = { 0 };
	struct cerr hverr = { 0 };
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	char now[32], detail[128];
	int ncpu, room = 1;
	long long nmem;
	size_t i;

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
	for (i = 0; resizable[i]; i++)
		if (strcmp(resizable[i], r.state) == 0)
			break;
	if (resizable[i] == NULL) {
		cerr_set(err, CERR_CONFLICT, "cannot resize vm '%s': it is %s "
		    "(resize needs pending, hold, poweroff, running, suspended "
		    "or failed%s)", r.name, r.state,
		    strcmp(r.state, "stopped") == 0 ? "; its saved memory "
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
	    strcmp(r.state, "poweroff") != 0 &&
	    strcmp(r.state, "failed") != 0) {
		struct cerr why = hverr;

		cerr_clear(&hverr);
		cerr_set(&hverr, CERR_CONFLICT, "cannot resize vm '%s' while "
		    "it is %s (power it off first): %s", r.name, r.state,
		    why.msg);
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
	vmrow_release(&r);
	return err->code;
}

/* States in which a VM's disks and snapshots may change: its domain is
 * defined and not in flight, and no saved memory expects the old set. */
static bool
disk_state(const char *state)
{
	return !strcmp(state, "running") || !strcmp(state, "suspended") ||
	    !strcmp(state, "poweroff") || !strcmp(state, "pending") ||
	    !strcmp(state, "hold");
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
	vmrow_release(&r);
	if (err->code || catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_load(ctx, ref, &r, err))
		goto fail;
	if (!disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot attach a disk to vm '%s': "
		    "it is %s (disk attach needs running, suspended, poweroff, "
		    "pending or hold)", r.name, r.state);
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
			disk_target(i, target);
	if (target[0] == '\0') {
		cerr_set(err, CERR_CAPACITY, "vm '%s' has %d disks, the most "
		    "it can have", r.name, VM_MAX_DISKS);
		goto fail;
	}
	/* intent: the disk is recorded first; detach finishes a killed
	 * attach either way */
	disk_volume(r.uuid, target, vol);
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
	vmrow_release(&r);
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
	if (!disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot detach a disk from vm "
		    "'%s': it is %s (disk detach needs running, suspended, "
		    "poweroff, pending or hold)", r.name, r.state);
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
	vmrow_release(&r);
	return err->code;
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
	if (!disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot attach a NIC to vm '%s': "
		    "it is %s (nic attach needs running, suspended, poweroff, "
		    "pending or hold)", r.name, r.state);
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
		    strcmp(r.state, "stopped") != 0)
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
		peers_refresh(ctx);
		cerr_clear(err);
		cerr_set(err, hverr.code, "%s", hverr.msg);
		goto out;
	}
done:
	peers_refresh(ctx);
	vm_show_id(ctx, r.id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	free(seed);
	buf_release(&xml);
	net_nic_release(&c);
	doc_free(l);
	vmrow_release(&r);
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
	if (!disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot detach a NIC from vm "
		    "'%s': it is %s (nic detach needs running, suspended, "
		    "poweroff, pending or hold)", r.name, r.state);
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
		if (strcmp(r.state, "stopped") != 0)
			vm_seed_upload(ctx, hv, &r, &seed, &ignored);
		cerr_clear(&ignored);
		secgroup_nic_forget(ctx, hv, c.id, &ignored);
		net_host_gc(ctx, r.host_id, &ignored);
	}
	peers_refresh(ctx);
	vm_show_id(ctx, r.id, out, err);
out:
	hv_close(hv);
	free(seed);
	buf_release(&xml);
	net_nic_release(&c);
	vmrow_release(&r);
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
	if (!disk_state(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot attach a volume to vm '%s': "
		    "it is %s (attach needs running, suspended, poweroff, "
		    "pending or hold)", r.name, r.state);
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
	vmrow_release(&r);
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
	if (strcmp(r->state, "running") != 0 &&
	    strcmp(r->state, "suspended") != 0 &&
	    strcmp(r->state, "poweroff") != 0)
		return cerr_set(err, CERR_CONFLICT, "cannot %s vm '%s': it is "
		    "%s (snapshots need running, suspended or poweroff)", verb,
		    r->name, r->state);
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
	doc_set_str(d, "name", s->name);
	doc_set_str(d, "vm", r->name);
	doc_set_int(d, "vm_id", r->id);
	doc_set_str(d, "created", when);
	doc_set_str(d, "state", strcmp(s->state, "shutoff") == 0 ?
	    "poweroff" : strcmp(s->state, "paused") == 0 ? "suspended" :
	    s->state);
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
	if (acct_audit_now(ctx, "snapshot create", "VM", r.id, r.name, name,
	    err))
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(all[i].name, name) == 0)
			*out = snapshot_doc(&r, &all[i]);
out:
	free(all);
	hv_close(hv);
	vmrow_release(&r);
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
	vmrow_release(&r);
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
	const char *want;

	if (snapshot_vm(ctx, ref, "revert", &r, &hv, err))
		goto out;
	if (hv_snapshot_revert(hv, r.uuid, name, err))
		goto out;
	/* the domain is as the snapshot was: running, paused or off */
	hv_state(hv, r.uuid, &hs, &hverr);
	want = hs == HV_RUNNING ? "running" : hs == HV_PAUSED ? "suspended" :
	    "poweroff";
	snprintf(detail, sizeof(detail), "to snapshot '%s'", name);
	if (strcmp(want, r.state) != 0)
		vm_record(ctx, &r, r.state, want, -1, NULL, "snapshot revert",
		    err);
	if (err->code == 0)
		acct_audit_now(ctx, "snapshot revert", "VM", r.id, r.name,
		    detail, err);
	if (err->code == 0) {
		vm_show_id(ctx, r.id, out, err);
	}
out:
	hv_close(hv);
	vmrow_release(&r);
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
		acct_audit_now(ctx, "snapshot delete", "VM", r.id, r.name, name,
		    err);
	if (err->code == CERR_NOTFOUND)
		cerr_wrap(err, "vm '%s'", r.name);
	hv_close(hv);
	vmrow_release(&r);
	return err->code;
}

int
vm_console(struct ctx *ctx, const char *ref, int in, int out, bool force,
    struct cerr *err)
{
	struct vmrow r = { 0 };

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (strcmp(r.state, "running") != 0)
		cerr_set(err, CERR_CONFLICT, "cannot open the console of vm "
		    "'%s': it is %s (console needs running)", r.name, r.state);
	else if (hv_console(r.uri, r.uuid, in, out, VM_CONSOLE_ESCAPE, force,
	    err))
		cerr_wrap(err, "vm '%s' on host '%s'", r.name, r.host);
	vmrow_release(&r);
	return err->code;
}

static bool transitional(const char *state);

int
vm_reseed(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct vmrow r = { 0 };
	struct hv *hv = NULL;
	char *path = NULL;

	if (vm_load(ctx, ref, &r, err))
		return err->code;
	if (transitional(r.state)) {
		cerr_set(err, CERR_CONFLICT, "cannot renew the seed of vm '%s': "
		    "it is %s", r.name, r.state);
		goto out;
	}
	if (r.host_id == 0 || strcmp(r.state, "stopped") == 0)
		goto out;
	if (hv_connect(r.uri, &hv, err) == 0 &&
	    vm_seed_upload(ctx, hv, &r, &path, err))
		cerr_wrap(err, "cannot renew the seed of vm '%s' on host '%s'",
		    r.name, r.host);
out:
	free(path);
	hv_close(hv);
	vmrow_release(&r);
	return err->code;
}

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

static bool
transitional(const char *state)
{
	return !strcmp(state, "deploying") || !strcmp(state, "shutting-down")
	    || !strcmp(state, "migrating");
}

static const char *
state_for(enum hv_state hs)
{
	return hs == HV_RUNNING ? "running" : hs == HV_PAUSED ? "suspended" :
	    hs == HV_CRASHED ? "failed" : "poweroff";
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
		owner = dup_or_null(cstmt_text(st, 0));
	cstmt_free(st);
	v = owner_judge(r->intent_pid, owner);
	if (note && (v == OWNER_ELSEWHERE || v == OWNER_UNSURE)) {
		owner_host(owner, host, sizeof(host));
		if (v == OWNER_ELSEWHERE)
			snprintf(msg, sizeof(msg), "vm '%s': it is %s by "
			    "process %lld on another machine ('%s'), which "
			    "cannot be judged from here; left alone "
			    "(reconcile --force takes it over)", r->name,
			    r->state, r->intent_pid, host);
		else
			snprintf(msg, sizeof(msg), "vm '%s': it is %s by "
			    "process %lld in a pid namespace this process may "
			    "not look into; left alone (reconcile --force "
			    "takes it over)", r->name, r->state,
			    r->intent_pid);
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
	const char *want, *why = NULL;
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
		if (sd.state != HV_ABSENT && do_remove(src, r->uuid, NULL,
		    &hverr))
			goto out;
		want = state_for(dd.state);
		host = r->target_host;
	} else if (sd.state != HV_ABSENT) {
		if (dd.state != HV_ABSENT && do_remove(dst, r->uuid, NULL,
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
		    r->target && strcmp(r->target, "running") == 0 &&
		    (hv_resume(src, r->uuid, &hverr) ||
		    hv_dom_state(src, r->uuid, &sd, &hverr)))
			goto out;
		if (sd.state == HV_ABSENT) {
			want = "failed";
			host = 0;
			why = "the domain is gone from both hosts of its "
			    "migration";
		} else {
			want = state_for(sd.state);
		}
	} else {
		want = "failed";
		host = 0;
		why = "the domain is gone from both hosts of its migration";
	}
	if (vm_record(ctx, r, "migrating", want, host, why, "reconcile",
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
		vm_deploy(ctx, r, &hverr);
	if (hverr.code)
		snprintf(msg, sizeof(msg), "%s; HA restart failed: %s", why,
		    hverr.msg);
	else
		snprintf(msg, sizeof(msg), "%s; HA restarted it on host '%s'",
		    why, r->host);
	if (vm_record(ctx, r, r->state, hverr.code ? "failed" : "running",
	    hverr.code && hs == HV_ABSENT ? 0 : -1, hverr.code ? msg : NULL,
	    "reconcile", err) ||
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
	char from[16], msg[1200];
	long long old = r->host_id, dest = 0;
	bool rebuilt;

	memcpy(from, r->state, sizeof(from));
	{
		struct vmdisk *disks = NULL;
		size_t n = 0, i;
		struct cerr e = { 0 };

		if (vm_disks_load(ctx, r->id, &disks, &n, err))
			return err->code;
		/* a blank disk's data is on the silent host: the VM waits
		 * for it; disks cloned from images are cloned afresh on the
		 * new host (what the guest wrote to them stays behind, as
		 * when an instance is evacuated without shared storage) */
		for (i = 0; i < n; i++)
			if (disks[i].image_id == 0)
				break;
		rebuilt = n > 0;
		vmdisks_free(disks, n);
		if (i < n)
			return 0;
		if (no_volumes(ctx, r, "move", &e))
			return 0;	/* and so are its volumes */
	}
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (vm_dest(ctx, r, NULL, old, &dest, &dname, &duri, &daddr, err) ||
	    (dtype = host_domain_type(ctx, dest, err)) == NULL ||
	    vm_intent(ctx, r, from, "deploying", "running", dest, "ha", err) ||
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
	vm_deploy(ctx, &d, &hverr);
	if (hverr.code)
		snprintf(msg, sizeof(msg), "host '%s' is in error; HA restart "
		    "on host '%s' failed: %s", r->host, dname, hverr.msg);
	else
		snprintf(msg, sizeof(msg), "host '%s' is in error; HA "
		    "restarted it on host '%s'%s", r->host, dname, rebuilt ?
		    ", its disks cloned afresh from their images" : "");
	if (vm_record(ctx, r, "deploying", hverr.code ? "failed" : "running",
	    hverr.code ? 0 : -1, hverr.code ? msg : NULL, "reconcile", err) ==
	    0 && !hverr.code && catalog_begin(ctx->cat, err) == 0) {
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
		do_remove(hv, r->uuid, NULL, &e);
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
		if (vm_record(ctx, r, "deploying", "stopped", r->target_host,
		    "a start was interrupted; the VM is stopped on its old "
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
	const char *want = NULL, *why = NULL;
	long long host = -1;

	*changed = false;
	if (transitional(r->state)) {
		const char *target = r->target ? r->target : "";

		if (intent_held(ctx, r, note))
			return 0;	/* still in flight */
		/* the command died: finish what it began */
		if (strcmp(r->state, "migrating") == 0)
			return reconcile_migration(ctx, hv, r, note, changed,
			    err);
		/* libvirt goes on with what it was asked (a start ends
		 * running though its caller died): what it ends with is
		 * the domain's state, not what it is half way */
		if (hs != HV_ABSENT && strcmp(target, "done") != 0) {
			struct hv_dom d;
			int rc = dom_settle(hv, r->uuid, &d, &hverr);

			if (rc < 0)
				note_in_flight(ctx, note, r, r->host);
			if (rc)
				return 0;	/* try again next pass */
			hs = d.state;
		}
		if (strcmp(target, "running") == 0 && r->target_host &&
		    strcmp(r->state, "deploying") == 0) {
			/* a start moving a stopped VM to another host */
			if (hs != HV_ABSENT)
				drop_old_copy(ctx, r);
			else if (reconcile_unstart(ctx, r, changed, err) != -1)
				return err->code;
		}
		if (strcmp(target, "done") == 0) {
			if (do_remove(hv, r->uuid, NULL, &hverr) == 0) {
				want = "done";
				host = 0;
			}
		} else if (hs == HV_ABSENT) {
			want = "failed";
			host = 0;
			why = "the domain is gone from its host (an action was "
			    "interrupted)";
		} else if (strcmp(target, "stopped") == 0) {
			/* saved already, or save it now */
			if (hv_save(hv, r->uuid, &hverr) == 0) {
				want = "stopped";
			} else if (hverr.code == CERR_CONFLICT) {
				cerr_clear(&hverr);
				want = "poweroff";
				why = "a stop was interrupted before the guest's "
				    "state was saved";
			}
		} else if (strcmp(target, "poweroff") == 0) {
			if (hv_poweroff(hv, r->uuid, &hverr) == 0)
				want = "poweroff";
		} else if (strcmp(target, "running") == 0) {
			struct hv_dom d;
			struct cerr e = { 0 };

			if (hs == HV_PAUSED)
				hv_resume(hv, r->uuid, &hverr);
			else if (hs != HV_RUNNING)
				hv_start(hv, r->uuid, &hverr);
			want = "running";
			/* failed: what the domain is now, not what the
			 * failure suggests (it may run all the same) */
			if (hverr.code && hv_dom_state(hv, r->uuid, &d, &e))
				want = NULL;
			else if (hverr.code && d.state == HV_RUNNING)
				cerr_clear(&hverr);
			else if (hverr.code && d.state == HV_ABSENT) {
				want = "failed";
				host = 0;
			} else if (hverr.code)
				want = state_for(d.state);
		} else {
			want = hs == HV_RUNNING ? "running" : hs == HV_PAUSED ?
			    "suspended" : "poweroff";
		}
		if (hverr.code) {
			if (want == NULL)
				return 0;	/* try again next pass */
			why = hverr.msg;
		}
	} else {
		if (r->target && strcmp(r->target, "resize") == 0 &&
		    hs != HV_ABSENT && !intent_held(ctx, r, note))
			return reconcile_resize(ctx, hv, r, changed, err);
		switch (hs) {
		case HV_RUNNING: want = "running"; break;
		case HV_PAUSED: {
			struct hv_dom d;
			struct cerr e = { 0 };

			/* paused while libvirt starts or moves it (a start or
			 * migration behind cloudos's back): not a result */
			if (hv_dom_state(hv, r->uuid, &d, &e) ||
			    d.state != HV_PAUSED || d.job ||
			    d.why == HV_WHY_STARTING)
				return 0;
			want = "suspended";
			break;
		}
		case HV_SHUTOFF:
			/* a stopped VM's domain is off, its state saved */
			want = strcmp(r->state, "stopped") == 0 ? "stopped" :
			    "poweroff";
			break;
		case HV_CRASHED:
		case HV_ABSENT:
			if ((strcmp(r->state, "running") == 0 ||
			    strcmp(r->state, "unknown") == 0 ||
			    strcmp(r->state, "suspended") == 0) && vm_ha(r))
				return ha_restart(ctx, hv, r, hs, changed, err);
			want = "failed";
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
		if (strcmp(want, r->state) == 0)
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
		if (n != uuid_len + strlen(SEED_SUFFIX) ||
		    strcmp(ns.v[i] + uuid_len, SEED_SUFFIX) != 0)
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

	if (hv_pools(hv, pool_add, &ps, &hverr)) {
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
	pool_set_release(&ps);
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
		    owner_gone(cstmt_int(st, 3), cstmt_text(st, 4));

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
		if (hverr.code && in_error && !transitional(r.state) &&
		    (strcmp(r.state, "running") == 0 ||
		    strcmp(r.state, "suspended") == 0 ||
		    strcmp(r.state, "unknown") == 0) && vm_ha(&r)) {
			/* its host is in error and still does not answer */
			ha_move(ctx, &r, &changed, err);
		} else if (hverr.code) {
			/* the host does not answer: what runs there is
			 * unknown until it does */
			if (!transitional(r.state) &&
			    strcmp(r.state, "unknown") != 0 &&
			    strcmp(r.state, "failed") != 0 &&
			    vm_record(ctx, &r, r.state, "unknown", -1,
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
		vmrow_release(&r);
	}
	for (j = 0; j < ds.n && err->code == 0; j++) {
		struct cstmt *q = NULL;
		int ours = 0;

		if (ds.v[j].known)
			continue;
		/* a VM of this catalog recorded on another host, or none */
		if (catalog_query(ctx->cat, &q, err, "SELECT state, "
		    "intent_pid, name FROM vms WHERE uuid = ? AND state != "
		    "'done'", "s", ds.v[j].uuid))
			break;
		if ((ours = cstmt_row(q, err)) &&
		    (strcmp(cstmt_text(q, 0), "running") == 0 ||
		    strcmp(cstmt_text(q, 0), "suspended") == 0) &&
		    (ds.v[j].state == HV_RUNNING ||
		    ds.v[j].state == HV_PAUSED)) {
			/* it runs elsewhere: this is what an HA restart
			 * left on a host that was in error and is back */
			struct cerr rmerr = { 0 };

			if (do_remove(hv, ds.v[j].uuid, NULL, &rmerr) == 0)
				snprintf(msg, sizeof(msg), "host '%s': "
				    "duplicate of vm '%s' (it runs on another "
				    "host) destroyed", host, cstmt_text(q, 2));
			else
				snprintf(msg, sizeof(msg), "host '%s': "
				    "duplicate of vm '%s' left: %s", host,
				    cstmt_text(q, 2), rmerr.msg);
			note(ctx, msg);
		} else if (ours && !transitional(cstmt_text(q, 0)) &&
		    ds.v[j].state == HV_SHUTOFF) {
			/* an inactive copy its VM left behind (a start
			 * elsewhere that could not reach this host) */
			struct cerr rmerr = { 0 };

			if (do_remove(hv, ds.v[j].uuid, NULL, &rmerr) == 0)
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
			    "in flight (%s, process %lld)", r.state,
			    r.intent_pid);
			if (catalog_exec(ctx->cat, err, "UPDATE vms SET "
			    "intent_pid = ?, intent_owner = nullif(?, '') "
			    "WHERE id = ?", "isi", (long long)getpid(),
			    owner_self(), r.id) == 0)
				acct_audit(ctx, "reconcile", "VM", r.id, r.name,
				    detail, err);
		}
		vmrow_release(&r);
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
