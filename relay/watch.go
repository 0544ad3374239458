package relay

import (
	"errors"
	"fmt"

	"github.com/pipeloop/pipeloop/fdio"
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
//	kind                          I/O goes through
//	pipe, FIFO, terminal, device  io: a private description of the same file (fdio.Reopen)
//	pipe that cannot be reopened  fd, every call with RWF_NOWAIT (fdio.PipeOps); copy, never splice
//	socket                        fd, every call with MSG_DONTWAIT (fdio.SocketOps); copy, never splice
//	regular file                  fd (never blocks in epoll's sense; not pollable)
//
// A pipe cannot be reopened when its inode is another user's (pipeloop
// run as a user other than its parent's) or, for a write end, when every
// reader has gone (ENXIO). A terminal or device that cannot be reopened
// is refused with an error: nothing would keep it from blocking the loop.
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
	pollable bool     // false: epoll refused the fd (regular file…); always ready
	perCall  fdio.Ops // blocking and shared: per-call nonblocking Ops, or nil
	owned    bool     // a link owns fd: close it when the last user leaves
	reader   *Link    // link with this fd as source
	writer   *Link    // link with this fd as sink
}

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
func (w *watch) ops(ops fdio.Ops, owned bool) fdio.Ops {
	if _, sys := ops.(fdio.Sys); sys {
		switch {
		case w.perCall != nil:
			return w.perCall
		case w.raw(owned):
			return fdio.Raw{}
		}
	}
	return ops
}

// raw reports whether transfers on this fd may be raw system calls
// (fdio.Raw), which skip the Go runtime's blocking-system-call path: only
// when no call can block, that is when epoll watches io and its
// description is O_NONBLOCK and pipeloop's alone — private (Reopen), or
// owned by the link (pipeloop made it: a stage's pipe, an accepted
// connection), so no other process can make it blocking again. An fd that
// was nonblocking when it came but is shared keeps the runtime's path, and
// so does an unpollable one: a regular file's read blocks on the disk
// whatever O_NONBLOCK says.
func (w *watch) raw(owned bool) bool {
	return w.pollable && w.perCall == nil && (w.private || owned)
}

// spliceable reports whether splice(2) and vmsplice(2) may be used on
// this fd. Not with per-call nonblocking I/O: on a blocking socket they
// may block whatever their flags say, and on a pipe they clear the
// description's FMODE_NOWAIT, after which RWF_NOWAIT answers EOPNOTSUPP.
func (w *watch) spliceable() bool { return w.perCall == nil }

// attach registers fd for link k in the given role.
func (r *Relay) attach(fd int, k *Link, asReader bool) (*watch, error) {
	w := r.watches[fd]
	if w == nil {
		var err error
		if w, err = r.newWatch(fd); err != nil {
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
func (r *Relay) newWatch(fd int) (*watch, error) {
	kind, err := fdio.KindOf(fd)
	if err != nil {
		return nil, err
	}
	w := &watch{fd: fd, io: fd, kind: kind, pollable: kind != fdio.KindFile}
	if !w.pollable {
		return w, nil
	}
	if err := w.nonblocking(); err != nil {
		return nil, err
	}
	err = r.l.Register(w.io, loop.Readable|loop.Writable|loop.PeerClosed|loop.EdgeTriggered, w)
	if err != nil {
		if !errors.Is(err, unix.EPERM) {
			w.closePrivate()
			return nil, err
		}
		w.pollable = false // epoll cannot watch it (/dev/null and friends): always ready
	}
	return w, nil
}

// nonblocking picks how w does nonblocking I/O (see the table on watch).
func (w *watch) nonblocking() error {
	nb, err := fdio.IsNonblock(w.fd)
	if err != nil || nb {
		return err
	}
	if w.kind == fdio.KindSocket {
		w.perCall = fdio.SocketOps{}
		return nil
	}
	pfd, err := fdio.Reopen(w.fd)
	switch {
	case err == nil:
		w.io, w.private = pfd, true
		return nil
	case w.kind == fdio.KindPipe:
		w.perCall = fdio.PipeOps{}
		return nil
	default:
		return fmt.Errorf("private nonblocking description (the shared one is left blocking): %w", err)
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
