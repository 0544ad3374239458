//go:build linux

package loop

import (
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawPause is how long the loop sleeps only through the runtime after a
// signal interrupted a raw sleep (see wait).
const rawPause = 2 * time.Millisecond

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
// A raw sleep keeps the P, so it must end when the runtime needs the P:
//   - The runtime stops a running goroutine — for a garbage collection's
//     stop-the-world or stack scan, or sysmon's preemption after 10 ms on
//     the P — by signalling its thread, and a signal ends epoll_wait with
//     EINTR whatever SA_RESTART says (signal(7)). After EINTR the loop polls
//     through the runtime's path — entersyscall lets a stop-the-world take
//     the P, and on return the goroutine meets the preemption request at
//     its next function call — and sleeps only through it for rawPause
//     (2 ms), long enough for a collection's mark phase, which needs the P
//     between its two stops, and until the next event: an idle loop is
//     interrupted once and then sleeps where sysmon can hand its P away.
//   - Without those signals (GODEBUG=asyncpreemptoff=1) nothing could end
//     an idle raw sleep, so there is none (New).
//   - The sleep takes the caller's timeout as it is: a cap would arm a
//     kernel timer on every sleep, which costs a VM exit (~0.6 µs a sleep,
//     measured: p50 +1.3 µs per round trip through two relays).
//   - Callers that need other goroutines to run promptly while the loop is
//     busy (a transform's worker, with a single P) turn raw sleeps off with
//     Cooperate.
//
// So a goroutine that needs the loop's P waits up to sysmon's 10 ms
// preemption (20 ms at worst) while the loop is busy on a single P; with
// more Ps it runs on another; a garbage collection's stop waits one signal
// delivery (loop/wait_test.go).
func (l *Loop) wait(timeout int) (int, error) {
	if timeout == 0 || (l.cooperate == 0 && !l.noRaw && l.flowing && l.rawAgain()) {
		if timeout != 0 {
			l.stats.RawWaits++ // a raw sleep; a zero-timeout poll is raw whatever the options
		}
		n, _, err := l.sleep(timeout, true)
		if err != unix.EINTR {
			return n, err
		}
		// A signal: give the runtime its safe point, and sleep through it
		// until rawPause has passed and traffic flows again.
		timeout = 0
		l.flowing = false
		l.rawFrom = l.clock().Add(rawPause)
	}
	n, worked, err := l.sleep(timeout, false)
	if n > 0 || worked {
		l.flowing = true
	}
	return n, err
}

// rawAgain reports whether rawPause has passed since a signal ended a raw
// sleep; it reads the clock only during that pause.
func (l *Loop) rawAgain() bool {
	if l.rawFrom.IsZero() {
		return true
	}
	if l.clock().Before(l.rawFrom) {
		return false
	}
	l.rawFrom = time.Time{}
	return true
}

// sleep is one epoll_wait, raw or through the runtime, or the Sleeper's
// wait in its place (worked: it did other work, which counts as traffic).
// The wake-up's time is read at its first use (Now), a Sleeper's
// callbacks included.
func (l *Loop) sleep(timeout int, raw bool) (n int, worked bool, err error) {
	l.nowRead = false
	if l.sleeper != nil {
		return l.sleeper.Sleep(l.ep, l.events, timeout, raw)
	}
	n, err = EpollWait(l.ep, l.events, timeout, raw)
	return n, false, err
}

// EpollWait is the loop's epoll_wait: raw (unix.RawSyscall6, unseen by the
// Go runtime) or through the runtime's blocking-system-call path. A
// Sleeper calls it for the epoll events it reports; raw only under the
// rules in wait (a zero timeout never blocks, so it is always safe raw).
func EpollWait(ep int, events []unix.EpollEvent, timeout int, raw bool) (int, error) {
	if !raw {
		return unix.EpollWait(ep, events, timeout)
	}
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(timeout), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// yieldEvery is how often a loop that sleeps raw passes through the Go
// scheduler (yield).
const yieldEvery = 5 * time.Millisecond

// A busy loop does not read its clock at every wake-up to decide whether
// to yield: with small messages that read was ~3 % of a relay's CPU. It
// reads it every skip+1 wake-ups, skip sized from the rate of wake-ups
// seen at the last reading so that readings come about every probeEvery,
// and at most maxSkip+1 wake-ups apart: a loop that slows down suddenly
// yields at most maxSkip wake-ups late (meanwhile sysmon may preempt it,
// which costs a rawPause, not correctness).
const (
	probeEvery = time.Millisecond
	maxSkip    = 15
)

// yieldProbe is when yield next reads the clock.
type yieldProbe struct {
	at    time.Time // the last reading
	wakes int       // wake-ups since
	skip  int       // wake-ups to pass before the next reading
}

// due counts a wake-up and reports whether to read the clock at this one.
func (p *yieldProbe) due() bool {
	p.wakes++
	return p.wakes > p.skip
}

// read records a reading and sizes the next skip from the wake-ups' rate.
func (p *yieldProbe) read(now time.Time) {
	p.skip = maxSkip
	if el := now.Sub(p.at); el > 0 {
		p.skip = int(min(int64(probeEvery)*int64(p.wakes)/int64(el), maxSkip))
	}
	p.at, p.wakes = now, 0
}

// yield calls runtime.Gosched when the loop may sleep raw and has not been
// through the scheduler for yieldEvery. A goroutine in raw sleeps never
// is, so sysmon sees it running for ever and preempts it every 10 ms with
// a signal, which ends a raw sleep in rawPause (2 ms) of sleeps through
// the runtime — a fifth of the time on the slower path while traffic
// flows. A yield every 5 ms shows sysmon the goroutine is scheduled, and
// gives other goroutines the P as that preemption would (with one P they
// run until they block or are preempted in turn).
func (l *Loop) yield() {
	if l.noRaw || !l.probe.due() {
		return
	}
	now := l.Now()
	l.probe.read(now)
	if now.Sub(l.yielded) < yieldEvery {
		return
	}
	l.yielded = now
	l.stats.Yields++
	runtime.Gosched()
}

// rawWaitsAllowed reports whether the runtime preempts with signals, which
// is what ends a raw sleep (see wait): not with GODEBUG=asyncpreemptoff=1.
func rawWaitsAllowed() bool {
	for s := range strings.SplitSeq(os.Getenv("GODEBUG"), ",") {
		if strings.TrimSpace(s) == "asyncpreemptoff=1" {
			return false
		}
	}
	return true
}

// Cooperate(true) makes the loop sleep only through the Go runtime's
// blocking-system-call path, where sysmon hands its P to other goroutines
// within ~20 µs, until a matching Cooperate(false): for a caller whose
// other goroutines must run promptly while the loop is busy, such as a
// transform worker that shares a single P with the loop. Calls nest.
// Loop goroutine only.
func (l *Loop) Cooperate(on bool) {
	l.mustOnLoop("Cooperate")
	if on {
		l.cooperate++
	} else if l.cooperate > 0 {
		l.cooperate--
	}
}
