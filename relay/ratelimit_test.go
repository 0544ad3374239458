//go:build linux

package relay

import (
	"testing"
	"time"
)

// TestBucket: the bucket starts empty, fills at the rate up to the burst
// (50 ms of rate) when idle, credits a late refill timer up to catchUp
// while the link waits on it, and a lowered rate cuts the tokens in hand
// to the new burst at once. Times are given, not measured.
func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	b := newBucket(1_000_000, t0) // 1 MB/s: burst 50,000
	if got := b.allow(t0, 1<<20); got != 0 {
		t.Errorf("new bucket allows %d, want 0", got)
	}
	if got := b.allow(at(10), 1<<20); got != 10_000 {
		t.Errorf("after 10 ms: %d, want 10000", got)
	}
	if got := b.allow(at(10), 4096); got != 4096 {
		t.Errorf("capped by want: %d, want 4096", got)
	}
	b.spend(10_000)
	if got := b.allow(at(1010), 1<<20); got != 50_000 {
		t.Errorf("after an idle second: %d, want the burst, 50000", got)
	}
	b.spend(50_000)
	b.waiting = true
	b.refill(at(1310)) // a timer 300 ms late
	b.waiting = false
	if got := b.allow(at(1310), 1<<20); got != 250_000 {
		t.Errorf("after a late timer: %d, want catchUp's worth, 250000", got)
	}
	b.set(100_000) // 100 kB/s: burst 5,000
	if got := b.allow(at(1310), 1<<20); got != 5_000 {
		t.Errorf("after lowering the rate: %d, want the new burst, 5000", got)
	}
	slow := newBucket(100, t0) // 100 B/s: burst min(4096, 100)
	if got := slow.allow(at(5000), 1<<20); got != 100 {
		t.Errorf("slow rate after 5 s: %d, want its burst, 100 (one second of rate)", got)
	}
	slow.spend(100)
	if got := slow.wait(); got != 10*time.Millisecond {
		t.Errorf("slow rate waits %v for a byte, want 10ms", got)
	}
}
