#!/usr/bin/env bats
# The image repository is the cloud's: it belongs to the catalog file's
# owner whoever imports first, takes the catalog's access, and one owned by
# anyone else is refused.  Image files are checked against what was
# recorded at import (size, checksum) before they leave the repository.
# Runs programs as other uids with setpriv.

load helpers/common

setup() {
	dir=$(mktemp -d /tmp/crepo.XXXXXX)
	chmod 0755 "$dir"
	export CLOUDOS_CATALOG="$dir/catalog.db"
	REPO="$dir/images"
	head -c 1048576 /dev/urandom > "$dir/disk.raw"
	chmod 0644 "$dir/disk.raw"
}

teardown() {
	rm -rf "$dir"
}

# as UID CMD...: run CMD as a plain Unix user
as() {
	local uid=$1
	shift
	setpriv --reuid "$uid" --regid "$uid" --clear-groups -- "$@"
}

# opened: a catalog root made and opened to every uid, as tests/identity.bats
# runs tenants, with alice (5001) and bob (5002)
opened() {
	chmod 0777 "$dir"
	cacct user add alice --uid 5001 -q
	cacct user add bob --uid 5002 -q
	chmod 0666 "$CLOUDOS_CATALOG"
}

@test "cimg: the repository is made 0700 for the catalog's owner by its first import" {
	run -0 cimg import "$dir/disk.raw" --name a -o ids
	[ "$(stat -c '%a %u' "$REPO")" = "700 0" ]
}

@test "cimg: a repository a tenant made is refused (exit 1), changing nothing" {
	opened
	mkdir "$REPO"
	chown 5001:5001 "$REPO"
	chmod 0700 "$REPO"
	for who in 0 5001; do
		refused 1 "cimg: image repository '$REPO' belongs to uid 5001, not to the catalog's owner (uid 0)" \
		    as "$who" "$CLOUDOS_BUILDDIR/cimg" import "$dir/disk.raw" --name a
	done
	[ -z "$(ls -A "$REPO")" ]
	[ "$(stat -c '%a %u' "$REPO")" = "700 5001" ]
}

@test "cimg: a tenant cannot be the first to import: the repository stays the owner's to make (exit 4)" {
	opened
	before=$(catalog_digest)
	refused 4 "cimg: cannot make the image repository '$REPO': it is the catalog owner's (uid 0), made by that user or root" \
	    as 5001 "$CLOUDOS_BUILDDIR/cimg" import "$dir/disk.raw" --name a
	[ ! -e "$REPO" ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "cimg: a repository of a catalog opened to tenants is theirs to write, with the sticky bit" {
	opened
	run -0 cimg import "$dir/disk.raw" --name root-img -o ids
	[ "$(stat -c '%a %u' "$REPO")" = "1777 0" ]
	run -0 as 5001 "$CLOUDOS_BUILDDIR/cimg" import "$dir/disk.raw" --name alices -o ids
	id=$output
	[ "$(stat -c %u "$REPO/$id")" = 5001 ]
	# bob may neither remove nor replace alice's file
	run as 5002 rm -f "$REPO/$id"
	[ "$status" -ne 0 ]
	run as 5002 mv "$REPO/1" "$REPO/$id"
	[ "$status" -ne 0 ]
	[ -f "$REPO/$id" ]
}

@test "cimg: the repository follows the catalog's access when its owner runs, and one open to others without the sticky bit is refused" {
	opened
	run -0 cimg import "$dir/disk.raw" --name a -q
	chmod 0777 "$REPO"
	refused 1 "cimg: image repository '$REPO' may be written by others without the sticky bit (mode 0777)" \
	    as 5001 "$CLOUDOS_BUILDDIR/cimg" import "$dir/disk.raw" --name b
	# the owner's next command puts it right
	run -0 cimg import "$dir/disk.raw" --name b -q
	[ "$(stat -c %a "$REPO")" = 1777 ]
	# closed again: the owner's next command closes the repository too
	chmod 0600 "$CLOUDOS_CATALOG"
	run -0 cimg export a -f "$dir/a.ova"
	[ "$(stat -c %a "$REPO")" = 700 ]
}

@test "cimg: a repository made by a non-root first importer belongs to that catalog owner; root makes it for that owner too" {
	chmod 0777 "$dir"
	# alice makes her own catalog (she has no catalog user in it yet:
	# root, who may read it, adds her) and imports first
	run -4 as 5001 env CLOUDOS_CATALOG="$dir/alice/catalog.db" "$CLOUDOS_BUILDDIR/cimg" list
	[ "$(stat -c '%a %u' "$dir/alice/catalog.db")" = "600 5001" ]
	cacct -c "$dir/alice/catalog.db" user add alice --uid 5001 -q
	run -0 as 5001 env CLOUDOS_CATALOG="$dir/alice/catalog.db" "$CLOUDOS_BUILDDIR/cimg" import "$dir/disk.raw" --name a -o ids
	[ "$(stat -c '%a %u' "$dir/alice/images")" = "700 5001" ]
	# bob's catalog, whose first import root runs
	run -4 as 5002 env CLOUDOS_CATALOG="$dir/bob/catalog.db" "$CLOUDOS_BUILDDIR/cimg" list
	run -0 cimg -c "$dir/bob/catalog.db" import "$dir/disk.raw" --name a -o ids
	[ "$(stat -c '%a %u %g' "$dir/bob/images")" = "700 5002 5002" ]
}

@test "cimg export refuses an image whose file was truncated or altered since its import (exit 1), writing nothing" {
	run -0 cimg import "$dir/disk.raw" --name a -o json
	ck=$(jq -r .checksum <<<"$output")
	cp "$REPO/1" "$dir/orig"
	truncate -s 4096 "$REPO/1"
	before=$(catalog_digest)
	refused 1 "cimg: cannot export image 'a': its file has 4096 bytes, not the 1048576 recorded" \
	    cimg export a -f "$dir/a.ova"
	[ ! -e "$dir/a.ova" ]
	cp "$dir/orig" "$REPO/1"
	printf 'X' | dd of="$REPO/1" bs=1 seek=5000 conv=notrunc 2>/dev/null
	found="xxh128:$(xxhsum -H2 < "$REPO/1" | cut -c1-32)"
	refused 1 "cimg: cannot export image 'a': its file does not match its checksum ($ck recorded, $found found)" \
	    cimg export a -f "$dir/a.ova"
	[ ! -e "$dir/a.ova" ]
	[ -z "$(ls -A "$REPO" | grep -v '^1$' || true)" ]
	[ "$(catalog_digest)" = "$before" ]
	cp "$dir/orig" "$REPO/1"
	run -0 cimg export a -f "$dir/a.ova"
}

@test "cimg clone refuses an image whose file has another size than recorded (exit 1)" {
	run -0 cimg import "$dir/disk.raw" --name a -q
	truncate -s 4096 "$REPO/1"
	refused 1 "cimg: cannot clone image 'a': its file has 4096 bytes, not the 1048576 recorded" \
	    cimg clone a b
	[ "$(ls -A "$REPO")" = 1 ]
}

@test "cimg import URL never resumes from a partial file another uid left in a shared repository (exit 5)" {
	opened
	run -0 cimg import "$dir/disk.raw" --name a -q
	url="http://127.0.0.1:9/disk.raw"
	hash=$(printf %s "$url" | sha256sum | cut -c1-64)
	as 5001 sh -c 'printf "not the start of the image" > "$1"' sh "$REPO/$hash.part"
	before=$(catalog_digest)
	run -5 --separate-stderr as 5002 "$CLOUDOS_BUILDDIR/cimg" import "$url" --name b
	assert_output ""
	[ "$stderr" = "cimg: cannot import '$url': its partial file '$REPO/$hash.part' is another user's" ]
	[ "$(cat "$REPO/$hash.part")" = "not the start of the image" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 1 ]
}

@test "cimg: a link a tenant puts in a shared repository is never written through" {
	opened
	run -0 cimg import "$dir/disk.raw" --name a -q
	printf 'root only\n' > "$dir/victim"
	# the next image's file, and the next clone's
	as 5001 ln -s "$dir/victim" "$REPO/2"
	as 5001 ln -s "$dir/victim" "$REPO/3"
	run -0 cimg import "$dir/disk.raw" --name b -o ids
	[ "$output" = 2 ]
	run -0 cimg clone a c -o ids
	[ "$output" = 3 ]
	[ "$(cat "$dir/victim")" = "root only" ]
	[ ! -L "$REPO/2" ] && [ ! -L "$REPO/3" ]
	cmp "$REPO/2" "$dir/disk.raw"
	cmp "$REPO/3" "$dir/disk.raw"
	# and an image file swapped for a link is not read through
	as 5001 "$CLOUDOS_BUILDDIR/cimg" import "$dir/disk.raw" --name alices -q
	id=$(cimg show alices -o json | jq -r .id)
	as 5001 ln -sf "$dir/victim" "$REPO/$id"
	run -1 --separate-stderr cimg export alices -f "$dir/x.ova"
	[[ "$stderr" == "cimg: cannot export image 'alices': cannot read its file: "* ]] || { echo "$stderr"; false; }
}
