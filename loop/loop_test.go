package loop_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// TestPostConcurrent posts from many goroutines at once, with Wake calls
// mixed in: every function runs once, on the loop, in each poster's order.
func TestPostConcurrent(t *testing.T) {
	const posters, per = 8, 500
	l := newLoop(t, loop.Options{})
	next := make([]int, posters) // loop goroutine only
	ran := 0
	started := make(chan struct{})
	l.Post(func() { close(started) }) // posters start once Run is running
	var wg sync.WaitGroup
	for p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-started
			for i := range per {
				err := l.Post(func() {
					if i != next[p] {
						t.Errorf("poster %d: function %d ran, want %d", p, i, next[p])
					}
					next[p] = i + 1
					ran++
				})
				if err != nil {
					t.Errorf("Post: %v", err)
					return
				}
				if i%50 == 0 {
					if err := l.Wake(); err != nil {
						t.Errorf("Wake: %v", err)
					}
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		l.Post(l.Stop) // queued behind every function posted above
	}()
	run(t, l)
	if got, want := ran, posters*per; got != want {
		t.Errorf("%d posted functions ran, want %d", got, want)
	}
	st := l.Stats()
	if got, want := st.Posted, uint64(posters*per+2); got != want {
		t.Errorf("Stats().Posted = %d, want %d", got, want)
	}
	if st.Wakeups < 2 || st.Wakeups > st.Posted {
		t.Errorf("Stats().Wakeups = %d for %d posts, want several and at most one per post", st.Wakeups, st.Posted)
	}
	t.Logf("%d posts in %d wake-ups, %d waits", st.Posted, st.Wakeups, st.Waits)
}

// TestPostFromLoop checks that a function posted by a posted function runs
// on a later wake-up, not lost and not recursively.
func TestPostFromLoop(t *testing.T) {
	l := newLoop(t, loop.Options{})
	var got []int
	var post func(i int)
	post = func(i int) {
		if err := l.Post(func() {
			got = append(got, i)
			if i == 3 {
				l.Stop()
				return
			}
			post(i + 1)
		}); err != nil {
			t.Error(err)
		}
	}
	post(0)
	run(t, l)
	if len(got) != 4 {
		t.Errorf("ran %v, want [0 1 2 3]", got)
	}
}

func TestClosed(t *testing.T) {
	l := newLoop(t, loop.Options{})
	l.Stop() // before Run: Run returns at once
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run after Stop = %v, want nil", err)
	}
	for name, err := range map[string]error{
		"Post":     l.Post(func() { t.Error("posted function ran after Run returned") }),
		"Wake":     l.Wake(),
		"Register": l.Register(0, loop.Readable, loop.HandlerFunc(func(loop.Events) {})),
	} {
		if !errors.Is(err, loop.ErrClosed) || !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s after Run = %v, want loop.ErrClosed wrapping os.ErrClosed", name, err)
		}
	}
	l.Stop() // no effect, no panic
	if err := l.Run(context.Background()); err == nil {
		t.Error("second Run = nil, want an error")
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close after Run = %v", err)
	}
}

func TestClose(t *testing.T) {
	base := countFDs(t)
	l := newLoop(t, loop.Options{})
	if got, want := countFDs(t), base+2; got != want {
		t.Errorf("New opened %d fds, want 2 (epoll, eventfd)", got-base)
	}
	stopped := 0
	l.OnStop(func() { stopped++ })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countFDs(t); got != base {
		t.Errorf("%d fds open after Close, want the %d before New", got, base)
	}
	if stopped != 1 {
		t.Errorf("OnStop ran %d times on Close, want 1", stopped)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := l.Run(context.Background()); err == nil {
		t.Error("Run after Close = nil, want an error")
	}
	if err := l.Post(func() {}); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("Post after Close = %v, want ErrClosed", err)
	}
	if stopped != 1 {
		t.Errorf("OnStop ran %d times, want 1", stopped)
	}
}

func TestRunContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
		min  time.Duration
	}{
		{"cancelled later", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled, 20 * time.Millisecond},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, context.DeadlineExceeded, 20 * time.Millisecond},
		{"already cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t, loop.Options{})
			start := time.Now() // before the context's clock starts
			ctx, cancel := tc.ctx()
			defer cancel()
			err := l.Run(ctx)
			if elapsed := time.Since(start); elapsed < tc.min || elapsed > 5*time.Second {
				t.Errorf("Run returned after %v, want at least %v", elapsed, tc.min)
			}
			if err != tc.want {
				t.Errorf("Run = %v, want %v", err, tc.want)
			}
			if !l.Stopping() {
				t.Error("Stopping() = false after ctx ended")
			}
		})
	}
}

// TestStopFromGoroutine stops a loop asleep in epoll_wait with no timeout.
func TestStopFromGoroutine(t *testing.T) {
	l := newLoop(t, loop.Options{})
	time.AfterFunc(20*time.Millisecond, l.Stop)
	run(t, l)
	if st := l.Stats(); st.Sleeps == 0 {
		t.Errorf("Stats().Sleeps = 0: the loop never slept")
	}
}

// TestStopFinishesBatch checks that Stop from a handler lets the rest of
// the current batch run before Run returns.
func TestStopFinishesBatch(t *testing.T) {
	l := newLoop(t, loop.Options{})
	calls := 0
	for range 3 {
		r, w := pipe(t)
		write(t, w, "x")
		h := loop.HandlerFunc(func(loop.Events) {
			calls++
			l.Unregister(r)
			l.Stop()
		})
		if err := l.Register(r, loop.Readable, h); err != nil {
			t.Fatal(err)
		}
	}
	run(t, l)
	if calls != 3 {
		t.Errorf("%d handlers ran, want all 3 of the batch", calls)
	}
	if st := l.Stats(); st.MaxBatch != 3 {
		t.Errorf("Stats().MaxBatch = %d, want 3", st.MaxBatch)
	}
}

func TestMaxEvents(t *testing.T) {
	l := newLoop(t, loop.Options{MaxEvents: 1})
	left := 3
	for range left {
		r, w := pipe(t)
		write(t, w, "x")
		h := loop.HandlerFunc(func(loop.Events) {
			l.Unregister(r)
			if left--; left == 0 {
				l.Stop()
			}
		})
		if err := l.Register(r, loop.Readable, h); err != nil {
			t.Fatal(err)
		}
	}
	run(t, l)
	st := l.Stats()
	if left != 0 || st.MaxBatch != 1 || st.Events != 3 {
		t.Errorf("%d fds left, MaxBatch %d, Events %d; want 0, 1, 3", left, st.MaxBatch, st.Events)
	}
}

func TestOnStop(t *testing.T) {
	l := newLoop(t, loop.Options{})
	r, _ := pipe(t)
	var order []string
	l.OnStop(func() {
		order = append(order, "first")
		// The loop's fds are still open: registration still works.
		if err := l.Register(r, loop.Readable, loop.HandlerFunc(func(loop.Events) {})); err != nil {
			t.Errorf("Register in OnStop: %v", err)
		} else if err := l.Unregister(r); err != nil {
			t.Errorf("Unregister in OnStop: %v", err)
		}
	})
	l.OnStop(func() { order = append(order, "second") })
	l.AfterFunc(time.Millisecond, l.Stop)
	run(t, l)
	if len(order) != 2 || order[0] != "first" || order[1] != "second" {
		t.Errorf("OnStop functions ran as %v, want [first second]", order)
	}
	l.Close()
	if len(order) != 2 {
		t.Errorf("OnStop functions ran again on Close: %v", order)
	}
}

// TestPostedBeforeStopRuns: Post returned nil, so its function must run
// (the doc says only an ErrClosed Post is never run).
func TestPostedBeforeStopRuns(t *testing.T) {
	l := newLoop(t, loop.Options{})
	ran := false
	l.Post(func() {
		l.Stop()
		if err := l.Post(func() { ran = true }); err != nil {
			t.Fatalf("Post while stopping = %v", err)
		}
	})
	run(t, l)
	if !ran {
		t.Error("Post returned nil but its function never ran")
	}
}

// TestRunSoon: a function queued from a handler runs after the whole batch
// and before the loop sleeps; one queued from it runs on the next
// iteration, still without sleeping.
func TestRunSoon(t *testing.T) {
	l := newLoop(t, loop.Options{})
	handled := 0
	var soonRan, laterRan bool
	for range 2 {
		r, w := pipe(t)
		write(t, w, "x")
		h := loop.HandlerFunc(func(loop.Events) {
			handled++
			l.Unregister(r)
			if handled > 1 {
				return
			}
			at := l.Stats()
			l.RunSoon(func() {
				soonRan = true
				now := l.Stats()
				if handled != 2 {
					t.Errorf("RunSoon function ran after %d of 2 handlers of its batch", handled)
				}
				if now.Waits != at.Waits {
					t.Errorf("RunSoon function ran %d waits later, want the same iteration", now.Waits-at.Waits)
				}
				l.RunSoon(func() {
					laterRan = true
					later := l.Stats()
					if later.Waits != now.Waits+1 || later.Sleeps != now.Sleeps {
						t.Errorf("nested RunSoon after %d waits, %d sleeps; want 1 wait and no sleep",
							later.Waits-now.Waits, later.Sleeps-now.Sleeps)
					}
					l.Stop()
				})
			})
		})
		if err := l.Register(r, loop.Readable, h); err != nil {
			t.Fatal(err)
		}
	}
	run(t, l)
	if !soonRan || !laterRan {
		t.Errorf("RunSoon functions ran: %v, %v", soonRan, laterRan)
	}
}

// TestBusyPoll: after an event, a loop with BusyPoll D polls epoll with a
// zero timeout until D has passed since that event, and only then sleeps
// (one epoll_wait that may block); without BusyPoll it sleeps at once.
//
// The loop reads a stepping clock here, which moves by step at every
// read (one per poll: the busy check; a poll that finds nothing asks for
// no wake-up time), so what is counted does not depend on how much CPU a
// loaded machine gives the loop thread: the event's wake-up reads the
// clock (Now), then exactly D/step − 1 polls read an earlier time than
// D after it, then the sleep. Once the clock
// says D has passed, it posts the function that takes the count, which
// wakes that sleep at once; an early post would be an event, restarting
// the polling.
func TestBusyPoll(t *testing.T) {
	const step = 100 * time.Microsecond
	for _, tc := range []struct {
		name  string
		busy  time.Duration
		polls uint64
	}{{"off", 0, 0}, {"20ms", 20 * time.Millisecond, uint64(20*time.Millisecond/step) - 1}} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t, loop.Options{BusyPoll: tc.busy})
			var first, last loop.Stats
			var event, now, woke time.Time // event: when the loop woke for the first posted function
			now = time.Unix(1_000_000, 0)
			count := func() {
				last, woke = l.Stats(), l.Now()
				l.Stop()
			}
			l.SetClock(func() time.Time {
				now = now.Add(step)
				if !event.IsZero() && now.Sub(event) >= tc.busy && last == (loop.Stats{}) && woke.IsZero() {
					woke = now // post once
					if err := l.Post(count); err != nil {
						t.Errorf("Post: %v", err)
					}
				}
				return now
			})
			l.Post(func() {
				first, event = l.Stats(), l.Now()
				if tc.busy == 0 {
					l.Post(count) // the next epoll_wait: a sleep, woken at once
				}
			})
			run(t, l)
			waits, sleeps := last.Waits-first.Waits, last.Sleeps-first.Sleeps
			t.Logf("%d waits, %d sleeps over %v of the loop's clock", waits, sleeps, woke.Sub(event))
			// A signal can end a sleep early (EINTR): the loop sleeps again.
			if sleeps < 1 || sleeps > 3 {
				t.Errorf("%d sleeps, want 1 to 3", sleeps)
			}
			if polls := waits - sleeps; polls != tc.polls {
				t.Errorf("%d polls (waits that could not sleep) after the event with BusyPoll %v, want %d", polls, tc.busy, tc.polls)
			}
			if woke.Sub(event) < tc.busy {
				t.Errorf("slept %v after the event, before BusyPoll %v had passed", woke.Sub(event), tc.busy)
			}
		})
	}
}

// TestOwnedFDsClosed checks that Run closes the epoll fd, the eventfd and
// the pidfd of a child still running, and leaves registered fds alone.
func TestOwnedFDsClosed(t *testing.T) {
	base := countFDs(t)
	r, _ := pipe(t)
	l := newLoop(t, loop.Options{})
	c := startChild(t, "sleep")
	p, err := l.WatchProcess(c.pid, c.pidfd, func(*loop.ProcessState) { t.Error("child exited") })
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Register(r, loop.Readable, loop.HandlerFunc(func(loop.Events) {})); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Registered(), 3; got != want {
		t.Errorf("Registered() = %d, want %d (eventfd, pidfd, pipe)", got, want)
	}
	l.AfterFunc(5*time.Millisecond, l.Stop)
	run(t, l)
	if got, want := countFDs(t), base+2; got != want {
		t.Errorf("%d fds open after Run, want %d (the test's pipe only)", got, want)
	}
	if _, err := unix.FcntlInt(uintptr(r), unix.F_GETFD, 0); err != nil {
		t.Errorf("registered fd closed by Run: %v", err)
	}
	if _, ok := p.Exited(); ok {
		t.Error("Exited() = true for a child still running")
	}
	unix.Kill(c.pid, unix.SIGKILL) // the caller reaps a child the loop let go
	if ws := c.wait(t); !ws.Signaled() {
		t.Errorf("child status %#x, want killed", ws)
	}
}
