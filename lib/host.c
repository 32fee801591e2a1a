/*
 * host.c - service: hosts.  Uses the catalog and hv adapters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "buf.h"
#include "catalog.h"
#include "host.h"
#include "hv.h"
#include "valid.h"
#include "vm.h"
#include "xalloc.h"
#include "labels.h"
#include "compat.h"

#define HOST_COLS \
	"SELECT h.id, h.name, h.uri, h.state, h.hypervisor, h.domain_type, " \
	"h.hostname, h.cpu, h.memory, h.labels, u.name, g.name, h.created, " \
	"h.updated, h.migration_address, " \
	"(SELECT COALESCE(sum(v.cpu), 0) FROM vms v WHERE v.host_id = h.id " \
	"  AND " VM_OCCUPIES "), " \
	"(SELECT COALESCE(sum(v.memory), 0) FROM vms v " \
	"  WHERE v.host_id = h.id AND " VM_OCCUPIES "), " \
	"(SELECT count(*) FROM vms v WHERE v.host_id = h.id " \
	"  AND " VM_OCCUPIES ") " \
	"FROM hosts h JOIN users u ON u.id = h.owner " \
	"JOIN groups g ON g.id = h.group_id "

static struct doc *
host_doc(struct cstmt *st)
{
	struct doc *d = doc_new(DOC_MAP);

	doc_set_str(d, "kind", "Host");
	doc_set_int(d, "id", cstmt_int(st, 0));
	doc_set_str(d, "name", cstmt_text(st, 1));
	doc_set_str(d, "uri", cstmt_text(st, 2));
	doc_set_str(d, "state", cstmt_text(st, 3));
	doc_set_str(d, "hypervisor", cstmt_text(st, 4));
	doc_set_str(d, "domain_type", cstmt_text(st, 5));
	doc_set_str(d, "hostname", cstmt_text(st, 6));
	doc_set_int(d, "cpu", cstmt_int(st, 7));
	doc_set_int(d, "memory", cstmt_int(st, 8));
	doc_set_int(d, "used_cpu", cstmt_int(st, 15));
	doc_set_int(d, "used_memory", cstmt_int(st, 16));
	doc_set_int(d, "free_cpu", cstmt_int(st, 7) - cstmt_int(st, 15));
	doc_set_int(d, "free_memory", cstmt_int(st, 8) - cstmt_int(st, 16));
	doc_set_int(d, "vms", cstmt_int(st, 17));
	if (!cstmt_null(st, 14))
		doc_set_str(d, "migration_address", cstmt_text(st, 14));
	doc_map_set(d, "labels", labels_from_json(cstmt_text(st, 9)));
	doc_set_str(d, "owner", cstmt_text(st, 10));
	doc_set_str(d, "group_owner", cstmt_text(st, 11));
	doc_set_str(d, "created", cstmt_text(st, 12));
	doc_set_str(d, "updated", cstmt_text(st, 13));
	return d;
}

static int
host_find(struct ctx *ctx, const char *ref, const char *more,
    struct cstmt **st, struct cerr *err)
{
	struct buf sql = BUF_INIT;
	long long id;
	int byid = valid_id(ref, &id), rc;

	buf_printf(&sql, HOST_COLS "WHERE %s %s", byid ? "h.id = ?" :
	    "h.name = ?", more ? more : "");
	rc = byid ? catalog_query(ctx->cat, st, err, sql.s, "i", id) :
	    catalog_query(ctx->cat, st, err, sql.s, "s", ref);
	buf_release(&sql);
	return rc;
}

int
host_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (host_find(ctx, ref, NULL, &st, err))
		return err->code;
	if (cstmt_row(st, err))
		*out = host_doc(st);
	else if (err->code == 0)
		cerr_set(err, CERR_NOTFOUND, "no host '%s'", ref);
	cstmt_free(st);
	return err->code;
}

int
host_list(struct ctx *ctx, const char *state, emit_fn emit,
    struct cerr *err)
{
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, err, HOST_COLS
	    "WHERE ?1 IS NULL OR h.state = ?1 ORDER BY h.id", "s", state))
		return err->code;
	while (cstmt_row(st, err)) {
		struct doc *d = host_doc(st);
		int rc = emit(ctx, d, err);

		doc_free(d);
		if (rc)
			break;
	}
	cstmt_free(st);
	return err->code;
}

int
host_add(struct ctx *ctx, const char *name, const char *uri,
    const char *address, const struct doc *labels, struct doc **out,
    struct cerr *err)
{
	struct buf json = BUF_INIT;
	struct cstmt *st = NULL;
	struct hv *hv = NULL;
	struct hv_node node;
	char now[32];
	long long id;
	int taken;

	if (acct_require_admin(ctx, "add hosts", err) ||
	    valid_name("host", name, err) || labels_to_json(labels, &json, err))
		goto out;
	if (*uri == '\0' || !valid_utf8(uri, strlen(uri)) ||
	    strchr(uri, '\n')) {
		cerr_set(err, CERR_USAGE, "invalid URI for host '%s'", name);
		goto out;
	}
	if (address && (*address == '\0' || strspn(address,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")
	    != strlen(address))) {
		cerr_set(err, CERR_USAGE, "invalid migration address '%s' (a "
		    "host name or an IP address)", address);
		goto out;
	}
	/* a taken name fails before we spend a connection on it */
	if (catalog_query(ctx->cat, &st, err, "SELECT 1 FROM hosts WHERE "
	    "name = ?", "s", name))
		goto out;
	taken = cstmt_row(st, err);
	cstmt_free(st);
	st = NULL;
	if (err->code)
		goto out;
	if (taken) {
		cerr_set(err, CERR_CONFLICT, "host '%s' exists already", name);
		goto out;
	}
	if (hv_connect(uri, &hv, err) || hv_node_info(hv, &node, err)) {
		cerr_wrap(err, "cannot add host '%s'", name);
		goto out;
	}
	catalog_now(now);
	if (catalog_begin(ctx->cat, err))
		goto out;
	if (catalog_exec(ctx->cat, err, "INSERT INTO hosts (name, uri, "
	    "hypervisor, domain_type, hostname, cpu, memory, labels, owner, "
	    "group_id, created, updated, migration_address) VALUES (?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "sssssdisiisss", name, uri,
	    node.hypervisor, node.domain_type, node.hostname, node.cpu,
	    node.memory, json.s, ctx->who.user_id, ctx->who.group_id, now, now,
	    address)) {
		if (err->code == CERR_CONFLICT) {
			cerr_clear(err);
			cerr_set(err, CERR_CONFLICT, "host '%s' exists "
			    "already", name);
		}
		goto fail;
	}
	id = catalog_last_id(ctx->cat);
	if (acct_audit(ctx, "create", "Host", id, name, uri, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	host_show(ctx, name, out, err);
	goto out;
fail:
	catalog_rollback(ctx->cat);
out:
	hv_close(hv);
	buf_release(&json);
	return err->code;
}

int
host_remove(struct ctx *ctx, const char *ref, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long id = 0, vms = 0;
	char *name = NULL;
	int found;

	if (acct_require_admin(ctx, "remove hosts", err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	if (host_find(ctx, ref, NULL, &st, err))
		goto fail;
	if ((found = cstmt_row(st, err))) {
		id = cstmt_int(st, 0);
		name = strdup(cstmt_text(st, 1));
		vms = cstmt_int(st, 17);
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (!found) {
		cerr_set(err, CERR_NOTFOUND, "no host '%s'", ref);
		goto fail;
	}
	if (vms > 0) {
		cerr_set(err, CERR_CONFLICT, "cannot remove host '%s': %lld "
		    "VM%s on it (delete or move them first)", name, vms,
		    vms == 1 ? " is" : "s are");
		goto fail;
	}
	if (catalog_exec(ctx->cat, err, "DELETE FROM hosts WHERE id = ?", "i",
	    id) || acct_audit(ctx, "delete", "Host", id, name, NULL, err) ||
	    catalog_commit(ctx->cat, err))
		goto fail;
	free(name);
	return 0;
fail:
	catalog_rollback(ctx->cat);
	free(name);
	return err->code;
}

int
host_set_state(struct ctx *ctx, const char *ref, const char *state,
    struct doc **out, struct cerr *err)
{
	struct cstmt *st = NULL;
	long long id = 0;
	char *name = NULL, *old = NULL, now[32], detail[64];
	int found;

	if (acct_require_admin(ctx, strcmp(state, "enabled") == 0 ?
	    "enable hosts" : "disable hosts", err) ||
	    catalog_begin(ctx->cat, err))
		return err->code;
	if (host_find(ctx, ref, NULL, &st, err))
		goto fail;
	if ((found = cstmt_row(st, err))) {
		id = cstmt_int(st, 0);
		name = strdup(cstmt_text(st, 1));
		old = strdup(cstmt_text(st, 3));
	}
	cstmt_free(st);
	if (err->code)
		goto fail;
	if (!found) {
		cerr_set(err, CERR_NOTFOUND, "no host '%s'", ref);
		goto fail;
	}
	catalog_now(now);
	snprintf(detail, sizeof(detail), "%s -> %s", old, state);
	if (strcmp(old, state) != 0 && (catalog_exec(ctx->cat, err,
	    "UPDATE hosts SET state = ?, updated = ? WHERE id = ?", "ssi",
	    state, now, id) || acct_audit(ctx, strcmp(state, "enabled") == 0
	    ? "enable" : "disable", "Host", id, name, detail, err)))
		goto fail;
	if (catalog_commit(ctx->cat, err))
		goto fail;
	free(name);
	free(old);
	return host_show(ctx, ref, out, err);
fail:
	catalog_rollback(ctx->cat);
	free(name);
	free(old);
	return err->code;
}

int
host_drain(struct ctx *ctx, const char *ref, emit_fn emit,
    void (*note)(struct ctx *, const char *), struct cerr *err)
{
	struct doc *h = NULL;
	struct cstmt *st = NULL;
	long long *ids = NULL, hid;
	size_t n = 0, cap = 0, i, failed = 0;
	int code = 0;

	if (host_set_state(ctx, ref, "disabled", &h, err))
		return err->code;
	hid = doc_map_get(h, "id")->u.i;
	if (catalog_query(ctx->cat, &st, err, "SELECT id FROM vms WHERE "
	    "host_id = ? AND state IN ('running', 'suspended', 'poweroff') "
	    "ORDER BY id", "i", hid))
		goto out;
	while (cstmt_row(st, err)) {
		xgrow(&ids, &cap, n + 1, sizeof(*ids));
		ids[n++] = cstmt_int(st, 0);
	}
	cstmt_free(st);
	for (i = 0; i < n && err->code == 0; i++) {
		struct cerr one = { 0 };
		struct doc *vm = NULL;
		char id[32];

		snprintf(id, sizeof(id), "%lld", ids[i]);
		if (vm_migrate(ctx, id, NULL, true, &vm, &one)) {
			note(ctx, one.msg);
			code = failed++ == 0 || code == one.code ? one.code :
			    CERR_PARTIAL;
			continue;
		}
		emit(ctx, vm, err);
		doc_free(vm);
	}
	if (err->code == 0 && failed)
		cerr_set(err, failed < n ? CERR_PARTIAL : code, "host '%s' is "
		    "disabled, but %zu of its %zu VMs did not move",
		    doc_get_str(h, "name"), failed, n);
out:
	free(ids);
	doc_free(h);
	return err->code;
}

void
host_names(struct ctx *ctx, const char *prefix, void (*each)(const char *))
{
	struct cerr err = { 0 };
	struct cstmt *st = NULL;

	if (catalog_query(ctx->cat, &st, &err, "SELECT name FROM hosts WHERE "
	    "substr(name, 1, length(?1)) = ?1 ORDER BY name", "s", prefix))
		return;
	while (cstmt_row(st, &err))
		each(cstmt_text(st, 0));
	cstmt_free(st);
}
