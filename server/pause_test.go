package server_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

// TestPauseReasons: the daemon's own Listener().Pause and the server's
// MaxConns pause are two reasons, and accepting resumes only when neither
// holds: the daemon's Resume does not lift the cap, and a connection that
// ends below the cap does not undo the daemon's Pause. Whether the server
// accepts is read off a client known to wait in the backlog (the listening
// socket polls readable) across a full loop turn, not off a delay.
func TestPauseReasons(t *testing.T) {
	h := serve(t, server.Config{Stages: cat(), MaxConns: 1})
	var ln *server.Listener
	h.do(func() { ln = h.srv.Listener() })
	// accepted reads the count two loop turns later: a turn may run the
	// posted function before the listener's event of the same wake-up.
	accepted := func() (n uint64) { h.do(func() {}); h.do(func() { n = ln.Accepted() }); return n }

	c1 := dialT(t, h.addr)
	roundTrip(t, c1, "a") // served: the server is at its cap
	h.do(func() { ln.Pause(); ln.Resume() })
	c2 := dialT(t, h.addr) // waits in the backlog from here on
	if _, err := io.WriteString(c2, "b"); err != nil {
		t.Fatal(err)
	}
	waitBacklog(t, ln.FD())
	if n := accepted(); n != 1 {
		t.Fatalf("the daemon's Resume lifted the MaxConns pause: %d accepted, want 1", n)
	}

	h.do(func() { ln.Pause() }) // the daemon's own pause, for maintenance
	c1.(*net.TCPConn).CloseWrite()
	if _, err := io.ReadAll(c1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.ended()) == 1 })
	var paused bool
	h.do(func() { paused = ln.Paused() })
	if n := accepted(); !paused || n != 1 {
		t.Fatalf("after conn 1 ended below the cap: Paused() = %v, %d accepted; want the daemon's pause kept, 1", paused, n)
	}

	h.do(func() { ln.Resume() })
	c2.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(c2); string(got) != "b" || err != nil {
		t.Errorf("after Resume, client 2 got %q, %v; want %q", got, err, "b")
	}
}

func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

func roundTrip(t *testing.T, c net.Conn, s string) {
	t.Helper()
	buf := make([]byte, len(s))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != s {
		t.Fatalf("read %q, %v; want %q", buf, err, s)
	}
}

// waitBacklog waits until the listening socket fd has a connection queued:
// from then on, a loop watching it sees it readable in its next wake-up.
func waitBacklog(t *testing.T, fd int) {
	t.Helper()
	waitFor(t, func() bool {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(p, 0)
		return n == 1 && p[0].Revents&unix.POLLIN != 0
	})
}
