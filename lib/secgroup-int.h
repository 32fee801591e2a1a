/*
 * secgroup-int.h - service: what lib/secgroup*.c share, and no one else.
 */
#ifndef CLOUDOS_SECGROUP_INT_H
#define CLOUDOS_SECGROUP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "secgroup.h"
#include "valid.h"

/* A rule, checked and normalised. */
struct sg_rule {
	char dir[4];
	char proto[8];
	int pmin, pmax;		/* 0: every port */
	char cidr[64];		/* "" any; else canonical "addr/len" */
	long long peer;		/* 0: none */
	char peer_name[NAME_MAX_LEN + 1];
};

/* A group found by reference. */
struct sg {
	long long id;
	long long owner;
	char name[NAME_MAX_LEN + 1];
};

/* Host (name, URI) pairs, read before any hypervisor is called. */
struct hostref {
	long long id;
	char *name;
	char *uri;
};

/* secgroup.c */
int secgroup_find(struct ctx *ctx, const char *ref, struct sg *g,
    struct cerr *err);
int secgroup_find_mine(struct ctx *ctx, const char *ref, const char *what,
    struct sg *g, struct cerr *err);
int secgroup_doc(struct ctx *ctx, long long id, struct doc **out,
    struct cerr *err);
void secgroup_hostrefs_free(struct hostref *h, size_t n);
int secgroup_hostrefs_read(struct cstmt *st, struct hostref **out, size_t *n,
    struct cerr *err);

/* secgroup-rule.c */
int secgroup_rule_check(struct ctx *ctx, const struct secgroup_rule *in,
    struct sg_rule *r, struct cerr *err);
int secgroup_rule_find(struct ctx *ctx, long long gid, const struct sg_rule *r,
    long long *id, struct cerr *err);
int secgroup_rule_insert(struct ctx *ctx, long long gid,
    const struct sg_rule *r, struct cerr *err);
void secgroup_rule_text(const struct sg_rule *r, char *out, size_t len);
int secgroup_rule_touch(struct ctx *ctx, long long gid, struct cerr *err);
int secgroup_rule_after_change(struct ctx *ctx, long long gid, struct doc **out,
    struct cerr *err);

#endif
