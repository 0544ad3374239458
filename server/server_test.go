package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

// harness runs a Server on its own loop for one test.
type harness struct {
	l    *loop.Loop
	srv  *server.Server
	addr string
	done chan error
	mu   sync.Mutex
	ends []*server.Conn
}

// serve starts a server for stages on 127.0.0.1:0; it stops at cleanup.
func serve(t *testing.T, cfg server.Config) *harness {
	t.Helper()
	return serveWith(t, relay.Options{}, cfg)
}

// serveWith is serve on a relay with opts.
func serveWith(t *testing.T, opts relay.Options, cfg server.Config) *harness {
	t.Helper()
	l, err := loop.New(loop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := server.Listen("127.0.0.1:0", server.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{l: l, addr: ln.Addr().String(), done: make(chan error, 1)}
	onEnd := cfg.OnEnd
	cfg.OnEnd = func(c *server.Conn) {
		h.mu.Lock()
		h.ends = append(h.ends, c)
		h.mu.Unlock()
		if onEnd != nil {
			onEnd(c)
		}
	}
	if h.srv, err = server.New(r, ln, cfg); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- l.Run(context.Background()) }()
	t.Cleanup(func() {
		l.Stop()
		if err := <-h.done; err != nil {
			t.Errorf("loop: %v", err)
		}
	})
	return h
}

// do runs f on the loop goroutine and waits for it.
func (h *harness) do(f func()) {
	ch := make(chan struct{})
	h.l.Post(func() { f(); close(ch) })
	<-ch
}

func (h *harness) ended() []*server.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*server.Conn(nil), h.ends...)
}

func cat() []relay.Stage { return []relay.Stage{{Args: []string{"cat"}}} }

// echo sends payload, half-closes, and reads everything back.
func echo(t *testing.T, addr string, payload []byte) []byte {
	t.Helper()
	got, err := echoErr(addr, payload)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// echoErr is echo for goroutines other than the test's.
func echoErr(addr string, payload []byte) ([]byte, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		return got, err
	}
	return got, <-errc
}

func TestEcho(t *testing.T) {
	h := serve(t, server.Config{Stages: cat()})
	payload := make([]byte, 3<<20)
	rand.Read(payload)
	if got := echo(t, h.addr, payload); !bytes.Equal(got, payload) {
		t.Fatalf("got %d bytes back, want the %d sent", len(got), len(payload))
	}
	waitFor(t, func() bool { return len(h.ended()) == 1 })
	c := h.ended()[0]
	if c.Reason != server.ReasonEOF || c.ExitCode() != 0 {
		t.Errorf("reason %s, exit %d", c.Reason, c.ExitCode())
	}
	if in, out := c.InStats().Bytes, c.OutStats().Bytes; in != uint64(len(payload)) || out != in {
		t.Errorf("bytes in %d out %d, want %d each", in, out, len(payload))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPrepareTransform: Prepare can put an in-process transform on a
// connection's links; here the client's bytes are upper-cased before cat.
func TestPrepareTransform(t *testing.T) {
	h := serve(t, server.Config{Stages: cat(), Prepare: func(c *server.Conn, cfg *relay.PipelineConfig) error {
		cfg.InTransform = relay.TransformFunc(func(dst, src []byte) ([]byte, error) {
			return append(dst, bytes.ToUpper(src)...), nil
		})
		return nil
	}})
	payload := bytes.Repeat([]byte("abc"), 1<<20)
	if got := echo(t, h.addr, payload); !bytes.Equal(got, bytes.ToUpper(payload)) {
		t.Fatalf("got %d bytes, not the %d upper-cased", len(got), len(payload))
	}
}

// TestSlowReaderAfterStageExit: the stage has written everything and
// exited, its last output waits in the pipe behind a full socket, and the
// client pauses: the link to the client must wait for it, not be swept
// away as a link nobody will ever feed.
func TestSlowReaderAfterStageExit(t *testing.T) {
	const size, tail = 1 << 20, 100 << 10
	h := serve(t, server.Config{
		Stages: []relay.Stage{{Args: []string{"head", "-c", fmt.Sprint(size), "/dev/zero"}}},
		Prepare: func(c *server.Conn, _ *relay.PipelineConfig) error {
			// Fixed small buffers, so the pipe holds the rest.
			return unix.SetsockoptInt(c.FD(), unix.SOL_SOCKET, unix.SO_SNDBUF, 16<<10)
		},
	})
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10) })
		return nil
	}}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	n, err := io.CopyN(io.Discard, c, size-tail)
	if err != nil {
		t.Fatalf("after %d bytes: %v", n, err)
	}
	time.Sleep(500 * time.Millisecond) // head has exited; its output waits
	rest, err := io.Copy(io.Discard, c)
	if got := n + rest; got != size || err != nil {
		t.Fatalf("got %d bytes (%v), want %d", got, err, size)
	}
}

// TestIdleClientNotReading: output waits for a client that never reads:
// the idle timeout still ends the connection, whether the stage is still
// writing (it is terminated) or has exited (the output is dropped).
func TestIdleClientNotReading(t *testing.T) {
	for _, tc := range []struct {
		name, size string
		exit       int
	}{
		{"stage writing", "8M", 143},
		{"stage exited", "100K", 0}, // fits in the pipe and the socket buffers
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := serve(t, server.Config{
				Stages:      []relay.Stage{{Args: []string{"head", "-c", tc.size, "/dev/zero"}}},
				IdleTimeout: 200 * time.Millisecond,
				KillGrace:   100 * time.Millisecond,
				Prepare: func(c *server.Conn, _ *relay.PipelineConfig) error {
					return unix.SetsockoptInt(c.FD(), unix.SOL_SOCKET, unix.SO_SNDBUF, 16<<10)
				},
			})
			d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10) })
				return nil
			}}
			c, err := d.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			waitFor(t, func() bool { return len(h.ended()) == 1 })
			end := h.ended()[0]
			t.Logf("ended after %v: %s, exit %d, %d bytes out", time.Since(start).Round(time.Millisecond),
				end.Reason, end.ExitCode(), end.OutStats().Bytes)
			if end.Reason != server.ReasonIdle || end.ExitCode() != tc.exit {
				t.Errorf("reason %s, exit %d; want idle, %d", end.Reason, end.ExitCode(), tc.exit)
			}
		})
	}
}
