/*
 * fit.h - service: where one VM fits.  The model of the cloud the
 * placement engine reads (hosts with their effective capacity and
 * allocation, affinity groups and their members, the VMs to place),
 * loaded from the catalog; the host chosen for one VM; the affinity group
 * a VM document names.
 */
#ifndef CLOUDOS_FIT_H
#define CLOUDOS_FIT_H

#include <stddef.h>

#include "cerr.h"
#include "ctx.h"
#include "placement.h"

/* The id of group name (for a VM document), if the caller may see it;
 * CERR_NOTFOUND if none. */
int fit_group_id(struct ctx *ctx, const char *name, long long *id,
    struct cerr *err);

/* Room a VM's disks need in one datastore (MiB).  Placement reads what
 * each datastore had available on a host at the last look as the host
 * label cloudos.ds/NAME (MiB), which requirements may read too. */
struct fit_ds {
	const char *name;
	long long size;
};
#define FIT_DS_LABEL "cloudos.ds/"

/* What a VM asks of its host. */
struct fit_req {
	const char *name;		/* for messages */
	int cpu;
	long long memory, disk;		/* MiB */
	const char *requirements;	/* NULL: any host */
	const char *policy;		/* pack, spread, load, rank */
	const char *rank;		/* for rank */
	long long group;		/* 0: none */
	long long exclude;		/* a host it must not go to, or 0 */
	/* datastores its disks go to: only hosts that have each, with
	 * that much available at the last look, pass (a VM recorded
	 * already has its needs read from its disks) */
	const struct fit_ds *ds;
	size_t nds;
	long long vm_id;		/* a recorded VM, or 0 */
};

/* Inside the caller's transaction: the host the engine chooses for one
 * VM now, or CERR_CAPACITY with the reason it cannot be placed. */
int fit_choose(struct ctx *ctx, const struct fit_req *req,
    long long *host_id, struct cerr *err);

/* The groups a caller may see, on a row of vm_groups aliased g, as
 * networks are seen: ?1 admin, ?2 the caller's user id, ?3 the caller's
 * group id. */
#define FIT_GROUP_VISIBLE "(?1 OR g.owner = ?2 OR (g.visibility = 'group' " \
	"AND g.group_id = ?3) OR g.visibility = 'public')"

/* The model: what the engine sees, loaded from the catalog by
 * fit_model_load, the VMs to place appended by fit_model_vm, run by
 * fit_model_run and freed by fit_model_release. */
struct fit_model {
	struct pl_host *hosts;
	size_t nhosts, caphosts;
	char **hnames;			/* owned strings of the hosts */
	struct pl_group *groups;
	long long *group_ids;
	size_t ngroups, capgroups;
	struct pl_member *members;
	size_t nmembers, capmembers;
	struct pl_vm *vms;
	size_t nvms, capvms;
	/* compiled expressions, one per distinct source */
	struct {
		char *src;
		struct expr *e;
	} *exprs;
	size_t nexprs, capexprs;
	size_t *slots;			/* hash of exprs by source */
	size_t nslots;
	/* datastore disks of recorded VMs (by vm), and the room each
	 * datastore had on each host at the last look */
	struct { long long vm; char *ds; long long size; } *dsneed;
	size_t ndsneed, capdsneed;
};

void fit_model_release(struct fit_model *m);
/* The index in m->hosts of host id, or -1. */
long fit_host_index(const struct fit_model *m, long long id);
/* Hosts, their allocation, groups and their placed members. */
int fit_model_load(struct ctx *ctx, struct fit_model *m, struct cerr *err);
/* Append one VM to place.  avoid, when not NULL, is the name of a host
 * it must not go to (where its deploy just failed). */
int fit_model_vm(struct fit_model *m, const struct fit_req *q, long long id,
    int priority, const char *avoid, struct cerr *err);
int fit_model_run(struct fit_model *m, struct pl_result **res,
    struct cerr *err);

#endif
