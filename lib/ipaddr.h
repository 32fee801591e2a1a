/*
 * ipaddr.h - engine: IPv4 and IPv6 addresses and CIDR blocks.  Pure: no
 * I/O.
 *
 * An address is 16 bytes in network order with its family (4 or 6); an
 * IPv4 address lives in the last four bytes.  Its key is 32 lowercase hex
 * digits, so keys sort as the addresses do: the catalog orders leases by
 * key and a gap search walks them, never the address space.
 */
#ifndef CLOUDOS_IPADDR_H
#define CLOUDOS_IPADDR_H

#include <stdbool.h>
#include <stdint.h>

#define IPADDR_STRLEN 48
#define IPADDR_KEYLEN 33

struct ipaddr {
	int family;		/* 4 or 6 */
	unsigned char b[16];
};

/* Parse a plain address (no prefix) of either family. */
bool ipaddr_parse(const char *s, struct ipaddr *a);
/* Its canonical text (inet_ntop's), into out. */
void ipaddr_format(const struct ipaddr *a, char out[IPADDR_STRLEN]);
void ipaddr_key(const struct ipaddr *a, char out[IPADDR_KEYLEN]);
bool ipaddr_from_key(int family, const char *key, struct ipaddr *a);
/* <0, 0, >0 as a is below, equal to or above b (same family). */
int ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b);
/* a += n within the family's space; false on overflow (a is then
 * unchanged). */
bool ipaddr_add(struct ipaddr *a, uint64_t n);
/* Parse "ADDR/PREFIX" whose host bits are zero: *net is the first
 * address, *last the last, *prefix the prefix length.  A block must
 * hold at least four addresses (IPv4 /30, IPv6 /126). */
bool ipaddr_cidr(const char *s, struct ipaddr *net, struct ipaddr *last,
    int *prefix);
/* Is a within [lo, hi] (same family)? */
bool ipaddr_within(const struct ipaddr *a, const struct ipaddr *lo,
    const struct ipaddr *hi);
/* How many addresses [lo, hi] holds, saturating at UINT64_MAX. */
uint64_t ipaddr_count(const struct ipaddr *lo, const struct ipaddr *hi);

#endif
