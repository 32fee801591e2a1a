#!/usr/bin/env bats
# cvm wait, cvm list --watch and cimg wait.  The VMs run on libvirt's test
# driver: a test:///default host runs no guest, and each command's
# connection sees a fresh driver, so the VMs a pass or a create starts are
# found vanished (failed) by the next pass: a VM that fails while it is
# waited for, with no lab host.  An image is held locked by importing a
# FIFO that the test feeds when it chooses.

load helpers/common

setup() {
	fresh_catalog
	chost add t1 test:///default --cpu 4 --memory 4GiB >/dev/null
}

# queue NAME: a pending VM NAME, for the next csched pass
queue() {
	printf 'name: %s\ncpu: 1\nmemory: 64MiB\n' "$1" | cvm create --queue - >/dev/null
}

# asleep PID: process PID sleeps between two reads of the catalog (so a
# wait has found what it waits for)
asleep() {
	grep -q nanosleep "/proc/$1/wchan" 2>/dev/null
}

@test "cvm wait returns once a queued VM is placed and runs, printing it" {
	queue q
	cvm wait q --state running --timeout 60 -o json >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	wait_for 20 asleep "$pid"	# pending: found, and waiting
	run -0 csched pass -q
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 0 ]
	[ -z "$(cat "$BATS_TEST_TMPDIR/err")" ]
	[ "$(jq -r '[.name, .state, .host] | @tsv' "$BATS_TEST_TMPDIR/out")" = "$(printf 'q\trunning\tt1')" ]
}

@test "cvm wait of a VM already there returns at once; -q prints nothing" {
	printf 'name: r\ncpu: 1\nmemory: 64MiB\n' | cvm create - >/dev/null
	run -0 --separate-stderr cvm wait r --state running -o ids
	[ "$output" = 1 ]
	[ -z "$stderr" ]
	run -0 --separate-stderr cvm wait r --state Running -q
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "cvm wait times out with exit 7 and one line naming the VM and its state" {
	queue q
	refused 7 "cvm: timed out after 1 s waiting for vm 'q' to be running: it is pending" \
	    cvm wait q --state running --timeout 1
	queue p
	refused 7 "cvm: timed out after 0 s waiting for vm 'q' to be running: it is pending (and 1 more)" \
	    cvm wait q p --state running --timeout 0
}

@test "cvm wait sleeps between reads: little CPU over a 2 s wait" {
	queue q
	TIMEFORMAT='%3U %3S'
	{ time cvm wait q --state running --timeout 2 2>/dev/null; } 2>"$BATS_TEST_TMPDIR/t" || true
	read -r user sys <"$BATS_TEST_TMPDIR/t"
	echo "cpu: $user user, $sys system"
	awk -v u="$user" -v s="$sys" 'BEGIN { exit !(u + s < 0.5) }'
}

@test "cvm wait of a VM that does not exist is exit 3, and waits for none" {
	queue q
	refused 3 "cvm: no vm 'nosuch'" cvm wait nosuch --state running
	refused 3 "cvm: no vm 'nosuch'" cvm wait q nosuch --state running --timeout 60
}

@test "cvm wait refuses a bad --state, a missing one and a bad --timeout with exit 2" {
	queue q
	refused 2 "cvm: unknown state 'bogus' (one of pending, hold, deploying, running, suspended, stopped, poweroff, migrating, shutting-down, failed, unknown, done)" \
	    cvm wait q --state bogus
	refused 2 "cvm: wait needs --state" cvm wait q
	refused 2 "cvm: invalid timeout '-1' (whole seconds, 0 to 86400)" \
	    cvm wait q --state running --timeout -1
	refused 2 "cvm: no VM named (give ids, names, or - to read documents from stdin)" \
	    cvm wait --state running
}

@test "cvm wait - reads the VMs from stdin, and waits for all of them" {
	queue a
	queue b
	cvm list -o json | cvm wait - --state running --timeout 60 -o ids >"$BATS_TEST_TMPDIR/out" 2>&1 &
	pid=$!
	run -0 csched pass -q
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/out" | tr '\n' ' ')" = "1 2 " ]
}

@test "cvm wait fails with exit 5 when a VM is where the state cannot come without a command" {
	printf 'name: h\ncpu: 1\nmemory: 64MiB\n' | cvm create --hold - >/dev/null
	refused 5 "cvm: cannot wait for vm 'h' to be running: it is hold (only a command leads from there)" \
	    cvm wait h --state running
	# a running guest may power itself off: waited for, until it fails
	printf 'name: r\ncpu: 1\nmemory: 64MiB\n' | cvm create - >/dev/null
	cvm wait r --state poweroff --timeout 60 >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	wait_for 20 asleep "$pid"	# running: found, and waiting
	run -0 csched pass -q	# finds r's domain vanished: failed
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 5 ]
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = "cvm: cannot wait for vm 'r' to be poweroff: it is failed (only a command leads from there)" ]
	[ -z "$(cat "$BATS_TEST_TMPDIR/out")" ]
	# a done VM is found by id, and is done
	cvm delete -q r
	run -0 cvm wait 2 --state done -o ids
	[ "$output" = 2 ]
}

# frames FILE N: FILE holds at least N screens (each begins by clearing)
frames() {
	[ "$(grep -o $'\e\\[2J' "$1" | wc -l)" -ge "$2" ]
}

@test "cvm list --watch draws the table again on a terminal" {
	queue q
	script -qc "cvm list --watch --interval 1" /dev/null >"$BATS_TEST_TMPDIR/tty" 2>&1 &
	pid=$!
	wait_for 20 frames "$BATS_TEST_TMPDIR/tty" 2
	run -0 csched pass -q
	wait_for 20 grep -q ' running ' "$BATS_TEST_TMPDIR/tty"
	kill "$pid"
	wait "$pid" || true
	# each screen: home, clear, the header, the VM as it was then
	grep -q $'\e\\[H\e\\[2JID  *NAME  *STATE' "$BATS_TEST_TMPDIR/tty"
	grep -qE '^1 +q +pending ' "$BATS_TEST_TMPDIR/tty"
	grep -qE '^1 +q +running +t1 ' "$BATS_TEST_TMPDIR/tty"
}

@test "cvm list --watch elsewhere prints the list, then each VM as it changes" {
	queue q
	cvm list --watch --interval 1 -o json >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	wait_for 20 grep -q '"state":"pending"' "$BATS_TEST_TMPDIR/out"
	run -0 csched pass -q
	wait_for 20 grep -q '"state":"running"' "$BATS_TEST_TMPDIR/out"
	run -0 cvm delete -q q
	wait_for 20 grep -q '"state":"done"' "$BATS_TEST_TMPDIR/out"
	kill "$pid"
	wait "$pid" || true
	# once each (a look may also catch the pass deploying it)
	[ "$(jq -r 'select(.state != "deploying") | .name + " " + .state' "$BATS_TEST_TMPDIR/out" | tr '\n' ,)" = "q pending,q running,q done," ]
	[ -z "$(cat "$BATS_TEST_TMPDIR/err")" ]
}

@test "cvm list --interval needs --watch, and whole seconds" {
	refused 2 "cvm: --interval goes with --watch" cvm list --interval 3
	refused 2 "cvm: invalid interval '0' (whole seconds, 1 to 3600)" \
	    cvm list --watch --interval 0
}

# import_held NAME [OPTION...]: cimg import of a FIFO in the background, as
# image NAME, locked until import_feed; IMPORT_PID is the import
import_held() {
	local name=$1
	shift
	mkfifo "$BATS_TEST_TMPDIR/src"
	cimg import "$BATS_TEST_TMPDIR/src" --name "$name" "$@" >/dev/null 2>"$BATS_TEST_TMPDIR/import.err" &
	IMPORT_PID=$!
	exec {FEED}>"$BATS_TEST_TMPDIR/src"
	wait_for 20 cimg show "$name" -q
}

# import_feed: the FIFO's content (a small qcow2), then its end
import_feed() {
	qemu-img create -q -f qcow2 "$BATS_TEST_TMPDIR/src.qcow2" 1M
	cat "$BATS_TEST_TMPDIR/src.qcow2" >&"$FEED"
	exec {FEED}>&-
}

@test "cimg wait returns once an import in progress makes the image ready" {
	import_held deb
	run -0 cimg show deb -o json
	[ "$(jq -r .state <<<"$output")" = locked ]
	cimg wait deb --state ready --timeout 60 -o json >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" {FEED}>&- &
	pid=$!
	wait_for 20 asleep "$pid"	# locked: found, and waiting
	import_feed
	wait "$IMPORT_PID"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 0 ]
	[ -z "$(cat "$BATS_TEST_TMPDIR/err")" ]
	[ "$(jq -r '.name + " " + .state' "$BATS_TEST_TMPDIR/out")" = "deb ready" ]
	run -0 cimg wait deb --state Ready -o ids
	[ "$output" = 1 ]
}

@test "cimg wait: 7 on timeout, 5 when the import fails or the state cannot come, 3 and 2" {
	import_held deb --sha256 "$(printf '0%.0s' $(seq 64))"
	refused 7 "cimg: timed out after 0 s waiting for image 'deb' to be ready: it is locked" \
	    cimg wait deb --state ready --timeout 0
	refused 3 "cimg: no image 'nosuch'" cimg wait deb nosuch --state ready
	refused 2 "cimg: unknown state 'bogus' (one of locked, ready, used, error)" \
	    cimg wait deb --state bogus
	refused 2 "cimg: wait needs --state" cimg wait deb
	# the digest is wrong: the import fails and leaves no image
	cimg wait deb --state ready --timeout 60 >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" {FEED}>&- &
	pid=$!
	wait_for 20 asleep "$pid"
	import_feed
	wait "$IMPORT_PID" || true
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 5 ]
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = "cimg: cannot wait for image 'deb' to be ready: it is gone (its import failed, or it was deleted)" ]
	[ -z "$(cat "$BATS_TEST_TMPDIR/out")" ]
	# a ready image is never locked again without a command
	qemu-img create -q -f qcow2 "$BATS_TEST_TMPDIR/b.qcow2" 1M
	cimg import "$BATS_TEST_TMPDIR/b.qcow2" --name b >/dev/null
	refused 5 "cimg: cannot wait for image 'b' to be locked: it is ready (only a command leads from there)" \
	    cimg wait b --state locked
}
