#!/usr/bin/env bats
# Shell completion: completions/cloudos.bash asks the programs themselves
# (PROG __complete), so the option tables are the only declaration.

load helpers/common

setup() {
	fresh_catalog
	source "$CLOUDOS_SRCDIR/completions/cloudos.bash"
}

# complete WORD...: COMPREPLY for the command line WORD... (the last word is
# the one being completed), one candidate per line in $reply
complete_line() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_cloudos
	reply=$(printf '%s\n' "${COMPREPLY[@]}")
}

@test "completion: the programs are registered with bash" {
	run -0 complete -p cvm
	[ "$output" = "complete -F _cloudos cvm" ]
	run -0 complete -p cgallery
}

@test "completion: cvm <TAB> gives the subcommands" {
	complete_line cvm ""
	# the first words of the subcommands in cvm's own table, in order
	want=$(cvm help | sed -n '/^Subcommands:/,/^$/p' | sed -n 's/^  \([a-z]*\).*/\1/p' | awk '!seen[$0]++')
	[ "$reply" = "$want" ]
	[[ "$reply" == *$'\nstop\n'* && "$reply" == *$'\nresize\n'* && "$reply" == *$'\nconsole\n'* ]]
	complete_line cvm po
	[ "$reply" = poweroff ]
}

@test "completion: cvm list --<TAB> gives its options and the global ones" {
	complete_line cvm list --
	grep -qx -- --state <<<"$reply"
	grep -qx -- --host <<<"$reply"
	grep -qx -- --output <<<"$reply"
	grep -qx -- --catalog <<<"$reply"
	! grep -qx -- --file <<<"$reply"
	complete_line cvm list --st
	[ "$reply" = --state ]
}

@test "completion: cvm reconcile --<TAB> gives --force, then VM names" {
	complete_line cvm reconcile --f
	[ "$reply" = --force ]
	chost add t1 test:///default >/dev/null
	printf 'name: web-1\ncpu: 1\nmemory: 64\n' | cvm create - >/dev/null
	complete_line cvm reconcile --force w
	[ "$reply" = web-1 ]
}

@test "completion: -o <TAB> gives the output formats" {
	complete_line cvm list -o ""
	[ "$reply" = $'table\nyaml\njson\nids' ]
	complete_line chost --output j
	[ "$reply" = json ]
}

@test "completion: two-word subcommands complete word by word" {
	complete_line cacct ""
	[ "$reply" = $'user\nhelp' ]
	complete_line cacct user ""
	[ "$reply" = $'create\nadd\nlist' ]
	complete_line cacct user add --
	grep -qx -- --uid <<<"$reply"
}

@test "completion: object arguments complete names from the catalog" {
	chost add t1 test:///default >/dev/null
	printf 'name: web-1\ncpu: 1\nmemory: 64\n' | cvm create - >/dev/null
	printf 'name: db-1\ncpu: 1\nmemory: 64\n' | cvm create - >/dev/null
	complete_line cvm show ""
	[ "$reply" = $'db-1\nweb-1' ]
	complete_line cvm delete w
	[ "$reply" = web-1 ]
	complete_line chost show ""
	[ "$reply" = t1 ]
	complete_line cvm -c "$CLOUDOS_CATALOG" start d
	[ "$reply" = db-1 ]
}

@test "completion: chost cluster subcommands, options and names" {
	chost cluster add rack1 >/dev/null
	chost cluster add rack2 >/dev/null
	chost add t1 test:///default >/dev/null
	complete_line chost cluster ""
	[ "$reply" = $'create\nadd\nlist\nshow\ndelete\nremove' ]
	complete_line chost cluster remove r
	[ "$reply" = $'rack1\nrack2' ]
	complete_line chost cluster add ""
	[ -z "$reply" ]
	complete_line chost set t1 --cluster ""
	[ "$reply" = $'rack1\nrack2' ]
	complete_line chost add h1 test:///default --cpu ""
	[ -z "$reply" ]
	complete_line chost set ""
	[ "$reply" = t1 ]
	complete_line chost set t1 --
	grep -qx -- --cpu-ratio <<<"$reply"
	grep -qx -- --no-cluster <<<"$reply"
	complete_line chost monitor --
	grep -qx -- --timeout <<<"$reply"
}

@test "completion: chost apply completes file names" {
	touch "$BATS_TEST_TMPDIR/env.yaml"
	complete_line chost apply "$BATS_TEST_TMPDIR/en"
	[ "$reply" = "$BATS_TEST_TMPDIR/env.yaml" ]
	complete_line chost apply -f "$BATS_TEST_TMPDIR/en"
	[ "$reply" = "$BATS_TEST_TMPDIR/env.yaml" ]
}

@test "completion: a missing catalog gives no names and creates nothing" {
	CLOUDOS_CATALOG="$BATS_TEST_TMPDIR/none/c.db"
	complete_line cvm show ""
	[ -z "$reply" ]
	[ ! -e "$BATS_TEST_TMPDIR/none" ]
}

@test "completion: file arguments complete file names" {
	touch "$BATS_TEST_TMPDIR/web.yaml"
	complete_line cvm create "$BATS_TEST_TMPDIR/we"
	[ "$reply" = "$BATS_TEST_TMPDIR/web.yaml" ]
	complete_line cvm -c "$BATS_TEST_TMPDIR/we"
	[ "$reply" = "$BATS_TEST_TMPDIR/web.yaml" ]
}

@test "completion: the zsh file declares every program" {
	run -0 head -n 1 "$CLOUDOS_SRCDIR/completions/cloudos.zsh"
	[ "$output" = "#compdef chost cvm csched cnet cvol cimg cacct cfed cgallery" ]
}

@test "completion: csched groups and policies" {
	csched group create web --anti-affinity >/dev/null
	csched group create db --affinity >/dev/null
	complete_line csched group ""
	[ "$reply" = $'create\nlist\nshow\nset\ndelete\nremove' ]
	complete_line csched group remove w
	[ "$reply" = web ]
	complete_line csched group show ""
	[ "$reply" = $'db\nweb' ]
	complete_line csched group create ""
	[ -z "$reply" ]
	complete_line csched rebalance --policy s
	[ "$reply" = spread ]
	complete_line csched group set web --vi
	[ "$reply" = --visibility ]
	complete_line csched group set web --visibility p
	[ "$reply" = $'private\npublic' ]
	complete_line csched group create web --visibility g
	[ "$reply" = group ]
}

@test "completion: cimg config and import's limits" {
	complete_line cimg con
	[ "$reply" = config ]
	complete_line cimg config --
	grep -qx -- --reserve <<<"$reply"
	grep -qx -- --max-size <<<"$reply"
	complete_line cimg import --max
	[ "$reply" = --max-size ]
}

@test "completion: cnet networks, modes and visibilities; cvm nic attach --network" {
	cnet create front --mode nat --cidr 10.20.0.0/24 -q
	cnet create back --mode isolated --cidr 10.21.0.0/24 -q
	complete_line cnet show ""
	[ "$reply" = $'back\nfront' ]
	complete_line cnet lease list f
	[ "$reply" = front ]
	complete_line cnet range a
	[ "$reply" = add ]
	complete_line cnet create x --mode ""
	[ "$reply" = $'nat\nrouted\nisolated\nbridge' ]
	complete_line cnet set front --visibility p
	[ "$reply" = $'private\npublic' ]
	complete_line cvm nic attach vm --network b
	[ "$reply" = back ]
	complete_line cvm nic attach vm --model u
	[ "$reply" = usb-net ]
}

@test "completion: cvm wait gives its options, the states for --state and VM names; cvm list --watch" {
	chost add t1 test:///default -q
	complete_line cvm wait --
	grep -qx -- --state <<<"$reply"
	grep -qx -- --timeout <<<"$reply"
	complete_line cvm wait vm --state r
	[ "$reply" = running ]
	complete_line cvm wait vm --state s
	[ "$reply" = $'suspended\nstopped\nshutting-down' ]
	printf 'name: web-1\ncpu: 1\nmemory: 64\n' | cvm create - -q
	complete_line cvm wait w
	[ "$reply" = web-1 ]
	complete_line cvm list --w
	[ "$reply" = --watch ]
	complete_line cvm list --watch --i
	[ "$reply" = --interval ]
	complete_line cimg wait img --state r
	[ "$reply" = ready ]
}

@test "completion: aliases complete beside their subcommands, and as them" {
	chost cluster create rack1 -q
	chost add t1 test:///default -q
	# each alias right after the subcommand it stands for
	complete_line chost ""
	[ "$reply" = $'create\nadd\nlist\nshow\nset\napply\nmonitor\nenable\ndisable\ndrain\ndelete\nremove\ncluster\nhelp' ]
	complete_line chost cluster d
	[ "$reply" = delete ]
	# an alias completes its subcommand's names and options
	complete_line chost cluster remove r
	[ "$reply" = rack1 ]
	complete_line chost cluster delete r
	[ "$reply" = rack1 ]
	complete_line chost cluster add ""
	[ -z "$reply" ]
	complete_line chost remove ""
	[ "$reply" = t1 ]
	complete_line chost add h2 test:///default --clu
	[ "$reply" = --cluster ]
	complete_line cnet secgroup rule ""
	[ "$reply" = $'create\nadd\ndelete\nremove' ]
	complete_line cvol datastore ""
	[ "$reply" = $'create\nadd\nlist\nshow\ndelete\nremove' ]
}

@test "completion: groups complete their subcommands, not the program's" {
	complete_line cvm snapshot ""
	[ "$reply" = $'create\nlist\nrevert\ndelete' ]
	complete_line cvm snapshot l
	[ "$reply" = list ]
	complete_line cnet secgroup r
	[ "$reply" = $'rule\nrefresh' ]
}
