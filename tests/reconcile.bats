#!/usr/bin/env bats
# Reconcile: kill -9 at any point of an action, or change a domain behind
# cloudos's back, then `cvm reconcile`: catalog and libvirt agree again, no
# VM lost, none duplicated.  CLOUDOS_FAULT=POINT ends a command at POINT as
# kill -9 would (lib/fault.h).

load helpers/common

lab_suite 1

setup() {
	fresh_catalog
	lab_hosts_add
}

teardown() {
	# processes a test left stopped or sleeping, by pid
	for p in ${STOPPED:-}; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	delete_vms
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
		cvm create -q "$(vmdoc "$name")"
		uuid=$(uuid_of "$name")
		CLOUDOS_FAULT=$point run -137 cvm delete "$name"
		run -0 cvm reconcile -o json
		[ "$(jq -r .state <<<"$output")" = done ]
		run -1 virsh -c "$LAB_URI1" domstate "$uuid"
		agree
	done
}

@test "reconcile: kill -9 of poweroff and start is finished" {
	cvm create -q "$(vmdoc p)"
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
	cvm create -q "$(vmdoc f)"
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
	cvm create -q "$(vmdoc g)"
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
	cvm create -q "$(vmdoc s)"
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
	cvm create -q "$(vmdoc u)"
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

@test "reconcile: a create or start killed while libvirt still starts the domain ends running, not poweroff" {
	# hv.starting fires while the domain is paused, libvirt starting it;
	# libvirt finishes the start without its caller
	CLOUDOS_FAULT=hv.starting run -137 cvm create "$(vmdoc w)"
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -r .error <<<"$output")" = null ]
	agree
	cvm poweroff -q w
	CLOUDOS_FAULT=hv.starting run -137 cvm start w
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -r .error <<<"$output")" = null ]
	agree
	run -0 cvm reconcile
	[ -z "$output" ]
}

# owner_of NAME: the owner a killed command recorded for VM NAME's action
owner_of() {
	sqlite3 "$CLOUDOS_CATALOG" "SELECT intent_owner FROM vms WHERE name = '$1' AND state != 'done'"
}

# start_of PID: the start time of process PID (field 22 of its stat)
start_of() {
	sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20
}

# in_flight NAME PID OWNER: VM NAME is deploying, run by PID as OWNER says
in_flight() {
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE vms SET state = 'deploying', target = 'running', intent_pid = $2, intent_owner = '$3' WHERE name = '$1' AND state != 'done'"
}

@test "reconcile: a cvm killed inside its own pid namespace (pid 1 there) does not leave its VM deploying" {
	for point in vm.intent hv.define; do
		name="n-${point/./-}"
		CLOUDOS_FAULT=$point run -137 unshare -p -f --mount-proc cvm create "$(vmdoc "$name")"
		[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT state || ' ' || intent_pid FROM vms WHERE name = '$name'")" = "deploying 1" ]
		[[ "$(owner_of "$name")" == "pid=1 start="* ]]
		run -0 --separate-stderr cvm reconcile -o json
		state=$(cvm show "$name" -o json | jq -r .state)
		case $point/$state in
		vm.intent/failed|hv.define/running) ;;
		*) echo "$point left $name $state"; false ;;
		esac
		agree
		cvm delete -q "$name"
	done
}

@test "reconcile: an owner whose pid now belongs to another process is taken over; a live one is left alone" {
	cvm create -q "$(vmdoc o)"
	# what a killed command records, as the model for the rows below
	CLOUDOS_FAULT=vm.intent run -137 cvm create "$(vmdoc model)"
	model=$(owner_of model)
	[[ "$model" == "pid="*" start="*" boot="*" pidns="*" host="* ]]
	sqlite3 "$CLOUDOS_CATALOG" "DELETE FROM vms WHERE name = 'model'"
	# a command name with ") " in it, as the stat line's field 2 may have
	cp "$(command -v sleep)" "$BATS_TEST_TMPDIR/sl) 3 4"
	"$BATS_TEST_TMPDIR/sl) 3 4" 60 & live=$!
	STOPPED="$live"
	real="pid=$live start=$(start_of "$live") ${model#* start=* }"
	# the pid is alive, with the start time it had: left alone
	in_flight o "$live" "$real"
	run -0 --separate-stderr cvm reconcile
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(cvm show o -o json | jq -r .state)" = deploying ]
	# a process that has ended but is not reaped yet does nothing more
	bash -c 'sleep 0 & echo $! > "$0/zombie"; exec sleep 60' "$BATS_TEST_TMPDIR" & parent=$!
	STOPPED="$live $parent"
	for i in $(seq 50); do
		z=$(cat "$BATS_TEST_TMPDIR/zombie" 2>/dev/null || true)
		[ -n "$z" ] && [ "$(sed 's/.*) //' "/proc/$z/stat" | cut -d' ' -f1)" = Z ] && break
		sleep 0.1
	done
	in_flight o "$z" "pid=$z start=$(start_of "$z") ${model#* start=* }"
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	in_flight o "$live" "$real"
	# the same pid with another start time: a later process; taken over
	in_flight o "$live" "$(sed 's/ start=[0-9]* / start=1 /' <<<"$real")"
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	agree
	# an owner from another boot is gone, whatever runs with its pid
	in_flight o "$live" "$(sed 's/ boot=[^ ]* / boot=00000000-0000-0000-0000-000000000000 /' <<<"$real")"
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	# one on another machine (another boot there too) cannot be judged
	# here: left, and said
	in_flight o "$live" "$(sed 's/ host=.*/ host=elsewhere/; s/ boot=[^ ]* / boot=00000000-0000-0000-0000-000000000000 /' <<<"$real")"
	run -0 --separate-stderr cvm reconcile
	[ -z "$output" ]
	[ "$stderr" = "cvm: vm 'o': it is deploying by process $live on another machine ('elsewhere'), which cannot be judged from here; left alone (reconcile --force takes it over)" ]
	[ "$(cvm show o -o json | jq -r .state)" = deploying ]
	run -0 cvm reconcile --force o -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	agree
}

@test "reconcile: a live owner in another pid namespace is left alone until its namespace ends" {
	cvm create -q "$(vmdoc p)"
	CLOUDOS_FAULT=vm.intent run -137 cvm create "$(vmdoc model)"
	model=$(owner_of model)
	sqlite3 "$CLOUDOS_CATALOG" "DELETE FROM vms WHERE name = 'model'"
	unshare -p -f --mount-proc sleep 60 & ns=$!
	inner=
	for i in $(seq 50); do
		inner=$(cat "/proc/$ns/task/$ns/children" 2>/dev/null | cut -d' ' -f1)
		[ -n "$inner" ] && [ "$(readlink "/proc/$inner/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] && break
		sleep 0.1
	done
	[ -n "$inner" ]
	STOPPED="$inner $ns"
	nsino=$(stat -L -c %i "/proc/$inner/ns/pid")
	owner="pid=1 start=$(start_of "$inner") ${model#* start=* }"
	owner=$(sed "s/ pidns=[0-9]* / pidns=$nsino /" <<<"$owner")
	in_flight p 1 "$owner"
	run -0 --separate-stderr cvm reconcile
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(cvm show p -o json | jq -r .state)" = deploying ]
	# its first process (pid 1 there) ends the namespace
	kill -9 "$inner"
	wait "$ns" || true
	wait_for 5 test ! -e "/proc/$inner"
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	agree
}

@test "reconcile --force: an admin takes over an action whose process is alive" {
	cacct user add alice --uid 5001 >/dev/null
	# a create frozen once its domain is defined
	CLOUDOS_FAULT=hv.define:stop cvm create -q "$(vmdoc z)" & pid=$!
	STOPPED="$pid"
	stopped() { [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" = T ]; }
	wait_for 10 stopped "$pid"
	run -0 cvm reconcile
	[ -z "$output" ]
	[ "$(cvm show z -o json | jq -r .state)" = deploying ]
	refused 4 "cvm: user 'alice' may not reconcile (admins only)" \
	    cvm --as alice reconcile --force z
	refused 3 "cvm: no vm 'nope'" cvm reconcile --force z nope
	refused 2 "cvm: reconcile --force needs the VMs whose actions to take over" \
	    cvm reconcile --force
	refused 2 "cvm: reconcile takes no arguments" cvm reconcile z
	run -0 cvm reconcile --force z -o json
	[ "$(jq -r .name <<<"$output")" = z ]
	[ "$(jq -r .state <<<"$output")" = running ]
	agree
	run -0 cvm history z -o json
	grep -q "took over its action in flight (deploying, process $pid)" <<<"$output"
}

@test "reconcile: a catalog from before owners migrates; its bare pids are judged as before" {
	cvm create -q "$(vmdoc b)"
	sqlite3 "$CLOUDOS_CATALOG" "ALTER TABLE vms DROP COLUMN intent_owner; ALTER TABLE image_hosts DROP COLUMN owner; PRAGMA user_version = 12"
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE vms SET state = 'deploying', target = 'running', intent_pid = $$"
	run -0 cvm reconcile
	[ -z "$output" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA user_version')" = 13 ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT state || ' ' || COALESCE(intent_owner, '-') FROM vms")" = "deploying -" ]
	sleep 60 & dead=$!; kill "$dead"; wait "$dead" || true
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE vms SET intent_pid = $dead"
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	agree
}
