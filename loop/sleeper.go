package loop

import "golang.org/x/sys/unix"

// A Sleeper is what the loop sleeps in instead of epoll_wait: a waiter that
// can also complete other work while the loop sleeps (pipeloop's relay
// waits in io_uring_enter, with the epoll fd polled through the ring, so
// one system call per message both submits its transfers and sleeps).
//
// Sleep must behave as epoll_wait(ep, events, timeout) does: return the
// number of epoll events it put in events (it may be 0 when it did other
// work: worked says so, and the loop counts that as traffic), never wait
// longer than timeout milliseconds (-1: no limit; 0: not at all), and
// return unix.EINTR when a signal interrupted it. raw
// says it may sleep without the Go runtime's blocking-system-call path,
// under the rules of the loop's raw sleeps (see wait_linux.go): it must
// then end with EINTR on any signal. Sleep runs on the loop goroutine and
// may run handlers' work there, as a dispatch does.
type Sleeper interface {
	Sleep(ep int, events []unix.EpollEvent, timeout int, raw bool) (n int, worked bool, err error)
}

// SetSleeper makes the loop sleep in s instead of epoll_wait from its next
// sleep on; nil restores epoll_wait. Loop goroutine only (or before Run).
func (l *Loop) SetSleeper(s Sleeper) {
	l.mustOnLoop("SetSleeper")
	l.sleeper = s
}

// Sleeper returns the loop's Sleeper, or nil.
func (l *Loop) Sleeper() Sleeper { return l.sleeper }
