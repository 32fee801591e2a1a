/*
 * placement.h - engine: where pending VMs go.  Pure: data in, decisions
 * out, no SQLite, no libvirt, no I/O (ARCHITECTURE.md).
 *
 * Input: hosts (capacity, what is allocated, load, attributes, labels),
 * affinity groups, the VMs already placed that belong to groups, and the
 * pending VMs (size, requirements, policy or rank, group, priority).
 * Output: for each pending VM a host, or the reason it stays pending.
 *
 * VMs are placed in priority order (higher first), then in input order
 * (callers pass them oldest first), with two exceptions within one
 * priority: pack VMs take the pack VMs' turns largest first (size: the
 * largest of its cpu, memory and disk as shares of the mean enabled host;
 * best fit decreasing comes within a few percent of the fewest hosts where
 * input order wastes several), and the VMs of an affinity group go together
 * when the first of them comes, its first choosing a host with room for
 * all of them when one exists.  A VM goes to a host that
 * is enabled, passes its requirements, has room for its cpu, memory and
 * disk, and keeps its group's rule (affinity: the host of the group's
 * other VMs; anti-affinity: a host none of them is on); among those the
 * policy chooses:
 *   pack    the fewest hosts: the fullest host that fits (best fit)
 *   spread  even allocation: the host with the lowest allocated share
 *   load    the lowest measured load (unknown load counts as 100)
 *   rank    the highest value of the VM's rank expression
 * Ties go to the host listed first.  The allocated share is the larger of
 * used/capacity for cpu and for memory.  Every placement updates the
 * host's allocation (used_*, running_vms and attr's free_* and
 * running_vms, which placement_run first sets from the numbers; free_disk
 * only when disk is known) before the next VM is placed.  An affinity
 * group whose members sit on several hosts follows the first member's.
 *
 * Reasons describe the state after the pass: PL_CAPACITY counts the
 * passing hosts that then lacked each resource.
 *
 * Cost: near-linear in hosts + VMs for VMs that share requirement
 * expressions (each distinct expression is evaluated once per host when
 * it is static, see expr_static), not hosts x VMs.
 */
#ifndef CLOUDOS_PLACEMENT_H
#define CLOUDOS_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "expr.h"

struct pl_host {
	long long id;
	bool enabled;
	struct expr_host attr;		/* name, cluster, labels, load, ... */
	long long cpu, memory, disk;	/* effective capacity (disk MiB; < 0
					 * when unknown: not checked) */
	long long used_cpu, used_memory, used_disk;
	int running_vms;
};

enum pl_policy { PL_PACK, PL_SPREAD, PL_LOAD, PL_RANK };

struct pl_group {
	const char *name;
	bool anti;			/* anti-affinity, else affinity */
};

/* A VM already on a host, for its group's rule. */
struct pl_member {
	int group;			/* index into groups */
	size_t host;			/* index into hosts */
};

struct pl_vm {
	long long id;
	int cpu;
	long long memory, disk;
	const struct expr *requirements;	/* NULL: any host */
	enum pl_policy policy;
	const struct expr *rank;	/* for PL_RANK */
	int group;			/* index into groups, -1 for none */
	int priority;			/* higher first */
};

struct pl_input {
	struct pl_host *hosts;		/* updated as VMs are placed */
	size_t nhosts;
	const struct pl_group *groups;
	size_t ngroups;
	const struct pl_member *members;
	size_t nmembers;
	const struct pl_vm *vms;
	size_t nvms;
};

enum pl_reason {
	PL_PLACED,
	PL_NO_HOSTS,		/* no enabled host at all */
	PL_REQUIREMENTS,	/* no enabled host passes the requirements */
	PL_CAPACITY,		/* hosts pass but none has room */
	PL_AFFINITY,		/* room exists, but not where the group is */
	PL_ANTI_AFFINITY,	/* room exists only where the group is */
};

struct pl_result {
	size_t host;			/* index into hosts when placed */
	enum pl_reason reason;
	/* for PL_CAPACITY: how many passing hosts lacked each resource */
	size_t short_cpu, short_memory, short_disk;
};

/* Place in->vms; out has in->nvms entries.  Returns 0 (memory running
 * out ends the process, as xalloc does everywhere; -1 is kept for an
 * allocator that returns). */
int placement_run(struct pl_input *in, struct pl_result *out);

/* One line for a reason: "no host passes the requirements", "not enough
 * cpu on 3 hosts, memory on 2", ... into buf. */
void placement_reason(const struct pl_result *r, const struct pl_vm *vm,
    char *buf, size_t len);

/*
 * Rebalance: the fewest migrations (at most max_moves; < 0 for no limit)
 * that bring the placed VMs closer to policy (PL_PACK: empty as many
 * hosts as possible; PL_SPREAD: even allocation).  placed[i] is the host
 * index of VM vms[i]; moves gets (vm index, host index) pairs in the
 * order to run them, each valid given the ones before (capacity and
 * requirements).  Returns the number of moves (memory running out ends
 * the process, as in placement_run); *out is the caller's to free (NULL
 * when there are no moves).
 *
 * The hosts' used_* include the VMs in vms; in->hosts is left as it is.
 * VMs of affinity groups stay (a group moves whole or not at all; not
 * attempted); anti-affinity is kept.  PL_PACK empties hosts with fewest
 * VMs first, wholly or not at all, onto the fullest hosts in use; a host
 * that received VMs is not emptied.  PL_SPREAD moves from the most
 * allocated host to the one left least allocated while that stays below
 * where the source was; on uniform work it ends within one VM.  Other
 * policies move nothing.
 */
struct pl_move {
	size_t vm;
	size_t host;
};
int placement_rebalance(struct pl_input *in, const size_t *placed,
    enum pl_policy policy, long max_moves, struct pl_move **out);

#endif
