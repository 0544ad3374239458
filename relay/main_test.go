package relay_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/leakcheck"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// TestMain fails the package when its tests leave an fd open or a child
// unreaped.
func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }

// env is a loop running on its own goroutine with a relay on it.
type env struct {
	t   testing.TB
	l   *loop.Loop
	r   *relay.Relay
	ran chan error // Run's result
}

// newEnv starts a loop and a relay with opts. Cleanup stops the loop and
// waits for Run to return.
func newEnv(t testing.TB, opts relay.Options) *env {
	t.Helper()
	return newEnvOn(t, loop.Options{}, opts)
}

// newEnvOn is newEnv with a loop made with lopts.
func newEnvOn(t testing.TB, lopts loop.Options, opts relay.Options) *env {
	t.Helper()
	l, err := loop.New(lopts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(l, opts)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	e := &env{t: t, l: l, r: r, ran: make(chan error, 1)}
	go func() { e.ran <- l.Run(context.Background()) }()
	t.Cleanup(e.stop)
	return e
}

// stop closes every link still open, stops the loop and waits for it.
func (e *env) stop() {
	if e.ran == nil {
		return
	}
	e.l.Post(func() {
		if n := e.r.Links(); n > 0 {
			e.t.Errorf("%d links still open at the end of the test", n)
		}
	})
	e.l.Stop()
	select {
	case err := <-e.ran:
		if err != nil {
			e.t.Errorf("loop: %v", err)
		}
	case <-time.After(10 * time.Second):
		e.t.Errorf("loop did not stop")
	}
	e.ran = nil
}

// do runs f on the loop goroutine and waits for it.
func (e *env) do(f func()) {
	e.t.Helper()
	done := make(chan struct{})
	if err := e.l.Post(func() { defer close(done); f() }); err != nil {
		e.t.Fatalf("post: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		e.t.Fatal("loop did not run a posted function within 10s")
	}
}

// relayMask is the interest set the relay registers every pollable fd with.
const relayMask = loop.Readable | loop.Writable | loop.PeerClosed | loop.EdgeTriggered

// rearm re-evaluates fd's readiness: EPOLL_CTL_MOD queues an event when
// the fd is ready, which is the edge the kernel would send after a real
// EAGAIN once the fd became ready again. Loop goroutine only; a fd no
// longer registered is ignored.
func rearm(l *loop.Loop, fd int) {
	if l.Modify(fd, relayMask&^loop.PeerClosed) == nil {
		l.Modify(fd, relayMask)
	}
}

// closed reports whether fd is not open.
func closed(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == unix.EBADF
}
