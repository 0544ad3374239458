//go:build linux

package main

import (
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// terminatingSignals are the signals whose default action ends a process
// and that come from outside: the ones that would end a shell pipeline's
// processes. Left out are SIGKILL (it cannot be caught), SIGPIPE (pipeloop
// sees EPIPE instead), the faults a process raises on itself (SIGSEGV,
// SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT: the Go runtime's crash
// reports), SIGPROF (the Go runtime keeps it for its profiler and never
// passes it on, so pipeloop cannot act on it), 32 and 33, which C
// libraries keep for themselves, and 34, for which os/signal installs no
// handler on this runtime (checked: SigCgt lacks it after Notify).
//
// SIGUSR1 is left out too: it is the one caught signal that does not end
// pipeloop. As for dd, it asks for the counters: the --stats tables on
// stderr (statssignal.go), and pipeloop goes on; it is not passed on.
func terminatingSignals() []os.Signal {
	sigs := []os.Signal{
		unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR2, unix.SIGALRM,
		unix.SIGTERM, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGIO,
		unix.SIGPWR,
	}
	sigs = append(sigs, archSignals()...)
	for s := 35; s <= 64; s++ { // SIGRTMIN+1 as libc has it, to SIGRTMAX
		sigs = append(sigs, syscall.Signal(s))
	}
	return sigs
}

// notifyTerminating delivers every terminating signal to c, except those
// ignored when pipeloop started: a background job started without job
// control ignores SIGINT and SIGQUIT, nohup ignores SIGHUP, and pipeloop
// and its stages (which inherit SIG_IGN across exec) keep ignoring them.
func notifyTerminating(c chan<- os.Signal) {
	for _, s := range terminatingSignals() {
		if !signal.Ignored(s) {
			signal.Notify(c, s)
		}
	}
}

// dieOf ends pipeloop killed by sig, the status a shell pipeline has when
// its last stage dies of sig: the parent sees WIFSIGNALED, not an exit
// code of 128+N, which tells a shell script "interrupted" rather than
// "failed" (bash stops a script's loop on a child killed by SIGINT; see
// https://www.cons.org/cracauer/sigint.html). The Go runtime's handler is
// replaced by SIG_DFL directly (for SIGQUIT, signal.Reset would bring back
// the runtime's goroutine dump and exit 2), core dumps are turned off (a
// core of pipeloop would show nothing about the signal's sender), and the
// signal is sent to this very thread, unblocked, so it is delivered before
// tgkill returns. Only if that fails does dieOf exit with 128+N.
func dieOf(sig syscall.Signal) {
	runtime.LockOSThread()
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	var dfl [4]uint64 // struct sigaction, all zero: SIG_DFL, no flags, empty mask
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	var set unix.Sigset_t
	set.Val[(sig-1)/64] |= 1 << ((sig - 1) % 64)
	unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
	os.Exit(128 + int(sig))
}

// signalForwarder passes the terminating signals pipeloop receives to the
// loop and remembers the first one. It is kept apart from the loop because
// a signal can reach pipeloop as the loop stops: the terminal's ^C ends
// the stages, the loop reaps them and stops, and pipeloop's own SIGINT may
// still be on its way through the runtime; it must still decide how
// pipeloop ends.
type signalForwarder struct {
	sigs    <-chan os.Signal
	done    chan struct{}  // closed by stop
	stopped chan struct{}  // closed when run returns
	first   syscall.Signal // written by run; read after stop
}

func newSignalForwarder(sigs <-chan os.Signal) *signalForwarder {
	return &signalForwarder{sigs: sigs, done: make(chan struct{}), stopped: make(chan struct{})}
}

// run delivers each signal to fn on the loop goroutine until stop. Run it
// on its own goroutine.
func (f *signalForwarder) run(l *loop.Loop, fn func(syscall.Signal)) {
	defer close(f.stopped)
	for {
		select {
		case s := <-f.sigs:
			sig := s.(syscall.Signal)
			if f.first == 0 {
				f.first = sig
			}
			l.Post(func() { fn(sig) })
		case <-f.done:
			return
		}
	}
}

// stop ends run and returns the first signal received, if any (0).
func (f *signalForwarder) stop() syscall.Signal {
	close(f.done)
	<-f.stopped
	if f.first == 0 {
		select {
		case s := <-f.sigs:
			f.first = s.(syscall.Signal)
		default:
		}
	}
	return f.first
}

// await, after stop, waits up to d for sig to arrive and reports whether
// it did: for when the stages died of a signal pipeloop catches but has not
// seen yet, which is then most likely still in flight to it.
func (f *signalForwarder) await(sig syscall.Signal, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case s := <-f.sigs:
			if s == sig {
				f.first = sig
				return true
			}
		case <-t.C:
			return false
		}
	}
}

// catches reports whether pipeloop catches sig (see notifyTerminating).
func catches(sig syscall.Signal) bool {
	for _, s := range terminatingSignals() {
		if s == sig {
			return !signal.Ignored(s)
		}
	}
	return false
}
