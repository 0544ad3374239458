package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/daemontest"
)

// TestMain runs main instead of the tests when the test binary is
// re-executed as the daemon, so the test needs no separately built binary.
func TestMain(m *testing.M) { daemontest.RunMain(m, "upperproxy", main) }

func startProxy(t *testing.T, bin string, backend string) (*exec.Cmd, string) {
	t.Helper()
	return daemontest.Start(t, "upperproxy", bin, nil, "-listen", "127.0.0.1:0", "-backend", backend)
}

// echoBackend echoes each connection back, half-closing after the echo.
func echoBackend(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.(*net.TCPConn).CloseWrite(); io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func upperASCII(b []byte) []byte {
	out, _ := upper(nil, b)
	return out
}

// TestUpperProxy: concurrent clients get their bytes back through the
// echo backend, upper-cased byte-exact (binary bytes intact); a client of
// a backend that is gone is closed; SIGTERM stops the proxy.
func TestUpperProxy(t *testing.T) {
	for _, bin := range []string{"", daemontest.GoroutineVersion(t)} {
		t.Run(daemontest.Impl(bin), func(t *testing.T) {
			cmd, addr := startProxy(t, bin, echoBackend(t))
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					msg := make([]byte, 1<<i*1000)
					rand.NewChaCha8([32]byte{byte(i)}).Read(msg)
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(20 * time.Second))
					go func() { c.Write(msg); c.(*net.TCPConn).CloseWrite() }()
					got, err := io.ReadAll(c)
					if want := upperASCII(msg); err != nil || !bytes.Equal(got, want) {
						t.Errorf("client %d: got %d bytes (%v), want %d upper-cased", i, len(got), err, len(want))
					}
				})
			}
			wg.Wait()
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("upperproxy after SIGTERM: %v", err)
			}
		})
	}
}

// TestUpperProxyNoBackend: a refused dial closes the client's connection.
func TestUpperProxyNoBackend(t *testing.T) {
	tmp, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := tmp.Addr().String()
	tmp.Close()
	_, addr := startProxy(t, "", gone)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(c); len(got) != 0 || (err != nil && !isReset(err)) {
		t.Errorf("got %q, %v; want the connection closed", got, err)
	}
}

func isReset(err error) bool { return strings.Contains(err.Error(), "reset") }
