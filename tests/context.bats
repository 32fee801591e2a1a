#!/usr/bin/env bats
# Contextualization: a VM's context: reaches the guest as a cloud-init
# NoCloud seed, an ISO 9660 volume 'cidata' in the host's 'cloudos' pool,
# on a read-only CD-ROM.  Real lab hosts; the ISO is read back with xorriso
# and its YAML with PyYAML (what cloud-init itself uses).

load helpers/common

lab_suite 2

setup() {
	fresh_catalog
	chost add h1 "$LAB_URI1" --migration-address 127.0.0.1 >/dev/null
}

teardown() {
	delete_vms
}

# seedfile UUID [HOST]: where lab host HOST (1) keeps the VM's seed
seedfile() {
	echo "$(lab_host_dir "${2:-1}")/lib/images/cloudos/$1-seed.iso"
}

# extract UUID DIR: the seed's files into DIR
extract() {
	mkdir -p "$2"
	xorriso -osirrox on -indev "$(seedfile "$1")" -extract / "$2" \
	    >/dev/null 2>&1
}

# yamlget FILE EXPR: EXPR of the YAML document in FILE (PyYAML), as JSON
yamlget() {
	python3 -c 'import json, sys, yaml
d = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps(eval(sys.argv[2]), ensure_ascii=False))' "$1" "$2"
}

@test "cvm create with a context runs the VM with its seed on a read-only CD-ROM" {
	printf 'name: web-1\ncpu: 1\nmemory: 64MiB\ncontext:\n  hostname: web-1\n  ssh_keys: ["ssh-ed25519 AAAA admin@example"]\n' > "$BATS_TEST_TMPDIR/vm.yaml"
	run -0 --separate-stderr cvm create - -o json < "$BATS_TEST_TMPDIR/vm.yaml"
	[ -z "$stderr" ]
	[ "$(jq -r .state <<<"$output")" = running ]
	uuid=$(jq -r .uuid <<<"$output")
	run -0 virsh -c "$LAB_URI1" domblklist "cloudos-$uuid"
	assert_line --regexp "^ *sda +/var/lib/libvirt/images/cloudos/$uuid-seed.iso *$"
	run -0 virsh -c "$LAB_URI1" dumpxml "cloudos-$uuid"
	assert_output --partial "device='cdrom'"
	assert_output --partial "<readonly/>"
	[ -f "$(seedfile "$uuid")" ]
	run -0 virsh -c "$LAB_URI1" pool-list --autostart --name
	assert_line --regexp '^cloudos *$'
}

@test "the seed is an ISO 9660 volume cidata with meta-data and user-data" {
	printf 'name: Web_1\ncpu: 1\nmemory: 64MiB\ncontext:\n  ssh_keys: ["ssh-ed25519 AAAA admin@example"]\n' | cvm create -q -
	uuid=$(cvm show Web_1 -o json | jq -r .uuid)
	run -0 xorriso -indev "$(seedfile "$uuid")" -pvd_info
	assert_line --regexp "^Volume Id +: CIDATA$"
	extract "$uuid" "$BATS_TEST_TMPDIR/x"
	run -0 ls "$BATS_TEST_TMPDIR/x"
	[ "$output" = $'meta-data\nuser-data' ]
	[ "$(cat "$BATS_TEST_TMPDIR/x/meta-data")" = "instance-id: \"$uuid\""$'\n'"local-hostname: \"web-1\"" ]
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/x/user-data")" = "#cloud-config" ]
	[ "$(yamlget "$BATS_TEST_TMPDIR/x/user-data" 'd["ssh_authorized_keys"]')" = '["ssh-ed25519 AAAA admin@example"]' ]
}

@test "hostile user_data reaches the guest byte for byte" {
	printf '#!/bin/sh\n# "quotes" '"'"'single'"'"' <tag> & amp; --- ... : { } [ ] * & ! %% @ `\necho caf\xc3\xa9 \xe2\x80\xa8 \\ \t\r\n\nno newline at the end' > "$BATS_TEST_TMPDIR/ud"
	# -a: non-ASCII as \u escapes (yml reads a raw U+2028 inside a JSON
	# string as a line break, as YAML 1.1 says)
	jq -acn --rawfile ud "$BATS_TEST_TMPDIR/ud" \
	    '{name: "h", cpu: 1, memory: 64, context: {user_data: $ud}}' > "$BATS_TEST_TMPDIR/vm.json"
	cvm create -q "$BATS_TEST_TMPDIR/vm.json"
	uuid=$(cvm show h -o json | jq -r .uuid)
	extract "$uuid" "$BATS_TEST_TMPDIR/x"
	cmp "$BATS_TEST_TMPDIR/ud" "$BATS_TEST_TMPDIR/x/user-data"
}

@test "hostile ssh keys reach the guest byte for byte, merged into cloud-config user_data" {
	jq -cn '{name: "k", cpu: 1, memory: 64, context: {
	    user_data: "#cloud-config\nruncmd:\n  - echo \"<&>\"\n",
	    ssh_keys: ["ssh-ed25519 AAAA a@b", "quo\"te'\''s", "new\nline: x",
	        "- [a] {b} *c &d !e %f @g `h #i", "<x>&amp;", "back\\slash\ttab",
	        "caf\u00e9 \u2028 \u0085 \u0001", "null", "123", ""]}}' |
	    jq -ac '.context.ssh_keys |= map(select(. != ""))' > "$BATS_TEST_TMPDIR/vm.json"
	cvm create -q "$BATS_TEST_TMPDIR/vm.json"
	uuid=$(cvm show k -o json | jq -r .uuid)
	extract "$uuid" "$BATS_TEST_TMPDIR/x"
	[ "$(yamlget "$BATS_TEST_TMPDIR/x/user-data" 'd["ssh_authorized_keys"]')" = "$(jq -c .context.ssh_keys "$BATS_TEST_TMPDIR/vm.json" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), ensure_ascii=False))')" ]
	[ "$(yamlget "$BATS_TEST_TMPDIR/x/user-data" 'd["runcmd"]')" = '["echo \"<&>\""]' ]
	# the user's text comes first, unchanged
	jq -j .context.user_data "$BATS_TEST_TMPDIR/vm.json" > "$BATS_TEST_TMPDIR/ud"
	cmp -n "$(stat -c %s "$BATS_TEST_TMPDIR/ud")" "$BATS_TEST_TMPDIR/ud" "$BATS_TEST_TMPDIR/x/user-data"
}

@test "cvm create refuses hostile hostnames with exit 2 and changes nothing" {
	before=$(catalog_digest)
	for h in 'a"b' "a'b" 'a b' 'a:b' '-a' 'a-' 'a..b' '<a>' 'a&b' 'a_b' '#a' '{a}' "caf\u00e9" 'a\nb' ''; do
		jq -cn --arg h "$(printf '%b' "$h")" '{name: "v", cpu: 1, memory: 64, context: {hostname: $h}}' > "$BATS_TEST_TMPDIR/vm.json"
		run -2 --separate-stderr cvm create "$BATS_TEST_TMPDIR/vm.json"
		assert_output ""
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "cvm: $BATS_TEST_TMPDIR/vm.json: line 1: context: hostname: "*"not a valid hostname (use dot-separated labels of 1 to 63 letters, digits and '-', not starting or ending with '-')" ]] || { echo "hostname: $h"; echo "got: $stderr"; false; }
	done
	[ "$(catalog_digest)" = "$before" ]
	run virsh -c "$LAB_URI1" vol-list cloudos
	refute_output --partial seed.iso
}

@test "cvm create refuses bad context fields with exit 2, one line naming the field" {
	while IFS='|' read -r input message; do
		printf 'name: a\ncpu: 1\nmemory: 64\n%b' "$input" > "$BATS_TEST_TMPDIR/bad"
		refused 2 "cvm: <stdin>: line 1: $message" cvm create - < "$BATS_TEST_TMPDIR/bad" ||
		    { echo "input: $input"; false; }
	done <<'EOF_CASES'
context: [a]\n|context: expected a map, found a list
context: web-1\n|context: expected a map, found a string
context: {host: a}\n|context: unknown field 'host' (expected hostname, ssh_keys or user_data)
context: {hostname: 12}\n|context: hostname: expected a string, found a integer
context: {ssh_keys: "ssh-ed25519 AAAA"}\n|context: ssh_keys: expected a list of strings, found a string
context: {ssh_keys: [a, {b: 1}]}\n|context: ssh_keys: item 2: expected a string, found a map
context: {ssh_keys: [""]}\n|context: ssh_keys: item 1: empty key
context: {user_data: [a]}\n|context: user_data: expected a string, found a list
context: {user_data: "#!/bin/sh\\necho", ssh_keys: [k]}\n|context: ssh_keys: cannot be merged into user_data that does not start with '#cloud-config' (put the keys in user_data instead)
context: {user_data: "#cloud-config\\nssh_authorized_keys: [a]\\n", ssh_keys: [k]}\n|context: ssh_keys: user_data sets ssh_authorized_keys already (give the keys in one place)
EOF_CASES
}

@test "a VM without a context gets no seed" {
	printf 'name: p\ncpu: 1\nmemory: 64MiB\ncontext: {}\n' | cvm create -q -
	uuid=$(cvm show p -o json | jq -r .uuid)
	run -0 virsh -c "$LAB_URI1" domblklist "cloudos-$uuid"
	refute_output --partial cdrom
	refute_output --partial seed.iso
	[ ! -e "$(seedfile "$uuid")" ]
}

@test "cvm delete removes the seed volume" {
	printf 'name: d\ncpu: 1\nmemory: 64MiB\ncontext: {hostname: d}\n' | cvm create -q -
	uuid=$(cvm show d -o json | jq -r .uuid)
	[ -f "$(seedfile "$uuid")" ]
	run -0 cvm delete d -o json
	[ "$(jq -r .state <<<"$output")" = done ]
	[ ! -e "$(seedfile "$uuid")" ]
	run -0 virsh -c "$LAB_URI1" vol-list cloudos
	refute_output --partial "$uuid"
}

@test "a VM held with a context gets its seed when released" {
	printf 'name: r\ncpu: 1\nmemory: 64MiB\ncontext: {hostname: r}\n' | cvm create -q --hold -
	uuid=$(cvm show r -o json | jq -r .uuid)
	[ ! -e "$(seedfile "$uuid")" ]
	run -0 cvm release r -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ -f "$(seedfile "$uuid")" ]
}

@test "cvm migrate moves the seed with the VM, live and cold" {
	chost add h2 "$LAB_URI2" --migration-address 127.0.0.1 >/dev/null
	printf 'name: m\ncpu: 1\nmemory: 64MiB\ncontext: {hostname: m}\n' | cvm create -q -
	uuid=$(cvm show m -o json | jq -r .uuid)
	run -0 cvm migrate m --to h2 --live -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(virsh -c "$LAB_URI2" domstate "$uuid" | head -n 1)" = running ]
	[ -f "$(seedfile "$uuid" 2)" ]
	[ ! -e "$(seedfile "$uuid" 1)" ]
	cvm poweroff -q m
	run -0 cvm migrate m --to h1 -o json
	[ "$(jq -r .host <<<"$output")" = h1 ]
	[ -f "$(seedfile "$uuid" 1)" ]
	[ ! -e "$(seedfile "$uuid" 2)" ]
	run -0 cvm start m -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	extract "$uuid" "$BATS_TEST_TMPDIR/x"
	grep -q "instance-id: \"$uuid\"" "$BATS_TEST_TMPDIR/x/meta-data"
}

@test "examples/web-seeded.yaml runs with its seed" {
	run -0 cvm create - -o json < "$CLOUDOS_SRCDIR/examples/web-seeded.yaml"
	[ "$(jq -r .state <<<"$output")" = running ]
	uuid=$(jq -r .uuid <<<"$output")
	extract "$uuid" "$BATS_TEST_TMPDIR/x"
	[ "$(yamlget "$BATS_TEST_TMPDIR/x/meta-data" 'd["local-hostname"]')" = '"web-1.example.net"' ]
	[ "$(yamlget "$BATS_TEST_TMPDIR/x/user-data" 'd["packages"]')" = '["nginx"]' ]
	[ "$(yamlget "$BATS_TEST_TMPDIR/x/user-data" 'len(d["ssh_authorized_keys"])')" = 1 ]
}

@test "reconcile removes the seed of a create killed after its upload, and only that" {
	printf 'name: keep\ncpu: 1\nmemory: 64MiB\ncontext: {hostname: keep}\n' | cvm create -q -
	keep=$(cvm show keep -o json | jq -r .uuid)
	printf 'name: k9\ncpu: 1\nmemory: 64MiB\ncontext: {hostname: k9}\n' > "$BATS_TEST_TMPDIR/vm.yaml"
	CLOUDOS_FAULT=hv.upload run -137 cvm create "$BATS_TEST_TMPDIR/vm.yaml"
	uuid=$(cvm show k9 -o json | jq -r .uuid)
	[ -f "$(seedfile "$uuid")" ]
	run -0 --separate-stderr cvm reconcile -o json
	[ "$(cvm show k9 -o json | jq -r .state)" = failed ]
	[[ "$stderr" == *"cvm: host 'h1': removed seed volume '$uuid-seed.iso' of no VM on it"* ]]
	[ ! -e "$(seedfile "$uuid")" ]
	[ -f "$(seedfile "$keep")" ]
	run -0 --separate-stderr cvm reconcile
	[ -z "$stderr" ]
}

@test "reconcile removes the source's seed of a migration killed after the move" {
	chost add h2 "$LAB_URI2" --migration-address 127.0.0.1 >/dev/null
	printf 'name: mk\ncpu: 1\nmemory: 64MiB\ncontext: {hostname: mk}\n' | cvm create -q -
	uuid=$(cvm show mk -o json | jq -r .uuid)
	CLOUDOS_FAULT=vm.moved run --separate-stderr cvm migrate mk --to h2 --live
	# (seen once on a loaded machine: the migration itself failed; say how)
	[ "$status" -eq 137 ] || { echo "status $status: $stderr"; false; }
	[ -f "$(seedfile "$uuid" 1)" ]
	[ -f "$(seedfile "$uuid" 2)" ]
	run -0 --separate-stderr cvm reconcile -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	[ "$(jq -r .state <<<"$output")" = running ]
	[ ! -e "$(seedfile "$uuid" 1)" ]
	[ -f "$(seedfile "$uuid" 2)" ]
}
