//go:build linux

package relay

import (
	"errors"

	"github.com/pipeloop/pipeloop/internal/fdops"
	"github.com/pipeloop/pipeloop/loop"
)

// Relay creates links and pipelines on one loop and holds what they share.
type Relay struct {
	l       *loop.Loop
	opts    Options
	pool    *fdops.RingPool
	vmPool  *fdops.RingPool // vmsplice rings for copying into pipes; nil when not used
	watches map[int]*watch  // registrations by fd
	links   map[*Link]struct{}
	sizer   *pipeSizer   // sizes the pipes pipelines create
	ringSl  *ringSleeper // the loop's sleeper while links use io_uring (uring.go); nil until then
	noRing  bool         // io_uring unavailable or not ours to use: links stay on epoll

	pipelines map[*Pipeline]struct{} // started, not yet finished
	stopped   []*xform               // transform workers of ended links, perhaps still in a call
	closed    bool                   // Close was called

	pendingDone []*Link // closed links whose OnDone is yet to run (Link.Close)
	runDoneFn   func()  // r.runDone, allocated once

	spawner        *spawner // forks stages with Options.AsyncSpawn; started by the first pipeline
	finishSpawnsFn func()   // r.finishSpawns, allocated once
}

// New returns a Relay on l. When l stops, the relay is closed (see Close).
func New(l *loop.Loop, opts Options) (*Relay, error) {
	if l == nil {
		return nil, errors.New("relay: New needs a loop (nil *loop.Loop)")
	}
	if err := opts.fill(); err != nil {
		return nil, err
	}
	pool, err := fdops.NewRingPool(opts.BufferSize, opts.KeepRings)
	if err != nil {
		return nil, err
	}
	r := &Relay{l: l, opts: opts, pool: pool, watches: make(map[int]*watch), links: make(map[*Link]struct{}),
		sizer: newPipeSizer(l, opts), pipelines: make(map[*Pipeline]struct{})}
	if !opts.NoVmsplice {
		// Unavailable (no transparent huge pages) just means links write.
		// Idle vmsplice rings keep their faulted-in huge pages: keep few.
		r.vmPool, _ = fdops.NewVmspliceRingPool(opts.LendSize, min(opts.KeepRings, vmKeep))
	}
	r.runDoneFn = r.runDone
	r.finishSpawnsFn = r.finishSpawns
	l.OnStop(r.Close)
	return r, nil
}

// errNotMade is the answer of a zero Relay, which has no loop.
var errNotMade = errors.New("relay: a Relay not made by relay.New")

// usable is nil for a relay made by New and not closed.
func (r *Relay) usable() error {
	switch {
	case r.l == nil:
		return errNotMade
	case r.closed:
		return errClosed
	}
	return nil
}

// vmKeep bounds the idle vmsplice rings a relay keeps (each maps two huge
// pages, 4 MiB on x86-64).
const vmKeep = 4

// Vmsplice reports whether copying links lend ring pages to pipe sinks.
func (r *Relay) Vmsplice() bool { return r.vmPool != nil }

// Loop is the relay's loop.
func (r *Relay) Loop() *loop.Loop { return r.l }

// Options returns the relay's effective options.
func (r *Relay) Options() Options { return r.opts }

// RingsLive is the number of rings links hold now, from either pool.
func (r *Relay) RingsLive() int {
	n := r.pool.Live()
	if r.vmPool != nil {
		n += r.vmPool.Live()
	}
	return n
}

// Links is the number of links not yet done.
func (r *Relay) Links() int {
	if r.l != nil {
		r.l.AssertLoopThread("relay.Links")
	}
	return len(r.links)
}
