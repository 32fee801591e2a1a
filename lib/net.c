/*
 * net.c - service: virtual networks: their documents, who may use them,
 * the checks on their input, and apply.  The family: net-range.c (networks
 * made, changed, deleted, and their ranges), net-lease.c (leases and
 * MACs), net-nic.c (the NICs of VMs) and net-host.c (networks on hosts),
 * sharing net-int.h.  Uses the catalog and hv adapters and the ipaddr
 * engine; includes neither sqlite3 nor libvirt.
 *
 * Addresses and MACs are scarce things: each is checked and written in
 * the caller's one write transaction (BEGIN IMMEDIATE), so two commands
 * can never both take the last address, and UNIQUE constraints stand
 * behind the checks.  Realising a network on a host follows the house
 * rule: the network_hosts row is committed first, libvirt is called
 * holding no lock, and a host's network goes when no VM there uses it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "buf.h"
#include "catalog.h"
#include "ipaddr.h"
#include "net-int.h"
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

/* The columns of NET_COLS, in its order: a row is read by these names. */
enum net_col {
	NET_COL_ID, NET_COL_NAME, NET_COL_MODE, NET_COL_BRIDGE, NET_COL_VLAN,
	NET_COL_CIDR, NET_COL_CIDR6, NET_COL_VISIBILITY,
	NET_COL_OWNER,			/* u.name */
	NET_COL_GROUP_OWNER,		/* g.name */
	NET_COL_CREATED, NET_COL_UPDATED,
	NET_COL_OWNER_ID,		/* n.owner */
	NET_COL_RANGES,			/* a JSON list of its ranges */
	NET_COL_LEASES, NET_COL_RESERVED,	/* counts */
	NET_COL_HOSTS,			/* a JSON list of host names */
};

/* Who may use a network.  Binds ?1 (admin), ?2 (user id), ?3 (group). */
#define NET_USABLE "(?1 OR n.owner = ?2 OR (n.visibility = 'group' AND " \
	"n.group_id = ?3) OR n.visibility = 'public')"

const char *const net_modes[] = {
	"nat", "routed", "isolated", "bridge", NULL,
};

const char *const net_visibilities[] = {
	"private", "group", "public", NULL,
};

int
net_enum(const char *text, const char *const *set, const char *what,
    const char **canon, struct cerr *err)
{
	size_t n = 0, i;

	while (set[n])
		n++;
	if (valid_enum(text, set, n, &i, what, err))
		return err->code;
	*canon = set[i];
	return 0;
}

void
net_row_release(struct net_row *r)
{
	free(r->name);
	free(r->mode);
	free(r->bridge);
	free(r->cidr);
	free(r->cidr6);
	free(r->visibility);
	memset(r, 0, sizeof(*r));
}

char *
net_dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* A JSON list the catalog made, as a document (an empty list if none).
 * Wrapped in a map: a top-level array reads as a stream of documents. */
struct doc *
net_json_doc(const char *json)
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
	return net_json_doc(json);
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
	const char *mode = cstmt_text(st, NET_COL_MODE);
	char gw[IPADDR_STRLEN], tmp[64];
	size_t i;

	doc_set_str(d, "kind", "Network");
	doc_set_int(d, "id", cstmt_int(st, NET_COL_ID));
	doc_set_str(d, "name", cstmt_text(st, NET_COL_NAME));
	doc_set_str(d, "mode", mode);
	if (strcmp(mode, "bridge") == 0) {
		doc_set_str(d, "bridge", cstmt_text(st, NET_COL_BRIDGE));
	} else {
		snprintf(tmp, sizeof(tmp), "cbr%lld", cstmt_int(st,
		    NET_COL_ID));
		doc_set_str(d, "bridge", tmp);
	}
	if (!cstmt_null(st, NET_COL_VLAN))
		doc_set_int(d, "vlan", cstmt_int(st, NET_COL_VLAN));
	if (!cstmt_null(st, NET_COL_CIDR)) {
		doc_set_str(d, "cidr", cstmt_text(st, NET_COL_CIDR));
		cidr_gateway(cstmt_text(st, NET_COL_CIDR), gw);
		if (strcmp(mode, "bridge") != 0 && gw[0])
			doc_set_str(d, "gateway", gw);
	}
	if (!cstmt_null(st, NET_COL_CIDR6)) {
		doc_set_str(d, "cidr6", cstmt_text(st, NET_COL_CIDR6));
		cidr_gateway(cstmt_text(st, NET_COL_CIDR6), gw);
		if (strcmp(mode, "bridge") != 0 && gw[0])
			doc_set_str(d, "gateway6", gw);
	}
	snprintf(tmp, sizeof(tmp), NET_LIBVIRT_PREFIX "%lld",
	    cstmt_int(st, NET_COL_ID));
	doc_set_str(d, "libvirt_name", tmp);
	doc_set_str(d, "visibility", cstmt_text(st, NET_COL_VISIBILITY));
	ranges = net_json_doc(cstmt_text(st, NET_COL_RANGES));
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
	doc_set_int(d, "leases", cstmt_int(st, NET_COL_LEASES));
	doc_set_int(d, "reserved", cstmt_int(st, NET_COL_RESERVED));
	doc_map_set(d, "hosts", net_json_doc(cstmt_text(st, NET_COL_HOSTS)));
	doc_set_str(d, "owner", cstmt_text(st, NET_COL_OWNER));
	doc_set_str(d, "group_owner", cstmt_text(st, NET_COL_GROUP_OWNER));
	doc_set_str(d, "created", cstmt_text(st, NET_COL_CREATED));
	doc_set_str(d, "updated", cstmt_text(st, NET_COL_UPDATED));
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

int
net_load(struct ctx *ctx, const char *ref, struct net_row *r,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (net_query(ctx, ref, &st, err))
		return err->code;
	if (cstmt_row(st, err)) {
		r->id = cstmt_int(st, NET_COL_ID);
		r->name = xstrdup(cstmt_text(st, NET_COL_NAME));
		r->mode = xstrdup(cstmt_text(st, NET_COL_MODE));
		r->bridge = net_dup_or_null(cstmt_text(st, NET_COL_BRIDGE));
		r->vlan = cstmt_null(st, NET_COL_VLAN) ? 0 :
		    cstmt_int(st, NET_COL_VLAN);
		r->cidr = net_dup_or_null(cstmt_text(st, NET_COL_CIDR));
		r->cidr6 = net_dup_or_null(cstmt_text(st, NET_COL_CIDR6));
		r->visibility = xstrdup(cstmt_text(st, NET_COL_VISIBILITY));
		r->owner = cstmt_int(st, NET_COL_OWNER_ID);
	} else if (err->code == 0) {
		cerr_set(err, CERR_NOTFOUND, "no network '%s'", ref);
	}
	cstmt_free(st);
	return err->code;
}

/* For a change: CERR_PERM unless the caller owns it or is an admin. */
int
net_load_owned(struct ctx *ctx, const char *ref, const char *verb,
    struct net_row *r, struct cerr *err)
{
	if (net_load(ctx, ref, r, err))
		return err->code;
	if (!ctx->who.admin && r->owner != ctx->who.user_id)
		return cerr_set(err, CERR_PERM, "cannot %s network '%s': it "
		    "is not yours", verb, r->name);
	return 0;
}

int
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
int
net_bridge_ok(const char *s, struct cerr *err)
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
int
net_special_ok(const struct ipaddr *lo, const struct ipaddr *hi,
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
int
net_cidr_ok(const char *s, int fam, struct cerr *err)
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
	return net_special_ok(&net, &last, what, err);
}

int
net_dns_json(const char *const *dns, size_t n, struct buf *b, struct cerr *err)
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
int
net_no_overlap(struct ctx *ctx, long long self, const char *mode,
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
	/* in any case, compared and stored by their canonical names */
	if ((s->mode && net_enum(s->mode, net_modes, "mode", &s->mode,
	    err)) || (s->visibility && net_enum(s->visibility,
	    net_visibilities, "visibility", &s->visibility, err)))
		return err->code;
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
		net_range_spec_check(&s, false, &b, err);
	buf_release(&b);
	free(dns);
	return err->code ? cerr_wrap(err, "%s", where) : 0;
}

int
net_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	struct net_spec s = { 0 };
	struct net_row r = { 0 };
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
	net_row_release(&r);
	return err->code;
}
