package loop

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ProcessState is how a watched child ended.
type ProcessState struct {
	Pid    int
	Status unix.WaitStatus // from wait4
	Rusage unix.Rusage     // the child's own resource usage
	At     time.Time       // when the loop reaped it
}

// ExitCode is the shell-style status: the exit code, or 128+N when killed
// by signal N.
func (s *ProcessState) ExitCode() int {
	if s.Status.Signaled() {
		return 128 + int(s.Status.Signal())
	}
	return s.Status.ExitStatus()
}

// Process is a child process whose exit the loop watches through a pidfd.
type Process struct {
	Pid    int
	l      *Loop
	pidfd  int // owned by the loop until release
	onExit func(*ProcessState)
	state  *ProcessState
}

// WatchProcess registers the child pid with the loop. pidfd is the child's
// pidfd (from SysProcAttr.PidFD or pidfd_open), or -1 to open one here. The
// loop takes ownership of pidfd. When the child exits the loop reaps it with
// wait4 (so no SIGCHLD handler and no extra thread are needed) and calls
// onExit on the loop goroutine. Loop goroutine only.
//
// The caller must not reap pid itself. If the loop stops before the child
// exits, the pidfd is closed and the child is left for the caller to reap.
func (l *Loop) WatchProcess(pid, pidfd int, onExit func(*ProcessState)) (*Process, error) {
	l.mustOnLoop("WatchProcess")
	if err := l.usable(); err != nil {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		return nil, err
	}
	if pidfd < 0 {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return nil, fmt.Errorf("watch pid %d: %w", pid, os.NewSyscallError("pidfd_open", err))
		}
		pidfd = fd
	}
	p := &Process{Pid: pid, l: l, pidfd: pidfd, onExit: onExit}
	if err := l.Register(pidfd, Readable, HandlerFunc(func(Events) { p.Reap() })); err != nil {
		unix.Close(pidfd)
		return nil, fmt.Errorf("watch pid %d: %w", pid, err)
	}
	l.procs[p] = struct{}{}
	return p, nil
}

// Reap reaps the child if it has exited, and then runs onExit; the loop
// calls it when the pidfd becomes readable. A caller that knows the child
// has exited (waitid with WNOWAIT) calls it to have onExit run now rather
// than at the loop's next turn. It never waits, and does nothing once the
// child is reaped. Loop goroutine only.
func (p *Process) Reap() {
	if p.state != nil {
		return
	}
	var ws unix.WaitStatus
	var ru unix.Rusage
	for {
		wpid, err := unix.Wait4(p.Pid, &ws, unix.WNOHANG, &ru)
		if err == unix.EINTR {
			continue
		}
		if err != nil || wpid != p.Pid {
			// Not reapable yet (or reaped behind our back: ECHILD).
			if errors.Is(err, unix.ECHILD) {
				// Reaped behind our back: the status is unknown, so report
				// it as a failure (exit 255) rather than as success.
				p.finish(&ProcessState{Pid: p.Pid, Status: unix.WaitStatus(255 << 8), At: time.Now()})
			}
			return
		}
		break
	}
	p.l.stats.Reaped++
	p.finish(&ProcessState{Pid: p.Pid, Status: ws, Rusage: ru, At: time.Now()})
}

func (p *Process) finish(st *ProcessState) {
	p.state = st
	p.release()
	if p.onExit != nil {
		p.onExit(st)
	}
}

// release unregisters and closes the pidfd.
func (p *Process) release() {
	if p.pidfd < 0 {
		return
	}
	p.l.Unregister(p.pidfd)
	unix.Close(p.pidfd)
	p.pidfd = -1
	delete(p.l.procs, p)
}

// Exited reports whether the child has been reaped; its state if so.
func (p *Process) Exited() (*ProcessState, bool) { return p.state, p.state != nil }

// Signal sends sig to the child through its pidfd, so it can never hit a
// recycled pid. Signalling a child that has already been reaped is a no-op.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.pidfd < 0 {
		if p.state == nil {
			return ErrClosed // released by a stopped loop, not reaped
		}
		return nil
	}
	err := unix.PidfdSendSignal(p.pidfd, sig, nil, 0)
	if err == nil || err == unix.ESRCH {
		return nil
	}
	return os.NewSyscallError("pidfd_send_signal", err)
}
