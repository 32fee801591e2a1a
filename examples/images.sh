#!/usr/bin/env bash
# examples/images.sh - the image repository: import a disk, clone it,
# export the clone as an OVA (OVF + manifest + streamOptimized vmdk),
# import that OVA back and check it holds the same disk.  Everything lives
# under one temporary folder and is removed at the end.
#
# Run from a built tree; needs qemu-img.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"

work=$(mktemp -d /tmp/cimages.XXXXXX)
trap 'rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }

qemu-img create -q -f qcow2 "$work/base.qcow2" 64M

say "cimg config --reserve 5% --max-size 20GiB"
cimg config --reserve 5% --max-size 20GiB -o yaml

say "cimg import base.qcow2 --name base --os debian"
cimg import "$work/base.qcow2" --name base --os debian -o table

say "cimg clone base web-base"
cimg clone base web-base -o table

say "cimg export web-base > web-base.ova && tar tf web-base.ova"
cimg export web-base > "$work/web-base.ova"
tar tf "$work/web-base.ova"

say "cimg import web-base.ova --name from-ova"
cimg import "$work/web-base.ova" --name from-ova -o json | jq -r '.name + " " + .format + " " + .state'

say "qemu-img compare (the OVA holds the same disk)"
qemu-img compare -q "$work/images/2" "$work/images/3" && echo "same disk"

say "cimg list"
cimg list -o table
echo "images finished" >&2
