//go:build linux

package relay

import (
	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
)

// The small-message path.
//
// A link that carries small messages (a request, a keystroke, a 64-byte
// ping) pays for them differently from a bulk one. splice moves the
// source pipe's buffer — a page — into the sink pipe, so the writer
// upstream cannot append its next message to that page and the kernel
// allocates, charges and frees a page per message; read and write copy 64
// bytes and leave the pages where they are. And an edge-triggered source
// must be read until EAGAIN (a short read does not prove a packet-mode
// pipe empty), one more system call per message.
//
// So after smallAfter consecutive transfers below smallMax bytes a link
// whose source is a pipe switches to the small path: it copies through
// its ring, and its source is watched level-triggered, so one read per
// wake-up is enough — anything left makes the next epoll_wait report the
// source again. Per message: epoll_wait, read, write.
//
// It leaves the path — source back to edge-triggered, read to EAGAIN —
// when a read fills smallMax bytes (bulk again) or when the ring holds
// bytes the sink refused (backpressure: a level-triggered source with
// data would wake the loop for as long as the sink stays full). A link
// that spliced before splices again once its ring has drained, so no byte
// is reordered.
//
// Invariant: small is set only while the source's watch is registered
// level-triggered, and the source's watch then serves no sink (sw.writer
// is nil: Writable is not watched while small).
const (
	smallMax   = 4096 // a transfer moving fewer bytes is a small message
	smallAfter = 4    // consecutive small transfers before a link switches
)

// smallEvents is a small link's source interest set: level-triggered.
const smallEvents = loop.Readable | loop.PeerClosed

// smallCapable reports whether the link may take the small path: a
// pipe source watched by epoll that only this link uses, pipe semantics
// (the kernel's own Ops), no transform, and a mode that may copy.
func (k *Link) smallCapable() bool {
	sw := k.sw
	return (k.auto || !k.splice) && k.kernelOps && k.xf == nil && sw.kind == fdio.KindPipe &&
		sw.pollable && sw.perCall == nil && !sw.restore && sw.writer == nil && k.dw != sw
}

// noteTransfer counts a transfer of n > 0 bytes from the source toward the
// switch to the small path, and makes the switch after smallAfter small
// ones in a row.
func (k *Link) noteTransfer(n int) {
	if n >= smallMax {
		k.smallRun = 0
		return
	}
	if k.smallRun++; k.smallRun >= smallAfter && !k.small && k.smallCapable() {
		k.enterSmall()
	}
}

// enterSmall switches the link to the small path. If epoll refuses the
// change the link simply stays where it is.
func (k *Link) enterSmall() {
	if err := k.r.l.Modify(k.sw.io, smallEvents); err != nil {
		k.smallRun = 0
		return
	}
	k.small = true
	k.resplice = k.splice
	k.splice = false
	// A short splice cleared both flags without knowing which end
	// blocked; the copy path needs them right: an EAGAIN will tell.
	k.srcReady, k.dstReady = true, true
}

// leaveSmall puts the source back to edge-triggered and reads it to
// EAGAIN from here on; a link that spliced splices again once its ring
// has drained (pumpCopy stops there, move switches).
func (k *Link) leaveSmall() {
	k.small, k.smallRun = false, 0
	k.srcReady = true // no edge may come for what is already there
	if err := k.r.l.Modify(k.sw.io, watchEvents); err != nil {
		k.fail(k.src, err)
	}
}

// smallRead is pumpCopy's rule for a read of n > 0 bytes on the small
// path: a full read leaves it (bulk again); a short one ends reading for
// this wake-up, since level-triggered epoll reports what is left.
func (k *Link) smallRead(n int) {
	if n >= smallMax {
		k.leaveSmall()
		return
	}
	k.srcReady = false
}

// smallHeld leaves the small path when the ring holds bytes the sink
// refused: see the backpressure rule above.
func (k *Link) smallHeld() {
	if k.small && !k.done && !k.dstReady && k.ring != nil && !k.ring.Empty() {
		k.leaveSmall()
	}
}

// resumeSplice reports whether a link that left the small path may splice
// again: its ring has drained. It makes the switch.
func (k *Link) resumeSplice() bool {
	if !k.resplice || k.small || k.ring != nil || k.done {
		return false
	}
	k.resplice, k.splice = false, true
	return true
}
