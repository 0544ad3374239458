package fdops_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"

	"github.com/pipeloop/pipeloop/internal/fdops"
)

// TestAgainAllocatesNothing: EAGAIN ends every drain under edge-triggered
// readiness, so its error must not allocate.
func TestAgainAllocatesNothing(t *testing.T) {
	r, w := testfd.Pipe(t, true, true)
	ring := newRing(t, 65536)
	if n := testing.AllocsPerRun(100, func() { ring.ReadFrom(nil, r) }); n != 0 {
		t.Errorf("ReadFrom EAGAIN: %v allocs, want 0", n)
	}
	_, dw := testfd.Pipe(t, true, true)
	if n := testing.AllocsPerRun(100, func() { fdops.Splice(nil, r, dw, 65536) }); n != 0 {
		t.Errorf("Splice EAGAIN: %v allocs, want 0", n)
	}
	_ = w
}
