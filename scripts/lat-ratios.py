#!/usr/bin/env python3
"""lat-ratios.py RESULTS.json [BASE] [--split US] — the latency samples of
a benchrun results.json as medians (min–max) per method, and each method's
ratio to BASE (default c-blocking) paired round by round (same round, same
pin mode), so that load which moves a whole round cancels out.

--split US also prints the tables for the rounds whose c-blocking p50 was
below US µs and for the others: this VM drifts between a fast state and
one ~25 µs slower per round trip for every method, in which the methods'
differences vanish (docs/bench/issue11/session7)."""
import json, statistics as st, sys
from collections import defaultdict

args = sys.argv[1:]
split = None
if "--split" in args:
    i = args.index("--split")
    split = float(args[i + 1])
    del args[i:i + 2]
res = json.load(open(args[0]))
base = args[1] if len(args) > 1 else "c-blocking"
samples = [s for s in res.get("latency_samples") or [] if not s.get("error")]
by = defaultdict(dict)  # (pinned, round) -> method -> sample
for s in samples:
    by[(s["pinned"], s["round"])][s["method"]] = s
methods = []
for s in samples:
    if s["method"] not in methods:
        methods.append(s["method"])

def fmt(xs):
    return "%.1f (%.1f–%.1f)" % (st.median(xs), min(xs), max(xs))

def rfmt(xs):
    return "%.2f (%.2f–%.2f)" % (st.median(xs), min(xs), max(xs)) if xs else "—"

def table(pinned, keep, what):
    keys = [k for k in by if k[0] == pinned and keep(by[k])]
    if not keys:
        return
    print("%s, %d rounds%s; µs; ratios to %s paired per round" % ("pinned" if pinned else "unpinned", len(keys), what, base))
    print("| method | p50 | p99 | p50 / %s | p99 / %s |" % (base, base))
    print("|---|---|---|---|---|")
    for m in methods:
        p50 = [by[k][m]["p50_ns"] / 1e3 for k in keys if m in by[k]]
        p99 = [by[k][m]["p99_ns"] / 1e3 for k in keys if m in by[k]]
        r50 = [by[k][m]["p50_ns"] / by[k][base]["p50_ns"] for k in keys if m in by[k] and base in by[k]]
        r99 = [by[k][m]["p99_ns"] / by[k][base]["p99_ns"] for k in keys if m in by[k] and base in by[k]]
        if p50:
            print("| %s | %s | %s | %s | %s |" % (m, fmt(p50), fmt(p99), rfmt(r50), rfmt(r99)))
    print()


def cblock(r):
    return r["c-blocking"]["p50_ns"] / 1e3 if "c-blocking" in r else float("nan")


for pinned in (True, False):
    table(pinned, lambda r: True, "")
    if split is not None:
        table(pinned, lambda r: cblock(r) < split, " with c-blocking p50 < %g µs" % split)
        table(pinned, lambda r: cblock(r) >= split, " with c-blocking p50 ≥ %g µs" % split)
