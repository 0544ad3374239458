//go:build linux

package relay

import (
	"errors"
	"fmt"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// watch is one fd as the relay uses it: its epoll registration, shared by
// the link that reads the fd and the link that writes it (a socket relayed
// both ways, a terminal), and the fd's lifetime.
//
// The relay never changes the flags of an open file description it may
// share with other processes: O_NONBLOCK belongs to the description, so
// setting it on an inherited stdin or stdout makes every other process
// using it (a second writer into the same pipe, the shell's other jobs on
// the terminal) fail with EAGAIN, and a SIGKILL would leave it set. An fd
// already nonblocking is used as it is. A blocking one:
//
//	kind                             I/O goes through
//	pipe, FIFO, terminal             io: a private description of the same file (fdio.Reopen)
//	pipe that cannot be reopened     fd, every read and write with RWF_NOWAIT (fdops.PipeOps); splice preferred;
//	                                 the last resort once the kernel refuses RWF_NOWAIT (nowaitPipe)
//	socket                           fd, every call with MSG_DONTWAIT (fdops.SocketOps); copy, never splice
//	regular file, /dev/null, …       fd: never blocks (epoll refuses it: always ready)
//	other device, foreign terminal   fd, O_NONBLOCK set on the shared description and cleared when done
//
// A pipe cannot be reopened when its inode is another user's (pipeloop
// run as a user other than its parent's) or, for a write end, when every
// reader has gone (ENXIO). RWF_NOWAIT fails with EOPNOTSUPP on a
// description anyone has spliced (even a splice that failed), so such a
// pipe is spliced whenever the other end allows (SPLICE_F_NONBLOCK needs
// no flag on the description), never vmspliced, and once RWF_NOWAIT is
// refused it falls back to the last resort.
//
// The last row is the one case where the relay still changes a shared
// description's flags, because nothing else keeps a read from blocking
// the loop: a terminal another user owns (pipeloop run under setpriv or
// sudo -u on the caller's terminal) or holds in exclusive mode, another
// user's pipe that was spliced (above), or a device that must not be reopened
// because a new open is another stream (a pty master, /dev/kmsg, tun;
// fdio.ErrNotReopenable). It restores the flag when the last link is done;
// a SIGKILL leaves it set.
//
// Lifetime: when the last link using the watch is done, io is closed if it
// is private, and fd if any link owned it — once, and never while a link
// still uses it. So a socket that is one link's source and another's sink
// stays open until both are done, and its number cannot be reused by a new
// connection while a link may still write to it.
type watch struct {
	fd       int // the caller's fd; key of Relay.watches
	io       int // the fd links read, write and register: fd or private
	private  bool
	kind     fdio.Kind
	pollable bool      // false: epoll refused the fd (regular file…); always ready
	perCall  fdops.Ops // blocking and shared: per-call nonblocking Ops, or nil
	restore  bool      // O_NONBLOCK set on the shared description: clear it when done
	owned    bool      // a link owns fd: close it when the last user leaves
	reader   *Link     // link with this fd as source
	writer   *Link     // link with this fd as sink
}

// watchEvents is every watch's interest: both directions, edge-triggered.
const watchEvents = loop.Readable | loop.Writable | loop.PeerClosed | loop.EdgeTriggered

// HandleEvents forwards readiness to the links on this fd.
func (w *watch) HandleEvents(ev loop.Events) {
	if k := w.reader; k != nil && ev&(loop.Readable|loop.Hangup|loop.Error|loop.PeerClosed) != 0 {
		k.srcEvent(ev)
	}
	if k := w.writer; k != nil && ev&(loop.Writable|loop.Hangup|loop.Error) != 0 {
		k.dstEvent(ev)
	}
}

// ops returns the Ops a link uses on this fd: ops itself, or when ops is
// the kernel's, the per-call nonblocking ones or the raw ones (see raw).
func (w *watch) ops(ops fdops.Ops, made bool) fdops.Ops {
	if _, sys := ops.(fdops.Sys); sys {
		switch {
		case w.perCall != nil:
			return w.perCall
		case w.raw(made):
			return fdops.Raw{}
		}
	}
	return ops
}

// raw reports whether transfers on this fd may be raw system calls
// (fdops.Raw), which skip the Go runtime's blocking-system-call path: only
// when no call can block, that is when epoll watches io and its
// description is O_NONBLOCK and pipeloop's alone — private (Reopen), or
// made by the relay itself (a stage's pipe), so no other process can make
// it blocking again. Anything shared keeps the runtime's path — an fd
// that came nonblocking, one owned but inherited (pipeloop's stdin), the
// last resort's shared O_NONBLOCK (restore), which a shell's fg clears —
// since a raw read that blocks would hold the P and stall the whole
// program, garbage collector included. So does an unpollable fd: a
// regular file's read blocks on the disk whatever O_NONBLOCK says.
func (w *watch) raw(made bool) bool {
	return w.pollable && w.perCall == nil && !w.restore && (w.private || made)
}

// spliceable reports whether splice(2) may be used on this fd: not on a
// blocking socket, where it may block whatever its flags say.
func (w *watch) spliceable() bool {
	_, sock := w.perCall.(fdops.SocketOps)
	return !sock
}

// lendable reports whether the relay may vmsplice into this fd: not with
// per-call nonblocking writes, which a vmsplice would make fail (it clears
// the description's FMODE_NOWAIT, and a partial page still goes by write).
func (w *watch) lendable() bool { return w.perCall == nil }

// attach registers fd for link k in the given role.
func (r *Relay) attach(fd int, k *Link, asReader, shared bool) (*watch, error) {
	w := r.watches[fd]
	if w == nil {
		var err error
		if w, err = r.newWatch(fd, shared); err != nil {
			return nil, err
		}
		r.watches[fd] = w
	}
	if asReader {
		if w.reader != nil {
			return nil, fmt.Errorf("fd %d is already a link's source", fd)
		}
		w.reader = k
	} else {
		if w.writer != nil {
			return nil, fmt.Errorf("fd %d is already a link's sink", fd)
		}
		w.writer = k
	}
	return w, nil
}

// newWatch classifies fd, finds a nonblocking way to use it and registers
// it with the loop.
func (r *Relay) newWatch(fd int, shared bool) (*watch, error) {
	kind, err := fdio.KindOf(fd)
	if err != nil {
		return nil, err
	}
	w := &watch{fd: fd, io: fd, kind: kind, pollable: kind != fdio.KindFile}
	if !w.pollable {
		return w, nil
	}
	lastResort, err := w.nonblocking(shared)
	if err != nil {
		return nil, err
	}
	err = r.l.Register(w.io, watchEvents, w)
	switch {
	case errors.Is(err, unix.EPERM):
		w.pollable = false // epoll cannot watch it (/dev/null and friends): always ready
	case err != nil:
		w.closePrivate()
		return nil, err
	case lastResort:
		// Pollable, blocking and not to be reopened: the last resort.
		if err := w.lastResort(); err != nil {
			r.l.Unregister(w.io)
			return nil, err
		}
	}
	return w, nil
}

// nonblocking picks how w does nonblocking I/O (see the table on watch).
// An fd already nonblocking is used as it is unless it is shared
// (Endpoint.Shared). lastResort reports that the shared description itself
// must be made nonblocking, if epoll can watch the fd at all.
func (w *watch) nonblocking(shared bool) (lastResort bool, err error) {
	nb, err := fdio.IsNonblock(w.fd)
	if err != nil || nb && !shared {
		return false, err
	}
	if w.kind == fdio.KindSocket {
		w.perCall = fdops.SocketOps{}
		return false, nil
	}
	pfd, err := fdio.Reopen(w.fd)
	switch {
	case err == nil:
		w.io, w.private = pfd, true
		return false, nil
	case w.kind == fdio.KindPipe:
		w.perCall = nowaitPipe{w}
		return false, nil
	case nb:
		return false, nil // shared but nonblocking already, and no better way: as it is
	case errors.Is(err, fdio.ErrNotReopenable), errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM),
		errors.Is(err, unix.EBUSY): // a terminal in exclusive mode (TIOCEXCL)
		return true, nil
	default:
		return false, fmt.Errorf("private nonblocking description (the shared one is left blocking): %w", err)
	}
}

// detach drops link k's role on w; the last user unregisters it and closes
// what it must.
func (r *Relay) detach(w *watch, k *Link) {
	if w == nil {
		return
	}
	if w.reader == k {
		w.reader = nil
	}
	if w.writer == k {
		w.writer = nil
	}
	if w.reader != nil || w.writer != nil {
		return
	}
	if w.pollable {
		r.l.Unregister(w.io)
	}
	delete(r.watches, w.fd)
	w.closePrivate()
	if w.restore {
		fdio.SetNonblock(w.fd, false)
	}
	if w.owned {
		unix.Close(w.fd)
	}
}

func (w *watch) closePrivate() {
	if w.private {
		unix.Close(w.io)
		w.private = false
	}
}

// closeOwned closes an fd a link was meant to own but never took: at once
// if no link uses it, else when the last one is done.
func (r *Relay) closeOwned(fd int) {
	if w := r.watches[fd]; w != nil {
		w.owned = true
		return
	}
	unix.Close(fd)
}
