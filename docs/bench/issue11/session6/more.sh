#!/bin/bash
set -x
out=/tmp/s6/final
for r in 2 3; do
/tmp/benchrun -trace-only -trace-rounds 21 -trace-bytes 1G -pipeloop /tmp/s6/pl-final -out $out/trace-$r > $out/trace-$r.log 2>&1
uptime >> $out/uptime.txt
done
/tmp/benchrun -trace-only -trace-rounds 21 -trace-bytes 1G -pipeloop /tmp/s6/pl-base -out $out/trace-base > $out/trace-base.log 2>&1
uptime >> $out/uptime.txt
/tmp/s6/tpd.sh 4K 262144 11 /tmp/s6/pl-base /tmp/s6/pl-final > $out/tpd-4k-11.txt 2>&1
uptime >> $out/uptime.txt
echo done
