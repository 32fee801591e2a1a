#!/usr/bin/env bats
# chost monitor against real lab hosts: concurrent polls, hosts that are
# down (stopped) or hung (libvirtd stopped with SIGSTOP), and recovery.

load helpers/common

lab_suite 2

teardown_file() {
	# a test that failed half-way may leave host 2 stopped or hung
	local pid
	pid=$(libvirtd_pid 2 2>/dev/null) && kill -CONT "$pid" 2>/dev/null || true
	lab_stop
}

setup() {
	fresh_catalog
	chost list >/dev/null	# create the catalog, so digests compare
}

teardown() {
	local pid
	# leave host 2 answering for the next test, however this one ended
	pid=$(libvirtd_pid 2 2>/dev/null) && kill -CONT "$pid" 2>/dev/null || true
	"$LAB/lab-host" start "$(lab_host_dir 2)" >/dev/null 2>&1 || true
}

# libvirtd_pid I: the pid of lab host I's libvirtd (the child of its
# namespace's first process)
libvirtd_pid() {
	pgrep -P "$(cat "$(lab_host_dir "$1")/nspid")" -x libvirtd
}

@test "chost monitor polls every host and records what it measured" {
	run -0 chost add h1 "$LAB_URI1"
	run -0 chost add h2 "$LAB_URI2"
	run -0 --separate-stderr chost monitor -o json
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 2 ]
	for l in "${lines[@]}"; do
		[ "$(jq -r .kind <<<"$l")" = Host ]
		[ "$(jq -r .state <<<"$l")" = enabled ]
		[[ "$(jq -r .monitored <<<"$l")" == 20*Z ]]
		[ "$(jq -r '.load | type' <<<"$l")" = number ]
		[ "$(jq -r '.measured_free_memory > 0' <<<"$l")" = true ]
		[ "$(jq -r '.error' <<<"$l")" = null ]
	done
	run -0 chost monitor h2 -o ids
	[ "$output" = 2 ]
}

@test "chost monitor marks a stopped host error (exit 8) and it recovers" {
	run -0 chost add h1 "$LAB_URI1"
	run -0 chost add h2 "$LAB_URI2"
	run -0 chost disable h2
	"$LAB/lab-host" stop "$(lab_host_dir 2)"
	run -8 --separate-stderr chost monitor -o json
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -r .state <<<"${lines[0]}")" = enabled ]
	[ "$(jq -r .state <<<"${lines[1]}")" = error ]
	[ "$(jq -r .prev_state <<<"${lines[1]}")" = disabled ]
	[[ "$(jq -r .error <<<"${lines[1]}")" == "cannot connect to '$LAB_URI2': "* ]]
	[ "$(wc -l <<<"$stderr")" -eq 2 ]
	[[ "${stderr%%$'\n'*}" == "chost: cannot monitor host 'h2': cannot connect to "* ]]
	[[ "$stderr" == *$'\nchost: 1 of 2 hosts did not answer' ]]
	run -0 chost list --state error -o ids
	[ "$output" = 2 ]
	# exit 7 when no host answers; the document still shows why
	run -7 --separate-stderr chost monitor h2 -o json
	[ "$(jq -r .state <<<"$output")" = error ]
	[[ "$stderr" == "chost: cannot monitor host 'h2': cannot connect to "* ]]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	# back up: it returns to the state it had, disabled
	"$LAB/lab-host" start "$(lab_host_dir 2)" >/dev/null
	run -0 chost monitor h2 -o json
	[ "$(jq -r .state <<<"$output")" = disabled ]
	[ "$(jq -r .error <<<"$output")" = null ]
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT action || ' ' || substr(detail, 1, 17) FROM audit WHERE kind = 'Host' AND action IN ('error', 'recover') ORDER BY id"
	[ "$output" = $'error disabled -> error\nrecover error -> disabled' ]
}

@test "chost monitor does not wait past --timeout for a hung libvirtd" {
	run -0 chost add h1 "$LAB_URI1"
	run -0 chost add h2 "$LAB_URI2"
	pid=$(libvirtd_pid 2)
	kill -STOP "$pid"
	start=$(date +%s)
	run -8 --separate-stderr chost monitor --timeout 2 -o json
	elapsed=$(($(date +%s) - start))
	kill -CONT "$pid"
	[ "$elapsed" -le 4 ]
	[ "$(jq -r .state <<<"${lines[0]}")" = enabled ]
	[ "$(jq -r .state <<<"${lines[1]}")" = error ]
	[ "$(jq -r .error <<<"${lines[1]}")" = "no answer within 2 s" ]
	[[ "$stderr" == "chost: cannot monitor host 'h2': no answer within 2 s"$'\n'* ]]
	# it answers again: back to enabled
	run -0 chost monitor h2 -o json
	[ "$(jq -r .state <<<"$output")" = enabled ]
}

@test "a host in error takes no new VMs; enable and disable keep for later" {
	run -0 chost add h2 "$LAB_URI2"
	"$LAB/lab-host" stop "$(lab_host_dir 2)"
	run -7 chost monitor
	printf 'name: e1\ncpu: 1\nmemory: 64\n' > "$BATS_TEST_TMPDIR/e1.yaml"
	refused 6 "cvm: no enabled host to place vm 'e1' on (add one with 'chost add')" \
	    cvm create "$BATS_TEST_TMPDIR/e1.yaml"
	# an admin's disable while in error is what it returns to
	run -0 chost disable h2 -o json
	[ "$(jq -r .state <<<"$output")" = error ]
	[ "$(jq -r .prev_state <<<"$output")" = disabled ]
	"$LAB/lab-host" start "$(lab_host_dir 2)" >/dev/null
	run -0 chost monitor -o json
	[ "$(jq -r .state <<<"$output")" = disabled ]
}

@test "chost monitor records the usage of running VMs" {
	run -0 chost add h1 "$LAB_URI1"
	printf 'name: m1\ncpu: 1\nmemory: 64\n' > "$BATS_TEST_TMPDIR/m1.yaml"
	run -0 cvm create "$BATS_TEST_TMPDIR/m1.yaml"
	run -0 chost monitor
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT s.cpu_time > 0, s.memory > 0, s.rss > 0, s.monitored IS NOT NULL FROM vm_stats s JOIN vms v ON v.id = s.vm_id WHERE v.name = 'm1'"
	[ "$output" = "1|1|1|1" ]
	run -0 cvm delete m1
}

@test "chost monitor: bad input exits 2, a missing host 3, a non-admin 4" {
	run -0 chost add h1 "$LAB_URI1"
	run -0 cacct user add alice --uid 5001
	for t in 0 -1 x 1s 4000; do
		refused 2 "chost: --timeout: expected seconds above 0 and at most 3600, found '$t'" \
		    chost monitor --timeout "$t"
	done
	refused 3 "chost: no host 'nope'" chost monitor h1 nope
	refused 4 "chost: user 'alice' may not monitor hosts (admins only)" chost --as alice monitor
}
