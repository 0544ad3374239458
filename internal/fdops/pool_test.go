package fdops_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
)

func TestRingPool(t *testing.T) {
	for _, size := range []int{-1, 0, 4095, fdio.PipeBuf} {
		if p, err := fdops.NewRingPool(size, 1); err == nil {
			t.Errorf("NewRingPool(%d) = pool of %d, want an error", size, p.Size())
		}
	}
	p, err := fdops.NewRingPool(10000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Size(), 16384; got != want {
		t.Errorf("Size() = %d, want %d", got, want)
	}

	var rings []*fdops.Ring
	for i := 0; i < 5; i++ {
		b := p.Get()
		if b.Cap() != p.Size() || !b.Empty() {
			t.Fatalf("Get() = ring of cap %d holding %d bytes, want an empty ring of %d", b.Cap(), b.Len(), p.Size())
		}
		b.Write([]byte("dirty"))
		rings = append(rings, b)
		if got := p.Live(); got != i+1 {
			t.Errorf("Live() = %d after %d Gets", got, i+1)
		}
	}
	for i, b := range rings {
		p.Put(b)
		if got, want := p.Live(), len(rings)-i-1; got != want {
			t.Errorf("Live() = %d, want %d", got, want)
		}
	}
	p.Put(nil)
	if got := p.Live(); got != 0 {
		t.Errorf("Live() = %d after Put(nil), want 0", got)
	}

	// The pool kept the first two rings returned; Get hands them back
	// (last in, first out), reset, and then makes new ones.
	kept := map[*fdops.Ring]bool{rings[0]: true, rings[1]: true}
	for i := 0; i < 3; i++ {
		b := p.Get()
		if !b.Empty() {
			t.Errorf("Get() #%d returned a ring holding %d bytes", i, b.Len())
		}
		if got, want := kept[b], i < 2; got != want {
			t.Errorf("Get() #%d reused a kept ring: %v, want %v", i, got, want)
		}
	}
	if got := p.Live(); got != 3 {
		t.Errorf("Live() = %d, want 3", got)
	}
}

func TestRingPoolKeepZero(t *testing.T) {
	p, err := fdops.NewRingPool(8192, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Get()
	p.Put(b)
	if p.Get() == b {
		t.Error("a pool keeping 0 rings reused one")
	}
}

func TestRingPoolReuseAllocs(t *testing.T) {
	p, err := fdops.NewRingPool(65536, 4)
	if err != nil {
		t.Fatal(err)
	}
	p.Put(p.Get())
	if got := testing.AllocsPerRun(100, func() { p.Put(p.Get()) }); got != 0 {
		t.Errorf("Get/Put of a kept ring allocates %v times, want 0", got)
	}
}
