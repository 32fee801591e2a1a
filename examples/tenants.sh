#!/usr/bin/env bash
# examples/tenants.sh - identity: every command acts as the catalog user its
# Unix uid maps to; admins add users, may act as them (--as), and see all.
# Uses libvirt's test driver (test:///default), which needs no daemon: its
# domains live only as long as one connection, which is enough to show who
# owns and sees what.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
work=$(mktemp -d /tmp/ctenants.XXXXXX)
trap 'rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"

chost add t1 test:///default -q
chost list -o table

# two tenants and a second admin
cacct user add alice --uid 5001 -o table
cacct user add bob --uid 5002 -q
cacct user add carol --uid 5003 --group admin -q
cacct user list -o table

# alice and bob each create a VM; every VM has an owner and a group
printf 'name: alice-web\ncpu: 1\nmemory: 64MiB\n' | cvm --as alice create - -q
printf 'name: bob-db\ncpu: 1\nmemory: 64MiB\n' | cvm --as bob create - -q

echo "alice sees: $(cvm --as alice list -o json | jq -r .name | paste -sd' ')"
echo "root sees:  $(cvm list -o json | jq -r '.name + "(" + .owner + ")"' | paste -sd' ')"

# a tenant may not add users
cacct --as alice user add eve --uid 5005 2>&1 || echo "(refused, exit $?)"

# clean up: delete every VM; the records stay, as done
cvm list -o ids | xargs cvm delete -q
cvm list --all -o table
