//go:build linux

package loop

import (
	"errors"
	"sync/atomic"
)

// errNoLoop is Notify's answer on a Notifier not made by NewNotifier.
var errNoLoop = errors.New("loop: Notify on a Notifier not made by Loop.NewNotifier")

// A Notifier runs one function on the loop thread after Notify is called,
// from any goroutine, like libuv's uv_async_t: Notify calls made before
// the function runs coalesce into one call, and Notify never waits.
//
// Post waits while its queue is full, so a goroutine the loop thread
// itself waits for (a worker that Close joins) must not use Post to
// signal the loop: the loop would wait for the worker and the worker for
// the loop. A Notifier holds at most one place in the loop's queue, so it
// needs no room and can always signal.
type Notifier struct {
	l      *Loop
	f      func()
	queued atomic.Bool // in l.notified, f not yet started
}

// NewNotifier returns a Notifier that runs f on the loop thread. Safe from
// any goroutine.
func (l *Loop) NewNotifier(f func()) *Notifier {
	return &Notifier{l: l, f: f}
}

// Notify makes the loop run the Notifier's function soon, once for any
// number of Notify calls made before it starts. Safe from any goroutine;
// never blocks. It returns ErrClosed once the loop has shut down (the
// function will not run).
func (n *Notifier) Notify() error {
	if n.l == nil {
		return errNoLoop
	}
	if n.f == nil {
		return errors.New("loop: Notify on a Notifier with a nil function")
	}
	if n.queued.Swap(true) {
		return nil
	}
	l := n.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		n.queued.Store(false)
		return ErrClosed
	}
	l.notified = append(l.notified, n)
	return l.wakeLocked()
}

// runNotified runs the functions of the Notifiers in ns. Each is marked
// unqueued before its function starts, so a Notify made while it runs
// queues another call.
func (l *Loop) runNotified(ns []*Notifier) {
	for i, n := range ns {
		ns[i] = nil
		n.queued.Store(false)
		l.stats.Notified++
		n.f()
	}
}
