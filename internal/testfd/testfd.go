//go:build linux

// Package testfd holds the file-descriptor helpers tests share: pipes,
// socket pairs and files whose fds are closed when the test ends, and
// exact reads and writes on fds that already have data or room. Every
// helper fails the test (t.Fatal) instead of returning an error.
package testfd

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Pipe returns a new O_CLOEXEC pipe, each end nonblocking as asked,
// closed when the test ends. Close an end early with CloseFD, which the
// cleanup tolerates.
func Pipe(t testing.TB, nonblockR, nonblockW bool) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w = p[0], p[1]
	CloseAtEnd(t, &r)
	CloseAtEnd(t, &w)
	setNonblock(t, r, nonblockR)
	setNonblock(t, w, nonblockW)
	return r, w
}

func setNonblock(t testing.TB, fd int, on bool) {
	t.Helper()
	if err := unix.SetNonblock(fd, on); err != nil {
		t.Fatal(err)
	}
}

// Socketpair returns a nonblocking AF_UNIX stream pair closed when the
// test ends.
func Socketpair(t testing.TB) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	CloseAtEnd(t, &fds[0])
	CloseAtEnd(t, &fds[1])
	return fds[0], fds[1]
}

// Open opens path with flags|O_CLOEXEC (mode 0600 if it creates it); the
// fd is closed when the test ends.
func Open(t testing.TB, path string, flags int) int {
	t.Helper()
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	CloseAtEnd(t, &fd)
	return fd
}

// CloseAtEnd closes *fd when the test ends unless CloseFD already did.
func CloseAtEnd(t testing.TB, fd *int) {
	t.Cleanup(func() {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	})
}

// CloseFD closes *fd now and marks it closed (-1) for CloseAtEnd.
func CloseFD(t testing.TB, fd *int) {
	t.Helper()
	if err := unix.Close(*fd); err != nil {
		t.Errorf("close %d: %v", *fd, err)
	}
	*fd = -1
}

// Pattern returns n reproducible pseudo-random bytes.
func Pattern(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return p
}

// WriteAll writes p to a blocking fd, or a nonblocking one with room.
func WriteAll(t testing.TB, fd int, p []byte) {
	t.Helper()
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if err != nil {
			t.Fatalf("write %d bytes to %d: %v", len(p), fd, err)
		}
		p = p[n:]
	}
}

// ReadN reads exactly n bytes from an fd that already holds them.
func ReadN(t testing.TB, fd, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	for got := 0; got < n; {
		m, err := unix.Read(fd, p[got:])
		if err != nil || m == 0 {
			t.Fatalf("read %d of %d bytes from %d: (%d, %v)", got, n, fd, m, err)
		}
		got += m
	}
	return p
}

// CheckSyscallError checks that err is an *os.SyscallError naming call and
// wrapping errno.
func CheckSyscallError(t testing.TB, err error, call string, errno unix.Errno) {
	t.Helper()
	var se *os.SyscallError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not an *os.SyscallError", err, err)
	}
	if se.Syscall != call {
		t.Errorf("SyscallError.Syscall = %q, want %q", se.Syscall, call)
	}
	if !errors.Is(err, errno) {
		t.Errorf("error %v is not %v", err, errno)
	}
}
