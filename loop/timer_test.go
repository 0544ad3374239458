package loop_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
)

func TestTimerOrder(t *testing.T) {
	l := newLoop(t, loop.Options{})
	var got []int
	base := time.Now() // one base, so scheduling time cannot reorder them
	for _, ms := range []int{30, 10, 0, 20, 1, 5} {
		l.AfterFunc(time.Until(base.Add(time.Duration(ms)*time.Millisecond)), func() {
			got = append(got, ms)
			if len(got) == 6 {
				l.Stop()
			}
		})
	}
	run(t, l)
	if want := []int{0, 1, 5, 10, 20, 30}; !slices.Equal(got, want) {
		t.Errorf("timers ran in order %v, want %v", got, want)
	}
	if st := l.Stats(); st.Timers != 6 {
		t.Errorf("Stats().Timers = %d, want 6", st.Timers)
	}
}

// TestTimerDeadline: a timer due in 50ms runs no earlier, and the loop
// sleeps until then instead of polling.
func TestTimerDeadline(t *testing.T) {
	const d = 50 * time.Millisecond
	l := newLoop(t, loop.Options{})
	var elapsed time.Duration
	var st loop.Stats
	start := time.Now()
	l.AfterFunc(d, func() {
		elapsed = time.Since(start)
		st = l.Stats()
		l.Stop()
	})
	run(t, l)
	t.Logf("ran after %v, %d waits", elapsed, st.Waits)
	if elapsed < d {
		t.Errorf("timer ran after %v, want at least %v", elapsed, d)
	}
	if st.Waits == 0 || st.Waits > 3 {
		t.Errorf("%d epoll_wait calls while waiting for the timer, want 1 to 3", st.Waits)
	}
}

func TestTimerStop(t *testing.T) {
	l := newLoop(t, loop.Options{})
	fired := false
	tm := l.AfterFunc(10*time.Millisecond, func() { fired = true })
	if got := l.PendingTimers(); got != 1 {
		t.Fatalf("PendingTimers() = %d, want 1", got)
	}
	if !tm.Stop() {
		t.Error("Stop of a scheduled timer = false")
	}
	if tm.Stop() {
		t.Error("second Stop = true")
	}
	if got := l.PendingTimers(); got != 0 {
		t.Errorf("PendingTimers() = %d after Stop, want 0", got)
	}
	l.AfterFunc(30*time.Millisecond, l.Stop)
	run(t, l)
	if fired {
		t.Error("stopped timer ran")
	}
	if tm.Stop() {
		t.Error("Stop after Run = true")
	}
}

// TestTimerStopMany schedules many timers, stops a random half (so Stop
// removes from every position of the heap) and checks that the rest run in
// deadline order.
func TestTimerStopMany(t *testing.T) {
	l := newLoop(t, loop.Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	var got, want []int
	// Distinct deadlines 1ms apart, in a shuffled order, all relative to
	// one base so the time spent scheduling them does not reorder them.
	const n = 64
	base := time.Now().Add(time.Millisecond)
	at := func(i int) time.Duration { return time.Duration(i*37%n) * time.Millisecond }
	timers := make([]*loop.Timer, n)
	for i := range timers {
		timers[i] = l.AfterFunc(time.Until(base.Add(at(i))), func() { got = append(got, i) })
	}
	for i, tm := range timers {
		if rng.IntN(2) == 0 {
			if !tm.Stop() {
				t.Errorf("Stop(timer %d) = false", i)
			}
			continue
		}
		want = append(want, i)
	}
	slices.SortFunc(want, func(a, b int) int { return int(at(a) - at(b)) })
	if got := l.PendingTimers(); got != len(want) {
		t.Errorf("PendingTimers() = %d after stopping, want %d", got, len(want))
	}
	l.AfterFunc(time.Until(base.Add(n*time.Millisecond)), l.Stop)
	run(t, l)
	if !slices.Equal(got, want) {
		t.Errorf("timers ran as %v, want %v", got, want)
	}
}

func TestTimerReset(t *testing.T) {
	l := newLoop(t, loop.Options{})
	start := time.Now()
	var early, late, again time.Duration
	pending := 3
	done := func() {
		if pending--; pending == 0 {
			l.Stop()
		}
	}
	// Moved earlier: from an hour to 10ms.
	e := l.AfterFunc(time.Hour, func() { early = time.Since(start); done() })
	e.Reset(10 * time.Millisecond)
	// Moved later: from 5ms to 30ms.
	lt := l.AfterFunc(5*time.Millisecond, func() { late = time.Since(start); done() })
	lt.Reset(30 * time.Millisecond)
	// Re-armed after it ran.
	var a *loop.Timer
	var first time.Duration
	runs := 0
	a = l.AfterFunc(time.Millisecond, func() {
		if runs++; runs == 1 {
			first = time.Since(start)
			a.Reset(15 * time.Millisecond)
			return
		}
		again = time.Since(start)
		done()
	})
	if got := l.PendingTimers(); got != 3 {
		t.Errorf("PendingTimers() = %d, want 3: Reset of a scheduled timer must not add it twice", got)
	}
	run(t, l)
	if early < 10*time.Millisecond || early > late {
		t.Errorf("timer reset to 10ms ran after %v (the one reset to 30ms after %v)", early, late)
	}
	if late < 30*time.Millisecond {
		t.Errorf("timer reset to 30ms ran after %v", late)
	}
	if runs != 2 || again < first+15*time.Millisecond {
		t.Errorf("re-armed timer ran %d times, at %v and %v; want 2, 15ms apart", runs, first, again)
	}
}

// TestTimerStopFromTimer: a timer stopped by another one due at the same
// time does not run.
func TestTimerStopFromTimer(t *testing.T) {
	l := newLoop(t, loop.Options{})
	var second *loop.Timer
	ran := false
	l.AfterFunc(5*time.Millisecond, func() {
		if !second.Stop() {
			t.Error("Stop of the pending second timer = false")
		}
	})
	second = l.AfterFunc(5*time.Millisecond+time.Nanosecond, func() { ran = true })
	l.AfterFunc(20*time.Millisecond, l.Stop)
	run(t, l)
	if ran {
		t.Error("stopped timer ran")
	}
}

// TestTimerRearmNow: a timer that re-arms itself with Reset(0) runs again
// on the next iteration, not in a loop inside the current one.
func TestTimerRearmNow(t *testing.T) {
	l := newLoop(t, loop.Options{})
	var waits []uint64
	var tm *loop.Timer
	tm = l.AfterFunc(0, func() {
		waits = append(waits, l.Stats().Waits)
		if len(waits) == 5 {
			l.Stop()
			return
		}
		tm.Reset(0)
	})
	run(t, l)
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1] {
			t.Fatalf("re-armed timer ran at waits %v: twice in one iteration", waits)
		}
	}
}

// TestTimerRearmPast is TestTimerRearmNow with a deadline already in the
// past, which runTimers' comment promises to handle the same way.
func TestTimerRearmPast(t *testing.T) {
	l := newLoop(t, loop.Options{})
	var waits []uint64
	var tm *loop.Timer
	tm = l.AfterFunc(0, func() {
		waits = append(waits, l.Stats().Waits)
		if len(waits) == 5 {
			l.Stop()
			return
		}
		tm.Reset(-time.Second)
	})
	run(t, l)
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1] {
			t.Fatalf("re-armed timer ran at waits %v: more than once in one iteration", waits)
		}
	}
}
