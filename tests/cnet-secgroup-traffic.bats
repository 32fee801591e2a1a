#!/usr/bin/env bats
# cnet secgroup, with real traffic: a guest with a network stack (Debian's
# cloud kernel and a busybox initramfs from tests/lab/make-guest, serving
# HTTP on ports 80 and 81) on a lab host in its own network namespace, and
# a client in a namespace of its own whose veth is a port of the same
# bridge, so that its traffic crosses the guest's filters as another
# guest's would.  Skipped, saying why, when the guest cannot be made (no
# Debian archive to download the kernel from).

load helpers/common

SGTOOL="$CLOUDOS_BUILDDIR/tests/unit/sg-tool"
GUEST_IP=192.168.150.10
CLIENT_IP=192.168.150.50

setup_file() {
	export GUEST_DIR=${CLOUDOS_GUEST_DIR:-/var/tmp/cloudos-guest}
	if ! "$LAB/make-guest" "$GUEST_DIR" 2>"$BATS_FILE_TMPDIR/make-guest.err"; then
		export NO_GUEST="no guest with a network stack: $(tail -n 1 "$BATS_FILE_TMPDIR/make-guest.err")"
		return 0
	fi
	lab_start 1 --netns
	cat > "$LAB_DIR/net.xml" <<-XML
	<network><name>sgnet</name><bridge name='sgbr0' stp='off' delay='0'/>
	<ip address='192.168.150.1' netmask='255.255.255.0'/></network>
	XML
	virsh -c "$LAB_URI1" net-define "$LAB_DIR/net.xml" >/dev/null
	virsh -c "$LAB_URI1" net-start sgnet >/dev/null
	# the client: a network namespace of its own inside the host's, its
	# veth plugged into the guests' bridge
	local ns
	ns=$(cat "$LAB_DIR/h1/nspid")
	setsid nsenter -t "$ns" -n unshare -n sleep 3600 </dev/null >/dev/null 2>&1 &
	echo $! > "$LAB_DIR/client.pid"
	# each of setsid, nsenter and unshare execs the next: the process is
	# sleep once its namespace is made
	wait_for 30 grep -qx sleep "/proc/$(cat "$LAB_DIR/client.pid")/comm"
	nsenter -t "$ns" -n ip link add sgc0 type veth peer name sgc1 netns "$(cat "$LAB_DIR/client.pid")"
	nsenter -t "$ns" -n ip link set sgc0 master sgbr0 up
	nsenter -t "$(cat "$LAB_DIR/client.pid")" -n sh -c "ip link set lo up &&
	    ip addr add $CLIENT_IP/24 dev sgc1 && ip link set sgc1 up"
	# what the guest fetches, for outbound traffic
	mkdir -p "$LAB_DIR/www"
	echo hello-from-the-client > "$LAB_DIR/www/index.html"
	setsid nsenter -t "$(cat "$LAB_DIR/client.pid")" -n python3 -m http.server 8080 \
	    --bind "$CLIENT_IP" --directory "$LAB_DIR/www" </dev/null >/dev/null 2>&1 &
	echo $! > "$LAB_DIR/server.pid"
}

teardown_file() {
	local p
	for p in server client; do
		[ -z "${LAB_DIR:-}" ] || [ ! -f "$LAB_DIR/$p.pid" ] ||
			kill "$(cat "$LAB_DIR/$p.pid")" 2>/dev/null || true
	done
	lab_stop
}

setup() {
	[ -z "${NO_GUEST:-}" ] || skip "$NO_GUEST"
	fresh_catalog
}

teardown() {
	[ -z "${NO_GUEST:-}" ] || return 0
	virsh -c "$LAB_URI1" destroy sgguest >/dev/null 2>&1 || true
	virsh -c "$LAB_URI1" undefine sgguest >/dev/null 2>&1 || true
}

sql() {
	sqlite3 "$CLOUDOS_CATALOG" "$@"
}

# ipkey IP: a lease's key, as lib/ipaddr makes it (32 hex digits that sort
# as the addresses do; IPv4 in the last four bytes)
ipkey() {
	python3 -c 'import ipaddress, sys; print("%032x" % int(ipaddress.ip_address(sys.argv[1])))' "$1"
}

# get PORT [SOURCE-IP]: fetch the guest's page from the client; prints it
get() {
	nsenter -t "$(cat "$LAB_DIR/client.pid")" -n curl -s -m 3 \
	    ${2:+--interface "$2"} "http://$GUEST_IP:$1/"
}

# boot the guest with a NIC in the given groups, its interface naming the
# filter secgroup_nic_filter gives; wait until it serves
boot_guest() {
	local uuid=7f3c9a52-0d4e-4a8b-9c61-5e2f0b1d7a01 nic filter g
	chost add -q h1 "$LAB_URI1"
	sql "INSERT INTO vms (uuid, name, state, host_id, cpu, memory, spec, owner, group_id, created, updated) VALUES ('$uuid', 'sgguest', 'running', 1, 1, 96, '{}', 0, 0, 'now', 'now')"
	sql "INSERT INTO networks (id, name, mode, cidr, owner, group_id, created, updated) VALUES (1, 'sgnet', 'isolated', '192.168.150.0/24', 0, 0, 'now', 'now')"
	nic=$(sql "INSERT INTO vm_nics (vm_id, idx, network_id, mac, model, created) VALUES (1, 0, 1, '52:54:00:5e:01:00', 'virtio', 'now') RETURNING id")
	sql "INSERT INTO leases (network_id, family, ip, key, nic_id, created) VALUES (1, 4, '$GUEST_IP', '$(ipkey $GUEST_IP)', $nic, 'now')"
	for g in "$@"; do
		sql "INSERT INTO nic_secgroups (nic_id, secgroup_id) VALUES ($nic, $g)"
	done
	filter=$("$SGTOOL" "$LAB_URI1" filter "$nic")
	[ "$filter" = "cloudos-nic-$nic" ]
	cat > "$BATS_TEST_TMPDIR/guest.xml" <<-XML
	<domain type='qemu'><name>sgguest</name><uuid>$uuid</uuid>
	<memory unit='MiB'>96</memory><vcpu>1</vcpu>
	<os><type arch='x86_64'>hvm</type><kernel>$GUEST_DIR/vmlinuz</kernel>
	<initrd>$GUEST_DIR/initrd</initrd>
	<cmdline>console=ttyS0 quiet sgip=$GUEST_IP/24 sgpeer=$CLIENT_IP:8080</cmdline></os>
	<devices><interface type='network'><source network='sgnet'/>
	<mac address='52:54:00:5e:01:00'/><model type='virtio'/>
	<filterref filter='$filter'/></interface>
	<serial type='file'><source path='$LAB_DIR/guest.log'/></serial>
	</devices></domain>
	XML
	rm -f "$LAB_DIR/guest.log"
	virsh -c "$LAB_URI1" define "$BATS_TEST_TMPDIR/guest.xml" >/dev/null
	virsh -c "$LAB_URI1" start sgguest >/dev/null
	wait_for 60 grep -qs GUEST-READY "$LAB_DIR/guest.log" && return 0
	echo "the guest did not come up; its console:" >&2
	tail -n 20 "$LAB_DIR/guest.log" >&2
	return 1
}

# out WORD: wait until the guest's last two fetches of the client's page,
# both begun after now, say OUT-WORD
out() {
	local n
	n=$(grep -c '^OUT-' "$LAB_DIR/guest.log" || true)
	last_two() {
		[ "$(grep '^OUT-' "$LAB_DIR/guest.log" | tail -n +$((n + 2)) | tail -n 2 | tr -d '\r' | sort -u)" = "OUT-$1" ]
	}
	wait_for 30 last_two "$1" && return 0
	echo "the guest's fetches did not come to OUT-$1:" >&2
	grep '^OUT-' "$LAB_DIR/guest.log" | tail -n 5 >&2
	return 1
}

@test "traffic: a security group lets in only its ports, and a rule change reaches the running guest" {
	cnet secgroup create -q web
	cnet secgroup rule add -q web --in --proto tcp --port 80
	boot_guest 1
	domid=$(virsh -c "$LAB_URI1" domid sgguest)
	run -0 get 80
	[ "$output" = hello-from-the-guest ]
	# port 81 is served too, but no rule lets it in
	run -28 get 81
	[ -z "$output" ]
	run -0 cnet secgroup rule add web --in --proto tcp --port 81 -o json
	run -0 get 81
	[ "$output" = hello-from-the-guest ]
	run -0 cnet secgroup rule remove web --in --proto tcp --port 80 -o json
	run -28 get 80
	# the same guest throughout
	[ "$(virsh -c "$LAB_URI1" domid sgguest)" = "$domid" ]
}

@test "traffic: a --cidr peer lets in its addresses only; a NIC in no group is open" {
	cnet secgroup create -q web
	cnet secgroup rule add -q web --in --proto tcp --port 80 --cidr "$CLIENT_IP/32"
	boot_guest 1
	nsenter -t "$(cat "$LAB_DIR/client.pid")" -n ip addr add 192.168.150.51/24 dev sgc1
	run -0 get 80 "$CLIENT_IP"
	[ "$output" = hello-from-the-guest ]
	run -28 get 80 192.168.150.51
	# leaving its group, the guest's filter lets everything through
	sql "DELETE FROM nic_secgroups"
	run -0 "$SGTOOL" "$LAB_URI1" filter 1
	[ -z "$output" ]
	run -0 get 80 192.168.150.51
	run -0 get 81 192.168.150.51
	[ "$output" = hello-from-the-guest ]
	nsenter -t "$(cat "$LAB_DIR/client.pid")" -n ip addr del 192.168.150.51/24 dev sgc1
}

@test "traffic: outbound is open until a group has an out rule, then only what out rules allow" {
	cnet secgroup create -q web
	cnet secgroup rule add -q web --in --proto tcp --port 80
	cnet secgroup create -q egress
	boot_guest 1 2
	out OK
	run -0 cnet secgroup rule add egress --out --proto tcp --port 443 -o json
	out FAIL
	# inbound is unchanged
	run -0 get 80
	run -0 cnet secgroup rule add egress --out --proto tcp --port 8080 --cidr "$CLIENT_IP/32" -o json
	out OK
	run -0 cnet secgroup rule remove egress --out --proto tcp --port 8080 --cidr "$CLIENT_IP/32" -o json
	out FAIL
}

@test "traffic: a --group peer lets in the addresses of that group's NICs, and follows them" {
	cnet secgroup create -q web
	cnet secgroup create -q clients
	cnet secgroup rule add -q web --in --proto tcp --port 80 --group clients
	boot_guest 1
	# the client stands for a VM of group clients: a NIC leased its address
	sql "INSERT INTO vms (uuid, name, state, cpu, memory, spec, owner, group_id, created, updated) VALUES ('7f3c9a52-0d4e-4a8b-9c61-5e2f0b1d7a02', 'client', 'running', 1, 64, '{}', 0, 0, 'now', 'now')"
	cnic=$(sql "INSERT INTO vm_nics (vm_id, idx, network_id, mac, model, created) VALUES (2, 0, 1, '52:54:00:5e:02:00', 'virtio', 'now') RETURNING id")
	sql "INSERT INTO leases (network_id, family, ip, key, nic_id, created) VALUES (1, 4, '$CLIENT_IP', '$(ipkey $CLIENT_IP)', $cnic, 'now')"
	run -28 get 80
	sql "INSERT INTO nic_secgroups (nic_id, secgroup_id) VALUES ($cnic, 2)"
	run -0 cnet secgroup refresh clients
	run -0 get 80
	[ "$output" = hello-from-the-guest ]
	nsenter -t "$(cat "$LAB_DIR/client.pid")" -n ip addr add 192.168.150.51/24 dev sgc1
	run -28 get 80 192.168.150.51
	nsenter -t "$(cat "$LAB_DIR/client.pid")" -n ip addr del 192.168.150.51/24 dev sgc1
	# the client's NIC leaves the group: its address is let in no more
	sql "DELETE FROM nic_secgroups WHERE nic_id = $cnic"
	run -0 cnet secgroup refresh clients
	run -28 get 80
}
