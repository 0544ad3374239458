package loop_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// watch runs a loop watching c until it exits and returns its state.
// signal, when not 0, is sent through Process.Signal once the loop runs.
func watch(t *testing.T, c *child, pidfd int, signal unix.Signal) (*loop.ProcessState, *loop.Process, loop.Stats) {
	t.Helper()
	l := newLoop(t, loop.Options{})
	var got *loop.ProcessState
	var p *loop.Process
	var st loop.Stats
	p, err := l.WatchProcess(c.pid, pidfd, func(s *loop.ProcessState) {
		c.reaped = true
		got = s
		if s2, ok := p.Exited(); !ok || s2 != s {
			t.Errorf("Exited() = %v, %v inside onExit", s2, ok)
		}
		if n := l.Registered(); n != 1 {
			t.Errorf("Registered() = %d in onExit, want 1: the pidfd is still registered", n)
		}
		st = l.Stats()
		l.Stop()
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Registered(); got != 2 {
		t.Errorf("Registered() = %d, want 2 (eventfd, pidfd)", got)
	}
	if signal != 0 {
		l.Post(func() {
			if err := p.Signal(signal); err != nil {
				t.Errorf("Signal(%v) = %v", signal, err)
			}
		})
	}
	run(t, l)
	if got == nil {
		t.Fatal("onExit never ran")
	}
	return got, p, st
}

func TestWatchProcess(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     string
		pidfd    bool // pass the pidfd from clone; else let WatchProcess open one
		signal   unix.Signal
		exitCode int
	}{
		{"exit 3", "exit3", true, 0, 3},
		{"exit 3 pidfd_open", "exit3", false, 0, 3},
		{"SIGKILL", "sleep", true, unix.SIGKILL, 128 + 9},
		{"SIGTERM", "sleep", false, unix.SIGTERM, 128 + 15},
		{"cpu", "spin", true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c := startChild(t, tc.mode)
			pidfd := c.pidfd
			if !tc.pidfd {
				testfd.CloseFD(t, &c.pidfd)
				pidfd = -1
			}
			st, p, stats := watch(t, c, pidfd, tc.signal)
			if st.Pid != c.pid || p.Pid != c.pid {
				t.Errorf("Pid = %d, Process.Pid = %d, want %d", st.Pid, p.Pid, c.pid)
			}
			if got := st.ExitCode(); got != tc.exitCode {
				t.Errorf("ExitCode() = %d, want %d (status %#x)", got, tc.exitCode, st.Status)
			}
			if tc.signal != 0 {
				if !st.Status.Signaled() || st.Status.Signal() != tc.signal {
					t.Errorf("status %#x, want killed by %v", st.Status, tc.signal)
				}
			} else if !st.Status.Exited() || st.Status.Signaled() {
				t.Errorf("status %#x, want a normal exit", st.Status)
			}
			if st.Rusage.Maxrss <= 0 {
				t.Errorf("Rusage.Maxrss = %d: rusage not filled", st.Rusage.Maxrss)
			}
			if tc.mode == "spin" {
				cpu := time.Duration(st.Rusage.Utime.Nano() + st.Rusage.Stime.Nano())
				// The child spun until it saw 30ms; allow for the kernel's
				// tick-based accounting of the final stretch.
				if cpu < 15*time.Millisecond {
					t.Errorf("child used %v of CPU by wait4's rusage, want about 30ms", cpu)
				}
			}
			if st.At.Before(start) || time.Since(st.At) > 10*time.Second {
				t.Errorf("At = %v, not between start and now", st.At)
			}
			if stats.Reaped != 1 {
				t.Errorf("Stats().Reaped = %d, want 1", stats.Reaped)
			}
			if err := p.Signal(unix.SIGKILL); err != nil {
				t.Errorf("Signal after exit = %v, want nil", err)
			}
		})
	}
}

func TestWatchProcessErrors(t *testing.T) {
	t.Run("no such process", func(t *testing.T) {
		l := newLoop(t, loop.Options{})
		defer l.Close()
		// The pid of a child already reaped is free; pid_max is at most 2^22.
		_, err := l.WatchProcess(1<<22+1, -1, nil)
		if !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.EINVAL) {
			t.Errorf("WatchProcess(no such pid) = %v, want ESRCH or EINVAL", err)
		}
		if got := l.Registered(); got != 1 {
			t.Errorf("Registered() = %d after a failed watch", got)
		}
	})
	t.Run("closed loop", func(t *testing.T) {
		l := newLoop(t, loop.Options{})
		l.Close()
		c := startChild(t, "sleep")
		before := countFDs(t)
		p, err := l.WatchProcess(c.pid, c.pidfd, nil)
		if !errors.Is(err, loop.ErrClosed) || p != nil {
			t.Errorf("WatchProcess on a closed loop = %v, %v; want nil, ErrClosed", p, err)
		}
		if got := countFDs(t); got != before-1 {
			t.Errorf("%d fds open, want %d: the pidfd handed over was not closed", got, before-1)
		}
	})
}

// TestReap: a caller that knows the child has exited (waitid with
// WNOWAIT, as relay's Close does) has onExit run at once by Reap, with the
// real status; Reap again does nothing.
func TestReap(t *testing.T) {
	l := newLoop(t, loop.Options{})
	c := startChild(t, "exit3")
	calls := 0
	var got *loop.ProcessState
	var p *loop.Process
	done := make(chan struct{})
	l.Post(func() {
		defer close(done)
		var err error
		p, err = l.WatchProcess(c.pid, c.pidfd, func(s *loop.ProcessState) { calls++; got = s })
		if err != nil {
			t.Error(err)
			return
		}
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, c.pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		p.Reap()
		c.reaped = calls == 1
		p.Reap()
		l.Stop()
	})
	run(t, l)
	<-done
	if calls != 1 || got == nil || got.ExitCode() != 3 {
		t.Fatalf("onExit ran %d times, state %+v; want once, exit 3", calls, got)
	}
}
