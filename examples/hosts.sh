#!/usr/bin/env bash
# examples/hosts.sh - hosts as an admin runs them: a cluster described in
# one document stream, overcommit, a monitoring pass that finds a host
# down, and its return.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
lab="$top/tests/lab/lab-host"
work=$(mktemp -d /tmp/chosts.XXXXXX)
trap '"$lab" stop "$work/h1" >/dev/null 2>&1 || true
      "$lab" stop "$work/h2" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"
uri1=$("$lab" start "$work/h1")
uri2=$("$lab" start "$work/h2")

# the environment as one stream: chost takes the Cluster and Host
# documents and passes the rest on (here, to a file for cvm)
cat > "$work/env.yaml" <<YAML
kind: Cluster
name: rack1
---
kind: Host
name: h1
uri: "$uri1"
cluster: rack1
declared_cpu: 2
cpu_ratio: 2
---
kind: Host
name: h2
uri: "$uri2"
cluster: rack1
---
kind: VM
name: web-1
cpu: 1
memory: 64
YAML
chost apply -f "$work/env.yaml" -o yaml > "$work/rest.yaml"
echo "passed on: $(grep -c '^kind: VM' "$work/rest.yaml") VM document"
chost list -o json | jq -r '.name + " offers " + (.cpu | tostring) + " CPUs"'

# applying the same stream again changes nothing; -q prints nothing of
# chost's own, and the VM still passes on for the next program
chost apply -f "$work/env.yaml" -q -o json | jq -r '"passed on again: " + .kind + " " + .name'
chost cluster list -o json | jq -r '.name + " has " + (.hosts | tostring) + " hosts"'

# h2 goes down: monitoring marks it error and exits 8 (partial)
"$lab" stop "$work/h2"
chost monitor --timeout 5 -o json 2>/dev/null | jq -r '.name + " " + .state' || echo "(monitor exit $?)"

# it comes back, and so does its state
"$lab" start "$work/h2" >/dev/null
chost monitor h2 -o json | jq -r '.name + " " + .state'
