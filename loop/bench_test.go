package loop_test

import (
	"context"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// runInBackground runs l on its own goroutine until the benchmark ends.
func runInBackground(b *testing.B, l *loop.Loop) {
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	b.Cleanup(func() {
		l.Stop()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
}

// BenchmarkPost is a round trip: Post from another goroutine, the loop
// wakes and runs the function, which answers on a channel.
// With BusyPoll the loop is already awake when the next Post comes.
func BenchmarkPost(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts loop.Options
	}{{"sleep", loop.Options{}}, {"busypoll", loop.Options{BusyPoll: time.Millisecond}}} {
		b.Run(bc.name, func(b *testing.B) {
			l := newLoop(b, bc.opts)
			runInBackground(b, l)
			done := make(chan struct{}, 1)
			f := func() { done <- struct{}{} }
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Post(f); err != nil {
					b.Fatal(err)
				}
				<-done
			}
		})
	}
}

// BenchmarkPipeEvent is a readiness round trip: write a byte into a pipe,
// the loop wakes, its handler reads the byte and answers on a channel.
func BenchmarkPipeEvent(b *testing.B) {
	l := newLoop(b, loop.Options{})
	r, w := pipe(b)
	done := make(chan struct{}, 1)
	var buf [1]byte
	h := loop.HandlerFunc(func(loop.Events) {
		if n, _ := unix.Read(r, buf[:]); n == 1 {
			done <- struct{}{}
		}
	})
	if err := l.Register(r, loop.Readable, h); err != nil {
		b.Fatal(err)
	}
	runInBackground(b, l)
	one := []byte{1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := unix.Write(w, one); err != nil {
			b.Fatal(err)
		}
		<-done
	}
}

// BenchmarkDispatch is the loop's own cost per event, without system calls.
func BenchmarkDispatch(b *testing.B) {
	l := newLoop(b, loop.Options{})
	defer l.Close()
	r, _ := pipe(b)
	calls := 0
	if err := l.Register(r, loop.Readable, loop.HandlerFunc(func(loop.Events) { calls++ })); err != nil {
		b.Fatal(err)
	}
	defer l.Unregister(r)
	e, _ := l.EventFor(r, loop.Readable)
	batch := []unix.EpollEvent{e, e, e, e, e, e, e, e}
	b.ReportAllocs()
	for b.Loop() {
		l.Dispatch(batch)
	}
}

// BenchmarkTimerReset re-arms and stops an existing timer.
func BenchmarkTimerReset(b *testing.B) {
	l := newLoop(b, loop.Options{})
	defer l.Close()
	tm := l.AfterFunc(time.Hour, func() {})
	tm.Stop()
	others := make([]*loop.Timer, 64) // a heap with some depth
	for i := range others {
		others[i] = l.AfterFunc(time.Duration(i+1)*time.Minute, func() {})
	}
	b.ReportAllocs()
	for b.Loop() {
		tm.Reset(30 * time.Minute)
		tm.Stop()
	}
}
