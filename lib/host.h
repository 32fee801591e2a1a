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
#include "rows.h"

/* The most CPUs a host may declare or reserve. */
#define HOST_MAX_CPU 65536

/* Overcommit ratios are kept in thousandths, from 0.001 to this. */
#define HOST_MAX_RATIO 1000

/* What to set on a host: only the fields whose HS_ bit is in set.
 * Strings and labels are borrowed. */
#define HS_URI		0x0001
#define HS_CLUSTER	0x0002
#define HS_ADDRESS	0x0004
#define HS_LABELS	0x0008
#define HS_DCPU		0x0010
#define HS_DMEMORY	0x0020
#define HS_DDISK	0x0040
#define HS_RCPU		0x0080
#define HS_RMEMORY	0x0100
#define HS_CPU_RATIO	0x0200
#define HS_MEMORY_RATIO	0x0400
#define HS_STATE	0x0800

struct host_spec {
	unsigned set;
	const char *uri;
	const char *cluster;		/* NULL: in no cluster */
	const char *address;		/* NULL: the host's hostname */
	const struct doc *labels;	/* a map, or NULL for none */
	long long declared_cpu;		/* 0: what the hypervisor reports */
	long long declared_memory;	/* MiB; 0 as above */
	long long declared_disk;	/* MiB; 0: unknown */
	long long reserved_cpu, reserved_memory;
	long long cpu_ratio, memory_ratio;	/* thousandths */
	const char *state;		/* "enabled" or "disabled" */
};

/* Parse the text of a command-line option into spec: opt is "cpu",
 * "memory", "disk" (each also takes "auto": use what the hypervisor
 * reports), "reserved-cpu", "reserved-memory", "cpu-ratio" or
 * "memory-ratio".  CERR_USAGE naming the option. */
int host_spec_option(struct host_spec *spec, const char *opt,
    const char *val, struct cerr *err);
/* Read the settable fields of a Host document into spec (absent fields
 * stay unset; derived ones such as cpu or used_cpu are ignored).  Strings
 * are borrowed from d.  CERR_USAGE naming the field. */
int host_spec_from_doc(const struct doc *d, struct host_spec *spec,
    struct cerr *err);

/* Connect to uri, read its capacity and register it as name, with what
 * spec sets (its uri and state are ignored).  CERR_UNREACHABLE when uri
 * does not answer, CERR_CONFLICT when the name is taken, CERR_NOTFOUND
 * when the cluster does not exist. */
int host_add(struct ctx *ctx, const char *name, const char *uri,
    const struct host_spec *spec, struct doc **out, struct cerr *err);
/* Change what spec sets on a host; nothing is written (not even
 * "updated") when nothing changes.  A different uri is CERR_CONFLICT. */
int host_update(struct ctx *ctx, const char *ref,
    const struct host_spec *spec, struct doc **out, struct cerr *err);
/* Create or update the host a Host document names.  where prefixes
 * errors about the document. */
/* Check a Host document as far as it can be without the catalog (the
 * check of an apply batch, see cli_each_doc). */
int host_check(const struct doc *d, const char *where, struct cerr *err);
int host_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);
int host_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* List hosts, all or those in state and/or cluster (NULL: any). */
int host_list(struct ctx *ctx, const char *state, const char *cluster,
    emit_fn emit, struct cerr *err);
/* Refused with CERR_CONFLICT while VMs occupy the host. */
int host_remove(struct ctx *ctx, const char *ref, struct cerr *err);
/* Enable ("enabled") or disable ("disabled") a host: a disabled host
 * takes no new VMs; those on it stay.  Admins only. */
int host_set_state(struct ctx *ctx, const char *ref, const char *state,
    struct doc **out, struct cerr *err);
/* One monitoring pass over the hosts refs name (every host when n is 0),
 * each polled by a thread of its own: capacity, load, free memory and the
 * usage of each domain.  A host that has not answered timeout_ms after
 * the start is not waited for.  All results are recorded in one
 * transaction once every thread is done or the time is up: a host that
 * answered leaves state error for the state it had before; one that did
 * not goes to state error with the reason, keeping its admin state to go
 * back to.  emit gets every host's document, note the text of each
 * failure.  Admins only.  Returns 0, CERR_UNREACHABLE when no host
 * answered, or CERR_PARTIAL when some did not. */
int host_monitor(struct ctx *ctx, const char *const *refs, size_t n,
    long timeout_ms, emit_fn emit, void (*note)(struct ctx *, const char *),
    struct cerr *err);
/* Call each with every host name starting with prefix (completion). */
void host_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

#endif
