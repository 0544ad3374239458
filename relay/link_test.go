package relay_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/faultfd"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// startLink creates a link from src to dst on e and returns a channel that
// receives its final stats.
func startLink(t *testing.T, e *env, src, dst int) (*relay.Link, <-chan relay.LinkStats) {
	t.Helper()
	done := make(chan relay.LinkStats, 1)
	var k *relay.Link
	var err error
	e.do(func() {
		k, err = e.r.NewLink(relay.LinkConfig{
			Src:    relay.Endpoint{FD: src, Name: "src", Owned: true},
			Dst:    relay.Endpoint{FD: dst, Name: "dst", Owned: true},
			OnDone: func(k *relay.Link) { done <- k.Stats() },
		})
	})
	if err != nil {
		unix.Close(src)
		unix.Close(dst)
		t.Fatalf("NewLink: %v", err)
	}
	return k, done
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing within 10s", what)
		panic("unreachable")
	}
}

// TestBackpressure: with a reader that does not read, a link holds at
// most one ring (BufferSize) beyond what the pipes hold, and the writer
// blocks; once everything drains the ring goes back to the pool.
func TestBackpressure(t *testing.T) {
	for _, mode := range []relay.Mode{relay.ModeCopy, relay.ModeAuto} {
		t.Run(mode.String(), func(t *testing.T) {
			const buffer = 16 << 10
			count := faultfd.MustNew(nil, faultfd.Config{})
			e := newEnv(t, relay.WithOps(relay.Options{Mode: mode, BufferSize: buffer}, count))
			src := newPair(t, "pipe", true, 4096)
			dst := newPair(t, "pipe", false, 4096)
			k, done := startLink(t, e, src.relay, dst.relay)

			payload := bytes.Repeat([]byte("backpressure "), 1<<17) // 1.6 MiB
			fed := make(chan int, 1)
			go func() {
				n, _ := feed(src.test, payload, pacing{chunk: 4096}, rand.New(rand.NewPCG(1, 2)), src.moved)
				fed <- n
			}()
			// Let the writer run into the wall, then look several times.
			for range 5 {
				time.Sleep(20 * time.Millisecond)
				var held uint64
				var live int
				var st relay.LinkStats
				// Both counts on the loop goroutine, in one turn: read
				// apart, the link moves bytes in between.
				e.do(func() {
					live, st = e.r.RingsLive(), k.Stats()
					held = count.Moved(src.relay, faultfd.Reads|faultfd.Splice) - st.Bytes
				})
				if mode == relay.ModeAuto {
					held = 0 // splice holds nothing itself
				}
				if held > buffer {
					t.Fatalf("link holds %d bytes, more than its %d-byte ring", held, buffer)
				}
				if mode == relay.ModeCopy && live != 1 {
					t.Fatalf("%d rings live while the link holds data, want 1", live)
				}
				// The writer is stuck: the source pipe, the ring and the
				// sink pipe (some pages each) are all it could fill.
				if w := src.moved.Load(); w > 4*4096+buffer+64<<10 {
					t.Fatalf("writer got %d bytes in with nobody reading", w)
				}
			}
			got, err := drain(dst.test, pacing{chunk: 65536}, rand.New(rand.NewPCG(3, 4)), -1, dst.moved)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("read %d bytes (%v), want the %d written", len(got), err, len(payload))
			}
			wait(t, fed, "writer")
			st := wait(t, done, "link")
			if !st.EOF || st.Bytes != uint64(len(payload)) {
				t.Fatalf("link: EOF %v, %d bytes", st.EOF, st.Bytes)
			}
			e.do(func() {
				if n := e.r.RingsLive(); n != 0 {
					t.Errorf("%d rings live after the link ended", n)
				}
			})
		})
	}
}

// TestIdleLinksHoldNoRing: links with nothing to move hold no ring.
func TestIdleLinksHoldNoRing(t *testing.T) {
	e := newEnv(t, relay.Options{Mode: relay.ModeCopy})
	var srcs, dsts []pair
	var dones []<-chan relay.LinkStats
	for range 8 {
		s, d := newPair(t, "pipe", true, 0), newPair(t, "socket", false, 0)
		srcs, dsts = append(srcs, s), append(dsts, d)
		_, done := startLink(t, e, s.relay, d.relay)
		dones = append(dones, done)
	}
	// A burst on each link, read out, then idle.
	for i := range srcs {
		srcs[i].test.Write([]byte("burst"))
		buf := make([]byte, 5)
		if _, err := io.ReadFull(dsts[i].test, buf); err != nil {
			t.Fatal(err)
		}
	}
	e.do(func() {
		if n := e.r.RingsLive(); n != 0 {
			t.Errorf("%d rings live with every link idle, want 0", n)
		}
		if n := e.r.Links(); n != 8 {
			t.Errorf("%d links, want 8", n)
		}
	})
	for i := range srcs {
		srcs[i].test.Close()
		wait(t, dones[i], "link")
		dsts[i].test.Close()
	}
}

// TestEOFAndEPIPE: the source's EOF closes the sink after the last byte;
// the sink's reader leaving closes the source, so the writer sees EPIPE.
func TestEOFAndEPIPE(t *testing.T) {
	for _, mode := range []relay.Mode{relay.ModeCopy, relay.ModeSplice} {
		t.Run(mode.String()+"/eof", func(t *testing.T) {
			e := newEnv(t, relay.Options{Mode: mode})
			src, dst := newPair(t, "pipe", true, 0), newPair(t, "pipe", false, 0)
			_, done := startLink(t, e, src.relay, dst.relay)
			src.test.Write([]byte("last words"))
			src.test.Close()
			got, err := io.ReadAll(dst.test)
			dst.test.Close()
			if err != nil || string(got) != "last words" {
				t.Fatalf("read %q, %v", got, err)
			}
			if st := wait(t, done, "link"); !st.EOF || st.SinkClosed || st.Err != nil {
				t.Fatalf("stats %+v, want EOF", st)
			}
		})
		t.Run(mode.String()+"/epipe", func(t *testing.T) {
			e := newEnv(t, relay.Options{Mode: mode})
			src, dst := newPair(t, "pipe", true, 0), newPair(t, "pipe", false, 0)
			_, done := startLink(t, e, src.relay, dst.relay)
			dst.test.Close()
			var err error
			for i := 0; err == nil && i < 1000; i++ {
				_, err = src.test.Write(make([]byte, 65536))
			}
			src.test.Close()
			if !errors.Is(err, unix.EPIPE) {
				t.Fatalf("writer: %v, want EPIPE once the link closed the source", err)
			}
			if st := wait(t, done, "link"); !st.SinkClosed || st.EOF || st.Err != nil {
				t.Fatalf("stats %+v, want SinkClosed", st)
			}
		})
	}
}

// TestSpliceFallback: in ModeAuto a splice that fails with EINVAL after
// some bytes switches the link to copying without losing or repeating a
// byte.
func TestSpliceFallback(t *testing.T) {
	const after = 100000
	inj := faultfd.MustNew(nil, faultfd.Config{Failures: []faultfd.Failure{
		{Ops: faultfd.Splice, FD: -1, After: after, Err: unix.EINVAL}}})
	e := newEnv(t, relay.WithOps(relay.Options{Mode: relay.ModeAuto}, inj))
	src, dst := newPair(t, "pipe", true, 0), newPair(t, "pipe", false, 0)
	_, done := startLink(t, e, src.relay, dst.relay)
	payload := bytes.Repeat([]byte("0123456789"), 50000)
	go feed(src.test, payload, pacing{chunk: 8192}, rand.New(rand.NewPCG(1, 2)), src.moved)
	got, err := io.ReadAll(dst.test)
	dst.test.Close()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %d bytes (%v), want %d equal bytes", len(got), err, len(payload))
	}
	st := wait(t, done, "link")
	if st.Mode != relay.ModeCopy || st.SpliceBytes != after || st.CopyBytes != uint64(len(payload)-after) {
		t.Fatalf("mode %v, %d spliced, %d copied; want copy after %d spliced", st.Mode, st.SpliceBytes, st.CopyBytes, after)
	}
}

// TestSpliceFallbackRealEINVAL: /dev/full cannot be spliced to; ModeAuto
// copies instead and reports the write's ENOSPC, naming the sink.
func TestSpliceFallbackRealEINVAL(t *testing.T) {
	full, err := unix.Open("/dev/full", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	e := newEnv(t, relay.Options{Mode: relay.ModeAuto})
	src := newPair(t, "pipe", true, 0)
	_, done := startLink(t, e, src.relay, full)
	src.test.Write([]byte("data"))
	st := wait(t, done, "link")
	src.test.Close()
	if !errors.Is(st.Err, unix.ENOSPC) || !strings.Contains(st.Err.Error(), "dst: write") {
		t.Fatalf("link error %v, want ENOSPC from dst's write", st.Err)
	}
	if st.Mode != relay.ModeCopy {
		t.Fatalf("mode %v, want copy after splice's EINVAL", st.Mode)
	}
}

// TestSpliceModeNeedsPipe: ModeSplice refuses two sockets, says why, and
// leaves the fds to the caller.
func TestSpliceModeNeedsPipe(t *testing.T) {
	e := newEnv(t, relay.Options{Mode: relay.ModeSplice})
	a, b := newPair(t, "socket", true, 0), newPair(t, "socket", false, 0)
	defer a.test.Close()
	defer b.test.Close()
	var err error
	e.do(func() {
		_, err = e.r.NewLink(relay.LinkConfig{
			Src: relay.Endpoint{FD: a.relay, Name: "left", Owned: true},
			Dst: relay.Endpoint{FD: b.relay, Name: "right", Owned: true},
		})
	})
	if err == nil || !strings.Contains(err.Error(), "splice mode needs a pipe") ||
		!strings.Contains(err.Error(), "left") || !strings.Contains(err.Error(), "socket") {
		t.Fatalf("NewLink: %v, want the splice-needs-a-pipe error naming the endpoints", err)
	}
	if closed(a.relay) || closed(b.relay) {
		t.Fatal("a refused link closed its fds")
	}
	// Nothing stayed registered: the same fds make a copy link fine.
	e2 := newEnv(t, relay.Options{Mode: relay.ModeCopy})
	_, done := startLink(t, e2, a.relay, b.relay)
	a.test.Write([]byte("ok"))
	a.test.Close()
	if got, _ := io.ReadAll(b.test); string(got) != "ok" {
		t.Fatalf("copy link after the refusal moved %q", got)
	}
	wait(t, done, "link")
}

// TestUnnamedEndpoints: an Endpoint without a Name is called "fd N" in
// errors and stats, never "".
func TestUnnamedEndpoints(t *testing.T) {
	e := newEnv(t, relay.Options{})
	src, dst := newPair(t, "pipe", true, 0), newPair(t, "pipe", false, 0)
	dst2 := newPair(t, "pipe", false, 0)
	defer unix.Close(dst2.relay)
	for _, f := range []*os.File{src.test, dst.test, dst2.test} {
		defer f.Close()
	}
	done := make(chan relay.LinkStats, 1)
	var k *relay.Link
	var err error
	e.do(func() {
		k, err = e.r.NewLink(relay.LinkConfig{Src: relay.Endpoint{FD: src.relay, Owned: true},
			Dst: relay.Endpoint{FD: dst.relay, Owned: true}, OnDone: func(k *relay.Link) { done <- k.Stats() }})
		if err != nil {
			return
		}
		_, err = e.r.NewLink(relay.LinkConfig{Src: relay.Endpoint{FD: src.relay}, Dst: relay.Endpoint{FD: dst2.relay}})
	})
	if k == nil {
		t.Fatalf("NewLink: %v", err)
	}
	if want := fmt.Sprintf("fd %d: ", src.relay); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("second link on fd %d: error %v, want one starting %q", src.relay, err, want)
	}
	e.do(k.Close)
	st := wait(t, done, "link")
	if got, want := st.Src+" → "+st.Dst, fmt.Sprintf("fd %d → fd %d", src.relay, dst.relay); got != want {
		t.Errorf("stats name the ends %q, want %q", got, want)
	}
}

// TestCloseDefersOnDone: Close never runs OnDone inside the call — not
// even from another link's OnDone — but right after the callback that
// called it, in order: link A closed from a posted function, and link B
// closed from A's OnDone.
func TestCloseDefersOnDone(t *testing.T) {
	e := newEnv(t, relay.Options{})
	var got []string // loop goroutine only
	finished := make(chan struct{})
	var a, b *relay.Link
	var err error
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	newLink := func(onDone func(*relay.Link)) *relay.Link {
		src, dst := newPair(t, "pipe", true, 0), newPair(t, "pipe", false, 0)
		files = append(files, src.test, dst.test)
		var k *relay.Link
		e.do(func() {
			k, err = e.r.NewLink(relay.LinkConfig{Src: relay.Endpoint{FD: src.relay, Owned: true},
				Dst: relay.Endpoint{FD: dst.relay, Owned: true}, OnDone: onDone})
		})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	b = newLink(func(*relay.Link) { got = append(got, "B done"); close(finished) })
	a = newLink(func(*relay.Link) {
		got = append(got, "A done")
		b.Close()
		got = append(got, "B closed")
	})
	e.do(func() {
		a.Close()
		got = append(got, "A closed")
		if !a.Done() {
			t.Error("A not done when Close returned")
		}
	})
	wait(t, finished, "B's OnDone")
	e.do(func() {
		if want := []string{"A closed", "A done", "B closed", "B done"}; !slices.Equal(got, want) {
			t.Errorf("order %q, want %q", got, want)
		}
	})
}
