/*
 * cluster.h - service: clusters, named groups of hosts.
 *
 * Adding and removing clusters is for admins; a cluster with hosts in it
 * cannot be removed.  A host joins a cluster with chost add --cluster or
 * chost set --cluster (host_update).
 *
 * Documents returned in *out are the caller's to doc_free.
 */
#ifndef CLOUDOS_CLUSTER_H
#define CLOUDOS_CLUSTER_H

#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "rows.h"

/* The id of the cluster named name (into *id unless id is NULL);
 * CERR_NOTFOUND when there is none. */
int cluster_id(struct ctx *ctx, const char *name, long long *id,
    struct cerr *err);
/* CERR_CONFLICT when the name is taken. */
int cluster_add(struct ctx *ctx, const char *name, struct doc **out,
    struct cerr *err);
int cluster_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
int cluster_list(struct ctx *ctx, emit_fn emit, struct cerr *err);
/* Refused with CERR_CONFLICT while hosts are in the cluster. */
int cluster_remove(struct ctx *ctx, const char *ref, struct cerr *err);
/* Check a Cluster document without the catalog (see cli_each_doc). */
int cluster_check(const struct doc *d, const char *where, struct cerr *err);
/* Create the cluster a Cluster document names, unless it exists (a
 * cluster has no settable fields yet, so an existing one is unchanged). */
int cluster_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);
/* Call each with every cluster name starting with prefix (completion). */
void cluster_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

#endif
