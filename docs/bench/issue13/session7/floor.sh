#!/bin/bash
# What a context switch costs under each kind of sched_switch hook, from a
# pinned C pipe ping-pong (pp.c: two switches per round trip), rounds
# interleaved: none; the bench's empty program (floorhold); `pipeloop
# trace` watching another process (every switch takes the early exit);
# `pipeloop trace` watching both ends. ns/switch over none = (trip - none) / 2,
# per round (the machine's drift moves a whole round) and then the median.
# Usage: floor.sh PIPELOOP [ROUNDS] [TRIPS]; run from the repository root.
set -euo pipefail
PL=$1; R=${2:-9}; N=${3:-200000}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/pp" docs/bench/issue13/session7/pp.c
go build -o "$tmp/floorhold" ./test/bench/cmd/floorhold
pp() { taskset -c 0 "$tmp/pp" "$@"; }
one() {
	case $1 in
	none) pp "$N" 1 | tail -1 ;;
	empty)
		"$tmp/floorhold" >"$tmp/fh" & local h=$!
		until grep -q attached "$tmp/fh"; do sleep 0.05; done
		pp "$N" | tail -1; kill "$h"; wait "$h" ;;
	unwatched)
		sleep 1000 & local s=$!
		"$PL" trace --pid "$s" >/dev/null 2>&1 & local t=$!
		sleep 0.5; pp "$N" | tail -1; kill "$s"; wait "$t" "$s" 2>/dev/null || true ;;
	watched)
		coproc P { pp "$N" 2; }
		local pids line; read -r -u "${P[0]}" pids
		"$PL" trace --pid "$pids" >/dev/null 2>&1 & local t=$!
		read -r -u "${P[0]}" line; echo "$line"; wait "$t" || true ;;
	esac
}
echo "machine: $(nproc) vCPUs, $(uname -r); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$R"); do
	for k in none empty unwatched watched; do echo "round $r $k $(one $k)"; done
done | tee "$tmp/out"
python3 - "$tmp/out" <<'PY'
import collections, statistics as st, sys
rounds = collections.defaultdict(dict)
for l in open(sys.argv[1]):
    _, r, k, v, _ = l.split(); rounds[r][k] = float(v)
for k in ("none", "empty", "unwatched", "watched"):
    v = [x[k] for x in rounds.values()]
    line = f"median {k:9s} {st.median(v):8.0f} ns/trip ({min(v):.0f}-{max(v):.0f})"
    if k != "none":
        d = [(x[k] - x["none"]) / 2 for x in rounds.values()]
        line += f"  paired per round: {st.median(d):+5.0f} ns/switch ({min(d):+.0f} to {max(d):+.0f})"
    print(line)
PY
