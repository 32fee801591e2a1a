# tests/helpers/common.bash - loaded by every bats file (load helpers/common).
#
# Puts the built programs first on PATH, loads bats-support and bats-assert,
# and gives:
#   lab_start N [--netns]
#                    (setup_file) start N private libvirt hosts under one
#                    short temporary folder (each in its own network
#                    namespace with --netns); exports LAB_DIR, LAB_HOSTS,
#                    LAB_URI1..LAB_URIN, and CLOUDOS_CATALOG for the file
#   lab_stop         (teardown_file) stop them all and remove LAB_DIR
#   lab_host_dir I   the folder of host I (for tests that stop one)
#   lab_suite N [--netns]
#                    (at the top of a file) the file's setup_file starts N
#                    lab hosts (lab_start) and its teardown_file stops them
#                    (lab_stop); a file that needs more in either defines
#                    its own after this line, calling lab_start or lab_stop
#   lab_hosts_add [OPTION...]
#                    (setup) register every lab host I as hI, with OPTIONs
#   delete_vms       (teardown) delete every VM the catalog has, quietly
#   fresh_catalog    (setup) a new catalog path for one test
#   catalog_digest   a digest of the catalog's content, "absent" if none
#   refused CODE LINE CMD...
#                    run CMD (bats run): it exits CODE, prints nothing on
#                    stdout and exactly LINE on stderr, and the catalog's
#                    digest is what it was before
#   refused_by DIGEST CODE LINE CMD...
#                    the same, with DIGEST (a function printing a digest of
#                    what must not change) in place of catalog_digest
#   wait_for SECONDS CMD...
#                    run CMD until it succeeds (every 0.05 s), for at most
#                    SECONDS; fails, naming CMD, if it never does.  Tests
#                    wait for a sign (a file, a port, a state, a pid gone),
#                    never for a guessed time
#   port_open PORT   something listens on 127.0.0.1:PORT
#   gone PID         process PID has ended (or was never ours)
#   console_shows VM ERE...
#                    what VM's serial console (cvm console) shows across a
#                    hard reset (cvm reboot --hard), read until every ERE
#                    has shown (20 s a reset); a reset made before the
#                    console was attached is made again, up to 3 times;
#                    fails if the EREs never all show or Ctrl-] does not
#                    end the console with exit 0
#   sql_hold DB SQL  keep an sqlite3 connection to DB open, having run SQL,
#                    until sql_release [SQL] (which runs SQL first): the
#                    holder lasts exactly as long as the test needs it,
#                    never for a guessed time; wait for its effect (a file,
#                    a row) before relying on it

bats_require_minimum_version 1.5.0

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

CLOUDOS_SRCDIR=${CLOUDOS_SRCDIR:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
CLOUDOS_BUILDDIR=${CLOUDOS_BUILDDIR:-$CLOUDOS_SRCDIR}
export CLOUDOS_SRCDIR CLOUDOS_BUILDDIR
PATH="$CLOUDOS_BUILDDIR:$PATH:/usr/sbin:/sbin"
export PATH
unset CLOUDOS_OUTPUT
LAB="$CLOUDOS_SRCDIR/tests/lab"

lab_start() {
	local n=$1 netns=${2:-} i uri
	lab_guard || return 1
	# unix socket paths are short: keep the lab in /tmp, not BATS_*TMPDIR
	LAB_DIR=$(mktemp -d /tmp/clab.XXXXXX)
	export LAB_DIR LAB_HOSTS=0
	export CLOUDOS_CATALOG="$LAB_DIR/catalog.db"
	for i in $(seq 1 "$n"); do
		uri=$("$LAB/lab-host" start "$LAB_DIR/h$i" $netns) || {
			lab_stop
			return 1
		}
		export "LAB_URI$i=$uri"
		LAB_HOSTS=$i
	done
}

# lab_start refuses under make check-fast (CLOUDOS_CHECK_FAST=1): a suite
# that starts lab hosts belongs in Makefile.am's BATS_SUITES_LAB
lab_guard() {
	[ -z "${CLOUDOS_CHECK_FAST:-}" ] && return 0
	echo "lab_start: make check-fast starts no lab hosts; list $(basename "$BATS_TEST_FILENAME") in Makefile.am's BATS_SUITES_LAB" >&2
	return 1
}

lab_suite() {
	LAB_SUITE_ARGS=("$@")
	setup_file() {
		lab_start "${LAB_SUITE_ARGS[@]}"
	}
	teardown_file() {
		lab_stop
	}
}

lab_hosts_add() {
	local i u
	for i in $(seq 1 "$LAB_HOSTS"); do
		u=LAB_URI$i
		chost add "h$i" "${!u}" "$@" >/dev/null
	done
}

delete_vms() {
	cvm list -o ids 2>/dev/null | xargs -r cvm delete -q 2>/dev/null || true
}

lab_host_dir() {
	echo "$LAB_DIR/h$1"
}

lab_stop() {
	local i
	[ -n "${LAB_DIR:-}" ] || return 0
	for i in $(seq 1 "${LAB_HOSTS:-0}"); do
		"$LAB/lab-host" stop "$LAB_DIR/h$i" || true
	done
	# a host that failed half-way has a folder but is not counted
	for i in "$LAB_DIR"/h*; do
		[ -d "$i" ] && "$LAB/lab-host" stop "$i" || true
	done
	rm -rf "$LAB_DIR"
	unset LAB_DIR
}

fresh_catalog() {
	export CLOUDOS_CATALOG="$BATS_TEST_TMPDIR/catalog.db"
	rm -f "$CLOUDOS_CATALOG" "$CLOUDOS_CATALOG-wal" "$CLOUDOS_CATALOG-shm"
}

catalog_digest() {
	if [ -f "$CLOUDOS_CATALOG" ]; then
		sqlite3 "$CLOUDOS_CATALOG" .dump | sha256sum | cut -d' ' -f1
	else
		echo absent
	fi
}

refused_by() {
	local digest=$1 code=$2 line=$3 before
	shift 3
	before=$($digest)
	run "-$code" --separate-stderr "$@" || return 1
	[ "$stderr" = "$line" ] || {
		printf 'stderr: %s\nwanted: %s\n' "$stderr" "$line"
		return 1
	}
	[ -z "$output" ] || { printf 'stdout: %s\n' "$output"; return 1; }
	[ "$($digest)" = "$before" ] || { echo "the catalog changed"; return 1; }
}

refused() {
	refused_by catalog_digest "$@"
}

wait_for() {
	local secs=$1 end
	shift
	end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
	until "$@"; do
		if [ "$(( $(date +%s%N) / 1000000 ))" -ge "$end" ]; then
			echo "wait_for: gave up after $secs s: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

shows_all() {
	local f=$1 ere
	shift
	for ere; do
		grep -qE -- "$ere" "$f" || return 1
	done
}

console_shows() {
	local vm=$1 dir pid w try rc=1
	shift
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/console.XXXXXX")
	mkfifo "$dir/in"
	cvm console "$vm" <"$dir/in" >"$dir/out" 2>"$dir/err" &
	pid=$!
	exec {w}>"$dir/in"
	for try in 1 2 3; do
		cvm reboot -q --hard "$vm" || break
		if wait_for 20 shows_all "$dir/out" "$@"; then
			rc=0
			break
		fi
	done
	printf '\035' >&"$w"
	exec {w}>&-
	wait_for 10 gone "$pid" || kill "$pid" 2>/dev/null || true
	wait "$pid" || rc=1
	cat "$dir/out"
	return "$rc"
}

sql_hold() {
	local db=$1 sql=$2 fifo
	fifo=$(mktemp -u "$BATS_TEST_TMPDIR/sqlhold.XXXXXX")
	mkfifo "$fifo"
	sqlite3 "$db" <"$fifo" >/dev/null &
	SQL_HOLD_PID=$!
	exec {SQL_HOLD_FD}>"$fifo"
	rm -f "$fifo"
	printf '%s\n' "$sql" >&"$SQL_HOLD_FD"
}

sql_release() {
	[ -n "${SQL_HOLD_PID:-}" ] || return 0
	[ -z "${1:-}" ] || printf '%s\n' "$1" >&"$SQL_HOLD_FD"
	exec {SQL_HOLD_FD}>&-
	wait "$SQL_HOLD_PID"
	unset SQL_HOLD_PID SQL_HOLD_FD
}
