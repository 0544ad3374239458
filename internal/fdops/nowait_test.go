package fdops_test

import (
	"errors"
	"testing"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

// TestSocketOpsDontWait: on a blocking socket, SocketOps reads and writes
// answer EAGAIN instead of blocking, and leave the description blocking.
func TestSocketOpsDontWait(t *testing.T) {
	s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s[0])
	defer unix.Close(s[1])
	var ops fdops.SocketOps
	buf := make([]byte, 64<<10)
	if _, err := ops.Read(s[0], buf); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("Read of an empty socket: %v, want EAGAIN", err)
	}
	if _, err := ops.Readv(s[0], [][]byte{buf[:10], buf[10:]}); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("Readv of an empty socket: %v, want EAGAIN", err)
	}
	total := 0
	for {
		n, err := ops.Writev(s[1], [][]byte{buf[:100], buf[100:]})
		total += n
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ops.Write(s[1], buf); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("Write to a full socket: %v, want EAGAIN", err)
	}
	got := 0
	for got < total {
		n, err := ops.Read(s[0], buf)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", got, total, err)
		}
		got += n
	}
	if nb, _ := fdio.IsNonblock(s[0]); nb {
		t.Error("SocketOps made the description nonblocking")
	}
}
