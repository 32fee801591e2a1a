# bash completion for the cloudos programs: chost cvm csched cnet cvol cimg
# cacct cfed cgallery.  The programs complete themselves: PROG __complete
# WORDS... CURRENT prints the candidates (subcommands, options, output
# formats, object names from the catalog), one per line; a subcommand's
# aliases (add for create, remove for delete) come right after it.

_cloudos()
{
	local cur prev prog
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	prog=${COMP_WORDS[0]}
	COMPREPLY=()
	case $prev in
	-c|--catalog|-f|--file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
		;;
	esac
	local IFS=$'\n'
	COMPREPLY=($("$prog" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
	if [ "${#COMPREPLY[@]}" -eq 0 ] && { [ "${COMP_WORDS[1]:-}" = create ] ||
	    [ "${COMP_WORDS[1]:-}" = apply ] ||
	    [ "${COMP_WORDS[1]:-}" = import ]; }; then
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
	return 0
}

complete -F _cloudos chost cvm csched cnet cvol cimg cacct cfed cgallery
