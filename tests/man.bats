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

@test "man: cloudos(7) lists every program and every exit status" {
	page="$CLOUDOS_SRCDIR/man/cloudos.7"
	for p in $PROGS; do
		grep -q "^\.BR $p (1)" "$page" || { echo "$p"; false; }
	done
	for code in 0 1 2 3 4 5 6 7 8; do
		grep -q "^\.B $code\$" "$page" || { echo "exit $code"; false; }
	done
}
