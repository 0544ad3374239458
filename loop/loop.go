//go:build linux

package loop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by methods called after the loop has shut down.
var ErrClosed = fmt.Errorf("loop: %w", os.ErrClosed)

// errNotMade is the answer of a zero Loop, which has no epoll fd and no
// eventfd: its fields would otherwise name fd 0.
var errNotMade = errors.New("loop: a Loop not made by loop.New")

// Options configure a Loop. The zero value is a sensible default.
type Options struct {
	// MaxEvents is the epoll_wait batch size (default 256).
	MaxEvents int
	// MaxPosted bounds the functions Post queues before the loop runs
	// them (default 4096): past it Post waits for room, like a send on a
	// full buffered channel (see Post).
	MaxPosted int
	// BusyPoll, when positive, makes the loop poll with a zero timeout for
	// up to this long after its last event before it sleeps in epoll_wait:
	// lower wake-up latency for one core's worth of CPU while polling.
	BusyPoll time.Duration
	// Sched is the loop thread's scheduling policy (default SchedAuto).
	Sched Sched
	// RawWait lets the loop sleep in a raw epoll_wait, unseen by the Go
	// runtime, while events flow (see "Sleeping" in the package doc and
	// wait_linux.go): lower and steadier latency, but with one P
	// (GOMAXPROCS=1) the program's other goroutines, the garbage collector
	// included, may wait up to ~20 ms while the loop is busy. Off by
	// default: a daemon embedding the loop keeps the runtime's
	// blocking-system-call path unless it opts in. The pipeloop command
	// opts in for its relay modes, not for serve.
	RawWait bool
}

// Stats are the loop's own counters. Read them on the loop goroutine.
type Stats struct {
	Waits    uint64 // epoll_wait calls
	Sleeps   uint64 // epoll_wait calls that could block
	RawWaits uint64 // sleeps (epoll_wait calls that could block) made raw, without the runtime (wait_linux.go)
	Yields   uint64 // passes through the Go scheduler of a loop that sleeps raw (yield)
	Events   uint64 // events dispatched to handlers
	Timers   uint64 // timer functions run
	Posted   uint64 // posted functions run
	Notified uint64 // Notifier functions run
	Wakeups  uint64 // eventfd wake-ups consumed
	Reaped   uint64 // child processes reaped
	MaxBatch int    // largest batch returned by one epoll_wait
}

// Loop is an epoll event loop. See the package documentation for the
// threading contract.
type Loop struct {
	ep        int // epoll fd, owned
	wakefd    int // eventfd, owned; registered in ep
	events    []unix.EpollEvent
	busyPoll  time.Duration
	noRaw     bool      // !Options.RawWait, or raw waits impossible
	cooperate int       // Cooperate(true) calls not yet matched: sleep through the runtime
	rawFrom   time.Time // no raw sleep before then (a signal interrupted one)
	yielded   time.Time // when the loop last passed through the scheduler (yield)
	sleeper   Sleeper   // sleeps in place of epoll_wait, or nil (sleeper.go)
	flowing   bool      // events came since a signal last ended a raw sleep: sleep raw (wait_linux.go)
	reg       registry
	timers    timerHeap
	procs     map[*Process]struct{} // watched, not yet exited
	soon      []func()              // run after the current batch; loop goroutine only
	soonRun   []func()              // the batch being run, recycled
	onStop    []func()              // run by Run on its way out, before fds close
	stats     Stats
	sched     scheduler
	now       time.Time        // the current wake-up's time, if nowRead (Now)
	nowRead   bool             // now was read since the loop last slept
	clock     func() time.Time // time.Now; a test's stepping clock (export_test.go)
	probe     yieldProbe       // when yield next reads the clock (wait_linux.go)
	closed    bool             // set when Run has returned; loop goroutine only

	made     bool // by New; a zero Loop refuses everything (usable)
	stopping atomic.Bool
	ran      atomic.Bool

	tid atomic.Int32 // the loop thread's id while Run runs (thread.go)

	mu        sync.Mutex  // guards posted, notified, pending, done, blocked
	room      sync.Cond   // signalled when posted functions were taken (post.go)
	maxPosted int         // Post blocks while this many wait
	posted    []func()    // functions waiting to run on the loop
	spare     []func()    // recycled backing array for posted
	notified  []*Notifier // Notifiers whose function is due (notify.go)
	notiSpare []*Notifier // recycled backing array for notified
	pending   bool        // an eventfd write is outstanding
	blocked   int         // Post calls waiting for room
	done      bool        // Run has returned; Post fails
}

// New creates a loop. The caller must eventually call Run (which closes
// everything when it returns) or Close.
func New(opts Options) (l *Loop, err error) {
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 256
	}
	if opts.MaxPosted <= 0 {
		opts.MaxPosted = 4096
	}
	l = &Loop{
		made: true, ep: -1, wakefd: -1,
		events:   make([]unix.EpollEvent, opts.MaxEvents),
		busyPoll: opts.BusyPoll,
		noRaw:    !opts.RawWait || !rawWaitsAllowed(),
		reg:      registry{byFD: make(map[int]int32)},
		procs:    make(map[*Process]struct{}),
		sched:    scheduler{mode: opts.Sched},

		maxPosted: opts.MaxPosted,
		clock:     time.Now,
	}
	l.room.L = &l.mu
	defer func() {
		if err != nil {
			l.closeFDs()
		}
	}()
	if l.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("create loop: %w", os.NewSyscallError("epoll_create1", err))
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, fmt.Errorf("create loop: %w", os.NewSyscallError("eventfd", err))
	}
	if err = l.Register(l.wakefd, Readable, HandlerFunc(l.onWake)); err != nil {
		return nil, fmt.Errorf("create loop: %w", err)
	}
	return l, nil
}

// Run runs the loop on the calling goroutine, locked to its OS thread,
// until ctx ends or Stop is called. It then closes the fds the loop owns
// and returns ctx's error if ctx ended, else nil. Run may be called once.
func (l *Loop) Run(ctx context.Context) error {
	if err := l.usable(); err != nil {
		return err
	}
	if l.ran.Swap(true) {
		return errors.New("loop: Run called twice")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.tid.Store(int32(unix.Gettid()))
	defer l.tid.Store(0)
	l.sched.begin()
	defer l.sched.stop()
	defer l.shutdown()
	stop := context.AfterFunc(ctx, l.Stop)
	defer stop()

	var lastActive time.Time
	for !l.stopping.Load() {
		timeout := -1
		if l.timers.Len() > 0 { // no clock read per wake-up without timers
			timeout = l.timers.timeoutMS(time.Now())
		}
		if len(l.soon) > 0 {
			timeout = 0
		}
		if l.busyPoll > 0 && timeout != 0 {
			if l.clock().Sub(lastActive) < l.busyPoll {
				timeout = 0
			}
		}
		l.stats.Waits++
		if timeout != 0 {
			l.stats.Sleeps++
		}
		n, err := l.wait(timeout)
		l.yield()
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("loop: %w", os.NewSyscallError("epoll_wait", err))
		}
		if n > 0 {
			if n > l.stats.MaxBatch {
				l.stats.MaxBatch = n
			}
			l.dispatch(l.events[:n])
			if l.busyPoll > 0 {
				lastActive = l.Now()
			}
		}
		if l.timers.Len() > 0 {
			l.runTimers(l.Now())
		}
		if len(l.soon) > 0 {
			l.runSoon()
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// RunSoon queues f to run on the loop goroutine after the current batch of
// events, before the loop sleeps again. It costs no system call, which makes
// it the way for a handler to yield after a bounded amount of work and come
// back later without starving other fds. Loop goroutine only.
func (l *Loop) RunSoon(f func()) {
	l.mustOnLoop("RunSoon")
	l.soon = append(l.soon, f)
}

func (l *Loop) runSoon() {
	fs := l.soon
	l.soon, l.soonRun = l.soonRun[:0], nil
	for i, f := range fs {
		fs[i] = nil
		f()
	}
	if l.soonRun == nil {
		l.soonRun = fs[:0]
	}
}

// Stop makes Run return after the current dispatch. Safe from any goroutine.
func (l *Loop) Stop() {
	if !l.stopping.Swap(true) {
		l.Wake()
	}
}

// Stopping reports whether Stop has been called.
func (l *Loop) Stopping() bool { return l.stopping.Load() }

// Now is the loop's time for the current wake-up: the clock is read at
// the first call after the loop woke (epoll_wait or its Sleeper returned),
// and every later call until the loop sleeps again shares that reading.
// So handlers pay at most one clock read per wake-up, and a wake-up that
// asks for no time pays none: a clock read costs ~0.5 µs just after a
// system call on a VM (kvm-clock), a few percent of a small message's
// hop. Loop goroutine only.
func (l *Loop) Now() time.Time {
	l.mustOnLoop("Now")
	if !l.nowRead {
		l.now, l.nowRead = l.clock(), true
	}
	return l.now
}

// Stats returns the loop's counters. Loop goroutine only.
func (l *Loop) Stats() Stats {
	l.mustOnLoop("Stats")
	return l.stats
}

// Close releases the loop's fds without running it. It is for a loop that
// will never Run; Run closes everything itself.
func (l *Loop) Close() error {
	if !l.made {
		return errNotMade
	}
	if l.ran.Swap(true) {
		return nil
	}
	l.shutdown()
	return nil
}

// usable is nil for a loop made by New and not yet shut down.
func (l *Loop) usable() error {
	switch {
	case !l.made:
		return errNotMade
	case l.closed:
		return ErrClosed
	}
	return nil
}

// OnStop registers f to run on the loop goroutine when Run is about to
// return, before the loop's fds are closed: the place to collect final
// statistics or close links. Loop goroutine only, or before Run.
func (l *Loop) OnStop(f func()) {
	l.mustOnLoop("OnStop")
	l.onStop = append(l.onStop, f)
}

func (l *Loop) shutdown() {
	for _, f := range l.onStop {
		f()
	}
	l.onStop = nil
	l.closePosts()
	for p := range l.procs {
		p.release()
	}
	l.closed = true
	l.closeFDs()
}

func (l *Loop) closeFDs() {
	if l.wakefd >= 0 {
		unix.Close(l.wakefd)
		l.wakefd = -1
	}
	if l.ep >= 0 {
		unix.Close(l.ep)
		l.ep = -1
	}
}
