//go:build linux

package relay

import (
	"math/rand/v2"
	"testing"

	"github.com/pipeloop/pipeloop/internal/fdops"
)

// BenchmarkCountRead is what --lines adds per read: counting the '\n'
// bytes of the last read (64 KiB of text with lines of random length) in
// a ring, as the loop thread does after each read.
func BenchmarkCountRead(b *testing.B) {
	ring, err := fdops.NewRing(128 << 10)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(16, 16))
	text := make([]byte, 64<<10)
	for i := range text {
		text[i] = byte(' ' + rng.IntN(95))
		if rng.IntN(40) == 0 {
			text[i] = '\n'
		}
	}
	k := &Link{ring: ring}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		ring.Reset()
		ring.Write(text)
		k.countRead(len(text))
	}
}
