/*
 * host.c - service: hosts: added, changed, shown, listed, applied and
 * removed (their monitoring pass is host-monitor.c's, sharing
 * host-int.h).  Uses the catalog and hv adapters.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "buf.h"
#include "capacity.h"
#include "catalog.h"
#include "cluster.h"
#include "host-int.h"
#include "host.h"
#include "hv.h"
#include "units.h"
#include "valid.h"
#include "xalloc.h"
#include "labels.h"
#include "rows.h"
#include "compat.h"
#define HOST_COLS \
	"SELECT h.id, h.name, h.uri, h.state, h.hypervisor, h.domain_type, " \
	"h.hostname, h.cpu, h.memory, h.labels, u.name, g.name, h.created, " \
	"h.updated, h.migration_address, " \
	HOST_USED_CPU ", " HOST_USED_MEMORY ", " \
	"(SELECT count(*) FROM vms v WHERE v.host_id = h.id " \
	"  AND " VM_OCCUPIES "), " \
	"c.name, h.declared_cpu, h.declared_memory, h.declared_disk, " \
	"h.reserved_cpu, h.reserved_memory, h.cpu_ratio, h.memory_ratio, " \
	HOST_CPU ", " HOST_MEMORY ", h.monitored, h.load, " \
	"h.measured_free_memory, h.error, h.prev_state " \
	"FROM hosts h JOIN users u ON u.id = h.owner " \
	"JOIN groups g ON g.id = h.group_id " \
	"LEFT JOIN clusters c ON c.id = h.cluster_id "

/* The columns of HOST_COLS, in its order: a row is read by these names. */
enum host_col {
	HOST_COL_ID, HOST_COL_NAME, HOST_COL_URI, HOST_COL_STATE,
	HOST_COL_HYPERVISOR, HOST_COL_DOMAIN_TYPE, HOST_COL_HOSTNAME,
	HOST_COL_CPU, HOST_COL_MEMORY,	/* as the hypervisor reported */
	HOST_COL_LABELS,
	HOST_COL_OWNER,			/* u.name */
	HOST_COL_GROUP_OWNER,		/* g.name */
	HOST_COL_CREATED, HOST_COL_UPDATED, HOST_COL_MIGRATION_ADDRESS,
	HOST_COL_USED_CPU, HOST_COL_USED_MEMORY,
	HOST_COL_VMS,			/* the VMs that occupy it */
	HOST_COL_CLUSTER,		/* c.name */
	HOST_COL_DECLARED_CPU, HOST_COL_DECLARED_MEMORY,
	HOST_COL_DECLARED_DISK,
	HOST_COL_RESERVED_CPU, HOST_COL_RESERVED_MEMORY,
	HOST_COL_CPU_RATIO, HOST_COL_MEMORY_RATIO,	/* in thousandths */
	HOST_COL_EFFECTIVE_CPU,		/* HOST_CPU */
	HOST_COL_EFFECTIVE_MEMORY,	/* HOST_MEMORY */
	HOST_COL_MONITORED, HOST_COL_LOAD, HOST_COL_MEASURED_FREE_MEMORY,
	HOST_COL_ERROR, HOST_COL_PREV_STATE,
};

static struct doc *
real_doc(double r)
{
	struct doc *d = doc_new(DOC_REAL);

	d->u.r = r;
	return d;
}

/* An integer column, or null when the column is NULL. */
static struct doc *
int_or_null(struct cstmt *st, int col)
{
	return cstmt_null(st, col) ? doc_new(DOC_NULL) :
	    doc_new_int(cstmt_int(st, col));
}

static struct doc *
str_or_null(struct cstmt *st, int col)
{
	return cstmt_null(st, col) ? doc_new(DOC_NULL) :
	    doc_new_str(cstmt_text(st, col));
}

static struct doc *
host_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "Host");
	doc_set_int(d, "id", cstmt_int(st, HOST_COL_ID));
	doc_set_str(d, "name", cstmt_text(st, HOST_COL_NAME));
	doc_set_str(d, "uri", cstmt_text(st, HOST_COL_URI));
	doc_set_str(d, "state", cstmt_text(st, HOST_COL_STATE));
	if (!cstmt_null(st, HOST_COL_ERROR))
		doc_set_str(d, "error", cstmt_text(st, HOST_COL_ERROR));
	if (!cstmt_null(st, HOST_COL_PREV_STATE))
		doc_set_str(d, "prev_state", cstmt_text(st,
		    HOST_COL_PREV_STATE));
	doc_map_set(d, "cluster", str_or_null(st, HOST_COL_CLUSTER));
	doc_set_str(d, "hypervisor", cstmt_text(st, HOST_COL_HYPERVISOR));
	doc_set_str(d, "domain_type", cstmt_text(st, HOST_COL_DOMAIN_TYPE));
	doc_set_str(d, "hostname", cstmt_text(st, HOST_COL_HOSTNAME));
	/* effective capacity: what placement offers VMs */
	doc_set_int(d, "cpu", cstmt_int(st, HOST_COL_EFFECTIVE_CPU));
	doc_set_int(d, "memory", cstmt_int(st, HOST_COL_EFFECTIVE_MEMORY));
	doc_set_int(d, "used_cpu", cstmt_int(st, HOST_COL_USED_CPU));
	doc_set_int(d, "used_memory", cstmt_int(st, HOST_COL_USED_MEMORY));
	doc_set_int(d, "free_cpu", cstmt_int(st, HOST_COL_EFFECTIVE_CPU) -
	    cstmt_int(st, HOST_COL_USED_CPU));
	doc_set_int(d, "free_memory", cstmt_int(st,
	    HOST_COL_EFFECTIVE_MEMORY) - cstmt_int(st, HOST_COL_USED_MEMORY));
	doc_map_set(d, "disk", int_or_null(st, HOST_COL_DECLARED_DISK));
	doc_set_int(d, "vms", cstmt_int(st, HOST_COL_VMS));
	/* how the effective figures come about */
	doc_set_int(d, "reported_cpu", cstmt_int(st, HOST_COL_CPU));
	doc_set_int(d, "reported_memory", cstmt_int(st, HOST_COL_MEMORY));
	doc_map_set(d, "declared_cpu", int_or_null(st, HOST_COL_DECLARED_CPU));
	doc_map_set(d, "declared_memory", int_or_null(st,
	    HOST_COL_DECLARED_MEMORY));
	doc_map_set(d, "declared_disk", int_or_null(st,
	    HOST_COL_DECLARED_DISK));
	doc_set_int(d, "reserved_cpu", cstmt_int(st, HOST_COL_RESERVED_CPU));
	doc_set_int(d, "reserved_memory", cstmt_int(st,
	    HOST_COL_RESERVED_MEMORY));
	doc_map_set(d, "cpu_ratio", real_doc(cstmt_int(st,
	    HOST_COL_CPU_RATIO) / 1000.0));
	doc_map_set(d, "memory_ratio", real_doc(cstmt_int(st,
	    HOST_COL_MEMORY_RATIO) / 1000.0));
	/* what the last monitoring pass measured */
	doc_map_set(d, "monitored", str_or_null(st, HOST_COL_MONITORED));
	doc_map_set(d, "load", cstmt_null(st, HOST_COL_LOAD) ?
	    doc_new(DOC_NULL) : real_doc(cstmt_real(st, HOST_COL_LOAD)));
	doc_map_set(d, "measured_free_memory", int_or_null(st,
	    HOST_COL_MEASURED_FREE_MEMORY));
	if (!cstmt_null(st, HOST_COL_MIGRATION_ADDRESS))
		doc_set_str(d, "migration_address", cstmt_text(st,
		    HOST_COL_MIGRATION_ADDRESS));
	doc_map_set(d, "labels", labels_from_json(cstmt_text(st,
	    HOST_COL_LABELS)));
	doc_set_str(d, "owner", cstmt_text(st, HOST_COL_OWNER));
	doc_set_str(d, "group_owner", cstmt_text(st, HOST_COL_GROUP_OWNER));
	doc_set_str(d, "created", cstmt_text(st, HOST_COL_CREATED));
	doc_set_str(d, "updated", cstmt_text(st, HOST_COL_UPDATED));
	return d;
}

static int
host_find(struct ctx *ctx, const char *ref, const char *more,
    struct cstmt **st, struct cerr *err)
{
	struct buf sql = BUF_INIT;
	long long id;
	int byid = valid_id(ref, &id), rc;

	buf_printf(&sql, HOST_COLS "WHERE %s %s", byid ? "h.id = ?" :
	    "h.name = ?", more ? more : "");
	rc = byid ? catalog_query(ctx->cat, st, err, sql.s, "i", id) :
	    catalog_query(ctx->cat, st, err, sql.s, "s", ref);
	buf_release(&sql);
	return rc;
}

int
host_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (host_find(ctx, ref, NULL, &st, err))
		return err->code;
	if (cstmt_row(st, err))
		*out = host_doc(st);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no host '%s'", ref);
	cstmt_free(st);
	return err->code;
}

/* A host's states, as the catalog keeps them: the admin's two and the
 * monitor's error. */
static const char *const host_states[] = { "enabled", "disabled", "error" };

int
host_list(struct ctx *ctx, const char *state, const char *cluster,
    emit_fn emit, struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t i;

	if (state && valid_enum(state, host_states, ARRAY_SIZE(host_states),
	    &i, "state", err))
		return err->code;
	if (state)
		state = host_states[i];
	if (cluster && cluster_id(ctx, cluster, NULL, err))
		return err->code;
	if (catalog_query(ctx->cat, &st, err, HOST_COLS
	    "WHERE (?1 IS NULL OR h.state = ?1) AND (?2 IS NULL OR "
	    "c.name = ?2) ORDER BY h.id", "ss", state, cluster))
		return err->code;
	rows_emit(ctx, st, host_doc, emit, err);
	cstmt_free(st);
	return err->code;
}

/* A whole number from 0 (or 1 when !zero) to max in s. */
static int
parse_count(const char *s, long long max, int zero, long long *out)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoll(s, &end, 10);
	if (*end || v < (zero ? 0 : 1) || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A ratio in thousandths: a number above 0, at most HOST_MAX_RATIO,
 * rounded to three decimals. */
static int
parse_ratio(const char *s, long long *milli)
{
	char *end;
	double r;

	if (!((*s >= '0' && *s <= '9') || *s == '.'))
		return -1;
	r = strtod(s, &end);
	if (*end || !isfinite(r) || r <= 0 || r > HOST_MAX_RATIO)
		return -1;
	*milli = llround(r * 1000);
	return *milli > 0 ? 0 : -1;
}

int
host_spec_option(struct host_spec *spec, const char *opt, const char *val,
    struct cerr *err)
{
	int aut = strcmp(val, "auto") == 0;

	if (strcmp(opt, "cpu") == 0) {
		spec->set |= HS_DCPU;
		if (aut)
			spec->declared_cpu = 0;
		else if (parse_count(val, HOST_MAX_CPU, 0, &spec->declared_cpu))
			return cerr_set(err, CERR_USAGE, "--cpu: expected a "
			    "whole number from 1 to %d or 'auto', found '%s'",
			    HOST_MAX_CPU, val);
	} else if (strcmp(opt, "memory") == 0 || strcmp(opt, "disk") == 0) {
		long long *v = opt[0] == 'm' ? &spec->declared_memory :
		    &spec->declared_disk;

		spec->set |= opt[0] == 'm' ? HS_DMEMORY : HS_DDISK;
		if (aut)
			*v = 0;
		else if (units_parse_mib(val, v, err) || *v < 1)
			return cerr_wrap(err, "--%s", opt) ? err->code :
			    cerr_set(err, CERR_USAGE, "--%s: must be at least "
			    "1 MiB", opt);
	} else if (strcmp(opt, "reserved-cpu") == 0) {
		spec->set |= HS_RCPU;
		if (parse_count(val, HOST_MAX_CPU, 1, &spec->reserved_cpu))
			return cerr_set(err, CERR_USAGE, "--reserved-cpu: "
			    "expected a whole number from 0 to %d, found '%s'",
			    HOST_MAX_CPU, val);
	} else if (strcmp(opt, "reserved-memory") == 0) {
		spec->set |= HS_RMEMORY;
		if (units_parse_mib(val, &spec->reserved_memory, err))
			return cerr_wrap(err, "--reserved-memory");
	} else if (strcmp(opt, "cpu-ratio") == 0 ||
	    strcmp(opt, "memory-ratio") == 0) {
		spec->set |= opt[0] == 'c' ? HS_CPU_RATIO : HS_MEMORY_RATIO;
		if (parse_ratio(val, opt[0] == 'c' ? &spec->cpu_ratio :
		    &spec->memory_ratio))
			return cerr_set(err, CERR_USAGE, "--%s: expected a "
			    "number above 0 and at most %d, found '%s'", opt,
			    HOST_MAX_RATIO, val);
	} else {
		return cerr_set(err, CERR_FAIL, "no host setting '%s'", opt);
	}
	return 0;
}

/* A string field of d, NULL for null; -1 when it is of another type. */
static int
field_str(const struct doc *d, const char *key, const char **out,
    struct cerr *err)
{
	const struct doc *v = doc_map_get(d, key);

	if (v->type == DOC_NULL) {
		*out = NULL;
		return 0;
	}
	if (v->type != DOC_STR)
		return cerr_set(err, CERR_USAGE, "%s: expected a string, "
		    "found a %s", key, doc_type_name(v->type));
	*out = v->u.s;
	return 0;
}

/* The text of a scalar field, for host_spec_option; null is "auto". */
static const char *
scalar_text(const struct doc *v, char tmp[64])
{
	if (v->type == DOC_NULL)
		return "auto";
	if (v->type == DOC_MAP || v->type == DOC_LIST || v->type == DOC_BOOL)
		return NULL;
	return doc_scalar_text(v, tmp);
}

int
host_spec_from_doc(const struct doc *d, struct host_spec *spec,
    struct cerr *err)
{
	static const struct { const char *field, *opt; } nums[] = {
		{ "declared_cpu", "cpu" }, { "declared_memory", "memory" },
		{ "declared_disk", "disk" }, { "reserved_cpu", "reserved-cpu" },
		{ "reserved_memory", "reserved-memory" },
		{ "cpu_ratio", "cpu-ratio" },
		{ "memory_ratio", "memory-ratio" },
	};
	const struct doc *v;
	const char *s;
	char tmp[64];
	size_t i, k = 0;

	if (doc_map_get(d, "uri")) {
		if (field_str(d, "uri", &spec->uri, err))
			return err->code;
		if (spec->uri)
			spec->set |= HS_URI;
	}
	if (doc_map_get(d, "cluster")) {
		if (field_str(d, "cluster", &spec->cluster, err))
			return err->code;
		spec->set |= HS_CLUSTER;
	}
	if (doc_map_get(d, "migration_address")) {
		if (field_str(d, "migration_address", &spec->address, err))
			return err->code;
		spec->set |= HS_ADDRESS;
	}
	if ((v = doc_map_get(d, "labels"))) {
		struct buf json = BUF_INIT;
		int rc = labels_to_json(v, &json, err);

		buf_release(&json);
		if (rc)
			return rc;
		spec->labels = v;
		spec->set |= HS_LABELS;
	}
	if (doc_map_get(d, "state")) {
		if (field_str(d, "state", &s, err))
			return err->code;
		/* error is the monitor's to set: reading back a shown
		 * document leaves the admin state alone */
		if (s && valid_enum(s, host_states, ARRAY_SIZE(host_states),
		    &k, "state", err))
			return err->code;
		if (s && strcmp(host_states[k], "error") != 0) {
			spec->state = host_states[k];
			spec->set |= HS_STATE;
		}
	}
	for (i = 0; i < ARRAY_SIZE(nums); i++) {
		struct cerr one = { 0 };

		if ((v = doc_map_get(d, nums[i].field)) == NULL)
			continue;
		if ((s = scalar_text(v, tmp)) == NULL)
			return cerr_set(err, CERR_USAGE, "%s: expected a "
			    "number, found a %s", nums[i].field,
			    doc_type_name(v->type));
		if (v->type == DOC_NULL && strncmp(nums[i].field,
		    "declared", 8) != 0)
			return cerr_set(err, CERR_USAGE, "%s: expected a "
			    "number, found null", nums[i].field);
		if (host_spec_option(spec, nums[i].opt, s, &one)) {
			/* "--cpu: ..." reads "declared_cpu: ..." here */
			const char *msg = strchr(one.msg, ':');

			return cerr_set(err, one.code, "%s%s", nums[i].field,
			    msg ? msg : "");
		}
	}
	return 0;
}

static int
check_address(const char *address, struct cerr *err)
{
	if (address && (*address == '\0' || strspn(address,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")
	    != strlen(address)))
		return cerr_set(err, CERR_USAGE, "invalid migration address "
		    "'%s' (a host name or an IP address)", address);
	return 0;
}

static int
check_uri(const char *name, const char *uri, struct cerr *err)
{
	if (*uri == '\0' || !valid_utf8(uri, strlen(uri)) ||
	    strchr(uri, '\n'))
		return cerr_set(err, CERR_USAGE, "invalid URI for host '%s'",
		    name);
	return 0;
}

/* The settable columns of a host, as stored. */
struct hostrow {
	long long id;
	char *name, *uri, *state, *prev, *address, *labels;
	long long cluster;	/* 0: none */
	long long dcpu, dmemory, ddisk;	/* 0: not declared */
	long long rcpu, rmemory, cpu_ratio, memory_ratio;
};

static void
hostrow_release(struct hostrow *r)
{
	free(r->name);
	free(r->uri);
	free(r->state);
	free(r->prev);
	free(r->address);
	free(r->labels);
}

char *
host_dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int
hostrow_read(struct ctx *ctx, const char *ref, struct hostrow *r,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	long long id;
	int found;

	if (!valid_id(ref, &id))
		id = -1;
	if (catalog_query(ctx->cat, &st, err, "SELECT id, name, uri, state, "
	    "prev_state, migration_address, labels, COALESCE(cluster_id, 0), "
	    "COALESCE(declared_cpu, 0), COALESCE(declared_memory, 0), "
	    "COALESCE(declared_disk, 0), reserved_cpu, reserved_memory, "
	    "cpu_ratio, memory_ratio FROM hosts WHERE id = ? OR "
	    "(? < 0 AND name = ?)", "iis", id, id, ref))
		return err->code;
	if ((found = cstmt_row(st, err))) {
		r->id = cstmt_int(st, 0);
		r->name = xstrdup(cstmt_text(st, 1));
		r->uri = xstrdup(cstmt_text(st, 2));
		r->state = xstrdup(cstmt_text(st, 3));
		r->prev = host_dup_or_null(cstmt_text(st, 4));
		r->address = host_dup_or_null(cstmt_text(st, 5));
		r->labels = xstrdup(cstmt_text(st, 6));
		r->cluster = cstmt_int(st, 7);
		r->dcpu = cstmt_int(st, 8);
		r->dmemory = cstmt_int(st, 9);
		r->ddisk = cstmt_int(st, 10);
		r->rcpu = cstmt_int(st, 11);
		r->rmemory = cstmt_int(st, 12);
		r->cpu_ratio = cstmt_int(st, 13);
		r->memory_ratio = cstmt_int(st, 14);
	}
	cstmt_free(st);
	if (err->code == 0 && !found)
		cerr_set(err, CERR_NOTFOUND, "no host '%s'", ref);
	return err->code;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Apply spec to r (inside the transaction), noting each field that
 * changes in *changed. */
static int
hostrow_merge(struct ctx *ctx, struct hostrow *r,
    const struct host_spec *spec, struct buf *changed, struct cerr *err)
{
	long long cid = 0;
	const char *state;

#define CHANGED(what) buf_printf(changed, "%s%s", changed->len ? ", " : "", \
	what)
#define MERGE(bit, field, val, what)					\
	if ((spec->set & (bit)) && r->field != (val)) {			\
		r->field = (val);					\
		CHANGED(what);						\
	}

	if ((spec->set & HS_URI) && strcmp(r->uri, spec->uri) != 0)
		return cerr_set(err, CERR_CONFLICT, "cannot change the uri of "
		    "host '%s' (remove it and add it again)", r->name);
	if (spec->set & HS_CLUSTER) {
		if (spec->cluster && cluster_id(ctx, spec->cluster, &cid, err))
			return err->code;
		MERGE(HS_CLUSTER, cluster, cid, "cluster");
	}
	if ((spec->set & HS_ADDRESS) && !same_str(r->address, spec->address)) {
		if (check_address(spec->address, err))
			return err->code;
		free(r->address);
		r->address = host_dup_or_null(spec->address);
		CHANGED("migration_address");
	}
	if (spec->set & HS_LABELS) {
		struct buf json = BUF_INIT;

		if (labels_to_json(spec->labels, &json, err)) {
			buf_release(&json);
			return err->code;
		}
		if (strcmp(json.s, r->labels) != 0) {
			free(r->labels);
			r->labels = buf_detach(&json);
			CHANGED("labels");
		}
		buf_release(&json);
	}
	MERGE(HS_DCPU, dcpu, spec->declared_cpu, "declared_cpu");
	MERGE(HS_DMEMORY, dmemory, spec->declared_memory, "declared_memory");
	MERGE(HS_DDISK, ddisk, spec->declared_disk, "declared_disk");
	MERGE(HS_RCPU, rcpu, spec->reserved_cpu, "reserved_cpu");
	MERGE(HS_RMEMORY, rmemory, spec->reserved_memory, "reserved_memory");
	MERGE(HS_CPU_RATIO, cpu_ratio, spec->cpu_ratio, "cpu_ratio");
	MERGE(HS_MEMORY_RATIO, memory_ratio, spec->memory_ratio,
	    "memory_ratio");
	if (spec->set & HS_STATE) {
		/* in error, the admin state waits in prev_state */
		state = strcmp(r->state, "error") == 0 ? r->prev : r->state;
		if (!same_str(state, spec->state)) {
			if (strcmp(r->state, "error") == 0) {
				free(r->prev);
				r->prev = xstrdup(spec->state);
			} else {
				free(r->state);
				r->state = xstrdup(spec->state);
			}
			CHANGED("state");
		}
	}
#undef MERGE
#undef CHANGED
	return 0;
}

static int
hostrow_write(struct ctx *ctx, const struct hostrow *r, struct cerr *err)
{
	char now[32];

	catalog_now(now);
	return catalog_exec(ctx->cat, err, "UPDATE hosts SET state = ?, "
	    "prev_state = ?, migration_address = ?, labels = ?, "
	    "cluster_id = nullif(?, 0), declared_cpu = nullif(?, 0), "
	    "declared_memory = nullif(?, 0), declared_disk = nullif(?, 0), "
	    "reserved_cpu = ?, reserved_memory = ?, cpu_ratio = ?, "
	    "memory_ratio = ?, updated = ? WHERE id = ?", "ssssiiiiiiiisi",
	    r->state, r->prev, r->address, r->labels, r->cluster, r->dcpu,
	    r->dmemory, r->ddisk, r->rcpu, r->rmemory, r->cpu_ratio,
	    r->memory_ratio, now, r->id);
}

int
host_update(struct ctx *ctx, const char *ref, const struct host_spec *spec,
    struct doc **out, struct cerr *err)
{
	struct hostrow r = { 0 };
	struct buf changed = BUF_INIT;
	char id[32];

	if (acct_require_admin(ctx, "change hosts", err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	if (hostrow_read(ctx, ref, &r, err) ||
	    hostrow_merge(ctx, &r, spec, &changed, err))
		goto fail;
	if (changed.len == 0) {
		/* nothing to change: write nothing, not even "updated" */
		catalog_rollback(ctx->cat);
	} else if (hostrow_write(ctx, &r, err) || acct_audit(ctx, "update",
	    "Host", r.id, r.name, changed.s, err) ||
	    catalog_commit(ctx->cat, err)) {
		goto fail;
	}
	snprintf(id, sizeof(id), "%lld", r.id);
	host_show(ctx, id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	hostrow_release(&r);
	buf_release(&changed);
	return err->code;
}

int
host_add(struct ctx *ctx, const char *name, const char *uri,
    const struct host_spec *spec, struct doc **out, struct cerr *err)
{
	struct host_spec none = { 0 };
	struct buf changed = BUF_INIT;
	struct hostrow r = { 0 };
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	struct hv_node node;
	char now[32];
	int taken;

	if (spec == NULL)
		spec = &none;
	if (acct_require_admin(ctx, "add hosts", err) ||
	    valid_name("host", name, err) || check_uri(name, uri, err) ||
	    ((spec->set & HS_ADDRESS) && check_address(spec->address, err)))
		goto out;
	if ((spec->set & HS_LABELS) &&
	    labels_to_json(spec->labels, &changed, err))
		goto out;
	/* a taken name or a missing cluster fails before we spend a
	 * connection on it */
	if ((spec->set & HS_CLUSTER) && spec->cluster &&
	    cluster_id(ctx, spec->cluster, NULL, err))
		goto out;
	if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM hosts WHERE "
	    "name = ?", "s", name))
		goto out;
	taken = cstmt_row(st, err);
	cstmt_free(st);
	st = NULL;
	if (err->code)
		goto out;
	if (taken) {
		cerr_set(err, CERR_CONFLICT, "host '%s' exists already", name);
		goto out;
	}
	if (hv_connect(uri, &hv, err) || hv_node_info(hv, &node, err)) {
		cerr_wrap(err, "cannot add host '%s'", name);
		goto out;
	}
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (catalog_exec(ctx->cat, err, "INSERT INTO hosts (name, uri, "
	    "hypervisor, domain_type, hostname, cpu, memory, owner, "
	    "group_id, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?)", "sssssdiiiss", name, uri, node.hypervisor,
	    node.domain_type, node.hostname, node.cpu, node.memory,
	    ctx->who.user_id, ctx->who.group_id, now, now)) {
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "host '%s' exists "
			    "already", name);
		}
		goto fail;
	}
	/* the rest of spec, as an update of the new row would set it */
	buf_reset(&changed);
	if (hostrow_read(ctx, name, &r, err) ||
	    hostrow_merge(ctx, &r, spec, &changed, err) ||
	    (changed.len && hostrow_write(ctx, &r, err)) ||
	    acct_audit(ctx, "create", "Host", r.id, name, uri, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	host_show(ctx, name, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	hostrow_release(&r);
	hv_close(hv);
	buf_release(&changed);
	return err->code;
}

/* The name and spec of a Host document, strings borrowed from d. */
static int
host_doc_read(const struct doc *d, const char *where, const struct doc **name,
    struct host_spec *spec, struct cerr *err)
{
	const struct doc *v;

	if ((v = doc_map_get(d, "name")) == NULL || v->type != DOC_STR) {
		cerr_set(err, CERR_USAGE, "name: %s", v ? "expected a string" :
		    "missing");
		return cerr_wrap(err, "%s", where);
	}
	if (host_spec_from_doc(d, spec, err))
		return cerr_wrap(err, "%s", where);
	*name = v;
	return 0;
}

int
host_check(const struct doc *d, const char *where, struct cerr *err)
{
	struct host_spec spec = { 0 };
	const struct doc *v;

	if (host_doc_read(d, where, &v, &spec, err))
		return err->code;
	if (valid_name("host", v->u.s, err) ||
	    ((spec.set & HS_URI) && check_uri(v->u.s, spec.uri, err)) ||
	    ((spec.set & HS_ADDRESS) && check_address(spec.address, err)))
		return cerr_wrap(err, "%s", where);
	return 0;
}

int
host_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	struct host_spec spec = { 0 };
	struct cstmt *st = NULL;
	const struct doc *v;
	int exists;

	if (host_doc_read(d, where, &v, &spec, err))
		return err->code;
	if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM hosts WHERE "
	    "name = ?", "s", v->u.s))
		return err->code;
	exists = cstmt_row(st, err);
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (exists)
		return host_update(ctx, v->u.s, &spec, out, err);
	if (!(spec.set & HS_URI)) {
		cerr_set(err, CERR_USAGE, "uri: missing (host '%s' is new)",
		    v->u.s);
		return cerr_wrap(err, "%s", where);
	}
	return host_add(ctx, v->u.s, spec.uri, &spec, out, err);
}

int
host_remove(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long id = 0, vms = 0;
	char *name = NULL;
	int found;

	if (acct_require_admin(ctx, "remove hosts", err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	if (host_find(ctx, ref, NULL, &st, err))
		goto fail;
	if ((found = cstmt_row(st, err))) {
		id = cstmt_int(st, HOST_COL_ID);
		name = strdup(cstmt_text(st, HOST_COL_NAME));
		vms = cstmt_int(st, HOST_COL_VMS);
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (!found) {
		cerr_set(err, CERR_NOTFOUND, "no host '%s'", ref);
		goto fail;
	}
	if (vms > 0) {
		cerr_set(err, CERR_CONFLICT, "cannot remove host '%s': %lld "
		    "VM%s on it (delete or move them first)", name, vms,
		    vms == 1 ? " is" : "s are");
		goto fail;
	}
	/* VMs that hold no capacity may still keep something there: a
	 * stopped VM its saved memory, a failed one its domain */
	if (catalog_query(ctx->cat, &st, err, "SELECT name, state FROM vms "
	    "WHERE host_id = ? AND state != 'done' ORDER BY id LIMIT 1", "i",
	    id))
		goto fail;
	if (cstmt_row(st, err))
		cerr_set(err, CERR_CONFLICT, "cannot remove host '%s': vm '%s' "
		    "is %s there (delete or start it first)", name,
		    cstmt_text(st, 0), cstmt_text(st, 1));
	cstmt_free(st);
	if (err->code)
		goto fail;
	/* a datastore's pool (and its volumes) live on the host */
	if (catalog_query(ctx->cat, &st, err, "SELECT d.name FROM "
	    "datastore_hosts x JOIN datastores d ON d.id = x.datastore_id "
	    "WHERE x.host_id = ? ORDER BY d.id LIMIT 1", "i", id))
		goto fail;
	if (cstmt_row(st, err))
		cerr_set(err, CERR_CONFLICT, "cannot remove host '%s': "
		    "datastore '%s' is on it (cvol datastore remove first)",
		    name, cstmt_text(st, 0));
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (catalog_exec(ctx->cat, err, "DELETE FROM hosts WHERE id = ?", "i",
	    id) || acct_audit(ctx, "delete", "Host", id, name, NULL, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	free(name);
	return 0;
fail:
	catalog_rollback(ctx->cat);
	free(name);
	return err->code;
}

int
host_set_state(struct ctx *ctx, const char *ref, const char *state,
    struct doc **out, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long id = 0;
	char *name = NULL, *old = NULL, now[32], detail[64];
	int found;

	if (acct_require_admin(ctx, strcmp(state, "enabled") == 0 ?
	    "enable hosts" : "disable hosts", err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	if (host_find(ctx, ref, NULL, &st, err))
		goto fail;
	if ((found = cstmt_row(st, err))) {
		id = cstmt_int(st, HOST_COL_ID);
		name = strdup(cstmt_text(st, HOST_COL_NAME));
		old = strdup(strcmp(cstmt_text(st, HOST_COL_STATE),
		    "error") == 0 && !cstmt_null(st, HOST_COL_PREV_STATE) ?
		    cstmt_text(st, HOST_COL_PREV_STATE) :
		    cstmt_text(st, HOST_COL_STATE));
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (!found) {
		cerr_set(err, CERR_NOTFOUND, "no host '%s'", ref);
		goto fail;
	}
	catalog_now(now);
	snprintf(detail, sizeof(detail), "%s -> %s", old, state);
	/* a host in error keeps its admin state in prev_state until it
	 * answers again */
	if (strcmp(old, state) != 0 && (catalog_exec(ctx->cat, err,
	    "UPDATE hosts SET state = CASE WHEN state = 'error' THEN state "
	    "ELSE ?1 END, prev_state = CASE WHEN state = 'error' THEN ?1 "
	    "ELSE prev_state END, updated = ?2 WHERE id = ?3", "ssi",
	    state, now, id) || acct_audit(ctx, strcmp(state, "enabled") == 0
	    ? "enable" : "disable", "Host", id, name, detail, err)))
		goto fail;
	if (catalog_commit(ctx->cat, err))
		goto fail;
	free(name);
	free(old);
	return host_show(ctx, ref, out, err);
fail:
	catalog_rollback(ctx->cat);
	free(name);
	free(old);
	return err->code;
}

void
host_names(struct ctx *ctx, const char *prefix, void (*each)(const char *))
{
	struct cerr err = { 0 };
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, &err, "SELECT name FROM hosts WHERE "
	    "substr(name, 1, length(?1)) = ?1 ORDER BY name", "s", prefix))
		return;
	while (cstmt_row(st, &err))
		each(cstmt_text(st, 0));
	cstmt_free(st);
}
