package fdio_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/fdio"
)

// TestAgainAllocatesNothing: EAGAIN ends every drain under edge-triggered
// readiness, so its error must not allocate.
func TestAgainAllocatesNothing(t *testing.T) {
	r, w := pipe(t, true, true)
	ring := newRing(t, 65536)
	if n := testing.AllocsPerRun(100, func() { ring.ReadFrom(nil, r) }); n != 0 {
		t.Errorf("ReadFrom EAGAIN: %v allocs, want 0", n)
	}
	_, dw := pipe(t, true, true)
	if n := testing.AllocsPerRun(100, func() { fdio.Splice(nil, r, dw, 65536) }); n != 0 {
		t.Errorf("Splice EAGAIN: %v allocs, want 0", n)
	}
	_ = w
}
