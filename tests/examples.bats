#!/usr/bin/env bats
# The examples are tests too, so they never go stale.

load helpers/common

@test "examples: demo.sh runs the main job on a private lab host and cleans up" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/demo.sh"
	# the VM was seen running by libvirt, listed, and deleted
	assert_line "running"
	assert_line "web-1 running"
	[[ "$stderr" == *"demo finished"* ]]
	# nothing of the demo is left behind
	run bash -c 'ls -d /tmp/cdemo.* 2>/dev/null'
	[ -z "$output" ]
}

@test "examples: tenants.sh shows who owns and sees what" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/tenants.sh"
	assert_line "alice sees: alice-web"
	assert_line "root sees:  alice-web(alice) bob-db(bob)"
	assert_line "(refused, exit 4)"
}

@test "examples: lifecycle.sh holds, releases, suspends, resumes and shuts down VMs" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/lifecycle.sh"
	assert_line "web-1-2 running"
	assert_line "h1 runs 0 VMs"
	assert_line "h2 runs 2 VMs"
	assert_line --regexp '^2 +web-1-2 +poweroff +h2 '
	assert_line --regexp ' shut down +web-1-1 +shutting-down -> poweroff$'
	assert_line "on h1 after draining h2: 1 2"
	run bash -c 'ls -d /tmp/clife.* 2>/dev/null'
	[ -z "$output" ]
}

@test "examples: hosts.sh applies a cluster, overcommits, and monitors a host down and back" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/hosts.sh"
	assert_line "passed on: 1 VM document"
	assert_line "passed on again: VM web-1"
	assert_line "h1 offers 4 CPUs"
	assert_line "rack1 has 2 hosts"
	assert_line "h2 error"
	assert_line "(monitor exit 8)"
	assert_line "h2 enabled"
	run bash -c 'ls -d /tmp/chosts.* 2>/dev/null'
	[ -z "$output" ]
}

@test "examples: vm-ops.sh applies an environment, snapshots, resizes, stops, and sees HA at work" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/vm-ops.sh"
	assert_line "Network front"
	assert_line "passed on: Network front"
	assert_line "db-1 disks: sdb sdc"
	assert_line "snapshot before-upgrade (running)"
	assert_line "db-1 reverted: running"
	assert_line "app-1 memory: 48"
	assert_line "app-1 stopped"
	assert_line "console: attached and left"
	assert_line "reconcile: db-1 running"
	assert_line "ha: the domain crashed; HA restarted it on host 'h1'"
	run bash -c 'ls -d /tmp/cops.* 2>/dev/null'
	[ -z "$output" ]
}

@test "examples: scheduler.sh queues, plans, passes and explains" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/scheduler.sh"
	assert_line "plan: web-1 -> h1"
	assert_line "plan: web-2 -> h2"
	assert_line "ran: web-2 on h2"
	assert_line "up: web-1"
	assert_line "up: web-2"
	assert_line "gpu-1 waits: no host passes the requirements 'labels.gpu == \"yes\"'"
	assert_line --regexp "^cache-2 waits: not enough cpu on 1 host"
	assert_line "pack moves: 0"
	run bash -c 'ls -d /tmp/csch.* 2>/dev/null'
	[ -z "$output" ]
}

@test "examples: secgroups.sh applies security groups, changes rules, and refuses what it must" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/secgroups.sh"
	assert_line "applied again: web, 4 rules"
	assert_line "web: in tcp 22 bastion"
	assert_line "web: in udp 60000-61000 any"
	assert_line "(refused, exit 2)"
	assert_line "alice sees: bastion alice-app"
	assert_line "(refused, exit 5)"
	assert_line "left: bastion"
	run bash -c 'ls -d /tmp/csg.* 2>/dev/null'
	[ -z "$output" ]
}

@test "examples: images.sh clones an image, exports it as an OVA and imports it back" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/images.sh"
	assert_line "web-base.ovf"
	assert_line "web-base.mf"
	assert_line "web-base-disk1.vmdk"
	assert_line "from-ova qcow2 ready"
	assert_line "same disk"
	[[ "$stderr" == *"images finished"* ]]
	run bash -c 'ls -d /tmp/cimages.* 2>/dev/null'
	[ -z "$output" ]
}

@test "examples: vm-images.sh boots VMs from linked clones of an image cached once per host" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/vm-images.sh"
	assert_line "image boot: raw, ready"
	assert_line "web-2 on h1: sdb from boot"
	assert_line "db-1 on h2: sdb own pool, sdc fast"
	assert_line "image boot is used"
	assert_line "uploads of boot: to host 'h1': 512 bytes; to host 'h2': 512 bytes"
	assert_line "cloudos-boot-ok"
	assert_line "web-2 now on h2"
	assert_line "(refused, exit 5)"
	assert_line "image boot is ready"
	assert_line "image boot deleted"
	run bash -c 'ls -d /tmp/cimgex.* 2>/dev/null'
	[ -z "$output" ]
}

@test "examples: networks.sh puts a guest on a cnet network and attaches a NIC live" {
	run -0 --separate-stderr "$CLOUDOS_SRCDIR/examples/networks.sh"
	assert_line "web-1 ips: 10.10.0.20 fd00:10::10"
	assert_line --regexp '^libvirt: cloudos-net-1 02:c1:0d(:[0-9a-f]{2}){3}$'
	mac=$(sed -n 's/^libvirt: cloudos-net-1 //p' <<<"$output")
	assert_line "catalog: front $mac"
	assert_line "attached: 10.10.0.20 fd00:10::10 10.11.0.3"
	assert_line "lease: 10.11.0.2 reserved"
	assert_line "detached: 10.10.0.20 fd00:10::10"
	assert_line "networks on h1: 0"
	assert_line "networks left: 0"
	run bash -c 'ls -d /tmp/cnets.* 2>/dev/null'
	[ -z "$output" ]
}
