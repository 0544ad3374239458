package relay_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

// ringEnv is a relay with Options.URing on a loop that sleeps raw (as the
// pipeloop command's) or through the runtime.
func ringEnv(t *testing.T, raw bool) *env {
	t.Helper()
	return newEnvOn(t, loop.Options{RawWait: raw}, relay.Options{URing: true})
}

// pingPong sends each message into src and reads it back from dst before
// the next, as a request/response peer does: every splice is short, so
// the link moves to the ring after a few.
func pingPong(t *testing.T, src, dst pair, rng *rand.Rand, n int, sum io.Writer) {
	t.Helper()
	got := make([]byte, 512)
	for i := range n {
		msg := make([]byte, 1+rng.IntN(300))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		if _, err := src.test.Write(msg); err != nil {
			t.Fatalf("message %d: write: %v", i, err)
		}
		dst.test.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(dst.test, got[:len(msg)]); err != nil {
			t.Fatalf("message %d: read: %v", i, err)
		}
		if !bytes.Equal(got[:len(msg)], msg) {
			t.Fatalf("message %d: got %x, want %x", i, got[:len(msg)], msg)
		}
		sum.Write(msg)
	}
}

// ringStats reads k's stats on the loop.
func ringStats(e *env, k *relay.Link) (s relay.LinkStats) {
	e.do(func() { s = k.Stats() })
	return s
}

// TestURingMessages: small messages move through the ring, a burst of
// bulk takes the link back to splice and the messages after it back to
// the ring, and the end of input reaches the reader after the last byte:
// every byte once, in order (hashed), raw sleeps or not.
func TestURingMessages(t *testing.T) {
	for _, raw := range []bool{true, false} {
		t.Run(map[bool]string{true: "raw", false: "runtime"}[raw], func(t *testing.T) {
			e := ringEnv(t, raw)
			src := newPair(t, "pipe", true, 0)
			dst := newPair(t, "pipe", false, 0)
			k, done := startLink(t, e, src.relay, dst.relay)
			rng := rand.New(rand.NewPCG(3, 4))
			sent, recv := sha256.New(), sha256.New()

			pingPong(t, src, dst, rng, 200, io.MultiWriter(sent, recv))
			if s := ringStats(e, k); s.URingBytes == 0 {
				t.Fatalf("after 200 messages no byte went through io_uring: %+v", s)
			}
			bulk := make([]byte, 4<<20)
			for i := range bulk {
				bulk[i] = byte(rng.Uint32())
			}
			fed := make(chan error, 1)
			go func() { _, err := src.test.Write(bulk); fed <- err }()
			dst.test.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, len(bulk))
			if _, err := io.ReadFull(dst.test, got); err != nil {
				t.Fatalf("bulk: %v", err)
			}
			if err := <-fed; err != nil || !bytes.Equal(got, bulk) {
				t.Fatalf("bulk: write error %v, bytes equal %v", err, bytes.Equal(got, bulk))
			}
			sent.Write(bulk)
			recv.Write(got)
			before := ringStats(e, k)
			pingPong(t, src, dst, rng, 200, io.MultiWriter(sent, recv))
			if s := ringStats(e, k); s.URingBytes == before.URingBytes || s.SpliceBytes < uint64(len(bulk))/2 {
				t.Fatalf("after the bulk: io_uring bytes %d → %d, spliced %d: want the bulk spliced and the ring used again",
					before.URingBytes, s.URingBytes, s.SpliceBytes)
			}
			src.test.Close()
			rest, err := io.ReadAll(dst.test)
			st := wait(t, done, "link done")
			if err != nil || len(rest) != 0 || !st.EOF {
				t.Fatalf("after the last message: %d more bytes, read error %v, EOF %v (%v)", len(rest), err, st.EOF, st.Err)
			}
			if !bytes.Equal(sent.Sum(nil), recv.Sum(nil)) || st.Bytes != st.SpliceBytes+st.CopyBytes {
				t.Fatalf("hashes differ or byte counts do not add up: %+v", st)
			}
			dst.test.Close()
		})
	}
}
