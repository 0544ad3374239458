#!/bin/sh
# demo.sh BIN — the seed's experiment on this machine: 1 GiB from
# `dd if=/dev/zero bs=64k` to `dd of=/dev/null bs=64k`, directly and through
# pipeloop, three rounds interleaved, with the throughput dd reports.
set -eu
BIN=${1:-bin/pipeloop}
COUNT=${DEMO_COUNT:-16384} # 64 KiB blocks: 1 GiB
SRC="dd if=/dev/zero bs=64k count=$COUNT"
DST="dd of=/dev/null bs=64k"

rate() { # run a pipeline under sh; print the rate the last dd reported
	sh -c "$1" 2>&1 >/dev/null | awk '/copied/ {print $(NF-1), $NF}' | tail -n 1
}

echo "pipeloop demo on $(nproc) CPUs, Linux $(uname -r): 1 GiB, dd bs=64k at both ends"
echo
printf '%-8s %-38s %s\n' round method throughput
for round in 1 2 3; do
	printf '%-8s %-38s %s\n' "$round" "direct: dd | dd" "$(rate "$SRC | $DST")"
	printf '%-8s %-38s %s\n' "$round" "dd | pipeloop | dd" "$(rate "$SRC | $BIN | $DST")"
	printf '%-8s %-38s %s\n' "$round" "dd | pipeloop --mode copy | dd" "$(rate "$SRC | $BIN --mode copy | $DST")"
	printf '%-8s %-38s %s\n' "$round" "pipeloop 'dd ...' 'dd ...' (spawned)" "$(rate "$BIN '$SRC' '$DST'")"
done
echo
echo "With --stats, pipeloop shows where the time went:"
sh -c "$SRC 2>/dev/null | $BIN --stats | $DST 2>/dev/null"
