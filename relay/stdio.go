//go:build linux

package relay

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Stdio is what a stage gets as its stdin, stdout or stderr
// (PipelineConfig.Stdin, Stdout, Stderr).
//
// The zero Stdio is /dev/null, as a nil Stdin is for os/exec — never fd 0:
// a daemon started by inetd or by systemd socket activation has a client's
// socket there, and a stage's stderr must not reach that client.
type Stdio struct {
	fd  int  // the fd handed on; meaningful when set
	set bool // false: /dev/null
}

// Inherit is the Stdio for fd: the stage gets fd itself (duplicated to
// 0, 1 or 2 in the child), with no relay in between. Inherit(0),
// Inherit(1) and Inherit(2) hand on the daemon's own stdio, as a shell
// does. The caller keeps fd open until StartPipeline returns, and closes
// it when it likes: the stages hold their own copies.
func Inherit(fd int) Stdio { return Stdio{fd: fd, set: true} }

// Closed, as Inherit(Closed) for PipelineConfig.Stdin, Stdout or Stderr,
// starts the stage with that descriptor closed, as a shell's `<&-` or
// `>&-` does.
const Closed = -1

// FD returns the fd Inherit was given, and false for /dev/null.
func (s Stdio) FD() (int, bool) { return s.fd, s.set }

// String is "fd N", "closed" or "/dev/null".
func (s Stdio) String() string {
	if !s.set {
		return os.DevNull
	}
	if s.fd == Closed {
		return "closed"
	}
	return fmt.Sprintf("fd %d", s.fd)
}

// stdio is the three fds the stages of one pipeline inherit, resolved:
// /dev/null is opened once for those left unset, and closed by close once
// the stages have been spawned.
type stdio struct {
	in, out, err int
	null         int   // our /dev/null, or -1
	dups         []int // our copies of the caller's fds (keep)
}

// openStdio resolves cfg's Stdin, Stdout and Stderr. A Stdin replaced by
// In (or a Stdout by Out) needs no /dev/null.
func openStdio(cfg *PipelineConfig) (stdio, error) {
	s := stdio{null: -1}
	need := !cfg.Stderr.set || !cfg.Stdin.set && cfg.In == nil || !cfg.Stdout.set && cfg.Out == nil
	if need {
		fd, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return s, fmt.Errorf("stdio: %w", &os.PathError{Op: "open", Path: os.DevNull, Err: err})
		}
		s.null = fd
	}
	pick := func(x Stdio) int {
		if x.set {
			return x.fd
		}
		return s.null
	}
	s.in, s.out, s.err = pick(cfg.Stdin), pick(cfg.Stdout), pick(cfg.Stderr)
	return s, nil
}

// keep replaces the caller's fds among in, out and err with copies of
// ours (close-on-exec), for stages forked after StartPipeline returned:
// by then the caller may have closed its fds, as Inherit allows.
func (s *stdio) keep(cfg *PipelineConfig) error {
	for _, x := range []struct {
		fd  *int
		set bool
	}{{&s.in, cfg.Stdin.set && cfg.In == nil}, {&s.out, cfg.Stdout.set && cfg.Out == nil}, {&s.err, cfg.Stderr.set}} {
		if !x.set || *x.fd < 0 {
			continue
		}
		d, err := unix.FcntlInt(uintptr(*x.fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return fmt.Errorf("stdio: fd %d: %w", *x.fd, os.NewSyscallError("fcntl", err))
		}
		s.dups = append(s.dups, d)
		*x.fd = d
	}
	return nil
}

// handOff returns the fds close would close, and forgets them: the
// spawner closes them after forking.
func (s *stdio) handOff() []int {
	fds := s.dups
	s.dups = nil
	if s.null >= 0 {
		fds = append(fds, s.null)
		s.null = -1
	}
	return fds
}

func (s *stdio) close() {
	if s.null >= 0 {
		unix.Close(s.null)
		s.null = -1
	}
	closeFDs(s.dups)
	s.dups = nil
}
