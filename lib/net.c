/*
 * net.c - service: virtual networks, ranges, leases and NICs.  Uses the
 * catalog and hv adapters and the ipaddr engine; includes neither sqlite3
 * nor libvirt.
 *
 * Addresses and MACs are scarce things: each is checked and written in
 * the caller's one write transaction (BEGIN IMMEDIATE), so two commands
 * can never both take the last address, and UNIQUE constraints stand
 * behind the checks.  Realising a network on a host follows the house
 * rule: the network_hosts row is committed first, libvirt is called
 * holding no lock, and a host's network goes when no VM there uses it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "acct.h"
#include "bounds.h"
#include "buf.h"
#include "catalog.h"
#include "hv.h"
#include "ipaddr.h"
#include "net.h"
#include "valid.h"
#include "xalloc.h"
#include "yml.h"
#include "rows.h"
#include "compat.h"

#define NET_COLS \
	"SELECT n.id, n.name, n.mode, n.bridge, n.vlan, n.cidr, n.cidr6, " \
	"n.visibility, u.name, g.name, n.created, n.updated, n.owner, " \
	"(SELECT json_group_array(json_remove(json_object('id', r.id, " \
	"'family', r.family, 'first', r.first, 'last', r.last, 'gateway', " \
	"r.gateway, 'dns', json(r.dns), 'used', (SELECT count(*) FROM " \
	"leases l WHERE l.range_id = r.id)), CASE WHEN r.gateway IS NULL " \
	"THEN '$.gateway' ELSE '$.none' END)) FROM (SELECT * FROM " \
	"net_ranges WHERE " \
	"network_id = n.id ORDER BY id) r), " \
	"(SELECT count(*) FROM leases l WHERE l.network_id = n.id), " \
	"(SELECT count(*) FROM leases l WHERE l.network_id = n.id AND " \
	"l.reserved = 1), " \
	"(SELECT json_group_array(name) FROM (SELECT h.name FROM " \
	"network_hosts nh JOIN hosts h ON h.id = nh.host_id WHERE " \
	"nh.network_id = n.id ORDER BY h.name)) " \
	"FROM networks n JOIN users u ON u.id = n.owner " \
	"JOIN groups g ON g.id = n.group_id "

/* Who may use a network.  Binds ?1 (admin), ?2 (user id), ?3 (group). */
#define NET_USABLE "(?1 OR n.owner = ?2 OR (n.visibility = 'group' AND " \
	"n.group_id = ?3) OR n.visibility = 'public')"

static const char *const net_modes[] = {
	"nat", "routed", "isolated", "bridge", NULL,
};

static bool
one_of(const char *s, const char *const *set)
{
	size_t i;

	for (i = 0; s && set[i]; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

/* A network as loaded for an action. */
struct netrow {
	long long id, owner;
	char *name, *mode, *bridge, *cidr, *cidr6, *visibility;
	long long vlan;
};

static void
netrow_release(struct netrow *r)
{
	free(r->name);
	free(r->mode);
	free(r->bridge);
	free(r->cidr);
	free(r->cidr6);
	free(r->visibility);
	memset(r, 0, sizeof(*r));
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* A JSON list the catalog made, as a document (an empty list if none).
 * Wrapped in a map: a top-level array reads as a stream of documents. */
static struct doc *
json_doc(const char *json)
{
	struct doclist dl = { 0 };
	struct cerr err = { 0 };
	struct buf b = BUF_INIT;
	struct doc *d = NULL, *v;
	size_t i;

	if (json) {
		buf_printf(&b, "{\"v\": %s}", json);
		if (yml_read("catalog", b.s, b.len, &dl, &err) == 0 &&
		    dl.n == 1 && (v = doc_map_get(dl.v[0], "v")) &&
		    v->type == DOC_LIST) {
			/* detach v from its map */
			for (i = 0; i < dl.v[0]->u.map.n; i++)
				if (dl.v[0]->u.map.kv[i].val == v)
					dl.v[0]->u.map.kv[i].val =
					    doc_new(DOC_NULL);
			d = v;
		}
	}
	doclist_release(&dl);
	buf_release(&b);
	return d ? d : doc_new(DOC_LIST);
}

struct doc *
net_json_list(const char *json)
{
	return json_doc(json);
}

/* The gateway of a CIDR: its first host address (into out; "" for
 * none). */
static void
cidr_gateway(const char *cidr, char out[IPADDR_STRLEN])
{
	struct ipaddr net, last;
	int prefix;

	out[0] = '\0';
	if (cidr && ipaddr_cidr(cidr, &net, &last, &prefix) &&
	    ipaddr_add(&net, 1))
		ipaddr_format(&net, out);
}

static struct doc *
net_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP), *ranges;
	const char *mode = cstmt_text(st, 2);
	char gw[IPADDR_STRLEN], tmp[64];
	size_t i;

	doc_set_str(d, "kind", "Network");
	doc_set_int(d, "id", cstmt_int(st, 0));
	doc_set_str(d, "name", cstmt_text(st, 1));
	doc_set_str(d, "mode", mode);
	if (strcmp(mode, "bridge") == 0) {
		doc_set_str(d, "bridge", cstmt_text(st, 3));
	} else {
		snprintf(tmp, sizeof(tmp), "cbr%lld", cstmt_int(st, 0));
		doc_set_str(d, "bridge", tmp);
	}
	if (!cstmt_null(st, 4))
		doc_set_int(d, "vlan", cstmt_int(st, 4));
	if (!cstmt_null(st, 5)) {
		doc_set_str(d, "cidr", cstmt_text(st, 5));
		cidr_gateway(cstmt_text(st, 5), gw);
		if (strcmp(mode, "bridge") != 0 && gw[0])
			doc_set_str(d, "gateway", gw);
	}
	if (!cstmt_null(st, 6)) {
		doc_set_str(d, "cidr6", cstmt_text(st, 6));
		cidr_gateway(cstmt_text(st, 6), gw);
		if (strcmp(mode, "bridge") != 0 && gw[0])
			doc_set_str(d, "gateway6", gw);
	}
	snprintf(tmp, sizeof(tmp), NET_LIBVIRT_PREFIX "%lld",
	    cstmt_int(st, 0));
	doc_set_str(d, "libvirt_name", tmp);
	doc_set_str(d, "visibility", cstmt_text(st, 7));
	ranges = json_doc(cstmt_text(st, 13));
	for (i = 0; ranges->type == DOC_LIST && i < ranges->u.list.n; i++) {
		struct doc *r = ranges->u.list.v[i];
		struct ipaddr lo, hi;
		uint64_t n;

		if (r->type != DOC_MAP)
			continue;
		if (ipaddr_parse(doc_get_str(r, "first"), &lo) &&
		    ipaddr_parse(doc_get_str(r, "last"), &hi)) {
			n = ipaddr_count(&lo, &hi);
			doc_set_int(r, "size", n > (uint64_t)INT64_MAX ?
			    INT64_MAX : (long long)n);
		}
	}
	doc_map_set(d, "ranges", ranges);
	doc_set_int(d, "leases", cstmt_int(st, 14));
	doc_set_int(d, "reserved", cstmt_int(st, 15));
	doc_map_set(d, "hosts", json_doc(cstmt_text(st, 16)));
	doc_set_str(d, "owner", cstmt_text(st, 8));
	doc_set_str(d, "group_owner", cstmt_text(st, 9));
	doc_set_str(d, "created", cstmt_text(st, 10));
	doc_set_str(d, "updated", cstmt_text(st, 11));
	return d;
}

/* Query the network ref names (id or name), usable by the caller. */
static int
net_query(struct ctx *ctx, const char *ref, struct cstmt **st,
    struct cerr *err)
{
	long long id = -1;

	if (!valid_id(ref, &id))
		id = -1;
	return catalog_query(ctx->cat, st, err, NET_COLS "WHERE " NET_USABLE
	    " AND (n.id = ?4 OR (?4 < 0 AND n.name = ?5))", "iiiis",
	    (long long)ctx->who.admin, ctx->who.user_id, ctx->who.group_id,
	    id, ref);
}

static int
net_load(struct ctx *ctx, const char *ref, struct netrow *r,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (net_query(ctx, ref, &st, err))
		return err->code;
	if (cstmt_row(st, err)) {
		r->id = cstmt_int(st, 0);
		r->name = xstrdup(cstmt_text(st, 1));
		r->mode = xstrdup(cstmt_text(st, 2));
		r->bridge = dup_or_null(cstmt_text(st, 3));
		r->vlan = cstmt_null(st, 4) ? 0 : cstmt_int(st, 4);
		r->cidr = dup_or_null(cstmt_text(st, 5));
		r->cidr6 = dup_or_null(cstmt_text(st, 6));
		r->visibility = xstrdup(cstmt_text(st, 7));
		r->owner = cstmt_int(st, 12);
	} else if (err->code == 0) {
		cerr_set(err, CERR_NOTFOUND, "no network '%s'", ref);
	}
	cstmt_free(st);
	return err->code;
}

/* For a change: CERR_PERM unless the caller owns it or is an admin. */
static int
net_load_owned(struct ctx *ctx, const char *ref, const char *verb,
    struct netrow *r, struct cerr *err)
{
	if (net_load(ctx, ref, r, err))
		return err->code;
	if (!ctx->who.admin && r->owner != ctx->who.user_id)
		return cerr_set(err, CERR_PERM, "cannot %s network '%s': it "
		    "is not yours", verb, r->name);
	return 0;
}

static int
net_show_id(struct ctx *ctx, long long id, struct doc **out,
    struct cerr *err)
{
	char ref[32];

	snprintf(ref, sizeof(ref), "%lld", id);
	return net_show(ctx, ref, out, err);
}

int
net_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (net_query(ctx, ref, &st, err))
		return err->code;
	if (cstmt_row(st, err))
		*out = net_doc(st);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no network '%s'", ref);
	cstmt_free(st);
	return err->code;
}

int
net_list(struct ctx *ctx, emit_fn emit, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, NET_COLS "WHERE " NET_USABLE
	    " ORDER BY n.id", "iii", (long long)ctx->who.admin,
	    ctx->who.user_id, ctx->who.group_id))
		return err->code;
	rows_emit(ctx, st, net_doc, emit, err);
	cstmt_free(st);
	return err->code;
}

void
net_names(struct ctx *ctx, const char *prefix, void (*each)(const char *))
{
	struct cerr err = { 0 };
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, &err, "SELECT n.name FROM networks n "
	    "WHERE " NET_USABLE " AND substr(n.name, 1, length(?4)) = ?4 "
	    "ORDER BY n.name", "iiis", (long long)ctx->who.admin,
	    ctx->who.user_id, ctx->who.group_id, prefix))
		return;
	while (cstmt_row(st, &err))
		each(cstmt_text(st, 0));
	cstmt_free(st);
}

/* Checks on input. */

/* A host bridge's name: an interface name (1 to 15 bytes of letters,
 * digits, '-', '_' and '.'). */
static int
bridge_ok(const char *s, struct cerr *err)
{
	const char *p;

	if (s == NULL || *s == '\0' || strlen(s) > 15)
		return cerr_set(err, CERR_USAGE, "invalid bridge name '%s' "
		    "(1 to 15 characters)", s ? s : "");
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.'))
			return cerr_set(err, CERR_USAGE, "invalid bridge name "
			    "'%s' (letters, digits, '-', '_' and '.')", s);
	return 0;
}

/*
 * Blocks no network may hold (RFC 6890's special-purpose ranges that a
 * host cannot route for guests): a network or range overlapping one is
 * refused, for it would shadow the host's own loopback, link-local or
 * multicast traffic.
 */
static const struct {
	const char *cidr, *first, *last, *what;
} net_special[] = {
	{ "0.0.0.0/8", "0.0.0.0", "0.255.255.255", "\"this network\"" },
	{ "127.0.0.0/8", "127.0.0.0", "127.255.255.255", "loopback" },
	{ "169.254.0.0/16", "169.254.0.0", "169.254.255.255", "link-local" },
	{ "224.0.0.0/4", "224.0.0.0", "239.255.255.255", "multicast" },
	{ "240.0.0.0/4", "240.0.0.0", "255.255.255.255",
	  "reserved, with the broadcast address" },
	{ "::/128", "::", "::", "the unspecified address" },
	{ "::1/128", "::1", "::1", "loopback" },
	{ "fe80::/10", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	  "link-local" },
	{ "ff00::/8", "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	  "multicast" },
};

/* The narrowest prefix a network may have: wider ones are no one's
 * network (and a host bridge cannot carry 0.0.0.0/0). */
#define NET_MIN_PREFIX4 8
#define NET_MIN_PREFIX6 48

/* Refuse addresses [lo, hi] when they overlap a special-purpose block;
 * what names them in the message ("CIDR '...'", "range A - B"). */
static int
special_ok(const struct ipaddr *lo, const struct ipaddr *hi,
    const char *what, struct cerr *err)
{
	struct ipaddr a, b;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(net_special); i++) {
		if (!ipaddr_parse(net_special[i].first, &a) ||
		    !ipaddr_parse(net_special[i].last, &b) ||
		    a.family != lo->family)
			continue;
		if (ipaddr_cmp(lo, &b) <= 0 && ipaddr_cmp(&a, hi) <= 0)
			return cerr_set(err, CERR_USAGE, "%s overlaps %s (%s), "
			    "a special-purpose block no network may hold",
			    what, net_special[i].cidr, net_special[i].what);
	}
	return 0;
}

/* A CIDR of family fam (4 or 6), host bits zero, no wider than /8 (IPv4)
 * or /48 (IPv6), outside the special-purpose blocks. */
static int
cidr_ok(const char *s, int fam, struct cerr *err)
{
	struct ipaddr net, last;
	char what[128];
	int prefix, min = fam == 4 ? NET_MIN_PREFIX4 : NET_MIN_PREFIX6;

	if (!ipaddr_cidr(s, &net, &last, &prefix) || net.family != fam)
		return cerr_set(err, CERR_USAGE, "invalid IPv%d CIDR '%s' "
		    "(an address with its host bits zero and a prefix of at "
		    "most /%d, such as %s)", fam, s, fam == 4 ? 30 : 126,
		    fam == 4 ? "10.0.0.0/24" : "fd00::/64");
	if (prefix < min)
		return cerr_set(err, CERR_USAGE, "IPv%d CIDR '%s' is too wide: "
		    "a network's prefix is at least /%d", fam, s, min);
	snprintf(what, sizeof(what), "IPv%d CIDR '%s'", fam, s);
	return special_ok(&net, &last, what, err);
}

static int
dns_json(const char *const *dns, size_t n, struct buf *b, struct cerr *err)
{
	struct ipaddr a;
	char canon[IPADDR_STRLEN];
	size_t i;

	buf_puts(b, "[");
	for (i = 0; i < n; i++) {
		if (!ipaddr_parse(dns[i], &a))
			return cerr_set(err, CERR_USAGE, "invalid DNS server "
			    "address '%s'", dns[i]);
		ipaddr_format(&a, canon);
		buf_printf(b, "%s\"%s\"", i ? "," : "", canon);
	}
	buf_puts(b, "]");
	return 0;
}

/* Do CIDRs a and b (either NULL) overlap? */
static bool
cidrs_overlap(const char *a, const char *b)
{
	struct ipaddr n1, l1, n2, l2;
	int p;

	if (a == NULL || b == NULL || !ipaddr_cidr(a, &n1, &l1, &p) ||
	    !ipaddr_cidr(b, &n2, &l2, &p) || n1.family != n2.family)
		return false;
	return ipaddr_cmp(&n1, &l2) <= 0 && ipaddr_cmp(&n2, &l1) <= 0;
}

/* Inside a transaction: refuse a CIDR overlapping another routed
 * network's (modes nat, routed, isolated), which would clash on hosts. */
static int
no_overlap(struct ctx *ctx, long long self, const char *mode,
    const char *cidr, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (cidr == NULL || strcmp(mode, "bridge") == 0)
		return 0;
	if (catalog_query(ctx->cat, &st, err, "SELECT name, cidr, cidr6 FROM "
	    "networks WHERE id != ? AND mode != 'bridge'", "i", self))
		return err->code;
	while (cstmt_row(st, err)) {
		if (cidrs_overlap(cidr, cstmt_text(st, 1)) ||
		    cidrs_overlap(cidr, cstmt_text(st, 2))) {
			cerr_set(err, CERR_CONFLICT, "CIDR %s overlaps network "
			    "'%s' (%s)", cidr, cstmt_text(st, 0),
			    cidrs_overlap(cidr, cstmt_text(st, 1)) ?
			    cstmt_text(st, 1) : cstmt_text(st, 2));
			break;
		}
	}
	cstmt_free(st);
	return err->code;
}

/* Ranges. */

/* The CIDR of family fam of r, parsed; false when it has none. */
static bool
net_cidr(const struct netrow *r, int fam, struct ipaddr *net,
    struct ipaddr *last, int *prefix)
{
	const char *c = fam == 4 ? r->cidr : r->cidr6;

	return c && ipaddr_cidr(c, net, last, prefix);
}

/* Inside a transaction: add range [first, last] to network r. */
static int
range_insert(struct ctx *ctx, const struct netrow *r, const char *first,
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
		if (special_ok(&lo, &hi, what, err))
			return err->code;
	}
	if (!net_cidr(r, lo.family, &net, &end, &prefix))
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
range_default(struct ctx *ctx, const struct netrow *r, int fam,
    const char *dns, struct cerr *err)
{
	struct ipaddr net, last;
	char f[IPADDR_STRLEN], l[IPADDR_STRLEN];
	long long id;
	int prefix;

	if (!net_cidr(r, fam, &net, &last, &prefix))
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
 * JSON.
 */
static int
spec_check(const struct net_spec *s, bool create, struct buf *dns,
    struct cerr *err)
{
	if (valid_name("network", s->name, err))
		return err->code;
	if (s->mode == NULL && create)
		return cerr_set(err, CERR_USAGE, "a mode is required (nat, "
		    "routed, isolated or bridge)");
	if (s->mode && !one_of(s->mode, net_modes))
		return cerr_set(err, CERR_USAGE, "invalid mode '%s' (nat, "
		    "routed, isolated or bridge)", s->mode);
	if (s->mode && strcmp(s->mode, "bridge") == 0) {
		if (s->bridge == NULL && create)
			return cerr_set(err, CERR_USAGE, "mode bridge needs "
			    "--bridge (the host's bridge)");
		if (s->bridge && bridge_ok(s->bridge, err))
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
	if ((s->cidr && cidr_ok(s->cidr, 4, err)) ||
	    (s->cidr6 && cidr_ok(s->cidr6, 6, err)))
		return err->code;
	if (s->visibility && strcmp(s->visibility, "private") &&
	    strcmp(s->visibility, "group") && strcmp(s->visibility, "public"))
		return cerr_set(err, CERR_USAGE, "invalid visibility '%s' "
		    "(private, group or public)", s->visibility);
	return dns_json(s->dns, s->ndns, dns, err);
}

int
net_create(struct ctx *ctx, const struct net_spec *s, struct doc **out,
    struct cerr *err)
{
	struct netrow r = { 0 };
	struct buf dns = BUF_INIT;
	struct cstmt *st = NULL;
	char now[32];
	int taken;

	if (spec_check(s, true, &dns, err))
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
	if (no_overlap(ctx, -1, s->mode, s->cidr, err) ||
	    no_overlap(ctx, -1, s->mode, s->cidr6, err))
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
	r.cidr = dup_or_null(s->cidr);
	r.cidr6 = dup_or_null(s->cidr6);
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
	netrow_release(&r);
	buf_release(&dns);
	return err->code;
}

int
net_delete(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct netrow r = { 0 };
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
	netrow_release(&r);
	return err->code;
}

int
net_set_visibility(struct ctx *ctx, const char *ref, const char *vis,
    struct doc **out, struct cerr *err)
{
	struct netrow r = { 0 };
	char now[32];

	if (vis == NULL || (strcmp(vis, "private") && strcmp(vis, "group") &&
	    strcmp(vis, "public")))
		return cerr_set(err, CERR_USAGE, "invalid visibility '%s' "
		    "(private, group or public)", vis ? vis : "");
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
	netrow_release(&r);
	return err->code;
}

int
net_range_add(struct ctx *ctx, const char *ref, const char *first,
    const char *last, const char *gateway, const char *const *dns,
    size_t ndns, struct doc **out, struct cerr *err)
{
	struct netrow r = { 0 };
	struct buf d = BUF_INIT;
	char detail[128], now[32];
	long long id;

	if (first == NULL || last == NULL)
		return cerr_set(err, CERR_USAGE, "a range needs --first and "
		    "--last");
	if (dns_json(dns, ndns, &d, err) || catalog_begin(ctx->cat, err))
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
	netrow_release(&r);
	return err->code;
}

int
net_range_remove(struct ctx *ctx, const char *ref, const char *range,
    struct doc **out, struct cerr *err)
{
	struct netrow r = { 0 };
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
	netrow_release(&r);
	return err->code;
}

/* Leases. */

/* Inside a transaction: is address a of network r taken?  Fills who
 * ("vm 'web-1'" or "a reservation") when it is. */
static int
lease_holder(struct ctx *ctx, const struct netrow *r, const struct ipaddr *a,
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
lease_insert(struct ctx *ctx, const struct netrow *r, long long range_id,
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
range_of(struct ctx *ctx, const struct netrow *r, const struct ipaddr *a,
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
range_free(struct ctx *ctx, const struct netrow *r, const struct ipaddr *lo,
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
static int
lease_alloc(struct ctx *ctx, const struct netrow *r, int fam,
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
	struct netrow r = { 0 };
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
	if (!net_cidr(&r, a.family, &net, &last, &prefix) ||
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
	netrow_release(&r);
	return err->code;
}

int
net_release(struct ctx *ctx, const char *ref, const char *ip,
    struct cerr *err)
{
	struct netrow r = { 0 };
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
	netrow_release(&r);
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
	struct netrow r = { 0 };
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
	netrow_release(&r);
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
static int
mac_alloc(struct ctx *ctx, char out[24], struct cerr *err)
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
		if ((v = doc_map_get(d, "model")) && v->type != DOC_NULL &&
		    (v->type != DOC_STR || !one_of(v->u.s, nic_models)))
			return cerr_set(err, CERR_USAGE, "nics[%zu].model: "
			    "expected virtio, e1000, rtl8139 or usb-net", i);
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
	struct netrow r = { 0 };
	const char *model = doc_get_str(nic, "model");
	const struct doc *sg = doc_map_get(nic, "security_groups");
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
	if (mac_alloc(ctx, mac, err) ||
	    catalog_exec(ctx->cat, err, "INSERT INTO vm_nics (vm_id, idx, "
	    "network_id, mac, model, created) VALUES (?, ?, ?, ?, ?, ?)",
	    "iiisss", vm_id, (long long)idx, r.id, mac,
	    model ? model : "virtio", now))
		goto out;
	nic_id = catalog_last_id(ctx->cat);
	if (r.cidr && lease_alloc(ctx, &r, 4, doc_get_str(nic, "ip"), nic_id,
	    ip, err))
		goto out;
	if (r.cidr == NULL && doc_get_str(nic, "ip")) {
		cerr_set(err, CERR_USAGE, "network '%s' has no IPv4 CIDR",
		    r.name);
		goto out;
	}
	if (r.cidr6 && lease_alloc(ctx, &r, 6, doc_get_str(nic, "ip6"),
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
	netrow_release(&r);
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
	struct doc *l = json_doc(json);
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
	c->id = cstmt_int(st, 0);
	c->idx = (int)cstmt_int(st, 1);
	snprintf(c->mac, sizeof(c->mac), "%s", cstmt_text(st, 2));
	snprintf(c->model, sizeof(c->model), "%s", cstmt_text(st, 3));
	c->network_id = cstmt_int(st, 4);
	c->network = xstrdup(cstmt_text(st, 5));
	snprintf(c->libvirt, sizeof(c->libvirt), NET_LIBVIRT_PREFIX "%lld",
	    c->network_id);
	c->addr4 = with_prefix(cstmt_text(st, 8), cstmt_text(st, 6));
	c->gw4 = dup_or_null(cstmt_text(st, 9));
	c->addr6 = with_prefix(cstmt_text(st, 11), cstmt_text(st, 7));
	c->gw6 = dup_or_null(cstmt_text(st, 12));
	c->dns = xcalloc(1, sizeof(*c->dns));
	cap = 1;
	dns_add(&c->dns, &nd, &cap, cstmt_text(st, 10));
	dns_add(&c->dns, &nd, &cap, cstmt_text(st, 13));
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

/* Realisation on hosts. */

/* The libvirt network XML of r. */
static char *
net_xml(const struct netrow *r)
{
	struct buf b = BUF_INIT;
	struct ipaddr net, last;
	char gw[IPADDR_STRLEN];
	int prefix;
	bool bridged = strcmp(r->mode, "bridge") == 0;

	buf_printf(&b, "<network>\n  <name>" NET_LIBVIRT_PREFIX "%lld</name>\n",
	    r->id);
	if (bridged) {
		buf_puts(&b, "  <forward mode='bridge'/>\n  <bridge name='");
		buf_xml(&b, r->bridge);
		buf_puts(&b, "'/>\n");
		if (r->vlan)
			buf_printf(&b, "  <virtualport type='openvswitch'/>\n"
			    "  <vlan><tag id='%lld'/></vlan>\n", r->vlan);
	} else {
		if (strcmp(r->mode, "nat") == 0)
			buf_puts(&b, "  <forward mode='nat'/>\n");
		else if (strcmp(r->mode, "routed") == 0)
			buf_puts(&b, "  <forward mode='route'/>\n");
		buf_printf(&b, "  <bridge name='cbr%lld' stp='off' "
		    "delay='0'/>\n", r->id);
		/* addresses reach guests through their seeds: no dnsmasq */
		buf_puts(&b, "  <dns enable='no'/>\n");
		if (net_cidr(r, 4, &net, &last, &prefix) &&
		    ipaddr_add(&net, 1)) {
			ipaddr_format(&net, gw);
			buf_printf(&b, "  <ip address='%s' prefix='%d'/>\n", gw,
			    prefix);
		}
		if (net_cidr(r, 6, &net, &last, &prefix) &&
		    ipaddr_add(&net, 1)) {
			ipaddr_format(&net, gw);
			buf_printf(&b, "  <ip family='ipv6' address='%s' "
			    "prefix='%d'/>\n", gw, prefix);
		}
	}
	buf_puts(&b, "</network>\n");
	return buf_detach(&b);
}

static int
net_host_ensure(struct ctx *ctx, struct hv *hv, long long host_id,
    long long network_id, struct cerr *err)
{
	struct netrow r = { 0 };
	struct cstmt *st = NULL;
	char name[32], now[32], *xml = NULL;

	snprintf(name, sizeof(name), NET_LIBVIRT_PREFIX "%lld", network_id);
	if (catalog_query(ctx->cat, &st, err, "SELECT id, name, mode, bridge, "
	    "vlan, cidr, cidr6 FROM networks WHERE id = ?", "i", network_id))
		return err->code;
	if (cstmt_row(st, err)) {
		r.id = cstmt_int(st, 0);
		r.name = xstrdup(cstmt_text(st, 1));
		r.mode = xstrdup(cstmt_text(st, 2));
		r.bridge = dup_or_null(cstmt_text(st, 3));
		r.vlan = cstmt_null(st, 4) ? 0 : cstmt_int(st, 4);
		r.cidr = dup_or_null(cstmt_text(st, 5));
		r.cidr6 = dup_or_null(cstmt_text(st, 6));
	}
	cstmt_free(st);
	if (err->code || r.id == 0)
		goto out;
	/* intent: the host may have it from now on */
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (catalog_exec(ctx->cat, err, "INSERT OR IGNORE INTO network_hosts "
	    "(network_id, host_id, libvirt_name, created) VALUES (?, ?, ?, ?)",
	    "iiss", r.id, host_id, name, now) ||
	    catalog_commit(ctx->cat, err)) {
		catalog_rollback(ctx->cat);
		goto out;
	}
	xml = net_xml(&r);
	if (hv_net_ensure(hv, name, xml, err))
		cerr_wrap(err, "cannot realise network '%s'", r.name);
out:
	free(xml);
	netrow_release(&r);
	return err->code;
}

int
net_host_ensure_vm(struct ctx *ctx, struct hv *hv, long long host_id,
    long long vm_id, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long *ids = NULL;
	size_t n = 0, cap = 0, i;

	if (catalog_query(ctx->cat, &st, err, "SELECT DISTINCT network_id "
	    "FROM vm_nics WHERE vm_id = ? ORDER BY network_id", "i", vm_id))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(&ids, &cap, n + 1, sizeof(*ids));
		ids[n++] = cstmt_int(st, 0);
	}
	cstmt_free(st);
	for (i = 0; i < n && err->code == 0; i++)
		net_host_ensure(ctx, hv, host_id, ids[i], err);
	free(ids);
	return err->code;
}

int
net_host_gc(struct ctx *ctx, long long host_id, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	struct cerr hverr = { 0 };
	char *uri = NULL;
	struct {
		long long id;
		char *name;
	} *v = NULL;
	size_t n = 0, cap = 0, i;

	/* what no live VM on (or on its way to) the host has a NIC on */
	if (catalog_query(ctx->cat, &st, err, "SELECT nh.network_id, "
	    "nh.libvirt_name, h.uri FROM network_hosts nh JOIN hosts h ON "
	    "h.id = nh.host_id WHERE nh.host_id = ?1 AND NOT EXISTS (SELECT 1 "
	    "FROM vm_nics n JOIN vms v ON v.id = n.vm_id WHERE n.network_id = "
	    "nh.network_id AND v.state != 'done' AND (v.host_id = ?1 OR "
	    "v.target_host = ?1))", "i", host_id))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(&v, &cap, n + 1, sizeof(*v));
		v[n].id = cstmt_int(st, 0);
		v[n].name = xstrdup(cstmt_text(st, 1));
		if (uri == NULL)
			uri = xstrdup(cstmt_text(st, 2));
		n++;
	}
	cstmt_free(st);
	if (err->code || n == 0 || hv_connect(uri, &hv, &hverr))
		goto out;
	/* Checked again and removed under the write lock: a deploy records
	 * its VM on the host before it ensures the network, so none can
	 * slip between the check and the removal.  The lock is held for one
	 * quick libvirt call, the exception to the house rule that makes
	 * this race-free. */
	for (i = 0; i < n && err->code == 0; i++) {
		struct cstmt *q = NULL;
		int used;

		cerr_clear(&hverr);
		if (catalog_begin(ctx->cat, err))
			break;
		if (catalog_query(ctx->cat, &q, err, "SELECT 1 FROM vm_nics n "
		    "JOIN vms v ON v.id = n.vm_id WHERE n.network_id = ?1 AND "
		    "v.state != 'done' AND (v.host_id = ?2 OR v.target_host = "
		    "?2) LIMIT 1", "ii", v[i].id, host_id)) {
			catalog_rollback(ctx->cat);
			break;
		}
		used = cstmt_row(q, err);
		cstmt_free(q);
		if (err->code || used || hv_net_remove(hv, v[i].name, &hverr)) {
			/* in use again, or kept for the next pass */
			catalog_rollback(ctx->cat);
			continue;
		}
		if (catalog_exec(ctx->cat, err, "DELETE FROM network_hosts "
		    "WHERE network_id = ? AND host_id = ?", "ii", v[i].id,
		    host_id) || catalog_commit(ctx->cat, err))
			catalog_rollback(ctx->cat);
	}
out:
	hv_close(hv);
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	free(uri);
	return err->code;
}

/* apply */

static int
str_field(const struct doc *d, const char *k, const char **out,
    struct cerr *err)
{
	const struct doc *v = doc_map_get(d, k);

	*out = NULL;
	if (v == NULL || v->type == DOC_NULL)
		return 0;
	if (v->type != DOC_STR)
		return cerr_set(err, CERR_USAGE, "%s: expected a string, found "
		    "a %s", k, doc_type_name(v->type));
	*out = v->u.s;
	return 0;
}

/* The dns: of a document or range as a vector of strings. */
static int
dns_field(const struct doc *d, const char *where, const char ***out,
    size_t *n, struct cerr *err)
{
	const struct doc *v = doc_map_get(d, "dns");
	size_t i;

	*out = NULL;
	*n = 0;
	if (v == NULL || v->type == DOC_NULL)
		return 0;
	if (v->type != DOC_LIST)
		return cerr_set(err, CERR_USAGE, "%sdns: expected a list of "
		    "addresses", where);
	*out = xcalloc(v->u.list.n + 1, sizeof(**out));
	for (i = 0; i < v->u.list.n; i++) {
		if (v->u.list.v[i]->type != DOC_STR)
			return cerr_set(err, CERR_USAGE, "%sdns[%zu]: expected "
			    "an address", where, i);
		(*out)[(*n)++] = v->u.list.v[i]->u.s;
	}
	return 0;
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Does list l hold a range with these first and last addresses (compared
 * as addresses)? */
static bool
range_listed(const struct doc *l, const char *first, const char *last)
{
	struct ipaddr f, t, a, b;
	size_t i;

	if (l == NULL || l->type != DOC_LIST || !ipaddr_parse(first, &f) ||
	    !ipaddr_parse(last, &t))
		return false;
	for (i = 0; i < l->u.list.n; i++)
		if (ipaddr_parse(doc_get_str(l->u.list.v[i], "first"), &a) &&
		    ipaddr_parse(doc_get_str(l->u.list.v[i], "last"), &b) &&
		    a.family == f.family && ipaddr_cmp(&a, &f) == 0 &&
		    ipaddr_cmp(&b, &t) == 0)
			return true;
	return false;
}

/* The spec of a Network document (strings borrowed from d, *dns the
 * caller's to free) with the shape of its ranges. */
static int
net_doc_read(const struct doc *d, struct net_spec *s, const char ***dns,
    struct cerr *err)
{
	const struct doc *v, *ranges;
	size_t i;

	if (str_field(d, "name", &s->name, err) ||
	    str_field(d, "mode", &s->mode, err) ||
	    str_field(d, "bridge", &s->bridge, err) ||
	    str_field(d, "cidr", &s->cidr, err) ||
	    str_field(d, "cidr6", &s->cidr6, err) ||
	    str_field(d, "visibility", &s->visibility, err) ||
	    dns_field(d, "", dns, &s->ndns, err))
		return err->code;
	s->dns = *dns;
	if (s->name == NULL)
		return cerr_set(err, CERR_USAGE, "name: missing");
	if ((v = doc_map_get(d, "vlan")) && v->type != DOC_NULL) {
		if (v->type != DOC_INT)
			return cerr_set(err, CERR_USAGE, "vlan: expected a "
			    "number");
		s->vlan = v->u.i;
	}
	ranges = doc_map_get(d, "ranges");
	if (ranges && ranges->type != DOC_NULL && ranges->type != DOC_LIST)
		return cerr_set(err, CERR_USAGE, "ranges: expected a list");
	if (ranges && ranges->type == DOC_LIST &&
	    ranges->u.list.n > BOUND_NET_RANGES)
		return cerr_set(err, CERR_USAGE, "ranges: %zu ranges, more "
		    "than %d", ranges->u.list.n, BOUND_NET_RANGES);
	for (i = 0; ranges && ranges->type == DOC_LIST &&
	    i < ranges->u.list.n; i++) {
		const struct doc *rg = ranges->u.list.v[i];
		const char *f, *l;

		if (rg->type != DOC_MAP || str_field(rg, "first", &f, err) ||
		    str_field(rg, "last", &l, err) || f == NULL || l == NULL) {
			cerr_clear(err);
			return cerr_set(err, CERR_USAGE, "ranges[%zu]: "
			    "expected a map with first and last", i);
		}
	}
	/* show prints the bridge other modes make: not a change */
	if (s->mode && strcmp(s->mode, "bridge") != 0)
		s->bridge = NULL;
	return 0;
}

int
net_check(const struct doc *d, const char *where, struct cerr *err)
{
	struct net_spec s = { 0 };
	const char **dns = NULL;
	struct buf b = BUF_INIT;

	if (net_doc_read(d, &s, &dns, err) == 0)
		spec_check(&s, false, &b, err);
	buf_release(&b);
	free(dns);
	return err->code ? cerr_wrap(err, "%s", where) : 0;
}

int
net_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	struct net_spec s = { 0 };
	struct netrow r = { 0 };
	const struct doc *ranges = doc_map_get(d, "ranges");
	const char **dns = NULL;
	struct doc *cur = NULL;
	size_t i, j;

	if (net_doc_read(d, &s, &dns, err))
		goto bad;
	if (net_load(ctx, s.name, &r, err) == CERR_NOTFOUND) {
		cerr_clear(err);
		if (net_create(ctx, &s, &cur, err))
			goto bad;
		doc_free(cur);
		cur = NULL;
	} else if (err->code) {
		goto bad;
	} else {
		if ((s.mode && strcmp(s.mode, r.mode) != 0) ||
		    (s.cidr && !same(s.cidr, r.cidr)) ||
		    (s.cidr6 && !same(s.cidr6, r.cidr6)) ||
		    (s.bridge && !same(s.bridge, r.bridge)) ||
		    (s.vlan && s.vlan != r.vlan)) {
			cerr_set(err, CERR_CONFLICT, "network '%s' exists with "
			    "another mode, CIDR, bridge or vlan (these cannot "
			    "change)", s.name);
			goto bad;
		}
		/* only a change is recorded: applying twice changes nothing */
		if (s.visibility && strcmp(s.visibility, r.visibility) != 0 &&
		    net_set_visibility(ctx, s.name, s.visibility, &cur, err))
			goto bad;
		doc_free(cur);
		cur = NULL;
	}
	/* ranges, when listed: those not listed go (refused while NICs use
	 * them), those missing are added */
	if (ranges && ranges->type == DOC_LIST) {
		const struct doc *have;

		if (net_show(ctx, s.name, &cur, err))
			goto bad;
		have = doc_map_get(cur, "ranges");
		for (i = 0; have && i < have->u.list.n; i++) {
			const struct doc *h = have->u.list.v[i];
			char id[32];
			struct doc *tmp = NULL;

			if (range_listed(ranges, doc_get_str(h, "first"),
			    doc_get_str(h, "last")))
				continue;
			snprintf(id, sizeof(id), "%lld",
			    doc_map_get(h, "id")->u.i);
			if (net_range_remove(ctx, s.name, id, &tmp, err))
				goto bad;
			doc_free(tmp);
		}
		for (j = 0; j < ranges->u.list.n; j++) {
			const struct doc *rg = ranges->u.list.v[j];
			const char **rdns = NULL;
			size_t nrdns = 0;
			struct doc *tmp = NULL;

			if (range_listed(have, doc_get_str(rg, "first"),
			    doc_get_str(rg, "last")))
				continue;
			if (dns_field(rg, "ranges: ", &rdns, &nrdns, err) ||
			    net_range_add(ctx, s.name, doc_get_str(rg, "first"),
			    doc_get_str(rg, "last"), doc_get_str(rg, "gateway"),
			    rdns, nrdns, &tmp, err)) {
				free(rdns);
				goto bad;
			}
			free(rdns);
			doc_free(tmp);
		}
		doc_free(cur);
		cur = NULL;
	}
	net_show(ctx, s.name, out, err);
	goto out;
bad:
	cerr_wrap(err, "%s", where);
out:
	doc_free(cur);
	free(dns);
	netrow_release(&r);
	return err->code;
}
