#!/usr/bin/env bats
# cnet across two lab hosts, each in its own network namespace (joined by
# a veth link for live migration): a VM that moves or starts on another
# host finds its network defined there first, and the host it left loses
# the network with its last NIC.

load helpers/common

setup_file() {
	local n1 n2
	lab_start 2 --netns
	# a link of the lab's own between the two namespaces, for live
	# migration (LAB.md); it goes with them
	n1=$(cat "$LAB_DIR/h1/nspid")
	n2=$(cat "$LAB_DIR/h2/nspid")
	ip link add "cm$$a" type veth peer name "cm$$b"
	ip link set "cm$$a" netns "$n1"
	ip link set "cm$$b" netns "$n2"
	nsenter -t "$n1" -n ip addr add 169.254.77.1/30 dev "cm$$a"
	nsenter -t "$n1" -n ip link set "cm$$a" up
	nsenter -t "$n2" -n ip addr add 169.254.77.2/30 dev "cm$$b"
	nsenter -t "$n2" -n ip link set "cm$$b" up
}

teardown_file() {
	lab_stop
}

setup() {
	fresh_catalog
	chost add h1 "$LAB_URI1" --migration-address 169.254.77.1 -q
	chost add h2 "$LAB_URI2" --migration-address 169.254.77.2 -q
}

teardown() {
	delete_vms
}

# nets I: the cloudos networks defined on lab host I
nets() {
	local u="LAB_URI$1"
	virsh -c "${!u}" net-list --all --name | grep cloudos- || true
}

@test "a stopped VM started on another host gets its network there; the old host loses it" {
	cnet create front --mode isolated --cidr 10.110.0.0/24 -q
	chost disable h2 -q
	printf '{"name": "mover", "cpu": 1, "memory": 64, "nics": [{"network": "front"}]}\n' |
	    cvm create -q -
	chost enable h2 -q
	run -0 nets 1
	[ "$output" = cloudos-net-1 ]
	run -0 nets 2
	[ "$output" = "" ]
	mac=$(cvm show mover -o json | jq -r '.nics[0].mac')
	cvm stop mover -q
	chost disable h1 -q
	run -0 cvm start mover -o json
	[ "$(jq -r '.state + " " + .host' <<<"$output")" = "running h2" ]
	[ "$(jq -c .ips <<<"$output")" = '["10.110.0.2"]' ]
	run -0 nets 2
	[ "$output" = cloudos-net-1 ]
	run -0 virsh -c "$LAB_URI2" domiflist "cloudos-$(cvm show mover -o json | jq -r .uuid)"
	assert_output --regexp "cloudos-net-1 +virtio +$mac"
	run -0 nets 1
	[ "$output" = "" ]
	run -0 cnet show front -o json
	[ "$(jq -c .hosts <<<"$output")" = '["h2"]' ]
	chost enable h1 -q
}

@test "reconcile removes a network no VM on the host uses any more" {
	cnet create front --mode isolated --cidr 10.111.0.0/24 -q
	printf '{"name": "a", "cpu": 1, "memory": 64, "nics": [{"network": "front"}]}\n' | cvm create -q -
	host=$(cvm show a -o json | jq -r .host)
	mine=${host#h}
	other=$((3 - mine))
	# as a command killed after deleting its VM would leave it
	sqlite3 "$CLOUDOS_CATALOG" "INSERT INTO network_hosts (network_id, host_id, libvirt_name, created) SELECT 1, id, 'cloudos-net-1', 'x' FROM hosts WHERE name = 'h$other'"
	uri="LAB_URI$other"
	xml='<network><name>cloudos-net-1</name><bridge name="cbr1"/><ip address="10.111.0.1" prefix="24"/></network>'
	virsh -c "${!uri}" net-define <(echo "$xml") >/dev/null
	run -0 nets "$other"
	[ "$output" = cloudos-net-1 ]
	run -0 cvm reconcile -q
	run -0 nets "$other"
	[ "$output" = "" ]
	run -0 nets "$mine"
	[ "$output" = cloudos-net-1 ]
	run -0 cnet show front -o json
	[ "$(jq -c .hosts <<<"$output")" = "[\"$host\"]" ]
}

@test "cvm migrate of a VM that is off defines its network on the destination first" {
	cnet create front --mode isolated --cidr 10.112.0.0/24 -q
	chost disable h2 -q
	printf '{"name": "m", "cpu": 1, "memory": 64, "nics": [{"network": "front"}]}\n' | cvm create -q -
	chost enable h2 -q
	mac=$(cvm show m -o json | jq -r '.nics[0].mac')
	cvm poweroff m -q
	run -0 cvm migrate m --to h2 -o json
	[ "$(jq -r '.state + " " + .host' <<<"$output")" = "poweroff h2" ]
	run -0 nets 2
	[ "$output" = cloudos-net-1 ]
	run -0 nets 1
	[ "$output" = "" ]
	cvm start m -q
	run -0 virsh -c "$LAB_URI2" domiflist "cloudos-$(cvm show m -o json | jq -r .uuid)"
	assert_output --regexp "cloudos-net-1 +virtio +$mac"
}

@test "cvm migrate --live of a running guest defines its network on the destination first" {
	cnet create front --mode nat --cidr 10.113.0.0/24 -q
	chost disable h2 -q
	printf '{"name": "l", "cpu": 1, "memory": 64, "nics": [{"network": "front"}], "context": {"hostname": "l"}}\n' |
	    cvm create -q -
	chost enable h2 -q
	mac=$(cvm show l -o json | jq -r '.nics[0].mac')
	run -0 cvm migrate l --to h2 --live -o json
	[ "$(jq -r '.state + " " + .host' <<<"$output")" = "running h2" ]
	run -0 nets 2
	[ "$output" = cloudos-net-1 ]
	run -0 nets 1
	[ "$output" = "" ]
	run -0 virsh -c "$LAB_URI2" domiflist "cloudos-$(cvm show l -o json | jq -r .uuid)"
	assert_output --regexp "cloudos-net-1 +virtio +$mac"
}

@test "a network that cannot start on its host reports libvirt's reason, not an unknown error" {
	local ns
	ns=$(cat "$LAB_DIR/h1/nspid")
	# an interface of h1 already routes the network's CIDR: libvirt
	# refuses to start a network over it
	nsenter -t "$ns" -n ip link add cx$$ type veth peer name cy$$
	nsenter -t "$ns" -n ip addr add 10.114.0.9/24 dev cx$$
	nsenter -t "$ns" -n ip link set cx$$ up
	nsenter -t "$ns" -n ip link set cy$$ up
	cnet create front --mode isolated --cidr 10.114.0.0/24 -q
	chost disable h2 -q
	run -1 --separate-stderr cvm create - \
	    <<<'{"name": "x", "cpu": 1, "memory": 64, "nics": [{"network": "front"}]}'
	nsenter -t "$ns" -n ip link del cx$$
	chost enable h2 -q
	[ "$stderr" = "cvm: cannot deploy vm 'x' on host 'h1': cannot realise network 'front': cannot start network 'cloudos-net-1' on '$LAB_URI1': internal error: Network is already in use by interface cx$$ (vm left in state failed)" ]
	assert_output ""
}
