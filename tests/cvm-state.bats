#!/usr/bin/env bats
# stop (memory saved on the host, capacity released) and start again,
# resize, and the serial console, on real qemu guests on two lab hosts.

load helpers/common

lab_suite 2

setup() {
	fresh_catalog
	lab_hosts_add --migration-address 127.0.0.1
	printf 'name: s\ncpu: 1\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/s.yaml"
}

teardown() {
	delete_vms
}

uri() {
	local v=LAB_URI$1
	echo "${!v}"
}

uuid_of() {
	cvm show "$1" -o json | jq -r .uuid
}

# the state of VM $2's domain on lab host $1, as virsh says it
dom() {
	virsh -c "$(uri "$1")" domstate "$(uuid_of "$2")" 2>/dev/null | head -n 1
}

saved() {
	virsh -c "$(uri "$1")" list --all --managed-save 2>/dev/null |
	    grep -q "cloudos-$(uuid_of "$2") *saved"
}

# has EXPR: some document of the JSON Lines in $output matches EXPR
has() {
	jq -s -e "any(.[]; $1)" <<<"$output" >/dev/null
}

@test "cvm stop saves the guest to disk and releases the host; start resumes it there" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	run -0 cvm stop s -o json
	[ "$(jq -r .state <<<"$output")" = stopped ]
	[ "$(jq -r .host <<<"$output")" = h1 ]
	[ "$(dom 1 s)" = "shut off" ]
	run -0 virsh -c "$LAB_URI1" list --all --managed-save
	[[ "$output" == *"cloudos-$(uuid_of s)"*saved* ]]
	run -0 chost show h1 -o json
	[ "$(jq -r .used_cpu <<<"$output")" = 0 ]
	[ "$(jq -r .used_memory <<<"$output")" = 0 ]
	run -0 cvm start s -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -r .host <<<"$output")" = h1 ]
	[ "$(dom 1 s)" = running ]
	run -0 virsh -c "$LAB_URI1" list --all --managed-save
	[[ "$output" != *saved* ]]
	run -0 cvm history s -o json
	has '.action == "stop" and .detail == "shutting-down -> stopped"'
}

@test "cvm stop of a suspended VM: start brings it back running" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	cvm suspend -q s
	run -0 cvm stop s -o json
	[ "$(jq -r .state <<<"$output")" = stopped ]
	run -0 cvm start s -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(dom 1 s)" = running ]
}

@test "a host keeping a stopped VM's saved state cannot be removed" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	cvm stop -q s
	refused 5 "chost: cannot remove host 'h1': vm 's' is stopped there (delete or start it first)" \
	    chost remove h1
}

@test "cvm stop is refused, changing nothing, where it cannot apply" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	cvm poweroff -q s
	refused 5 "cvm: cannot stop vm 's': it is poweroff (stop needs running or suspended)" \
	    cvm stop s
	run -3 --separate-stderr cvm stop nosuch
	[ "$stderr" = "cvm: no vm 'nosuch'" ]
	cvm start -q s
	cvm stop -q s
	before=$(catalog_digest)
	run -0 --separate-stderr cvm stop s -o json
	[ -z "$stderr" ]
	[ "$(jq -r .state <<<"$output")" = stopped ]
	[ "$(catalog_digest)" = "$before" ]
	run -5 --separate-stderr cvm suspend s
	[ "$stderr" = "cvm: cannot suspend vm 's': it is stopped (suspend needs running)" ]
}

@test "a stopped VM whose host is disabled starts afresh on another host" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	cvm stop -q s
	chost disable -q h1
	run -0 cvm start s -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -r .host <<<"$output")" = h2 ]
	[ "$(dom 2 s)" = running ]
	# the old copy, saved state and all, is gone from h1
	run -1 virsh -c "$LAB_URI1" domstate "$(uuid_of s)"
	run -0 cvm history s -o json
	has '.action == "start" and (.detail | test("booted afresh on host .h2."))'
	chost enable -q h1
}

@test "cvm delete of a stopped VM removes the domain and its saved state" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	uuid=$(uuid_of s)
	cvm stop -q s
	run -0 cvm delete s -o json
	[ "$(jq -r .state <<<"$output")" = done ]
	run -1 virsh -c "$LAB_URI1" domstate "$uuid"
}

@test "stop and start: kill -9 at any point, then reconcile agrees with libvirt" {
	for point in vm.intent vm.outcome; do
		cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
		CLOUDOS_FAULT=$point run -137 cvm stop s
		[ "$(cvm show s -o json | jq -r .state)" = shutting-down ]
		run -0 cvm reconcile -o json
		[ "$(jq -r .state <<<"$output")" = stopped ]
		[ "$(dom 1 s)" = "shut off" ]
		saved 1 s
		run -0 --separate-stderr cvm reconcile
		[ -z "$output" ]
		CLOUDOS_FAULT=$point run -137 cvm start s
		run -0 cvm reconcile -o json
		[ "$(jq -r .state <<<"$output")" = running ]
		[ "$(dom 1 s)" = running ]
		cvm delete -q s
	done
	# moving to another host, killed before the domain appeared there:
	# back to stopped where the saved state is
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	cvm stop -q s
	chost disable -q h1
	CLOUDOS_FAULT=vm.intent run -137 cvm start s
	run -0 cvm reconcile -o json
	[ "$(jq -r .state <<<"$output")" = stopped ]
	[ "$(jq -r .host <<<"$output")" = h1 ]
	saved 1 s
	# killed after it booted there: running on h2, the copy on h1 gone
	CLOUDOS_FAULT=vm.outcome run -137 cvm start s
	run -0 --separate-stderr cvm reconcile -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	[ "$(jq -r .state <<<"$output")" = running ]
	run -1 virsh -c "$LAB_URI1" domstate "$(uuid_of s)"
	chost enable -q h1
}

@test "reconcile removes an inactive copy of a VM that lives on another host" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	uuid=$(uuid_of s)
	# what a start elsewhere leaves when the old host was unreachable
	virsh -c "$LAB_URI1" dumpxml "$uuid" > "$BATS_TEST_TMPDIR/dom.xml"
	cvm poweroff -q s
	cvm migrate -q s --to h2
	virsh -c "$LAB_URI1" define "$BATS_TEST_TMPDIR/dom.xml" >/dev/null
	run -0 --separate-stderr cvm reconcile
	[ "$stderr" = "cvm: host 'h1': stale copy of vm 's' removed" ]
	run -1 virsh -c "$LAB_URI1" domstate "$uuid"
	[ "$(dom 2 s)" = "shut off" ]
}

@test "cvm resize: any size that fits while off; the domain follows" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	cvm poweroff -q s
	run -0 cvm resize s --cpu 2 --memory 96MiB -o json
	[ "$(jq -r '[.cpu, .memory] | @tsv' <<<"$output")" = "$(printf '2\t96')" ]
	run -0 virsh -c "$LAB_URI1" dominfo "$(uuid_of s)"
	[[ "$output" == *"CPU(s):         2"* ]]
	[[ "$output" == *"Max memory:     98304 KiB"* ]]
	cvm start -q s
	[ "$(dom 1 s)" = running ]
	run -0 chost show h1 -o json
	[ "$(jq -r .used_cpu <<<"$output")" = 2 ]
	run -0 cvm history s -o json
	has '.action == "resize" and .detail == "cpu 1 -> 2, memory 64 -> 96 MiB"'
}

@test "cvm resize of a running VM: memory down by balloon; growth refused, naming the state" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	run -0 cvm resize s --memory 48MiB -o json
	[ "$(jq -r .memory <<<"$output")" = 48 ]
	# the balloon's target (a guest without a balloon driver keeps
	# what it has until it reboots into one)
	run -0 virsh -c "$LAB_URI1" dumpxml --inactive "$(uuid_of s)"
	[[ "$output" == *"<currentMemory unit='KiB'>49152</currentMemory>"* ]]
	before=$(sqlite3 "$CLOUDOS_CATALOG" "SELECT cpu, memory, state FROM vms")
	run -5 --separate-stderr cvm resize s --cpu 2
	[[ "$stderr" == "cvm: cannot resize vm 's' while it is running (power it off first): "*"vcpus"* ]]
	[ -z "$output" ]
	run -5 --separate-stderr cvm resize s --memory 128MiB
	[[ "$stderr" == "cvm: cannot resize vm 's' while it is running (power it off first): "*"memory"* ]]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT cpu, memory, state FROM vms")" = "$before" ]
}

@test "cvm resize refuses bad sizes, no room and stopped VMs, changing nothing" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	cvm poweroff -q s
	before=$(catalog_digest)
	refused 2 "cvm: resize needs --cpu or --memory" cvm resize s
	refused 2 "cvm: invalid cpu '0' (a whole number of vCPUs, 1 to 1024)" cvm resize s --cpu 0
	refused 2 "cvm: invalid cpu 'two' (a whole number of vCPUs, 1 to 1024)" \
	    cvm resize s --cpu two
	run -2 --separate-stderr cvm resize s --memory lots
	[[ "$stderr" == "cvm: --memory: "* ]]
	refused 6 "cvm: host 'h1' has no room to grow vm 's' to cpu 3, memory 64 MiB" \
	    cvm resize s --cpu 3
	refused 3 "cvm: no vm 'nosuch'" cvm resize nosuch --cpu 1
	[ "$(catalog_digest)" = "$before" ]
	cvm start -q s
	cvm stop -q s
	run -5 --separate-stderr cvm resize s --cpu 1 --memory 32MiB
	[[ "$stderr" == "cvm: cannot resize vm 's': it is stopped "*"start it first)" ]]
}

@test "cvm resize: kill -9 after the size was recorded, then reconcile applies it" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	cvm poweroff -q s
	CLOUDOS_FAULT=vm.intent run -137 cvm resize s --memory 80MiB
	run -0 virsh -c "$LAB_URI1" dominfo "$(uuid_of s)"
	[[ "$output" == *"Max memory:     65536 KiB"* ]]
	run -0 cvm reconcile -o json
	[ "$(jq -r .memory <<<"$output")" = 80 ]
	run -0 virsh -c "$LAB_URI1" dominfo "$(uuid_of s)"
	[[ "$output" == *"Max memory:     81920 KiB"* ]]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM vms WHERE target IS NOT NULL")" = 0 ]
}

@test "cvm resize of a VM not yet placed changes only the catalog" {
	cvm create -q --hold "$BATS_TEST_TMPDIR/s.yaml"
	run -0 cvm resize s --cpu 2 --memory 1GiB -o json
	[ "$(jq -r '[.state, .cpu, .memory] | @tsv' <<<"$output")" = "$(printf 'hold\t2\t1024')" ]
}

@test "cvm console shows the guest's serial console; Ctrl-] leaves" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	# the firmware prints its banner on the serial port at every reset
	run -0 --separate-stderr console_shows s SeaBIOS 'No bootable device|Booting from'
	[[ "$output" == *SeaBIOS* ]]
	[[ "$output" == *"No bootable device"* || "$output" == *"Booting from"* ]]
}

@test "cvm console of a console another client holds is refused with exit 5 and a --force hint; --force takes it" {
	local d=$BATS_TEST_TMPDIR pid w try rc
	cvm create -q "$d/s.yaml" >/dev/null
	mkfifo "$d/in"
	cvm console s <"$d/in" >"$d/out" 2>"$d/err" &
	pid=$!
	exec {w}>"$d/in"
	# the holder is attached once the firmware's banner reaches it
	for try in 1 2 3; do
		cvm reboot -q --hard s
		wait_for 20 grep -q SeaBIOS "$d/out" && break
	done
	grep -q SeaBIOS "$d/out"
	refused 5 "cvm: cannot open the console of vm 's' on host 'h1': another client holds it: operation failed: Active console session exists for this domain (--force takes it over)" \
	    cvm console s </dev/null
	kill -0 "$pid"
	# --force takes it: the holder is let go
	run -0 --separate-stderr cvm console --force s </dev/null
	wait_for 10 gone "$pid"
	exec {w}>&-
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 1 ]
	[[ "$(cat "$d/err")" == "cvm: vm 's' on host 'h1': console stream failed: "* ]]
}

@test "cvm console is refused for VMs that are not running, and takes one VM" {
	cvm create -q "$BATS_TEST_TMPDIR/s.yaml"
	cvm poweroff -q s
	run -5 --separate-stderr cvm console s </dev/null
	[ "$stderr" = "cvm: cannot open the console of vm 's': it is poweroff (console needs running)" ]
	run -3 --separate-stderr cvm console nosuch </dev/null
	[ "$stderr" = "cvm: no vm 'nosuch'" ]
	run -2 --separate-stderr cvm console s s </dev/null
	[ "$stderr" = "cvm: console takes one VM" ]
	run -2 --separate-stderr cvm console - </dev/null
	[ "$stderr" = "cvm: console takes one VM" ]
}
