/*
 * capacity.h - service helper: the SQL fragments that say what a host
 * holds and what its VMs take of it, shared by hosts, clusters and
 * placement so that none of them counts differently.
 */
#ifndef CLOUDOS_CAPACITY_H
#define CLOUDOS_CAPACITY_H

/* The SQL condition, on a row of vms aliased v, that the VM holds part of
 * its host's capacity. */
#define VM_OCCUPIES \
	"v.state IN ('deploying', 'running', 'suspended', 'poweroff', " \
	"'migrating', 'shutting-down', 'unknown')"

/*
 * Effective capacity, on a row of hosts aliased h: the declared figure (or
 * what the hypervisor reported), less the reservation, times the overcommit
 * ratio (kept in thousandths), rounded down; never below 0.  Placement and
 * the Host document both read these, so they never disagree.
 */
#define HOST_CPU \
	"(max(0, COALESCE(h.declared_cpu, h.cpu) - h.reserved_cpu) " \
	"* h.cpu_ratio / 1000)"
#define HOST_MEMORY \
	"(max(0, COALESCE(h.declared_memory, h.memory) - h.reserved_memory) " \
	"* h.memory_ratio / 1000)"
/* What the VMs on host h allocate, and what is left for new ones.  A VM
 * migrating to h holds its place there already (and on its source until
 * it has moved), so two moves or a move and a create never both take the
 * last room. */
#define HOST_VMS_ON \
	"((v.host_id = h.id AND " VM_OCCUPIES ") OR " \
	"(v.target_host = h.id AND v.state = 'migrating'))"
#define HOST_USED_CPU \
	"(SELECT COALESCE(sum(v.cpu), 0) FROM vms v WHERE " HOST_VMS_ON ")"
#define HOST_USED_MEMORY \
	"(SELECT COALESCE(sum(v.memory), 0) FROM vms v WHERE " HOST_VMS_ON ")"
#define HOST_FREE_CPU "(" HOST_CPU " - " HOST_USED_CPU ")"
#define HOST_FREE_MEMORY "(" HOST_MEMORY " - " HOST_USED_MEMORY ")"

#endif
