//go:build linux

package loop

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// rawWaitMS bounds a raw epoll_wait (see wait), in milliseconds.
	rawWaitMS = 1
	// rawPause is how long the loop sleeps only through the runtime after
	// a signal interrupted a raw sleep (see wait).
	rawPause = 2 * time.Millisecond
)

// wait is the loop's epoll_wait. It returns the number of events in
// l.events, or EINTR, or another error.
//
// While traffic flows it sleeps raw (unix.RawSyscall6): the Go runtime does
// not see the thread enter the kernel, so there is no entersyscall or
// exitsyscall, and sysmon never retakes the goroutine's P while it sleeps.
// Through the runtime's path a sleep longer than one sysmon tick (20 µs)
// loses the P: sysmon hands it off and, with GOMAXPROCS=1 (a pinned
// pipeloop), wakes a spinning thread to look for work, so every 64-byte
// message between two relays cost ~0.4 sysmon wake-ups and ~0.3 extra
// thread wake-ups on the loop's CPU, and the loop re-acquired its P on the
// slow path (docs/bench/README.md, "Where the time goes").
//
// A raw sleep keeps the P, so it must stay short and interruptible:
//   - It lasts at most rawWaitMS (1 ms). A loop with nothing to do for
//     that long goes on sleeping through the runtime's path, where the P is
//     handed to any goroutine that needs it.
//   - The runtime stops a running goroutine — for a garbage collection's
//     stop-the-world or stack scan, or sysmon's preemption after 10 ms —
//     by signalling its thread, and a signal ends epoll_wait with EINTR
//     whatever SA_RESTART says (signal(7)). After EINTR the loop polls
//     through the runtime's path — entersyscall lets a stop-the-world take
//     the P, and on return the goroutine meets the preemption request at
//     its next function call — and sleeps only through it for rawPause
//     (2 ms): long enough for a garbage collection's mark phase, which
//     needs the P between its two stops, to run as it would without raw
//     sleeps; short enough that the sysmon preemption every 10 ms of a
//     busy loop costs little.
//   - Callers that need other goroutines to run promptly while the loop is
//     busy (a transform's worker, with a single P) turn raw sleeps off with
//     Cooperate.
//
// So a goroutine that needs the loop's P waits at most ~1 ms while the loop
// is idle and at most sysmon's 10 ms preemption while it is busy; a garbage
// collection waits one signal delivery (loop/wait_test.go).
func (l *Loop) wait(timeout int) (int, error) {
	if timeout == 0 || (l.cooperate == 0 && !l.noRaw && !l.now.Before(l.rawFrom)) {
		t := timeout
		if t < 0 || t > rawWaitMS {
			t = rawWaitMS
		}
		l.stats.RawWaits++
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.ep),
			uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), uintptr(t), 0, 0)
		switch {
		case e == 0 && (r > 0 || t == timeout):
			return int(r), nil // events, or the caller's own timeout passed
		case e == unix.EINTR:
			timeout = 0 // a signal: give the runtime its safe point, then come back
			l.rawFrom = time.Now().Add(rawPause)
		case e != 0:
			return 0, e
		case timeout > 0:
			timeout -= t // rawWaitMS passed with nothing to do
		}
	}
	return unix.EpollWait(l.ep, l.events, timeout)
}

// Cooperate(true) makes the loop sleep only through the Go runtime's
// blocking-system-call path, where sysmon hands its P to other goroutines
// within ~20 µs, until a matching Cooperate(false): for a caller whose
// other goroutines must run promptly while the loop is busy, such as a
// transform worker that shares a single P with the loop. Calls nest.
// Loop goroutine only.
func (l *Loop) Cooperate(on bool) {
	if on {
		l.cooperate++
	} else if l.cooperate > 0 {
		l.cooperate--
	}
}
