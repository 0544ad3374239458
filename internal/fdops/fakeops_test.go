package fdops_test

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// fault is what one call of a fakeOps does instead of (or before) its normal
// work: fail with err, or move at most max bytes (0: no limit).
type fault struct {
	err unix.Errno
	max int
}

// fakeOps is an in-memory Ops: reads come from src, writes go to dst, and
// each call first consumes the next fault from next(). It behaves like the
// kernel wrappers do: on error it returns -1 and moves nothing; readv and
// writev fill and drain their vectors in order.
type fakeOps struct {
	src  []byte // bytes not yet read
	eof  bool   // an empty src is end of file (else EAGAIN)
	dst  bytes.Buffer
	next func(call string) fault // nil: no faults
	room int                     // bytes dst accepts before EAGAIN; <0 unlimited

	calls   map[string]int // every call, by name
	lastIOV int            // number of vectors passed to the last readv/writev
}

func newFakeOps(src []byte) *fakeOps {
	return &fakeOps{src: src, room: -1, calls: make(map[string]int)}
}

func (f *fakeOps) fault(call string) fault {
	f.calls[call]++
	if f.next == nil {
		return fault{}
	}
	return f.next(call)
}

func (f *fakeOps) read(call string, iov [][]byte) (int, error) {
	ft := f.fault(call)
	if ft.err != 0 {
		return -1, ft.err
	}
	if len(f.src) == 0 {
		if f.eof {
			return 0, nil
		}
		return -1, unix.EAGAIN
	}
	limit := len(f.src)
	if ft.max > 0 && ft.max < limit {
		limit = ft.max
	}
	n := 0
	for _, p := range iov {
		m := copy(p, f.src[n:limit])
		n += m
	}
	f.src = f.src[n:]
	return n, nil
}

func (f *fakeOps) write(call string, iov [][]byte) (int, error) {
	ft := f.fault(call)
	if ft.err != 0 {
		return -1, ft.err
	}
	limit := 0
	for _, p := range iov {
		limit += len(p)
	}
	if f.room >= 0 {
		if f.room == 0 {
			return -1, unix.EAGAIN
		}
		limit = min(limit, f.room)
	}
	if ft.max > 0 {
		limit = min(limit, ft.max)
	}
	n := 0
	for _, p := range iov {
		m := min(len(p), limit-n)
		f.dst.Write(p[:m])
		n += m
	}
	if f.room >= 0 {
		f.room -= n
	}
	return n, nil
}

func (f *fakeOps) Read(fd int, p []byte) (int, error) { return f.read("read", [][]byte{p}) }

func (f *fakeOps) Readv(fd int, iov [][]byte) (int, error) {
	f.lastIOV = len(iov)
	return f.read("readv", iov)
}

func (f *fakeOps) Write(fd int, p []byte) (int, error) { return f.write("write", [][]byte{p}) }

func (f *fakeOps) Writev(fd int, iov [][]byte) (int, error) {
	f.lastIOV = len(iov)
	return f.write("writev", iov)
}

func (f *fakeOps) Vmsplice(fd int, iov [][]byte, flags int) (int, error) {
	f.lastIOV = len(iov)
	return f.write("vmsplice", iov)
}

// Splice moves from src to dst as a read followed by a write would, with
// one fault consumed for the pair.
func (f *fakeOps) Splice(in, out, n, flags int) (int, error) {
	ft := f.fault("splice")
	if ft.err != 0 {
		return -1, ft.err
	}
	if len(f.src) == 0 {
		if f.eof {
			return 0, nil
		}
		return -1, unix.EAGAIN
	}
	m := min(n, len(f.src))
	if ft.max > 0 {
		m = min(m, ft.max)
	}
	f.dst.Write(f.src[:m])
	f.src = f.src[m:]
	return m, nil
}
