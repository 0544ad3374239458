#!/bin/bash
# profile pipeloop and pipeloop-ref (a wrapper) 5 s each inside 300,000-trip pinned runs
cd /work/main
for m in pipeloop pipeloop-ref; do
  /tmp/benchrun -lat-only -pins pinned -lat-rounds 1 -lat-trips 300000 -lat-methods $m -pipeloop /work/main/bin/pipeloop -pipeloop-ref "$1" -out /work/s9/prof-$m > /dev/null 2>&1 &
  b=$!
  for i in $(seq 100); do pgrep -f "pingpong ping" > /dev/null && break; sleep 0.2; done
  sleep 2
  perf record -e cpu-clock -F 20000 -C 0 -g -o /work/s9/perf-$m.data -- sleep 5 > /dev/null 2>&1
  wait $b
done
