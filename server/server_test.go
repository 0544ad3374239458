package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
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
	l, err := loop.New(loop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(l, relay.Options{})
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
