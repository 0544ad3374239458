//go:build linux

package fdops

// RingPool recycles rings of one capacity so that an idle link holds no
// buffer: a link takes a ring when data arrives and gives it back as soon
// as the ring drains. Memory then grows with data in flight, not with the
// number of links. A RingPool is not safe for concurrent use; it belongs to
// one event loop.
type RingPool struct {
	size int     // capacity of every ring, a power of two
	max  int     // most idle rings kept; beyond it Put drops them for the GC
	free []*Ring // idle rings, all empty
	live int     // rings handed out and not yet returned
	// chunk > 0: hand out vmsplice rings recycled in chunks of this size
	// (NewVmspliceRing); the huge page size is read once, here.
	chunk int
}

// NewRingPool returns a pool of rings of capacity RoundSize(size) that keeps
// at most keep idle rings.
func NewRingPool(size, keep int) (*RingPool, error) {
	n, err := RoundSize(size)
	if err != nil {
		return nil, err
	}
	return &RingPool{size: n, max: keep}, nil
}

// NewVmspliceRingPool returns a pool of vmsplice rings whose fills ask for
// at most span bytes (see NewVmspliceRing), keeping at most keep idle. It
// fails when this machine cannot back them (VmspliceAvailable). Should a
// later mapping fail, Get hands out a plain ring instead, which
// VmspliceTo drains with write.
func NewVmspliceRingPool(span, keep int) (*RingPool, error) {
	n, err := RoundSize(span)
	if err != nil {
		return nil, err
	}
	chunk, err := hugePageSize()
	if err != nil {
		return nil, err
	}
	if _, _, err := vmSize(n, chunk); err != nil {
		return nil, err
	}
	return &RingPool{size: n, max: keep, chunk: chunk}, nil
}

// Size is the capacity of the pool's rings (for vmsplice rings, the most
// one fill asks for).
func (p *RingPool) Size() int { return p.size }

// Live is the number of rings currently handed out.
func (p *RingPool) Live() int { return p.live }

// Get returns an empty ring.
func (p *RingPool) Get() *Ring {
	p.live++
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	if p.chunk > 0 {
		if b, err := newVmspliceRing(p.size, p.chunk); err == nil {
			return b
		}
	}
	b, _ := NewRing(p.size) // size validated by NewRingPool
	return b
}

// Put returns a ring to the pool. The ring is reset; the caller must not
// use it again. A vmsplice ring the pool does not keep, or one that could
// not recycle its memory, is unmapped now.
func (p *RingPool) Put(b *Ring) {
	if b == nil {
		return
	}
	p.live--
	b.Reset()
	if len(p.free) < p.max && (b.vm == nil || b.vm.err == nil) {
		p.free = append(p.free, b)
		return
	}
	b.release()
}
