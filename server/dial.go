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

// Dial connects to a without blocking the loop: connect(2) on a
// nonblocking socket answers EINPROGRESS, the loop watches the socket
// until it is writable, and SO_ERROR then says whether the connection was
// made. done runs on the loop goroutine, always later than Dial returns
// (never inside it), exactly once. timeout > 0 bounds the wait; the error
// is then ETIMEDOUT. a is a parsed address: resolve names with ParseAddr
// before, off the loop thread, since a DNS lookup blocks.
//
// Loop goroutine only (or before Run).
func Dial(l *loop.Loop, a Addr, timeout time.Duration, done DialFunc) {
	d := &dialer{l: l, a: a, done: done, fd: -1}
	family, sa := a.sockaddr()
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

// dialer is one connect in progress.
type dialer struct {
	l          *loop.Loop
	a          Addr
	fd         int // the socket; -1 once handed over or closed
	done       DialFunc
	registered bool        // fd is in the loop's epoll set
	timer      *loop.Timer // the timeout; nil without one
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

func (d *dialer) finishSoon(err error) { d.l.RunSoon(func() { d.finish(err) }) }

// finish hands the socket over, or closes it and reports err.
func (d *dialer) finish(err error) {
	if d.done == nil {
		return // the timeout and the event raced in one turn
	}
	if d.registered {
		d.l.Unregister(d.fd)
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
