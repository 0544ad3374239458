//go:build linux

package server

import (
	"fmt"
	"os"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// ListenConfig tunes Listen. The zero value is a sensible default.
type ListenConfig struct {
	// Backlog is the listen(2) backlog: connections the kernel completes
	// and queues while the server is not accepting (at its connection
	// limit, say). The kernel caps it at net.core.somaxconn. Default 4096.
	Backlog int
	// AcceptBatch bounds the connections accepted per readiness event, so
	// a burst of new clients cannot starve open connections. Default 16.
	AcceptBatch int
}

// AcceptFunc receives an accepted connection: a nonblocking, close-on-exec
// socket that the callee now owns, and the peer's address.
type AcceptFunc func(fd int, peer unix.Sockaddr)

// Listener is a nonblocking listening socket served by a loop. Accepting is
// level-triggered: while connections wait and the listener is not paused,
// the loop calls accept4 up to AcceptBatch times per wake-up.
//
// All methods but Addr and FD are for the loop goroutine (or before Run).
type Listener struct {
	fd       int  // listening socket, owned while open
	open     bool // fd is ours: set by the constructors, cleared by Close; false in a zero Listener, whose fd 0 is not ours
	addr     Addr // bound address (the real port when 0 was asked)
	batch    int  // accepts per wake-up: ≥ 1 in a Listener made by Listen/ListenFD, 0 in a zero one
	l        *loop.Loop
	onAccept AcceptFunc
	onError  func(error)
	serving  bool        // Serve was called
	paused   bool        // the owner's Pause is in force
	full     bool        // the Server is at MaxConns (hold); separate from paused so neither lifts the other
	watching bool        // the fd's interest includes Readable
	retry    *loop.Timer // re-enables accepting after EMFILE and the like
	backoff  bool        // accepting is suspended until retry fires
	unlink   bool        // remove addr.Path when closing
	accepted uint64
}

// Listen creates a listening socket for addr (see ParseAddr). A stale unix
// socket file — one nobody listens on — is replaced. "systemd",
// "systemd:NAME" and "fd:N" adopt an inherited socket instead (see
// ListenFD and activation.go).
func Listen(addr string, cfg ListenConfig) (*Listener, error) {
	if ln, ok, err := listenInherited(addr, cfg); ok {
		return ln, err
	}
	a, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	return ListenAddr(a, cfg)
}

// ListenAddr is Listen for a parsed address.
func ListenAddr(a Addr, cfg ListenConfig) (ln *Listener, err error) {
	if cfg.Backlog <= 0 {
		cfg.Backlog = 4096
	}
	if cfg.AcceptBatch <= 0 {
		cfg.AcceptBatch = 16
	}
	family, sa := a.sockaddr()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", a, os.NewSyscallError("socket", err))
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return nil, fmt.Errorf("listen %s: %w", a, os.NewSyscallError("setsockopt(SO_REUSEADDR)", err))
		}
	}
	err = unix.Bind(fd, sa)
	if err == unix.EADDRINUSE && family == unix.AF_UNIX && staleUnixSocket(a.Path) {
		os.Remove(a.Path)
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", a, os.NewSyscallError("bind", err))
	}
	if err := unix.Listen(fd, cfg.Backlog); err != nil {
		return nil, fmt.Errorf("listen %s: %w", a, os.NewSyscallError("listen", err))
	}
	if family != unix.AF_UNIX && a.Port == 0 {
		if got, err := unix.Getsockname(fd); err == nil {
			switch got := got.(type) {
			case *unix.SockaddrInet4:
				a.Port = got.Port
			case *unix.SockaddrInet6:
				a.Port = got.Port
			}
		}
	}
	return &Listener{fd: fd, open: true, addr: a, batch: cfg.AcceptBatch, unlink: family == unix.AF_UNIX}, nil
}

// staleUnixSocket reports whether path is a socket file nobody accepts on.
func staleUnixSocket(path string) bool {
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&os.ModeSocket == 0 {
		return false
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Connect(fd, &unix.SockaddrUnix{Name: path}) == unix.ECONNREFUSED
}

// Addr is the bound address, with the real port when port 0 was asked for
// (the zero Addr for a zero or nil Listener).
func (ln *Listener) Addr() Addr {
	if ln == nil {
		return Addr{}
	}
	return ln.addr
}

// FD is the listening socket; -1 once closed, and for a zero Listener.
func (ln *Listener) FD() int {
	if ln == nil || !ln.open {
		return -1
	}
	return ln.fd
}

// Accepted is the number of connections accepted so far.
func (ln *Listener) Accepted() uint64 { return ln.accepted }

// Serve registers the listener with l (level-triggered) and hands every
// accepted connection to onAccept on the loop goroutine. onError, if not
// nil, hears of accept errors that suspend accepting (EMFILE, ENFILE,
// ENOBUFS, ENOMEM: accepting resumes 100 ms later). Loop goroutine only.
func (ln *Listener) Serve(l *loop.Loop, onAccept AcceptFunc, onError func(error)) error {
	switch {
	case ln == nil || !ln.made():
		return fmt.Errorf("serve: %w", zeroErr("Listener", "Listen"))
	case !ln.open:
		return fmt.Errorf("serve %s: %w", ln.addr, os.ErrClosed)
	}
	if ln.serving {
		return fmt.Errorf("serve %s: already serving", ln.addr)
	}
	ln.l, ln.onAccept, ln.onError = l, onAccept, onError
	if err := l.Register(ln.fd, ln.interest(), loop.HandlerFunc(ln.handle)); err != nil {
		return fmt.Errorf("serve %s: %w", ln.addr, err)
	}
	ln.serving = true
	ln.watching = ln.interest() != 0
	return nil
}

// made reports whether a constructor made ln (open or closed since),
// rather than it being a zero Listener.
func (ln *Listener) made() bool { return ln.batch > 0 }

func (ln *Listener) interest() loop.Events {
	if !ln.accepting() {
		return 0
	}
	return loop.Readable
}

// update brings the epoll interest in line with paused and backoff: a
// listener that is not accepting must not be reported readable, or a
// level-triggered loop would spin.
func (ln *Listener) update() {
	if !ln.serving || !ln.open {
		return
	}
	ev := ln.interest()
	if want := ev != 0; want != ln.watching {
		if ln.l.Modify(ln.fd, ev) == nil {
			ln.watching = want
		}
	}
}

// accepting reports whether nothing holds accepting back: Pause, the
// Server's connection cap, or a backoff after EMFILE and the like.
func (ln *Listener) accepting() bool { return !ln.paused && !ln.full && !ln.backoff }

// Pause stops accepting: new connections wait in the kernel's backlog.
// It is the owner's own pause (maintenance, load shedding): a Server that
// stops accepting at Config.MaxConns keeps its reason apart, so a
// connection ending below the cap does not undo Pause, and Resume does not
// lift the cap.
func (ln *Listener) Pause() {
	if ln != nil {
		ln.paused = true
		ln.update()
	}
}

// Resume undoes Pause; accepting resumes unless the Server is at its cap.
func (ln *Listener) Resume() {
	if ln != nil {
		ln.paused = false
		ln.update()
	}
}

// Paused reports whether Pause is in force (not the Server's cap: see
// Stats.Paused for whether the server accepts).
func (ln *Listener) Paused() bool { return ln != nil && ln.paused }

// hold is the Server's own pause at its connection cap.
func (ln *Listener) hold(full bool) { ln.full = full; ln.update() }

// handle accepts up to the batch size.
func (ln *Listener) handle(loop.Events) {
	for range ln.batch {
		if !ln.accepting() || !ln.open {
			return // onAccept paused or closed us
		}
		fd, sa, err := unix.Accept4(ln.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
			ln.accepted++
			ln.onAccept(fd, sa)
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR || err == unix.ECONNABORTED || err == unix.EPROTO:
			// The connection died in the backlog; try the next.
		case err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM:
			// Out of fds or memory: back off rather than spin on a
			// listener that stays readable.
			ln.backoff = true
			ln.update()
			if ln.retry == nil {
				ln.retry = ln.l.AfterFunc(acceptBackoff, ln.endBackoff)
			} else {
				ln.retry.Reset(acceptBackoff)
			}
			if ln.onError != nil {
				ln.onError(fmt.Errorf("accept %s: %w (pausing %v)", ln.addr, os.NewSyscallError("accept4", err), acceptBackoff))
			}
			return
		default:
			if ln.onError != nil {
				ln.onError(fmt.Errorf("accept %s: %w", ln.addr, os.NewSyscallError("accept4", err)))
			}
			return
		}
	}
}

// acceptBackoff is how long accepting stays suspended after EMFILE & co.
const acceptBackoff = 100 * time.Millisecond

func (ln *Listener) endBackoff() { ln.backoff = false; ln.update() }

// Close stops accepting and closes the socket; connections still in the
// backlog are reset by the kernel. A unix socket's file is removed.
// Closing twice does nothing. Close on a zero or nil Listener returns an
// error wrapping os.ErrInvalid and closes nothing: its fd field is 0, and
// fd 0 is somebody else's (under inetd, the client).
func (ln *Listener) Close() error {
	switch {
	case ln == nil || !ln.made():
		return fmt.Errorf("close: %w", zeroErr("Listener", "Listen"))
	case !ln.open:
		return nil
	}
	if ln.retry != nil {
		ln.retry.Stop()
	}
	if ln.serving {
		ln.l.Unregister(ln.fd)
	}
	err := unix.Close(ln.fd)
	ln.fd, ln.open = -1, false
	if ln.unlink {
		os.Remove(ln.addr.Path)
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", ln.addr, os.NewSyscallError("close", err))
	}
	return nil
}
