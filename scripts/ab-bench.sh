#!/bin/sh
# ab-bench.sh OLD NEW [ROUNDS] — two pipeloop binaries side by side on the
# bulk path: 1 GiB from `dd if=/dev/zero bs=B` through X to
# `dd of=/dev/null bs=B`, B = 4K and 64K, X = OLD or NEW in the default
# (auto) mode and in copy mode, pinned to CPU 0 and unpinned, binaries
# interleaved round by round. Prints each run and the medians (min–max)
# with the NEW/OLD ratio of medians.
set -eu
OLD=$1 NEW=$2 ROUNDS=${3:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

gbps() { # pipeline → GB/s from the last dd's byte count and seconds
	sh -c "$1" 2>&1 >/dev/null | awk '/copied/ {b=$1; s=$(NF-3)} END {printf "%.3f\n", b/s/1e9}'
}

for r in $(seq "$ROUNDS"); do
	for pin in pinned unpinned; do
		pre=""
		[ "$pin" = pinned ] && pre="taskset -c 0"
		for bs in 4k 64k; do
			count=$((1 << 30))
			case $bs in 4k) count=$((count / 4096)) ;; 64k) count=$((count / 65536)) ;; esac
			for mode in auto copy; do
				for which in old new; do
					b=$OLD
					[ "$which" = new ] && b=$NEW
					p="dd if=/dev/zero bs=$bs count=$count | $b --mode $mode | dd of=/dev/null bs=$bs"
					echo "$pin $bs $mode $which $(gbps "$pre sh -c '$p'")" | tee -a "$out"
				done
			done
		done
	done
done
echo
echo "machine: $(nproc) CPUs, Linux $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-9s %-4s %-5s %-22s %-22s %s\n' pinning bs mode old new new/old
awk '
	{ k = $1 " " $2 " " $3; v[k, $4, ++n[k, $4]] = $5; keys[k] = 1 }
	function med(k, w,   i, j, t, c, a) {
		c = n[k, w]; for (i = 1; i <= c; i++) a[i] = v[k, w, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		lo = a[1]; hi = a[c]
		return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
	}
	END {
		for (k in keys) {
			mo = med(k, "old"); so = sprintf("%.2f (%.2f–%.2f)", mo, lo, hi)
			mn = med(k, "new"); sn = sprintf("%.2f (%.2f–%.2f)", mn, lo, hi)
			split(k, f, " ")
			printf "%-9s %-4s %-5s %-22s %-22s %.3f\n", f[1], f[2], f[3], so, sn, mn / mo
		}
	}' "$out" | sort
