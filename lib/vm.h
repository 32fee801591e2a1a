/*
 * vm.h - service: virtual machines and their life cycle.
 *
 * Every hypervisor action follows ARCHITECTURE.md: record the intent (a
 * transitional state and the host) and commit; call libvirt holding no
 * catalog lock; record the outcome and commit.  A state that does not allow
 * an action is CERR_CONFLICT naming the state.
 *
 * Documents returned in *out are the caller's to doc_free.
 */
#ifndef CLOUDOS_VM_H
#define CLOUDOS_VM_H

#include <stdbool.h>

#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "host.h"

struct vm_filter {
	const char *state;	/* one state, or NULL for all but done */
	const char *host;	/* host name or id */
	const char *name;	/* glob over names */
	bool all;		/* include done VMs */
};

/* Validate a VM document, place it on the first enabled host with room,
 * define and start it there.  where ("<stdin>: line 3") prefixes errors
 * about the document.  CERR_USAGE for a bad document, CERR_CONFLICT for a
 * taken name, CERR_CAPACITY when no host has room, the hypervisor's code
 * when deploying fails (the VM is then left in state failed). */
int vm_create(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);
int vm_list(struct ctx *ctx, const struct vm_filter *f, emit_fn emit,
    struct cerr *err);
/* ref is an id, a UUID or the name of a VM not done. */
int vm_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* poweroff -> running */
int vm_start(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* running, suspended, unknown -> poweroff (hard) */
int vm_poweroff(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* any state but done or one in flight -> done: domain removed, host
 * released, the record kept for accounting */
int vm_delete(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* Call each with every live VM name starting with prefix (completion). */
void vm_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

#endif
