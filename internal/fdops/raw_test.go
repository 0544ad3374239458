package fdops_test

import (
	"bytes"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"

	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

// TestRawMatchesSys: on nonblocking pipes Raw moves the same bytes and
// answers the same errnos as Sys, for every Ops method.
func TestRawMatchesSys(t *testing.T) {
	for _, ops := range []fdops.Ops{fdops.Sys{}, fdops.Raw{}} {
		r, w := testfd.Pipe(t, true, true)
		r2, w2 := testfd.Pipe(t, true, true)
		if n, err := ops.Read(r, make([]byte, 8)); n != -1 || err != unix.EAGAIN {
			t.Errorf("%T: read of an empty pipe: (%d, %v), want (-1, EAGAIN)", ops, n, err)
		}
		if n, err := ops.Write(w, []byte("ab")); n != 2 || err != nil {
			t.Fatalf("%T: write: (%d, %v)", ops, n, err)
		}
		if n, err := ops.Writev(w, [][]byte{[]byte("cd"), []byte("ef")}); n != 4 || err != nil {
			t.Fatalf("%T: writev: (%d, %v)", ops, n, err)
		}
		if n, err := ops.Splice(r, w2, 3, fdops.SpliceFlags); n != 3 || err != nil {
			t.Fatalf("%T: splice: (%d, %v)", ops, n, err)
		}
		page := bytes.Repeat([]byte("g"), 4096)
		if n, err := ops.Vmsplice(w2, [][]byte{page[:1]}, 0); n != 1 || err != nil {
			t.Fatalf("%T: vmsplice: (%d, %v)", ops, n, err)
		}
		a, b := make([]byte, 2), make([]byte, 8)
		if n, err := ops.Readv(r2, [][]byte{a, b}); n != 4 || err != nil || string(a)+string(b[:2]) != "abcg" {
			t.Errorf("%T: readv: (%d, %v) %q %q, want 4 bytes abcg", ops, n, err, a, b[:2])
		}
		got := make([]byte, 8)
		if n, err := ops.Read(r, got); n != 3 || err != nil || string(got[:n]) != "def" {
			t.Errorf("%T: read: (%d, %v) %q, want def", ops, n, err, got[:n])
		}
		unix.Close(w)
		if n, err := ops.Read(r, got); n != 0 || err != nil {
			t.Errorf("%T: read at EOF: (%d, %v), want (0, nil)", ops, n, err)
		}
		unix.Close(r2)
		if n, err := ops.Write(w2, []byte("x")); n != -1 || err != unix.EPIPE {
			t.Errorf("%T: write with no reader: (%d, %v), want (-1, EPIPE)", ops, n, err)
		}
	}
}

// TestRawAllocatesNothing: the raw path is the hot path.
func TestRawAllocatesNothing(t *testing.T) {
	r, w := testfd.Pipe(t, true, true)
	buf := make([]byte, 64)
	iov := [][]byte{buf[:32], buf[32:]}
	ops := fdops.Raw{}
	n := testing.AllocsPerRun(100, func() {
		ops.Write(w, buf)
		ops.Readv(r, iov)
		ops.Read(r, buf) // EAGAIN
	})
	if n != 0 {
		t.Errorf("%v allocs per write+readv+read, want 0", n)
	}
}
