#!/usr/bin/env bash
# tests/bench/bench-imgdisk.sh - VMs from one image on one host (issue 5):
# VMS (default 20) real qemu guests of 64 MiB, each with one disk cloned
# from a SIZE_MIB (default 256) MiB raw image (a boot sector that prints
# on COM1 and halts, then random bytes), created one after another on one
# private lab host (cpu overcommit lets 20 one-vCPU guests in).  Counts
# what reached the host: upload audit events, the cached volume's inode
# and mtime before and after the second VM, the bytes of the host's pool.
# Prints:
#   imgdisk: vms=N image_mib=M uploads=U cache_rewritten=no first=S rest_median=S total=S pool_mib=P
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
vms=${VMS:-20} mib=${SIZE_MIB:-256}
work=$(mktemp -d /tmp/cbench-vd.XXXXXX)
trap '"$top/tests/lab/lab-host" stop "$work/h1" || true; rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"

median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

now() {
	date +%s.%N
}

uri=$("$top/tests/lab/lab-host" start "$work/h1")
chost add h1 "$uri" -q >/dev/null
chost set h1 --cpu-ratio "$vms" -q >/dev/null
"$top/tests/data/mkboot" "$work/disk.raw"
head -c "$((mib * 1048576 - 512))" /dev/urandom >> "$work/disk.raw"
cimg import "$work/disk.raw" --name bench -q >/dev/null
sha=$(cimg show bench -o json | jq -r .sha256)
cache="$work/h1/lib/images/cloudos/img-$sha"

: > "$work/times"
t0=$(now)
for i in $(seq 1 "$vms"); do
	printf 'name: v%d\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: bench\n' "$i" > "$work/v.yaml"
	s=$(now)
	cvm create -q "$work/v.yaml" >/dev/null
	e=$(now)
	echo "$e - $s" | bc >> "$work/times"
	if [ "$i" = 1 ]; then
		first=$(echo "$e - $s" | bc)
		before=$(stat -c '%i %Y.%y' "$cache")
	fi
done
t1=$(now)
after=$(stat -c '%i %Y.%y' "$cache")
rewritten=no
[ "$before" = "$after" ] || rewritten=yes
uploads=$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM audit WHERE action = 'upload' AND kind = 'Image'")
running=$(cvm list --state running -o ids | wc -l)
rest=$(tail -n +2 "$work/times" | median)
pool=$(du -sm "$work/h1/lib/images/cloudos" | cut -f1)
for v in $(cvm list -o ids); do
	cvm delete -q "$v"
done
echo "imgdisk: vms=$vms running=$running image_mib=$mib uploads=$uploads cache_rewritten=$rewritten first=$first rest_median=$rest total=$(echo "$t1 - $t0" | bc) pool_mib=$pool"
