//go:build linux && cgo

package main

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
)

// threadRseqOff unregisters glibc's rseq area of the calling thread: a
// second call finds none registered (the kernel answers EINVAL).
func TestThreadRseqOff(t *testing.T) {
	var first, second error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // the thread exits with the goroutine
		first, second = threadRseqOff(), threadRseqOff()
	}()
	<-done
	if errors.Is(first, syscall.ENOENT) || errors.Is(first, syscall.ENOSYS) {
		t.Skipf("no rseq area to unregister here: %v", first)
	}
	if first != nil {
		t.Fatalf("threadRseqOff: %v", first)
	}
	if !errors.Is(second, syscall.EINVAL) {
		t.Errorf("second threadRseqOff = %v, want EINVAL: the area is still registered", second)
	}
}
