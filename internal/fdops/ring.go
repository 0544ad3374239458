//go:build linux

package fdops

import (
	"fmt"
	"math/bits"

	"github.com/pipeloop/pipeloop/fdio"
)

// MinRing is the smallest ring capacity: the first power of two strictly
// larger than PIPE_BUF, so one ring can always absorb an atomic pipe write
// with room to spare.
const MinRing = 2 * fdio.PipeBuf

// Ring is a byte FIFO over a power-of-two buffer. Positions are free-running
// uint64 counters masked into the buffer, so "full" and "empty" need no
// extra flag:
//
//	r == w            empty
//	w - r == len(buf) full
//
// Invariant: r <= w <= r+len(buf).
type Ring struct {
	buf  []byte    // storage; len is a power of two >= MinRing
	mask uint64    // len(buf) - 1
	r    uint64    // total bytes consumed: next byte to read is buf[r&mask]
	w    uint64    // total bytes produced: next byte to write is buf[w&mask]
	iov  [2][]byte // scratch for readv/writev so the hot path does not allocate
	vm   *vmState  // page-passing state of a vmsplice ring (vmsplice.go); nil for a plain ring
}

// RoundSize returns the ring capacity NewRing uses for size: size rounded up
// to a power of two. It fails for sizes not above PIPE_BUF or absurdly large.
func RoundSize(size int) (int, error) {
	if size <= fdio.PipeBuf {
		return 0, fmt.Errorf("ring size %d must exceed PIPE_BUF (%d)", size, fdio.PipeBuf)
	}
	if size > 1<<30 {
		return 0, fmt.Errorf("ring size %d exceeds 1 GiB", size)
	}
	return 1 << bits.Len(uint(size-1)), nil
}

// NewRing returns an empty ring of capacity RoundSize(size).
func NewRing(size int) (*Ring, error) {
	n, err := RoundSize(size)
	if err != nil {
		return nil, err
	}
	return &Ring{buf: make([]byte, n), mask: uint64(n - 1)}, nil
}

// Cap is the ring's capacity in bytes.
func (b *Ring) Cap() int { return len(b.buf) }

// Len is the number of buffered bytes.
func (b *Ring) Len() int { return int(b.w - b.r) }

// Free is the number of bytes that can be added. For a vmsplice ring it
// excludes memory a pipe may still reference (see NewVmspliceRing).
func (b *Ring) Free() int {
	if b.vm != nil {
		return b.vmFree()
	}
	return len(b.buf) - b.Len()
}

// Empty reports whether no bytes are buffered.
func (b *Ring) Empty() bool { return b.r == b.w }

// Full reports whether no byte can be added.
func (b *Ring) Full() bool { return b.Free() == 0 }

// Reset empties the ring.
func (b *Ring) Reset() {
	if b.vm != nil {
		b.Discard(b.Len()) // positions stay: memory behind them may be lent
		return
	}
	b.r, b.w = 0, 0
}

// Peek returns the buffered bytes in order as two slices: head, then tail
// for the part that wrapped to the start of the buffer (tail is empty when
// nothing wrapped). The slices alias the ring until the next Discard.
func (b *Ring) Peek() (head, tail []byte) {
	if b.r == b.w {
		return nil, nil
	}
	start, end := b.r&b.mask, b.w&b.mask
	if start < end {
		return b.buf[start:end], nil
	}
	return b.buf[start:], b.buf[:end]
}

// Discard drops the first n buffered bytes. It panics if n > Len, which is
// a bug in the caller, never an I/O condition.
func (b *Ring) Discard(n int) {
	if n < 0 || n > b.Len() {
		panic("fdio: Ring.Discard out of range")
	}
	old := b.r
	b.r += uint64(n)
	if b.vm != nil {
		b.vmRecycle(old)
		return
	}
	if b.r == b.w {
		// Rewind so the next fill gets one contiguous span (one read, not readv).
		b.r, b.w = 0, 0
	}
}

// Space returns the free space in fill order as head and tail slices.
func (b *Ring) Space() (head, tail []byte) {
	free := b.Free()
	if free == 0 {
		return nil, nil
	}
	start := int(b.w & b.mask)
	if end := start + free; end <= len(b.buf) {
		return b.buf[start:end], nil
	}
	return b.buf[start:], b.buf[:start+free-len(b.buf)]
}

// Commit marks n bytes of Space as filled. It panics if n > Free.
func (b *Ring) Commit(n int) {
	if n < 0 || n > b.Free() {
		panic("fdio: Ring.Commit out of range")
	}
	b.w += uint64(n)
}

// Write copies p into the ring as far as it fits and returns the count.
// It exists for in-process producers and tests; I/O uses ReadFrom.
func (b *Ring) Write(p []byte) int {
	h, t := b.Space()
	n := copy(h, p)
	n += copy(t, p[n:])
	b.w += uint64(n)
	return n
}

// Read copies buffered bytes into p, consuming them.
func (b *Ring) Read(p []byte) int {
	h, t := b.Peek()
	n := copy(p, h)
	n += copy(p[n:], t)
	b.Discard(n)
	return n
}
