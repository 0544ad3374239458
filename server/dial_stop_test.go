package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/leakcheck"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

// unanswered returns the address of a listener whose accept queue is full,
// so a new connect stays in progress (the kernel drops its SYNs).
func unanswered(t *testing.T) server.Addr {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	a, err := server.ParseAddr(fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port))
	if err != nil {
		t.Fatal(err)
	}
	for range 4 { // backlog 0 still queues one or two
		c, err := net.DialTimeout("tcp", a.String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return a
}

// TestDialLoopStops: dials still in progress when the loop stops — one
// connecting, one whose failure was not delivered yet — each get done
// exactly once, and leave no socket; the connecting one gets an error
// wrapping os.ErrClosed. Dial after the stop is refused.
func TestDialLoopStops(t *testing.T) {
	a := unanswered(t)
	before, err := leakcheck.FDs()
	if err != nil {
		t.Fatal(err)
	}
	l, err := loop.New(loop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string][]error{}
	dl := server.NewDialer(l)
	dial := func(a server.Addr) {
		err := dl.Dial(a, 0, func(fd int, err error) {
			errs[a.String()] = append(errs[a.String()], err)
			if fd >= 0 {
				unix.Close(fd)
			}
		})
		if err != nil {
			t.Errorf("Dial before the stop: %v", err)
		}
	}
	bad := server.Addr{Network: "unix", Path: "/nonexistent/x"}
	l.Post(func() {
		dial(a) // stays in progress
		l.AfterFunc(50*time.Millisecond, func() {
			l.Stop()
			dial(bad) // fails at once, reported on a later turn
		})
	})
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := errs[a.String()]; len(got) != 1 || !errors.Is(got[0], os.ErrClosed) {
		t.Errorf("connecting dial: done got %v; want once, an error wrapping os.ErrClosed", got)
	}
	if got := errs[bad.String()]; len(got) != 1 || got[0] == nil {
		t.Errorf("failed dial: done got %v; want once, an error", got)
	}
	if err := leakcheck.Check(before, 0); err != nil {
		t.Error(err)
	}
	err = dl.Dial(a, 0, func(int, error) { t.Error("done ran after the stop") })
	if !errors.Is(err, os.ErrClosed) {
		t.Errorf("Dial after the loop stopped: %v; want ErrClosed", err)
	}
}

// TestDialerZero: a zero Dialer refuses to dial, with an error, instead of
// a nil dereference; done never runs.
func TestDialerZero(t *testing.T) {
	for _, dl := range []*server.Dialer{nil, {}} {
		err := dl.Dial(server.Addr{Network: "unix", Path: "/x"}, 0, func(int, error) { t.Error("done ran") })
		if err == nil {
			t.Errorf("Dial on %#v: nil error", dl)
		}
	}
}
