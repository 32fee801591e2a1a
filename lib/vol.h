/*
 * vol.h - service: datastores and volumes.  Uses the catalog and hv
 * adapters and vm's volume slots; never prints.
 *
 * A datastore is a libvirt dir storage pool named cloudos-ds-NAME, at the
 * same path on each of its hosts (default /var/lib/libvirt/images/
 * cloudos-NAME).  A volume is the qcow2 file vol-ID.qcow2 in its
 * datastore's pool on one host; it is attached to at most one VM, on that
 * host.  A snapshot is a new volume whose qcow2 backing file is its
 * parent: the parent is then a read-only base while it has children.
 *
 * Documents returned through out are the caller's (doc_free).  Codes:
 * CERR_USAGE bad input, CERR_NOTFOUND, CERR_PERM (datastores are admins'),
 * CERR_CONFLICT wrong state or name taken, CERR_CAPACITY no room,
 * CERR_UNREACHABLE a host that does not answer.
 */
#ifndef CLOUDOS_VOL_H
#define CLOUDOS_VOL_H

#include <stddef.h>

#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "rows.h"

/* Register datastore name on hosts (all enabled hosts when n == 0),
 * defining, building, starting and autostarting its pool on each; path
 * NULL takes the default.  Admins only. */
int vol_ds_add(struct ctx *ctx, const char *name, const char *path,
    const char *const *hosts, size_t n, struct doc **out, struct cerr *err);
int vol_ds_list(struct ctx *ctx, emit_fn emit, struct cerr *err);
/* With each host's capacity, allocation and available MiB read from
 * libvirt now (a host that does not answer gets an error field). */
int vol_ds_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* Undefine the pools and forget the datastore; CERR_CONFLICT while
 * volumes are in it.  Admins only. */
int vol_ds_remove(struct ctx *ctx, const char *ref, struct cerr *err);

/* A new blank qcow2 volume of size MiB in datastore ds (NULL: the first)
 * on host (NULL: the datastore's host with most room). */
int vol_create(struct ctx *ctx, const char *name, long long size,
    const char *ds, const char *host, struct doc **out, struct cerr *err);
int vol_list(struct ctx *ctx, emit_fn emit, struct cerr *err);
int vol_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* Grow to size MiB (the same size is a no-op, smaller CERR_USAGE): live
 * through the guest when its VM runs. */
int vol_resize(struct ctx *ctx, const char *ref, long long size,
    struct doc **out, struct cerr *err);
/* A full copy named name, on the same host and datastore. */
int vol_clone(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err);
/* A linked child named name (qcow2 backing file ref). */
int vol_snapshot(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err);
int vol_delete(struct ctx *ctx, const char *ref, struct cerr *err);
/* Attach to VM vm on bus "scsi" or "virtio" (NULL: scsi), live when it
 * runs; detach. */
int vol_attach(struct ctx *ctx, const char *ref, const char *vm,
    const char *bus, struct doc **out, struct cerr *err);
int vol_detach(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);

/* Apply one Datastore (name, path, hosts) or Volume (name, size,
 * datastore, host) document: create it when new; a Volume there already
 * grows to size; what cannot change (a path, a datastore, a host) is
 * CERR_CONFLICT.  vol_ds_check and vol_check check one without the
 * catalog (see cli_each_doc). */
int vol_ds_check(const struct doc *d, const char *where, struct cerr *err);
int vol_check(const struct doc *d, const char *where, struct cerr *err);
int vol_ds_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);
int vol_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);

/* Names for completion. */
void vol_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));
void vol_ds_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

#endif
