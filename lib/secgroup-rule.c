/*
 * secgroup-rule.c - service: the rules of security groups: checked,
 * normalised, added and removed.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "acct.h"
#include "catalog.h"
#include "secgroup-int.h"
#include "secgroup.h"
#include "valid.h"
#include "compat.h"

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
int
secgroup_rule_check(struct ctx *ctx, const struct secgroup_rule *in,
    struct sg_rule *r, struct cerr *err)
{
	static const char *const dirs[] = { "in", "out" };
	static const char *const protos[] = { "tcp", "udp", "icmp", "all" };
	int family;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (in->direction == NULL)
		return cerr_set(err, CERR_USAGE, "direction: missing (in or "
		    "out)");
	if (valid_enum(in->direction, dirs, ARRAY_SIZE(dirs), &i,
	    "direction", err))
		return err->code;
	snprintf(r->dir, sizeof(r->dir), "%s", dirs[i]);
	if (in->proto == NULL)
		return cerr_set(err, CERR_USAGE, "proto: missing (tcp, udp, "
		    "icmp or all)");
	if (valid_enum(in->proto, protos, ARRAY_SIZE(protos), &i, "proto",
	    err))
		return err->code;
	snprintf(r->proto, sizeof(r->proto), "%s", protos[i]);
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

		if (secgroup_find(ctx, in->group, &g, err))
			return err->code;
		r->peer = g.id;
		snprintf(r->peer_name, sizeof(r->peer_name), "%s", g.name);
	}
	return 0;
}

/* The id of the rule of group gid equal to r, or 0. */
int
secgroup_rule_find(struct ctx *ctx, long long gid, const struct sg_rule *r,
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

int
secgroup_rule_insert(struct ctx *ctx, long long gid, const struct sg_rule *r,
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
void
secgroup_rule_text(const struct sg_rule *r, char *out, size_t len)
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

int
secgroup_rule_touch(struct ctx *ctx, long long gid, struct cerr *err)
{
	char now[32];

	catalog_now(now);
	return catalog_exec(ctx->cat, err, "UPDATE secgroups SET updated = ? "
	    "WHERE id = ?", "si", now, gid);
}

/* After a committed change: refresh, and hand out the document even when
 * some host was left behind. */
int
secgroup_rule_after_change(struct ctx *ctx, long long gid, struct doc **out,
    struct cerr *err)
{
	struct cerr shown = { 0 };

	secgroup_refresh(ctx, gid, err);
	if (out)
		secgroup_doc(ctx, gid, out, &shown);
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
	if (secgroup_find_mine(ctx, ref, "change", &g, err) ||
	    secgroup_rule_check(ctx, in, &r, err) ||
	    secgroup_rule_find(ctx, g.id, &r, &rid, err))
		goto fail;
	secgroup_rule_text(&r, text, sizeof(text));
	if (rid) {
		cerr_set(err, CERR_CONFLICT, "security group '%s' has the rule "
		    "'%s' already (rule %lld)", g.name, text, rid);
		goto fail;
	}
	if (secgroup_rule_insert(ctx, g.id, &r, err) ||
	    secgroup_rule_touch(ctx, g.id, err) ||
	    acct_audit(ctx, "rule-add", "SecurityGroup", g.id, g.name, text,
	    err) || catalog_commit(ctx->cat, err))
		goto fail;
	return secgroup_rule_after_change(ctx, g.id, out, err);
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
	if (secgroup_find_mine(ctx, ref, "change", &g, err))
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
		if (secgroup_rule_check(ctx, in, &r, err) ||
		    secgroup_rule_find(ctx, g.id, &r, &rid, err))
			goto fail;
		secgroup_rule_text(&r, text, sizeof(text));
		if (rid == 0) {
			cerr_set(err, CERR_NOTFOUND, "security group '%s' has "
			    "no rule '%s'", g.name, text);
			goto fail;
		}
	}
	if (catalog_exec(ctx->cat, err, "DELETE FROM secgroup_rules WHERE "
	    "id = ?", "i", rid) || secgroup_rule_touch(ctx, g.id, err) ||
	    acct_audit(ctx, "rule-remove", "SecurityGroup", g.id, g.name,
	    text, err) || catalog_commit(ctx->cat, err))
		goto fail;
	return secgroup_rule_after_change(ctx, g.id, out, err);
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

int
secgroup_sync(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct sg g;

	if (secgroup_find_mine(ctx, ref, "refresh", &g, err))
		return err->code;
	return secgroup_refresh(ctx, g.id, err);
}
