#!/usr/bin/env bash
# examples/scheduler.sh - letting csched place VMs on two private lab
# hosts: an anti-affinity group, requirements over labels, a queue, a plan
# looked at before a pass, the reason a VM waits, and a rebalance.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
lab="$top/tests/lab/lab-host"
work=$(mktemp -d /tmp/csch.XXXXXX)
trap '"$lab" stop "$work/h1" >/dev/null 2>&1 || true
      "$lab" stop "$work/h2" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"
chost add h1 "$("$lab" start "$work/h1")" --label zone=edge --migration-address 127.0.0.1 -q
chost add h2 "$("$lab" start "$work/h2")" --label zone=core --migration-address 127.0.0.1 -q

# web VMs never share a host; the cache wants the edge
csched group create web --anti-affinity -q
# shared with the owner's group (groups are private until shared)
csched group set web --visibility group -q
cat > "$work/vms.yaml" <<'YAML'
name: web
cpu: 1
memory: 64MiB
group: web
---
name: cache
cpu: 1
memory: 64MiB
requirements: 'labels.zone == "edge"'
---
name: gpu
cpu: 1
memory: 64MiB
requirements: 'labels.gpu == "yes"'
YAML
cvm create --queue --count 2 - -q < "$work/vms.yaml"

# look first, then a pass places and deploys: here in the background, as
# a timer runs it, and cvm wait (not a sleep loop over cvm show) returns
# once what it places runs
csched plan -o json | jq -r '"plan: " + .vm + " -> " + .host'
csched pass -o json > "$work/pass.json" &
cvm wait web-1 web-2 --state running --timeout 300 -o json | jq -r '"up: " + .name'
wait $!
jq -r '"ran: " + .name + " on " + .host' "$work/pass.json" | sort
csched explain gpu-1 cache-2 -o json | jq -r '.vm + " waits: " + .reason'

# h1 is full and web-2 may not join web-1: nothing to pack, so no moves
echo "pack moves: $(csched rebalance --policy pack -o json | wc -l)"
cvm list -o ids | xargs cvm delete -q
