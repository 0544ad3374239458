#!/usr/bin/env bash
# BPF cost per context switch of the stall tracer (issue 13): the run time
# of its programs (run_time_ns) over the switches stall_switch ran for
# (run_cnt), with kernel.bpf_stats_enabled=1
# (restored afterwards), read with bpftool before and after a transfer.
#
# Usage: scripts/trace-bpf-stats.sh [ROUNDS] [COUNT] BIN...
#   ROUNDS  rounds per case and binary, interleaved (default 5)
#   COUNT   64 KiB blocks per transfer (default 16384 = 1 GiB)
#   BIN     pipeloop binaries to compare (e.g. a build of main and bin/pipeloop)
# Two cases per binary and round, all pinned to CPU 0 (taskset -c 0):
#   unwatched  `pipeloop trace` watches one sleeping process while an
#              unwatched dd | cat | dd runs: every switch takes the early exit.
#   watched    `pipeloop trace` watches dd, cat and dd of a dd | cat | dd, the
#              trace attached before the transfer starts (a FIFO gate).
# run_cnt counts every switch of the machine while the program is attached
# (other processes too); ns/switch is the mean over them. Needs root, bpftool.
set -euo pipefail
rounds=${1:-5}; count=${2:-16384}; shift 2 || true
(($# > 0)) || { echo "usage: $0 [ROUNDS] [COUNT] BIN..." >&2; exit 2; }
tmp=$(mktemp -d)
old=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() { sysctl -qw kernel.bpf_stats_enabled="$old"; rm -rf "$tmp"; }
trap cleanup EXIT
sysctl -qw kernel.bpf_stats_enabled=1

# stats PID: "run_time_ns run_cnt": the run time of all the stall_*
# programs PID holds (a build with a sched_wakeup program pays for it too)
# and the run count of stall_switch, one per context switch. From the
# programs' fdinfo; bpftool names them.
stats() {
	local sw all f
	sw=$(bpftool prog show --json | jq -r '.[] | select(.name == "stall_switch") | .id' | tr '\n' ' ')
	all=$(bpftool prog show --json | jq -r '.[] | select(.name | startswith("stall_")) | .id' | tr '\n' ' ')
	for f in /proc/"$1"/fdinfo/*; do
		awk -v sw=" $sw" -v all=" $all" '
			/^prog_id:/ { id = " " $2 " " }
			/^run_time_ns:/ { t = $2 } /^run_cnt:/ { c = $2 }
			END { if (id != "" && t != "" && index(all, id)) print t, (index(sw, id) ? c : 0) }' "$f" 2>/dev/null
	done | awk '{ t += $1; c += $2 } END { print t + 0, c + 0 }'
}
# attached ERRFILE PID: wait until the trace says it is tracing.
attached() {
	for _ in $(seq 200); do
		grep -q '^tracing' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || { cat "$1" >&2; return 1; }
		sleep 0.05
	done
	echo "trace did not attach" >&2; return 1
}
# pipeline: a gated dd | cat | dd on CPU 0; the stages write their pids.
pipeline() {
	rm -f "$tmp/gate" "$tmp"/p?; mkfifo "$tmp/gate"
	taskset -c 0 sh -c "echo \$\$ >$tmp/p1; read _ <$tmp/gate; exec dd if=/dev/zero bs=64k count=$count status=none" |
		taskset -c 0 sh -c "echo \$\$ >$tmp/p2; exec cat" |
		taskset -c 0 sh -c "echo \$\$ >$tmp/p3; exec dd of=/dev/null bs=64k status=none" &
	pipe=$!
	for _ in $(seq 100); do [[ -s $tmp/p1 && -s $tmp/p2 && -s $tmp/p3 ]] && break; sleep 0.02; done
}
# one BIN CASE: prints "ns_per_switch switches".
one() {
	local bin=$1 case=$2 sleeper pids a b
	pipeline
	# The sleeper keeps the trace running past the transfer's end.
	sleep 1000 & sleeper=$!; pids=$sleeper
	if [[ $case == watched ]]; then
		pids+=",$(cat "$tmp/p1"),$(cat "$tmp/p2"),$(cat "$tmp/p3")"
	fi
	"$bin" trace --pid "$pids" >/dev/null 2>"$tmp/err" &
	local tr=$!
	attached "$tmp/err" "$tr"
	a=$(stats "$tr")
	echo >"$tmp/gate"
	wait "$pipe"
	b=$(stats "$tr")
	kill "$sleeper"
	wait "$tr" "$sleeper" 2>/dev/null || true
	read -r ta ca <<<"$a"; read -r tb cb <<<"$b"
	awk -v t=$((tb - ta)) -v c=$((cb - ca)) 'BEGIN { printf "%.1f %d\n", c ? t / c : 0, c }'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "machine: $(nproc) vCPUs, $(uname -r); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
	for bin in "$@"; do
		for case in unwatched watched; do
			read -r ns n < <(one "$bin" "$case")
			echo "$ns" >>"$tmp/$(echo "$bin" | tr / _).$case"
			printf 'round %d  %-28s %-9s %7s ns/switch  (%d switches)\n' "$r" "$bin" "$case" "$ns" "$n"
		done
	done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for bin in "$@"; do
	for case in unwatched watched; do
		f="$tmp/$(echo "$bin" | tr / _).$case"
		printf 'median %-28s %-9s %7s ns/switch  (min %s, max %s)\n' "$bin" "$case" \
			"$(median <"$f")" "$(sort -g "$f" | head -1)" "$(sort -g "$f" | tail -1)"
	done
done
