//go:build linux

package relay

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// How a link the ring carried counts its bytes and waits, and how it ends
// (uringlink.go has the path itself).

// ringCredit counts n bytes the ring's write delivered.
func (k *Link) ringCredit(n int) {
	if n > 0 {
		k.creditMessages(n, 1)
	}
}

// creditMessages counts msgs small messages of n bytes in all delivered
// by the small-message path (the ring, or the sleep's own read and write).
func (k *Link) creditMessages(n, msgs int) {
	if msgs == 0 {
		return
	}
	k.stats.URingBytes += uint64(n)
	k.stats.Bytes += uint64(n)
	k.stats.CopyBytes += uint64(n)
	k.stats.Writes += uint64(msgs)
	k.r.l.NoteTransfer(n)
}

// delivered counts n bytes written to the sink outside the ring's buffer
// pool: the ring's writes and flushLeft's.
func (k *Link) delivered(n int) {
	k.stats.Bytes += uint64(n)
	k.stats.CopyBytes += uint64(n)
	k.stats.Writes++
	k.r.l.NoteTransfer(n)
}

// flushLeft writes what the ring left (k.left) before the link splices
// again. It reports whether the pump may go on.
func (k *Link) flushLeft() bool {
	for len(k.left) > 0 {
		n, err := k.dstOps.Write(k.dw.io, k.left)
		if n > 0 {
			k.delivered(n)
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
			k.fail(k.dst, wrapErr("write", err))
		}
		return false
	}
	k.left = nil
	return true
}

// wrapErr names the call that failed: "write (io_uring): broken pipe".
func wrapErr(call string, err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("%s: %w", call, errno)
	}
	return fmt.Errorf("%s: %w", call, err)
}

// sinkBacked reports whether the sink pipe is at least half full: right
// after the ring's write went out, a sink still that full is what held
// the bytes back.
func (k *Link) sinkBacked() bool {
	held, err1 := unix.IoctlGetInt(k.dw.io, unix.TIOCINQ)
	size, err2 := unix.FcntlInt(uintptr(k.dw.io), unix.F_GETPIPE_SZ, 0)
	return err1 == nil && err2 == nil && 2*held >= size
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

// ringEnd is end's part for a link the ring carried. It reports whether a
// chain is still in flight: then what is queued and not yet submitted is
// disarmed (it names the fds by number, and their numbers are about to be
// freed), what was submitted is canceled at the loop's next sleep, and the
// link's OnDone waits for the chain's completion (ringFinal), which the
// sleeper keeps the link, and so its buffer, reachable for.
func (k *Link) ringEnd() (held bool) {
	u := k.ur
	if u == nil {
		return false
	}
	if u.on {
		u.on = false
		u.s.active--
	}
	u.s.blk.releaseFd(k.sw.io)
	if len(k.left) > 0 {
		k.stats.Dropped += uint64(len(k.left))
		k.left = nil
	}
	if !u.reading {
		u.s.freeID(u.id)
		return false
	}
	u.s.ring.Disarm(ringTag(u.id, tagWrite), ringTag(u.id, tagRead))
	u.s.cancel(u.id)
	u.s.ending++
	return true
}

// ringFinal takes the completion of a chain that outlived its link: the
// message it carried is counted — delivered if the chain reached its read,
// else dropped, and what that read took is dropped too — and the OnDone
// that end held back runs.
func (k *Link) ringFinal(req uint64, res int32) {
	u := k.ur
	u.s.freeID(u.id)
	u.s.ending--
	sent := u.wlen // the chain reached its read: the write went out
	if req == tagWrite {
		sent = max(int(res), 0)
	} else if res > 0 {
		k.stats.Dropped += uint64(res)
	}
	k.ringCredit(sent)
	k.stats.Dropped += uint64(u.wlen - sent)
	u.wlen = 0
	k.callDone()
}
