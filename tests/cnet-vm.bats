#!/usr/bin/env bats
# cnet and VMs on a real lab host in its own network namespace: the
# libvirt network is defined on the host when a NIC needs it and goes with
# its last NIC, guests sit on it with their leased MACs, the seed's
# network-config gives their addresses, and NICs attach and detach live.

load helpers/common

lab_suite 1 --netns

setup() {
	fresh_catalog
	lab_hosts_add -q
}

teardown() {
	delete_vms
	cnet list -o ids 2>/dev/null | xargs -r cnet delete -q 2>/dev/null || true
	cnet secgroup list -o ids 2>/dev/null | xargs -r cnet secgroup delete -q 2>/dev/null || true
	cvm reconcile -q >/dev/null 2>&1 || true
}

# iptables-save ARGS... inside the lab host's network namespace
ipt_save() {
	nsenter -t "$(cat "$(lab_host_dir 1)/nspid")" -n iptables-save "$@"
}

sgid() {
	cnet secgroup show "$1" -o json | jq -r .id
}

nicid() {	# VM IDX: the NIC's catalog id
	sqlite3 "$CLOUDOS_CATALOG" "SELECT n.id FROM vm_nics n JOIN vms v ON v.id = n.vm_id WHERE v.name = '$1' AND v.state != 'done' AND n.idx = $2"
}

# vm NAME NICS-JSON [STATE-FLAGS...]: create a tiny VM with those nics
vm() {
	local name=$1 nics=$2
	shift 2
	printf '{"name": "%s", "cpu": 1, "memory": 64, "nics": %s}\n' "$name" "$nics" |
	    cvm create "$@" -q -
}

uuid() {
	cvm show "$1" -o json | jq -r .uuid
}

# netconf VM: the network-config of VM's seed, as JSON (PyYAML reads it)
netconf() {
	local dir="$BATS_TEST_TMPDIR/seed-$1"
	rm -rf "$dir"
	mkdir -p "$dir"
	xorriso -osirrox on -indev "$(lab_host_dir 1)/lib/images/cloudos/$(uuid "$1")-seed.iso" \
	    -extract / "$dir" >/dev/null 2>&1
	python3 -c 'import json, sys, yaml
print(json.dumps(yaml.safe_load(open(sys.argv[1])), sort_keys=True))' "$dir/network-config"
}

# iflist VM: "NETWORK MAC" of each NIC the running domain has
iflist() {
	virsh -c "$LAB_URI1" domiflist "cloudos-$(uuid "$1")" |
	    awk 'NR > 2 && NF { print $3, $5 }'
}

@test "cvm create with a NIC defines the network on the host and puts the guest on it" {
	cnet create front --mode nat --cidr 10.90.0.0/24 -q
	vm web '[{"network": "front"}]'
	run -0 cvm show web -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -c .ips <<<"$output")" = '["10.90.0.2"]' ]
	mac=$(jq -r '.nics[0].mac' <<<"$output")
	run -0 virsh -c "$LAB_URI1" net-dumpxml cloudos-net-1
	assert_output --partial "<forward mode='nat'"
	assert_output --partial "<bridge name='cbr1'"
	assert_output --partial "<ip address='10.90.0.1' prefix='24'"
	run -0 virsh -c "$LAB_URI1" net-list --autostart --name
	assert_line cloudos-net-1
	run -0 iflist web
	[ "$output" = "cloudos-net-1 $mac" ]
	run -0 cnet show front -o json
	[ "$(jq -c '[.hosts, .leases]' <<<"$output")" = '[["h1"],1]' ]
}

@test "the seed's network-config gives each NIC its leased addresses, gateway and DNS" {
	cnet create front --mode routed --cidr 10.91.0.0/24 --cidr fd00:91::/64 --dns 10.91.0.1 -q
	cnet create back --mode isolated --cidr 10.92.0.0/24 -q
	vm db '[{"network": "front", "ip": "10.91.0.40"}, {"network": "back"}]'
	run -0 cvm show db -o json
	m0=$(jq -r '.nics[0].mac' <<<"$output")
	m1=$(jq -r '.nics[1].mac' <<<"$output")
	run -0 netconf db
	[ "$(jq -c '.version' <<<"$output")" = 2 ]
	[ "$(jq -c '.ethernets.nic0' <<<"$output")" = \
	    "{\"addresses\":[\"10.91.0.40/24\",\"fd00:91::2/64\"],\"match\":{\"macaddress\":\"$m0\"},\"nameservers\":{\"addresses\":[\"10.91.0.1\"]},\"routes\":[{\"to\":\"default\",\"via\":\"10.91.0.1\"},{\"to\":\"::/0\",\"via\":\"fd00:91::1\"}]}" ]
	[ "$(jq -c '.ethernets.nic1' <<<"$output")" = \
	    "{\"addresses\":[\"10.92.0.2/24\"],\"match\":{\"macaddress\":\"$m1\"},\"routes\":[{\"to\":\"default\",\"via\":\"10.92.0.1\"}]}" ]
	run -0 virsh -c "$LAB_URI1" net-dumpxml cloudos-net-1
	assert_output --partial "<forward mode='route'"
	assert_output --partial "<ip family='ipv6' address='fd00:91::1' prefix='64'"
}

@test "cvm nic attach and detach work live on a running guest; the seed follows" {
	cnet create front --mode isolated --cidr 10.93.0.0/24 -q
	cnet create back --mode isolated --cidr 10.94.0.0/24 -q
	vm app '[{"network": "front"}]'
	run -0 cvm nic attach app --network back --model usb-net --ip 10.94.0.9 -o json
	[ "$(jq -c '[.state, .ips]' <<<"$output")" = '["running",["10.93.0.2","10.94.0.9"]]' ]
	m1=$(jq -r '.nics[1].mac' <<<"$output")
	run -0 iflist app
	assert_line "cloudos-net-2 $m1"
	run -0 virsh -c "$LAB_URI1" net-list --name
	assert_line cloudos-net-2
	run -0 netconf app
	[ "$(jq -c '.ethernets.nic1.addresses' <<<"$output")" = '["10.94.0.9/24"]' ]
	[ "$(jq -r '.ethernets.nic1.match.macaddress' <<<"$output")" = "$m1" ]
	run -0 cvm nic detach app 1 -o json
	[ "$(jq -c '.ips' <<<"$output")" = '["10.93.0.2"]' ]
	run -0 iflist app
	refute_line --partial "$m1"
	run -0 virsh -c "$LAB_URI1" dumpxml --inactive "cloudos-$(uuid app)"
	refute_output --partial "$m1"
	run -0 netconf app
	[ "$(jq -c '.ethernets | keys' <<<"$output")" = '["nic0"]' ]
	# back has no NIC on the host any more: its libvirt network went
	run -0 virsh -c "$LAB_URI1" net-list --all --name
	refute_line cloudos-net-2
	assert_line cloudos-net-1
	run -0 cnet lease list back -o json
	[ "$output" = "" ]
}

@test "cvm nic detach of a PCI NIC the guest holds on to is refused with 5, changing nothing" {
	cnet create front --mode isolated --cidr 10.95.0.0/24 -q
	vm app '[{"network": "front"}]'
	mac=$(cvm show app -o json | jq -r '.nics[0].mac')
	before=$(catalog_digest)
	run -5 --separate-stderr cvm nic detach app "$mac"
	assert_output ""
	[[ "$stderr" == "cvm: cannot detach NIC 0 from vm 'app' on host 'h1': the guest of domain "*" has not released NIC $mac (a PCI NIC leaves a running guest only with the guest's help; try again, or power the VM off)" ]]
	[ "$(catalog_digest)" = "$before" ]
	run -0 virsh -c "$LAB_URI1" dumpxml --inactive "cloudos-$(uuid app)"
	assert_output --partial "$mac"
	# off, it goes at once; the seed names the NIC left by its number
	cvm poweroff app -q
	cvm nic attach app --network front -q
	run -0 cvm nic detach app 0 -o json
	[ "$(jq -c '[.ips, [.nics[].nic]]' <<<"$output")" = '[["10.95.0.3"],[1]]' ]
	run -0 virsh -c "$LAB_URI1" dumpxml --inactive "cloudos-$(uuid app)"
	refute_output --partial "$mac"
	run -0 netconf app
	[ "$(jq -c '[(.ethernets | keys), .ethernets.nic1.addresses]' <<<"$output")" = '[["nic1"],["10.95.0.3/24"]]' ]
}

@test "cvm nic attach to a VM that is off goes into its definition; bad input changes nothing" {
	cnet create front --mode isolated --cidr 10.96.0.0/24 -q
	vm app '[]'
	cvm poweroff app -q
	run -0 cvm nic attach app --network front -o json
	mac=$(jq -r '.nics[0].mac' <<<"$output")
	run -0 virsh -c "$LAB_URI1" dumpxml --inactive "cloudos-$(uuid app)"
	assert_output --partial "<mac address='$mac'/>"
	cvm start app -q
	run -0 iflist app
	[ "$output" = "cloudos-net-1 $mac" ]
	refused 3 "cvm: no network 'nope'" cvm nic attach app --network nope
	refused 5 "cvm: address 10.96.0.2 of network 'front' is taken (by vm 'app')" \
	    cvm nic attach app --network front --ip 10.96.0.2
	refused 2 "cvm: address 10.96.0.1 is in no address range of network 'front'" \
	    cvm nic attach app --network front --ip 10.96.0.1
	refused 2 "cvm: nic attach needs --network" cvm nic attach app
	refused 3 "cvm: vm 'app' has no NIC '7'" cvm nic detach app 7
}

@test "deleting the last VM on a network removes its libvirt network from the host" {
	cnet create front --mode nat --cidr 10.97.0.0/24 -q
	vm a '[{"network": "front"}]'
	vm b '[{"network": "front"}]'
	cvm delete a -q
	run -0 virsh -c "$LAB_URI1" net-list --all --name
	assert_line cloudos-net-1
	cvm delete b -q
	run -0 virsh -c "$LAB_URI1" net-list --all --name
	refute_output --partial cloudos-net-1
	run -0 cnet show front -o json
	[ "$(jq -c '[.hosts, .leases]' <<<"$output")" = '[[],0]' ]
	run -0 cnet delete front -q
}

@test "a queued VM holds its lease from create; csched realises its network when it deploys" {
	cnet create front --mode isolated --cidr 10.98.0.0/24 -q
	vm q '[{"network": "front"}]' --queue
	run -0 cvm show q -o json
	[ "$(jq -c '[.state, .ips]' <<<"$output")" = '["pending",["10.98.0.2"]]' ]
	run -0 virsh -c "$LAB_URI1" net-list --all --name
	refute_output --partial cloudos-net-1
	csched pass -q
	run -0 cvm show q -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	mac=$(jq -r '.nics[0].mac' <<<"$output")
	run -0 iflist q
	[ "$output" = "cloudos-net-1 $mac" ]
}

@test "a randomized create/delete run of guests never puts one MAC or address on two" {
	cnet create pool --mode isolated --cidr 10.99.0.0/29 -q
	RANDOM=7
	live=()
	for step in $(seq 1 10); do
		# the host has room for two guests
		if [ "${#live[@]}" -ge 2 ] || { [ "${#live[@]}" -gt 0 ] && [ $((RANDOM % 3)) -eq 0 ]; }; then
			k=$((RANDOM % ${#live[@]}))
			cvm delete "${live[$k]}" -q
			unset "live[$k]"
			live=("${live[@]}")
		else
			vm "g$step" '[{"network": "pool"}]'
			live+=("g$step")
		fi
		# libvirt and the catalog agree, and nothing is held twice
		want=$(cvm list -o json | jq -r '.nics[] | "cloudos-net-1 " + .mac' | sort)
		have=$(for v in "${live[@]}"; do iflist "$v"; done | sort)
		[ "$have" = "$want" ]
		[ "$have" = "$(sort -u <<<"$have")" ]
		ips=$(cvm list -o json | jq -r '.ips[]' | sort)
		[ "$ips" = "$(sort -u <<<"$ips")" ]
		[ "$(virsh -c "$LAB_URI1" list --name | grep -c cloudos-)" -eq "${#live[@]}" ]
	done
}

@test "a bridge-mode network puts the guest's tap on the host's own bridge" {
	ns=$(cat "$(lab_host_dir 1)/nspid")
	nsenter -t "$ns" -n ip link add lanbr0 type bridge
	nsenter -t "$ns" -n ip link set lanbr0 up
	cnet create lan --mode bridge --bridge lanbr0 --cidr 192.168.10.0/24 -q
	vm b '[{"network": "lan"}]'
	run -0 virsh -c "$LAB_URI1" net-dumpxml cloudos-net-1
	assert_output --partial "<forward mode='bridge'/>"
	assert_output --partial "<bridge name='lanbr0'/>"
	mac=$(cvm show b -o json | jq -r '.nics[0].mac')
	run -0 iflist b
	[ "$output" = "cloudos-net-1 $mac" ]
	run -0 nsenter -t "$ns" -n ip -o link show master lanbr0
	[ "${#lines[@]}" -eq 1 ]
	run -0 netconf b
	[ "$(jq -c '.ethernets.nic0.addresses' <<<"$output")" = '["192.168.10.1/24"]' ]
	[ "$(jq -c '.ethernets.nic0.routes' <<<"$output")" = null ]
	cvm delete b -q
	nsenter -t "$ns" -n ip link del lanbr0
}

@test "a deploy that fails on a missing bridge leaves no network on the host" {
	cnet create lan --mode bridge --bridge nobr0 --cidr 192.168.11.0/24 -q
	run -1 --separate-stderr cvm create - <<<'{"name": "b", "cpu": 1, "memory": 64, "nics": [{"network": "lan"}]}'
	[[ "$stderr" == *"Cannot get interface MTU on 'nobr0': No such device (vm left in state failed)" ]]
	run -0 virsh -c "$LAB_URI1" net-list --all --name
	refute_output --partial cloudos-net-1
	run -0 cnet show lan -o json
	[ "$(jq -c '[.hosts, .leases]' <<<"$output")" = '[[],1]' ]
}

@test "killed at any point of a create or a nic attach, reconcile and delete leave no lease and no network" {
	cnet create front --mode isolated --cidr 10.100.0.0/24 -q
	for point in vm.intent hv.network hv.define vm.outcome; do
		CLOUDOS_FAULT=$point run -137 cvm create - <<<'{"name": "k", "cpu": 1, "memory": 64, "nics": [{"network": "front"}]}'
		run -0 cvm reconcile -q
		run -0 cvm delete k -q
		run -0 virsh -c "$LAB_URI1" list --all --name
		refute_output --partial cloudos-
		run -0 virsh -c "$LAB_URI1" net-list --all --name
		refute_output --partial cloudos-net-1
		run -0 cnet lease list front -o ids
		[ "$output" = "" ] || { echo "after $point: $output"; false; }
	done
	vm app '[]'
	for point in vm.intent hv.network; do
		CLOUDOS_FAULT=$point run -137 cvm nic attach app --network front --model usb-net
		# the NIC was recorded first: detach finishes it either way
		run -0 cvm nic detach app 0 -q
		run -0 cnet lease list front -o ids
		[ "$output" = "" ]
		run -0 virsh -c "$LAB_URI1" net-list --all --name
		refute_output --partial cloudos-net-1
	done
}

@test "a NIC in a security group is deployed with its filter: the group's ports are iptables rules on its vnet" {
	cnet create front --mode nat --cidr 10.95.0.0/24 -q
	cnet secgroup create web -q
	cnet secgroup rule add web --in --proto tcp --port 8080 -q
	vm web1 '[{"network": "front", "security_groups": ["web"]}, {"network": "front"}]'
	nic=$(nicid web1 0)
	run -0 virsh -c "$LAB_URI1" dumpxml "cloudos-$(uuid web1)"
	assert_output --partial "<filterref filter='cloudos-nic-$nic'"
	# the NIC in no group is not filtered
	[ "$(grep -c '<filterref' <<<"$output")" = 1 ]
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml "cloudos-sg-$(sgid web)"
	assert_output --partial "dstportstart='8080'"
	run -0 ipt_save
	assert_output --regexp 'dport 8080.*ACCEPT'
	# a rule added later reaches the running guest
	cnet secgroup rule add web --in --proto tcp --port 9090 -q
	run -0 ipt_save
	assert_output --regexp 'dport 9090.*ACCEPT'
	[ "$(cvm show web1 -o json | jq -r .state)" = running ]
}

@test "a --group peer's filter follows members as VMs are created, NICs attached and detached, and VMs deleted" {
	cnet create front --mode isolated --cidr 10.96.0.0/24 -q
	cnet secgroup create web -q
	cnet secgroup create db -q
	cnet secgroup rule add db --in --proto tcp --port 5432 --group web -q
	vm db1 '[{"network": "front", "security_groups": ["db"]}]'
	vm web1 '[{"network": "front", "ip": "10.96.0.50", "security_groups": ["web"]}]'
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml "cloudos-sg-$(sgid db)"
	assert_output --partial "'10.96.0.50'"
	# a NIC attached live into web joins the peers, and leaves on detach
	cvm nic attach db1 --network front --ip 10.96.0.60 --model usb-net --security-group web -q
	nic=$(nicid db1 1)
	run -0 virsh -c "$LAB_URI1" dumpxml "cloudos-$(uuid db1)"
	assert_output --partial "<filterref filter='cloudos-nic-$nic'"
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml "cloudos-sg-$(sgid db)"
	assert_output --partial "'10.96.0.60'"
	cvm nic detach db1 1 -q
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml "cloudos-sg-$(sgid db)"
	refute_output --partial "'10.96.0.60'"
	run -0 virsh -c "$LAB_URI1" nwfilter-list
	refute_output --partial "cloudos-nic-$nic "
	# a deleted VM's address is let in no more
	wnic=$(nicid web1 0)
	cvm delete web1 -q
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml "cloudos-sg-$(sgid db)"
	refute_output --partial "'10.96.0.50'"
	# its own filter goes with the next reconcile
	run -0 --separate-stderr cvm reconcile
	[[ "$stderr" == *"removed network filter 'cloudos-nic-$wnic'"* ]]
	run -0 virsh -c "$LAB_URI1" nwfilter-list
	refute_output --partial "cloudos-nic-$wnic "
}

@test "a peer refresh a host missed is marked, and cvm reconcile finishes it" {
	cnet create front --mode isolated --cidr 10.97.0.0/24 -q
	cnet secgroup create web -q
	cnet secgroup create db -q
	cnet secgroup rule add db --in --proto tcp --port 5432 --group web -q
	vm db1 '[{"network": "front", "security_groups": ["db"]}]'
	# web1 held: it takes its lease now and is let in by db's filter
	vm web1 '[{"network": "front", "ip": "10.97.0.70", "security_groups": ["web"]}]' --hold
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml "cloudos-sg-$(sgid db)"
	assert_output --partial "'10.97.0.70'"
	# the delete's refresh cannot reach h1: the mark stays
	uri=$(sqlite3 "$CLOUDOS_CATALOG" "SELECT uri FROM hosts WHERE name = 'h1'")
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = 'qemu+unix:///system?socket=/nonexistent' WHERE name = 'h1'"
	cvm delete web1 -q
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM settings WHERE key LIKE 'secgroup.stale.%'")" = 1 ]
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = '$uri' WHERE name = 'h1'"
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml "cloudos-sg-$(sgid db)"
	assert_output --partial "'10.97.0.70'"
	run -0 cvm reconcile -q
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml "cloudos-sg-$(sgid db)"
	refute_output --partial "'10.97.0.70'"
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM settings WHERE key LIKE 'secgroup.stale.%'")" = 0 ]
}
