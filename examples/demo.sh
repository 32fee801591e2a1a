#!/usr/bin/env bash
# examples/demo.sh - cloudos's main job on a private lab host: register a
# libvirt host, create a VM from a document, see it running in libvirt,
# list it as JSON, power it off and on, delete it.  Everything lives under
# one temporary folder and is removed at the end, whatever happens.
#
# Run from a built tree (tests/setup builds one); needs root for the lab.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
lab="$top/tests/lab/lab-host"

work=$(mktemp -d /tmp/cdemo.XXXXXX)
cleanup() {
	"$lab" stop "$work/h1" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
export CLOUDOS_CATALOG="$work/catalog.db"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }

say "tests/lab/lab-host start $work/h1     # a private libvirtd (qemu, TCG)"
uri=$("$lab" start "$work/h1")
echo "$uri"

say "chost add h1 '$uri' --label zone=lab"
chost add h1 "$uri" --label zone=lab -o table

say "cvm create - < examples/web-1.yaml"
cvm create - < "$top/examples/web-1.yaml" -o table

uuid=$(cvm show web-1 -o json | jq -r .uuid)
say "virsh -c '$uri' domstate $uuid"
virsh -c "$uri" domstate "$uuid"

say "cvm list -o json | jq -r '.name + \" \" + .state'"
cvm list -o json | jq -r '.name + " " + .state'

say "cvm poweroff web-1 -o table && cvm start web-1 -o table"
cvm poweroff web-1 -o table
cvm start web-1 -o table

say "chost show h1 -o json | jq '{used_cpu, used_memory, vms}'"
chost show h1 -o json | jq -c '{used_cpu, used_memory, vms}'

say "cvm list -o ids | xargs cvm delete -q"
cvm list -o ids | xargs cvm delete -q

say "virsh -c '$uri' list --all --name   # the domain is gone"
virsh -c "$uri" list --all --name

say "cvm list --all -o table              # the record stays, as done"
cvm list --all -o table

say "chost remove h1"
chost remove h1
echo "demo finished: a VM created, seen running, listed, deleted" >&2
