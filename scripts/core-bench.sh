#!/bin/sh
# core-bench.sh BIN [ROUNDS] — issue 2's measurement: 1 GiB from
# `dd if=/dev/zero bs=64k` to `dd of=/dev/null bs=64k` with X in the middle,
# methods interleaved round by round, unpinned and pinned to CPU 0. Prints
# one line per run (method, pinning, GB/s from the last dd) and a summary of
# medians with min–max. `make bench` is the full suite; this is the quick,
# dependency-free check. copy-write is copy mode with --vmsplice=false
# (read and write only, no pages lent).
set -eu
BIN=${1:-bin/pipeloop}
ROUNDS=${2:-5}
SRC="dd if=/dev/zero bs=64k count=16384"
DST="dd of=/dev/null bs=64k"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

gbps() { # pipeline → GB/s computed from dd's byte count and seconds
	sh -c "$1" 2>&1 >/dev/null | awk '/copied/ {b=$1; s=$(NF-3)} END {printf "%.3f\n", b/s/1e9}'
}

for r in $(seq "$ROUNDS"); do
	for pin in unpinned pinned; do
		pre=""
		[ "$pin" = pinned ] && pre="taskset -c 0"
		for m in direct dd-chain copy copy-write splice; do
			case $m in
			direct) p="$SRC | $DST" ;;
			dd-chain) p="$SRC | dd bs=64k 2>/dev/null | $DST" ;;
			copy) p="$SRC | $BIN --mode copy | $DST" ;;
			copy-write) p="$SRC | $BIN --mode copy --vmsplice=false | $DST" ;;
			splice) p="$SRC | $BIN --mode splice | $DST" ;;
			esac
			echo "$m $pin $(gbps "$pre sh -c '$p'")" | tee -a "$out"
		done
	done
done
echo
echo "machine: $(nproc) CPUs, Linux $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-10s %-9s %-8s %s\n' method pinning median min-max
for pin in unpinned pinned; do
	for m in direct dd-chain copy copy-write splice; do
		awk -v m="$m" -v p="$pin" '$1==m && $2==p {print $3}' "$out" | sort -n |
			awk -v m="$m" -v p="$pin" '{v[NR]=$1} END {printf "%-10s %-9s %-8.2f %.2f-%.2f GB/s\n", m, p, (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2), v[1], v[NR]}'
	done
done
