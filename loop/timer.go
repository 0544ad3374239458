//go:build linux

package loop

import (
	"container/heap"
	"time"
)

// Timer runs a function on the loop goroutine at a deadline. Timers are
// kept in a min-heap; the earliest deadline becomes epoll_wait's timeout,
// so an idle loop with timers sleeps until the first is due — no polling.
type Timer struct {
	l    *Loop
	when time.Time // deadline (monotonic)
	f    func()
	idx  int // position in the heap, -1 when not scheduled
}

// AfterFunc schedules f to run on the loop goroutine after d. Loop
// goroutine only (use Post from elsewhere).
func (l *Loop) AfterFunc(d time.Duration, f func()) *Timer {
	l.mustOnLoop("AfterFunc")
	t := &Timer{l: l, f: f, idx: -1}
	t.Reset(d)
	return t
}

// Stop unschedules t. It reports whether t was scheduled.
func (t *Timer) Stop() bool {
	t.l.mustOnLoop("Timer.Stop")
	if t.idx < 0 {
		return false
	}
	heap.Remove(&t.l.timers, t.idx)
	return true
}

// Reset (re)schedules t to run after d.
func (t *Timer) Reset(d time.Duration) {
	t.l.mustOnLoop("Timer.Reset")
	t.when = time.Now().Add(max(d, 0))
	if t.idx >= 0 {
		heap.Fix(&t.l.timers, t.idx)
		return
	}
	heap.Push(&t.l.timers, t)
}

// runTimers runs every timer due at now, in deadline order. A timer that
// re-arms itself for a deadline already past runs on the next iteration,
// never in a tight loop here.
func (l *Loop) runTimers(now time.Time) {
	for l.timers.Len() > 0 {
		t := l.timers[0]
		if !t.when.Before(now) {
			return
		}
		heap.Pop(&l.timers)
		l.stats.Timers++
		t.f()
	}
}

// timerHeap orders timers by deadline.
type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}

// timeoutMS is the epoll_wait timeout for the earliest timer: -1 with no
// timers, else the delay rounded up to a whole millisecond so the loop never
// wakes just before a deadline and spins.
func (h timerHeap) timeoutMS(now time.Time) int {
	if len(h) == 0 {
		return -1
	}
	d := h[0].when.Sub(now)
	if d <= 0 {
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return int(ms)
}
