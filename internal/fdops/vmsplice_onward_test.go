package fdops

import (
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// nbPipe returns a nonblocking pipe closed at the end of the test.
func nbPipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

// TestVmspliceRingSplicedOnward is the case that makes lending pages
// dangerous: the pipe's reader splices the lent pages on to other pipes,
// which keep referencing them long after the first pipe is empty. Eight
// 1 MiB pipes hold the first 8 MiB while the ring goes on through 24 MiB
// (several times its 4 MiB of memory, so every chunk is recycled and
// refilled while pipes still hold its old pages). Reading everything back
// must give the input.
func TestVmspliceRingSplicedOnward(t *testing.T) {
	b := vmspliceRingT(t)
	ar, aw := nbPipe(t)
	if _, err := fdio.SetPipeSize(aw, 1<<20); err != nil {
		t.Fatal(err)
	}
	const hold, total = 8, 24 << 20
	var holders [hold][2]int
	for i := range holders {
		holders[i][0], holders[i][1] = nbPipe(t)
		if _, err := fdio.SetPipeSize(holders[i][1], 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	in := make([]byte, total)
	rand.NewChaCha8([32]byte{7}).Read(in)
	var tail []byte // what goes through after the holders are full
	var c VmspliceCount
	fed, moved := 0, 0
	for moved < total {
		if fed < total && !b.Full() {
			fed += b.Write(in[fed:min(total, fed+12345)]) // odd sizes: partial pages at both ends
		}
		// Refills are slow here (nothing frees the lent pages), which
		// would pause lending (see refill): keep lending, it is what is
		// tested.
		b.vm.paused, b.vm.slow = 0, 0
		if !b.Empty() {
			if _, err := b.VmspliceTo(nil, aw, fed < total, &c); err != nil && !errors.Is(err, unix.EAGAIN) {
				t.Fatal(err)
			}
		}
		// Move what pipe A holds on by splice: into holder i while the
		// first 8 MiB pass, then read it out.
		for {
			i := moved >> 20
			if i >= hold {
				buf := make([]byte, 1<<20)
				n, err := unix.Read(ar, buf)
				if n <= 0 {
					if errors.Is(err, unix.EAGAIN) {
						break
					}
					t.Fatalf("read: %d, %v", n, err)
				}
				tail = append(tail, buf[:n]...)
				moved += n
				continue
			}
			n, err := unix.Splice(ar, nil, holders[i][1], nil, (i+1)<<20-moved, unix.SPLICE_F_NONBLOCK)
			if n <= 0 {
				if errors.Is(err, unix.EAGAIN) {
					break
				}
				t.Fatalf("splice into holder %d: %d, %v", i, n, err)
			}
			moved += int(n)
		}
	}
	if c.Vmsplices == 0 || c.Lent < total/2 {
		t.Fatalf("%d vmsplices lent %d of %d bytes: lending was not exercised", c.Vmsplices, c.Lent, total)
	}
	var got []byte
	for i := range holders {
		p := make([]byte, 1<<20)
		if n, err := unix.Read(holders[i][0], p); n != len(p) {
			t.Fatalf("holder %d: read %d, %v", i, n, err)
		}
		got = append(got, p...)
	}
	got = append(got, tail...)
	if sha256.Sum256(got) != sha256.Sum256(in) {
		for i := range got {
			if got[i] != in[i] {
				t.Fatalf("byte %d differs (of %d): a lent page was reused while a pipe held it", i, len(got))
			}
		}
		t.Fatalf("got %d bytes, want %d", len(got), len(in))
	}
}
