package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/daemontest"
)

// TestMain runs main instead of the tests when the test binary is
// re-executed as the daemon, so the test needs no separately built binary.
func TestMain(m *testing.M) { daemontest.RunMain(m, "gzipd", main) }

func startGzipd(t *testing.T, bin string) (*exec.Cmd, string) {
	t.Helper()
	return daemontest.Start(t, "gzipd", bin, nil, "-listen", "127.0.0.1:0")
}

// TestGzipd: concurrent clients each get their own bytes back, gzipped
// (checked byte-exact after gunzip), and SIGTERM stops the daemon.
func TestGzipd(t *testing.T) {
	for _, bin := range []string{"", daemontest.GoroutineVersion(t)} {
		t.Run(daemontest.Impl(bin), func(t *testing.T) {
			cmd, addr := startGzipd(t, bin)
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					msg := make([]byte, 1<<i*1000)
					rand.NewChaCha8([32]byte{byte(i)}).Read(msg[:len(msg)/2]) // half random, half zeros
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(20 * time.Second))
					go func() { c.Write(msg); c.(*net.TCPConn).CloseWrite() }()
					zr, err := gzip.NewReader(c)
					if err != nil {
						t.Errorf("client %d: %v", i, err)
						return
					}
					got, err := io.ReadAll(zr)
					if err != nil || !bytes.Equal(got, msg) {
						t.Errorf("client %d: got %d bytes (%v), want %d, equal", i, len(got), err, len(msg))
					}
				})
			}
			wg.Wait()
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("gzipd after SIGTERM: %v", err)
			}
		})
	}
}
