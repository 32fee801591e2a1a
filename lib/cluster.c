/*
 * cluster.c - service: clusters.  Uses the catalog adapter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "buf.h"
#include "capacity.h"
#include "catalog.h"
#include "cluster.h"
#include "valid.h"
#include "rows.h"
#include "compat.h"

/* Sums over the hosts h of cluster c. */
#define IN_CLUSTER(expr) \
	"(SELECT COALESCE(sum(" expr "), 0) FROM hosts h " \
	"WHERE h.cluster_id = c.id)"

#define CLUSTER_COLS \
	"SELECT c.id, c.name, " \
	"(SELECT count(*) FROM hosts h WHERE h.cluster_id = c.id), " \
	IN_CLUSTER(HOST_CPU) ", " IN_CLUSTER(HOST_MEMORY) ", " \
	IN_CLUSTER(HOST_USED_CPU) ", " IN_CLUSTER(HOST_USED_MEMORY) ", " \
	"u.name, g.name, c.created, c.updated " \
	"FROM clusters c JOIN users u ON u.id = c.owner " \
	"JOIN groups g ON g.id = c.group_id "

/* The columns of CLUSTER_COLS, in its order: a row is read by these names. */
enum cluster_col {
	CLUSTER_COL_ID, CLUSTER_COL_NAME,
	CLUSTER_COL_HOSTS,		/* how many hosts are in it */
	CLUSTER_COL_CPU, CLUSTER_COL_MEMORY,	/* sums of HOST_CPU, ... */
	CLUSTER_COL_USED_CPU, CLUSTER_COL_USED_MEMORY,
	CLUSTER_COL_OWNER,		/* u.name */
	CLUSTER_COL_GROUP_OWNER,	/* g.name */
	CLUSTER_COL_CREATED, CLUSTER_COL_UPDATED,
};

static struct doc *
cluster_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "Cluster");
	doc_set_int(d, "id", cstmt_int(st, CLUSTER_COL_ID));
	doc_set_str(d, "name", cstmt_text(st, CLUSTER_COL_NAME));
	doc_set_int(d, "hosts", cstmt_int(st, CLUSTER_COL_HOSTS));
	/* the sums of its hosts' effective capacity and allocation */
	doc_set_int(d, "cpu", cstmt_int(st, CLUSTER_COL_CPU));
	doc_set_int(d, "memory", cstmt_int(st, CLUSTER_COL_MEMORY));
	doc_set_int(d, "used_cpu", cstmt_int(st, CLUSTER_COL_USED_CPU));
	doc_set_int(d, "used_memory", cstmt_int(st, CLUSTER_COL_USED_MEMORY));
	doc_set_str(d, "owner", cstmt_text(st, CLUSTER_COL_OWNER));
	doc_set_str(d, "group_owner", cstmt_text(st, CLUSTER_COL_GROUP_OWNER));
	doc_set_str(d, "created", cstmt_text(st, CLUSTER_COL_CREATED));
	doc_set_str(d, "updated", cstmt_text(st, CLUSTER_COL_UPDATED));
	return d;
}

int
cluster_id(struct ctx *ctx, const char *name, long long *id,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, "SELECT id FROM clusters "
	    "WHERE name = ?", "s", name))
		return err->code;
	if (cstmt_row(st, err)) {
		if (id)
			*id = cstmt_int(st, 0);
	} else if (err->code == 0) {
		cerr_set(err, CERR_NOTFOUND, "no cluster '%s'", name);
	}
	cstmt_free(st);
	return err->code;
}

int
cluster_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	long long id;

	if (!valid_id(ref, &id))
		id = -1;
	if (catalog_query(ctx->cat, &st, err, CLUSTER_COLS "WHERE c.id = ? "
	    "OR (? < 0 AND c.name = ?)", "iis", id, id, ref))
		return err->code;
	if (cstmt_row(st, err))
		*out = cluster_doc(st);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no cluster '%s'", ref);
	cstmt_free(st);
	return err->code;
}

int
cluster_list(struct ctx *ctx, emit_fn emit, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, CLUSTER_COLS "ORDER BY c.id",
	    ""))
		return err->code;
	rows_emit(ctx, st, cluster_doc, emit, err);
	cstmt_free(st);
	return err->code;
}

int
cluster_add(struct ctx *ctx, const char *name, struct doc **out,
    struct cerr *err)
{
	char now[32];

	if (acct_require_admin(ctx, "add clusters", err) ||
	    valid_name("cluster", name, err))
		return err->code;
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		return err->code;
	if (catalog_exec(ctx->cat, err, "INSERT INTO clusters (name, owner, "
	    "group_id, created, updated) VALUES (?, ?, ?, ?, ?)", "siiss",
	    name, ctx->who.user_id, ctx->who.group_id, now, now)) {
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "cluster '%s' exists "
			    "already", name);
		}
		goto fail;
	}
	if (acct_audit(ctx, "create", "Cluster", catalog_last_id(ctx->cat),
	    name, NULL, err) || catalog_commit(ctx->cat, err))
		goto fail;
	return cluster_show(ctx, name, out, err);
fail:
	catalog_rollback(ctx->cat);
	return err->code;
}

int
cluster_remove(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct doc *c = NULL;
	long long hosts;

	if (acct_require_admin(ctx, "remove clusters", err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	if (cluster_show(ctx, ref, &c, err))
		goto fail;
	hosts = doc_map_get(c, "hosts")->u.i;
	if (hosts > 0) {
		cerr_set(err, CERR_CONFLICT, "cannot remove cluster '%s': "
		    "%lld host%s in it (move them with 'chost set HOST "
		    "--cluster C' or --no-cluster first)",
		    doc_get_str(c, "name"), hosts, hosts == 1 ? " is" :
		    "s are");
		goto fail;
	}
	if (catalog_exec(ctx->cat, err, "DELETE FROM clusters WHERE id = ?",
	    "i", doc_map_get(c, "id")->u.i) || acct_audit(ctx, "delete",
	    "Cluster", doc_map_get(c, "id")->u.i, doc_get_str(c, "name"),
	    NULL, err) || catalog_commit(ctx->cat, err))
		goto fail;
	doc_free(c);
	return 0;
fail:
	catalog_rollback(ctx->cat);
	doc_free(c);
	return err->code;
}

int
cluster_check(const struct doc *d, const char *where, struct cerr *err)
{
	const struct doc *v = doc_map_get(d, "name");

	if (v == NULL || v->type != DOC_STR)
		cerr_set(err, CERR_USAGE, "name: %s", v ? "expected a string" :
		    "missing");
	else
		valid_name("cluster", v->u.s, err);
	return err->code ? cerr_wrap(err, "%s", where) : 0;
}

int
cluster_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	const struct doc *v = doc_map_get(d, "name");

	if (v == NULL || v->type != DOC_STR) {
		cerr_set(err, CERR_USAGE, "name: %s", v ? "expected a string" :
		    "missing");
		return cerr_wrap(err, "%s", where);
	}
	if (acct_require_admin(ctx, "change clusters", err))
		return err->code;
	if (cluster_id(ctx, v->u.s, NULL, err) == 0)
		return cluster_show(ctx, v->u.s, out, err);
	if (err->code != CERR_NOTFOUND)
		return err->code;
	cerr_clear(err);
	return cluster_add(ctx, v->u.s, out, err);
}

void
cluster_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *))
{
	struct cerr err = { 0 };
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, &err, "SELECT name FROM clusters "
	    "WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name", "s",
	    prefix))
		return;
	while (cstmt_row(st, &err))
		each(cstmt_text(st, 0));
	cstmt_free(st);
}
