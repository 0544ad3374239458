//go:build linux

package relay

import (
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// LinkStats are a link's counters. Syscall counts include calls that
// answered EAGAIN; byte counts are bytes delivered to the sink.
type LinkStats struct {
	Src, Dst     string        // endpoint names
	Mode         Mode          // data path in use (ModeCopy or ModeSplice)
	Bytes        uint64        // bytes delivered to the sink
	SpliceBytes  uint64        // of which moved by splice
	CopyBytes    uint64        // of which copied through the ring
	LentBytes    uint64        // of CopyBytes, ring pages lent to a pipe with vmsplice instead of written
	URingBytes   uint64        // of CopyBytes, small messages moved through io_uring (Options.URing)
	Reads        uint64        // read/readv calls
	SyncReads    uint64        // of Reads, those made by a read(2) in the loop's sleep instead of io_uring (a small-message link alone on its loop)
	Writes       uint64        // write/writev calls
	Splices      uint64        // splice calls
	Vmsplices    uint64        // vmsplice calls
	ReadEAGAIN   uint64        // reads that found the source empty
	WriteEAGAIN  uint64        // writes that found the sink full
	SpliceEAGAIN uint64        // splices that could not move anything
	TimeFull     time.Duration // time holding data the sink would not take (downstream slow)
	TimeEmpty    time.Duration // time with nothing to deliver, waiting on the source (upstream slow)
	TimeLimited  time.Duration // time the rate limit held the link back (RateLimit)
	RateLimit    int64         // bytes per second the link may take from its source; 0 = no limit
	Start, End   time.Time     // link created; link done (zero while running)
	EOF          bool          // source ended and the sink was shut down after the last byte
	SinkClosed   bool          // the sink's reader went away (EPIPE and the like)
	Dropped      uint64        // bytes buffered when the sink went away or an error hit
	Err          error         // what ended the link, if not EOF or the reader leaving
	TransformIn  uint64        // with a Transform: bytes read and handed to it (Bytes is its output)
	CountsLines  bool          // Options.CountLines: Lines is counted
	Lines        uint64        // '\n' bytes among Bytes, when CountsLines
}

// Wall is how long the link has run (until End once done).
func (s *LinkStats) Wall() time.Duration {
	if s.End.IsZero() {
		return time.Since(s.Start)
	}
	return s.End.Sub(s.Start)
}

// waitState says what a link is waiting for between events.
type waitState uint8

const (
	waitNone   waitState = iota // working, or waiting on nothing in particular
	waitEmpty                   // nothing to deliver: waiting for the source
	waitFull                    // holding data: waiting for the sink
	waitEither                  // splice blocked between two pipes: the next event, or the pump after it, says which end
	waitLimit                   // the rate limit holds the link back: waiting for its refill timer
	waitRing                    // the ring carries the link (uringlink.go): named when charged (ringWait)
)

// setWait switches the wait state, charging the time spent in the old one.
func (k *Link) setWait(s waitState, now time.Time) {
	if s == k.wait {
		return
	}
	now = k.charge(now)
	k.wait, k.waitSince = s, now
}

// charge adds the time since waitSince to what the link waited for, and
// returns now, never before waitSince.
func (k *Link) charge(now time.Time) time.Time {
	if now.Before(k.waitSince) {
		// now may be the loop's time at the wake-up (Loop.Now), older
		// than a wait that began with time.Now later in the same turn.
		now = k.waitSince
	}
	switch k.resolveWait() {
	case waitEmpty:
		k.stats.TimeEmpty += now.Sub(k.waitSince)
	case waitFull:
		k.stats.TimeFull += now.Sub(k.waitSince)
		if k.pipes != nil {
			k.r.sizer.sinkFull(k) // a busy link
		}
	case waitLimit:
		k.stats.TimeLimited += now.Sub(k.waitSince)
	}
	return now
}

// resolveWait names a waitEither that no event has resolved yet (the link
// ends, or its stats are read mid-wait) by asking the source how much it
// holds: data there means the sink is what blocks.
func (k *Link) resolveWait() waitState {
	switch k.wait {
	case waitEither:
		return k.sourceWait()
	case waitRing:
		return k.ringWait()
	}
	return k.wait
}

// sourceWait says what a splice that blocked waits for, asking the source
// how much it holds (FIONREAD, one system call): data there means the
// sink refused it.
func (k *Link) sourceWait() waitState {
	if n, err := unix.IoctlGetInt(k.src.FD, unix.TIOCINQ); err == nil && n > 0 {
		return waitFull
	}
	return waitEmpty
}

// idleState is what the link waits for after a pump that ran out of
// work; spliceBlocked says a splice stopped short or answered EAGAIN.
func (k *Link) idleState(spliceBlocked bool) waitState {
	if k.xf != nil {
		return k.transformWait()
	}
	if k.limited() {
		if k.ring != nil && !k.ring.Empty() && !k.dstReady {
			return waitFull // the sink holds back what the limit let through
		}
		return waitLimit
	}
	if spliceBlocked {
		// splice does not say which end blocked. An end epoll cannot watch
		// never blocks, so the other one did; otherwise the next event
		// tells (srcEvent, dstEvent), which costs no system call here.
		switch {
		case !k.sw.pollable:
			return waitFull
		case !k.dw.pollable:
			return waitEmpty
		case k.sw.kind != fdio.KindPipe || k.dw.kind != fdio.KindPipe:
			// An edge-triggered event reports every bit the fd has, not
			// the one that changed: a socket with room in its send buffer
			// is always "writable", one holding unread bytes "readable",
			// and a client socket's one watch serves the link reading it
			// and the link writing it. Its next event does not say which
			// end blocked: ask now.
			return k.sourceWait()
		}
		return waitEither
	}
	pending := k.ring != nil && !k.ring.Empty()
	switch {
	case pending && !k.dstReady:
		return waitFull
	case !pending && !k.srcReady:
		return waitEmpty
	}
	return waitNone
}

// kinds of the two ends, for choosing the data path.
func spliceable(src, dst fdio.Kind) bool {
	return src == fdio.KindPipe || dst == fdio.KindPipe
}
