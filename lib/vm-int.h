/*
 * vm-int.h - service: what the files of the vm family share.  Only
 * lib/vm*.c include it.
 *
 * vm.c loads a VM (struct vmrow) and records its transitions; vm-act.c
 * deploys it and runs the life-cycle actions; vm-disk.c keeps its disks
 * and the hosts' image caches; vm-migrate.c moves it between hosts;
 * vm-nic.c and vm-seed.c keep its NICs' filters and its cloud-init seed;
 * vm-snapshot.c its snapshots; vm-reconcile.c brings the catalog and the
 * hosts into agreement; vm-wait.c waits for VMs to reach a state;
 * vm-spec.c reads a VM document into what create and apply store.
 * Functions shared here are named vm_T_* after the file vm-T.c that
 * defines them (vm_* for vm.c).
 */
#ifndef CLOUDOS_VM_INT_H
#define CLOUDOS_VM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "vm.h"

struct hv;
struct net_nic;
struct fit_ds;

/* disks take sdb to sdz (sda is the seed's CD-ROM) */
#define VM_MAX_DISKS 25

/* A set of states (a bit for each), such as those an action allows. */
#define VM_STATE_BIT(s) (1u << (s))

/* A VM as loaded for an action. */
struct vmrow {
	long long id;
	long long host_id;	/* 0 when it has none */
	char uuid[40];
	char *name;
	enum vm_state state;
	char *host;
	char *uri;
	char *domain_type;
	int cpu;
	long long memory;
	char *target;		/* what an action in flight aims for */
	char *requirements;	/* what it asks of its host, or NULL */
	char *policy, *rank;
	long long group;	/* its affinity group, 0 for none */
	long long disk;		/* MiB of its disks */
	long long intent_pid;	/* the process running it, 0 if none */
	long long target_host;	/* where a migration goes, 0 if none */
	char *spec;		/* the VM document as JSON */
	/* a VM not recorded yet: what its disks need of datastores */
	const struct fit_ds *ds;
	size_t nds;
};

/* One of a VM's disks as vm_disk_load reads it. */
struct vmdisk {
	char target[8];
	char volume[64];
	long long size;
	long long image_id;	/* the image it is cloned from, or 0 */
	char pool[160];		/* HV_POOL, or its datastore's pool */
	char *path;		/* on the host, once known */
};

/* The names of the pools that hold VMs' disks (vm_disk_pool_add). */
struct pool_set {
	char **v;
	size_t n, cap;
};

/* A VM's seed is the volume UUID-seed.iso (vm-seed.c). */
#define VM_SEED_SUFFIX "-seed.iso"

/* vm.c: a VM's row, and the record of its transitions */
void vm_row_release(struct vmrow *r);
char *vm_dup_or_null(const char *s);
/* ref: an id, a UUID or a live name, visible to the caller; CERR_NOTFOUND
 * "no vm 'REF'" */
int vm_load(struct ctx *ctx, const char *ref, struct vmrow *r,
    struct cerr *err);
/* vm_show by catalog id, for what an action hands back */
int vm_show_id(struct ctx *ctx, long long id, struct doc **out,
    struct cerr *err);
/* Inside a transaction: from -> to, with an audit event (host_id: 0 for
 * none, < 0 to keep it; error NULL clears it). */
int vm_transition(struct ctx *ctx, const struct vmrow *r,
    enum vm_state from, enum vm_state to, long long host_id,
    const char *error, const char *action, struct cerr *err);
/* Inside a transaction: the intent, from -> during, aiming at target,
 * run by this process. */
int vm_intent(struct ctx *ctx, const struct vmrow *r, enum vm_state from,
    enum vm_state during, enum vm_state target, long long host_id,
    const char *action, struct cerr *err);
/* vm_transition in its own transaction: an outcome. */
int vm_record(struct ctx *ctx, const struct vmrow *r, enum vm_state from,
    enum vm_state to, long long host_id, const char *error,
    const char *action, struct cerr *err);
/* Inside a transaction: the host the scheduler chooses for r. */
int vm_place(struct ctx *ctx, struct vmrow *r, struct cerr *err);

/* vm-act.c: deploy and the actions */
/* Define and start r on r->host: networks, filters, seed, disks, domain. */
int vm_act_deploy(struct ctx *ctx, const struct vmrow *r, struct cerr *err);
/* vm_act_deploy for a VM committed as deploying, and its outcome. */
int vm_act_deploy_outcome(struct ctx *ctx, struct vmrow *r, struct doc **out,
    struct cerr *err);
/* Remove domain uuid from hv with its seed and disk volumes. */
int vm_act_remove(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err);

/* vm-disk.c: disks (UUID-sdX.qcow2) and the hosts' image caches */
void vm_disk_target(size_t i, char out[8]);
void vm_disk_volume(const char *uuid, const char *target, char out[64]);
int vm_disk_load(struct ctx *ctx, long long vm_id, struct vmdisk **out,
    size_t *n, struct cerr *err);
void vm_disk_free(struct vmdisk *v, size_t n);
void vm_disk_pool_add(void *arg, const char *name);
void vm_disk_pool_set_release(struct pool_set *ps);
/* Every disk volume of VM uuid, from all of hv's pools. */
int vm_disk_purge(struct hv *hv, const char *uuid, struct cerr *err);
/* Whether what the owner recorded with pid began is another's to finish. */
bool vm_disk_owner_gone(long long pid, const char *owner);
/* Image image_id cached on host host_id; *base its path there. */
int vm_disk_image(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, long long image_id, char **base, char fmt[16],
    char vol[96], struct cerr *err);
/* Disk d made on hv, unless it is there; d->path its path. */
int vm_disk_make(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, struct vmdisk *d, struct cerr *err);
/* Whether a VM's disks, NICs and snapshots may change in state. */
bool vm_disk_state(enum vm_state s);

/* vm-migrate.c: where a VM may go, and bringing its disks there */
/* CERR_CONFLICT when r has a cvol volume (which stays on its host). */
int vm_migrate_no_volumes(struct ctx *ctx, const struct vmrow *r,
    const char *verb, struct cerr *err);
/* A host r may go to: ref, or the scheduler's choice but exclude. */
int vm_migrate_dest(struct ctx *ctx, const struct vmrow *r, const char *ref,
    long long exclude, long long *id, char **name, char **uri, char **address,
    struct cerr *err);
/* The domain type of host id, for a fresh definition there. */
char *vm_migrate_domain_type(struct ctx *ctx, long long id, struct cerr *err);
/* r's disk volumes copied from src_uri to dst_uri, its images first. */
int vm_migrate_disks_copy(struct ctx *ctx, const struct vmrow *r,
    const char *src_uri, const char *dst_uri, long long dst_id,
    const char *dst_name, struct cerr *err);

/* vm-nic.c: the NICs' security-group filters */
int vm_nic_filters(struct ctx *ctx, struct hv *hv, const struct net_nic *nics,
    size_t n, char (*names)[64], struct cerr *err);
void vm_nic_filters_forget(struct ctx *ctx, struct hv *hv, long long vm_id);
void vm_nic_peers_refresh(struct ctx *ctx);

/* vm-seed.c: the seed (path NULL when r has none) */
int vm_seed_upload(struct ctx *ctx, struct hv *hv, const struct vmrow *r,
    char **path, struct cerr *err);
int vm_seed_delete(struct hv *hv, const char *uuid, struct cerr *err);

/* vm-reconcile.c */
/* deploying, shutting-down or migrating: an action in flight */
bool vm_reconcile_transitional(enum vm_state s);

/* vm-spec.c */
/* What a VM document asks for. */
struct vmspec {
	const char *name;
	int cpu;
	long long memory;
	struct buf labels;	/* JSON */
	char *spec;		/* its known fields as JSON, kept for later */
	struct specdisk {
		long long size;		/* MiB; 0: the image's size */
		const char *image;	/* a cimg image to clone, or NULL */
		const char *datastore;	/* a cvol datastore, or NULL */
	} disks[VM_MAX_DISKS];
	size_t ndisks;
	const char *requirements;	/* NULL for none */
	const char *policy;		/* pack, spread, load, rank */
	const char *rank;
	const char *group;		/* an affinity group's name */
	int priority;
	const struct doc *nics;		/* the document's nics: list */
	size_t nnics;
};
/* Read and check a VM document into s (strings borrowed from d). */
int vm_spec_from_doc(const struct doc *d, struct vmspec *s,
    struct cerr *err);
int vm_spec_empty(const struct doc *d);
/* d's known fields as stored (vms.spec); the caller frees. */
char *vm_spec_json(const struct doc *d);

#endif
