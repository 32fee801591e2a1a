#!/usr/bin/env bats
# Reconcile: kill -9 at any point of an action, or change a domain behind
# cloudos's back, then `cvm reconcile`: catalog and libvirt agree again, no
# VM lost, none duplicated.  CLOUDOS_FAULT=POINT ends a command at POINT as
# kill -9 would (lib/fault.h).

load helpers/common

setup_file() {
	lab_start 1
}

teardown_file() {
	lab_stop
}

setup() {
	fresh_catalog
	chost add h1 "$LAB_URI1" >/dev/null
}

teardown() {
	cvm list -o ids 2>/dev/null | xargs -r cvm delete -q 2>/dev/null || true
	# domains a test made behind cloudos's back
	for d in $(virsh -c "$LAB_URI1" list --all --name 2>/dev/null); do
		virsh -c "$LAB_URI1" destroy "$d" >/dev/null 2>&1 || true
		virsh -c "$LAB_URI1" undefine "$d" >/dev/null 2>&1 || true
	done
}

vmdoc() {
	printf 'name: %s\ncpu: 1\nmemory: 64MiB\n' "$1" > "$BATS_TEST_TMPDIR/$1.yaml"
	echo "$BATS_TEST_TMPDIR/$1.yaml"
}

uuid_of() {
	cvm show "$1" -o json | jq -r .uuid
}

# agree: every VM the catalog places on h1 has a domain in the matching
# state, and every domain on h1 is such a VM (no VM lost, none duplicated)
agree() {
	local vms doms line uuid state dstate
	vms=$(sqlite3 "$CLOUDOS_CATALOG" "SELECT uuid || ' ' || state FROM vms WHERE host_id IS NOT NULL AND state != 'done' ORDER BY uuid")
	doms=$(virsh -c "$LAB_URI1" list --all --uuid | sed '/^$/d' | sort)
	[ "$(cut -d' ' -f1 <<<"$vms" | sed '/^$/d')" = "$doms" ] || {
		echo "catalog: $vms"
		echo "libvirt: $doms"
		return 1
	}
	while read -r uuid state; do
		[ -n "$uuid" ] || continue
		dstate=$(virsh -c "$LAB_URI1" domstate "$uuid" | head -n 1)
		case $state/$dstate in
		running/running|suspended/paused|poweroff/"shut off"|stopped/"shut off") ;;
		*) echo "vm $uuid is $state, domain is $dstate"; return 1 ;;
		esac
	done <<<"$vms"
}

@test "reconcile: kill -9 of cvm create at any point loses and duplicates nothing" {
	for point in vm.intent hv.define hv.start vm.outcome; do
		name="c-${point/./-}"
		CLOUDOS_FAULT=$point run -137 cvm create "$(vmdoc "$name")"
		run -0 cvm show "$name" -o json
		[ "$(jq -r .state <<<"$output")" = deploying ]
		run -0 --separate-stderr cvm reconcile -o json
		state=$(cvm show "$name" -o json | jq -r .state)
		case $point/$state in
		vm.intent/failed) ;;		# nothing was defined: rolled back
		hv.define/running) ;;		# defined: finished by starting it
		hv.start/running|vm.outcome/running) ;;
		*) echo "$point left $name $state"; false ;;
		esac
		agree
		# a second pass finds nothing to do
		run -0 --separate-stderr cvm reconcile
		[ -z "$output" ]
		# the host has 2 vCPUs: make room for the next point
		cvm delete -q "$name"
		agree
	done
}

@test "reconcile: kill -9 of cvm delete at any point ends with the VM done and its domain gone" {
	for point in vm.intent hv.destroy vm.outcome; do
		name="d-${point/./-}"
		cvm create -q "$(vmdoc "$name")" >/dev/null
		uuid=$(uuid_of "$name")
		CLOUDOS_FAULT=$point run -137 cvm delete "$name"
		run -0 cvm reconcile -o json
		[ "$(jq -r .state <<<"$output")" = done ]
		run -1 virsh -c "$LAB_URI1" domstate "$uuid"
		agree
	done
}

@test "reconcile: kill -9 of poweroff and start is finished" {
	cvm create -q "$(vmdoc p)" >/dev/null
	CLOUDOS_FAULT=vm.intent run -137 cvm poweroff p
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	agree
	CLOUDOS_FAULT=vm.intent run -137 cvm start p
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	agree
}

@test "reconcile: an action whose process still runs is left alone" {
	cvm create -q "$(vmdoc f)" >/dev/null
	# pretend a live process (this shell) is starting it
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE vms SET state = 'deploying', target = 'running', intent_pid = $$"
	run -0 cvm reconcile
	[ -z "$output" ]
	[ "$(cvm show f -o json | jq -r .state)" = deploying ]
	# once that process is gone, reconcile finishes the action
	sleep 60 & dead=$!; kill "$dead"; wait "$dead" || true
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE vms SET intent_pid = $dead"
	run -0 cvm reconcile -o ids
	[ "$output" = 1 ]
	[ "$(cvm show f -o json | jq -r .state)" = running ]
}

@test "reconcile: a guest destroyed behind cloudos's back is found" {
	cvm create -q "$(vmdoc g)" >/dev/null
	uuid=$(uuid_of g)
	virsh -c "$LAB_URI1" destroy "$uuid" >/dev/null
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = poweroff ]
	agree
	virsh -c "$LAB_URI1" undefine "$uuid" >/dev/null
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = failed ]
	[ "$(jq -r .error <<<"$output")" = "the domain vanished from its host" ]
	[ "$(jq -r .host <<<"$output")" = null ]
	agree
}

@test "reconcile: guests paused or resumed behind cloudos's back are followed" {
	cvm create -q "$(vmdoc s)" >/dev/null
	virsh -c "$LAB_URI1" suspend "$(uuid_of s)" >/dev/null
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = suspended ]
	virsh -c "$LAB_URI1" resume "$(uuid_of s)" >/dev/null
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	agree
}

@test "reconcile: unknown domains are reported, not adopted" {
	cat > "$BATS_TEST_TMPDIR/x.xml" <<'XML'
<domain type='qemu'><name>stranger</name><memory unit='MiB'>64</memory>
<os><type>hvm</type></os></domain>
XML
	virsh -c "$LAB_URI1" define "$BATS_TEST_TMPDIR/x.xml" >/dev/null
	uuid=$(virsh -c "$LAB_URI1" domuuid stranger | head -n 1)
	before=$(catalog_digest)
	run -0 --separate-stderr cvm reconcile
	assert_output ""
	[ "$stderr" = "cvm: host 'h1': domain 'stranger' ($uuid) is not in the catalog; left alone" ]
	[ "$(catalog_digest)" = "$before" ]
	run -0 virsh -c "$LAB_URI1" domstate stranger
}

@test "reconcile: VMs of a host that does not answer become unknown, then come back" {
	cvm create -q "$(vmdoc u)" >/dev/null
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = 'qemu+unix:///system?socket=$BATS_TEST_TMPDIR/gone'"
	# the only host did not answer: exit 7, each host said
	run -7 --separate-stderr cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = unknown ]
	[[ "$stderr" == "cvm: host 'h1': cannot connect to "*$'\n'"cvm: no host answered (1 host)" ]]
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = '$LAB_URI1'"
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	agree
}

@test "reconcile is for admins (exit 4)" {
	cacct user add alice --uid 5001 >/dev/null
	run -4 --separate-stderr cvm --as alice reconcile
	[ "$stderr" = "cvm: user 'alice' may not reconcile (admins only)" ]
}
