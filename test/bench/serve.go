package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Serve mode (issue 7): `pipeloop serve … cat` next to
// `socat TCP-LISTEN:…,fork EXEC:cat`, both starting cat per connection on
// loopback. Each cell starts a fresh server, measures one thing and stops
// it (SIGTERM, then SIGKILL to its process group) and reaps it, so the
// server's rusage (its own and its reaped children's) is the cell's CPU.

// Serve servers and what the cells measure.
const (
	ServePipeloop = "pipeloop"
	ServeSocat    = "socat"
	ServeRate     = "conn-rate" // short connections per second
	ServeBulk     = "bulk"      // one connection, MB/s echoed

	serveMsg = 64 // bytes each short connection sends and reads back
)

// ServeSample is one cell: one server, one measurement, one round.
type ServeSample struct {
	Server  string  `json:"server"`
	Kind    string  `json:"kind"` // conn-rate or bulk
	Round   int     `json:"round"`
	Conns   int     `json:"conns"`   // connections completed (bulk: 1)
	Bytes   int64   `json:"bytes"`   // bytes echoed back and checked
	Seconds float64 `json:"seconds"` // wall time of the measurement
	Rate    float64 `json:"rate"`    // conn-rate: connections/s; bulk: MB/s (10⁶ B/s) each way
	CPUSec  float64 `json:"server_cpu_s"`
	Err     string  `json:"error,omitempty"`
}

// serveRun is one serve cell.
type serveRun struct {
	server   string
	kind     string
	round    int
	clients  int           // conn-rate: concurrent clients
	duration time.Duration // conn-rate: how long clients start new connections
	bulk     int64         // bulk: bytes sent
	want     [32]byte      // bulk: SHA-256 of the bytes sent
	prog     string        // the server's executable
	timeout  time.Duration
}

func (r *serveRun) run(ctx context.Context) (s ServeSample) {
	s = ServeSample{Server: r.server, Kind: r.kind, Round: r.round}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	srv, err := startServer(ctx, r.server, r.prog)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	start := time.Now()
	if r.kind == ServeRate {
		s.Conns, err = connRate(ctx, srv.addr, r.clients, r.duration)
		s.Bytes = int64(s.Conns) * serveMsg
	} else {
		s.Conns, s.Bytes = 1, r.bulk
		err = bulkEcho(ctx, srv.addr, r.bulk, r.want)
	}
	s.Seconds = time.Since(start).Seconds()
	cpu, stopErr := srv.stop()
	s.CPUSec = cpu
	switch {
	case err != nil:
		s.Err = fmt.Sprintf("%v: %s", err, lastLines(srv.stderr.String(), 2))
	case stopErr != nil:
		s.Err = stopErr.Error()
	case r.kind == ServeRate:
		s.Rate = float64(s.Conns) / s.Seconds
	default:
		s.Rate = float64(s.Bytes) / 1e6 / s.Seconds
	}
	return s
}

// echoServer is a running server under measurement.
type echoServer struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returns
	stderr lockedBuffer
}

// startServer starts the named server on a free loopback port and waits
// until it accepts. socat cannot listen on port 0 and report the port, so
// the port is found by binding and closing; if another process takes it in
// between the server exits, and a new port is tried.
func startServer(ctx context.Context, name, prog string) (*echoServer, error) {
	var err error
	for range 3 {
		var port int
		if port, err = freePort(); err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		var argv []string
		switch name {
		case ServePipeloop:
			argv = []string{prog, "serve", "--listen", addr, "--log", "off", "cat"}
		case ServeSocat:
			// bind: loopback only; backlog: socat's default of 5 would drop
			// SYNs under 8 clients (pipeloop's default is 4096); -t: after
			// the client's half-close socat waits only 0.5 s for cat's
			// output by default, and drops the echo when cat is slower to
			// start than that on a loaded machine.
			argv = []string{prog, "-t", "5", fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,backlog=4096", port), "EXEC:cat"}
		default:
			return nil, fmt.Errorf("unknown server %q", name)
		}
		s := &echoServer{addr: addr, exited: make(chan struct{})}
		s.cmd = exec.Command(argv[0], argv[1:]...)
		s.cmd.Stderr = &s.stderr
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so stop reaches socat's children
		if err := s.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		go func() { s.cmd.Wait(); close(s.exited) }()
		if err = s.waitAccepting(ctx); err == nil {
			return s, nil
		}
		s.stop()
	}
	return nil, fmt.Errorf("start %s: %w", name, err)
}

// waitAccepting dials until a connection is accepted and served: a byte
// sent comes back through cat.
func (s *echoServer) waitAccepting(ctx context.Context) error {
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("exited early (%v): %s", s.cmd.ProcessState, lastLines(s.stderr.String(), 2))
		case <-ctx.Done():
			return fmt.Errorf("not accepting on %s: %w", s.addr, ctx.Err())
		default:
		}
		if err := echoShort(ctx, s.addr, []byte{'?'}, make([]byte, 2)); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop terminates the server, reaps it and returns its CPU time (its own
// and that of the children it reaped).
//
// It first waits (up to 2 s) for the server to reap the children of the
// connections just closed, so that their CPU time is in its rusage.
func (s *echoServer) stop() (cpuSec float64, err error) {
	pid := s.cmd.Process.Pid
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && hasChildren(pid); {
		time.Sleep(5 * time.Millisecond)
	}
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-s.exited
	}
	syscall.Kill(-pid, syscall.SIGKILL) // children left behind, if any
	ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, errors.New("no rusage")
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), nil
}

// hasChildren reports whether process pid has children, reaped or not
// (zombies count), per /proc/PID/task/*/children. It reports false when
// that cannot be read.
func hasChildren(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		if b, err := os.ReadFile(f); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return true
		}
	}
	return false
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// connRate runs clients that each, until d has passed, connect, send
// serveMsg bytes, half-close, read the echo, check it and close. It returns
// the connections completed; the caller times it, so connections still
// open at d count in the wall time too.
func connRate(ctx context.Context, addr string, clients int, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		total    int
		firstErr error
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte('a' + c%26)}, serveMsg)
			buf := make([]byte, serveMsg+1)
			n := 0
			var err error
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err = echoShort(ctx, addr, msg, buf); err != nil {
					break
				}
				n++
			}
			mu.Lock()
			total += n
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return total, firstErr
}

// echoShort sends msg over a new connection, half-closes and checks that
// exactly msg comes back before end of file; buf is scratch space, at
// least one byte longer than msg.
func echoShort(ctx context.Context, addr string, msg, buf []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	c := conn.(*net.TCPConn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := c.CloseWrite(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	n, err := io.ReadFull(c, buf)
	if err != io.ErrUnexpectedEOF && err != nil {
		if err == io.EOF || n > len(msg) {
			err = fmt.Errorf("got %d bytes back, want %d", n, len(msg))
		}
		return fmt.Errorf("read echo: %w", err)
	}
	if !bytes.Equal(buf[:n], msg) {
		return fmt.Errorf("echo differs: got %d bytes %q, want %d", n, buf[:min(n, 16)], len(msg))
	}
	return nil
}

// bulkEcho sends n bytes of pattern over one connection while reading the
// echo back, and checks its length and SHA-256 against want.
func bulkEcho(ctx context.Context, addr string, n int64, want [32]byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	c := conn.(*net.TCPConn)
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(c, patternReader(n), make([]byte, 256<<10))
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	h := sha256.New()
	got, err := io.CopyBuffer(h, c, make([]byte, 256<<10))
	if err != nil {
		c.Close() // unblocks the writer
		<-werr
		return fmt.Errorf("read echo after %d bytes: %w", got, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if got != n {
		return fmt.Errorf("got %d bytes back, want %d", got, n)
	}
	if [32]byte(h.Sum(nil)) != want {
		return fmt.Errorf("echoed bytes differ from those sent (SHA-256)")
	}
	return nil
}

// patternReader yields n bytes of a fixed pseudo-random pattern whose
// period (1 MiB + 7) does not divide the read sizes, so lost, repeated or
// reordered chunks change the hash.
func patternReader(n int64) io.Reader {
	const period = 1<<20 + 7
	block := make([]byte, period)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range block {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		block[i] = byte(x)
	}
	return io.LimitReader(&cycleReader{block: block}, n)
}

type cycleReader struct {
	block []byte
	off   int // next position in block
}

func (r *cycleReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], r.block[r.off:])
		n += m
		r.off = (r.off + m) % len(r.block)
	}
	return n, nil
}

// patternHash is the SHA-256 of patternReader(n).
func patternHash(n int64) [32]byte {
	h := sha256.New()
	io.Copy(h, patternReader(n))
	return [32]byte(h.Sum(nil))
}
