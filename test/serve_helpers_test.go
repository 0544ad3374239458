package test_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// served is a running `pipeloop serve` with its JSON log collected.
type served struct {
	t       *testing.T
	cmd     *exec.Cmd
	pid     int
	addr    string // from the "listening" line
	mu      sync.Mutex
	lines   []map[string]any
	raw     []string
	exited  chan struct{} // closed when the process has been waited for
	scanned chan struct{} // closed when stderr reached EOF
	code    int
}

// startServe runs `pipeloop serve --listen 127.0.0.1:0 --log json args...`
// and waits for it to listen. The server is killed at cleanup if still
// running, and the test fails if it left a child process behind.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	return startServeAs(t, []string{bin}, args...)
}

// startServeAs is startServe with the binary, and what runs it (such as
// setpriv), given: argv0[0] is executed with argv0[1:] before serve's.
func startServeAs(t *testing.T, argv0 []string, args ...string) *served {
	t.Helper()
	full := append([]string{"serve", "--log", "json"}, args...)
	if !hasListen(args) {
		full = append([]string{"serve", "--listen", "127.0.0.1:0", "--log", "json"}, args...)
	}
	cmd := exec.Command(argv0[0], append(argv0[1:], full...)...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	// Our own pipe rather than StderrPipe: Wait then returns when the
	// server exits, even if an orphaned grandchild keeps stderr open.
	stderr, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	s := &served{t: t, cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{}), scanned: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		defer close(s.scanned)
		defer stderr.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				m = nil
			}
			s.mu.Lock()
			s.raw = append(s.raw, line)
			if m != nil {
				s.lines = append(s.lines, m)
			}
			s.mu.Unlock()
			if m != nil && m["msg"] == "listening" {
				listening <- m["addr"].(string)
			}
		}
	}()
	go func() {
		cmd.Wait()
		s.code = cmd.ProcessState.ExitCode()
		close(s.exited)
	}()
	select {
	case s.addr = <-listening:
	case <-s.exited:
		s.drainLog()
		t.Fatalf("pipeloop serve exited with %d before listening:\n%s", s.code, s.log())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("pipeloop serve did not start listening in 20s")
	}
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			kids := children(s.pid)
			cmd.Process.Kill()
			<-s.exited
			for _, k := range kids {
				syscall.Kill(k, syscall.SIGKILL)
			}
		}
		s.drainLog()
		if t.Failed() {
			t.Logf("server log (last lines):\n%s", tail(s.log(), 40))
		}
	})
	return s
}

func hasListen(args []string) bool {
	for _, a := range args {
		if a == "--listen" || strings.HasPrefix(a, "--listen=") {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// drainLog waits briefly for the rest of stderr after the server exited
// (a stage's orphaned child may hold it open longer).
func (s *served) drainLog() {
	select {
	case <-s.scanned:
	case <-time.After(2 * time.Second):
	}
}

// log is everything the server wrote on stderr so far.
func (s *served) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.raw, "\n")
}

// events returns the log lines whose msg is msg.
func (s *served) events(msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, m := range s.lines {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitEvents waits until at least n lines with msg were logged.
func (s *served) waitEvents(msg string, n int, timeout time.Duration) []map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ev := s.events(msg)
		if len(ev) >= n {
			return ev
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d %q lines after %v, want %d", len(ev), msg, timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signal sends sig to the server and waits up to timeout for it to exit.
func (s *served) stop(sig syscall.Signal, timeout time.Duration) (int, time.Duration) {
	s.t.Helper()
	start := time.Now()
	s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(timeout):
		s.t.Fatalf("pipeloop serve did not exit within %v of %v", timeout, sig)
	}
	s.drainLog()
	return s.code, time.Since(start)
}

// fds counts the server's open file descriptors.
func (s *served) fds() int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid))
	return len(ents)
}

// threads counts the server's threads.
func (s *served) threads() int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", s.pid))
	return len(ents)
}

// threadIO is one thread's name and I/O counters.
type threadIO struct {
	comm         string
	rchar, wchar uint64
	utime, stime uint64 // clock ticks
}

// threadIOs reads /proc/PID/task/*/{comm,io,stat}.
func (s *served) threadIOs() []threadIO {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", s.pid))
	var out []threadIO
	for _, task := range tasks {
		var ti threadIO
		b, _ := os.ReadFile(task + "/comm")
		ti.comm = strings.TrimSpace(string(b))
		b, _ = os.ReadFile(task + "/io")
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ": ")
			n, _ := strconv.ParseUint(v, 10, 64)
			switch k {
			case "rchar":
				ti.rchar = n
			case "wchar":
				ti.wchar = n
			}
		}
		b, _ = os.ReadFile(task + "/stat")
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			f := strings.Fields(string(b)[i+1:])
			if len(f) > 13 {
				ti.utime, _ = strconv.ParseUint(f[11], 10, 64)
				ti.stime, _ = strconv.ParseUint(f[12], 10, 64)
			}
		}
		out = append(out, ti)
	}
	return out
}

// waitNoChildren waits until the server has no child process left.
func (s *served) waitNoChildren(timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for len(children(s.pid)) > 0 {
		if time.Now().After(deadline) {
			s.t.Fatalf("server still has children %v after %v", children(s.pid), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noZombies fails if any child of the server is a zombie.
func (s *served) noZombies() {
	s.t.Helper()
	for _, pid := range children(s.pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b)[i+1:], " Z") {
			s.t.Errorf("zombie child %d", pid)
		}
	}
}

// dial connects to the server.
func (s *served) dial() *net.TCPConn {
	s.t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// echoStream is a reproducible pseudo-random byte stream: the same seed gives
// the same bytes, so a client can check an echo without keeping a copy.
type echoStream struct {
	rng  *rand.ChaCha8
	left int64
}

func newStream(seed uint64, n int64) *echoStream {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &echoStream{rng: rand.NewChaCha8(s), left: n}
}

func (s *echoStream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	s.rng.Read(p)
	s.left -= int64(len(p))
	return len(p), nil
}

// echoCheck sends n bytes of stream seed, half-closes, and checks that the
// same bytes come back, then EOF.
func echoCheck(c *net.TCPConn, seed uint64, n int64) error {
	werr := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, newStream(seed, n))
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	want := newStream(seed, n)
	buf := make([]byte, 64<<10)
	exp := make([]byte, 64<<10)
	var got int64
	for {
		m, err := c.Read(buf)
		if m > 0 {
			if got+int64(m) > n {
				return fmt.Errorf("more than the %d bytes sent came back", n)
			}
			want.Read(exp[:m])
			if string(buf[:m]) != string(exp[:m]) {
				return fmt.Errorf("bytes differ in [%d, %d)", got, got+int64(m))
			}
			got += int64(m)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("after %d bytes: %w", got, err)
		}
	}
	if got != n {
		return fmt.Errorf("got %d bytes back, want %d", got, n)
	}
	return <-werr
}
