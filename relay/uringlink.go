//go:build linux

package relay

import (
	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/uring"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// A splicing link between two pipes that keeps moving small messages (a
// short splice of at most smallMsg bytes, ringRun times in a row) moves
// them through the relay's io_uring instead (Options.URing, ModeAuto): a
// read of the source into the link's buffer; when it completes, the write
// of those bytes to the sink linked to the next read, both submitted by
// the loop's next sleep (ringSleeper), which then waits for that read. One
// io_uring_enter per message, where epoll costs an epoll_wait and a
// splice, and a spliced 64-byte message a fresh page.
//
// While the ring carries the link its fds are out of epoll's interest
// (hangups and errors are still reported), so no message wakes epoll.
// It leaves the ring — the fds back in epoll's interest (re-arming finds
// what is ready), srcReady and dstReady set, the pump queued — when:
//   - a read brings more than a small message (a burst, or a sink that
//     does not keep up): splice serves bulk better, and epoll names the
//     waits. What was read goes out first (k.left), and the link needs
//     twice the run of small splices to come back (ringMiss), so a bulk
//     stream to a slow reader, whose splices are short too, is not copied;
//   - the sink takes less than a message, or a write fails or is canceled:
//     the rest goes out first, and epoll's writable edge says when;
//   - the source ends or fails: splice meets the same end and reports it;
//   - a rate limit is set (ringLeave): the chain is canceled first.
//
// Guarantees kept: bytes leave in order, each once (one chain in flight
// per link, and the link splices again only once it completed);
// backpressure (one message held); a reader gone (EPIPE) ends the link as
// sinkGone does; a link that ends with a chain in flight disarms what is
// not yet submitted, cancels the rest, keeps its buffer reachable until
// the chain's completion and runs OnDone only then, with Bytes and
// Dropped final (ringFinal).
const (
	smallMsg = 4096
	ringRun  = 4
	ringBuf  = 64 << 10
	ringGood = 64 // messages in one stay that forgive earlier misses
)

// ringLink is a link's io_uring state.
type ringLink struct {
	s       *ringSleeper
	id      uint64
	buf     []byte // the kernel's while a chain is in flight
	on      bool   // the ring carries the link's messages
	reading bool   // a chain (write, read) is in flight: it posts one completion
	leaving bool   // ringLeave canceled the chain: leave at its completion
	wlen    int    // bytes of buf the chain's write carries
	msgs    int    // messages in this stay
}

func ringTag(id, req uint64) uint64 { return id<<2 | req }

// ringEvents is a ring link's fds' interest while the ring carries it:
// none but what epoll always reports (hangups, errors), edge-triggered.
const ringEvents = loop.EdgeTriggered

// noteSplice counts the short splices that make a link a ring candidate.
func (k *Link) noteSplice(n int, short bool) {
	if short && n <= smallMsg {
		k.smallRun++
	} else {
		k.smallRun = 0
	}
}

// ringWanted reports whether the link's splices look like small messages
// long enough: ringRun short splices, doubled for each stay that ended in
// bulk (ringMiss).
func (k *Link) ringWanted() bool { return k.smallRun >= ringRun<<k.ringMiss }

// ringable reports whether the ring may carry this link now: a plain
// splicing link (ModeAuto) between two pipes, each its own (no per-call
// nonblocking I/O, no shared O_NONBLOCK to restore). The ring never blocks
// the loop even if another process made a description blocking: io_uring
// waits for a pipe by polling it.
func (k *Link) ringable() bool {
	r := k.r
	return r.opts.URing && !r.noRing && !k.done && k.splice && k.auto && k.kernelOps &&
		k.sw.perCall == nil && !k.sw.restore && k.dw.perCall == nil && !k.dw.restore &&
		k.xf == nil && k.lim == nil && !k.stats.CountsLines && len(k.left) == 0 && !k.srcHup &&
		k.sw.kind == fdio.KindPipe && k.dw.kind == fdio.KindPipe &&
		k.sw.writer == nil && k.dw.reader == nil && k.sw != k.dw
}

// ringOn moves the link's messages to the ring.
func (k *Link) ringOn() {
	s := k.r.sleeper()
	if s == nil || !s.ring.Reserve(2) {
		return
	}
	if k.ur == nil {
		k.ur = &ringLink{s: s, id: s.newID(), buf: make([]byte, ringBuf)}
	}
	if err := k.r.l.Modify(k.sw.io, ringEvents); err != nil {
		return
	}
	if err := k.r.l.Modify(k.dw.io, ringEvents); err != nil {
		k.r.l.Modify(k.sw.io, watchEvents)
		return
	}
	u := k.ur
	u.on, u.leaving, u.msgs = true, false, 0
	k.setWait(waitRing, k.r.l.Now())
	s.active++
	s.links[u.id] = k
	k.ringRead()
}

// ringRead queues a chain: the write of buf[:wlen] when wlen > 0, then
// the read of the source. Only the read posts a completion when all goes
// well; a write that fails or comes back short posts its own, and the read
// is dropped without one (uring.SkipSuccess). io_uring waits for a pipe by
// polling it, O_NONBLOCK or not (internal/uring TestWaitsForPipes): an
// empty source holds the read, and a full sink the write, in the kernel,
// not the loop. (RWF_NOWAIT, which would make a full sink answer EAGAIN,
// is refused on a pipe description that was spliced.) With no room in the
// ring the link leaves it, what it holds going out first.
func (k *Link) ringRead() {
	u := k.ur
	if !u.s.ring.Reserve(2) {
		k.left, u.wlen = u.buf[:u.wlen], 0
		k.ringOff()
		return
	}
	if u.wlen > 0 {
		u.s.ring.Write(k.dw.io, u.buf[:u.wlen], uring.Link|uring.SkipSuccess, ringTag(u.id, tagWrite))
	}
	u.s.ring.Read(k.sw.io, u.buf, 0, ringTag(u.id, tagRead))
	u.reading = true
	u.s.last = k
}

// ringOff gives the link back to epoll; no chain is in flight.
func (k *Link) ringOff() {
	u := k.ur
	if !u.on {
		return
	}
	u.on = false
	u.s.active--
	u.s.links[u.id] = nil
	u.s.blk.releaseFd(k.sw.io)
	if u.msgs >= ringGood {
		k.ringMiss = 0
	}
	k.setWait(waitNone, k.r.l.Now())
	k.smallRun = 0
	k.r.l.Modify(k.sw.io, watchEvents)
	k.r.l.Modify(k.dw.io, watchEvents)
	k.srcReady, k.dstReady = true, true
	k.schedule()
}

// ringLeave takes the link out of the ring at its chain's completion,
// canceling the chain (a rate limit was set: the ring does not limit).
func (k *Link) ringLeave() {
	u := k.ur
	if u == nil || !u.on || !u.reading || u.leaving {
		return
	}
	u.leaving = true
	u.s.cancel(u.id)
}

// ringDone takes the completion of the link's chain (see
// ringSleeper.complete): the read's, or the write's failure.
func (k *Link) ringDone(req uint64, res int32) {
	u := k.ur
	u.reading = false
	switch {
	case k.done:
		k.ringFinal(req, res)
	case req == tagWrite:
		k.ringWriteFailed(res)
	default:
		k.ringCredit(u.wlen) // the read ran: the write before it went out in full
		u.wlen = 0
		k.ringReadDone(res)
	}
}

// ringReadDone takes a read's result.
func (k *Link) ringReadDone(res int32) {
	u := k.ur
	k.stats.Reads++
	switch {
	case res <= 0:
		// Canceled (ringLeave), or the source ended or failed: splice
		// meets the same end and says so.
		k.ringOff()
	case int(res) > smallMsg || u.leaving:
		// Not a small message: bytes piled up in the source (a burst, or
		// a sink that did not keep up). These bytes go out first.
		if !u.leaving {
			k.ringMiss = min(k.ringMiss+1, 10)
			if k.sinkBacked() {
				k.wait = waitFull // the time since the last charge was the sink's
			}
		}
		k.left = u.buf[:res]
		k.ringOff()
	default:
		u.wlen = int(res)
		u.msgs++
		k.ringRead()
	}
}

// ringWriteFailed takes a write that came back short, failed or was
// canceled: what the sink did not take goes out first once epoll says it
// has room. A write the sink refused (short, EAGAIN, or its reader gone
// while it waited: the sink still at least half full) waited for the
// sink: the time since the last charge is the sink's, whatever ringWait
// would say once the chain is gone. A reader gone as a message's write
// went out, the sink not backed up, leaves it to ringWait (the source).
func (k *Link) ringWriteFailed(res int32) {
	u := k.ur
	n := max(int(res), 0)
	k.ringCredit(n)
	rest := u.buf[n:u.wlen]
	u.wlen = 0
	err := unix.Errno(-res)
	if k.wait == waitRing && err != unix.ECANCELED && (res >= 0 || err == unix.EAGAIN || k.sinkBacked()) {
		k.wait = waitFull
	}
	switch {
	case res >= 0 || err == unix.EAGAIN || err == unix.ECANCELED:
		if res >= 0 || err == unix.EAGAIN {
			k.stats.WriteEAGAIN++ // a short write, or none (the sleep's own): the sink was full
		}
		k.left = rest
		k.ringOff()
	case isGone(err):
		k.stats.Dropped += uint64(len(rest))
		k.sinkGone()
	default:
		k.stats.Dropped += uint64(len(rest))
		k.fail(k.dst, wrapErr("write (io_uring)", err))
	}
}
