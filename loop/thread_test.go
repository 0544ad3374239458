package loop_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
)

// TestLoopOnlyCallsChecked: in checking builds (the race detector, as in
// make test, or -tags pipeloopcheck), a loop-only method called from
// another goroutine while Run runs panics, naming the method; the same
// calls on the loop goroutine, and before Run, are fine.
func TestLoopOnlyCallsChecked(t *testing.T) {
	if !loop.CheckThread {
		t.Skip("this build does not check threads (run with -race or -tags pipeloopcheck)")
	}
	r, _ := pipe(t)
	l := newLoop(t, loop.Options{})
	tm := l.AfterFunc(time.Hour, func() {}) // before Run: any goroutine
	tm.Stop()
	calls := map[string]func(){
		"Register":    func() { l.Register(r, loop.Readable, loop.HandlerFunc(func(loop.Events) {})) },
		"AfterFunc":   func() { l.AfterFunc(0, func() {}) },
		"Timer.Reset": func() { tm.Reset(time.Hour) },
		"RunSoon":     func() { l.RunSoon(func() {}) },
		"Cooperate":   func() { l.Cooperate(true) },
		"Stats":       func() { l.Stats() },
		"Now":         func() { l.Now() },
		"Registered":  func() { l.Registered() },
	}
	results := make(chan string)
	l.Post(func() {
		for name, call := range calls {
			go func() {
				defer func() {
					msg, _ := recover().(string)
					results <- name + ": " + msg
				}()
				call()
			}()
		}
	})
	go func() {
		for range calls {
			msg := <-results
			name, panicked, _ := strings.Cut(msg, ": ")
			if !strings.Contains(panicked, "loop: "+name+" called from thread") {
				t.Errorf("%s from another goroutine: panic %q, want one naming it", name, panicked)
			}
		}
		l.Post(func() {
			if l.OnLoopThread() != true {
				t.Error("OnLoopThread false on the loop goroutine")
			}
			tm.Reset(time.Hour) // on the loop goroutine: fine
			tm.Stop()
			l.Stop()
		})
	}()
	run(t, l)
	if l.OnLoopThread() {
		t.Error("OnLoopThread true after Run returned")
	}
}
