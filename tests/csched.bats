#!/usr/bin/env bats
# csched through the programs: affinity groups, plans (test:///default
# hosts with declared capacity: no guest starts, no hypervisor is called),
# and passes that deploy real guests on two lab hosts.

load helpers/common

lab_suite 2

setup() {
	fresh_catalog
	chost list >/dev/null	# the catalog exists, so digests compare
}

teardown() {
	delete_vms
}

# hosts N CPU MEM [label...]: test hosts t1..tN of that declared size
hosts() {
	local n=$1 cpu=$2 mem=$3 i
	shift 3
	for i in $(seq 1 "$n"); do
		chost add "t$i" test:///default --cpu "$cpu" --memory "$mem" "$@" -q
	done
}

# queue NAME COUNT [yaml lines...]: COUNT pending VMs NAME-1..NAME-COUNT
queue() {
	local name=$1 count=$2
	shift 2
	{
		printf 'name: %s\ncpu: 1\nmemory: 64MiB\n' "$name"
		for l in "$@"; do printf '%s\n' "$l"; done
	} > "$BATS_TEST_TMPDIR/$name.yaml"
	cvm create --queue --count "$count" -q "$BATS_TEST_TMPDIR/$name.yaml"
}

# per_host: "host count" lines of a plan on stdin, sorted by host
per_host() {
	jq -r .host | sort | uniq -c | awk '{ print $2 " " $1 }'
}

@test "csched group create, list, show and remove; refusals" {
	run -0 --separate-stderr csched group create web --anti-affinity -o json
	[ -z "$stderr" ]
	[ "$(jq -r '[.kind, .name, .rule, .vms] | @tsv' <<<"$output")" = "$(printf 'AffinityGroup\tweb\tanti-affinity\t0')" ]
	run -0 csched group create db --affinity -o json
	[ "$(jq -r .rule <<<"$output")" = affinity ]
	run -0 csched group list -o json
	[ "$(jq -r .name <<<"$output" | tr '\n' ' ')" = "web db " ]
	refused 5 "csched: group 'web' exists already" csched group create web --affinity
	refused 2 "csched: group create needs --affinity or --anti-affinity" csched group create x
	refused 2 "csched: group create needs --affinity or --anti-affinity" \
	    csched group create x --affinity --anti-affinity
	refused 3 "csched: no group 'nosuch'" csched group show nosuch
	hosts 1 4 1GiB
	queue w 1 'group: web'
	run -5 --separate-stderr csched group remove web
	[ "$stderr" = "csched: cannot remove group 'web': 1 VM is in it" ]
	run -3 --separate-stderr cvm create - <<<$'name: z\ncpu: 1\nmemory: 64MiB\ngroup: nosuch'
	[ "$stderr" = "cvm: <stdin>: line 1: group: no group 'nosuch' (make it with 'csched group create')" ]
	cvm delete -q w-1
	run -0 csched group remove web
	run -0 csched group list -o ids
	[ "$output" = 2 ]
}

@test "csched plan packs onto the fewest hosts, and changes nothing" {
	hosts 4 4 4GiB
	queue p 6
	cvm show p-1 -o json | jq -e '.state == "pending" and .host == null'
	# no hypervisor is called: the hosts could not answer anyway
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = 'qemu+unix:///system?socket=/nonexistent'"
	before=$(catalog_digest)
	run -0 --separate-stderr csched plan -o json
	[ -z "$stderr" ]
	[ "$(jq -s length <<<"$output")" = 6 ]
	[ "$(jq -r '[.kind, .action] | @tsv' <<<"$output" | sort -u)" = "$(printf 'Placement\tdeploy')" ]
	[ "$(per_host <<<"$output")" = $'t1 4\nt2 2' ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "csched plan spreads evenly with policy spread" {
	hosts 3 8 8GiB
	queue s 7 'policy: spread'
	run -0 csched plan -o json
	[ "$(per_host <<<"$output")" = $'t1 3\nt2 2\nt3 2' ]
}

@test "requirements choose the hosts; VMs no host passes stay pending, and say why" {
	chost add t1 test:///default --cpu 4 --memory 4GiB --label zone=a -q
	chost add t2 test:///default --cpu 4 --memory 4GiB --label zone=b -q
	queue a 2 'requirements: labels.zone == "b"'
	queue c 1 'requirements: labels.zone == "c"'
	run -0 csched plan -o json
	[ "$(per_host <<<"$output")" = "t2 2" ]
	run -0 csched explain c-1 -o json
	[ "$(jq -r .state <<<"$output")" = pending ]
	[ "$(jq -r .now <<<"$output")" = "no host passes the requirements 'labels.zone == \"c\"'" ]
	run -0 csched explain a-1 -o json
	[ "$(jq -r .now <<<"$output")" = "would go to host 't2'" ]
	# a bad expression is refused where it is written
	before=$(catalog_digest)
	run -2 --separate-stderr cvm create - <<<$'name: x\ncpu: 1\nmemory: 64MiB\nrequirements: \'cpu >> 2\''
	[[ "$stderr" == "cvm: <stdin>: line 1: requirements: column "* ]]
	refused 2 "cvm: <stdin>: line 1: unknown policy 'tidy' (expected one of: pack, spread, load, rank: EXPR)" \
	    cvm create - <<<$'name: x\ncpu: 1\nmemory: 64MiB\npolicy: tidy'
	[ "$(catalog_digest)" = "$before" ]
}

@test "anti-affinity puts a group's VMs on different hosts; affinity on one" {
	hosts 2 8 8GiB
	csched group create web --anti-affinity -q
	csched group create db --affinity -q
	queue w 3 'group: web'
	queue d 3 'group: db' 'policy: spread'
	run -0 csched plan -o json
	[ "$(jq -r 'select(.vm | startswith("w-")) | .host' <<<"$output" | sort | tr '\n' ' ')" = "t1 t2 " ]
	[ "$(jq -r 'select(.vm | startswith("d-")) | .host' <<<"$output" | sort -u | wc -l)" = 1 ]
	[ "$(jq -r 'select(.vm | startswith("d-")) | .vm' <<<"$output" | wc -l)" = 3 ]
	run -0 csched explain w-3 -o json
	[[ "$(jq -r .now <<<"$output")" == *"anti-affinity"* ]]
}

@test "priority goes first when room is short" {
	hosts 1 2 4GiB
	queue low 2
	queue high 1 'priority: 10'
	run -0 csched plan -o json
	[ "$(jq -r .vm <<<"$output" | tr '\n' ' ')" = "high-1 low-1 " ]
}

@test "csched pass deploys pending VMs on real hosts and records why others wait" {
	chost add h1 "$LAB_URI1" --label zone=a -q
	chost add h2 "$LAB_URI2" --label zone=b -q
	queue q 2 'requirements: labels.zone == "b"'
	queue n 1 'requirements: labels.zone == "nowhere"'
	run -0 --separate-stderr csched pass -o json
	[ "$(jq -r '[.name, .state, .host] | @tsv' <<<"$output" | sort)" = "$(printf 'q-1\trunning\th2\nq-2\trunning\th2')" ]
	[ "$(virsh -c "$LAB_URI2" list --name | sed '/^$/d' | wc -l)" = 2 ]
	run -0 cvm show n-1 -o json
	[ "$(jq -r .state <<<"$output")" = pending ]
	[ "$(jq -r .reason <<<"$output")" = "no host passes the requirements 'labels.zone == \"nowhere\"'" ]
	# a second pass finds nothing to do and writes nothing
	before=$(catalog_digest)
	run -0 --separate-stderr csched pass --no-reconcile
	[ -z "$output" ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "csched pass retries a failed deploy on another host" {
	chost add h1 "$LAB_URI1" -q
	chost add h2 "$LAB_URI2" -q
	queue r 1
	# h1 is enabled but its libvirtd is gone: the deploy there fails
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE hosts SET uri = 'qemu+unix:///system?socket=/nonexistent' WHERE name = 'h1'"
	run -0 --separate-stderr csched pass --no-reconcile -o json
	[ "$(jq -r '[.state, .host] | @tsv' <<<"$output" | tail -n 1)" = "$(printf 'running\th2')" ]
	[[ "$stderr" == *"cannot deploy vm 'r-1' on host 'h1'"* ]]
	run -0 cvm history r-1 -o json
	jq -s -e 'any(.[]; .action == "deploy" and (.detail | contains("h1")))' <<<"$output"
}

@test "one csched pass at a time; a lease whose holder is gone is taken over" {
	hosts 1 4 4GiB
	sqlite3 "$CLOUDOS_CATALOG" "INSERT INTO sched_lease VALUES (1, $$, '$(hostname):$$', '2999-01-01T00:00:00Z')"
	run -5 --separate-stderr csched pass
	[ "$stderr" = "csched: another csched pass runs (pid $$); one at a time" ]
	sqlite3 "$CLOUDOS_CATALOG" "UPDATE sched_lease SET pid = 999999, holder = '$(hostname):999999'"
	run -0 csched pass
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM sched_lease")" = 0 ]
}

@test "csched plan | csched apply - deploys; a stale plan is refused" {
	chost add h1 "$LAB_URI1" -q
	queue a 1
	csched plan -o json > "$BATS_TEST_TMPDIR/plan"
	run -0 csched apply - -o json < "$BATS_TEST_TMPDIR/plan"
	[ "$(jq -r '[.name, .state, .host] | @tsv' <<<"$output")" = "$(printf 'a-1\trunning\th1')" ]
	run -5 --separate-stderr csched apply - < "$BATS_TEST_TMPDIR/plan"
	[ "$stderr" = "csched: cannot deploy vm 'a-1': it is running (deploy needs pending)" ]
	# a plan made when there was room, applied when there is none
	queue b 1
	csched plan -o json > "$BATS_TEST_TMPDIR/plan2"
	printf 'name: big\ncpu: 1\nmemory: 64MiB\n' | cvm create - -q
	run -6 --separate-stderr csched apply - < "$BATS_TEST_TMPDIR/plan2"
	[[ "$stderr" == "csched: host 'h1' cannot take vm 'b-1' now: "* ]]
	[ "$(cvm show b-1 -o json | jq -r .state)" = pending ]
}

@test "csched rebalance --policy pack | csched apply - empties a host" {
	lab_hosts_add --migration-address 127.0.0.1 -q
	printf 'name: s\ncpu: 1\nmemory: 64MiB\npolicy: spread\n' > "$BATS_TEST_TMPDIR/s.yaml"
	cvm create -q --count 2 "$BATS_TEST_TMPDIR/s.yaml"
	[ "$(cvm list -o json | jq -r .host | sort -u | wc -l)" = 2 ]
	run -0 csched rebalance --policy pack -o json
	[ "$(jq -s length <<<"$output")" = 1 ]
	[ "$(jq -r .action <<<"$output")" = migrate ]
	csched apply - <<<"$output" >/dev/null
	[ "$(cvm list -o json | jq -r .host | sort -u | wc -l)" = 1 ]
	run -0 csched rebalance --policy pack -o json
	[ -z "$output" ]
	run -0 csched rebalance --policy PACK -o json
	[ -z "$output" ]
	refused 2 "csched: unknown policy 'tidy' (expected one of: pack, spread)" \
	    csched rebalance --policy tidy
}

@test "csched passes, plans and rebalancing are for admins" {
	cacct user add alice --uid 5001 >/dev/null
	for sub in plan pass "rebalance --policy pack"; do
		run -4 --separate-stderr csched --as alice $sub
		[[ "$stderr" == "csched: "*"admin"* ]] || { echo "$sub: $stderr"; false; }
	done
}

@test "csched pass --loop runs until a signal; a pass and cvm create never share the last room" {
	chost add t1 test:///default --cpu 1 --memory 1GiB -q
	csched pass --loop 1 --no-reconcile -q >/dev/null 2>"$BATS_TEST_TMPDIR/loop.err" &
	loop=$!
	running() { [ "$(cvm show "$1" -o json | jq -r .state)" = running ]; }
	# f-1, queued now, is placed by some pass; l-1, queued once f-1 runs
	# (and is deleted, freeing the room), only by a later one: the loop
	# goes on
	queue f 1
	wait_for 10 running f-1
	cvm delete -q f-1
	queue l 1
	wait_for 10 running l-1
	kill -INT "$loop"
	wait "$loop"
	[ ! -s "$BATS_TEST_TMPDIR/loop.err" ]
	cvm delete -q l-1
	# one unit of room; a pass and a create race for it
	queue r 1
	printf 'name: c\ncpu: 1\nmemory: 64MiB\n' > "$BATS_TEST_TMPDIR/c.yaml"
	csched pass --no-reconcile -q >/dev/null 2>&1 &
	p=$!
	cvm create -q "$BATS_TEST_TMPDIR/c.yaml" >/dev/null 2>&1 || true
	wait "$p" || true
	[ "$(sqlite3 "$CLOUDOS_CATALOG" "SELECT count(*) FROM vms WHERE host_id IS NOT NULL AND state != 'done'")" = 1 ]
}

@test "cvm migrate without --to lets the scheduler choose, by the VM's requirements" {
	chost add t1 test:///default --cpu 4 --memory 4GiB --label zone=a -q
	chost add t2 test:///default --cpu 4 --memory 4GiB --label zone=b -q
	printf 'name: m\ncpu: 1\nmemory: 64MiB\nrequirements: labels.zone == "a"\n' | cvm create - -q
	[ "$(cvm show m -o json | jq -r .host)" = t1 ]
	before=$(catalog_digest)
	# t2 has room, but the VM may not go there
	run -6 --separate-stderr cvm migrate m
	[ "$stderr" = "cvm: cannot place vm 'm': no host passes the requirements 'labels.zone == \"a\"'" ]
	[ "$(catalog_digest)" = "$before" ]
}

@test "csched apply of a good and a bad placement deploys nothing (exit 2)" {
	chost add h1 "$LAB_URI1" -q
	queue a 1
	printf 'kind: Placement\nvm: a-1\nhost: h1\naction: deploy\n---\nkind: Placement\nvm: a-1\nhost: h1\naction: teleport\n' > "$BATS_TEST_TMPDIR/plan"
	refused 2 "csched: <stdin>: line 6: action 'teleport' is not deploy or migrate" \
	    csched apply - < "$BATS_TEST_TMPDIR/plan"
	[ "$(cvm show a-1 -o json | jq -r .state)" = pending ]
}
