//go:build linux

package relay_test

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// sleepInReadLink starts a link between two pipes whose relay ends come
// blocking, as a shell's do (so the relay reads and writes private
// descriptions of its own), and plays messages until the loop reads them
// in its sleep (blocking.go).
func sleepInReadLink(t *testing.T) (e *env, k *relay.Link, done <-chan relay.LinkStats, src, dst pair, rng *rand.Rand) {
	t.Helper()
	e = ringEnv(t, true)
	src = newPair(t, "pipe", true, 0)
	dst = newPair(t, "pipe", false, 0)
	for _, fd := range []int{src.relay, dst.relay} {
		if err := unix.SetNonblock(fd, false); err != nil {
			t.Fatal(err)
		}
	}
	k, done = startLink(t, e, src.relay, dst.relay)
	rng = rand.New(rand.NewPCG(41, 42))
	for range 20 {
		pingPong(t, src, dst, rng, 10, io.Discard)
		if ringStats(e, k).SyncReads > 0 {
			return e, k, done, src, dst, rng
		}
	}
	t.Fatalf("200 messages and the loop never read one in its sleep: %+v", ringStats(e, k))
	return
}

// endLink closes the source, drains the sink to EOF and returns the
// link's final stats.
func endLink(t *testing.T, done <-chan relay.LinkStats, src, dst pair) relay.LinkStats {
	t.Helper()
	src.test.Close()
	io.ReadAll(dst.test)
	s := wait(t, done, "link done")
	dst.test.Close()
	return s
}

// A link alone on its loop moves small messages with a read in the
// loop's sleep and a write, every byte once and in order, and the loop
// sleeps once for many messages, not once per message.
func TestSleepInReadMessages(t *testing.T) {
	e, k, done, src, dst, rng := sleepInReadLink(t)
	before := ringStats(e, k)
	var s0, s1 loop.Stats
	e.do(func() { s0 = e.l.Stats() })
	h := sha256.New()
	pingPong(t, src, dst, rng, 2000, h)
	e.do(func() { s1 = e.l.Stats() })
	after := ringStats(e, k)
	if got := after.SyncReads - before.SyncReads; got < 1900 {
		t.Errorf("2000 messages: %d read in the loop's sleep; want nearly all", got)
	}
	if sleeps := s1.Sleeps - s0.Sleeps; sleeps > 100 {
		t.Errorf("2000 messages took %d sleeps of the loop; want a few (the sleep goes on reading)", sleeps)
	}
	s := endLink(t, done, src, dst)
	if !s.EOF || s.Bytes != after.Bytes || s.URingBytes == 0 || s.Reads < s.SyncReads {
		t.Errorf("final stats %+v: want EOF, Bytes %d, Reads ≥ SyncReads", s, after.Bytes)
	}
}

// While the loop sleeps in read on an idle source, everything that wakes
// it still does: a posted function, a garbage collection (the read goes
// through the runtime, so the collection never waits for it), a Stop;
// with one P too, where the helper waits for sysmon to hand it the P.
func TestSleepInReadWakes(t *testing.T) {
	for _, procs := range []int{1, 2} {
		t.Run(map[int]string{1: "GOMAXPROCS=1", 2: "GOMAXPROCS=2"}[procs], func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			e, k, done, src, dst, rng := sleepInReadLink(t)
			for i := range 5 {
				time.Sleep(20 * time.Millisecond) // the loop is in read again
				start := time.Now()
				e.do(func() {})
				runtime.GC()
				if d := time.Since(start); d > time.Second {
					t.Errorf("round %d: a Post and a GC took %v while the loop slept in read", i, d)
				}
				pingPong(t, src, dst, rng, 20, io.Discard) // and messages flow again
			}
			// After a wake-up the ring carries the next 64 sleeps' messages
			// (blockRest); then the sleep reads them again.
			before := ringStats(e, k).SyncReads
			pingPong(t, src, dst, rng, 300, io.Discard)
			if got := ringStats(e, k).SyncReads - before; got < 100 {
				t.Errorf("300 messages after the wake-ups: %d read in the sleep", got)
			}
			time.Sleep(20 * time.Millisecond)
			start := time.Now()
			e.l.Stop()
			if err := wait(t, e.ran, "loop stopped"); err != nil {
				t.Fatal(err)
			}
			e.ran = nil
			if d := time.Since(start); d > time.Second {
				t.Errorf("Stop took %v while the loop slept in read", d)
			}
			wait(t, done, "OnDone")
			src.test.Close()
			dst.test.Close()
		})
	}
}

// Wake-ups racing with messages (a Post and a GC every few hundred
// microseconds) lose, duplicate or reorder nothing.
func TestSleepInReadInterruptedMessages(t *testing.T) {
	e, k, done, src, dst, rng := sleepInReadLink(t)
	var stop atomic.Bool
	poked := make(chan int)
	go func() {
		n := 0
		for !stop.Load() {
			e.l.Post(func() {})
			if n%16 == 0 {
				runtime.GC()
			}
			n++
			time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
		}
		poked <- n
	}()
	h := sha256.New()
	pingPong(t, src, dst, rand.New(rand.NewPCG(43, 44)), 3000, h)
	stop.Store(true)
	n := <-poked
	s := endLink(t, done, src, dst)
	t.Logf("3000 messages, %d posts: %d read in the sleep", n, s.SyncReads)
	if s.SyncReads == 0 {
		t.Errorf("no message read in the sleep: %+v", s)
	}
	_ = k
}

// The sink's reader leaves while the loop sleeps in read on an idle
// source: the link ends at once (the sink's hangup reaches epoll, and the
// helper ends the read), as it does on the ring.
func TestSleepInReadReaderGone(t *testing.T) {
	_, _, done, src, dst, _ := sleepInReadLink(t)
	time.Sleep(20 * time.Millisecond)
	dst.test.Close()
	select {
	case s := <-done:
		if !s.SinkClosed {
			t.Errorf("link ended without SinkClosed: %+v", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the sink's reader left 5s ago and the link is still waiting for its source")
	}
	src.test.Close()
}

// A burst takes the link out of the ring back to splice, whose calls on
// the source are raw and must never block: the description the sleep
// made blocking is nonblocking again, so with the source empty the loop
// still runs a posted function.
func TestSleepInReadBurstLeaves(t *testing.T) {
	e, k, done, src, dst, _ := sleepInReadLink(t)
	burst := make([]byte, 256<<10)
	go func() { src.test.Write(burst) }()
	if _, err := io.ReadFull(dst.test, make([]byte, len(burst))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the source is empty now
	e.do(func() {})
	s := ringStats(e, k)
	if s.SpliceBytes < 128<<10 {
		t.Errorf("a 256 KiB burst was not spliced: %+v", s)
	}
	endLink(t, done, src, dst)
}

// A wake-up that finds the loop asleep in read with nothing to read
// leaves the link where it was: in the ring, its read queued again, with
// no read counted. (unix.Read answers -1 with EAGAIN: taken for a failed
// read, the link left the ring for splice at every Post.)
func TestSleepInReadWakeStaysInRing(t *testing.T) {
	e, k, done, src, dst, rng := sleepInReadLink(t)
	for i := range 5 {
		pingPong(t, src, dst, rng, 200, io.Discard) // past blockRest: reading in the sleep again
		time.Sleep(20 * time.Millisecond)           // the loop is in read(2)
		before := ringStats(e, k)                   // this Post wakes it; nothing to read
		after := ringStats(e, k)
		pingPong(t, src, dst, rng, 3, io.Discard)
		moved := ringStats(e, k)
		if moved.SpliceBytes != before.SpliceBytes || after.Reads != before.Reads {
			t.Errorf("round %d: a wake-up with nothing to read: spliced %d bytes after it, reads %d → %d; want the link still in the ring and no read counted",
				i, moved.SpliceBytes-before.SpliceBytes, before.Reads, after.Reads)
		}
	}
	endLink(t, done, src, dst)
}

// Where SIGURG cannot end the read — the program ignores it, or the loop
// thread blocks it — the loop never sleeps in read: the ring waits, and a
// Post or Stop on an idle source still runs at once.
func TestSleepInReadNeedsSIGURG(t *testing.T) {
	for _, how := range []string{"ignored", "blocked"} {
		t.Run(how, func(t *testing.T) {
			e := ringEnv(t, false) // no raw epoll sleeps: those need SIGURG too
			urg := unix.Sigset_t{}
			bit := uint(unix.SIGURG - 1)
			urg.Val[bit/64] |= 1 << (bit % 64)
			switch how {
			case "ignored":
				signal.Ignore(syscall.SIGURG)
				defer func() { // Reset keeps SIG_IGN for SIGURG; Notify puts the runtime's handler back
					c := make(chan os.Signal, 1)
					signal.Notify(c, syscall.SIGURG)
					signal.Stop(c)
				}()
			case "blocked":
				e.do(func() { unix.PthreadSigmask(unix.SIG_BLOCK, &urg, nil) })
				defer e.do(func() { unix.PthreadSigmask(unix.SIG_UNBLOCK, &urg, nil) })
			}
			src := newPair(t, "pipe", true, 0)
			dst := newPair(t, "pipe", false, 0)
			for _, fd := range []int{src.relay, dst.relay} {
				if err := unix.SetNonblock(fd, false); err != nil {
					t.Fatal(err)
				}
			}
			k, done := startLink(t, e, src.relay, dst.relay)
			ringOn(t, e, k, src, dst, rand.New(rand.NewPCG(45, 46)), io.Discard)
			pingPong(t, src, dst, rand.New(rand.NewPCG(47, 48)), 200, io.Discard)
			time.Sleep(20 * time.Millisecond)
			start := time.Now()
			s := ringStats(e, k) // e.do fails the test after 10 s
			if d := time.Since(start); d > time.Second || s.SyncReads != 0 {
				t.Errorf("SIGURG %s: a Post took %v, %d reads in the sleep; want none, and the Post at once", how, d, s.SyncReads)
			}
			endLink(t, done, src, dst)
		})
	}
}
