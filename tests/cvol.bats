#!/usr/bin/env bats
# cvol: datastores (libvirt dir pools cloudos-ds-NAME on each of their
# hosts) and qcow2 volumes in them, on two real lab hosts.

load helpers/common

lab_suite 2

setup() {
	fresh_catalog
	lab_hosts_add
	printf 'name: p\ncpu: 1\nmemory: 64MiB\ndisks:\n  - size: 32MiB\n' > "$BATS_TEST_TMPDIR/p.yaml"
}

teardown() {
	for v in $(cvm list -o ids 2>/dev/null); do
		cvm delete -q "$v" 2>/dev/null || true
	done
	# children before parents
	for v in $(cvol list -o json 2>/dev/null | jq -r 'select(.parent) | .id'); do
		cvol delete -q "$v" 2>/dev/null || true
	done
	for v in $(cvol list -o ids 2>/dev/null); do
		cvol detach -q "$v" 2>/dev/null || true
		cvol delete -q "$v" 2>/dev/null || true
	done
	for d in $(cvol datastore list -o ids 2>/dev/null); do
		cvol datastore remove -q "$d" 2>/dev/null || true
	done
}

pools() {
	local u=LAB_URI$1
	virsh -c "${!u}" pool-list --all --name | awk '/cloudos-ds/ { print $1 }'
}

# file N VOLID: the file of a volume in datastore fast on lab host N
file() {
	echo "$(lab_host_dir "$1")/lib/images/cloudos-fast/vol-$2.qcow2"
}

blk() {
	local u=LAB_URI$1 uuid
	uuid=$(cvm show "$2" -o json | jq -r .uuid)
	virsh -c "${!u}" domblklist "$uuid" | awk 'NR > 2 && $1 { print $1 }' | tr '\n' ' '
}

@test "cvol datastore add defines, starts and autostarts a dir pool on every enabled host" {
	run -0 cvol datastore add fast -o json
	[ "$(jq -r '[.name, .pool, .path] | @tsv' <<<"$output")" = "$(printf 'fast\tcloudos-ds-fast\t/var/lib/libvirt/images/cloudos-fast')" ]
	[ "$(jq -r '[.hosts[].host] | join(",")' <<<"$output")" = h1,h2 ]
	for n in 1 2; do
		u=LAB_URI$n
		run -0 virsh -c "${!u}" pool-info cloudos-ds-fast
		assert_output --regexp 'State: +running'
		assert_output --regexp 'Autostart: +yes'
		[ -d "$(lab_host_dir $n)/lib/images/cloudos-fast" ]
	done
	# the VMs' own pool is untouched
	run -0 virsh -c "$LAB_URI1" pool-list --all --name
	refute_output --partial "cloudos-ds-fast2"
}

@test "cvol datastore add --host and --path put the pool where asked" {
	run -0 cvol datastore add slow --host h2 --path /var/lib/libvirt/images/elsewhere -o json
	[ "$(jq -r '[.hosts[].host] | join(",")' <<<"$output")" = h2 ]
	[ "$(pools 1)" = "" ]
	[ "$(pools 2)" = cloudos-ds-slow ]
	[ -d "$(lab_host_dir 2)/lib/images/elsewhere" ]
}

@test "cvol datastore show reads capacity, allocation and available per host" {
	cvol datastore add -q fast --host h1
	run -0 cvol datastore show fast -o json
	[ "$(jq -r '.hosts[0] | [.host, .state] | @tsv' <<<"$output")" = "$(printf 'h1\tactive')" ]
	jq -e '.hosts[0] | .capacity > 0 and .available > 0 and .allocation >= 0' <<<"$output"
	run -0 cvol datastore list -o ids
	[ "$output" = 1 ]
}

@test "cvol datastore add refuses bad input, a taken name, an unknown host and tenants" {
	cvol datastore add -q fast --host h1
	refused 2 "cvol: datastore name 'a b' may hold only letters, digits, '-', '_' and '.'" \
	    cvol datastore add 'a b'
	refused 2 "cvol: datastore path 'rel/dir' is not absolute" \
	    cvol datastore add x --path rel/dir
	refused 5 "cvol: datastore 'fast' exists already" cvol datastore add fast
	refused 3 "cvol: no host 'nope'" cvol datastore add y --host nope
	refused 3 "cvol: no datastore 'nope'" cvol datastore show nope
	refused 2 "cvol: usage: cvol datastore add NAME [--path DIR] [--host H]..." \
	    cvol datastore add
	[ "$(pools 2)" = "" ]
}

@test "cvol datastore add and remove are for admins only" {
	cvol datastore add -q fast --host h1
	cacct user add alice --uid 5001 >/dev/null
	before=$(catalog_digest)
	run -4 --separate-stderr cvol --as alice datastore add other
	[[ "$stderr" == "cvol: "*"add datastores"* ]]
	run -4 --separate-stderr cvol --as alice datastore remove fast
	[[ "$stderr" == "cvol: "*"remove datastores"* ]]
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvol datastore remove undefines the pools, refused with exit 5 while volumes are in it" {
	cvol datastore add -q fast
	cvol create -q v1 --size 16MiB
	refused 5 "cvol: cannot remove datastore 'fast': 1 volume is in it (delete them first)" \
	    cvol datastore remove fast
	[ "$(pools 1)" = cloudos-ds-fast ]
	cvol delete -q v1
	run -0 cvol datastore remove fast
	[ "$(pools 1)" = "" ]
	[ "$(pools 2)" = "" ]
	run -0 cvol datastore list -o ids
	[ "$output" = "" ]
}

@test "cvol create makes a qcow2 volume in the datastore's pool on the host asked" {
	cvol datastore add -q fast
	run -0 cvol create v1 --size 64MiB --datastore fast --host h2 -o json
	[ "$(jq -r '[.name, .datastore, .host, .size, .format] | @tsv' <<<"$output")" = "$(printf 'v1\tfast\th2\t64\tqcow2')" ]
	id=$(jq -r .id <<<"$output")
	run -0 qemu-img info --output=json -U "$(file 2 "$id")"
	[ "$(jq -r '[.format, ."virtual-size"] | @tsv' <<<"$output")" = "$(printf 'qcow2\t67108864')" ]
	run -0 cvol show v1 -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	run -0 cvol list -o ids
	[ "$output" = "$id" ]
}

@test "cvol create defaults to the first datastore" {
	cvol datastore add -q fast --host h1
	cvol datastore add -q slow --host h1
	run -0 cvol create v1 --size 8MiB -o json
	[ "$(jq -r '[.datastore, .host] | @tsv' <<<"$output")" = "$(printf 'fast\th1')" ]
}

@test "cvol create refuses bad input, a taken name, a missing datastore and a disk too big" {
	run -3 --separate-stderr cvol create v0 --size 8MiB
	[ "$stderr" = "cvol: no datastore to create volume 'v0' in (add one with 'cvol datastore add')" ]
	cvol datastore add -q fast --host h1
	cvol create -q v1 --size 8MiB
	before=$(catalog_digest)
	refused 2 "cvol: --size is required" cvol create v2
	run -2 --separate-stderr cvol create v2 --size 12XB
	[[ "$stderr" == "cvol: "*"12XB"* ]]
	refused 2 "cvol: volume name '123' is all digits (it would read as an id)" \
	    cvol create 123 --size 8MiB
	refused 5 "cvol: volume 'v1' exists already" cvol create v1 --size 8MiB
	refused 3 "cvol: no datastore 'nope'" cvol create v2 --size 8MiB --datastore nope
	refused 3 "cvol: datastore 'fast' is not on host 'h2'" cvol create v2 --size 8MiB --host h2
	run -6 --separate-stderr cvol create v2 --size 900000GiB
	[[ "$stderr" =~ ^"cvol: cannot create volume 'v2': 921600000 MiB is more than the "[0-9]+" MiB datastore 'fast' has free on host 'h1'"$ ]]
	assert_output ""
	[ "$(catalog_digest)" = "$before" ]
	[ "$(ls "$(lab_host_dir 1)/lib/images/cloudos-fast")" = vol-1.qcow2 ]
}

@test "cvol create takes names with XML and quotes as they are" {
	cvol datastore add -q fast --host h1
	run -0 cvol create "<a'&\"b>" --size 8MiB -o json
	[ "$(jq -r .name <<<"$output")" = "<a'&\"b>" ]
}

@test "cvol resize grows a volume and refuses to shrink it" {
	cvol datastore add -q fast --host h1
	id=$(cvol create v1 --size 32MiB -o json | jq -r .id)
	run -0 cvol resize v1 --size 64MiB -o json
	[ "$(jq -r .size <<<"$output")" = 64 ]
	run -0 qemu-img info --output=json -U "$(file 1 "$id")"
	[ "$(jq -r '."virtual-size"' <<<"$output")" = 67108864 ]
	before=$(catalog_digest)
	refused 2 "cvol: cannot shrink volume 'v1' from 64 to 16 MiB (volumes only grow)" \
	    cvol resize v1 --size 16MiB
	run -6 --separate-stderr cvol resize v1 --size 900000GiB
	[[ "$stderr" == "cvol: cannot resize volume 'v1': "*" MiB is more than the "* ]]
	refused 3 "cvol: no volume 'nope'" cvol resize nope --size 1GiB
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvol clone copies a volume on its host" {
	cvol datastore add -q fast --host h1
	id=$(cvol create v1 --size 16MiB -o json | jq -r .id)
	qemu-io -f qcow2 -c 'write -P 0x5a 0 64k' "$(file 1 "$id")" >/dev/null
	run -0 cvol clone v1 v2 -o json
	[ "$(jq -r '[.name, .host, .size] | @tsv' <<<"$output")" = "$(printf 'v2\th1\t16')" ]
	cid=$(jq -r .id <<<"$output")
	run -0 qemu-io -f qcow2 -r -U -c 'read -P 0x5a 0 64k' "$(file 1 "$cid")"
	refute_output --partial "Pattern verification failed"
	refused 5 "cvol: volume 'v2' exists already" cvol clone v1 v2
}

@test "cvol snapshot makes a linked child; its base cannot be deleted, resized or attached meanwhile" {
	cvol datastore add -q fast --host h1
	id=$(cvol create v1 --size 16MiB -o json | jq -r .id)
	run -0 cvol snapshot v1 s1 -o json
	[ "$(jq -r '[.name, .parent] | @tsv' <<<"$output")" = "$(printf 's1\tv1')" ]
	sid=$(jq -r .id <<<"$output")
	run -0 qemu-img info --output=json -U "$(file 1 "$sid")"
	[ "$(jq -r '."backing-filename"' <<<"$output")" = /var/lib/libvirt/images/cloudos-fast/vol-$id.qcow2 ]
	cvm create -q "$BATS_TEST_TMPDIR/p.yaml"
	refused 5 "cvol: cannot delete volume 'v1': it is the base of 1 snapshot (delete them first)" \
	    cvol delete v1
	refused 5 "cvol: cannot resize volume 'v1': it is the base of 1 snapshot (delete them first)" \
	    cvol resize v1 --size 32MiB
	refused 5 "cvol: cannot attach volume 'v1': it is the base of 1 snapshot (delete them first)" \
	    cvol attach v1 p
	run -0 cvol delete s1
	run -0 cvol delete v1
}

@test "cvol attach puts a volume on a running VM live, on SCSI after its own disks or on virtio" {
	cvol datastore add -q fast --host h1
	cvol create -q v1 --size 16MiB
	cvol create -q v2 --size 16MiB
	cvm create -q "$BATS_TEST_TMPDIR/p.yaml"
	[ "$(blk 1 p)" = "sdb " ]
	run -0 cvol attach v1 p -o json
	[ "$(jq -r '[.vm, .target, .bus] | @tsv' <<<"$output")" = "$(printf 'p\tsdc\tscsi')" ]
	[ "$(blk 1 p)" = "sdb sdc " ]
	# the bus in any case, kept by its canonical name
	run -0 cvol attach v2 p --bus VIRTIO -o json
	[ "$(jq -r '[.target, .bus] | @tsv' <<<"$output")" = "$(printf 'vda\tvirtio')" ]
	# a disk cvm attaches next skips the volume's target
	run -0 cvm disk attach p --size 8MiB -o json
	[ "$(jq -c '[.disks[].target]' <<<"$output")" = '["sdb","sdd"]' ]
	run -0 cvol detach v1 -o json
	[ "$(jq -r '.vm // "none"' <<<"$output")" = none ]
	[[ "$(blk 1 p)" != *sdc* ]]
}

@test "cvol attach and detach refuse what they cannot do, naming both hosts" {
	cvol datastore add -q fast
	cvol create -q v1 --size 16MiB --host h2
	cvol create -q v2 --size 16MiB --host h1
	cvm create -q "$BATS_TEST_TMPDIR/p.yaml"
	[ "$(cvm show p -o json | jq -r .host)" = h1 ]
	cvol attach -q v2 p
	refused 5 "cvol: cannot attach a volume on host 'h2' to vm 'p': the vm is on host 'h1'" \
	    cvol attach v1 p
	refused 5 "cvol: cannot attach volume 'v2': it is attached to vm 'p' as sdc already" \
	    cvol attach v2 p
	refused 5 "cvol: cannot delete volume 'v2': it is attached to vm 'p' as sdc (detach it first)" \
	    cvol delete v2
	refused 5 "cvol: cannot detach volume 'v1': it is not attached" cvol detach v1
	refused 3 "cvol: no vm 'nope'" cvol attach v1 nope
	refused 2 "cvol: unknown bus 'ide' (expected one of: scsi, virtio)" cvol attach v1 p --bus ide
	refused 2 "cvol: usage: cvol attach VOL VM [--bus scsi|virtio]" cvol attach v1
}

@test "cvol delete removes the file and the record" {
	cvol datastore add -q fast --host h1
	id=$(cvol create v1 --size 16MiB -o json | jq -r .id)
	[ -f "$(file 1 "$id")" ]
	run -0 cvol delete v1
	[ ! -f "$(file 1 "$id")" ]
	run -3 --separate-stderr cvol show v1
	[ "$stderr" = "cvol: no volume 'v1'" ]
}

@test "cvol datastores offer their free space to placement as free_disk" {
	cvol datastore add -q fast --host h1
	avail=$(cvol datastore list -o json | jq -r '.hosts[0].available')
	# h2 has no datastore: its free_disk stays unknown (unbounded)
	printf 'name: q\ncpu: 1\nmemory: 64MiB\nrequirements: "free_disk < %d"\n' "$((avail + 1))" > "$BATS_TEST_TMPDIR/q.yaml"
	run -0 cvm create "$BATS_TEST_TMPDIR/q.yaml" -o json
	[ "$(jq -r .host <<<"$output")" = h1 ]
	cvm delete -q q
	printf 'name: q\ncpu: 1\nmemory: 64MiB\nrequirements: "free_disk < %d"\n' "$avail" > "$BATS_TEST_TMPDIR/q.yaml"
	run -6 --separate-stderr cvm create "$BATS_TEST_TMPDIR/q.yaml"
}

@test "cvol completes datastore and volume names, hosts and buses" {
	source "$CLOUDOS_SRCDIR/completions/cloudos.bash"
	cvol datastore add -q fast --host h1
	cvol create -q v1 --size 8MiB
	c() {
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMPREPLY=()
		_cloudos
		reply=$(printf '%s\n' "${COMPREPLY[@]}")
	}
	c cvol datastore show f
	[ "$reply" = fast ]
	c cvol create x --datastore ""
	[ "$reply" = fast ]
	c cvol create x --host h
	[ "$reply" = $'h1\nh2' ]
	c cvol attach v1 p --bus ""
	[ "$reply" = $'scsi\nvirtio' ]
	c cvol show v
	[ "$reply" = v1 ]
}

@test "cvol: a VM with a volume attached is not migrated, and its host is not removed under a datastore" {
	cvol datastore add -q fast --host h1
	cvol create -q v1 --size 8MiB
	cvm create -q "$BATS_TEST_TMPDIR/p.yaml"
	cvol attach -q v1 p
	refused 5 "cvm: cannot migrate vm 'p': volume 'v1' is attached to it and lives on host 'h1' (cvol detach it first)" \
	    cvm migrate p --to h2
	cvm delete -q p
	run -5 --separate-stderr chost remove h1
	[ "$stderr" = "chost: cannot remove host 'h1': datastore 'fast' is on it (cvol datastore remove first)" ]
}

@test "cvol: a volume outlives the VM it was attached to, detached" {
	cvol datastore add -q fast --host h1
	id=$(cvol create v1 --size 8MiB -o json | jq -r .id)
	cvm create -q "$BATS_TEST_TMPDIR/p.yaml"
	cvol attach -q v1 p
	cvm delete -q p
	[ -f "$(file 1 "$id")" ]
	run -0 cvol show v1 -o json
	[ "$(jq -r '.vm // "none"' <<<"$output")" = none ]
	run -0 cvol delete v1
}

@test "cvol list -o table has a column per field of a volume; tenants see only their own" {
	cvol datastore add -q fast --host h1
	cvol create -q v1 --size 8MiB
	run -0 cvol list -o table
	[ "$(head -1 <<<"$output" | tr -s ' ')" = "ID NAME DATASTORE HOST SIZE PARENT VM TARGET OWNER" ]
	run -0 cvol datastore list -o table
	[ "$(head -1 <<<"$output" | tr -s ' ')" = "ID NAME POOL VOLUMES PATH" ]
	cacct user add alice --uid 5001 >/dev/null
	run -0 cvol --as alice list -o ids
	[ "$output" = "" ]
	run -3 --separate-stderr cvol --as alice show v1
	[ "$stderr" = "cvol: no volume 'v1'" ]
	run -0 cvol --as alice create a1 --size 8MiB -o json
	[ "$(jq -r .owner <<<"$output")" = alice ]
}

@test "cvol datastore add on a host that does not answer exits 7 and leaves no pool behind" {
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = 'qemu+unix:///system?socket=$BATS_TEST_TMPDIR/none' WHERE name = 'h2'"
	before=$(catalog_digest)
	run -7 --separate-stderr cvol datastore add fast
	[[ "$stderr" == "cvol: cannot add datastore 'fast' on host 'h2': cannot connect to "* ]]
	assert_output ""
	[ "$(catalog_digest)" = "$before" ]
	[ "$(pools 1)" = "" ]
	refused 2 "cvol: host 'h1' is given twice" cvol datastore add fast --host h1 --host h1
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvol datastore show marks a host that does not answer; remove then exits 7 and keeps it" {
	cvol datastore add -q fast
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = 'qemu+unix:///system?socket=$BATS_TEST_TMPDIR/none' WHERE name = 'h2'"
	run -0 cvol datastore show fast -o json
	[ "$(jq -r '.hosts[0].state' <<<"$output")" = active ]
	[[ "$(jq -r '.hosts[1].error' <<<"$output")" == "cannot connect to "* ]]
	before=$(catalog_digest)
	run -7 --separate-stderr cvol datastore remove fast
	[[ "$stderr" == "cvol: cannot remove datastore 'fast' from host 'h2': cannot connect to "* ]]
	[ "$(catalog_digest)" = "$before" ]
	[ "$(pools 1)" = cloudos-ds-fast ]
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = '$LAB_URI2' WHERE name = 'h2'"
	run -0 cvol datastore remove fast
	[ "$(pools 1)" = "" ]
	[ "$(pools 2)" = "" ]
}

@test "cvol clone and snapshot refuse a volume a running VM writes, resize grows it live; attach to a VM that is off goes into its definition" {
	cvol datastore add -q fast --host h1
	cvol create -q v1 --size 8MiB
	cvm create -q "$BATS_TEST_TMPDIR/p.yaml"
	cvol attach -q v1 p
	refused 5 "cvol: cannot clone volume 'v1': it is attached to vm 'p' (running) (power it off or detach it first)" \
	    cvol clone v1 c1
	refused 5 "cvol: cannot snapshot volume 'v1': it is attached to vm 'p' (running) and would change under its snapshot (detach it first)" \
	    cvol snapshot v1 s1
	# growing works live, through the guest's qemu
	run -0 cvol resize v1 --size 16MiB -o json
	[ "$(jq -r .size <<<"$output")" = 16 ]
	uuid=$(cvm show p -o json | jq -r .uuid)
	run -0 virsh -c "$LAB_URI1" domblkinfo "$uuid" sdc
	assert_output --regexp 'Capacity: +16777216'
	cvol detach -q v1
	cvm poweroff -q p
	run -0 cvol attach v1 p -o json
	[ "$(jq -r .target <<<"$output")" = sdc ]
	run -0 virsh -c "$LAB_URI1" dumpxml --inactive "$uuid"
	assert_output --partial "cloudos-fast/vol-1.qcow2"
	# a VM that is off: a copy is whole
	run -0 cvol clone v1 c1
}

@test "cvol apply creates datastores and volumes by name, grows them again, passes other kinds on" {
	cat > "$BATS_TEST_TMPDIR/env.yaml" <<'YAML'
kind: Datastore
name: fast
hosts: [h1]
---
kind: Volume
name: data
size: 16MiB
datastore: fast
---
kind: VM
name: web
YAML
	run -0 cvol apply -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ "$(jq -r '[.kind, .name] | @tsv' <<<"$output" | tr '\n' ' ')" = "$(printf 'Datastore\tfast Volume\tdata VM\tweb ')" ]
	before=$(catalog_digest)
	run -0 cvol apply -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ "$(catalog_digest)" = "$before" ]
	sed -i 's/16MiB/32MiB/' "$BATS_TEST_TMPDIR/env.yaml"
	run -0 cvol apply - -o json < "$BATS_TEST_TMPDIR/env.yaml"
	[ "$(jq -r 'select(.kind == "Volume") | .size' <<<"$output")" = 32 ]
	before=$(catalog_digest)
	printf 'kind: Volume\nname: data\nsize: 32MiB\nhost: h2\n' > "$BATS_TEST_TMPDIR/bad.yaml"
	refused 5 "cvol: cannot move volume 'data' (it is in datastore 'fast' on host 'h1')" \
	    cvol apply -f "$BATS_TEST_TMPDIR/bad.yaml"
	printf 'kind: Volume\nname: other\n' > "$BATS_TEST_TMPDIR/bad.yaml"
	run -2 --separate-stderr cvol apply -f "$BATS_TEST_TMPDIR/bad.yaml"
	[[ "$stderr" == "cvol: "*": size: missing" ]]
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvol: what a killed create or attach leaves, delete and detach finish" {
	cvol datastore add -q fast --host h1
	CLOUDOS_FAULT=vol.intent run -137 cvol create v1 --size 8MiB
	run -0 cvol show v1 -o json
	id=$(jq -r .id <<<"$output")
	[ ! -f "$(file 1 "$id")" ]
	run -0 cvol delete v1
	run -3 cvol show v1
	cvol create -q v2 --size 8MiB
	cvm create -q "$BATS_TEST_TMPDIR/p.yaml"
	CLOUDOS_FAULT=vol.attach run -137 cvol attach v2 p
	[ "$(blk 1 p)" = "sdb " ]
	run -0 cvol detach v2
	run -0 cvol attach v2 p -o json
	[ "$(jq -r .target <<<"$output")" = sdc ]
	[ "$(blk 1 p)" = "sdb sdc " ]
}

@test "cvol apply of a good and a bad document creates nothing (exit 2)" {
	printf 'kind: Datastore\nname: fast\nhosts: [h1]\n---\nkind: Volume\nname: data\nsize: lots\n' > "$BATS_TEST_TMPDIR/env.yaml"
	before=$(catalog_digest)
	run -2 --separate-stderr cvol apply - < "$BATS_TEST_TMPDIR/env.yaml"
	assert_output ""
	[[ "$stderr" == "cvol: <stdin>: line 5: size: "* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$(catalog_digest)" = "$before" ]
	[ -z "$(virsh -c "$LAB_URI1" pool-list --all --name | grep fast)" ]
}
