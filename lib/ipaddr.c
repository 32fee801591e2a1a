/*
 * ipaddr.c - engine: IPv4 and IPv6 addresses.  Pure: no I/O.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipaddr.h"
#include "compat.h"

bool
ipaddr_parse(const char *s, struct ipaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (s == NULL || strlen(s) >= IPADDR_STRLEN)
		return false;
	if (strchr(s, ':')) {
		a->family = 6;
		return inet_pton(AF_INET6, s, a->b) == 1;
	}
	a->family = 4;
	return inet_pton(AF_INET, s, a->b + 12) == 1;
}

void
ipaddr_format(const struct ipaddr *a, char out[IPADDR_STRLEN])
{
	if (a->family == 6)
		inet_ntop(AF_INET6, a->b, out, IPADDR_STRLEN);
	else
		inet_ntop(AF_INET, a->b + 12, out, IPADDR_STRLEN);
}

void
ipaddr_key(const struct ipaddr *a, char out[IPADDR_KEYLEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 16; i++) {
		out[2 * i] = hex[a->b[i] >> 4];
		out[2 * i + 1] = hex[a->b[i] & 15];
	}
	out[32] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool
ipaddr_from_key(int family, const char *key, struct ipaddr *a)
{
	size_t i;

	memset(a, 0, sizeof(*a));
	a->family = family;
	if (key == NULL || strlen(key) != 32)
		return false;
	for (i = 0; i < 16; i++) {
		int h = hexval(key[2 * i]), l = hexval(key[2 * i + 1]);

		if (h < 0 || l < 0)
			return false;
		a->b[i] = (unsigned char)(h << 4 | l);
	}
	return true;
}

int
ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b)
{
	return memcmp(a->b, b->b, 16);
}

bool
ipaddr_add(struct ipaddr *a, uint64_t n)
{
	struct ipaddr t = *a;
	unsigned carry = 0;
	int i, low = a->family == 4 ? 12 : 0;

	for (i = 15; i >= low; i--) {
		unsigned v = t.b[i] + (unsigned)(n & 0xff) + carry;

		t.b[i] = (unsigned char)v;
		carry = v >> 8;
		n >>= 8;
	}
	if (carry || n)
		return false;
	*a = t;
	return true;
}

bool
ipaddr_cidr(const char *s, struct ipaddr *net, struct ipaddr *last,
    int *prefix)
{
	char addr[IPADDR_STRLEN], *end;
	const char *slash;
	long p;
	int bits, i, low;

	if (s == NULL || (slash = strchr(s, '/')) == NULL ||
	    (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (!ipaddr_parse(addr, net) || slash[1] < '0' || slash[1] > '9')
		return false;
	p = strtol(slash + 1, &end, 10);
	bits = net->family == 4 ? 32 : 128;
	if (*end || p < 0 || p > bits - 2)
		return false;
	*last = *net;
	low = net->family == 4 ? 12 : 0;
	for (i = 0; i < bits; i++) {
		int byte = low + i / 8;
		unsigned char mask = (unsigned char)(0x80 >> (i % 8));

		if (i < p)
			continue;
		if (net->b[byte] & mask)
			return false;	/* host bits set */
		last->b[byte] |= mask;
	}
	*prefix = (int)p;
	return true;
}

bool
ipaddr_within(const struct ipaddr *a, const struct ipaddr *lo,
    const struct ipaddr *hi)
{
	return a->family == lo->family && ipaddr_cmp(a, lo) >= 0 &&
	    ipaddr_cmp(a, hi) <= 0;
}

uint64_t
ipaddr_count(const struct ipaddr *lo, const struct ipaddr *hi)
{
	unsigned char d[16];
	int i, borrow = 0;
	uint64_t n = 0;

	for (i = 15; i >= 0; i--) {
		int v = hi->b[i] - lo->b[i] - borrow;

		borrow = v < 0;
		d[i] = (unsigned char)(v + (borrow ? 256 : 0));
	}
	for (i = 0; i < 8; i++)
		if (d[i])
			return UINT64_MAX;
	for (i = 8; i < 16; i++)
		n = n << 8 | d[i];
	return n == UINT64_MAX ? n : n + 1;
}
