package loop_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/leakcheck"
	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

func newLoop(t testing.TB, opts loop.Options) *loop.Loop {
	t.Helper()
	l, err := loop.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// run runs l on the calling goroutine and fails the test if it takes
// longer than a few seconds, which means a handler forgot to stop it.
func run(t *testing.T, l *loop.Loop) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Run(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("loop still running after 5s")
		}
		t.Fatalf("Run: %v", err)
	}
}

// pipe returns a new nonblocking pipe whose ends are closed when the test
// ends (unless testfd.CloseFD closed them first).
func pipe(t testing.TB) (r, w int) { return testfd.Pipe(t, true, true) }

func write(t testing.TB, fd int, s string) {
	t.Helper()
	if n, err := unix.Write(fd, []byte(s)); n != len(s) {
		t.Errorf("write %q to %d = %d, %v", s, fd, n, err)
	}
}

// countFDs is the number of open fds.
func countFDs(t *testing.T) int {
	t.Helper()
	fds, err := leakcheck.FDs()
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// child is a helper process started from the test binary.
type child struct {
	pid, pidfd int
	reaped     bool // set once the loop (or the test) has reaped it
}

// startChild starts the test binary as a helper in mode (see runChild) and
// returns it with a pidfd the caller owns. If the test ends with the child
// not reaped, it is killed and reaped then.
func startChild(t *testing.T, mode string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	devnull, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(devnull)
	// Under -race, a child exiting 0 would sleep for a second in the race
	// runtime's exit hook unless told not to.
	gorace := "GORACE=atexit_sleep_ms=0"
	var env []string
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, childEnv+"="):
		case strings.HasPrefix(kv, "GORACE="):
			gorace = kv + " atexit_sleep_ms=0"
		default:
			env = append(env, kv)
		}
	}
	c := &child{pidfd: -1}
	c.pid, err = syscall.ForkExec(exe, []string{exe, "-test.run=^$"}, &syscall.ProcAttr{
		Env:   append(env, gorace, childEnv+"="+mode),
		Files: []uintptr{uintptr(devnull), uintptr(devnull), 2},
		Sys:   &syscall.SysProcAttr{PidFD: &c.pidfd},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !c.reaped {
			unix.Kill(c.pid, unix.SIGKILL)
			c.wait(t)
		}
	})
	return c
}

// wait reaps c, blocking.
func (c *child) wait(t *testing.T) unix.WaitStatus {
	t.Helper()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(c.pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Errorf("wait4(%d): %v", c.pid, err)
		}
		c.reaped = true
		return ws
	}
}
