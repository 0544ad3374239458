#!/bin/sh
# CPU per message: three runs, each two wrapped relays interleaved.
set -x
uptime
B=/tmp/lat-bins
for pair in "small main" "cblock cepoll" "goepoll yield20"; do
	set -- $pair
	$B/benchrun -repo /work/wt-lat -lat-only -pins pinned -lat-rounds 4 -lat-trips 30000 \
		-pipeloop $B/w-$1 -pipeloop-ref $B/w-$2 -lat-methods c-blocking,pipeloop,pipeloop-ref -out /tmp/lat-cpu-$1-$2
done
uptime
