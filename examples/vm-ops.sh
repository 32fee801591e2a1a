#!/usr/bin/env bash
# examples/vm-ops.sh - day-two VM operations on two private lab hosts: an
# environment applied from one file, a disk, a snapshot and a revert, a
# resize, a stop that frees the host, the serial console from a script,
# and an HA restart after a crash.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
lab="$top/tests/lab/lab-host"
work=$(mktemp -d /tmp/cops.XXXXXX)
trap '"$lab" stop "$work/h1" >/dev/null 2>&1 || true
      "$lab" stop "$work/h2" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"
chost add h1 "$("$lab" start "$work/h1")" --migration-address 127.0.0.1 -q
chost add h2 "$("$lab" start "$work/h2")" --migration-address 127.0.0.1 -q

# the environment: VMs are created, the Network passes through for cnet;
# applying it again changes nothing, and -q prints nothing of cvm's own:
# only what passes through for the next program
cvm apply - -o json < "$top/examples/env.yaml" | jq -r '.kind + " " + .name'
cvm apply - -q -o json < "$top/examples/env.yaml" | jq -r '"passed on: " + .kind + " " + .name'

# another disk for the database, live, then a snapshot to come back to
cvm disk attach db-1 --size 32MiB -o json | jq -r '"db-1 disks: " + ([.disks[].target] | join(" "))'
cvm snapshot create db-1 before-upgrade -o json | jq -r '"snapshot " + .name + " (" + .state + ")"'
cvm poweroff -q db-1
cvm snapshot revert db-1 before-upgrade -o json | jq -r '"db-1 reverted: " + .state'

# the app gets less memory, live (the balloon), and later a stop frees
# its host's capacity until it starts again
cvm resize app-1 --memory 48MiB -o json | jq -r '"app-1 memory: " + (.memory | tostring)'
cvm stop app-1 -o json | jq -r '"app-1 " + .state'
chost list -o json | jq -r '.name + " used cpu: " + (.used_cpu | tostring)'
cvm start app-1 -q

# the serial console, scripted: the end of input leaves it
cvm console app-1 </dev/null >/dev/null && echo "console: attached and left"

# db-1 says ha: restart: kill its qemu and let reconcile bring it back
uuid=$(cvm show db-1 -o json | jq -r .uuid)
kill -9 "$(pgrep -f "guest=cloudos-$uuid,")"
sleep 1
cvm reconcile -o json | jq -r '"reconcile: " + .name + " " + .state'
cvm history db-1 -o json | jq -r 'select(.action == "ha") | "ha: " + .detail'

# an admin takes over whatever action on db-1 is in flight, whoever runs
# it, and prints the VMs it changed (here none is in flight: it prints
# nothing and leaves db-1 as it is)
cvm reconcile --force db-1

cvm snapshot delete db-1 before-upgrade
cvm list -o ids | xargs cvm delete -q
