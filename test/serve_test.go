package test_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestServeEchoConcurrent: 1,000 clients at once, each sending its own
// 1 MiB of random bytes through `cat` and getting them back byte-exact,
// served by one loop thread: the server's thread count stays that of an
// idle Go program, the loop thread does the work, and every stage is
// reaped and every fd closed afterwards.
func TestServeEchoConcurrent(t *testing.T) {
	conns, size := 1000, int64(1<<20)
	if testing.Short() {
		conns = 50
	}
	// Each connection costs the server a socket, two pipe ends and a
	// pidfd, and this process a socket: stay within RLIMIT_NOFILE (both
	// raise their soft limit to the hard one).
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Max < uint64(5*conns+200) {
		conns = int(rl.Max-200) / 5
		t.Logf("RLIMIT_NOFILE hard limit %d: %d connections", rl.Max, conns)
	}
	s := startServe(t, "cat")
	baseFDs, baseThreads := s.fds(), s.threads()

	var maxThreads atomic.Int64
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(s.threads()); n > maxThreads.Load() {
				maxThreads.Store(n)
			}
			select {
			case <-sampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", s.addr, 30*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(90 * time.Second))
			if err := echoCheck(c.(*net.TCPConn), uint64(i)+1, size); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	close(sampling)
	<-sampled
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d clients failed", failed, conns)
	}
	total := float64(int64(conns)*size) / (1 << 20)
	t.Logf("%d connections × %d KiB echoed in %v (%.0f MiB/s each way)", conns, size>>10, wall.Round(time.Millisecond), total/wall.Seconds())

	ends := s.waitEvents("conn end", conns, 30*time.Second)
	for _, e := range ends {
		if e["reason"] != "eof" || e["exit"] != 0.0 || e["bytes_in"] != float64(size) || e["bytes_out"] != float64(size) {
			t.Fatalf("conn end line %v, want reason eof, exit 0 and %d bytes each way", e, size)
		}
	}
	s.waitNoChildren(10 * time.Second)
	if got := s.fds(); got != baseFDs {
		t.Errorf("server has %d fds open after all connections ended, %d before", got, baseFDs)
	}

	// One loop thread: the Go runtime's few threads, not one per
	// connection, and the loop thread did the system-call work.
	mt := maxThreads.Load()
	t.Logf("threads: %d idle, at most %d while serving %d connections", baseThreads, mt, conns)
	if mt > int64(max(16, 8+2*runtime.NumCPU())) {
		t.Errorf("server ran %d threads serving %d connections; want a bounded handful", mt, conns)
	}
	var loopSys, allSys uint64
	names := map[string]int{}
	for _, ti := range s.threadIOs() {
		names[ti.comm]++
		allSys += ti.stime
		if ti.comm == "pipeloop-loop" {
			loopSys = ti.stime
		}
	}
	if names["pipeloop-loop"] != 1 {
		t.Fatalf("threads %v: want exactly one pipeloop-loop", names)
	}
	t.Logf("loop thread: %d of %d ticks of system time", loopSys, allSys)
	if loopSys*2 < allSys {
		t.Errorf("loop thread spent %d of the server's %d ticks in the kernel; want most", loopSys, allSys)
	}
}

// TestServeIOOnLoopThread: in copy mode every read and write of client
// and stage data is counted by the kernel per thread (rchar, wchar):
// all of it must be on the loop thread. vmsplice is not counted in wchar,
// so lending pages to the stages' pipes is off here.
func TestServeIOOnLoopThread(t *testing.T) {
	s := startServe(t, "--mode", "copy", "--vmsplice=false", "cat")
	const conns, size = 50, 256 << 10
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := s.dial()
			defer c.Close()
			if err := echoCheck(c, uint64(i)+100, size); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var loopBytes, otherBytes uint64
	for _, ti := range s.threadIOs() {
		if ti.comm == "pipeloop-loop" {
			loopBytes += ti.rchar + ti.wchar
		} else {
			otherBytes += ti.rchar + ti.wchar
		}
	}
	t.Logf("bytes read+written: loop thread %d, other threads %d", loopBytes, otherBytes)
	if want := uint64(4 * conns * size); loopBytes < want {
		t.Errorf("loop thread moved %d bytes, want at least %d", loopBytes, want)
	}
	if otherBytes > 1<<20 {
		t.Errorf("other threads moved %d bytes; all relaying belongs on the loop thread", otherBytes)
	}
}

// TestServeHalfClose: each direction ends on its own.
func TestServeHalfClose(t *testing.T) {
	t.Run("client SHUT_WR gives stage 1 EOF", func(t *testing.T) {
		s := startServe(t, "--shell", "cat; echo stage-saw-eof")
		c := s.dial()
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("hello\n"))
		c.CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if want := "hello\nstage-saw-eof\n"; string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
	t.Run("stage N EOF becomes SHUT_WR", func(t *testing.T) {
		// The stage closes its stdout first and goes on reading: the
		// client sees EOF yet can still send, and the stage still gets it.
		s := startServe(t, "--shell", `echo bye; exec >&-; n=$(wc -c); test "$n" -eq 5`)
		c := s.dial()
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "bye\n" {
			t.Fatalf("got %q, %v; want \"bye\\n\" then EOF", got, err)
		}
		if _, err := c.Write([]byte("12345")); err != nil {
			t.Fatalf("write after the server's EOF: %v", err)
		}
		c.CloseWrite()
		end := s.waitEvents("conn end", 1, 10*time.Second)[0]
		if end["exit"] != 0.0 || end["bytes_in"] != 5.0 || end["reason"] != "eof" {
			t.Fatalf("conn end %v: want exit 0 after reading the 5 bytes sent after EOF", end)
		}
	})
}

// TestServeStageExitsEarly: a stage that leaves before reading all its
// input: the client gets its output and EOF, the connection ends, nothing
// is left behind.
func TestServeStageExitsEarly(t *testing.T) {
	s := startServe(t, "head -c 100")
	baseFDs := s.fds()
	c := s.dial()
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go io.Copy(c, newStream(7, 8<<20)) // fails with EPIPE/ECONNRESET at some point
	got, err := io.ReadAll(c)
	want, _ := io.ReadAll(io.LimitReader(newStream(7, 8<<20), 100))
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes (%v), want the first 100 sent", len(got), err)
	}
	end := s.waitEvents("conn end", 1, 10*time.Second)[0]
	if end["exit"] != 0.0 || end["bytes_out"] != 100.0 {
		t.Errorf("conn end %v: want exit 0 and 100 bytes out", end)
	}
	s.waitNoChildren(5 * time.Second)
	if got := s.fds(); got != baseFDs {
		t.Errorf("%d fds open after the connection, %d before", got, baseFDs)
	}
}

// TestServeUnixSocket: unix:/path works, and the file goes away at exit.
func TestServeUnixSocket(t *testing.T) {
	path := t.TempDir() + "/s.sock"
	s := startServe(t, "--listen", "unix:"+path, "cat")
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("over unix\n"))
	c.(*net.UnixConn).CloseWrite()
	got, _ := io.ReadAll(c)
	if string(got) != "over unix\n" {
		t.Fatalf("got %q", got)
	}
	if code, _ := s.stop(syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("socket file left behind")
	}
}

// TestServeMetrics: --metrics serves the Prometheus text format.
func TestServeMetrics(t *testing.T) {
	s := startServe(t, "--metrics", "127.0.0.1:0", "cat")
	m := s.waitEvents("metrics", 1, 5*time.Second)[0]
	for i := range 3 {
		c := s.dial()
		if err := echoCheck(c, uint64(i), 1000); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	s.waitEvents("conn end", 3, 5*time.Second)
	resp, err := http.Get("http://" + m["addr"].(string) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"pipeloop_serve_connections_total 3",
		"pipeloop_serve_connections_open 0",
		`pipeloop_serve_bytes_total{direction="in"} 3000`,
		`pipeloop_serve_bytes_total{direction="out"} 3000`,
		`pipeloop_serve_stage_exits_total{stage="1",status="0"} 3`,
		`pipeloop_serve_connections_closed_total{reason="eof"} 3`,
		`pipeloop_serve_stall_seconds_total{direction="out",wait="full"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}

// TestServeUsage: bad invocations are usage errors.
func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "cat"},
		{"serve", "--listen", "127.0.0.1:0"},
		{"serve", "--listen", "nonsense", "cat"},
		{"serve", "--listen", "127.0.0.1:0", "--log", "xml", "cat"},
	} {
		res := run(t, runOpts{}, args...)
		if res.code != 2 && !(args[2] == "nonsense" && res.code == 1) {
			t.Errorf("%q: exit %d, want 2; stderr: %s", args, res.code, res.stderr)
		}
	}
	res := run(t, runOpts{}, "serve", "--listen", "127.0.0.1:0", "no-such-command-xyz")
	if res.code != 127 {
		t.Errorf("unknown stage command: exit %d, want 127; stderr %s", res.code, res.stderr)
	}
}
