//go:build linux

package uring

import (
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Opcodes and flags (include/uapi/linux/io_uring.h).
const (
	opPollAdd     = 6
	opAsyncCancel = 14
	opRead        = 22
	opWrite       = 23
	cancelAny     = 1 << 2 // IORING_ASYNC_CANCEL_ANY
)

// Flags for a request, as in io_uring_sqe.flags.
const (
	// Link makes the next request queued start only once this one has
	// succeeded in full (a short read or write fails the link); the rest
	// of the chain then completes with -ECANCELED.
	Link = 1 << 2
	// SkipSuccess posts no completion when the request succeeds. Only for
	// a request linked to the next one: when it fails, its completion is
	// posted and the kernel cancels the rest of the chain without posting
	// theirs (REQ_F_SKIP_LINK_CQES; TestSkipChainPostsOnce). So a chain
	// whose requests all but the last carry SkipSuccess posts exactly one
	// completion: its first failure, or its last request's. That is how
	// the Ring counts what is in flight: one per completion to come.
	SkipSuccess = 1 << 6
)

// cancelTag is Drain's own cancel request.
const cancelTag = 1<<64 - 1

// Read queues a read of fd into p, which must stay reachable and unused
// until its completion is reaped. tag comes back with the completion
// (below 1<<62).
func (r *Ring) Read(fd int, p []byte, flags uint8, tag uint64) {
	r.mem[r.tail&r.sqMask] = p
	r.push(sqe{opcode: opRead, flags: flags, fd: int32(fd), off: ^uint64(0),
		addr: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), len: uint32(len(p))}, tag)
}

// Write queues a write of p to fd (see Read for p's lifetime).
func (r *Ring) Write(fd int, p []byte, flags uint8, tag uint64) {
	r.mem[r.tail&r.sqMask] = p
	r.push(sqe{opcode: opWrite, flags: flags, fd: int32(fd), off: ^uint64(0),
		addr: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), len: uint32(len(p))}, tag)
}

// Poll queues a one-shot poll of fd for events (POLLIN…).
func (r *Ring) Poll(fd int, events uint32, flags uint8, tag uint64) {
	r.push(sqe{opcode: opPollAdd, flags: flags, fd: int32(fd), opFlags: events}, tag)
}

// push queues s, submitting what is queued first if the ring is full.
// Callers Reserve room first: a full queue is a bug, never an SQE
// overwritten.
func (r *Ring) push(s sqe, tag uint64) {
	if r.tail-atomic.LoadUint32(r.sqHead) == uint32(len(r.sqes)) {
		panic("uring: submission queue full (Reserve first)")
	}
	s.userData = tag
	if s.flags&SkipSuccess == 0 {
		r.inflight++ // the chain's last request: one completion to come
	}
	r.sqes[r.tail&r.sqMask] = s
	r.tail++
	atomic.StoreUint32(r.sqTail, r.tail)
}

// Reserve makes room for n more requests, submitting what is queued if it
// must. false: the kernel took none (a completion backlog it will not
// grow); the caller queues nothing then.
func (r *Ring) Reserve(n int) bool {
	if r.free() >= n {
		return true
	}
	r.enter(0, -1, false)
	return r.free() >= n
}

func (r *Ring) free() int { return len(r.sqes) - int(r.tail-atomic.LoadUint32(r.sqHead)) }

// Disarm makes the queued, not yet submitted requests carrying one of tags
// fail (fd -1: EBADF) when submitted: for an owner about to close the fds
// they name, whose numbers a later open may reuse. Requests already
// submitted hold their files and are canceled with Cancel instead.
func (r *Ring) Disarm(tags ...uint64) {
	for i := atomic.LoadUint32(r.sqHead); i != r.tail; i++ {
		s := &r.sqes[i&r.sqMask]
		for _, tag := range tags {
			if s.userData == tag {
				s.fd = -1
			}
		}
	}
}

// Unqueue takes back the requests queued and not yet submitted, if they
// are exactly those carrying tags, in that order: the caller then does
// their work itself (and no completion of theirs comes). It reports
// whether it did; otherwise nothing changes. The kernel reads a request
// only when Enter submits it, so one not yet submitted is the caller's.
func (r *Ring) Unqueue(tags ...uint64) bool {
	head := atomic.LoadUint32(r.sqHead)
	if r.tail-head != uint32(len(tags)) {
		return false
	}
	for i, tag := range tags {
		if r.sqes[(head+uint32(i))&r.sqMask].userData != tag {
			return false
		}
	}
	for i := head; i != r.tail; i++ {
		if r.sqes[i&r.sqMask].flags&SkipSuccess == 0 {
			r.inflight--
		}
		r.mem[i&r.sqMask] = nil
	}
	r.tail = head
	atomic.StoreUint32(r.sqTail, r.tail)
	return true
}

// Pending reports whether requests are queued and not yet submitted.
func (r *Ring) Pending() bool { return r.tail != atomic.LoadUint32(r.sqHead) }

// getEventsArg is struct io_uring_getevents_arg.
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32
	ts        uint64
}

// Enter submits what is queued and waits up to timeout milliseconds (-1:
// no limit; 0: not at all) for at least one completion. raw makes the
// call without the Go runtime's blocking-system-call path (the caller
// must ensure it can end: see loop's wait). A timeout that expires and a
// completion backlog are not errors. A signal ends the wait, and is
// unix.EINTR only if nothing was submitted (the kernel then answers the
// count): a wait that ends with no completion was a signal or the timeout.
func (r *Ring) Enter(timeout int, raw bool) error {
	min := 1
	if timeout == 0 {
		min = 0
	}
	return r.enter(min, timeout, raw)
}

func (r *Ring) enter(min, timeout int, raw bool) error {
	submit := uintptr(r.tail - atomic.LoadUint32(r.sqHead))
	flags := uintptr(enterGetEvents)
	argp, argSz := uintptr(0), uintptr(0)
	if timeout > 0 {
		r.ts = unix.NsecToTimespec(int64(time.Duration(timeout) * time.Millisecond))
		r.arg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.ts)))}
		flags |= enterExtArg
		argp, argSz = uintptr(unsafe.Pointer(&r.arg)), unsafe.Sizeof(r.arg)
	}
	call := unix.Syscall6
	if raw {
		call = unix.RawSyscall6
	}
	_, _, e := call(unix.SYS_IO_URING_ENTER, uintptr(r.fd), submit, uintptr(min), flags, argp, argSz)
	switch e {
	case 0, unix.ETIME, unix.EAGAIN, unix.EBUSY:
		return nil
	case unix.EINTR:
		return e
	}
	return os.NewSyscallError("io_uring_enter", e)
}

// Reap passes each posted completion to f: the request's tag, its result
// (bytes, or -errno).
// It returns how many there were.
func (r *Ring) Reap(f func(tag uint64, res int32)) int {
	head := *r.cqHead
	n := 0
	for ; head != atomic.LoadUint32(r.cqTail); head++ {
		n++
		c := r.cqes[head&r.cqMask]
		r.inflight--
		atomic.StoreUint32(r.cqHead, head+1)
		if c.userData != cancelTag && f != nil {
			f(c.userData, c.res)
		}
	}
	return n
}

// Drain cancels every request in flight and reaps until none is left,
// passing their completions to f. It gives up after 5 s with an error,
// and the memory the requests name must then stay reachable (Close then
// keeps the ring too).
func (r *Ring) Drain(f func(tag uint64, res int32)) error {
	if r.inflight == 0 && !r.Pending() {
		return nil
	}
	if !r.Reserve(1) {
		return os.NewSyscallError("io_uring_enter (drain)", unix.EBUSY)
	}
	r.push(sqe{opcode: opAsyncCancel, opFlags: cancelAny}, cancelTag)
	deadline := time.Now().Add(5 * time.Second)
	for r.inflight > 0 {
		if time.Now().After(deadline) {
			return os.NewSyscallError("io_uring_enter (drain)", unix.ETIMEDOUT)
		}
		if err := r.enter(1, 100, false); err != nil && err != unix.EINTR {
			return err
		}
		r.Reap(f)
	}
	return nil
}

// Cancel queues the cancellation of the request queued with tag. The
// cancel completes, tagged as, with how it went (-ENOENT: nothing found,
// -EALREADY: too late); the canceled request completes as usual.
func (r *Ring) Cancel(tag, as uint64) {
	r.push(sqe{opcode: opAsyncCancel, addr: tag}, as)
}
