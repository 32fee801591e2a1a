#!/usr/bin/env bats
# Identity: the catalog user is mapped from the caller's real uid; root and
# the admin group are admins; --as is for admins.  Runs programs as other
# uids with setpriv, against a catalog those uids may write.

load helpers/common

setup() {
	dir=$(mktemp -d /tmp/cid.XXXXXX)
	chmod 0777 "$dir"
	export CLOUDOS_CATALOG="$dir/catalog.db"
	cacct user add alice --uid 5001 >/dev/null
	cacct user add bob --uid 5002 >/dev/null
	cacct user add carol --uid 5003 --group admin >/dev/null
	chmod 0666 "$dir"/catalog.db*
}

teardown() {
	rm -rf "$dir"
}

# as UID CMD...: run CMD as a plain Unix user
as() {
	local uid=$1
	shift
	setpriv --reuid "$uid" --regid "$uid" --clear-groups -- "$@"
}

@test "identity: a uid with a catalog user acts as that user" {
	run -0 as 5001 cacct user list -o json
	[ "$(jq -r .name <<<"$output")" = alice ]
	[ "${#lines[@]}" -eq 1 ]
}

@test "identity: root sees every user" {
	run -0 cacct user list -o ids
	[ "$output" = $'0\n1\n2\n3' ]
}

@test "identity: a uid without a catalog user is refused with exit 4" {
	before=$(catalog_digest)
	run -4 --separate-stderr as 5999 cacct user list
	assert_output ""
	[[ "$stderr" == "cacct: uid 5999 ("*") has no catalog user; an admin adds one with 'cacct user add NAME --uid 5999'" ]]
	[ "$(catalog_digest)" = "$before" ]
}

@test "identity: --as by a non-admin is refused with exit 4" {
	run -4 --separate-stderr as 5001 cacct --as bob user list
	[ "$stderr" = "cacct: only admins may act as another user (--as 'bob')" ]
}

@test "identity: a member of the admin group may use --as" {
	run -0 as 5003 cacct --as bob user list -o json
	[ "$(jq -r .name <<<"$output")" = bob ]
}

@test "identity: a non-admin may not add users (exit 4)" {
	refused 4 "cacct: user 'alice' may not add users (admins only)" \
	    as 5001 cacct user add eve --uid 5005
}

@test "identity: cacct user add refuses a taken name or uid with exit 5" {
	run -5 --separate-stderr cacct user add alice --uid 6000
	[ "$stderr" = "cacct: user 'alice' or uid 6000 exists already" ]
	run -5 cacct user add zed --uid 5001
	run -3 --separate-stderr cacct user add zed --group nogroup
	[ "$stderr" = "cacct: no group 'nogroup'" ]
	run -2 --separate-stderr cacct user add zed --uid=-4
	[ "$stderr" = "cacct: invalid uid '-4'" ]
}

@test "identity: every change leaves an audit row naming the actor" {
	run -0 sqlite3 "$CLOUDOS_CATALOG" "SELECT user || ' ' || action || ' ' || kind || ' ' || object_name FROM audit ORDER BY id"
	[ "$output" = $'root create User alice\nroot create User bob\nroot create User carol' ]
}

# groupvm NAME GROUP: a VM document in affinity group GROUP
groupvm() {
	printf 'name: %s\ncpu: 1\nmemory: 64MiB\ngroup: %s\n' "$1" "$2"
}

@test "csched group: another tenant neither sees, joins, changes nor removes a private group" {
	run -0 as 5001 csched group create web --anti-affinity -o json
	[ "$(jq -r '[.owner, .visibility] | @tsv' <<<"$output")" = "$(printf 'alice\tprivate')" ]
	before=$(catalog_digest)
	refused 3 "csched: no group 'web'" as 5002 csched group show web
	run -0 as 5002 csched group list -o ids
	assert_output ""
	refused 3 "cvm: <stdin>: line 1: group: no group 'web' (make it with 'csched group create')" \
	    as 5002 cvm create --hold - < <(groupvm squat web)
	refused 3 "csched: no group 'web'" as 5002 csched group remove web
	refused 3 "csched: no group 'web'" as 5002 csched group set web --visibility public
	[ "$(catalog_digest)" = "$before" ]
	# its owner and the admins see it and use it
	run -0 as 5001 cvm create --hold - -o ids < <(groupvm a1 web)
	run -0 as 5003 csched group list -o ids
	assert_output 1
	run -0 csched group show web -o json
	[ "$(jq -r .vms <<<"$output")" = 1 ]
}

@test "csched group: shared with the group or the public, others join but only the owner changes it" {
	as 5001 csched group create web --anti-affinity --visibility public -q
	run -0 as 5002 csched group show web -o json
	[ "$(jq -r '[.name, .owner, .visibility] | @tsv' <<<"$output")" = "$(printf 'web\talice\tpublic')" ]
	run -0 as 5002 cvm create --hold - -o ids < <(groupvm b1 web)
	refused 4 "csched: cannot remove group 'web': it is not yours" \
	    as 5002 csched group remove web
	refused 4 "csched: cannot change group 'web': it is not yours" \
	    as 5002 csched group set web --visibility private
	# shared with the owner's group only: bob, in the same group, still
	# sees it; made private, he does not
	run -0 as 5001 csched group set web --visibility group -o json
	[ "$(jq -r .visibility <<<"$output")" = group ]
	run -0 as 5002 csched group list -o ids
	assert_output 1
	run -0 as 5001 csched group set web --visibility PRIVATE -q
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT visibility FROM vm_groups WHERE name = 'web'")" = private ]
	run -3 as 5002 csched group show web
	run -2 --separate-stderr as 5001 csched group set web --visibility everyone
	[ "$stderr" = "csched: unknown visibility 'everyone' (expected one of: private, group, public)" ]
	run -2 --separate-stderr as 5001 csched group create db --affinity --visibility everyone
	[ "$stderr" = "csched: unknown visibility 'everyone' (expected one of: private, group, public)" ]
}
