#!/usr/bin/env bats
# cimg: the image repository.  Imports from files (formats from headers,
# the xxh128 checksum, sha256 when asked, corrupt qcow2), list, show, set, publish, unpublish, delete and
# apply, and the refusals of bad input, each leaving nothing half made.

load helpers/common

setup() {
	fresh_catalog
	REPO="$BATS_TEST_TMPDIR/images"
	cimg list >/dev/null	# create the catalog, so digests compare
	head -c 3145728 /dev/urandom > "$BATS_TEST_TMPDIR/disk.raw"
}

# xxh FILE: the checksum cimg records for FILE's bytes, by xxhsum
xxh() {
	echo "xxh128:$(xxhsum -H2 < "$1" | cut -c1-32)"
}

# repo_files: the files of the repository, one a line
repo_files() {
	ls -A "$REPO" 2>/dev/null || true
}

@test "cimg import copies a raw file into the repository, ready, with its checksum and no sha256" {
	run -0 --separate-stderr cimg import "$BATS_TEST_TMPDIR/disk.raw" --name deb -o json --os debian --arch x86_64 --description "a disk"
	[ -z "$stderr" ]
	[ "$(jq -r .kind <<<"$output")" = Image ]
	[ "$(jq -r .state <<<"$output")" = ready ]
	[ "$(jq -r .format <<<"$output")" = raw ]
	[ "$(jq -r .size <<<"$output")" = 3145728 ]
	[ "$(jq -r .virtual_size <<<"$output")" = 3 ]
	[ "$(jq -r .os <<<"$output")" = debian ]
	[ "$(jq -r .arch <<<"$output")" = x86_64 ]
	[ "$(jq -r .visibility <<<"$output")" = private ]
	[ "$(jq -r .source <<<"$output")" = "$BATS_TEST_TMPDIR/disk.raw" ]
	[ "$(jq -r .checksum <<<"$output")" = "$(xxh "$BATS_TEST_TMPDIR/disk.raw")" ]
	[[ "$(jq -r .checksum <<<"$output")" =~ ^xxh128:[0-9a-f]{32}$ ]]
	# not asked for: not computed
	[ "$(jq -r .sha256 <<<"$output")" = null ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT sha256 IS NULL FROM images')" = 1 ]
	[ "$(stat -c %a "$REPO")" = 700 ]
	cmp "$REPO/1" "$BATS_TEST_TMPDIR/disk.raw"
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT action, kind, object_name FROM audit WHERE kind = 'Image'")" = "create|Image|deb" ]
}

@test "cimg import reads the format from the header, never the name" {
	qemu-img create -q -f qcow2 "$BATS_TEST_TMPDIR/a.raw" 2G
	run -0 cimg import "$BATS_TEST_TMPDIR/a.raw" --name q -o json
	[ "$(jq -r .format <<<"$output")" = qcow2 ]
	[ "$(jq -r .virtual_size <<<"$output")" = 2048 ]
	qemu-img create -q -f vmdk "$BATS_TEST_TMPDIR/b.qcow2" 64M
	run -0 cimg import "$BATS_TEST_TMPDIR/b.qcow2" --name v -o json
	[ "$(jq -r .format <<<"$output")" = vmdk ]
	[ "$(jq -r .virtual_size <<<"$output")" = 64 ]
	mkdir "$BATS_TEST_TMPDIR/iso"
	echo hi > "$BATS_TEST_TMPDIR/iso/f"
	xorriso -as mkisofs -quiet -o "$BATS_TEST_TMPDIR/c.vmdk" "$BATS_TEST_TMPDIR/iso" 2>/dev/null
	run -0 cimg import "$BATS_TEST_TMPDIR/c.vmdk" --name i -o json
	[ "$(jq -r .format <<<"$output")" = iso ]
	printf 'QFI' > "$BATS_TEST_TMPDIR/d.qcow2"
	run -0 cimg import "$BATS_TEST_TMPDIR/d.qcow2" --name r -o json
	[ "$(jq -r .format <<<"$output")" = raw ]
	[ "$(jq -r .virtual_size <<<"$output")" = 1 ]
}

@test "cimg import reads a pipe too (no kernel copy there), with the same digests" {
	sum=$(sha256sum < "$BATS_TEST_TMPDIR/disk.raw" | cut -c1-64)
	run -0 --separate-stderr bash -c 'cat "$1" | cimg import /dev/stdin --name p -o json' _ "$BATS_TEST_TMPDIR/disk.raw"
	[ "$(jq -r .checksum <<<"$output")" = "$(xxh "$BATS_TEST_TMPDIR/disk.raw")" ]
	[ "$(jq -r .sha256 <<<"$output")" = null ]
	[ "$(jq -r .size <<<"$output")" = 3145728 ]
	cmp "$REPO/1" "$BATS_TEST_TMPDIR/disk.raw"
	run -0 --separate-stderr bash -c 'cat "$1" | cimg import /dev/stdin --name p2 --sha256 "$2" -o json' _ "$BATS_TEST_TMPDIR/disk.raw" "$sum"
	[ "$(jq -r .sha256 <<<"$output")" = "$sum" ]
	[ "$(jq -r .checksum <<<"$output")" = "$(xxh "$BATS_TEST_TMPDIR/disk.raw")" ]
	[ "$(jq -r .size <<<"$output")" = 3145728 ]
	cmp "$REPO/1" "$BATS_TEST_TMPDIR/disk.raw"
}

@test "cimg import --sha256 accepts the right digest, in either case, and records it" {
	sum=$(sha256sum < "$BATS_TEST_TMPDIR/disk.raw" | cut -c1-64)
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a --sha256 "${sum^^}" -o ids
	[ "$output" = 1 ]
	run -0 cimg show a -o json
	[ "$(jq -r .sha256 <<<"$output")" = "$sum" ]
	[ "$(jq -r .checksum <<<"$output")" = "$(xxh "$BATS_TEST_TMPDIR/disk.raw")" ]
}

@test "cimg import: the same bytes give the same checksum, one changed byte another" {
	cp "$BATS_TEST_TMPDIR/disk.raw" "$BATS_TEST_TMPDIR/other.raw"
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a -o json
	a=$(jq -r .checksum <<<"$output")
	run -0 cimg import "$BATS_TEST_TMPDIR/other.raw" --name b -o json
	[ "$(jq -r .checksum <<<"$output")" = "$a" ]
	printf 'x' | dd of="$BATS_TEST_TMPDIR/other.raw" bs=1 seek=2000000 conv=notrunc status=none
	cmp -s "$BATS_TEST_TMPDIR/disk.raw" "$BATS_TEST_TMPDIR/other.raw" && skip "the random byte was already x"
	run -0 cimg import "$BATS_TEST_TMPDIR/other.raw" --name c -o json
	c=$(jq -r .checksum <<<"$output")
	[ "$c" != "$a" ]
	[ "$c" = "$(xxh "$BATS_TEST_TMPDIR/other.raw")" ]
	# a clone keeps both digests
	run -0 cimg clone c d -o json
	[ "$(jq -r .checksum <<<"$output")" = "$c" ]
	[ "$(jq -r .sha256 <<<"$output")" = null ]
}

@test "cimg import refuses a sha256 mismatch with exit 2, leaving no image and no file" {
	bad=$(printf '0%.0s' $(seq 64))
	run -2 --separate-stderr cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a --sha256 "$bad"
	assert_output ""
	sum=$(sha256sum < "$BATS_TEST_TMPDIR/disk.raw" | cut -c1-64)
	[ "$stderr" = "cimg: cannot import '$BATS_TEST_TMPDIR/disk.raw': sha256 is $sum, not $bad as given" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
	[ -z "$(repo_files)" ]
	# the name is free again
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a -o ids
}

@test "cimg import refuses a malformed --sha256 with exit 2 and changes nothing" {
	refused 2 "cimg: --sha256: expected 64 hex digits, found 'abc'" \
	    cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a --sha256 abc
}

@test "cimg import refuses truncated and corrupt qcow2 with exit 2, leaving nothing" {
	qemu-img create -q -f qcow2 "$BATS_TEST_TMPDIR/good.qcow2" 1G
	head -c 50 "$BATS_TEST_TMPDIR/good.qcow2" > "$BATS_TEST_TMPDIR/short.qcow2"
	run -2 --separate-stderr cimg import "$BATS_TEST_TMPDIR/short.qcow2" --name s
	assert_output ""
	[ "$stderr" = "cimg: cannot import '$BATS_TEST_TMPDIR/short.qcow2': qcow2 header is truncated (50 bytes)" ]
	cp "$BATS_TEST_TMPDIR/good.qcow2" "$BATS_TEST_TMPDIR/v9.qcow2"
	printf '\x00\x00\x00\x09' | dd of="$BATS_TEST_TMPDIR/v9.qcow2" bs=1 seek=4 conv=notrunc 2>/dev/null
	run -2 --separate-stderr cimg import "$BATS_TEST_TMPDIR/v9.qcow2" --name s
	[ "$stderr" = "cimg: cannot import '$BATS_TEST_TMPDIR/v9.qcow2': qcow2 version 9 is not 2 or 3" ]
	cp "$BATS_TEST_TMPDIR/good.qcow2" "$BATS_TEST_TMPDIR/zero.qcow2"
	head -c 8 /dev/zero | dd of="$BATS_TEST_TMPDIR/zero.qcow2" bs=1 seek=24 conv=notrunc 2>/dev/null
	run -2 --separate-stderr cimg import "$BATS_TEST_TMPDIR/zero.qcow2" --name s
	[ "$stderr" = "cimg: cannot import '$BATS_TEST_TMPDIR/zero.qcow2': qcow2 virtual size is 0" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
	[ -z "$(repo_files)" ]
}

@test "cimg import refuses a missing file with exit 3 and changes nothing" {
	refused 3 "cimg: cannot import '$BATS_TEST_TMPDIR/nope.img': no such file" \
	    cimg import "$BATS_TEST_TMPDIR/nope.img" --name a
}

@test "cimg import refuses a folder with exit 2 and changes nothing" {
	refused 2 "cimg: cannot import '$BATS_TEST_TMPDIR': it is a folder, not a file" \
	    cimg import "$BATS_TEST_TMPDIR" --name a
}

@test "cimg import refuses a file the caller may not read with exit 4" {
	dir=$(mktemp -d /tmp/cimg.XXXXXX)
	chmod 0755 "$dir"
	export CLOUDOS_CATALOG="$dir/catalog.db"
	cacct user add alice --uid 5001 >/dev/null
	chown -R 5001 "$dir"
	head -c 1024 /dev/urandom > "$dir/secret.img"
	chown 0 "$dir/secret.img"
	chmod 0600 "$dir/secret.img"
	refused 4 "cimg: cannot import '$dir/secret.img': permission denied" \
	    setpriv --reuid 5001 --regid 5001 --clear-groups -- "$CLOUDOS_BUILDDIR/cimg" import "$dir/secret.img" --name a
	rm -rf "$dir"
}

@test "cimg import refuses a taken name with exit 5, keeping the first image" {
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a
	refused 5 "cimg: image 'a' exists already" cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a
	[ "$(repo_files)" = 1 ]
}

@test "cimg import refuses bad names with exit 2 and changes nothing" {
	refused 2 "cimg: image name holds a control character" \
	    cimg import "$BATS_TEST_TMPDIR/disk.raw" --name $'a\nb'
	refused 2 "cimg: image name '42' is all digits (it would read as an id)" \
	    cimg import "$BATS_TEST_TMPDIR/disk.raw" --name 42
	refused 2 "cimg: import needs --name" cimg import "$BATS_TEST_TMPDIR/disk.raw"
	refused 2 "cimg: os: expected one line of at most 128 bytes" \
	    cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a --os $'x\ny'
	[ -z "$(repo_files)" ]
}

@test "cimg import keeps hostile names with quotes as they are" {
	name=$'it\'s "the" `one`; $(x)'
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name "$name" -o json
	[ "$(jq -r .name <<<"$output")" = "$name" ]
	run -0 cimg show "$name" -o json
	[ "$(jq -r .id <<<"$output")" = 1 ]
	[ "$(repo_files)" = 1 ]
}

@test "cimg list and show give the images as documents" {
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a >/dev/null
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name b >/dev/null
	run -0 cimg list -o ids
	[ "$output" = $'1\n2' ]
	run -0 cimg list -o table
	[[ "${lines[0]}" == "ID  NAME  STATE  FORMAT  SIZE"* ]]
	run -0 cimg show b -o json
	[ "$(jq -r .id <<<"$output")" = 2 ]
	run -0 cimg show 1 -o yaml
	assert_line "name: a"
	run -3 --separate-stderr cimg show nope
	assert_output ""
	[ "$stderr" = "cimg: no image 'nope'" ]
}

@test "cimg set changes name, description, os, arch and adds labels" {
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a >/dev/null
	run -0 cimg set a --label tier=gold -o json
	run -0 cimg set a --name b --description $'two\nlines' --os alpine --arch aarch64 --label zone=edge -o json
	[ "$(jq -r .name <<<"$output")" = b ]
	[ "$(jq -r .description <<<"$output")" = $'two\nlines' ]
	[ "$(jq -r .os <<<"$output")" = alpine ]
	[ "$(jq -r .arch <<<"$output")" = aarch64 ]
	[ "$(jq -c .labels <<<"$output")" = '{"tier":"gold","zone":"edge"}' ]
}

@test "cimg set refuses a taken name (5), nothing to set (2), a missing image (3)" {
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a >/dev/null
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name b >/dev/null
	before=$(catalog_digest)
	refused 5 "cimg: image 'b' exists already" cimg set a --name b
	refused 2 "cimg: nothing to set (see 'cimg set --help')" cimg set a
	refused 3 "cimg: no image 'nope'" cimg set nope --os x
	run -2 --separate-stderr cimg set a --label 'bad key=1'
	[ "$(catalog_digest)" = "$before" ]
}

@test "cimg delete removes the image and its file" {
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a >/dev/null
	run -0 --separate-stderr cimg delete a
	[ "$stderr" = "cimg: deleted image 'a'" ]
	run -0 cimg list -o ids
	[ -z "$output" ]
	[ -z "$(repo_files)" ]
}

@test "cimg delete refuses an image in use with exit 5, and a missing one with 3" {
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a >/dev/null
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE images SET state = 'used'"
	refused 5 "cimg: cannot delete image 'a': it is used by a VM" cimg delete a
	[ "$(repo_files)" = 1 ]
	run -3 --separate-stderr cimg delete nope
	assert_output ""
	[ "$stderr" = "cimg: no image 'nope'" ]
}

@test "cimg delete of an image in use names the VMs that use it, the first three and how many more" {
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a >/dev/null
	for n in v1 v2 v3 v4 v5; do
		printf 'name: %s\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: a\n' "$n" |
		    cvm create --hold - >/dev/null
	done
	refused 5 "cimg: cannot delete image 'a': it is used by vms 'v1', 'v2', 'v3' and 2 more" cimg delete a
	cvm delete -q v1 v2
	refused 5 "cimg: cannot delete image 'a': it is used by vms 'v3', 'v4' and 'v5'" cimg delete a
	cvm delete -q v3
	refused 5 "cimg: cannot delete image 'a': it is used by vms 'v4' and 'v5'" cimg delete a
	cvm delete -q v4
	refused 5 "cimg: cannot delete image 'a': it is used by vm 'v5'" cimg delete a
	cvm delete -q v5
	run -0 cimg delete -q a
}

@test "cimg delete of an image in use counts the VMs of other users, never names them" {
	cacct user add alice >/dev/null
	cacct user add bob >/dev/null
	cimg --as alice import "$BATS_TEST_TMPDIR/disk.raw" --name a >/dev/null
	cimg --as alice publish -q a
	for n in b1 b2; do
		printf 'name: %s\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: a\n' "$n" |
		    cvm --as bob create --hold - >/dev/null
	done
	refused 5 "cimg: cannot delete image 'a': it is used by 2 VMs of other users" cimg --as alice delete a
	printf 'name: a1\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: a\n' |
	    cvm --as alice create --hold - >/dev/null
	refused 5 "cimg: cannot delete image 'a': it is used by vm 'a1' and 2 more" cimg --as alice delete a
	cvm delete -q a1 b1
	refused 5 "cimg: cannot delete image 'a': it is used by a VM of another user" cimg --as alice delete a
	# an admin sees every VM
	refused 5 "cimg: cannot delete image 'a': it is used by vm 'b2'" cimg delete a
}

@test "cimg delete removes an image a dead import left locked" {
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a >/dev/null
	# what kill -9 leaves: a locked row, its partial file, a free lock
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE images SET state = 'locked'"
	: > "$REPO/1.lock"
	run -0 --separate-stderr cimg delete a
	[ "$stderr" = "cimg: deleted image 'a'" ]
	[ -z "$(repo_files)" ]
}

@test "cimg publish lets tenants see an image; unpublish hides it again" {
	cacct user add alice --uid 5001 >/dev/null
	cacct user add bob --uid 5002 >/dev/null
	cimg --as alice import "$BATS_TEST_TMPDIR/disk.raw" --name mine >/dev/null
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name adm >/dev/null
	run -0 cimg --as bob list -o ids
	[ -z "$output" ]
	run -0 cimg --as alice list -o ids
	[ "$output" = 1 ]
	run -0 cimg list -o ids
	[ "$output" = $'1\n2' ]
	run -0 cimg --as alice publish mine -o json
	[ "$(jq -r .visibility <<<"$output")" = public ]
	# public already: exit 0, nothing written (no updated, no audit row)
	before=$(catalog_digest)
	run -0 cimg --as alice publish mine -o json
	[ "$(jq -r .visibility <<<"$output")" = public ]
	[ "$(catalog_digest)" = "$before" ]
	run -0 cimg --as bob list -o ids
	[ "$output" = 1 ]
	run -4 --separate-stderr cimg --as bob delete mine
	[ "$stderr" = "cimg: cannot delete image 'mine': it is not yours" ]
	run -3 --separate-stderr cimg --as bob show adm
	[ "$stderr" = "cimg: no image 'adm'" ]
	run -0 cimg --as alice unpublish mine -o json
	[ "$(jq -r .visibility <<<"$output")" = private ]
	run -0 cimg --as bob list -o ids
	[ -z "$output" ]
}

@test "cimg apply updates Image documents by name and passes other kinds on" {
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name a >/dev/null
	cat > "$BATS_TEST_TMPDIR/env.yaml" <<-YAML
	kind: Network
	name: front
	---
	kind: Image
	name: a
	description: updated
	os: debian
	labels: {tier: base}
	YAML
	run -0 --separate-stderr cimg apply -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ "${#lines[@]}" = 2 ]
	[ "$(jq -r .kind <<<"${lines[0]}")" = Network ]
	[ "$(jq -r .description <<<"${lines[1]}")" = updated ]
	[ "$(jq -r .os <<<"${lines[1]}")" = debian ]
	[ "$(jq -c .labels <<<"${lines[1]}")" = '{"tier":"base"}' ]
	run -0 cimg list -o ids
	[ "$output" = 1 ]
}

@test "cimg apply imports an Image document's source when the image is new" {
	printf 'kind: Image\nname: n\nsource: %s\nos: alpine\n' "$BATS_TEST_TMPDIR/disk.raw" > "$BATS_TEST_TMPDIR/i.yaml"
	run -0 cimg apply - -o json < "$BATS_TEST_TMPDIR/i.yaml"
	[ "$(jq -r .state <<<"$output")" = ready ]
	[ "$(jq -r .os <<<"$output")" = alpine ]
	# a second apply is idempotent: no second copy
	run -0 cimg apply - -o ids < "$BATS_TEST_TMPDIR/i.yaml"
	[ "$output" = 1 ]
	[ "$(repo_files)" = 1 ]
}

@test "cimg apply refuses a new Image without source, or with a missing one" {
	before=$(catalog_digest)
	run -2 --separate-stderr cimg apply - <<<$'kind: Image\nname: n'
	assert_output ""
	[[ "$stderr" == "cimg: <stdin>: "*"source: missing (image 'n' does not exist yet, so it is imported from its source)" ]]
	refused 3 "cimg: cannot import '/nope': no such file" \
	    cimg apply - <<<$'kind: Image\nname: n\nsource: /nope'
	[ "$(catalog_digest)" = "$before" ]
}

@test "cimg completes image names, and file names for import" {
	source "$CLOUDOS_SRCDIR/completions/cloudos.bash"
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name debian-12 >/dev/null
	cimg import "$BATS_TEST_TMPDIR/disk.raw" --name alpine >/dev/null
	COMP_WORDS=(cimg show de) COMP_CWORD=2 COMPREPLY=()
	_cloudos
	[ "${COMPREPLY[*]}" = debian-12 ]
	COMP_WORDS=(cimg import "$BATS_TEST_TMPDIR/dis") COMP_CWORD=2 COMPREPLY=()
	_cloudos
	[ "${COMPREPLY[*]}" = "$BATS_TEST_TMPDIR/disk.raw" ]
	run -0 cimg __complete import --
	assert_line --sha256
	assert_line --timeout
}

@test "cimg apply of a good and a bad document imports nothing (exit 2)" {
	printf 'kind: Image\nname: good\nsource: %s\n---\nkind: Image\nname: bad\nsource: %s\ncpu: 0\n' "$BATS_TEST_TMPDIR/disk.raw" "$BATS_TEST_TMPDIR/disk.raw" > "$BATS_TEST_TMPDIR/env.yaml"
	refused 2 "cimg: <stdin>: line 5: cpu: expected a whole number of vCPUs" \
	    cimg apply - < "$BATS_TEST_TMPDIR/env.yaml"
}

@test "cimg apply of a new image takes its cpu and memory on the first run" {
	printf 'kind: Image\nname: n\nsource: %s\ncpu: 2\nmemory: 256MiB\n' "$BATS_TEST_TMPDIR/disk.raw" > "$BATS_TEST_TMPDIR/i.yaml"
	run -0 cimg apply - -o json < "$BATS_TEST_TMPDIR/i.yaml"
	[ "$(jq -r '[.state, .cpu, .memory] | @tsv' <<<"$output")" = "$(printf 'ready\t2\t256')" ]
	run -0 cimg show n -o json
	[ "$(jq -r '[.cpu, .memory] | @tsv' <<<"$output")" = "$(printf '2\t256')" ]
	# a second run imports nothing more and keeps them
	run -0 cimg apply - -o json < "$BATS_TEST_TMPDIR/i.yaml"
	[ "$(jq -r '[.id, .cpu, .memory] | @tsv' <<<"$output")" = "$(printf '1	2	256')" ]
	[ "$(repo_files)" = 1 ]
}

@test "cimg refuses a description longer than every kind's cap" {
	long=$(head -c 4097 /dev/zero | tr '\0' d)
	refused 2 "cimg: description: expected UTF-8 text of at most 4096 bytes" \
	    cimg import "$BATS_TEST_TMPDIR/disk.raw" --name n --description "$long"
	run -0 cimg import "$BATS_TEST_TMPDIR/disk.raw" --name n --description "${long:1}" -q
}

@test "cimg: a path too long is a usage error (exit 2)" {
	long="$BATS_TEST_TMPDIR/$(head -c 300 /dev/zero | tr '\0' x)"
	before=$(catalog_digest)
	run -2 --separate-stderr cimg import "$long" --name n
	assert_output ""
	[[ "$stderr" == "cimg: cannot import '$long': File name too long" ]]
	refused 2 "cimg: cannot open '$long': File name too long" cimg apply "$long"
	[ "$(catalog_digest)" = "$before" ]
	run -2 --separate-stderr cimg list -c "$BATS_TEST_TMPDIR/$(head -c 600 /dev/zero | tr '\0' x)"
	assert_output ""
	[[ "$stderr" == "cimg: catalog path is too long ("*" bytes made absolute, at most 504)" ]]
}
