#!/usr/bin/env bash
# tests/bench/bench-cimg.sh - cimg import against cp and curl -o (issue 5):
# a SIZE_MIB (default 1024) MiB raw file imported from a local file and
# from a loopback HTTP server (python3 -m http.server), alternating with
# cp and curl -o of the same file in the same run, from a warm page cache.
# Prints one line per figure, the median of RUNS (default 5) runs, and the
# ratio (the issue asks for at least 0.80):
#   cimg: file mib=M cp=S import=S ratio=R
#   cimg: url mib=M curl=S import=S ratio=R
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="${CLOUDOS_BUILDDIR:-$top}:$PATH"
mib=${SIZE_MIB:-1024} runs=${RUNS:-5}
work=$(mktemp -d /var/tmp/cbench-img.XXXXXX)
srv_pid=
trap '[ -z "$srv_pid" ] || kill "$srv_pid"; rm -rf "$work"' EXIT
export CLOUDOS_CATALOG="$work/catalog.db"

median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

now() {
	date +%s.%N
}

# secs CMD...: the seconds CMD takes, after writing back what came before
secs() {
	local s e
	sync
	s=$(now)
	"$@" >/dev/null
	e=$(now)
	echo "$e - $s" | bc
}

mkdir "$work/srv"
head -c "$((mib * 1048576))" /dev/urandom > "$work/srv/disk.raw"
cat "$work/srv/disk.raw" > /dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server -b 127.0.0.1 -d "$work/srv" "$port" >/dev/null 2>&1 &
srv_pid=$!
sleep 1

: > "$work/cp"; : > "$work/fimp"; : > "$work/curl"; : > "$work/uimp"
for i in $(seq 1 "$runs"); do
	secs cp "$work/srv/disk.raw" "$work/copy" >> "$work/cp"
	rm -f "$work/copy"
	secs cimg import "$work/srv/disk.raw" --name "f$i" -q >> "$work/fimp"
	cimg delete "f$i" -q
	secs curl -s -o "$work/copy" "http://127.0.0.1:$port/disk.raw" >> "$work/curl"
	rm -f "$work/copy"
	secs cimg import "http://127.0.0.1:$port/disk.raw" --name "u$i" -q >> "$work/uimp"
	cimg delete "u$i" -q
done
cp_s=$(median < "$work/cp") fimp_s=$(median < "$work/fimp")
curl_s=$(median < "$work/curl") uimp_s=$(median < "$work/uimp")
echo "cimg: file mib=$mib cp=$cp_s import=$fimp_s ratio=$(echo "scale=2; $cp_s / $fimp_s" | bc)"
echo "cimg: url mib=$mib curl=$curl_s import=$uimp_s ratio=$(echo "scale=2; $curl_s / $uimp_s" | bc)"
