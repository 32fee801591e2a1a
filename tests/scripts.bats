#!/usr/bin/env bats
# Scripts that can run twice, and ids for xargs: an action that finds its
# object in the target state already succeeds and changes nothing; "-"
# takes ids or names one per line as well as documents; delete passes
# documents of other kinds on; every kind prints an id under -o ids.
# Hosts are test:///default, whose domains live only as long as the
# program that made them: any libvirt call about a VM made by an earlier
# command fails (Domain not found), so a command that succeeds here asked
# libvirt nothing.

load helpers/common

setup() {
	fresh_catalog
	chost add t1 test:///default --cpu 8 --memory 1GiB >/dev/null
	printf 'name: w\ncpu: 1\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/w.yaml"
}

# state VM STATE: what the catalog says, as if the guest had got there
state() {
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE vms SET state = '$2' WHERE name = '$1'"
}

# there STATE CMD...: CMD exits 0, prints the VM in STATE, and changes
# nothing in the catalog (no updated, no audit row, no history)
there() {
	local want=$1 before
	shift
	before=$(catalog_digest)
	run -0 --separate-stderr "$@" -o json
	[ -z "$stderr" ] || { echo "stderr: $stderr"; return 1; }
	[ "$(jq -r .state <<<"$output")" = "$want" ] || { echo "$output"; return 1; }
	[ "$(catalog_digest)" = "$before" ] || { echo "the catalog changed"; return 1; }
}

@test "an action on a VM in its target state exits 0 and changes nothing" {
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml" >/dev/null
	there running cvm start w
	there running cvm resume w
	state w poweroff
	there poweroff cvm poweroff w
	there poweroff cvm shutdown w
	state w suspended
	there suspended cvm suspend w
	state w stopped
	there stopped cvm stop w
	run -0 cvm history w -o json
	[ "$(jq -r .action <<<"$output" | tr '\n' ' ')" = "create deploy " ]
	# the harness: an action that reaches libvirt fails here
	state w running
	run -3 --separate-stderr cvm reboot w
	[[ "$stderr" == *"Domain not found"* ]]
}

@test "delete of a done VM exits 0 and changes nothing" {
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml" >/dev/null
	run -0 cvm delete w -o json
	[ "$(jq -r .state <<<"$output")" = done ]
	there done cvm delete 1
	uuid=$(cvm show 1 -o json | jq -r .uuid)
	there done cvm delete "$uuid"
	# by name, a done VM is no longer found: its name is free again
	refused 3 "cvm: no vm 'w'" cvm delete w
}

@test "chost enable of an enabled host exits 0 and changes nothing" {
	before=$(catalog_digest)
	run -0 --separate-stderr chost enable t1 -o json
	[ -z "$stderr" ]
	[ "$(jq -r .state <<<"$output")" = enabled ]
	[ "$(catalog_digest)" = "$before" ]
	chost disable -q t1
	before=$(catalog_digest)
	run -0 chost disable t1 -o json
	[ "$(jq -r .state <<<"$output")" = disabled ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "cnet secgroup publish of a public group exits 0 and changes nothing" {
	cnet secgroup create sg >/dev/null
	cnet secgroup publish -q sg
	before=$(catalog_digest)
	run -0 cnet secgroup publish sg -o json
	[ "$(jq -r .visibility <<<"$output")" = public ]
	[ "$(catalog_digest)" = "$before" ]
	cnet secgroup unpublish -q sg
	before=$(catalog_digest)
	run -0 cnet secgroup unpublish sg -o json
	[ "$(jq -r .visibility <<<"$output")" = private ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "actions still refuse states that are neither allowed nor there" {
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml" >/dev/null
	state w poweroff
	refused 5 "cvm: cannot suspend vm 'w': it is poweroff (suspend needs running)" \
	    cvm suspend w
	refused 5 "cvm: cannot stop vm 'w': it is poweroff (stop needs running or suspended)" \
	    cvm stop w
	refused 5 "cvm: cannot resume vm 'w': it is poweroff (resume needs suspended)" \
	    cvm resume w
	state w stopped
	refused 5 "cvm: cannot power off vm 'w': it is stopped (power off needs running, suspended or unknown)" \
	    cvm poweroff w
}

@test "a batch of VMs some of which are there already changes only the others" {
	cvm create -q --count 2 "$BATS_TEST_TMPDIR/w.yaml" >/dev/null
	state w-2 poweroff
	# w-1 is running already; w-2 starts (and fails here, on the test host)
	run -8 --separate-stderr cvm start w-1 w-2 -o ids
	[ "$output" = 1 ]
	[[ "$stderr" == "cvm: cannot start vm 'w-2' on host 't1': "*$'\ncvm: 1 of 2 objects failed' ]]
}

@test "- takes ids, names and UUIDs one per line" {
	cvm create -q --count 3 "$BATS_TEST_TMPDIR/w.yaml" >/dev/null
	uuid=$(cvm show w-3 -o json | jq -r .uuid)
	run -0 cvm show - -o ids <<<"w-1

# a comment
  2  
$uuid"
	[ "$output" = $'1\n2\n3' ]
	cvm list -o ids > "$BATS_TEST_TMPDIR/ids"
	run -0 cvm start - -o ids < "$BATS_TEST_TMPDIR/ids"
	[ "$output" = $'1\n2\n3' ]
	refused 3 "cvm: no vm 'nope'" cvm start - <<<"nope"
	refused 2 "cvm: <stdin>: line 1: the document has no id or name" \
	    cvm delete - <<<"cpu: 1"
}

@test "delete - passes documents of other kinds through, so a chain tears an environment down" {
	cnet create n1 --mode isolated --cidr 10.9.0.0/24 >/dev/null
	cvm create -q --count 2 "$BATS_TEST_TMPDIR/w.yaml" >/dev/null
	{ cnet list -o yaml; echo ---; cvm list -o yaml; } > "$BATS_TEST_TMPDIR/env.yaml"
	run -0 --separate-stderr cvm delete - -o json < "$BATS_TEST_TMPDIR/env.yaml"
	[ "$(jq -r '[.kind, .name, (.state // "-")] | @tsv' <<<"$output")" = "$(printf 'Network\tn1\t-\nVM\tw-1\tdone\nVM\tw-2\tdone')" ]
	# the whole chain: the VMs are done already (found by their ids), the
	# network reaches cnet and goes
	run -0 sh -c 'cvm delete - -o yaml < "$1" | cnet delete - -o yaml' sh \
	    "$BATS_TEST_TMPDIR/env.yaml"
	[ "$(grep '^kind:' <<<"$output" | tr '\n' ' ')" = "kind: VM kind: VM " ]
	run -0 cnet list -o ids
	[ -z "$output" ]
	run -0 cvm list -o ids
	[ -z "$output" ]
	# other actions still refuse documents of another kind, before acting
	refused 2 "cvm: <stdin>: line 1: a Network document, not VM" \
	    cvm poweroff - < "$BATS_TEST_TMPDIR/env.yaml"
}

@test "delete - -q prints nothing of its own but still passes the other kinds on" {
	cnet create n1 --mode isolated --cidr 10.9.0.0/24 -q
	cvm create -q --count 2 "$BATS_TEST_TMPDIR/w.yaml"
	{ cnet list -o yaml; echo ---; cvm list -o yaml; } > "$BATS_TEST_TMPDIR/env.yaml"
	run -0 --separate-stderr cvm delete - -q -o json < "$BATS_TEST_TMPDIR/env.yaml"
	[ "$(jq -r '[.kind, .name] | @tsv' <<<"$output")" = "$(printf 'Network\tn1')" ]
	run -0 sh -c 'cvm create -q --count 2 "$1" &&
	    cvm delete - -q < "$2" | cnet delete - -q' sh \
	    "$BATS_TEST_TMPDIR/w.yaml" "$BATS_TEST_TMPDIR/env.yaml"
	[ -z "$output" ]
	run -0 cnet list -o ids
	[ -z "$output" ]
}

@test "-o ids prints an id for every kind" {
	cvm create -q "$BATS_TEST_TMPDIR/w.yaml" >/dev/null
	cnet create n1 --mode isolated --cidr 10.9.0.0/24 >/dev/null
	cnet reserve n1 10.9.0.5 >/dev/null
	cnet secgroup create sg >/dev/null
	chost cluster add c1 >/dev/null
	csched group create g --affinity >/dev/null
	cacct user add bob --uid 4321 >/dev/null
	for cmd in "chost list" "chost cluster list" "cvm list" "cvm history w" \
	    "cnet list" "cnet lease list n1" "cnet secgroup list" \
	    "csched group list" "cacct user list" "cnet config" "cimg config" \
	    "csched explain w"; do
		run -0 $cmd -o json
		want=$(jq -r .id <<<"$output")
		[ -n "$want" ] && [[ "$want" != *null* ]] || { echo "$cmd: $output"; return 1; }
		run -0 $cmd -o ids
		[ "$output" = "$want" ] || { echo "$cmd: $output, not $want"; return 1; }
	done
}

@test "a Placement's id is its VM's: csched plan -o ids feeds cvm" {
	cvm create -q --queue --count 2 "$BATS_TEST_TMPDIR/w.yaml" >/dev/null
	run -0 csched plan -o json
	[ "$(jq -r '[.id, .vm_id] | @tsv' <<<"$output")" = "$(printf '1\t1\n2\t2')" ]
	run -0 csched plan -o ids
	[ "$output" = $'1\n2' ]
	run -0 sh -c 'csched plan -o ids | xargs cvm show -o json'
	[ "$(jq -r .name <<<"$output" | tr '\n' ' ')" = "w-1 w-2 " ]
	run -0 csched explain w-2 -o ids
	[ "$output" = 2 ]
}
