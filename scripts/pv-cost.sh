#!/usr/bin/env bash
# Cost of issue 16's features: pipeloop's own CPU seconds per GB (user+sys,
# from --stats-json) and wall throughput for cat-like text through
#   src | pipeloop METHOD | dd of=/dev/null
# for the methods splice (the default), copy, --lines (copies and counts)
# and --rate-limit with a limit far above the rate (splice, and copy),
# interleaved round by round; medians with min–max.
# Usage: scripts/pv-cost.sh BIN [ROUNDS] [GIB]
# With PIN=1 every process runs on CPU 0 (taskset -c 0), else unpinned.
# The source is a 256 MiB text file (lines of random length) read GIB*4
# times by cat from the page cache, so --lines counts real lines.
set -euo pipefail
bin=$(realpath "$1"); rounds=${2:-3}; gib=${3:-2}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/text" <<'PY'
import random, sys
random.seed(16)
line = bytes(range(32, 127))
with open(sys.argv[1], "wb") as f:
    chunk = bytearray()
    while len(chunk) < 1 << 20:
        n = random.randrange(0, 160)
        chunk += line[:n % 95] * (n // 95 + 1) + b"\n"
    chunk = bytes(chunk[:1 << 20])
    for _ in range(256):
        f.write(chunk)
PY
files=$(for ((i = 0; i < gib * 4; i++)); do printf '%s ' "$tmp/text"; done)
bytes=$((gib << 30))
pin=""
[[ ${PIN:-0} == 1 ]] && pin="taskset -c 0"
declare -A args=(
	[splice]=""
	[copy]="--mode copy"
	[lines]="--lines"
	[ratelimit]="--rate-limit 1000G"
	[ratelimit-copy]="--rate-limit 1000G --mode copy"
)
methods=(splice copy lines ratelimit ratelimit-copy)
one() { # one run of method $1: appends "cpu_s_per_GB MB_per_s" to $tmp/$1
	local s e
	rm -f "$tmp/stats.json"
	s=$(date +%s.%N)
	$pin bash -c "set -o pipefail; cat $files | $bin --stats-json $tmp/stats.json ${args[$1]} | dd of=/dev/null bs=1M status=none"
	e=$(date +%s.%N)
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
cpu = (r["relay"]["user_ns"] + r["relay"]["sys_ns"]) / 1e9
gb = r["links"][0]["bytes"] / 1e9
assert r["links"][0]["bytes"] == int(sys.argv[3]), "bytes lost"
print("%.4f %.1f" % (cpu / gb, gb * 1000 / float(sys.argv[2])))
' "$tmp/stats.json" "$(echo "$e - $s" | bc -l)" "$bytes" >>"$tmp/$1"
}
stat() { # median (min–max) of column $2 of file $1
	cut -d' ' -f"$2" "$1" | sort -g | awk '{a[NR]=$1} END {m=(NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); printf "%s (%s–%s)", m, a[1], a[NR]}'
}
echo "# $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# $([[ -n $pin ]] && echo "pinned ($pin)" || echo unpinned), $rounds rounds of $gib GiB, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 1; i <= rounds; i++)); do
	for m in "${methods[@]}"; do one "$m"; done
	printf 'round %d:' "$i"
	for m in "${methods[@]}"; do printf ' %s %s' "$m" "$(tail -1 "$tmp/$m" | cut -d' ' -f1)"; done
	echo
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-15s %-30s %s\n' method "pipeloop CPU s/GB, median (min–max)" "MB/s, median (min–max)"
for m in "${methods[@]}"; do
	printf '%-15s %-30s %s\n' "$m" "$(stat "$tmp/$m" 1)" "$(stat "$tmp/$m" 2)"
done
