package main

import (
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/daemontest"
)

// TestMain runs main instead of the tests when the test binary is
// re-executed as the daemon, so the test needs no separately built binary.
func TestMain(m *testing.M) { daemontest.RunMain(m, "echod", main) }

func startEchod(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return daemontest.Start(t, "echod", "", nil, append([]string{"-listen", "127.0.0.1:0"}, args...)...)
}

func TestEchod(t *testing.T) {
	cmd, addr := startEchod(t, "-cmd", "tr a-z A-Z")
	for _, msg := range []string{"hello", strings.Repeat("pipeloop ", 100000)} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { io.WriteString(c, msg); c.(*net.TCPConn).CloseWrite() }()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != strings.ToUpper(msg) {
			t.Fatalf("got %d bytes (%v), want %d upper-cased", len(got), err, len(msg))
		}
	}
	// A connection open at SIGTERM is served to the end.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "late")
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	if string(got) != "LATE" {
		t.Errorf("open connection got %q after SIGTERM, want %q", got, "LATE")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("echod: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("echod did not exit after its last connection")
	}
}
