#!/usr/bin/env bash
# tests/bench/bench-docs.sh - documents in time linear in their size
# (issue 11, item 1), whole processes from start to exit, each the median
# of RUNS (default 5) runs, wall seconds and CPU seconds (user + system):
#   docs: refuse keys=200000 bytes=B seconds=S cpu=C
#       a 3 MB VM document of 200,000 keys, `cvm create --queue -`,
#       refused at the 10,001st key (exit 2)
#   docs: accept keys=10000 bytes=B seconds=S cpu=C
#       a VM document at the key bound (9,996 fields cvm ignores),
#       created (queued) on a copy of the same catalog each run
#   docs: largest keys=K bytes=B seconds=S cpu=C
#       the largest VM document the bounds accept: just under 4 MiB, its
#       ignored fields maps of up to 10,000 keys, created the same way
#   docs: stream docs=N keys=K bytes=B seconds=S cpu=C
#       `cvm show -` of N documents at the key bound (N = 10 and 100):
#       every document read, each name looked up (none is there, exit 3)
#   ratio: 10x the keys took Rx the time, Rx the cpu
# With OLD_BUILDDIR=DIR (a build of an older commit), the accept and the
# 10-document stream cases run its cvm too, on the same inputs:
#   old: accept keys=10000 bytes=B seconds=S
#   old: stream docs=10 keys=K bytes=B seconds=S
# and with OLD_REFUSE=1 its refuse case, once (minutes for a reader that
# scans its keys; not the median of anything).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${CLOUDOS_BUILDDIR:-$top}
runs=${RUNS:-5}
TIMEFORMAT='%R %U %S'
work=$(mktemp -d /tmp/cbench-docs.XXXXXX)
trap 'rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"

median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

now() {
	date +%s.%N
}

# vm NAME KEYS: a VM document with KEYS keys in all, the rest ignored ones
vm() {
	printf 'kind: VM\nname: %s\ncpu: 1\nmemory: 64MiB\n' "$1"
	awk -v n="$(($2 - 4))" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "x%07d: %d\n", i, i }'
}

# largest: maps of 10,000 keys under x1, x2, ... up to just under 4 MiB
largest() {
	printf 'kind: VM\nname: largest\ncpu: 1\nmemory: 64MiB\n'
	awk 'BEGIN { size = 44; limit = 4 * 1048576 - 64
	    for (m = 1; size + 5 < limit; m++) {
		printf "x%d:\n", m; size += length(m) + 3
		for (i = 1; i <= 10000; i++) {
			line = sprintf("  k%07d: %d\n", i, i)
			if (size + length(line) > limit)
				exit
			printf "%s", line; size += length(line)
		}
	    } }'
}

bytes() {
	stat -c %s "$1"
}

# run1 CVM IN ARGS...: "WALL CPU" of one run of CVM ARGS < IN (seconds;
# CPU is user + system, steadier than wall time on a shared machine), from
# a fresh copy of the empty catalog
run1() {
	local cvm=$1 in=$2
	shift 2
	rm -f "$CLOUDOS_CATALOG"*
	cp "$work/empty.db" "$CLOUDOS_CATALOG"
	{ time "$cvm" "$@" < "$in" >/dev/null 2>&1; } 2> "$work/time" || true
	awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$work/time"
}

# med CVM IN ARGS...: "seconds=WALL cpu=CPU", each the median of RUNS runs
# after one not counted
med() {
	local r
	run1 "$@" >/dev/null
	for r in $(seq 1 "$runs"); do
		run1 "$@"
	done > "$work/runs"
	echo "seconds=$(cut -d' ' -f1 "$work/runs" | median)" \
	    "cpu=$(cut -d' ' -f2 "$work/runs" | median)"
}

"$build/cvm" list >/dev/null
cp "$CLOUDOS_CATALOG" "$work/empty.db"

vm big 200000 > "$work/refuse.yaml"
vm wide 10000 > "$work/accept.yaml"
largest > "$work/largest.yaml"
for n in 10 100; do
	for i in $(seq 1 "$n"); do
		echo ---
		vm "s$i" 10000
	done > "$work/stream$n.yaml"
done
keys_largest=$(grep -c ':' "$work/largest.yaml")

s=$(med "$build/cvm" "$work/refuse.yaml" create --queue -)
echo "docs: refuse keys=200000 bytes=$(bytes "$work/refuse.yaml") $s"
s=$(med "$build/cvm" "$work/accept.yaml" create --queue -)
echo "docs: accept keys=10000 bytes=$(bytes "$work/accept.yaml") $s"
s=$(med "$build/cvm" "$work/largest.yaml" create --queue -)
echo "docs: largest keys=$keys_largest bytes=$(bytes "$work/largest.yaml") $s"
s10=$(med "$build/cvm" "$work/stream10.yaml" show -)
echo "docs: stream docs=10 keys=100000 bytes=$(bytes "$work/stream10.yaml") $s10"
s100=$(med "$build/cvm" "$work/stream100.yaml" show -)
echo "docs: stream docs=100 keys=1000000 bytes=$(bytes "$work/stream100.yaml") $s100"
awk -v b="$s100" -v s="$s10" 'BEGIN { split(b, bb, /[= ]/)
    split(s, ss, /[= ]/); printf "ratio: 10x the keys took %.1fx the time, " \
    "%.1fx the cpu\n", (ss[2] > 0 ? bb[2] / ss[2] : 0),
    (ss[4] > 0 ? bb[4] / ss[4] : 0) }'

if [ -n "${OLD_BUILDDIR:-}" ]; then
	s=$(med "$OLD_BUILDDIR/cvm" "$work/accept.yaml" create --queue -)
	echo "old: accept keys=10000 bytes=$(bytes "$work/accept.yaml") $s"
	s=$(med "$OLD_BUILDDIR/cvm" "$work/stream10.yaml" show -)
	echo "old: stream docs=10 keys=100000 bytes=$(bytes "$work/stream10.yaml") $s"
	if [ -n "${OLD_REFUSE:-}" ]; then
		s=$(run1 "$OLD_BUILDDIR/cvm" "$work/refuse.yaml" create --queue -)
		echo "old: refuse keys=200000 bytes=$(bytes "$work/refuse.yaml") seconds=${s% *} cpu=${s#* } (one run)"
	fi
fi
