#!/usr/bin/env bats
# The catalog file: only a missing file is made a new catalog, and it is
# made for its owner only; anything else that is not a cloudos catalog is
# refused and left as it was; a catalog on a read-only file system (a real
# read-only mount the test makes) is read, never written.

load helpers/common

setup() {
	fresh_catalog
	MNT=
}

teardown() {
	# end a connection a test held, then unmount what the test
	# mounted, the read-only view first
	sql_release
	if [ -n "$MNT" ]; then
		umount "$MNT/ro" 2>/dev/null || true
		umount "$MNT/rw" 2>/dev/null || true
		rm -rf "$MNT"
	fi
}

# refused_file FILE TEXT: every program refuses FILE with exit 1 and one
# line "PROG: catalog 'FILE' is not a cloudos catalog (TEXT)", reading or
# writing, and leaves FILE byte for byte as it was, with no -wal or -shm
refused_file() {
	local f=$1 why=$2 before cmd
	before=$(sha256sum < "$f")
	for cmd in "cvm list" "chost add t1 test:///default" "cimg list" "cacct user add eve"; do
		run -1 --separate-stderr $cmd -c "$f"
		assert_output ""
		[ "$stderr" = "${cmd%% *}: catalog '$f' is not a cloudos catalog ($why)" ]
	done
	[ "$(sha256sum < "$f")" = "$before" ]
	[ ! -e "$f-wal" ] && [ ! -e "$f-shm" ]
}

@test "catalog: a new catalog and its new folders are for their owner only (0600, 0700), whatever the umask" {
	export CLOUDOS_CATALOG="$BATS_TEST_TMPDIR/new/sub/catalog.db"
	mkdir -m 0755 "$BATS_TEST_TMPDIR/new"
	run -0 bash -c 'umask 0; cvm list'
	[ "$(stat -c %a "$CLOUDOS_CATALOG")" = 600 ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/new/sub")" = 700 ]
	# a folder that was there is left as it was
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/new")" = 755 ]
	# nothing of the making is left beside it
	[ "$(ls -A "$BATS_TEST_TMPDIR/new/sub")" = catalog.db ]
	# the write-ahead log and shared memory take the file's mode
	sql_hold "$CLOUDOS_CATALOG" 'BEGIN; SELECT count(*) FROM users;'
	wait_for 30 test -e "$CLOUDOS_CATALOG-shm"
	run -0 chost add t1 test:///default -o ids
	[ "$(stat -c %a "$CLOUDOS_CATALOG-wal")" = 600 ]
	[ "$(stat -c %a "$CLOUDOS_CATALOG-shm")" = 600 ]
	sql_release 'COMMIT;'
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA application_id')" = 1668050803 ]
}

@test "catalog: an empty file is refused with exit 1, never taken for a new cloud" {
	: > "$CLOUDOS_CATALOG"
	refused_file "$CLOUDOS_CATALOG" "an empty file"
	[ ! -s "$CLOUDOS_CATALOG" ]
}

@test "catalog: a text file is refused with exit 1 and left as it was" {
	printf 'hello\n' > "$CLOUDOS_CATALOG"
	before=$(sha256sum < "$CLOUDOS_CATALOG")
	run -1 --separate-stderr chost add t1 test:///default
	[ "$stderr" = "chost: cannot open catalog '$CLOUDOS_CATALOG': file is not a database" ]
	[ "$(sha256sum < "$CLOUDOS_CATALOG")" = "$before" ]
}

@test "catalog: another program's SQLite database is refused with exit 1 and left as it was" {
	sqlite3 "$CLOUDOS_CATALOG" 'CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('"'keep'"')'
	refused_file "$CLOUDOS_CATALOG" "an SQLite database without cloudos's tables"
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT name FROM sqlite_master')" = notes ]
	# one that says what it is, by its application id
	rm "$CLOUDOS_CATALOG"
	sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA application_id = 1179603789; PRAGMA user_version = 11; CREATE TABLE users (id)'
	refused_file "$CLOUDOS_CATALOG" "an SQLite database of another application, application_id 0x464f534d"
	# and one with no tables at all
	rm "$CLOUDOS_CATALOG"
	sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA user_version = 1; VACUUM'
	[ -s "$CLOUDOS_CATALOG" ]
	refused_file "$CLOUDOS_CATALOG" "an SQLite database without tables"
}

@test "catalog: a catalog from before application ids is known by its tables, and marked on its next write" {
	run -0 chost add t1 test:///default -o ids
	sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA application_id = 0'
	run -0 chost list -o ids
	[ "$output" = 1 ]
	run -0 chost add t2 test:///default -o ids
	[ "$output" = 2 ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA application_id')" = 1668050803 ]
}

@test "catalog: first uses racing on a missing catalog all succeed on one catalog" {
	for i in $(seq 1 8); do
		chost add "t$i" test:///default -q &
	done
	fails=0
	for j in $(jobs -p); do
		wait "$j" || fails=$((fails + 1))
	done
	[ "$fails" = 0 ]
	run -0 chost list -o ids
	[ "${#lines[@]}" = 8 ]
	[ "$(ls -A "$BATS_TEST_TMPDIR" | grep -c 'catalog[.]db[.]new-')" = 0 ]
}

@test "catalog: a catalog on a read-only mount is read; a write is refused with exit 4, changing nothing" {
	MNT=$(mktemp -d /tmp/cro.XXXXXX)
	mkdir "$MNT/rw" "$MNT/ro"
	mount -t tmpfs -o size=8m tmpfs "$MNT/rw"
	CLOUDOS_CATALOG="$MNT/rw/catalog.db" chost add t1 test:///default -q
	mount --bind "$MNT/rw" "$MNT/ro"
	mount -o remount,ro,bind "$MNT/ro"
	export CLOUDOS_CATALOG="$MNT/ro/catalog.db"
	before=$(catalog_digest)
	run -0 --separate-stderr chost list -o ids
	[ "$output" = 1 ]
	run -0 --separate-stderr chost show t1 -o json
	[ "$(jq -r .name <<<"$output")" = t1 ]
	refused 4 "chost: cannot write catalog '$CLOUDOS_CATALOG': it is on a read-only file system" \
	    chost add t2 test:///default
	refused 4 "cvm: cannot create catalog '$MNT/ro/other.db': Read-only file system" \
	    cvm -c "$MNT/ro/other.db" list
	[ "$(catalog_digest)" = "$before" ]
	[ "$(ls -A "$MNT/rw")" = catalog.db ]
}

@test "catalog: a catalog on a read-only mount with its write-ahead log beside it reads what the log holds" {
	MNT=$(mktemp -d /tmp/cro.XXXXXX)
	mkdir "$MNT/rw" "$MNT/ro"
	mount -t tmpfs -o size=8m tmpfs "$MNT/rw"
	CLOUDOS_CATALOG="$MNT/rw/catalog.db" chost add t1 test:///default -q
	mount --bind "$MNT/rw" "$MNT/ro"
	mount -o remount,ro,bind "$MNT/ro"
	# a writer holds the catalog open: its last host is in the log only
	sql_hold "$MNT/rw/catalog.db" "PRAGMA wal_autocheckpoint = 0; INSERT INTO hosts (name, uri, hypervisor, domain_type, cpu, memory, owner, group_id, created, updated) SELECT 'inlog', uri, hypervisor, domain_type, cpu, memory, owner, group_id, created, updated FROM hosts;"
	two_hosts() { [ "$(sqlite3 "$MNT/rw/catalog.db" "SELECT count(*) FROM hosts")" = 2 ]; }
	wait_for 4 two_hosts
	[ -s "$MNT/rw/catalog.db-wal" ]
	run -0 chost -c "$MNT/ro/catalog.db" list -o json
	[ "$(jq -r .name <<<"$output" | sort | tr '\n' ' ')" = "inlog t1 " ]
	sql_release
}
