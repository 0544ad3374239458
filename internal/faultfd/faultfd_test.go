package faultfd_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/pipeloop/pipeloop/internal/faultfd"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"github.com/pipeloop/pipeloop/internal/leakcheck"
	"github.com/pipeloop/pipeloop/internal/testfd"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }

func TestNewRefuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		cfg  faultfd.Config
	}{
		{"again without wake", faultfd.Config{Rand: rng, Again: 0.1}},
		{"no rand", faultfd.Config{Short: 0.1}},
		{"probability 1", faultfd.Config{Rand: rng, Intr: 1}},
		{"sum 1", faultfd.Config{Rand: rng, Intr: 0.5, Short: 0.5}},
		{"no errno", faultfd.Config{Failures: []faultfd.Failure{{FD: -1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := faultfd.New(nil, tc.cfg); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

// TestShortAndIntr: random short writes and EINTRs through the fdio ring
// still deliver every byte once, and the injector counts what it did.
func TestShortAndIntr(t *testing.T) {
	r, w := testfd.Pipe(t, true, true)
	in := faultfd.MustNew(nil, faultfd.Config{Rand: rand.New(rand.NewPCG(3, 4)), Intr: 0.2, Short: 0.5})
	ring, _ := fdops.NewRing(1 << 16)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	var got []byte
	buf := make([]byte, 1<<16)
	for i := range 100 {
		ring.Write(want[i*len(want)/100 : (i+1)*len(want)/100])
		drain(t, ring, in, w)
		for {
			n, err := unix.Read(r, buf)
			if n <= 0 || err != nil {
				break
			}
			got = append(got, buf[:n]...)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	tot := in.Totals(faultfd.AnyOp)
	if tot.Bytes != uint64(len(want)) || tot.Kinds[faultfd.Short] == 0 || tot.Kinds[faultfd.Intr] == 0 {
		t.Fatalf("totals %+v; %v", tot, in)
	}
	if got := in.Moved(w, faultfd.Writes); got != uint64(len(want)) {
		t.Errorf("Moved(w) = %d, want %d", got, len(want))
	}
}

func drain(t *testing.T, ring *fdops.Ring, ops fdops.Ops, fd int) {
	t.Helper()
	for !ring.Empty() {
		if _, err := ring.WriteTo(ops, fd); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFailureAfter: a failure fires exactly After bytes in, on its fd only,
// and keeps firing.
func TestFailureAfter(t *testing.T) {
	r, w := testfd.Pipe(t, true, true)
	in := faultfd.MustNew(nil, faultfd.Config{Failures: []faultfd.Failure{
		{Ops: faultfd.Writes, FD: w, After: 1000, Err: unix.ENOSPC},
	}})
	p := make([]byte, 4096)
	n, err := in.Write(w, p)
	if n != 1000 || err != nil {
		t.Fatalf("first write: %d, %v; want 1000, nil", n, err)
	}
	for range 2 {
		if n, err := in.Write(w, p); n != -1 || !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("write after the failure: %d, %v; want -1, ENOSPC", n, err)
		}
	}
	if n, err := in.Read(r, p); n != 1000 || err != nil {
		t.Fatalf("read on the other fd: %d, %v", n, err)
	}
	if f := in.Fatal(); len(f) != 2 || f[0].Err != unix.ENOSPC || f[0].FD != w {
		t.Fatalf("Fatal() = %v", f)
	}
}

// TestAgainWakes: every injected EAGAIN calls Wake with the fd, both ends
// for splice.
func TestAgainWakes(t *testing.T) {
	r, w := testfd.Pipe(t, true, true)
	r2, w2 := testfd.Pipe(t, true, true)
	woken := map[int]int{}
	in := faultfd.MustNew(nil, faultfd.Config{Rand: rand.New(rand.NewPCG(5, 6)), Again: 0.9,
		Wake: func(fd int) { woken[fd]++ }})
	unix.Write(w, []byte("hello"))
	var agains int
	for {
		n, err := in.Splice(r, w2, 5, fdops.SpliceFlags)
		if err == unix.EAGAIN {
			agains++
			continue
		}
		if n != 5 || err != nil {
			t.Fatalf("splice: %d, %v", n, err)
		}
		break
	}
	if agains == 0 || woken[r] != agains || woken[w2] != agains {
		t.Fatalf("%d EAGAINs, woken %v", agains, woken)
	}
	buf := make([]byte, 8)
	if n, _ := unix.Read(r2, buf); string(buf[:n]) != "hello" {
		t.Fatalf("spliced %q", buf[:n])
	}
}

// TestReadvShort: a shortened readv fills its vectors in order.
func TestReadvShort(t *testing.T) {
	r, w := testfd.Pipe(t, true, true)
	unix.Write(w, []byte("abcdefghij"))
	in := faultfd.MustNew(nil, faultfd.Config{Failures: []faultfd.Failure{{Ops: faultfd.Readv, FD: r, After: 7, Err: unix.EIO}}})
	a, b := make([]byte, 4), make([]byte, 10)
	n, err := in.Readv(r, [][]byte{a, b})
	if n != 7 || err != nil || string(a) != "abcd" || string(b[:3]) != "efg" {
		t.Fatalf("readv: %d, %v, %q %q", n, err, a, b[:3])
	}
	if _, err := in.Readv(r, [][]byte{a, b}); err != unix.EIO {
		t.Fatalf("second readv: %v, want EIO", err)
	}
}
