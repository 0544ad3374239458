#!/bin/bash
# calm.sh: session 5's measurements, sequential. Needs bin/pipeloop (new) and /tmp/pl-main (60dd483).
set -x
cd /work/main
out=docs/bench/issue11/session5
mkdir -p $out
go build -o /tmp/benchrun ./test/bench/cmd/benchrun
uptime > $out/uptime-start.txt
/tmp/benchrun -lat-only -pins pinned,unpinned -lat-rounds 7 -lat-trips 30000 -pipeloop bin/pipeloop -pipeloop-ref /tmp/pl-main \
  -lat-methods direct,c-blocking,c-epoll,c-uring,go-epoll,go-uring,go-iocopy,pipeloop-ref,pipeloop -out $out/latency > $out/latency.log 2>&1
python3 scripts/lat-ratios.py $out/latency/results.json c-blocking > $out/latency/ratios.md 2>&1
uptime >> $out/uptime-start.txt
/tmp/benchrun -blocks 4K,64K -rounds 5 -bytes 1G -pins pinned -methods direct,dd-chain,pipeloop,pipeloop-copy \
  -lat-rounds 0 -serve-rounds 0 -scale-rounds 0 -trace-rounds 0 -out $out/throughput > $out/throughput.log 2>&1
uptime >> $out/uptime-start.txt
/tmp/tp.sh 4K 262144 5 /tmp/pl-main /work/main/bin/pipeloop > $out/tp-4k-ab.txt 2>&1
/tmp/tp.sh 64K 16384 5 /tmp/pl-main /work/main/bin/pipeloop > $out/tp-64k-ab.txt 2>&1
uptime >> $out/uptime-start.txt
echo done
