#!/usr/bin/env bats
# cnet secgroup: security groups in the catalog, and their realisation as
# libvirt nwfilter rules on a real lab host in its own network namespace,
# where the filters become iptables chains on each guest's vnetN.  These
# tests drive the library calls VM deploys make directly (tests/unit/sg-tool)
# on NIC rows of their own, to reach every case; tests/cnet-vm.bats checks
# the same filters through cvm create, nic attach/detach and delete.

load helpers/common

SGTOOL="$CLOUDOS_BUILDDIR/tests/unit/sg-tool"

setup_file() {
	lab_start 1 --netns
	# an isolated libvirt network for the guests' NICs (cnet networks
	# arrive with their own issue)
	cat > "$LAB_DIR/net.xml" <<-XML
	<network><name>sgnet</name><bridge name='sgbr0'/>
	<ip address='192.168.150.1' netmask='255.255.255.0'/></network>
	XML
	virsh -c "$LAB_URI1" net-define "$LAB_DIR/net.xml" >/dev/null
	virsh -c "$LAB_URI1" net-start sgnet >/dev/null
}

teardown_file() {
	lab_stop
}

setup() {
	fresh_catalog
}

teardown() {
	local v f
	[ -f "$CLOUDOS_CATALOG" ] || return 0
	for v in $(cvm list -o ids 2>/dev/null); do
		cvm delete -q "$v" 2>/dev/null || true
	done
	for f in $(virsh -c "$LAB_URI1" nwfilter-list 2>/dev/null | awk '/cloudos-nic-/ { print $2 }'); do
		virsh -c "$LAB_URI1" nwfilter-undefine "$f" >/dev/null 2>&1 || true
	done
	for f in $(virsh -c "$LAB_URI1" nwfilter-list 2>/dev/null | awk '/cloudos-/ { print $2 }'); do
		virsh -c "$LAB_URI1" nwfilter-undefine "$f" >/dev/null 2>&1 || true
	done
}

# ipt [-6] ARGS...: iptables (ip6tables) inside the lab host's namespace
ipt() {
	local cmd=iptables
	if [ "$1" = -6 ]; then
		cmd=ip6tables
		shift
	fi
	nsenter -t "$(cat "$LAB_DIR/h1/nspid")" -n "$cmd" "$@"
}

# complete_line WORD...: COMPREPLY for that command line, one per line in
# $reply (as tests/completion.bats does)
complete_line() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_cloudos
	reply=$(printf '%s\n' "${COMPREPLY[@]}")
}

sql() {
	sqlite3 "$CLOUDOS_CATALOG" "$@"
}

# ipkey IP: a lease's key, as lib/ipaddr makes it (32 hex digits that sort
# as the addresses do; IPv4 in the last four bytes)
ipkey() {
	python3 -c 'import ipaddress, sys; print("%032x" % int(ipaddress.ip_address(sys.argv[1])))' "$1"
}

# a running VM on h1 named $1; prints its id
mkvm() {
	chost add -q h1 "$LAB_URI1" >/dev/null 2>&1 || true
	printf 'name: %s\ncpu: 1\nmemory: 64MiB\n' "$1" | cvm create -q -
	cvm show "$1" -o json | jq -r .id
}

# add_nic VMID IDX IP [GROUP-ID...]: a NIC row with a lease on network
# sgnet, in those groups; prints its id
add_nic() {
	local vm=$1 idx=$2 ip=$3 nic g fam=4
	shift 3
	sql "INSERT OR IGNORE INTO networks (id, name, mode, cidr, owner, group_id, created, updated) VALUES (1, 'sgnet', 'isolated', '192.168.150.0/24', 0, 0, 'now', 'now')"
	nic=$(sql "INSERT INTO vm_nics (vm_id, idx, network_id, mac, model, created) VALUES ($vm, $idx, 1, printf('52:54:00:5e:%02x:%02x', $vm, $idx), 'virtio', 'now') RETURNING id")
	[[ $ip == *:* ]] && fam=6
	sql "INSERT INTO leases (network_id, family, ip, key, nic_id, created) VALUES (1, $fam, '$ip', '$(ipkey $ip)', $nic, 'now')"
	for g in "$@"; do
		sql "INSERT INTO nic_secgroups (nic_id, secgroup_id) VALUES ($nic, $g)"
	done
	echo "$nic"
}

# plug VM NIC: define the NIC's filters on h1 and hot-plug its interface
# into the running VM; prints the guest's vnet device
plug() {
	local uuid mac filter ref=
	uuid=$(cvm show "$1" -o json | jq -r .uuid)
	mac=$(sql "SELECT mac FROM vm_nics WHERE id = $2")
	filter=$("$SGTOOL" "$LAB_URI1" filter "$2") || return 1
	[ -z "$filter" ] || ref="<filterref filter='$filter'/>"
	cat > "$BATS_TEST_TMPDIR/nic$2.xml" <<-XML
	<interface type='network'><source network='sgnet'/>
	<mac address='$mac'/><model type='virtio'/>$ref</interface>
	XML
	virsh -c "$LAB_URI1" attach-device "$uuid" "$BATS_TEST_TMPDIR/nic$2.xml" --live >/dev/null || return 1
	virsh -c "$LAB_URI1" domiflist "$uuid" | awk -v m="$mac" '$5 == m { print $1 }'
}

# ---- the catalog ------------------------------------------------------

@test "cnet secgroup create makes a private group of the caller's, with no rules" {
	run -0 cnet secgroup create web -d 'web servers' -o json
	[ "$(jq -r '[.kind, .id, .name, .description, .visibility, .owner, .nics] | @tsv' <<<"$output")" = "$(printf 'SecurityGroup\t1\tweb\tweb servers\tprivate\troot\t0')" ]
	[ "$(jq -c .rules <<<"$output")" = '[]' ]
	run -0 cnet secgroup create shared --visibility public -o json
	[ "$(jq -r .visibility <<<"$output")" = public ]
	run -0 cnet secgroup list -o ids
	[ "$output" = $'1\n2' ]
	run -0 cnet secgroup list -o table
	[ "${lines[0]}" = "ID  NAME    VISIBILITY  OWNER  NICS  DESCRIPTION" ]
	run -0 sql "SELECT action, kind, object_name FROM audit WHERE kind = 'SecurityGroup' ORDER BY id LIMIT 1"
	[ "$output" = "create|SecurityGroup|web" ]
}

@test "cnet secgroup create refuses a taken name (5), bad names and visibilities (2), changing nothing" {
	cnet secgroup create -q web
	before=$(catalog_digest)
	refused 5 "cnet: security group 'web' exists already" cnet secgroup create web
	refused 2 "cnet: security group name '42' is all digits (it would read as an id)" \
	    cnet secgroup create 42
	refused 2 "cnet: unknown visibility 'world' (expected one of: private, group, public)" \
	    cnet secgroup create db --visibility world
	refused 2 "cnet: usage: cnet secgroup create NAME [--description TEXT] [--visibility VIS]" \
	    cnet secgroup create
	run -2 --separate-stderr cnet secgroup create a b
	[ -z "$output" ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "cnet secgroup rule add records ports, ranges, protocols, canonical CIDRs and peer groups" {
	cnet secgroup create -q web
	cnet secgroup create -q db
	cnet secgroup rule add -q web --in --proto tcp --port 80
	cnet secgroup rule add -q web --in --proto tcp --port 8000-8080 --cidr 10.1.2.3/8
	cnet secgroup rule add -q web --in --proto udp --port 53 --cidr 2001:db8::1/32
	cnet secgroup rule add -q web --in --proto icmp --cidr 192.168.1.7
	cnet secgroup rule add -q web --out --proto all
	run -0 cnet secgroup rule add db --in -p tcp --port 5432 -g web -o json
	[ "$(jq -r '.rules[] | [.id, .direction, .proto, .port, .cidr, .group] | @tsv' <<<"$output")" = "$(printf '6\tin\ttcp\t5432\t\tweb')" ]
	run -0 cnet secgroup show web -o json
	[ "$(jq -r '.rules[] | [.direction, .proto, .port, .cidr] | @tsv' <<<"$output")" = "$(printf 'in\ttcp\t80\t\nin\ttcp\t8000-8080\t10.0.0.0/8\nin\tudp\t53\t2001:db8::/32\nin\ticmp\t\t192.168.1.7/32\nout\tall\t\t')" ]
	run -0 sql "SELECT detail FROM audit WHERE action = 'rule-add' ORDER BY id"
	[ "${lines[1]}" = "in tcp port 8000-8080 from 10.0.0.0/8" ]
	[ "${lines[5]}" = "in tcp port 5432 from group web" ]
}

@test "cnet secgroup rule add refuses bad input with exit 2 and changes nothing" {
	cnet secgroup create -q web
	before=$(catalog_digest)
	while IFS='|' read -r args msg; do
		refused 2 "cnet: $msg" cnet secgroup rule add web $args || { echo "$args"; false; }
	done <<-'CASES'
	--proto tcp|give one of --in and --out
	--in --out --proto tcp|give one of --in and --out
	--in|--proto is required (tcp, udp, icmp or all)
	--in --proto sctp|unknown proto 'sctp' (expected one of: tcp, udp, icmp, all)
	--in --proto icmp --port 8|port: only tcp and udp rules have ports, not icmp
	--in --proto all --port 1-2|port: only tcp and udp rules have ports, not all
	--in --proto tcp --port 0|port: expected P or P-Q with ports from 1 to 65535, found '0'
	--in --proto tcp --port 65536|port: expected P or P-Q with ports from 1 to 65535, found '65536'
	--in --proto tcp --port 80-|port: expected P or P-Q with ports from 1 to 65535, found '80-'
	--in --proto tcp --port -5|port: expected P or P-Q with ports from 1 to 65535, found '-5'
	--in --proto tcp --port http|port: expected P or P-Q with ports from 1 to 65535, found 'http'
	--in --proto tcp --port 90-80|port: range '90-80' ends before it starts
	--in --proto tcp --cidr 10.0.0.0/33|cidr: expected an IPv4 or IPv6 address with an optional /prefix length, found '10.0.0.0/33'
	--in --proto tcp --cidr 10.0.0/8|cidr: expected an IPv4 or IPv6 address with an optional /prefix length, found '10.0.0/8'
	--in --proto tcp --cidr fd00::/129|cidr: expected an IPv4 or IPv6 address with an optional /prefix length, found 'fd00::/129'
	--in --proto tcp --cidr 10.0.0.0/x|cidr: expected an IPv4 or IPv6 address with an optional /prefix length, found '10.0.0.0/x'
	--in --proto tcp --cidr 10.0.0.0/8 --group web|give --cidr or --group, not both
	CASES
	run -2 --separate-stderr cnet secgroup rule add --in --proto tcp
	[[ $stderr == "cnet: usage: cnet secgroup rule add GROUP "* ]]
	[ "$(catalog_digest)" = "$before" ]
}

@test "cnet secgroup rule add refuses a rule there already (5), a missing group or peer (3)" {
	cnet secgroup create -q web
	cnet secgroup rule add -q web --in --proto tcp --port 22
	refused 5 "cnet: security group 'web' has the rule 'in tcp port 22' already (rule 1)" \
	    cnet secgroup rule add web --in --proto tcp --port 22
	refused 3 "cnet: no security group 'nope'" cnet secgroup rule add nope --in --proto tcp
	refused 3 "cnet: no security group 'nope'" \
	    cnet secgroup rule add web --in --proto tcp --group nope
}

@test "cnet secgroup rule remove removes by id or by the rule's options; a missing rule is 3" {
	cnet secgroup create -q web
	cnet secgroup rule add -q web --in --proto tcp --port 22
	cnet secgroup rule add -q web --in --proto tcp --port 80 --cidr 10.0.0.0/8
	cnet secgroup rule add -q web --in --proto icmp
	run -0 cnet secgroup rule remove web 1 -o json
	[ "$(jq -r '[.rules[].id] | join(",")' <<<"$output")" = 2,3 ]
	run -0 cnet secgroup rule remove web --in --proto tcp --port 80 --cidr 10.1.0.0/8 -o json
	[ "$(jq -r '[.rules[].id] | join(",")' <<<"$output")" = 3 ]
	refused 3 "cnet: security group 'web' has no rule 1" cnet secgroup rule remove web 1
	refused 3 "cnet: security group 'web' has no rule 'out icmp'" \
	    cnet secgroup rule remove web --out --proto icmp
	refused 2 "cnet: rule: expected a rule id, found 'x'" cnet secgroup rule remove web x
	refused 2 "cnet: give a rule id or the rule's options, not both" \
	    cnet secgroup rule remove web 3 --in --proto icmp
}

@test "cnet secgroup delete refuses a group a NIC is in or another's rule names (5), then deletes it" {
	cnet secgroup create -q web
	cnet secgroup create -q db
	cnet secgroup rule add -q db --in --proto tcp --port 5432 --group web
	cnet secgroup rule add -q web --in --proto tcp --port 80 --group web
	vm=$(mkvm sgvm)
	nic=$(add_nic "$vm" 0 192.168.150.10 1)
	before=$(catalog_digest)
	run -5 --separate-stderr cnet secgroup delete web
	[ "$stderr" = "cnet: cannot delete security group 'web': 1 NIC is in it" ]
	sql "DELETE FROM nic_secgroups"
	refused 5 "cnet: cannot delete security group 'web': a rule of security group 'db' names it" \
	    cnet secgroup delete web
	# a group may name itself; deleting it takes its rules
	run -0 cnet secgroup delete db web
	run -0 cnet secgroup list -o ids
	[ -z "$output" ]
	[ "$(sql 'SELECT count(*) FROM secgroup_rules')" = 0 ]
	run -3 --separate-stderr cnet secgroup delete web
	[ "$stderr" = "cnet: no security group 'web'" ]
}

@test "cnet secgroup: tenants see their own, their group's and public groups, and change only their own" {
	cacct user add alice --uid 5001 >/dev/null
	cacct user add bob --uid 5002 >/dev/null
	sql "INSERT INTO groups (id, name, created) VALUES (7, 'ops', 'now')"
	cacct user add carol --uid 5003 --group ops >/dev/null
	cnet --as alice secgroup create -q mine
	cnet --as alice secgroup create -q team --visibility group
	cnet secgroup create -q adm
	run -0 cnet --as bob secgroup list -o json
	[ "$(jq -r .name <<<"$output")" = team ]
	run -0 jq -r .members <<<"$output"
	[ "$output" = null ]
	run -0 cnet --as carol secgroup list -o ids
	[ -z "$output" ]
	run -4 --separate-stderr cnet --as bob secgroup rule add team --in --proto tcp
	[ "$stderr" = "cnet: cannot change security group 'team': it is not yours" ]
	run -4 --separate-stderr cnet --as bob secgroup delete team
	[ "$stderr" = "cnet: cannot delete security group 'team': it is not yours" ]
	run -3 --separate-stderr cnet --as bob secgroup show mine
	[ "$stderr" = "cnet: no security group 'mine'" ]
	# a peer must be a group the caller may use
	cnet --as bob secgroup create -q bobs
	run -3 --separate-stderr cnet --as bob secgroup rule add bobs --in --proto tcp --group mine
	[ "$stderr" = "cnet: no security group 'mine'" ]
	run -0 cnet --as bob secgroup rule add bobs --in --proto tcp --group team -o json
	run -0 cnet --as alice secgroup publish mine -o json
	[ "$(jq -r .visibility <<<"$output")" = public ]
	run -0 cnet --as carol secgroup list -o ids
	[ "$output" = 1 ]
	run -0 cnet --as alice secgroup unpublish mine -o json
	[ "$(jq -r .visibility <<<"$output")" = private ]
	run -0 cnet --as carol secgroup list -o ids
	[ -z "$output" ]
	run -0 cnet secgroup list -o ids
	[ "$output" = $'1\n2\n3\n4' ]
}

@test "cnet secgroup show and delete take names, ids and documents on stdin" {
	cnet secgroup create -q a
	cnet secgroup create -q b
	run -0 cnet secgroup show 2 a -o ids
	[ "$output" = $'2\n1' ]
	cnet secgroup list -o json > "$BATS_TEST_TMPDIR/all.json"
	run -0 cnet secgroup delete - < "$BATS_TEST_TMPDIR/all.json"
	run -0 cnet secgroup list -o ids
	[ -z "$output" ]
}

@test "cnet apply creates and updates SecurityGroup documents by name, idempotently, passing others on" {
	cat > "$BATS_TEST_TMPDIR/env.yaml" <<-'YAML'
	kind: Image
	name: debian
	---
	kind: SecurityGroup
	name: web
	description: front
	rules:
	  - {direction: in, proto: tcp, port: 80}
	  - {direction: in, proto: tcp, port: "8000-8080", cidr: 10.0.0.0/8}
	---
	kind: SecurityGroup
	name: db
	visibility: group
	rules:
	  - {direction: in, proto: tcp, port: 5432, group: web}
	YAML
	run -0 --separate-stderr cnet apply -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ "${#lines[@]}" = 3 ]
	[ "$(jq -r .kind <<<"${lines[0]}")" = Image ]
	[ "$(jq -r '[.name, .description, (.rules | length)] | @tsv' <<<"${lines[1]}")" = "$(printf 'web\tfront\t2')" ]
	[ "$(jq -r '[.visibility, .rules[0].group] | @tsv' <<<"${lines[2]}")" = "$(printf 'group\tweb')" ]
	before=$(catalog_digest)
	run -0 cnet apply -q -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ "$(jq -r .kind <<<"$output")" = Image ]
	[ "$(catalog_digest)" = "$before" ]
	# the rules become those listed
	printf 'kind: SecurityGroup\nname: web\nrules:\n  - {direction: out, proto: udp, port: 53}\n  - {direction: in, proto: tcp, port: 80}\n' |
	    cnet apply - -o json > "$BATS_TEST_TMPDIR/out.json"
	[ "$(jq -r '[.rules[] | "\(.id):\(.direction)/\(.proto)/\(.port)"] | join(" ")' "$BATS_TEST_TMPDIR/out.json")" = "1:in/tcp/80 4:out/udp/53" ]
	[ "$(jq -r .description "$BATS_TEST_TMPDIR/out.json")" = front ]
	# a new group's rule may name the group itself
	printf 'kind: SecurityGroup\nname: cluster\nrules: [{direction: in, proto: all, group: cluster}]\n' |
	    cnet apply - -o json > "$BATS_TEST_TMPDIR/out.json"
	[ "$(jq -r '.rules[0].group' "$BATS_TEST_TMPDIR/out.json")" = cluster ]
}

@test "cnet apply refuses bad SecurityGroup documents with exit 2, changing nothing" {
	cnet secgroup create -q web
	before=$(catalog_digest)
	while IFS='|' read -r doc msg; do
		printf '%b' "$doc" > "$BATS_TEST_TMPDIR/bad.yaml"
		refused 2 "cnet: $BATS_TEST_TMPDIR/bad.yaml: line 1: $msg" \
		    cnet apply -f "$BATS_TEST_TMPDIR/bad.yaml" || { echo "$doc"; false; }
	done <<-'CASES'
	kind: SecurityGroup\ndescription: x\n|name: missing
	kind: SecurityGroup\nname: [a]\n|name: expected a string
	kind: SecurityGroup\nname: web\nvisibility: all\n|unknown visibility 'all' (expected one of: private, group, public)
	kind: SecurityGroup\nname: web\nrules: {a: 1}\n|rules: expected a list
	kind: SecurityGroup\nname: web\nrules: [{direction: up, proto: tcp}]\n|rules[0]: unknown direction 'up' (expected one of: in, out)
	kind: SecurityGroup\nname: new\nrules: [{direction: in, proto: tcp, port: 99999}]\n|rules[0]: port: expected P or P-Q with ports from 1 to 65535, found '99999'
	kind: SecurityGroup\nname: new\nrules: [{direction: in, proto: icmp, port: 1}]\n|rules[0]: port: only tcp and udp rules have ports, not icmp
	CASES
	printf 'kind: SecurityGroup\nname: web\nrules: [{direction: in, proto: tcp}, {direction: in, proto: tcp, group: nope}]\n' > "$BATS_TEST_TMPDIR/bad.yaml"
	refused 3 "cnet: $BATS_TEST_TMPDIR/bad.yaml: line 1: rules[1]: no security group 'nope'" \
	    cnet apply -f "$BATS_TEST_TMPDIR/bad.yaml"
	[ "$(catalog_digest)" = "$before" ]
}

@test "cnet completes security group names, protocols and visibilities" {
	source "$CLOUDOS_SRCDIR/completions/cloudos.bash"
	cnet secgroup create -q web
	cnet secgroup create -q db
	complete_line cnet secgroup rule ""
	[ "$reply" = $'create\nadd\ndelete\nremove' ]
	complete_line cnet secgroup rule add ""
	[ "$reply" = $'db\nweb' ]
	complete_line cnet secgroup rule add web --proto ""
	[ "$reply" = $'tcp\nudp\nicmp\nall' ]
	complete_line cnet secgroup rule add web --group w
	[ "$reply" = web ]
	complete_line cnet secgroup create x --visibility p
	[ "$reply" = $'private\npublic' ]
	complete_line cnet secgroup rule add web --p
	[ "$reply" = $'--proto\n--port' ]
	complete_line cnet secgroup ""
	[ "$reply" = $'create\nlist\nshow\ndelete\npublish\nunpublish\nrule\nrefresh' ]
}

# ---- filters on a host ------------------------------------------------

@test "a NIC's filters reach the guest's vnet as iptables rules with the groups' ports" {
	cnet secgroup create -q web
	cnet secgroup rule add -q web --in --proto tcp --port 80
	cnet secgroup rule add -q web --in --proto tcp --port 8000-8080 --cidr 10.0.0.0/8
	# a hostile name goes nowhere near the XML: filters are named by id
	cnet secgroup create -q "ssh'\"<&>"
	cnet secgroup rule add -q "ssh'\"<&>" --in --proto tcp --port 22 --cidr fd00:1::/64
	[ "$(cnet secgroup show 2 -o json | jq -r .name)" = "ssh'\"<&>" ]
	vm=$(mkvm sgvm)
	nic=$(add_nic "$vm" 0 192.168.150.10 1 2)
	run -0 "$SGTOOL" "$LAB_URI1" filter "$nic"
	[ "$output" = "cloudos-nic-$nic" ]
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml "cloudos-nic-$nic"
	assert_output --partial "<filterref filter='cloudos-sg-1'/>"
	assert_output --partial "<filterref filter='cloudos-sg-2'/>"
	run -0 virsh -c "$LAB_URI1" nwfilter-dumpxml cloudos-sg-1
	assert_output --partial "dstportstart='8000' dstportend='8080'"
	vnet=$(plug sgvm "$nic")
	[[ $vnet == vnet* ]]
	# traffic to the guest: FO-vnetN (libvirt's chain of what goes out of
	# the bridge port to the guest)
	run -0 ipt -S "FO-$vnet"
	assert_line "-A FO-$vnet -p tcp -m tcp --dport 80 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j ACCEPT"
	assert_line "-A FO-$vnet -s 10.0.0.0/8 -p tcp -m tcp --dport 8000:8080 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j ACCEPT"
	assert_line "-A FO-$vnet -p udp -m udp --sport 67 --dport 68 -j ACCEPT"
	assert_line "-A FO-$vnet -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
	[ "${lines[-1]}" = "-A FO-$vnet -j DROP" ]
	refute_output --partial "dport 22"
	run -0 ipt -6 -S "FO-$vnet"
	assert_line "-A FO-$vnet -s fd00:1::/64 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j ACCEPT"
	assert_line "-A FO-$vnet -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT"
	[ "${lines[-1]}" = "-A FO-$vnet -j DROP" ]
	# the port is the guest's: the bridge hooks send its traffic there
	run -0 ipt -S libvirt-out
	assert_line "-A libvirt-out -m physdev --physdev-out $vnet --physdev-is-bridged -g FO-$vnet"
	# outbound is open: no group has an out rule
	run -0 ipt -S "FI-$vnet"
	assert_line "-A FI-$vnet -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j RETURN"
	# the guest sends IPv4 only from its leased address (and DHCP's
	# 0.0.0.0): a peer's address cannot be borrowed
	run -0 nsenter -t "$(cat "$LAB_DIR/h1/nspid")" -n ebtables-save
	assert_line "-A libvirt-I-$vnet -p IPv4 --ip-src 192.168.150.10 -j ACCEPT"
	assert_line "-A libvirt-I-$vnet -p IPv4 --ip-src 0.0.0.0 --ip-proto udp --ip-sport 68 --ip-dport 67 -j ACCEPT"
	assert_line "-A libvirt-I-$vnet -p IPv4 -j DROP"
	refute_output --partial IPv6
	# idempotent
	run -0 "$SGTOOL" "$LAB_URI1" filter "$nic"
	[ "$output" = "cloudos-nic-$nic" ]
}

@test "cnet secgroup rule add and remove change a running guest's chains without restarting it" {
	cnet secgroup create -q web
	cnet secgroup rule add -q web --in --proto tcp --port 80
	vm=$(mkvm sgvm)
	nic=$(add_nic "$vm" 0 192.168.150.10 1)
	vnet=$(plug sgvm "$nic")
	uuid=$(cvm show sgvm -o json | jq -r .uuid)
	domid=$(virsh -c "$LAB_URI1" domid "$uuid")
	run -0 ipt -S "FO-$vnet"
	refute_output --partial "5000:5010"
	run -0 cnet secgroup rule add web --in --proto udp --port 5000-5010 -o json
	run -0 ipt -S "FO-$vnet"
	assert_line "-A FO-$vnet -p udp -m udp --dport 5000:5010 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j ACCEPT"
	run -0 cnet secgroup rule remove web --in --proto tcp --port 80 -o json
	run -0 ipt -S "FO-$vnet"
	refute_output --partial "dport 80 "
	assert_output --partial "5000:5010"
	# the same guest, never restarted, its interface still there
	[ "$(virsh -c "$LAB_URI1" domid "$uuid")" = "$domid" ]
	[ "$(virsh -c "$LAB_URI1" domstate "$uuid")" = running ]
	run -0 virsh -c "$LAB_URI1" domiflist "$uuid"
	assert_output --partial "$vnet"
}

@test "outbound is open until a NIC's groups have an out rule; then only the out rules pass" {
	cnet secgroup create -q web
	cnet secgroup create -q egress
	vm=$(mkvm sgvm)
	nic=$(add_nic "$vm" 0 192.168.150.10 1 2)
	vnet=$(plug sgvm "$nic")
	# traffic from the guest: FI-vnetN
	run -0 ipt -S "FI-$vnet"
	assert_line "-A FI-$vnet -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j RETURN"
	run -0 cnet secgroup rule add egress --out --proto tcp --port 443 --cidr 10.9.0.0/16 -o json
	run -0 ipt -S "FI-$vnet"
	assert_line "-A FI-$vnet -d 10.9.0.0/16 -p tcp -m tcp --dport 443 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j RETURN"
	refute_line "-A FI-$vnet -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j RETURN"
	# DHCP still leaves the guest
	assert_line "-A FI-$vnet -p udp -m udp --sport 68 --dport 67 -j RETURN"
	[ "${lines[-1]}" = "-A FI-$vnet -j DROP" ]
}

@test "a --group peer becomes the addresses leased to its members' NICs, following a member that joins" {
	cnet secgroup create -q web
	cnet secgroup create -q db
	cnet secgroup rule add -q db --in --proto tcp --port 5432 --group web
	vm=$(mkvm dbvm)
	dbnic=$(add_nic "$vm" 0 192.168.150.20 2)
	w1=$(mkvm w1)
	wnic=$(add_nic "$w1" 0 192.168.150.11 1)
	vnet=$(plug dbvm "$dbnic")
	run -0 ipt -S "FO-$vnet"
	assert_line "-A FO-$vnet -s 192.168.150.11/32 -p tcp -m tcp --dport 5432 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j ACCEPT"
	refute_output --partial 192.168.150.12
	# another web NIC, with an IPv6 address too; refreshing web (as a
	# membership change does) updates the groups naming it
	w2nic=$(add_nic "$w1" 1 192.168.150.12 1)
	sql "INSERT INTO leases (network_id, family, ip, key, nic_id, created) VALUES (1, 6, 'fd00:1::12', '$(ipkey fd00:1::12)', $w2nic, 'now')"
	run -0 cnet secgroup refresh web
	run -0 ipt -S "FO-$vnet"
	assert_line "-A FO-$vnet -s 192.168.150.12/32 -p tcp -m tcp --dport 5432 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j ACCEPT"
	assert_line "-A FO-$vnet -s 192.168.150.11/32 -p tcp -m tcp --dport 5432 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j ACCEPT"
	run -0 ipt -6 -S "FO-$vnet"
	assert_line "-A FO-$vnet -s fd00:1::12/128 -p tcp -m tcp --dport 5432 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j ACCEPT"
	run -0 cnet secgroup show web -o json
	[ "$(jq -r '[.members[] | "\(.vm)/\(.nic)=\(.ips)"] | join(" ")' <<<"$output")" = "w1/0=192.168.150.11 w1/1=192.168.150.12,fd00:1::12" ]
}

@test "a NIC in no group gets no filter; forget undefines a NIC's filter once its guest is gone" {
	cnet secgroup create -q web
	vm=$(mkvm sgvm)
	bare=$(add_nic "$vm" 0 192.168.150.10)
	run -0 "$SGTOOL" "$LAB_URI1" filter "$bare"
	[ -z "$output" ]
	run -0 virsh -c "$LAB_URI1" nwfilter-list
	refute_output --partial "cloudos-nic-$bare"
	nic=$(add_nic "$vm" 1 192.168.150.11 1)
	vnet=$(plug sgvm "$nic")
	run -5 --separate-stderr "$SGTOOL" "$LAB_URI1" forget "$nic"
	[[ $stderr == "sg-tool: cannot undefine network filter 'cloudos-nic-$nic': "* ]]
	# leaving its last group, the running guest's filter lets all through
	sql "DELETE FROM nic_secgroups WHERE nic_id = $nic"
	run -0 "$SGTOOL" "$LAB_URI1" filter "$nic"
	[ -z "$output" ]
	run -0 ipt -S
	refute_output --partial "FO-$vnet"
	cvm delete -q sgvm
	run -0 "$SGTOOL" "$LAB_URI1" forget "$nic"
	run -0 virsh -c "$LAB_URI1" nwfilter-list
	refute_output --partial "cloudos-nic-$nic"
	# twice is fine; a missing NIC is 3 for filter
	run -0 "$SGTOOL" "$LAB_URI1" forget "$nic"
	run -3 --separate-stderr "$SGTOOL" "$LAB_URI1" filter 999
	[ "$stderr" = "sg-tool: no NIC 999" ]
}

@test "a host that does not answer: the rule is kept, the other hosts updated, exit 8 names it" {
	cnet secgroup create -q web
	vm=$(mkvm sgvm)
	nic=$(add_nic "$vm" 0 192.168.150.10 1)
	vnet=$(plug sgvm "$nic")
	# a second host whose daemon is gone, with a VM of the group on it
	sql "INSERT INTO hosts (name, uri, hypervisor, domain_type, cpu, memory, owner, group_id, created, updated) VALUES ('gone', 'qemu+unix:///system?socket=$LAB_DIR/none/sock', 'qemu', 'qemu', 1, 64, 0, 0, 'now', 'now')"
	sql "INSERT INTO vms (uuid, name, state, host_id, cpu, memory, spec, owner, group_id, created, updated) VALUES ('00000000-0000-4000-8000-000000000001', 'far', 'running', (SELECT id FROM hosts WHERE name = 'gone'), 1, 64, '{}', 0, 0, 'now', 'now')"
	far=$(sql "SELECT id FROM vms WHERE name = 'far'")
	add_nic "$far" 0 192.168.150.30 1 >/dev/null
	run -8 --separate-stderr cnet secgroup rule add web --in --proto tcp --port 443 -o json
	[[ $stderr == "cnet: security group 'web': filters not brought up to date on 1 of 2 hosts; host 'gone': cannot connect to "* ]]
	[[ $stderr == *"(retry with 'cnet secgroup refresh')" ]]
	[ "$(jq -r '.rules[0].port' <<<"$output")" = 443 ]
	run -0 ipt -S "FO-$vnet"
	assert_output --partial "--dport 443"
	run -8 --separate-stderr cnet secgroup refresh web
	sql "UPDATE vms SET state = 'done' WHERE name = 'far'"
	run -0 cnet secgroup refresh web
}

@test "cnet secgroup refuses a description longer than every kind's cap, by create and apply" {
	long=$(head -c 4097 /dev/zero | tr '\0' d)
	cnet secgroup list >/dev/null	# the catalog exists, so digests compare
	refused 2 "cnet: description: expected UTF-8 text of at most 4096 bytes" \
	    cnet secgroup create web --description "$long"
	refused 2 "cnet: <stdin>: line 1: description: expected UTF-8 text of at most 4096 bytes" \
	    cnet apply - <<<"$(printf 'kind: SecurityGroup\nname: web\ndescription: %s\n' "$long")"
	refused 2 "cnet: description: holds a control character" \
	    cnet secgroup create web --description "$(printf 'a\x1bb')"
	run -0 cnet secgroup create web --description "${long:1}" -q
}
