//go:build linux

package relay

import (
	"bytes"

	"github.com/pipeloop/pipeloop/internal/fdops"
)

// Counting lines (Options.CountLines) needs the bytes in hand: splice
// moves them inside the kernel and never shows them to the relay, so a
// link that counts lines copies through its ring, and counts the '\n'
// bytes of each read on the loop thread (bytes.Count: a vectorised scan,
// once per byte). Bytes read but never delivered (the reader left) are
// taken off again when the link ends, so Lines counts what reached the
// sink: the lines of Bytes.

// countRead counts the lines in the n bytes just read into the ring.
func (k *Link) countRead(n int) {
	head, tail := lastBytes(k.ring, n)
	k.stats.Lines += uint64(bytes.Count(head, nl) + bytes.Count(tail, nl))
}

// uncountDropped takes the lines still in the ring (not delivered) off
// the count. Before the ring goes back to its pool.
func (k *Link) uncountDropped() {
	if !k.stats.CountsLines || k.ring == nil {
		return
	}
	head, tail := k.ring.Peek()
	k.stats.Lines -= uint64(bytes.Count(head, nl) + bytes.Count(tail, nl))
}

var nl = []byte{'\n'}

// lastBytes returns the last n bytes buffered in b, in order, as one or
// two spans.
func lastBytes(b *fdops.Ring, n int) (head, tail []byte) {
	h, t := b.Peek()
	if len(t) >= n {
		return t[len(t)-n:], nil
	}
	return h[len(h)-(n-len(t)):], t
}
