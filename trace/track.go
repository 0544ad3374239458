//go:build linux && amd64

package trace

import (
	"fmt"
	"io"

	"github.com/cilium/ebpf/link"
)

// Which threads the BPF program watches.
//
// A thread is watched while it has an element in the waits task storage
// map (stall.bpf.c): stall_switch checks task->bpf_storage, a field of
// the task it switches anyway, and returns at once for a task without
// any task storage, so a switch of unwatched tasks touches no map.
//
// Invariant: a thread with a waits element belongs to a watched process.
// trackThreads gives the threads of a process their elements after Watch
// put its tgid in the watched map; stall_fork gives each thread the
// process clones from then on its element (so a thread cloned while
// Watch runs gets one from either); stall_exit deletes the element of
// every exiting thread, and the watched map loses the tgid with its last
// thread. The element belongs to the task, not to its tid, so a reused
// tid is never watched by mistake, and a thread that execs keeps it.

// trackThreads gives each live thread of process tgid a fresh wait
// element (stall_track, a task iterator), keeping any it has. A pidfd
// would reach only thread group leaders before Linux 6.9; the iterator
// reaches every thread.
func (t *Tracer) trackThreads(tgid int) error {
	if err := t.objs.TrackTgid.Set(uint32(tgid)); err != nil {
		return fmt.Errorf("trace: watch pid %d: set the iterator's process: %w", tgid, err)
	}
	it, err := link.AttachIter(link.IterOptions{Program: t.objs.StallTrack})
	if err != nil {
		return fmt.Errorf("trace: watch pid %d: attach the thread iterator: %w", tgid, err)
	}
	defer it.Close()
	r, err := it.Open()
	if err != nil {
		return fmt.Errorf("trace: watch pid %d: open the thread iterator: %w", tgid, err)
	}
	defer r.Close()
	// The program writes nothing: reading to EOF runs it over every task.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("trace: watch pid %d: run the thread iterator: %w", tgid, err)
	}
	return nil
}
