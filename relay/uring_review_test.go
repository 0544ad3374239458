package relay_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// countingPingPong is pingPong that also returns the bytes it sent.
func countingPingPong(t *testing.T, src, dst pair, rng *rand.Rand, n int) int {
	t.Helper()
	var c countWriter
	pingPong(t, src, dst, rng, n, &c)
	return int(c)
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// TestURingBytesOnSinkGone: every message was written into the sink
// pipe and read back by the test before the reader left, so the link's
// Bytes must equal what was sent. The ring's last message goes out in the
// chain write(msg) → read; the read is then canceled by end(), its
// completion (-ECANCELED) arrives with k.done set, and ringDone never
// credits the write that did go out.
func TestURingBytesOnSinkGone(t *testing.T) {
	for _, how := range []string{"reader-gone", "close"} {
		t.Run(how, func(t *testing.T) {
			e := ringEnv(t, true)
			src := newPair(t, "pipe", true, 0)
			dst := newPair(t, "pipe", false, 0)
			k, done := startLink(t, e, src.relay, dst.relay)
			rng := rand.New(rand.NewPCG(21, 22))
			sent := 0
			for range 20 {
				sent += countingPingPong(t, src, dst, rng, 10)
				if ringStats(e, k).URingBytes > 0 {
					break
				}
			}
			sent += countingPingPong(t, src, dst, rng, 50)
			time.Sleep(20 * time.Millisecond) // the chain's write went out; the read waits
			if how == "close" {
				e.do(k.Close)
			} else {
				dst.test.Close()
			}
			st := wait(t, done, "link done")
			if st.Bytes != uint64(sent) {
				t.Errorf("sent %d bytes, all read back by the sink's reader; link says Bytes %d (URing %d, splice %d), Dropped %d",
					sent, st.Bytes, st.URingBytes, st.SpliceBytes, st.Dropped)
			}
			src.test.Close()
			if how == "close" {
				dst.test.Close()
			}
		})
	}
}

// TestURingSetRateLimit: Link.SetRateLimit takes effect at once on a
// link the ring carries: the link leaves the ring (which does not limit),
// and its messages go at the limit (it let them through unlimited before).
func TestURingSetRateLimit(t *testing.T) {
	e := ringEnv(t, true)
	src := newPair(t, "pipe", true, 0)
	dst := newPair(t, "pipe", false, 0)
	k, done := startLink(t, e, src.relay, dst.relay)
	rng := rand.New(rand.NewPCG(23, 24))
	ringOn(t, e, k, src, dst, rng, io.Discard)
	e.do(func() { k.SetRateLimit(20000) }) // 20 kB/s: ~7.7 kB of messages take 0.3 s
	before := ringStats(e, k)
	start := time.Now()
	n := countingPingPong(t, src, dst, rng, 50)
	el := time.Since(start)
	after := ringStats(e, k)
	t.Logf("%d bytes at a 20 kB/s limit took %v; URingBytes %d → %d", n, el, before.URingBytes, after.URingBytes)
	if after.URingBytes != before.URingBytes || el < 150*time.Millisecond {
		t.Errorf("rate limit 20 kB/s ignored: %d bytes in %v, %d of them through io_uring",
			n, el, after.URingBytes-before.URingBytes)
	}
	src.test.Close()
	io.ReadAll(dst.test)
	wait(t, done, "link done")
	dst.test.Close()
}

// TestURingStopInFlight: the loop stops (Relay.Close through
// OnStop) while a chain waits in its write (sink full) or its read: the
// chain is canceled and drained, no fd is left open (TestMain's leak
// check), OnDone runs.
func TestURingStopInFlight(t *testing.T) {
	for _, waitIn := range []string{"read", "write"} {
		t.Run(waitIn, func(t *testing.T) {
			e := ringEnv(t, true)
			src := newPair(t, "pipe", true, 0)
			dst := newPair(t, "pipe", false, 4096)
			k, done := startLink(t, e, src.relay, dst.relay)
			ringOn(t, e, k, src, dst, rand.New(rand.NewPCG(29, 30)), io.Discard)
			if waitIn == "write" {
				fillSink(t, src)
			}
			e.l.Stop()
			if err := wait(t, e.ran, "loop stopped"); err != nil {
				t.Fatal(err)
			}
			e.ran = nil
			wait(t, done, "OnDone")
			src.test.Close()
			dst.test.Close()
		})
	}
}

// TestURingRawAfterSignal: loop.wait sets flowing only when a
// sleep through the runtime returns epoll events; a ring sleep that
// delivered only completions returns 0 events, so after one signal the
// loop sleeps through the runtime while messages flow through the ring.
func TestURingRawAfterSignal(t *testing.T) {
	for _, what := range []string{"gc", "timer"} {
		t.Run(what, func(t *testing.T) {
			e := ringEnv(t, true)
			src := newPair(t, "pipe", true, 0)
			dst := newPair(t, "pipe", false, 0)
			k, done := startLink(t, e, src.relay, dst.relay)
			rng := rand.New(rand.NewPCG(31, 32))
			ringOn(t, e, k, src, dst, rng, io.Discard)
			var s0, s1 loop.Stats
			fired := make(chan struct{})
			e.do(func() {
				s0 = e.l.Stats()
				if what == "timer" {
					// A timer that expires in a raw ring sleep: the sleep
					// ends with no completion, which Sleep reports as EINTR.
					e.l.AfterFunc(2*time.Millisecond, func() { close(fired) })
				}
			})
			if what == "gc" {
				runtime.GC() // its stop-the-world signals the loop's thread: EINTR ends a raw sleep
			} else {
				<-fired
			}
			// Enough messages that the 2 ms pause after the signal is a
			// small part of them even where a message takes ~15 µs.
			pingPong(t, src, dst, rng, 3000, io.Discard)
			e.do(func() { s1 = e.l.Stats() })
			sleeps, raw := s1.Sleeps-s0.Sleeps, s1.RawWaits-s0.RawWaits
			t.Logf("3000 ring messages: %d sleeps, %d raw", sleeps, raw)
			if raw < sleeps/2 {
				t.Errorf("3000 messages through the ring: only %d of %d sleeps raw", raw, sleeps)
			}
			src.test.Close()
			io.ReadAll(dst.test)
			wait(t, done, "link done")
			dst.test.Close()
		})
	}
}

// TestURingManyLinks: 48 links in the ring at once (more chains
// than the 64-entry SQ holds, so push submits mid-Reap), each fed by its
// own goroutine: small messages (some read back at once, some pipelined
// so a read takes several), bursts over 4 KiB, a 4 KiB sink; every byte
// once and in order (hashed), EOF to each reader, Bytes exact.
func TestURingManyLinks(t *testing.T) {
	for _, raw := range []bool{true, false} {
		t.Run(map[bool]string{true: "raw", false: "runtime"}[raw], func(t *testing.T) {
			e := ringEnv(t, raw)
			n := manyLinks
			type res struct {
				i          int
				sent, recv [32]byte
				nsent      int
				err        error
			}
			out := make(chan res, n)
			dones := make([]<-chan relay.LinkStats, n)
			for i := range n {
				src := newPair(t, "pipe", true, 0)
				dst := newPair(t, "pipe", false, 4096)
				_, dones[i] = startLink(t, e, src.relay, dst.relay)
				go func() {
					r := res{i: i}
					defer func() { out <- r }()
					rng := rand.New(rand.NewPCG(uint64(i), 99))
					hs, hr := sha256.New(), sha256.New()
					recvd := make(chan error, 1)
					var total int
					var all []byte
					for m := range 400 {
						size := 1 + rng.IntN(300)
						if m%50 == 49 {
							size = 5000 + rng.IntN(20000)
						}
						msg := make([]byte, size)
						for j := range msg {
							msg[j] = byte(rng.Uint32())
						}
						all = append(all, msg...)
						total += size
					}
					hs.Write(all)
					r.sent = [32]byte(hs.Sum(nil))
					r.nsent = total
					go func() {
						b, err := io.ReadAll(dst.test)
						hr.Write(b)
						if err == nil && len(b) != total {
							err = fmt.Errorf("read %d of %d bytes", len(b), total)
						}
						recvd <- err
					}()
					for off := 0; off < len(all); {
						size := 1 + rng.IntN(300)
						if rng.IntN(20) == 0 {
							size = 6000
						}
						end := min(off+size, len(all))
						if _, err := src.test.Write(all[off:end]); err != nil {
							r.err = err
							break
						}
						off = end
						if rng.IntN(3) == 0 {
							time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
						}
					}
					src.test.Close()
					if err := <-recvd; err != nil && r.err == nil {
						r.err = err
					}
					r.recv = [32]byte(hr.Sum(nil))
					dst.test.Close()
				}()
			}
			var uringBytes uint64
			for range n {
				r := wait(t, out, "a feeder")
				st := wait(t, dones[r.i], "link done")
				uringBytes += st.URingBytes
				if r.err != nil || r.sent != r.recv || st.Bytes != uint64(r.nsent) || !st.EOF || st.Dropped != 0 {
					t.Errorf("link %d: err %v, hashes equal %v, sent %d, stats %+v", r.i, r.err, r.sent == r.recv, r.nsent, st)
				}
			}
			t.Logf("%d bytes through io_uring", uringBytes)
			if uringBytes == 0 {
				t.Errorf("no byte went through io_uring")
			}
		})
	}
}

// TestURingBulkToSlowReader: a bulk stream (source always full) to
// a reader that takes 4 KiB at a time. Each splice is short (the sink's
// room) and ≤ 4 KiB, so noteSplice counts it as a small message; after
// four the link enters the ring, whose read takes 64 KiB at once and
// leaves again, the 64 KiB going out by write(2) (k.left). Logs how much
// of a bulk transfer is copied instead of spliced.
func TestURingBulkToSlowReader(t *testing.T) {
	e := ringEnv(t, true)
	src := newPair(t, "pipe", true, 0)
	dst := newPair(t, "pipe", false, 0)
	k, done := startLink(t, e, src.relay, dst.relay)
	bulk := make([]byte, 8<<20)
	rng := rand.New(rand.NewPCG(51, 52))
	for i := range bulk {
		bulk[i] = byte(rng.Uint32())
	}
	go func() { src.test.Write(bulk); src.test.Close() }()
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := dst.test.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
		if len(got)%(64<<10) == 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	st := wait(t, done, "link done")
	_ = k
	if !bytes.Equal(got, bulk) {
		t.Fatal("bytes differ")
	}
	t.Logf("8 MiB bulk to a 4 KiB reader: spliced %d, copied %d (io_uring %d), writes %d, splices %d",
		st.SpliceBytes, st.CopyBytes, st.URingBytes, st.Writes, st.Splices)
	if st.CopyBytes > st.Bytes/10 {
		t.Errorf("%.0f%% of a bulk transfer copied through the ring's buffer instead of spliced", 100*float64(st.CopyBytes)/float64(st.Bytes))
	}
	dst.test.Close()
}

// TestURingCloseAccounts: Link.Close while the ring's write waits
// for a full sink. Every byte the writer put in is delivered (Bytes, and
// the reader reads exactly that), dropped (Dropped) or still in the
// source pipe: sent = Bytes + Dropped + left in the source.
func TestURingCloseAccounts(t *testing.T) {
	e := ringEnv(t, true)
	src := newPair(t, "pipe", true, 0)
	dst := newPair(t, "pipe", false, 4096)
	k, done := startLink(t, e, src.relay, dst.relay)
	sent := countingPingPong(t, src, dst, rand.New(rand.NewPCG(61, 62)), 0)
	var c countWriter
	ringOn(t, e, k, src, dst, rand.New(rand.NewPCG(61, 62)), &c)
	sent += int(c)
	read := int(c)
	fillSink(t, src) // 16 × 512 bytes
	sent += 16 * 512
	time.Sleep(20 * time.Millisecond)
	e.do(k.Close)
	st := wait(t, done, "OnDone")
	inSrc, err := unix.IoctlGetInt(int(src.test.Fd()), unix.TIOCINQ)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(dst.test)
	read += len(rest)
	t.Logf("sent %d, read %d; Bytes %d, Dropped %d, left in the source %d", sent, read, st.Bytes, st.Dropped, inSrc)
	if st.Bytes != uint64(read) || uint64(sent) != st.Bytes+st.Dropped+uint64(inSrc) {
		t.Errorf("sent %d = delivered %d (Bytes %d) + Dropped %d + left in source %d? %d unaccounted",
			sent, read, st.Bytes, st.Dropped, inSrc, sent-int(st.Bytes)-int(st.Dropped)-inSrc)
	}
	src.test.Close()
	dst.test.Close()
}

// manyLinks is TestURingManyLinks's link count (REVIEW_LINKS).
var manyLinks = func() int {
	if n, err := strconv.Atoi(os.Getenv("REVIEW_LINKS")); err == nil {
		return n
	}
	return 48
}()
