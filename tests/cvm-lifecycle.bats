#!/usr/bin/env bats
# The VM life cycle beyond create and delete, on real qemu guests: shutdown,
# reboot, suspend, resume, hold and release, --count, history, and batches.

load helpers/common

lab_suite 1

setup() {
	fresh_catalog
	lab_hosts_add
	printf 'name: w\ncpu: 1\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/w.yaml"
}

teardown() {
	delete_vms
}

domstate() {
	virsh -c "$LAB_URI1" domstate "$(cvm show "$1" -o json | jq -r .uuid)" | head -n 1
}

@test "cvm suspend pauses a running VM in memory and resume runs it again" {
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml"
	run -0 cvm suspend w -o json
	[ "$(jq -r .state <<<"$output")" = suspended ]
	[ "$(domstate w)" = paused ]
	run -0 chost show h1 -o json
	[ "$(jq -r .used_cpu <<<"$output")" = 1 ]
	# there already: exit 0, nothing changed
	before=$(catalog_digest)
	run -0 cvm suspend w -o json
	[ "$(jq -r .state <<<"$output")" = suspended ]
	[ "$(catalog_digest)" = "$before" ]
	run -0 cvm resume w -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(domstate w)" = running ]
	before=$(catalog_digest)
	run -0 cvm resume w -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvm poweroff works on a suspended VM" {
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml"
	cvm suspend -q w
	run -0 cvm poweroff w -o json
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	[ "$(domstate w)" = "shut off" ]
}

@test "cvm shutdown powers off a guest that ignores ACPI after its timeout" {
	# the lab's guests run firmware only: nothing answers the ACPI button
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml"
	start=$(date +%s)
	run -0 cvm shutdown w --timeout 1 -o json
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	[ "$(domstate w)" = "shut off" ]
	[ $(( $(date +%s) - start )) -ge 1 ]
	before=$(catalog_digest)
	run -0 cvm shutdown w -o json
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	[ "$(catalog_digest)" = "$before" ]
	run -2 --separate-stderr cvm shutdown w --timeout soon
	[ "$stderr" = "cvm: invalid timeout 'soon' (whole seconds, 1 to 86400)" ]
}

@test "cvm reboot asks the guest, and --hard resets it; it stays running" {
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml"
	run -0 cvm reboot w -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	run -0 cvm reboot --hard w -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(domstate w)" = running ]
	cvm poweroff -q w
	run -5 --separate-stderr cvm reboot w
	[ "$stderr" = "cvm: cannot reboot vm 'w': it is poweroff (reboot needs running)" ]
}

@test "cvm create --hold keeps a VM unplaced until cvm release" {
	run -0 cvm create --hold "$BATS_TEST_TMPDIR/w.yaml" -o json
	[ "$(jq -r .state <<<"$output")" = hold ]
	[ "$(jq -r .host <<<"$output")" = null ]
	run -0 chost show h1 -o json
	[ "$(jq -r .used_cpu <<<"$output")" = 0 ]
	run -0 cvm release w -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -r .host <<<"$output")" = h1 ]
	[ "$(domstate w)" = running ]
	run -5 --separate-stderr cvm release w
	[ "$stderr" = "cvm: cannot release vm 'w': it is running (release needs hold)" ]
}

@test "cvm release exits 6 and keeps the VM in hold when no host has room" {
	printf 'name: big\ncpu: 1\nmemory: 1TiB\n' > "$BATS_TEST_TMPDIR/big.yaml"
	cvm create --hold -q "$BATS_TEST_TMPDIR/big.yaml"
	before=$(catalog_digest)
	run -6 cvm release big
	[ "$(catalog_digest)" = "$before" ]
	run -0 cvm delete big -o json
	[ "$(jq -r .state <<<"$output")" = done ]
}

@test "cvm create --count N makes NAME-1 to NAME-N" {
	run -0 cvm create --count 2 "$BATS_TEST_TMPDIR/w.yaml" -o json
	[ "$(jq -r .name <<<"${lines[0]}")" = w-1 ]
	[ "$(jq -r .name <<<"${lines[1]}")" = w-2 ]
	[ "$(jq -r .state <<<"${lines[1]}")" = running ]
	run -2 --separate-stderr cvm create --count 0 "$BATS_TEST_TMPDIR/w.yaml"
	[ "$stderr" = "cvm: invalid count '0' (1 to 100000)" ]
}

@test "cvm create --count past the host's room creates what fits and exits 8" {
	run -8 --separate-stderr cvm create --count 3 "$BATS_TEST_TMPDIR/w.yaml" -o ids
	[ "$output" = $'1\n2' ]
	[[ "$stderr" == "cvm: no host has room for vm 'w-3' "*$'\ncvm: 1 of 3 documents failed' ]]
	cvm delete -q w-1 w-2
	run -0 cvm create --count 3 --hold "$BATS_TEST_TMPDIR/w.yaml" -o ids
	[ "$output" = $'3\n4\n5' ]
	run -8 --separate-stderr cvm release w-1 w-2 w-3 -q
	[[ "$stderr" == *"cvm: 1 of 3 objects failed" ]]
	run -0 cvm list --state running -o ids
	[ "$output" = $'3\n4' ]
}

@test "cvm history lists every transition with time, actor and outcome" {
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml"
	cvm suspend -q w
	cvm resume -q w
	cvm poweroff -q w
	run -0 cvm history w -o json
	run -0 jq -r '.user + " " + .action + " " + .detail' <<<"$output"
	[ "$output" = "root create h1
root deploy deploying -> running
root suspend running -> suspended
root resume suspended -> running
root power off running -> shutting-down
root power off shutting-down -> poweroff" ]
	run -0 cvm history w -o json
	[[ "$(jq -r .time <<<"${lines[0]}")" =~ ^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]+Z$ ]]
	run -3 cvm history nope
}

@test "cvm actions take batches: ids through xargs, documents through -" {
	cvm create -q --count 2 "$BATS_TEST_TMPDIR/w.yaml"
	cvm list -o ids > "$BATS_TEST_TMPDIR/ids"
	run -0 xargs cvm suspend -q < "$BATS_TEST_TMPDIR/ids"
	run -0 cvm list --state suspended -o ids
	[ "$output" = $'1\n2' ]
	cvm list -o json > "$BATS_TEST_TMPDIR/vms.json"
	run -0 cvm poweroff - -o ids < "$BATS_TEST_TMPDIR/vms.json"
	[ "$output" = $'1\n2' ]
	run -0 cvm list --state poweroff -o ids
	[ "$output" = $'1\n2' ]
}

@test "cvm actions in a batch report each failure and exit 8" {
	cvm create -q --count 2 "$BATS_TEST_TMPDIR/w.yaml"
	cvm poweroff -q w-2
	run -8 --separate-stderr cvm suspend w-1 w-2 nope -o ids
	[ "$output" = 1 ]
	[ "$stderr" = "cvm: cannot suspend vm 'w-2': it is poweroff (suspend needs running)
cvm: no vm 'nope'
cvm: 2 of 3 objects failed" ]
	cvm poweroff -q w-1
	run -5 --separate-stderr cvm suspend w-1 w-2
	[ "$stderr" = "cvm: cannot suspend vm 'w-1': it is poweroff (suspend needs running)
cvm: cannot suspend vm 'w-2': it is poweroff (suspend needs running)
cvm: all 2 objects failed" ]
}

@test "cvm document batches refuse documents of another kind before acting" {
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml"
	chost list -o json > "$BATS_TEST_TMPDIR/hosts.json"
	refused 2 "cvm: <stdin>: line 1: a Host document, not VM" \
	    cvm poweroff - < "$BATS_TEST_TMPDIR/hosts.json"
}

@test "cvm create --queue leaves VMs pending, unplaced, holding nothing" {
	run -0 cvm create --queue --count 3 "$BATS_TEST_TMPDIR/w.yaml" -o json
	[ "$(jq -r '[.state, (.host // "none")] | @tsv' <<<"$output" | sort -u)" = "$(printf 'pending\tnone')" ]
	[ "$(jq -s length <<<"$output")" = 3 ]
	run -0 chost show h1 -o json
	[ "$(jq -r .used_cpu <<<"$output")" = 0 ]
	[ -z "$(virsh -c "$LAB_URI1" list --all --name | sed '/^$/d')" ]
	run -0 cvm resize w-1 --cpu 2 -o json
	[ "$(jq -r '[.state, .cpu] | @tsv' <<<"$output")" = "$(printf 'pending\t2')" ]
	run -5 --separate-stderr cvm release w-1
	[ "$stderr" = "cvm: cannot release vm 'w-1': it is pending (release needs hold)" ]
	run -0 cvm history w-2 -o json
	[ "$(jq -r .detail <<<"$output")" = pending ]
	refused 2 "cvm: --hold and --queue do not go together" \
	    cvm create --queue --hold "$BATS_TEST_TMPDIR/w.yaml"
}
