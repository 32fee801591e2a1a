#!/usr/bin/env bats
# cimg import URL: downloads through libcurl from real HTTP servers on
# loopback (python3 -m http.server, and tests/helpers/flaky-http.py for
# broken and stalled transfers), started and stopped by pid.

load helpers/common

setup() {
	fresh_catalog
	REPO="$BATS_TEST_TMPDIR/images"
	cimg list >/dev/null	# create the catalog, so digests compare
	SRV="$BATS_TEST_TMPDIR/srv"
	mkdir "$SRV"
	head -c 3145728 /dev/urandom > "$SRV/disk.raw"
	SUM=$(sha256sum < "$SRV/disk.raw" | cut -c1-64)
	XXH="xxh128:$(xxhsum -H2 < "$SRV/disk.raw" | cut -c1-32)"
	SRV_PID=
}

teardown() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
}

# plain_server: python3 -m http.server on a free loopback port, in SRV
plain_server() {
	local i
	for i in $(seq 1 20); do
		PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		python3 -m http.server -b 127.0.0.1 -d "$SRV" "$PORT" >/dev/null 2>&1 3>&- &
		SRV_PID=$!
		# up, or dead (the port was taken meanwhile): then another
		up_or_dead() { port_open "$PORT" || gone "$SRV_PID"; }
		wait_for 5 up_or_dead && port_open "$PORT" && return 0
		kill "$SRV_PID" 2>/dev/null || true
	done
	return 1
}

# flaky_server ARGS...: tests/helpers/flaky-http.py on a free port
flaky_server() {
	rm -f "$BATS_TEST_TMPDIR/port"
	python3 "$CLOUDOS_SRCDIR/tests/helpers/flaky-http.py" "$SRV" "$BATS_TEST_TMPDIR/port" "$@" >/dev/null 2>&1 3>&- &
	SRV_PID=$!
	wait_for 30 test -f "$BATS_TEST_TMPDIR/port"
	PORT=$(cat "$BATS_TEST_TMPDIR/port")
}

repo_files() {
	ls -A "$REPO" 2>/dev/null || true
}

@test "cimg import URL fetches over HTTP, checks the sha256, records the checksum and makes the image ready" {
	plain_server
	qemu-img create -q -f qcow2 "$SRV/d.raw" 1G
	run -0 --separate-stderr cimg import "http://127.0.0.1:$PORT/disk.raw" --name u --sha256 "$SUM" -o json
	[ -z "$stderr" ]
	[ "$(jq -r .state <<<"$output")" = ready ]
	[ "$(jq -r .sha256 <<<"$output")" = "$SUM" ]
	[ "$(jq -r .checksum <<<"$output")" = "$XXH" ]
	[ "$(jq -r .source <<<"$output")" = "http://127.0.0.1:$PORT/disk.raw" ]
	cmp "$REPO/1" "$SRV/disk.raw"
	run -0 cimg import "http://127.0.0.1:$PORT/d.raw" --name q -o json
	# no --sha256: the checksum only
	[ "$(jq -r .sha256 <<<"$output")" = null ]
	[ "$(jq -r .checksum <<<"$output")" = "xxh128:$(xxhsum -H2 < "$SRV/d.raw" | cut -c1-32)" ]
	[ "$(jq -r .format <<<"$output")" = qcow2 ]
	[ "$(jq -r .virtual_size <<<"$output")" = 1024 ]
	[ "$(repo_files)" = $'1\n2' ]
}

@test "cimg import URL refuses a 404 with exit 3, one line naming URL and status" {
	plain_server
	before=$(catalog_digest)
	run -3 --separate-stderr cimg import "http://127.0.0.1:$PORT/nope.img" --name u
	assert_output ""
	[ "$stderr" = "cimg: cannot fetch 'http://127.0.0.1:$PORT/nope.img': HTTP status 404" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
	[ -z "$(repo_files)" ]
}

@test "cimg import URL refuses a sha256 mismatch with exit 2, leaving nothing" {
	plain_server
	bad=$(printf 'f%.0s' $(seq 64))
	run -2 --separate-stderr cimg import "http://127.0.0.1:$PORT/disk.raw" --name u --sha256 "$bad"
	assert_output ""
	[ "$stderr" = "cimg: cannot import 'http://127.0.0.1:$PORT/disk.raw': sha256 is $SUM, not $bad as given" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
	[ -z "$(repo_files)" ]
}

@test "cimg import URL refuses an unreachable server with exit 7" {
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	run -7 --separate-stderr cimg import "http://127.0.0.1:$port/x.img" --name u
	assert_output ""
	[[ "$stderr" == "cimg: cannot fetch 'http://127.0.0.1:$port/x.img': "*"onnect"* ]]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
}

@test "cimg import URL verifies TLS: a self-signed server is refused with exit 7" {
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	    -keyout "$BATS_TEST_TMPDIR/tls.pem" -out "$BATS_TEST_TMPDIR/cert.pem" 2>/dev/null
	cat "$BATS_TEST_TMPDIR/cert.pem" >> "$BATS_TEST_TMPDIR/tls.pem"
	flaky_server --tls "$BATS_TEST_TMPDIR/tls.pem"
	run -7 --separate-stderr cimg import "https://127.0.0.1:$PORT/disk.raw" --name u
	assert_output ""
	[[ "$stderr" == "cimg: cannot fetch 'https://127.0.0.1:$PORT/disk.raw': "*"certificate"* ]]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
	[ -z "$(ls "$REPO")" ]
	# the server works: one that trusts the certificate fetches the file
	run -0 curl -s --cacert "$BATS_TEST_TMPDIR/cert.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/disk.raw"
	[ "$output" = 200 ]
}

@test "cimg import URL refuses schemes other than http and https with exit 2" {
	refused 2 "cimg: cannot import 'ftp://127.0.0.1/x.img': only http:// and https:// URLs are fetched" \
	    cimg import "ftp://127.0.0.1/x.img" --name u
}

@test "cimg import URL gives up on a stalled transfer with exit 7, leaving nothing ready" {
	flaky_server --stall 1000
	run -7 --separate-stderr cimg import "http://127.0.0.1:$PORT/disk.raw" --name u --timeout 1
	assert_output ""
	[[ "$stderr" == "cimg: cannot fetch 'http://127.0.0.1:$PORT/disk.raw': the transfer stalled ("* ]]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
}

@test "cimg import URL resumes a broken transfer with a range request" {
	flaky_server --drop 1000000
	run -7 --separate-stderr cimg import "http://127.0.0.1:$PORT/disk.raw" --name u
	assert_output ""
	[[ "$stderr" == "cimg: cannot fetch 'http://127.0.0.1:$PORT/disk.raw': "* ]]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
	part=$(ls "$REPO"/*.part)
	[ "$(stat -c %s "$part")" = 1000000 ]
	run -0 --separate-stderr cimg import "http://127.0.0.1:$PORT/disk.raw" --name u --sha256 "$SUM" -o json
	[ "$(jq -r .state <<<"$output")" = ready ]
	[ "$(jq -r .sha256 <<<"$output")" = "$SUM" ]
	[ "$(jq -r .checksum <<<"$output")" = "$XXH" ]
	[ "$(jq -r .size <<<"$output")" = 3145728 ]
	id=$(jq -r .id <<<"$output")
	cmp "$REPO/$id" "$SRV/disk.raw"
	[ "$(cat "$BATS_TEST_TMPDIR/requests.log")" = $'/disk.raw -\n/disk.raw bytes=1000000-' ]
	[ "$(repo_files)" = "$id" ]
}

@test "cimg import URL starts over when the server ignores the range" {
	plain_server
	mkdir -p "$REPO"
	url="http://127.0.0.1:$PORT/disk.raw"
	hash=$(printf %s "$url" | sha256sum | cut -c1-64)
	head -c 5000 /dev/urandom > "$REPO/$hash.part"	# not the file's start
	run -0 cimg import "$url" --name u --sha256 "$SUM" -o json
	[ "$(jq -r .size <<<"$output")" = 3145728 ]
	[ "$(jq -r .checksum <<<"$output")" = "$XXH" ]
	cmp "$REPO/1" "$SRV/disk.raw"
}

@test "cimg import URL draws no progress meter when stderr is no terminal" {
	plain_server
	run -0 --separate-stderr cimg import "http://127.0.0.1:$PORT/disk.raw" --name u -o ids
	[ -z "$stderr" ]
	[ "$output" = 1 ]
}

@test "cimg import URL draws a progress meter when stderr is a terminal, none under -q" {
	plain_server
	run -0 script -qec "cimg import http://127.0.0.1:$PORT/disk.raw --name u -o ids" /dev/null
	[[ "$output" == *"cimg: 100% 3 of 3 MiB, "*" MiB/s"* ]]
	run -0 script -qec "cimg import http://127.0.0.1:$PORT/disk.raw --name v -q" /dev/null
	[ -z "$output" ]
	run -0 cimg list -o ids
	[ "$output" = $'1\n2' ]
}

@test "cimg delete refuses an image while its import runs (5), and the import then fails" {
	flaky_server --stall 1000
	cimg import "http://127.0.0.1:$PORT/disk.raw" --name u --timeout 30 2>"$BATS_TEST_TMPDIR/imp.err" &
	imp=$!
	locked() { [ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT state FROM images WHERE name = 'u'")" = locked ]; }
	wait_for 30 locked
	run -5 --separate-stderr cimg delete u
	assert_output ""
	[ "$stderr" = "cimg: cannot delete image 'u': it is being imported" ]
	kill -9 "$imp"
	wait "$imp" || true
	run -0 cimg delete u -q
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
	# with what the dead import downloaded
	[ -z "$(ls -A "$REPO")" ]
}

@test "cimg import URL finishes a download whose bytes had all arrived (416 on resume)" {
	flaky_server
	mkdir -p "$REPO"
	url="http://127.0.0.1:$PORT/disk.raw"
	hash=$(printf %s "$url" | sha256sum | cut -c1-64)
	cp "$SRV/disk.raw" "$REPO/$hash.part"
	run -0 cimg import "$url" --name u --sha256 "$SUM" -o json
	[ "$(jq -r .size <<<"$output")" = 3145728 ]
	[ "$(cat "$BATS_TEST_TMPDIR/requests.log")" = "/disk.raw bytes=3145728-" ]
	[ "$(repo_files)" = 1 ]
}

@test "cimg import URL refuses a second import of a URL being fetched (5), leaving the first's bytes" {
	plain_server
	mkdir -p "$REPO"
	url="http://127.0.0.1:$PORT/disk.raw"
	hash=$(printf %s "$url" | sha256sum | cut -c1-64)
	: > "$REPO/$hash.part"
	flock "$REPO/$hash.part" sleep 30 3>&- &
	holder=$!
	# the holder has its lock once another cannot take it
	held() { ! flock -n "$REPO/$hash.part" true; }
	wait_for 30 held
	run -5 --separate-stderr cimg import "$url" --name u
	kill "$holder"
	assert_output ""
	[ "$stderr" = "cimg: cannot import '$url': another import of it is running" ]
	[ -f "$REPO/$hash.part" ]
	[ "$(sqlite3 "$CLOUDOS_CATALOG" 'SELECT count(*) FROM images')" = 0 ]
}

@test "cimg apply imports an Image document whose source is a URL" {
	plain_server
	printf 'kind: Image\nname: web\nsource: http://127.0.0.1:%s/disk.raw\nsha256: %s\n---\nkind: VM\nname: v\n' "$PORT" "$SUM" > "$BATS_TEST_TMPDIR/env.yaml"
	run -0 --separate-stderr cimg apply -f "$BATS_TEST_TMPDIR/env.yaml" -o json
	[ "${#lines[@]}" = 2 ]
	[ "$(jq -r .state <<<"${lines[0]}")" = ready ]
	[ "$(jq -r .sha256 <<<"${lines[0]}")" = "$SUM" ]
	[ "$(jq -r .kind <<<"${lines[1]}")" = VM ]
}
