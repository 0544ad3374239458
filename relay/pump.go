package relay

import (
	"errors"
	"fmt"
	"io"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// pumpCopy moves data through the ring: read while there is room and the
// source is ready, write while there is data and the sink is ready. It
// reports whether it stopped only because the budget ran out.
//
// Invariant (edge-triggered readiness): srcReady is cleared only by an
// EAGAIN from the source, dstReady only by an EAGAIN from the sink; a full
// ring or an empty one leaves the flags alone, so no edge is ever needed
// that already happened.
func (k *Link) pumpCopy() bool {
	ops := k.r.opts.Ops
	before := k.stats.Bytes
	defer func() { k.r.l.Moved(int(k.stats.Bytes - before)) }()
	for range pumpBudget {
		progress := false
		if !k.srcEOF && k.srcReady && (k.ring == nil || !k.ring.Full()) {
			if k.ring == nil {
				k.ring = k.r.pool.Get()
			}
			n, err := k.ring.ReadFrom(ops, k.src.FD)
			k.stats.Reads++
			switch {
			case n > 0:
				progress = true
			case err == io.EOF:
				k.srcEOF = true
				progress = true
			case isAgain(err):
				k.srcReady = false
				k.stats.ReadEAGAIN++
			default:
				k.fail(k.src, err)
				return false
			}
		}
		if k.dstReady && k.ring != nil && !k.ring.Empty() {
			n, err := k.ring.WriteTo(ops, k.dst.FD)
			k.stats.Writes++
			switch {
			case n > 0:
				k.stats.Bytes += uint64(n)
				k.stats.CopyBytes += uint64(n)
				progress = true
			case isAgain(err):
				k.dstReady = false
				k.stats.WriteEAGAIN++
			case isGone(err):
				k.sinkGone()
				return false
			default:
				k.fail(k.dst, err)
				return false
			}
		}
		if k.ring != nil && k.ring.Empty() {
			k.r.pool.Put(k.ring) // an idle link holds no buffer
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

// pumpSplice moves data with splice(2). splice answers EAGAIN without
// saying which end blocked, so in this path any event on either end
// retries it; readiness flags are not consulted. It reports (more, blocked):
// more when the budget ran out, blocked when splice said EAGAIN.
func (k *Link) pumpSplice() (more, blocked bool) {
	ops := k.r.opts.Ops
	chunk := k.r.opts.SpliceChunk
	before := k.stats.Bytes
	defer func() { k.r.l.Moved(int(k.stats.Bytes - before)) }()
	for range pumpBudget {
		n, err := fdio.Splice(ops, k.src.FD, k.dst.FD, chunk)
		k.stats.Splices++
		switch {
		case n > 0:
			k.stats.Bytes += uint64(n)
			k.stats.SpliceBytes += uint64(n)
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
