package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

// TestDial: a nonblocking connect completes on the loop and hands over a
// connected socket; a refused one reports ECONNREFUSED and leaves no fd.
func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "hello")
			c.Close()
		}
	}()
	good, err := server.ParseAddr(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// A port nobody listens on: take one, then free it.
	tmp, _ := net.Listen("tcp", "127.0.0.1:0")
	refused, _ := server.ParseAddr(tmp.Addr().String())
	tmp.Close()

	l, err := loop.New(loop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		fd  int
		err error
	}
	got := make(chan outcome, 2)
	dl := server.NewDialer(l)
	l.Post(func() {
		for _, a := range []server.Addr{good, refused} {
			if err := dl.Dial(a, 5*time.Second, func(fd int, err error) { got <- outcome{fd, err} }); err != nil {
				t.Error(err)
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- l.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	connected := 0
	defer func() {
		if connected != 1 {
			t.Errorf("%d dials connected, want 1", connected)
		}
	}()
	for range 2 {
		var o outcome
		select {
		case o = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("Dial did not call back")
		}
		if o.err != nil {
			if !errors.Is(o.err, unix.ECONNREFUSED) || o.fd != -1 {
				t.Errorf("refused dial: fd %d, %v; want -1, ECONNREFUSED", o.fd, o.err)
			}
			continue
		}
		connected++
		buf := make([]byte, 16)
		var n int
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if n, err = unix.Read(o.fd, buf); err != unix.EAGAIN {
				break // nonblocking, as promised
			}
		}
		unix.Close(o.fd)
		if got, want := string(buf[:max(n, 0)]), "hello"; got != want {
			t.Errorf("read %q (%v), want %q", got, err, want)
		}
	}
}

// TestDialTimeout: a connect the peer never answers (its accept queue is
// full, so the kernel drops our SYNs) ends with ETIMEDOUT after the
// timeout, and leaves no fd.
func TestDialTimeout(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil { // never accepted: the queue fills
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	a, _ := server.ParseAddr(fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port))
	var fill []net.Conn
	defer func() {
		for _, c := range fill {
			c.Close()
		}
	}()
	for range 4 { // backlog 0 still queues one or two; the rest time out here
		c, err := net.DialTimeout("tcp", a.String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		fill = append(fill, c)
	}
	l, err := loop.New(loop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	start := time.Now()
	dl := server.NewDialer(l)
	l.Post(func() {
		if err := dl.Dial(a, 300*time.Millisecond, func(fd int, err error) { got <- err }); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- l.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	select {
	case err := <-got:
		if !errors.Is(err, unix.ETIMEDOUT) {
			t.Errorf("got %v, want ETIMEDOUT", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
			t.Errorf("timed out after %v, want about 300ms", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Dial did not call back")
	}
}
