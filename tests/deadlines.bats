#!/usr/bin/env bats
# Deadlines on every host call (cloudos(7) DEADLINES): a host that accepts
# the connection and never answers, a lab host whose libvirtd is stopped
# with SIGSTOP, and a python listener on a unix socket that accepts and
# never replies.  Each command ends within the host timeout (2 s here)
# with exit 7 naming the host, or partial (8) with the other hosts done.

load helpers/common

lab_suite 2

teardown_file() {
	local pid
	pid=$(libvirtd_pid 2 2>/dev/null) && kill -CONT "$pid" 2>/dev/null || true
	lab_stop
}

setup() {
	fresh_catalog
	export CLOUDOS_HOST_TIMEOUT=2
	lab_hosts_add --migration-address 127.0.0.1 -q
	printf 'name: a\ncpu: 1\nmemory: 64MiB\nrequirements: name == "h1"\n' > "$BATS_TEST_TMPDIR/a.yaml"
	printf 'name: b\ncpu: 1\nmemory: 64MiB\nrequirements: name == "h2"\n' > "$BATS_TEST_TMPDIR/b.yaml"
	printf 'name: h\ncpu: 1\nmemory: 64MiB\nha: restart\n' > "$BATS_TEST_TMPDIR/h.yaml"
}

teardown() {
	local pid u d
	# whatever the test did: host 2 answers again, the listener is gone
	pid=$(libvirtd_pid 2 2>/dev/null) && kill -CONT "$pid" 2>/dev/null || true
	if [ -f "$BATS_TEST_TMPDIR/silent.pid" ]; then
		kill "$(cat "$BATS_TEST_TMPDIR/silent.pid")" 2>/dev/null || true
	fi
	unset CLOUDOS_HOST_TIMEOUT
	delete_vms
	for u in "$LAB_URI1" "$LAB_URI2"; do
		for d in $(virsh -c "$u" list --all --name 2>/dev/null); do
			virsh -c "$u" destroy "$d" >/dev/null 2>&1 || true
			virsh -c "$u" undefine --managed-save "$d" >/dev/null 2>&1 || true
		done
	done
}

# libvirtd_pid I: the pid of lab host I's libvirtd (the child of its
# namespace's first process, whose pid lab-host keeps in DIR/nspid)
libvirtd_pid() {
	pgrep -P "$(cat "$(lab_host_dir "$1")/nspid")" -x libvirtd
}

freeze() {
	kill -STOP "$(libvirtd_pid "$1")"
}

thaw() {
	kill -CONT "$(libvirtd_pid "$1")"
}

# silent: start a listener that accepts on a unix socket and never
# answers; sets SILENT_URI
silent() {
	local sock="$BATS_TEST_TMPDIR/silent.sock"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(64)
held = []
while True:
    held.append(s.accept()[0])
' "$sock" 3>&- &
	echo $! > "$BATS_TEST_TMPDIR/silent.pid"
	wait_for 30 test -S "$sock"
	SILENT_URI="qemu+unix:///system?socket=$sock"
}

# timed CMD...: run it (bats run), leaving its time in ms in $elapsed
timed() {
	local t0
	t0=$(date +%s%3N)
	"$@"
	elapsed=$(($(date +%s%3N) - t0))
	echo "# $elapsed ms: ${*:3}" >&3
}

state_of() {
	cvm show "$1" -o json | jq -r .state
}

@test "chost add of a host that accepts and never answers exits 7 at the deadline" {
	silent
	before=$(catalog_digest)
	timed run -7 --separate-stderr chost add hs "$SILENT_URI"
	[ "$elapsed" -ge 2000 ] && [ "$elapsed" -lt 4500 ]
	assert_output ""
	[ "$stderr" = "chost: cannot add host 'hs': cannot connect to '$SILENT_URI': no answer within 2 s" ]
	[ "$(catalog_digest)" = "$before" ]
	# a fraction of a second is a deadline too
	CLOUDOS_HOST_TIMEOUT=0.5 timed run -7 --separate-stderr chost add hs "$SILENT_URI"
	[ "$elapsed" -ge 500 ] && [ "$elapsed" -lt 2000 ]
	[ "$stderr" = "chost: cannot add host 'hs': cannot connect to '$SILENT_URI': no answer within 0.5 s" ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "chost add of a host whose libvirtd is stopped exits 7 at the deadline" {
	run -0 chost remove h2
	before=$(catalog_digest)
	freeze 2
	timed run -7 --separate-stderr chost add h2 "$LAB_URI2"
	thaw 2
	[ "$elapsed" -ge 2000 ] && [ "$elapsed" -lt 4500 ]
	assert_output ""
	[ "$stderr" = "chost: cannot add host 'h2': cannot connect to '$LAB_URI2': no answer within 2 s" ]
	[ "$(catalog_digest)" = "$before" ]
	# it answers again: added
	run -0 chost add h2 "$LAB_URI2"
}

@test "CLOUDOS_HOST_TIMEOUT takes seconds above 0 and at most 3600" {
	before=$(catalog_digest)
	for t in 0 -1 x 1s 3601 nan; do
		CLOUDOS_HOST_TIMEOUT=$t refused 2 "chost: cannot add host 'h3': CLOUDOS_HOST_TIMEOUT: expected seconds above 0 and at most 3600, found '$t'" \
		    chost add h3 "$LAB_URI1"
	done
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvm create onto a stopped host not yet in error exits 7 at the deadline; the VM is failed, nothing on the host" {
	freeze 2
	timed run -7 --separate-stderr cvm create "$BATS_TEST_TMPDIR/b.yaml"
	thaw 2
	[ "$elapsed" -lt 4500 ]
	assert_output ""
	[ "$stderr" = "cvm: cannot deploy vm 'b' on host 'h2': cannot connect to '$LAB_URI2': no answer within 2 s (vm left in state failed)" ]
	# the house's outcome of a failed deploy: failed, the host released
	run -0 cvm show b -o json
	[ "$(jq -r '.state + " " + (.host // "none")' <<<"$output")" = 'failed none' ]
	run -0 chost show h2 -o json
	[ "$(jq -r '[.used_cpu, .vms] | @tsv' <<<"$output")" = "$(printf '0\t0')" ]
	run -0 virsh -c "$LAB_URI2" list --all --name
	[ -z "$(tr -d '\n' <<<"$output")" ]
	# other hosts take VMs meanwhile
	run -0 cvm create -q "$BATS_TEST_TMPDIR/a.yaml"
	[ "$(state_of a)" = running ]
}

@test "a call in progress on a host that stops answering fails within the keepalive's time" {
	run -0 cvm create -q "$BATS_TEST_TMPDIR/b.yaml"
	# the tiny guest ignores ACPI: shutdown waits up to 60 s, asking
	# libvirt five times a second
	cvm shutdown b --timeout 60 >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	shutting_down() { [ "$(state_of b)" = shutting-down ]; }
	wait_for 5 shutting_down
	freeze 2
	t0=$(date +%s%3N)
	rc=0
	wait "$pid" || rc=$?
	elapsed=$(($(date +%s%3N) - t0))
	echo "# $elapsed ms: cvm shutdown, libvirtd stopped while it waits" >&3
	thaw 2
	[ "$rc" -eq 7 ]
	# keepalive: a ping a second, dropped after 2 to 3 s of silence
	[ "$elapsed" -lt 5000 ]
	# (libvirt's words: the keepalive closed the connection under the
	# call, or just before it)
	[[ "$(cat "$BATS_TEST_TMPDIR/err")" =~ ^"cvm: cannot shut down vm 'b' on host 'h2': cannot watch domain $(cvm show b -o json | jq -r .uuid): host $LAB_URI2 is unreachable (internal error: "("connection closed due to keepalive timeout"|"client socket is closed")")"$ ]]
	# the intent is rolled back as for any failed libvirt call
	[ "$(state_of b)" = running ]
}

@test "work longer than the host timeout on hosts that answer is not cut" {
	export CLOUDOS_HOST_TIMEOUT=1
	run -0 cvm create -q - <<<$'name: m\ncpu: 1\nmemory: 64MiB'
	to=h1
	[ "$(cvm show m -o json | jq -r .host)" = h2 ] || to=h2
	# live migration: one long call on each connection, kept alive
	timed run -0 cvm migrate -q m --to "$to" --live
	[ "$(cvm show m -o json | jq -r '.state + " " + .host')" = "running $to" ]
	# the guest ignores ACPI: 5 s of waiting, then powered off
	timed run -0 cvm shutdown -q m --timeout 5
	[ "$elapsed" -ge 5000 ]
	[ "$(state_of m)" = poweroff ]
}

@test "cvm reconcile reconciles the answering host and reports the stopped one (exit 8) within the deadline" {
	run -0 cvm create -q "$BATS_TEST_TMPDIR/a.yaml" "$BATS_TEST_TMPDIR/b.yaml"
	# drift on h1 for reconcile to find: a's guest was powered off
	virsh -c "$LAB_URI1" destroy "$(cvm show a -o json | jq -r .uuid)" >/dev/null
	freeze 2
	timed run -8 --separate-stderr cvm reconcile -o json
	thaw 2
	[ "$elapsed" -lt 5000 ]
	[ "$(jq -r '[.name, .state] | @tsv' <<<"$output" | sort | tr '\n' ' ')" = "$(printf 'a\tpoweroff b\tunknown ')" ]
	[ "$stderr" = "cvm: host 'h2': cannot connect to '$LAB_URI2': no answer within 2 s
cvm: 1 of 2 hosts did not answer" ]
	# it answers again: b is running, and all is well
	run -0 --separate-stderr cvm reconcile -o json
	[ "$(jq -r '[.name, .state] | @tsv' <<<"$output")" = "$(printf 'b\trunning')" ]
	[ -z "$stderr" ]
}

@test "cvm reconcile with no host answering exits 7" {
	silent
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = '$SILENT_URI' WHERE name = 'h1'"
	freeze 2
	timed run -7 --separate-stderr cvm reconcile
	thaw 2
	[ "$elapsed" -lt 4500 ]
	[ "$stderr" = "cvm: host 'h1': cannot connect to '$SILENT_URI': no answer within 2 s
cvm: host 'h2': cannot connect to '$LAB_URI2': no answer within 2 s
cvm: no host answered (2 hosts)" ]
}

@test "HA restarts the VMs of a stopped host in error on another host within the deadline" {
	# on h2: h1 takes no new VMs for the moment
	run -0 chost disable h1
	run -0 cvm create -q "$BATS_TEST_TMPDIR/h.yaml"
	run -0 chost enable h1
	[ "$(cvm show h -o json | jq -r .host)" = h2 ]
	freeze 2
	timed run -8 chost monitor --timeout 2
	[ "$(chost show h2 -o json | jq -r .state)" = error ]
	timed run -8 --separate-stderr cvm reconcile -o json
	[ "$elapsed" -lt 10000 ]
	[ "$(jq -r '[.name, .state, .host] | @tsv' <<<"$output")" = "$(printf 'h\trunning\th1')" ]
	[ "$(virsh -c "$LAB_URI1" domstate "$(cvm show h -o json | jq -r .uuid)" | head -n 1)" = running ]
	thaw 2
}

@test "csched pass with a stopped host: the others are scheduled, the pass ends partial and drops its lease" {
	cvm create --queue --count 2 -q - <<<$'name: q\ncpu: 1\nmemory: 64MiB'
	freeze 2
	timed run -8 --separate-stderr csched pass -o json
	thaw 2
	# reconcile's deadline, at most one deploy that waited for h2, and
	# two deploys on h1 (on a loaded machine)
	[ "$elapsed" -lt 15000 ]
	[ "$(jq -r '[.name, .state, .host] | @tsv' <<<"$output" | sort | tr '\n' ' ')" = "$(printf 'q-1\trunning\th1 q-2\trunning\th1 ')" ]
	[[ "$stderr" == "csched: host 'h2': cannot connect to '$LAB_URI2': no answer within 2 s"$'\n'* ]]
	[[ "$stderr" == *$'\n'"csched: 1 of 2 hosts did not answer" ]]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM sched_lease")" = 0 ]
}

@test "hosts in error take no VMs: cvm create and csched pass leave them alone" {
	freeze 2
	timed run -8 chost monitor --timeout 2
	[ "$(chost show h2 -o json | jq -r .state)" = error ]
	# the only host that passes is in error: no room, nothing recorded
	before=$(catalog_digest)
	timed run -6 --separate-stderr cvm create "$BATS_TEST_TMPDIR/b.yaml"
	[ "$elapsed" -lt 2000 ]
	[[ "$stderr" == "cvm: cannot place vm 'b': "* ]]
	[ "$(catalog_digest)" = "$before" ]
	# a pass without reconcile calls no host but those it deploys to
	cvm create --queue -q "$BATS_TEST_TMPDIR/b.yaml" "$BATS_TEST_TMPDIR/a.yaml"
	timed run -0 --separate-stderr csched pass --no-reconcile -o json
	[ "$(jq -r '[.name, .host] | @tsv' <<<"$output")" = "$(printf 'a\th1')" ]
	# no deploy was tried on h2 (it would have failed at the deadline)
	[ -z "$stderr" ]
	run -0 cvm show b -o json
	[ "$(jq -r '[.state, .reason] | @tsv' <<<"$output")" = "$(printf 'pending\tno host passes the requirements '"'"'name == "h2"'"'"'')" ]
	thaw 2
}

@test "chost monitor gives up on a silent host at the host timeout, below its own --timeout" {
	silent
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = '$SILENT_URI' WHERE name = 'h2'"
	timed run -8 --separate-stderr chost monitor --timeout 30 -o json
	[ "$elapsed" -lt 4500 ]
	[ "$(jq -r .state <<<"${lines[1]}")" = error ]
	[ "$(jq -r .error <<<"${lines[1]}")" = "cannot connect to '$SILENT_URI': no answer within 2 s" ]
}
