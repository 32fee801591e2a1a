#!/usr/bin/env bats
# Migration between two lab hosts (each a private libvirtd; they share the
# machine's network, so migration streams go over 127.0.0.1).

load helpers/common

lab_suite 2

setup() {
	fresh_catalog
	lab_hosts_add --migration-address 127.0.0.1
	printf 'name: m\ncpu: 1\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/m.yaml"
}

teardown() {
	delete_vms
}

# on N: the domains of lab host N, by UUID, with their state
on() {
	local uri
	uri=LAB_URI$1
	virsh -c "${!uri}" list --all --uuid | sed '/^$/d'
}

@test "cvm migrate --live moves a running guest to another host" {
	cvm create -q "$BATS_TEST_TMPDIR/m.yaml"
	uuid=$(cvm show m -o json | jq -r .uuid)
	run -0 cvm migrate m --to h2 --live -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(on 2)" = "$uuid" ]
	[ -z "$(on 1)" ]
	[ "$(virsh -c "$LAB_URI2" domstate "$uuid" | head -n 1)" = running ]
	run -0 chost list -o json
	[ "$(jq -r .used_cpu <<<"${lines[0]}")" = 0 ]
	[ "$(jq -r .used_cpu <<<"${lines[1]}")" = 1 ]
}

@test "cvm migrate of a VM that is off moves its definition; without --to the first other host with room" {
	cvm create -q "$BATS_TEST_TMPDIR/m.yaml"
	cvm poweroff -q m
	uuid=$(cvm show m -o json | jq -r .uuid)
	run -0 cvm migrate m -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	[ "$(on 2)" = "$uuid" ]
	[ -z "$(on 1)" ]
	run -0 cvm start m -o json
	[ "$(jq -r .state <<<"$output")" = running ]
}

@test "cvm list --host h1 -o json | cvm migrate - --to h2 moves them all" {
	cvm create -q --count 2 "$BATS_TEST_TMPDIR/m.yaml"
	cvm list --host h1 -o json > "$BATS_TEST_TMPDIR/on-h1.json"
	run -0 cvm migrate - --to h2 --live -q < "$BATS_TEST_TMPDIR/on-h1.json"
	run -0 cvm list --host h2 -o ids
	[ "$output" = $'1\n2' ]
	[ "$(on 2 | wc -l)" -eq 2 ]
	[ -z "$(on 1)" ]
}

@test "cvm migrate refuses what it cannot do, changing nothing" {
	cvm create -q "$BATS_TEST_TMPDIR/m.yaml"
	before=$(catalog_digest)
	run -5 --separate-stderr cvm migrate m --to h1
	[ "$stderr" = "cvm: vm 'm' is on host 'h1' already" ]
	run -3 --separate-stderr cvm migrate m --to h9
	[ "$stderr" = "cvm: no host 'h9'" ]
	run -3 --separate-stderr cvm migrate nope --to h2
	[ "$stderr" = "cvm: no vm 'nope'" ]
	chost disable -q h2
	refused 5 "cvm: host 'h2' is disabled" cvm migrate m --to h2
	refused 6 "cvm: no other host has room for vm 'm' (cpu 1, memory 64 MiB)" cvm migrate m
	chost enable -q h2
	printf 'name: big\ncpu: 2\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/big.yaml"
	cvm create -q "$BATS_TEST_TMPDIR/big.yaml"
	run -6 --separate-stderr cvm migrate m --to h2
	[ "$stderr" = "cvm: host 'h2' has no room for vm 'm' (cpu 1, memory 64 MiB)" ]
	cacct user add alice --uid 5001 >/dev/null
	run -4 --separate-stderr cvm --as alice migrate m
	[ "$stderr" = "cvm: user 'alice' may not migrate vms (admins only)" ]
}

@test "cvm migrate: kill -9 at any point, then reconcile: one domain, where the catalog says" {
	for point in vm.intent vm.outcome; do
		cvm create -q "$BATS_TEST_TMPDIR/m.yaml"
		uuid=$(cvm show m -o json | jq -r .uuid)
		CLOUDOS_FAULT=$point run -137 cvm migrate m --to h2 --live
		[ "$(cvm show m -o json | jq -r .state)" = migrating ]
		run -0 cvm reconcile -o json
		host=$(jq -r .host <<<"$output")
		[ "$(jq -r .state <<<"$output")" = running ]
		case $point/$host in
		vm.intent/h1) [ "$(on 1)" = "$uuid" ] && [ -z "$(on 2)" ] ;;
		vm.outcome/h2) [ "$(on 2)" = "$uuid" ] && [ -z "$(on 1)" ] ;;
		*) echo "$point left the VM on $host"; false ;;
		esac
		cvm delete -q m
	done
	# cold: killed after the definition reached h2, before h1 let go
	cvm create -q "$BATS_TEST_TMPDIR/m.yaml"
	cvm poweroff -q m
	uuid=$(cvm show m -o json | jq -r .uuid)
	CLOUDOS_FAULT=hv.migrate run -137 cvm migrate m --to h2
	[ "$(on 1)" = "$uuid" ] && [ "$(on 2)" = "$uuid" ]
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	[ "$(jq -r .host <<<"$output")" = h1 ]
	[ "$(on 1)" = "$uuid" ]
	[ -z "$(on 2)" ]
}

@test "chost drain disables a host and moves every VM off it, live where running" {
	cvm create -q --count 2 "$BATS_TEST_TMPDIR/m.yaml"
	cvm poweroff -q m-2
	run -0 --separate-stderr chost drain h1 -o json
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -r .host <<<"${lines[0]}")" = h2 ]
	[ "$(jq -r .state <<<"${lines[0]}")" = running ]
	[ "$(jq -r .state <<<"${lines[1]}")" = poweroff ]
	[ -z "$(on 1)" ]
	[ "$(on 2 | wc -l)" -eq 2 ]
	run -0 chost show h1 -o json
	[ "$(jq -r .state <<<"$output")" = disabled ]
	[ "$(jq -r .vms <<<"$output")" = 0 ]
	# nothing lands on a drained host
	run -5 cvm migrate m-1 --to h1
}

@test "chost drain reports the VMs that cannot move and exits with their code" {
	printf 'name: big\ncpu: 2\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/big.yaml"
	cvm create -q "$BATS_TEST_TMPDIR/big.yaml"
	cvm migrate -q big --to h2
	cvm create -q "$BATS_TEST_TMPDIR/m.yaml"
	run -6 --separate-stderr chost drain h1
	assert_output ""
	[ "$stderr" = "chost: no other host has room for vm 'm' (cpu 1, memory 64 MiB)
chost: host 'h1' is disabled, but 1 of its 1 VMs did not move" ]
	[ "$(cvm show m -o json | jq -r .host)" = h1 ]
	run -3 --separate-stderr chost drain nope
	[ "$stderr" = "chost: no host 'nope'" ]
}

@test "a migration holds room on its destination until it ends" {
	chost set -q h2 --cpu 1
	cvm create -q "$BATS_TEST_TMPDIR/m.yaml"
	# a migration to h2 that died half-way: m is migrating, bound for h2
	CLOUDOS_FAULT=vm.intent run -137 cvm migrate m --to h2 --live
	run -0 chost show h2 -o json
	[ "$(jq -r .used_cpu <<<"$output")" = 1 ]
	chost disable -q h1
	printf 'name: x\ncpu: 1\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/x.yaml"
	run -6 --separate-stderr cvm create "$BATS_TEST_TMPDIR/x.yaml"
	[ "$stderr" = "cvm: no host has room for vm 'x' (cpu 1, memory 64 MiB) among 1 enabled host" ]
	# rolled back to h1: h2 is free again
	cvm reconcile -q
	run -0 cvm create "$BATS_TEST_TMPDIR/x.yaml" -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	chost enable -q h1
}

# one_guest UUID: the guest runs on exactly one lab host, and the catalog
# places it there, running
one_guest() {
	local uuid=$1 s1 s2 host state
	s1=$(virsh -c "$LAB_URI1" domstate "$uuid" 2>/dev/null | head -n 1)
	s2=$(virsh -c "$LAB_URI2" domstate "$uuid" 2>/dev/null | head -n 1)
	host=$(cvm show m -o json | jq -r .host)
	state=$(cvm show m -o json | jq -r .state)
	case $s1/$s2/$state/$host in
	running//running/h1|/running/running/h2) ;;
	*) echo "h1: '$s1', h2: '$s2', catalog: $state on $host"; return 1 ;;
	esac
}

# settle: reconcile until the VM is no longer migrating (a pass leaves a
# domain that libvirt is still moving for the next one)
settle() {
	local i
	for i in 1 2 3; do
		cvm reconcile -q
		[ "$(cvm show m -o json | jq -r .state)" != migrating ] && return 0
	done
	echo "still migrating after 3 passes"
	return 1
}

@test "cvm migrate killed while the guest is arriving on the destination: reconcile keeps the running source" {
	# hv.incoming fires once the destination has the incoming domain,
	# paused while libvirt starts it, before the memory has arrived
	for live in --live ""; do
		cvm create -q "$BATS_TEST_TMPDIR/m.yaml"
		uuid=$(cvm show m -o json | jq -r .uuid)
		CLOUDOS_FAULT=hv.incoming run -137 cvm migrate m --to h2 $live
		[ "$(cvm show m -o json | jq -r .state)" = migrating ]
		run -0 cvm reconcile -o json
		[ "$(jq -r .state <<<"$output")" = running ]
		[ "$(jq -r .host <<<"$output")" = h1 ]
		[ "$(on 1)" = "$uuid" ]
		[ -z "$(on 2)" ]
		one_guest "$uuid"
		cvm delete -q m
	done
}

@test "cvm migrate killed after a sweep of delays, live and not: reconcile loses no guest" {
	cvm create -q "$BATS_TEST_TMPDIR/m.yaml"
	uuid=$(cvm show m -o json | jq -r .uuid)
	for run in "--live 0.1" "--live 0.3" "--live 0.6" "--live 1" "--live 1.6" \
	    "--live 2.2" "- 0.1" "- 0.4" "- 0.8" "- 1.2"; do
		set -- $run
		live=$1 delay=$2
		[ "$live" = - ] && live=
		to=h2
		[ "$(cvm show m -o json | jq -r .host)" = h2 ] && to=h1
		cvm migrate -q m --to "$to" $live & pid=$!
		sleep "$delay"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
		settle
		one_guest "$uuid" || { echo "after a kill at $delay s ($run)"; false; }
	done
}
