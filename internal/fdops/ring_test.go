package fdops_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
)

func TestRoundSize(t *testing.T) {
	for _, tc := range []struct {
		size, want int // want 0: error
	}{
		{-1, 0},
		{0, 0},
		{1, 0},
		{4095, 0},
		{fdio.PipeBuf, 0},
		{4097, 8192},
		{8191, 8192},
		{8192, 8192},
		{8193, 16384},
		{65535, 65536},
		{65536, 65536},
		{65537, 131072},
		{1 << 30, 1 << 30},
		{1<<30 + 1, 0},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			got, err := fdops.RoundSize(tc.size)
			if tc.want == 0 {
				if err == nil {
					t.Fatalf("RoundSize(%d) = %d, want an error", tc.size, got)
				}
				if b, err := fdops.NewRing(tc.size); err == nil {
					t.Errorf("NewRing(%d) = ring of %d, want an error", tc.size, b.Cap())
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("RoundSize(%d) = %d, %v; want %d", tc.size, got, err, tc.want)
			}
			b, err := fdops.NewRing(tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Cap(); got != tc.want {
				t.Errorf("NewRing(%d).Cap() = %d, want %d", tc.size, got, tc.want)
			}
		})
	}
	if got, _ := fdops.RoundSize(fdio.PipeBuf + 1); got != fdops.MinRing {
		t.Errorf("RoundSize(PipeBuf+1) = %d, want MinRing = %d", got, fdops.MinRing)
	}
}

func newRing(t testing.TB, size int) *fdops.Ring {
	t.Helper()
	b, err := fdops.NewRing(size)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkState compares the ring's accounting with want buffered bytes, and
// its content (through Peek) with content when that is not nil.
func checkState(t *testing.T, b *fdops.Ring, want int, content []byte) {
	t.Helper()
	if got := b.Len(); got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	if got, want := b.Free(), b.Cap()-want; got != want {
		t.Errorf("Free() = %d, want %d", got, want)
	}
	if got, want := b.Empty(), want == 0; got != want {
		t.Errorf("Empty() = %v, want %v", got, want)
	}
	if got, want := b.Full(), want == b.Cap(); got != want {
		t.Errorf("Full() = %v, want %v", got, want)
	}
	h, tl := b.Peek()
	if got := len(h) + len(tl); got != want {
		t.Errorf("Peek() spans %d+%d bytes, want %d", len(h), len(tl), want)
	}
	sh, st := b.Space()
	if got, want := len(sh)+len(st), b.Cap()-want; got != want {
		t.Errorf("Space() spans %d+%d bytes, want %d", len(sh), len(st), want)
	}
	if content != nil && !bytes.Equal(append(h[:len(h):len(h)], tl...), content) {
		t.Errorf("Peek() content differs from what was written")
	}
}

func TestRingFullEmpty(t *testing.T) {
	b := newRing(t, 8192)
	checkState(t, b, 0, []byte{})

	data := testfd.Pattern(b.Cap()+1, 1)
	if got, want := b.Write(data), b.Cap(); got != want {
		t.Fatalf("Write(%d bytes) to an empty ring = %d, want %d", len(data), got, want)
	}
	checkState(t, b, b.Cap(), data[:b.Cap()])
	if got := b.Write(data); got != 0 {
		t.Errorf("Write to a full ring = %d, want 0", got)
	}
	if h, tl := b.Space(); h != nil || tl != nil {
		t.Errorf("Space() of a full ring = %d+%d bytes, want nil, nil", len(h), len(tl))
	}

	out := make([]byte, b.Cap()+1)
	if got, want := b.Read(out), b.Cap(); got != want {
		t.Fatalf("Read = %d, want %d", got, want)
	}
	if !bytes.Equal(out[:b.Cap()], data[:b.Cap()]) {
		t.Error("Read returned different bytes")
	}
	checkState(t, b, 0, []byte{})
	if h, tl := b.Peek(); h != nil || tl != nil {
		t.Errorf("Peek() of an empty ring = %d+%d bytes, want nil, nil", len(h), len(tl))
	}
	if got := b.Read(out); got != 0 {
		t.Errorf("Read from an empty ring = %d, want 0", got)
	}

	b.Write(data[:100])
	b.Reset()
	checkState(t, b, 0, []byte{})
}

// TestRingDrainRewinds checks the documented optimisation: a ring drained
// by Discard starts again at 0, so its next fill is one contiguous span.
func TestRingDrainRewinds(t *testing.T) {
	b := newRing(t, 8192)
	b.Write(make([]byte, 5000))
	b.Discard(3000)
	if r, w := b.Pos(); r != 3000 || w != 5000 {
		t.Fatalf("Pos() = %d, %d; want 3000, 5000", r, w)
	}
	b.Discard(2000)
	if r, w := b.Pos(); r != 0 || w != 0 {
		t.Errorf("Pos() after draining = %d, %d; want 0, 0", r, w)
	}
	if h, tl := b.Space(); len(h) != b.Cap() || len(tl) != 0 {
		t.Errorf("Space() after draining = %d+%d bytes, want %d+0", len(h), len(tl), b.Cap())
	}
}

// TestRingPeekSpace places the ring at positions around its end and checks
// the head/tail split of both the buffered bytes and the free space.
func TestRingPeekSpace(t *testing.T) {
	const size = 8192
	for _, pos := range []uint64{0, 1, 4095, 4096, 4097, size - 1, size, size + 1, 3*size - 100, 1<<64 - 100} {
		for _, n := range []int{0, 1, 99, 100, 101, 4095, 4096, 4097, size - 1, size} {
			t.Run(fmt.Sprintf("pos=%d/len=%d", pos, n), func(t *testing.T) {
				b := newRing(t, size)
				b.SetPos(pos)
				data := testfd.Pattern(n, pos+uint64(n))
				if got := b.Write(data); got != n {
					t.Fatalf("Write(%d bytes) = %d", n, got)
				}
				checkState(t, b, n, data)

				start := int(pos % size)
				wantHead := min(n, size-start)
				h, tl := b.Peek()
				if n > 0 && (len(h) != wantHead || len(tl) != n-wantHead) {
					t.Errorf("Peek() = %d+%d bytes, want %d+%d", len(h), len(tl), wantHead, n-wantHead)
				}

				free := size - n
				fstart := (start + n) % size
				wantFree := min(free, size-fstart)
				sh, st := b.Space()
				if free > 0 && (len(sh) != wantFree || len(st) != free-wantFree) {
					t.Errorf("Space() = %d+%d bytes, want %d+%d", len(sh), len(st), wantFree, free-wantFree)
				}
				// Space must not overlap the buffered bytes: fill it and the
				// buffered prefix must be intact.
				for i := range sh {
					sh[i] = 0xAA
				}
				for i := range st {
					st[i] = 0xAA
				}
				b.Commit(free)
				h, tl = b.Peek()
				all := append(h[:len(h):len(h)], tl...)
				if !bytes.Equal(all[:n], data) {
					t.Errorf("filling Space() overwrote buffered bytes")
				}
				if !bytes.Equal(all[n:], bytes.Repeat([]byte{0xAA}, free)) {
					t.Errorf("committed Space() bytes are not the ones written")
				}
			})
		}
	}
}

func TestRingBoundsPanic(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(b *fdops.Ring)
	}{
		{"Discard(-1)", func(b *fdops.Ring) { b.Discard(-1) }},
		{"Discard(Len+1)", func(b *fdops.Ring) { b.Discard(b.Len() + 1) }},
		{"Commit(-1)", func(b *fdops.Ring) { b.Commit(-1) }},
		{"Commit(Free+1)", func(b *fdops.Ring) { b.Commit(b.Free() + 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newRing(t, 8192)
			b.Write(make([]byte, 100))
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tc.name)
				}
				checkState(t, b, 100, nil) // the failed call changed nothing
			}()
			tc.f(b)
		})
	}
	t.Run("in range", func(t *testing.T) {
		b := newRing(t, 8192)
		b.Write(make([]byte, 100))
		b.Discard(0)
		b.Commit(0)
		b.Commit(b.Free())
		checkState(t, b, b.Cap(), nil)
		b.Discard(b.Len())
		checkState(t, b, 0, nil)
	})
}

// TestRingModel drives a ring with random writes and reads of every size
// around PIPE_BUF and the capacity and compares it with a plain FIFO.
func TestRingModel(t *testing.T) {
	for _, size := range []int{8192, 16384} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			b := newRing(t, size)
			sizes := []int{0, 1, 4095, 4096, 4097, 8191, 8192, 8193, size - 1, size, size + 1}
			rng := rand.New(rand.NewPCG(uint64(size), 7))
			var model []byte
			var seq uint64
			for i := 0; i < 2000; i++ {
				n := sizes[rng.IntN(len(sizes))]
				if rng.IntN(2) == 0 {
					data := testfd.Pattern(n, seq)
					seq++
					want := min(n, size-len(model))
					if got := b.Write(data); got != want {
						t.Fatalf("step %d: Write(%d) = %d, want %d", i, n, got, want)
					}
					model = append(model, data[:want]...)
				} else {
					out := make([]byte, n)
					want := min(n, len(model))
					if got := b.Read(out); got != want {
						t.Fatalf("step %d: Read(%d) = %d, want %d", i, n, got, want)
					}
					if !bytes.Equal(out[:want], model[:want]) {
						t.Fatalf("step %d: Read returned the wrong bytes", i)
					}
					model = model[want:]
				}
				if b.Len() != len(model) {
					t.Fatalf("step %d: Len() = %d, want %d", i, b.Len(), len(model))
				}
			}
		})
	}
}
