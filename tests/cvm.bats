#!/usr/bin/env bats
# cvm against a real lab host: VMs are real qemu guests (TCG, 64 MiB), the
# catalog is real SQLite, fresh for every test.

load helpers/common

lab_suite 1

setup() {
	fresh_catalog
	lab_hosts_add
}

teardown() {
	# free the host's 2 vCPUs for the next test: delete what is left
	delete_vms
}

# vm NAME [CPU] [MEMORY]: a VM document on stdout
vm() {
	printf 'kind: VM\nname: %s\ncpu: %s\nmemory: %s\n' "$1" "${2:-1}" "${3:-64MiB}"
}

# domstate UUID: the domain's state as libvirt on the lab host sees it
domstate() {
	virsh -c "$LAB_URI1" domstate "$1" 2>&1 | head -n 1
}

@test "cvm create starts a VM from YAML on stdin as a running qemu guest" {
	vm web-1 > "$BATS_TEST_TMPDIR/vm.yaml"
	run -0 --separate-stderr cvm create - -o json < "$BATS_TEST_TMPDIR/vm.yaml"
	[ -z "$stderr" ]
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -r .host <<<"$output")" = h1 ]
	[ "$(jq -r .memory <<<"$output")" = 64 ]
	uuid=$(jq -r .uuid <<<"$output")
	[ "$(domstate "$uuid")" = running ]
	# a real qemu process runs the guest
	pgrep -f "guest=cloudos-$uuid" >/dev/null
}

@test "cvm list -o json says running" {
	vm web-1 | cvm create - >/dev/null
	run -0 cvm list -o json
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -r .name <<<"$output")" = web-1 ]
	[ "$(jq -c .ips <<<"$output")" = '[]' ]
}

@test "cvm delete removes the domain and keeps the record as done" {
	vm web-1 | cvm create - >/dev/null
	uuid=$(cvm show web-1 -o json | jq -r .uuid)
	run -0 --separate-stderr cvm delete web-1 -o json
	[ "$(jq -r .state <<<"$output")" = done ]
	[ "$(jq -r .host <<<"$output")" = null ]
	[[ "$(domstate "$uuid")" == *"failed to get domain"* ]]
	run -0 cvm list -o ids
	[ -z "$output" ]
	run -0 cvm list --all -o json
	[ "$(jq -r .state <<<"$output")" = done ]
	run -0 cvm list --state done -o ids
	[ "$output" = 1 ]
	run -0 chost show h1 -o json
	[ "$(jq -r .used_cpu <<<"$output")" = 0 ]
}

@test "cvm poweroff powers the guest off and keeps its host; start powers it on" {
	vm web-1 | cvm create - >/dev/null
	uuid=$(cvm show web-1 -o json | jq -r .uuid)
	run -0 cvm poweroff web-1 -o json
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	[ "$(jq -r .host <<<"$output")" = h1 ]
	[ "$(domstate "$uuid")" = "shut off" ]
	run -0 chost show h1 -o json
	[ "$(jq -r .used_cpu <<<"$output")" = 1 ]
	run -0 cvm start web-1 -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(domstate "$uuid")" = running ]
}

@test "cvm start of a running VM exits 0 and changes nothing" {
	vm web-1 | cvm create - >/dev/null
	before=$(catalog_digest)
	run -0 --separate-stderr cvm start web-1 -o json
	[ -z "$stderr" ]
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(catalog_digest)" = "$before" ]
	uuid=$(jq -r .uuid <<<"$output")
	[ "$(domstate "$uuid")" = running ]
}

@test "cvm poweroff of a VM that is off exits 0; start of one that is off needs a host" {
	vm web-1 | cvm create - >/dev/null
	cvm poweroff -q web-1
	before=$(catalog_digest)
	run -0 --separate-stderr cvm poweroff web-1 -o json
	[ -z "$stderr" ]
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	[ "$(catalog_digest)" = "$before" ]
	refused 5 "cvm: cannot suspend vm 'web-1': it is poweroff (suspend needs running)" \
	    cvm suspend web-1
}

@test "cvm show finds a VM by id, name and UUID" {
	vm web-1 | cvm create - >/dev/null
	uuid=$(cvm show web-1 -o json | jq -r .uuid)
	for ref in 1 web-1 "$uuid" "${uuid^^}"; do
		run -0 cvm show "$ref" -o ids
		[ "$output" = 1 ]
	done
}

@test "cvm show, start, poweroff and delete of a missing VM exit 3" {
	for sub in show start poweroff delete; do
		run -3 --separate-stderr cvm "$sub" nope
		assert_output ""
		[ "$stderr" = "cvm: no vm 'nope'" ]
	done
	run -3 --separate-stderr cvm show 42
	[ "$stderr" = "cvm: no vm '42'" ]
}

@test "cvm list filters by state, host and name" {
	vm web-1 | cvm create - >/dev/null
	vm db-1 | cvm create - >/dev/null
	cvm poweroff -q db-1
	run -0 cvm list --state running -o ids
	[ "$output" = 1 ]
	run -0 cvm list --state poweroff -o ids
	[ "$output" = 2 ]
	# states are matched without regard to case
	run -0 cvm list --state POWEROFF -o ids
	[ "$output" = 2 ]
	run -0 cvm list --state PowerOff -o ids
	[ "$output" = 2 ]
	run -0 cvm list --host h1 -o ids
	[ "$output" = $'1\n2' ]
	run -0 cvm list --host 1 -o ids
	[ "$output" = $'1\n2' ]
	run -0 cvm list --host nohost -o ids
	[ -z "$output" ]
	run -0 cvm list --name 'web-*' -o ids
	[ "$output" = 1 ]
	refused 2 "cvm: unknown state 'sleeping' (expected one of: pending, hold, deploying, running, suspended, stopped, poweroff, migrating, shutting-down, failed, unknown, done)" \
	    cvm list --state sleeping
	refused 2 "cvm: unknown state 'runing' (expected one of: pending, hold, deploying, running, suspended, stopped, poweroff, migrating, shutting-down, failed, unknown, done)" \
	    cvm list --state runing
}

@test "cvm create reads JSON Lines, jq's pretty JSON and JSON arrays" {
	printf '{"name":"j1","cpu":1,"memory":"64M"}\n' > "$BATS_TEST_TMPDIR/a.json"
	run -0 cvm create "$BATS_TEST_TMPDIR/a.json" -o ids
	[ "$output" = 1 ]
	cvm delete -q j1
	printf '{\n  "name": "j2",\n  "cpu": 1,\n  "memory": 64\n}\n' > "$BATS_TEST_TMPDIR/b.json"
	run -0 cvm create -f "$BATS_TEST_TMPDIR/b.json" -o ids
	[ "$output" = 2 ]
	cvm delete -q j2
	printf '[{"name":"j3","cpu":1,"memory":64},{"name":"j4","cpu":1,"memory":64}]' > "$BATS_TEST_TMPDIR/c.json"
	run -0 cvm create - -o ids < "$BATS_TEST_TMPDIR/c.json"
	[ "$output" = $'3\n4' ]
}

@test "cvm delete - deletes every VM named by documents on stdin" {
	vm a1 | cvm create - >/dev/null
	vm a2 | cvm create - >/dev/null
	cvm list -o json > "$BATS_TEST_TMPDIR/list.json"
	run -0 cvm delete - -q < "$BATS_TEST_TMPDIR/list.json"
	[ -z "$output" ]
	run -0 cvm list -o ids
	[ -z "$output" ]
	run -0 cvm list --state done -o ids
	[ "$output" = $'1\n2' ]
}

@test "cvm delete of several VMs with one missing exits 8 and deletes the rest" {
	vm a1 | cvm create - >/dev/null
	run -8 --separate-stderr cvm delete -q a1 nope
	[ "$stderr" = $'cvm: no vm \'nope\'\ncvm: 1 of 2 objects failed' ]
	run -0 cvm list --state done -o ids
	[ "$output" = 1 ]
}

@test "cvm create refuses malformed YAML and JSON with exit 2 and changes nothing" {
	while IFS='|' read -r input message; do
		printf '%b' "$input" > "$BATS_TEST_TMPDIR/bad"
		refused 2 "cvm: $message" cvm create - < "$BATS_TEST_TMPDIR/bad" ||
		    { echo "input: $input"; false; }
	done <<'EOF_CASES'
name: a\ncpu: [1\n|<stdin>: line 3: did not find expected ',' or ']' while parsing a flow sequence
name: a\n  cpu: 1\n|<stdin>: line 2: mapping values are not allowed in this context
{"name": "a", "cpu": 1|<stdin>: line 1: unterminated JSON object
{"name": "a"} oops|<stdin>: line 1: expected a JSON object
[1, 2]|<stdin>: line 1: item 1: expected a map, found a integer
just text\n|<stdin>: line 1: document 1: expected a map, found a string
a: 1\na: 2\n|<stdin>: line 2: duplicate key 'a'
a: &x 1\nb: *x\n|<stdin>: line 2: aliases (*name) are not supported
\n|no documents in the input
EOF_CASES
}

@test "cvm create refuses unknown kinds, bad names, cpu and memory with exit 2" {
	while IFS='|' read -r input message; do
		printf '%b' "$input" > "$BATS_TEST_TMPDIR/bad"
		refused 2 "cvm: <stdin>: line 1: $message" cvm create - < "$BATS_TEST_TMPDIR/bad" ||
		    { echo "input: $input"; false; }
	done <<'EOF_CASES'
kind: Host\nname: a\ncpu: 1\nmemory: 64\n|kind 'Host' is not VM
kind: Vm\nname: a\ncpu: 1\nmemory: 64\n|kind 'Vm' is not VM
kind: [VM]\nname: a\ncpu: 1\nmemory: 64\n|kind: expected a string, found a list
cpu: 1\nmemory: 64\n|name: missing
name: [a]\ncpu: 1\nmemory: 64\n|name: expected a string, found a list
name: ""\ncpu: 1\nmemory: 64\n|vm name is empty
name: 42\ncpu: 1\nmemory: 64\n|name: expected a string, found a integer
name: "42"\ncpu: 1\nmemory: 64\n|vm name '42' is all digits (it would read as an id)
name: "a\\nb"\ncpu: 1\nmemory: 64\n|vm name holds a control character
name: a\nmemory: 64\n|cpu: missing (the number of vCPUs)
name: a\ncpu: -1\nmemory: 64\n|cpu: expected a whole number from 1 to 1024, found '-1'
name: a\ncpu: 0\nmemory: 64\n|cpu: expected a whole number from 1 to 1024, found '0'
name: a\ncpu: 1.5\nmemory: 64\n|cpu: expected a whole number from 1 to 1024, found '1.5'
name: a\ncpu: two\nmemory: 64\n|cpu: expected a whole number from 1 to 1024, found 'two'
name: a\ncpu: 100000\nmemory: 64\n|cpu: expected a whole number from 1 to 1024, found '100000'
name: a\ncpu: 1\n|memory: missing (a size such as 512MiB)
name: a\ncpu: 1\nmemory: -64\n|memory: invalid size '-64': must not be negative
name: a\ncpu: 1\nmemory: "-1GiB"\n|memory: invalid size '-1GiB': must not be negative
name: a\ncpu: 1\nmemory: 2GBx\n|memory: invalid size '2GBx'
name: a\ncpu: 1\nmemory: 0\n|memory: must be at least 1 MiB
name: a\ncpu: 1\nmemory: {a: 1}\n|memory: invalid size: expected a number or a string such as '512MiB', found a map
name: a\ncpu: 1\nmemory: 64\nlabels: [x]\n|labels: expected a map, found a list
name: a\ncpu: 1\nmemory: 64\nlabels: {"bad key": 1}\n|labels: invalid label key 'bad key' (use 1 to 63 letters, digits, '.', '_', '/' or '-')
name: a\ncpu: 1\nmemory: 64\ndisks: [{image: [debian-12]}]\n|disks[0].image: expected the name of an image
name: a\ncpu: 1\nmemory: 64\ndisks: [{datastore: fast}]\n|disks[0].size: missing (a blank disk needs one)
name: a\ncpu: 1\nmemory: 64\ndisks: [{size: 1G, datastore: ""}]\n|disks[0].datastore: expected the name of a datastore
name: a\ncpu: 1\nmemory: 64\ndisks: {size: 1G}\n|disks: expected a list, found a map
name: a\ncpu: 1\nmemory: 64\ndisks: [{size: 0}]\n|disks[0].size: must be at least 1 MiB
name: a\ncpu: 1\nmemory: 64\ndisks: [{size: 1G, color: red}]\n|disks[0].color: unknown field
name: a\ncpu: 1\nmemory: 64\nnics: {network: n}\n|nics: expected a list, found a map
name: a\ncpu: 1\nmemory: 64\nnics: [{network: n, color: red}]\n|nics[0].color: unknown field
name: a\ncpu: 1\nmemory: 64\nnics: [{ip: 10.0.0.1}]\n|nics[0].network: expected the name of a network
name: a\ncpu: 1\nmemory: 64\nrequirements: 'cpu >'\n|requirements: column 6: expected a value, found end of input
name: a\ncpu: 1\nmemory: 64\nrequirements: [x]\n|requirements: expected a string, found a list
name: a\ncpu: 1\nmemory: 64\npriority: high\n|priority: expected a whole number from -1000 to 1000
EOF_CASES
}

@test "cvm create accepts extra fields, such as those of its own output" {
	vm web-1 | cvm create - -o yaml > "$BATS_TEST_TMPDIR/out.yaml"
	cvm delete -q web-1
	run -0 cvm create - -o json < "$BATS_TEST_TMPDIR/out.yaml"
	[ "$(jq -r .id <<<"$output")" = 2 ]
	[ "$(jq -r .state <<<"$output")" = running ]
}

@test "cvm create keeps a name with quotes, angle brackets and ampersands verbatim" {
	name=$'<b>&amp;"q\' ]]> x'
	jq -n --arg n "$name" '{name: $n, cpu: 1, memory: 64}' > "$BATS_TEST_TMPDIR/vm.json"
	run -0 cvm create - -o json < "$BATS_TEST_TMPDIR/vm.json"
	[ "$(jq -r .name <<<"$output")" = "$name" ]
	[ "$(jq -r .state <<<"$output")" = running ]
	uuid=$(jq -r .uuid <<<"$output")
	# the domain XML is intact: the name is the title, and nothing more
	[ "$(virsh -c "$LAB_URI1" desc --title "$uuid")" = "$name" ]
	[ "$(virsh -c "$LAB_URI1" dumpxml "$uuid" | grep -c '<disk')" -eq 0 ]
	run -0 cvm show "$name" -o ids
	[ "$output" = 1 ]
	run -0 cvm delete "$name" -q
}

@test "cvm create refuses a taken name with exit 5" {
	vm web-1 | cvm create - >/dev/null
	before=$(catalog_digest)
	vm web-1 > "$BATS_TEST_TMPDIR/vm.yaml"
	refused 5 "cvm: vm 'web-1' exists already" cvm create - < "$BATS_TEST_TMPDIR/vm.yaml"
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvm create reuses the name of a deleted VM" {
	vm web-1 | cvm create - >/dev/null
	cvm delete -q web-1
	vm web-1 > "$BATS_TEST_TMPDIR/vm.yaml"
	run -0 cvm create - -o ids < "$BATS_TEST_TMPDIR/vm.yaml"
	[ "$output" = 2 ]
}

@test "cvm create exits 6 when no host has room, changing nothing" {
	before=$(catalog_digest)
	vm big 1 1TiB > "$BATS_TEST_TMPDIR/vm.yaml"
	refused 6 "cvm: no host has room for vm 'big' (cpu 1, memory 1048576 MiB) among 1 enabled host" \
	    cvm create - < "$BATS_TEST_TMPDIR/vm.yaml"
	vm many 64 > "$BATS_TEST_TMPDIR/vm.yaml"
	run -6 cvm create - < "$BATS_TEST_TMPDIR/vm.yaml"
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvm create exits 6 when there is no host at all" {
	chost remove -q h1
	vm web-1 > "$BATS_TEST_TMPDIR/vm.yaml"
	run -6 --separate-stderr cvm create - < "$BATS_TEST_TMPDIR/vm.yaml"
	[ "$stderr" = "cvm: no enabled host to place vm 'web-1' on (add one with 'chost add')" ]
}

@test "cvm create on a host that stopped answering exits 7 and leaves the VM failed" {
	# the host was reachable when added; now its daemon is gone
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = 'qemu+unix:///system?socket=$BATS_TEST_TMPDIR/gone-sock'"
	vm web-1 > "$BATS_TEST_TMPDIR/vm.yaml"
	run -7 --separate-stderr cvm create - < "$BATS_TEST_TMPDIR/vm.yaml"
	assert_output ""
	[[ "$stderr" == "cvm: cannot deploy vm 'web-1' on host 'h1': cannot connect to "*"(vm left in state failed)" ]]
	run -0 cvm show web-1 -o json
	[ "$(jq -r .state <<<"$output")" = failed ]
	[ "$(jq -r .host <<<"$output")" = null ]
	[[ "$(jq -r .error <<<"$output")" == "cannot deploy vm 'web-1' on host 'h1': "* ]]
	# a failed VM holds no capacity and can be deleted without its host
	run -0 cvm delete web-1 -o json
	[ "$(jq -r .state <<<"$output")" = done ]
}

@test "cvm delete of a VM whose host is unreachable exits 7 and keeps the VM" {
	vm web-1 | cvm create - >/dev/null
	uuid=$(cvm show web-1 -o json | jq -r .uuid)
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = 'qemu+unix:///system?socket=$BATS_TEST_TMPDIR/gone-sock'"
	run -7 --separate-stderr cvm delete web-1
	assert_output ""
	[[ "$stderr" == "cvm: cannot delete vm 'web-1' on host 'h1': cannot connect to "* ]]
	run -0 cvm show web-1 -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(domstate "$uuid")" = running ]
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = '$LAB_URI1'"
	run -0 cvm delete -q web-1
}

@test "cvm create of several documents creates none when one is bad (exit 2)" {
	printf 'name: g1\ncpu: 1\nmemory: 64\n---\nname: g2\ncpu: -1\nmemory: 64\n' > "$BATS_TEST_TMPDIR/two.yaml"
	refused 2 "cvm: $BATS_TEST_TMPDIR/two.yaml: line 5: cpu: expected a whole number from 1 to 1024, found '-1'" \
	    cvm create "$BATS_TEST_TMPDIR/two.yaml" -o ids
}

@test "cvm writes an audit row in the same transaction as every change" {
	vm web-1 | cvm create - >/dev/null
	cvm poweroff -q web-1
	cvm delete -q web-1
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT action || ' ' || detail FROM audit WHERE kind = 'VM' ORDER BY id"
	[ "$output" = $'create h1\ndeploy deploying -> running\npower off running -> shutting-down\npower off shutting-down -> poweroff\ndelete poweroff -> shutting-down\ndelete shutting-down -> done' ]
}

@test "cvm: tenants see and change only their own VMs" {
	cacct user add alice --uid 5001 >/dev/null
	cacct user add bob --uid 5002 >/dev/null
	vm a1 > "$BATS_TEST_TMPDIR/a1.yaml"
	run -0 cvm --as alice create "$BATS_TEST_TMPDIR/a1.yaml" -o json
	[ "$(jq -r .owner <<<"$output")" = alice ]
	[ "$(jq -r .group_owner <<<"$output")" = users ]
	run -0 cvm --as bob list -o ids
	[ -z "$output" ]
	run -3 --separate-stderr cvm --as bob delete a1
	[ "$stderr" = "cvm: no vm 'a1'" ]
	run -0 cacct user add carol --uid 5003 --group admin -o json
	run -0 cvm --as carol list -o ids
	[ "$output" = 1 ]
	run -0 cvm list -o ids
	[ "$output" = 1 ]
}

@test "cvm help, SUBCOMMAND --help and --version work" {
	run -0 cvm help
	assert_output --partial "  create "
	assert_output --partial "  delete "
	run -0 cvm help list
	[[ "${lines[0]}" == "usage: cvm list [OPTIONS]"* ]]
	run -0 cvm create --help
	assert_output --partial "-f, --file FILE"
	run -0 cvm --version
	[[ "$output" == "cvm (cloudos) "* ]]
}

@test "cvm refuses usage errors with exit 2" {
	run -2 --separate-stderr cvm create
	[ "$stderr" = "cvm: no input given (a file, -f FILE, or - for stdin)" ]
	run -2 --separate-stderr cvm delete
	[ "$stderr" = "cvm: no VM named (give ids, names, or - to read documents from stdin)" ]
	run -3 --separate-stderr cvm create "$BATS_TEST_TMPDIR/none.yaml"
	[[ "$stderr" == "cvm: cannot open '$BATS_TEST_TMPDIR/none.yaml': No such file or directory" ]]
	run -2 --separate-stderr cvm list --output
	[ "$stderr" = "cvm: option '--output' needs a value (FMT)" ]
}

@test "cvm create: concurrent creates never both take the last capacity" {
	cpus=$(chost show h1 -o json | jq -r .cpu)
	vm c1 "$cpus" > "$BATS_TEST_TMPDIR/c1.yaml"
	vm c2 "$cpus" > "$BATS_TEST_TMPDIR/c2.yaml"
	cvm create -q "$BATS_TEST_TMPDIR/c1.yaml" >/dev/null 2>&1 &
	p1=$!
	cvm create -q "$BATS_TEST_TMPDIR/c2.yaml" >/dev/null 2>&1 &
	p2=$!
	rc1=0; wait "$p1" || rc1=$?
	rc2=0; wait "$p2" || rc2=$?
	# exactly one won; the other found no room
	[ "$((rc1 + rc2))" -eq 6 ]
	run -0 cvm list --state running -o ids
	[ "${#lines[@]}" -eq 1 ]
}

@test "cvm create - of a good and a bad document creates nothing (exit 2)" {
	printf 'name: good\ncpu: 1\nmemory: 64MiB\n---\nname: bad\ncpu: lots\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/two.yaml"
	before=$(catalog_digest)
	refused 2 "cvm: <stdin>: line 5: cpu: expected a whole number from 1 to 1024, found 'lots'" \
	    cvm create - < "$BATS_TEST_TMPDIR/two.yaml"
	[ "$(catalog_digest)" = "$before" ]
	[ -z "$(virsh -c "$LAB_URI1" list --all --name)" ]
	# every bad document is named, then one line says nothing was done
	printf 'name: b1\ncpu: 0\nmemory: 64\n---\nname: ok\ncpu: 1\nmemory: 64\n---\nname: b2\nmemory: 64\n' > "$BATS_TEST_TMPDIR/three.yaml"
	run -2 --separate-stderr cvm create --hold -f "$BATS_TEST_TMPDIR/three.yaml"
	assert_output ""
	[ "${#stderr_lines[@]}" -eq 3 ]
	[[ "${stderr_lines[0]}" == "cvm: $BATS_TEST_TMPDIR/three.yaml: line 1: cpu: "* ]]
	[ "${stderr_lines[1]}" = "cvm: $BATS_TEST_TMPDIR/three.yaml: line 9: cpu: missing (the number of vCPUs)" ]
	[ "${stderr_lines[2]}" = "cvm: 2 of 3 documents are invalid (nothing was done)" ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvm apply - of a good and a bad document creates nothing (exit 2)" {
	printf 'kind: VM\nname: good\ncpu: 1\nmemory: 64MiB\n---\nkind: VM\nname: bad\ncpu: 1\nmemory: 64MiB\nha: always\n' > "$BATS_TEST_TMPDIR/two.yaml"
	refused 2 "cvm: <stdin>: line 6: unknown ha 'always' (expected one of: none, restart)" \
	    cvm apply - < "$BATS_TEST_TMPDIR/two.yaml"
	[ -z "$(virsh -c "$LAB_URI1" list --all --name)" ]
}

@test "cvm create - still goes on past a run-time failure (exit 8)" {
	printf 'name: one\ncpu: 1\nmemory: 64MiB\n---\nname: huge\ncpu: 1024\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/two.yaml"
	run -8 --separate-stderr cvm create - -o ids < "$BATS_TEST_TMPDIR/two.yaml"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$stderr" == *"1 of 2 documents failed"* ]]
	run -0 cvm delete one
}

@test "cvm refuses a VM name with U+202E and escapes control characters it echoes" {
	before=$(catalog_digest)
	refused 2 "cvm: <stdin>: line 1: vm name holds a control or format character (U+202E)" \
	    cvm create - <<<"$(printf 'name: "evil\\u202eexe"\ncpu: 1\nmemory: 64MiB\n')"
	run -3 --separate-stderr cvm show "$(printf 'a\x1bb')"
	assert_output ""
	[ "$stderr" = 'cvm: no vm '"'"'a\x1bb'"'" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	run -3 --separate-stderr cvm show "$(printf 'a\x1b[31mred\nnext')"
	[ "$stderr" = 'cvm: no vm '"'"'a\x1b[31mred\nnext'"'" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	refused 3 "cvm: no vm '99999999999999999999'" cvm show 99999999999999999999
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvm: a path too long is a usage error (exit 2)" {
	long="$BATS_TEST_TMPDIR/$(head -c 300 /dev/zero | tr '\0' x).yaml"
	refused 2 "cvm: cannot open '$long': File name too long" cvm create "$long"
	run -2 --separate-stderr cvm list -c "/tmp/$(head -c 5000 /dev/zero | tr '\0' x)/catalog.db"
	assert_output ""
	[ "$stderr" = "cvm: catalog path is too long (5016 bytes made absolute, at most 504)" ]
}
