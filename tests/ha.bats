#!/usr/bin/env bats
# HA: cvm reconcile restarts VMs whose document says ha: restart, on their
# own host after a crash, or on another host when theirs is in error and
# does not answer; what an HA restart leaves behind is cleaned up.

load helpers/common

lab_suite 2

setup() {
	fresh_catalog
	# h1 may have been stopped by a test: bring it back
	if ! virsh -c "$LAB_URI1" version >/dev/null 2>&1; then
		LAB_URI1=$("$CLOUDOS_SRCDIR/tests/lab/lab-host" start "$(lab_host_dir 1)")
	fi
	lab_hosts_add --migration-address 127.0.0.1
	printf 'name: h\ncpu: 1\nmemory: 64MiB\nha: restart\n' > "$BATS_TEST_TMPDIR/h.yaml"
	printf 'name: n\ncpu: 1\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/n.yaml"
}

teardown() {
	delete_vms
	for u in "$LAB_URI1" "$LAB_URI2"; do
		for d in $(virsh -c "$u" list --all --name 2>/dev/null); do
			virsh -c "$u" destroy "$d" >/dev/null 2>&1 || true
			virsh -c "$u" undefine --managed-save "$d" >/dev/null 2>&1 || true
		done
	done
}

uuid_of() {
	cvm show "$1" -o json | jq -r .uuid
}

# crash VM: kill -9 its qemu process, found by the UUID in its command line
crash() {
	local uuid pid
	uuid=$(uuid_of "$1")
	pid=$(pgrep -f "guest=cloudos-$uuid,")
	[ -n "$pid" ]
	kill -9 "$pid"
	crashed() { virsh -c "$LAB_URI1" domstate --reason "$uuid" | grep -q crashed; }
	wait_for 5 crashed && return 0
	virsh -c "$LAB_URI1" domstate --reason "$uuid"
	return 1
}

@test "a crashed VM with ha: restart is started again on its host; one without is failed" {
	cvm create -q "$BATS_TEST_TMPDIR/h.yaml" "$BATS_TEST_TMPDIR/n.yaml"
	crash h
	crash n
	run -0 --separate-stderr cvm reconcile -o json
	[ "$(jq -r 'select(.name == "h") | [.state, .host] | @tsv' <<<"$output")" = "$(printf 'running\th1')" ]
	[ "$(jq -r 'select(.name == "n") | [.state, .error] | @tsv' <<<"$output")" = "$(printf 'failed\tthe domain crashed')" ]
	[ "$(virsh -c "$LAB_URI1" domstate "$(uuid_of h)" | head -n 1)" = running ]
	run -0 cvm history h -o json
	jq -s -e 'any(.[]; .action == "ha" and .detail == "the domain crashed; HA restarted it on host '"'h1'"'")' <<<"$output"
	# nothing left to do
	run -0 --separate-stderr cvm reconcile
	[ -z "$output" ]
}

@test "a vanished VM with ha: restart is defined again from the catalog" {
	cvm create -q "$BATS_TEST_TMPDIR/h.yaml"
	uuid=$(uuid_of h)
	virsh -c "$LAB_URI1" destroy "$uuid" >/dev/null
	virsh -c "$LAB_URI1" undefine "$uuid" >/dev/null
	run -0 cvm reconcile -o json
	[ "$(jq -r '[.state, .host] | @tsv' <<<"$output")" = "$(printf 'running\th1')" ]
	[ "$(virsh -c "$LAB_URI1" domstate "$uuid" | head -n 1)" = running ]
}

@test "a VM with ha: restart whose host is in error and silent restarts on another host" {
	cvm create -q "$BATS_TEST_TMPDIR/h.yaml" "$BATS_TEST_TMPDIR/n.yaml"
	uuid=$(uuid_of h)
	"$CLOUDOS_SRCDIR/tests/lab/lab-host" stop "$(lab_host_dir 1)"
	# what chost monitor records for a host that did not answer in time
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET state = 'error' WHERE name = 'h1'"
	# partial: h1 did not answer, and is reported
	run -8 --separate-stderr cvm reconcile -o json
	[[ "$stderr" == "cvm: host 'h1': cannot connect to '$LAB_URI1': "*$'
'"cvm: 1 of 2 hosts did not answer" ]]
	[ "$(jq -r 'select(.name == "h") | [.state, .host] | @tsv' <<<"$output")" = "$(printf 'running\th2')" ]
	[ "$(jq -r 'select(.name == "n") | .state' <<<"$output")" = unknown ]
	[ "$(virsh -c "$LAB_URI2" domstate "$uuid" | head -n 1)" = running ]
	run -0 cvm history h -o json
	jq -s -e 'any(.[]; .action == "ha" and .detail == "host '"'h1'"' is in error; HA restarted it on host '"'h2'"'")' <<<"$output"
	# h1 comes back with its old definition: the stale copy goes
	LAB_URI1=$("$CLOUDOS_SRCDIR/tests/lab/lab-host" start "$(lab_host_dir 1)")
	run -0 --separate-stderr cvm reconcile
	[[ "$stderr" == *"host 'h1': stale copy of vm 'h' removed"* ]]
	run -1 virsh -c "$LAB_URI1" domstate "$uuid"
}

@test "an HA restart elsewhere finds a duplicate still running on the old host and destroys it" {
	cvm create -q "$BATS_TEST_TMPDIR/h.yaml"
	uuid=$(uuid_of h)
	virsh -c "$LAB_URI1" dumpxml --inactive "$uuid" > "$BATS_TEST_TMPDIR/dom.xml"
	cvm migrate -q --live h --to h2
	# as if h1 had kept running it while it was cut off
	virsh -c "$LAB_URI1" define "$BATS_TEST_TMPDIR/dom.xml" >/dev/null
	virsh -c "$LAB_URI1" start "$uuid" >/dev/null
	run -0 --separate-stderr cvm reconcile
	[ "$stderr" = "cvm: host 'h1': duplicate of vm 'h' (it runs on another host) destroyed" ]
	run -1 virsh -c "$LAB_URI1" domstate "$uuid"
	[ "$(virsh -c "$LAB_URI2" domstate "$uuid" | head -n 1)" = running ]
}

@test "ha in a VM document is none or restart" {
	refused 2 "cvm: <stdin>: line 1: unknown ha 'always' (expected one of: none, restart)" \
	    cvm create - <<<$'name: x\ncpu: 1\nmemory: 64MiB\nha: always'
}
