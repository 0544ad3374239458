import sys,re,collections
for f in sys.argv[1:]:
    d=collections.defaultdict(lambda:{'p50':[],'p99':[]})
    order=[]
    lines=open(f).read().splitlines()
    for l in lines:
        m=re.match(r'lat\s+r\d+/\d+ pinned\s+(\S+)\s+p50 ([\d.]+)µs p99 ([\d.]+)µs',l)
        if m:
            if m[1] not in order: order.append(m[1])
            d[m[1]]['p50'].append(float(m[2])); d[m[1]]['p99'].append(float(m[3]))
    med=lambda v: sorted(v)[len(v)//2]
    print(f"### {f}\n\nload: {lines[0].split('load average:')[1].strip()} → {lines[-1].split('load average:')[1].strip()}\n")
    print("| method | rounds | p50 µs median (min–max) | p99 µs median (min–max) | p50 / p99 × c-blocking |\n|---|---|---|---|---|")
    b=d.get('c-blocking')
    for m in order:
        v=d[m]
        r=f"{med(v['p50'])/med(b['p50']):.2f} / {med(v['p99'])/med(b['p99']):.2f}" if b else "—"
        print(f"| {m} | {len(v['p50'])} | {med(v['p50']):.1f} ({min(v['p50']):.1f}–{max(v['p50']):.1f}) | {med(v['p99']):.1f} ({min(v['p99']):.1f}–{max(v['p99']):.1f}) | {r} |")
    # per-round ratio c-uring/c-blocking
    if b:
        for m in order:
            if 'uring' in m:
                rs=[u/c for u,c in zip(d[m]['p50'],b['p50'])]
                print(f"\nper-round p50 {m}/c-blocking: "+", ".join(f"{x:.2f}" for x in rs))
    print()
