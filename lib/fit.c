/*
 * fit.c - service: where one VM fits.  Loads a model of the cloud from the
 * catalog (hosts with their effective capacity and allocation, affinity
 * groups and their members, the VMs to place) and hands it to the
 * placement engine: for one VM here (fit_choose), for every pending VM
 * in scheduler.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "capacity.h"
#include "catalog.h"
#include "expr.h"
#include "fit.h"
#include "labels.h"
#include "placement.h"
#include "xalloc.h"
#include "compat.h"

int
fit_group_id(struct ctx *ctx, const char *name, long long *id,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	/* a VM joins only a group its owner may see: another tenant's
	 * private group is no one's to crowd */
	if (catalog_query(ctx->cat, &st, err, "SELECT g.id FROM vm_groups g "
	    "WHERE " FIT_GROUP_VISIBLE " AND g.name = ?4", "iiis",
	    (long long)ctx->who.admin, ctx->who.user_id, ctx->who.group_id,
	    name))
		return err->code;
	if (cstmt_row(st, err))
		*id = cstmt_int(st, 0);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no group '%s' (make it with "
		    "'csched group create')", name);
	cstmt_free(st);
	return err->code;
}

/* The model: what the engine sees. */

void
fit_model_release(struct fit_model *m)
{
	size_t i;

	for (i = 0; i < m->nhosts; i++) {
		struct expr_host *a = &m->hosts[i].attr;
		size_t j;

		free((char *)a->name);
		free((char *)a->cluster);
		free((char *)a->hypervisor);
		for (j = 0; j < a->nlabels; j++) {
			free((char *)a->label_keys[j]);
			free((char *)a->label_values[j]);
		}
		free((void *)a->label_keys);
		free((void *)a->label_values);
	}
	free(m->hosts);
	free(m->hnames);
	for (i = 0; i < m->ngroups; i++)
		free((char *)m->groups[i].name);
	free(m->groups);
	free(m->group_ids);
	free(m->members);
	free(m->vms);
	for (i = 0; i < m->nexprs; i++) {
		free(m->exprs[i].src);
		expr_free(m->exprs[i].e);
	}
	free(m->exprs);
	free(m->slots);
	for (i = 0; i < m->ndsneed; i++)
		free(m->dsneed[i].ds);
	free(m->dsneed);
	memset(m, 0, sizeof(*m));
}

static unsigned long
hash_str(const char *s)
{
	unsigned long h = 2166136261UL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619UL;
	return h;
}

/* The compiled form of src, compiled once per pass.  what names it in
 * errors ("requirements"). */
static int
model_expr(struct fit_model *m, const char *src, const char *what,
    const struct expr **out, struct cerr *err)
{
	struct expr *e = NULL;
	size_t i, slot;

	if (m->nslots < 2 * (m->nexprs + 1)) {
		/* grow the table: rehash what is there */
		size_t n = m->nslots ? m->nslots * 2 : 64;

		free(m->slots);
		m->slots = xcalloc(n, sizeof(*m->slots));
		m->nslots = n;
		for (i = 0; i < m->nexprs; i++) {
			slot = hash_str(m->exprs[i].src) & (n - 1);
			while (m->slots[slot])
				slot = (slot + 1) & (n - 1);
			m->slots[slot] = i + 1;
		}
	}
	slot = hash_str(src) & (m->nslots - 1);
	while (m->slots[slot]) {
		if (strcmp(m->exprs[m->slots[slot] - 1].src, src) == 0) {
			*out = m->exprs[m->slots[slot] - 1].e;
			return 0;
		}
		slot = (slot + 1) & (m->nslots - 1);
	}
	if (expr_compile(src, &e, err))
		return cerr_wrap(err, "%s", what);
	xgrow(&m->exprs, &m->capexprs, m->nexprs + 1, sizeof(*m->exprs));
	m->exprs[m->nexprs].src = xstrdup(src);
	m->exprs[m->nexprs].e = e;
	m->slots[slot] = ++m->nexprs;
	*out = e;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Add label key=value to a's sorted arrays (replacing one of that key). */
static void
attr_label_add(struct expr_host *a, const char *key, const char *value)
{
	const char **keys = xcalloc(a->nlabels + 2, sizeof(*keys));
	const char **vals = xcalloc(a->nlabels + 2, sizeof(*vals));
	size_t i, j = 0;
	bool put = false;

	for (i = 0; i < a->nlabels; i++) {
		int c = strcmp(a->label_keys[i], key);

		if (!put && c >= 0) {
			keys[j] = xstrdup(key);
			vals[j++] = xstrdup(value);
			put = true;
			if (c == 0) {
				free((char *)a->label_keys[i]);
				free((char *)a->label_values[i]);
				continue;
			}
		}
		keys[j] = a->label_keys[i];
		vals[j++] = a->label_values[i];
	}
	if (!put) {
		keys[j] = xstrdup(key);
		vals[j++] = xstrdup(value);
	}
	free((void *)a->label_keys);
	free((void *)a->label_values);
	a->label_keys = keys;
	a->label_values = vals;
	a->nlabels = j;
}

/* Labels JSON into the sorted arrays an expression bisects. */
static void
attr_labels(struct expr_host *a, const char *json)
{
	struct doc *l = labels_from_json(json);
	const char **keys;
	const char **vals;
	size_t i, n = l->type == DOC_MAP ? l->u.map.n : 0;
	char **pairs = xcalloc(n + 1, sizeof(*pairs));

	/* sort "key\0value" pairs by key */
	for (i = 0; i < n; i++) {
		char tmp[64];
		const char *v = doc_scalar_text(l->u.map.kv[i].val, tmp);
		size_t kl = strlen(l->u.map.kv[i].key), vl = strlen(v ? v : "");

		pairs[i] = xmalloc(kl + vl + 2);
		memcpy(pairs[i], l->u.map.kv[i].key, kl + 1);
		memcpy(pairs[i] + kl + 1, v ? v : "", vl + 1);
	}
	qsort(pairs, n, sizeof(*pairs), cmp_str);
	keys = xcalloc(n + 1, sizeof(*keys));
	vals = xcalloc(n + 1, sizeof(*vals));
	for (i = 0; i < n; i++) {
		keys[i] = xstrdup(pairs[i]);
		vals[i] = xstrdup(pairs[i] + strlen(pairs[i]) + 1);
		free(pairs[i]);
	}
	free(pairs);
	a->label_keys = keys;
	a->label_values = vals;
	a->nlabels = n;
	doc_free(l);
}

static int
cmp_host_id(const void *key, const void *elem)
{
	long long id = *(const long long *)key;
	const struct pl_host *h = elem;

	return id < h->id ? -1 : id > h->id;
}

long
fit_host_index(const struct fit_model *m, long long id)
{
	const struct pl_host *h = bsearch(&id, m->hosts, m->nhosts,
	    sizeof(*m->hosts), cmp_host_id);

	return h ? (long)(h - m->hosts) : -1;
}

static long
group_index(const struct fit_model *m, long long id)
{
	size_t lo = 0, hi = m->ngroups;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->group_ids[mid] == id)
			return (long)mid;
		if (m->group_ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Hosts, their allocation, groups and their placed members. */
int
fit_model_load(struct ctx *ctx, struct fit_model *m, struct cerr *err)
{
	struct cstmt *st = NULL;
	long i;

	/* disk: declared, else what the roomiest of the host's datastores
	 * had available when cvol last looked (VMs' disks are counted as
	 * used against it below), else unknown */
	if (catalog_query(ctx->cat, &st, err, "SELECT h.id, h.name, "
	    "COALESCE(c.name, ''), h.hypervisor, h.state, " HOST_CPU ", "
	    HOST_MEMORY ", COALESCE(h.declared_disk, (SELECT "
	    "max(x.available) FROM datastore_hosts x WHERE x.host_id = h.id), "
	    "-1), "
	    "COALESCE(h.load, -1), h.labels FROM hosts h "
	    "LEFT JOIN clusters c ON c.id = h.cluster_id ORDER BY h.id", ""))
		return err->code;
	while (cstmt_row(st, err)) {
		struct pl_host *h;

		xgrow(&m->hosts, &m->caphosts, m->nhosts + 1,
		    sizeof(*m->hosts));
		h = &m->hosts[m->nhosts++];
		memset(h, 0, sizeof(*h));
		h->id = cstmt_int(st, 0);
		h->attr.name = xstrdup(cstmt_text(st, 1));
		h->attr.cluster = xstrdup(cstmt_text(st, 2));
		h->attr.hypervisor = xstrdup(cstmt_text(st, 3));
		h->enabled = strcmp(cstmt_text(st, 4), "enabled") == 0;
		h->cpu = cstmt_int(st, 5);
		h->memory = cstmt_int(st, 6);
		h->disk = cstmt_int(st, 7);
		h->attr.load = cstmt_real(st, 8);
		attr_labels(&h->attr, cstmt_text(st, 9));
	}
	cstmt_free(st);
	if (err->code)
		return err->code;
	/* what the VMs there allocate, in one scan of the VMs */
	if (catalog_query(ctx->cat, &st, err, "SELECT v.host_id, sum(v.cpu), "
	    "sum(v.memory), sum(v.state = 'running'), "
	    "sum((SELECT COALESCE(sum(d.size), 0) FROM vm_disks d "
	    "WHERE d.vm_id = v.id)) FROM vms v WHERE v.host_id IS NOT NULL "
	    "AND " VM_OCCUPIES " GROUP BY v.host_id", ""))
		return err->code;
	while (cstmt_row(st, err)) {
		if ((i = fit_host_index(m, cstmt_int(st, 0))) < 0)
			continue;
		m->hosts[i].used_cpu += cstmt_int(st, 1);
		m->hosts[i].used_memory += cstmt_int(st, 2);
		m->hosts[i].running_vms = (int)cstmt_int(st, 3);
		m->hosts[i].used_disk += cstmt_int(st, 4);
	}
	cstmt_free(st);
	if (err->code)
		return err->code;
	/* a migration holds room on its destination too */
	if (catalog_query(ctx->cat, &st, err, "SELECT target_host, sum(cpu), "
	    "sum(memory) FROM vms WHERE state = 'migrating' AND target_host "
	    "IS NOT NULL GROUP BY target_host", ""))
		return err->code;
	while (cstmt_row(st, err)) {
		if ((i = fit_host_index(m, cstmt_int(st, 0))) < 0)
			continue;
		m->hosts[i].used_cpu += cstmt_int(st, 1);
		m->hosts[i].used_memory += cstmt_int(st, 2);
	}
	cstmt_free(st);
	if (err->code)
		return err->code;
	for (i = 0; i < (long)m->nhosts; i++) {
		struct pl_host *h = &m->hosts[i];

		h->attr.cpu = (double)h->cpu;
		h->attr.memory = (double)h->memory;
		h->attr.free_cpu = (double)(h->cpu - h->used_cpu);
		h->attr.free_memory = (double)(h->memory - h->used_memory);
		h->attr.free_disk = h->disk < 0 ? 1e18 :
		    (double)(h->disk - h->used_disk);
		h->attr.running_vms = h->running_vms;
	}
	/* datastores: what VMs' disks need, and what hosts have */
	if (catalog_query(ctx->cat, &st, err, "SELECT d.vm_id, s.name, "
	    "sum(d.size) FROM vm_disks d JOIN datastores s ON s.id = "
	    "d.datastore_id GROUP BY d.vm_id, s.id ORDER BY d.vm_id", ""))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(&m->dsneed, &m->capdsneed, m->ndsneed + 1,
		    sizeof(*m->dsneed));
		m->dsneed[m->ndsneed].vm = cstmt_int(st, 0);
		m->dsneed[m->ndsneed].ds = xstrdup(cstmt_text(st, 1));
		m->dsneed[m->ndsneed].size = cstmt_int(st, 2);
		m->ndsneed++;
	}
	cstmt_free(st);
	if (err->code || catalog_query(ctx->cat, &st, err, "SELECT "
	    "x.host_id, s.name, COALESCE(x.available, 0) FROM "
	    "datastore_hosts x JOIN datastores s ON s.id = x.datastore_id",
	    ""))
		return err->code;
	while (cstmt_row(st, err)) {
		char key[200], val[32];

		if ((i = fit_host_index(m, cstmt_int(st, 0))) < 0)
			continue;
		snprintf(key, sizeof(key), FIT_DS_LABEL "%s",
		    cstmt_text(st, 1));
		snprintf(val, sizeof(val), "%lld", cstmt_int(st, 2));
		attr_label_add(&m->hosts[i].attr, key, val);
	}
	cstmt_free(st);
	if (err->code)
		return err->code;
	/* groups, and where their VMs are */
	if (catalog_query(ctx->cat, &st, err, "SELECT id, name, anti FROM "
	    "vm_groups ORDER BY id", ""))
		return err->code;
	while (cstmt_row(st, err)) {
		size_t cap = m->capgroups;

		xgrow(&m->groups, &m->capgroups, m->ngroups + 1,
		    sizeof(*m->groups));
		xgrow(&m->group_ids, &cap, m->ngroups + 1,
		    sizeof(*m->group_ids));
		m->group_ids[m->ngroups] = cstmt_int(st, 0);
		m->groups[m->ngroups].name = xstrdup(cstmt_text(st, 1));
		m->groups[m->ngroups].anti = cstmt_int(st, 2) != 0;
		m->ngroups++;
	}
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (catalog_query(ctx->cat, &st, err, "SELECT v.vm_group, v.host_id "
	    "FROM vms v WHERE v.vm_group IS NOT NULL AND v.host_id IS NOT NULL "
	    "AND " VM_OCCUPIES, ""))
		return err->code;
	while (cstmt_row(st, err)) {
		long g = group_index(m, cstmt_int(st, 0));
		long h = fit_host_index(m, cstmt_int(st, 1));

		if (g < 0 || h < 0)
			continue;
		xgrow(&m->members, &m->capmembers, m->nmembers + 1,
		    sizeof(*m->members));
		m->members[m->nmembers].group = (int)g;
		m->members[m->nmembers].host = (size_t)h;
		m->nmembers++;
	}
	cstmt_free(st);
	return err->code;
}

static enum pl_policy
policy_of(const char *p)
{
	if (p && strcmp(p, "spread") == 0)
		return PL_SPREAD;
	if (p && strcmp(p, "load") == 0)
		return PL_LOAD;
	if (p && strcmp(p, "rank") == 0)
		return PL_RANK;
	return PL_PACK;
}

/* A VM with disks in datastores may go only to hosts that have each of
 * them with room for its disks there at the last look: appended to src
 * as a clause on the hosts' datastore labels. */
static void
model_ds_clause(const struct fit_model *m, const struct fit_req *q,
    long long id, struct buf *src)
{
	struct buf out = BUF_INIT;
	size_t i, n = 0;

	if (src->len)
		buf_printf(&out, "(%s)", src->s);
	for (i = 0; i < q->nds; i++, n++)
		buf_printf(&out, "%s" "labels." FIT_DS_LABEL "%s >= %lld",
		    out.len ? " && " : "", q->ds[i].name, q->ds[i].size);
	if (q->vm_id > 0)
		id = q->vm_id;
	for (i = 0; q->nds == 0 && id > 0 && i < m->ndsneed; i++) {
		if (m->dsneed[i].vm != id)
			continue;
		n++;
		buf_printf(&out, "%s" "labels." FIT_DS_LABEL "%s >= %lld",
		    out.len ? " && " : "", m->dsneed[i].ds, m->dsneed[i].size);
	}
	if (n) {
		buf_release(src);
		*src = out;
	} else {
		buf_release(&out);
	}
}

/* Append one VM to place.  avoid, when not NULL, is the name of a host
 * it must not go to (where its deploy just failed). */
int
fit_model_vm(struct fit_model *m, const struct fit_req *q, long long id,
    int priority, const char *avoid, struct cerr *err)
{
	struct pl_vm *v;
	struct buf src = BUF_INIT;
	const char *p;
	long g;

	xgrow(&m->vms, &m->capvms, m->nvms + 1, sizeof(*m->vms));
	v = &m->vms[m->nvms];
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->cpu = q->cpu;
	v->memory = q->memory;
	v->disk = q->disk;
	v->priority = priority;
	v->policy = policy_of(q->policy);
	v->group = -1;
	if (q->group && (g = group_index(m, q->group)) >= 0)
		v->group = (int)g;
	if (avoid) {
		/* the requirement, and not that host */
		if (q->requirements && *q->requirements)
			buf_printf(&src, "(%s) && ", q->requirements);
		buf_puts(&src, "name != \"");
		for (p = avoid; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_addc(&src, '\\');
			buf_addc(&src, *p);
		}
		buf_addc(&src, '"');
	} else if (q->requirements && *q->requirements) {
		buf_puts(&src, q->requirements);
	}
	model_ds_clause(m, q, id, &src);
	if (src.len && model_expr(m, src.s, "requirements", &v->requirements,
	    err))
		goto out;
	if (v->policy == PL_RANK && model_expr(m, q->rank ? q->rank : "0",
	    "rank", &v->rank, err))
		goto out;
	m->nvms++;
out:
	buf_release(&src);
	return err->code;
}

int
fit_model_run(struct fit_model *m, struct pl_result **res, struct cerr *err)
{
	struct pl_input in = {
		.hosts = m->hosts, .nhosts = m->nhosts,
		.groups = m->groups, .ngroups = m->ngroups,
		.members = m->members, .nmembers = m->nmembers,
		.vms = m->vms, .nvms = m->nvms,
	};

	*res = xcalloc(m->nvms + 1, sizeof(**res));
	if (placement_run(&in, *res) < 0)
		return cerr_set(err, CERR_FAIL, "the placement engine ran out "
		    "of memory");
	return 0;
}

int
fit_choose(struct ctx *ctx, const struct fit_req *q, long long *host_id,
    struct cerr *err)
{
	struct fit_model m = { 0 };
	struct pl_result *res = NULL;
	char why[512];
	size_t i, enabled = 0;

	if (fit_model_load(ctx, &m, err) ||
	    fit_model_vm(&m, q, 0, 0, NULL, err))
		goto out;
	if (q->exclude) {
		long x = fit_host_index(&m, q->exclude);

		if (x >= 0)
			m.hosts[x].enabled = false;
	}
	if (fit_model_run(&m, &res, err))
		goto out;
	if (res[0].reason == PL_PLACED) {
		*host_id = m.hosts[res[0].host].id;
		goto out;
	}
	for (i = 0; i < m.nhosts; i++)
		enabled += m.hosts[i].enabled;
	if (q->exclude && (res[0].reason == PL_NO_HOSTS ||
	    (res[0].reason == PL_CAPACITY && !m.vms[0].requirements &&
	    m.vms[0].group < 0)))
		cerr_set(err, CERR_CAPACITY, "no other host has room for vm "
		    "'%s' (cpu %d, memory %lld MiB)", q->name, q->cpu,
		    q->memory);
	else if (res[0].reason == PL_NO_HOSTS)
		cerr_set(err, CERR_CAPACITY, "no enabled host to place vm '%s' "
		    "on (add one with 'chost add')", q->name);
	else if (res[0].reason == PL_CAPACITY && !m.vms[0].requirements &&
	    m.vms[0].group < 0)
		cerr_set(err, CERR_CAPACITY, "no host has room for vm '%s' "
		    "(cpu %d, memory %lld MiB) among %zu enabled host%s",
		    q->name, q->cpu, q->memory, enabled, enabled == 1 ? "" :
		    "s");
	else {
		placement_reason(&res[0], &m.vms[0], why, sizeof(why));
		cerr_set(err, CERR_CAPACITY, "cannot place vm '%s': %s%s",
		    q->name, why, res[0].reason == PL_REQUIREMENTS &&
		    m.vms[0].requirements && strstr(expr_source(
		    m.vms[0].requirements), "labels." FIT_DS_LABEL) ?
		    " (with room in the datastores of its disks)" : "");
	}
out:
	free(res);
	fit_model_release(&m);
	return err->code;
}
