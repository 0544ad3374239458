//go:build linux

package relay

import (
	"unsafe"

	"github.com/pipeloop/pipeloop/internal/uring"
	"golang.org/x/sys/unix"
)

// ringSleeper is the loop's Sleeper while links move small messages through
// io_uring (uringlink.go): the loop sleeps in io_uring_enter, which
// submits the links' queued transfers and waits for a completion, and the
// epoll fd is polled through the ring so every other fd still wakes the
// loop. A one-shot poll, queued again after each epoll_wait: arming it
// checks the epoll fd's readiness, which finds events a full batch left
// behind and level-triggered fds still ready, neither of which wakes a
// poll already armed.
//
// With no link in the ring (active == 0) it is a plain epoll_wait: bulk
// links pay nothing for it.
type ringSleeper struct {
	ring    *uring.Ring
	links   map[uint64]*Link // by id: links with a request in flight, or in the ring
	nextID  uint64
	active  int  // links in the ring (uringLink.on)
	polling bool // a poll of the epoll fd is in flight
	epReady bool // that poll completed: epoll_wait has events
	reaping bool // Sleep is passing completions on: callbacks run from there
	closing bool // close was called while reaping: Sleep closes the ring after
}

// Tags: a link's id << 2 | the request; tagEpoll is the epoll fd's poll.
const (
	tagRead   = 1
	tagWrite  = 2
	tagCancel = 0 // a link's cancel, posted only when it fails
	tagEpoll  = 0 // id 0
)

// sleeper returns the relay's ringSleeper, making it and installing it in
// the loop on first use; nil if io_uring is unavailable (then never tried
// again).
func (r *Relay) sleeper() *ringSleeper {
	if r.ringSl != nil || r.noRing {
		return r.ringSl
	}
	if r.l.Sleeper() != nil {
		r.noRing = true // the loop sleeps in something else (another relay's ring): only one can wait
		return nil
	}
	ring, err := uring.New(64)
	if err != nil {
		r.noRing, r.ringErr = true, err // links stay on epoll, as without Options.URing
		return nil
	}
	r.ringSl = &ringSleeper{ring: ring, links: make(map[uint64]*Link), nextID: 1}
	r.l.SetSleeper(r.ringSl)
	return r.ringSl
}

// Sleep implements loop.Sleeper.
func (s *ringSleeper) Sleep(ep int, events []unix.EpollEvent, timeout int, raw bool) (int, error) {
	if s.active == 0 && !s.ring.Pending() {
		return epollWait(ep, events, timeout, raw)
	}
	if !s.polling {
		s.ring.Poll(ep, unix.POLLIN, false, 0, tagEpoll)
		s.polling = true
	}
	if s.epReady {
		timeout = 0
	}
	if err := s.ring.Enter(timeout, raw); err != nil {
		return 0, err
	}
	s.reaping = true
	n := s.ring.Reap(s.complete)
	s.reaping = false
	if s.closing { // a callback closed the relay: the ring goes now
		s.close()
		return 0, nil
	}
	if n == 0 && timeout != 0 {
		// Woken with nothing: a signal (io_uring_enter that submitted
		// answers the count, not EINTR) or the timeout. Say EINTR, so a
		// raw sleep yields to the runtime as after epoll_wait's EINTR.
		return 0, unix.EINTR
	}
	if !s.epReady {
		return 0, nil
	}
	s.epReady = false
	return epollWait(ep, events, 0, true) // a zero timeout never blocks: raw is safe
}

// complete routes one completion.
func (s *ringSleeper) complete(tag uint64, res int32, more bool) {
	id, req := tag>>2, tag&3
	if id == 0 {
		s.polling = false
		s.epReady = true
		return
	}
	k := s.links[id]
	if k == nil || req == tagCancel {
		return
	}
	k.ringDone(req, res)
}

// epollWait is epoll_wait, raw or through the runtime (see loop's wait).
func epollWait(ep int, events []unix.EpollEvent, timeout int, raw bool) (int, error) {
	if !raw {
		return unix.EpollWait(ep, events, timeout)
	}
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(timeout), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// close drains the ring (every link has ended, and cancels are queued)
// and releases it — after Reap, if a callback run from it (OnDone closing
// the relay) asked: Reap still reads the ring.
func (s *ringSleeper) close() {
	if s.reaping {
		s.closing = true
		return
	}
	s.closing = false
	s.ring.Close(s.complete0)
	s.links = nil
}

func (s *ringSleeper) complete0(tag uint64, res int32) { s.complete(tag, res, false) }
