package loop_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
)

// blockedPosts waits up to 5 s for n Post calls to be waiting for room (a
// state with no event to wait on, hence the polling); it reports whether
// they are.
func blockedPosts(l *loop.Loop, n int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if l.BlockedPosts() == n {
			return true
		}
	}
	return false
}

// TestPostBounded: with MaxPosted functions queued, a Post from another
// goroutine waits until the loop takes them, then runs in order; nothing
// posted is lost, and the queue never holds more than the bound.
func TestPostBounded(t *testing.T) {
	const max = 8
	l := newLoop(t, loop.Options{MaxPosted: max})
	gate, holding := make(chan struct{}), make(chan struct{})
	var ran []int
	l.Post(func() { close(holding); <-gate })        // holds the loop
	release := sync.OnceFunc(func() { close(gate) }) // on every way out
	go func() {
		defer release()
		<-holding // the queue is empty now, and nothing takes from it
		for i := range max {
			if err := l.Post(func() { ran = append(ran, i) }); err != nil {
				t.Errorf("Post %d: %v", i, err)
			}
		}
		posted := make(chan error)
		go func() { posted <- l.Post(func() { ran = append(ran, max); l.Stop() }) }()
		if !blockedPosts(l, 1) {
			t.Errorf("Post past the bound did not wait: %v", <-posted)
			return
		}
		release()
		if err := <-posted; err != nil {
			t.Errorf("Post after room was made: %v", err)
		}
	}()
	run(t, l)
	if len(ran) != max+1 {
		t.Fatalf("ran %v, want 0..%d in order", ran, max)
	}
	for i, v := range ran {
		if v != i {
			t.Fatalf("ran %v, want 0..%d in order", ran, max)
		}
	}
}

// TestPostFullOnLoopThread: on the loop thread, which alone makes room, a
// full queue is an error, not a wait that would never end.
func TestPostFullOnLoopThread(t *testing.T) {
	const max = 4
	l := newLoop(t, loop.Options{MaxPosted: max})
	var errs []error
	l.Post(func() {
		defer l.Stop()
		for range max + 1 {
			errs = append(errs, l.Post(func() {}))
		}
	})
	run(t, l)
	for i, err := range errs[:max] {
		if err != nil {
			t.Errorf("Post %d of %d on the loop thread: %v", i+1, max, err)
		}
	}
	if !errors.Is(errs[max], loop.ErrPostQueueFull) {
		t.Errorf("Post past the bound on the loop thread: %v, want ErrPostQueueFull", errs[max])
	}
}

// TestPostWaitingEndsAtStop: a Post waiting for room when the loop shuts
// down returns (nil if its function ran in the final drain, else
// ErrClosed) instead of waiting on.
func TestPostWaitingEndsAtStop(t *testing.T) {
	l := newLoop(t, loop.Options{MaxPosted: 1})
	gate, holding := make(chan struct{}), make(chan struct{})
	l.Post(func() { close(holding); <-gate; l.Stop() })
	posted := make(chan error, 1)
	go func() {
		defer close(gate)
		<-holding
		if err := l.Post(func() {}); err != nil { // fills the queue
			t.Error(err)
		}
		go func() { posted <- l.Post(func() {}) }()
		if !blockedPosts(l, 1) {
			t.Error("Post to a full queue did not wait")
		}
	}()
	run(t, l)
	if err := <-posted; err != nil && !errors.Is(err, loop.ErrClosed) {
		t.Fatalf("Post waiting at Stop: %v, want nil or ErrClosed", err)
	}
}
