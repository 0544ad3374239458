package relay_test

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// sockPair returns a connected pair of stream sockets: ours (as an
// *os.File, for the test's side) and the fd the proxy gets.
func sockPair(t *testing.T) (*os.File, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fds[0]), "peer"), fds[1]
}

var asciiUpper = relay.TransformFunc(func(dst, src []byte) ([]byte, error) {
	for _, c := range src {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, nil
})

// TestProxyBothWays: bytes go both ways (one transformed), each direction
// half-closes on its own, OnDone runs once after both, and the owned
// sockets are closed.
func TestProxyBothWays(t *testing.T) {
	e := newEnv(t, relay.Options{})
	client, a := sockPair(t)
	backend, b := sockPair(t)
	defer client.Close()
	defer backend.Close()
	done := make(chan error, 2)
	e.do(func() {
		_, err := e.r.NewProxy(relay.ProxyConfig{
			A: relay.Endpoint{FD: a, Name: "client", Owned: true}, B: relay.Endpoint{FD: b, Name: "backend", Owned: true},
			AToB:   asciiUpper,
			OnDone: func(p *relay.Proxy) { done <- p.Err() },
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	req := bytes.Repeat([]byte("get me\x00\xff\n"), 50000)
	go func() { client.Write(req); unix.Shutdown(int(client.Fd()), unix.SHUT_WR) }()
	got, err := io.ReadAll(backend) // the client's half-close reaches the backend
	want, _ := asciiUpper(nil, req) // not bytes.ToUpper: it rewrites \xff
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("backend got %d bytes (%v), want %d upper-cased", len(got), err, len(want))
	}
	// The other direction still works after that half-close.
	backend.Write([]byte("reply \x00\xff"))
	unix.Shutdown(int(backend.Fd()), unix.SHUT_WR)
	got, err = io.ReadAll(client)
	if want := "reply \x00\xff"; err != nil || string(got) != want {
		t.Fatalf("client got %q (%v), want %q", got, err, want)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("proxy error: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnDone did not run")
	}
	e.do(func() {
		if !closed(a) || !closed(b) {
			t.Errorf("owned sockets open after OnDone")
		}
	})
	select {
	case <-done:
		t.Error("OnDone ran twice")
	default:
	}
}

// TestProxyPeerGone: when the backend goes away, the direction writing to
// it fails and the proxy closes the other at once: the client sees end of
// file though it never closed its side.
func TestProxyPeerGone(t *testing.T) {
	e := newEnv(t, relay.Options{})
	client, a := sockPair(t)
	backend, b := sockPair(t)
	defer client.Close()
	done := make(chan struct{})
	e.do(func() {
		_, err := e.r.NewProxy(relay.ProxyConfig{
			A: relay.Endpoint{FD: a, Owned: true}, B: relay.Endpoint{FD: b, Owned: true},
			OnDone: func(p *relay.Proxy) {
				if !p.AToB().Stats().SinkClosed {
					t.Errorf("client → backend: %+v, want SinkClosed", p.AToB().Stats())
				}
				close(done)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	backend.Close()
	client.Write([]byte("anyone there?"))
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(client); err != nil || len(got) != 0 {
		t.Fatalf("client read %q, %v; want end of file", got, err)
	}
	<-done
}
