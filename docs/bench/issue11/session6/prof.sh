#!/bin/bash
# profile pair: c-uring then pipeloop, each 5 s of perf inside its own 300,000-trip pinned run
cd /work/main
for m in c-uring pipeloop; do
  /tmp/benchrun -lat-only -pins pinned -lat-rounds 1 -lat-trips 300000 -lat-methods $m -pipeloop /tmp/s6/pl-final -out /tmp/s6/prof-$m > /dev/null 2>&1 &
  b=$!
  sleep 6
  perf record -e cpu-clock -F 20000 -C 0 -g -o /tmp/s6/perf-$m.data -- sleep 5 > /dev/null 2>&1
  wait $b
  echo "== $m"
  perf report -i /tmp/s6/perf-$m.data --no-children --sort comm,dso -q -g none 2>/dev/null | head -8
done
