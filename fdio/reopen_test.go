package fdio_test

import (
	"errors"
	"testing"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// TestReopen: a pipe's ends reopened are new descriptions of the same
// pipe: nonblocking while the originals stay blocking, and bytes written
// through one arrive through the other. A socket cannot be reopened.
func TestReopen(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	r, err := fdio.Reopen(p[0])
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(r)
	w, err := fdio.Reopen(p[1])
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(w)
	for fd, want := range map[int]bool{p[0]: false, p[1]: false, r: true, w: true} {
		if nb, err := fdio.IsNonblock(fd); err != nil || nb != want {
			t.Errorf("fd %d nonblocking = %v (%v), want %v", fd, nb, err, want)
		}
	}
	buf := make([]byte, 8)
	if _, err := unix.Read(r, buf); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("read of the empty pipe through the new description: %v, want EAGAIN", err)
	}
	unix.Write(w, []byte("hi"))
	if n, _ := unix.Read(p[0], buf); string(buf[:n]) != "hi" {
		t.Errorf("read %q through the original, want what went in through the new one", buf[:n])
	}
	s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s[0])
	defer unix.Close(s[1])
	if fd, err := fdio.Reopen(s[0]); !errors.Is(err, unix.ENXIO) {
		unix.Close(fd)
		t.Errorf("Reopen(socket): %v, want ENXIO (use SocketOps)", err)
	}
}
