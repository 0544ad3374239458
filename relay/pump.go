//go:build linux

package relay

import (
	"errors"
	"fmt"
	"io"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

// pumpCopy moves data through the ring: read while there is room and the
// source is ready, write while there is data and the sink is ready. It
// reports whether it stopped only because the budget ran out.
//
// Invariant (edge-triggered readiness): srcReady is cleared only when the
// source is known to be drained (EAGAIN), and dstReady only when the sink
// is known to be full — an EAGAIN, or a short write into a pipe; a full
// ring or an empty one leaves the flags alone, so no edge is ever needed
// that already happened.
//
// The short-write rule saves the EAGAIN system call that would otherwise
// end a wake-up. It holds for pipes: a nonblocking pipe write stops short
// only when the pipe is full, and the reader's next read then wakes the
// loop. Reads get no such rule: a packet-mode (O_DIRECT) pipe returns one
// packet per read with more left, and a terminal one line. splice from a
// pipe does (see pumpSplice). The rules apply only with the kernel's own
// Ops: an injected short transfer is not a full pipe.
func (k *Link) pumpCopy() bool {
	for range pumpBudget {
		progress := false
		if !k.srcEOF && k.srcReady && (k.ring == nil || !k.ring.Full()) {
			if k.ring == nil {
				k.ring = k.rings.Get()
			}
			if want := k.limit(k.ring.Free()); want > 0 {
				goOn, p := k.readRing(want)
				if !goOn {
					return false
				}
				progress = p
			}
		}
		if k.dstReady && k.ring != nil && !k.ring.Empty() {
			n, short, err := k.drain()
			switch {
			case n > 0:
				k.stats.Bytes += uint64(n)
				k.stats.CopyBytes += uint64(n)
				progress = true
				if short && k.dw.kind == fdio.KindPipe && k.kernelOps {
					k.dstReady = false // full: see the invariant above
				}
			case err == nil:
				// A vmsplice ring held back a partial page for what follows.
			default:
				goOn, p := k.sinkRefused("write", err)
				if !goOn {
					return false
				}
				progress = progress || p
			}
		}
		if k.ring != nil && k.ring.Empty() {
			k.rings.Put(k.ring) // an idle link holds no buffer
			k.ring = nil
		}
		if k.srcEOF && k.ring == nil {
			k.finish()
			return false
		}
		if !progress {
			return false
		}
	}
	return true
}

// readRing reads at most want bytes from the source into the ring. It
// reports whether the link goes on (false: it failed) and whether it made
// progress (bytes, or the source's end).
func (k *Link) readRing(want int) (goOn, progress bool) {
	n, err := k.ring.ReadFromMax(k.srcOps, k.sw.io, want)
	k.stats.Reads++
	switch {
	case n > 0:
		k.took(n)
		if k.stats.CountsLines {
			k.countRead(n)
		}
		return true, true
	case err == io.EOF:
		k.srcEOF = true
		return true, true
	case isAgain(err):
		k.srcReady = false
		k.stats.ReadEAGAIN++
		return true, false
	}
	if k.dstReady && k.ring != nil && !k.ring.Empty() {
		// Send what drain held back, as far as the sink takes
		// it now: bytes read before the error are not lost.
		k.srcReady = false
		if n, _, _ := k.drain(); n > 0 {
			k.stats.Bytes += uint64(n)
			k.stats.CopyBytes += uint64(n)
		}
	}
	k.fail(k.src, err)
	return false, false
}

// drain writes the ring to the sink once: write/writev from a plain ring;
// from a vmsplice ring (a link into a pipe) whole pages by vmsplice and
// partial ones by write. A vmsplice ring holds back a trailing partial
// page while the source may have more (the next read completes the page),
// and sends it as soon as the source is drained or ended, so no byte
// waits for a later event. short reports a transfer that moved less than
// it asked.
func (k *Link) drain() (n int, short bool, err error) {
	var c fdops.VmspliceCount
	// A full ring is not read, so what it holds back would wait forever.
	more := k.srcReady && !k.srcEOF && !k.ring.Full()
	n, err = k.ring.VmspliceTo(k.dstOps, k.dw.io, more, &c)
	k.stats.Writes += c.Writes
	k.stats.Vmsplices += c.Vmsplices
	k.stats.LentBytes += c.Lent
	return n, c.Short, err
}

// pumpSplice moves data with splice(2). splice answers EAGAIN without
// saying which end blocked, so in this path any event on either end
// retries it; readiness flags are not consulted. It reports (more, blocked):
// more when the budget ran out, blocked when splice said EAGAIN.
func (k *Link) pumpSplice() (more, blocked bool) {
	ops := k.spliceOps
	for range pumpBudget {
		chunk := k.limit(k.r.opts.SpliceChunk)
		if chunk == 0 {
			return false, false // the refill timer pumps again
		}
		n, err := fdops.Splice(ops, k.sw.io, k.dw.io, chunk)
		k.stats.Splices++
		switch {
		case n > 0:
			k.took(n)
			k.stats.Bytes += uint64(n)
			k.stats.SpliceBytes += uint64(n)
			k.noteSplice(n, n < chunk)
			if n < chunk && k.sw.kind == fdio.KindPipe && !k.srcHup && k.kernelOps {
				// splice from a pipe moves whole buffers (packets too) until
				// the pipe is empty, the sink is full or n is reached: short
				// means one of the first two, and either way an edge will
				// come — unless the source already hung up (srcHup).
				k.srcReady, k.dstReady = false, false
				return false, true
			}
		case err == io.EOF:
			k.srcEOF = true
			k.finish()
			return false, false
		case isAgain(err):
			k.stats.SpliceEAGAIN++
			k.srcReady, k.dstReady = false, false
			return false, true
		case errors.Is(err, unix.ECONNRESET) && k.sw.kind == fdio.KindSocket:
			// The source socket was reset. splice needs a pipe at one end,
			// so the sink is that pipe, and a pipe never says ECONNRESET.
			k.fail(k.src, err)
			return false, false
		case isGone(err):
			k.sinkGone()
			return false, false
		case k.auto && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)):
			// These files cannot be spliced; splice moved nothing, so
			// copying from here on loses and repeats no byte.
			k.splice = false
			k.stats.Mode = ModeCopy
			k.srcReady, k.dstReady = true, true
			return k.pumpCopy(), false
		case errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.EFBIG):
			k.fail(k.dst, err) // only the sink can be full
			return false, false
		case errors.Is(err, unix.EINVAL):
			k.fail(Endpoint{Name: fmt.Sprintf("%s → %s", k.src.Name, k.dst.Name)},
				fmt.Errorf("%w (these files cannot be spliced: use mode copy or auto, --mode)", err))
			return false, false
		default:
			k.fail(Endpoint{Name: fmt.Sprintf("%s → %s", k.src.Name, k.dst.Name)}, err)
			return false, false
		}
	}
	return true, false
}
