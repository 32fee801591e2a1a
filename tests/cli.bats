#!/usr/bin/env bats
# The command line every program shares (lib/cli.c): -q prints nothing on
# success for every subcommand; help at every level (a bare program, every
# group, --help, help GROUP); an unknown subcommand names the nearest one;
# create/delete everywhere, with the old add/remove kept as aliases.
# libvirt's test driver only: no lab host.

load helpers/common

PROGS="chost cvm csched cnet cvol cimg cacct cfed cgallery"

setup() {
	fresh_catalog
}

# groups PROG: the groups of PROG's subcommands ("snapshot", "secgroup",
# "secgroup rule"), read from its help, one a line
groups() {
	"$1" help | sed -n '/^Subcommands:/,/^$/p' |
	    sed -n 's/^  \([a-z][a-z ]*[a-z]\)  .*/\1/p' | sed 's/ *$//' |
	    grep ' ' | grep -v '^help' |
	    awk '{ g = $1; print g; for (i = 2; i < NF; i++) { g = g " " $i; print g } }' |
	    awk '!seen[$0]++'
}

# quiet CMD...: CMD succeeds and prints nothing at all
quiet() {
	run -0 --separate-stderr "$@"
	[ -z "$output" ] || { printf 'stdout: %s\n' "$output"; return 1; }
	[ -z "$stderr" ] || { printf 'stderr: %s\n' "$stderr"; return 1; }
}

# -q ---------------------------------------------------------------------

@test "cli: -q makes create, add, import, clone and apply print nothing" {
	quiet chost add t1 test:///default -q
	quiet chost cluster add rack1 -q
	quiet cacct user add alice --uid 5001 -q
	quiet csched group create web --anti-affinity -q
	quiet cnet create front --mode nat --cidr 10.20.0.0/24 -q
	quiet cnet range remove front 1 -q
	quiet cnet range add front --first 10.20.0.10 --last 10.20.0.20 -q
	quiet cnet secgroup create -q sg
	quiet cnet secgroup rule add -q sg --in --proto tcp --port 22
	printf 'name: w1\ncpu: 1\nmemory: 64\n' > "$BATS_TEST_TMPDIR/w1.yaml"
	quiet cvm create -q "$BATS_TEST_TMPDIR/w1.yaml"
	quiet cvm create -q --hold --count 2 - < "$BATS_TEST_TMPDIR/w1.yaml"
	head -c 1048576 /dev/zero > "$BATS_TEST_TMPDIR/disk.raw"
	quiet cimg import "$BATS_TEST_TMPDIR/disk.raw" --name base -q
	quiet cimg clone base copy -q
	printf 'kind: VM\nname: w9\ncpu: 1\nmemory: 64\n' | { quiet cvm apply -q - ; }
	# each was made all the same
	run -0 cvm list -o ids
	[ "${#lines[@]}" = 4 ]
	run -0 cimg list -o ids
	[ "$output" = $'1\n2' ]
	run -0 chost show t1 -o json
	[ "$(jq -r .state <<<"$output")" = enabled ]
}

@test "cli: -q makes actions, list and show print nothing; their status still tells" {
	chost add t1 test:///default -q
	printf 'name: w1\ncpu: 1\nmemory: 64\n' | cvm create -q --hold -
	printf 'name: w2\ncpu: 1\nmemory: 64\n' | cvm create -q --hold -
	quiet cvm release -q w2
	quiet cvm delete w2 -q
	quiet chost disable -q t1
	quiet chost enable -q t1
	quiet cvm list -q
	quiet cvm show -q w1
	quiet chost -q list -o ids
	quiet cvm history -q w1
	# a remark on stderr is silenced too
	chost cluster add gone -q
	run -0 --separate-stderr chost cluster remove gone
	[ "$stderr" = "chost: removed cluster 'gone'" ]
	chost cluster add gone -q
	quiet chost cluster remove gone -q
	# show -q as a test that an object exists, as grep -q
	refused 3 "cvm: no vm 'nope'" cvm show -q nope
}

@test "cli: -q with -o ids prints nothing either: ids come from -o ids alone" {
	chost add t1 test:///default -q
	quiet chost list -q -o ids
	run -0 --separate-stderr cvm create -o ids - <<<$'name: w1\ncpu: 1\nmemory: 64'
	[ "$output" = 1 ]
	[ -z "$stderr" ]
	quiet cvm create -o ids -q - <<<$'name: w2\ncpu: 1\nmemory: 64'
	CLOUDOS_OUTPUT=ids quiet cvm show -q w2
}

@test "cli: -q still prints errors, one line each, and the exit status" {
	chost add t1 test:///default -q
	refused 3 "chost: no host 'nope'" chost disable -q nope
	refused 2 "cvm: no input given (a file, -f FILE, or - for stdin)" cvm create -q
	run -3 --separate-stderr cvm delete -q nope1 nope2
	[ -z "$output" ]
	[ "$stderr" = $'cvm: no vm \'nope1\'\ncvm: no vm \'nope2\'\ncvm: all 2 objects failed' ]
}

@test "cli: apply -q passes documents of other kinds through to the next program" {
	chost add t1 test:///default -q
	printf 'kind: Network\nname: n1\nmode: nat\ncidr: 10.30.0.0/24\n---\nkind: VM\nname: v1\ncpu: 1\nmemory: 64\n' > "$BATS_TEST_TMPDIR/env.yaml"
	run -0 --separate-stderr cvm apply -q -o json "$BATS_TEST_TMPDIR/env.yaml"
	[ -z "$stderr" ]
	[ "$(jq -r .kind <<<"$output")" = Network ]
	[ "${#lines[@]}" = 1 ]
}

# help -------------------------------------------------------------------

@test "cli: a bare program lists its subcommands on stderr and exits 2" {
	for p in $PROGS; do
		run -2 --separate-stderr "$p"
		[ -z "$output" ] || { echo "$p: stdout"; false; }
		[[ "$stderr" == "usage: $p [OPTIONS] SUBCOMMAND [ARGS]"* ]] || { echo "$p: $stderr"; false; }
		# the same text as help, which prints it on stdout with exit 0
		run -0 --separate-stderr "$p" help
		[ "$output" = "$("$p" 2>&1)" ] || { echo "$p: help"; false; }
		run -0 "$p" --help
	done
	run -2 --separate-stderr cvm
	[[ "$stderr" == *$'\n  snapshot create '* ]]
	[[ "$stderr" == *$'\n  reconcile '* ]]
	# options alone are no subcommand either
	run -2 --separate-stderr cvm -o json
	[[ "$stderr" == "usage: cvm "* ]]
}

@test "cli: every group of every program lists its subcommands" {
	n=0
	for p in $PROGS; do
		while read -r g; do
			[ -n "$g" ] || continue
			n=$((n + 1))
			# asked: on stdout, exit 0, by --help, -h, help GROUP, GROUP help
			run -0 --separate-stderr "$p" $g --help
			[ -z "$stderr" ]
			[ "${lines[0]}" = "usage: $p [OPTIONS] $g SUBCOMMAND [ARGS]" ] || { echo "$p $g: ${lines[0]}"; false; }
			want=$output
			run -0 "$p" $g -h
			[ "$output" = "$want" ]
			run -0 "$p" help $g
			[ "$output" = "$want" ]
			run -0 "$p" $g help
			[ "$output" = "$want" ]
			# every line of the list is a subcommand of the group
			while read -r sub; do
				[[ "$sub" == "$g "* ]] || { echo "$p $g: $sub"; false; }
				run -0 "$p" $sub --help
			done < <(sed -n '/^Subcommands:/,/^$/p' <<<"$want" | sed -n 's/^  \([a-z][a-z ]*[a-z]\)  .*/\1/p')
			# bare: the same on stderr, exit 2
			run -2 --separate-stderr "$p" $g
			[ -z "$output" ]
			[ "$stderr" = "$want" ]
		done < <(groups "$p")
	done
	# cvm snapshot disk nic, cnet range lease secgroup "secgroup rule",
	# chost cluster, cvol datastore, csched group, cacct user
	[ "$n" -ge 11 ]
	run -0 cvm snapshot --help
	[ "$output" = "usage: cvm [OPTIONS] snapshot SUBCOMMAND [ARGS]

Subcommands:
  snapshot create    snapshot a VM's disks (and memory when it runs)
  snapshot list      list a VM's snapshots, oldest first
  snapshot revert    put a VM back as it was at a snapshot
  snapshot delete    delete a snapshot

Global options: -c PATH, -o FMT, --as USER, -q; see 'cvm help'." ]
}

@test "cli: --help works at every level, before or after options" {
	run -0 cvm snapshot create --help
	[ "${lines[0]}" = "usage: cvm snapshot create [OPTIONS] VM [NAME]" ]
	run -0 cvm help snapshot create
	[ "${lines[0]}" = "usage: cvm snapshot create [OPTIONS] VM [NAME]" ]
	run -0 cvm -q snapshot create --help
	[ "${lines[0]}" = "usage: cvm snapshot create [OPTIONS] VM [NAME]" ]
	run -0 cnet secgroup rule create --help
	[ "${lines[0]}" = "usage: cnet secgroup rule create [OPTIONS] GROUP --in|--out --proto PROTO [--port P[-Q]] [--cidr CIDR | --group OTHER]" ]
	# a group's subcommand after options given between
	run -2 --separate-stderr cvm snapshot -q list
	[ "$stderr" = "cvm: snapshot list takes one VM" ]
	run -0 cvm --help
	[[ "${lines[0]}" == "usage: cvm [OPTIONS] SUBCOMMAND [ARGS]" ]]
}

@test "cli: an unknown subcommand names the nearest one, exit 2" {
	chost add t1 test:///default -q
	refused 2 "cvm: unknown command 'lsit' (did you mean 'list'?)" cvm lsit
	refused 2 "cvm: unknown command 'sohw' (did you mean 'show'?)" cvm sohw web-1
	refused 2 "cvm: unknown command 'delet' (did you mean 'delete'?)" cvm delet web-1
	refused 2 "cvm: unknown command 'hlep' (did you mean 'help'?)" cvm hlep
	refused 2 "cvm: unknown command 'snap' (did you mean 'snapshot'?)" cvm snap
	refused 2 "cvm: unknown command 'snapshot lsit' (did you mean 'snapshot list'?)" cvm snapshot lsit web-1
	refused 2 "cvm: unknown command 'snapshot lsit' (did you mean 'snapshot list'?)" cvm snapshot -q lsit
	refused 2 "cnet: unknown command 'secgroup rule ad' (did you mean 'secgroup rule add'?)" cnet secgroup rule ad
	refused 2 "chost: unknown command 'clutser' (did you mean 'cluster'?)" chost clutser list
	refused 2 "cvm: unknown command 'lsit' (did you mean 'list'?)" cvm help lsit
	# nothing close: no guess
	refused 2 "cvm: unknown command 'frobnicate' (see 'cvm help')" cvm frobnicate
	refused 2 "cvm: unknown command 'xy' (see 'cvm help')" cvm xy
	refused 2 "cvm: unknown command 'snapshot frobnicate' (see 'cvm help snapshot')" cvm snapshot frobnicate
	refused 2 "cnet: unknown command 'secgroup rule zap' (see 'cnet help secgroup rule')" cnet secgroup rule zap
	refused 2 "cvm: unknown command 'snapshot zap' (see 'cvm help snapshot')" cvm help snapshot zap
	# a prefix of several: no guess either
	refused 2 "cvm: unknown command 're' (see 'cvm help')" cvm re
	# and an empty word
	refused 2 "cvm: unknown command '' (see 'cvm help')" cvm ''
	refused 2 "cfed: cfed has no subcommands yet (see 'cfed help' for what it will own)" cfed zones
}

# create/delete, and the old verbs -----------------------------------------

@test "cli: create/delete in every program, add/remove kept as aliases" {
	quiet chost create t1 test:///default -q
	quiet chost add t2 test:///default -q
	quiet chost delete t2 -q
	run -0 --separate-stderr chost remove t1
	[ -z "$output" ]
	[ "$stderr" = "chost: removed host 't1'" ]
	quiet chost cluster create r1 -q
	quiet chost cluster add r2 -q
	quiet chost cluster delete r1 -q
	quiet chost cluster remove r2 -q
	quiet cacct user create alice --uid 5001 -q
	quiet cacct user add bob --uid 5002 -q
	quiet csched group create g1 --affinity -q
	quiet csched group create g2 --affinity -q
	quiet csched group delete g1 -q
	quiet csched group remove g2 -q
	quiet cnet create n1 --mode nat --cidr 10.40.0.0/24 -q
	quiet cnet range delete n1 1 -q
	quiet cnet range create n1 --first 10.40.0.10 --last 10.40.0.19 -q
	quiet cnet range add n1 --first 10.40.0.20 --last 10.40.0.29 -q
	quiet cnet range delete n1 10.40.0.10 -q
	quiet cnet range remove n1 10.40.0.20 -q
	quiet cnet secgroup create sg -q
	quiet cnet secgroup rule create sg --in --proto tcp --port 22 -q
	quiet cnet secgroup rule add sg --in --proto tcp --port 80 -q
	quiet cnet secgroup rule delete sg --in --proto tcp --port 22 -q
	quiet cnet secgroup rule remove sg --in --proto tcp --port 80 -q
	run -0 cnet secgroup show sg -o json
	[ "$(jq -c .rules <<<"$output")" = '[]' ]
	run -0 cacct user list -o ids
	[ "${#lines[@]}" = 3 ]
	run -0 chost list -o ids
	[ -z "$output" ]
	# the error texts of a handler stay as they were
	refused 2 "chost: usage: chost add NAME URI [--label KEY=VALUE]..." chost create h1
}

@test "cli: help shows the aliases; an alias's help is its subcommand's" {
	run -0 chost help
	assert_line "  create             register a libvirt host, reading its capacity (alias: add)"
	assert_line "  delete             forget hosts that no VM occupies (alias: remove)"
	assert_line "  cluster create     create a cluster (alias: add)"
	run -0 chost add --help
	[ "${lines[0]}" = "usage: chost create [OPTIONS] NAME URI [--cluster C] [--label K=V]... [--cpu N] [--memory SIZE] ..." ]
	assert_line "Alias: chost add"
	[ "$output" = "$(chost create --help)" ]
	[ "$output" = "$(chost help add)" ]
	run -0 cnet secgroup rule --help
	assert_line --partial "  secgroup rule create  "
	assert_line --partial "(alias: add)"
	run -0 cnet secgroup rule remove --help
	assert_line "Alias: cnet secgroup rule remove"
	run -0 cvm help
	refute_output --partial "(alias:"
}
