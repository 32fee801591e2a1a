#!/usr/bin/env bats
# cimg import's limits: a URL cannot fill the disk.  The catalog and the
# repository sit on a small tmpfs the test mounts and unmounts; a real HTTP
# server on loopback (tests/helpers/flaky-http.py) sends bodies without
# end, redirects in loops and to other protocols.

load helpers/common

setup() {
	MNT=$(mktemp -d /tmp/clim.XXXXXX)
	mount -t tmpfs -o size=48m tmpfs "$MNT"
	export CLOUDOS_CATALOG="$MNT/catalog.db"
	REPO="$MNT/images"
	cimg list >/dev/null	# create the catalog
	SRV="$BATS_TEST_TMPDIR/srv"
	mkdir "$SRV"
	head -c 3145728 /dev/urandom > "$SRV/disk.raw"
	head -c 65536 /dev/urandom > "$BATS_TEST_TMPDIR/small.raw"
	SRV_PID=
}

teardown() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
	sql_release
	umount "$MNT" 2>/dev/null || true
	rm -rf "$MNT"
}

# server ARGS...: tests/helpers/flaky-http.py on a free port
server() {
	rm -f "$BATS_TEST_TMPDIR/port"
	python3 "$CLOUDOS_SRCDIR/tests/helpers/flaky-http.py" "$SRV" "$BATS_TEST_TMPDIR/port" "$@" >/dev/null 2>&1 3>&- &
	SRV_PID=$!
	wait_for 30 test -f "$BATS_TEST_TMPDIR/port"
	PORT=$(cat "$BATS_TEST_TMPDIR/port")
}

images() {
	sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images'
}

# the catalog takes writes again: an import and a delete
still_writable() {
	run -0 cimg import "$BATS_TEST_TMPDIR/small.raw" --name small -o ids
	run -0 cimg delete small -q
	[ "$(images)" = 0 ]
}

@test "cimg import URL stops an endless body at the reserve with exit 6, leaving no file and no row" {
	server
	run -6 --separate-stderr cimg import "http://127.0.0.1:$PORT/endless" --name e
	assert_output ""
	# 5% of 48 MiB
	[[ "$stderr" == "cimg: cannot import 'http://127.0.0.1:$PORT/endless': the image repository's free space would fall under its reserve of 3 MiB after "*" MiB (cimg config --reserve)" ]] || { echo "$stderr"; false; }
	[ "$(images)" = 0 ]
	[ -z "$(ls -A "$REPO")" ]
	# the file system kept its reserve
	[ "$(df -B1M --output=avail "$MNT" | tail -1)" -ge 40 ]
	still_writable
}

@test "cimg import URL without a reserve runs into a full disk: exit 6, the partial file and the row go" {
	server
	run -0 cimg config --reserve 0 -o json
	[ "$(jq -r .reserve <<<"$output")" = 0 ]
	run -6 --separate-stderr cimg import "http://127.0.0.1:$PORT/endless" --name e
	assert_output ""
	[[ "$stderr" == "cimg: cannot write '$REPO/"*".part': No space left on device" ]] || { echo "$stderr"; false; }
	[ "$(images)" = 0 ]
	[ -z "$(ls -A "$REPO")" ]
	still_writable
}

@test "cimg import --max-size stops a download past the size (exit 6), and refuses one that says it is larger before a byte" {
	server
	run -6 --separate-stderr cimg import "http://127.0.0.1:$PORT/endless" --name e --max-size 2MiB
	assert_output ""
	[ "$stderr" = "cimg: cannot import 'http://127.0.0.1:$PORT/endless': it is larger than the maximum size of 2 MiB (--max-size)" ]
	[ "$(images)" = 0 ]
	[ -z "$(ls -A "$REPO")" ]
	# Content-Length says 3 MiB: refused before the body
	run -6 --separate-stderr cimg import "http://127.0.0.1:$PORT/disk.raw" --name d --max-size 2MiB
	[ "$stderr" = "cimg: cannot import 'http://127.0.0.1:$PORT/disk.raw': it is larger than the maximum size of 2 MiB (--max-size)" ]
	[ -z "$(ls -A "$REPO")" ]
	# a local file alike
	run -6 --separate-stderr cimg import "$SRV/disk.raw" --name d --max-size 2MiB
	[ "$stderr" = "cimg: cannot import '$SRV/disk.raw': it is larger than the maximum size of 2 MiB (--max-size)" ]
	[ "$(images)" = 0 ]
	run -0 cimg import "http://127.0.0.1:$PORT/disk.raw" --name d --max-size 3MiB -o json
	[ "$(jq -r .size <<<"$output")" = 3145728 ]
}

@test "cimg config sets a default maximum size and a reserve; an import's own --max-size only lowers it" {
	server
	run -0 cimg config -o json
	[ "$output" = '{"kind":"Config","id":0,"name":"cimg","reserve":"5%, at most 1024 MiB","max_size":null}' ]
	run -0 cimg config --max-size 2MiB --reserve 10% -o json
	[ "$output" = '{"kind":"Config","id":0,"name":"cimg","reserve":"10%","max_size":2}' ]
	run -6 --separate-stderr cimg import "http://127.0.0.1:$PORT/disk.raw" --name d
	[ "$stderr" = "cimg: cannot import 'http://127.0.0.1:$PORT/disk.raw': it is larger than the maximum size of 2 MiB (--max-size)" ]
	run -6 --separate-stderr cimg import "http://127.0.0.1:$PORT/disk.raw" --name d --max-size 1TiB
	[ "$stderr" = "cimg: cannot import 'http://127.0.0.1:$PORT/disk.raw': it is larger than the maximum size of 2 MiB (--max-size)" ]
	# 10% of 48 MiB held back: a 44 MiB local file does not fit
	head -c 46137344 /dev/zero | tr '\0' x > "$BATS_TEST_TMPDIR/big.raw"
	run -0 cimg config --max-size none --reserve 10% -q
	run -6 --separate-stderr cimg import "$BATS_TEST_TMPDIR/big.raw" --name b
	[[ "$stderr" == "cimg: cannot import '$BATS_TEST_TMPDIR/big.raw': it needs 44 MiB and the image repository has "*" MiB free above its reserve of 5 MiB (cimg config --reserve)" ]] || { echo "$stderr"; false; }
	[ "$(images)" = 0 ]
	run -0 cimg import "http://127.0.0.1:$PORT/disk.raw" --name d -o ids
	# bad values, and tenants, change nothing
	before=$(catalog_digest)
	run -2 --separate-stderr cimg config --reserve 51%
	[ "$stderr" = "cimg: --reserve: expected a size or 0% to 50% of the file system, found '51%'" ]
	run -2 --separate-stderr cimg config --max-size lots
	[ "$stderr" = "cimg: --max-size: invalid size 'lots'" ]
	run -2 --separate-stderr cimg import "$BATS_TEST_TMPDIR/small.raw" --name s --max-size 0
	[ "$stderr" = "cimg: --max-size: invalid size '0'" ]
	cacct user add alice --uid 5001 -q
	chmod 0777 "$MNT"
	chmod 0666 "$CLOUDOS_CATALOG"
	refused 4 "cimg: user 'alice' may not change the image repository's limits (admins only)" \
	    setpriv --reuid 5001 --regid 5001 --clear-groups -- "$CLOUDOS_BUILDDIR/cimg" config --reserve 0
}

@test "cimg import URL keeps no credentials in the source it stores and shows" {
	server
	url="http://admin:hunter2@127.0.0.1:$PORT/disk.raw?v=1&X-Amz-Signature=s3cr3t&token=t0k3n&X-Goog-Signature=g00g&access_token=acc3ss&sig=azur3#frag"
	run -0 --separate-stderr cimg import "$url" --name d -o json
	[ "$(jq -r .source <<<"$output")" = "http://127.0.0.1:$PORT/disk.raw?v=1#frag" ]
	run -0 cimg show d -o json
	[ "$(jq -r .source <<<"$output")" = "http://127.0.0.1:$PORT/disk.raw?v=1#frag" ]
	run -0 sqlite3 "$CLOUDOS_CATALOG" .dump
	for secret in hunter2 admin: s3cr3t t0k3n g00g acc3ss azur3; do
		[ "$(grep -c -- "$secret" <<<"$output")" = 0 ] || { echo "$secret"; false; }
	done
}

@test "cimg import URL names no credentials when it fails" {
	server
	auth="admin:hunter2@"
	q="token=t0k3n&sig=azur3"
	run -3 --separate-stderr cimg import "http://${auth}127.0.0.1:$PORT/missing.raw?$q" --name m
	assert_output ""
	[ "$stderr" = "cimg: cannot fetch 'http://127.0.0.1:$PORT/missing.raw': HTTP status 404" ] || { echo "$stderr"; false; }
	run -6 --separate-stderr cimg import "http://${auth}127.0.0.1:$PORT/disk.raw?$q" --name m --max-size 1MiB
	assert_output ""
	[ -n "$stderr" ]
	for secret in hunter2 admin: t0k3n azur3; do
		[ "$(grep -c -- "$secret" <<<"$stderr")" = 0 ] || { echo "$stderr"; false; }
	done
	[ "$(images)" = 0 ]
	[ -z "$(ls -A "$REPO")" ]
}

@test "cimg import URL refuses a redirect to another protocol with exit 2 and a redirect loop with exit 7" {
	server
	for to in file:///etc/passwd gopher://127.0.0.1:70/1 ftp://127.0.0.1/x; do
		run -2 --separate-stderr cimg import "http://127.0.0.1:$PORT/redirect?to=$to" --name r
		assert_output ""
		[[ "$stderr" == "cimg: cannot fetch 'http://127.0.0.1:$PORT/redirect?to=$to': it leads to a protocol other than http and https ("*")" ]] || { echo "$stderr"; false; }
	done
	run -7 --separate-stderr cimg import "http://127.0.0.1:$PORT/loop" --name r
	assert_output ""
	[[ "$stderr" == "cimg: cannot fetch 'http://127.0.0.1:$PORT/loop': too many redirects ("*")" ]] || { echo "$stderr"; false; }
	[ "$(images)" = 0 ]
	[ -z "$(ls -A "$REPO")" ]
}

@test "cimg delete works on a full disk: the file goes before the row" {
	run -0 cimg config --reserve 0 -q
	head -c 8388608 /dev/urandom > "$BATS_TEST_TMPDIR/eight.raw"
	run -0 cimg import "$BATS_TEST_TMPDIR/eight.raw" --name eight -q
	# a reader keeps the catalog open, its write-ahead log empty (a full
	# disk with no -shm at all cannot even be opened)
	sql_hold "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images;'
	wait_for 4 test -e "$CLOUDOS_CATALOG-shm"
	# something else fills the rest of the file system
	cat /dev/zero > "$MNT/filler" 2>/dev/null || true
	[ "$(df -B1K --output=avail "$MNT" | tail -1)" -lt 64 ]
	run -0 --separate-stderr cimg delete eight
	[ "$stderr" = "cimg: deleted image 'eight'" ]
	[ "$(images)" = 0 ]
	[ -z "$(ls -A "$REPO")" ]
	sql_release
}
