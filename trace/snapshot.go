//go:build linux && amd64

package trace

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"syscall"
	"time"

	"github.com/cilium/ebpf/link"
)

// Snapshot reads the stall counters now. A wait still in progress counts
// as if it ended now, so a process blocked all along shows up. Snapshots
// are independent: the counters keep running.
func (t *Tracer) Snapshot() (Report, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return Report{}, ErrClosed
	}
	r := Report{Start: t.start}
	var (
		k   stallStallKey
		idx uint32
		v   stallStallVal
	)
	// keys names the records: stats[idx] is key k's. An element taken
	// but not yet published in keys has no waits counted yet.
	it := t.objs.Keys.Iterate()
	for it.Next(&k, &idx) {
		if err := t.objs.Stats.Lookup(idx, &v); err != nil {
			return Report{}, fmt.Errorf("trace: read stats map: %w", err)
		}
		r.Records = append(r.Records, Record{
			Tgid:     int(k.Tgid),
			Comm:     commString(v.Comm),
			Inode:    k.Inode,
			Dir:      Direction(k.Dir),
			Count:    v.Count,
			Total:    time.Duration(v.TotalNs),
			Max:      time.Duration(v.MaxNs),
			AtAttach: v.AtAttach,
			Runnable: time.Duration(v.RunnableNs),
			Hist:     slices.Clone(v.Hist[:]),
		})
	}
	if err := it.Err(); err != nil {
		return Report{}, fmt.Errorf("trace: read keys map: %w", err)
	}
	procs, err := t.procs()
	if err != nil {
		return Report{}, err
	}
	r.Procs = procs
	d, err := t.dropped()
	if err != nil {
		return Report{}, err
	}
	d.Attach = t.unread
	r.Dropped = d
	r.MaxRecords = t.opts.MaxRecords
	r.MaxProcesses = t.opts.MaxProcesses
	// Read after stats: a wait ending in between is missed by this
	// snapshot rather than counted twice.
	if err := t.addInflight(&r); err != nil {
		return Report{}, err
	}
	// The snapshot's end is after the waits in progress were cut (the
	// clock pair waits for a switch): a wait is never longer than Wall.
	r.Wall = time.Since(t.start)
	r.sort()
	return r, nil
}

// procs reads what is known of the watched processes' lives.
func (t *Tracer) procs() (map[int]ProcInfo, error) {
	var (
		tgid uint32
		pi   stallProcInfo
	)
	out := make(map[int]ProcInfo)
	offset := func(ns uint64) time.Duration { return time.Duration(int64(ns - t.mono)) }
	it := t.objs.Procs.Iterate()
	for it.Next(&tgid, &pi) {
		out[int(tgid)] = ProcInfo{
			Parent: int(pi.Parent), Comm: commString(pi.Comm),
			Start: max(offset(pi.StartNs), 0), Exit: offset(pi.ExitNs), Exited: pi.ExitNs != 0,
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("trace: read procs map: %w", err)
	}
	return out, nil
}

// Indexes of the dropped map: DROP_* in stall.bpf.c.
const (
	dropWait = iota
	dropChild
	dropStorage
	dropProc
)

// dropped reads the BPF program's loss counters.
func (t *Tracer) dropped() (Dropped, error) {
	var d Dropped
	for i, p := range []*uint64{dropWait: &d.Waits, dropChild: &d.Children, dropStorage: &d.Storage, dropProc: &d.Procs} {
		if err := t.objs.Dropped.Lookup(uint32(i), p); err != nil {
			return Dropped{}, fmt.Errorf("trace: read dropped map: %w", err)
		}
	}
	return d, nil
}

// addInflight adds the waits in progress of the watched processes to r's
// records, as if they ended now. Task storage is looked up by pidfd: one
// per thread (PIDFD_THREAD, Linux 6.9+; older kernels give only the
// thread group leader's wait). Nothing extra runs in the BPF hot path.
// The runnable part of a wait in progress is not known until its
// switch-in (stall.bpf.c reads it from the scheduler then): it counts as
// blocked here.
func (t *Tracer) addInflight(r *Report) error {
	mono, err := monotonicNow()
	if err != nil {
		return err
	}
	var sched uint64 // the BPF wait clock now, read once if needed
	tgids, err := t.watchedTgids()
	if err != nil {
		return err
	}
	var tids []int
	for _, tgid := range tgids {
		tids = append(tids, threads(tgid)...)
	}
	index := make(map[stallStallKey]int, len(r.Records))
	for i, rec := range r.Records {
		index[stallStallKey{Tgid: uint32(rec.Tgid), Dir: uint32(rec.Dir), Inode: rec.Inode}] = i
	}
	for _, tid := range tids {
		w, ok := t.pendingWait(tid)
		if !ok || w.Start == 0 {
			continue
		}
		// A wait in progress at attach began on CLOCK_MONOTONIC (the
		// loader's); any other on the program's sched_now.
		now := mono
		if w.Attach == 0 {
			if sched == 0 {
				if sched, err = t.schedNow(); err != nil {
					return err
				}
			}
			now = sched
		}
		if w.Start >= now {
			continue
		}
		d := time.Duration(now - w.Start)
		k := stallStallKey{Tgid: w.Tgid, Dir: uint32(w.Dir), Inode: w.Inode}
		i, ok := index[k]
		if !ok {
			i = len(r.Records)
			index[k] = i
			r.Records = append(r.Records, Record{
				Tgid: int(w.Tgid), Comm: procComm(int(w.Tgid)), Inode: w.Inode, Dir: Direction(w.Dir),
				Hist: make([]uint64, HistBuckets),
			})
		}
		rec := &r.Records[i]
		rec.Count++
		if w.Attach != 0 {
			rec.AtAttach++
		}
		rec.Total += d
		rec.Max = max(rec.Max, d)
		rec.Hist[min(bits.Len64(uint64(d))-1, HistBuckets-1)]++
	}
	return nil
}

// States of want_pair: PAIR_* in stall_clock.h.
const (
	pairDone   = 0
	pairWanted = 1
)

// schedNow returns the BPF program's wait clock (sched_now in
// stall.bpf.c, the scheduler's rq clock) now. User space cannot read that
// clock: it attaches stall_pair, which takes both clocks at the next
// context switch (this thread's own sleep makes one), and adds the
// CLOCK_MONOTONIC time elapsed since. stall_pair is attached only for
// this, so the per-switch program reads no request flag.
func (t *Tracer) schedNow() (uint64, error) {
	if err := t.objs.WantPair.Set(uint32(pairWanted)); err != nil {
		return 0, fmt.Errorf("trace: ask for the clocks: %w", err)
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: t.objs.StallPair})
	if err != nil {
		return 0, fmt.Errorf("trace: ask for the clocks: attach: %w", err)
	}
	defer l.Close()
	for start := time.Now(); ; {
		time.Sleep(time.Millisecond)
		var want uint32
		if err := t.objs.WantPair.Get(&want); err != nil {
			return 0, fmt.Errorf("trace: read the clocks: %w", err)
		}
		if want == pairDone {
			break
		}
		if time.Since(start) > time.Second {
			return 0, errors.New("trace: read the clocks: no context switch ran the program for 1s")
		}
	}
	var pairMono, pairSched uint64
	if err := errors.Join(t.objs.PairMono.Get(&pairMono), t.objs.PairSched.Get(&pairSched)); err != nil {
		return 0, fmt.Errorf("trace: read the clocks: %w", err)
	}
	mono, err := monotonicNow()
	if err != nil {
		return 0, err
	}
	return pairSched + (mono - pairMono), nil
}

// pendingWait returns thread tid's wait from task storage, if any.
func (t *Tracer) pendingWait(tid int) (stallWait, bool) {
	fd, err := pidfdOpen(tid)
	if err != nil {
		return stallWait{}, false
	}
	defer syscall.Close(fd)
	var w stallWait
	if err := t.objs.Waits.Lookup(int32(fd), &w); err != nil {
		return stallWait{}, false
	}
	if w.Fresh != 0 {
		// No switch of the thread since Watch: its wait, if any, is
		// still the seed (attach.go). A seed taken and ended since w was
		// read counts as in progress: stats were read before, so it is
		// never counted twice.
		var seed stallWait
		if t.objs.Seeds.Lookup(int32(fd), &seed) == nil {
			return seed, true
		}
	}
	return w, true
}

func commString(c [16]int8) string {
	b := make([]byte, 0, len(c))
	for _, ch := range c {
		if ch == 0 {
			break
		}
		b = append(b, byte(ch))
	}
	return string(b)
}
