#!/usr/bin/env bash
# examples/lifecycle.sh - the VM life cycle on a private lab host, as an
# admin would script it: a batch of VMs held, released, suspended and
# resumed, shut down, with the history of one of them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
lab="$top/tests/lab/lab-host"
work=$(mktemp -d /tmp/clife.XXXXXX)
trap '"$lab" stop "$work/h1" >/dev/null 2>&1 || true
      "$lab" stop "$work/h2" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"

# two lab hosts; they share this machine's network, so migration streams
# go over 127.0.0.1
chost add h1 "$("$lab" start "$work/h1")" --migration-address 127.0.0.1 -q
chost add h2 "$("$lab" start "$work/h2")" --migration-address 127.0.0.1 -q

# two VMs from one document, held until we say so
cvm create --count 2 --hold - -q < "$top/examples/web-1.yaml"
cvm list --state hold -o ids | xargs cvm release -q
cvm list -o json | jq -r '.name + " " + .state'

# pause them all in memory, then resume the ones that are suspended
cvm list -o ids | xargs cvm suspend -q
cvm list --state suspended -o json | cvm resume - -o json | jq -r '.name + " " + .state'

# move everything off h1, live
cvm list --host h1 -o json | cvm migrate - --to h2 --live -q
chost list -o json | jq -r '.name + " runs " + (.vms | tostring) + " VMs"'

# a hard reboot, then a shutdown that powers off what ignores ACPI
cvm reboot --hard web-1-1 -q
cvm list -o ids | xargs cvm shutdown --timeout 2 -q
cvm list -o table

# what happened to web-1-1, and who did it
cvm history web-1-1 -o table

# maintenance on h2: drain it (its VMs move to h1), then take it back
chost drain h2 -o ids >/dev/null
echo "on h1 after draining h2: $(cvm list --host h1 -o ids | paste -sd' ')"
chost enable h2 -q

cvm list -o ids | xargs cvm delete -q

# maintenance: a disabled host takes no new VMs until it is enabled again
chost disable h1 -q
cvm create - < "$top/examples/web-1.yaml" 2>&1 || echo "(refused, exit $?)"
chost enable h1 -o table
