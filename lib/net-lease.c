/*
 * net-lease.c - service: leases (the addresses of a network, a NIC's or
 * reserved by hand) and the settings of the catalog's MACs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "acct.h"
#include "catalog.h"
#include "ipaddr.h"
#include "net-int.h"
#include "net.h"
#include "rows.h"
#include "compat.h"

/* Leases. */

/* Inside a transaction: is address a of network r taken?  Fills who
 * ("vm 'web-1'" or "a reservation") when it is. */
static int
lease_holder(struct ctx *ctx, const struct net_row *r, const struct ipaddr *a,
    char *who, size_t len, int *taken, struct cerr *err)
{
	struct cstmt *st = NULL;
	char key[IPADDR_KEYLEN];

	ipaddr_key(a, key);
	*taken = 0;
	if (catalog_query(ctx->cat, &st, err, "SELECT l.reserved, v.name "
	    "FROM leases l LEFT JOIN vm_nics n ON n.id = l.nic_id LEFT JOIN "
	    "vms v ON v.id = n.vm_id WHERE l.network_id = ? AND l.family = ? "
	    "AND l.key = ?", "iis", r->id, (long long)a->family, key))
		return err->code;
	if ((*taken = cstmt_row(st, err))) {
		if (cstmt_int(st, 0))
			snprintf(who, len, "a reservation");
		else
			snprintf(who, len, "vm '%s'", cstmt_text(st, 1) ?
			    cstmt_text(st, 1) : "?");
	}
	cstmt_free(st);
	return err->code;
}

static int
lease_insert(struct ctx *ctx, const struct net_row *r, long long range_id,
    const struct ipaddr *a, long long nic_id, struct cerr *err)
{
	char ip[IPADDR_STRLEN], key[IPADDR_KEYLEN], now[32];

	ipaddr_format(a, ip);
	ipaddr_key(a, key);
	catalog_now(now);
	return catalog_exec(ctx->cat, err, "INSERT INTO leases (network_id, "
	    "range_id, family, ip, key, nic_id, reserved, created) VALUES "
	    "(?, nullif(?, 0), ?, ?, ?, nullif(?, 0), ?, ?)", "iiissiis",
	    r->id, range_id, (long long)a->family, ip, key, nic_id,
	    (long long)(nic_id == 0), now);
}

/* The range of family fam of r holding a, or 0. */
static int
range_of(struct ctx *ctx, const struct net_row *r, const struct ipaddr *a,
    long long *range_id, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct ipaddr lo, hi;

	*range_id = 0;
	if (catalog_query(ctx->cat, &st, err, "SELECT id, first, last FROM "
	    "net_ranges WHERE network_id = ? AND family = ? ORDER BY id",
	    "ii", r->id, (long long)a->family))
		return err->code;
	while (*range_id == 0 && cstmt_row(st, err))
		if (ipaddr_parse(cstmt_text(st, 1), &lo) &&
		    ipaddr_parse(cstmt_text(st, 2), &hi) &&
		    ipaddr_within(a, &lo, &hi))
			*range_id = cstmt_int(st, 0);
	cstmt_free(st);
	return err->code;
}

/* The lowest free address of range [lo, hi]: a walk over its leases in
 * key order, stopping at the first gap. */
static int
range_free(struct ctx *ctx, const struct net_row *r, const struct ipaddr *lo,
    const struct ipaddr *hi, struct ipaddr *out, bool *found,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	char klo[IPADDR_KEYLEN], khi[IPADDR_KEYLEN];
	struct ipaddr cand = *lo, k;
	bool end = false;

	*found = false;
	ipaddr_key(lo, klo);
	ipaddr_key(hi, khi);
	if (catalog_query(ctx->cat, &st, err, "SELECT key FROM leases WHERE "
	    "network_id = ? AND family = ? AND key BETWEEN ? AND ? ORDER BY "
	    "key", "iiss", r->id, (long long)lo->family, klo, khi))
		return err->code;
	while (cstmt_row(st, err)) {
		if (!ipaddr_from_key(lo->family, cstmt_text(st, 0), &k))
			continue;
		if (ipaddr_cmp(&k, &cand) > 0)
			break;		/* a gap before k */
		if (ipaddr_cmp(&k, &cand) == 0 && !ipaddr_add(&cand, 1)) {
			end = true;
			break;
		}
	}
	cstmt_free(st);
	if (err->code == 0 && !end && ipaddr_cmp(&cand, hi) <= 0) {
		*out = cand;
		*found = true;
	}
	return err->code;
}

/* Inside a transaction: a lease of family fam on network r for NIC
 * nic_id: want (NULL: the lowest free address of the first range that
 * has one).  Fills ip. */
int
net_lease_alloc(struct ctx *ctx, const struct net_row *r, int fam,
    const char *want, long long nic_id, char ip[IPADDR_STRLEN],
    struct cerr *err)
{
	struct cstmt *st = NULL;
	struct ipaddr a, lo, hi;
	long long range_id = 0;
	bool found = false;
	char who[200];
	int taken;

	if (want) {
		if (!ipaddr_parse(want, &a) || a.family != fam)
			return cerr_set(err, CERR_USAGE, "invalid IPv%d "
			    "address '%s'", fam, want);
		if (range_of(ctx, r, &a, &range_id, err))
			return err->code;
		if (range_id == 0)
			return cerr_set(err, CERR_USAGE, "address %s is in no "
			    "address range of network '%s'", want, r->name);
		if (lease_holder(ctx, r, &a, who, sizeof(who), &taken, err))
			return err->code;
		if (taken)
			return cerr_set(err, CERR_CONFLICT, "address %s of "
			    "network '%s' is taken (by %s)", want, r->name,
			    who);
		ipaddr_format(&a, ip);
		return lease_insert(ctx, r, range_id, &a, nic_id, err);
	}
	if (catalog_query(ctx->cat, &st, err, "SELECT id, first, last FROM "
	    "net_ranges WHERE network_id = ? AND family = ? ORDER BY id",
	    "ii", r->id, (long long)fam))
		return err->code;
	while (!found && cstmt_row(st, err)) {
		range_id = cstmt_int(st, 0);
		if (ipaddr_parse(cstmt_text(st, 1), &lo) &&
		    ipaddr_parse(cstmt_text(st, 2), &hi))
			range_free(ctx, r, &lo, &hi, &a, &found, err);
	}
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (!found)
		return cerr_set(err, CERR_CAPACITY, "network '%s' has no free "
		    "IPv%d address", r->name, fam);
	ipaddr_format(&a, ip);
	return lease_insert(ctx, r, range_id, &a, nic_id, err);
}

int
net_reserve(struct ctx *ctx, const char *ref, const char *ip,
    struct doc **out, struct cerr *err)
{
	struct net_row r = { 0 };
	struct ipaddr a, net, last, gw;
	long long range_id = 0, lid;
	char who[200], canon[IPADDR_STRLEN];
	int prefix, taken;

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (net_load_owned(ctx, ref, "reserve an address of", &r, err))
		goto fail;
	if (!ipaddr_parse(ip, &a)) {
		cerr_set(err, CERR_USAGE, "invalid address '%s'", ip);
		goto fail;
	}
	if (!net_range_cidr(&r, a.family, &net, &last, &prefix) ||
	    !ipaddr_within(&a, &net, &last)) {
		cerr_set(err, CERR_USAGE, "address %s is outside the CIDR of "
		    "network '%s'", ip, r.name);
		goto fail;
	}
	gw = net;
	ipaddr_add(&gw, 1);
	if (ipaddr_cmp(&a, &net) == 0 || (strcmp(r.mode, "bridge") != 0 &&
	    ipaddr_cmp(&a, &gw) == 0)) {
		cerr_set(err, CERR_USAGE, "address %s of network '%s' is its "
		    "%s", ip, r.name, ipaddr_cmp(&a, &net) == 0 ? "network "
		    "address" : "gateway");
		goto fail;
	}
	ipaddr_format(&a, canon);
	if (range_of(ctx, &r, &a, &range_id, err) ||
	    lease_holder(ctx, &r, &a, who, sizeof(who), &taken, err))
		goto fail;
	if (taken) {
		cerr_set(err, CERR_CONFLICT, "address %s of network '%s' is "
		    "taken (by %s)", canon, r.name, who);
		goto fail;
	}
	if (lease_insert(ctx, &r, range_id, &a, 0, err))
		goto fail;
	lid = catalog_last_id(ctx->cat);
	if (acct_audit(ctx, "reserve", "Network", r.id, r.name, canon, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	{
		struct doc *d = doc_new(DOC_MAP);

		doc_set_str(d, "kind", "Lease");
		doc_set_int(d, "id", lid);
		doc_set_str(d, "name", canon);
		doc_set_str(d, "network", r.name);
		doc_set_str(d, "ip", canon);
		doc_set_int(d, "family", a.family);
		doc_map_set(d, "reserved", doc_new_bool(true));
		*out = d;
	}
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	net_row_release(&r);
	return err->code;
}

int
net_release(struct ctx *ctx, const char *ref, const char *ip,
    struct cerr *err)
{
	struct net_row r = { 0 };
	struct ipaddr a;
	char who[200], canon[IPADDR_STRLEN], key[IPADDR_KEYLEN];
	int taken;

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (net_load_owned(ctx, ref, "release an address of", &r, err))
		goto fail;
	if (!ipaddr_parse(ip, &a)) {
		cerr_set(err, CERR_USAGE, "invalid address '%s'", ip);
		goto fail;
	}
	ipaddr_format(&a, canon);
	ipaddr_key(&a, key);
	if (lease_holder(ctx, &r, &a, who, sizeof(who), &taken, err))
		goto fail;
	if (!taken) {
		cerr_set(err, CERR_NOTFOUND, "address %s of network '%s' is "
		    "not reserved", canon, r.name);
		goto fail;
	}
	if (strcmp(who, "a reservation") != 0) {
		cerr_set(err, CERR_CONFLICT, "address %s of network '%s' is "
		    "leased to %s, not reserved (detach or delete its NIC)",
		    canon, r.name, who);
		goto fail;
	}
	if (catalog_exec(ctx->cat, err, "DELETE FROM leases WHERE network_id "
	    "= ? AND family = ? AND key = ? AND reserved = 1", "iis", r.id,
	    (long long)a.family, key) ||
	    acct_audit(ctx, "release", "Network", r.id, r.name, canon, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	net_row_release(&r);
	return err->code;
}

static struct doc *
lease_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "Lease");
	doc_set_int(d, "id", cstmt_int(st, 0));
	doc_set_str(d, "name", cstmt_text(st, 1));
	doc_set_str(d, "network", cstmt_text(st, 2));
	doc_set_str(d, "ip", cstmt_text(st, 1));
	doc_set_int(d, "family", cstmt_int(st, 3));
	doc_map_set(d, "reserved", doc_new_bool(cstmt_int(st, 4) != 0));
	if (!cstmt_null(st, 5))
		doc_set_str(d, "mac", cstmt_text(st, 5));
	if (!cstmt_null(st, 6))
		doc_set_str(d, "vm", cstmt_text(st, 6));
	if (!cstmt_null(st, 7))
		doc_set_int(d, "nic", cstmt_int(st, 7));
	doc_set_str(d, "created", cstmt_text(st, 8));
	return d;
}

int
net_lease_list(struct ctx *ctx, const char *ref, emit_fn emit,
    struct cerr *err)
{
	struct net_row r = { 0 };
	struct cstmt *st = NULL;

	if (net_load(ctx, ref, &r, err))
		return err->code;
	if (catalog_query(ctx->cat, &st, err, "SELECT l.id, l.ip, ?2, "
	    "l.family, l.reserved, n.mac, v.name, n.idx, l.created FROM "
	    "leases l LEFT JOIN vm_nics n ON n.id = l.nic_id LEFT JOIN vms v "
	    "ON v.id = n.vm_id WHERE l.network_id = ?1 ORDER BY l.family, "
	    "l.key", "is", r.id, r.name) == 0)
		rows_emit(ctx, st, lease_doc, emit, err);
	cstmt_free(st);
	net_row_release(&r);
	return err->code;
}

/* Settings. */

static int
mac_prefix_ok(const char *p, struct cerr *err)
{
	size_t n = strlen(p), i, octets;
	unsigned first;

	octets = (n + 1) / 3;
	if (n < 2 || n > 14 || (n + 1) % 3 != 0)
		goto bad;
	for (i = 0; i < n; i++) {
		bool colon = i % 3 == 2;

		if (colon ? p[i] != ':' : !((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			goto bad;
	}
	first = (unsigned)strtoul(p, NULL, 16);
	if (first & 1)
		return cerr_set(err, CERR_USAGE, "invalid MAC prefix '%s': a "
		    "multicast address (the first octet must be even)", p);
	(void)octets;
	return 0;
bad:
	return cerr_set(err, CERR_USAGE, "invalid MAC prefix '%s' (1 to 5 "
	    "octets in lowercase hex, such as 02:c1:0d)", p);
}

static int
mac_prefix(struct ctx *ctx, char out[24], struct cerr *err)
{
	struct cstmt *st = NULL;

	snprintf(out, 24, "%s", NET_MAC_PREFIX_DEFAULT);
	if (catalog_query(ctx->cat, &st, err, "SELECT value FROM settings "
	    "WHERE key = 'mac_prefix'", "") == 0 && cstmt_row(st, err))
		snprintf(out, 24, "%s", cstmt_text(st, 0));
	cstmt_free(st);
	return err->code;
}

int
net_config(struct ctx *ctx, const char *prefix, struct doc **out,
    struct cerr *err)
{
	char p[24];

	if (prefix) {
		if (acct_require_admin(ctx, "change the MAC prefix", err) ||
		    mac_prefix_ok(prefix, err) || catalog_begin(ctx->cat, err))
			return err->code;
		if (catalog_exec(ctx->cat, err, "INSERT INTO settings (key, "
		    "value) VALUES ('mac_prefix', ?1) ON CONFLICT (key) DO "
		    "UPDATE SET value = ?1", "s", prefix) ||
		    acct_audit(ctx, "config", "Network", 0, "mac_prefix",
		    prefix, err) || catalog_commit(ctx->cat, err)) {
			catalog_rollback(ctx->cat);
			return err->code;
		}
	}
	if (mac_prefix(ctx, p, err))
		return err->code;
	*out = doc_new(DOC_MAP);
	doc_set_str(*out, "kind", "Config");
	doc_set_int(*out, "id", 0);
	doc_set_str(*out, "name", "cnet");
	doc_set_str(*out, "mac_prefix", p);
	return 0;
}

/* Inside a transaction: a MAC of the catalog's prefix that no NIC has. */
int
net_lease_mac_alloc(struct ctx *ctx, char out[24], struct cerr *err)
{
	struct cstmt *st = NULL;
	unsigned char rnd[6];
	char prefix[24];
	int tries, taken;
	size_t octets, i, len;

	if (mac_prefix(ctx, prefix, err))
		return err->code;
	octets = (strlen(prefix) + 1) / 3;
	for (tries = 0; tries < 64; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return cerr_set(err, CERR_FAIL, "cannot make a MAC "
			    "address: %s", strerror(errno));
		len = (size_t)snprintf(out, 24, "%s", prefix);
		for (i = octets; i < 6; i++)
			len += (size_t)snprintf(out + len, 24 - len, ":%02x",
			    rnd[i]);
		if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM vm_nics "
		    "WHERE mac = ?", "s", out))
			return err->code;
		taken = cstmt_row(st, err);
		cstmt_free(st);
		if (err->code)
			return err->code;
		if (!taken)
			return 0;
	}
	return cerr_set(err, CERR_CAPACITY, "no free MAC address under "
	    "prefix %s", prefix);
}
