package fdops_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

func vmspliceRing(t *testing.T, span int) *fdops.Ring {
	t.Helper()
	if err := fdops.VmspliceAvailable(); err != nil {
		t.Skip("vmsplice rings unavailable here:", err)
	}
	b, err := fdops.NewVmspliceRing(span)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVmspliceRingPartialPages: messages around the page size come out
// whole and in order; a trailing partial page is held while more is
// promised and sent when it is not; only whole pages are lent.
func TestVmspliceRingPartialPages(t *testing.T) {
	b := vmspliceRing(t, 64<<10)
	r, w := testfd.Pipe(t, true, true)
	for _, n := range []int{1, 4095, 4096, 4097, 8191, 8192, 12289, 65535, 65536} {
		msg := testfd.Pattern(n, uint64(n))
		if got := b.Write(msg); got != n {
			t.Fatalf("Write(%d) = %d", n, got)
		}
		var c fdops.VmspliceCount
		if _, err := b.VmspliceTo(nil, w, true, &c); err != nil && n >= 4096 {
			t.Fatalf("%d bytes, more promised: %v", n, err)
		}
		if c.Lent%4096 != 0 {
			t.Fatalf("%d bytes: lent %d, not whole pages", n, c.Lent)
		}
		if held := b.Len(); held >= 4096 {
			t.Fatalf("%d bytes, more promised: %d held back, want less than a page", n, held)
		}
		if _, err := b.VmspliceTo(nil, w, false, &c); err != nil && b.Len() > 0 {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !b.Empty() {
			t.Fatalf("%d bytes: %d left after a drain with nothing more to come", n, b.Len())
		}
		if got := testfd.ReadN(t, r, n); !bytes.Equal(got, msg) {
			t.Fatalf("%d-byte message came out changed", n)
		}
	}
}

// TestVmspliceRingFullPipe: into a 4 KiB pipe nobody reads, a drain stops
// short (Short set), then answers EAGAIN; nothing is lost once the reader
// catches up.
func TestVmspliceRingFullPipe(t *testing.T) {
	b := vmspliceRing(t, 64<<10)
	r, w := testfd.Pipe(t, true, true)
	if _, err := fdio.SetPipeSize(w, 4096); err != nil {
		t.Fatal(err)
	}
	msg := testfd.Pattern(64<<10, 3)
	b.Write(msg)
	var c fdops.VmspliceCount
	n, err := b.VmspliceTo(nil, w, false, &c)
	if err != nil || n == 0 || n == len(msg) || !c.Short {
		t.Fatalf("VmspliceTo into a 4 KiB pipe = %d, %v, short %v; want a short transfer", n, err, c.Short)
	}
	if _, err := b.VmspliceTo(nil, w, false, &c); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("VmspliceTo into a full pipe: %v, want EAGAIN", err)
	}
	var got []byte
	for len(got) < len(msg) {
		got = append(got, testfd.ReadN(t, r, 4096)...)
		if !b.Empty() {
			if _, err := b.VmspliceTo(nil, w, false, &c); err != nil && !errors.Is(err, unix.EAGAIN) {
				t.Fatal(err)
			}
		}
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("bytes changed on the way through a full pipe")
	}
}

// TestVmspliceRingNotAPipe: vmsplice needs a pipe. The relay only lends to
// pipes, but the error must still name the call.
func TestVmspliceRingNotAPipe(t *testing.T) {
	b := vmspliceRing(t, 64<<10)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	b.Write(testfd.Pattern(8192, 1))
	var c fdops.VmspliceCount
	_, err = b.VmspliceTo(nil, fds[0], false, &c)
	if !errors.Is(err, unix.EBADF) && !errors.Is(err, unix.EINVAL) || err.Error()[:8] != "vmsplice" {
		t.Fatalf("VmspliceTo a socket: %v, want an error naming vmsplice", err)
	}
}

// TestVmspliceAllocatesNothing: the steady state, EAGAIN included.
func TestVmspliceAllocatesNothing(t *testing.T) {
	b := vmspliceRing(t, 64<<10)
	r, w := testfd.Pipe(t, true, true)
	buf := make([]byte, 1<<20)
	msg := testfd.Pattern(64<<10, 5)
	var c fdops.VmspliceCount
	if n := testing.AllocsPerRun(200, func() {
		b.Write(msg)
		for !b.Empty() {
			if _, err := b.VmspliceTo(nil, w, false, &c); err != nil {
				unix.Read(r, buf)
			}
		}
		unix.Read(r, buf)
	}); n != 0 {
		t.Fatalf("%v allocations per fill and drain", n)
	}
}
