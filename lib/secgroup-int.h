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
int sg_find(struct ctx *ctx, const char *ref, struct sg *g, struct cerr *err);
int sg_find_mine(struct ctx *ctx, const char *ref, const char *what,
    struct sg *g, struct cerr *err);
int sg_doc(struct ctx *ctx, long long id, struct doc **out, struct cerr *err);
void hostrefs_free(struct hostref *h, size_t n);
int hostrefs_read(struct cstmt *st, struct hostref **out, size_t *n,
    struct cerr *err);

/* secgroup-rule.c */
int rule_check(struct ctx *ctx, const struct secgroup_rule *in,
    struct sg_rule *r, struct cerr *err);
int rule_find(struct ctx *ctx, long long gid, const struct sg_rule *r,
    long long *id, struct cerr *err);
int rule_insert(struct ctx *ctx, long long gid, const struct sg_rule *r,
    struct cerr *err);
void rule_text(const struct sg_rule *r, char *out, size_t len);
int touch(struct ctx *ctx, long long gid, struct cerr *err);
int after_change(struct ctx *ctx, long long gid, struct doc **out,
    struct cerr *err);

#endif
