#!/bin/bash
# Per message, for the relays of one latency method: io_uring_enter calls,
# context switches and CPU time (task-clock), counted by perf stat over 3 s
# inside a 150,000-trip pinned ping-pong. Run from the repository root.
# Usage: permsg.sh BENCHRUN PIPELOOP METHOD COMM
#   e.g. permsg.sh /tmp/benchrun bin/pipeloop c-uring crelay-uring
#        permsg.sh /tmp/benchrun bin/pipeloop go-uring-raw gouring
#        permsg.sh /tmp/benchrun bin/pipeloop pipeloop pipeloop
set -euo pipefail
br=$1 pl=$2 m=$3 comm=$4
"$br" -lat-only -pins pinned -lat-rounds 1 -lat-trips 150000 -pipeloop "$pl" -lat-methods "$m" -out "" >/dev/null 2>&1 &
b=$!
sleep 5
pids=$(pgrep -x "$comm" | paste -sd,)
perf stat -x, -e syscalls:sys_enter_io_uring_enter,context-switches,task-clock -p "$pids" -- sleep 3 2>&1 |
	awk -F, -v m="$m" '/io_uring_enter/ {n = $1} /context-switches/ {s = $1} /task-clock/ {c = $1}
		END {printf "%-13s messages %d  CPU %.2f µs/message  switches %.3f/message\n", m, n, c * 1000 / n, s / n}'
wait "$b"
