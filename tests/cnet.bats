#!/usr/bin/env bats
# cnet: networks, address ranges, leases, reservations, MACs and who may
# use what.  These need no host: VMs are created --hold, which takes their
# leases at once (tests/cnet-vm.bats runs guests on real lab hosts).

load helpers/common

setup() {
	fresh_catalog
	cacct user add alice --uid 6101 >/dev/null
	cacct user add bob --uid 6102 >/dev/null
	cacct user add carol --uid 6103 --group admin >/dev/null
}

# vmdoc NAME NICS-JSON: a VM document with those nics
vmdoc() {
	printf '{"name": "%s", "cpu": 1, "memory": 64, "nics": %s}\n' "$1" "$2"
}

@test "cnet create makes a network with a default range per CIDR" {
	run -0 cnet create front --mode nat --cidr 10.20.0.0/24 --cidr fd00:20::/64 --dns 10.20.0.1 -o json
	[ "$(jq -r '[.kind, .name, .mode, .bridge, .cidr, .gateway, .cidr6, .gateway6, .libvirt_name, .visibility, .owner] | join(" ")' <<<"$output")" = \
	    "Network front nat cbr1 10.20.0.0/24 10.20.0.1 fd00:20::/64 fd00:20::1 cloudos-net-1 private root" ]
	[ "$(jq -c '.ranges[0] | [.family, .first, .last, .gateway, .dns, .size, .used]' <<<"$output")" = \
	    '[4,"10.20.0.2","10.20.0.254","10.20.0.1",["10.20.0.1"],253,0]' ]
	[ "$(jq -c '.ranges[1] | [.family, .first, .last, .gateway]' <<<"$output")" = \
	    '[6,"fd00:20::2","fd00:20::ffff:ffff:ffff:fffe","fd00:20::1"]' ]
	run -0 cnet list -o ids
	[ "$output" = 1 ]
	run -0 cnet show front -o json
	[ "$(jq -r .leases <<<"$output")" = 0 ]
}

@test "cnet create: bridge mode joins a host bridge, with a VLAN tag" {
	run -0 cnet create lan --mode bridge --bridge br0 --vlan 42 --cidr 192.168.50.0/24 -o json
	[ "$(jq -c '[.mode, .bridge, .vlan, .gateway, .ranges[0].first, .ranges[0].last]' <<<"$output")" = \
	    '["bridge","br0",42,null,"192.168.50.1","192.168.50.254"]' ]
}

@test "cnet matches modes, visibilities and NIC models without regard to case, and stores the canonical name" {
	run -0 cnet create front --mode NAT --visibility Public --cidr 10.20.0.0/24 -o json
	[ "$(jq -r '.mode + " " + .visibility' <<<"$output")" = "nat public" ]
	printf 'kind: Network\nname: back\nmode: Isolated\nvisibility: GROUP\ncidr: 10.21.0.0/24\n' |
	    cnet apply -q -
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT mode, visibility FROM networks WHERE name = 'back'")" = "isolated|group" ]
	# applying it again, in another case, changes nothing
	before=$(catalog_digest)
	printf 'kind: Network\nname: back\nmode: ISOLATED\nvisibility: Group\ncidr: 10.21.0.0/24\n' |
	    cnet apply -q -
	[ "$(catalog_digest)" = "$before" ]
	cvm create --hold -q - < <(vmdoc a '[{"network": "front", "model": "E1000"}]') >/dev/null
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT model FROM vm_nics')" = e1000 ]
	refused 2 "cnet: <stdin>: line 1: unknown visibility 'groups' (expected one of: private, group, public)" \
	    cnet apply - <<<'{"kind": "Network", "name": "back", "visibility": "groups"}'
}

@test "cnet create refuses bad input with exit 2 and changes nothing" {
	refused 2 "cnet: invalid IPv4 CIDR '10.0.0.1/24' (an address with its host bits zero and a prefix of at most /30, such as 10.0.0.0/24)" \
	    cnet create n --mode nat --cidr 10.0.0.1/24
	refused 2 "cnet: invalid IPv4 CIDR '10.0.0.0/31' (an address with its host bits zero and a prefix of at most /30, such as 10.0.0.0/24)" \
	    cnet create n --mode nat --cidr 10.0.0.0/31
	refused 2 "cnet: invalid IPv4 CIDR '300.0.0.0/8' (an address with its host bits zero and a prefix of at most /30, such as 10.0.0.0/24)" \
	    cnet create n --mode nat --cidr 300.0.0.0/8
	refused 2 "cnet: invalid IPv6 CIDR 'fd00::1/64' (an address with its host bits zero and a prefix of at most /126, such as fd00::/64)" \
	    cnet create n --mode nat --cidr fd00::1/64
	refused 2 "cnet: --cidr: one IPv4 and one IPv6 block at most" \
	    cnet create n --mode nat --cidr 10.0.0.0/24 --cidr 10.1.0.0/24
	refused 2 "cnet: a CIDR is required (IPv4, IPv6 or both)" cnet create n --mode nat
	refused 2 "cnet: unknown mode 'flat' (expected one of: nat, routed, isolated, bridge)" \
	    cnet create n --mode flat --cidr 10.0.0.0/24
	refused 2 "cnet: mode bridge needs --bridge (the host's bridge)" \
	    cnet create n --mode bridge --cidr 10.0.0.0/24
	refused 2 "cnet: --bridge is for mode bridge (mode nat makes its own bridge)" \
	    cnet create n --mode nat --bridge br0 --cidr 10.0.0.0/24
	refused 2 "cnet: invalid bridge name 'br0;reboot' (letters, digits, '-', '_' and '.')" \
	    cnet create n --mode bridge --bridge 'br0;reboot' --cidr 10.0.0.0/24
	refused 2 "cnet: invalid bridge name 'averyveryverylongbr' (1 to 15 characters)" \
	    cnet create n --mode bridge --bridge averyveryverylongbr --cidr 10.0.0.0/24
	refused 2 "cnet: invalid vlan '5000' (1 to 4094)" \
	    cnet create n --mode bridge --bridge br0 --vlan 5000 --cidr 10.0.0.0/24
	refused 2 "cnet: a vlan is for mode bridge" \
	    cnet create n --mode nat --vlan 5 --cidr 10.0.0.0/24
	refused 2 "cnet: network name '123' is all digits (it would read as an id)" \
	    cnet create 123 --mode nat --cidr 10.0.0.0/24
	refused 2 "cnet: invalid DNS server address 'dns.example'" \
	    cnet create n --mode nat --cidr 10.0.0.0/24 --dns dns.example
}

@test "cnet create keeps a hostile name verbatim; libvirt names come from the id" {
	run -0 cnet create "it's <a&b> \"net\"" --mode isolated --cidr 10.30.0.0/24 -o json
	[ "$(jq -r .name <<<"$output")" = "it's <a&b> \"net\"" ]
	[ "$(jq -r '.libvirt_name + " " + .bridge' <<<"$output")" = "cloudos-net-1 cbr1" ]
	run -0 cnet show "it's <a&b> \"net\"" -o ids
	[ "$output" = 1 ]
}

@test "cnet create refuses a taken name and an overlapping CIDR with exit 5" {
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	refused 5 "cnet: network 'front' exists already" cnet create front --mode nat --cidr 10.21.0.0/24
	refused 5 "cnet: CIDR 10.20.0.128/25 overlaps network 'front' (10.20.0.0/24)" \
	    cnet create other --mode routed --cidr 10.20.0.128/25
	# a bridged network is the LAN's business: it may share a block
	run -0 cnet create lan --mode bridge --bridge br0 --cidr 10.20.0.0/24 -q
}

@test "cnet range add gives a network several ranges; overlaps and strays are refused" {
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	run -0 cnet range remove front 10.20.0.2 -o json
	[ "$(jq '.ranges | length' <<<"$output")" = 0 ]
	run -0 cnet range add front --first 10.20.0.10 --last 10.20.0.19 -o json
	run -0 cnet range add front --first 10.20.0.100 --last 10.20.0.109 --gateway 10.20.0.254 --dns 9.9.9.9 -o json
	[ "$(jq -c '[.ranges[] | [.first, .last, .gateway, .size]]' <<<"$output")" = \
	    '[["10.20.0.10","10.20.0.19","10.20.0.1",10],["10.20.0.100","10.20.0.109","10.20.0.254",10]]' ]
	refused 5 "cnet: range 10.20.0.15 - 10.20.0.30 overlaps range 10.20.0.10 - 10.20.0.19 of network 'front'" \
	    cnet range add front --first 10.20.0.15 --last 10.20.0.30
	refused 2 "cnet: range 10.21.0.1 - 10.21.0.5 is not inside the CIDR of network 'front' (10.20.0.0/24, less its first and last addresses)" \
	    cnet range add front --first 10.21.0.1 --last 10.21.0.5
	refused 2 "cnet: range 10.20.0.1 - 10.20.0.5 holds the gateway 10.20.0.1 of network 'front'" \
	    cnet range add front --first 10.20.0.1 --last 10.20.0.5
	refused 2 "cnet: invalid range 10.20.0.9 - 10.20.0.3 (the first address must not come after the last)" \
	    cnet range add front --first 10.20.0.9 --last 10.20.0.3
	refused 2 "cnet: network 'front' has no IPv6 CIDR for range fd00::2 - fd00::9" \
	    cnet range add front --first fd00::2 --last fd00::9
	refused 3 "cnet: network 'front' has no range '99'" cnet range remove front 99
}

@test "leases come from the ranges in order, lowest free first, and fill every range" {
	cnet create small --mode isolated --cidr 10.40.0.0/24 -q
	cnet range remove small 10.40.0.2 -q
	cnet range add small --first 10.40.0.10 --last 10.40.0.11 -q
	cnet range add small --first 10.40.0.20 --last 10.40.0.20 -q
	cnet reserve small 10.40.0.10 -q
	for i in 1 2; do
		vmdoc "v$i" '[{"network": "small"}]' | cvm create --hold -q -
	done
	run -0 cvm show v1 v2 -o json
	[ "$(jq -r '.ips[]' <<<"$output" | tr '\n' ' ')" = "10.40.0.11 10.40.0.20 " ]
	refused 6 "cvm: cannot create vm 'v3': nics[0]: network 'small' has no free IPv4 address" \
	    cvm create --hold - < <(vmdoc v3 '[{"network": "small"}]')
	cvm delete v1 -q
	vmdoc v4 '[{"network": "small"}]' | cvm create --hold -q -
	run -0 cvm show v4 -o json
	[ "$(jq -c .ips <<<"$output")" = '["10.40.0.11"]' ]
}

@test "an IPv6 network hands out addresses from its /64 without scanning it" {
	cnet create six --mode routed --cidr fd00:60::/64 -q
	vmdoc a '[{"network": "six"}]' | cvm create --hold -q -
	vmdoc b '[{"network": "six", "ip6": "fd00:60::ffff:ffff:ffff:fffe"}]' | cvm create --hold -q -
	vmdoc c '[{"network": "six"}]' | cvm create --hold -q -
	run -0 cvm show a b c -o json
	[ "$(jq -r '.ips[]' <<<"$output" | tr '\n' ' ')" = "fd00:60::2 fd00:60::ffff:ffff:ffff:fffe fd00:60::3 " ]
}

@test "a NIC may ask for an address; taken is 5, outside the ranges 2, a missing network 3" {
	cnet create front --mode nat --cidr 10.20.0.0/24 --cidr fd00:20::/64 -q
	vmdoc a '[{"network": "front", "ip": "10.20.0.50", "ip6": "fd00:20::50"}]' | cvm create --hold -q -
	run -0 cvm show a -o json
	[ "$(jq -c '[.ips, .nics[0].ip, .nics[0].ip6, .nics[0].network]' <<<"$output")" = \
	    '[["10.20.0.50","fd00:20::50"],"10.20.0.50","fd00:20::50","front"]' ]
	[[ "$(jq -r '.nics[0].mac' <<<"$output")" =~ ^02:c1:0d:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$ ]]
	refused 5 "cvm: cannot create vm 'b': nics[0]: address 10.20.0.50 of network 'front' is taken (by vm 'a')" \
	    cvm create --hold - < <(vmdoc b '[{"network": "front", "ip": "10.20.0.50"}]')
	refused 2 "cvm: cannot create vm 'b': nics[0]: address 10.20.0.1 is in no address range of network 'front'" \
	    cvm create --hold - < <(vmdoc b '[{"network": "front", "ip": "10.20.0.1"}]')
	refused 2 "cvm: <stdin>: line 1: nics[0].ip: expected an IPv4 address" \
	    cvm create --hold - < <(vmdoc b '[{"network": "front", "ip": "10.20.0.300"}]')
	refused 2 "cvm: <stdin>: line 1: nics[0]: unknown model 'ne2k' (expected one of: virtio, e1000, rtl8139, usb-net)" \
	    cvm create --hold - < <(vmdoc b '[{"network": "front", "model": "ne2k"}]')
	refused 2 "cvm: <stdin>: line 1: nics[0].netwrok: unknown field" \
	    cvm create --hold - < <(vmdoc b '[{"netwrok": "front"}]')
	refused 3 "cvm: cannot create vm 'b': nics[0]: no network 'back'" \
	    cvm create --hold - < <(vmdoc b '[{"network": "back"}]')
	refused 3 "cvm: cannot create vm 'b': nics[0]: no security group 'web'" \
	    cvm create --hold - < <(vmdoc b '[{"network": "front", "security_groups": ["web"]}]')
}

@test "a NIC's security groups are recorded when the VM's owner may use them" {
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	now=2026-01-01T00:00:00Z
	sqlite3 "$CLOUDOS_CATALOG" "INSERT INTO secgroups (name, owner, group_id, created, updated) VALUES ('web', 0, 0, '$now', '$now'), ('open', 0, 0, '$now', '$now')"
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE secgroups SET visibility = 'public' WHERE name = 'open'"
	vmdoc a '[{"network": "front", "security_groups": ["web", "open"]}]' | cvm create --hold -q -
	run -0 cvm show a -o json
	[ "$(jq -c '.nics[0].security_groups' <<<"$output")" = '["web","open"]' ]
	cnet set front --visibility public -q
	refused 3 "cvm: cannot create vm 'b': nics[0]: no security group 'web'" \
	    cvm --as alice create --hold - < <(vmdoc b '[{"network": "front", "security_groups": ["web"]}]')
	run -0 cvm --as alice create --hold - -o json < <(vmdoc b '[{"network": "front", "security_groups": ["open"]}]')
	[ "$(jq -c '.nics[0].security_groups' <<<"$output")" = '["open"]' ]
}

@test "deleting a VM releases its leases; its MACs and addresses may be used again" {
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	vmdoc a '[{"network": "front"}, {"network": "front"}]' | cvm create --hold -q -
	run -0 cnet lease list front -o json
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -r '.vm' <<<"$output" | sort -u)" = a ]
	cvm delete a -q
	run -0 cnet lease list front -o json
	[ "$output" = "" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM vm_nics')" = 0 ]
}

@test "cnet reserve and release keep an address from NICs; lease list shows both kinds" {
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	run -0 cnet reserve front 10.20.0.2 -o json
	[ "$(jq -c '[.kind, .ip, .network, .reserved]' <<<"$output")" = '["Lease","10.20.0.2","front",true]' ]
	vmdoc a '[{"network": "front"}]' | cvm create --hold -q -
	run -0 cnet lease list front -o json
	[ "$(jq -c '[.ip, .reserved, .vm]' <<<"$output" | tr '\n' ' ')" = '["10.20.0.2",true,null] ["10.20.0.3",false,"a"] ' ]
	refused 5 "cnet: address 10.20.0.3 of network 'front' is taken (by vm 'a')" cnet reserve front 10.20.0.3
	refused 5 "cnet: address 10.20.0.2 of network 'front' is taken (by a reservation)" cnet reserve front 10.20.0.2
	refused 5 "cnet: address 10.20.0.3 of network 'front' is leased to vm 'a', not reserved (detach or delete its NIC)" \
	    cnet release front 10.20.0.3
	refused 2 "cnet: address 10.30.0.3 is outside the CIDR of network 'front'" cnet reserve front 10.30.0.3
	refused 2 "cnet: address 10.20.0.1 of network 'front' is its gateway" cnet reserve front 10.20.0.1
	refused 2 "cnet: invalid address 'ten'" cnet reserve front ten
	refused 3 "cnet: address 10.20.0.9 of network 'front' is not reserved" cnet release front 10.20.0.9
	run -0 --separate-stderr cnet release front 10.20.0.2
	[ "$stderr" = "cnet: released 10.20.0.2 of network 'front'" ]
}

@test "cnet delete refuses with exit 5 while leases exist, reservations included" {
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	cnet reserve front 10.20.0.7 -q
	refused 5 "cnet: cannot delete network 'front': it has 1 lease (delete or detach their NICs, release reservations)" \
	    cnet delete front
	cnet release front 10.20.0.7 -q
	vmdoc a '[{"network": "front"}]' | cvm create --hold -q -
	refused 5 "cnet: cannot delete network 'front': it has 1 lease (delete or detach their NICs, release reservations)" \
	    cnet delete front
	cvm delete a -q
	run -0 --separate-stderr cnet delete front
	[ "$stderr" = "cnet: deleted network 'front'" ]
	refused 3 "cnet: no network 'front'" cnet show front
}

@test "ownership: private networks are their owner's; group and public ones are shared" {
	cnet --as alice create priv --mode isolated --cidr 10.50.0.0/24 -q
	refused 3 "cnet: no network 'priv'" cnet --as bob show priv
	refused 3 "cvm: cannot create vm 'b1': nics[0]: no network 'priv'" \
	    cvm --as bob create --hold - < <(vmdoc b1 '[{"network": "priv"}]')
	run -0 cnet --as bob list -o ids
	[ "$output" = "" ]
	# alice and bob are both in group users
	cnet --as alice set priv --visibility group -q
	run -0 cvm --as bob create --hold - -o json < <(vmdoc b1 '[{"network": "priv"}]')
	[ "$(jq -c .ips <<<"$output")" = '["10.50.0.2"]' ]
	refused 4 "cnet: cannot delete network 'priv': it is not yours" cnet --as bob delete priv
	refused 4 "cnet: cannot reserve an address of network 'priv': it is not yours" cnet --as bob reserve priv 10.50.0.9
	# carol is an admin: she may use and change anything
	run -0 cnet --as carol show priv -o ids
	cnet --as alice set priv --visibility private -q
	refused 3 "cnet: no network 'priv'" cnet --as bob show priv
	cnet --as alice set priv --visibility public -q
	run -0 cnet --as bob show priv -o json
	[ "$(jq -r '.visibility + " " + .owner' <<<"$output")" = "public alice" ]
	refused 2 "cnet: unknown visibility 'world' (expected one of: private, group, public)" cnet --as alice set priv --visibility world
	# in any case, stored by its canonical name
	cnet --as alice set priv --visibility GROUP -q
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT visibility FROM networks WHERE name = 'priv'")" = group ]
}

@test "a NIC gets what the VM's owner may use, even when an admin attaches it" {
	cnet --as bob create bobs --mode isolated --cidr 10.51.0.0/24 -q
	vmdoc a1 '[]' | cvm --as alice create --hold -q -
	refused 3 "cvm: no network 'bobs'" cvm nic attach a1 --network bobs
	cnet --as bob set bobs --visibility public -q
	run -0 cvm nic attach a1 --network bobs -o json
	[ "$(jq -c '[.state, .ips, .nics[0].network]' <<<"$output")" = '["hold",["10.51.0.2"],"bobs"]' ]
	run -0 cvm --as alice nic detach a1 0 -o json
	[ "$(jq -c .ips <<<"$output")" = '[]' ]
}

@test "cnet config sets the MAC prefix of new NICs (admins only)" {
	run -0 cnet config -o json
	[ "$(jq -r .mac_prefix <<<"$output")" = 02:c1:0d ]
	refused 2 "cnet: invalid MAC prefix '03:00': a multicast address (the first octet must be even)" \
	    cnet config --mac-prefix 03:00
	refused 2 "cnet: invalid MAC prefix '52:54:00:zz' (1 to 5 octets in lowercase hex, such as 02:c1:0d)" \
	    cnet config --mac-prefix 52:54:00:zz
	refused 4 "cnet: user 'alice' may not change the MAC prefix (admins only)" cnet --as alice config --mac-prefix 52:54:01
	run -0 cnet config --mac-prefix 52:54:01:aa -o json
	[ "$(jq -r .mac_prefix <<<"$output")" = 52:54:01:aa ]
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	vmdoc a '[{"network": "front"}]' | cvm create --hold -q -
	run -0 cvm show a -o json
	[[ "$(jq -r '.nics[0].mac' <<<"$output")" =~ ^52:54:01:aa:[0-9a-f]{2}:[0-9a-f]{2}$ ]]
}

@test "cnet apply creates and updates Network documents by name, idempotently, and passes others on" {
	cat > "$BATS_TEST_TMPDIR/env.yaml" <<'YAML'
kind: Network
name: front
mode: nat
cidr: 10.60.0.0/24
visibility: group
ranges:
  - first: 10.60.0.10
    last: 10.60.0.20
  - first: 10.60.0.100
    last: 10.60.0.110
    dns: [10.60.0.1]
---
kind: VM
name: web-1
cpu: 1
memory: 64MiB
nics:
  - network: front
YAML
	run -0 --separate-stderr cnet apply -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -c 'select(.kind == "Network") | [.visibility, [.ranges[] | .first + "-" + .last]]' <<<"$output")" = \
	    '["group",["10.60.0.10-10.60.0.20","10.60.0.100-10.60.0.110"]]' ]
	[ "$(jq -r 'select(.kind == "VM") | .name' <<<"$output")" = web-1 ]
	before=$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT * FROM networks; SELECT * FROM net_ranges')
	sleep 1	# a change would show in updated
	run -0 cnet apply -f "$BATS_TEST_TMPDIR/env.yaml" -q
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT * FROM networks; SELECT * FROM net_ranges')" = "$before" ]
	# show's own output applies too, unchanged
	cnet show front -o yaml > "$BATS_TEST_TMPDIR/shown.yaml"
	run -0 cnet apply -f "$BATS_TEST_TMPDIR/shown.yaml" -q
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT * FROM networks; SELECT * FROM net_ranges')" = "$before" ]
	printf 'kind: Network\nname: front\nmode: routed\ncidr: 10.60.0.0/24\n' > "$BATS_TEST_TMPDIR/bad.yaml"
	refused 5 "cnet: $BATS_TEST_TMPDIR/bad.yaml: line 1: network 'front' exists with another mode, CIDR, bridge or vlan (these cannot change)" \
	    cnet apply -f "$BATS_TEST_TMPDIR/bad.yaml"
}

@test "20 concurrent creates on a network with 5 free addresses: 5 leases, 15 exit 6" {
	cnet create tiny --mode isolated --cidr 10.70.0.0/29 -q
	pids=()
	for i in $(seq 1 20); do
		vmdoc "c$i" '[{"network": "tiny"}]' > "$BATS_TEST_TMPDIR/c$i.json"
	done
	for i in $(seq 1 20); do
		( rc=0; cvm create --hold -q "$BATS_TEST_TMPDIR/c$i.json" >/dev/null 2>"$BATS_TEST_TMPDIR/err$i" || rc=$?
		  echo $rc > "$BATS_TEST_TMPDIR/rc$i" ) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	ok=0 full=0
	for i in $(seq 1 20); do
		case $(cat "$BATS_TEST_TMPDIR/rc$i") in
		0) ok=$((ok + 1)) ;;
		6) full=$((full + 1))
		   grep -qx "cvm: cannot create vm 'c$i': nics\[0\]: network 'tiny' has no free IPv4 address" "$BATS_TEST_TMPDIR/err$i" ;;
		*) cat "$BATS_TEST_TMPDIR/err$i"; false ;;
		esac
	done
	[ "$ok" -eq 5 ]
	[ "$full" -eq 15 ]
	run -0 cnet lease list tiny -o json
	[ "$(jq -r .ip <<<"$output" | tr '\n' ' ')" = "10.70.0.2 10.70.0.3 10.70.0.4 10.70.0.5 10.70.0.6 " ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM vms WHERE state != 'done'")" = 5 ]
}

@test "a randomized create/delete run never hands out one address or MAC twice" {
	cnet create pool --mode isolated --cidr 10.80.0.0/28 --cidr fd00:80::/120 -q
	RANDOM=4242
	live=()
	for step in $(seq 1 60); do
		if [ "${#live[@]}" -gt 0 ] && [ $((RANDOM % 3)) -eq 0 ]; then
			k=$((RANDOM % ${#live[@]}))
			cvm delete "${live[$k]}" -q
			unset "live[$k]"
			live=("${live[@]}")
		else
			n=r$step
			run vmdoc "$n" '[{"network": "pool"}]'
			if cvm create --hold -q - <<<"$output" >/dev/null 2>"$BATS_TEST_TMPDIR/err"; then
				live+=("$n")
			else
				grep -q "has no free IPv4 address" "$BATS_TEST_TMPDIR/err"
			fi
		fi
		# every live address and MAC is held once, and only by live VMs
		run -0 cvm list -o json
		ips=$(jq -r '.ips[]' <<<"$output" | sort)
		[ "$ips" = "$(sort -u <<<"$ips")" ]
		macs=$(jq -r '.nics[].mac' <<<"$output" | sort)
		[ "$macs" = "$(sort -u <<<"$macs")" ]
		[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM leases WHERE nic_id NOT IN (SELECT n.id FROM vm_nics n JOIN vms v ON v.id = n.vm_id WHERE v.state != 'done')")" = 0 ]
		[ "$(wc -l <<<"$ips")" -eq $(( ${#live[@]} * 2 )) ] || [ "${#live[@]}" -eq 0 ]
	done
}

@test "cnet: missing networks are exit 3, wrong usage exit 2" {
	refused 3 "cnet: no network 'nope'" cnet show nope
	refused 3 "cnet: no network 'nope'" cnet delete nope
	refused 3 "cnet: no network 'nope'" cnet lease list nope
	refused 2 "cnet: usage: cnet reserve NET IP" cnet reserve nope
	refused 2 "cnet: a range needs --first and --last" cnet range add nope --first 10.0.0.1
}

@test "cvm create --count gives each VM its own NIC, MAC and lease; networks pipe into cnet" {
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	cnet create back --mode isolated --cidr 10.21.0.0/24 -q
	vmdoc w '[{"network": "front"}, {"network": "back"}]' | cvm create --hold --count 3 -q -
	run -0 cvm list -o json
	[ "$(jq -r '.name + " " + (.ips | join(","))' <<<"$output" | tr '\n' ' ')" = \
	    "w-1 10.20.0.2,10.21.0.2 w-2 10.20.0.3,10.21.0.3 w-3 10.20.0.4,10.21.0.4 " ]
	[ "$(jq -r '.nics[].mac' <<<"$output" | sort -u | wc -l)" -eq 6 ]
	cvm list -o ids | xargs cvm delete -q
	run -0 cnet list -o json
	run -0 cnet delete - <<<"$output"
	run -0 cnet list -o ids
	[ "$output" = "" ]
}

@test "a VM with NICs runs on libvirt's test driver, which takes no seed" {
	chost add t1 test:///default -q
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	run -0 cvm create - -o json < <(vmdoc t '[{"network": "front"}]')
	[ "$(jq -c '[.state, .host, .ips]' <<<"$output")" = '["running","t1",["10.20.0.2"]]' ]
	run -0 cvm delete t -q
	run -0 cnet lease list front -o ids
	[ "$output" = "" ]
}

@test "cnet apply of a good network and a bad security group creates nothing (exit 2)" {
	printf 'kind: Network\nname: n1\nmode: nat\ncidr: 10.60.0.0/24\n---\nkind: SecurityGroup\nname: web\nrules:\n  - {direction: in, proto: tcpx}\n' > "$BATS_TEST_TMPDIR/env.yaml"
	refused 2 "cnet: <stdin>: line 6: rules[0]: unknown proto 'tcpx' (expected one of: tcp, udp, icmp, all)" \
	    cnet apply - < "$BATS_TEST_TMPDIR/env.yaml"
	# and the other way round: a bad network after a good group
	printf 'kind: SecurityGroup\nname: web\n---\nkind: Network\nname: n1\nmode: nat\ncidr: 10.60.0.0/33\n' > "$BATS_TEST_TMPDIR/env.yaml"
	refused 2 "cnet: <stdin>: line 4: invalid IPv4 CIDR '10.60.0.0/33' (an address with its host bits zero and a prefix of at most /30, such as 10.0.0.0/24)" \
	    cnet apply - < "$BATS_TEST_TMPDIR/env.yaml"
}

@test "cnet create refuses prefixes wider than /8 and /48" {
	refused 2 "cnet: IPv4 CIDR '0.0.0.0/0' is too wide: a network's prefix is at least /8" \
	    cnet create n --mode nat --cidr 0.0.0.0/0
	refused 2 "cnet: IPv4 CIDR '10.0.0.0/7' is too wide: a network's prefix is at least /8" \
	    cnet create n --mode routed --cidr 10.0.0.0/7
	refused 2 "cnet: IPv6 CIDR '::/0' is too wide: a network's prefix is at least /48" \
	    cnet create n --mode nat --cidr ::/0
	refused 2 "cnet: IPv6 CIDR 'fd00::/47' is too wide: a network's prefix is at least /48" \
	    cnet create n --mode isolated --cidr fd00::/47
	refused 2 "cnet: <stdin>: line 1: IPv4 CIDR '0.0.0.0/0' is too wide: a network's prefix is at least /8" \
	    cnet apply - <<<$'kind: Network\nname: n\nmode: nat\ncidr: 0.0.0.0/0'
	run -0 cnet create n8 --mode isolated --cidr 10.0.0.0/8 --cidr fd00:8::/48 -o json
	[ "$(jq -r '.cidr + " " + .cidr6' <<<"$output")" = "10.0.0.0/8 fd00:8::/48" ]
}

@test "cnet create refuses loopback, link-local, multicast, broadcast and unspecified blocks" {
	local fam c why
	while read -r fam c why; do
		refused 2 "cnet: IPv$fam CIDR '$c' overlaps $why, a special-purpose block no network may hold" \
		    cnet create n --mode nat --cidr "$c"
	done <<-'LIST'
	4 0.0.0.0/24 0.0.0.0/8 ("this network")
	4 127.0.0.0/8 127.0.0.0/8 (loopback)
	4 127.1.0.0/16 127.0.0.0/8 (loopback)
	4 169.254.10.0/24 169.254.0.0/16 (link-local)
	4 169.0.0.0/8 169.254.0.0/16 (link-local)
	4 224.0.0.0/24 224.0.0.0/4 (multicast)
	4 239.255.0.0/16 224.0.0.0/4 (multicast)
	4 240.0.0.0/8 240.0.0.0/4 (reserved, with the broadcast address)
	4 255.255.255.252/30 240.0.0.0/4 (reserved, with the broadcast address)
	6 ::/64 ::/128 (the unspecified address)
	6 fe80::/64 fe80::/10 (link-local)
	6 ff02::/64 ff00::/8 (multicast)
	LIST
	refused 2 "cnet: <stdin>: line 1: IPv6 CIDR 'fe80::/64' overlaps fe80::/10 (link-local), a special-purpose block no network may hold" \
	    cnet apply - <<<$'kind: Network\nname: n\nmode: nat\ncidr6: fe80::/64'
}

@test "cnet range add refuses a range in a special-purpose block" {
	cnet create n --mode isolated --cidr 10.70.0.0/16 -q
	# a network made before the check: its CIDR holds loopback
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE networks SET cidr = '127.0.0.0/8' WHERE name = 'n'"
	refused 2 "cnet: range 127.0.0.5 - 127.0.0.9 overlaps 127.0.0.0/8 (loopback), a special-purpose block no network may hold" \
	    cnet range add n --first 127.0.0.5 --last 127.0.0.9
}

@test "cnet create of a bridge network is for admins only" {
	refused 4 "cnet: user 'alice' may not create bridge networks (admins only)" \
	    cnet --as alice create lan --mode bridge --bridge br0 --cidr 192.168.50.0/24
	refused 4 "cnet: <stdin>: line 1: user 'alice' may not create bridge networks (admins only)" \
	    cnet --as alice apply - <<<$'kind: Network\nname: lan\nmode: bridge\nbridge: br0\ncidr: 192.168.50.0/24'
	# other modes stay open to tenants; admins make bridge networks
	run -0 cnet --as alice create own --mode isolated --cidr 10.71.0.0/24 -o ids
	run -0 cnet --as carol create lan --mode bridge --bridge br0 --cidr 192.168.50.0/24 -o ids
	# as the Unix user itself, not only by --as: a catalog alice may write
	dir=$(mktemp -d /tmp/cnet.XXXXXX)
	chmod 0777 "$dir"
	export CLOUDOS_CATALOG="$dir/catalog.db"
	cacct user add alice --uid 6101 >/dev/null
	chmod 0666 "$dir"/catalog.db*
	before=$(catalog_digest)
	run --separate-stderr setpriv --reuid 6101 --regid 6101 --clear-groups -- \
	    cnet create lan --mode bridge --bridge br0 --cidr 192.168.50.0/24
	after=$(catalog_digest)
	rm -rf "$dir"
	[ "$status" -eq 4 ]
	[ "$after" = "$before" ]
	assert_output ""
	[ "$stderr" = "cnet: user 'alice' may not create bridge networks (admins only)" ]
}

@test "cnet: control characters echoed in errors are escaped, one line" {
	refused 3 'cnet: no network '"'"'a\x1bb'"'"'' cnet show "$(printf 'a\x1bb')"
	[ "${#stderr_lines[@]}" -eq 1 ]
	refused 3 'cnet: no network '"'"'a\nb\tc\rd\x7f\x01'"'"'' cnet show "$(printf 'a\nb\tc\rd\x7f\x01')"
	[ "${#stderr_lines[@]}" -eq 1 ]
	# C1 controls and bidi overrides as \u, bytes that are not UTF-8 as \x;
	# printable UTF-8 as it is
	refused 3 'cnet: no network '"'"'\u0085\u202eé\u200b\ufeff\xff\xc3'"'"'' \
	    cnet show "$(printf '\xc2\x85\xe2\x80\xae\xc3\xa9\xe2\x80\x8b\xef\xbb\xbf\xff\xc3')"
	# a usage error echoing an option's value too
	run -2 --separate-stderr cnet create n --mode "$(printf 'x\ny')" --cidr 10.0.0.0/24
	[ "$stderr" = 'cnet: unknown mode '"'"'x\ny'"'"' (expected one of: nat, routed, isolated, bridge)' ]
}

@test "cnet refuses names with control or format characters, and all-digit names however long" {
	refused 2 "cnet: network name holds a control or format character (U+202E)" \
	    cnet create "$(printf 'evil\xe2\x80\xaegpj.exe')" --mode nat --cidr 10.0.0.0/24
	refused 2 "cnet: network name holds a control or format character (U+0085)" \
	    cnet create "$(printf 'a\xc2\x85b')" --mode nat --cidr 10.0.0.0/24
	refused 2 "cnet: network name holds a control or format character (U+200B)" \
	    cnet create "$(printf 'a\xe2\x80\x8bb')" --mode nat --cidr 10.0.0.0/24
	refused 2 "cnet: network name '99999999999999999999' is all digits (it would read as an id)" \
	    cnet create 99999999999999999999 --mode nat --cidr 10.0.0.0/24
	refused 3 "cnet: no network '99999999999999999999'" cnet show 99999999999999999999
	refused 2 "cnet: security group name '123456789012345678901234567890' is all digits (it would read as an id)" \
	    cnet secgroup create 123456789012345678901234567890
}

@test "cnet secgroup matches visibilities, directions and protocols without regard to case, stored lowercase" {
	run -0 cnet secgroup create web --visibility PUBLIC -o json
	[ "$(jq -r .visibility <<<"$output")" = public ]
	cnet secgroup rule add -q web --in --proto TCP --port 80
	printf 'kind: SecurityGroup\nname: db\nvisibility: Group\nrules: [{direction: IN, proto: Udp, port: 53}]\n' |
	    cnet apply -q -
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT s.name, s.visibility, r.direction, r.proto FROM secgroups s JOIN secgroup_rules r ON r.secgroup_id = s.id ORDER BY s.id"
	[ "$output" = $'web|public|in|tcp\ndb|group|in|udp' ]
	refused 2 "cnet: unknown proto 'tcpp' (expected one of: tcp, udp, icmp, all)" \
	    cnet secgroup rule add web --in --proto tcpp
}
