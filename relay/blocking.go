//go:build linux

package relay

import (
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/pipeloop/pipeloop/internal/fdops"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// A link the ring carries that is alone on its loop — no other link in
// the ring, no timer, nothing queued to run — does not need io_uring to
// wait: its chain (the write of the last message, then the read of the
// next) runs in the loop's sleep itself, the write nonblocking and the
// read blocking in read(2), as the simplest relay does. On a kernel where
// system calls are cheap that is the fastest small-message hop there is:
// a reader woken straight from the writer's pipe_write, where io_uring
// arms a poll and completes the read from task work (docs/bench).
//
// What it takes to keep the loop's promises while it sleeps in read:
//   - The read goes through the Go runtime's blocking-system-call path, so
//     the garbage collector and other goroutines never wait for it.
//   - Everything else that would wake the loop still does: a helper
//     goroutine (watch) polls the loop's epoll fd — its other fds, Wake,
//     Post, Stop, the sink's hangup — and interrupts the read: it sets
//     O_NONBLOCK on the source's description and sends the loop's thread
//     SIGURG, the signal the runtime itself preempts with (programs must
//     already expect it at any time). The read, restarted after the
//     signal (SA_RESTART), finds the description nonblocking and answers
//     EAGAIN; if the signal came before the read began, the read finds
//     the flag. Polling an epoll fd consumes none of its events.
//   - Only a description that is pipeloop's alone is made blocking (both
//     ends raw: a private reopen or a pipe the relay made), and the
//     O_NONBLOCK is back before anything else reads it: the chain ends,
//     the link leaves the ring or ends, or the sleeper closes.
//
// With one P (GOMAXPROCS=1, a pinned pipeloop) the helper needs the P the
// sleeping loop holds in its system call: sysmon hands it over within 20
// µs to 10 ms, so that is how late a Post or Stop can be while the loop
// sleeps in read. After an interruption the ring waits for the next
// blockRest sleeps, so a loop whose other fds are busy does not pay an
// interruption per message.
type blocker struct {
	pid, tid int
	arm      chan struct{} // a token per sleep in read the helper must watch
	exited   chan struct{} // closed by the helper as it returns
	quit     int           // eventfd: the helper ends (it closes it and its ep)
	state    atomic.Int32  // blockIdle…blockInterrupted: the read and the helper's handshake
	woke     atomic.Bool   // the helper's poll ended since its last token: sleep in read no more
	fd       int           // the source description made blocking; -1: none
	flNB     int           // its status flags with O_NONBLOCK, as the helper restores them
	rest     int           // sleeps left before the next read in the sleep
}

const (
	blockIdle         = iota // the loop is not in the read
	blockInRead              // the loop is in (or about to begin) the read
	blockInterrupting        // the helper is setting O_NONBLOCK and signalling
	blockInterrupted         // it has: the description is nonblocking again
	blockRest         = 64
)

// newBlocker starts the helper that watches ep; nil if it cannot.
func newBlocker(ep int) *blocker {
	dup, err := unix.FcntlInt(uintptr(ep), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	quit, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(dup)
		return nil
	}
	b := &blocker{pid: os.Getpid(), tid: unix.Gettid(), arm: make(chan struct{}, 1), exited: make(chan struct{}), quit: quit, fd: -1}
	go b.watch(dup)
	return b
}

// watch is the helper: for each token, poll the epoll fd (its own dup, so
// a number the loop closes and reuses is never polled) until it has
// events, and interrupt the loop's read if it is in one.
func (b *blocker) watch(ep int) {
	defer close(b.exited)
	defer unix.Close(ep)
	defer unix.Close(b.quit)
	fds := []unix.PollFd{{Fd: int32(ep), Events: unix.POLLIN}, {Fd: int32(b.quit), Events: unix.POLLIN}}
	for range b.arm {
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		b.interrupt()
		if fds[1].Revents != 0 {
			return
		}
	}
}

// interrupt ends the loop's read, if it is in one: O_NONBLOCK on the
// source's description, then SIGURG to the loop's thread. If the loop is
// not in it, woke keeps it from beginning another until a new token.
func (b *blocker) interrupt() {
	b.woke.Store(true)
	if !b.state.CompareAndSwap(blockInRead, blockInterrupting) {
		return
	}
	unix.FcntlInt(uintptr(b.fd), unix.F_SETFL, b.flNB)
	unix.Tgkill(b.pid, b.tid, unix.SIGURG)
	b.state.Store(blockInterrupted)
}

// begin makes fd, the source's description, blocking for the reads in
// the sleep, and hands the helper a token to watch the epoll fd, unless
// fd is already so. Loop goroutine.
func (b *blocker) begin(fd int) error {
	if b.fd == fd {
		return nil
	}
	b.release()
	if !b.signalable() {
		return unix.EPERM
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK); err != nil {
		return err
	}
	b.fd, b.flNB = fd, fl|unix.O_NONBLOCK
	b.woke.Store(false)
	select {
	case b.arm <- struct{}{}:
	default: // the helper still holds a token: it is watching
	}
	return nil
}

// read reads b.fd into p, blocking until data, the end, or an
// interruption (interrupted: the description is nonblocking again). An
// interruption before the read began reads nothing: EAGAIN. n is 0 with
// an error. Loop goroutine, after begin.
func (b *blocker) read(p []byte) (n int, err error, interrupted bool) {
	// woke after the store: the helper, which sets woke before it looks
	// at state, either finds the loop in the read or was seen here.
	b.state.Store(blockInRead)
	if b.woke.Load() {
		n, err = 0, unix.EAGAIN
		if b.state.CompareAndSwap(blockInRead, blockIdle) {
			b.release()
			b.rest = blockRest
			return n, err, true
		}
	} else {
		n, err = unix.Read(b.fd, p) // through the runtime: never holds up a GC
		if err != nil {
			n = 0
		}
		if b.state.CompareAndSwap(blockInRead, blockIdle) {
			return n, err, false
		}
	}
	for b.state.Load() != blockInterrupted {
		runtime.Gosched() // the helper is between its two steps
	}
	b.state.Store(blockIdle)
	b.fd = -1
	b.rest = blockRest
	return n, err, true
}

// signalable reports whether SIGURG would end the loop thread's read: not
// if the program ignores it (signal.Ignore, or ignored at exec) or the
// thread blocks it (a mask inherited under GODEBUG=asyncpreemptoff=1,
// where the runtime leaves it). The ring waits then. Loop goroutine.
func (b *blocker) signalable() bool {
	if signal.Ignored(unix.SIGURG) {
		return false
	}
	var mask unix.Sigset_t
	if unix.PthreadSigmask(unix.SIG_BLOCK, nil, &mask) != nil {
		return false
	}
	const width = uint(unsafe.Sizeof(mask.Val[0])) * 8 // 64, or 32 on 32-bit arches
	bit := uint(unix.SIGURG - 1)
	return mask.Val[bit/width]&(1<<(bit%width)) == 0
}

// releaseFd makes the blocking description nonblocking again, if there
// is one; fd, if not -1, names the only one to release.
func (b *blocker) releaseFd(fd int) {
	if b != nil && b.fd >= 0 && (fd < 0 || fd == b.fd) {
		b.release()
	}
}

func (b *blocker) release() {
	if b.fd < 0 {
		return
	}
	unix.FcntlInt(uintptr(b.fd), unix.F_SETFL, b.flNB)
	b.fd = -1
}

// stop releases the description and ends the helper, waiting for it: a
// poll ends at once on quit, so nothing of the sleeper outlives it.
func (b *blocker) stop() {
	if b == nil {
		return
	}
	b.release()
	unix.Write(b.quit, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	close(b.arm)
	<-b.exited
}

// blockable reports whether this sleep may run the chain of the ring's
// only link itself (see blocker): it then returns that link.
func (s *ringSleeper) blockable(timeout int) *Link {
	k := s.last
	if timeout != -1 || s.active != 1 || s.ending != 0 || len(s.toCancel) != 0 || k == nil ||
		!k.exclusive || k.ur == nil || !k.ur.on || !k.ur.reading {
		return nil
	}
	if s.blk != nil && s.blk.rest > 0 {
		s.blk.rest--
		return nil
	}
	return k
}

// sleepInRead runs link k's queued chain — the write of its last message
// (nonblocking), then the read of the next, blocking — and goes on with
// the next message's chain itself for as long as messages stay small and
// nothing else asks for the loop (the helper interrupts the read then):
// per message a read, a write and two counters, the rest of what the
// ring's completions would count added once at the end. What ends the
// run goes to the link as the chain's completion would: a write the sink
// refused, or the read's result.
func (s *ringSleeper) sleepInRead(k *Link, ep int, events []unix.EpollEvent) (n int, worked bool, err error) {
	u := k.ur
	read, write := ringTag(u.id, tagRead), ringTag(u.id, tagWrite)
	if s.blk == nil {
		if s.blk = newBlocker(ep); s.blk == nil {
			k.exclusive = false // no helper: the ring waits
			return 0, false, nil
		}
	}
	// A blocking description is no matter to the ring's read (io_uring
	// polls a pipe either way), should the chain stay there.
	if s.blk.begin(k.sw.io) != nil {
		return 0, false, nil
	}
	if u.wlen > 0 && !s.ring.Unqueue(write, read) || u.wlen == 0 && !s.ring.Unqueue(read) {
		return 0, false, nil
	}
	// The read itself reports the source's end and errors: out of epoll
	// meanwhile, its writer's every message no longer runs epoll's
	// callback. Back in (as the ring has it) before the link hears of
	// the end, which may unregister it.
	k.r.l.Quiet(k.sw.io)
	var sent, msgs, reads int
	flush := func() { // before the link hears of the end: its OnDone may read the stats
		k.r.l.Modify(k.sw.io, ringEvents)
		k.creditMessages(sent, msgs)
		k.stats.Reads += uint64(reads)
		k.stats.SyncReads += uint64(reads)
	}
	for {
		if u.wlen > 0 {
			if m, werr := (fdops.Raw{}).Write(k.dw.io, u.buf[:u.wlen]); m != u.wlen {
				if res, ok := s.writeRest(k, m, werr); !ok {
					flush()
					s.complete(write, res)
					return 0, true, nil
				}
			}
			sent += u.wlen
			msgs++
			u.wlen = 0
		}
		got, rerr, interrupted := s.blk.read(u.buf)
		if rerr == nil && got > 0 && got <= smallMsg && !interrupted {
			reads++
			u.wlen = got
			u.msgs++
			continue
		}
		flush()
		if interrupted && got == 0 && rerr == unix.EAGAIN {
			// Nothing read: the link stays in the ring, its read queued
			// again for the ring's next sleeps (blockRest).
			k.ringRead()
		} else {
			k.stats.SyncReads++ // complete counts it in Reads
			res := int32(got)
			if rerr != nil {
				res = -int32(errnoOf(rerr))
			}
			s.complete(read, res)
		}
		if !interrupted {
			return 0, true, nil
		}
		n, err = loop.EpollWait(ep, events, 0, true) // a zero timeout never blocks
		return n, true, err
	}
}

// writeRest goes on with a message's write that the first call did not
// finish (m bytes written, or err): EINTR is retried, a short write goes
// on. ok: all of it went out; else res is what the ring's failed write
// would complete with (the bytes written, or -errno).
func (s *ringSleeper) writeRest(k *Link, m int, err error) (res int32, ok bool) {
	u := k.ur
	off := max(m, 0)
	for off < u.wlen && (err == nil && m > 0 || err == unix.EINTR) {
		m, err = fdops.Raw{}.Write(k.dw.io, u.buf[off:u.wlen])
		off += max(m, 0)
	}
	if off == u.wlen {
		return 0, true
	}
	if off == 0 && err != nil {
		return -int32(errnoOf(err)), false
	}
	return int32(off), false
}

// errnoOf is err's errno, or EIO.
func errnoOf(err error) unix.Errno {
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EIO
}
