#!/usr/bin/env bats
# Disks (blank qcow2 volumes in each host's 'cloudos' pool, on the SCSI
# bus) and snapshots, on real qemu guests on two lab hosts; the bytes on
# a disk are checked with qemu-io where they move between hosts.

load helpers/common

lab_suite 2

setup() {
	fresh_catalog
	lab_hosts_add --migration-address 127.0.0.1
	printf 'name: d\ncpu: 1\nmemory: 64MiB\ndisks:\n  - size: 32MiB\n' > "$BATS_TEST_TMPDIR/d.yaml"
	printf 'name: p\ncpu: 1\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/p.yaml"
}

teardown() {
	for v in $(cvm list -o ids 2>/dev/null); do
		for s in $(cvm snapshot list "$v" -o json 2>/dev/null | jq -r .name); do
			cvm snapshot delete "$v" "$s" 2>/dev/null || true
		done
		cvm delete -q "$v" 2>/dev/null || true
	done
}

uuid_of() {
	cvm show "$1" -o json | jq -r .uuid
}

# vol N VM TARGET: the file of VM's disk TARGET on lab host N
vol() {
	echo "$(lab_host_dir "$1")/lib/images/cloudos/$(uuid_of "$2")-$3.qcow2"
}

blk() {
	local u=LAB_URI$1
	virsh -c "${!u}" domblklist "$(uuid_of "$2")" | awk 'NR > 2 && $1 { print $1 }' | tr '\n' ' '
}

@test "cvm create with disks: blank qcow2 volumes on the VM's host, on the SCSI bus" {
	run -0 cvm create "$BATS_TEST_TMPDIR/d.yaml" -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -c .disks <<<"$output")" = '[{"target":"sdb","size":32}]' ]
	[ "$(blk 1 d)" = "sdb " ]
	run -0 qemu-img info --output=json -U "$(vol 1 d sdb)"
	[ "$(jq -r '[.format, ."virtual-size"] | @tsv' <<<"$output")" = "$(printf 'qcow2\t33554432')" ]
	run -0 virsh -c "$LAB_URI1" dumpxml "$(uuid_of d)"
	assert_output --partial "<target dev='sdb' bus='scsi'/>"
	assert_output --partial "model='virtio-scsi'"
}

@test "cvm disk attach and detach work live on a running VM and in the definition of one that is off" {
	cvm create -q "$BATS_TEST_TMPDIR/d.yaml"
	run -0 cvm disk attach d --size 16MiB -o json
	[ "$(jq -c '[.disks[].target]' <<<"$output")" = '["sdb","sdc"]' ]
	[ "$(blk 1 d)" = "sdb sdc " ]
	[ -f "$(vol 1 d sdc)" ]
	run -0 cvm disk detach d sdb -o json
	[ "$(jq -c '[.disks[].target]' <<<"$output")" = '["sdc"]' ]
	[ "$(blk 1 d)" = "sdc " ]
	[ ! -e "$(vol 1 d sdb)" ]
	# the free target is taken again
	cvm poweroff -q d
	run -0 cvm disk attach d -s 8MiB -o json
	[ "$(jq -c '[.disks[] | [.target, .size]]' <<<"$output")" = '[["sdb",8],["sdc",16]]' ]
	run -0 virsh -c "$LAB_URI1" dumpxml --inactive "$(uuid_of d)"
	assert_output --partial "<target dev='sdb' bus='scsi'/>"
	cvm start -q d
	[ "$(blk 1 d)" = "sdb sdc " ]
	run -0 cvm history d -o json
	jq -s -e 'any(.[]; .action == "disk attach" and .detail == "sdc, 16 MiB")' <<<"$output"
	jq -s -e 'any(.[]; .action == "disk detach" and .detail == "sdb")' <<<"$output"
}

@test "cvm disk refuses bad input and wrong states, changing nothing" {
	cvm create -q "$BATS_TEST_TMPDIR/d.yaml"
	before=$(catalog_digest)
	refused 2 "cvm: disk attach needs --size" cvm disk attach d
	run -2 --separate-stderr cvm disk attach d --size lots
	[[ "$stderr" == "cvm: --size: "* ]]
	refused 2 "cvm: disk attach takes one VM" cvm disk attach d e --size 1GiB
	refused 3 "cvm: no vm 'nosuch'" cvm disk attach nosuch --size 1GiB
	refused 3 "cvm: vm 'd' has no disk 'sdq'" cvm disk detach d sdq
	run -2 --separate-stderr cvm disk detach d
	[[ "$stderr" == "cvm: disk detach takes a VM and a disk"* ]]
	refused 3 "cvm: disks[0].image: no image 'debian-12'" \
	    cvm create - <<<$'name: e\ncpu: 1\nmemory: 64MiB\ndisks: [{image: debian-12}]'
	refused 2 "cvm: <stdin>: line 1: disks[0].size: missing (a blank disk needs one)" \
	    cvm create - <<<$'name: e\ncpu: 1\nmemory: 64MiB\ndisks: [{}]'
	[ "$(catalog_digest)" = "$before" ]
	cvm stop -q d
	run -5 --separate-stderr cvm disk attach d --size 1GiB
	[ "$stderr" = "cvm: cannot attach a disk to vm 'd': it is stopped (disk attach needs running, suspended, poweroff, pending or hold)" ]
}

@test "snapshots: create, list, revert (to the state they had) and delete" {
	cvm create -q "$BATS_TEST_TMPDIR/d.yaml"
	run -0 cvm snapshot create d s1 -o json
	[ "$(jq -r '[.kind, .name, .vm, .state] | @tsv' <<<"$output")" = "$(printf 'Snapshot\ts1\td\trunning')" ]
	cvm poweroff -q d
	run -0 cvm snapshot create d s2 -o json
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	run -0 cvm snapshot list d -o json
	[ "$(jq -r .name <<<"$output" | tr '\n' ' ')" = "s1 s2 " ]
	# a Snapshot's id is its name: what revert and delete take
	run -0 cvm snapshot list d -o ids
	[ "$output" = $'s1\ns2' ]
	run -0 cvm snapshot revert d s1 -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(virsh -c "$LAB_URI1" domstate "$(uuid_of d)" | head -n 1)" = running ]
	run -0 cvm snapshot revert d s2 -o json
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	run -0 cvm snapshot delete d s1
	run -0 cvm snapshot list d -o json
	[ "$(jq -r .name <<<"$output")" = s2 ]
	run -0 cvm history d -o json
	jq -s -e 'any(.[]; .action == "snapshot revert" and .detail == "to snapshot '"'s1'"'")' <<<"$output"
	# a name without one: a timestamp
	run -0 cvm snapshot create d -o json
	[[ "$(jq -r .name <<<"$output")" == snap-2* ]]
}

@test "snapshots are refused where they cannot be, changing nothing" {
	cvm create -q "$BATS_TEST_TMPDIR/p.yaml" "$BATS_TEST_TMPDIR/d.yaml"
	run -5 --separate-stderr cvm snapshot create p s1
	[ "$stderr" = "cvm: cannot snapshot vm 'p': it has no disk to keep snapshots in (add one with 'cvm disk attach')" ]
	cvm snapshot create -q d s1
	run -5 --separate-stderr cvm snapshot create d s1
	[[ "$stderr" == *"s1 already exists" ]]
	run -3 --separate-stderr cvm snapshot revert d nosuch
	[ "$stderr" = "cvm: no snapshot 'nosuch'" ]
	run -3 --separate-stderr cvm snapshot delete d nosuch
	[ "$stderr" = "cvm: vm 'd': no snapshot 'nosuch'" ]
	run -2 --separate-stderr cvm snapshot create d ""
	[[ "$stderr" == "cvm: "*"snapshot"* ]]
	# a snapshot holds the disks it was taken with
	run -5 --separate-stderr cvm disk attach d --size 8MiB
	[ "$stderr" = "cvm: cannot attach a disk to vm 'd': it has 1 snapshot, each holding the disks it was taken with (delete them first)" ]
	run -5 --separate-stderr cvm disk detach d sdb
	[ "$stderr" = "cvm: cannot detach a disk from vm 'd': it has 1 snapshot, each holding the disks it was taken with (delete them first)" ]
	cvm stop -q d
	run -5 --separate-stderr cvm snapshot create d s2
	[ "$stderr" = "cvm: cannot snapshot vm 'd': it is stopped (snapshots need running, suspended or poweroff)" ]
	cvm start -q d
	cvm snapshot delete d s1
}

@test "a disk's bytes move with the VM: cold, live, and a stopped VM started elsewhere" {
	cvm create -q "$BATS_TEST_TMPDIR/d.yaml"
	cvm poweroff -q d
	qemu-io -f qcow2 -c "write -P 0xab 0 64k" "$(vol 1 d sdb)" >/dev/null
	run -0 cvm migrate d --to h2 -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	[ ! -e "$(vol 1 d sdb)" ]
	run -0 qemu-io -f qcow2 -c "read -P 0xab 0 64k" "$(vol 2 d sdb)"
	[[ "$output" != *"Pattern verification failed"* ]]
	cvm start -q d
	run -0 cvm migrate d --to h1 --live -o json
	[ "$(jq -r '[.host, .state] | @tsv' <<<"$output")" = "$(printf 'h1\trunning')" ]
	[ "$(blk 1 d)" = "sdb " ]
	[ ! -e "$(vol 2 d sdb)" ]
	cvm stop -q d
	chost disable -q h1
	run -0 cvm start d -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	[ ! -e "$(vol 1 d sdb)" ]
	cvm poweroff -q d
	run -0 qemu-io -f qcow2 -c "read -P 0xab 0 64k" "$(vol 2 d sdb)"
	[[ "$output" != *"Pattern verification failed"* ]]
	chost enable -q h1
}

@test "cvm delete removes the VM's disks from its host" {
	cvm create -q "$BATS_TEST_TMPDIR/d.yaml"
	cvm disk attach -q d --size 8MiB
	uuid=$(uuid_of d)
	cvm delete -q d
	run -0 ls "$(lab_host_dir 1)/lib/images/cloudos"
	[[ "$output" != *"$uuid"* ]]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM vm_disks")" = 0 ]
}

@test "a disk attach killed after it was recorded is finished by detach" {
	cvm create -q "$BATS_TEST_TMPDIR/p.yaml"
	CLOUDOS_FAULT=vm.intent run -137 cvm disk attach p --size 8MiB
	[ "$(cvm show p -o json | jq -c '[.disks[].target]')" = '["sdb"]' ]
	run -0 cvm disk detach p sdb -o json
	[ "$(jq -c .disks <<<"$output")" = '[]' ]
	[ "$(blk 1 p)" = "" ]
}
