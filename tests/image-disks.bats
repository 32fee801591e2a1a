#!/usr/bin/env bats
# VM disks cloned from images (qcow2 overlays whose backing file is the
# image cached once per host, uploaded through libvirt streams) and disks
# in datastores, on real qemu guests on two lab hosts.  The guest that
# boots is a 512-byte boot sector that prints cloudos-boot-ok on COM1.

load helpers/common

lab_suite 2

setup() {
	fresh_catalog
	# h1 may have been stopped by a test: bring it back
	if ! virsh -c "$LAB_URI1" version >/dev/null 2>&1; then
		LAB_URI1=$("$CLOUDOS_SRCDIR/tests/lab/lab-host" start "$(lab_host_dir 1)")
	fi
	lab_hosts_add --migration-address 127.0.0.1
	T=$BATS_TEST_TMPDIR
	"$CLOUDOS_SRCDIR/tests/data/mkboot" "$T/boot.img"
	cimg import "$T/boot.img" --name boot >/dev/null
	for n in a b c; do
		printf 'name: %s\ncpu: 1\nmemory: 64MiB\nrequirements: name == "h1"\ndisks:\n  - image: boot\n' "$n" > "$T/$n.yaml"
	done
}

teardown() {
	for v in $(cvm list -o ids 2>/dev/null); do
		cvm delete -q "$v" 2>/dev/null || true
	done
	# the hosts outlive the test: their caches go with the catalog
	for h in 1 2; do
		rm -f "$(lab_host_dir $h)"/lib/images/cloudos/img-*
		rm -f "$(lab_host_dir $h)"/lib/images/cloudos-fast/*
	done
	virsh -c "$LAB_URI1" pool-refresh cloudos >/dev/null 2>&1 || true
	virsh -c "$LAB_URI2" pool-refresh cloudos >/dev/null 2>&1 || true
}

uuid_of() {
	cvm show "$1" -o json | jq -r .uuid
}

# pool N: the folder of lab host N's 'cloudos' pool
pool() {
	echo "$(lab_host_dir "$1")/lib/images/cloudos"
}

# ck IMAGE: the hex of IMAGE's checksum, which names its cached volume
ck() {
	cimg show "$1" -o json | jq -r .checksum | sed 's/^xxh128://'
}

uploads() {
	sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM audit WHERE action = 'upload' AND kind = 'Image'"
}

# io N VM CMD: qemu-io CMD on VM's first disk on lab host N (an overlay
# whose backing file's path is the host's own)
io() {
	local ov base
	ov="$(pool "$1")/$(uuid_of "$2")-sdb.qcow2"
	base="$(pool "$1")/img-$(ck boot)"
	local ro=
	case $3 in read*) ro="-r -U" ;; esac
	qemu-io $ro --image-opts -c "$3" \
	    "driver=qcow2,file.filename=$ov,backing.driver=raw,backing.file.filename=$base"
}

# console VM: what the VM's serial console shows across a hard reset,
# until the boot sector has said it runs
console() {
	console_shows "$1" 'Booting from Hard Disk' cloudos-boot-ok
}

@test "cvm create with an image disk boots the guest from a linked clone of the image cached on its host" {
	run -0 cvm create "$T/a.yaml" -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -c .disks <<<"$output")" = '[{"target":"sdb","size":1,"image":"boot"}]' ]
	u=$(uuid_of a)
	# the overlay: qcow2 over the cached image, raw, named by checksum
	run -0 qemu-img info --output=json -U "$(pool 1)/$u-sdb.qcow2"
	[ "$(jq -r .format <<<"$output")" = qcow2 ]
	[ "$(jq -r '."backing-filename"' <<<"$output")" = "/var/lib/libvirt/images/cloudos/img-$(ck boot)" ]
	[ "$(jq -r '."backing-filename-format"' <<<"$output")" = raw ]
	cmp "$T/boot.img" "$(pool 1)/img-$(ck boot)"
	run -0 virsh -c "$LAB_URI1" vol-dumpxml --pool cloudos "$u-sdb.qcow2"
	assert_output --partial "<path>/var/lib/libvirt/images/cloudos/img-$(ck boot)</path>"
	# and the guest runs the image's boot sector
	run -0 console a
	assert_output --partial "Booting from Hard Disk"
	assert_output --partial "cloudos-boot-ok"
}

@test "a second VM from the same image on the same host copies nothing" {
	cvm create -q "$T/a.yaml"
	[ "$(uploads)" = 1 ]
	before=$(stat -c '%i %.9Y' "$(pool 1)/img-$(ck boot)")
	run -0 cvm create "$T/b.yaml" -o json
	[ "$(jq -r '[.state, .host] | @tsv' <<<"$output")" = "$(printf 'running\th1')" ]
	[ "$(uploads)" = 1 ]
	[ "$(stat -c '%i %.9Y' "$(pool 1)/img-$(ck boot)")" = "$before" ]
	[ "$(ls "$(pool 1)" | grep -c '^img-')" = 1 ]
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT h.name, c.state, c.format, c.size FROM image_hosts c JOIN hosts h ON h.id = c.host_id"
	[ "$output" = "h1|ready|raw|512" ]
	run -0 qemu-img info --output=json -U "$(pool 1)/$(uuid_of b)-sdb.qcow2"
	[ "$(jq -r '."backing-filename"' <<<"$output")" = "/var/lib/libvirt/images/cloudos/img-$(ck boot)" ]
}

@test "two images of the same bytes share one cache volume on a host; one without a checksum keys on its sha256" {
	cp "$T/boot.img" "$T/boot2.img"
	cimg import "$T/boot2.img" --name boot2 >/dev/null
	[ "$(ck boot2)" = "$(ck boot)" ]
	[[ "$(ck boot)" =~ ^[0-9a-f]{32}$ ]]
	cvm create -q "$T/a.yaml"
	printf 'name: d\ncpu: 1\nmemory: 64MiB\nrequirements: name == "h1"\ndisks:\n  - image: boot2\n' > "$T/d.yaml"
	run -0 cvm create "$T/d.yaml" -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(uploads)" = 1 ]
	[ "$(ls "$(pool 1)" | grep '^img-')" = "img-$(ck boot)" ]
	run -0 qemu-img info --output=json -U "$(pool 1)/$(uuid_of d)-sdb.qcow2"
	[ "$(jq -r '."backing-filename"' <<<"$output")" = "/var/lib/libvirt/images/cloudos/img-$(ck boot)" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT checksum FROM image_hosts')" = "xxh128:$(ck boot)" ]
	# the other image of those bytes still needs the volume: it stays
	cvm delete -q d
	cimg delete -q boot2
	run -0 cvm reconcile
	[ -f "$(pool 1)/img-$(ck boot)" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM image_hosts')" = 1 ]
	# an image from before checksums: its sha256 is the key
	sum=$(sha256sum < "$T/boot.img" | cut -c1-64)
	cimg import "$T/boot.img" --name old --sha256 "$sum" >/dev/null
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE images SET checksum = NULL WHERE name = 'old'"
	printf 'name: e\ncpu: 1\nmemory: 64MiB\nrequirements: name == "h1"\ndisks:\n  - image: old\n' > "$T/e.yaml"
	run -0 cvm create "$T/e.yaml" -o json
	[ "$(uploads)" = 2 ]
	cmp "$T/boot.img" "$(pool 1)/img-$sum"
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM image_hosts WHERE checksum = '$sum'")" = 1 ]
}

@test "a sparse image reaches the host with its holes, byte for byte" {
	cp "$T/boot.img" "$T/sparse.raw"
	truncate -s 300M "$T/sparse.raw"
	printf 'end of disk' | dd of="$T/sparse.raw" bs=1M seek=200 conv=notrunc 2>/dev/null
	truncate -s 300M "$T/sparse.raw"
	cimg import "$T/sparse.raw" --name sparse >/dev/null
	printf 'name: s\ncpu: 1\nmemory: 64MiB\nrequirements: name == "h1"\ndisks:\n  - image: sparse\n' > "$T/s.yaml"
	run -0 cvm create "$T/s.yaml" -o json
	[ "$(jq -c .disks <<<"$output")" = '[{"target":"sdb","size":300,"image":"sparse"}]' ]
	cached="$(pool 1)/img-$(ck sparse)"
	cmp "$T/sparse.raw" "$cached"
	[ "$(stat -c %s "$cached")" = $((300 * 1048576)) ]
	# a few blocks, not 300 MiB
	[ "$(du -k "$cached" | cut -f1)" -lt 1024 ]
	run -0 console s
	assert_output --partial "cloudos-boot-ok"
}

@test "two creates racing for one host upload the image once" {
	head -c 48M /dev/urandom > "$T/big.raw"
	cimg import "$T/big.raw" --name big >/dev/null
	# two: the lab host has 2 CPUs
	for n in r1 r2; do
		printf 'name: %s\ncpu: 1\nmemory: 64MiB\nrequirements: name == "h1"\ndisks:\n  - image: big\n' "$n" > "$T/$n.yaml"
	done
	cvm create -q "$T/r1.yaml" >"$T/r1.out" 2>&1 &
	p1=$!
	cvm create -q "$T/r2.yaml" >"$T/r2.out" 2>&1 &
	p2=$!
	wait $p1 && wait $p2
	run -0 cvm list -o json
	[ "$(jq -s -c '[.[] | select(.name | startswith("r")) | .state] | unique' <<<"$output")" = '["running"]' ]
	[ "$(uploads)" = 1 ]	# big, once; boot went nowhere
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM audit WHERE action = 'upload' AND object_name = 'big'")" = 1 ]
	cmp "$T/big.raw" "$(pool 1)/img-$(ck big)"
}

@test "an image is used while a VM's disk is cloned from it; cimg delete is refused until the last VM goes" {
	[ "$(cimg show boot -o json | jq -r .state)" = ready ]
	cvm create -q "$T/a.yaml"
	cvm create -q "$T/b.yaml"
	[ "$(cimg show boot -o json | jq -r .state)" = used ]
	refused 5 "cimg: cannot delete image 'boot': it is used by vms 'a' and 'b'" cimg delete boot
	[ -f "$T/images/1" ]
	cvm delete -q a
	[ "$(cimg show boot -o json | jq -r .state)" = used ]
	run -5 cimg delete boot
	# a VM in hold holds its image too
	cvm create -q --hold "$T/c.yaml"
	cvm delete -q b
	[ "$(cimg show boot -o json | jq -r .state)" = used ]
	cvm delete -q c
	[ "$(cimg show boot -o json | jq -r .state)" = ready ]
	run -0 cimg delete boot
	# the host's cached copy of an image that is gone goes at the next
	# reconcile pass
	[ -f "$(pool 1)/img-$(sqlite3 "$CLOUDOS_CATALOG" "SELECT substr(checksum, 8) FROM image_hosts")" ]
	run -0 --separate-stderr cvm reconcile
	[[ "$stderr" == *"host 'h1': removed cached image volume 'img-"* ]]
	[ -z "$(ls "$(pool 1)" | grep '^img-' || true)" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM image_hosts')" = 0 ]
}

@test "csched pass deploys queued VMs with image disks, uploading the image once per host" {
	cvm create -q --queue "$T/a.yaml"
	cvm create -q --queue "$T/b.yaml"
	[ "$(cimg show boot -o json | jq -r .state)" = used ]
	[ "$(uploads)" = 0 ]
	run -0 csched pass -o json
	[ "$(jq -s -c '[.[] | [.name, .state, .host]]' <<<"$output")" = '[["a","running","h1"],["b","running","h1"]]' ]
	[ "$(uploads)" = 1 ]
	run -0 console b
	assert_output --partial "cloudos-boot-ok"
}

@test "detaching a VM's last disk cloned from an image makes the image ready again" {
	cvm create -q "$T/a.yaml"
	[ "$(cimg show boot -o json | jq -r .state)" = used ]
	run -0 cvm disk detach a sdb -o json
	[ "$(jq -c .disks <<<"$output")" = '[]' ]
	[ ! -e "$(pool 1)/$(uuid_of a)-sdb.qcow2" ]
	[ "$(cimg show boot -o json | jq -r .state)" = ready ]
	# the cache stays for the next VM
	[ -f "$(pool 1)/img-$(ck boot)" ]
}

@test "an image disk's size is the image's, may be larger, never smaller" {
	qemu-img create -q -f qcow2 "$T/q.qcow2" 32M
	cimg import "$T/q.qcow2" --name q32 >/dev/null
	printf 'name: big\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: q32\n  - image: q32\n    size: 64MiB\n' > "$T/big.yaml"
	run -0 cvm create "$T/big.yaml" -o json
	[ "$(jq -c '[.disks[] | [.target, .size, .image]]' <<<"$output")" = '[["sdb",32,"q32"],["sdc",64,"q32"]]' ]
	u=$(jq -r .uuid <<<"$output")
	host=$(jq -r .host <<<"$output")
	n=${host#h}
	run -0 qemu-img info --output=json -U "$(pool "$n")/$u-sdc.qcow2"
	[ "$(jq -r '."virtual-size"' <<<"$output")" = 67108864 ]
	[ "$(jq -r '."backing-filename-format"' <<<"$output")" = qcow2 ]
	printf 'name: small\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: q32\n    size: 16MiB\n' > "$T/small.yaml"
	refused 2 "cvm: $T/small.yaml: line 1: disks[0].size: 16 MiB is smaller than image 'q32' (32 MiB)" \
	    cvm create "$T/small.yaml"
}

@test "cvm create refuses missing, hidden, unready and unsafe images with one line, writing nothing" {
	cacct user add alice --uid 5001 >/dev/null
	cacct user add bob --uid 5002 >/dev/null
	cimg --as alice import "$T/boot.img" --name alices >/dev/null
	printf 'not a disk' > "$T/x.iso"
	head -c 40000 /dev/zero > "$T/cd.iso"
	printf '\001CD001' | dd of="$T/cd.iso" bs=1 seek=32768 conv=notrunc 2>/dev/null
	cimg import "$T/cd.iso" --name cd >/dev/null
	qemu-img create -q -f qcow2 -u -F raw -b /etc/shadow "$T/evil.qcow2" 8M
	# cimg import refuses it; a catalog from before that refusal may hold
	# one, so the file of a clean image is swapped for it
	run -2 --separate-stderr cimg import "$T/evil.qcow2" --name evil
	[[ "$stderr" == *"a qcow2 image with a backing file"* ]]
	qemu-img create -q -f qcow2 "$T/clean.qcow2" 8M
	cimg import "$T/clean.qcow2" --name evil >/dev/null
	cp "$T/evil.qcow2" "$(dirname "$CLOUDOS_CATALOG")/images/$(cimg show evil -o json | jq -r .id)"
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE images SET state = 'error' WHERE name = 'cd'"
	check() {	# CODE IMAGE MESSAGE [--as USER]
		jq -n -c --arg i "$2" '{name: "v", cpu: 1, memory: "64MiB", disks: [{image: $i}]}' > "$T/v.yaml"
		before=$(catalog_digest)
		run "-$1" --separate-stderr cvm ${4:+--as "$4"} create "$T/v.yaml"
		assert_output ""
		[ "$stderr" = "cvm: $3" ] || { echo "got: $stderr"; return 1; }
		[ "$(catalog_digest)" = "$before" ]
	}
	check 3 nosuch "disks[0].image: no image 'nosuch'"
	check 3 "a'b<c>\"d" "disks[0].image: no image 'a'b<c>\"d'"
	check 3 alices "disks[0].image: no image 'alices'" bob
	check 5 cd "disks[0].image: image 'cd' is error (a disk needs it ready)"
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE images SET state = 'ready' WHERE name = 'cd'"
	check 2 cd "$T/v.yaml: line 1: disks[0].image: image 'cd' is iso, not a raw or qcow2 disk a VM's disk can be cloned from"
	check 2 evil "$T/v.yaml: line 1: disks[0].image: image 'evil' is a qcow2 image with a backing file of its own (import it flattened)"
	printf 'name: v\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: [boot]\n' > "$T/v.yaml"
	run -2 --separate-stderr cvm create "$T/v.yaml"
	[ "$stderr" = "cvm: $T/v.yaml: line 1: disks[0].image: expected the name of an image" ]
	printf 'name: v\ncpu: 1\nmemory: 64MiB\ndisks:\n  - datastore: fast\n' > "$T/v.yaml"
	run -2 --separate-stderr cvm create "$T/v.yaml"
	[ "$stderr" = "cvm: $T/v.yaml: line 1: disks[0].size: missing (a blank disk needs one)" ]
	# alice may use her own image; bob may once it is public
	printf 'name: v\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: alices\n' > "$T/v.yaml"
	run -0 cvm --as alice create -q --hold "$T/v.yaml"
	cimg --as alice publish alices >/dev/null
	sed -i 's/name: v$/name: v2/' "$T/v.yaml"
	run -0 cvm --as bob create -q --hold "$T/v.yaml"
	[ "$(cimg show alices -o json | jq -r .state)" = used ]
	[ -z "$(ls "$(pool 1)" "$(pool 2)" 2>/dev/null | grep img- || true)" ]
}

@test "an image-backed VM migrates live and cold between hosts: the image reaches the destination once, only the overlay moves" {
	printf '  - size: 8MiB\n' >> "$T/a.yaml"
	cvm create -q "$T/a.yaml"
	u=$(uuid_of a)
	# the guest's own data, in the overlay only, and on a blank disk
	cvm poweroff -q a
	io 1 a 'write -P 0x5a 512k 64k' >/dev/null
	qemu-io -f qcow2 -c 'write -P 0x6b 1M 64k' "$(pool 1)/$u-sdc.qcow2" >/dev/null
	cvm start -q a
	run -0 cvm migrate a --to h2 --live -o json
	[ "$(jq -r '[.state, .host] | @tsv' <<<"$output")" = "$(printf 'running\th2')" ]
	[ "$(uploads)" = 2 ]
	[ ! -e "$(pool 1)/$u-sdb.qcow2" ]
	run -0 qemu-img info --output=json -U "$(pool 2)/$u-sdb.qcow2"
	[ "$(jq -r '."backing-filename"' <<<"$output")" = "/var/lib/libvirt/images/cloudos/img-$(ck boot)" ]
	run -0 console a
	assert_output --partial "cloudos-boot-ok"
	# cold, back to h1 (cached there already): nothing uploaded
	cvm poweroff -q a
	run -0 io 2 a 'read -P 0x5a 512k 64k' 
	[[ "$output" != *"verification failed"* ]] || false
	run -0 qemu-io -r -U -f qcow2 -c 'read -P 0x6b 1M 64k' "$(pool 2)/$u-sdc.qcow2"
	[[ "$output" != *"verification failed"* ]] || false
	run -0 cvm migrate a --to h1 -o json
	[ "$(jq -r '[.state, .host] | @tsv' <<<"$output")" = "$(printf 'poweroff\th1')" ]
	[ "$(uploads)" = 2 ]
	[ ! -e "$(pool 2)/$u-sdb.qcow2" ]
	[ ! -e "$(pool 2)/$u-sdc.qcow2" ]
	run -0 io 1 a 'read -P 0x5a 512k 64k' 
	[[ "$output" != *"verification failed"* ]] || false
	# the boot sector's first byte comes from the image below
	run -0 io 1 a 'read -P 0x31 0 1' 
	[[ "$output" != *"verification failed"* ]] || false
	cvm start -q a
	run -0 console a
	assert_output --partial "cloudos-boot-ok"
}

@test "a stopped image-backed VM starts on another host when its own cannot take it back" {
	printf 'name: a\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: boot\n' > "$T/a.yaml"
	run -0 cvm create "$T/a.yaml" -o json
	[ "$(jq -r .host <<<"$output")" = h1 ]
	cvm stop -q a
	chost disable h1 >/dev/null
	run -0 cvm start a -o json
	[ "$(jq -r '[.state, .host] | @tsv' <<<"$output")" = "$(printf 'running\th2')" ]
	[ -f "$(pool 2)/img-$(ck boot)" ]
	run -0 console a
	assert_output --partial "cloudos-boot-ok"
	[ -z "$(ls "$(pool 1)" | grep -- "$(uuid_of a)" || true)" ]
}

@test "disks in a datastore go to a host that has it, with room; too big is refused with exit 6" {
	cvol datastore add fast --host h2 >/dev/null
	printf 'name: d\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: boot\n    datastore: fast\n  - size: 16MiB\n    datastore: fast\n  - size: 8MiB\n' > "$T/d.yaml"
	run -0 cvm create "$T/d.yaml" -o json
	[ "$(jq -r .host <<<"$output")" = h2 ]
	[ "$(jq -c '.disks' <<<"$output")" = '[{"target":"sdb","size":1,"image":"boot","datastore":"fast"},{"target":"sdc","size":16,"datastore":"fast"},{"target":"sdd","size":8}]' ]
	u=$(jq -r .uuid <<<"$output")
	ds=$(lab_host_dir 2)/lib/images/cloudos-fast
	run -0 qemu-img info --output=json -U "$ds/$u-sdb.qcow2"
	[ "$(jq -r '."backing-filename"' <<<"$output")" = "/var/lib/libvirt/images/cloudos/img-$(ck boot)" ]
	run -0 qemu-img info --output=json -U "$ds/$u-sdc.qcow2"
	[ "$(jq -r '."virtual-size"' <<<"$output")" = 16777216 ]
	[ -f "$(pool 2)/$u-sdd.qcow2" ]
	run -0 console d
	assert_output --partial "cloudos-boot-ok"
	# the datastore stays while a VM's disk is in it
	run -5 --separate-stderr cvol datastore remove fast
	[ "$stderr" = "cvol: cannot remove datastore 'fast': 2 disks of VMs are in it (delete the VMs first)" ]
	# too big, and missing: one line, nothing written
	avail=$(sqlite3 "$CLOUDOS_CATALOG" "SELECT available FROM datastore_hosts")
	printf 'name: t\ncpu: 1\nmemory: 64MiB\ndisks:\n  - size: 100TiB\n    datastore: fast\n' > "$T/t.yaml"
	before=$(catalog_digest)
	refused 6 "cvm: disks: 104857600 MiB in datastore 'fast' is more than it has free (at most $avail MiB, on host 'h2')" \
	    cvm create "$T/t.yaml"
	run -6 cvm create --hold "$T/t.yaml"
	printf 'name: t\ncpu: 1\nmemory: 64MiB\ndisks:\n  - size: 1GiB\n    datastore: slow\n' > "$T/t.yaml"
	refused 3 "cvm: disks[0].datastore: no datastore 'slow'" cvm create "$T/t.yaml"
	[ "$(catalog_digest)" = "$before" ]
	[ "$(ls "$ds" | wc -l)" = 2 ]
	# a migration goes only to a host that has the datastore
	run -5 --separate-stderr cvm migrate d --to h1
	[ "$stderr" = "cvm: host 'h1' does not have datastore 'fast', which vm 'd' has disks in" ]
	cvm delete -q d
	[ "$(ls "$ds" | wc -l)" = 0 ]
	run -0 cvol datastore remove fast
}

@test "placement keeps a VM with datastore disks pending until a host has the datastore with room" {
	cvol datastore add fast --host h2 >/dev/null
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE datastore_hosts SET available = 10"
	printf 'name: q\ncpu: 1\nmemory: 64MiB\ndisks:\n  - size: 20MiB\n    datastore: fast\n' > "$T/q.yaml"
	run -6 cvm create "$T/q.yaml"
	# the monitor reads what the pool really has free
	run -0 chost monitor h2 -o json
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT available > 10 AND capacity >= available AND monitored IS NOT NULL FROM datastore_hosts")" = 1 ]
	run -0 cvm create --queue "$T/q.yaml" -o json
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE datastore_hosts SET available = 10"
	run -0 csched plan -o json
	[ -z "$output" ]
	chost monitor -q h2
	run -0 csched plan -o json
	[ "$(jq -r '[.vm, .host] | @tsv' <<<"$output")" = "$(printf 'q\th2')" ]
	cvm delete -q q
	# held while there was room, released when there is none
	chost monitor -q h2
	cvm create -q --hold "$T/q.yaml"
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE datastore_hosts SET available = 10"
	run -6 --separate-stderr cvm release q
	[[ "$stderr" == "cvm: cannot place vm 'q': "*" (with room in the datastores of its disks)" ]]
	cvm delete -q q
	cvol datastore remove -q fast
}

@test "a create killed at any point with an image disk is reconciled: no stray overlay, the cache consistent" {
	for point in vm.intent vm.cache hv.upload vm.cached vm.outcome; do
		CLOUDOS_FAULT=$point run -137 cvm create "$T/a.yaml"
		run -0 --separate-stderr cvm reconcile
		state=$(cvm show a -o json | jq -r .state)
		u=$(uuid_of a)
		case $state in
		running) [ -f "$(pool 1)/$u-sdb.qcow2" ] ;;
		failed) [ ! -e "$(pool 1)/$u-sdb.qcow2" ] ;;
		*) echo "$point: state $state"; false ;;
		esac
		# the cache: ready rows with their volume, nothing else
		run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT state FROM image_hosts"
		[ -z "$output" ] || [ "$output" = ready ]
		if [ "$output" = ready ]; then
			cmp "$T/boot.img" "$(pool 1)/img-$(ck boot)"
		else
			[ ! -e "$(pool 1)/img-$(ck boot)" ]
		fi
		cvm delete -q a
		[ -z "$(ls "$(pool 1)" | grep -- '-sdb.qcow2$' || true)" ]
	done
	# and the next create uses or refills the cache
	run -0 cvm create "$T/a.yaml" -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	run -0 console a
	assert_output --partial "cloudos-boot-ok"
}

@test "an upload whose command died inside its own pid namespace holds the image on no host" {
	# killed once its upload is recorded, as pid 1 of its namespace
	CLOUDOS_FAULT=vm.cache run -137 unshare -p -f --mount-proc cvm create "$T/a.yaml"
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT state || ' ' || pid FROM image_hosts")" = "uploading 1" ]
	# the next command that needs the image there takes the upload over
	# at once (pid 1 here is another process)
	run -0 timeout 60 cvm create "$T/b.yaml" -o json
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT state || ' ' || COALESCE(pid, '-') FROM image_hosts")" = "ready -" ]
	cmp "$T/boot.img" "$(pool 1)/img-$(ck boot)"
	cvm delete -q b
	run -0 --separate-stderr cvm reconcile
	[ "$(cvm show a -o json | jq -r .state)" = failed ]
	# and reconcile removes such an upload
	cvm delete -q a
	sqlite3 "$CLOUDOS_CATALOG" "DELETE FROM image_hosts"
	rm -f "$(pool 1)/img-$(ck boot)"
	virsh -c "$LAB_URI1" pool-refresh cloudos >/dev/null
	CLOUDOS_FAULT=vm.cache run -137 unshare -p -f --mount-proc cvm create "$T/c.yaml"
	run -0 --separate-stderr cvm reconcile
	[ -z "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT state FROM image_hosts")" ]
	[ "$(cvm show c -o json | jq -r .state)" = failed ]
}

@test "a live migration of an image-backed VM killed at any point is reconciled: one overlay, on the VM's host" {
	cvm create -q "$T/a.yaml"
	u=$(uuid_of a)
	for point in vm.intent vm.cache hv.upload vm.cached vm.moved; do
		from=$(cvm show a -o json | jq -r .host)
		to=h1
		[ "$from" = h1 ] && to=h2
		CLOUDOS_FAULT=$point run -137 cvm migrate a --to "$to" --live
		run -0 --separate-stderr cvm reconcile
		run -0 cvm show a -o json
		[ "$(jq -r .state <<<"$output")" = running ] || { echo "$point: $output"; false; }
		host=$(jq -r .host <<<"$output")
		other=1
		[ "$host" = h1 ] && other=2
		[ -f "$(pool "${host#h}")/$u-sdb.qcow2" ]
		[ ! -e "$(pool "$other")/$u-sdb.qcow2" ] || { echo "$point: stray overlay on h$other"; false; }
		# every cache row is ready and its volume is the image
		run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT DISTINCT state FROM image_hosts"
		[ -z "$output" ] || [ "$output" = ready ]
		for h in $(sqlite3 "$CLOUDOS_CATALOG" "SELECT host_id FROM image_hosts"); do
			cmp "$T/boot.img" "$(pool "$h")/img-$(ck boot)"
		done
		for h in 1 2; do
			if [ -e "$(pool $h)/img-$(ck boot)" ]; then
				[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM image_hosts WHERE host_id = $h")" = 1 ]
			fi
		done
	done
	run -0 console a
	assert_output --partial "cloudos-boot-ok"
}

@test "HA restarts an image-backed VM whose host is silent on another host, its disk cloned afresh" {
	printf 'name: h\ncpu: 1\nmemory: 64MiB\nha: restart\nrequirements: name =~ "h*"\ndisks:\n  - image: boot\n' > "$T/h.yaml"
	printf '  - size: 8MiB\n' | cat "$T/a.yaml" - > "$T/w.yaml"
	sed -i 's/^name: a$/name: w/; s/^requirements.*//' "$T/w.yaml"
	printf 'ha: restart\n' >> "$T/w.yaml"
	cvm create -q "$T/h.yaml"
	cvm create -q "$T/w.yaml"
	[ "$(cvm show h -o json | jq -r .host)" = h1 ]
	[ "$(cvm show w -o json | jq -r .host)" = h1 ]
	u=$(uuid_of h)
	"$CLOUDOS_SRCDIR/tests/lab/lab-host" stop "$(lab_host_dir 1)"
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET state = 'error' WHERE name = 'h1'"
	# partial: h1 did not answer
	run -8 --separate-stderr cvm reconcile -o json
	[ "$(jq -r 'select(.name == "h") | [.state, .host] | @tsv' <<<"$output")" = "$(printf 'running\th2')" ]
	# w has a blank disk, whose data is on h1: it waits there
	[ -z "$(jq -r 'select(.name == "w") | .name' <<<"$output")" ]
	[ "$(cvm show w -o json | jq -r .host)" = h1 ]
	run -0 cvm history h -o json
	jq -s -e 'any(.[]; .action == "ha" and .detail == "host '"'h1'"' is in error; HA restarted it on host '"'h2'"', its disks cloned afresh from their images")' <<<"$output"
	[ -f "$(pool 2)/$u-sdb.qcow2" ]
	run -0 console h
	assert_output --partial "cloudos-boot-ok"
	# h1 comes back: the stale copy and its overlay go
	LAB_URI1=$("$CLOUDOS_SRCDIR/tests/lab/lab-host" start "$(lab_host_dir 1)")
	run -0 --separate-stderr cvm reconcile
	[[ "$stderr" == *"host 'h1': stale copy of vm 'h' removed"* ]]
	[ ! -e "$(pool 1)/$u-sdb.qcow2" ]
	[ -f "$(pool 1)/$(uuid_of w)-sdb.qcow2" ]
}

@test "a VM document without cpu or memory takes the size its image suggests; apply keeps it" {
	printf 'name: s\nrequirements: name == "h1"\ndisks:\n  - image: boot\n' > "$T/s.yaml"
	# no suggestion yet: refused, naming the image, nothing written
	refused 2 "cvm: $T/s.yaml: line 1: cpu: missing, and image 'boot' suggests none (cimg set --cpu)" \
	    cvm create "$T/s.yaml"
	cimg set boot --cpu 1 --memory 64MiB -q
	run -0 cvm create "$T/s.yaml" -o json
	[ "$(jq -c '[.state, .cpu, .memory]' <<<"$output")" = '["running",1,64]' ]
	run -0 virsh -c "$LAB_URI1" dumpxml "cloudos-$(uuid_of s)"
	assert_output --partial "<memory unit='KiB'>65536</memory>"
	# memory given, cpu from the image
	printf 'name: t\nmemory: 96MiB\nrequirements: name == "h1"\ndisks:\n  - image: boot\n' > "$T/t.yaml"
	run -0 cvm create "$T/t.yaml" --hold -o json
	[ "$(jq -c '[.cpu, .memory]' <<<"$output")" = '[1,96]' ]
	# applying the same document changes nothing
	before=$(catalog_digest)
	run -0 cvm apply "$T/s.yaml" -q
	[ "$(catalog_digest)" = "$before" ]
}

@test "cvm create refuses an image whose file changed since its import (exit 1), changing nothing" {
	file="$(dirname "$CLOUDOS_CATALOG")/images/$(cimg show boot -o json | jq -r .id)"
	cp "$file" "$T/boot.orig"
	# the same size, one byte altered: found when it first goes to a host
	printf 'X' | dd of="$file" bs=1 seek=100 conv=notrunc 2>/dev/null
	before=$(catalog_digest)
	run -1 --separate-stderr cvm create "$T/a.yaml"
	assert_output ""
	[[ "$stderr" == "cvm: disks[0].image: image 'boot': its file does not match its checksum (xxh128:$(ck boot) recorded, xxh128:"*" found)" ]] || { echo "$stderr"; false; }
	[ "$(catalog_digest)" = "$before" ]
	[ -z "$(ls "$(pool 1)" 2>/dev/null | grep img- || true)" ]
	[ "$(uploads)" = 0 ]
	# truncated: found before anything is tried
	truncate -s 256 "$file"
	run -1 --separate-stderr cvm create "$T/a.yaml"
	assert_output ""
	[ "$stderr" = "cvm: disks[0].image: image 'boot': its file has 256 bytes, not the $(stat -c %s "$T/boot.orig") recorded" ]
	[ "$(catalog_digest)" = "$before" ]
	# the file as it came: the VM is made
	cp "$T/boot.orig" "$file"
	run -0 cvm create -q "$T/a.yaml"
	[ "$(uploads)" = 1 ]
	# altered once cached on h1: the first upload to h2 finds it, and
	# the VM placed there fails; h1's copy still serves
	printf 'X' | dd of="$file" bs=1 seek=100 conv=notrunc 2>/dev/null
	sed 's/name == "h1"/name == "h2"/' "$T/b.yaml" > "$T/b2.yaml"
	run -1 --separate-stderr cvm create "$T/b2.yaml"
	[[ "$stderr" == "cvm: cannot deploy vm 'b' on host 'h2': cannot bring image 'boot' to host 'h2': image 'boot': its file does not match its checksum (xxh128:$(ck boot) recorded, xxh128:"*" found) (vm left in state failed)" ]] || { echo "$stderr"; false; }
	[ -z "$(ls "$(pool 2)" 2>/dev/null | grep img- || true)" ]
	[ "$(uploads)" = 1 ]
	run -0 cvm create -q "$T/c.yaml"
}
