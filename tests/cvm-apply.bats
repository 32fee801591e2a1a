#!/usr/bin/env bats
# cvm apply: create or update VMs by name, idempotently; documents of other
# kinds pass through to stdout unchanged.

load helpers/common

lab_suite 1

setup() {
	fresh_catalog
	lab_hosts_add
	cat > "$BATS_TEST_TMPDIR/env.yaml" <<-'DOC'
	kind: Network
	name: front
	cidr: 10.0.0.0/24
	---
	kind: VM
	name: a1
	cpu: 1
	memory: 64MiB
	labels: {app: web}
	---
	name: a2
	cpu: 1
	memory: 64MiB
	---
	kind: Image
	name: debian-12
	DOC
}

teardown() {
	delete_vms
}

@test "cvm apply creates what is missing and passes other kinds through, in order" {
	run -0 --separate-stderr cvm apply - -o json < "$BATS_TEST_TMPDIR/env.yaml"
	[ -z "$stderr" ]
	[ "$(jq -r '[.kind, .name] | @tsv' <<<"$output" | tr '\t\n' ' |')" = "Network front|VM a1|VM a2|Image debian-12|" ]
	[ "$(jq -r 'select(.kind == "Network") | .cidr' <<<"$output")" = 10.0.0.0/24 ]
	[ "$(jq -r 'select(.kind == "VM") | .state' <<<"$output" | sort -u)" = running ]
	[ "$(cvm show a1 -o json | jq -r .labels.app)" = web ]
}

@test "cvm apply of the same documents again writes nothing" {
	cvm apply -f "$BATS_TEST_TMPDIR/env.yaml" >/dev/null
	before=$(catalog_digest)
	run -0 cvm apply -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ "$(jq -s length <<<"$output")" = 4 ]
	[ "$(catalog_digest)" = "$before" ]
	# nor does a list piped back in
	cvm list -o yaml | cvm apply - >/dev/null
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvm apply updates labels of a running VM and the size of one that is off" {
	cvm apply -f "$BATS_TEST_TMPDIR/env.yaml" >/dev/null
	cvm poweroff -q a2
	sed -i 's/app: web/app: api/' "$BATS_TEST_TMPDIR/env.yaml"
	sed -i '/^name: a2$/,$ s/^memory: 64MiB$/memory: 96MiB/' "$BATS_TEST_TMPDIR/env.yaml"
	run -0 cvm apply -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ "$(cvm show a1 -o json | jq -r '[.labels.app, .state] | @tsv')" = "$(printf 'api\trunning')" ]
	[ "$(cvm show a2 -o json | jq -r '[.cpu, .memory] | @tsv')" = "$(printf '1\t96')" ]
	run -0 cvm history a1 -o json
	jq -s -e 'any(.[]; .action == "update" and .detail == "labels")' <<<"$output"
}

@test "cvm apply reports what it cannot change and goes on: exit 8" {
	cvm apply -f "$BATS_TEST_TMPDIR/env.yaml" >/dev/null
	cvm delete -q a2
	printf 'name: a1\ncpu: 1\nmemory: 128MiB\nlabels: {app: web}\n---\nname: a3\ncpu: 1\nmemory: 32MiB\n' > "$BATS_TEST_TMPDIR/more.yaml"
	run -8 --separate-stderr cvm apply -f "$BATS_TEST_TMPDIR/more.yaml" -o json
	[[ "$stderr" == "cvm: $BATS_TEST_TMPDIR/more.yaml: line 1: cannot resize vm 'a1' while it is running (power it off first): "* ]]
	[[ "$stderr" == *"cvm: 1 of 2 documents failed" ]]
	[ "$(jq -r .name <<<"$output")" = a3 ]
	[ "$(cvm show a1 -o json | jq -r .memory)" = 64 ]
}

@test "cvm apply refuses bad documents and changes nothing" {
	before=$(catalog_digest)
	run -2 --separate-stderr cvm apply - <<<'name: [unclosed'
	[[ "$stderr" == "cvm: <stdin>: "* ]]
	[ -z "$output" ]
	refused 2 "cvm: <stdin>: line 1: cpu: missing (the number of vCPUs)" \
	    cvm apply - <<<$'kind: VM\nname: x\nmemory: 64MiB'
	refused 2 "cvm: <stdin>: line 1: cpu: expected a whole number from 1 to 1024, found '-1'" \
	    cvm apply - <<<$'kind: VM\nname: x\ncpu: -1\nmemory: 64MiB'
	refused 2 "cvm: no input given (a file, -f FILE, or - for stdin)" cvm apply
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvm apply with a new context renews the VM's seed" {
	printf 'name: c1\ncpu: 1\nmemory: 64MiB\ncontext:\n  user_data: "#cloud-config\\n# one\\n"\n' > "$BATS_TEST_TMPDIR/c.yaml"
	cvm apply -q -f "$BATS_TEST_TMPDIR/c.yaml"
	uuid=$(cvm show c1 -o json | jq -r .uuid)
	iso="$(lab_host_dir 1)/lib/images/cloudos/$uuid-seed.iso"
	xorriso -osirrox on -indev "$iso" -extract /user-data "$BATS_TEST_TMPDIR/ud1" >/dev/null 2>&1
	grep -qx '# one' "$BATS_TEST_TMPDIR/ud1"
	sed -i 's/# one/# two/' "$BATS_TEST_TMPDIR/c.yaml"
	run -0 cvm apply -f "$BATS_TEST_TMPDIR/c.yaml" -o json
	xorriso -osirrox on -indev "$iso" -extract /user-data "$BATS_TEST_TMPDIR/ud2" >/dev/null 2>&1
	grep -qx '# two' "$BATS_TEST_TMPDIR/ud2"
	run -0 cvm history c1 -o json
	jq -s -e 'any(.[]; .action == "update" and .detail == "context")' <<<"$output"
	# a document without context leaves it as it is
	printf 'name: c1\ncpu: 1\nmemory: 64MiB\n' | cvm apply - >/dev/null
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT spec FROM vms WHERE name = 'c1'"
	[[ "$output" == *"# two"* ]]
}
