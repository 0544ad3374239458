//go:build linux

package fdops

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ReadFrom fills the ring's free space from fd with one read (or readv when
// the free space wraps), retrying EINTR. It returns the bytes added and:
//   - nil after a transfer of any length (short reads are normal);
//   - io.EOF when fd is at end of file (and nothing was read);
//   - unix.EAGAIN (wrapped) when fd has nothing now;
//   - another *os.SyscallError naming "read"/"readv".
//
// The ring must not be full.
func (b *Ring) ReadFrom(ops Ops, fd int) (int, error) {
	return b.ReadFromMax(ops, fd, b.Free())
}

// ReadFromMax is ReadFrom reading at most max bytes (a rate-limited link);
// max must be positive.
func (b *Ring) ReadFromMax(ops Ops, fd int, max int) (int, error) {
	ops = orSys(ops)
	if b.Full() || max <= 0 {
		// A zero-length read would look like end of file.
		panic("fdio: Ring.ReadFrom on a full ring")
	}
	h, t := b.Space()
	if b.vm != nil {
		h, t = clip(h, t, b.vm.span)
	}
	h, t = clip(h, t, max)
	for {
		var n int
		var err error
		call := "read"
		if len(t) == 0 {
			n, err = ops.Read(fd, h)
		} else {
			call = "readv"
			b.iov[0], b.iov[1] = h, t
			n, err = ops.Readv(fd, b.iov[:])
			b.iov[0], b.iov[1] = nil, nil
		}
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			b.Commit(n)
			return n, nil
		}
		if err != nil {
			return 0, syscallError(call, err)
		}
		return 0, io.EOF
	}
}

// clip shortens the span pair h, t to at most n bytes in all.
func clip(h, t []byte, n int) ([]byte, []byte) {
	if len(h) >= n {
		return h[:n], nil
	}
	return h, t[:min(len(t), n-len(h))]
}

// WriteTo drains the ring into fd with one write (or writev across the
// wrap), retrying EINTR. Whatever the kernel accepted is discarded from the
// ring, including on a partial transfer; the rest stays for the next call.
// It returns the bytes written and nil, or an error (unix.EAGAIN wrapped
// when fd is full, else *os.SyscallError naming "write"/"writev") with
// n == 0. The ring must not be empty.
func (b *Ring) WriteTo(ops Ops, fd int) (int, error) {
	ops = orSys(ops)
	for {
		call, n, err := b.writeSome(ops, fd, b.Len())
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			b.Discard(n)
			return n, nil
		}
		if err == nil {
			// write(2) returning 0 for a non-empty buffer: treat as no progress.
			err = unix.EAGAIN
		}
		return 0, syscallError(call, err)
	}
}

// firstSpans returns the first n buffered bytes as one span, or two when
// they wrap, in the ring's iov scratch; clearIOV drops them after the call.
func (b *Ring) firstSpans(n int) [][]byte {
	h, t := b.Peek()
	if len(h) >= n {
		b.iov[0] = h[:n]
		return b.iov[:1]
	}
	b.iov[0], b.iov[1] = h, t[:n-len(h)]
	return b.iov[:]
}

func (b *Ring) clearIOV() { b.iov[0], b.iov[1] = nil, nil }

// writeSome writes the first n buffered bytes (write, or writev across the
// wrap) and names the call it made.
func (b *Ring) writeSome(ops Ops, fd, n int) (string, int, error) {
	iov := b.firstSpans(n)
	defer b.clearIOV()
	if len(iov) == 1 {
		m, err := ops.Write(fd, iov[0])
		return "write", m, err
	}
	m, err := ops.Writev(fd, iov)
	return "writev", m, err
}

// EAGAIN is the normal end of every drain under edge-triggered readiness,
// so its errors are allocated once: the hot path allocates nothing. They
// are never modified.
var (
	errReadAgain     error = os.NewSyscallError("read", unix.EAGAIN)
	errReadvAgain    error = os.NewSyscallError("readv", unix.EAGAIN)
	errWriteAgain    error = os.NewSyscallError("write", unix.EAGAIN)
	errWritevAgain   error = os.NewSyscallError("writev", unix.EAGAIN)
	errSpliceAgain   error = os.NewSyscallError("splice", unix.EAGAIN)
	errVmspliceAgain error = os.NewSyscallError("vmsplice", unix.EAGAIN)
)

// syscallError wraps err as an *os.SyscallError naming call.
func syscallError(call string, err error) error {
	if err == unix.EAGAIN {
		switch call {
		case "read":
			return errReadAgain
		case "readv":
			return errReadvAgain
		case "write":
			return errWriteAgain
		case "writev":
			return errWritevAgain
		case "splice":
			return errSpliceAgain
		case "vmsplice":
			return errVmspliceAgain
		}
	}
	return os.NewSyscallError(call, err)
}
