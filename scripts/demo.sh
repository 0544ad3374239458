#!/bin/sh
# demo.sh BIN — the README's headline ratios, measured in one run on this
# machine in well under 20 s: 1 GiB from `dd if=/dev/zero bs=64k` to
# `dd of=/dev/null bs=64k` with each method in the middle, methods
# interleaved round by round, medians of the rounds. Like `make bench`,
# GB/s = bytes the last dd reported / wall time of the whole pipeline.
#
# Pinned (taskset -c 0: the whole pipeline on one CPU) is the fair
# comparison on a small VM, where an unpinned pipeline's speed depends on
# which CPUs the scheduler picks. Without taskset (util-linux) every row
# runs unpinned, and the output says so.
#
# DEMO_COUNT (64 KiB blocks, default 16384 = 1 GiB) and DEMO_ROUNDS
# (default 3) make it shorter or longer.
set -eu
BIN=${1:-bin/pipeloop}
COUNT=${DEMO_COUNT:-16384}
ROUNDS=${DEMO_ROUNDS:-3}
SRC="dd if=/dev/zero bs=64k count=$COUNT status=none"
DST="dd of=/dev/null bs=64k"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if command -v taskset >/dev/null 2>&1; then
	PIN="taskset -c 0"
	PINNED=pinned
else
	PIN=
	PINNED=unpinned
fi

now() { date +%s%N; }

# run NAME PREFIX MIDDLE: one round of SRC | MIDDLE | DST under
# `PREFIX sh -c`; appends GB/s to $TMP/NAME.
run() {
	pipe="$SRC | $DST"
	[ -z "$3" ] || pipe="$SRC | $3 | $DST"
	t0=$(now)
	out=$($2 sh -c "$pipe" 2>&1 >/dev/null)
	t1=$(now)
	bytes=$(printf '%s\n' "$out" | awk '/copied/ {b = $1} END {print b + 0}')
	if [ "$bytes" -ne $((COUNT * 65536)) ]; then
		echo "demo: $1 moved $bytes bytes, want $((COUNT * 65536)):" >&2
		printf '%s\n' "$out" >&2
		exit 1
	fi
	awk -v b="$bytes" -v ns=$((t1 - t0)) 'BEGIN {printf "%.3f\n", b / ns}' >>"$TMP/$1"
}

# median NAME: the median of $TMP/NAME (the mean of the middle two for an
# even count).
median() {
	sort -n "$TMP/$1" | awk '{v[NR] = $1} END {
		if (NR % 2) printf "%.2f", v[(NR + 1) / 2]
		else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "pipeloop demo: $(nproc) CPUs (${cpu:-unknown CPU}), Linux $(uname -r)"
echo "$((COUNT / 16)) MiB per run ($COUNT × 64 KiB, dd bs=64k at both ends), $ROUNDS rounds, methods interleaved, medians"
if [ -n "$PIN" ]; then
	echo "pinned = taskset -c 0, the whole pipeline on one CPU: the fair comparison on a small VM"
else
	echo "taskset not found (util-linux): every row runs UNPINNED, so ratios are noisier than the README's"
fi
echo

round=1
while [ "$round" -le "$ROUNDS" ]; do
	run direct "$PIN" ""
	run pipeloop "$PIN" "$BIN"
	run ddchain "$PIN" "dd bs=64k status=none"
	run copy "$PIN" "$BIN --mode copy"
	if [ -n "$PIN" ]; then
		run ddchain-u "" "dd bs=64k status=none"
		run copy-u "" "$BIN --mode copy"
	fi
	round=$((round + 1))
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f×", a / b}'; }
row() { printf '%-44s %6s GB/s%s\n' "$1" "$2" "${3:+  $3}"; }
row "direct: dd | dd ($PINNED)" "$(median direct)" ""
row "dd | pipeloop | dd ($PINNED)" "$(median pipeloop)" "$(ratio "$(median pipeloop)" "$(median direct)") direct"
row "dd-chain: dd | dd | dd ($PINNED)" "$(median ddchain)" ""
row "dd | pipeloop --mode copy | dd ($PINNED)" "$(median copy)" "$(ratio "$(median copy)" "$(median ddchain)") dd-chain"
if [ -n "$PIN" ]; then
	row "dd-chain: dd | dd | dd (unpinned)" "$(median ddchain-u)" ""
	row "dd | pipeloop --mode copy | dd (unpinned)" "$(median copy-u)" "$(ratio "$(median copy-u)" "$(median ddchain-u)") dd-chain"
fi
echo
echo "A short run on a shared VM is noisy: the README's Performance table is make bench (5 rounds, every block size)."
echo
echo "With --stats, pipeloop shows where the time went:"
sh -c "$SRC | $BIN --stats | $DST 2>/dev/null" 2>&1
