//go:build linux

package testfd

import (
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// UnansweredTCP returns the address ("127.0.0.1:PORT") and port of a
// listener whose accept queue is full, so that a new connect to it stays
// in progress (the kernel drops its SYNs). Everything is closed when the
// test ends.
func UnansweredTCP(t testing.TB) (addr string, port int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	port = sa.(*unix.SockaddrInet4).Port
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	for range 4 { // backlog 0 still queues one or two
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr, port
}
