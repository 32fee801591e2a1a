#!/usr/bin/env bash
# examples/vm-images.sh - VMs from an image on two private lab hosts: a
# bootable image imported with cimg, VMs whose disk is a linked clone of
# it (the image reaches each host once), the guest booting from it, a
# disk in a datastore, a live migration that copies only the overlay, and
# the image used until its last VM goes.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
lab="$top/tests/lab/lab-host"
work=$(mktemp -d /tmp/cimgex.XXXXXX)
trap '"$lab" stop "$work/h1" >/dev/null 2>&1 || true
      "$lab" stop "$work/h2" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"
chost add h1 "$("$lab" start "$work/h1")" --migration-address 127.0.0.1 -q
chost add h2 "$("$lab" start "$work/h2")" --migration-address 127.0.0.1 -q

# a 512-byte boot sector that prints on the serial port, as an image
"$top/tests/data/mkboot" "$work/boot.img"
cimg import "$work/boot.img" --name boot -o json | jq -r '"image " + .name + ": " + .format + ", " + .state'

# two VMs on h1 cloned from it, a third with a disk in datastore fast (h2)
cvol datastore create fast --host h2 -q
for vm in web-1 web-2; do
	printf 'name: %s\ncpu: 1\nmemory: 64MiB\nrequirements: name == "h1"\ndisks:\n  - image: boot\n' "$vm" |
	    cvm create - -o json | jq -r '.name + " on " + .host + ": " + ([.disks[] | .target + " from " + .image] | join(" "))'
done
printf 'name: db-1\ncpu: 1\nmemory: 64MiB\ndisks:\n  - image: boot\n  - size: 32MiB\n    datastore: fast\n' |
    cvm create - -o json | jq -r '.name + " on " + .host + ": " + ([.disks[] | .target + " " + (.datastore // "own pool")] | join(", "))'
cimg show boot -o json | jq -r '"image boot is " + .state'
echo "uploads of boot: $(sqlite3 "$CLOUDOS_CATALOG" "SELECT group_concat(detail, '; ') FROM audit WHERE action = 'upload'")"

# the guest boots from its clone: watch its console across a reset
mkfifo "$work/in"
( sleep 1; cvm reboot -q --hard web-1; sleep 4; printf '\035' ) > "$work/in" &
cvm console web-1 < "$work/in" | tr -d '\r' | grep -a -o 'cloudos-boot-ok' | head -1
wait

# live to h2, where the image is cached already: only the overlay moves
cvm migrate web-2 --to h2 --live -o json | jq -r '"web-2 now on " + .host'

# the image stays used until its last VM goes
cimg delete boot 2>&1 || echo "(refused, exit $?)"
cvm list -o ids | xargs cvm delete -q
cimg show boot -o json | jq -r '"image boot is " + .state'
cimg delete -q boot && echo "image boot deleted"
