package relay_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// ringEnv is a relay with Options.URing on a loop that sleeps raw (as the
// pipeloop command's) or through the runtime.
func ringEnv(t *testing.T, raw bool) *env {
	t.Helper()
	return newEnvOn(t, loop.Options{RawWait: raw}, relay.Options{URing: true})
}

// pingPong plays a request/response peer on src and dst
// (testfd.Exchange): every splice is short, so the link moves to the ring
// after a few messages.
func pingPong(t *testing.T, src, dst pair, rng *rand.Rand, n int, sum io.Writer) {
	t.Helper()
	testfd.Exchange(t, src.test, dst.test, rng, n, sum)
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

// ringOn runs messages through the link until the ring carries it.
func ringOn(t *testing.T, e *env, k *relay.Link, src, dst pair, rng *rand.Rand, sum io.Writer) {
	t.Helper()
	for range 20 {
		pingPong(t, src, dst, rng, 10, sum)
		if ringStats(e, k).URingBytes > 0 {
			return
		}
	}
	t.Fatal("200 messages and the ring never carried the link")
}

// TestURingSinkFull: a reader that stops reading fills the sink; the ring's
// write comes back short, the rest goes out once the reader reads again,
// and meanwhile the writer is held back (one message buffered, no more).
func TestURingSinkFull(t *testing.T) {
	e := ringEnv(t, true)
	// A source bigger than the sink: a read takes more than the sink has
	// room for, and the write comes back short.
	src := newPair(t, "pipe", true, 32<<10)
	dst := newPair(t, "pipe", false, 4096)
	k, done := startLink(t, e, src.relay, dst.relay)
	rng := rand.New(rand.NewPCG(5, 6))
	sent, recv := sha256.New(), sha256.New()
	ringOn(t, e, k, src, dst, rng, io.MultiWriter(sent, recv))

	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	sent.Write(payload)
	fed := make(chan error, 1)
	go func() {
		var err error
		for off := 0; off < len(payload) && err == nil; off += 100 {
			var n int
			n, err = src.test.Write(payload[off:min(off+100, len(payload))])
			src.moved.Add(int64(n))
		}
		src.test.Close()
		fed <- err
	}()
	// The reader is away: the ring's write waits for the sink, and the
	// link's stats say so (TimeFull) while it does.
	time.Sleep(50 * time.Millisecond)
	full0 := ringStats(e, k).TimeFull
	time.Sleep(50 * time.Millisecond)
	if full := ringStats(e, k).TimeFull - full0; full < 40*time.Millisecond {
		t.Fatalf("the sink held the link for 50 ms and TimeFull grew by %v", full)
	}
	// Held: the two pipes (32 KiB and 4 KiB, a page more in slack) and the
	// link's 64 KiB buffer.
	if moved, most := src.moved.Load(), int64(32<<10+4096+8192+64<<10); moved > most {
		t.Fatalf("the writer got %d bytes in with the reader away: more than the %d the pipes and the link hold", moved, most)
	}
	got, err := io.ReadAll(dst.test)
	recv.Write(got)
	st := wait(t, done, "link done")
	if ferr := <-fed; err != nil || ferr != nil || !bytes.Equal(sent.Sum(nil), recv.Sum(nil)) {
		t.Fatalf("read error %v, write error %v, hashes equal %v; got %d of %d bytes (%+v)",
			err, ferr, bytes.Equal(sent.Sum(nil), recv.Sum(nil)), len(got), len(payload), st)
	}
	if !st.EOF || st.Dropped != 0 {
		t.Fatalf("link ended without EOF, or dropped bytes: %+v", st)
	}
	dst.test.Close()
}

// ringWaiting sets up a link the ring carries, waiting in its read (the
// source empty) or, with waitIn "write", in its write (the 4 KiB sink full).
func ringWaiting(t *testing.T, waitIn string, seed uint64) (e *env, k *relay.Link, done <-chan relay.LinkStats, src, dst pair) {
	t.Helper()
	e = ringEnv(t, true)
	src = newPair(t, "pipe", true, 0)
	dst = newPair(t, "pipe", false, 4096)
	k, done = startLink(t, e, src.relay, dst.relay)
	ringOn(t, e, k, src, dst, rand.New(rand.NewPCG(seed, seed+1)), io.Discard)
	if waitIn == "write" {
		fillSink(t, src)
	}
	return e, k, done, src, dst
}

// TestURingReaderGone: the reader leaving while the ring waits — in the
// read (the source empty) or in the write (the sink full), or as a
// message arrives after the source was idle — ends the link (SinkClosed),
// and the writer upstream then gets EPIPE, as in a shell pipeline. The
// time the write waited is the sink's (TimeFull); the time the source
// was idle is not.
func TestURingReaderGone(t *testing.T) {
	for _, waitIn := range []string{"read", "write", "message"} {
		t.Run(waitIn, func(t *testing.T) {
			_, _, done, src, dst := ringWaiting(t, waitIn, 7)
			time.Sleep(100 * time.Millisecond)
			if waitIn == "message" {
				if _, err := src.test.Write([]byte("hello")); err != nil {
					t.Fatal(err)
				}
			}
			dst.test.Close()
			st := wait(t, done, "link done after the reader left")
			if !st.SinkClosed {
				t.Fatalf("link ended without SinkClosed: %+v", st)
			}
			if waitIn == "write" && st.TimeFull < 80*time.Millisecond {
				t.Errorf("the sink held the ring's write 100 ms before its reader left; TimeFull %v, TimeEmpty %v", st.TimeFull, st.TimeEmpty)
			}
			if waitIn == "message" && st.TimeFull > 50*time.Millisecond {
				t.Errorf("the source was idle 100 ms, then a message met a reader gone; TimeFull %v, TimeEmpty %v", st.TimeFull, st.TimeEmpty)
			}
			if _, err := src.test.Write([]byte("after")); !errors.Is(err, unix.EPIPE) {
				t.Fatalf("writer upstream: %v, want EPIPE", err)
			}
			src.test.Close()
		})
	}
}

// fillSink sends small messages until the link's 4 KiB sink is full and
// the ring's write waits for room.
func fillSink(t *testing.T, src pair) {
	t.Helper()
	for range 2 * 4096 / 512 {
		if _, err := src.test.Write(make([]byte, 512)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestURingCloseInFlight: Link.Close while the ring waits — in the read
// (the source empty) or in the write (the sink full) — cancels the chain
// before the fds close: OnDone runs, both fds are closed (the writer gets
// EPIPE, the reader EOF), and the loop stops cleanly with no fd left open
// (TestMain's leak check covers the ring's own).
func TestURingCloseInFlight(t *testing.T) {
	for _, waitIn := range []string{"read", "write"} {
		t.Run(waitIn, func(t *testing.T) {
			e, k, done, src, dst := ringWaiting(t, waitIn, 9)
			e.do(k.Close)
			st := wait(t, done, "OnDone after Close")
			if !k.Done() || st.EOF {
				t.Fatalf("after Close: done %v, stats %+v", k.Done(), st)
			}
			if _, err := src.test.Write([]byte("after")); !errors.Is(err, unix.EPIPE) {
				t.Fatalf("writer upstream after Close: %v, want EPIPE (the source closed)", err)
			}
			if _, err := io.ReadAll(dst.test); err != nil {
				t.Fatalf("reader after Close: %v, want EOF", err)
			}
			src.test.Close()
			dst.test.Close()
		})
	}
}

// TestURingUnavailable: where io_uring cannot be used the same messages
// go through epoll and splice, byte for byte.
func TestURingUnavailable(t *testing.T) {
	e := ringEnv(t, true)
	e.do(func() { relay.NoURing(e.r) })
	src := newPair(t, "pipe", true, 0)
	dst := newPair(t, "pipe", false, 0)
	k, done := startLink(t, e, src.relay, dst.relay)
	pingPong(t, src, dst, rand.New(rand.NewPCG(11, 12)), 100, io.Discard)
	if s := ringStats(e, k); s.URingBytes != 0 || s.SpliceBytes == 0 {
		t.Fatalf("io_uring unavailable, yet %d bytes went through it (%d spliced)", s.URingBytes, s.SpliceBytes)
	}
	src.test.Close()
	if st := wait(t, done, "link done"); !st.EOF {
		t.Fatalf("no EOF: %+v", st)
	}
	dst.test.Close()
}

// TestURingCloseFromOnDone: a callback run while the loop reaps the
// ring's completions (OnDone of a link the ring carried, which ended when
// the reader left) closes the relay, ring and all: the loop goes on.
func TestURingCloseFromOnDone(t *testing.T) {
	e := ringEnv(t, true)
	src := newPair(t, "pipe", true, 0)
	dst := newPair(t, "pipe", false, 4096)
	closed := make(chan relay.LinkStats, 1)
	var k *relay.Link
	e.do(func() {
		var err error
		k, err = e.r.NewLink(relay.LinkConfig{
			Src: relay.Endpoint{FD: src.relay, Name: "src", Owned: true},
			Dst: relay.Endpoint{FD: dst.relay, Name: "dst", Owned: true},
			OnDone: func(k *relay.Link) {
				e.r.Close()
				closed <- k.Stats()
			},
		})
		if err != nil {
			t.Error(err)
		}
	})
	ringOn(t, e, k, src, dst, rand.New(rand.NewPCG(19, 20)), io.Discard)
	fillSink(t, src)
	dst.test.Close() // the ring's write fails with EPIPE: ringDone → sinkGone → OnDone
	if st := wait(t, closed, "OnDone"); !st.SinkClosed {
		t.Fatalf("link ended without SinkClosed: %+v", st)
	}
	var links int
	e.do(func() { links = e.r.Links() }) // the loop still runs posted functions
	if links != 0 {
		t.Fatalf("%d links after Close", links)
	}
	src.test.Close()
}

// TestURingTwoRelays: two relays on one loop: the first to need the ring
// gets it, the other's links stay on epoll, and both move their messages.
func TestURingTwoRelays(t *testing.T) {
	e := ringEnv(t, true)
	var r2 *relay.Relay
	e.do(func() {
		var err error
		if r2, err = relay.New(e.l, relay.Options{URing: true}); err != nil {
			t.Error(err)
		}
	})
	e2 := &env{t: t, l: e.l, r: r2}
	var links [2]*relay.Link
	var srcs, dsts [2]pair
	for i, en := range []*env{e, e2} {
		srcs[i] = newPair(t, "pipe", true, 0)
		dsts[i] = newPair(t, "pipe", false, 0)
		links[i], _ = startLink(t, en, srcs[i].relay, dsts[i].relay)
	}
	rng := rand.New(rand.NewPCG(17, 18))
	for range 10 {
		for i := range links {
			pingPong(t, srcs[i], dsts[i], rng, 10, io.Discard)
		}
	}
	s1, s2 := ringStats(e, links[0]), ringStats(e2, links[1])
	if s1.URingBytes == 0 || s2.URingBytes != 0 {
		t.Fatalf("io_uring bytes: first relay %d, second %d: want the first's link in the ring, the second's on epoll",
			s1.URingBytes, s2.URingBytes)
	}
	for i := range links {
		srcs[i].test.Close()
		io.ReadAll(dsts[i].test)
		dsts[i].test.Close()
	}
}

// TestURingLetsRuntimeIn: with one P, a loop sleeping raw in
// io_uring_enter (the link idle in the ring) still lets a garbage
// collection and an allocating goroutine through: a signal ends the
// sleep, as it ends a raw epoll_wait.
func TestURingLetsRuntimeIn(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	e := ringEnv(t, true)
	src := newPair(t, "pipe", true, 0)
	dst := newPair(t, "pipe", false, 0)
	k, done := startLink(t, e, src.relay, dst.relay)
	ringOn(t, e, k, src, dst, rand.New(rand.NewPCG(13, 14)), io.Discard)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var keep [][]byte
		for range 64 {
			keep = append(keep, make([]byte, 1<<20))
		}
		runtime.GC()
		_ = keep
	}()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("allocating 64 MiB and a GC: not done after 5s while the loop sleeps raw in io_uring_enter")
	}
	pingPong(t, src, dst, rand.New(rand.NewPCG(15, 16)), 10, io.Discard)
	src.test.Close()
	wait(t, done, "link done")
	dst.test.Close()
}
