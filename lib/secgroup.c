/*
 * secgroup.c - service: security groups and their nwfilter realisation.
 * Uses the catalog and hv adapters; never prints.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acct.h"
#include "bounds.h"
#include "buf.h"
#include "catalog.h"
#include "hv.h"
#include "rows.h"
#include "secgroup.h"
#include "valid.h"
#include "xalloc.h"
#include "compat.h"

#define SG_COLS \
	"SELECT s.id, s.name, s.description, s.visibility, u.name, g.name, " \
	"s.created, s.updated, s.owner, (SELECT count(*) FROM nic_secgroups " \
	"n WHERE n.secgroup_id = s.id) FROM secgroups s " \
	"JOIN users u ON u.id = s.owner JOIN groups g ON g.id = s.group_id "
/* What the caller may see and use: binds ?1 (admin), ?2 (user id), ?3
 * (the user's group id). */
#define SG_VISIBLE "(?1 OR s.owner = ?2 OR s.visibility = 'public' OR " \
	"(s.visibility = 'group' AND s.group_id = ?3)) "

/* Rule priorities in the filters: the always-allowed (DHCP, neighbour
 * discovery) and replies first, the groups' rules, then the default
 * outbound accept, then the drop of everything else. */
#define PRIO_SPOOF	"-700"
#define PRIO_SPOOF_DROP	"-690"
#define PRIO_BASE	"-500"
#define PRIO_REPLY	"-400"
#define PRIO_RULE	"0"
#define PRIO_OUT	"400"
#define PRIO_DROP	"1000"

/* A rule, checked and normalised. */
struct sg_rule {
	char dir[4];
	char proto[8];
	int pmin, pmax;		/* 0: every port */
	char cidr[64];		/* "" any; else canonical "addr/len" */
	long long peer;		/* 0: none */
	char peer_name[NAME_MAX_LEN + 1];
};

/* A group found by reference. */
struct sg {
	long long id;
	long long owner;
	char name[NAME_MAX_LEN + 1];
};

static int
valid_visibility(const char *v, struct cerr *err)
{
	if (strcmp(v, "private") == 0 || strcmp(v, "group") == 0 ||
	    strcmp(v, "public") == 0)
		return 0;
	return cerr_set(err, CERR_USAGE, "visibility: expected private, "
	    "group or public, found '%s'", v);
}

/* The group ref names (an id or a name), if the caller may see it. */
static int
sg_find(struct ctx *ctx, const char *ref, struct sg *g, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long id;

	if (!valid_id(ref, &id))
		id = -1;
	if (catalog_query(ctx->cat, &st, err, "SELECT s.id, s.owner, s.name "
	    "FROM secgroups s WHERE " SG_VISIBLE "AND (s.id = ?4 OR "
	    "(?4 < 0 AND s.name = ?5))", "iiiis", (long long)ctx->who.admin,
	    ctx->who.user_id, ctx->who.group_id, id, ref))
		return err->code;
	if (cstmt_row(st, err)) {
		g->id = cstmt_int(st, 0);
		g->owner = cstmt_int(st, 1);
		snprintf(g->name, sizeof(g->name), "%s", cstmt_text(st, 2));
	} else if (err->code == 0) {
		cerr_set(err, CERR_NOTFOUND, "no security group '%s'", ref);
	}
	cstmt_free(st);
	return err->code;
}

/* The same, for a change: the caller must own it or be an admin. */
static int
sg_find_mine(struct ctx *ctx, const char *ref, const char *what,
    struct sg *g, struct cerr *err)
{
	if (sg_find(ctx, ref, g, err))
		return err->code;
	if (!ctx->who.admin && g->owner != ctx->who.user_id)
		return cerr_set(err, CERR_PERM, "cannot %s security group "
		    "'%s': it is not yours", what, g->name);
	return 0;
}

int
secgroup_usable(struct ctx *ctx, const char *ref, long long *id,
    struct cerr *err)
{
	struct sg g;

	if (sg_find(ctx, ref, &g, err))
		return err->code;
	*id = g.id;
	return 0;
}

/* Rule documents of group id, in order. */
static int
rules_doc(struct ctx *ctx, long long id, struct doc **out, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct doc *list = doc_new(DOC_LIST);

	if (catalog_query(ctx->cat, &st, err, "SELECT r.id, r.direction, "
	    "r.proto, r.port_min, r.port_max, r.cidr, p.name "
	    "FROM secgroup_rules r LEFT JOIN secgroups p ON p.id = "
	    "r.peer_group WHERE r.secgroup_id = ? ORDER BY r.id", "i", id)) {
		doc_free(list);
		return err->code;
	}
	while (cstmt_row(st, err)) {
		struct doc *r = doc_new(DOC_MAP);
		char port[16];

		doc_set_int(r, "id", cstmt_int(st, 0));
		doc_set_str(r, "direction", cstmt_text(st, 1));
		doc_set_str(r, "proto", cstmt_text(st, 2));
		if (cstmt_null(st, 3)) {
			doc_set_str(r, "port", NULL);
		} else {
			if (cstmt_int(st, 3) == cstmt_int(st, 4))
				snprintf(port, sizeof(port), "%lld",
				    cstmt_int(st, 3));
			else
				snprintf(port, sizeof(port), "%lld-%lld",
				    cstmt_int(st, 3), cstmt_int(st, 4));
			doc_set_str(r, "port", port);
		}
		doc_set_str(r, "cidr", cstmt_text(st, 5));
		doc_set_str(r, "group", cstmt_text(st, 6));
		doc_list_push(list, r);
	}
	cstmt_free(st);
	if (err->code) {
		doc_free(list);
		return err->code;
	}
	*out = list;
	return 0;
}

/* The NICs in group id: VM, NIC index, addresses. */
static int
members_doc(struct ctx *ctx, long long id, struct doc **out,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	struct doc *list = doc_new(DOC_LIST);

	if (catalog_query(ctx->cat, &st, err, "SELECT v.name, n.idx, "
	    "(SELECT group_concat(l.ip, ',') FROM leases l WHERE "
	    "l.nic_id = n.id), n.id FROM nic_secgroups ns "
	    "JOIN vm_nics n ON n.id = ns.nic_id JOIN vms v ON v.id = "
	    "n.vm_id WHERE ns.secgroup_id = ? ORDER BY v.name, n.idx", "i",
	    id)) {
		doc_free(list);
		return err->code;
	}
	while (cstmt_row(st, err)) {
		struct doc *m = doc_new(DOC_MAP);

		doc_set_str(m, "vm", cstmt_text(st, 0));
		doc_set_int(m, "nic", cstmt_int(st, 1));
		doc_set_str(m, "ips", cstmt_text(st, 2));
		doc_set_int(m, "nic_id", cstmt_int(st, 3));
		doc_list_push(list, m);
	}
	cstmt_free(st);
	if (err->code) {
		doc_free(list);
		return err->code;
	}
	*out = list;
	return 0;
}

/* The whole document of group id (which the caller may see). */
static int
sg_doc(struct ctx *ctx, long long id, struct doc **out, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct doc *d = NULL, *sub = NULL;
	long long owner = 0;

	if (catalog_query(ctx->cat, &st, err, SG_COLS "WHERE s.id = ?", "i",
	    id))
		return err->code;
	if (cstmt_row(st, err)) {
		d = doc_new(DOC_MAP);
		doc_set_str(d, "kind", "SecurityGroup");
		doc_set_int(d, "id", cstmt_int(st, 0));
		doc_set_str(d, "name", cstmt_text(st, 1));
		doc_set_str(d, "description", cstmt_text(st, 2));
		doc_set_str(d, "visibility", cstmt_text(st, 3));
		doc_set_str(d, "owner", cstmt_text(st, 4));
		doc_set_str(d, "group_owner", cstmt_text(st, 5));
		doc_set_str(d, "created", cstmt_text(st, 6));
		doc_set_str(d, "updated", cstmt_text(st, 7));
		owner = cstmt_int(st, 8);
		doc_set_int(d, "nics", cstmt_int(st, 9));
	} else if (err->code == 0) {
		cerr_set(err, CERR_NOTFOUND, "no security group %lld", id);
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (rules_doc(ctx, id, &sub, err))
		goto fail;
	doc_map_set(d, "rules", sub);
	if (ctx->who.admin || owner == ctx->who.user_id) {
		if (members_doc(ctx, id, &sub, err))
			goto fail;
		doc_map_set(d, "members", sub);
	}
	*out = d;
	return 0;
fail:
	doc_free(d);
	return err->code;
}

int
secgroup_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct sg g;

	if (sg_find(ctx, ref, &g, err))
		return err->code;
	return sg_doc(ctx, g.id, out, err);
}

int
secgroup_list(struct ctx *ctx, emit_fn emit, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long *ids = NULL;
	size_t n = 0, cap = 0, i;

	/* ids first: a document takes queries of its own */
	if (catalog_query(ctx->cat, &st, err, "SELECT s.id FROM secgroups s "
	    "WHERE " SG_VISIBLE "ORDER BY s.id", "iii",
	    (long long)ctx->who.admin, ctx->who.user_id, ctx->who.group_id))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(&ids, &cap, n + 1, sizeof(*ids));
		ids[n++] = cstmt_int(st, 0);
	}
	cstmt_free(st);
	for (i = 0; i < n && err->code == 0; i++) {
		struct doc *d = NULL;

		if (sg_doc(ctx, ids[i], &d, err) == 0)
			emit(ctx, d, err);
		doc_free(d);
	}
	free(ids);
	return err->code;
}

static int
show_id(struct ctx *ctx, long long id, struct doc **out, struct cerr *err)
{
	if (out == NULL)
		return 0;
	return sg_doc(ctx, id, out, err);
}

int
secgroup_create(struct ctx *ctx, const char *name, const char *description,
    const char *visibility, struct doc **out, struct cerr *err)
{
	char now[32];
	long long id;

	if (visibility == NULL)
		visibility = "private";
	if (valid_name("security group", name, err) ||
	    valid_visibility(visibility, err))
		return err->code;
	if (valid_description(description, err))
		return err->code;
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (catalog_exec(ctx->cat, err, "INSERT INTO secgroups (name, "
	    "description, visibility, owner, group_id, created, updated) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)", "sssiiss", name, description,
	    visibility, ctx->who.user_id, ctx->who.group_id, now, now)) {
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "security group '%s' "
			    "exists already", name);
		}
		goto fail;
	}
	id = catalog_last_id(ctx->cat);
	if (acct_audit(ctx, "create", "SecurityGroup", id, name, visibility,
	    err) || catalog_commit(ctx->cat, err))
		goto fail;
	return show_id(ctx, id, out, err);
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

int
secgroup_set_visibility(struct ctx *ctx, const char *ref,
    const char *visibility, struct doc **out, struct cerr *err)
{
	struct sg g;
	char now[32];

	if (valid_visibility(visibility, err))
		return err->code;
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (sg_find_mine(ctx, ref, strcmp(visibility, "private") == 0 ?
	    "unpublish" : "publish", &g, err))
		goto fail;
	catalog_now(now);
	if (catalog_exec(ctx->cat, err, "UPDATE secgroups SET visibility = ?, "
	    "updated = ? WHERE id = ?", "ssi", visibility, now, g.id) ||
	    acct_audit(ctx, strcmp(visibility, "private") == 0 ? "unpublish" :
	    "publish", "SecurityGroup", g.id, g.name, visibility, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	return show_id(ctx, g.id, out, err);
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

/* Host (name, URI) pairs, read before any hypervisor is called. */
struct hostref {
	long long id;
	char *name;
	char *uri;
};

static void
hostrefs_free(struct hostref *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].uri);
	}
	free(h);
}

static int
hostrefs_read(struct cstmt *st, struct hostref **out, size_t *n,
    struct cerr *err)
{
	struct hostref *h = NULL;
	size_t cap = 0;

	*n = 0;
	while (cstmt_row(st, err)) {
		xgrow(&h, &cap, *n + 1, sizeof(*h));
		h[*n].id = cstmt_int(st, 0);
		h[*n].name = xstrdup(cstmt_text(st, 1));
		h[*n].uri = xstrdup(cstmt_text(st, 2));
		(*n)++;
	}
	if (err->code) {
		hostrefs_free(h, *n);
		*n = 0;
		return err->code;
	}
	*out = h;
	return 0;
}

int
secgroup_delete(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct hostref *hs = NULL;
	size_t nh = 0, i;
	struct sg g;
	long long nics = 0;
	char fname[64];

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (sg_find_mine(ctx, ref, "delete", &g, err))
		goto fail;
	if (catalog_query(ctx->cat, &st, err, "SELECT count(*) FROM "
	    "nic_secgroups WHERE secgroup_id = ?", "i", g.id))
		goto fail;
	if (cstmt_row(st, err))
		nics = cstmt_int(st, 0);
	cstmt_free(st);
	st = NULL;
	if (err->code)
		goto fail;
	if (nics > 0) {
		cerr_set(err, CERR_CONFLICT, "cannot delete security group "
		    "'%s': %lld NIC%s in it", g.name, nics, nics == 1 ?
		    " is" : "s are");
		goto fail;
	}
	if (catalog_query(ctx->cat, &st, err, "SELECT s.name FROM "
	    "secgroup_rules r JOIN secgroups s ON s.id = r.secgroup_id "
	    "WHERE r.peer_group = ?1 AND r.secgroup_id != ?1 ORDER BY s.name "
	    "LIMIT 1", "i", g.id))
		goto fail;
	if (cstmt_row(st, err))
		cerr_set(err, CERR_CONFLICT, "cannot delete security group "
		    "'%s': a rule of security group '%s' names it",
		    g.name, cstmt_text(st, 0));
	cstmt_free(st);
	st = NULL;
	if (err->code)
		goto fail;
	if (catalog_exec(ctx->cat, err, "DELETE FROM secgroup_rules WHERE "
	    "secgroup_id = ?", "i", g.id) ||
	    catalog_exec(ctx->cat, err, "DELETE FROM secgroups WHERE id = ?",
	    "i", g.id) ||
	    acct_audit(ctx, "delete", "SecurityGroup", g.id, g.name, NULL,
	    err))
		goto fail;
	if (catalog_query(ctx->cat, &st, err, "SELECT id, name, uri FROM "
	    "hosts WHERE state = 'enabled' ORDER BY id", "") ||
	    hostrefs_read(st, &hs, &nh, err))
		goto fail;
	cstmt_free(st);
	st = NULL;
	if (catalog_commit(ctx->cat, err))
		goto fail;
	/* No NIC uses the filter any more and ids are never reused: a host
	 * that does not answer keeps a filter nothing names, harmlessly. */
	snprintf(fname, sizeof(fname), SECGROUP_FILTER_PREFIX "%lld", g.id);
	for (i = 0; i < nh; i++) {
		struct cerr ignored = { 0 };
		struct hv *hv = NULL;

		if (hv_connect(hs[i].uri, &hv, &ignored) == 0)
			hv_nwfilter_undefine(hv, fname, &ignored);
		hv_close(hv);
	}
	hostrefs_free(hs, nh);
	return 0;
fail:
	cstmt_free(st);
	catalog_rollback(ctx->cat);
	hostrefs_free(hs, nh);
	return err->code;
}

/* --- rules ---------------------------------------------------------- */

static int
parse_port(const char *s, int *out, struct cerr *err)
{
	long v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return 1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > 65535)
			return 1;
	}
	if (*p || v < 1)
		return 1;
	(void)err;
	*out = (int)v;
	return 0;
}

static int
rule_ports(const char *port, struct sg_rule *r, struct cerr *err)
{
	char a[16], *dash;

	if (strlen(port) >= sizeof(a))
		goto bad;
	snprintf(a, sizeof(a), "%s", port);
	if ((dash = strchr(a, '-')) != NULL)
		*dash = '\0';
	if (parse_port(a, &r->pmin, err))
		goto bad;
	r->pmax = r->pmin;
	if (dash && parse_port(dash + 1, &r->pmax, err))
		goto bad;
	if (r->pmax < r->pmin)
		return cerr_set(err, CERR_USAGE, "port: range '%s' ends before "
		    "it starts", port);
	return 0;
bad:
	return cerr_set(err, CERR_USAGE, "port: expected P or P-Q with ports "
	    "from 1 to 65535, found '%s'", port);
}

/* A CIDR (or a single address) made canonical: host bits cleared,
 * "addr/len". *family is 4 or 6. */
static int
parse_cidr(const char *s, char *out, size_t len, int *family,
    struct cerr *err)
{
	char addr[INET6_ADDRSTRLEN + 8], *slash, text[INET6_ADDRSTRLEN];
	unsigned char bytes[16];
	long plen = -1;
	int af, max, i;

	if (strlen(s) >= sizeof(addr))
		goto bad;
	snprintf(addr, sizeof(addr), "%s", s);
	if ((slash = strchr(addr, '/')) != NULL) {
		char *p = slash + 1;

		*slash = '\0';
		if (*p < '0' || *p > '9' || strlen(p) > 3)
			goto bad;
		for (plen = 0; *p >= '0' && *p <= '9'; p++)
			plen = plen * 10 + (*p - '0');
		if (*p)
			goto bad;
	}
	if (inet_pton(AF_INET, addr, bytes) == 1) {
		af = AF_INET;
		max = 32;
		*family = 4;
	} else if (inet_pton(AF_INET6, addr, bytes) == 1) {
		af = AF_INET6;
		max = 128;
		*family = 6;
	} else {
		goto bad;
	}
	if (plen < 0)
		plen = max;
	if (plen > max)
		goto bad;
	for (i = 0; i < max / 8; i++) {
		int keep = (int)plen - i * 8;

		if (keep <= 0)
			bytes[i] = 0;
		else if (keep < 8)
			bytes[i] &= (unsigned char)(0xff << (8 - keep));
	}
	inet_ntop(af, bytes, text, sizeof(text));
	snprintf(out, len, "%s/%ld", text, plen);
	return 0;
bad:
	return cerr_set(err, CERR_USAGE, "cidr: expected an IPv4 or IPv6 "
	    "address with an optional /prefix length, found '%s'", s);
}

/* Check r as given and make it an sg_rule; a peer group must be one the
 * caller may use. */
static int
rule_check(struct ctx *ctx, const struct secgroup_rule *in,
    struct sg_rule *r, struct cerr *err)
{
	int family;

	memset(r, 0, sizeof(*r));
	if (in->direction == NULL)
		return cerr_set(err, CERR_USAGE, "direction: missing (in or "
		    "out)");
	if (strcmp(in->direction, "in") != 0 &&
	    strcmp(in->direction, "out") != 0)
		return cerr_set(err, CERR_USAGE, "direction: expected in or "
		    "out, found '%s'", in->direction);
	snprintf(r->dir, sizeof(r->dir), "%s", in->direction);
	if (in->proto == NULL)
		return cerr_set(err, CERR_USAGE, "proto: missing (tcp, udp, "
		    "icmp or all)");
	if (strcmp(in->proto, "tcp") != 0 && strcmp(in->proto, "udp") != 0 &&
	    strcmp(in->proto, "icmp") != 0 && strcmp(in->proto, "all") != 0)
		return cerr_set(err, CERR_USAGE, "proto: expected tcp, udp, "
		    "icmp or all, found '%s'", in->proto);
	snprintf(r->proto, sizeof(r->proto), "%s", in->proto);
	if (in->port) {
		if (strcmp(r->proto, "tcp") != 0 &&
		    strcmp(r->proto, "udp") != 0)
			return cerr_set(err, CERR_USAGE, "port: only tcp and "
			    "udp rules have ports, not %s", r->proto);
		if (rule_ports(in->port, r, err))
			return err->code;
	}
	if (in->cidr && in->group)
		return cerr_set(err, CERR_USAGE, "a rule's peer is a cidr or a "
		    "group, not both");
	if (in->cidr && parse_cidr(in->cidr, r->cidr, sizeof(r->cidr),
	    &family, err))
		return err->code;
	if (in->group && ctx) {
		/* without ctx (a document's check) the peer is looked up
		 * later */
		struct sg g;

		if (sg_find(ctx, in->group, &g, err))
			return err->code;
		r->peer = g.id;
		snprintf(r->peer_name, sizeof(r->peer_name), "%s", g.name);
	}
	return 0;
}

/* The id of the rule of group gid equal to r, or 0. */
static int
rule_find(struct ctx *ctx, long long gid, const struct sg_rule *r,
    long long *id, struct cerr *err)
{
	struct cstmt *st = NULL;
	char pmin[16], pmax[16], peer[32];

	*id = 0;
	snprintf(pmin, sizeof(pmin), "%d", r->pmin);
	snprintf(pmax, sizeof(pmax), "%d", r->pmax);
	snprintf(peer, sizeof(peer), "%lld", r->peer);
	/* NULL columns compare with IS: bind NULL for what is absent */
	if (catalog_query(ctx->cat, &st, err, "SELECT id FROM secgroup_rules "
	    "WHERE secgroup_id = ? AND direction = ? AND proto = ? AND "
	    "port_min IS CAST(? AS INTEGER) AND port_max IS CAST(? AS INTEGER) "
	    "AND cidr IS ? AND peer_group IS CAST(? AS INTEGER)", "issssss",
	    gid, r->dir, r->proto, r->pmin ? pmin : NULL,
	    r->pmin ? pmax : NULL, r->cidr[0] ? r->cidr : NULL,
	    r->peer ? peer : NULL))
		return err->code;
	if (cstmt_row(st, err))
		*id = cstmt_int(st, 0);
	cstmt_free(st);
	return err->code;
}

static int
rule_insert(struct ctx *ctx, long long gid, const struct sg_rule *r,
    struct cerr *err)
{
	char now[32], pmin[16], pmax[16], peer[32];

	catalog_now(now);
	snprintf(pmin, sizeof(pmin), "%d", r->pmin);
	snprintf(pmax, sizeof(pmax), "%d", r->pmax);
	snprintf(peer, sizeof(peer), "%lld", r->peer);
	return catalog_exec(ctx->cat, err, "INSERT INTO secgroup_rules "
	    "(secgroup_id, direction, proto, port_min, port_max, cidr, "
	    "peer_group, created) VALUES (?, ?, ?, CAST(? AS INTEGER), "
	    "CAST(? AS INTEGER), ?, CAST(? AS INTEGER), ?)", "isssssss", gid,
	    r->dir, r->proto, r->pmin ? pmin : NULL, r->pmin ? pmax : NULL,
	    r->cidr[0] ? r->cidr : NULL, r->peer ? peer : NULL, now);
}

/* A rule as one line, for the audit log and messages. */
static void
rule_text(const struct sg_rule *r, char *out, size_t len)
{
	char port[32] = "";

	if (r->pmin == r->pmax && r->pmin)
		snprintf(port, sizeof(port), " port %d", r->pmin);
	else if (r->pmin)
		snprintf(port, sizeof(port), " port %d-%d", r->pmin, r->pmax);
	snprintf(out, len, "%s %s%s%s%s%s%s", r->dir, r->proto, port,
	    r->cidr[0] ? (r->dir[0] == 'i' ? " from " : " to ") : "",
	    r->cidr, r->peer ? (r->dir[0] == 'i' ? " from group " :
	    " to group ") : "", r->peer ? r->peer_name : "");
}

static int
touch(struct ctx *ctx, long long gid, struct cerr *err)
{
	char now[32];

	catalog_now(now);
	return catalog_exec(ctx->cat, err, "UPDATE secgroups SET updated = ? "
	    "WHERE id = ?", "si", now, gid);
}

/* After a committed change: refresh, and hand out the document even when
 * some host was left behind. */
static int
after_change(struct ctx *ctx, long long gid, struct doc **out,
    struct cerr *err)
{
	struct cerr shown = { 0 };

	secgroup_refresh(ctx, gid, err);
	if (out)
		sg_doc(ctx, gid, out, &shown);
	return err->code;
}

int
secgroup_rule_add(struct ctx *ctx, const char *ref,
    const struct secgroup_rule *in, struct doc **out, struct cerr *err)
{
	struct sg g;
	struct sg_rule r;
	long long rid;
	char text[256];

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (sg_find_mine(ctx, ref, "change", &g, err) ||
	    rule_check(ctx, in, &r, err) ||
	    rule_find(ctx, g.id, &r, &rid, err))
		goto fail;
	rule_text(&r, text, sizeof(text));
	if (rid) {
		cerr_set(err, CERR_CONFLICT, "security group '%s' has the rule "
		    "'%s' already (rule %lld)", g.name, text, rid);
		goto fail;
	}
	if (rule_insert(ctx, g.id, &r, err) || touch(ctx, g.id, err) ||
	    acct_audit(ctx, "rule-add", "SecurityGroup", g.id, g.name, text,
	    err) || catalog_commit(ctx->cat, err))
		goto fail;
	return after_change(ctx, g.id, out, err);
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

int
secgroup_rule_remove(struct ctx *ctx, const char *ref, long long rule_id,
    const struct secgroup_rule *in, struct doc **out, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct sg g;
	struct sg_rule r;
	long long rid = rule_id;
	char text[256] = "";

	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (sg_find_mine(ctx, ref, "change", &g, err))
		goto fail;
	if (rule_id > 0) {
		if (catalog_query(ctx->cat, &st, err, "SELECT id FROM "
		    "secgroup_rules WHERE id = ? AND secgroup_id = ?", "ii",
		    rule_id, g.id))
			goto fail;
		if (!cstmt_row(st, err) && err->code == 0)
			cerr_set(err, CERR_NOTFOUND, "security group '%s' has "
			    "no rule %lld", g.name, rule_id);
		cstmt_free(st);
		if (err->code)
			goto fail;
		snprintf(text, sizeof(text), "rule %lld", rule_id);
	} else {
		if (rule_check(ctx, in, &r, err) ||
		    rule_find(ctx, g.id, &r, &rid, err))
			goto fail;
		rule_text(&r, text, sizeof(text));
		if (rid == 0) {
			cerr_set(err, CERR_NOTFOUND, "security group '%s' has "
			    "no rule '%s'", g.name, text);
			goto fail;
		}
	}
	if (catalog_exec(ctx->cat, err, "DELETE FROM secgroup_rules WHERE "
	    "id = ?", "i", rid) || touch(ctx, g.id, err) ||
	    acct_audit(ctx, "rule-remove", "SecurityGroup", g.id, g.name,
	    text, err) || catalog_commit(ctx->cat, err))
		goto fail;
	return after_change(ctx, g.id, out, err);
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

int
secgroup_sync(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct sg g;

	if (sg_find_mine(ctx, ref, "refresh", &g, err))
		return err->code;
	return secgroup_refresh(ctx, g.id, err);
}

/* --- apply ---------------------------------------------------------- */

static int
field_str(const struct doc *d, const char *key, const char **out,
    struct cerr *err)
{
	const struct doc *v = doc_map_get(d, key);

	*out = NULL;
	if (v == NULL || v->type == DOC_NULL)
		return 0;
	if (v->type != DOC_STR)
		return cerr_set(err, CERR_USAGE, "%s: expected a string", key);
	*out = v->u.s;
	return 0;
}

/* The rule a document of the rules list gives.  port may be a number. */
static int
doc_rule(struct ctx *ctx, const struct doc *d, int i, struct sg_rule *r,
    struct cerr *err)
{
	struct secgroup_rule in = { 0 };
	const struct doc *port;
	char num[32];

	if (d->type != DOC_MAP)
		return cerr_set(err, CERR_USAGE, "rules[%d]: expected a map",
		    i);
	port = doc_map_get(d, "port");
	if (field_str(d, "direction", &in.direction, err) ||
	    field_str(d, "proto", &in.proto, err) ||
	    field_str(d, "cidr", &in.cidr, err) ||
	    field_str(d, "group", &in.group, err))
		return cerr_wrap(err, "rules[%d]", i);
	if (port && port->type == DOC_INT) {
		snprintf(num, sizeof(num), "%lld", port->u.i);
		in.port = num;
	} else if (port && port->type == DOC_STR) {
		in.port = port->u.s;
	} else if (port && port->type != DOC_NULL) {
		cerr_set(err, CERR_USAGE, "port: expected a number or P-Q");
		return cerr_wrap(err, "rules[%d]", i);
	}
	if (rule_check(ctx, &in, r, err))
		return cerr_wrap(err, "rules[%d]", i);
	return 0;
}

/* The name, description and visibility of a SecurityGroup document
 * (borrowed from d), checked with the shape of its rules. */
static int
sg_doc_read(const struct doc *d, const char *where, const char **name,
    const char **desc, const char **vis, struct cerr *err)
{
	const struct doc *rules = doc_map_get(d, "rules");

	if (field_str(d, "name", name, err) ||
	    field_str(d, "description", desc, err) ||
	    field_str(d, "visibility", vis, err))
		return cerr_wrap(err, "%s", where);
	if (*name == NULL) {
		cerr_set(err, CERR_USAGE, "name: missing");
		return cerr_wrap(err, "%s", where);
	}
	if (valid_name("security group", *name, err) ||
	    valid_description(*desc, err) ||
	    (*vis && valid_visibility(*vis, err)))
		return cerr_wrap(err, "%s", where);
	if (rules && rules->type != DOC_NULL && rules->type != DOC_LIST) {
		cerr_set(err, CERR_USAGE, "rules: expected a list");
		return cerr_wrap(err, "%s", where);
	}
	if (rules && rules->type == DOC_LIST &&
	    rules->u.list.n > BOUND_SG_RULES) {
		cerr_set(err, CERR_USAGE, "rules: %zu rules, more than %d",
		    rules->u.list.n, BOUND_SG_RULES);
		return cerr_wrap(err, "%s", where);
	}
	return 0;
}

int
secgroup_check(const struct doc *d, const char *where, struct cerr *err)
{
	const struct doc *rules = doc_map_get(d, "rules");
	const char *name, *desc, *vis;
	struct sg_rule r;
	size_t i;

	if (sg_doc_read(d, where, &name, &desc, &vis, err))
		return err->code;
	for (i = 0; rules && rules->type == DOC_LIST && i < rules->u.list.n;
	    i++)
		if (doc_rule(NULL, rules->u.list.v[i], (int)i, &r, err))
			return cerr_wrap(err, "%s", where);
	return 0;
}

int
secgroup_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	const char *name, *desc, *vis;
	const struct doc *rules = doc_map_get(d, "rules");
	struct sg_rule *want = NULL;
	size_t nwant = 0, i;
	struct cstmt *st = NULL;
	struct sg g;
	long long *keep = NULL, rid;
	size_t nkeep = 0, capkeep = 0;
	int changed = 0, created = 0;
	char now[32];

	if (sg_doc_read(d, where, &name, &desc, &vis, err))
		return err->code;
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (sg_find(ctx, name, &g, err) == CERR_NOTFOUND) {
		cerr_clear(err);
		catalog_now(now);
		if (catalog_exec(ctx->cat, err, "INSERT INTO secgroups (name, "
		    "description, visibility, owner, group_id, created, "
		    "updated) VALUES (?, ?, ?, ?, ?, ?, ?)", "sssiiss", name,
		    desc, vis ? vis : "private", ctx->who.user_id,
		    ctx->who.group_id, now, now))
			goto fail;
		g.id = catalog_last_id(ctx->cat);
		snprintf(g.name, sizeof(g.name), "%s", name);
		if (acct_audit(ctx, "create", "SecurityGroup", g.id, name,
		    vis ? vis : "private", err))
			goto fail;
		created = 1;
	} else if (err->code) {
		goto fail;
	} else if (!ctx->who.admin && g.owner != ctx->who.user_id) {
		cerr_set(err, CERR_PERM, "cannot change security group '%s': "
		    "it is not yours", g.name);
		goto fail;
	} else if (desc || vis) {
		catalog_now(now);
		/* only what differs: an apply of the same document changes
		 * nothing, not even the time */
		if (catalog_exec(ctx->cat, err, "UPDATE secgroups SET "
		    "description = coalesce(?1, description), visibility = "
		    "coalesce(?2, visibility), updated = ?3 WHERE id = ?4 AND "
		    "(description IS NOT coalesce(?1, description) OR "
		    "visibility IS NOT coalesce(?2, visibility))", "sssi", desc,
		    vis, now, g.id) || (catalog_changes(ctx->cat) > 0 &&
		    acct_audit(ctx, "update", "SecurityGroup", g.id, g.name,
		    NULL, err)))
			goto fail;
	}
	if (rules && rules->type == DOC_LIST) {
		/* checked once the group is there: a rule may name it */
		want = xcalloc(rules->u.list.n + 1, sizeof(*want));
		for (i = 0; i < rules->u.list.n; i++)
			if (doc_rule(ctx, rules->u.list.v[i], (int)i,
			    &want[nwant++], err))
				goto fail;
		/* the rules become exactly those listed */
		for (i = 0; i < nwant; i++) {
			if (rule_find(ctx, g.id, &want[i], &rid, err))
				goto fail;
			if (rid == 0) {
				char text[256];

				rule_text(&want[i], text, sizeof(text));
				if (rule_insert(ctx, g.id, &want[i], err))
					goto fail;
				/* before the audit row takes the last id */
				rid = catalog_last_id(ctx->cat);
				if (acct_audit(ctx, "rule-add",
				    "SecurityGroup", g.id, g.name, text, err))
					goto fail;
				changed = 1;
			}
			xgrow(&keep, &capkeep, nkeep + 1, sizeof(*keep));
			keep[nkeep++] = rid;
		}
		if (catalog_query(ctx->cat, &st, err, "SELECT id FROM "
		    "secgroup_rules WHERE secgroup_id = ?", "i", g.id))
			goto fail;
		while (cstmt_row(st, err)) {
			long long id = cstmt_int(st, 0);
			size_t k;

			for (k = 0; k < nkeep && keep[k] != id; k++)
				;
			if (k == nkeep) {
				xgrow(&keep, &capkeep, nkeep + 1,
				    sizeof(*keep));
				keep[nkeep++] = -id;	/* to remove */
			}
		}
		cstmt_free(st);
		st = NULL;
		if (err->code)
			goto fail;
		for (i = 0; i < nkeep; i++) {
			char text[64];

			if (keep[i] > 0)
				continue;
			snprintf(text, sizeof(text), "rule %lld", -keep[i]);
			if (catalog_exec(ctx->cat, err, "DELETE FROM "
			    "secgroup_rules WHERE id = ?", "i", -keep[i]) ||
			    acct_audit(ctx, "rule-remove", "SecurityGroup",
			    g.id, g.name, text, err))
				goto fail;
			changed = 1;
		}
		if (changed && touch(ctx, g.id, err))
			goto fail;
	}
	if (catalog_commit(ctx->cat, err))
		goto fail;
	free(want);
	free(keep);
	if (changed && !created)
		return after_change(ctx, g.id, out, err);
	return sg_doc(ctx, g.id, out, err);
fail:
	cstmt_free(st);
	catalog_rollback(ctx->cat);
	free(want);
	free(keep);
	return cerr_wrap(err, "%s", where);
}

/* --- filters -------------------------------------------------------- */

/* One accept rule of a group's filter: family 4 or 6, the peer address
 * (NULL: any) with its prefix length. */
static void
rule_xml(struct buf *x, const char *dir, const char *proto, int pmin,
    int pmax, int family, const char *addr, int plen)
{
	static const char *const v4[] = { "tcp", "udp", "icmp", "all" };
	static const char *const v6[] = { "tcp-ipv6", "udp-ipv6", "icmpv6",
	    "all-ipv6" };
	const char *side = strcmp(dir, "in") == 0 ? "src" : "dst";
	int p;

	for (p = 0; p < 4 && strcmp(v4[p], proto) != 0; p++)
		;
	if (p == 4)
		return;
	buf_printf(x, "  <rule action='accept' direction='%s' priority='"
	    PRIO_RULE "'>\n    <%s", dir, family == 4 ? v4[p] : v6[p]);
	if (addr && plen > 0) {
		buf_printf(x, " %sipaddr='", side);
		buf_xml(x, addr);
		buf_printf(x, "' %sipmask='%d'", side, plen);
	}
	if (pmin)
		buf_printf(x, " dstportstart='%d' dstportend='%d'", pmin,
		    pmax);
	buf_puts(x, "/>\n  </rule>\n");
}

int
secgroup_filter_xml(struct ctx *ctx, long long id, char **xml,
    struct cerr *err)
{
	struct buf x = BUF_INIT;
	struct cstmt *st = NULL, *peers = NULL;

	buf_printf(&x, "<filter name='" SECGROUP_FILTER_PREFIX "%lld' "
	    "chain='root'>\n", id);
	if (catalog_query(ctx->cat, &st, err, "SELECT direction, proto, "
	    "coalesce(port_min, 0), coalesce(port_max, 0), cidr, "
	    "coalesce(peer_group, 0) FROM secgroup_rules WHERE "
	    "secgroup_id = ? ORDER BY id", "i", id))
		goto fail;
	while (cstmt_row(st, err)) {
		const char *dir = cstmt_text(st, 0), *proto = cstmt_text(st, 1);
		int pmin = (int)cstmt_int(st, 2), pmax = (int)cstmt_int(st, 3);
		const char *cidr = cstmt_text(st, 4);
		long long peer = cstmt_int(st, 5);

		if (cidr) {
			char addr[64];
			const char *slash = strchr(cidr, '/');
			int plen = slash ? (int)strtol(slash + 1, NULL, 10) : 0;

			snprintf(addr, sizeof(addr), "%.*s",
			    (int)(slash ? slash - cidr : (long)strlen(cidr)),
			    cidr);
			rule_xml(&x, dir, proto, pmin, pmax,
			    strchr(addr, ':') ? 6 : 4, addr, plen);
		} else if (peer) {
			/* the addresses leased to the peer's members now */
			if (catalog_query(ctx->cat, &peers, err, "SELECT "
			    "DISTINCT l.ip, l.family FROM nic_secgroups ns "
			    "JOIN leases l ON l.nic_id = ns.nic_id "
			    "JOIN vm_nics n ON n.id = ns.nic_id "
			    "JOIN vms v ON v.id = n.vm_id "
			    "WHERE ns.secgroup_id = ? AND v.state != 'done' "
			    "ORDER BY l.family, l.ip", "i", peer))
				goto fail;
			while (cstmt_row(peers, err)) {
				int fam = (int)cstmt_int(peers, 1);

				rule_xml(&x, dir, proto, pmin, pmax, fam,
				    cstmt_text(peers, 0), fam == 4 ? 32 :
				    128);
			}
			cstmt_free(peers);
			peers = NULL;
			if (err->code)
				goto fail;
		} else {
			rule_xml(&x, dir, proto, pmin, pmax, 4, NULL, 0);
			rule_xml(&x, dir, proto, pmin, pmax, 6, NULL, 0);
		}
	}
	if (err->code)
		goto fail;
	cstmt_free(st);
	buf_puts(&x, "</filter>\n");
	*xml = buf_detach(&x);
	return 0;
fail:
	cstmt_free(st);
	cstmt_free(peers);
	buf_release(&x);
	return err->code;
}

#define ND(dir, type) \
	"  <rule action='accept' direction='" dir "' priority='" PRIO_BASE \
	"' statematch='false'>\n    <icmpv6 type='" type "'/>\n  </rule>\n"

/* The policy rules of every NIC in a group (see secgroup.h). */
static const char nic_base[] =
	/* DHCP and DHCPv6, both ways, whatever the groups say */
	"  <rule action='accept' direction='out' priority='" PRIO_BASE "' "
	"statematch='false'>\n"
	"    <udp srcportstart='68' dstportstart='67'/>\n  </rule>\n"
	"  <rule action='accept' direction='in' priority='" PRIO_BASE "' "
	"statematch='false'>\n"
	"    <udp srcportstart='67' dstportstart='68'/>\n  </rule>\n"
	"  <rule action='accept' direction='out' priority='" PRIO_BASE "' "
	"statematch='false'>\n"
	"    <udp-ipv6 srcportstart='546' dstportstart='547'/>\n  </rule>\n"
	"  <rule action='accept' direction='in' priority='" PRIO_BASE "' "
	"statematch='false'>\n"
	"    <udp-ipv6 srcportstart='547' dstportstart='546'/>\n  </rule>\n"
	/* IPv6 neighbour discovery (router and neighbour solicitation and
	 * advertisement): IPv6's ARP.  libvirt makes no rule of an ICMP
	 * type in direction inout: one rule each way. */
	ND("out", "133") ND("in", "134") ND("out", "135") ND("in", "135")
	ND("out", "136") ND("in", "136")
	/* replies to connections some rule let through, either way */
	"  <rule action='accept' direction='in' priority='" PRIO_REPLY "'>\n"
	"    <all state='ESTABLISHED,RELATED'/>\n  </rule>\n"
	"  <rule action='accept' direction='out' priority='" PRIO_REPLY "'>\n"
	"    <all state='ESTABLISHED,RELATED'/>\n  </rule>\n"
	"  <rule action='accept' direction='in' priority='" PRIO_REPLY "'>\n"
	"    <all-ipv6 state='ESTABLISHED,RELATED'/>\n  </rule>\n"
	"  <rule action='accept' direction='out' priority='" PRIO_REPLY "'>\n"
	"    <all-ipv6 state='ESTABLISHED,RELATED'/>\n  </rule>\n";

static const char nic_out_all[] =
	"  <rule action='accept' direction='out' priority='" PRIO_OUT "'>\n"
	"    <all/>\n  </rule>\n"
	"  <rule action='accept' direction='out' priority='" PRIO_OUT "'>\n"
	"    <all-ipv6/>\n  </rule>\n";

static const char nic_drop[] =
	"  <rule action='drop' direction='inout' priority='" PRIO_DROP "'>\n"
	"    <all/>\n  </rule>\n"
	"  <rule action='drop' direction='inout' priority='" PRIO_DROP "'>\n"
	"    <all-ipv6/>\n  </rule>\n";

/* The groups NIC nic_id is in, ascending; CERR_NOTFOUND for no NIC. */
static int
nic_groups(struct ctx *ctx, long long nic_id, long long **ids, size_t *n,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t cap = 0;
	bool found = false;

	*ids = NULL;
	*n = 0;
	if (catalog_query(ctx->cat, &st, err, "SELECT n.id, ns.secgroup_id "
	    "FROM vm_nics n LEFT JOIN nic_secgroups ns ON ns.nic_id = n.id "
	    "WHERE n.id = ? ORDER BY ns.secgroup_id", "i", nic_id))
		return err->code;
	while (cstmt_row(st, err)) {
		found = true;
		if (cstmt_null(st, 1))
			continue;
		xgrow(ids, &cap, *n + 1, sizeof(**ids));
		(*ids)[(*n)++] = cstmt_int(st, 1);
	}
	cstmt_free(st);
	if (err->code == 0 && !found)
		cerr_set(err, CERR_NOTFOUND, "no NIC %lld", nic_id);
	if (err->code) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return err->code;
}

/*
 * No spoofing: peers are matched by address, so a NIC sends IPv4 (IPv6)
 * only from the addresses leased to it, when it has leases of that family,
 * besides what DHCP and neighbour discovery need (0.0.0.0 to a DHCP
 * server, :: and link-local).  These are ebtables rules on the bridge port.
 */
static int
spoof_xml(struct ctx *ctx, long long nic_id, struct buf *x, struct cerr *err)
{
	struct cstmt *st = NULL;
	bool v4 = false, v6 = false;

	if (catalog_query(ctx->cat, &st, err, "SELECT ip, family FROM leases "
	    "WHERE nic_id = ? ORDER BY family, ip", "i", nic_id))
		return err->code;
	while (cstmt_row(st, err)) {
		int fam = (int)cstmt_int(st, 1);

		buf_printf(x, "  <rule action='accept' direction='out' "
		    "priority='" PRIO_SPOOF "'>\n    <%s srcipaddr='",
		    fam == 4 ? "ip" : "ipv6");
		buf_xml(x, cstmt_text(st, 0));
		buf_puts(x, "'/>\n  </rule>\n");
		v4 |= fam == 4;
		v6 |= fam == 6;
	}
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (v4)
		buf_puts(x, "  <rule action='accept' direction='out' "
		    "priority='" PRIO_SPOOF "'>\n    <ip srcipaddr='0.0.0.0' "
		    "protocol='udp' srcportstart='68' dstportstart='67'/>\n"
		    "  </rule>\n"
		    "  <rule action='drop' direction='out' priority='"
		    PRIO_SPOOF_DROP "'>\n    <ip/>\n  </rule>\n");
	if (v6)
		buf_puts(x, "  <rule action='accept' direction='out' "
		    "priority='" PRIO_SPOOF "'>\n    <ipv6 srcipaddr='::' "
		    "srcipmask='128'/>\n  </rule>\n"
		    "  <rule action='accept' direction='out' "
		    "priority='" PRIO_SPOOF "'>\n    <ipv6 srcipaddr='fe80::' "
		    "srcipmask='10'/>\n  </rule>\n"
		    "  <rule action='drop' direction='out' priority='"
		    PRIO_SPOOF_DROP "'>\n    <ipv6/>\n  </rule>\n");
	return 0;
}

int
secgroup_nic_filter_xml(struct ctx *ctx, long long nic_id, char **xml,
    struct cerr *err)
{
	struct buf x = BUF_INIT;
	struct cstmt *st = NULL;
	long long *ids = NULL, outs = 0;
	size_t n, i;

	if (nic_groups(ctx, nic_id, &ids, &n, err))
		return err->code;
	buf_printf(&x, "<filter name='" SECGROUP_NIC_FILTER_PREFIX "%lld' "
	    "chain='root'>\n", nic_id);
	if (n == 0) {
		/* in no group: nothing is filtered */
		buf_puts(&x, "</filter>\n");
		*xml = buf_detach(&x);
		return 0;
	}
	for (i = 0; i < n; i++)
		buf_printf(&x, "  <filterref filter='" SECGROUP_FILTER_PREFIX
		    "%lld'/>\n", ids[i]);
	free(ids);
	if (catalog_query(ctx->cat, &st, err, "SELECT count(*) FROM "
	    "secgroup_rules WHERE direction = 'out' AND secgroup_id IN "
	    "(SELECT secgroup_id FROM nic_secgroups WHERE nic_id = ?)", "i",
	    nic_id)) {
		buf_release(&x);
		return err->code;
	}
	if (cstmt_row(st, err))
		outs = cstmt_int(st, 0);
	cstmt_free(st);
	if (err->code) {
		buf_release(&x);
		return err->code;
	}
	if (spoof_xml(ctx, nic_id, &x, err)) {
		buf_release(&x);
		return err->code;
	}
	buf_puts(&x, nic_base);
	if (outs == 0)
		buf_puts(&x, nic_out_all);
	buf_puts(&x, nic_drop);
	buf_puts(&x, "</filter>\n");
	*xml = buf_detach(&x);
	return 0;
}

/* Groups whose filters one pass has defined on one host already. */
struct done {
	long long *ids;
	size_t n, cap;
};

static bool
done_has(const struct done *d, long long id)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->ids[i] == id)
			return true;
	return false;
}

static int
define_group(struct ctx *ctx, struct hv *hv, long long id, struct done *d,
    struct cerr *err)
{
	char *xml = NULL, name[64];
	int rc;

	if (d && done_has(d, id))
		return 0;
	if (secgroup_filter_xml(ctx, id, &xml, err))
		return err->code;
	snprintf(name, sizeof(name), SECGROUP_FILTER_PREFIX "%lld", id);
	rc = hv_nwfilter_define(hv, name, xml, err);
	free(xml);
	if (rc == 0 && d) {
		xgrow(&d->ids, &d->cap, d->n + 1, sizeof(*d->ids));
		d->ids[d->n++] = id;
	}
	return rc;
}

/* secgroup_nic_filter, remembering in d the groups defined already. */
static int
nic_define(struct ctx *ctx, struct hv *hv, long long nic_id, struct done *d,
    char *name, size_t len, struct cerr *err)
{
	long long *ids = NULL;
	size_t n, i;
	char *xml = NULL, fname[64];

	if (len)
		name[0] = '\0';
	if (nic_groups(ctx, nic_id, &ids, &n, err))
		return err->code;
	snprintf(fname, sizeof(fname), SECGROUP_NIC_FILTER_PREFIX "%lld",
	    nic_id);
	if (n == 0) {
		/* a filter left from when it was in groups: a running
		 * guest may still name it, so it lets everything through */
		if (hv_nwfilter_xml(hv, fname, &xml, err) == 0) {
			free(xml);
			xml = NULL;
			if (secgroup_nic_filter_xml(ctx, nic_id, &xml, err) ||
			    hv_nwfilter_define(hv, fname, xml, err))
				goto out;
		} else if (err->code == CERR_NOTFOUND) {
			cerr_clear(err);
		}
		goto out;
	}
	for (i = 0; i < n; i++)
		if (define_group(ctx, hv, ids[i], d, err))
			goto out;
	if (secgroup_nic_filter_xml(ctx, nic_id, &xml, err) ||
	    hv_nwfilter_define(hv, fname, xml, err))
		goto out;
	if (strlen(fname) >= len) {
		cerr_set(err, CERR_FAIL, "filter name '%s' does not fit in "
		    "%zu bytes", fname, len);
		goto out;
	}
	memcpy(name, fname, strlen(fname) + 1);
out:
	free(ids);
	free(xml);
	return err->code;
}

int
secgroup_nic_filter(struct ctx *ctx, struct hv *hv, long long nic_id,
    char *name, size_t len, struct cerr *err)
{
	struct done d = { 0 };
	int rc = nic_define(ctx, hv, nic_id, &d, name, len, err);

	free(d.ids);
	return rc;
}

int
secgroup_nic_forget(struct ctx *ctx, struct hv *hv, long long nic_id,
    struct cerr *err)
{
	char fname[64];

	(void)ctx;
	snprintf(fname, sizeof(fname), SECGROUP_NIC_FILTER_PREFIX "%lld",
	    nic_id);
	return hv_nwfilter_undefine(hv, fname, err);
}

/* The NICs, on host host_id, in group id or in a group naming it as a
 * peer. */
#define AFFECTED \
	"FROM nic_secgroups ns JOIN vm_nics n ON n.id = ns.nic_id " \
	"JOIN vms v ON v.id = n.vm_id WHERE v.state != 'done' AND " \
	"v.host_id IS NOT NULL AND ns.secgroup_id IN (SELECT ?1 UNION " \
	"SELECT secgroup_id FROM secgroup_rules WHERE peer_group = ?1) "

/* Bring one host up to date; the first failure is returned in err. */
static int
refresh_host(struct ctx *ctx, long long id, const struct hostref *h,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	struct done d = { 0 };
	long long *nics = NULL;
	size_t n = 0, cap = 0, i;
	char name[64];

	if (catalog_query(ctx->cat, &st, err, "SELECT DISTINCT n.id "
	    AFFECTED "AND v.host_id = ?2 ORDER BY n.id", "ii", id, h->id))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(&nics, &cap, n + 1, sizeof(*nics));
		nics[n++] = cstmt_int(st, 0);
	}
	cstmt_free(st);
	if (err->code == 0 && n > 0 && hv_connect(h->uri, &hv, err) == 0)
		for (i = 0; i < n; i++)
			if (nic_define(ctx, hv, nics[i], &d, name,
			    sizeof(name), err))
				break;
	hv_close(hv);
	free(nics);
	free(d.ids);
	return err->code;
}

int
secgroup_refresh(struct ctx *ctx, long long secgroup_id, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct hostref *hs = NULL;
	struct cerr first = { 0 };
	size_t nh = 0, i, failed = 0, at = 0;
	char name[NAME_MAX_LEN + 1] = "?";

	if (catalog_query(ctx->cat, &st, err, "SELECT name FROM secgroups "
	    "WHERE id = ?", "i", secgroup_id))
		return err->code;
	if (cstmt_row(st, err))
		snprintf(name, sizeof(name), "%s", cstmt_text(st, 0));
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no security group %lld",
		    secgroup_id);
	cstmt_free(st);
	if (err->code)
		return err->code;
	if (catalog_query(ctx->cat, &st, err, "SELECT DISTINCT h.id, h.name, "
	    "h.uri FROM hosts h WHERE h.id IN (SELECT v.host_id " AFFECTED
	    ") ORDER BY h.id", "i", secgroup_id))
		return err->code;
	hostrefs_read(st, &hs, &nh, err);
	cstmt_free(st);
	if (err->code)
		return err->code;
	/* each host on its own: one that fails leaves the others done */
	for (i = 0; i < nh; i++) {
		struct cerr e = { 0 };

		if (refresh_host(ctx, secgroup_id, &hs[i], &e) == 0)
			continue;
		if (failed++ == 0) {
			first = e;
			at = i;
		}
	}
	if (failed)
		cerr_set(err, CERR_PARTIAL, "security group '%s': filters not "
		    "brought up to date on %zu of %zu host%s; host '%s': %s "
		    "(retry with 'cnet secgroup refresh')", name, failed, nh,
		    nh == 1 ? "" : "s", hs[at].name, first.msg);
	hostrefs_free(hs, nh);
	return err->code;
}

#define STALE_KEY "secgroup.stale."

int
secgroup_mark_members(struct ctx *ctx, long long vm_id, long long nic_id,
    struct cerr *err)
{
	char now[32];

	catalog_now(now);
	return catalog_exec(ctx->cat, err, "INSERT OR REPLACE INTO settings "
	    "(key, value) SELECT DISTINCT '" STALE_KEY "' || r.secgroup_id, "
	    "?1 || ' ' || ?2 FROM secgroup_rules r JOIN nic_secgroups ns ON "
	    "ns.secgroup_id = r.peer_group JOIN vm_nics n ON n.id = ns.nic_id "
	    "WHERE n.vm_id = ?3 AND (?4 = 0 OR n.id = ?4)", "siii", now,
	    (long long)getpid(), vm_id, nic_id);
}

int
secgroup_refresh_marked(struct ctx *ctx, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct mark {
		long long id;
		char *value;
	} *m = NULL;
	struct cerr first = { 0 };
	size_t n = 0, cap = 0, i;

	if (catalog_query(ctx->cat, &st, err, "SELECT substr(key, ?1), value "
	    "FROM settings WHERE key LIKE '" STALE_KEY "%' ORDER BY key", "i",
	    (long long)sizeof(STALE_KEY)))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(&m, &cap, n + 1, sizeof(*m));
		m[n].id = atoll(cstmt_text(st, 0));
		m[n++].value = xstrdup(cstmt_text(st, 1));
	}
	cstmt_free(st);
	for (i = 0; i < n && err->code == 0; i++) {
		struct cerr e = { 0 };
		char key[64];

		snprintf(key, sizeof(key), STALE_KEY "%lld", m[i].id);
		if (secgroup_refresh(ctx, m[i].id, &e) != 0 &&
		    e.code != CERR_NOTFOUND) {
			if (first.code == 0)
				first = e;
			continue;
		}
		/* cleared unless marked again meanwhile */
		catalog_exec(ctx->cat, err, "DELETE FROM settings WHERE key = ? "
		    "AND value = ?", "ss", key, m[i].value);
	}
	for (i = 0; i < n; i++)
		free(m[i].value);
	free(m);
	if (err->code == 0 && first.code)
		cerr_set(err, first.code, "%s", first.msg);
	return err->code;
}

void
secgroup_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *))
{
	struct cerr err = { 0 };
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, &err, "SELECT s.name FROM secgroups "
	    "s WHERE " SG_VISIBLE "AND substr(s.name, 1, length(?4)) = ?4 "
	    "ORDER BY s.name", "iiis", (long long)ctx->who.admin,
	    ctx->who.user_id, ctx->who.group_id, prefix))
		return;
	while (cstmt_row(st, &err))
		each(cstmt_text(st, 0));
	cstmt_free(st);
}
