//go:build linux

package relay

import (
	"github.com/pipeloop/pipeloop/internal/uring"
	"github.com/pipeloop/pipeloop/loop"
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
// With no link in the ring and no chain of an ended link to wait for, it
// is a plain epoll_wait: bulk links pay nothing for it.
type ringSleeper struct {
	ring     *uring.Ring
	links    []*Link  // by id: links in the ring, or whose chain is in flight; nil elsewhere
	freeIDs  []uint64 // ids of ended links, for new ones (newID)
	active   int      // links in the ring (ringLink.on)
	ending   int      // ended links whose chain is in flight (ringEnd)
	toCancel []uint64 // ids whose chain to cancel once the ring has room
	polling  bool     // a poll of the epoll fd is in flight
	epReady  bool     // that poll completed: epoll_wait has events
	reaping  bool     // Sleep is passing completions on: callbacks run from there
	closing  bool     // close was called while reaping: Sleep closes the ring after
	last     *Link    // the link whose chain was queued last (blockable)
	blk      *blocker // the read in the sleep for a link alone (blocking.go); nil until used
}

// Tags: a link's id << 2 | the request; id 0 is the epoll fd's poll.
const (
	tagCancel = 0 // a cancel of a link's chain: its completion says nothing we need
	tagRead   = 1
	tagWrite  = 2
	tagEpoll  = 0 // with id 0
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
		r.noRing = true // links stay on epoll, as without Options.URing
		return nil
	}
	r.ringSl = &ringSleeper{ring: ring, links: make([]*Link, 1)} // id 0 is the epoll fd's poll
	r.l.SetSleeper(r.ringSl)
	return r.ringSl
}

// Sleep implements loop.Sleeper. worked reports completions taken, which
// the loop counts as traffic, as it does epoll events.
func (s *ringSleeper) Sleep(ep int, events []unix.EpollEvent, timeout int, raw bool) (n int, worked bool, err error) {
	if k := s.blockable(timeout); k != nil {
		if n, worked, err = s.sleepInRead(k, ep, events); worked || err != nil {
			return n, worked, err
		}
	}
	s.blk.releaseFd(-1)
	if s.active == 0 && s.ending == 0 && !s.ring.Pending() {
		n, err = loop.EpollWait(ep, events, timeout, raw)
		return n, false, err
	}
	s.queueCancels()
	if !s.polling {
		if s.ring.Reserve(1) {
			s.ring.Poll(ep, unix.POLLIN, 0, tagEpoll)
			s.polling = true
		} else {
			timeout = 0 // no room to hear epoll: do not sleep
		}
	}
	if err := s.ring.Enter(timeout, raw); err != nil {
		return 0, false, err
	}
	s.reaping = true
	reaped := s.ring.Reap(s.complete)
	s.reaping = false
	if s.closing { // a callback closed the relay: the ring goes now
		s.close()
		return 0, reaped > 0, nil
	}
	if reaped == 0 && timeout != 0 {
		// Woken with nothing: a signal (io_uring_enter that submitted
		// answers the count, not EINTR) or the timeout. Say EINTR, so a
		// raw sleep yields to the runtime as after epoll_wait's EINTR.
		return 0, false, unix.EINTR
	}
	if !s.epReady {
		return 0, reaped > 0, nil
	}
	s.epReady = false
	n, err = loop.EpollWait(ep, events, 0, true) // a zero timeout never blocks: raw is safe
	return n, true, err
}

// cancel cancels link id's chain — its write and its read, one of which
// is in flight — now if the ring has room, else at the next sleep.
func (s *ringSleeper) cancel(id uint64) {
	if !s.ring.Reserve(2) {
		s.toCancel = append(s.toCancel, id)
		return
	}
	s.ring.Cancel(ringTag(id, tagWrite), ringTag(id, tagCancel))
	s.ring.Cancel(ringTag(id, tagRead), ringTag(id, tagCancel))
}

// queueCancels queues the cancels cancel could not.
func (s *ringSleeper) queueCancels() {
	for len(s.toCancel) > 0 && s.ring.Reserve(2) {
		id := s.toCancel[len(s.toCancel)-1]
		s.toCancel = s.toCancel[:len(s.toCancel)-1]
		s.cancel(id)
	}
}

// complete routes one completion.
func (s *ringSleeper) complete(tag uint64, res int32) {
	id, req := tag>>2, tag&3
	if id == 0 {
		s.polling = false
		s.epReady = true
		return
	}
	if id >= uint64(len(s.links)) || req == tagCancel {
		return
	}
	k := s.links[id]
	if k == nil {
		return
	}
	k.ringDone(req, res)
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
	s.blk.stop()
	s.blk = nil
	s.ring.Close(s.complete)
	s.links = nil
}

// newID gives a link an id: an ended link's, or a new one.
func (s *ringSleeper) newID() uint64 {
	if n := len(s.freeIDs); n > 0 {
		id := s.freeIDs[n-1]
		s.freeIDs = s.freeIDs[:n-1]
		return id
	}
	s.links = append(s.links, nil)
	return uint64(len(s.links) - 1)
}

// freeID takes an ended link's id back; no completion of its can come.
// A cancel still waiting for room (toCancel) is dropped: it would hit the
// chain of the link that gets the id next.
func (s *ringSleeper) freeID(id uint64) {
	s.links[id] = nil
	if s.last != nil && s.last.ur.id == id {
		s.last = nil // nor keep an ended link, and its buffer, reachable
	}
	s.freeIDs = append(s.freeIDs, id)
	for i, c := range s.toCancel {
		if c == id {
			s.toCancel = append(s.toCancel[:i], s.toCancel[i+1:]...)
			break
		}
	}
}
