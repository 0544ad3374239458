//go:build linux

package testfd

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// Exchange plays a request/response peer through a relay: n messages of
// 1 to 300 random bytes written to w, each read back from r (within 10 s)
// and checked before the next is sent. Each message also goes to sum.
func Exchange(t testing.TB, w io.Writer, r *os.File, rng *rand.Rand, n int, sum io.Writer) {
	t.Helper()
	got := make([]byte, 300)
	for i := range n {
		msg := Pattern(1+rng.IntN(300), rng.Uint64())
		if _, err := w.Write(msg); err != nil {
			t.Fatalf("message %d: write: %v", i, err)
		}
		r.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(r, got[:len(msg)]); err != nil {
			t.Fatalf("message %d: read: %v", i, err)
		}
		if !bytes.Equal(got[:len(msg)], msg) {
			t.Fatalf("message %d: got %x, want %x", i, got[:len(msg)], msg)
		}
		sum.Write(msg)
	}
}
