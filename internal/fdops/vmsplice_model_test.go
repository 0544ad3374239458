package fdops

import (
	"bytes"
	"hash/crc32"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// lendOps is a kernel stand-in for VmspliceTo: every call may fail with
// EINTR or EAGAIN or move a random prefix, and Vmsplice records the
// ring memory it was lent, as the pipe would keep referencing it.
type lendOps struct {
	rng   *rand.Rand
	out   []byte
	lent  []lentSpan
	base  uintptr // address of the ring's buffer
	chunk int     // the ring's recycling unit
}

// lentSpan is ring memory a pipe still references.
type lentSpan struct {
	off, n int    // buffer offset and length
	sum    uint32 // CRC of its bytes when lent
}

func (o *lendOps) fault() (limit float64, err error) {
	if o.rng == nil {
		return 1, nil
	}
	switch r := o.rng.Float64(); {
	case r < 0.05:
		return 0, unix.EINTR
	case r < 0.12:
		return 0, unix.EAGAIN
	case r < 0.35:
		return o.rng.Float64(), nil
	}
	return 1, nil
}

func (o *lendOps) move(iov [][]byte, lend bool) (int, error) {
	frac, err := o.fault()
	if err != nil {
		return -1, err
	}
	total := 0
	for _, p := range iov {
		total += len(p)
	}
	limit := max(1, int(frac*float64(total)))
	n := 0
	for _, p := range iov {
		m := min(len(p), limit-n)
		if m == 0 {
			break
		}
		o.out = append(o.out, p[:m]...)
		if lend { // one span per chunk, as chunks are recycled one by one
			off := int(uintptr(unsafe.Pointer(&p[0])) - o.base)
			for q := p[:m]; len(q) > 0; {
				k := min(len(q), o.chunk-off%o.chunk)
				o.lent = append(o.lent, lentSpan{off, k, crc32.ChecksumIEEE(q[:k])})
				off, q = off+k, q[k:]
			}
		}
		n += m
	}
	return n, nil
}

func (o *lendOps) Read(int, []byte) (int, error)           { panic("unused") }
func (o *lendOps) Readv(int, [][]byte) (int, error)        { panic("unused") }
func (o *lendOps) Splice(int, int, int, int) (int, error)  { panic("unused") }
func (o *lendOps) Write(_ int, p []byte) (int, error)      { return o.move([][]byte{p}, false) }
func (o *lendOps) Writev(_ int, iov [][]byte) (int, error) { return o.move(iov, false) }
func (o *lendOps) Vmsplice(_ int, iov [][]byte, flags int) (int, error) {
	if flags&unix.SPLICE_F_GIFT != 0 {
		panic("vmsplice ring must not gift pages") // see vmsplice_linux.go
	}
	return o.move(iov, true)
}

// TestVmspliceRingModel drives a vmsplice ring with random fills and
// drains through lendOps and checks, after every step, that no fill wrote
// into memory lent and not yet recycled, that recycled memory was really
// dropped (reads as zeros), that the ring never holds more than its span,
// that only whole pages were lent, and at the end that the bytes came out
// in order, none lost or repeated.
func TestVmspliceRingModel(t *testing.T) {
	if err := VmspliceAvailable(); err != nil {
		t.Skip("vmsplice rings unavailable here:", err)
	}
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 99))
		span := []int{8 << 10, 64 << 10, 256 << 10}[seed%3]
		b, err := NewVmspliceRing(span)
		if err != nil {
			t.Fatal(err)
		}
		ops := &lendOps{rng: rng, base: uintptr(unsafe.Pointer(&b.buf[0])), chunk: int(b.vm.chunk)}
		var in []byte
		var c VmspliceCount
		recycled := 0
		for step := 0; len(in) < 24<<20; step++ {
			if rng.IntN(2) == 0 && !b.Full() {
				h, tl := b.Space()
				n := min(len(h)+len(tl), 1+rng.IntN(span))
				if rng.IntN(4) == 0 {
					n = min(n, 1+rng.IntN(100)) // small messages too
				}
				chunk := make([]byte, n)
				for i := range chunk {
					chunk[i] = byte(rng.Uint32() | 1) // never 0: recycled memory reads 0
				}
				for _, s := range fillRanges(b, n) {
					for _, l := range ops.lent {
						if s.off < l.off+l.n && l.off < s.off+s.n {
							t.Fatalf("seed %d step %d: fill [%d,%d) overwrites lent [%d,%d)", seed, step, s.off, s.off+s.n, l.off, l.off+l.n)
						}
					}
				}
				if w := b.Write(chunk); w != n {
					t.Fatalf("Write took %d of %d with %d free", w, n, b.Free())
				}
				in = append(in, chunk...)
			} else if !b.Empty() {
				b.VmspliceTo(ops, -1, rng.IntN(2) == 0, &c)
				recycled += checkLent(t, b, ops)
			}
			if b.Len() > b.vm.span {
				t.Fatalf("ring holds %d bytes, span %d", b.Len(), b.vm.span)
			}
		}
		for !b.Empty() {
			b.VmspliceTo(ops, -1, false, &c)
			checkLent(t, b, ops)
		}
		if !bytes.Equal(ops.out, in) {
			t.Fatalf("seed %d: output differs from input (%d vs %d bytes)", seed, len(ops.out), len(in))
		}
		if c.Vmsplices == 0 || recycled == 0 {
			t.Fatalf("seed %d: %d vmsplices, %d spans recycled: the test did not exercise lending", seed, c.Vmsplices, recycled)
		}
	}
}

// checkLent drops the spans whose chunk was recycled, checking that their
// memory reads as zeros, and checks that the rest still hold what they
// held when lent. It returns how many spans were recycled.
func checkLent(t *testing.T, b *Ring, ops *lendOps) int {
	t.Helper()
	live := ops.lent[:0]
	recycled := 0
	for _, l := range ops.lent {
		mem := b.buf[l.off : l.off+l.n]
		if l.off%int(b.vm.page) != 0 {
			t.Fatalf("lent span at offset %d is not page-aligned", l.off)
		}
		if b.vm.lent&(1<<(uint64(l.off)/b.vm.chunk)) == 0 {
			if !bytes.Equal(mem, make([]byte, len(mem))) {
				t.Fatalf("recycled span [%d,%d) was not dropped", l.off, l.off+l.n)
			}
			recycled++
			continue
		}
		if crc32.ChecksumIEEE(mem) != l.sum {
			t.Fatalf("lent span [%d,%d) changed while the pipe could still read it", l.off, l.off+l.n)
		}
		live = append(live, l)
	}
	ops.lent = live
	return recycled
}

// fillRanges is where the next fill of n bytes lands, as buffer offsets.
func fillRanges(b *Ring, n int) []lentSpan {
	start := int(b.w & b.mask)
	if start+n <= len(b.buf) {
		return []lentSpan{{off: start, n: n}}
	}
	return []lentSpan{{off: start, n: len(b.buf) - start}, {off: 0, n: n - (len(b.buf) - start)}}
}

// TestVmspliceRingRecycleFailure: when a chunk cannot be recycled
// (madvise fails: here because the ring is mlocked), its lent pages are
// still never written again — the ring stops lending, fills up to that
// chunk and no further — and the pool unmaps the ring instead of keeping it.
func TestVmspliceRingRecycleFailure(t *testing.T) {
	pool, err := NewVmspliceRingPool(64<<10, 4)
	if err != nil {
		t.Skip("vmsplice rings unavailable here:", err)
	}
	b := pool.Get()
	if b.vm == nil {
		t.Fatal("pool handed out a plain ring")
	}
	if err := unix.Mlock(b.buf); err != nil {
		t.Skip("cannot mlock the ring to make madvise fail:", err)
	}
	ops := &lendOps{base: uintptr(unsafe.Pointer(&b.buf[0])), chunk: int(b.vm.chunk)}
	var c VmspliceCount
	msg := bytes.Repeat([]byte{0xa5}, 60<<10)
	var in int
	for i := 0; b.Vmsplices(); i++ {
		if i > 1000 {
			t.Fatal("madvise on mlocked memory did not fail; cannot test the failure path")
		}
		in += b.Write(msg)
		b.VmspliceTo(ops, -1, false, &c)
		checkLent(t, b, ops)
	}
	t.Logf("recycling failed as intended: %v", b.vm.err)
	// Fill and drain until the fill stops at the chunk it could not recycle.
	for i := 0; !b.Full(); i++ {
		if i > 1000 {
			t.Fatal("the fill never stopped: it would reach the unrecycled chunk")
		}
		for _, s := range fillRanges(b, b.Free()) {
			for _, l := range ops.lent {
				if s.off < l.off+l.n && l.off < s.off+s.n {
					t.Fatalf("fill [%d,%d) would overwrite lent [%d,%d)", s.off, s.off+s.n, l.off, l.off+l.n)
				}
			}
		}
		in += b.Write(msg)
		b.VmspliceTo(ops, -1, false, &c)
		checkLent(t, b, ops)
	}
	for !b.Empty() {
		b.VmspliceTo(ops, -1, false, &c)
	}
	if len(ops.out) != in {
		t.Fatalf("delivered %d of %d bytes", len(ops.out), in)
	}
	checkLent(t, b, ops)
	pool.Put(b)
	if b.buf != nil || len(pool.free) != 0 {
		t.Fatal("the pool kept a ring that cannot recycle its memory")
	}
}

// TestRingPoolReleasesVmspliceRings: a vmsplice ring the pool does not
// keep is unmapped at once, not left for the GC.
func TestRingPoolReleasesVmspliceRings(t *testing.T) {
	pool, err := NewVmspliceRingPool(64<<10, 1)
	if err != nil {
		t.Skip("vmsplice rings unavailable here:", err)
	}
	a, b := pool.Get(), pool.Get()
	pool.Put(a)
	pool.Put(b)
	if a.buf == nil || b.buf != nil {
		t.Fatalf("kept ring mapped %v, dropped ring unmapped %v; want true, true", a.buf != nil, b.buf == nil)
	}
	if got := pool.Get(); got != a {
		t.Fatal("the pool did not hand back the ring it kept")
	}
}

// TestVmspliceRingPause: two slow refills in a row make the ring write
// instead of lend for pauseBytes, a fast one in between does not, each
// failed retry doubles the pause up to maxPauseBytes, and a fast refill
// resets it.
func TestVmspliceRingPause(t *testing.T) {
	b := vmspliceRingT(t)
	vm := b.vm
	slow, fast := time.Second, time.Microsecond
	vm.judge(slow, 2<<20)
	vm.judge(fast, 2<<20)
	vm.judge(slow, 2<<20)
	if vm.paused != 0 {
		t.Fatalf("paused after slow, fast, slow: %d", vm.paused)
	}
	want := uint64(pauseBytes)
	for range 8 {
		vm.judge(slow, 2<<20)
		if vm.paused != want {
			t.Fatalf("paused %d, want %d", vm.paused, want)
		}
		vm.paused = 0
		vm.judge(slow, 2<<20)
		want = min(2*want, maxPauseBytes)
	}
	vm.judge(fast, 2<<20)
	if vm.pause != pauseBytes {
		t.Fatalf("next pause %d after a fast refill, want %d", vm.pause, pauseBytes)
	}
	// While paused, VmspliceTo writes and counts the pause down.
	vm.paused = 100 << 10
	ops := &lendOps{base: uintptr(unsafe.Pointer(&b.buf[0])), chunk: int(vm.chunk)}
	var c VmspliceCount
	b.Write(make([]byte, 64<<10))
	b.VmspliceTo(ops, -1, false, &c)
	if c.Vmsplices != 0 || c.Writes != 1 || vm.paused != 36<<10 {
		t.Fatalf("paused drain: %d vmsplices, %d writes, %d left; want 0, 1, %d", c.Vmsplices, c.Writes, vm.paused, 36<<10)
	}
	b.Write(make([]byte, 64<<10))
	b.VmspliceTo(ops, -1, false, &c)
	b.Write(make([]byte, 64<<10))
	b.VmspliceTo(ops, -1, false, &c)
	if c.Vmsplices == 0 {
		t.Fatal("the ring did not lend again after its pause")
	}
}

func vmspliceRingT(t *testing.T) *Ring {
	b, err := NewVmspliceRing(64 << 10)
	if err != nil {
		t.Skip("vmsplice rings unavailable here:", err)
	}
	return b
}
