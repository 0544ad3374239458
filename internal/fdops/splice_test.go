package fdops_test

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

func TestSplice(t *testing.T) {
	t.Run("pipe to pipe", func(t *testing.T) {
		sr, sw := testfd.Pipe(t, true, true)
		dr, dw := testfd.Pipe(t, true, true)
		data := testfd.Pattern(10000, 1)
		testfd.WriteAll(t, sw, data)
		var got []byte
		for len(got) < len(data) {
			n, err := fdops.Splice(nil, sr, dw, 1<<20)
			if err != nil || n <= 0 {
				t.Fatalf("Splice = %d, %v", n, err)
			}
			got = append(got, testfd.ReadN(t, dr, n)...)
		}
		if !bytes.Equal(got, data) {
			t.Error("spliced bytes differ")
		}
	})
	t.Run("at most n", func(t *testing.T) {
		sr, sw := testfd.Pipe(t, true, true)
		dr, dw := testfd.Pipe(t, true, true)
		testfd.WriteAll(t, sw, []byte("hello, world"))
		if n, err := fdops.Splice(nil, sr, dw, 5); n != 5 || err != nil {
			t.Fatalf("Splice(5) = %d, %v; want 5, nil", n, err)
		}
		if got := string(testfd.ReadN(t, dr, 5)); got != "hello" {
			t.Errorf("got %q, want %q", got, "hello")
		}
	})
	t.Run("EOF", func(t *testing.T) {
		sr, sw := testfd.Pipe(t, true, true)
		_, dw := testfd.Pipe(t, true, true)
		testfd.CloseFD(t, &sw)
		if n, err := fdops.Splice(nil, sr, dw, 1<<16); n != 0 || err != io.EOF {
			t.Errorf("Splice from a closed pipe = %d, %v; want 0, io.EOF", n, err)
		}
	})
	t.Run("empty source", func(t *testing.T) {
		sr, _ := testfd.Pipe(t, true, true)
		_, dw := testfd.Pipe(t, true, true)
		n, err := fdops.Splice(nil, sr, dw, 1<<16)
		if n != 0 {
			t.Errorf("n = %d, want 0", n)
		}
		testfd.CheckSyscallError(t, err, "splice", unix.EAGAIN)
	})
	t.Run("full destination", func(t *testing.T) {
		sr, sw := testfd.Pipe(t, true, true)
		dr, dw := testfd.Pipe(t, true, true)
		if _, err := fdio.SetPipeSize(dw, fdio.PipeBuf); err != nil {
			t.Fatal(err)
		}
		testfd.WriteAll(t, dw, make([]byte, fdio.PipeBuf))
		testfd.WriteAll(t, sw, []byte("pending"))
		n, err := fdops.Splice(nil, sr, dw, 1<<16)
		if n != 0 {
			t.Errorf("n = %d, want 0", n)
		}
		testfd.CheckSyscallError(t, err, "splice", unix.EAGAIN)
		testfd.ReadN(t, dr, fdio.PipeBuf)
		if n, err := fdops.Splice(nil, sr, dw, 1<<16); n != 7 || err != nil {
			t.Errorf("Splice after draining = %d, %v; want 7, nil", n, err)
		}
	})
	// Neither end a pipe: splice(2) refuses with EINVAL, which tells the
	// caller to fall back to copying.
	t.Run("file to file", func(t *testing.T) {
		dir := t.TempDir()
		in := testfd.Open(t, filepath.Join(dir, "in"), unix.O_RDWR|unix.O_CREAT)
		testfd.WriteAll(t, in, []byte("data"))
		if _, err := unix.Seek(in, 0, 0); err != nil {
			t.Fatal(err)
		}
		out := testfd.Open(t, filepath.Join(dir, "out"), unix.O_RDWR|unix.O_CREAT)
		_, err := fdops.Splice(nil, in, out, 1<<16)
		testfd.CheckSyscallError(t, err, "splice", unix.EINVAL)
	})
	t.Run("socket to socket", func(t *testing.T) {
		a, b := testfd.Socketpair(t)
		c, _ := testfd.Socketpair(t)
		testfd.WriteAll(t, b, []byte("data"))
		_, err := fdops.Splice(nil, a, c, 1<<16)
		testfd.CheckSyscallError(t, err, "splice", unix.EINVAL)
	})
	t.Run("socket to pipe", func(t *testing.T) {
		a, b := testfd.Socketpair(t)
		dr, dw := testfd.Pipe(t, true, true)
		testfd.WriteAll(t, b, []byte("data"))
		if n, err := fdops.Splice(nil, a, dw, 1<<16); n != 4 || err != nil {
			t.Fatalf("Splice = %d, %v; want 4, nil", n, err)
		}
		if got := string(testfd.ReadN(t, dr, 4)); got != "data" {
			t.Errorf("got %q", got)
		}
	})
}

type spliceFlagsOps struct {
	*fakeOps
	flags []int
}

func (o *spliceFlagsOps) Splice(in, out, n, flags int) (int, error) {
	o.flags = append(o.flags, flags)
	return o.fakeOps.Splice(in, out, n, flags)
}

func TestSpliceFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []fault
		want   error // nil: a transfer
	}{
		{"EINTR retried", []fault{{err: unix.EINTR}, {err: unix.EINTR}, {}}, nil},
		{"EINTR then EAGAIN", []fault{{err: unix.EINTR}, {err: unix.EAGAIN}}, unix.EAGAIN},
		{"EPIPE", []fault{{err: unix.EPIPE}}, unix.EPIPE},
		{"short", []fault{{max: 3}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := &spliceFlagsOps{fakeOps: newFakeOps([]byte("0123456789"))}
			faults := tc.faults
			ops.next = func(string) fault {
				f := faults[0]
				faults = faults[1:]
				return f
			}
			n, err := fdops.Splice(ops, 3, 4, 100)
			if len(faults) != 0 {
				t.Errorf("%d faults not consumed", len(faults))
			}
			for _, f := range ops.flags {
				if f != fdops.SpliceFlags {
					t.Errorf("splice flags %#x, want %#x", f, fdops.SpliceFlags)
				}
			}
			if tc.want != nil {
				if n != 0 {
					t.Errorf("n = %d, want 0", n)
				}
				testfd.CheckSyscallError(t, err, "splice", tc.want.(unix.Errno))
				return
			}
			if err != nil || n != ops.dst.Len() || n == 0 {
				t.Errorf("Splice = %d, %v with %d bytes moved", n, err, ops.dst.Len())
			}
		})
	}
	t.Run("EOF", func(t *testing.T) {
		ops := newFakeOps(nil)
		ops.eof = true
		if n, err := fdops.Splice(ops, 3, 4, 100); n != 0 || !errors.Is(err, io.EOF) || err != io.EOF {
			t.Errorf("Splice = %d, %v; want 0, io.EOF", n, err)
		}
	})
	if fdops.SpliceFlags != unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE {
		t.Errorf("SpliceFlags = %#x", fdops.SpliceFlags)
	}
}
