//go:build linux

package relay

import (
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Transformer is an in-process stream transform carried by a link
// (LinkConfig.Transform): compression, framing, encryption, a filter.
//
// It runs on a worker goroutine of its own, never on the loop thread, so
// it may take its time and use the CPU: reading, transforming and
// writing each get their own thread, with a bounded hand-off between
// them. The loop reads chunks from the source into a queue of at most
// LinkConfig.TransformQueue chunks; the worker transforms them into an
// output queue of the same bound; the loop writes those to the sink. A
// slow transform fills its input queue, the loop stops reading the
// source (which backs up to the writer upstream, as a slow pipe would),
// and nothing else on the loop waits: the link's memory stays within
// about 2×(queue+2) chunks.
//
// The methods are called from the worker goroutine only, one at a time,
// so a Transformer needs no locking of its own. Once the link has ended
// (Link.Close returned, or OnDone ran) no call starts any more: a call
// in progress finishes, on the worker, and its output is dropped; chunks
// still queued are never transformed, and Flush is not called.
type Transformer interface {
	// Transform appends the transformation of src to dst and returns the
	// extended slice. src is only valid during the call. Returning an
	// error ends the link (LinkStats.Err names "transform").
	Transform(dst, src []byte) ([]byte, error)
	// Flush appends whatever the transform still holds, at end of input.
	Flush(dst []byte) ([]byte, error)
}

// TransformFunc adapts a stateless function to Transformer (Flush does
// nothing).
type TransformFunc func(dst, src []byte) ([]byte, error)

// Transform calls f(dst, src).
func (f TransformFunc) Transform(dst, src []byte) ([]byte, error) { return f(dst, src) }

// Flush returns dst unchanged.
func (f TransformFunc) Flush(dst []byte) ([]byte, error) { return dst, nil }

// Defaults of LinkConfig.TransformQueue and TransformChunk.
const (
	DefaultTransformQueue = 4
	DefaultTransformChunk = 64 << 10
)

// chunk is one hand-off between the loop and the worker.
type chunk struct {
	b   []byte // payload
	off int    // bytes of b already written to the sink (loop side)
	eof bool   // the transform's output is complete (worker → loop)
	err error  // the transform failed (worker → loop)
}

// xform is a link's transform state.
//
// The loop goroutine is the only sender on in and the only receiver on
// out; the worker the only receiver on in and sender on out. So the loop
// may test len(in) < cap(in) and then send without blocking.
//
// Neither side ever blocks on a channel. The worker sleeps in a read of
// an eventfd that the loop writes ("pokes") after it gave the worker
// something to do: a chunk in in, room in out, or the end. The reason is
// the Go scheduler: a goroutine woken through a channel by the loop
// goroutine is queued on the loop's P, which stays with the loop thread
// while it sits in epoll_wait, so the worker would wait for sysmon to
// retake that P — hundreds of microseconds per chunk on 2 CPUs. Woken
// through the netpoller, it runs on any idle P at once.
//
// Wake-ups are coalesced by a flag on each side. sleeping: set by the
// worker before its last look at the queues, swapped off by the loop
// after each hand-off, which pokes only if it was set. The worker wakes
// the loop through a loop.Notifier, which coalesces and never waits: Post
// would wait for room in a full queue, while Relay.Close, on the loop
// thread, waits for this worker. Either way a hand-off is never missed
// and at most one wake-up is in flight.
type xform struct {
	t         Transformer
	in, out   chan *chunk
	free      chan *chunk   // recycled chunks, either side may take or give
	quit      chan struct{} // closed when the link ends
	exited    chan struct{} // closed when the worker goroutine returns
	state     atomic.Int32  // xfIdle, xfBusy or xfStopped (see below)
	size      int           // bytes read per chunk
	ev        *os.File      // eventfd the worker sleeps on (netpoller)
	evfd      int           // its fd, for the loop's pokes
	sleeping  atomic.Bool   // the worker is (about to be) asleep on ev
	inBlocked atomic.Bool   // the loop stopped reading: in was full
	wake      func() error  // runs k.kick on the loop soon; goroutine-safe, never waits
	cur       *chunk        // output chunk being written; loop only
	inClosed  bool          // in was closed (EOF or end); loop only
}

// xform.state: whether the worker may start a Transform or Flush call.
//
//	xfIdle     between calls; the worker may move it to xfBusy
//	xfBusy     in a call; the worker moves it back to xfIdle after
//	xfStopped  the link ended (stopTransform, loop): final
//
// The worker starts a call only by winning idle→busy, and the loop's
// swap to stopped is one atomic step, so once stopTransform returns no
// call starts: at most the one in progress finishes, and its output is
// dropped. Chunks still queued are never transformed.
const (
	xfIdle int32 = iota
	xfBusy
	xfStopped
)

// startTransform sets up k's transform and starts its worker.
func (k *Link) startTransform(t Transformer, queue, size int) error {
	if queue <= 0 {
		queue = DefaultTransformQueue
	}
	if size <= 0 {
		size = DefaultTransformChunk
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("transform: %w", os.NewSyscallError("eventfd", err))
	}
	x := &xform{t: t, size: size, evfd: evfd, ev: os.NewFile(uintptr(evfd), "transform"),
		in: make(chan *chunk, queue), out: make(chan *chunk, queue),
		free: make(chan *chunk, 2*queue+4), quit: make(chan struct{}), exited: make(chan struct{})}
	l := k.r.l
	x.wake = l.NewNotifier(k.kick).Notify // ErrClosed after the loop stopped: nobody to wake
	k.xf = x
	go x.work()
	// The worker shares the loop's P when GOMAXPROCS is 1: the loop must
	// not hold it in raw sleeps while the worker has chunks to transform.
	l.Cooperate(true)
	return nil
}

// poke wakes the worker if it is asleep. Loop goroutine only.
func (x *xform) poke() {
	if x.sleeping.Swap(false) {
		one := [8]byte{1}
		unix.Write(x.evfd, one[:])
	}
}

func (x *xform) get() *chunk {
	select {
	case c := <-x.free:
		return c
	default:
		return &chunk{b: make([]byte, 0, x.size)}
	}
}

func (x *xform) put(c *chunk) {
	c.b, c.off, c.eof, c.err = c.b[:0], 0, false, nil
	select {
	case x.free <- c:
	default: // enough spares: leave it to the GC
	}
}

// wait returns once try succeeds, sleeping on the eventfd between tries,
// or false when the link has ended.
func (x *xform) wait(try func() bool) bool {
	var buf [8]byte
	for {
		if try() {
			return true
		}
		select {
		case <-x.quit:
			return false
		default:
		}
		x.sleeping.Store(true)
		if try() {
			x.sleeping.Store(false)
			return true
		}
		if _, err := x.ev.Read(buf[:]); err != nil {
			return false // closed: the link ended
		}
	}
}

// work is the worker goroutine: transform each input chunk into an output
// chunk, in order, until the input ends or the link does.
func (x *xform) work() {
	defer close(x.exited)
	var c, o *chunk
	var ok bool
	recv := func() bool {
		select {
		case c, ok = <-x.in:
			return true
		default:
			return false
		}
	}
	send := func() bool {
		select {
		case x.out <- o:
			x.wake()
			return true
		default:
			return false
		}
	}
	for {
		if !x.wait(recv) {
			return
		}
		if ok && x.inBlocked.Swap(false) {
			x.wake() // there is room in in again
		}
		if !x.state.CompareAndSwap(xfIdle, xfBusy) {
			return // the link ended
		}
		o = x.get()
		var err error
		if ok {
			o.b, err = x.t.Transform(o.b, c.b)
			x.put(c)
		} else {
			o.b, err = x.t.Flush(o.b)
		}
		c = nil
		if !x.state.CompareAndSwap(xfBusy, xfIdle) {
			return // the link ended during the call: nobody wants its output
		}
		if err != nil {
			o.b, o.err = o.b[:0], err
			x.wait(send)
			return
		}
		if len(o.b) > 0 {
			if !x.wait(send) {
				return
			}
		} else {
			x.put(o)
		}
		if !ok {
			o = &chunk{eof: true}
			x.wait(send)
			return
		}
	}
}

// pumpTransform is pump for a link with a transform: read the source into
// the worker's input queue while it has room, write the worker's output to
// the sink while the sink takes it. The readiness invariants of pumpCopy
// hold: srcReady and dstReady are cleared only by EAGAIN, and a full input
// queue leaves srcReady set (the worker's wake-up brings the loop back).
func (k *Link) pumpTransform() bool {
	x := k.xf
	for range pumpBudget {
		progress := false
		if !k.srcEOF && k.srcReady && k.transformRoom() {
			c := x.get()
			n, err := k.srcOps.Read(k.sw.io, c.b[:cap(c.b)])
			k.stats.Reads++
			switch {
			case n > 0:
				c.b = c.b[:n]
				k.stats.TransformIn += uint64(n)
				x.in <- c // cannot block: we are the only sender and saw room
				x.poke()
				progress = true
			case err == nil:
				x.put(c)
				k.srcEOF = true
				x.inClosed = true
				close(x.in)
				x.poke()
				progress = true
			case err == unix.EINTR:
				x.put(c)
				progress = true
			case err == unix.EAGAIN:
				x.put(c)
				k.srcReady = false
				k.stats.ReadEAGAIN++
			default:
				x.put(c)
				k.fail(k.src, os.NewSyscallError("read", err))
				return false
			}
		}
		if x.cur == nil {
			select {
			case x.cur = <-x.out:
				x.poke() // room in out
			default:
			}
		}
		if c := x.cur; c != nil {
			switch {
			case c.err != nil:
				k.fail(Endpoint{Name: fmt.Sprintf("%s → %s: transform", k.src.Name, k.dst.Name)}, c.err)
				return false
			case c.eof:
				x.cur = nil
				k.finish()
				return false
			case k.dstReady:
				n, err := k.dstOps.Write(k.dw.io, c.b[c.off:])
				k.stats.Writes++
				switch {
				case n > 0:
					c.off += n
					k.stats.Bytes += uint64(n)
					k.stats.CopyBytes += uint64(n)
					if c.off == len(c.b) {
						x.cur = nil
						x.put(c)
					}
					progress = true
				default:
					if err == nil {
						err = unix.EAGAIN // nothing written, nothing said: full
					}
					goOn, p := k.sinkRefused("write", err)
					if !goOn {
						return false
					}
					progress = progress || p
				}
			}
		}
		if !progress {
			return false
		}
	}
	return true
}

// transformRoom reports whether the worker's input queue has room. When it
// has none, inBlocked asks the worker for a wake-up; the second look
// catches a chunk taken between the first look and setting the flag.
func (k *Link) transformRoom() bool {
	x := k.xf
	if len(x.in) < cap(x.in) {
		return true
	}
	x.inBlocked.Store(true)
	return len(x.in) < cap(x.in)
}

// transformWait is idleState for a transform link: full while output
// waits for the sink or input waits for the worker, empty while the
// source has nothing.
func (k *Link) transformWait() waitState {
	x := k.xf
	switch {
	case x.cur != nil && !k.dstReady, len(x.in) == cap(x.in) && !k.srcEOF:
		return waitFull
	case !k.srcReady && x.cur == nil && len(x.in) == 0:
		return waitEmpty
	}
	return waitNone
}

// stopTransform releases the worker when the link ends: no Transform or
// Flush call starts once it returns (see xform.state). It does not wait
// for a call in progress; Relay.Close does.
func (k *Link) stopTransform() {
	x := k.xf
	x.state.Store(xfStopped)
	close(x.quit)
	if !x.inClosed {
		x.inClosed = true
		close(x.in)
	}
	x.ev.Close() // wakes the worker if it sleeps; it sees quit and leaves
	k.r.workerStopped(x)
	k.r.l.Cooperate(false)
}
