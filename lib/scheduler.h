/*
 * scheduler.h - service: scheduling.  Affinity groups, and where VMs go
 * (one VM at a time for cvm create is fit.h's): every pending VM in a
 * csched pass (placed by the pure placement engine over a snapshot of the
 * catalog taken under its write lock, then dispatched to the hosts
 * concurrently), plans that change nothing, rebalancing plans, and
 * draining a host.
 *
 * Documents returned in *out are the caller's to doc_free.
 */
#ifndef CLOUDOS_SCHEDULER_H
#define CLOUDOS_SCHEDULER_H

#include <stdbool.h>

#include "cerr.h"
#include "ctx.h"
#include "doc.h"
#include "rows.h"

/*
 * Affinity groups: VMs join one with group: in their document.  A group
 * is its creator's, shared as networks are by its visibility (private,
 * group or public; NULL is private): one the caller may not see is
 * CERR_NOTFOUND everywhere, and only its owner or an admin changes or
 * removes it (CERR_PERM).
 */
int sched_group_create(struct ctx *ctx, const char *name, bool anti,
    const char *visibility, struct doc **out, struct cerr *err);
int sched_group_list(struct ctx *ctx, emit_fn emit, struct cerr *err);
int sched_group_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
int sched_group_set_visibility(struct ctx *ctx, const char *ref,
    const char *visibility, struct doc **out, struct cerr *err);
/* Refused with CERR_CONFLICT while VMs that are not done are in it. */
int sched_group_remove(struct ctx *ctx, const char *ref, struct cerr *err);
/* Call each with every group name starting with prefix (completion). */
void sched_group_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

struct sched_opts {
	long max_vms;		/* pending VMs a pass considers; <= 0: all */
	int max_dispatch;	/* hosts deployed to at once */
	bool reconcile;		/* run cvm reconcile first */
};

/*
 * One pass (admins only): take the lease (CERR_CONFLICT when another pass
 * holds it), reconcile, place pending VMs in priority then age order,
 * dispatch their deploys concurrently across hosts, put a VM whose deploy
 * failed back to pending to be retried on another host (at once the first
 * time, then with a growing back-off), and record on every VM still
 * pending the reason.  Emits every VM it placed, as it is afterwards;
 * note gets what reconcile and the dispatch report.
 */
int sched_pass(struct ctx *ctx, const struct sched_opts *o, emit_fn emit,
    void (*note)(struct ctx *, const char *), struct cerr *err);
/* What a pass would place, as Placement documents (vm, host, action:
 * deploy), and changing nothing, calling no hypervisor. */
int sched_plan(struct ctx *ctx, const struct sched_opts *o, emit_fn emit,
    struct cerr *err);
/* Check a Placement document without the catalog (see cli_each_doc). */
int sched_check(const struct doc *d, const char *where, struct cerr *err);
/* Carry out one Placement document: deploy a pending VM on its host
 * (capacity and requirements checked again), or migrate a VM. */
int sched_apply(struct ctx *ctx, const struct doc *d, const char *where,
    struct doc **out, struct cerr *err);
/* The migrations (Placement documents, action: migrate) that bring the
 * placed VMs towards policy ("pack" or "spread") with the fewest moves. */
int sched_rebalance(struct ctx *ctx, const char *policy, long max_moves,
    emit_fn emit, struct cerr *err);
/* Why VM ref is where it is, or still pending: a Placement document with
 * the recorded reason and what the engine says now. */
int sched_explain(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);

/* Disable a host, then migrate every VM off it (live where running),
 * emitting each VM moved and noting each that could not move: those leave
 * CERR_PARTIAL (or their common code when none moved). */
int host_drain(struct ctx *ctx, const char *ref, emit_fn emit,
    void (*note)(struct ctx *, const char *), struct cerr *err);

#endif
