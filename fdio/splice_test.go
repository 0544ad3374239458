package fdio_test

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

func TestSplice(t *testing.T) {
	t.Run("pipe to pipe", func(t *testing.T) {
		sr, sw := pipe(t, true, true)
		dr, dw := pipe(t, true, true)
		data := pattern(10000, 1)
		writeAll(t, sw, data)
		var got []byte
		for len(got) < len(data) {
			n, err := fdio.Splice(nil, sr, dw, 1<<20)
			if err != nil || n <= 0 {
				t.Fatalf("Splice = %d, %v", n, err)
			}
			got = append(got, readN(t, dr, n)...)
		}
		if !bytes.Equal(got, data) {
			t.Error("spliced bytes differ")
		}
	})
	t.Run("at most n", func(t *testing.T) {
		sr, sw := pipe(t, true, true)
		dr, dw := pipe(t, true, true)
		writeAll(t, sw, []byte("hello, world"))
		if n, err := fdio.Splice(nil, sr, dw, 5); n != 5 || err != nil {
			t.Fatalf("Splice(5) = %d, %v; want 5, nil", n, err)
		}
		if got := string(readN(t, dr, 5)); got != "hello" {
			t.Errorf("got %q, want %q", got, "hello")
		}
	})
	t.Run("EOF", func(t *testing.T) {
		sr, sw := pipe(t, true, true)
		_, dw := pipe(t, true, true)
		closeFD(t, &sw)
		if n, err := fdio.Splice(nil, sr, dw, 1<<16); n != 0 || err != io.EOF {
			t.Errorf("Splice from a closed pipe = %d, %v; want 0, io.EOF", n, err)
		}
	})
	t.Run("empty source", func(t *testing.T) {
		sr, _ := pipe(t, true, true)
		_, dw := pipe(t, true, true)
		n, err := fdio.Splice(nil, sr, dw, 1<<16)
		if n != 0 {
			t.Errorf("n = %d, want 0", n)
		}
		checkSyscallError(t, err, "splice", unix.EAGAIN)
	})
	t.Run("full destination", func(t *testing.T) {
		sr, sw := pipe(t, true, true)
		dr, dw := pipe(t, true, true)
		if _, err := fdio.SetPipeSize(dw, fdio.PipeBuf); err != nil {
			t.Fatal(err)
		}
		writeAll(t, dw, make([]byte, fdio.PipeBuf))
		writeAll(t, sw, []byte("pending"))
		n, err := fdio.Splice(nil, sr, dw, 1<<16)
		if n != 0 {
			t.Errorf("n = %d, want 0", n)
		}
		checkSyscallError(t, err, "splice", unix.EAGAIN)
		readN(t, dr, fdio.PipeBuf)
		if n, err := fdio.Splice(nil, sr, dw, 1<<16); n != 7 || err != nil {
			t.Errorf("Splice after draining = %d, %v; want 7, nil", n, err)
		}
	})
	// Neither end a pipe: splice(2) refuses with EINVAL, which tells the
	// caller to fall back to copying.
	t.Run("file to file", func(t *testing.T) {
		dir := t.TempDir()
		in := open(t, filepath.Join(dir, "in"), unix.O_RDWR|unix.O_CREAT)
		writeAll(t, in, []byte("data"))
		if _, err := unix.Seek(in, 0, 0); err != nil {
			t.Fatal(err)
		}
		out := open(t, filepath.Join(dir, "out"), unix.O_RDWR|unix.O_CREAT)
		_, err := fdio.Splice(nil, in, out, 1<<16)
		checkSyscallError(t, err, "splice", unix.EINVAL)
	})
	t.Run("socket to socket", func(t *testing.T) {
		a, b := socketpair(t)
		c, _ := socketpair(t)
		writeAll(t, b, []byte("data"))
		_, err := fdio.Splice(nil, a, c, 1<<16)
		checkSyscallError(t, err, "splice", unix.EINVAL)
	})
	t.Run("socket to pipe", func(t *testing.T) {
		a, b := socketpair(t)
		dr, dw := pipe(t, true, true)
		writeAll(t, b, []byte("data"))
		if n, err := fdio.Splice(nil, a, dw, 1<<16); n != 4 || err != nil {
			t.Fatalf("Splice = %d, %v; want 4, nil", n, err)
		}
		if got := string(readN(t, dr, 4)); got != "data" {
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
			n, err := fdio.Splice(ops, 3, 4, 100)
			if len(faults) != 0 {
				t.Errorf("%d faults not consumed", len(faults))
			}
			for _, f := range ops.flags {
				if f != fdio.SpliceFlags {
					t.Errorf("splice flags %#x, want %#x", f, fdio.SpliceFlags)
				}
			}
			if tc.want != nil {
				if n != 0 {
					t.Errorf("n = %d, want 0", n)
				}
				checkSyscallError(t, err, "splice", tc.want.(unix.Errno))
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
		if n, err := fdio.Splice(ops, 3, 4, 100); n != 0 || !errors.Is(err, io.EOF) || err != io.EOF {
			t.Errorf("Splice = %d, %v; want 0, io.EOF", n, err)
		}
	})
	if fdio.SpliceFlags != unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE {
		t.Errorf("SpliceFlags = %#x", fdio.SpliceFlags)
	}
}
