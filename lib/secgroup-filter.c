/*
 * secgroup-filter.c - service: security groups realised as libvirt
 * nwfilters: the filters of groups and NICs, defined on the hosts their
 * NICs are on and refreshed when a group or its peers change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "catalog.h"
#include "hv.h"
#include "secgroup-int.h"
#include "secgroup.h"
#include "xalloc.h"
#include "compat.h"

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
	secgroup_hostrefs_read(st, &hs, &nh, err);
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
	secgroup_hostrefs_free(hs, nh);
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
