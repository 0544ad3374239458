package loop_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

var nop = loop.HandlerFunc(func(loop.Events) {})

func TestRegisterErrors(t *testing.T) {
	l := newLoop(t, loop.Options{})
	defer l.Close()
	r, _ := pipe(t)
	if got := l.Registered(); got != 1 {
		t.Errorf("Registered() = %d on a new loop, want 1 (its eventfd)", got)
	}
	if err := l.Register(r, loop.Readable, nop); err != nil {
		t.Fatal(err)
	}
	if err := l.Register(r, loop.Writable, nop); !errors.Is(err, os.ErrExist) {
		t.Errorf("second Register = %v, want os.ErrExist", err)
	}
	if got := l.Registered(); got != 2 {
		t.Errorf("Registered() = %d, want 2", got)
	}
	if err := l.Unregister(r); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Modify":     l.Modify(r, loop.Writable),
		"Unregister": l.Unregister(r),
	} {
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s of an unregistered fd = %v, want os.ErrNotExist", name, err)
		}
	}

	// A regular file cannot be polled: epoll_ctl refuses it, and the
	// failed registration leaves nothing behind.
	f, err := unix.Open(filepath.Join(t.TempDir(), "f"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	testfd.CloseAtEnd(t, &f)
	err = l.Register(f, loop.Readable, nop)
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "epoll_ctl(ADD)" || !errors.Is(err, unix.EPERM) {
		t.Errorf("Register(regular file) = %v, want epoll_ctl(ADD) EPERM", err)
	}
	if err := l.Register(-1, loop.Readable, nop); !errors.Is(err, unix.EBADF) {
		t.Errorf("Register(-1) = %v, want EBADF", err)
	}
	if got := l.Registered(); got != 1 {
		t.Errorf("Registered() = %d after failed registrations, want 1", got)
	}
	if err := l.Modify(f, loop.Readable); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Modify after a failed Register = %v, want os.ErrNotExist", err)
	}
}

// TestModify moves a pipe's write end from an interest that never fires
// to Writable and back, then unregisters it.
func TestModify(t *testing.T) {
	l := newLoop(t, loop.Options{})
	_, w := pipe(t)
	var got []loop.Events
	finish := func() {
		if err := l.Unregister(w); err != nil {
			t.Error(err)
		}
		if err := l.Modify(w, loop.Writable); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Modify after Unregister = %v", err)
		}
		l.Stop()
	}
	h := loop.HandlerFunc(func(ev loop.Events) {
		got = append(got, ev)
		if len(got) > 1 {
			return
		}
		if err := l.Modify(w, loop.Readable); err != nil { // back to quiet
			t.Error(err)
		}
		l.AfterFunc(20*time.Millisecond, finish) // time for a repeat to show
	})
	if err := l.Register(w, loop.Readable, h); err != nil {
		t.Fatal(err)
	}
	if err := l.Modify(w, loop.Readable); err != nil { // unchanged: no-op
		t.Error(err)
	}
	l.AfterFunc(10*time.Millisecond, func() {
		if len(got) != 0 {
			t.Errorf("events %v before Modify", got)
		}
		if err := l.Modify(w, loop.Writable); err != nil {
			t.Error(err)
		}
	})
	run(t, l)
	if len(got) != 1 || got[0] != loop.Writable {
		t.Errorf("events %v, want one Writable", got)
	}
}

// TestQuiet: a quiet fd reports nothing though it is ready;
// Modify puts it back and epoll reports what is ready then; Unregister
// of a quiet fd works, and Quiet of an unknown fd is ErrNotExist.
func TestQuiet(t *testing.T) {
	l := newLoop(t, loop.Options{})
	r, w := pipe(t)
	var got []loop.Events
	h := loop.HandlerFunc(func(ev loop.Events) {
		got = append(got, ev)
		if err := l.Unregister(r); err != nil {
			t.Error(err)
		}
		l.Stop()
	})
	if err := l.Register(r, loop.Readable, h); err != nil {
		t.Fatal(err)
	}
	if err := l.Quiet(r); err != nil {
		t.Fatal(err)
	}
	if err := l.Quiet(r); err != nil { // already quiet: no-op
		t.Error(err)
	}
	if err := l.Quiet(-1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Quiet of an unregistered fd = %v, want os.ErrNotExist", err)
	}
	write(t, w, "x")
	l.AfterFunc(20*time.Millisecond, func() {
		if len(got) != 0 {
			t.Errorf("events %v while quiet", got)
		}
		if err := l.Modify(r, loop.Readable); err != nil {
			t.Error(err)
		}
	})
	run(t, l)
	if len(got) != 1 || got[0]&loop.Readable == 0 {
		t.Errorf("events %v, want one with Readable once back in epoll", got)
	}
}

// TestTriggering: a level-triggered registration fires on every iteration
// while the pipe holds unread data; an edge-triggered one fires once per
// write.
func TestTriggering(t *testing.T) {
	t.Run("level", func(t *testing.T) {
		l := newLoop(t, loop.Options{})
		r, w := pipe(t)
		var waits []uint64
		h := loop.HandlerFunc(func(loop.Events) {
			waits = append(waits, l.Stats().Waits) // and do not read
			if len(waits) == 5 {
				l.Unregister(r)
				l.Stop()
			}
		})
		if err := l.Register(r, loop.Readable, h); err != nil {
			t.Fatal(err)
		}
		write(t, w, "x")
		run(t, l)
		for i := 1; i < len(waits); i++ {
			if waits[i] != waits[i-1]+1 {
				t.Errorf("handler ran at waits %v, want on every iteration", waits)
				break
			}
		}
	})
	t.Run("edge", func(t *testing.T) {
		l := newLoop(t, loop.Options{})
		r, w := pipe(t)
		calls := 0
		h := loop.HandlerFunc(func(ev loop.Events) {
			calls++ // and do not read
			if ev&loop.EdgeTriggered != 0 {
				t.Errorf("event %v carries the interest flag", ev)
			}
		})
		if err := l.Register(r, loop.Readable|loop.EdgeTriggered, h); err != nil {
			t.Fatal(err)
		}
		// turns runs f after n more iterations of the loop: each RunSoon
		// makes the next epoll_wait a zero-timeout poll, at which a
		// level-triggered registration would fire again. Iterations, not
		// time, so a loaded machine sees the same.
		var turns func(n int, f func())
		turns = func(n int, f func()) {
			if n == 0 {
				f()
				return
			}
			l.RunSoon(func() { turns(n-1, f) })
		}
		write(t, w, "x")
		l.Post(func() {
			turns(20, func() {
				if calls != 1 {
					t.Errorf("%d calls after one write and 20 iterations, want 1", calls)
				}
				write(t, w, "y")
				turns(20, func() {
					if calls != 2 {
						t.Errorf("%d calls after two writes and 40 iterations, want 2", calls)
					}
					l.Unregister(r)
					l.Stop()
				})
			})
		})
		run(t, l)
		if st := l.Stats(); st.Waits < 40 {
			t.Errorf("only %d iterations: the test did not watch for repeats", st.Waits)
		}
	})
}

func TestHangup(t *testing.T) {
	t.Run("pipe", func(t *testing.T) {
		l := newLoop(t, loop.Options{})
		r, w := pipe(t)
		var got loop.Events
		h := loop.HandlerFunc(func(ev loop.Events) {
			got = ev
			l.Unregister(r)
			l.Stop()
		})
		if err := l.Register(r, loop.Readable, h); err != nil {
			t.Fatal(err)
		}
		testfd.CloseFD(t, &w)
		run(t, l)
		if got&loop.Hangup == 0 {
			t.Errorf("events %v after the writer closed, want hup", got)
		}
	})
	t.Run("socket", func(t *testing.T) {
		l := newLoop(t, loop.Options{})
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		testfd.CloseAtEnd(t, &fds[0])
		testfd.CloseAtEnd(t, &fds[1])
		var got loop.Events
		h := loop.HandlerFunc(func(ev loop.Events) {
			got = ev
			l.Unregister(fds[0])
			l.Stop()
		})
		if err := l.Register(fds[0], loop.Readable|loop.PeerClosed, h); err != nil {
			t.Fatal(err)
		}
		if err := unix.Shutdown(fds[1], unix.SHUT_WR); err != nil {
			t.Fatal(err)
		}
		run(t, l)
		if got&loop.PeerClosed == 0 || got&loop.Readable == 0 {
			t.Errorf("events %v after the peer shut down writing, want in|rdhup", got)
		}
	})
}

// replaceFD closes fd and opens a new pipe whose read end takes the same
// number; it returns the new pipe's write end.
func replaceFD(t *testing.T, fd int) (w int) {
	t.Helper()
	r, w := pipe(t)
	if err := unix.Dup3(r, fd, unix.O_CLOEXEC); err != nil { // closes the old fd
		t.Fatal(err)
	}
	return w
}

// TestStaleEvent builds the race the generation check exists for: two fds
// ready in one batch, and the first handler to run unregisters the other,
// closes it and registers a new pipe under the same fd number (and, the
// free list being LIFO, in the same slot). The event already collected for
// the old fd must reach neither its old handler nor the new one; the new
// registration gets its own events later.
func TestStaleEvent(t *testing.T) {
	l := newLoop(t, loop.Options{})
	var fds [2]int
	var replaced = -1 // index in fds of the replaced registration
	var batch uint64
	newCalls := 0
	newHandler := loop.HandlerFunc(func(loop.Events) {
		newCalls++
		if l.Stats().Waits == batch {
			t.Error("the new registration got the stale event of the fd it replaced")
		}
		l.Unregister(fds[replaced])
		l.Stop()
	})
	for i := range fds {
		var w int
		fds[i], w = pipe(t)
		write(t, w, "x")
		h := loop.HandlerFunc(func(loop.Events) {
			if replaced >= 0 {
				t.Errorf("handler of fd %d ran after its registration was replaced", i)
				return
			}
			batch = l.Stats().Waits
			other := 1 - i
			replaced = other
			if err := l.Unregister(fds[other]); err != nil {
				t.Fatal(err)
			}
			w := replaceFD(t, fds[other])
			if err := l.Register(fds[other], loop.Readable, newHandler); err != nil {
				t.Fatal(err)
			}
			write(t, w, "y")
			l.Unregister(fds[i])
		})
		if err := l.Register(fds[i], loop.Readable, h); err != nil {
			t.Fatal(err)
		}
	}
	run(t, l)
	if st := l.Stats(); st.MaxBatch < 2 {
		t.Fatalf("MaxBatch = %d: the two events never shared a batch", st.MaxBatch)
	}
	if newCalls != 1 {
		t.Errorf("new handler ran %d times, want 1", newCalls)
	}
}

// TestStaleEventDispatch is TestStaleEvent with a hand-built batch, so the
// order of the events is fixed.
func TestStaleEventDispatch(t *testing.T) {
	l := newLoop(t, loop.Options{})
	defer l.Close()
	a, _ := pipe(t)
	b, _ := pipe(t)
	var calls []string
	if err := l.Register(b, loop.Readable, loop.HandlerFunc(func(loop.Events) { calls = append(calls, "old b") })); err != nil {
		t.Fatal(err)
	}
	ha := loop.HandlerFunc(func(loop.Events) {
		calls = append(calls, "a")
		if err := l.Unregister(b); err != nil {
			t.Fatal(err)
		}
		replaceFD(t, b)
		if err := l.Register(b, loop.Readable, loop.HandlerFunc(func(loop.Events) { calls = append(calls, "new b") })); err != nil {
			t.Fatal(err)
		}
	})
	if err := l.Register(a, loop.Readable, ha); err != nil {
		t.Fatal(err)
	}
	ea, _ := l.EventFor(a, loop.Readable)
	eb, _ := l.EventFor(b, loop.Readable)
	l.Dispatch([]unix.EpollEvent{ea, eb})
	if len(calls) != 1 || calls[0] != "a" {
		t.Errorf("handlers ran %v, want [a]: the stale event for b was delivered", calls)
	}
	// A fresh event for the new registration is delivered.
	eb2, _ := l.EventFor(b, loop.Readable)
	if eb2.Fd != eb.Fd {
		t.Errorf("new registration in slot %d, old in %d: the test assumed slot reuse", eb2.Fd, eb.Fd)
	}
	l.Dispatch([]unix.EpollEvent{eb2})
	if len(calls) != 2 || calls[1] != "new b" {
		t.Errorf("handlers ran %v, want [a new b]", calls)
	}
	// An event for an unregistered slot, or out of range, is ignored.
	l.Unregister(b)
	l.Dispatch([]unix.EpollEvent{eb2, {Events: unix.EPOLLIN, Fd: 1000}})
	if len(calls) != 2 {
		t.Errorf("handlers ran %v after Unregister", calls)
	}
	l.Unregister(a)
}

func TestEventsString(t *testing.T) {
	for ev, want := range map[loop.Events]string{
		0:                                  "",
		loop.Readable:                      "in",
		loop.Readable | loop.Hangup:        "in|hup",
		loop.Writable | loop.EdgeTriggered: "out|et",
		loop.Readable | loop.Writable | loop.PeerClosed | loop.Hangup | loop.Error | loop.EdgeTriggered: "in|out|rdhup|hup|err|et",
	} {
		if got := ev.String(); got != want {
			t.Errorf("Events(%#x).String() = %q, want %q", uint32(ev), got, want)
		}
	}
}
