package server_test

import (
	"context"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

// TestActivated: systemd's variables are read as sd_listen_fds(3) does,
// and sockets meant for another pid are refused.
func TestActivated(t *testing.T) {
	const pid = 4242
	for _, tc := range []struct {
		env   map[string]string
		fds   []int
		names []string
		err   string
	}{
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "1"}, fds: []int{3}, names: []string{"unknown"}},
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:admin"}, fds: []int{3, 4}, names: []string{"web", "admin"}},
		{env: map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "1"}, err: "not this process"},
		{env: map[string]string{"LISTEN_FDS": "1"}, err: "LISTEN_PID is not set"},
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "0"}, err: "LISTEN_FDS"},
	} {
		fds, names, err := server.Activated(func(k string) string { return tc.env[k] }, pid)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: got %v, want an error with %q", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(fds, tc.fds) || !reflect.DeepEqual(names, tc.names) {
			t.Errorf("%v: got %v %v %v, want %v %v", tc.env, fds, names, err, tc.fds, tc.names)
		}
	}
}

// TestListenFD: an inherited listening socket ("fd:N") is adopted and
// accepts on the loop; a socket that is not listening is refused.
func TestListenFD(t *testing.T) {
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := nl.(*net.TCPListener).File() // a duplicate: the socket outlives nl
	nl.Close()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := server.Listen("fd:"+strconv.Itoa(fd), server.ListenConfig{})
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	if got, want := ln.Addr().String(), nl.Addr().String(); got != want {
		t.Errorf("Addr: got %s, want %s", got, want)
	}
	l, err := loop.New(loop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan string, 1)
	ln.Serve(l, func(cfd int, peer unix.Sockaddr) {
		unix.Write(cfd, []byte("hi"))
		unix.Close(cfd)
		accepted <- server.AddrOf(peer).String()
	}, func(err error) { t.Error(err) })
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- l.Run(ctx) }()
	defer func() { l.Post(func() { ln.Close() }); cancel(); <-ran }()

	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Errorf("client read %q, %v", buf, err)
	}
	if got, want := <-accepted, c.LocalAddr().String(); got != want {
		t.Errorf("peer: got %s, want %s", got, want)
	}

	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	if _, err := server.ListenFD(sp[0], server.ListenConfig{}); err == nil || !strings.Contains(err.Error(), "not a listening socket") {
		t.Errorf("socketpair: got %v, want not a listening socket", err)
	}
	if _, err := server.Listen("systemd", server.ListenConfig{}); os.Getenv("LISTEN_PID") == "" && err == nil {
		t.Error("systemd without LISTEN_PID: no error")
	}
}
