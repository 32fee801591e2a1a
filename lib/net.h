/*
 * net.h - service: virtual networks, address ranges, leases and the NICs
 * of VMs.  Uses the catalog and hv adapters and the ipaddr engine; never
 * prints.
 *
 * A network has a mode (nat, routed, isolated, bridge), an IPv4 and/or an
 * IPv6 CIDR, and address ranges inside them.  It is realised as the
 * libvirt network cloudos-net-ID on each host that has a NIC on it
 * (network_hosts), defined there on demand and undefined when the host's
 * last NIC on it leaves.  In modes nat, routed and isolated libvirt makes
 * the bridge cbrID holding the CIDR's first address, the gateway; in mode
 * bridge the VMs' NICs join an existing host bridge.
 *
 * A lease is one address of a network: a NIC's, or reserved by hand.
 * Leases are allocated in the caller's write transaction, the lowest
 * free address of the first range with one, and UNIQUE (network, ip)
 * keeps two from ever holding the same address.  A NIC's MAC is the
 * catalog's prefix (setting mac_prefix) and random bytes, unique across
 * the catalog.
 *
 * Who may use a network: its owner, its group when its visibility is
 * group, everyone when public, admins always; others are told it does not
 * exist (CERR_NOTFOUND).  Changes are for its owner and admins
 * (CERR_PERM for others who can see it).
 *
 * Documents returned through out are the caller's (doc_free).  Codes:
 * CERR_USAGE bad input, CERR_NOTFOUND, CERR_PERM, CERR_CONFLICT (name or
 * address taken, leases still held), CERR_CAPACITY (no free address),
 * CERR_UNREACHABLE a host that does not answer.
 */
#ifndef CLOUDOS_NET_H
#define CLOUDOS_NET_H

#include <stddef.h>

#include "cerr.h"
#include "buf.h"
#include "ctx.h"
#include "doc.h"
#include "rows.h"

struct hv;

#define NET_LIBVIRT_PREFIX "cloudos-net-"
#define NET_MAC_PREFIX_DEFAULT "02:c1:0d"
/* NICs per VM */
#define NET_MAX_NICS 16

/* What `cnet create` asks for. */
struct net_spec {
	const char *name;
	const char *mode;
	const char *bridge;		/* mode bridge: the host's bridge */
	long long vlan;			/* 0: none */
	const char *cidr, *cidr6;	/* NULL: none */
	const char *visibility;		/* NULL: private */
	const char *const *dns;		/* for the default ranges */
	size_t ndns;
};

int net_create(struct ctx *ctx, const struct net_spec *s, struct doc **out,
    struct cerr *err);
int net_list(struct ctx *ctx, emit_fn emit, struct cerr *err);
int net_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* CERR_CONFLICT while it has leases (reservations count). */
int net_delete(struct ctx *ctx, const char *ref, struct cerr *err);
int net_set_visibility(struct ctx *ctx, const char *ref, const char *vis,
    struct doc **out, struct cerr *err);
/* A range [first, last] inside the network's CIDR of their family, not
 * overlapping another and not holding the gateway; gateway NULL takes the
 * network's (none in mode bridge).  Remove: by range id; CERR_CONFLICT
 * while it has leases. */
int net_range_add(struct ctx *ctx, const char *ref, const char *first,
    const char *last, const char *gateway, const char *const *dns,
    size_t ndns, struct doc **out, struct cerr *err);
int net_range_remove(struct ctx *ctx, const char *ref, const char *range,
    struct doc **out, struct cerr *err);
/* Reserve an address (anywhere in the CIDR but the gateway) so no NIC
 * gets it; release a reservation. */
int net_reserve(struct ctx *ctx, const char *ref, const char *ip,
    struct doc **out, struct cerr *err);
int net_release(struct ctx *ctx, const char *ref, const char *ip,
    struct cerr *err);
int net_lease_list(struct ctx *ctx, const char *ref, emit_fn emit,
    struct cerr *err);
/* The settings (a Config document); mac_prefix NULL leaves it. */
int net_config(struct ctx *ctx, const char *mac_prefix, struct doc **out,
    struct cerr *err);
/* Check a Network document without the catalog (see cli_each_doc). */
int net_check(const struct doc *d, const char *where, struct cerr *err);
/* Create or update one Network document by name. */
int net_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);
void net_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));
/* A JSON list the catalog made (json_group_array) as a document; an
 * empty list when it is NULL or unreadable. */
struct doc *net_json_list(const char *json);

/* The columns a VM's row adds for its document, given the VM as v: its
 * addresses (ips) and NICs, JSON lists for net_json_list. */
#define NET_VM_IPS \
	"(SELECT json_group_array(ip) FROM (SELECT l.ip FROM leases l JOIN " \
	"vm_nics n ON n.id = l.nic_id WHERE n.vm_id = v.id ORDER BY n.idx, " \
	"l.family))"
#define NET_VM_NICS \
	"(SELECT json_group_array(json_patch('{}', json_object('nic', " \
	"n.idx, 'network', net.name, 'mac', n.mac, 'model', n.model, 'ip', " \
	"(SELECT ip FROM leases WHERE nic_id = n.id AND family = 4), 'ip6', " \
	"(SELECT ip FROM leases WHERE nic_id = n.id AND family = 6), " \
	"'security_groups', json((SELECT json_group_array(s.name) FROM " \
	"nic_secgroups ns JOIN secgroups s ON s.id = ns.secgroup_id WHERE " \
	"ns.nic_id = n.id)))))" \
	" FROM (SELECT * FROM vm_nics WHERE vm_id = v.id ORDER BY idx) n " \
	"JOIN networks net ON net.id = n.network_id)"

/*
 * NICs.  A VM document's nics: is a list of maps: network (required),
 * ip and ip6 (addresses asked for), model (virtio, e1000, rtl8139),
 * security_groups (names).  net_nics_check checks its shape (CERR_USAGE,
 * "nics[I].FIELD: ..."); net_nic_add, inside the caller's transaction,
 * makes NIC idx of VM vm_id with its MAC, leases and security groups.
 */
int net_nics_check(const struct doc *nics, size_t *n, struct cerr *err);
int net_nic_add(struct ctx *ctx, long long vm_id, const char *vm,
    int idx, const struct doc *nic, struct cerr *err);
/* Inside a transaction: the next free NIC index of a VM. */
int net_nic_next(struct ctx *ctx, long long vm_id, int *idx,
    struct cerr *err);

/* A VM's NIC as deploys and seeds need it. */
struct net_nic {
	long long id;
	int idx;
	char mac[24];
	char model[16];
	long long network_id;
	char *network;		/* its name */
	char libvirt[32];	/* cloudos-net-ID */
	char *addr4, *addr6;	/* "10.0.0.5/24", NULL when none */
	char *gw4, *gw6;
	char **dns;		/* NULL-terminated */
};

int net_vm_nics(struct ctx *ctx, long long vm_id, struct net_nic **out,
    size_t *n, struct cerr *err);
void net_nics_free(struct net_nic *v, size_t n);
void net_nic_release(struct net_nic *c);
/* The NIC idx of a VM (CERR_NOTFOUND), or by MAC. */
int net_vm_nic(struct ctx *ctx, long long vm_id, const char *ref,
    struct net_nic *out, struct cerr *err);
/* Inside a transaction: forget a NIC (its leases and groups go too). */
int net_nic_remove(struct ctx *ctx, long long nic_id, struct cerr *err);

/* Realise on the host (host_id, reached through hv) every network VM
 * vm_id has a NIC on: recorded in network_hosts first, then defined,
 * started and autostarted there when it is not.  Idempotent. */
int net_host_ensure_vm(struct ctx *ctx, struct hv *hv, long long host_id,
    long long vm_id, struct cerr *err);
/* Undefine on host_id each network no VM there (or on its way there) has
 * a NIC on any more.  Best effort: a host that does not answer keeps its
 * record for the next pass. */
int net_host_gc(struct ctx *ctx, long long host_id, struct cerr *err);

#endif
