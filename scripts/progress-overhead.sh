#!/usr/bin/env bash
# Cost of --progress: dd | pipeloop [--progress] | dd, interleaved rounds,
# median wall time of each. Usage: scripts/progress-overhead.sh BIN [ROUNDS] [COUNT]
# COUNT 64 KiB blocks per run (default 65536 = 4 GiB). With TTY=1 pipeloop's
# stderr is a pseudo-terminal (script(1)), so --progress redraws 4 times a
# second; otherwise it is a file and --progress prints a line a second.
# Besides wall time it reports pipeloop's own CPU time (from --stats-json,
# written at exit in both cases), which scheduling noise disturbs less.
set -euo pipefail
bin=$(realpath "$1"); rounds=${2:-5}; count=${3:-65536}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
one() { # one run: appends wall seconds to $1, pipeloop's CPU seconds to $1.cpu
	local out=$1; shift
	local pl="$bin --stats-json $tmp/stats.json $*"
	local cmd="dd if=/dev/zero bs=64k count=$count status=none | $pl 2>$tmp/err | dd of=/dev/null bs=64k status=none"
	local s e
	if [[ ${TTY:-0} == 1 ]]; then
		cmd="dd if=/dev/zero bs=64k count=$count status=none | $pl | dd of=/dev/null bs=64k status=none"
		s=$(date +%s.%N); script -qec "$cmd" /dev/null >/dev/null; e=$(date +%s.%N)
	else
		s=$(date +%s.%N); bash -c "$cmd"; e=$(date +%s.%N)
	fi
	echo "$e - $s" | bc -l >>"$out"
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["relay"]; print((r["user_ns"]+r["sys_ns"])/1e9)' \
		"$tmp/stats.json" >>"$out.cpu"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for ((i = 1; i <= rounds; i++)); do
	one "$tmp/off"
	one "$tmp/on" --progress
	printf 'round %d: off %.3fs (CPU %.3fs)  on %.3fs (CPU %.3fs)\n' "$i" \
		"$(tail -1 "$tmp/off")" "$(tail -1 "$tmp/off.cpu")" "$(tail -1 "$tmp/on")" "$(tail -1 "$tmp/on.cpu")"
done
off=$(median <"$tmp/off"); on=$(median <"$tmp/on")
bytes=$((count * 65536))
printf 'median off %.3fs (%.0f MB/s)  on %.3fs (%.0f MB/s)  cost %+.2f%%\n' \
	"$off" "$(echo "$bytes / $off / 1000000" | bc -l)" "$on" "$(echo "$bytes / $on / 1000000" | bc -l)" \
	"$(echo "($on / $off - 1) * 100" | bc -l)"
offc=$(median <"$tmp/off.cpu"); onc=$(median <"$tmp/on.cpu")
printf 'pipeloop CPU: median off %.3fs  on %.3fs  (%+.2f%%)\n' "$offc" "$onc" "$(echo "($onc / $offc - 1) * 100" | bc -l)"
