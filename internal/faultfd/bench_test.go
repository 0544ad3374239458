package faultfd_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/internal/faultfd"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

// passThrough is the thinnest possible Ops wrapper: what a seam costs when
// it does nothing.
type passThrough struct{ fdops.Ops }

// BenchmarkSeam copies /dev/zero to /dev/null through an 8 KiB ring (the
// smallest, so system-call overhead dominates) with the real Ops, behind a
// pass-through wrapper, and behind an Injector that injects nothing. The
// difference between the first two is the cost of a wrapper around the
// seam; production code pays only the first.
func BenchmarkSeam(b *testing.B) {
	zero, err := unix.Open("/dev/zero", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(zero)
	null, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(null)
	for _, bc := range []struct {
		name string
		ops  fdops.Ops
	}{
		{"sys", fdops.Sys{}},
		{"passthrough", passThrough{fdops.Sys{}}},
		{"injector-off", faultfd.MustNew(nil, faultfd.Config{})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ring, _ := fdops.NewRing(fdops.MinRing)
			b.SetBytes(fdops.MinRing)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ring.ReadFrom(bc.ops, zero); err != nil {
					b.Fatal(err)
				}
				for !ring.Empty() {
					if _, err := ring.WriteTo(bc.ops, null); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
