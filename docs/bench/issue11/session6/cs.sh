#!/bin/bash
# context switches on CPU 0 per round trip, per method (one 200,000-trip pinned run each; perf stat over 5 s inside it)
cd /work/main
for m in c-blocking c-uring pipeloop c-uring pipeloop; do
  /tmp/benchrun -lat-only -pins pinned -lat-rounds 1 -lat-trips 200000 -lat-methods $m -pipeloop /tmp/s6/pl-final -out /tmp/s6/cs-$m > /dev/null 2>&1 &
  b=$!
  sleep 5
  perf stat -e context-switches,cpu-migrations -C 0 -x, -o /tmp/s6/cs-$m.stat -- sleep 5
  wait $b
  mean=$(python3 -c "import json;d=json.load(open('/tmp/s6/cs-$m/results.json'));print(d['latency_samples'][0]['mean_ns'])")
  cs=$(grep context-switches /tmp/s6/cs-$m.stat | cut -d, -f1)
  python3 -c "m=$mean;cs=$cs;print('$m mean %.1f us, %d switches in 5 s, %.2f per round trip'%(m/1e3, cs, cs/(5e9/m)))"
done
