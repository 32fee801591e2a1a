#!/usr/bin/env bash
# examples/secgroups.sh - security groups: a document describes them, cnet
# apply makes them (twice changes nothing), rules are added and removed by
# hand, tenants see what they own, their group's and public groups, and a
# group still named by another's rule cannot go.  On hosts each group
# becomes a libvirt nwfilter on its NICs (tests/cnet-secgroup.bats shows
# the iptables chains); this example needs no host.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
work=$(mktemp -d /tmp/csg.XXXXXX)
trap 'rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"

# the groups of a two-tier application, from one document
cnet apply -q - < "$top/examples/secgroups.yaml"
cnet apply - < "$top/examples/secgroups.yaml" -o json | jq -r '"applied again: \(.name), \(.rules | length) rules"'
cnet secgroup list -o table

# open a port range for a while, then close it again
cnet secgroup rule add web --in --proto udp --port 60000-61000 -o json |
    jq -r '.rules[] | "web: \(.direction) \(.proto) \(.port // "-") \(.cidr // .group // "any")"'
cnet secgroup rule delete web --in --proto udp --port 60000-61000 -q

# bad input is refused, and says why
cnet secgroup rule add web --in --proto icmp --port 8 2>&1 || echo "(refused, exit $?)"

# a tenant sees her own and public groups, and builds on a public one
cacct user add alice --uid 5001 -q
cnet secgroup publish bastion -q
cnet --as alice secgroup create -q alice-app
cnet --as alice secgroup rule add alice-app --in --proto tcp --port 22 --group bastion -q
echo "alice sees: $(cnet --as alice secgroup list -o json | jq -r .name | paste -sd' ')"

# bastion is named by web's and alice-app's rules: it stays
cnet secgroup delete bastion 2>&1 || echo "(refused, exit $?)"
cnet --as alice secgroup delete alice-app
cnet secgroup delete db web
echo "left: $(cnet secgroup list -o json | jq -r .name | paste -sd' ')"
