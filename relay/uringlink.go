//go:build linux

package relay

import (
	"fmt"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/uring"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// A splicing link between two pipes that keeps moving small messages (a
// short splice of at most smallMsg bytes, smallRun times in a row) moves
// them through the relay's io_uring instead (Options.URing): a read of the
// source into the link's buffer; when it completes, the write of those
// bytes to the sink linked to the next read, both submitted by the loop's
// next sleep (ringSleeper), which then waits for that read. One
// io_uring_enter per message, where epoll costs an epoll_wait and a
// splice, and a spliced 64-byte message a fresh page.
//
// While the ring carries the link its fds are out of epoll's interest
// (hangups and errors are still reported), so no message wakes epoll.
// It leaves the ring — the fds back in epoll's interest (re-arming finds
// what is ready), srcReady and dstReady set, the pump queued — when:
//   - a read fills the buffer (bulk: splice serves it better); what was
//     read goes out first (k.left);
//   - the sink takes less than a message (a full pipe): the rest goes out
//     first, and epoll's writable edge says when;
//   - the source ends or fails: splice meets the same end and reports it.
//
// Guarantees kept: bytes leave in order, each once (the ring never has
// more than one message of a link in flight, and the link only splices
// again once no read is in flight); backpressure (one message held); a
// reader gone (EPIPE) ends the link as sinkGone does; and a link that ends
// with a read in flight cancels it before its fds close, its buffer kept
// reachable until the read's completion (any bytes that read still took
// count as dropped).
const (
	smallMsg = 4096
	smallRun = 4
	ringBuf  = 64 << 10
)

// ringLink is a link's io_uring state.
type ringLink struct {
	s       *ringSleeper
	id      uint64
	buf     []byte // the kernel's while a chain is in flight
	on      bool   // the ring carries the link's messages
	reading bool   // a chain (write, read) is in flight: it posts one completion
	wlen    int    // bytes of buf the chain's write carries
}

func ringTag(id, req uint64) uint64 { return id<<2 | req }

// noteSplice counts the short splices that make a link a ring candidate.
func (k *Link) noteSplice(n int, short bool) {
	if short && n <= smallMsg {
		k.smallRun++
	} else {
		k.smallRun = 0
	}
}

// ringable reports whether the ring may carry this link now: a plain
// splicing link between two pipes, each its own (no per-call nonblocking
// I/O, no shared O_NONBLOCK to restore). The ring never blocks the loop
// even if another process made a description blocking: io_uring waits
// for a pipe by polling it.
func (k *Link) ringable() bool {
	r := k.r
	return r.opts.URing && !r.noRing && !k.done && k.splice && k.kernelOps &&
		k.sw.perCall == nil && !k.sw.restore && k.dw.perCall == nil && !k.dw.restore &&
		k.xf == nil && k.lim == nil && !k.stats.CountsLines && len(k.left) == 0 && !k.srcHup &&
		k.sw.kind == fdio.KindPipe && k.dw.kind == fdio.KindPipe &&
		k.sw.writer == nil && k.dw.reader == nil && k.sw != k.dw
}

// ringOn moves the link's messages to the ring.
func (k *Link) ringOn() {
	s := k.r.sleeper()
	if s == nil {
		return
	}
	if k.ur == nil {
		k.ur = &ringLink{s: s, id: s.nextID, buf: make([]byte, ringBuf)}
		s.nextID++
	}
	if err := k.r.l.Modify(k.sw.io, loop.EdgeTriggered); err != nil {
		return
	}
	if err := k.r.l.Modify(k.dw.io, loop.EdgeTriggered); err != nil {
		k.r.l.Modify(k.sw.io, watchEvents)
		return
	}
	k.ur.on = true
	k.setWait(waitRing, k.r.l.Now())
	s.active++
	s.links[k.ur.id] = k
	k.ringRead()
}

// ringRead queues a chain: the write of buf[:wlen] when wlen > 0, then
// the read of the source. Only the read posts a completion when all goes
// well; a write that fails or comes back short posts its own, and the read
// is dropped without one (uring.SkipSuccess). io_uring waits for a pipe by
// polling it, O_NONBLOCK or not (internal/uring TestWaitsForPipes): an
// empty source holds the read, and a full sink the write, in the kernel,
// not the loop. (RWF_NOWAIT, which would make a full sink answer EAGAIN,
// is refused on a pipe description that was spliced.)
func (k *Link) ringRead() {
	u := k.ur
	if u.wlen > 0 {
		u.s.ring.Write(k.dw.io, u.buf[:u.wlen], uring.Link|uring.SkipSuccess, 0, ringTag(u.id, tagWrite))
	}
	u.s.ring.Read(k.sw.io, u.buf, 0, ringTag(u.id, tagRead))
	u.reading = true
}

// ringOff gives the link back to epoll; no chain is in flight.
func (k *Link) ringOff() {
	u := k.ur
	if !u.on {
		return
	}
	u.on = false
	u.s.active--
	delete(u.s.links, u.id)
	k.setWait(waitNone, k.r.l.Now())
	k.smallRun = 0
	k.r.l.Modify(k.sw.io, watchEvents)
	k.r.l.Modify(k.dw.io, watchEvents)
	k.srcReady, k.dstReady = true, true
	k.schedule()
}

// ringWait names what a link in the ring waits for, when its time is
// charged (resolveWait): the sink if its chain seems stuck in the write —
// the source holds bytes the ring is not reading, or a write is in flight
// and the sink is at least half full — else the source. One to three
// system calls, made only when the link's stats are read (Stats charges
// the ring's time piece by piece) or it leaves the ring, never per
// message. So a sink that stalls and drains again between two readings
// is charged to the source: the ring cannot see when a write waited.
func (k *Link) ringWait() waitState {
	u := k.ur
	if u == nil || !u.reading {
		return waitEmpty
	}
	if n, err := unix.IoctlGetInt(k.sw.io, unix.TIOCINQ); err == nil && n > 0 {
		return waitFull
	}
	if u.wlen > 0 && k.sinkBacked() {
		return waitFull // the write waits for room (or just got it)
	}
	return waitEmpty
}

// sinkBacked reports whether the sink pipe is at least half full: right
// after the ring's write went out, a sink still that full is what held
// the bytes back.
func (k *Link) sinkBacked() bool {
	held, err1 := unix.IoctlGetInt(k.dw.io, unix.TIOCINQ)
	size, err2 := unix.FcntlInt(uintptr(k.dw.io), unix.F_GETPIPE_SZ, 0)
	return err1 == nil && err2 == nil && 2*held >= size
}

// credit counts n bytes delivered by the ring.
func (k *Link) credit(n int) {
	if n <= 0 {
		return
	}
	k.stats.Bytes += uint64(n)
	k.stats.CopyBytes += uint64(n)
	k.stats.URingBytes += uint64(n)
	k.stats.Writes++
	k.r.l.NoteTransfer(n)
}

// ringDone takes the completion of the link's chain (see
// ringSleeper.complete): the read's, or the write's failure.
func (k *Link) ringDone(req uint64, res int32) {
	u := k.ur
	u.reading = false
	if k.done { // ringEnd canceled the chain, or it raced the cancel
		delete(u.s.links, u.id)
		if req == tagRead && res > 0 {
			k.stats.Dropped += uint64(res)
		}
		return
	}
	if req == tagWrite {
		k.ringWriteFailed(res)
		return
	}
	k.credit(u.wlen) // the read ran: the write before it went out in full
	u.wlen = 0
	k.ringReadDone(res)
}

// ringReadDone takes a read's result.
func (k *Link) ringReadDone(res int32) {
	u := k.ur
	k.stats.Reads++
	switch {
	case res <= 0:
		// The source ended or failed: splice meets the same and says so.
		k.ringOff()
	case int(res) > smallMsg:
		// Not a small message: bytes piled up in the source (a burst, or
		// a sink that did not keep up). Splice serves them better, and
		// epoll names the waits: these bytes first.
		if k.sinkBacked() {
			k.wait = waitFull // the time since the last charge was the sink's
		}
		k.left = u.buf[:res]
		k.ringOff()
	default:
		u.wlen = int(res)
		k.ringRead()
	}
}

// ringWriteFailed takes a write that came back short or failed: what the
// sink did not take goes out first once epoll says it has room.
func (k *Link) ringWriteFailed(res int32) {
	u := k.ur
	n := max(int(res), 0)
	k.credit(n)
	rest := u.buf[n:u.wlen]
	u.wlen = 0
	switch err := unix.Errno(-res); {
	case res >= 0 || err == unix.EAGAIN:
		k.stats.WriteEAGAIN++ // the sink was full
		k.left = rest
		k.ringOff()
	case isGone(err):
		k.stats.Dropped += uint64(len(rest))
		k.sinkGone()
	default:
		k.stats.Dropped += uint64(len(rest))
		k.fail(k.dst, fmt.Errorf("write (io_uring): %w", err))
	}
}

// flushLeft writes what the ring left (k.left) before the link splices
// again. It reports whether the pump may go on.
func (k *Link) flushLeft() bool {
	for len(k.left) > 0 {
		n, err := k.dstOps.Write(k.dw.io, k.left)
		if n > 0 {
			k.credit(n)
			k.left = k.left[n:]
			continue
		}
		switch {
		case isAgain(err):
			k.stats.WriteEAGAIN++
			k.dstReady = false
			return false
		case isGone(err):
			k.stats.Dropped += uint64(len(k.left))
			k.left = nil
			k.sinkGone()
		default:
			k.stats.Dropped += uint64(len(k.left))
			k.left = nil
			k.fail(k.dst, fmt.Errorf("write: %w", err))
		}
		return false
	}
	k.left = nil
	return true
}

// ringEnd is end's part for a link the ring carried: a chain in flight
// is canceled, and submitted now, before the fds close (a queued request
// names its fd by number). The link, and so its buffer, stays reachable
// from the sleeper until the chain's completion.
func (k *Link) ringEnd() {
	u := k.ur
	if u == nil {
		return
	}
	if u.on {
		u.on = false
		u.s.active--
	}
	if len(k.left) > 0 {
		k.stats.Dropped += uint64(len(k.left))
		k.left = nil
	}
	if !u.reading {
		delete(u.s.links, u.id)
		return
	}
	// The chain waits in its write (a full sink) or its read: cancel both;
	// one finds nothing, the other ends the chain.
	u.s.ring.Cancel(ringTag(u.id, tagWrite), ringTag(u.id, tagCancel))
	u.s.ring.Cancel(ringTag(u.id, tagRead), ringTag(u.id, tagCancel))
	u.s.ring.Submit()
}
