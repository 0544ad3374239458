#!/bin/bash
# percpu.sh N ROUNDS: CPU per message (rusage of both relays) for each relay, interleaved, pinned.
# Then strace -c -f on one relay of each, N messages.
B=/tmp/uring-runs/bin; N=${1:-40000}; R=${2:-3}; W=/tmp/uring-runs/w; mkdir -p $W
declare -A RELAY=( [c-blocking]="$B/c-blocking" [c-epoll]="$B/c-epoll" [c-uring]="$B/c-uring" [c-uring-coop]="$B/c-uring coop" [c-uring-plain]="$B/c-uring plain" [pipeloop]="$B/pipeloop" [go-uring]="$B/gouring" [go-uring-raw]="$B/gouring defer raw" )
ORDER=${ORDER:-"c-blocking c-epoll c-uring c-uring-coop c-uring-plain go-uring pipeloop"}
ring() { # name wrapA wrapB
  local r=${RELAY[$1]}; cd $W; rm -f a b c d; mkfifo a b c d
  taskset -c 0 $B/pingpong ping -size 64 -n $N -warmup 1000 -out $W/ping.json >a <d &
  local p=$!
  taskset -c 0 $2 $r <a >b &
  taskset -c 0 $B/pingpong pong -size 64 <b >c &
  taskset -c 0 $3 $r <c >d &
  wait
}
: > $W/cpu.log
for i in $(seq $R); do
  for m in $ORDER; do
    ring $m "python3 /work/wt-uring/scripts/rusage-wrap.py $W/cpu.log $m" "python3 /work/wt-uring/scripts/rusage-wrap.py $W/cpu.log $m"
  done
done
echo "CPU per message per relay (µs), user sys, per round (both relays averaged), N=$N (+1000 warmup)"
python3 - $W/cpu.log $((N+1000)) <<'PY'
import sys,collections
log,n=sys.argv[1],int(sys.argv[2])
d=collections.defaultdict(list)
rows=[l.split() for l in open(log)]
for i in range(0,len(rows),2):
    a,b=rows[i],rows[i+1]
    assert a[0]==b[0]
    d[a[0]].append(((float(a[1])+float(b[1]))/2/n*1e6,(float(a[2])+float(b[2]))/2/n*1e6))
for m,v in d.items():
    us=sorted(x[0] for x in v); sy=sorted(x[1] for x in v); tot=sorted(x[0]+x[1] for x in v)
    print(f"{m:14s} user {us[len(us)//2]:.2f} ({us[0]:.2f}-{us[-1]:.2f})  sys {sy[len(sy)//2]:.2f} ({sy[0]:.2f}-{sy[-1]:.2f})  total {tot[len(tot)//2]:.2f} ({tot[0]:.2f}-{tot[-1]:.2f})")
PY
for m in $ORDER; do
  ring $m "strace -c -f -o $W/strace-$m.txt" ""
  echo "== strace -c of one $m relay, $((N+1000)) messages"; head -12 $W/strace-$m.txt
done
