//go:build linux

package server

import (
	"fmt"
	"os"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// DialFunc receives Dial's outcome: a connected nonblocking close-on-exec
// socket that the callee now owns, or an error (and fd -1).
type DialFunc func(fd int, err error)

// A Dialer makes nonblocking connects on one loop (see Dial) and answers
// those still in progress when the loop stops. It is one object per loop,
// not a hook per dial, so a long-running proxy's dials leave nothing
// behind in the loop. Loop goroutine only (or before Run).
type Dialer struct {
	l       *loop.Loop
	pending map[*dialer]struct{} // dials whose done has not run yet
	stopped bool                 // the loop has stopped: no more dials
}

// NewDialer returns a Dialer for l. It registers one loop.OnStop hook:
// when the loop stops, every dial still pending (connecting, or its
// outcome not yet delivered) closes its socket and calls done with an
// error wrapping os.ErrClosed. Loop goroutine only, or before Run.
func NewDialer(l *loop.Loop) *Dialer {
	dl := &Dialer{l: l, pending: make(map[*dialer]struct{})}
	l.OnStop(dl.stop)
	return dl
}

// Dial connects to a without blocking the loop: connect(2) on a
// nonblocking socket answers EINPROGRESS, the loop watches the socket
// until it is writable, and SO_ERROR then says whether the connection was
// made. timeout > 0 bounds the wait; the error is then ETIMEDOUT. a is a
// parsed address: resolve names with ParseAddr before, off the loop
// thread, since a DNS lookup blocks.
//
// When Dial returns nil, done runs exactly once, on the loop goroutine,
// always later than Dial returns (never inside it): with the socket, or
// with an error and fd -1 — one wrapping os.ErrClosed if the loop stopped
// first. Dial returns an error, and done never runs, only when dl cannot
// dial at all: a zero Dialer, or one whose loop has stopped.
//
// Loop goroutine only (or before Run).
func (dl *Dialer) Dial(a Addr, timeout time.Duration, done DialFunc) error {
	switch {
	case dl == nil || dl.l == nil:
		return fmt.Errorf("dial %s: %w", a, zeroErr("Dialer", "NewDialer"))
	case dl.stopped:
		return fmt.Errorf("dial %s: %w", a, loop.ErrClosed)
	}
	d := &dialer{dl: dl, a: a, done: done, fd: -1}
	dl.pending[d] = struct{}{}
	d.start(timeout)
	return nil
}

// stop answers the dials still pending when the loop stops.
func (dl *Dialer) stop() {
	dl.stopped = true
	for d := range dl.pending {
		d.finish(fmt.Errorf("loop stopped: %w", loop.ErrClosed))
	}
}

// dialer is one connect in progress.
type dialer struct {
	dl         *Dialer
	a          Addr
	fd         int // the socket; -1 once handed over or closed
	done       DialFunc
	registered bool        // fd is in the loop's epoll set
	timer      *loop.Timer // the timeout; nil without one
}

// start makes the socket and begins the connect.
func (d *dialer) start(timeout time.Duration) {
	l := d.dl.l
	family, sa := d.a.sockaddr()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		d.finishSoon(os.NewSyscallError("socket", err))
		return
	}
	d.fd = fd
	switch err := unix.Connect(fd, sa); err {
	case nil:
		d.finishSoon(nil)
		return
	case unix.EINPROGRESS:
	default:
		d.finishSoon(os.NewSyscallError("connect", err))
		return
	}
	if err := l.Register(fd, loop.Writable, d); err != nil {
		d.finishSoon(err)
		return
	}
	d.registered = true
	if timeout > 0 {
		d.timer = l.AfterFunc(timeout, func() { d.finish(os.NewSyscallError("connect", unix.ETIMEDOUT)) })
	}
}

// HandleEvents: writable (or an error or hang-up) means connect finished.
func (d *dialer) HandleEvents(loop.Events) {
	soerr, err := unix.GetsockoptInt(d.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case err != nil:
		d.finish(os.NewSyscallError("getsockopt(SO_ERROR)", err))
	case soerr != 0:
		d.finish(os.NewSyscallError("connect", unix.Errno(soerr)))
	default:
		d.finish(nil)
	}
}

// finishSoon delivers the outcome on a later turn; should the loop stop
// first, Dialer.stop delivers ErrClosed instead and this does nothing.
func (d *dialer) finishSoon(err error) { d.dl.l.RunSoon(func() { d.finish(err) }) }

// finish hands the socket over, or closes it and reports err. Only the
// first call counts: the timeout, the event, a RunSoon and the loop's
// stop may all race within one turn.
func (d *dialer) finish(err error) {
	if d.done == nil {
		return
	}
	delete(d.dl.pending, d)
	if d.registered {
		d.dl.l.Unregister(d.fd)
	}
	if d.timer != nil {
		d.timer.Stop()
	}
	fd, done := d.fd, d.done
	d.fd, d.done = -1, nil
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		done(-1, fmt.Errorf("dial %s: %w", d.a, err))
		return
	}
	done(fd, nil)
}
