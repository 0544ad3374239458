//go:build linux

package relay

import (
	"time"

	"github.com/pipeloop/pipeloop/loop"
)

// A rate-limited link (Options.RateLimit, Link.SetRateLimit) takes bytes
// from its source only as a token bucket allows: one token per byte,
// refilled at the rate, at most a burst in hand. When the bucket is empty
// the link stops taking from the source and arms a timer on the loop; no
// goroutine, no busy loop. The source keeps what the link did not take,
// so the writer upstream blocks on a full pipe as with a slow reader.
//
// What is limited is what the link takes from the source (read or
// spliced): the ring then holds at most one refill's worth, so what
// reaches the sink trails it by that much, and over any window longer than
// a refill the sink sees the rate.
const (
	// refillEvery is how often an empty bucket is looked at again: short
	// enough that 100 ms windows see twenty refills, long enough that a
	// limited link wakes the loop 200 times a second at most.
	refillEvery = 5 * time.Millisecond
	// burstTime is how many seconds of rate the bucket holds: a link that
	// was idle sends at most this much at once before the rate holds.
	burstTime = 50 * time.Millisecond
	// catchUp bounds the time a late refill timer is credited for: while
	// the link waits on its limit the source holds data, so a timer that
	// fires late (the loop thread was not scheduled: a busy machine) is
	// the scheduler's delay, not the link being idle, and the bytes it
	// cost are sent when the loop runs again, so the average holds.
	catchUp = 250 * time.Millisecond
	// minBurst is the least burst, so that slow rates still move whole
	// pages; it is capped at one second of rate.
	minBurst = 4096
)

// bucket is a link's token bucket. Loop goroutine only.
type bucket struct {
	rate    float64   // bytes per second
	burst   float64   // most tokens held
	tokens  float64   // bytes the link may take now
	last    time.Time // when tokens was last brought up to date
	timer   *loop.Timer
	waiting bool // the bucket is empty and the timer armed
}

// newBucket starts empty: a new link runs at the rate from its first
// byte, with no burst ahead of it.
func newBucket(bps int64, now time.Time) *bucket {
	b := &bucket{last: now}
	b.set(bps)
	return b
}

// set changes the rate, keeping the tokens in hand (up to the new burst).
func (b *bucket) set(bps int64) {
	b.rate = float64(bps)
	b.burst = max(b.rate*burstTime.Seconds(), min(minBurst, b.rate))
	b.tokens = min(b.tokens, b.burst)
}

// refill brings the bucket up to now: tokens grow at the rate up to the
// burst, or up to catchUp's worth while the link waits on its limit;
// tokens already above that are kept (a catch-up being spent).
func (b *bucket) refill(now time.Time) {
	d := now.Sub(b.last)
	if d <= 0 {
		return
	}
	b.last = now
	most := b.burst
	if b.waiting {
		most = max(most, b.rate*catchUp.Seconds())
	}
	if b.tokens < most {
		b.tokens = min(most, b.tokens+b.rate*d.Seconds())
	}
}

// allow brings the bucket up to now and returns how many bytes the link
// may take, at most want; 0 means none until the next refill.
func (b *bucket) allow(now time.Time, want int) int {
	b.refill(now)
	if b.tokens < 1 {
		return 0
	}
	return int(min(float64(want), b.tokens))
}

// spend takes n bytes' tokens.
func (b *bucket) spend(n int) { b.tokens -= float64(n) }

// wait is how long until the bucket holds a byte again: refillEvery, or
// longer for a rate below a byte per refill.
func (b *bucket) wait() time.Duration {
	need := (1 - b.tokens) / b.rate
	return max(refillEvery, time.Duration(need*float64(time.Second)))
}

// SetRateLimit limits the bytes the link takes from its source to bps a
// second (see Options.RateLimit); 0 lifts the limit. It takes effect at
// once, also lowering a limit mid-burst. Loop goroutine only.
func (k *Link) SetRateLimit(bps int64) {
	if k.done || k.xf != nil {
		return // a transform link is not limited (see Options.RateLimit)
	}
	switch {
	case bps <= 0 && k.lim != nil:
		if k.lim.timer != nil {
			k.lim.timer.Stop()
		}
		k.lim = nil
	case bps <= 0:
		return
	case k.lim == nil:
		k.lim = newBucket(bps, k.r.l.Now())
	default:
		k.lim.set(bps)
	}
	k.stats.RateLimit = max(bps, 0)
	if k.lim != nil {
		k.ringLeave() // the ring does not limit: back to the pump's path
	}
	k.schedule() // a pump under the new rule
}

// limit returns how many bytes the link may take now, at most want;
// want itself when the link is not limited. When it returns 0 the link
// waits for the refill timer, which pumps it again.
func (k *Link) limit(want int) int {
	if k.lim == nil {
		return want
	}
	n := k.lim.allow(k.r.l.Now(), want)
	if n == 0 && !k.lim.waiting {
		k.lim.waiting = true
		if k.lim.timer == nil {
			k.lim.timer = k.r.l.AfterFunc(k.lim.wait(), k.refilled)
		} else {
			k.lim.timer.Reset(k.lim.wait())
		}
	}
	return n
}

// took spends the tokens of n bytes taken from the source.
func (k *Link) took(n int) {
	if k.lim != nil {
		k.lim.spend(n)
	}
}

// limited reports whether the link waits for its refill timer.
func (k *Link) limited() bool { return k.lim != nil && k.lim.waiting }

// refilled runs on the loop when the refill timer fires.
func (k *Link) refilled() {
	if k.lim == nil || k.done {
		return
	}
	k.lim.refill(k.r.l.Now()) // credited as waiting, however late
	k.lim.waiting = false
	k.kick()
}

// stopLimit releases the refill timer of a link that ended.
func (k *Link) stopLimit() {
	if k.lim != nil && k.lim.timer != nil {
		k.lim.timer.Stop()
	}
}
