package loop

import (
	"time"

	"golang.org/x/sys/unix"
)

// Dispatch delivers a hand-built batch of events as Run does after
// epoll_wait, so a test can order a batch deterministically.
func (l *Loop) Dispatch(evs []unix.EpollEvent) { l.dispatch(evs) }

// EventFor returns the epoll event the kernel would report for fd's current
// registration with readiness ev.
func (l *Loop) EventFor(fd int, ev Events) (unix.EpollEvent, bool) {
	i, ok := l.reg.byFD[fd]
	if !ok {
		return unix.EpollEvent{}, false
	}
	return epollEvent(ev, i, l.reg.slots[i].gen), true
}

// PendingTimers is the number of scheduled timers.
func (l *Loop) PendingTimers() int { return l.timers.Len() }

// CheckThread reports whether this build checks the thread of loop-only
// calls (the race detector or the pipeloopcheck tag).
const CheckThread = checkThread

// BlockedPosts is the number of Post calls waiting for room.
func (l *Loop) BlockedPosts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.blocked
}

// SetClock makes the loop read the time from clock (when each wake-up
// began, and how long busy polling has gone on) instead of time.Now.
// Before Run only.
func (l *Loop) SetClock(clock func() time.Time) { l.clock = clock }
