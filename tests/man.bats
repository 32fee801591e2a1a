#!/usr/bin/env bats
# The man pages exist, render cleanly, and document every subcommand and
# option the programs' own tables declare (read back from their help).

load helpers/common

PROGS="chost cvm csched cnet cvol cimg cacct cfed cgallery"

# subcommands PROG: the subcommand names listed by PROG help
subcommands() {
	"$1" help | sed -n '/^Subcommands:/,/^$/p' | sed -n 's/^  \([a-z][a-z ]*[a-z]\)  .*/\1/p' |
	    sed 's/ *$//' | grep -v '^help'
}

# aliases PROG: "NAME|ALIAS" for each alias its help lists ("create ...
# (alias: add)", an alias given by the words where it differs from NAME)
aliases() {
	"$1" help | sed -n '/^Subcommands:/,/^$/p' |
	    sed -n 's/^  \([a-z][a-z ]*[a-z]\)  .*(alias: \([a-z, ]*\))$/\1|\2/p' |
	    while IFS='|' read -r name list; do
		IFS=', ' read -r -a shorts <<<"$list"
		for short in "${shorts[@]}"; do
			[ -n "$short" ] || continue
			words=${name% *}
			[ "$words" = "$name" ] && echo "$name|$short" || echo "$name|$words $short"
		done
	    done
}

# long_options PROG [SUB]: the --options its help lists
long_options() {
	if [ $# -eq 1 ]; then
		"$1" help
	else
		"$1" $2 --help
	fi | grep -o -- '--[a-z][a-z-]*' | sort -u
}

@test "man: every program has a page that renders without warnings" {
	for p in $PROGS; do
		page="$CLOUDOS_SRCDIR/man/$p.1"
		[ -f "$page" ]
		run -0 --separate-stderr groff -man -Tutf8 -ww -z "$page"
		[ -z "$stderr" ] || { echo "$p: $stderr"; false; }
	done
	run -0 --separate-stderr groff -man -Tutf8 -ww -z "$CLOUDOS_SRCDIR/man/cloudos.7"
	[ -z "$stderr" ]
}

@test "man: every page names its program and the exit status table" {
	for p in $PROGS; do
		page="$CLOUDOS_SRCDIR/man/$p.1"
		grep -q "^$p \\\\- " "$page" || { echo "$p: NAME"; false; }
		grep -q '^\.SH EXIT STATUS' "$page" || { echo "$p: EXIT STATUS"; false; }
	done
}

@test "man: every subcommand and option in the help is documented" {
	for p in $PROGS; do
		page="$CLOUDOS_SRCDIR/man/$p.1"
		for o in $(long_options "$p"); do
			grep -qF -- "${o//-/\\-}" "$page" || { echo "$p: $o"; false; }
		done
		while read -r sub; do
			[ -n "$sub" ] || continue
			grep -qF -- "$sub" "$page" || { echo "$p: $sub"; false; }
			for o in $(long_options "$p" "$sub"); do
				grep -qF -- "${o//-/\\-}" "$page" || { echo "$p $sub: $o"; false; }
			done
		done < <(subcommands "$p")
	done
}

@test "man: every alias is documented beside its subcommand and runs it" {
	n=0
	for p in $PROGS; do
		page="$CLOUDOS_SRCDIR/man/$p.1"
		while IFS='|' read -r name alias; do
			n=$((n + 1))
			# the subcommand's heading: "create NAME URI (alias: add)"
			grep -qF -- "(alias: \\fB$alias\\fR)" "$page" || { echo "$p: $alias"; false; }
			grep -F -- "(alias: \\fB$alias\\fR)" "$page" | grep -qF -- "$name" || { echo "$p: $name / $alias"; false; }
			# the alias is the subcommand: the same help
			[ "$("$p" $alias --help)" = "$("$p" $name --help)" ] || { echo "$p $alias"; false; }
		done < <(aliases "$p")
	done
	# chost, cvol, cnet, csched and cacct keep their old verbs
	[ "$n" -ge 12 ]
}

@test "man: cloudos(7) lists every program and every exit status" {
	page="$CLOUDOS_SRCDIR/man/cloudos.7"
	for p in $PROGS; do
		grep -q "^\.BR $p (1)" "$page" || { echo "$p"; false; }
	done
	for code in 0 1 2 3 4 5 6 7 8; do
		grep -q "^\.B $code\$" "$page" || { echo "exit $code"; false; }
	done
}
