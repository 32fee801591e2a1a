#!/usr/bin/env bats
# cimg clone, export and OVA import: OVAs built here (an OVF written by
# hand, streamOptimized vmdks made by qemu-img, tar with the OVF first),
# hostile ones built with python's tarfile, exports read back by cimg,
# qemu-img, python's tarfile and an XML check of the descriptor.

load helpers/common

setup() {
	fresh_catalog
	REPO="$BATS_TEST_TMPDIR/images"
	cimg list >/dev/null	# create the catalog, so digests compare
	W="$BATS_TEST_TMPDIR/ova"
	mkdir "$W"
	head -c 3145728 /dev/urandom > "$BATS_TEST_TMPDIR/disk.raw"
	SRV_PID=
}

teardown() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
}

repo_files() {
	ls -A "$REPO" 2>/dev/null || true
}

# write_ovf FILE HREF...: an OVF 1.0 descriptor naming one disk per HREF
# (3 MiB each), 2 vCPUs and 256 MiB ("byte * 2^20")
write_ovf() {
	local f=$1 i=0 h
	shift
	{
		cat <<-'HEAD'
		<?xml version="1.0" encoding="UTF-8"?>
		<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
		    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
		    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
		    xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
		  <References>
		HEAD
		for h in "$@"; do
			i=$((i + 1))
			echo "    <File ovf:href=\"$h\" ovf:id=\"file$i\"/>"
		done
		echo '  </References>'
		echo '  <DiskSection><Info>disks</Info>'
		i=0
		for h in "$@"; do
			i=$((i + 1))
			echo "    <Disk ovf:capacity=\"3\" ovf:capacityAllocationUnits=\"byte * 2^20\" ovf:diskId=\"vmdisk$i\" ovf:fileRef=\"file$i\" ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\"/>"
		done
		cat <<-'TAIL'
		  </DiskSection>
		  <VirtualSystem ovf:id="appliance">
		    <Info>an appliance</Info>
		    <Name>appliance</Name>
		    <AnnotationSection><Info>note</Info><Annotation>a test appliance</Annotation></AnnotationSection>
		    <OperatingSystemSection ovf:id="96"><Info>os</Info><Description>Debian 12</Description></OperatingSystemSection>
		    <VirtualHardwareSection>
		      <Info>hardware</Info>
		      <Item>
		        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
		        <rasd:ElementName>2 virtual CPUs</rasd:ElementName>
		        <rasd:InstanceID>1</rasd:InstanceID>
		        <rasd:ResourceType>3</rasd:ResourceType>
		        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
		      </Item>
		      <Item>
		        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
		        <rasd:ElementName>256 MB of memory</rasd:ElementName>
		        <rasd:InstanceID>2</rasd:InstanceID>
		        <rasd:ResourceType>4</rasd:ResourceType>
		        <rasd:VirtualQuantity>256</rasd:VirtualQuantity>
		      </Item>
		    </VirtualHardwareSection>
		  </VirtualSystem>
		</Envelope>
		TAIL
	} > "$f"
}

# vmdk SRC DST: SRC as a streamOptimized vmdk
vmdk() {
	qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "$1" "$2"
}

# manifest ALGO FILE...: ALGO(FILE)= HEX lines for the files in W
manifest() {
	local algo=$1 f
	shift
	for f in "$@"; do
		case $algo in
		SHA256) echo "SHA256($f)= $(sha256sum < "$W/$f" | cut -c1-64)" ;;
		SHA1) echo "SHA1($f)= $(sha1sum < "$W/$f" | cut -c1-40)" ;;
		esac
	done
}

# make_ova OUT: appliance.ovf, appliance.mf (SHA256), disk1.vmdk of
# disk.raw, in that order
make_ova() {
	vmdk "$BATS_TEST_TMPDIR/disk.raw" "$W/disk1.vmdk"
	write_ovf "$W/appliance.ovf" disk1.vmdk
	manifest SHA256 appliance.ovf disk1.vmdk > "$W/appliance.mf"
	tar -C "$W" --format=ustar -cf "$1" appliance.ovf appliance.mf disk1.vmdk
}

# catalog_content: the catalog's dump without sqlite_sequence, the
# AUTOINCREMENT counter that a row made and removed again moves on
catalog_content() {
	sqlite3 "$CLOUDOS_CATALOG" .dump | grep -v sqlite_sequence | sha256sum
}

# refused_img CODE LINE CMD...: refused (helpers/common.bash), and no file
# left in the repository
refused_img() {
	refused "$@" || return 1
	[ -z "$(repo_files)" ] || { echo "left: $(repo_files)"; return 1; }
}

# refused_late CODE LINE CMD...: for refusals found after the image row
# was taken (the disk's bytes read): only the row counter moved; no file
# left in the repository
refused_late() {
	refused_by catalog_content "$@" || return 1
	[ -z "$(repo_files)" ] || { echo "left: $(repo_files)"; return 1; }
}

@test "cimg clone makes a full, independent copy with its own file" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name base --os debian -q
	run -0 cimg set base --label tier=base -q
	run -0 --separate-stderr cimg clone base copy -o json
	[ -z "$stderr" ]
	[ "$(jq -r .id <<<"$output")" = 2 ]
	[ "$(jq -r .state <<<"$output")" = ready ]
	[ "$(jq -r .format <<<"$output")" = raw ]
	[ "$(jq -r .os <<<"$output")" = debian ]
	[ "$(jq -r .labels.tier <<<"$output")" = base ]
	[ "$(jq -r .checksum <<<"$output")" = "xxh128:$(xxhsum -H2 < "$BATS_TEST_TMPDIR/disk.raw" | cut -c1-32)" ]
	[ "$(jq -r .sha256 <<<"$output")" = null ]
	cmp "$REPO/1" "$REPO/2"
	[ "$(stat -c %i "$REPO/1")" != "$(stat -c %i "$REPO/2")" ]
	[ "$(stat -c %a "$REPO/2")" = 600 ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT action, object_name, detail FROM audit WHERE action = 'clone'")" = "clone|copy|base" ]
	# the copy outlives its original, and is its own
	run -0 cimg delete base
	[ ! -e "$REPO/1" ]
	run -0 cimg show copy -o json
	[ "$(jq -r .state <<<"$output")" = ready ]
	cmp "$REPO/2" "$BATS_TEST_TMPDIR/disk.raw"
}

@test "cimg import and clone keep the holes of a sparse image" {
	truncate -s 1G "$BATS_TEST_TMPDIR/sparse.raw"
	printf 'data' | dd of="$BATS_TEST_TMPDIR/sparse.raw" bs=1 seek=104857600 conv=notrunc status=none
	run -0 cimg import "$BATS_TEST_TMPDIR/sparse.raw" --name sparse -o json
	# the holes hash as the zeros they read as
	[ "$(jq -r .checksum <<<"$output")" = "xxh128:$(xxhsum -H2 < "$BATS_TEST_TMPDIR/sparse.raw" | cut -c1-32)" ]
	[ "$(stat -c %b "$REPO/1")" -lt 1024 ]
	run -0 cimg clone sparse copy -o json
	[ "$(jq -r .size <<<"$output")" = 1073741824 ]
	[ "$(stat -c %s "$REPO/2")" = 1073741824 ]
	# a few KiB allocated, not 1 GiB
	[ "$(stat -c %b "$REPO/2")" -lt 1024 ]
	cmp "$REPO/2" "$BATS_TEST_TMPDIR/sparse.raw"
}

@test "cimg clone takes the new name from --name too" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name base -q
	run -0 cimg clone base --name other -o ids
	[ "$output" = 2 ]
	run -0 cimg list -o json
	[ "$(jq -r .name <<<"$output" | sort | tr '\n' ' ')" = "base other " ]
}

@test "cimg clone refuses a taken name, a missing image and a bad name" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name base -q
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name taken -q
	refused 5 "cimg: image 'taken' exists already" cimg clone base taken
	refused 3 "cimg: no image 'nosuch'" cimg clone nosuch new
	refused 2 "cimg: image name '123' is all digits (it would read as an id)" \
	    cimg clone base 123
	refused 2 "cimg: usage: cimg clone IMAGE NEW (or IMAGE --name NEW)" cimg clone base
	[ "$(repo_files | tr '\n' ' ')" = "1 2 " ]
}

@test "cimg clone refuses an image being imported, and one the repository has no room for" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name base -q
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE images SET state = 'locked' WHERE name = 'base'"
	refused 5 "cimg: cannot clone image 'base': it is locked" cimg clone base copy
	[ "$(repo_files)" = 1 ]
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE images SET state = 'ready' WHERE name = 'base'"
	[ "$(id -u)" = 0 ] || skip "needs root for a small tmpfs in a mount namespace"
	# a 5 MiB repository: the 3 MiB image fits, its copy does not
	run -6 --separate-stderr unshare -m sh -c 'mount -t tmpfs -o size=5m,mode=0700 tmpfs "$1" &&
	    cimg import "$2" --name small -q && exec cimg clone small copy' sh "$REPO" "$BATS_TEST_TMPDIR/disk.raw"
	[ "$stderr" = "cimg: cannot clone image 'small': it needs 3 MiB and the image repository has 2 MiB free" ]
	run -0 cimg list -o json
	[ "$(jq -r .name <<<"$output" | tr '\n' ' ')" = "base small " ]
}

@test "cimg import of an OVA makes a qcow2 image with the OVF's cpu, memory, annotation and os" {
	make_ova "$BATS_TEST_TMPDIR/app.ova"
	run -0 --separate-stderr cimg import "$BATS_TEST_TMPDIR/app.ova" --name app -o json
	[ -z "$stderr" ]
	[ "$(jq -r .state <<<"$output")" = ready ]
	[ "$(jq -r .format <<<"$output")" = qcow2 ]
	[ "$(jq -r .virtual_size <<<"$output")" = 3 ]
	[ "$(jq -r .cpu <<<"$output")" = 2 ]
	[ "$(jq -r .memory <<<"$output")" = 256 ]
	[ "$(jq -r .description <<<"$output")" = "a test appliance" ]
	[ "$(jq -r .os <<<"$output")" = "Debian 12" ]
	[ "$(jq -r .source <<<"$output")" = "$BATS_TEST_TMPDIR/app.ova" ]
	[ "$(jq -r .checksum <<<"$output")" = "xxh128:$(xxhsum -H2 < "$REPO/1" | cut -c1-32)" ]
	[ "$(jq -r .sha256 <<<"$output")" = null ]
	[ "$(jq -r .size <<<"$output")" = "$(stat -c %s "$REPO/1")" ]
	[ "$(repo_files)" = 1 ]
	[ "$(stat -c %a "$REPO/1")" = 600 ]
	run -0 qemu-img info --output=json "$REPO/1"
	[ "$(jq -r .format <<<"$output")" = qcow2 ]
	qemu-img compare -q -f raw -F qcow2 "$BATS_TEST_TMPDIR/disk.raw" "$REPO/1"
	# what was asked wins over the descriptor; show has the size
	run -0 cimg import "$BATS_TEST_TMPDIR/app.ova" --name app2 --os alpine -o json
	[ "$(jq -r .os <<<"$output")" = alpine ]
	run -0 cimg show app -o yaml
	assert_line "cpu: 2"
	assert_line "memory: 256"
}

@test "cimg import of an OVA takes the entries in any order and a SHA1 manifest" {
	vmdk "$BATS_TEST_TMPDIR/disk.raw" "$W/disk1.vmdk"
	write_ovf "$W/appliance.ovf" disk1.vmdk
	manifest SHA1 appliance.ovf disk1.vmdk > "$W/appliance.mf"
	tar -C "$W" --format=gnu -cf "$BATS_TEST_TMPDIR/app.ova" ./disk1.vmdk ./appliance.mf ./appliance.ovf
	run -0 cimg import "$BATS_TEST_TMPDIR/app.ova" --name app -o json
	[ "$(jq -r .state <<<"$output")" = ready ]
	qemu-img compare -q -f raw -F qcow2 "$BATS_TEST_TMPDIR/disk.raw" "$REPO/1"
}

@test "cimg import of an OVA with two disks makes an image of each" {
	head -c 2097152 /dev/urandom > "$BATS_TEST_TMPDIR/two.raw"
	vmdk "$BATS_TEST_TMPDIR/disk.raw" "$W/disk1.vmdk"
	vmdk "$BATS_TEST_TMPDIR/two.raw" "$W/disk2.vmdk"
	write_ovf "$W/appliance.ovf" disk1.vmdk disk2.vmdk
	tar -C "$W" -cf "$BATS_TEST_TMPDIR/app.ova" appliance.ovf disk1.vmdk disk2.vmdk
	run -0 --separate-stderr cimg import "$BATS_TEST_TMPDIR/app.ova" --name app -o json
	[ "${#lines[@]}" = 2 ]
	[ "$(jq -r .name <<<"${lines[0]}")" = app ]
	[ "$(jq -r .name <<<"${lines[1]}")" = app-disk2 ]
	[ "$(jq -r .cpu <<<"${lines[1]}")" = 2 ]
	[ "$(jq -r .state <<<"${lines[1]}")" = ready ]
	qemu-img compare -q -f raw -F qcow2 "$BATS_TEST_TMPDIR/disk.raw" "$REPO/1"
	qemu-img compare -q -f raw -F qcow2 "$BATS_TEST_TMPDIR/two.raw" "$REPO/2"
	[ "$(repo_files | tr '\n' ' ')" = "1 2 " ]
}

@test "cimg import of an OVA from a URL downloads it, then imports it" {
	make_ova "$BATS_TEST_TMPDIR/app.ova"
	mkdir "$BATS_TEST_TMPDIR/srv"
	mv "$BATS_TEST_TMPDIR/app.ova" "$BATS_TEST_TMPDIR/srv/"
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	python3 -m http.server -b 127.0.0.1 -d "$BATS_TEST_TMPDIR/srv" "$PORT" >/dev/null 2>&1 3>&- &
	SRV_PID=$!
	wait_for 30 port_open "$PORT"
	run -0 cimg import "http://127.0.0.1:$PORT/app.ova" --name app -o json
	[ "$(jq -r .format <<<"$output")" = qcow2 ]
	[ "$(jq -r .cpu <<<"$output")" = 2 ]
	[ "$(jq -r .source <<<"$output")" = "http://127.0.0.1:$PORT/app.ova" ]
	qemu-img compare -q -f raw -F qcow2 "$BATS_TEST_TMPDIR/disk.raw" "$REPO/1"
	[ "$(repo_files)" = 1 ]
}

@test "cimg import refuses an OVA entry named with ../ and writes nothing outside" {
	write_ovf "$W/appliance.ovf" disk1.vmdk
	python3 "$CLOUDOS_SRCDIR/tests/helpers/evil-ova.py" "$W/evil.ova" dotdot "$W/appliance.ovf"
	refused_img 2 "cimg: $W/evil.ova: entry '../escaped.vmdk' climbs out of the archive's folder ('..')" \
	    cimg import "$W/evil.ova" --name evil
	[ ! -e "$BATS_TEST_TMPDIR/escaped.vmdk" ]
	[ ! -e "$W/../escaped.vmdk" ]
}

@test "cimg import refuses an OVA entry with an absolute path" {
	write_ovf "$W/appliance.ovf" disk1.vmdk
	python3 "$CLOUDOS_SRCDIR/tests/helpers/evil-ova.py" "$W/evil.ova" absolute "$W/appliance.ovf" "$BATS_TEST_TMPDIR/abs.vmdk"
	refused_img 2 "cimg: $W/evil.ova: entry '$BATS_TEST_TMPDIR/abs.vmdk' is an absolute path" \
	    cimg import "$W/evil.ova" --name evil
	[ ! -e "$BATS_TEST_TMPDIR/abs.vmdk" ]
}

@test "cimg import refuses OVA entries that are links, devices or FIFOs" {
	write_ovf "$W/appliance.ovf" disk1.vmdk
	cd "$W"
	python3 "$CLOUDOS_SRCDIR/tests/helpers/evil-ova.py" sym.ova symlink appliance.ovf
	refused_img 2 "cimg: sym.ova: entry 'disk1.vmdk' is a symbolic link" cimg import sym.ova --name evil
	python3 "$CLOUDOS_SRCDIR/tests/helpers/evil-ova.py" hard.ova hardlink appliance.ovf
	refused_img 2 "cimg: hard.ova: entry 'disk1.vmdk' is a hard link" cimg import hard.ova --name evil
	python3 "$CLOUDOS_SRCDIR/tests/helpers/evil-ova.py" dev.ova device appliance.ovf
	refused_img 2 "cimg: dev.ova: entry 'disk1.vmdk' is not a regular file (a device, FIFO or socket)" cimg import dev.ova --name evil
	python3 "$CLOUDOS_SRCDIR/tests/helpers/evil-ova.py" fifo.ova fifo appliance.ovf
	refused_img 2 "cimg: fifo.ova: entry 'disk1.vmdk' is not a regular file (a device, FIFO or socket)" cimg import fifo.ova --name evil
}

@test "cimg import refuses an OVF naming a disk the OVA does not hold" {
	vmdk "$BATS_TEST_TMPDIR/disk.raw" "$W/disk1.vmdk"
	write_ovf "$W/appliance.ovf" disk1.vmdk missing.vmdk
	tar -C "$W" -cf "$W/app.ova" appliance.ovf disk1.vmdk
	refused_img 2 "cimg: $W/app.ova: the OVF names disk file 'missing.vmdk', which the archive does not hold" \
	    cimg import "$W/app.ova" --name app
}

@test "cimg import refuses an OVF naming a disk outside the package" {
	write_ovf "$W/appliance.ovf" ../../etc/passwd
	tar -C "$W" -cf "$W/app.ova" appliance.ovf
	refused_img 2 "cimg: $W/app.ova: the OVF names disk file '../../etc/passwd', outside the package" \
	    cimg import "$W/app.ova" --name app
}

@test "cimg import refuses an OVA whose manifest digest does not match" {
	make_ova "$W/good.ova"
	good=$(sha256sum < "$W/disk1.vmdk" | cut -c1-64)
	bad=$(printf '%064d' 0)
	sed -i "s/$good/$bad/" "$W/appliance.mf"
	tar -C "$W" -cf "$W/app.ova" appliance.ovf appliance.mf disk1.vmdk
	refused_late 2 "cimg: $W/app.ova: the manifest gives SHA256 $bad for 'disk1.vmdk', its bytes have $good" \
	    cimg import "$W/app.ova" --name app
}

@test "cimg import refuses an OVA whose vmdk is corrupt" {
	vmdk "$BATS_TEST_TMPDIR/disk.raw" "$W/disk1.vmdk"
	# keep the header, break the grains: qemu-img cannot inflate them
	dd if=/dev/urandom of="$W/disk1.vmdk" bs=512 seek=128 count=64 conv=notrunc status=none
	write_ovf "$W/appliance.ovf" disk1.vmdk
	tar -C "$W" -cf "$W/app.ova" appliance.ovf disk1.vmdk
	run -2 --separate-stderr cimg import "$W/app.ova" --name app
	[[ "$stderr" == "cimg: $W/app.ova: disk file 'disk1.vmdk': qemu-img: "* ]]
	[ "${#stderr_lines[@]}" = 1 ]
	[ -z "$output" ]
	[ -z "$(repo_files)" ]
	run -0 cimg list -o ids
	[ -z "$output" ]
}

@test "cimg import refuses an OVA disk that would read other files" {
	qemu-img create -q -f qcow2 "$BATS_TEST_TMPDIR/base.qcow2" 8M
	qemu-img create -q -f qcow2 -b "$BATS_TEST_TMPDIR/base.qcow2" -F qcow2 "$W/disk1.vmdk"
	write_ovf "$W/appliance.ovf" disk1.vmdk
	tar -C "$W" -cf "$W/app.ova" appliance.ovf disk1.vmdk
	refused_late 2 "cimg: $W/app.ova: disk file 'disk1.vmdk' is refused: a qcow2 image with a backing file" \
	    cimg import "$W/app.ova" --name app
	printf '# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\nRW 16 FLAT "/etc/passwd" 0\n' > "$W/disk1.vmdk"
	tar -C "$W" -cf "$W/app.ova" appliance.ovf disk1.vmdk
	refused_late 2 "cimg: $W/app.ova: disk file 'disk1.vmdk' is refused: a vmdk descriptor (its data is in other files)" \
	    cimg import "$W/app.ova" --name app
}

@test "cimg import refuses a truncated OVA, one without a descriptor, and a bad sha256" {
	make_ova "$W/app.ova"
	head -c 4000 "$W/app.ova" > "$W/short.ova"
	run -2 --separate-stderr cimg import "$W/short.ova" --name app
	[[ "$stderr" == "cimg: $W/short.ova: truncated or corrupt tar archive"* ]]
	[ -z "$(repo_files)" ]
	tar -C "$W" -cf "$W/noovf.ova" disk1.vmdk
	refused_img 2 "cimg: $W/noovf.ova: holds no OVF descriptor (.ovf)" cimg import "$W/noovf.ova" --name app
	echo '<Envelope xmlns="urn:other"/>' > "$W/appliance.ovf"
	tar -C "$W" -cf "$W/other.ova" appliance.ovf disk1.vmdk
	refused_img 2 "cimg: $W/other.ova: appliance.ovf: not an OVF descriptor (no Envelope in the namespace http://schemas.dmtf.org/ovf/envelope/1)" \
	    cimg import "$W/other.ova" --name app
	python3 -c 'import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for i in range(5000):
        t.addfile(tarfile.TarInfo("f%d" % i), io.BytesIO(b""))' "$W/bomb.ova"
	refused_img 2 "cimg: $W/bomb.ova: holds more than 4096 files" cimg import "$W/bomb.ova" --name app
	sum=$(sha256sum < "$W/app.ova" | cut -c1-64)
	zero=$(printf '%064d' 0)
	refused_img 2 "cimg: cannot import '$W/app.ova': sha256 is $sum, not $zero as given" \
	    cimg import "$W/app.ova" --name app --sha256 "$zero"
	run -0 cimg import "$W/app.ova" --name app --sha256 "$sum" -o json
	[ "$(jq -r .state <<<"$output")" = ready ]
}

@test "cimg import refuses a disk larger than the repository's free space" {
	[ "$(id -u)" = 0 ] || skip "needs root for a small tmpfs in a mount namespace"
	mkdir -p "$REPO"
	make_ova "$W/app.ova"
	before=$(catalog_digest)
	# a 2 MiB file system on the repository, seen by this command only
	refused 6 "cimg: cannot import '$BATS_TEST_TMPDIR/disk.raw': it needs 3 MiB and the image repository has 2 MiB free" \
	    unshare -m sh -c 'mount -t tmpfs -o size=2m,mode=0700 tmpfs "$1" && shift && exec "$@"' sh "$REPO" \
	    cimg import "$BATS_TEST_TMPDIR/disk.raw" --name big
	run -6 --separate-stderr unshare -m sh -c 'mount -t tmpfs -o size=2m,mode=0700 tmpfs "$1" && shift && exec "$@"' sh "$REPO" \
	    cimg import "$W/app.ova" --name big
	[[ "$stderr" == "cimg: cannot import '$W/app.ova': it needs "*" MiB and the image repository has 2 MiB free" ]] || { echo "$stderr"; false; }
	[ "$(catalog_digest)" = "$before" ]
	[ -z "$(repo_files)" ]
	# a sparse file needs only the room of its data
	truncate -s 1G "$BATS_TEST_TMPDIR/sparse.raw"
	run -0 unshare -m sh -c 'mount -t tmpfs -o size=2m,mode=0700 tmpfs "$1" && shift && exec "$@"' sh "$REPO" \
	    cimg import "$BATS_TEST_TMPDIR/sparse.raw" --name sparse -o json
	[ "$(jq -r .size <<<"$output")" = 1073741824 ]
}

@test "cimg import refuses a URL whose length exceeds the repository's free space" {
	[ "$(id -u)" = 0 ] || skip "needs root for a small tmpfs in a mount namespace"
	mkdir -p "$REPO" "$BATS_TEST_TMPDIR/srv"
	cp "$BATS_TEST_TMPDIR/disk.raw" "$BATS_TEST_TMPDIR/srv/"
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	python3 -m http.server -b 127.0.0.1 -d "$BATS_TEST_TMPDIR/srv" "$PORT" >/dev/null 2>&1 3>&- &
	SRV_PID=$!
	wait_for 30 port_open "$PORT"
	before=$(catalog_content)
	run -6 --separate-stderr unshare -m sh -c 'mount -t tmpfs -o size=2m,mode=0700 tmpfs "$1" && shift && exec "$@"' sh "$REPO" \
	    cimg import "http://127.0.0.1:$PORT/disk.raw" --name big
	[ "$stderr" = "cimg: cannot import 'http://127.0.0.1:$PORT/disk.raw': it needs 3 MiB and the image repository has 2 MiB free" ]
	[ -z "$output" ]
	[ "$(catalog_content)" = "$before" ]
	[ -z "$(repo_files)" ]
}

@test "cimg export writes an OVA that cimg import reads back identical" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name src --os debian --description "a disk" -q
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE images SET cpu = 2, memory = 128 WHERE name = 'src'"
	run -0 --separate-stderr cimg export src -f "$W/src.ova"
	[ "$stderr" = "cimg: exported image 'src' to '$W/src.ova'" ]
	[ -z "$output" ]
	cimg export src > "$W/stdout.ova"
	cmp <(tar tvf "$W/src.ova" | awk '{print $3, $6}') <(tar tvf "$W/stdout.ova" | awk '{print $3, $6}')
	run -0 cimg import "$W/src.ova" --name back -o json
	[ "$(jq -r .format <<<"$output")" = qcow2 ]
	[ "$(jq -r .cpu <<<"$output")" = 2 ]
	[ "$(jq -r .memory <<<"$output")" = 128 ]
	[ "$(jq -r .os <<<"$output")" = debian ]
	[ "$(jq -r .description <<<"$output")" = "a disk" ]
	[ "$(jq -r .virtual_size <<<"$output")" = 3 ]
	qemu-img compare -q -f raw -F qcow2 "$REPO/1" "$REPO/2"
	# and a qcow2 image goes round too
	run -0 cimg export back -f "$W/back.ova"
	run -0 cimg import "$W/back.ova" --name again -q
	qemu-img compare -q -f qcow2 -F qcow2 "$REPO/2" "$REPO/3"
	[ "$(repo_files | tr '\n' ' ')" = "1 2 3 " ]
}

@test "cimg export writes what other OVF tools read: tar order, manifest, vmdk, DMTF names" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name "my disk" -q
	run -0 cimg export "my disk" -f "$W/x.ova"
	run -0 tar tf "$W/x.ova"
	[ "$output" = $'my_disk.ovf\nmy_disk.mf\nmy_disk-disk1.vmdk' ]
	mkdir "$W/x"
	tar -C "$W/x" -xf "$W/x.ova"
	(cd "$W/x" && sed 's/^SHA256(\(.*\))= \(.*\)$/\2  \1/' my_disk.mf | sha256sum -c --quiet)
	run -0 qemu-img info --output=json "$W/x/my_disk-disk1.vmdk"
	[ "$(jq -r .format <<<"$output")" = vmdk ]
	[ "$(jq -r '.["format-specific"].data["create-type"]' <<<"$output")" = streamOptimized ]
	[ "$(jq -r '.["virtual-size"]' <<<"$output")" = 3145728 ]
	qemu-img compare -q -f vmdk -F raw "$W/x/my_disk-disk1.vmdk" "$BATS_TEST_TMPDIR/disk.raw"
	run -0 python3 - "$W/x.ova" "$W/x/my_disk.ovf" <<-'PY'
	import sys, tarfile
	import xml.etree.ElementTree as ET
	t = tarfile.open(sys.argv[1])
	assert all(m.isreg() for m in t.getmembers())
	assert t.getnames()[0].endswith(".ovf")
	OVF = "{http://schemas.dmtf.org/ovf/envelope/1}"
	CIM = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
	RASD = "{" + CIM + "CIM_ResourceAllocationSettingData}"
	VSSD = "{" + CIM + "CIM_VirtualSystemSettingData}"
	root = ET.parse(sys.argv[2]).getroot()
	assert root.tag == OVF + "Envelope", root.tag
	assert [c.tag for c in root] == [OVF + "References", OVF + "DiskSection", OVF + "VirtualSystem"]
	f = root.find(OVF + "References/" + OVF + "File")
	assert f.get(OVF + "href") == "my_disk-disk1.vmdk"
	assert int(f.get(OVF + "size")) == t.getmember("my_disk-disk1.vmdk").size
	d = root.find(OVF + "DiskSection/" + OVF + "Disk")
	assert d.get(OVF + "fileRef") == f.get(OVF + "id")
	assert d.get(OVF + "capacity") == "3145728"
	assert d.get(OVF + "format").endswith("#streamOptimized")
	vs = root.find(OVF + "VirtualSystem")
	assert vs[0].tag == OVF + "Info"
	hw = vs.find(OVF + "VirtualHardwareSection")
	assert hw[0].tag == OVF + "Info" and hw[1].tag == OVF + "System"
	assert [e.tag[len(VSSD):] for e in hw[1]] == ["ElementName", "InstanceID", "VirtualSystemIdentifier", "VirtualSystemType"]
	items = hw.findall(OVF + "Item")
	for it in items:
	    names = [e.tag[len(RASD):] for e in it]
	    assert all(e.tag.startswith(RASD) for e in it)
	    assert names == sorted(names), names  # CIM schema order
	kinds = {it.find(RASD + "ResourceType").text: it for it in items}
	assert kinds["3"].find(RASD + "VirtualQuantity").text == "1"
	assert kinds["4"].find(RASD + "VirtualQuantity").text == "1024"
	assert kinds["17"].find(RASD + "HostResource").text == "ovf:/disk/" + d.get(OVF + "diskId")
	print("ok")
	PY
	[ "$output" = ok ]
}

@test "cimg export refuses a terminal, a missing image and a folder it cannot write" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name src -q
	before=$(catalog_digest)
	run -2 script -qec "cimg export src" /dev/null
	[ "${output%$'\r'}" = "cimg: cannot export image 'src': standard output is a terminal (redirect it, or give -f FILE)" ]
	refused 3 "cimg: no image 'nosuch'" cimg export nosuch -f "$W/n.ova"
	[ ! -e "$W/n.ova" ]
	refused 3 "cimg: cannot export image 'src': cannot create '$W/no/such/dir.ova': No such file or directory" \
	    cimg export src -f "$W/no/such/dir.ova"
	refused 2 "cimg: usage: cimg export IMAGE [-f FILE] (or > FILE)" cimg export
	# a reader that leaves early is no error, and nothing is left behind
	run -0 --separate-stderr bash -c 'cimg export src | head -c 1000 >/dev/null; echo "${PIPESTATUS[0]}"'
	[ "$output" = 0 ]
	[ -z "$stderr" ]
	[ "$(catalog_digest)" = "$before" ]
	[ "$(repo_files)" = 1 ]
}

@test "cimg completion offers clone and export, image names, and files for export -f" {
	source "$CLOUDOS_SRCDIR/completions/cloudos.bash"
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name deb -q
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name alpine -q
	COMP_WORDS=(cimg "") COMP_CWORD=1 COMPREPLY=()
	_cloudos
	[[ " ${COMPREPLY[*]} " == *" clone "* && " ${COMPREPLY[*]} " == *" export "* ]]
	COMP_WORDS=(cimg export d) COMP_CWORD=2 COMPREPLY=()
	_cloudos
	[ "${COMPREPLY[*]}" = deb ]
	COMP_WORDS=(cimg clone "") COMP_CWORD=2 COMPREPLY=()
	_cloudos
	[ "${COMPREPLY[*]}" = "alpine deb" ]
	touch "$W/out.ova"
	COMP_WORDS=(cimg export deb -f "$W/ou") COMP_CWORD=4 COMPREPLY=()
	_cloudos
	[ "${COMPREPLY[*]}" = "$W/out.ova" ]
}

@test "cimg set and apply change the suggested cpu and memory; bad values are refused" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name src -q
	run -0 cimg set src --cpu 2 --memory 1GiB -o json
	[ "$(jq -r .cpu <<<"$output")" = 2 ]
	[ "$(jq -r .memory <<<"$output")" = 1024 ]
	run -0 cimg set src --label a=b -o json
	[ "$(jq -r .cpu <<<"$output")" = 2 ]
	refused 2 "cimg: --cpu: expected 1 to 1024 vCPUs, found '0'" cimg set src --cpu 0
	refused 2 "cimg: --memory: invalid size 'lots'" cimg set src --memory lots
	printf 'kind: Image\nname: src\ncpu: 4\nmemory: 512MiB\n' > "$W/src.yaml"
	run -0 cimg apply -f "$W/src.yaml" -o json
	[ "$(jq -r .cpu <<<"$output")" = 4 ]
	[ "$(jq -r .memory <<<"$output")" = 512 ]
	printf 'kind: Image\nname: src\ncpu: many\n' > "$W/bad.yaml"
	run -2 --separate-stderr cimg apply -f "$W/bad.yaml"
	[[ "$stderr" == *"cpu: expected a whole number of vCPUs" ]]
}

@test "cimg import refuses a hostile OVA from a URL and keeps nothing of it" {
	write_ovf "$W/appliance.ovf" disk1.vmdk
	mkdir "$BATS_TEST_TMPDIR/srv"
	python3 "$CLOUDOS_SRCDIR/tests/helpers/evil-ova.py" "$BATS_TEST_TMPDIR/srv/evil.ova" symlink "$W/appliance.ovf"
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	python3 -m http.server -b 127.0.0.1 -d "$BATS_TEST_TMPDIR/srv" "$PORT" >/dev/null 2>&1 3>&- &
	SRV_PID=$!
	wait_for 30 port_open "$PORT"
	refused_late 2 "cimg: http://127.0.0.1:$PORT/evil.ova: entry 'disk1.vmdk' is a symbolic link" \
	    cimg import "http://127.0.0.1:$PORT/evil.ova" --name evil
}

@test "cimg import refuses a qcow2 with a backing file and a vmdk descriptor naming other files" {
	qemu-img create -q -f qcow2 "$BATS_TEST_TMPDIR/base.qcow2" 8M
	qemu-img create -q -f qcow2 -b "$BATS_TEST_TMPDIR/base.qcow2" -F qcow2 "$W/top.qcow2"
	refused_late 2 "cimg: cannot import '$W/top.qcow2': a qcow2 image with a backing file" \
	    cimg import "$W/top.qcow2" --name top
	printf '# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\nRW 16 FLAT "/etc/passwd" 0\n' > "$W/d.vmdk"
	refused_late 2 "cimg: cannot import '$W/d.vmdk': a vmdk descriptor (its data is in other files)" \
	    cimg import "$W/d.vmdk" --name d
}

@test "cimg import refuses an OVF naming one file for two disks" {
	vmdk "$BATS_TEST_TMPDIR/disk.raw" "$W/disk1.vmdk"
	write_ovf "$W/appliance.ovf" disk1.vmdk disk1.vmdk
	tar -C "$W" -cf "$W/app.ova" appliance.ovf disk1.vmdk
	refused_img 2 "cimg: $W/app.ova: the OVF names disk file 'disk1.vmdk' for two disks" \
	    cimg import "$W/app.ova" --name app
}

@test "cimg apply imports an Image whose source is an OVA" {
	make_ova "$W/app.ova"
	printf 'kind: Image\nname: app\nsource: %s\n---\nkind: VM\nname: web\n' "$W/app.ova" > "$W/env.yaml"
	run -0 --separate-stderr cimg apply -f "$W/env.yaml" -o json
	[ "${#lines[@]}" = 2 ]
	[ "$(jq -r .format <<<"${lines[0]}")" = qcow2 ]
	[ "$(jq -r .cpu <<<"${lines[0]}")" = 2 ]
	[ "$(jq -r .memory <<<"${lines[0]}")" = 256 ]
	[ "$(jq -r .kind <<<"${lines[1]}")" = VM ]
	# applied again: found by name, unchanged
	run -0 cimg apply -f "$W/env.yaml" -o json
	[ "$(jq -r .id <<<"${lines[0]}")" = 1 ]
}

@test "cimg delete clears what a killed OVA import or clone left" {
	head -c 2097152 /dev/urandom > "$BATS_TEST_TMPDIR/two.raw"
	vmdk "$BATS_TEST_TMPDIR/disk.raw" "$W/disk1.vmdk"
	vmdk "$BATS_TEST_TMPDIR/two.raw" "$W/disk2.vmdk"
	write_ovf "$W/appliance.ovf" disk1.vmdk disk2.vmdk
	tar -C "$W" -cf "$W/app.ova" appliance.ovf disk1.vmdk disk2.vmdk
	for point in img.ova.extracted img.ova.converted; do
		CLOUDOS_FAULT=$point run -137 cimg import "$W/app.ova" --name app
		run -0 cimg list -o json
		[ "$(jq -r '.name + " " + .state' <<<"$output" | tr '\n' ',')" = "app locked,app-disk2 locked," ]
		[ -n "$(repo_files)" ]
		# the import is dead: its lock is free, so its images may go
		run -0 cimg delete app app-disk2
		[ -z "$(repo_files)" ] || { echo "$point left: $(repo_files)"; false; }
	done
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name base -q
	CLOUDOS_FAULT=img.clone.copied run -137 cimg clone base copy
	run -0 cimg show copy -o json
	[ "$(jq -r .state <<<"$output")" = locked ]
	run -0 cimg delete copy
	[ "$(repo_files | tr '\n' ' ')" = "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT id FROM images' | tr '\n' ' ')" ]
	run -0 cimg import "$W/app.ova" --name app -o ids
	[ "${#lines[@]}" = 2 ]
}

@test "cimg import refuses an OVA whose descriptor suggests more vCPUs than a VM may have" {
	vmdk "$BATS_TEST_TMPDIR/disk.raw" "$W/disk1.vmdk"
	write_ovf "$W/appliance.ovf" disk1.vmdk
	sed -i 's|<rasd:VirtualQuantity>2</rasd:VirtualQuantity>|<rasd:VirtualQuantity>1025</rasd:VirtualQuantity>|' "$W/appliance.ovf"
	manifest SHA256 appliance.ovf disk1.vmdk > "$W/appliance.mf"
	tar -C "$W" --format=ustar -cf "$BATS_TEST_TMPDIR/big.ova" appliance.ovf appliance.mf disk1.vmdk
	refused_img 2 "cimg: $BATS_TEST_TMPDIR/big.ova: appliance.ovf: 1025 virtual CPUs is out of range (1 to 1024)" \
	    cimg import "$BATS_TEST_TMPDIR/big.ova" --name app
}

@test "cimg set and apply refuse more vCPUs than a VM may have" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name src -q
	before=$(catalog_digest)
	refused 2 "cimg: --cpu: expected 1 to 1024 vCPUs, found '1025'" cimg set src --cpu 1025
	printf 'kind: Image\nname: src\ncpu: 1025\n' > "$W/src.yaml"
	refused 2 "cimg: $W/src.yaml: line 1: cpu: expected 1 to 1024 vCPUs, found 1025" \
	    cimg apply -f "$W/src.yaml"
	[ "$(catalog_digest)" = "$before" ]
	run -0 cimg set src --cpu 1024 -o json
	[ "$(jq -r .cpu <<<"$output")" = 1024 ]
}
