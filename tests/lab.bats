#!/usr/bin/env bats
# The test lab itself: private libvirtd hosts in their own mount and pid
# namespaces, independent of each other, leaving nothing behind.

load helpers/common

lab_suite 2

# a tiny diskless TCG guest
guest_xml() {
	cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices><serial type='pty'/><console type='pty'/></devices>
</domain>
XML
}

@test "lab: a started host answers virsh as a qemu driver" {
	run -0 virsh -c "$LAB_URI1" version
	assert_output --partial "Running hypervisor: QEMU"
	run -0 virsh -c "$LAB_URI2" uri
	[ "$output" = "$LAB_URI2" ] || [ "$output" = "qemu:///system" ]
}

@test "lab: a tiny guest starts on a lab host as a real qemu process" {
	guest_xml labtest1 > "$BATS_TEST_TMPDIR/g.xml"
	run -0 virsh -c "$LAB_URI1" define "$BATS_TEST_TMPDIR/g.xml"
	run -0 virsh -c "$LAB_URI1" start labtest1
	run -0 virsh -c "$LAB_URI1" domstate labtest1
	[ "${lines[0]}" = running ]
	pgrep -f "guest=labtest1," >/dev/null
	virsh -c "$LAB_URI1" destroy labtest1
	virsh -c "$LAB_URI1" undefine labtest1
}

@test "lab: two hosts are independent" {
	guest_xml labtest2 > "$BATS_TEST_TMPDIR/g.xml"
	run -0 virsh -c "$LAB_URI1" define "$BATS_TEST_TMPDIR/g.xml"
	run -0 virsh -c "$LAB_URI1" list --all --name
	assert_line labtest2
	run -0 virsh -c "$LAB_URI2" list --all --name
	[[ "$output" != *labtest2* ]]
	# definitions live in the host's own folder, not the machine's /etc
	[ -f "$(lab_host_dir 1)/etc/qemu/labtest2.xml" ]
	[ ! -e /etc/libvirt/qemu/labtest2.xml ]
	virsh -c "$LAB_URI1" undefine labtest2
}

@test "lab: stopping a host ends every process it started" {
	dir=$(mktemp -d /tmp/clab1.XXXXXX)
	uri=$("$CLOUDOS_SRCDIR/tests/lab/lab-host" start "$dir/h")
	guest_xml labtest3 > "$dir/g.xml"
	virsh -c "$uri" define "$dir/g.xml" >/dev/null
	virsh -c "$uri" start labtest3 >/dev/null
	init=$(cat "$dir/h/nspid")
	qemu=$(pgrep -f "guest=labtest3,")
	# unshare, the namespace's init, its children (libvirtd, virtlogd), qemu
	pids="$(cat "$dir/h/pid") $init $(pgrep -P "$init" | tr '\n' ' ') $qemu"
	[ "$(wc -w <<<"$pids")" -ge 5 ] || { echo "pids: $pids"; false; }
	run -0 "$CLOUDOS_SRCDIR/tests/lab/lab-host" stop "$dir/h"
	for pid in $pids; do
		if kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid")" != Z ]; then
			echo "pid $pid survived: $(ps -o cmd= -p "$pid")"
			false
		fi
	done
	run -1 pgrep -f "guest=labtest3,"
	# stopping again is fine
	run -0 "$CLOUDOS_SRCDIR/tests/lab/lab-host" stop "$dir/h"
	rm -rf "$dir"
}

@test "lab: a folder too long for a socket is refused clearly" {
	long=/tmp/$(printf 'x%.0s' {1..100})
	run -1 --separate-stderr "$CLOUDOS_SRCDIR/tests/lab/lab-host" start "$long"
	[[ "$stderr" == "lab-host: '$long' is too long for a unix socket path; use a shorter folder" ]]
	rm -rf "$long"
}
