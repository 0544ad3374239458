package loop_test

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// busyLoop runs a loop that has an event every 200 µs (a timer writes a
// pipe the loop watches), so that it sleeps raw, until the test ends.
// stats returns the loop's counters, read on the loop goroutine.
func busyLoop(t *testing.T, opts loop.Options) (stats func() loop.Stats) {
	t.Helper()
	l := newLoop(t, opts)
	r, w := pipe(t)
	buf := make([]byte, 64)
	if err := l.Register(r, loop.Readable, loop.HandlerFunc(func(loop.Events) { unix.Read(r, buf) })); err != nil {
		t.Fatal(err)
	}
	var tick func()
	tick = func() {
		unix.Write(w, buf[:1])
		l.AfterFunc(200*time.Microsecond, tick)
	}
	tick()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	})
	return func() loop.Stats {
		c := make(chan loop.Stats, 1)
		if err := l.Post(func() { c <- l.Stats() }); err != nil {
			t.Fatal(err)
		}
		return <-c
	}
}

// within fails the test if f has not returned after d: the raw sleep must
// never keep the runtime or another goroutine out for good. The bound is
// for liveness, not speed (benchmarks measure speed).
//
// liveness is that bound. With one P, allocating 64 MiB beside a loop
// sleeping raw took 2–5 s and sometimes more on a 2-vCPU VM at load
// 12–19 (the goroutine gets the P when the loop is preempted), on main
// before issue 15's changes as after, so 5 s failed without anything
// being starved.
const liveness = 30 * time.Second

func within(t *testing.T, what string, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { f(); close(done) }()
	select {
	case <-done:
		t.Logf("%s: %v", what, time.Since(start).Round(time.Microsecond))
	case <-time.After(d):
		t.Fatalf("%s: not done after %v while the loop sleeps raw", what, d)
	}
}

// TestRawWaitLetsRuntimeIn: while the loop sleeps in raw epoll_wait calls
// back to back, a garbage collection (stop-the-world and stack scans), a
// goroutine that allocates, a timer and a signal for os/signal all get
// through, with one P (a pinned pipeloop) as with two.
func TestRawWaitLetsRuntimeIn(t *testing.T) {
	for _, procs := range []int{1, 2} {
		t.Run(map[int]string{1: "GOMAXPROCS=1", 2: "GOMAXPROCS=2"}[procs], func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			stats := busyLoop(t, loop.Options{RawWait: true})
			before := stats().RawWaits
			within(t, "3 × runtime.GC", liveness, func() {
				for range 3 {
					runtime.GC()
				}
			})
			within(t, "goroutine allocating 64 MiB", liveness, func() {
				var keep [][]byte
				for range 1024 {
					keep = append(keep, make([]byte, 64<<10))
				}
				runtime.KeepAlive(keep)
			})
			within(t, "time.Sleep(1ms)", liveness, func() { time.Sleep(time.Millisecond) })
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGUSR1)
			defer signal.Stop(sig)
			within(t, "SIGUSR1 to os/signal", liveness, func() {
				syscall.Kill(os.Getpid(), syscall.SIGUSR1)
				<-sig
			})
			if got := stats().RawWaits - before; got == 0 {
				t.Errorf("no raw epoll_wait while busy: the test did not test the raw path")
			}
		})
	}
}

// TestCooperateSleepsThroughRuntime: with Cooperate(true) and with
// without RawWait, a sleeping wait is never raw (only zero-timeout polls are).
func TestCooperateSleepsThroughRuntime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      loop.Options
		cooperate bool
	}{{"Cooperate", loop.Options{RawWait: true}, true}, {"default", loop.Options{}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t, tc.opts)
			if tc.cooperate {
				l.Cooperate(true)
			}
			var ticks int
			var tick func()
			tick = func() {
				if ticks++; ticks == 20 {
					l.Stop()
					return
				}
				l.AfterFunc(200*time.Microsecond, tick)
			}
			tick()
			run(t, l)
			if s := l.Stats(); s.RawWaits != 0 {
				t.Errorf("%d raw waits of %d (%d sleeping), want 0", s.RawWaits, s.Waits, s.Sleeps)
			}
		})
	}
}

// TestRawWaitIdleLetsGCIn: a loop that had traffic and then went quiet
// sleeps raw with no timeout; a garbage collection must still get through
// (the runtime's signal ends the sleep), and afterwards the loop sleeps
// through the runtime, so it is not woken again while idle.
func TestRawWaitIdleLetsGCIn(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	l := newLoop(t, loop.Options{RawWait: true})
	r, w := pipe(t)
	buf := make([]byte, 64)
	got := make(chan struct{}, 1)
	if err := l.Register(r, loop.Readable, loop.HandlerFunc(func(loop.Events) {
		unix.Read(r, buf)
		got <- struct{}{}
	})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	write(t, w, "x")
	<-got // traffic: the next sleep is raw, and has no timeout
	time.Sleep(5 * time.Millisecond)
	within(t, "3 × runtime.GC, loop idle", liveness, func() {
		for range 3 {
			runtime.GC()
		}
	})
	within(t, "time.Sleep(1ms), loop idle", liveness, func() { time.Sleep(time.Millisecond) })
}

// TestRawLoopYields: a loop busy sleeping raw passes through the
// scheduler every few milliseconds (yield), and one that sleeps through the
// runtime has no need to.
func TestRawLoopYields(t *testing.T) {
	for _, raw := range []bool{true, false} {
		stats := busyLoop(t, loop.Options{RawWait: raw})
		time.Sleep(100 * time.Millisecond)
		s := stats()
		if raw && (s.RawWaits == 0 || s.Yields == 0) || !raw && s.Yields != 0 {
			t.Fatalf("RawWait %v: %d raw waits, %d yields over 100 ms of traffic", raw, s.RawWaits, s.Yields)
		}
	}
}

// TestClockReadsPerWake: the loop reads its clock only for what asks for
// the time. A pipe its own handler writes back to keeps it waking with no
// timer, and notes each byte as a transfer (NoteTransfer: a small one,
// never bulk): sleeping through the runtime it reads no clock but the
// bulk window's check every 100 kB; sleeping
// raw it reads it for yield only every few wake-ups (yieldProbe), yet
// still yields. Within one wake-up Now answers one reading; the next
// wake-up reads again.
func TestClockReadsPerWake(t *testing.T) {
	for _, raw := range []bool{false, true} {
		l := newLoop(t, loop.Options{RawWait: raw})
		var reads atomic.Int64
		l.SetClock(func() time.Time { reads.Add(1); return time.Now() })
		r, w := pipe(t)
		buf := make([]byte, 1)
		if err := l.Register(r, loop.Readable, loop.HandlerFunc(func(loop.Events) {
			unix.Read(r, buf)
			unix.Write(w, buf)
			l.NoteTransfer(len(buf))
		})); err != nil {
			t.Fatal(err)
		}
		write(t, w, "x")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		var s loop.Stats
		var same bool
		var before int64
		l.OnStop(func() {
			s = l.Stats()
			before = reads.Load()
			a, b := l.Now(), l.Now()
			same = a.Equal(b) && reads.Load() <= before+1
		})
		if err := l.Run(ctx); err != context.DeadlineExceeded {
			t.Fatalf("Run: %v", err)
		}
		cancel()
		t.Logf("RawWait %v: %d wake-ups, %d clock reads, %d yields", raw, s.Waits, before, s.Yields)
		if !same {
			t.Errorf("RawWait %v: two calls of Now in one wake-up read the clock twice or differ", raw)
		}
		switch {
		case s.Waits < 100:
			t.Fatalf("RawWait %v: only %d wake-ups in 100 ms", raw, s.Waits)
		case !raw && before > int64(s.Waits)/50_000:
			// One byte a wake-up: NoteTransfer looks at the clock once a
			// window could be bulk (windowBytes, 100 kB: a fast machine
			// wakes that often in 100 ms), and nothing else asks.
			t.Errorf("RawWait false: %d clock reads over %d wake-ups that asked for no time, want none but one per 100 kB moved", before, s.Waits)
		case raw && s.Yields == 0:
			t.Errorf("RawWait true: no yield in 100 ms of %d wake-ups", s.Waits)
		case raw && before >= int64(s.Waits):
			t.Errorf("RawWait true: %d clock reads over %d wake-ups, want fewer", before, s.Waits)
		case raw && s.Waits >= 1000 && before*4 > int64(s.Waits):
			// ≤ 100 µs a wake-up: the probe skips ≥ 9 of every 10.
			t.Errorf("RawWait true: %d clock reads over %d wake-ups, want fewer than a quarter", before, s.Waits)
		}
	}
}
