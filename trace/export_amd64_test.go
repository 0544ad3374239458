//go:build linux && amd64

package trace

import (
	"os"
	"strconv"

	"github.com/cilium/ebpf/link"
)

// Tracked reports whether thread tid has a wait element in tr's task
// storage, which is what makes the BPF program watch it (track.go).
func Tracked(tr *Tracer, tid int) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	_, ok := tr.pendingWait(tid)
	return ok
}

// PendingWait returns the start of thread tid's pending wait in tr's task
// storage (0: none) and whether it began before attach.
func PendingWait(tr *Tracer, tid int) (start uint64, attach bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	w, ok := tr.pendingWait(tid)
	if !ok {
		return 0, false
	}
	return w.Start, w.Attach != 0
}

// PauseSwitch detaches tr's sched_switch program until resume attaches
// it again: the switches in between are not seen, as a switch from a task
// the kernel does not trace is not.
func PauseSwitch(tr *Tracer) (resume func() error, err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if err := tr.links[0].Close(); err != nil { // links[0] is StallSwitch (New)
		return nil, err
	}
	return func() error {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		l, err := link.AttachTracing(link.TracingOptions{Program: tr.objs.StallSwitch})
		if err != nil {
			return err
		}
		tr.links[0] = l
		return nil
	}, nil
}

// WatchedMap returns the tgids in tr's watched map as the BPF program
// sees them, without the liveness filter of Watched.
func WatchedMap(tr *Tracer) []int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out, _ := tr.watchedTgids()
	return out
}

// WaitsMapID returns the id of tr's waits task storage map.
func WaitsMapID(tr *Tracer) (uint32, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	info, err := tr.objs.Waits.Info()
	if err != nil {
		return 0, err
	}
	id, _ := info.ID()
	return uint32(id), nil
}

// InProgressOf is what Watch would seed for thread tid of process pid
// from /proc now: the wait it is in, if one the tracer measures.
func InProgressOf(pid, tid int) (d Direction, inode uint64, ok bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/"
	sc, err := os.ReadFile(dir + "syscall")
	if err != nil {
		return 0, 0, false
	}
	w, ok := inProgress(sc, dir, pid)
	return Direction(w.Dir), w.Inode, ok
}
