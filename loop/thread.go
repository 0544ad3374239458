//go:build linux

package loop

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// OnLoopThread reports whether the caller runs on the thread of a running
// Run, where loop-only methods may be called and where waiting for the
// loop (a Post to a full queue, a blocking relay.Run) would wait forever.
// It costs one gettid(2). False before Run starts and after it returns.
func (l *Loop) OnLoopThread() bool {
	tid := l.tid.Load()
	return tid != 0 && tid == int32(unix.Gettid())
}

// AssertLoopThread is the check loop-only methods make, for the
// loop-only methods of packages built on the loop (relay, server): it
// panics, naming method, when called from another thread while Run runs,
// in builds with the race detector or the pipeloopcheck tag, and does
// nothing otherwise. Call it first, before any state changes, so that a
// recovered panic (net/http recovers a handler's) leaves nothing half
// done.
func (l *Loop) AssertLoopThread(method string) { l.mustOnLoop(method) }

// mustOnLoop panics, naming the method, when a loop-only method is called
// from another thread while Run runs. It checks only in builds with the
// race detector or the pipeloopcheck tag (checkThread), where a gettid per
// call is cheap next to the detector: tests and debugging, not production.
// Before Run starts and after it returns any goroutine may configure or
// tear down the loop, as the package doc says.
func (l *Loop) mustOnLoop(method string) {
	if !checkThread {
		return
	}
	tid := l.tid.Load()
	if tid == 0 || tid == int32(unix.Gettid()) {
		return
	}
	panic(fmt.Sprintf("loop: %s called from thread %d while the loop runs on thread %d: "+
		"loop-only methods must run on the loop goroutine (use Post from elsewhere)", method, unix.Gettid(), tid))
}
