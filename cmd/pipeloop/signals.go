//go:build linux

package main

import (
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// terminatingSignals are the signals whose default action ends a process
// and that come from outside: the ones that would end a shell pipeline's
// processes. Left out are SIGKILL (it cannot be caught), SIGPIPE (pipeloop
// sees EPIPE instead), the faults a process raises on itself (SIGSEGV,
// SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT: the Go runtime's crash
// reports), SIGPROF (the Go runtime keeps it for its profiler and never
// passes it on, so pipeloop cannot act on it) and 32 and 33, which C
// libraries keep for themselves.
func terminatingSignals() []os.Signal {
	sigs := []os.Signal{
		unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM,
		unix.SIGTERM, unix.SIGSTKFLT, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGIO,
		unix.SIGPWR,
	}
	for s := 34; s <= 64; s++ { // SIGRTMIN as libc has it, to SIGRTMAX
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
