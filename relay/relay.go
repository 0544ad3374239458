package relay

import (
	"errors"
	"fmt"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// Relay creates links and pipelines on one loop and holds what they share.
type Relay struct {
	l       *loop.Loop
	opts    Options
	pool    *fdio.RingPool
	vmPool  *fdio.RingPool // vmsplice rings for copying into pipes; nil when not used
	watches map[int]*watch // registrations by fd
	links   map[*Link]struct{}
	sizer   *pipeSizer // sizes the pipes pipelines create
}

// New returns a Relay on l.
func New(l *loop.Loop, opts Options) (*Relay, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	pool, err := fdio.NewRingPool(opts.BufferSize, opts.KeepRings)
	if err != nil {
		return nil, err
	}
	r := &Relay{l: l, opts: opts, pool: pool, watches: make(map[int]*watch), links: make(map[*Link]struct{}),
		sizer: newPipeSizer(l, opts)}
	if !opts.NoVmsplice {
		// Unavailable (no transparent huge pages) just means links write.
		// Idle vmsplice rings keep their faulted-in huge pages: keep few.
		r.vmPool, _ = fdio.NewVmspliceRingPool(opts.LendSize, min(opts.KeepRings, vmKeep))
	}
	return r, nil
}

// vmKeep bounds the idle vmsplice rings a relay keeps (each maps two huge
// pages, 4 MiB on x86-64).
const vmKeep = 4

// Vmsplice reports whether copying links lend ring pages to pipe sinks.
func (r *Relay) Vmsplice() bool { return r.vmPool != nil }

// Loop is the relay's loop.
func (r *Relay) Loop() *loop.Loop { return r.l }

// Options returns the relay's effective options.
func (r *Relay) Options() Options { return r.opts }

// RingsLive is the number of rings links hold now, from either pool.
func (r *Relay) RingsLive() int {
	n := r.pool.Live()
	if r.vmPool != nil {
		n += r.vmPool.Live()
	}
	return n
}

// Links is the number of links not yet done.
func (r *Relay) Links() int { return len(r.links) }

// watch is one epoll registration, shared by the link that reads the fd
// and the link that writes it.
type watch struct {
	fd       int
	kind     fdio.Kind
	pollable bool  // false: epoll refused the fd (regular file…); always ready
	restore  bool  // we set O_NONBLOCK on a description that was blocking: undo it when done
	reader   *Link // link with this fd as source
	writer   *Link // link with this fd as sink
}

// HandleEvents forwards readiness to the links on this fd.
func (w *watch) HandleEvents(ev loop.Events) {
	if k := w.reader; k != nil && ev&(loop.Readable|loop.Hangup|loop.Error|loop.PeerClosed) != 0 {
		k.srcEvent(ev)
	}
	if k := w.writer; k != nil && ev&(loop.Writable|loop.Hangup|loop.Error) != 0 {
		k.dstEvent(ev)
	}
}

// attach registers fd for link k in the given role.
func (r *Relay) attach(fd int, k *Link, asReader bool) (*watch, error) {
	w := r.watches[fd]
	if w == nil {
		kind, err := fdio.KindOf(fd)
		if err != nil {
			return nil, err
		}
		w = &watch{fd: fd, kind: kind, pollable: kind != fdio.KindFile}
		if w.pollable {
			nb, err := fdio.IsNonblock(fd)
			if err != nil {
				return nil, err
			}
			if !nb {
				if err := fdio.SetNonblock(fd, true); err != nil {
					return nil, err
				}
				w.restore = true
			}
			err = r.l.Register(fd, loop.Readable|loop.Writable|loop.PeerClosed|loop.EdgeTriggered, w)
			if err != nil {
				if !errors.Is(err, unix.EPERM) {
					w.undo()
					return nil, err
				}
				// epoll cannot watch it (/dev/null and friends): always ready.
				w.pollable = false
				w.undo()
			}
		}
		r.watches[fd] = w
	}
	if asReader {
		if w.reader != nil {
			return nil, fmt.Errorf("fd %d is already a link's source", fd)
		}
		w.reader = k
	} else {
		if w.writer != nil {
			return nil, fmt.Errorf("fd %d is already a link's sink", fd)
		}
		w.writer = k
	}
	return w, nil
}

// detach drops link k's role on w and unregisters w when nobody uses it.
func (r *Relay) detach(w *watch, k *Link) {
	if w == nil {
		return
	}
	if w.reader == k {
		w.reader = nil
	}
	if w.writer == k {
		w.writer = nil
	}
	if w.reader == nil && w.writer == nil {
		if w.pollable {
			r.l.Unregister(w.fd)
		}
		w.undo()
		delete(r.watches, w.fd)
	}
}

// undo puts back the blocking mode the fd's description had, which other
// processes sharing it (a terminal, the shell's pipe) expect.
func (w *watch) undo() {
	if w.restore {
		fdio.SetNonblock(w.fd, false)
		w.restore = false
	}
}
