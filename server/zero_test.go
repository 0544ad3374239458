package server_test

import (
	"errors"
	"os"
	"testing"

	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

// clientAtFD0 puts one end of a socketpair at fd 0, as inetd or socket
// activation hands a daemon its client, and restores fd 0 at cleanup. It
// returns the other end (the client) and fd 0's inode.
func clientAtFD0(t *testing.T) (peer int, ino uint64) {
	t.Helper()
	saved, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		t.Fatal(err)
	}
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup3(p[0], 0, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(p[0])
	t.Cleanup(func() {
		unix.Dup3(saved, 0, 0)
		unix.Close(saved)
		unix.Close(p[1])
	})
	var st unix.Stat_t
	if err := unix.Fstat(0, &st); err != nil {
		t.Fatal(err)
	}
	return p[1], st.Ino
}

// TestZeroValues: the zero values of Listener, Server, Conn and Dialer
// (and a nil Listener) neither panic nor touch fd 0 — under inetd, the
// client — and the methods that can fail say why with an error wrapping
// os.ErrInvalid; New refuses a nil relay or a zero Listener.
func TestZeroValues(t *testing.T) {
	peer, ino := clientAtFD0(t)
	invalid := func(name string, err error) {
		if !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s: %v, want an error wrapping os.ErrInvalid", name, err)
		}
	}
	r := relay.Relay{}
	calls := []struct {
		name string
		f    func()
	}{
		{"Listener{}.Close", func() { invalid("Listener{}.Close", new(server.Listener).Close()) }},
		{"(*Listener)(nil).Close", func() { invalid("nil Listener Close", (*server.Listener)(nil).Close()) }},
		{"Listener{}.Serve", func() { invalid("Listener{}.Serve", new(server.Listener).Serve(nil, nil, nil)) }},
		{"Listener{}.Pause/Resume/FD", func() {
			var ln server.Listener
			ln.Pause()
			ln.Resume()
			if fd := ln.FD(); fd != -1 {
				t.Errorf("Listener{}.FD() = %d, want -1", fd)
			}
		}},
		{"Server{}.Shutdown", func() {
			invalid("Server{}.Shutdown", new(server.Server).Shutdown(0, func() { t.Error("done ran") }))
		}},
		{"Server{}.Stats/Open/String", func() {
			var s server.Server
			if st := s.Stats(); st.Open != 0 || st.Paused {
				t.Errorf("Server{}.Stats() = %+v", st)
			}
			_, _ = s.Open(), s.String()
		}},
		{"Conn{}", func() {
			var c server.Conn
			c.Terminate(server.ReasonIdle)
			_, _, _ = c.InStats(), c.OutStats(), c.Pids()
			if fd, code := c.FD(), c.ExitCode(); fd != -1 || code != -1 {
				t.Errorf("Conn{}: FD %d ExitCode %d, want -1 and -1", fd, code)
			}
		}},
		{"New(nil, nil)", func() {
			if _, err := server.New(nil, nil, server.Config{Stages: cat()}); err == nil {
				t.Error("New(nil, nil): nil error")
			}
		}},
		{"New(zero relay)", func() {
			if _, err := server.New(&r, new(server.Listener), server.Config{Stages: cat()}); err == nil {
				t.Error("New(&relay.Relay{}, …): nil error")
			}
		}},
		{"Dialer{}.Dial", func() {
			invalid("Dialer{}.Dial", new(server.Dialer).Dial(server.Addr{}, 0, func(int, error) { t.Error("done ran") }))
		}},
	}
	for _, c := range calls {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic: %v", c.name, p)
				}
			}()
			c.f()
		}()
	}
	var st unix.Stat_t
	if err := unix.Fstat(0, &st); err != nil || st.Ino != ino {
		t.Fatalf("fd 0 after the zero values: %v (inode %d, want %d): closed or replaced", err, st.Ino, ino)
	}
	unix.SetNonblock(peer, true)
	if n, err := unix.Read(peer, make([]byte, 16)); err != unix.EAGAIN {
		t.Errorf("the client at fd 0 read %d bytes (%v), want nothing and no EOF", n, err)
	}
}
