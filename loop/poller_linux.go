package loop

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// slot is one registration. Its index and generation travel in the epoll
// event's data word, so a stale event (its fd unregistered earlier in the
// same batch) can be recognised and dropped.
type slot struct {
	fd    int     // registered fd, -1 when the slot is free
	gen   uint32  // bumped on every reuse of the slot
	ev    Events  // current interest set
	h     Handler // receives the events
	free  bool    // on the free list
	quiet bool    // out of epoll's interest set (Quiet) until Modify
}

// registry maps fds to slots; it is only touched on the loop goroutine.
type registry struct {
	slots []slot
	free  []int32       // indexes of free slots
	byFD  map[int]int32 // fd -> slot index
}

func (r *registry) alloc(fd int, ev Events, h Handler) int32 {
	var i int32
	if n := len(r.free); n > 0 {
		i = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		r.slots = append(r.slots, slot{})
		i = int32(len(r.slots) - 1)
	}
	s := &r.slots[i]
	s.fd, s.ev, s.h, s.free, s.quiet = fd, ev, h, false, false
	s.gen++
	r.byFD[fd] = i
	return i
}

func (r *registry) release(i int32) {
	s := &r.slots[i]
	delete(r.byFD, s.fd)
	s.fd, s.h, s.free = -1, nil, true
	s.gen++
	r.free = append(r.free, i)
}

func epollEvent(ev Events, idx int32, gen uint32) unix.EpollEvent {
	return unix.EpollEvent{Events: uint32(ev), Fd: idx, Pad: int32(gen)}
}

// Register adds fd to the loop with interest set ev (Readable, Writable,
// PeerClosed, optionally EdgeTriggered); h receives its events.
func (l *Loop) Register(fd int, ev Events, h Handler) error {
	l.mustOnLoop("Register")
	if err := l.usable(); err != nil {
		return err
	}
	if _, dup := l.reg.byFD[fd]; dup {
		return fmt.Errorf("register fd %d: %w", fd, os.ErrExist)
	}
	i := l.reg.alloc(fd, ev, h)
	e := epollEvent(ev, i, l.reg.slots[i].gen)
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &e); err != nil {
		l.reg.release(i)
		return os.NewSyscallError("epoll_ctl(ADD)", err)
	}
	return nil
}

// Modify replaces fd's interest set.
func (l *Loop) Modify(fd int, ev Events) error {
	l.mustOnLoop("Modify")
	i, err := l.registered("modify", fd)
	if err != nil {
		return err
	}
	s := &l.reg.slots[i]
	op, name := unix.EPOLL_CTL_MOD, "epoll_ctl(MOD)"
	switch {
	case s.quiet:
		op, name = unix.EPOLL_CTL_ADD, "epoll_ctl(ADD)"
	case s.ev == ev:
		return nil
	}
	e := epollEvent(ev, i, s.gen)
	if err := unix.EpollCtl(l.ep, op, fd, &e); err != nil {
		return os.NewSyscallError(name, err)
	}
	s.ev, s.quiet = ev, false
	return nil
}

// Quiet takes fd out of epoll's interest set, keeping its registration
// and handler: no event at all, hangups and errors included, until Modify
// gives it an interest set again (and epoll then reports what is ready).
// For an fd whose every event the caller learns otherwise for a while: a
// registered fd still costs each wake-up of the file's wait queues a
// callback, whatever its interest set.
func (l *Loop) Quiet(fd int) error {
	l.mustOnLoop("Quiet")
	i, err := l.registered("quiet", fd)
	if err != nil || l.reg.slots[i].quiet {
		return err
	}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl(DEL)", err)
	}
	l.reg.slots[i].quiet = true
	return nil
}

// registered returns fd's slot, or an error naming op.
func (l *Loop) registered(op string, fd int) (int32, error) {
	i, ok := l.reg.byFD[fd]
	if !ok {
		return 0, fmt.Errorf("%s fd %d: %w", op, fd, os.ErrNotExist)
	}
	return i, nil
}

// Unregister removes fd from the loop. It does not close fd. Events for fd
// already collected in the current wake-up are dropped.
func (l *Loop) Unregister(fd int) error {
	l.mustOnLoop("Unregister")
	i, err := l.registered("unregister", fd)
	if err != nil {
		return err
	}
	quiet := l.reg.slots[i].quiet
	l.reg.release(i)
	if quiet {
		return nil // not in epoll
	}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl(DEL)", err)
	}
	return nil
}

// Registered reports the number of fds registered by callers (the loop's
// own eventfd and pidfds included).
func (l *Loop) Registered() int {
	l.mustOnLoop("Registered")
	return len(l.reg.byFD)
}

// dispatch delivers one batch of events.
func (l *Loop) dispatch(evs []unix.EpollEvent) {
	for k := range evs {
		e := &evs[k]
		i := e.Fd
		if int(i) >= len(l.reg.slots) {
			continue
		}
		s := &l.reg.slots[i]
		if s.free || s.gen != uint32(e.Pad) {
			continue // unregistered earlier in this batch
		}
		l.stats.Events++
		s.h.HandleEvents(Events(e.Events))
	}
}
