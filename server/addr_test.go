package server_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: ":8080", want: "127.0.0.1:8080"},
		{in: "8080", want: "127.0.0.1:8080"},
		{in: "127.0.0.1:0", want: "127.0.0.1:0"},
		{in: "localhost:9", want: "127.0.0.1:9"},
		{in: "0.0.0.0:80", want: "0.0.0.0:80"}, // all interfaces only when asked
		{in: "[::1]:7", want: "[::1]:7"},
		{in: "unix:/run/x.sock", want: "unix:/run/x.sock"},
		{in: "unix:", bad: true},
		{in: "host-without-port", bad: true},
		{in: "127.0.0.1:99999", bad: true},
	} {
		a, err := server.ParseAddr(tc.in)
		switch {
		case tc.bad && err == nil:
			t.Errorf("ParseAddr(%q) = %v, want an error", tc.in, a)
		case !tc.bad && err != nil:
			t.Errorf("ParseAddr(%q): %v", tc.in, err)
		case !tc.bad && a.String() != tc.want:
			t.Errorf("ParseAddr(%q) = %s, want %s", tc.in, a, tc.want)
		}
	}
}

// TestListenerPause: a paused listener leaves connections in the backlog
// and accepts them on Resume.
func TestListenerPause(t *testing.T) {
	h := serve(t, server.Config{Stages: cat(), MaxConns: 1})
	first := []byte("first")
	second := []byte("second")
	// With MaxConns 1, the second echo waits for the first to end.
	done := make(chan []byte)
	go func() {
		got, err := echoErr(h.addr, second)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	if got := echo(t, h.addr, first); string(got) != "first" {
		t.Errorf("got %q", got)
	}
	if got := <-done; string(got) != "second" {
		t.Errorf("got %q", got)
	}
	// The clients saw EOF; the server ends a connection once cat is reaped.
	var st server.Stats
	waitFor(t, func() bool { h.do(func() { st = h.srv.Stats() }); return st.Closed == 2 })
	if st.Accepted != 2 || st.Closed != 2 || st.Paused {
		t.Errorf("stats %+v: want 2 accepted, 2 closed, not paused", st)
	}
}

// TestAddrOf: an accepted peer's address as logs and PIPELOOP_PEER show
// it.
func TestAddrOf(t *testing.T) {
	for _, tc := range []struct {
		sa   unix.Sockaddr
		want string
	}{
		{&unix.SockaddrInet4{Addr: [4]byte{192, 0, 2, 7}, Port: 40000}, "192.0.2.7:40000"},
		{&unix.SockaddrInet6{Addr: [16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 15: 1}, Port: 443}, "[2001:db8::1]:443"},
		{&unix.SockaddrUnix{Name: "/run/x.sock"}, "unix:/run/x.sock"},
		{&unix.SockaddrUnix{}, "unix"},
		{&unix.SockaddrNetlink{}, "?"},
	} {
		if got := server.AddrOf(tc.sa).String(); got != tc.want {
			t.Errorf("AddrOf(%#v) = %q, want %q", tc.sa, got, tc.want)
		}
	}
}
