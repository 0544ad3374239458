package relay_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// loopT runs a loop and a relay for one test or benchmark.
type loopT struct {
	l    *loop.Loop
	r    *relay.Relay
	done chan error
}

func startLoop(tb testing.TB) *loopT {
	tb.Helper()
	l, err := loop.New(loop.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := relay.New(l, relay.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	lt := &loopT{l: l, r: r, done: make(chan error, 1)}
	go func() { lt.done <- l.Run(context.Background()) }()
	tb.Cleanup(func() {
		l.Stop()
		if err := <-lt.done; err != nil {
			tb.Error(err)
		}
	})
	return lt
}

// do runs f on the loop goroutine and waits for it.
func (lt *loopT) do(f func()) {
	ch := make(chan struct{})
	lt.l.Post(func() { f(); close(ch) })
	<-ch
}

// pipeLink returns the writing end of a pipe feeding a link and the reading
// end of a pipe it writes to; done is closed when the link ends.
func (lt *loopT) pipeLink(tb testing.TB, cfg relay.LinkConfig) (w, r *os.File, k *relay.Link, done chan struct{}) {
	tb.Helper()
	inR, inW, err := fdio.Pipe(true, false)
	if err != nil {
		tb.Fatal(err)
	}
	outR, outW, err := fdio.Pipe(false, true)
	if err != nil {
		tb.Fatal(err)
	}
	done = make(chan struct{})
	cfg.Src = relay.Endpoint{FD: inR, Name: "in", Owned: true}
	cfg.Dst = relay.Endpoint{FD: outW, Name: "out", Owned: true}
	cfg.OnDone = func(*relay.Link) { close(done) }
	var lerr error
	lt.do(func() { k, lerr = lt.r.NewLink(cfg) })
	if lerr != nil {
		tb.Fatal(lerr)
	}
	w, r = os.NewFile(uintptr(inW), "in"), os.NewFile(uintptr(outR), "out")
	tb.Cleanup(func() { w.Close(); r.Close() })
	return w, r, k, done
}

// upper is a stateless transform; trailer appends a line at Flush.
var upper = relay.TransformFunc(func(dst, src []byte) ([]byte, error) {
	return append(dst, bytes.ToUpper(src)...), nil
})

type trailer struct{ n int }

func (t *trailer) Transform(dst, src []byte) ([]byte, error) {
	t.n += len(src)
	return append(dst, src...), nil
}
func (t *trailer) Flush(dst []byte) ([]byte, error) { return append(dst, "<end>"...), nil }

func TestTransform(t *testing.T) {
	lt := startLoop(t)
	t.Run("upper", func(t *testing.T) {
		in := bytes.Repeat([]byte("hello, world\n"), 100000)
		w, r, k, done := lt.pipeLink(t, relay.LinkConfig{Transform: upper, TransformChunk: 4096})
		go func() { w.Write(in); w.Close() }()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bytes.ToUpper(in)) {
			t.Fatalf("got %d bytes, not the %d upper-cased", len(got), len(in))
		}
		<-done
		var st relay.LinkStats
		lt.do(func() { st = k.Stats() })
		if !st.EOF || st.Bytes != uint64(len(in)) || st.TransformIn != uint64(len(in)) {
			t.Errorf("stats: EOF %v, bytes %d, transform in %d; want EOF and %d each", st.EOF, st.Bytes, st.TransformIn, len(in))
		}
	})
	t.Run("flush", func(t *testing.T) {
		w, r, _, _ := lt.pipeLink(t, relay.LinkConfig{Transform: &trailer{}})
		go func() { w.Write([]byte("body")); w.Close() }()
		got, _ := io.ReadAll(r)
		if string(got) != "body<end>" {
			t.Fatalf("got %q, want %q", got, "body<end>")
		}
	})
	t.Run("error", func(t *testing.T) {
		boom := errors.New("boom")
		var seen atomic.Int64
		f := relay.TransformFunc(func(dst, src []byte) ([]byte, error) {
			if seen.Add(int64(len(src))) > 1<<20 {
				return dst, boom
			}
			return append(dst, src...), nil
		})
		w, r, k, done := lt.pipeLink(t, relay.LinkConfig{Transform: f})
		go io.Copy(w, io.LimitReader(zeros{}, 4<<20))
		go io.Copy(io.Discard, r)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("link did not end on the transform's error")
		}
		var st relay.LinkStats
		lt.do(func() { st = k.Stats() })
		if !errors.Is(st.Err, boom) {
			t.Fatalf("link error %v, want boom", st.Err)
		}
	})
	t.Run("off the loop thread", func(t *testing.T) {
		var loopTID, workerTID atomic.Int64
		lt.do(func() { loopTID.Store(int64(unix.Gettid())) })
		f := relay.TransformFunc(func(dst, src []byte) ([]byte, error) {
			workerTID.Store(int64(unix.Gettid()))
			return append(dst, src...), nil
		})
		w, r, _, _ := lt.pipeLink(t, relay.LinkConfig{Transform: f})
		go func() { w.Write([]byte("x")); w.Close() }()
		io.ReadAll(r)
		if workerTID.Load() == 0 || workerTID.Load() == loopTID.Load() {
			t.Fatalf("transform ran on thread %d, loop on %d", workerTID.Load(), loopTID.Load())
		}
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestSlowTransformDoesNotStallLoop: one link's transform sleeps on every
// chunk while a plain link on the same loop moves 128 MiB; the plain link
// keeps its speed, and the slow link's memory stays bounded by its queues.
func TestSlowTransformDoesNotStallLoop(t *testing.T) {
	size := int64(128 << 20)
	if testing.Short() {
		size = 16 << 20
	}
	lt := startLoop(t)
	bulk := func() time.Duration {
		w, r, _, done := lt.pipeLink(t, relay.LinkConfig{})
		start := time.Now()
		go func() { io.Copy(w, io.LimitReader(zeros{}, size)); w.Close() }()
		n, _ := io.Copy(io.Discard, r)
		<-done
		if n != size {
			t.Fatalf("bulk link moved %d bytes, want %d", n, size)
		}
		return time.Since(start)
	}
	alone := bulk()

	const queue, chunk = 2, 16 << 10
	slow := relay.TransformFunc(func(dst, src []byte) ([]byte, error) {
		time.Sleep(20 * time.Millisecond)
		return append(dst, src...), nil
	})
	sw, sr, sk, sdone := lt.pipeLink(t, relay.LinkConfig{Transform: slow, TransformQueue: queue, TransformChunk: chunk})
	defer func() {
		// The writer would go on for ever: end the link, which closes its
		// ends, so the writer gets EPIPE and nothing is left open.
		lt.do(func() { sk.Close() })
		<-sdone
		sr.Close()
	}()
	go io.Copy(sw, io.LimitReader(zeros{}, 1<<30)) // far more than it can take
	go io.Copy(io.Discard, sr)
	time.Sleep(100 * time.Millisecond) // the slow link's queues are full now
	shared := bulk()

	var st relay.LinkStats
	lt.do(func() { st = sk.Stats() })
	t.Logf("bulk %d MiB alone %v, next to a slow transform %v; slow link: %d in, %d out, full %v",
		size>>20, alone.Round(time.Millisecond), shared.Round(time.Millisecond), st.TransformIn, st.Bytes, st.TimeFull.Round(time.Millisecond))
	if shared > 3*alone+500*time.Millisecond {
		t.Errorf("the bulk link took %v next to the slow transform, %v alone", shared, alone)
	}
	if st.Bytes == 0 {
		t.Error("the slow link delivered nothing")
	}
	// In flight: at most queue chunks each way, one at the worker, one
	// being written, one read but not handed over.
	if held, bound := st.TransformIn-st.Bytes, uint64((2*queue+3)*chunk); held > bound {
		t.Errorf("slow link holds %d bytes, want at most %d", held, bound)
	}
}

// BenchmarkTransformHandoff measures the cost of the loop→worker→loop
// hand-off per chunk with an identity transform, next to a plain copy
// link over the same pipes.
func BenchmarkTransformHandoff(b *testing.B) {
	ident := relay.TransformFunc(func(dst, src []byte) ([]byte, error) { return append(dst, src...), nil })
	for _, bc := range []struct {
		name  string
		chunk int
		xf    relay.Transformer
	}{
		{"copy/4K", 4 << 10, nil},
		{"transform/4K", 4 << 10, ident},
		{"copy/64K", 64 << 10, nil},
		{"transform/64K", 64 << 10, ident},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lt := startLoop(b)
			w, r, _, done := lt.pipeLink(b, relay.LinkConfig{Transform: bc.xf, TransformChunk: bc.chunk})
			b.ReportAllocs()
			b.SetBytes(int64(bc.chunk))
			buf := make([]byte, bc.chunk)
			go func() {
				for range b.N {
					w.Write(buf)
				}
				w.Close()
			}()
			b.ResetTimer()
			io.CopyBuffer(io.Discard, r, make([]byte, bc.chunk))
			<-done
		})
	}
}

// gated is a transform whose calls wait for a gate, and that counts the
// calls starting after stopped was set.
type gated struct {
	entered chan struct{} // one send per call, as it starts
	gate    chan struct{} // closed to let calls return
	stopped atomic.Bool
	late    atomic.Int32
}

func (g *gated) call() {
	if g.stopped.Load() {
		g.late.Add(1)
	}
	g.entered <- struct{}{}
	<-g.gate
}

func (g *gated) Transform(dst, src []byte) ([]byte, error) { g.call(); return append(dst, src...), nil }
func (g *gated) Flush(dst []byte) ([]byte, error)          { g.call(); return dst, nil }

// TestTransformStopsAtClose: Close while a Transform call is in progress
// and chunks (and the end of input) wait in the worker's queue: the call
// in progress finishes, and no Transform or Flush call starts after Close
// returned.
func TestTransformStopsAtClose(t *testing.T) {
	lt := startLoop(t)
	g := &gated{entered: make(chan struct{}, 16), gate: make(chan struct{})}
	w, _, k, done := lt.pipeLink(t, relay.LinkConfig{Transform: g, TransformChunk: 1, TransformQueue: 4})
	if _, err := w.Write([]byte("abcd")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	<-g.entered // the worker is in its first call
	// Wait until the loop has queued the other three bytes; the pump
	// that read the last one read the EOF too (the queue had room).
	for deadline := time.Now().Add(10 * time.Second); ; {
		var st relay.LinkStats
		lt.do(func() { st = k.Stats() })
		if st.TransformIn == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	lt.do(func() { k.Close(); g.stopped.Store(true) })
	close(g.gate)
	select {
	case <-relay.TransformExited(k):
	case <-time.After(10 * time.Second):
		t.Fatal("the transform worker did not return after Close")
	}
	<-done
	if n := g.late.Load(); n != 0 {
		t.Errorf("%d Transform/Flush calls started after Close returned, want 0", n)
	}
}
