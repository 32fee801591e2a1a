/*
 * secgroup.h - service: security groups, realised as libvirt nwfilter
 * rules on each NIC.  Uses the catalog and hv adapters; never prints.
 *
 * A security group is a named set of rules that allow traffic; a NIC is in
 * any number of groups (the nic_secgroups table, filled by whoever makes
 * the NIC).  What a NIC in at least one group gets:
 *   - inbound: only what an "in" rule of one of its groups allows;
 *   - outbound: everything, unless one of its groups has an "out" rule:
 *     then only what the "out" rules allow;
 *   - replies to allowed connections, either way (conntrack
 *     ESTABLISHED,RELATED), and always DHCP (v4 and v6), IPv6 neighbour
 *     discovery and ARP, so a guest can configure its network;
 *   - no spoofing: IPv4 (IPv6) leaves the NIC only from the addresses
 *     leased to it when it has leases of that family (peers are matched
 *     by address), besides 0.0.0.0 to DHCP, :: and link-local.
 * A NIC in no group is not filtered.
 *
 * On a host, group ID is the filter cloudos-sg-ID (its rules, with peer
 * groups expanded to the addresses leased to their members' NICs) and NIC
 * ID the filter cloudos-nic-ID, which references its groups' filters and
 * adds the policy above; the domain's interface names the NIC's filter.
 * Redefining a filter reaches running guests at once (libvirt
 * re-instantiates it).
 *
 * Ownership: a group has an owner, a group and a visibility (private,
 * group, public).  Users see and use their own groups, their group's
 * groups of visibility "group", and public ones; only the owner (or an
 * admin) changes or deletes a group.
 *
 * Documents returned through out are the caller's (doc_free).  Codes:
 * CERR_USAGE bad input, CERR_NOTFOUND, CERR_PERM, CERR_CONFLICT (name
 * taken, rule there already, group in use), CERR_PARTIAL (the catalog
 * changed but some host could not be brought up to date; the message
 * names it, and "cnet secgroup refresh" retries).
 */
#ifndef CLOUDOS_SECGROUP_H
#define CLOUDOS_SECGROUP_H

#include <stddef.h>

#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "rows.h"

struct hv;

#define SECGROUP_FILTER_PREFIX "cloudos-sg-"
#define SECGROUP_NIC_FILTER_PREFIX "cloudos-nic-"

/* A rule as given: strings, checked by the service. */
struct secgroup_rule {
	const char *direction;	/* "in" or "out" */
	const char *proto;	/* "tcp", "udp", "icmp", "all" */
	const char *port;	/* "P" or "P-Q" (tcp, udp), NULL for all */
	const char *cidr;	/* an IPv4 or IPv6 address[/len], NULL: any */
	const char *group;	/* a peer group's name or id, or NULL */
};

/* A new group owned by the caller; visibility NULL is "private". */
int secgroup_create(struct ctx *ctx, const char *name,
    const char *description, const char *visibility, struct doc **out,
    struct cerr *err);
int secgroup_list(struct ctx *ctx, emit_fn emit, struct cerr *err);
/* With its rules, the number of NICs in it and (owner and admins) which
 * NICs they are. */
int secgroup_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* CERR_CONFLICT while a NIC is in it or another group's rule names it as
 * a peer.  Its filter is undefined on every host that answers. */
int secgroup_delete(struct ctx *ctx, const char *ref, struct cerr *err);
/* "private", "group" or "public".  NICs in the group stay in it. */
int secgroup_set_visibility(struct ctx *ctx, const char *ref,
    const char *visibility, struct doc **out, struct cerr *err);

/* Add a rule (CERR_CONFLICT when the same rule is there) or remove one,
 * by id (rule_id > 0) or by being equal to r; then secgroup_refresh.  On
 * CERR_PARTIAL *out is set too: the change is kept. */
int secgroup_rule_add(struct ctx *ctx, const char *ref,
    const struct secgroup_rule *r, struct doc **out, struct cerr *err);
int secgroup_rule_remove(struct ctx *ctx, const char *ref, long long rule_id,
    const struct secgroup_rule *r, struct doc **out, struct cerr *err);
/* secgroup_refresh for the group ref names (owner or admin). */
int secgroup_sync(struct ctx *ctx, const char *ref, struct cerr *err);

/* Check a SecurityGroup document without the catalog (see cli_each_doc). */
int secgroup_check(const struct doc *d, const char *where, struct cerr *err);
/* Create or update (description, visibility, rules: made exactly those
 * of the document) the group a SecurityGroup document names. */
int secgroup_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);

/* For a VM's NIC: the id of the group ref names if the caller may use it
 * (own, group's, public); CERR_NOTFOUND otherwise. */
int secgroup_usable(struct ctx *ctx, const char *ref, long long *id,
    struct cerr *err);

/*
 * Realisation on hosts.
 *
 * secgroup_nic_filter (re)defines, on the host behind hv, the filter of
 * every group NIC nic_id is in and the NIC's own filter, and writes into
 * name (len bytes) the filter its domain interface names in <filterref
 * filter='NAME'/> (no parameters).  A NIC in no group gets "": when the
 * host still has that NIC's filter, from a time it was in groups, that
 * filter is redefined to let everything pass (a running guest may use it).
 * Idempotent.  Call it before defining a domain, and on the NIC's host
 * after its groups change.
 *
 * secgroup_refresh redefines those filters on every host (vms.host_id)
 * with NICs in group id, or in a group whose rules name it as a peer.
 * Call it after a change of the group's rules or members (a NIC joining
 * or leaving changes the addresses its peers allow).  A host that fails
 * (unreachable, refusing) does not stop the others: the result is then
 * CERR_PARTIAL naming the first.
 *
 * secgroup_nic_forget undefines NIC nic_id's filter on the host behind hv,
 * once no domain there uses it (CERR_CONFLICT while one does).
 */
int secgroup_nic_filter(struct ctx *ctx, struct hv *hv, long long nic_id,
    char *name, size_t len, struct cerr *err);
int secgroup_refresh(struct ctx *ctx, long long secgroup_id,
    struct cerr *err);
int secgroup_nic_forget(struct ctx *ctx, struct hv *hv, long long nic_id,
    struct cerr *err);

/*
 * Members that come and go.  A NIC joining or leaving a group changes the
 * addresses that the groups naming it as a peer let in, on every host of
 * theirs.  Inside the catalog transaction that adds or removes NICs of VM
 * vm_id (nic_id 0: all of them; call it before removing them),
 * secgroup_mark_members records those groups as stale; after the commit,
 * secgroup_refresh_marked brings each stale group's filters up to date
 * and clears its mark.  A mark whose refresh fails stays for the next
 * call (cvm reconcile and csched pass make one), so a killed command or
 * an unreachable host never leaves a released address let in for good.
 */
int secgroup_mark_members(struct ctx *ctx, long long vm_id,
    long long nic_id, struct cerr *err);
int secgroup_refresh_marked(struct ctx *ctx, struct cerr *err);

/* The nwfilter XML of group id and of NIC nic_id as they would be
 * defined now (no UUID); the caller frees *xml.  For tests and show. */
int secgroup_filter_xml(struct ctx *ctx, long long id, char **xml,
    struct cerr *err);
int secgroup_nic_filter_xml(struct ctx *ctx, long long nic_id, char **xml,
    struct cerr *err);

/* Names of visible groups starting with prefix, for completion. */
void secgroup_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

#endif
