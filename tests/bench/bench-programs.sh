#!/usr/bin/env bash
# tests/bench/bench-programs.sh - the scheduler's targets through the
# programs (issue: csched): `cvm create --count 20000 --queue` and
# `csched plan` of those 20,000 queued VMs on 2,000 hosts with declared
# capacity (test:///default, so no hypervisor is called while planning).
# Prints one line per figure, the median of RUNS runs:
#   programs: create_queue vms=V seconds=S
#   programs: plan hosts=H vms=V placed=P seconds=S
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
hosts=${HOSTS:-2000} vms=${VMS:-20000} runs=${RUNS:-5}
work=$(mktemp -d /tmp/cbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"

median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

now() {
	date +%s.%N
}

# the hosts: one chost apply, labels in two zones
for i in $(seq 1 "$hosts"); do
	printf '{"kind":"Host","name":"h%d","uri":"test:///default","declared_cpu":16,"declared_memory":65536,"labels":{"zone":"%s"}}\n' \
	    "$i" "$([ $((i % 2)) -eq 0 ] && echo a || echo b)"
done | chost apply - -q >/dev/null
cp "$CLOUDOS_CATALOG" "$work/hosts.db"
printf 'name: q\ncpu: 2\nmemory: 4GiB\nrequirements: '"'"'labels.zone == "a" || cpu >= 16'"'"'\n' > "$work/vm.yaml"

# cvm create --count N --queue, from the same catalog each run
for r in $(seq 1 "$runs"); do
	rm -f "$CLOUDOS_CATALOG"*
	cp "$work/hosts.db" "$CLOUDOS_CATALOG"
	t0=$(now)
	cvm create --queue --count "$vms" -q -f "$work/vm.yaml" -o ids >/dev/null
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
done | median | sed "s/^/programs: create_queue vms=$vms seconds=/"

# csched plan of them (the catalog from the last run)
placed=$(csched plan -o json | wc -l)
for r in $(seq 1 "$runs"); do
	t0=$(now)
	csched plan -o json >/dev/null
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
done | median | sed "s/^/programs: plan hosts=$hosts vms=$vms placed=$placed seconds=/"
