//go:build linux

package relay

import (
	"errors"
	"fmt"
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// Endpoint is one end of a link.
type Endpoint struct {
	FD    int    // raw fd; its open file description's flags are never changed
	Name  string // used in errors and stats: "stdin", "stage 2 (gzip -d)"; default "fd N"
	Owned bool   // the relay closes FD once no link uses it any more
	// Shared says FD's open file description may be shared with other
	// processes (an inherited stdin or stdout): the relay then uses a
	// private description (or per-call nonblocking I/O) even when FD is
	// already nonblocking, since another process may make it blocking at
	// any time (a shell's fg does) and a read would then block the loop.
	// A blocking FD is always treated so.
	Shared bool
	// One fd may be the source of one link and the sink of another (a
	// socket relayed both ways), or both ends of one link (an echo): they
	// share one registration, and the fd is closed once, after the last
	// of those links is done, if any of them owns it.

	// made: the relay created this fd itself (a pipe of its own), so no
	// other process holds its open file description or can make it
	// blocking again (see watch.raw).
	made bool
}

// name gives an unnamed endpoint its fd's number as name, so errors
// never start with ": ".
func (e *Endpoint) name() {
	if e.Name == "" {
		e.Name = fmt.Sprintf("fd %d", e.FD)
	}
}

// LinkConfig describes a link.
type LinkConfig struct {
	Src, Dst Endpoint
	// OnDone runs on the loop goroutine once the link has finished (EOF,
	// reader gone, error or Close) and released its fds — for Close, after
	// the callback that called it has returned (see Link.Close).
	OnDone func(*Link)
	// Transform, when set, passes the bytes through an in-process
	// transform on a worker goroutine (see Transformer). Such a link
	// always copies. TransformQueue bounds the chunks queued each way
	// (default DefaultTransformQueue), TransformChunk the bytes read per
	// chunk (default DefaultTransformChunk).
	Transform                      Transformer
	TransformQueue, TransformChunk int
}

// pumpBudget bounds the system calls one turn of a link makes before it
// yields to the other fds on the loop.
const pumpBudget = 32

// Link pumps bytes from a source fd to a sink fd. See the package doc.
type Link struct {
	r         *Relay
	src, dst  Endpoint
	sw, dw    *watch // registrations of src and dst
	splice    bool   // current data path
	auto      bool   // may fall back from splice to copy
	ring      *fdops.Ring
	rings     *fdops.RingPool // where ring comes from: vmsplice rings for a pipe sink where available
	srcReady  bool            // source may have data (or EOF): no EAGAIN since the last edge
	dstReady  bool            // sink may take data: no EAGAIN since the last edge
	srcEOF    bool            // read returned 0
	srcHup    bool            // the source reported hangup or error: no further edge will come
	kernelOps bool            // Ops is fdops.Sys, so pipe semantics hold for short transfers
	exclusive bool            // both descriptions pipeloop's alone and raw: a read may block in the sleep (blocking.go)
	srcOps    fdops.Ops       // Ops for reading the source (see watch.ops)
	dstOps    fdops.Ops       // Ops for writing the sink
	spliceOps fdops.Ops       // Ops for splicing source to sink: fdops.Raw when both ends are raw
	done      bool
	deferDone bool   // Close ended the link: OnDone runs from the loop (Relay.doneLater)
	queued    bool   // a pump is queued with RunSoon
	pumpFn    func() // k.pump, allocated once
	onDone    func(*Link)
	wait      waitState
	waitSince time.Time
	stats     LinkStats
	sweptAt   uint64     // Bytes at the pipeline's last sweep
	xf        *xform     // in-process transform; nil for a plain link
	pipes     *linkPipes // pipes the relay created for the link and grows when busy; nil if none
	lim       *bucket    // rate limit (ratelimit.go); nil when not limited
	ur        *ringLink  // io_uring state (uringlink.go); nil until the ring first carries the link
	smallRun  int        // short small splices in a row (noteSplice)
	ringMiss  uint8      // stays in the ring that ended in bulk: each doubles the run needed (ringWanted)
	left      []byte     // bytes the ring read and the sink has not taken yet: they go first
}

// NewLink creates a link and starts pumping on the next loop iteration.
// Loop goroutine only (or before Run).
func (r *Relay) NewLink(cfg LinkConfig) (k *Link, err error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	r.l.AssertLoopThread("relay.NewLink")
	cfg.Src.name()
	cfg.Dst.name()
	k = &Link{r: r, src: cfg.Src, dst: cfg.Dst, onDone: cfg.OnDone, srcReady: true, dstReady: true}
	k.stats = LinkStats{Src: cfg.Src.Name, Dst: cfg.Dst.Name, Start: time.Now(), Mode: ModeCopy}
	if k.sw, err = r.attach(cfg.Src.FD, k, true, cfg.Src.Shared); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Src.Name, err)
	}
	if k.dw, err = r.attach(cfg.Dst.FD, k, false, cfg.Dst.Shared); err != nil {
		r.detach(k.sw, k)
		return nil, fmt.Errorf("%s: %w", cfg.Dst.Name, err)
	}
	_, dk := k.sw.kind, k.dw.kind
	mode := r.opts.Mode
	if cfg.Transform != nil || r.opts.CountLines {
		mode = ModeCopy // bytes in hand (lines.go)
	}
	k.stats.CountsLines = r.opts.CountLines && cfg.Transform == nil
	switch mode {
	case ModeSplice:
		if err := k.canSplice(); err != nil {
			r.detach(k.sw, k)
			r.detach(k.dw, k)
			return nil, err
		}
		k.splice = true
	case ModeAuto:
		k.splice = k.canSplice() == nil
		k.auto = true
	}
	if k.splice {
		k.stats.Mode = ModeSplice
	}
	if r.opts.RateLimit > 0 && cfg.Transform == nil {
		k.lim = newBucket(r.opts.RateLimit, time.Now())
		k.stats.RateLimit = r.opts.RateLimit
	}
	k.rings = r.pool
	// A limited link reads a refill's worth at a time: lent pages would
	// go out part-filled, so it writes.
	if r.vmPool != nil && dk == fdio.KindPipe && cfg.Transform == nil && k.lim == nil && k.dw.lendable() {
		k.rings = r.vmPool
	}
	_, k.kernelOps = r.opts.ops.(fdops.Sys)
	k.srcOps, k.dstOps = k.sw.ops(r.opts.ops, cfg.Src.made), k.dw.ops(r.opts.ops, cfg.Dst.made)
	k.spliceOps = r.opts.ops
	if k.kernelOps && k.sw.raw(cfg.Src.made) && k.dw.raw(cfg.Dst.made) {
		k.spliceOps = fdops.Raw{} // splice blocks on neither end
		k.exclusive = true        // both descriptions pipeloop's alone (blocking.go)
	}
	k.pumpFn = k.pump
	if cfg.Transform != nil {
		if err := k.startTransform(cfg.Transform, cfg.TransformQueue, cfg.TransformChunk); err != nil {
			r.detach(k.sw, k)
			r.detach(k.dw, k)
			return nil, err
		}
	}
	k.sw.owned = k.sw.owned || cfg.Src.Owned
	k.dw.owned = k.dw.owned || cfg.Dst.Owned
	r.links[k] = struct{}{}
	k.schedule()
	return k, nil
}

// canSplice says why splice(2) cannot serve this link, or nil: it needs a
// pipe at one end, and may block on a blocking socket whatever its flags.
func (k *Link) canSplice() error {
	sk, dk := k.sw.kind, k.dw.kind
	if !spliceable(sk, dk) {
		return fmt.Errorf("%s → %s: splice mode needs a pipe at one end (%s is a %s, %s is a %s)",
			k.src.Name, k.dst.Name, k.src.Name, sk, k.dst.Name, dk)
	}
	for _, e := range []struct {
		w    *watch
		name string
	}{{k.sw, k.src.Name}, {k.dw, k.dst.Name}} {
		if !e.w.spliceable() {
			return fmt.Errorf("%s → %s: splice mode cannot serve %s: it is a blocking socket shared with other processes, and splice(2) may block on it whatever its flags",
				k.src.Name, k.dst.Name, e.name)
		}
	}
	return nil
}

// Stats returns a copy of the link's counters. Loop goroutine only.
func (k *Link) Stats() LinkStats {
	if k.r != nil {
		k.r.l.AssertLoopThread("relay.Link.Stats")
	}
	if k.wait == waitRing && !k.done {
		// Name the ring's wait up to now (ringWait), so a long stay in the
		// ring is charged piece by piece, as often as its stats are read.
		k.waitSince = k.charge(time.Now())
	}
	s := k.stats
	if !k.done && k.wait != waitNone {
		// Charge the wait in progress so live readings are current.
		d := time.Since(k.waitSince)
		switch k.resolveWait() {
		case waitFull:
			s.TimeFull += d
		case waitLimit:
			s.TimeLimited += d
		default:
			s.TimeEmpty += d
		}
	}
	return s
}

// Done reports whether the link has finished.
func (k *Link) Done() bool { return k.done }

// Close stops the link now, dropping anything buffered and closing the fds
// it owns: when it returns the link is Done and its stats are final.
// OnDone runs later, never inside Close: after the callback that called
// Close returns (from loop.RunSoon), in the order the links were closed —
// so a callback that closes links is not re-entered by their OnDone.
// Relay.Close is the exception: it runs them before it returns. Closing
// a finished link does nothing.
func (k *Link) Close() {
	if k == nil || k.r == nil { // nil or zero: not a link, nothing to close
		return
	}
	k.r.l.AssertLoopThread("relay.Link.Close")
	if !k.done {
		k.deferDone = true
		k.end()
	}
}

func (k *Link) srcEvent(ev loop.Events) {
	k.srcReady = true
	if ev&(loop.Hangup|loop.Error|loop.PeerClosed) != 0 {
		k.srcHup = true // no edge will follow this one: read to EAGAIN/EOF
	}
	// A waitEither stays unnamed: a pipe's writer wakes its reader on
	// every write, and when a write is interrupted or the writer leaves,
	// whether the link waited on it or on the sink (an interrupted run
	// behind a stage that stopped reading). The pump that follows tells.
	k.kick()
}

func (k *Link) dstEvent(ev loop.Events) {
	k.dstReady = true
	if k.wait == waitEither && ev&(loop.Hangup|loop.Error) == 0 {
		k.wait = waitFull // the sink woke us: it was what we waited for
	}
	// The reader leaving says nothing of what the link waited for: the
	// wait is named when the link ends (resolveWait), by whether the
	// source held data.
	if ev&loop.Error != 0 {
		// No reader left on a pipe (or a socket error): nothing more can
		// be delivered. Find out now rather than when data next arrives.
		k.sinkGone()
		return
	}
	k.kick()
}

// kick runs the pump now unless one is already queued.
func (k *Link) kick() {
	if !k.queued && !k.done {
		k.pump()
	}
}

func (k *Link) schedule() {
	if !k.queued {
		k.queued = true
		k.r.l.RunSoon(k.pumpFn)
	}
}

// pump moves data until both ends block, the budget runs out (then it
// queues itself to continue after other fds had their turn) or the link ends.
func (k *Link) pump() {
	k.queued = false
	if k.done || k.ur != nil && k.ur.on {
		return // the ring carries the link (uringlink.go)
	}
	now := k.r.l.Now()                 // the wake-up's time: no clock read per pump
	unresolved := k.wait == waitEither // the source or the sink's hangup woke the link
	if k.wait != waitNone && !unresolved {
		k.setWait(waitNone, now)
	}
	var more, blocked bool
	before := k.stats.Bytes
	if k.xf != nil {
		more = k.pumpTransform()
	} else if len(k.left) > 0 && !k.flushLeft() {
		blocked = true
	} else if k.splice {
		more, blocked = k.pumpSplice() // falls back to pumpCopy on EINVAL
	} else {
		more = k.pumpCopy()
	}
	k.r.l.NoteTransfer(int(k.stats.Bytes - before)) // once per pump, whatever the path
	if k.done {
		return // end named the wait (resolveWait)
	}
	if unresolved {
		// The sink took bytes now, so it had room: the link waited on
		// the source. Nothing moved and the link goes on: the source
		// holds data the sink still refuses.
		k.wait = waitFull
		if k.stats.Bytes != before {
			k.wait = waitEmpty
		}
		k.setWait(waitNone, now)
	}
	if more {
		k.schedule()
		return
	}
	k.setWait(k.idleState(blocked), time.Now())
	if blocked && k.ringWanted() && k.ringable() {
		k.ringOn()
	}
}

// sinkGone ends the link because the sink's reader left: the source is
// closed too so the writer upstream gets SIGPIPE, as in a shell pipeline.
func (k *Link) sinkGone() {
	if k.done {
		return
	}
	k.stats.SinkClosed = true
	k.end()
}

// fail ends the link with err, which names the endpoint that failed.
func (k *Link) fail(end Endpoint, err error) {
	k.stats.Err = fmt.Errorf("%s: %w", end.Name, err)
	k.end()
}

// finish ends the link after the source's EOF and the last byte: the sink
// is shut down so its reader sees EOF.
func (k *Link) finish() {
	k.stats.EOF = true
	k.end()
}

// end releases everything. The sink is shut down (socket) and closed if
// owned; the source likewise.
func (k *Link) end() {
	k.done = true
	k.setWait(waitNone, time.Now())
	k.stopLimit()
	if k.xf != nil {
		k.stopTransform()
	}
	k.stats.End = time.Now()
	held := k.ringEnd()
	if k.ring != nil {
		k.uncountDropped()
		k.stats.Dropped += uint64(k.ring.Len())
		k.rings.Put(k.ring)
		k.ring = nil
	}
	// Shut sockets down before detaching: the last detach may close them.
	if k.dw.kind == fdio.KindSocket && k.stats.EOF {
		unix.Shutdown(k.dw.fd, unix.SHUT_WR)
	}
	if k.sw.kind == fdio.KindSocket && !k.stats.EOF && !k.sw.owned {
		unix.Shutdown(k.sw.fd, unix.SHUT_RD)
	}
	k.r.detach(k.sw, k)
	if k.dw != k.sw { // one fd as both ends (an echo) has one registration
		k.r.detach(k.dw, k)
	}
	delete(k.r.links, k)
	if !held { // else ringFinal calls it, once the ring's chain is done
		k.callDone()
	}
}

// callDone runs OnDone now, or queues it (Close: see Link.Close).
func (k *Link) callDone() {
	if k.onDone == nil {
		return
	}
	if k.deferDone && !k.r.closed {
		k.r.doneLater(k)
		return
	}
	k.onDone(k)
}

// isGone reports whether err means the sink's reader has left.
func isGone(err error) bool {
	return errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET)
}

func isAgain(err error) bool { return errors.Is(err, unix.EAGAIN) }
