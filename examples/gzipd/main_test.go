package main

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain runs main instead of the tests when re-executed by startGzipd,
// so the test needs no separately built binary.
func TestMain(m *testing.M) {
	if os.Getenv("GZIPD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func startGzipd(t *testing.T, bin string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(cmp.Or(bin, os.Args[0]), "-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GZIPD_TEST_MAIN=1", "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "gzipd: listening on ")
	if err != nil || !ok {
		t.Fatalf("gzipd said %q, %v", line, err)
	}
	return cmd, addr
}

// TestGzipd: concurrent clients each get their own bytes back, gzipped
// (checked byte-exact after gunzip), and SIGTERM stops the daemon.
func TestGzipd(t *testing.T) {
	for _, bin := range []string{"", goroutineVersion(t)} {
		t.Run(implName(bin), func(t *testing.T) {
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

// goroutineVersion builds goroutines/, the same daemon written with
// goroutines, so that the same test drives it: the comparison in the
// README is between two daemons that both work.
func goroutineVersion(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "goroutines")
	if out, err := exec.Command("go", "build", "-o", bin, "./goroutines").CombinedOutput(); err != nil {
		t.Fatalf("build goroutines: %v\n%s", err, out)
	}
	return bin
}

// implName names a subtest: the daemon under test is pipeloop's (this
// test binary, re-executed) or the goroutine version.
func implName(bin string) string {
	if bin == "" {
		return "pipeloop"
	}
	return "goroutines"
}
