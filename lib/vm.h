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
#include "rows.h"

/* A VM's states, as the catalog keeps them (vms.state) and documents show
 * them; vm_state_name and vm_state_parse are the one table of their names.
 * deploying, shutting-down and migrating are the states of an action in
 * flight. */
enum vm_state {
	VM_STATE_NONE = -1,	/* no state (an action keeps the VM's) */
	VM_STATE_PENDING,
	VM_STATE_HOLD,
	VM_STATE_DEPLOYING,
	VM_STATE_RUNNING,
	VM_STATE_SUSPENDED,
	VM_STATE_STOPPED,
	VM_STATE_POWEROFF,
	VM_STATE_MIGRATING,
	VM_STATE_SHUTTING_DOWN,
	VM_STATE_FAILED,
	VM_STATE_UNKNOWN,
	VM_STATE_DONE,
};
/* The name of state s ("shutting-down"), "?" for none. */
const char *vm_state_name(enum vm_state s);
/* The state named name into *s: 0, or -1 when no state has that name. */
int vm_state_parse(const char *name, enum vm_state *s);
/* A state a user typed (--state RUNNING), in any case, into *s; otherwise
 * CERR_USAGE naming the states (valid_enum). */
int vm_state_from_user(const char *text, enum vm_state *s, struct cerr *err);

struct vm_filter {
	const char *state;	/* one state, or NULL for all but done */
	const char *host;	/* host name or id */
	const char *name;	/* glob over names */
	bool all;		/* include done VMs */
};

/* How long shutdown waits for the guest before powering it off. */
#define VM_SHUTDOWN_TIMEOUT 60

/* Options of create and of the actions; NULL means all defaults. */
struct vm_opts {
	const char *name;	/* create: this name instead of the document's */
	bool hold;		/* create: leave it in hold, unplaced */
	bool queue;		/* create: leave it pending for csched */
	int timeout;		/* shutdown: seconds before powering off */
	bool hard;		/* reboot: reset at once */
};

/* Validate a VM document, place it on the first enabled host with room,
 * define and start it there (or, with o->hold, keep it in hold).  where
 * ("<stdin>: line 3") prefixes errors about the document.  CERR_USAGE for a
 * bad document, CERR_CONFLICT for a taken name, CERR_CAPACITY when no host
 * has room, the hypervisor's code when deploying fails (the VM is then
 * left in state failed, its host released). */
int vm_create(struct ctx *ctx, const struct doc *d, const char *where,
    const struct vm_opts *o, struct doc **out, struct cerr *err);
/* Check a VM document as vm_create does before it reads the catalog (the
 * check of a batch, see cli_each_doc); errors are prefixed with where. */
int vm_check(const struct doc *d, const char *where, struct cerr *err);
/* Around a batch of creates with hold or queue (no hypervisor called):
 * one catalog transaction for all, each create its own savepoint. */
int vm_batch_begin(struct ctx *ctx, struct cerr *err);
int vm_batch_end(struct ctx *ctx, struct cerr *err);
int vm_list(struct ctx *ctx, const struct vm_filter *f, emit_fn emit,
    struct cerr *err);
/* ref is an id, a UUID or the name of a VM not done. */
int vm_show(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);
/* Every recorded transition of the VM, as AuditEvent documents. */
int vm_history(struct ctx *ctx, const char *ref, emit_fn emit,
    struct cerr *err);
/* Create or update, by name, the VM a document describes (visible to the
 * caller): a new name is created as vm_create does; an existing VM takes
 * the document's cpu and memory by the rules of vm_resize, and its
 * labels and context when the document gives them (a new context reaches
 * the guest at its next boot).  *changed says whether anything was
 * written; a document that matches the VM writes nothing. */
int vm_apply(struct ctx *ctx, const struct doc *d, const char *where,
    const struct vm_opts *o, struct doc **out, bool *changed,
    struct cerr *err);
/* For csched: deploy VM ref, which a pass recorded as deploying to its
 * host: running, or back to pending with the host to avoid next time and
 * the reason (retried at once the first time, then after a back-off). */
int vm_dispatch(struct ctx *ctx, const char *ref, struct cerr *err);
/* hold -> placed, deployed, running (as create does) */
int vm_release(struct ctx *ctx, const char *ref, struct doc **out,
    struct cerr *err);

/*
 * The actions.  Each is refused with CERR_CONFLICT in a state that does
 * not allow it; a failure of the hypervisor leaves the VM in the state it
 * had, with an error field, and returns the hypervisor's code.
 *   start     poweroff -> running
 *   poweroff  running, suspended, unknown -> poweroff (hard, host kept)
 *   shutdown  running -> poweroff (ACPI; powered off after o->timeout)
 *   reboot    running -> running (ACPI, or reset when o->hard)
 *   suspend   running -> suspended (paused in memory)
 *   resume    suspended -> running
 *   stop      running, suspended -> stopped: memory saved to disk on the
 *             host (libvirt's managed save), the host's capacity released
 *   start     also stopped -> running: back on the host holding the saved
 *             state when it is enabled and has room, else placed on
 *             another host, booting afresh (the saved state is dropped)
 *   delete    any state but done or one in flight -> done: domain removed,
 *             host released, the record kept for accounting
 */
int vm_start(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err);
int vm_poweroff(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err);
int vm_shutdown(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err);
int vm_reboot(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err);
int vm_suspend(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err);
int vm_resume(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err);
int vm_delete(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err);
int vm_stop(struct ctx *ctx, const char *ref, const struct vm_opts *o,
    struct doc **out, struct cerr *err);
/* Set vCPUs (cpu > 0) and memory in MiB (memory > 0); 0 keeps the size.
 * Off VMs and those not yet placed take any size their host has room
 * for; a running or suspended one takes what libvirt can change live,
 * and anything else is CERR_CONFLICT saying to power it off first.
 * Stopped VMs are refused (their saved memory has the old size). */
int vm_resize(struct ctx *ctx, const char *ref, int cpu, long long memory,
    struct doc **out, struct cerr *err);
/* Disks: blank qcow2 volumes in the pool of the VM's host, on the SCSI
 * bus as sdb, sdc, ... (at most 25).  Attach and detach work live on a
 * running VM and in the definition of one that is off; a VM not yet
 * placed gets them when it is deployed.  Detach deletes the volume. */
int vm_disk_attach(struct ctx *ctx, const char *ref, long long size,
    struct doc **out, struct cerr *err);
int vm_disk_detach(struct ctx *ctx, const char *ref, const char *target,
    struct doc **out, struct cerr *err);
/* NICs (cnet): attach one NIC described as an item of a VM document's
 * nics: ({network: N, ip: ..., security_groups: [...]}), with its MAC and
 * leases, live on a running VM; detach NIC ref (its index or MAC),
 * releasing its leases.  Either renews the seed, whose network-config
 * gives the NICs' addresses, and realises or removes the host's
 * networks as they come into use or fall out of it. */
int vm_nic_attach(struct ctx *ctx, const char *ref, const struct doc *nic,
    struct doc **out, struct cerr *err);
int vm_nic_detach(struct ctx *ctx, const char *ref, const char *nic,
    struct doc **out, struct cerr *err);
/* Where cvol may attach a volume of host host_id (named host) to VM ref,
 * inside the caller's transaction: the VM must allow disk changes and be
 * placed on that host (else CERR_CONFLICT naming both), and out->target
 * is its first free target of bus: "scsi" takes sdb, sdc, ... not held
 * by the VM's own disks or other volumes, "virtio" vda, vdb, ...
 * (CERR_CAPACITY when none is left). */
struct vm_slot {
	long long id;
	char name[160];
	char uuid[40];
	char target[8];
	int is_qemu;		/* a qcow2 driver line in the disk XML */
};
int vm_volume_slot(struct ctx *ctx, const char *ref, long long host_id,
    const char *host, const char *bus, struct vm_slot *out,
    struct cerr *err);
/* Snapshots, kept by the hypervisor inside the VM's qcow2 disks (with the
 * memory of a running guest): a VM needs a disk to have any.  Revert
 * puts the VM in the state the snapshot had. */
int vm_snapshot_create(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err);
int vm_snapshot_list(struct ctx *ctx, const char *ref, emit_fn emit,
    struct cerr *err);
int vm_snapshot_revert(struct ctx *ctx, const char *ref, const char *name,
    struct doc **out, struct cerr *err);
int vm_snapshot_delete(struct ctx *ctx, const char *ref, const char *name,
    struct cerr *err);
/* Ctrl-]: what leaves the console. */
#define VM_CONSOLE_ESCAPE 0x1d
/* Attach in and out (a terminal, raw) to the serial console of a
 * running VM until Ctrl-] or the end of in.  force takes the console
 * from whoever holds it. */
int vm_console(struct ctx *ctx, const char *ref, int in, int out,
    bool force, struct cerr *err);
/* Move VMs (running, suspended or poweroff; admins only) to host `to`, or
 * to the first other enabled host with room when to is NULL: live when
 * live and running, by moving the definition when off. */
int vm_migrate(struct ctx *ctx, const char *ref, const char *to, bool live,
    struct doc **out, struct cerr *err);
/*
 * Build the VM's cloud-init seed again from its document (and, once cnet
 * leases addresses, its NICs' addresses) and upload it over the one on
 * its host, for callers that change what the seed holds (NICs).  A VM
 * without a context, or without a host (hold, pending, stopped, failed,
 * done), has nothing to renew: 0.  CERR_CONFLICT while an action is in
 * flight; the hypervisor's code when the upload fails.  A running guest
 * keeps reading the image it opened: the new seed is seen from the next
 * start of the domain (cloud-init reads it at boot).
 */
int vm_reseed(struct ctx *ctx, const char *ref, struct cerr *err);
/*
 * One reconcile pass over every host (admins only): finish or roll back
 * actions that a killed command left half done (matching domains by UUID;
 * an action whose process still runs is left alone: its owner is judged
 * by pid, start time, boot, pid namespace and machine, owner.h), mark VMs
 * whose domain vanished or crashed as failed, follow domains changed
 * behind cloudos's back, mark the VMs of a host that does not answer
 * unknown.  A domain libvirt is still starting or migrating is waited
 * for, then left for the next pass; a running guest is never destroyed
 * for a copy that has not finished arriving.  Emits each VM it changed;
 * calls note for what it leaves alone (domains that are not in the
 * catalog, unreachable hosts, owners it cannot judge).
 */
int vm_reconcile(struct ctx *ctx, emit_fn emit,
    void (*note)(struct ctx *, const char *), struct cerr *err);
/* The same pass after taking over the actions in flight on the n VMs refs
 * names, whoever runs them (reconcile --force): all are found first, so
 * one missing (CERR_NOTFOUND) changes nothing. */
int vm_reconcile_force(struct ctx *ctx, const char *const *refs, size_t n,
    emit_fn emit, void (*note)(struct ctx *, const char *),
    struct cerr *err);
/*
 * Wait until every VM refs names (n of them, found first: one missing is
 * CERR_NOTFOUND and nothing is waited for) is in state want, reading the
 * catalog with a back-off from 100 ms to 1 s and holding no lock between
 * reads; then emit each as it is.  CERR_UNREACHABLE when timeout seconds
 * pass first (0: look once), naming the first VM not there and its state;
 * CERR_CONFLICT at once when a VM is in a state from which want never
 * comes without a command (a VM in poweroff is not waited for to run:
 * cvm(1), WAITING, lists the rule).  vm-wait.c.
 */
int vm_wait(struct ctx *ctx, const char *const *refs, size_t n,
    enum vm_state want, int timeout, emit_fn emit, struct cerr *err);
/* The state named name, in any case, into *s; CERR_USAGE naming the
 * states when there is none. */
int vm_wait_state(const char *name, enum vm_state *s, struct cerr *err);
/*
 * cvm list --watch, one look at a time: list the VMs f selects and emit
 * (when emit is not NULL) those whose document changed since the last
 * look at *w, all of them at the first, and those that left the
 * selection as they are now (a deleted VM, done); *changed counts them.
 * *w is made by the first look (pass it NULL) and freed with
 * vm_watch_free.  Reads only.  vm-wait.c.
 */
struct vm_watch;
int vm_watch_look(struct ctx *ctx, const struct vm_filter *f,
    struct vm_watch **w, emit_fn emit, size_t *changed, struct cerr *err);
void vm_watch_free(struct vm_watch *w);
/* Call each with every live VM name starting with prefix (completion). */
void vm_names(struct ctx *ctx, const char *prefix,
    void (*each)(const char *name));

#endif
