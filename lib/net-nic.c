/*
 * net-nic.c - service: the NICs of VMs on networks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "ipaddr.h"
#include "net-int.h"
#include "net.h"
#include "valid.h"
#include "xalloc.h"
#include "compat.h"

/* NICs. */

static const char *const nic_models[] = {
	"virtio", "e1000", "rtl8139", "usb-net", NULL,
};

int
net_nics_check(const struct doc *l, size_t *n, struct cerr *err)
{
	size_t i, j;

	*n = 0;
	if (l == NULL || l->type == DOC_NULL)
		return 0;
	if (l->type != DOC_LIST)
		return cerr_set(err, CERR_USAGE, "nics: expected a list, found "
		    "a %s", doc_type_name(l->type));
	if (l->u.list.n > NET_MAX_NICS)
		return cerr_set(err, CERR_USAGE, "nics: at most %d",
		    NET_MAX_NICS);
	for (i = 0; i < l->u.list.n; i++) {
		const struct doc *d = l->u.list.v[i], *v;
		const char *model;
		struct ipaddr a;

		if (d->type != DOC_MAP)
			return cerr_set(err, CERR_USAGE, "nics[%zu]: expected a "
			    "map such as {network: front}", i);
		for (j = 0; j < d->u.map.n; j++) {
			const char *k = d->u.map.kv[j].key;

			if (strcmp(k, "network") && strcmp(k, "ip") &&
			    strcmp(k, "ip6") && strcmp(k, "model") &&
			    strcmp(k, "security_groups") && strcmp(k, "mac") &&
			    strcmp(k, "nic"))
				return cerr_set(err, CERR_USAGE, "nics[%zu].%s: "
				    "unknown field", i, k);
		}
		v = doc_map_get(d, "network");
		if (v == NULL || v->type != DOC_STR || *v->u.s == '\0')
			return cerr_set(err, CERR_USAGE, "nics[%zu].network: "
			    "expected the name of a network", i);
		if ((v = doc_map_get(d, "ip")) && v->type != DOC_NULL &&
		    (v->type != DOC_STR || !ipaddr_parse(v->u.s, &a) ||
		    a.family != 4))
			return cerr_set(err, CERR_USAGE, "nics[%zu].ip: expected "
			    "an IPv4 address", i);
		if ((v = doc_map_get(d, "ip6")) && v->type != DOC_NULL &&
		    (v->type != DOC_STR || !ipaddr_parse(v->u.s, &a) ||
		    a.family != 6))
			return cerr_set(err, CERR_USAGE, "nics[%zu].ip6: "
			    "expected an IPv6 address", i);
		if ((v = doc_map_get(d, "model")) && v->type != DOC_NULL) {
			if (v->type != DOC_STR)
				return cerr_set(err, CERR_USAGE, "nics[%zu]."
				    "model: expected a string, found a %s", i,
				    doc_type_name(v->type));
			if (net_enum(v->u.s, nic_models, "model", &model, err))
				return cerr_wrap(err, "nics[%zu]", i);
		}
		if ((v = doc_map_get(d, "security_groups")) &&
		    v->type != DOC_NULL) {
			if (v->type != DOC_LIST)
				return cerr_set(err, CERR_USAGE, "nics[%zu]."
				    "security_groups: expected a list of "
				    "names", i);
			for (j = 0; j < v->u.list.n; j++)
				if (v->u.list.v[j]->type != DOC_STR)
					return cerr_set(err, CERR_USAGE,
					    "nics[%zu].security_groups[%zu]: "
					    "expected a name", i, j);
		}
		(*n)++;
	}
	return 0;
}

int
net_nic_next(struct ctx *ctx, long long vm_id, int *idx, struct cerr *err)
{
	struct cstmt *st = NULL;

	*idx = 0;
	if (catalog_query(ctx->cat, &st, err, "SELECT COALESCE(max(idx) + 1, "
	    "0), count(*) FROM vm_nics WHERE vm_id = ?", "i", vm_id) == 0 &&
	    cstmt_row(st, err)) {
		*idx = (int)cstmt_int(st, 0);
		if (cstmt_int(st, 1) >= NET_MAX_NICS)
			cerr_set(err, CERR_CAPACITY, "a vm has at most %d NICs",
			    NET_MAX_NICS);
	}
	cstmt_free(st);
	return err->code;
}

/* Inside a transaction: put NIC nic_id in the security group name, which
 * the caller must be able to use. */
static int
nic_secgroup(struct ctx *ctx, long long nic_id, const char *name,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	long long id = 0;

	if (catalog_query(ctx->cat, &st, err, "SELECT s.id FROM secgroups s "
	    "WHERE s.name = ?4 AND (?1 OR s.owner = ?2 OR (s.visibility = "
	    "'group' AND s.group_id = ?3) OR s.visibility = 'public')", "iiis",
	    (long long)ctx->who.admin, ctx->who.user_id, ctx->who.group_id,
	    name))
		return err->code;
	if (cstmt_row(st, err))
		id = cstmt_int(st, 0);
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (id == 0)
		return cerr_set(err, CERR_NOTFOUND, "no security group '%s'",
		    name);
	return catalog_exec(ctx->cat, err, "INSERT OR IGNORE INTO "
	    "nic_secgroups (nic_id, secgroup_id) VALUES (?, ?)", "ii", nic_id,
	    id);
}

int
net_nic_add(struct ctx *ctx, long long vm_id, const char *vm, int idx,
    const struct doc *nic, struct cerr *err)
{
	struct net_row r = { 0 };
	const char *model = doc_get_str(nic, "model");
	const struct doc *sg = doc_map_get(nic, "security_groups");
	struct cerr ignore = { 0 };
	char mac[24], ip[IPADDR_STRLEN], now[32];
	struct ctx owner = *ctx;
	struct cstmt *st = NULL;
	long long nic_id;
	size_t i;

	/* what the VM's owner may use, whoever acts (an admin attaching a
	 * NIC to a tenant's VM gives it only the tenant's networks) */
	if (catalog_query(ctx->cat, &st, err, "SELECT u.id, u.group_id, "
	    "u.admin OR u.group_id = 0 FROM vms v JOIN users u ON u.id = "
	    "v.owner WHERE v.id = ?", "i", vm_id))
		return err->code;
	if (cstmt_row(st, err)) {
		owner.who.user_id = cstmt_int(st, 0);
		owner.who.group_id = cstmt_int(st, 1);
		owner.who.admin = cstmt_int(st, 2) != 0;
	}
	cstmt_free(st);
	st = NULL;
	if (err->code || net_load(&owner, doc_get_str(nic, "network"), &r,
	    err))
		return err->code;
	/* checked by net_nics_check: stored by its canonical name */
	if (model && net_enum(model, nic_models, "model", &model, &ignore))
		model = NULL;
	if (model && strcmp(model, "usb-net") == 0) {
		/* USB bus 0 has two ports: NICs take them by their number */
		int clash;

		if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM vm_nics "
		    "WHERE vm_id = ? AND model = 'usb-net' AND idx % 2 = ?",
		    "ii", vm_id, (long long)(idx % 2)))
			goto out;
		clash = cstmt_row(st, err);
		cstmt_free(st);
		if (err->code)
			goto out;
		if (clash) {
			cerr_set(err, CERR_CAPACITY, "USB port %d of vm '%s' "
			    "is taken by another usb-net NIC", idx % 2 + 1,
			    vm);
			goto out;
		}
	}
	catalog_now(now);
	if (net_lease_mac_alloc(ctx, mac, err) ||
	    catalog_exec(ctx->cat, err, "INSERT INTO vm_nics (vm_id, idx, "
	    "network_id, mac, model, created) VALUES (?, ?, ?, ?, ?, ?)",
	    "iiisss", vm_id, (long long)idx, r.id, mac,
	    model ? model : "virtio", now))
		goto out;
	nic_id = catalog_last_id(ctx->cat);
	if (r.cidr && net_lease_alloc(ctx, &r, 4, doc_get_str(nic, "ip"),
	    nic_id, ip, err))
		goto out;
	if (r.cidr == NULL && doc_get_str(nic, "ip")) {
		cerr_set(err, CERR_USAGE, "network '%s' has no IPv4 CIDR",
		    r.name);
		goto out;
	}
	if (r.cidr6 && net_lease_alloc(ctx, &r, 6, doc_get_str(nic, "ip6"),
	    nic_id, ip, err))
		goto out;
	if (r.cidr6 == NULL && doc_get_str(nic, "ip6")) {
		cerr_set(err, CERR_USAGE, "network '%s' has no IPv6 CIDR",
		    r.name);
		goto out;
	}
	for (i = 0; sg && sg->type == DOC_LIST && i < sg->u.list.n; i++)
		if (nic_secgroup(&owner, nic_id, sg->u.list.v[i]->u.s, err))
			goto out;
out:
	net_row_release(&r);
	return err->code;
}

int
net_nic_remove(struct ctx *ctx, long long nic_id, struct cerr *err)
{
	return catalog_exec(ctx->cat, err, "DELETE FROM vm_nics WHERE id = ?",
	    "i", nic_id);
}

#define NIC_COLS \
	"SELECT n.id, n.idx, n.mac, n.model, net.id, net.name, net.cidr, " \
	"net.cidr6, (SELECT ip FROM leases WHERE nic_id = n.id AND " \
	"family = 4), (SELECT r.gateway FROM leases l JOIN net_ranges r ON " \
	"r.id = l.range_id WHERE l.nic_id = n.id AND l.family = 4), " \
	"(SELECT r.dns FROM leases l JOIN net_ranges r ON r.id = l.range_id " \
	"WHERE l.nic_id = n.id AND l.family = 4), (SELECT ip FROM leases " \
	"WHERE nic_id = n.id AND family = 6), (SELECT r.gateway FROM leases " \
	"l JOIN net_ranges r ON r.id = l.range_id WHERE l.nic_id = n.id AND " \
	"l.family = 6), (SELECT r.dns FROM leases l JOIN net_ranges r ON " \
	"r.id = l.range_id WHERE l.nic_id = n.id AND l.family = 6) " \
	"FROM vm_nics n JOIN networks net ON net.id = n.network_id "

/* The columns of NIC_COLS, in its order: a row is read by these names. */
enum nic_col {
	NIC_COL_ID, NIC_COL_IDX, NIC_COL_MAC, NIC_COL_MODEL,
	NIC_COL_NETWORK_ID, NIC_COL_NETWORK,	/* net.id, net.name */
	NIC_COL_CIDR, NIC_COL_CIDR6,		/* the network's */
	NIC_COL_IP4, NIC_COL_GATEWAY4,
	NIC_COL_DNS4,			/* a JSON list, of its IPv4 range */
	NIC_COL_IP6, NIC_COL_GATEWAY6,
	NIC_COL_DNS6,			/* a JSON list, of its IPv6 range */
};

static char *
with_prefix(const char *ip, const char *cidr)
{
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	struct buf b = BUF_INIT;

	if (ip == NULL || slash == NULL)
		return NULL;
	buf_printf(&b, "%s%s", ip, slash);
	return buf_detach(&b);
}

/* Append the addresses of a JSON list of strings to dns (n of them). */
static void
dns_add(char ***dns, size_t *n, size_t *cap, const char *json)
{
	struct doc *l = net_json_doc(json);
	size_t i;

	for (i = 0; l->type == DOC_LIST && i < l->u.list.n; i++) {
		size_t j;

		if (l->u.list.v[i]->type != DOC_STR)
			continue;
		for (j = 0; j < *n; j++)
			if (strcmp((*dns)[j], l->u.list.v[i]->u.s) == 0)
				break;
		if (j < *n)
			continue;	/* once, though both families name it */
		xgrow(dns, cap, *n + 2, sizeof(**dns));
		(*dns)[(*n)++] = xstrdup(l->u.list.v[i]->u.s);
		(*dns)[*n] = NULL;
	}
	doc_free(l);
}

static void
nic_fill(struct cstmt *st, struct net_nic *c)
{
	size_t nd = 0, cap = 0;

	memset(c, 0, sizeof(*c));
	c->id = cstmt_int(st, NIC_COL_ID);
	c->idx = (int)cstmt_int(st, NIC_COL_IDX);
	snprintf(c->mac, sizeof(c->mac), "%s", cstmt_text(st, NIC_COL_MAC));
	snprintf(c->model, sizeof(c->model), "%s", cstmt_text(st,
	    NIC_COL_MODEL));
	c->network_id = cstmt_int(st, NIC_COL_NETWORK_ID);
	c->network = xstrdup(cstmt_text(st, NIC_COL_NETWORK));
	snprintf(c->libvirt, sizeof(c->libvirt), NET_LIBVIRT_PREFIX "%lld",
	    c->network_id);
	c->addr4 = with_prefix(cstmt_text(st, NIC_COL_IP4),
	    cstmt_text(st, NIC_COL_CIDR));
	c->gw4 = net_dup_or_null(cstmt_text(st, NIC_COL_GATEWAY4));
	c->addr6 = with_prefix(cstmt_text(st, NIC_COL_IP6),
	    cstmt_text(st, NIC_COL_CIDR6));
	c->gw6 = net_dup_or_null(cstmt_text(st, NIC_COL_GATEWAY6));
	c->dns = xcalloc(1, sizeof(*c->dns));
	cap = 1;
	dns_add(&c->dns, &nd, &cap, cstmt_text(st, NIC_COL_DNS4));
	dns_add(&c->dns, &nd, &cap, cstmt_text(st, NIC_COL_DNS6));
}

int
net_vm_nics(struct ctx *ctx, long long vm_id, struct net_nic **out,
    size_t *n, struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (catalog_query(ctx->cat, &st, err, NIC_COLS "WHERE n.vm_id = ? "
	    "ORDER BY n.idx", "i", vm_id))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(out, &cap, *n + 1, sizeof(**out));
		nic_fill(st, &(*out)[(*n)++]);
	}
	cstmt_free(st);
	return err->code;
}

void
net_nic_release(struct net_nic *c)
{
	size_t i;

	free(c->network);
	free(c->addr4);
	free(c->addr6);
	free(c->gw4);
	free(c->gw6);
	for (i = 0; c->dns && c->dns[i]; i++)
		free(c->dns[i]);
	free(c->dns);
	memset(c, 0, sizeof(*c));
}

void
net_nics_free(struct net_nic *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		net_nic_release(&v[i]);
	free(v);
}

int
net_vm_nic(struct ctx *ctx, long long vm_id, const char *ref,
    struct net_nic *out, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long idx = -1;

	memset(out, 0, sizeof(*out));
	if (!valid_id(ref, &idx))
		idx = -1;
	if (catalog_query(ctx->cat, &st, err, NIC_COLS "WHERE n.vm_id = ? AND "
	    "(n.idx = ? OR n.mac = lower(?))", "iis", vm_id, idx, ref))
		return err->code;
	if (cstmt_row(st, err))
		nic_fill(st, out);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no NIC '%s'", ref);
	cstmt_free(st);
	return err->code;
}
