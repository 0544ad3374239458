package loop_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
)

// TestNotifierCoalesces: Notify calls made while the function has not
// started run it once; a Notify made while it runs runs it again; Notify
// does not wait for room in a full Post queue; after the loop stopped
// Notify says ErrClosed.
func TestNotifierCoalesces(t *testing.T) {
	l := newLoop(t, loop.Options{MaxPosted: 1})
	var runs int
	again := make(chan struct{})
	var n *loop.Notifier
	n = l.NewNotifier(func() {
		runs++
		if runs == 1 {
			n.Notify() // while running: queues one more run
			close(again)
		}
		if runs == 2 {
			l.Stop()
		}
	})
	notified := make(chan error, 1)
	l.Post(func() {
		if err := l.Post(func() {}); err != nil { // the queue is full now
			t.Errorf("filling the queue: %v", err)
		}
		go func() {
			var err error
			for range 100 {
				err = errors.Join(err, n.Notify())
			}
			notified <- err
		}()
		select { // on the loop thread: the notifies must not need it
		case err := <-notified:
			if err != nil {
				t.Errorf("Notify: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Notify waited for room in the full Post queue")
		}
	})
	run(t, l)
	<-again
	if runs != 2 {
		t.Errorf("the function ran %d times, want 2 (100 coalesced Notifies, then one made while it ran)", runs)
	}
	if got := l.Stats().Notified; got != 2 {
		t.Errorf("Stats().Notified = %d, want 2", got)
	}
	if err := n.Notify(); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("Notify after the loop stopped = %v, want ErrClosed", err)
	}
	var zero loop.Notifier
	if err := zero.Notify(); err == nil {
		t.Error("Notify on a zero Notifier succeeded; it has no loop to run on")
	}
}
