#!/bin/bash
# session 6 calm measurements: base = 6b4b462 (/tmp/s6/pl-base), new = /tmp/s6/pl-new
set -x
out=${1:-/tmp/s6/out}
mkdir -p $out
uptime > $out/uptime.txt
/tmp/benchrun -lat-only -pins pinned -lat-rounds 15 -lat-trips 30000 -pipeloop /tmp/s6/pl-new -pipeloop-ref /tmp/s6/pl-base \
  -lat-methods c-blocking,c-uring,pipeloop-ref,pipeloop -out $out/latency-ab > $out/latency-ab.log 2>&1
uptime >> $out/uptime.txt
rm -f /tmp/s6/cpu.log
/tmp/benchrun -lat-only -pins pinned -lat-rounds 4 -lat-trips 40000 -pipeloop /tmp/s6/w-new -pipeloop-ref /tmp/s6/w-base \
  -lat-methods c-blocking,pipeloop-ref,pipeloop -out $out/cpu > $out/cpu.log 2>&1
cp /tmp/s6/cpu.log $out/rusage.log
uptime >> $out/uptime.txt
/tmp/benchrun -blocks 4K,64K -rounds 5 -bytes 1G -pins pinned -methods direct,dd-chain,pipeloop,pipeloop-copy \
  -lat-rounds 0 -serve-rounds 0 -scale-rounds 0 -trace-rounds 0 -out $out/throughput > $out/throughput.log 2>&1
uptime >> $out/uptime.txt
bash /work/main/docs/bench/issue11/session5/tp.sh 64K 16384 5 /tmp/s6/pl-base /tmp/s6/pl-new > $out/tp-64k-ab.txt 2>&1
bash /work/main/docs/bench/issue11/session5/tp.sh 4K 262144 5 /tmp/s6/pl-base /tmp/s6/pl-new > $out/tp-4k-ab.txt 2>&1
uptime >> $out/uptime.txt
echo done
