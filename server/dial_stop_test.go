package server_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/leakcheck"
	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

// unanswered is testfd.UnansweredTCP's address as a server.Addr.
func unanswered(t *testing.T) server.Addr {
	t.Helper()
	addr, _ := testfd.UnansweredTCP(t)
	a, err := server.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
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
