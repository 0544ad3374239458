package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/leakcheck"
	"golang.org/x/sys/unix"
)

// TestStopDuringDial: the proxy stops (its ctx ends) while a client's
// backend dial is still connecting. The dial's callback runs and closes
// the accepted client, so run, in this process, returns with no fd left —
// neither the client's socket nor the dial's — and the client sees the
// connection closed.
func TestStopDuringDial(t *testing.T) {
	backend, port := unansweredBackend(t)
	before, err := leakcheck.FDs()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "proxy")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- run(ctx, "unix:"+sock, backend) }()
	var c net.Conn
	waitFor(t, func() bool { c, err = net.Dial("unix", sock); return err == nil })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	waitFor(t, func() bool { return synSentTo(t, port) }) // the dial is connecting
	cancel()
	if err := <-ran; err != nil && err != context.Canceled {
		t.Errorf("run: %v", err)
	}
	if got, err := io.ReadAll(c); len(got) != 0 || err != nil {
		t.Errorf("client got %q, %v; want the connection closed", got, err)
	}
	c.Close()
	if err := leakcheck.Check(before, 5*time.Second); err != nil {
		t.Errorf("after run returned: %v", err)
	}
}

// unansweredBackend is a TCP listener whose accept queue is full, so a
// connect to it stays in progress (its SYNs are dropped).
func unansweredBackend(t *testing.T) (addr string, port int) {
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
	port = sa.(*unix.SockaddrInet4).Port
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	for range 4 { // backlog 0 still queues one or two
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr, port
}

// synSentTo reports whether a TCP socket is in SYN_SENT towards port
// (/proc/net/tcp: remote address hex IP:PORT, state 02).
func synSentTo(t *testing.T, port int) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[2], fmt.Sprintf(":%04X", port)) && f[3] == "02" {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
	}
}
