#!/bin/bash
# session 6 final measurements: base = 6b4b462 (/tmp/s6/pl-base), final = main afb805f (/tmp/s6/pl-final)
set -x
out=/tmp/s6/final
mkdir -p $out
uptime > $out/uptime.txt
for run in 1 2; do
/tmp/benchrun -lat-only -pins pinned -lat-rounds 11 -lat-trips 30000 -pipeloop /tmp/s6/pl-final -pipeloop-ref /tmp/s6/pl-base \
  -lat-methods c-blocking,c-epoll,c-uring,go-epoll,pipeloop-ref,pipeloop -out $out/latency-$run > $out/latency-$run.log 2>&1
uptime >> $out/uptime.txt
done
/tmp/benchrun -blocks 4K,64K -rounds 5 -bytes 1G -pins pinned -methods direct,dd-chain,pipeloop,pipeloop-copy -pipeloop /tmp/s6/pl-final \
  -lat-rounds 0 -serve-rounds 0 -scale-rounds 0 -trace-rounds 0 -out $out/throughput > $out/throughput.log 2>&1
uptime >> $out/uptime.txt
/tmp/s6/tpd.sh 64K 16384 5 /tmp/s6/pl-base /tmp/s6/pl-final > $out/tpd-64k.txt 2>&1
/tmp/s6/tpd.sh 4K 262144 5 /tmp/s6/pl-base /tmp/s6/pl-final > $out/tpd-4k.txt 2>&1
uptime >> $out/uptime.txt
/tmp/benchrun -trace-only -trace-rounds 21 -trace-bytes 1G -pipeloop /tmp/s6/pl-final -out $out/trace > $out/trace.log 2>&1
uptime >> $out/uptime.txt
echo done
