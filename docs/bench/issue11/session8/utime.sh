#!/bin/bash
# user/system CPU per message of a latency method's relays (from /proc stat, 3 s window)
set -euo pipefail
# Usage: utime.sh BENCHRUN PIPELOOP METHOD COMM (as permsg.sh in ../session7)
br=$1 pl=$2 m=$3 comm=$4
"$br" -lat-only -pins pinned -lat-rounds 1 -lat-trips 150000 -pipeloop "$pl" -lat-methods "$m" -out "" >/dev/null 2>&1 &
b=$!
sleep 5
pids=$(pgrep -x "$comm")
snap() { for p in $pids; do awk '{print $14, $15}' /proc/$p/stat; done | awk '{u+=$1; s+=$2} END {print u, s}'; }
read u0 s0 < <(snap)
n=$(perf stat -x, -e syscalls:sys_enter_io_uring_enter -p "$(echo $pids | tr ' ' ,)" -- sleep 3 2>&1 | awk -F, '/io_uring_enter/ {print $1}')
read u1 s1 < <(snap)
hz=$(getconf CLK_TCK)
awk -v m="$m" -v n="$n" -v du=$((u1-u0)) -v ds=$((s1-s0)) -v hz=$hz 'BEGIN {printf "%-13s msgs %d user %.2f µs/msg sys %.2f µs/msg\n", m, n, du/hz*1e6/n, ds/hz*1e6/n}'
wait "$b"
