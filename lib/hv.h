/*
 * hv.h - adapter: hypervisors through libvirt.  The only module that
 * includes libvirt's headers.
 *
 * Domains are named by their UUID, which is the VM's catalog UUID.  Every
 * action is idempotent by UUID: starting a running domain, powering off an
 * inactive one or removing a missing one succeeds, so a retry or a
 * reconcile pass can always finish what a killed command began.
 *
 * Errors: a connection that fails or drops is CERR_UNREACHABLE, a missing
 * domain CERR_NOTFOUND, an operation invalid in the domain's state
 * CERR_CONFLICT; libvirt's own text follows ours.
 */
#ifndef CLOUDOS_HV_H
#define CLOUDOS_HV_H

#include <stddef.h>

#include "cerr.h"

struct hv;

struct hv_node {
	char hypervisor[32];	/* "qemu", "test", ... (lower case) */
	char domain_type[32];	/* what domains use: "kvm", "qemu", "test" */
	char hostname[256];
	int cpu;		/* logical CPUs */
	long long memory;	/* MiB */
};

enum hv_state {
	HV_ABSENT,		/* no such domain */
	HV_RUNNING,
	HV_PAUSED,
	HV_SHUTOFF,
	HV_CRASHED,
	HV_OTHER,		/* blocked, shutting down, suspended to PM */
};

/* What a monitoring poll reads of one active domain; -1 is unknown. */
struct hv_dom_stats {
	char uuid[40];
	long long cpu_time;	/* ns of CPU used since it started */
	long long memory;	/* MiB the guest has (balloon current) */
	long long rss;		/* MiB resident on the host */
};

/* What a monitoring poll reads of a host. */
struct hv_stats {
	struct hv_node node;	/* cpu and memory only */
	double load;		/* percent of all CPUs busy; < 0 unknown */
	long long free_memory;	/* MiB; < 0 unknown */
	struct hv_dom_stats *doms;	/* hv_stats_release frees them */
	size_t ndoms;
};

/*
 * Deadlines: a connection's open (with libvirt's first RPCs) must finish
 * within the host timeout, seconds from CLOUDOS_HOST_TIMEOUT (default
 * HV_TIMEOUT_DEFAULT), or it is CERR_UNREACHABLE "no answer within N s";
 * afterwards libvirt's keepalive (a ping every third of it, two
 * unanswered) closes a connection whose host stays silent for about that
 * long (2 to 3 s at least), which fails the call in progress as
 * CERR_UNREACHABLE.  hv_timeout reads the setting:
 * CERR_USAGE when it is not seconds above 0 and at most 3600.
 */
#define HV_TIMEOUT_DEFAULT 10
int hv_timeout(double *seconds, struct cerr *err);

/* Connect to uri; give with hv_close. */
int hv_connect(const char *uri, struct hv **out, struct cerr *err);
/* Connect to the n uris at once, within one deadline: out[i] is the
 * connection (NULL on failure, with errs[i] set; errs[i] is cleared
 * otherwise).  Returns 0 when all opened, else CERR_UNREACHABLE (or
 * CERR_USAGE for a bad CLOUDOS_HOST_TIMEOUT). */
int hv_connect_all(const char *const *uris, size_t n, struct hv **out,
    struct cerr *errs);
void hv_close(struct hv *hv);

int hv_node_info(struct hv *hv, struct hv_node *node, struct cerr *err);

/* Read capacity, load (two CPU samples sample_ms apart), free memory
 * and the usage of every active domain.  Only node info must answer:
 * figures a driver does not offer are left unknown. */
int hv_poll(struct hv *hv, int sample_ms, struct hv_stats *st,
    struct cerr *err);
void hv_stats_release(struct hv_stats *st);

/* Define the domain described by xml and start it; if it cannot start,
 * undefine it again so the host is as it was. */
int hv_deploy(struct hv *hv, const char *xml, struct cerr *err);
int hv_start(struct hv *hv, const char *uuid, struct cerr *err);
/* Hard power off (virDomainDestroy); the domain stays defined. */
int hv_poweroff(struct hv *hv, const char *uuid, struct cerr *err);
/* Pause a running domain in memory; resume a paused one. */
int hv_suspend(struct hv *hv, const char *uuid, struct cerr *err);
int hv_resume(struct hv *hv, const char *uuid, struct cerr *err);
/* Reboot: ask the guest (ACPI), or reset it at once when hard. */
int hv_reboot(struct hv *hv, const char *uuid, int hard, struct cerr *err);
/* Ask the guest to shut down (ACPI) and wait up to timeout seconds for
 * it to be off; then power it off.  *forced tells which happened. */
int hv_shutdown(struct hv *hv, const char *uuid, int timeout, int *forced,
    struct cerr *err);
/* What a live migration copies of a running domain's writable disks,
 * into volumes that exist already on dst (at the same paths): nothing
 * (shared storage), whole disks, or only their top layer (qcow2 overlays
 * whose backing files are on dst already, at the same paths). */
#define HV_COPY_NONE 0
#define HV_COPY_DISKS 1
#define HV_COPY_TOP 2
/* Move a domain from src to dst: live (or paused, without live) when it
 * runs, by moving its definition when it is off.  The domain ends defined
 * on dst only.  copy_disks: one of HV_COPY_*.  address,
 * when not NULL, is where dst listens for the
 * migration stream (else dst's hostname). */
int hv_migrate(struct hv *src, struct hv *dst, const char *uuid, int live,
    int copy_disks, const char *address, struct cerr *err);
/* Power off if needed and undefine. */
int hv_remove(struct hv *hv, const char *uuid, struct cerr *err);
int hv_state(struct hv *hv, const char *uuid, enum hv_state *state,
    struct cerr *err);
const char *hv_state_name(enum hv_state s);
/* Why a domain is as it is, beyond its state: whether libvirt is still
 * starting it (a start, or an incoming migration before its memory has
 * all arrived: paused, reason starting-up), whether a migration paused it
 * (one going out without --live, or coming in), and whether a job holds
 * it (libvirt's control state: a start, a migration in or out, a save).
 * A domain starting or held by a job is in flight, not a result. */
enum hv_why {
	HV_WHY_OTHER,		/* not paused, or paused for another reason */
	HV_WHY_STARTING,	/* paused while libvirt starts it */
	HV_WHY_MIGRATION,	/* paused by a migration, in or out */
};
struct hv_dom {
	enum hv_state state;
	enum hv_why why;
	int job;		/* a job holds it */
};
/* Like hv_state, with the why and the job; an absent domain is
 * HV_ABSENT, not an error. */
int hv_dom_state(struct hv *hv, const char *uuid, struct hv_dom *d,
    struct cerr *err);
/* Call each for every domain defined or running on the host. */
int hv_domains(struct hv *hv, void (*each)(void *arg, const char *uuid,
    const char *name, enum hv_state state), void *arg, struct cerr *err);
/* Stop: save a running or paused domain's memory to disk on its host
 * (libvirt's managed save) and end it; start restores it, running.  A
 * domain saved already succeeds; one off without saved state is
 * CERR_CONFLICT. */
int hv_save(struct hv *hv, const char *uuid, struct cerr *err);
/* *saved: whether the domain has saved state waiting for its start. */
int hv_has_saved(struct hv *hv, const char *uuid, int *saved,
    struct cerr *err);
/* Change vCPUs (cpu > 0) and memory in MiB (memory > 0), in the
 * definition and, when the domain runs, live: libvirt refuses what the
 * running guest cannot take (vCPUs past the boot maximum, memory above
 * the boot size), and that refusal is returned. */
int hv_resize(struct hv *hv, const char *uuid, int cpu, long long memory,
    struct cerr *err);
/* Attach the terminal (in, out) to the serial console of the running
 * domain uuid on uri until the byte esc is read from in, in reaches its
 * end, or the console closes.  force takes the console from another
 * client; without it a console another client holds is CERR_CONFLICT
 * ("another client holds it: " and libvirt's text) with *held set. */
int hv_console(const char *uri, const char *uuid, int in, int out, int esc,
    int force, int *held, struct cerr *err);

/*
 * Files for domains (cloud-init seeds) live as volumes of one directory
 * storage pool per host, named HV_POOL at HV_POOL_PATH, reached through
 * libvirt's storage API so that a remote host works as a local one.
 */
#define HV_POOL "cloudos"
#define HV_POOL_PATH "/var/lib/libvirt/images/cloudos"
/* A datastore NAME is the dir pool VOL_DS_POOL_PREFIX NAME on each host. */
#define VOL_DS_POOL_PREFIX "cloudos-ds-"

/* Make sure the pool exists, is active and starts with the host: define,
 * build, start and mark it autostart as far as it is missing. */
int hv_pool_ensure(struct hv *hv, struct cerr *err);
/*
 * Datastores: dir pools of any name and path (the 'cloudos' pool above is
 * one of them).  Sizes in MiB.
 */
/* Define, build, start and autostart pool name at path, as far as it is
 * missing; one that exists already is left as it is. */
int hv_pool_define(struct hv *hv, const char *name, const char *path,
    struct cerr *err);
/* Stop and undefine pool name (removing its folder when empty); a
 * missing pool is not an error. */
int hv_pool_undefine(struct hv *hv, const char *name, struct cerr *err);
struct hv_pool_info {
	int active;
	long long capacity, allocation, available;	/* MiB */
};
/* Refresh pool name and read its figures (virStoragePoolGetInfo);
 * CERR_NOTFOUND when the pool is missing. */
int hv_pool_info(struct hv *hv, const char *name, struct hv_pool_info *pi,
    struct cerr *err);
/* Create the qcow2 volume name of size MiB in pool pname, on top of the
 * file backing when not NULL, whose format is backing_fmt ("raw",
 * "qcow2", ...; NULL: qcow2), so nothing is probed; a volume of that name
 * already there is an error.  *path (NULL to skip) is the caller's to
 * free. */
int hv_pvol_create(struct hv *hv, const char *pname, const char *name,
    long long size, const char *backing, const char *backing_fmt, char **path,
    struct cerr *err);
/* The path of volume name in pname (CERR_NOTFOUND when missing); free it. */
int hv_pvol_path(struct hv *hv, const char *pname, const char *name,
    char **path, struct cerr *err);
/* Delete volume name of pname; a missing volume or pool is not an error. */
int hv_pvol_delete(struct hv *hv, const char *pname, const char *name,
    struct cerr *err);
/* Grow volume name of pname to size MiB (virStorageVolResize). */
int hv_pvol_resize(struct hv *hv, const char *pname, const char *name,
    long long size, struct cerr *err);
/* Call each with the name of every volume of pool pname (none when the
 * pool is missing), and with the name of every pool of the host. */
int hv_pvols(struct hv *hv, const char *pname,
    void (*each)(void *arg, const char *name), void *arg, struct cerr *err);
int hv_pools(struct hv *hv, void (*each)(void *arg, const char *name),
    void *arg, struct cerr *err);
/* Copy volume name of pool pname from src to the pool of that name on
 * dst (which must exist), replacing one there, streaming through this
 * process; a qcow2 overlay keeps its backing file (which dst must have
 * at the same path). */
int hv_pvol_copy(struct hv *src, struct hv *dst, const char *pname,
    const char *name, struct cerr *err);
/* Copy volume src of pname into a new volume name of the same pool
 * (virStorageVolCreateXMLFrom). */
int hv_pvol_clone(struct hv *hv, const char *pname, const char *src,
    const char *name, struct cerr *err);

/* Create volume name in the pool (replacing one of that name) holding
 * the len bytes at data; *path (the caller's to free; NULL to skip) is
 * where the host keeps it. */
int hv_vol_upload(struct hv *hv, const char *name, const void *data,
    size_t len, char **path, struct cerr *err);
/* Upload into volume name of the pool (replacing one of that name) the
 * len bytes of the file open at fd, from its start, through a libvirt
 * stream, so a remote host works as a local one. */
#define HV_UPLOAD_CHUNK (1 << 20)
int hv_vol_upload_fd(struct hv *hv, const char *name, int fd,
    unsigned long long len, char **path, struct cerr *err);
/* The path of volume name: CERR_NOTFOUND when it or the pool is missing.
 * *path is the caller's to free. */
int hv_vol_path(struct hv *hv, const char *name, char **path,
    struct cerr *err);
/* Delete volume name; a missing volume or pool is not an error. */
int hv_vol_delete(struct hv *hv, const char *name, struct cerr *err);
/* Call each with the name of every volume in the pool (none when the
 * pool is missing). */
int hv_vols(struct hv *hv, void (*each)(void *arg, const char *name),
    void *arg, struct cerr *err);

/* Create the empty qcow2 volume name of size MiB in the pool, unless it
 * exists; *path (the caller's to free; NULL to skip) is where it is. */
int hv_vol_create(struct hv *hv, const char *name, long long size,
    char **path, struct cerr *err);
/* Copy volume name from src's pool to dst's (replacing one there),
 * streaming through this process. */
int hv_vol_copy(struct hv *src, struct hv *dst, const char *name,
    struct cerr *err);
/* Attach or detach the device described by xml, in the definition and,
 * when the domain runs, live.  Detaching a device that is not there
 * succeeds. */
int hv_device_attach(struct hv *hv, const char *uuid, const char *xml,
    struct cerr *err);
int hv_device_detach(struct hv *hv, const char *uuid, const char *xml,
    struct cerr *err);

/* Grow disk target of the running domain uuid to size MiB, through the
 * guest's qemu (virDomainBlockResize). */
int hv_block_resize(struct hv *hv, const char *uuid, const char *target,
    long long size, struct cerr *err);

/* Snapshots, kept by the hypervisor (internal qcow2 snapshots, with the
 * memory of a running guest). */
struct hv_snapshot {
	char name[128];
	long long created;	/* seconds since the epoch */
	char state[16];		/* what the domain was: running, shutoff... */
	int current;
	int order;		/* libvirt's topological order */
};
int hv_snapshot_create(struct hv *hv, const char *uuid, const char *name,
    struct cerr *err);
/* Fill *out with n snapshots, oldest first; free(*out). */
int hv_snapshot_list(struct hv *hv, const char *uuid,
    struct hv_snapshot **out, size_t *n, struct cerr *err);
int hv_snapshot_revert(struct hv *hv, const char *uuid, const char *name,
    struct cerr *err);
int hv_snapshot_delete(struct hv *hv, const char *uuid, const char *name,
    struct cerr *err);

/*
 * Network filters (libvirt nwfilter), which a domain's interface names in
 * <filterref filter='NAME'/>.  Redefining a filter replaces its rules and
 * libvirt re-instantiates it at once on every running guest that uses it.
 */
/* Define filter name from xml, which starts with "<filter" and carries no
 * <uuid>: a filter of that name there already keeps its UUID. */
int hv_nwfilter_define(struct hv *hv, const char *name, const char *xml,
    struct cerr *err);
/* Undefine filter name; a missing filter is not an error, one that a
 * running guest uses is CERR_CONFLICT. */
int hv_nwfilter_undefine(struct hv *hv, const char *name, struct cerr *err);
/* Call each with the name of every filter defined on the host. */
int hv_nwfilters(struct hv *hv, void (*each)(void *arg, const char *name),
    void *arg, struct cerr *err);
/* The XML of filter name (CERR_NOTFOUND when missing); free(*xml). */
int hv_nwfilter_xml(struct hv *hv, const char *name, char **xml,
    struct cerr *err);

/* Virtual networks (cnet).  hv_net_ensure defines network name from xml
 * when the host has none of that name, then starts and autostarts it;
 * one there already is kept as it is.  hv_net_remove stops and undefines
 * it; an absent one is fine. */
int hv_net_ensure(struct hv *hv, const char *name, const char *xml,
    struct cerr *err);
int hv_net_remove(struct hv *hv, const char *name, struct cerr *err);
/* Detach the NIC xml (whose MAC is mac) from the running domain first,
 * then from its definition.  A PCI NIC leaves a running domain only when
 * the guest lets it go: CERR_CONFLICT, the definition untouched, when it
 * is still there after libvirt's wait.  One gone already is fine. */
int hv_nic_detach(struct hv *hv, const char *uuid, const char *xml,
    const char *mac, struct cerr *err);

#endif
