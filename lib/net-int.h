/*
 * net-int.h - service: what the net family's files share (lib/net*.c only).
 */
#ifndef CLOUDOS_NET_INT_H
#define CLOUDOS_NET_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "ipaddr.h"
#include "net.h"

/* A network as loaded for an action. */
struct net_row {
	long long id, owner;
	char *name, *mode, *bridge, *cidr, *cidr6, *visibility;
	long long vlan;
};

/* net.c */
extern const char *const net_modes[];
extern const char *const net_visibilities[];
/* text as one of set (NULL-ended), in any case: its canonical name in
 * *canon; otherwise CERR_USAGE listing them (valid_enum). */
int net_enum(const char *text, const char *const *set, const char *what,
    const char **canon, struct cerr *err);
void net_row_release(struct net_row *r);
char *net_dup_or_null(const char *s);
struct doc *net_json_doc(const char *json);
int net_load(struct ctx *ctx, const char *ref, struct net_row *r,
    struct cerr *err);
int net_load_owned(struct ctx *ctx, const char *ref, const char *verb,
    struct net_row *r, struct cerr *err);
int net_show_id(struct ctx *ctx, long long id, struct doc **out,
    struct cerr *err);
int net_bridge_ok(const char *s, struct cerr *err);
int net_special_ok(const struct ipaddr *lo, const struct ipaddr *hi,
    const char *what, struct cerr *err);
int net_cidr_ok(const char *s, int fam, struct cerr *err);
int net_dns_json(const char *const *dns, size_t n, struct buf *b,
    struct cerr *err);
int net_no_overlap(struct ctx *ctx, long long self, const char *mode,
    const char *cidr, struct cerr *err);

/* net-range.c */
bool net_range_cidr(const struct net_row *r, int fam, struct ipaddr *net,
    struct ipaddr *last, int *prefix);
int net_range_spec_check(struct net_spec *s, bool create, struct buf *dns,
    struct cerr *err);

/* net-lease.c */
int net_lease_alloc(struct ctx *ctx, const struct net_row *r, int fam,
    const char *want, long long nic_id, char ip[IPADDR_STRLEN],
    struct cerr *err);
int net_lease_mac_alloc(struct ctx *ctx, char out[24], struct cerr *err);

#endif
