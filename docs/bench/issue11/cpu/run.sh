#!/bin/sh
# CPU per message: three runs, each two wrapped relays interleaved.
# As run on 2026-12-07 (issue 11, branch lat). $B held: benchrun (go build
# ./test/bench/cmd/benchrun), pipeloop-main and pipeloop-small (go build
# ./cmd/pipeloop at main a7d27af and at lat 966cf24), c-blocking and
# c-epoll (cc -O2 test/bench/peers/crelay/*.c), go-epoll (go build
# ./test/bench/peers/goepoll), pipeloop-yield (a throwaway build calling
# sched_yield before each busy poll), and w-NAME wrappers:
#   exec scripts/rusage-wrap.py /tmp/lat-cpu.log NAME BINARY [ARGS]
# which append "NAME user_s sys_s" per relay process to /tmp/lat-cpu.log
# (copied to rusage.log; lines under 0.1 s are the harness's probes).
set -x
uptime
B=/tmp/lat-bins
for pair in "small main" "cblock cepoll" "goepoll yield20"; do
	set -- $pair
	$B/benchrun -repo /work/wt-lat -lat-only -pins pinned -lat-rounds 4 -lat-trips 30000 \
		-pipeloop $B/w-$1 -pipeloop-ref $B/w-$2 -lat-methods c-blocking,pipeloop,pipeloop-ref -out /tmp/lat-cpu-$1-$2
done
uptime
