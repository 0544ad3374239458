#!/bin/bash
# tpd.sh BS COUNT ROUNDS cmd... : interleaved pinned wall ms, direct included
bs=$1; count=$2; rounds=$3; shift 3
for r in $(seq $rounds); do
  for b in direct "$@"; do
    s=$(date +%s%N)
    if [ $b = direct ]; then taskset -c 0 sh -c "dd if=/dev/zero bs=$bs count=$count 2>/dev/null | dd of=/dev/null bs=$bs 2>/dev/null"
    else taskset -c 0 sh -c "dd if=/dev/zero bs=$bs count=$count 2>/dev/null | $b | dd of=/dev/null bs=$bs 2>/dev/null"; fi
    e=$(date +%s%N)
    echo "$b $(( (e-s)/1000000 ))"
  done
done | awk '{t[$1]=t[$1]" "$2} END {for (k in t) print k ":" t[k]}'
