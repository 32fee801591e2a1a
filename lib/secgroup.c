/*
 * secgroup.c - service: security groups: found, shown, listed, made,
 * shared, deleted and applied.  The family: secgroup-rule.c (their rules)
 * and secgroup-filter.c (their nwfilter realisation on hosts), sharing
 * secgroup-int.h.  Uses the catalog and hv adapters; never prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "bounds.h"
#include "catalog.h"
#include "hv.h"
#include "secgroup-int.h"
#include "secgroup.h"
#include "valid.h"
#include "xalloc.h"
#include "compat.h"
#define SG_COLS \
	"SELECT s.id, s.name, s.description, s.visibility, u.name, g.name, " \
	"s.created, s.updated, s.owner, (SELECT count(*) FROM nic_secgroups " \
	"n WHERE n.secgroup_id = s.id) FROM secgroups s " \
	"JOIN users u ON u.id = s.owner JOIN groups g ON g.id = s.group_id "

/* The columns of SG_COLS, in its order: a row is read by these names. */
enum sg_col {
	SG_COL_ID, SG_COL_NAME, SG_COL_DESCRIPTION, SG_COL_VISIBILITY,
	SG_COL_OWNER,			/* u.name */
	SG_COL_GROUP_OWNER,		/* g.name */
	SG_COL_CREATED, SG_COL_UPDATED,
	SG_COL_OWNER_ID,		/* s.owner */
	SG_COL_NICS,			/* how many NICs are in it */
};

/* What the caller may see and use: binds ?1 (admin), ?2 (user id), ?3
 * (the user's group id). */
#define SG_VISIBLE "(?1 OR s.owner = ?2 OR s.visibility = 'public' OR " \
	"(s.visibility = 'group' AND s.group_id = ?3)) "

/* *v, in any case, becomes its canonical name (valid_enum). */
static int
visibility_ok(const char **v, struct cerr *err)
{
	static const char *const names[] = { "private", "group", "public" };
	size_t i;

	if (valid_enum(*v, names, ARRAY_SIZE(names), &i, "visibility", err))
		return err->code;
	*v = names[i];
	return 0;
}

/* The group ref names (an id or a name), if the caller may see it. */
int
secgroup_find(struct ctx *ctx, const char *ref, struct sg *g, struct cerr *err)
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
int
secgroup_find_mine(struct ctx *ctx, const char *ref, const char *what,
    struct sg *g, struct cerr *err)
{
	if (secgroup_find(ctx, ref, g, err))
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

	if (secgroup_find(ctx, ref, &g, err))
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
int
secgroup_doc(struct ctx *ctx, long long id, struct doc **out, struct cerr *err)
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
		doc_set_int(d, "id", cstmt_int(st, SG_COL_ID));
		doc_set_str(d, "name", cstmt_text(st, SG_COL_NAME));
		doc_set_str(d, "description", cstmt_text(st,
		    SG_COL_DESCRIPTION));
		doc_set_str(d, "visibility", cstmt_text(st,
		    SG_COL_VISIBILITY));
		doc_set_str(d, "owner", cstmt_text(st, SG_COL_OWNER));
		doc_set_str(d, "group_owner", cstmt_text(st,
		    SG_COL_GROUP_OWNER));
		doc_set_str(d, "created", cstmt_text(st, SG_COL_CREATED));
		doc_set_str(d, "updated", cstmt_text(st, SG_COL_UPDATED));
		owner = cstmt_int(st, SG_COL_OWNER_ID);
		doc_set_int(d, "nics", cstmt_int(st, SG_COL_NICS));
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

	if (secgroup_find(ctx, ref, &g, err))
		return err->code;
	return secgroup_doc(ctx, g.id, out, err);
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

		if (secgroup_doc(ctx, ids[i], &d, err) == 0)
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
	return secgroup_doc(ctx, id, out, err);
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
	    visibility_ok(&visibility, err))
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

	if (visibility_ok(&visibility, err))
		return err->code;
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (secgroup_find_mine(ctx, ref, strcmp(visibility, "private") == 0 ?
	    "unpublish" : "publish", &g, err))
		goto fail;
	catalog_now(now);
	/* in that visibility already: nothing written, as systemctl */
	if (catalog_exec(ctx->cat, err, "UPDATE secgroups SET visibility = ?1, "
	    "updated = ?2 WHERE id = ?3 AND visibility != ?1", "ssi",
	    visibility, now, g.id))
		goto fail;
	if (catalog_changes(ctx->cat) == 0)
		catalog_rollback(ctx->cat);
	else if (acct_audit(ctx, strcmp(visibility, "private") == 0 ? "unpublish" :
	    "publish", "SecurityGroup", g.id, g.name, visibility, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	return show_id(ctx, g.id, out, err);
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

void
secgroup_hostrefs_free(struct hostref *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].uri);
	}
	free(h);
}

int
secgroup_hostrefs_read(struct cstmt *st, struct hostref **out, size_t *n,
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
		secgroup_hostrefs_free(h, *n);
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
	if (secgroup_find_mine(ctx, ref, "delete", &g, err))
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
	    secgroup_hostrefs_read(st, &hs, &nh, err))
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
	secgroup_hostrefs_free(hs, nh);
	return 0;
fail:
	cstmt_free(st);
	catalog_rollback(ctx->cat);
	secgroup_hostrefs_free(hs, nh);
	return err->code;
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
rule_from_doc(struct ctx *ctx, const struct doc *d, int i, struct sg_rule *r,
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
	if (secgroup_rule_check(ctx, &in, r, err))
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
	    (*vis && visibility_ok(vis, err)))
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
		if (rule_from_doc(NULL, rules->u.list.v[i], (int)i, &r, err))
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
	if (secgroup_find(ctx, name, &g, err) == CERR_NOTFOUND) {
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
			if (rule_from_doc(ctx, rules->u.list.v[i], (int)i,
			    &want[nwant++], err))
				goto fail;
		/* the rules become exactly those listed */
		for (i = 0; i < nwant; i++) {
			if (secgroup_rule_find(ctx, g.id, &want[i], &rid, err))
				goto fail;
			if (rid == 0) {
				char text[256];

				secgroup_rule_text(&want[i], text,
				    sizeof(text));
				if (secgroup_rule_insert(ctx, g.id, &want[i],
				    err))
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
		if (changed && secgroup_rule_touch(ctx, g.id, err))
			goto fail;
	}
	if (catalog_commit(ctx->cat, err))
		goto fail;
	free(want);
	free(keep);
	if (changed && !created)
		return secgroup_rule_after_change(ctx, g.id, out, err);
	return secgroup_doc(ctx, g.id, out, err);
fail:
	cstmt_free(st);
	catalog_rollback(ctx->cat);
	free(want);
	free(keep);
	return cerr_wrap(err, "%s", where);
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
