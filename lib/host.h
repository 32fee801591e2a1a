/*
 * host.h - service: hypervisor hosts (libvirt URIs).
 *
 * Adding, removing and changing hosts is for admins.  Capacity is read from
 * the hypervisor when the host is added; what VMs use of it is derived from
 * the VMs that occupy the host, never kept as a separate counter.
 *
 * Documents returned in *out are the caller's to doc_free.
 */
#ifndef CLOUDOS_HOST_H
#define CLOUDOS_HOST_H

#include "cerr.h"
#include "ctx.h"
#include "doc.h"

typedef int (*emit_fn)(struct ctx *, const struct doc *, struct cerr *);

/* The SQL condition, on a row of vms aliased v, that the VM holds part of
 * its host's capacity. */
#define VM_OCCUPIES \
	"v.state IN ('deploying', 'running', 'suspended', 'poweroff', " \
	"'migrating', 'shutting-down', 'unknown')"

/* Connect to uri, read its capacity and register it as name.  address is
 * where migrations to it go (NULL: its hostname); labels is a map of
 * strings or NULL.  CERR_UNREACHABLE when uri does not answer,
 * CERR_CONFLICT when the name is taken. */
int host_add(struct ctx *ctx, const char *name, const char *uri,
    const char *address, const struct doc *labels, struct doc **out,
    struct cerr *err);
int host_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
int host_list(struct ctx *ctx, const char *state, emit_fn emit,
    struct cerr *err);
/* Refused with CERR_CONFLICT while VMs occupy the host. */
int host_remove(struct ctx *ctx, const char *ref, struct cerr *err);
/* Enable ("enabled") or disable ("disabled") a host: a disabled host
 * takes no new VMs; those on it stay.  Admins only. */
int host_set_state(struct ctx *ctx, const char *ref, const char *state,
    struct doc **out, struct cerr *err);
/* Disable a host, then migrate every VM off it (live where running),
 * emitting each VM moved and noting each that could not move: those leave
 * CERR_PARTIAL (or their common code when none moved). */
int host_drain(struct ctx *ctx, const char *ref, emit_fn emit,
    void (*note)(struct ctx *, const char *), struct cerr *err);
/* Call each with every host name starting with prefix (completion). */
void host_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

#endif
