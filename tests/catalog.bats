#!/usr/bin/env bats
# The catalog: SQLite in WAL mode, versioned schema, clear refusals of
# catalogs it cannot use, writers that wait for each other.

load helpers/common

setup() {
	fresh_catalog
}

@test "catalog: a new catalog is made on first use, in WAL mode, at the current schema" {
	export CLOUDOS_CATALOG="$BATS_TEST_TMPDIR/new/sub/catalog.db"
	run -0 cvm list
	[ -f "$CLOUDOS_CATALOG" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA journal_mode')" = wal ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA user_version')" = 13 ]
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	[ "$output" = $'audit\nclusters\ndatastore_hosts\ndatastores\ngroups\nhosts\nimage_hosts\nimages\nleases\nnet_ranges\nnetwork_hosts\nnetworks\nnic_secgroups\nsched_lease\nsecgroup_rules\nsecgroups\nsettings\nusers\nvm_disks\nvm_groups\nvm_nics\nvm_stats\nvms\nvolumes' ]
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT name, uid, admin FROM users"
	[ "$output" = "root|0|1" ]
	# every image's checksum, its sha256 when asked; the host image cache
	# keyed on the checksum
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT name || ':' || \"notnull\" FROM pragma_table_info('images') WHERE name IN ('checksum', 'sha256') ORDER BY name")" = $'checksum:0\nsha256:0' ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT name FROM pragma_table_info('image_hosts') WHERE pk > 0 ORDER BY pk")" = $'host_id\nchecksum' ]
}

@test "catalog: -c wins over CLOUDOS_CATALOG" {
	run -0 chost -c "$BATS_TEST_TMPDIR/other.db" add t1 test:///default
	[ -f "$BATS_TEST_TMPDIR/other.db" ]
	[ ! -f "$CLOUDOS_CATALOG" ]
	run -0 chost --catalog="$BATS_TEST_TMPDIR/other.db" list -o ids
	[ "$output" = 1 ]
}

@test "catalog: a corrupt file is refused with exit 1 and left as it was" {
	head -c 8192 /dev/urandom > "$CLOUDOS_CATALOG"
	before=$(sha256sum < "$CLOUDOS_CATALOG")
	for cmd in "cvm list" "chost add t1 test:///default"; do
		run -1 --separate-stderr $cmd
		assert_output ""
		[ "$stderr" = "${cmd%% *}: cannot open catalog '$CLOUDOS_CATALOG': file is not a database" ]
	done
	[ "$(sha256sum < "$CLOUDOS_CATALOG")" = "$before" ]
}

@test "catalog: a catalog newer than this cloudos is refused and left alone" {
	run -0 cvm list
	sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA user_version = 99'
	refused 1 "chost: catalog '$CLOUDOS_CATALOG' has schema version 99, newer than this cloudos knows (13)" \
	    chost add t1 test:///default
}

@test "catalog: a folder is refused with exit 2" {
	run -2 --separate-stderr cvm -c "$BATS_TEST_TMPDIR" list
	[ "$stderr" = "cvm: cannot open catalog '$BATS_TEST_TMPDIR': it is a folder" ]
}

@test "catalog: a catalog the caller may not read is refused with exit 4" {
	dir=$(mktemp -d /tmp/ccat.XXXXXX)
	chmod 0755 "$dir"
	CLOUDOS_CATALOG="$dir/c.db" cvm list
	chmod 0600 "$dir/c.db"
	run -4 --separate-stderr setpriv --reuid 5001 --regid 5001 --clear-groups -- \
	    env CLOUDOS_CATALOG="$dir/c.db" cvm list
	[ "$stderr" = "cvm: cannot open catalog '$dir/c.db': Permission denied" ]
	rm -rf "$dir"
}

@test "catalog: reading commands change nothing" {
	run -0 chost add t1 test:///default
	before=$(catalog_digest)
	run -0 cvm list
	run -0 chost list
	run -0 chost show t1
	run -0 cacct user list
	run -3 cvm show nope
	[ "$(catalog_digest)" = "$before" ]
}

@test "catalog: a writer waits for another's transaction instead of failing" {
	run -0 cvm list
	# hold the write lock for 2 s in another process, which makes a file
	# once it has the lock
	{
		echo 'BEGIN IMMEDIATE;'
		echo ".shell touch '$BATS_TEST_TMPDIR/locked'"
		sleep 2
		echo 'COMMIT;'
	} | sqlite3 "$CLOUDOS_CATALOG" &
	holder=$!
	wait_for 30 test -e "$BATS_TEST_TMPDIR/locked"
	start=$(date +%s%N)
	run -0 chost add t1 test:///default -o ids
	waited=$(( ($(date +%s%N) - start) / 1000000 ))
	wait "$holder"
	[ "$output" = 1 ]
	[ "$waited" -ge 1000 ]
}

@test "catalog: a schema 11 catalog is migrated: its affinity groups become private" {
	export CLOUDOS_CATALOG="$BATS_TEST_TMPDIR/catalog.db"
	csched group create web --anti-affinity -q
	# as schema 11 left it: no visibility column, no owners of actions
	sqlite3 "$CLOUDOS_CATALOG" 'ALTER TABLE vm_groups DROP COLUMN visibility; ALTER TABLE vms DROP COLUMN intent_owner; ALTER TABLE image_hosts DROP COLUMN owner; PRAGMA user_version = 11'
	run -0 csched group show web -o json
	[ "$(jq -r '[.name, .visibility] | @tsv' <<<"$output")" = "$(printf 'web\tprivate')" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'PRAGMA user_version')" = 13 ]
}
