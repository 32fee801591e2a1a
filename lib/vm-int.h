/*
 * vm-int.h - service: what the files of the vm family (lib/vm*.c) share,
 * and nothing outside them includes.
 */
#ifndef CLOUDOS_VM_INT_H
#define CLOUDOS_VM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "vm.h"

struct hv;
struct net_nic;
struct sched_ds;

/* disks take sdb to sdz (sda is the seed's CD-ROM) */
#define VM_MAX_DISKS 25

/* A VM as loaded for an action. */
struct vmrow {
	long long id;
	long long host_id;	/* 0 when it has none */
	char uuid[40];
	char *name;
	char state[16];
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
	const struct sched_ds *ds;
	size_t nds;
};

struct vmdisk {
	char target[8];
	char volume[64];
	long long size;
	long long image_id;	/* the image it is cloned from, or 0 */
	char pool[160];		/* HV_POOL, or its datastore's pool */
	char *path;		/* on the host, once known */
};

struct pool_set {
	char **v;
	size_t n, cap;
};

#define SEED_SUFFIX "-seed.iso"

/* vm.c */
void vmrow_release(struct vmrow *r);
char *dup_or_null(const char *s);
int vm_load(struct ctx *ctx, const char *ref, struct vmrow *r,
    struct cerr *err);
int vm_show_id(struct ctx *ctx, long long id, struct doc **out,
    struct cerr *err);
int vm_transition(struct ctx *ctx, const struct vmrow *r, const char *from,
    const char *to, long long host_id, const char *error, const char *action,
    struct cerr *err);
int vm_intent(struct ctx *ctx, const struct vmrow *r, const char *from,
    const char *during, const char *target, long long host_id,
    const char *action, struct cerr *err);
int vm_record(struct ctx *ctx, const struct vmrow *r, const char *from,
    const char *to, long long host_id, const char *error, const char *action,
    struct cerr *err);
int vm_place(struct ctx *ctx, struct vmrow *r, struct cerr *err);

/* vm-act.c */
int vm_deploy(struct ctx *ctx, const struct vmrow *r, struct cerr *err);
int vm_deploy_outcome(struct ctx *ctx, struct vmrow *r, struct doc **out,
    struct cerr *err);
int do_remove(struct hv *hv, const char *uuid, const struct vm_opts *o,
    struct cerr *err);

/* vm-disk.c */
void disk_target(size_t i, char out[8]);
void disk_volume(const char *uuid, const char *target, char out[64]);
int vm_disks_load(struct ctx *ctx, long long vm_id, struct vmdisk **out,
    size_t *n, struct cerr *err);
void vmdisks_free(struct vmdisk *v, size_t n);
void pool_add(void *arg, const char *name);
void pool_set_release(struct pool_set *ps);
int vm_disks_purge(struct hv *hv, const char *uuid, struct cerr *err);
bool owner_gone(long long pid, const char *owner);
int image_cache(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, long long image_id, char **base, char fmt[16],
    char vol[96], struct cerr *err);
int disk_make(struct ctx *ctx, struct hv *hv, long long host_id,
    const char *host, struct vmdisk *d, struct cerr *err);
bool disk_state(const char *state);

/* vm-migrate.c */
int no_volumes(struct ctx *ctx, const struct vmrow *r, const char *verb,
    struct cerr *err);
int vm_dest(struct ctx *ctx, const struct vmrow *r, const char *ref,
    long long exclude, long long *id, char **name, char **uri, char **address,
    struct cerr *err);
char *host_domain_type(struct ctx *ctx, long long id, struct cerr *err);
int vm_disks_copy(struct ctx *ctx, const struct vmrow *r, const char *src_uri,
    const char *dst_uri, long long dst_id, const char *dst_name,
    struct cerr *err);

/* vm-nic.c */
int nics_filters(struct ctx *ctx, struct hv *hv, const struct net_nic *nics,
    size_t n, char (*names)[64], struct cerr *err);
void nics_filters_forget(struct ctx *ctx, struct hv *hv, long long vm_id);
void peers_refresh(struct ctx *ctx);

/* vm-seed.c */
int vm_seed_upload(struct ctx *ctx, struct hv *hv, const struct vmrow *r,
    char **path, struct cerr *err);
int vm_seed_delete(struct hv *hv, const char *uuid, struct cerr *err);

/* vm-reconcile.c */
bool transitional(const char *state);

#endif
