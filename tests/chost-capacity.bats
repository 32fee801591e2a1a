#!/usr/bin/env bats
# chost clusters, declared capacity, reservations, overcommit and apply.
# Placement is tested on test:///default hosts (cheap, no guests start);
# one lab host shows the ratio on what a real hypervisor reports.

load helpers/common

lab_suite 1

setup() {
	fresh_catalog
	chost list >/dev/null	# create the catalog, so digests compare
}

vm_doc() {
	printf 'name: %s\ncpu: %s\nmemory: %s\n' "$1" "${2:-1}" "${3:-64}" > "$BATS_TEST_TMPDIR/$1.yaml"
}

@test "chost cluster add, list, show and remove" {
	run -0 --separate-stderr chost cluster add c1 -o json
	[ -z "$stderr" ]
	[ "$(jq -r .kind <<<"$output")" = Cluster ]
	[ "$(jq -r .name <<<"$output")" = c1 ]
	[ "$(jq -r .hosts <<<"$output")" = 0 ]
	run -0 chost cluster add c2
	run -0 chost cluster list -o ids
	[ "$output" = $'1\n2' ]
	run -0 chost cluster list -o table
	[[ "${lines[0]}" == "ID  NAME  HOSTS  CPU"* ]]
	run -0 chost cluster show c2 -o ids
	[ "$output" = 2 ]
	run -0 --separate-stderr chost cluster remove c2
	[ "$stderr" = "chost: removed cluster 'c2'" ]
	run -0 chost cluster list -o ids
	[ "$output" = 1 ]
}

@test "chost cluster add refuses a taken name (5) and a bad one (2)" {
	run -0 chost cluster add c1
	before=$(catalog_digest)
	refused 5 "chost: cluster 'c1' exists already" chost cluster add c1
	run -2 --separate-stderr chost cluster add 42
	assert_output ""
	[[ "$stderr" == "chost: cluster name "* ]]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "chost cluster remove: a missing cluster exits 3, a non-admin 4" {
	run -0 chost cluster add c1
	run -0 cacct user add alice --uid 5001
	refused 3 "chost: no cluster 'nope'" chost cluster remove nope
	refused 4 "chost: user 'alice' may not remove clusters (admins only)" \
	    chost --as alice cluster remove c1
	refused 4 "chost: user 'alice' may not add clusters (admins only)" \
	    chost --as alice cluster add c2
}

@test "chost add --cluster puts the host in it; a missing cluster exits 3" {
	run -0 chost cluster add c1
	refused 3 "chost: no cluster 'nope'" chost add t1 test:///default --cluster nope
	run -0 chost add t1 test:///default --cluster c1 -o json
	[ "$(jq -r .cluster <<<"$output")" = c1 ]
	run -0 chost add t2 test:///default -o json
	[ "$(jq -r .cluster <<<"$output")" = null ]
	run -0 chost list --cluster c1 -o ids
	[ "$output" = 1 ]
	run -0 chost cluster show c1 -o json
	[ "$(jq -r .hosts <<<"$output")" = 1 ]
	[ "$(jq -r .cpu <<<"$output")" = 16 ]
}

@test "chost cluster remove is refused with exit 5 while hosts are in it" {
	run -0 chost cluster add c1
	run -0 chost add t1 test:///default --cluster c1
	refused 5 "chost: cannot remove cluster 'c1': 1 host is in it (move them with 'chost set HOST --cluster C' or --no-cluster first)" \
	    chost cluster remove c1
	run -0 chost set t1 --no-cluster -o json
	[ "$(jq -r .cluster <<<"$output")" = null ]
	run -0 chost cluster remove c1
}

@test "chost set --cluster moves a host between clusters" {
	run -0 chost cluster add c1
	run -0 chost cluster add c2
	run -0 chost add t1 test:///default --cluster c1
	run -0 chost set t1 --cluster c2 -o json
	[ "$(jq -r .cluster <<<"$output")" = c2 ]
	run -0 chost list --cluster c1 -o ids
	[ -z "$output" ]
	refused 3 "chost: no cluster 'nope'" chost set t1 --cluster nope
	refused 2 "chost: --cluster and --no-cluster exclude each other" \
	    chost set t1 --cluster c1 --no-cluster
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT action || ' ' || detail FROM audit WHERE kind = 'Host' AND action = 'update'"
	[ "$output" = "update cluster" ]
}

@test "chost add: declared capacity, reservations and ratios give the effective capacity" {
	run -0 chost add t1 test:///default --cpu 4 --reserved-cpu 1 --cpu-ratio 1.5 \
	    --memory 4GiB --reserved-memory 1GiB --memory-ratio 1.15 --disk 100GiB -o json
	[ "$(jq -r .reported_cpu <<<"$output")" = 16 ]
	[ "$(jq -r .declared_cpu <<<"$output")" = 4 ]
	[ "$(jq -r .declared_memory <<<"$output")" = 4096 ]
	[ "$(jq -r .declared_disk <<<"$output")" = 102400 ]
	[ "$(jq -r .disk <<<"$output")" = 102400 ]
	[ "$(jq -r .reserved_cpu <<<"$output")" = 1 ]
	[ "$(jq -r .reserved_memory <<<"$output")" = 1024 ]
	[ "$(jq -r .cpu_ratio <<<"$output")" = 1.5 ]
	[ "$(jq -r .memory_ratio <<<"$output")" = 1.15 ]
	# (4 - 1) * 1.5 = 4.5 -> 4; (4096 - 1024) * 1.15 = 3532.8 -> 3532
	[ "$(jq -r .cpu <<<"$output")" = 4 ]
	[ "$(jq -r .memory <<<"$output")" = 3532 ]
	[ "$(jq -r .free_cpu <<<"$output")" = 4 ]
	run -0 chost list -o yaml
	assert_line "cpu_ratio: 1.5"
	assert_line "memory_ratio: 1.15"
}

@test "chost set --cpu auto goes back to what the hypervisor reports" {
	run -0 chost add t1 test:///default --cpu 4
	run -0 chost set t1 --cpu auto --reserved-cpu 2 -o json
	[ "$(jq -r .declared_cpu <<<"$output")" = null ]
	[ "$(jq -r .cpu <<<"$output")" = 14 ]
}

@test "chost add and set refuse bad capacity with exit 2 and change nothing" {
	run -0 chost add t1 test:///default
	while IFS='|' read -r opt val msg; do
		refused 2 "chost: $msg" chost set t1 "$opt" "$val" || { echo "$opt $val"; false; }
		refused 2 "chost: $msg" chost add t2 test:///default "$opt" "$val"
	done <<'CASES'
--cpu|0|--cpu: expected a whole number from 1 to 65536 or 'auto', found '0'
--cpu|two|--cpu: expected a whole number from 1 to 65536 or 'auto', found 'two'
--reserved-cpu|-1|--reserved-cpu: expected a whole number from 0 to 65536, found '-1'
--cpu-ratio|0|--cpu-ratio: expected a number above 0 and at most 1000, found '0'
--cpu-ratio|-2|--cpu-ratio: expected a number above 0 and at most 1000, found '-2'
--memory-ratio|1.5x|--memory-ratio: expected a number above 0 and at most 1000, found '1.5x'
--memory-ratio|nan|--memory-ratio: expected a number above 0 and at most 1000, found 'nan'
--memory|2GBx|--memory: invalid size '2GBx'
CASES
	refused 2 "chost: nothing to set (see 'chost set --help')" chost set t1
}

@test "chost set: a missing host exits 3, a non-admin 4, an unchanged set writes nothing" {
	run -0 chost add t1 test:///default --cpu-ratio 2
	run -0 cacct user add alice --uid 5001
	before=$(catalog_digest)
	refused 3 "chost: no host 'nope'" chost set nope --cpu 2
	refused 4 "chost: user 'alice' may not change hosts (admins only)" \
	    chost --as alice set t1 --cpu 2
	run -0 chost set t1 --cpu-ratio 2.0 -o json
	[ "$(jq -r .cpu <<<"$output")" = 32 ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "placement uses effective capacity: 2 CPUs at ratio 2 take 4 one-vCPU VMs" {
	run -0 chost add t1 test:///default --cpu 2 --cpu-ratio 2
	for i in 1 2 3 4; do
		vm_doc "v$i"
		run -0 cvm create "$BATS_TEST_TMPDIR/v$i.yaml" -o json
		[ "$(jq -r .host <<<"$output")" = t1 ]
	done
	run -0 chost show t1 -o json
	[ "$(jq -r .used_cpu <<<"$output")" = 4 ]
	[ "$(jq -r .free_cpu <<<"$output")" = 0 ]
	vm_doc v5
	refused 6 "cvm: no host has room for vm 'v5' (cpu 1, memory 64 MiB) among 1 enabled host" \
	    cvm create "$BATS_TEST_TMPDIR/v5.yaml"
	# raising the ratio makes room
	run -0 chost set t1 --cpu-ratio 2.5 -q
	run -0 cvm create "$BATS_TEST_TMPDIR/v5.yaml"
}

@test "placement: reserved memory is kept from VMs" {
	# test:///default reports 3072 MiB
	run -0 chost add t1 test:///default --reserved-memory 3000 -o json
	[ "$(jq -r .memory <<<"$output")" = 72 ]
	vm_doc big 1 128
	run -6 cvm create "$BATS_TEST_TMPDIR/big.yaml"
	vm_doc small 1 64
	run -0 cvm create "$BATS_TEST_TMPDIR/small.yaml"
}

@test "chost add on a lab host multiplies what it reports by the ratio" {
	run -0 chost add h1 "$LAB_URI1" --cpu-ratio 2 --memory-ratio 0.5 -o json
	rc=$(jq -r .reported_cpu <<<"$output")
	rm=$(jq -r .reported_memory <<<"$output")
	[ "$rc" -ge 1 ]
	[ "$(jq -r .cpu <<<"$output")" -eq $((rc * 2)) ]
	[ "$(jq -r .memory <<<"$output")" -eq $((rm / 2)) ]
}

@test "chost apply creates clusters and hosts and passes other kinds through" {
	cat > "$BATS_TEST_TMPDIR/env.yaml" <<'YAML'
kind: Cluster
name: edge
---
kind: Host
name: t1
uri: test:///default
cluster: edge
cpu_ratio: 4
reserved_memory: 1GiB
labels: {zone: edge}
---
kind: VM
name: web-1
cpu: 1
memory: 64
YAML
	run -0 --separate-stderr chost apply -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 3 ]
	[ "$(jq -r .kind <<<"${lines[0]}")" = Cluster ]
	[ "$(jq -r '.kind + " " + .cluster' <<<"${lines[1]}")" = "Host edge" ]
	[ "$(jq -r .cpu <<<"${lines[1]}")" = 64 ]
	[ "$(jq -r .memory <<<"${lines[1]}")" = 2048 ]
	[ "$(jq -c . <<<"${lines[2]}")" = '{"kind":"VM","name":"web-1","cpu":1,"memory":64}' ]
	# the passed-through document feeds the next program
	run -0 chost apply - -o yaml < "$BATS_TEST_TMPDIR/env.yaml"
	[[ "$output" == *$'---\nkind: VM\nname: web-1\ncpu: 1\nmemory: 64' ]]
}

@test "chost apply is idempotent: an unchanged document writes nothing" {
	printf 'kind: Cluster\nname: edge\n---\nkind: Host\nname: t1\nuri: test:///default\ncluster: edge\ncpu_ratio: 2\n' > "$BATS_TEST_TMPDIR/env.yaml"
	run -0 chost apply -f "$BATS_TEST_TMPDIR/env.yaml"
	before=$(catalog_digest)
	run -0 chost apply -f "$BATS_TEST_TMPDIR/env.yaml"
	[ "$(catalog_digest)" = "$before" ]
	# what chost shows reads back as no change too, as YAML and as JSON
	run -0 chost show t1 -o yaml
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/shown.yaml"
	run -0 chost apply -f "$BATS_TEST_TMPDIR/shown.yaml"
	run -0 chost cluster list -o json
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/shown.json"
	run -0 chost apply -f "$BATS_TEST_TMPDIR/shown.json"
	[ "$(catalog_digest)" = "$before" ]
}

@test "chost apply updates a changed host and records what changed" {
	printf 'kind: Host\nname: t1\nuri: test:///default\n' > "$BATS_TEST_TMPDIR/h.yaml"
	run -0 chost apply -f "$BATS_TEST_TMPDIR/h.yaml"
	printf 'kind: Host\nname: t1\ndeclared_cpu: 8\nmemory_ratio: 1.5\nstate: disabled\n' > "$BATS_TEST_TMPDIR/h.yaml"
	run -0 chost apply -f "$BATS_TEST_TMPDIR/h.yaml" -o json
	[ "$(jq -r .cpu <<<"$output")" = 8 ]
	[ "$(jq -r .memory <<<"$output")" = 4608 ]
	[ "$(jq -r .state <<<"$output")" = disabled ]
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT detail FROM audit WHERE action = 'update'"
	[ "$output" = "declared_cpu, memory_ratio, state" ]
}

@test "chost states are matched without regard to case, stored lowercase; a wrong one lists the valid ones" {
	run -0 chost add t1 test:///default
	run -0 chost add t2 test:///default
	printf 'kind: Host\nname: t1\nstate: DISABLED\n' > "$BATS_TEST_TMPDIR/h.yaml"
	run -0 chost apply -f "$BATS_TEST_TMPDIR/h.yaml" -o json
	[ "$(jq -r .state <<<"$output")" = disabled ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT state FROM hosts WHERE name = 't1'")" = disabled ]
	run -0 chost list --state Disabled -o ids
	[ "$output" = 1 ]
	run -0 chost list --state ENABLED -o ids
	[ "$output" = 2 ]
	refused 2 "chost: unknown state 'disabeld' (expected one of: enabled, disabled, error)" \
	    chost list --state disabeld
}

@test "chost apply refuses bad documents with exit 2, naming where, and changes nothing" {
	run -0 chost add t1 test:///default
	f="$BATS_TEST_TMPDIR/bad.yaml"
	printf 'kind: Host\nname: t1\ncpu_ratio: 0\n' > "$f"
	refused 2 "chost: $f: line 1: cpu_ratio: expected a number above 0 and at most 1000, found '0'" \
	    chost apply -f "$f"
	printf 'kind: Host\nname: t2\n' > "$f"
	refused 2 "chost: $f: line 1: uri: missing (host 't2' is new)" chost apply -f "$f"
	printf 'name: t2\n' > "$f"
	refused 2 "chost: $f: line 1: kind: missing (apply needs it to route the document)" \
	    chost apply -f "$f"
	printf 'kind: Host\nname: t1\nstate: asleep\n' > "$f"
	refused 2 "chost: $f: line 1: unknown state 'asleep' (expected one of: enabled, disabled, error)" \
	    chost apply -f "$f"
	printf 'kind: Host\nname: t1\nlabels: [x]\n' > "$f"
	refused 2 "chost: $f: line 1: labels: expected a map, found a list" chost apply -f "$f"
	printf 'kind: Host\nname: t1\ncluster: nope\n' > "$f"
	refused 3 "chost: no cluster 'nope'" chost apply -f "$f"
	printf 'kind: Host\nname: t1\nuri: test:///other\n' > "$f"
	refused 5 "chost: cannot change the uri of host 't1' (remove it and add it again)" \
	    chost apply -f "$f"
	refused 2 "chost: no documents in the input" chost apply -f /dev/null
}

@test "chost apply of a good and a bad document creates nothing (exit 2)" {
	printf 'kind: Cluster\nname: edge\n---\nkind: Host\nname: t1\nuri: test:///default\ncpu_ratio: lots\n' > "$BATS_TEST_TMPDIR/env.yaml"
	before=$(catalog_digest)
	run -2 --separate-stderr chost apply - < "$BATS_TEST_TMPDIR/env.yaml"
	assert_output ""
	[[ "$stderr" == "chost: <stdin>: line 4: cpu_ratio: "* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$(catalog_digest)" = "$before" ]
}
