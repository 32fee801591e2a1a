#compdef chost cvm csched cnet cvol cimg cacct cfed cgallery
# zsh completion for the cloudos programs.  The programs complete
# themselves: PROG __complete WORDS... CURRENT prints the candidates
# (a subcommand's aliases, add for create, right after it).

_cloudos() {
	local -a cands
	case ${words[CURRENT-1]} in
	-c|--catalog|-f|--file)
		_files
		return
		;;
	esac
	cands=("${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	cands=(${cands:#})
	if (( ${#cands} )); then
		compadd -a cands
	elif [[ ${words[2]} == (create|apply|import) ]]; then
		_files
	fi
}

_cloudos "$@"
