/*
 * vol-ds.c - service: datastores (a libvirt dir pool at the same path on
 * each of its hosts): shown, listed, added, removed and applied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "catalog.h"
#include "hv.h"
#include "valid.h"
#include "vol-int.h"
#include "vol.h"
#include "xalloc.h"
#include "compat.h"

/* Datastore names become pool names and folder names: keep them plain. */
static int
ds_name_ok(const char *name, struct cerr *err)
{
	const char *p;

	if (valid_name("datastore", name, err))
		return err->code;
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.'))
			return cerr_set(err, CERR_USAGE, "datastore name '%s' "
			    "may hold only letters, digits, '-', '_' and '.'",
			    name);
	return 0;
}

/* Datastores. */

struct dshost {
	long long id;
	char *name, *uri;
};

static void
dshosts_free(struct dshost *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].uri);
	}
	free(v);
}

int
vol_ds_id(struct ctx *ctx, const char *ref, long long *id, char **name,
    char **path, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long want;

	if (!valid_id(ref, &want))
		want = -1;
	if (catalog_query(ctx->cat, &st, err, "SELECT id, name, path FROM "
	    "datastores WHERE id = ?1 OR (?1 < 0 AND name = ?2)", "is", want,
	    ref))
		return err->code;
	if (cstmt_row(st, err)) {
		*id = cstmt_int(st, 0);
		if (name)
			*name = xstrdup(cstmt_text(st, 1));
		if (path)
			*path = xstrdup(cstmt_text(st, 2));
	} else if (err->code == 0) {
		cerr_set(err, CERR_NOTFOUND, "no datastore '%s'", ref);
	}
	cstmt_free(st);
	return err->code;
}

static int
ds_hosts(struct ctx *ctx, long long ds, struct dshost **out, size_t *n,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (catalog_query(ctx->cat, &st, err, "SELECT h.id, h.name, h.uri "
	    "FROM datastore_hosts x JOIN hosts h ON h.id = x.host_id WHERE "
	    "x.datastore_id = ? ORDER BY h.id", "i", ds))
		return err->code;
	while (cstmt_row(st, err)) {
		xgrow(out, &cap, *n + 1, sizeof(**out));
		(*out)[*n].id = cstmt_int(st, 0);
		(*out)[*n].name = xstrdup(cstmt_text(st, 1));
		(*out)[*n].uri = xstrdup(cstmt_text(st, 2));
		(*n)++;
	}
	cstmt_free(st);
	return err->code;
}

#define DS_COLS \
	"SELECT d.id, d.name, d.path, " \
	"(SELECT count(*) FROM volumes v WHERE v.datastore_id = d.id), " \
	"u.name, g.name, d.created, d.updated FROM datastores d " \
	"JOIN users u ON u.id = d.owner JOIN groups g ON g.id = d.group_id "

/* The columns of DS_COLS, in its order: a row is read by these names. */
enum ds_col {
	DS_COL_ID, DS_COL_NAME, DS_COL_PATH,
	DS_COL_VOLUMES,			/* how many volumes are in it */
	DS_COL_OWNER,			/* u.name */
	DS_COL_GROUP_OWNER,		/* g.name */
	DS_COL_CREATED, DS_COL_UPDATED,
};

static struct doc *
ds_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);
	char pool[160];

	vol_pool_name(cstmt_text(st, DS_COL_NAME), pool);
	doc_set_str(d, "kind", "Datastore");
	doc_set_int(d, "id", cstmt_int(st, DS_COL_ID));
	doc_set_str(d, "name", cstmt_text(st, DS_COL_NAME));
	doc_set_str(d, "pool", pool);
	doc_set_str(d, "path", cstmt_text(st, DS_COL_PATH));
	doc_set_int(d, "volumes", cstmt_int(st, DS_COL_VOLUMES));
	doc_set_str(d, "owner", cstmt_text(st, DS_COL_OWNER));
	doc_set_str(d, "group_owner", cstmt_text(st, DS_COL_GROUP_OWNER));
	doc_set_str(d, "created", cstmt_text(st, DS_COL_CREATED));
	doc_set_str(d, "updated", cstmt_text(st, DS_COL_UPDATED));
	return d;
}

/* The hosts list of a datastore: figures live when live, else those
 * recorded by the last command that wrote them. */
static int
ds_hosts_doc(struct ctx *ctx, long long ds, const char *name, bool live,
    struct doc *d, struct cerr *err)
{
	struct cstmt *st = NULL;
	struct doc *list = doc_new(DOC_LIST);
	char pool[160];

	vol_pool_name(name, pool);
	if (catalog_query(ctx->cat, &st, err, "SELECT h.name, h.uri, "
	    "x.capacity, x.available FROM datastore_hosts x JOIN hosts h ON "
	    "h.id = x.host_id WHERE x.datastore_id = ? ORDER BY h.id", "i",
	    ds)) {
		doc_free(list);
		return err->code;
	}
	while (cstmt_row(st, err)) {
		struct doc *h = doc_new(DOC_MAP);
		struct hv_pool_info pi = { 0 };
		struct cerr e = { 0 };
		struct hv *hv = NULL;

		doc_set_str(h, "host", cstmt_text(st, 0));
		if (!live) {
			doc_set_int(h, "capacity", cstmt_int(st, 2));
			doc_set_int(h, "available", cstmt_int(st, 3));
		} else if (hv_connect(cstmt_text(st, 1), &hv, &e) == 0 &&
		    hv_pool_info(hv, pool, &pi, &e) == 0) {
			doc_set_str(h, "state", pi.active ? "active" :
			    "inactive");
			doc_set_int(h, "capacity", pi.capacity);
			doc_set_int(h, "allocation", pi.allocation);
			doc_set_int(h, "available", pi.available);
		} else {
			doc_set_str(h, "error", e.msg);
		}
		hv_close(hv);
		doc_list_push(list, h);
	}
	cstmt_free(st);
	doc_map_set(d, "hosts", list);
	return err->code;
}

static int
ds_show(struct ctx *ctx, const char *ref, bool live, struct doc **out,
    struct cerr *err)
{
	struct cstmt *st = NULL;
	struct doc *d = NULL;
	long long id;

	if (!valid_id(ref, &id))
		id = -1;
	if (catalog_query(ctx->cat, &st, err, DS_COLS "WHERE d.id = ?1 OR "
	    "(?1 < 0 AND d.name = ?2)", "is", id, ref))
		return err->code;
	if (cstmt_row(st, err))
		d = ds_doc(st);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no datastore '%s'", ref);
	cstmt_free(st);
	if (d && ds_hosts_doc(ctx, doc_map_get(d, "id")->u.i,
	    doc_get_str(d, "name"), live, d, err) == 0) {
		*out = d;
		return 0;
	}
	doc_free(d);
	return err->code;
}

int
vol_ds_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	return ds_show(ctx, ref, true, out, err);
}

int
vol_ds_list(struct ctx *ctx, emit_fn emit, struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, DS_COLS "ORDER BY d.id", ""))
		return err->code;
	while (cstmt_row(st, err)) {
		struct doc *d = ds_doc(st);
		int rc = ds_hosts_doc(ctx, doc_map_get(d, "id")->u.i,
		    doc_get_str(d, "name"), false, d, err);

		if (rc == 0)
			rc = emit(ctx, d, err);
		doc_free(d);
		if (rc)
			break;
	}
	cstmt_free(st);
	return err->code;
}

/* Hosts by name, or every enabled host. */
static int
resolve_hosts(struct ctx *ctx, const char *const *names, size_t n,
    struct dshost **out, size_t *nout, struct cerr *err)
{
	struct cstmt *st = NULL;
	size_t i, cap = 0;

	*out = NULL;
	*nout = 0;
	for (i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				return cerr_set(err, CERR_USAGE, "host '%s' is "
				    "given twice", names[i]);
	}
	for (i = 0; i < (n ? n : 1) && err->code == 0; i++) {
		if (n ? catalog_query(ctx->cat, &st, err, "SELECT id, name, "
		    "uri FROM hosts WHERE name = ?", "s", names[i]) :
		    catalog_query(ctx->cat, &st, err, "SELECT id, name, uri "
		    "FROM hosts WHERE state = 'enabled' ORDER BY id", ""))
			break;
		while (cstmt_row(st, err)) {
			xgrow(out, &cap, *nout + 1, sizeof(**out));
			(*out)[*nout].id = cstmt_int(st, 0);
			(*out)[*nout].name = xstrdup(cstmt_text(st, 1));
			(*out)[*nout].uri = xstrdup(cstmt_text(st, 2));
			(*nout)++;
			if (n)
				break;
		}
		cstmt_free(st);
		if (n && err->code == 0 && *nout != i + 1)
			cerr_set(err, CERR_NOTFOUND, "no host '%s'", names[i]);
	}
	if (err->code == 0 && *nout == 0)
		cerr_set(err, CERR_CAPACITY, "no enabled host to put a "
		    "datastore on");
	return err->code;
}

int
vol_ds_add(struct ctx *ctx, const char *name, const char *path,
    const char *const *hosts, size_t n, struct doc **out, struct cerr *err)
{
	struct dshost *hs = NULL;
	struct hv_pool_info *pi = NULL;
	struct cstmt *st = NULL;
	char pool[160], now[32], *dflt = NULL;
	size_t i, done = 0;
	long long id;
	bool taken;

	if (acct_require_admin(ctx, "add datastores", err) ||
	    ds_name_ok(name, err))
		return err->code;
	if (path && path[0] != '/')
		return cerr_set(err, CERR_USAGE, "datastore path '%s' is not "
		    "absolute", path);
	if (path == NULL) {
		dflt = xmalloc(strlen(name) + 64);
		snprintf(dflt, strlen(name) + 64,
		    "/var/lib/libvirt/images/cloudos-%s", name);
		path = dflt;
	}
	if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM datastores "
	    "WHERE name = ?", "s", name))
		goto out;
	taken = cstmt_row(st, err);
	cstmt_free(st);
	if (err->code)
		goto out;
	if (taken) {
		cerr_set(err, CERR_CONFLICT, "datastore '%s' exists already",
		    name);
		goto out;
	}
	if (resolve_hosts(ctx, hosts, n, &hs, &n, err))
		goto out;
	vol_pool_name(name, pool);
	pi = xcalloc(n, sizeof(*pi));
	for (done = 0; done < n; done++) {
		struct hv *hv = NULL;

		if (hv_connect(hs[done].uri, &hv, err) == 0 &&
		    hv_pool_define(hv, pool, path, err) == 0)
			hv_pool_info(hv, pool, &pi[done], err);
		hv_close(hv);
		if (err->code) {
			cerr_wrap(err, "cannot add datastore '%s' on host '%s'",
			    name, hs[done].name);
			goto undo;
		}
	}
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto undo;
	if (catalog_exec(ctx->cat, err, "INSERT INTO datastores (name, path, "
	    "owner, group_id, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
	    "ssiiss", name, path, ctx->who.user_id, ctx->who.group_id, now,
	    now))
		goto fail;
	id = catalog_last_id(ctx->cat);
	for (i = 0; i < n; i++)
		if (catalog_exec(ctx->cat, err, "INSERT INTO datastore_hosts "
		    "(datastore_id, host_id, capacity, available, monitored) "
		    "VALUES (?, ?, ?, ?, ?)", "iiiis", id, hs[i].id,
		    pi[i].capacity, pi[i].available, now))
			goto fail;
	if (acct_audit(ctx, "create", "Datastore", id, name, path, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	ds_show(ctx, name, false, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
	if (err->code == CERR_CONFLICT) {
		/* another command took the name meanwhile: its pools are
		 * the same as ours, so they stay */
		cerr_clear(err);
		cerr_set(err, CERR_CONFLICT, "datastore '%s' exists already",
		    name);
		goto out;
	}
undo:
	for (i = 0; i < done; i++) {
		struct cerr ignored = { 0 };
		struct hv *hv = NULL;

		if (hv_connect(hs[i].uri, &hv, &ignored) == 0)
			hv_pool_undefine(hv, pool, &ignored);
		hv_close(hv);
	}
out:
	free(pi);
	free(dflt);
	dshosts_free(hs, n);
	return err->code;
}

int
vol_ds_remove(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct dshost *hs = NULL;
	struct cstmt *st = NULL;
	struct hv **hvs = NULL;
	char *name = NULL, pool[160];
	long long id, nvol = 0;
	size_t n = 0, i;

	if (acct_require_admin(ctx, "remove datastores", err) ||
	    vol_ds_id(ctx, ref, &id, &name, NULL, err))
		return err->code;
	if (catalog_query(ctx->cat, &st, err, "SELECT count(*) FROM volumes "
	    "WHERE datastore_id = ?", "i", id) == 0 && cstmt_row(st, err))
		nvol = cstmt_int(st, 0);
	cstmt_free(st);
	if (err->code)
		goto out;
	if (nvol > 0) {
		cerr_set(err, CERR_CONFLICT, "cannot remove datastore '%s': "
		    "%lld volume%s in it (delete them first)", name, nvol,
		    nvol == 1 ? " is" : "s are");
		goto out;
	}
	/* and VMs' disks */
	if (catalog_query(ctx->cat, &st, err, "SELECT count(*) FROM vm_disks "
	    "WHERE datastore_id = ?", "i", id) == 0 && cstmt_row(st, err))
		nvol = cstmt_int(st, 0);
	cstmt_free(st);
	if (err->code)
		goto out;
	if (nvol > 0) {
		cerr_set(err, CERR_CONFLICT, "cannot remove datastore '%s': "
		    "%lld disk%s of VMs %s in it (delete the VMs first)", name,
		    nvol, nvol == 1 ? "" : "s", nvol == 1 ? "is" : "are");
		goto out;
	}
	if (ds_hosts(ctx, id, &hs, &n, err))
		goto out;
	vol_pool_name(name, pool);
	/* every host must answer before any pool goes, so a refusal
	 * leaves the datastore whole */
	hvs = xcalloc(n ? n : 1, sizeof(*hvs));
	for (i = 0; i < n && err->code == 0; i++)
		if (hv_connect(hs[i].uri, &hvs[i], err))
			cerr_wrap(err, "cannot remove datastore '%s' from host "
			    "'%s'", name, hs[i].name);
	for (i = 0; i < n && err->code == 0; i++)
		if (hv_pool_undefine(hvs[i], pool, err))
			cerr_wrap(err, "cannot remove datastore '%s' from host "
			    "'%s'", name, hs[i].name);
	if (err->code)
		goto out;
	if (catalog_begin(ctx->cat, err))
		goto out;
	/* a volume created meanwhile keeps the datastore */
	if (catalog_exec(ctx->cat, err, "DELETE FROM datastores WHERE id = ? "
	    "AND NOT EXISTS (SELECT 1 FROM volumes WHERE datastore_id = ?1) "
	    "AND NOT EXISTS (SELECT 1 FROM vm_disks WHERE datastore_id = ?1)",
	    "i", id) ||
	    acct_audit(ctx, "delete", "Datastore", id, name, NULL, err) ||
	    catalog_commit(ctx->cat, err))
		catalog_rollback(ctx->cat);
out:
	for (i = 0; hvs && i < n; i++)
		hv_close(hvs[i]);
	free(hvs);
	free(name);
	dshosts_free(hs, n);
	return err->code;
}

/* The name, path and hosts of a Datastore document (borrowed from d;
 * *hosts is the caller's to free). */
static int
ds_doc_read(const struct doc *d, const char *where, const char **name,
    const char **path, const char ***hosts, size_t *n, struct cerr *err)
{
	const struct doc *hl = doc_map_get(d, "hosts");
	size_t i;

	*hosts = NULL;
	*n = 0;
	if (vol_doc_str(d, "name", true, name, where, err) ||
	    vol_doc_str(d, "path", false, path, where, err))
		return err->code;
	if (hl && hl->type != DOC_NULL) {
		if (hl->type != DOC_LIST) {
			cerr_set(err, CERR_USAGE, "hosts: expected a list of "
			    "host names");
			return cerr_wrap(err, "%s", where);
		}
		*hosts = xcalloc(hl->u.list.n + 1, sizeof(**hosts));
		for (i = 0; i < hl->u.list.n; i++) {
			const struct doc *h = hl->u.list.v[i];

			if (h->type != DOC_STR) {
				free(*hosts);
				*hosts = NULL;
				cerr_set(err, CERR_USAGE, "hosts: expected a "
				    "list of host names");
				return cerr_wrap(err, "%s", where);
			}
			(*hosts)[(*n)++] = h->u.s;
		}
	}
	return 0;
}

int
vol_ds_check(const struct doc *d, const char *where, struct cerr *err)
{
	const char *name, *path, **hosts;
	size_t n;

	if (ds_doc_read(d, where, &name, &path, &hosts, &n, err))
		return err->code;
	free(hosts);
	if (ds_name_ok(name, err))
		return cerr_wrap(err, "%s", where);
	if (path && path[0] != '/') {
		cerr_set(err, CERR_USAGE, "datastore path '%s' is not "
		    "absolute", path);
		return cerr_wrap(err, "%s", where);
	}
	return 0;
}

int
vol_ds_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err)
{
	const char *name, *path, **hosts = NULL;
	char *have = NULL;
	long long id;
	size_t n = 0;

	if (ds_doc_read(d, where, &name, &path, &hosts, &n, err))
		return err->code;
	if (vol_ds_id(ctx, name, &id, NULL, &have, err) == 0) {
		/* there already: the same, or a change cvol cannot make */
		if (path && strcmp(path, have) != 0)
			cerr_set(err, CERR_CONFLICT, "cannot move datastore "
			    "'%s' from '%s' to '%s'", name, have, path);
		else
			ds_show(ctx, name, false, out, err);
	} else if (err->code == CERR_NOTFOUND) {
		cerr_clear(err);
		vol_ds_add(ctx, name, path, hosts, n, out, err);
	}
	free(have);
	free(hosts);
	return err->code;
}
