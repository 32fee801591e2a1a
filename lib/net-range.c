/*
 * net-range.c - service: networks made, changed and deleted, and their
 * address ranges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "buf.h"
#include "catalog.h"
#include "ipaddr.h"
#include "net-int.h"
#include "net.h"
#include "valid.h"
#include "xalloc.h"
#include "compat.h"

/* Ranges. */

/* The CIDR of family fam of r, parsed; false when it has none. */
bool
net_range_cidr(const struct net_row *r, int fam, struct ipaddr *net,
    struct ipaddr *last, int *prefix)
{
	const char *c = fam == 4 ? r->cidr : r->cidr6;

	return c && ipaddr_cidr(c, net, last, prefix);
}

/* Inside a transaction: add range [first, last] to network r. */
static int
range_insert(struct ctx *ctx, const struct net_row *r, const char *first,
    const char *last, const char *gateway, const char *dns,
    long long *id, struct cerr *err)
{
	struct ipaddr lo, hi, net, end, gw, a, b;
	char f[IPADDR_STRLEN], l[IPADDR_STRLEN], g[IPADDR_STRLEN] = "";
	struct cstmt *st = NULL;
	int prefix;

	if (!ipaddr_parse(first, &lo))
		return cerr_set(err, CERR_USAGE, "invalid address '%s'",
		    first);
	if (!ipaddr_parse(last, &hi))
		return cerr_set(err, CERR_USAGE, "invalid address '%s'", last);
	if (lo.family != hi.family || ipaddr_cmp(&lo, &hi) > 0)
		return cerr_set(err, CERR_USAGE, "invalid range %s - %s (the "
		    "first address must not come after the last)", first,
		    last);
	{
		char what[2 * IPADDR_STRLEN + 16];

		snprintf(what, sizeof(what), "range %s - %s", first, last);
		if (net_special_ok(&lo, &hi, what, err))
			return err->code;
	}
	if (!net_range_cidr(r, lo.family, &net, &end, &prefix))
		return cerr_set(err, CERR_USAGE, "network '%s' has no IPv%d "
		    "CIDR for range %s - %s", r->name, lo.family, first, last);
	if (ipaddr_cmp(&lo, &net) <= 0 || ipaddr_cmp(&hi, &end) >= 0 ||
	    (lo.family == 4 && (ipaddr_cmp(&lo, &net) == 0 ||
	    ipaddr_cmp(&hi, &end) == 0)))
		return cerr_set(err, CERR_USAGE, "range %s - %s is not inside "
		    "the CIDR of network '%s' (%s, less its first and last "
		    "addresses)", first, last, r->name,
		    lo.family == 4 ? r->cidr : r->cidr6);
	/* the bridge's own address is no one's to lease */
	gw = net;
	ipaddr_add(&gw, 1);
	if (strcmp(r->mode, "bridge") != 0 && ipaddr_within(&gw, &lo, &hi)) {
		ipaddr_format(&gw, g);
		return cerr_set(err, CERR_USAGE, "range %s - %s holds the "
		    "gateway %s of network '%s'", first, last, g, r->name);
	}
	if (gateway) {
		if (!ipaddr_parse(gateway, &a) || a.family != lo.family)
			return cerr_set(err, CERR_USAGE, "invalid gateway '%s'",
			    gateway);
		ipaddr_format(&a, g);
	} else if (strcmp(r->mode, "bridge") != 0) {
		ipaddr_format(&gw, g);
	}
	ipaddr_format(&lo, f);
	ipaddr_format(&hi, l);
	/* no two ranges of a network overlap */
	if (catalog_query(ctx->cat, &st, err, "SELECT first, last FROM "
	    "net_ranges WHERE network_id = ? AND family = ?", "ii", r->id,
	    (long long)lo.family))
		return err->code;
	while (cstmt_row(st, err)) {
		if (ipaddr_parse(cstmt_text(st, 0), &a) &&
		    ipaddr_parse(cstmt_text(st, 1), &b) &&
		    ipaddr_cmp(&lo, &b) <= 0 && ipaddr_cmp(&a, &hi) <= 0) {
			cerr_set(err, CERR_CONFLICT, "range %s - %s overlaps "
			    "range %s - %s of network '%s'", f, l,
			    cstmt_text(st, 0), cstmt_text(st, 1), r->name);
			break;
		}
	}
	cstmt_free(st);
	if (err->code || catalog_exec(ctx->cat, err, "INSERT INTO net_ranges "
	    "(network_id, family, first, last, gateway, dns) VALUES (?, ?, ?, "
	    "?, nullif(?, ''), ?)", "iissss", r->id, (long long)lo.family, f,
	    l, g, dns ? dns : "[]"))
		return err->code;
	/* reservations made before the range are its leases now */
	*id = catalog_last_id(ctx->cat);
	{
		char klo[IPADDR_KEYLEN], khi[IPADDR_KEYLEN];

		ipaddr_key(&lo, klo);
		ipaddr_key(&hi, khi);
		return catalog_exec(ctx->cat, err, "UPDATE leases SET "
		    "range_id = ? WHERE network_id = ? AND family = ? AND key "
		    "BETWEEN ? AND ?", "iiiss", *id, r->id,
		    (long long)lo.family, klo, khi);
	}
}

/* The default range of a CIDR: all of it but its first address (the
 * network), the gateway after it, and (IPv4) the broadcast address. */
static int
range_default(struct ctx *ctx, const struct net_row *r, int fam,
    const char *dns, struct cerr *err)
{
	struct ipaddr net, last;
	char f[IPADDR_STRLEN], l[IPADDR_STRLEN];
	long long id;
	int prefix;

	if (!net_range_cidr(r, fam, &net, &last, &prefix))
		return 0;
	ipaddr_add(&net, strcmp(r->mode, "bridge") == 0 ? 1 : 2);
	ipaddr_format(&net, f);
	{
		/* one before the last (IPv4's broadcast address; IPv6 keeps
		 * the same shape) */
		int i;

		for (i = 15; i >= 0; i--)
			if (last.b[i]-- != 0)
				break;
	}
	ipaddr_format(&last, l);
	return range_insert(ctx, r, f, l, NULL, dns, &id, err);
}

/*
 * What a network's spec must be, as far as it alone tells: for a new
 * network (create) mode and a CIDR are required; for an apply of one that
 * may exist only what is given is checked.  The DNS servers go to dns as
 * JSON; mode and visibility, matched in any case, become their canonical
 * names.
 */
int
net_range_spec_check(struct net_spec *s, bool create, struct buf *dns,
    struct cerr *err)
{
	if (valid_name("network", s->name, err))
		return err->code;
	if (s->mode == NULL && create)
		return cerr_set(err, CERR_USAGE, "a mode is required (nat, "
		    "routed, isolated or bridge)");
	if (s->mode && net_enum(s->mode, net_modes, "mode", &s->mode, err))
		return err->code;
	if (s->mode && strcmp(s->mode, "bridge") == 0) {
		if (s->bridge == NULL && create)
			return cerr_set(err, CERR_USAGE, "mode bridge needs "
			    "--bridge (the host's bridge)");
		if (s->bridge && net_bridge_ok(s->bridge, err))
			return err->code;
	} else if (s->mode && s->bridge) {
		return cerr_set(err, CERR_USAGE, "--bridge is for mode bridge "
		    "(mode %s makes its own bridge)", s->mode);
	}
	if (s->vlan && s->mode && strcmp(s->mode, "bridge") != 0)
		return cerr_set(err, CERR_USAGE, "a vlan is for mode bridge");
	if (s->vlan < 0 || s->vlan > 4094)
		return cerr_set(err, CERR_USAGE, "invalid vlan %lld (1 to "
		    "4094)", s->vlan);
	if (s->cidr == NULL && s->cidr6 == NULL && create)
		return cerr_set(err, CERR_USAGE, "a CIDR is required (IPv4, "
		    "IPv6 or both)");
	if ((s->cidr && net_cidr_ok(s->cidr, 4, err)) ||
	    (s->cidr6 && net_cidr_ok(s->cidr6, 6, err)))
		return err->code;
	if (s->visibility && net_enum(s->visibility, net_visibilities,
	    "visibility", &s->visibility, err))
		return err->code;
	return net_dns_json(s->dns, s->ndns, dns, err);
}

int
net_create(struct ctx *ctx, const struct net_spec *spec, struct doc **out,
    struct cerr *err)
{
	struct net_spec canon = *spec, *s = &canon;
	struct net_row r = { 0 };
	struct buf dns = BUF_INIT;
	struct cstmt *st = NULL;
	char now[32];
	int taken;

	if (net_range_spec_check(s, true, &dns, err))
		goto out;
	/* a bridge network puts guests on whatever the host's bridge
	 * carries: the admins' to decide */
	if (strcmp(s->mode, "bridge") == 0 &&
	    acct_require_admin(ctx, "create bridge networks", err))
		goto out;
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM networks WHERE "
	    "name = ?", "s", s->name))
		goto fail;
	taken = cstmt_row(st, err);
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (taken) {
		cerr_set(err, CERR_CONFLICT, "network '%s' exists already",
		    s->name);
		goto fail;
	}
	if (net_no_overlap(ctx, -1, s->mode, s->cidr, err) ||
	    net_no_overlap(ctx, -1, s->mode, s->cidr6, err))
		goto fail;
	catalog_now(now);
	if (catalog_exec(ctx->cat, err, "INSERT INTO networks (name, mode, "
	    "bridge, vlan, cidr, cidr6, visibility, owner, group_id, created, "
	    "updated) VALUES (?, ?, ?, nullif(?, 0), ?, ?, ?, ?, ?, ?, ?)",
	    "sssisssiiss", s->name, s->mode, s->bridge, s->vlan, s->cidr,
	    s->cidr6, s->visibility ? s->visibility : "private",
	    ctx->who.user_id, ctx->who.group_id, now, now))
		goto fail;
	r.id = catalog_last_id(ctx->cat);
	r.name = xstrdup(s->name);
	r.mode = xstrdup(s->mode);
	r.cidr = net_dup_or_null(s->cidr);
	r.cidr6 = net_dup_or_null(s->cidr6);
	if (range_default(ctx, &r, 4, dns.s, err) ||
	    range_default(ctx, &r, 6, dns.s, err) ||
	    acct_audit(ctx, "create", "Network", r.id, r.name, s->mode, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	net_show_id(ctx, r.id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	net_row_release(&r);
	buf_release(&dns);
	return err->code;
}

int
net_delete(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct net_row r = { 0 };
	struct cstmt *st = NULL;
	long long leases = 0, hosts = 0;

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (net_load_owned(ctx, ref, "delete", &r, err))
		goto fail;
	if (catalog_query(ctx->cat, &st, err, "SELECT (SELECT count(*) FROM "
	    "leases WHERE network_id = ?1), (SELECT count(*) FROM "
	    "network_hosts WHERE network_id = ?1)", "i", r.id))
		goto fail;
	if (cstmt_row(st, err)) {
		leases = cstmt_int(st, 0);
		hosts = cstmt_int(st, 1);
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (leases) {
		cerr_set(err, CERR_CONFLICT, "cannot delete network '%s': it "
		    "has %lld lease%s (delete or detach their NICs, release "
		    "reservations)", r.name, leases, leases == 1 ? "" : "s");
		goto fail;
	}
	if (hosts) {
		/* no NIC left, but a host that did not answer still has it:
		 * gone from there first */
		struct cstmt *h = NULL;
		long long *ids = NULL;
		size_t n = 0, cap = 0, i;

		if (catalog_query(ctx->cat, &h, err, "SELECT host_id FROM "
		    "network_hosts WHERE network_id = ?", "i", r.id))
			goto fail;
		while (cstmt_row(h, err)) {
			xgrow(&ids, &cap, n + 1, sizeof(*ids));
			ids[n++] = cstmt_int(h, 0);
		}
		cstmt_free(h);
		catalog_rollback(ctx->cat);
		for (i = 0; i < n && err->code == 0; i++)
			net_host_gc(ctx, ids[i], err);
		free(ids);
		if (err->code || catalog_begin(ctx->cat, err))
			goto out;
		if (catalog_query(ctx->cat, &h, err, "SELECT h.name FROM "
		    "network_hosts nh JOIN hosts h ON h.id = nh.host_id "
		    "WHERE nh.network_id = ? LIMIT 1", "i", r.id))
			goto fail;
		if (cstmt_row(h, err))
			cerr_set(err, CERR_UNREACHABLE, "cannot delete network "
			    "'%s': it is still defined on host '%s'", r.name,
			    cstmt_text(h, 0));
		cstmt_free(h);
		if (err->code)
			goto fail;
	}
	/* checked again: the transaction may be a new one by now */
	if (catalog_exec(ctx->cat, err, "DELETE FROM networks WHERE id = ? AND "
	    "NOT EXISTS (SELECT 1 FROM leases WHERE network_id = ?1) AND "
	    "NOT EXISTS (SELECT 1 FROM vm_nics WHERE network_id = ?1)", "i",
	    r.id))
		goto fail;
	if (catalog_changes(ctx->cat) != 1) {
		cerr_set(err, CERR_CONFLICT, "cannot delete network '%s': it "
		    "has leases or NICs (changed concurrently)", r.name);
		goto fail;
	}
	if (acct_audit(ctx, "delete", "Network", r.id, r.name, NULL, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	net_row_release(&r);
	return err->code;
}

int
net_set_visibility(struct ctx *ctx, const char *ref, const char *vis,
    struct doc **out, struct cerr *err)
{
	struct net_row r = { 0 };
	char now[32];

	if (net_enum(vis, net_visibilities, "visibility", &vis, err))
		return err->code;
	if (catalog_begin(ctx->cat, err))
		return err->code;
	catalog_now(now);
	if (net_load_owned(ctx, ref, "change", &r, err) ||
	    catalog_exec(ctx->cat, err, "UPDATE networks SET visibility = ?, "
	    "updated = ? WHERE id = ?", "ssi", vis, now, r.id) ||
	    acct_audit(ctx, "set", "Network", r.id, r.name, vis, err) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	net_show_id(ctx, r.id, out, err);
out:
	net_row_release(&r);
	return err->code;
}

int
net_range_add(struct ctx *ctx, const char *ref, const char *first,
    const char *last, const char *gateway, const char *const *dns,
    size_t ndns, struct doc **out, struct cerr *err)
{
	struct net_row r = { 0 };
	struct buf d = BUF_INIT;
	char detail[128], now[32];
	long long id;

	if (first == NULL || last == NULL)
		return cerr_set(err, CERR_USAGE, "a range needs --first and "
		    "--last");
	if (net_dns_json(dns, ndns, &d, err) || catalog_begin(ctx->cat, err))
		goto out;
	snprintf(detail, sizeof(detail), "range %s - %s", first, last);
	catalog_now(now);
	if (net_load_owned(ctx, ref, "change", &r, err) ||
	    range_insert(ctx, &r, first, last, gateway, d.s, &id, err) ||
	    catalog_exec(ctx->cat, err, "UPDATE networks SET updated = ? "
	    "WHERE id = ?", "si", now, r.id) ||
	    acct_audit(ctx, "range add", "Network", r.id, r.name, detail,
	    err) || catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	net_show_id(ctx, r.id, out, err);
out:
	buf_release(&d);
	net_row_release(&r);
	return err->code;
}

int
net_range_remove(struct ctx *ctx, const char *ref, const char *range,
    struct doc **out, struct cerr *err)
{
	struct net_row r = { 0 };
	struct cstmt *st = NULL;
	long long rid = -1, id = 0, used = 0;
	char detail[128] = "", now[32];

	if (!valid_id(range, &rid))
		rid = -1;
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (net_load_owned(ctx, ref, "change", &r, err) ||
	    catalog_query(ctx->cat, &st, err, "SELECT id, first, last, "
	    "(SELECT count(*) FROM leases l WHERE l.range_id = net_ranges.id "
	    "AND l.nic_id IS NOT NULL) FROM net_ranges WHERE network_id = ? "
	    "AND (id = ? OR first = ?)", "iis", r.id, rid, range))
		goto fail;
	if (cstmt_row(st, err)) {
		id = cstmt_int(st, 0);
		snprintf(detail, sizeof(detail), "range %s - %s",
		    cstmt_text(st, 1), cstmt_text(st, 2));
		used = cstmt_int(st, 3);
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (id == 0) {
		cerr_set(err, CERR_NOTFOUND, "network '%s' has no range '%s'",
		    r.name, range);
		goto fail;
	}
	if (used) {
		cerr_set(err, CERR_CONFLICT, "cannot remove %s of network "
		    "'%s': NICs hold %lld of its addresses", detail, r.name,
		    used);
		goto fail;
	}
	catalog_now(now);
	/* its reservations stay, outside any range */
	if (catalog_exec(ctx->cat, err, "UPDATE leases SET range_id = NULL "
	    "WHERE range_id = ?", "i", id) ||
	    catalog_exec(ctx->cat, err, "DELETE FROM net_ranges WHERE id = ?",
	    "i", id) ||
	    catalog_exec(ctx->cat, err, "UPDATE networks SET updated = ? "
	    "WHERE id = ?", "si", now, r.id) ||
	    acct_audit(ctx, "range remove", "Network", r.id, r.name, detail,
	    err) || catalog_commit(ctx->cat, err))
		goto fail;
	net_show_id(ctx, r.id, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	net_row_release(&r);
	return err->code;
}
