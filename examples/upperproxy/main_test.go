package main

import (
	"bufio"
	"bytes"
	"cmp"
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

// TestMain runs main instead of the tests when re-executed by startProxy,
// so the test needs no separately built binary.
func TestMain(m *testing.M) {
	if os.Getenv("UPPERPROXY_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func startProxy(t *testing.T, bin string, backend string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(cmp.Or(bin, os.Args[0]), "-listen", "127.0.0.1:0", "-backend", backend)
	cmd.Env = append(os.Environ(), "UPPERPROXY_TEST_MAIN=1", "GORACE=atexit_sleep_ms=0")
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
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "upperproxy: listening on ")
	if err != nil || !ok {
		t.Fatalf("upperproxy said %q, %v", line, err)
	}
	return cmd, addr
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
	for _, bin := range []string{"", goroutineVersion(t)} {
		t.Run(implName(bin), func(t *testing.T) {
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
