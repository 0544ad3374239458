//go:build linux

package loop

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// ErrPostQueueFull is Post's answer on the loop thread itself when
// Options.MaxPosted functions already wait: waiting there for room would
// wait forever, since only that thread makes room. Use RunSoon there.
var ErrPostQueueFull = errors.New("loop: post queue full on the loop thread (use RunSoon there)")

// Wake interrupts epoll_wait. Safe from any goroutine.
func (l *Loop) Wake() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wakeLocked()
}

func (l *Loop) wakeLocked() error {
	if !l.made {
		return errNotMade
	}
	if l.done {
		return ErrClosed
	}
	if l.pending {
		return nil
	}
	var one = [8]byte{1}
	if _, err := unix.Write(l.wakefd, one[:]); err != nil && err != unix.EAGAIN {
		return os.NewSyscallError("write(eventfd)", err)
	}
	l.pending = true
	return nil
}

// Post queues f to run on the loop goroutine and wakes the loop. Safe from
// any goroutine. Functions run in the order posted.
//
// The queue is bounded (Options.MaxPosted): while it is full, Post waits
// until the loop takes the queued functions, so a goroutine producing work
// faster than the loop runs it is slowed down instead of growing memory
// without limit. On the loop thread, which cannot wait for itself, a full
// queue makes Post return ErrPostQueueFull. Post returns ErrClosed if the
// loop has shut down, or shuts down while Post waits (f will never run).
func (l *Loop) Post(f func()) error {
	if f == nil {
		return errors.New("loop: Post(nil)")
	}
	if !l.made {
		return errNotMade
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.done && len(l.posted) >= l.maxPosted {
		if l.OnLoopThread() {
			return ErrPostQueueFull
		}
		l.blocked++
		l.room.Wait()
		l.blocked--
	}
	if l.done {
		return ErrClosed
	}
	l.posted = append(l.posted, f)
	return l.wakeLocked()
}

// takePosted empties the queues, wakes Posts waiting for room, and
// returns what was queued: posted functions and notified Notifiers.
func (l *Loop) takePosted() ([]func(), []*Notifier) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fs, ns := l.posted, l.notified
	l.posted, l.spare = l.spare[:0], nil
	l.notified, l.notiSpare = l.notiSpare[:0], nil
	l.pending = false
	if l.blocked > 0 {
		l.room.Broadcast()
	}
	return fs, ns
}

// onWake drains the eventfd and runs the notified Notifiers' functions,
// then the posted functions.
func (l *Loop) onWake(Events) {
	var buf [8]byte
	unix.Read(l.wakefd, buf[:]) // EAGAIN is harmless: the counter is already 0
	l.stats.Wakeups++
	fs, ns := l.takePosted()
	l.runNotified(ns)
	l.runPosted(fs)
	l.mu.Lock()
	if l.spare == nil {
		l.spare = fs[:0]
	}
	if l.notiSpare == nil {
		l.notiSpare = ns[:0]
	}
	l.mu.Unlock()
}

func (l *Loop) runPosted(fs []func()) {
	for i, f := range fs {
		fs[i] = nil
		l.stats.Posted++
		f()
	}
}

// closePosts runs what is queued until nothing is — a Post or Notify that
// returned nil must run — then closes the door under the same lock: later
// Posts and Notifies, and Posts still waiting for room, return ErrClosed.
func (l *Loop) closePosts() {
	for {
		l.mu.Lock()
		fs, ns := l.posted, l.notified
		l.posted, l.notified = nil, nil
		if len(fs) == 0 && len(ns) == 0 {
			l.done = true
			l.room.Broadcast()
			l.mu.Unlock()
			return
		}
		if l.blocked > 0 {
			l.room.Broadcast()
		}
		l.mu.Unlock()
		l.runNotified(ns)
		l.runPosted(fs)
	}
}
