//go:build linux

package relay

import (
	"errors"
	"fmt"
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// pipeSizer sizes the pipes a relay creates to and from its stages
// (Options.PipeSize).
//
// A size above /proc/sys/fs/pipe-max-size is clamped to it, with one
// warning: without CAP_SYS_RESOURCE the kernel refuses it outright, and
// every pipe would keep the kernel's 64 KiB.
//
// With CAP_SYS_RESOURCE or CAP_SYS_ADMIN (or no per-user limit), every
// pipe gets the size when it is created. Otherwise the kernel charges
// each pipe's pages to the user, and past pipe-user-pages-soft (64 MiB)
// it gives the user's new pipes 8 KiB and refuses to grow any — every
// program of the user's, not just this one. So a link's pipes start at
// the kernel's default, grow to the size when the link sits full (its
// sink refused data: a busy link), and shrink back when the link has
// moved nothing for idleAfter. The relay's pipes hold at most the budget
// (Options.PipeBudget, half the soft limit by default); growth that the
// budget, or the kernel, stops is reported once through Options.Warn.
//
// An explicit size below the kernel's default is a choice, not a cost:
// it is applied at creation as always.
type pipeSizer struct {
	l      *loop.Loop
	warn   func(string)
	size   int // capacity a pipe gets; 0: leave pipes as created
	base   int // capacity of a new pipe
	budget int // most bytes the relay's pipes hold; 0: no budget, size at creation
	soft   int // the user's soft limit in bytes, for the warning
	held   int // bytes the links' pipes hold now: base each, more when grown
	grown  map[*Link]struct{}
	idle   *loop.Timer // checks grown links every idleAfter; nil until one grows
	warned bool        // growth was stopped once, and said so
}

// linkPipes are the pipes of one link that the relay created and sizes.
type linkPipes struct {
	fds    []int  // our ends: the link's source, sink or both
	caps   []int  // their capacities as far as the sizer knows
	tried  bool   // grown, or growth refused, since the last shrink
	shrunk bool   // shrunk once: grows again only after moving bytes
	seen   uint64 // the link's Bytes at the last idle check, or the shrink
}

// idleAfter is how long a grown link may move nothing before its pipes
// shrink back to the kernel's default.
const idleAfter = time.Second

func newPipeSizer(l *loop.Loop, opts Options) *pipeSizer {
	s := &pipeSizer{l: l, warn: opts.Warn, size: max(opts.PipeSize, 0), grown: make(map[*Link]struct{})}
	if s.warn == nil {
		s.warn = func(string) {}
	}
	lim, err := fdio.ReadPipeLimits()
	if err != nil {
		// No /proc: size every pipe at creation, as far as the kernel lets.
		s.base = fdio.PipeDefaultPages * unix.Getpagesize()
		return s
	}
	s.base = lim.Default
	if s.size > lim.Max && !lim.AboveMax {
		s.warn(fmt.Sprintf("pipe size %s is above /proc/sys/fs/pipe-max-size (%s): using %s",
			sizeName(s.size), sizeName(lim.Max), sizeName(lim.Max)))
		s.size = lim.Max
	}
	if !lim.Unbudgeted && lim.UserSoft > 0 {
		s.soft = lim.UserSoft
		s.budget = lim.UserSoft / 2
		if opts.PipeBudget > 0 {
			s.budget = opts.PipeBudget
		}
	}
	if opts.PipeBudget < 0 {
		s.budget = 0
	}
	return s
}

// Size is the capacity a pipe of the relay's gets when it grows (or at
// creation, without a budget): Options.PipeSize after clamping; 0 when
// pipes are left as created.
func (r *Relay) PipeSize() int { return r.sizer.size }

// created sizes a pipe the relay has just made, through our end fd: at
// once without a budget; with one, only a size below the default.
func (s *pipeSizer) created(fd int) {
	if s.size > 0 && (s.budget == 0 || s.size < s.base) {
		fdio.SetPipeSize(fd, s.size) // advisory: the kernel may refuse
	}
}

// adopt makes the sizer grow and shrink link k's pipes; fds are our ends
// of the pipes the relay created for it.
func (s *pipeSizer) adopt(k *Link, fds ...int) {
	if s.budget == 0 || s.size <= s.base || len(fds) == 0 {
		return
	}
	p := &linkPipes{fds: fds, caps: make([]int, len(fds))}
	for i := range p.caps {
		p.caps[i] = s.base
		s.held += s.base
	}
	k.pipes = p
}

// release forgets a finished link's pipes.
func (s *pipeSizer) release(k *Link) {
	p := k.pipes
	if p == nil {
		return
	}
	for _, c := range p.caps {
		s.held -= c
	}
	delete(s.grown, k)
	k.pipes = nil
}

// sinkFull is told that link k sat full: its sink refused data. Its
// pipes grow, once, if the budget has room.
func (s *pipeSizer) sinkFull(k *Link) {
	p := k.pipes
	if p.tried || k.done || p.shrunk && p.seen == k.stats.Bytes {
		// Grown already, or shrunk and idle since: resizing a pipe wakes
		// its writer, and the link then looks as if its sink had been full.
		return
	}
	p.tried = true
	need := 0
	for _, c := range p.caps {
		need += max(s.size-c, 0)
	}
	if s.held+need > s.budget {
		s.stopped(fmt.Sprintf("the relay's pipes hold %s, its budget of half this user's %s (/proc/sys/fs/pipe-user-pages-soft)",
			sizeName(s.held), sizeName(s.soft)))
		return
	}
	for i, fd := range p.fds {
		got, err := fdio.SetPipeSize(fd, s.size)
		if err != nil {
			if errors.Is(err, unix.EPERM) {
				s.stopped(fmt.Sprintf("this user's pipes use up /proc/sys/fs/pipe-user-pages-soft (%s): %v", sizeName(s.soft), err))
			}
			break
		}
		s.held += got - p.caps[i]
		p.caps[i] = got
	}
	p.seen = k.stats.Bytes
	s.grown[k] = struct{}{}
	if s.idle == nil {
		s.idle = s.l.AfterFunc(idleAfter, s.shrinkIdle)
	} else if len(s.grown) == 1 {
		s.idle.Reset(idleAfter)
	}
}

// stopped warns, the first time, that a busy link could not grow.
func (s *pipeSizer) stopped(why string) {
	if !s.warned {
		s.warned = true
		s.warn(fmt.Sprintf("busy links' pipes stay at %s instead of %s: %s", sizeName(s.base), sizeName(s.size), why))
	}
}

// shrinkIdle gives back the pages of grown links that moved nothing since
// the last check.
func (s *pipeSizer) shrinkIdle() {
	for k := range s.grown {
		p := k.pipes
		if k.stats.Bytes != p.seen {
			p.seen = k.stats.Bytes
			continue
		}
		if k.wait == waitEither {
			// Name the wait now: the resize wakes the link as its sink
			// would (see dstEvent).
			k.wait = k.sourceWait()
		}
		shrunk := true
		for i, fd := range p.fds {
			if p.caps[i] <= s.base {
				continue
			}
			got, err := fdio.SetPipeSize(fd, s.base) // EBUSY: it holds more than that
			if err != nil {
				shrunk = false
				continue
			}
			s.held += got - p.caps[i]
			p.caps[i] = got
		}
		if shrunk {
			p.tried, p.shrunk = false, true
			delete(s.grown, k)
		}
	}
	if len(s.grown) > 0 {
		s.idle.Reset(idleAfter)
	}
}

// sizeName writes n bytes as KiB or MiB.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
