#!/usr/bin/env bats
# chost against a real lab host (a private libvirtd, qemu driver) and a
# real catalog per test.

load helpers/common

lab_suite 1

setup() {
	fresh_catalog
	chost list >/dev/null	# create the catalog, so digests compare
}

@test "chost add registers a reachable host and reads its capacity" {
	run -0 --separate-stderr chost add h1 "$LAB_URI1" -o json
	[ -z "$stderr" ]
	[ "$(jq -r .kind <<<"$output")" = Host ]
	[ "$(jq -r .name <<<"$output")" = h1 ]
	[ "$(jq -r .state <<<"$output")" = enabled ]
	[ "$(jq -r .hypervisor <<<"$output")" = qemu ]
	[ "$(jq -r .uri <<<"$output")" = "$LAB_URI1" ]
	[ "$(jq -r .cpu <<<"$output")" -ge 1 ]
	[ "$(jq -r .memory <<<"$output")" -ge 64 ]
	[ "$(jq -r .used_cpu <<<"$output")" -eq 0 ]
	[ "$(jq -r .owner <<<"$output")" = root ]
}

@test "chost add refuses an unreachable URI with exit 7 and changes nothing" {
	before=$(catalog_digest)
	run -7 --separate-stderr chost add dead 'qemu+unix:///system?socket=/nonexistent/libvirt-sock'
	assert_output ""
	[[ "$stderr" == "chost: cannot add host 'dead': cannot connect to 'qemu+unix:///system?socket=/nonexistent/libvirt-sock': "* ]]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "chost add refuses a URI no libvirt driver knows with exit 7" {
	before=$(catalog_digest)
	run -7 --separate-stderr chost add odd 'nosuchdriver:///x'
	assert_output ""
	[[ "$stderr" == "chost: cannot add host 'odd': cannot connect to 'nosuchdriver:///x': "* ]]
	[ "$(catalog_digest)" = "$before" ]
}

@test "chost add refuses a taken name with exit 5" {
	run -0 chost add h1 "$LAB_URI1"
	refused 5 "chost: host 'h1' exists already" chost add h1 "$LAB_URI1"
}

@test "chost add refuses bad names with exit 2 and changes nothing" {
	before=$(catalog_digest)
	for name in "" 123 " lead" "trail " $'new\nline' "$(printf 'x%.0s' {1..129})"; do
		run -2 --separate-stderr chost add "$name" "$LAB_URI1"
		assert_output ""
		[[ "$stderr" == "chost: host name "* ]]
	done
	[ "$(catalog_digest)" = "$before" ]
}

@test "chost add keeps a name with quotes, brackets and ampersands verbatim" {
	name=$'h<1>&"x\''
	run -0 chost add "$name" "$LAB_URI1" -o json
	[ "$(jq -r .name <<<"$output")" = "$name" ]
	run -0 chost show "$name" -o json
	[ "$(jq -r .name <<<"$output")" = "$name" ]
}

@test "chost add --label sets labels and a bad label is refused" {
	run -0 chost add h1 "$LAB_URI1" --label zone=edge -l rack=r1 -o json
	[ "$(jq -c .labels <<<"$output")" = '{"zone":"edge","rack":"r1"}' ]
	before=$(catalog_digest)
	refused 2 "chost: invalid label 'novalue' (use KEY=VALUE)" \
	    chost add h2 "$LAB_URI1" --label novalue
	run -2 --separate-stderr chost add h2 "$LAB_URI1" --label 'bad key=x'
	[[ "$stderr" == "chost: invalid label key 'bad key'"* ]]
	[ "$(catalog_digest)" = "$before" ]
}

@test "chost list prints YAML, JSON Lines, ids and a table" {
	run -0 chost add h1 "$LAB_URI1"
	run -0 chost add h2 "$LAB_URI1"
	run -0 chost list -o json
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -r .name <<<"${lines[1]}")" = h2 ]
	run -0 chost list -o ids
	[ "$output" = $'1\n2' ]
	run -0 chost list -o yaml
	[ "$(grep -c '^---$' <<<"$output")" -eq 1 ]
	[ "${lines[0]}" = "kind: Host" ]
	run -0 chost list -o table
	[[ "${lines[0]}" == "ID  NAME  STATE "* ]]
	[ "${#lines[@]}" -eq 3 ]
	CLOUDOS_OUTPUT=ids run -0 chost list
	[ "$output" = $'1\n2' ]
}

@test "chost list defaults to YAML when stdout is not a terminal" {
	run -0 chost add h1 "$LAB_URI1"
	run -0 chost list
	[ "${lines[0]}" = "kind: Host" ]
}

@test "chost show finds a host by name and by id; a missing one exits 3" {
	run -0 chost add h1 "$LAB_URI1"
	run -0 chost show 1 -o ids
	[ "$output" = 1 ]
	run -0 chost show h1 -o ids
	[ "$output" = 1 ]
	run -3 --separate-stderr chost show nope
	assert_output ""
	[ "$stderr" = "chost: no host 'nope'" ]
}

@test "chost remove forgets a host" {
	run -0 chost add h1 "$LAB_URI1"
	run -0 --separate-stderr chost remove h1
	[ "$stderr" = "chost: removed host 'h1'" ]
	run -0 chost list -o ids
	[ -z "$output" ]
	run -3 --separate-stderr chost remove h1
	[ "$stderr" = "chost: no host 'h1'" ]
}

@test "chost remove is refused with exit 5 while a VM is on the host" {
	run -0 chost add h1 "$LAB_URI1"
	printf 'name: r1\ncpu: 1\nmemory: 64\n' > "$BATS_TEST_TMPDIR/r1.yaml"
	run -0 cvm create "$BATS_TEST_TMPDIR/r1.yaml"
	refused 5 "chost: cannot remove host 'h1': 1 VM is on it (delete or move them first)" \
	    chost remove h1
	run -0 cvm delete r1
	run -0 chost remove h1
}

@test "chost add and remove are refused with exit 4 for a non-admin" {
	run -0 cacct user add alice --uid 5001
	run -0 chost add h1 "$LAB_URI1"
	refused 4 "chost: user 'alice' may not add hosts (admins only)" \
	    chost --as alice add h2 "$LAB_URI1"
	refused 4 "chost: user 'alice' may not remove hosts (admins only)" \
	    chost remove h1 --as alice
}

@test "chost --as an unknown user exits 3" {
	run -3 --separate-stderr chost --as nobody-here list
	[ "$stderr" = "chost: no user 'nobody-here' (--as)" ]
}

@test "chost help, SUBCOMMAND --help and --version work" {
	run -0 chost help
	[[ "$output" == "usage: chost [OPTIONS] SUBCOMMAND [ARGS]"* ]]
	assert_output --partial "  create "
	assert_output --partial "(alias: add)"
	run -0 chost help add
	[[ "${lines[0]}" == "usage: chost create [OPTIONS] NAME URI"* ]]
	run -0 chost add --help
	assert_output --partial "--label KEY=VALUE"
	run -0 chost --version
	[[ "$output" == "chost (cloudos) "* ]]
}

@test "chost refuses unknown options and subcommands with exit 2" {
	run -2 --separate-stderr chost frobnicate
	[ "$stderr" = "chost: unknown command 'frobnicate' (see 'chost help')" ]
	run -2 --separate-stderr chost list --bogus
	[ "$stderr" = "chost: unknown option '--bogus'" ]
	run -2 --separate-stderr chost list -o xml
	[ "$stderr" = "chost: unknown output format 'xml' (use table, yaml, json or ids)" ]
	run -2 --separate-stderr chost
	[ -z "$output" ]
	[ "$stderr" = "$(chost help)" ]
	run -2 --separate-stderr chost add h1
	[ "$stderr" = "chost: usage: chost add NAME URI [--label KEY=VALUE]..." ]
}

@test "chost disable keeps new VMs off a host; enable lets them on again" {
	run -0 chost add h1 "$LAB_URI1"
	run -0 chost disable h1 -o json
	[ "$(jq -r .state <<<"$output")" = disabled ]
	printf 'name: d1\ncpu: 1\nmemory: 64\n' > "$BATS_TEST_TMPDIR/d1.yaml"
	refused 6 "cvm: no enabled host to place vm 'd1' on (add one with 'chost add')" \
	    cvm create "$BATS_TEST_TMPDIR/d1.yaml"
	run -0 chost list --state disabled -o ids
	[ "$output" = 1 ]
	run -0 chost enable h1 -o json
	[ "$(jq -r .state <<<"$output")" = enabled ]
	run -0 cvm create "$BATS_TEST_TMPDIR/d1.yaml" -o json
	[ "$(jq -r .host <<<"$output")" = h1 ]
	# a VM on a disabled host stays there
	run -0 chost disable -q h1
	run -0 cvm show d1 -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	run -0 cvm delete -q d1
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT action || ' ' || detail FROM audit WHERE kind = 'Host' AND action != 'create' ORDER BY id"
	[ "$output" = $'disable enabled -> disabled\nenable disabled -> enabled\ndisable enabled -> disabled' ]
}

@test "chost enable and disable: missing hosts exit 3, non-admins exit 4" {
	run -3 --separate-stderr chost enable nope
	[ "$stderr" = "chost: no host 'nope'" ]
	run -0 chost add h1 "$LAB_URI1"
	run -0 cacct user add alice --uid 5001
	run -4 --separate-stderr chost --as alice disable h1
	[ "$stderr" = "chost: user 'alice' may not disable hosts (admins only)" ]
}
