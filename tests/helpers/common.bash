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
#   fresh_catalog    (setup) a new catalog path for one test
#   catalog_digest   a digest of the catalog's content, "absent" if none
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
