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
	"github.com/pipeloop/pipeloop/internal/testfd"
)

// TestStopDuringDial: the proxy stops (its ctx ends) while a client's
// backend dial is still connecting. The dial's callback runs and closes
// the accepted client, so run, in this process, returns with no fd left —
// neither the client's socket nor the dial's — and the client sees the
// connection closed.
func TestStopDuringDial(t *testing.T) {
	backend, port := testfd.UnansweredTCP(t)
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
