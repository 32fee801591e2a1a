#!/usr/bin/env bash
# examples/networks.sh - cnet on a private lab host in its own network
# namespace: a network applied from a document with the VM on it, the
# guest on the host's libvirt network with its leased addresses, a second
# NIC attached and detached live, a reservation, and the environment torn
# down by the file that built it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
lab="$top/tests/lab/lab-host"
work=$(mktemp -d /tmp/cnets.XXXXXX)
trap '"$lab" stop "$work/h1" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"
uri=$("$lab" start "$work/h1" --netns)
chost add h1 "$uri" -q

# the network and the VM from one file: cnet takes the Network, cvm the VM
cnet apply - < "$top/examples/networks.yaml" | cvm apply - -o json |
    jq -r 'select(.kind == "VM") | .name + " ips: " + (.ips | join(" "))'

# the guest sits on the host's libvirt network with its leased MAC
uuid=$(cvm show web-1 -o json | jq -r .uuid)
virsh -c "$uri" domiflist "cloudos-$uuid" | awk 'NR > 2 && NF { print "libvirt: " $3 " " $5 }'
cvm show web-1 -o json | jq -r '.nics[] | "catalog: " + .network + " " + .mac'

# a back-end network, attached live (a USB NIC leaves without the guest's
# help) and detached again; an address kept out of the pool by hand
cnet create back --mode isolated --cidr 10.11.0.0/29 -q
cnet reserve back 10.11.0.2 -q
cvm nic attach web-1 --network back --model usb-net -o json |
    jq -r '"attached: " + (.ips | join(" "))'
cnet lease list back -o json | jq -r '"lease: " + .ip + " " + (if .reserved then "reserved" else .vm end)'
cvm nic detach web-1 1 -o json | jq -r '"detached: " + (.ips | join(" "))'

cnet release back 10.11.0.2 -q
cnet delete back -q

# the file that built the environment tears it down, through the same
# programs the other way round: cvm deletes the VM and passes the Network
# on to cnet.
cvm delete - -q < "$top/examples/networks.yaml" | cnet delete - -q
echo "networks on h1: $(virsh -c "$uri" net-list --all --name | grep -c cloudos- || true)"
echo "networks left: $(cnet list -o ids | wc -l)"
