#!/usr/bin/env bash
# End-to-end cost of `pipeloop trace` builds, side by side (issue 13).
#
# Usage: [CPU=N] scripts/trace-overhead-ab.sh ROUNDS COUNT BIN[:u]...
#   ROUNDS  rounds; each runs every case once, the order reversed every
#           other round
#   COUNT   64 KiB blocks per transfer (16384 = 1 GiB)
#   BIN     a pipeloop binary: the transfer is traced with `BIN trace --pid`
#           on its three stages; BIN:u traces one sleeping process instead
#           (every switch takes the unwatched exit)
#   CPU     the CPU the stages are pinned to (default 1); the tracer is
#           pinned to the other one (2-CPU machines)
# Each round also runs the transfer untraced ("none"). A gated dd | cat | dd
# waits until the tracer says it is tracing and 0.3 s more; the time from
# opening the gate to the last stage's exit is printed per case, as medians,
# the ratio of the medians to none and the median of the per-round ratios.
# Needs root (for trace), taskset, python3.
set -u
rounds=$1; count=$2; shift 2; cpu=${CPU:-1}; other=$((1 - cpu))
d=$(mktemp -d)
one() {
	rm -f $d/gate $d/p?; mkfifo $d/gate
	taskset -c $cpu sh -c "echo \$\$ >$d/p1; read _ <$d/gate; exec dd if=/dev/zero bs=64k count=$count status=none" |
		taskset -c $cpu sh -c "echo \$\$ >$d/p2; exec cat" |
		taskset -c $cpu sh -c "echo \$\$ >$d/p3; exec dd of=/dev/null bs=64k status=none" &
	local pipe=$! tr=
	for _ in $(seq 100); do [[ -s $d/p1 && -s $d/p2 && -s $d/p3 ]] && break; sleep 0.02; done
	local b=${1%:u} pids="$(cat $d/p1),$(cat $d/p2),$(cat $d/p3)" sl=
	if [ "$1" != "$b" ]; then sleep 30 & sl=$!; pids=$sl; fi
	if [ "$1" != none ]; then
		taskset -c $other "$b" trace --pid "$pids" > $d/trace.out 2> $d/err & tr=$!
		for _ in $(seq 200); do grep -q '^tracing' $d/err 2>/dev/null && break; sleep 0.05; done
	fi
	sleep 0.3
	local s=$(date +%s%N)
	echo go > $d/gate; wait $pipe
	local e=$(date +%s%N)
	[ -n "$sl" ] && kill $sl
	[ -n "$tr" ] && wait $tr
	echo "scale=4; ($e - $s)/1000000000" | bc
}
for r in $(seq $rounds); do
	if ((r % 2)); then order="none $*"; else order="$(printf '%s\n' none "$@" | tac | tr '\n' ' ')"; fi
	for b in $order; do echo "$r $b $(one $b)"; done
done > $d/res
python3 - $d/res <<'PY'
import sys, statistics as st, collections
rows=[l.split() for l in open(sys.argv[1])]
by=collections.defaultdict(dict)
for r,b,v in rows: by[b][r]=float(v)
base=by['none']
for b,vals in sorted(by.items()):
    xs=[vals[r] for r in sorted(vals)]
    line=f"{b:24s} median {st.median(xs):.4f} (min {min(xs):.4f}, max {max(xs):.4f})"
    if b!='none':
        rat=[vals[r]/base[r] for r in vals if r in base]
        line+=f"  ratio of medians {st.median(xs)/st.median(base.values()):.3f}  paired median {st.median(rat):.3f} (min {min(rat):.3f}, max {max(rat):.3f})"
    print(line)
PY
rm -rf $d
