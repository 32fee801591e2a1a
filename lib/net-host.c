/*
 * net-host.c - service: networks realised on hosts (libvirt networks
 * defined on demand, undefined when their host's last NIC leaves).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "hv.h"
#include "ipaddr.h"
#include "net-int.h"
#include "net.h"
#include "xalloc.h"
#include "compat.h"

/* Realisation on hosts. */

/* The libvirt network XML of r. */
static char *
net_host_xml(const struct net_row *r)
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
		if (net_range_cidr(r, 4, &net, &last, &prefix) &&
		    ipaddr_add(&net, 1)) {
			ipaddr_format(&net, gw);
			buf_printf(&b, "  <ip address='%s' prefix='%d'/>\n", gw,
			    prefix);
		}
		if (net_range_cidr(r, 6, &net, &last, &prefix) &&
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
	struct net_row r = { 0 };
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
		r.bridge = net_dup_or_null(cstmt_text(st, 3));
		r.vlan = cstmt_null(st, 4) ? 0 : cstmt_int(st, 4);
		r.cidr = net_dup_or_null(cstmt_text(st, 5));
		r.cidr6 = net_dup_or_null(cstmt_text(st, 6));
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
	xml = net_host_xml(&r);
	if (hv_net_ensure(hv, name, xml, err))
		cerr_wrap(err, "cannot realise network '%s'", r.name);
out:
	free(xml);
	net_row_release(&r);
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
