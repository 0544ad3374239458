#!/bin/bash
# tp-ab.sh ROUNDS BS MIDDLE... — 1 GiB from `dd if=/dev/zero bs=BS` through
# each MIDDLE (a command line; "direct" for none) to `dd of=/dev/null bs=BS`,
# pinned to CPU 0, the middles interleaved round by round. Prints each
# middle's median GB/s (min–max) and its ratio to direct's median.
set -eu
R=$1 bs=$2
shift 2
count=$((1073741824 / bs))
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$R"); do
	for m in "$@"; do
		mid="$m |"
		[ "$m" = direct ] && mid=""
		p="dd if=/dev/zero bs=$bs count=$count status=none | $mid dd of=/dev/null bs=$bs"
		g=$(taskset -c 0 sh -c "$p" 2>&1 >/dev/null | awk '/copied/ {b=$1; s=$(NF-3)} END {printf "%.3f\n", b/s/1e9}')
		echo "$m	$g" >>"$out"
	done
done
echo "machine: $(nproc) CPUs, Linux $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
python3 - "$out" <<'PY'
import sys, statistics as st
rows = {}
for l in open(sys.argv[1]):
    m, g = l.rstrip("\n").split("\t")
    rows.setdefault(m, []).append(float(g))
d = st.median(rows["direct"]) if "direct" in rows else float("nan")
for m, v in rows.items():
    print("%-40s %.2f (%.2f-%.2f) x direct %.2f" % (m, st.median(v), min(v), max(v), st.median(v) / d))
PY
