//go:build linux && amd64

package trace

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

// Tracer holds the loaded BPF program and its maps. It is safe for
// concurrent use: mu serialises map access against Close.
type Tracer struct {
	start time.Time // when the programs were attached; Report.Start
	mono  uint64    // start on CLOCK_MONOTONIC (bpf_ktime_get_ns), ns
	opts  Options   // with the limits filled in

	mu     sync.Mutex
	objs   stallObjects // maps and programs; zero after Close
	links  []link.Link  // attached programs, closed by Close
	closed bool
	unread uint64 // Dropped.Attach
}

// New loads the BPF program and attaches it to the scheduler
// tracepoints. No process is watched until Watch is called.
//
// Errors are one line: they wrap ErrPermission or ErrUnsupported when
// Check fails or the kernel refuses the program for those reasons.
func New(opts Options) (_ *Tracer, err error) {
	if err := Check(); err != nil {
		return nil, err
	}
	// A no-op on kernels that account BPF memory to the memory cgroup (5.11+).
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, loadError("raise RLIMIT_MEMLOCK", err)
	}
	opts.MaxProcesses = cmp.Or(opts.MaxProcesses, DefaultMaxProcesses)
	opts.MaxRecords = cmp.Or(opts.MaxRecords, DefaultMaxRecords)
	if opts.MaxProcesses < 0 || opts.MaxProcesses > maxLimit || opts.MaxRecords < 0 || opts.MaxRecords > maxLimit {
		return nil, fmt.Errorf("trace: MaxProcesses %d, MaxRecords %d: each must be in 1..%d", opts.MaxProcesses, opts.MaxRecords, maxLimit)
	}
	t := &Tracer{opts: opts}
	spec, err := loadStall()
	if err != nil {
		return nil, loadError("load BPF program", err)
	}
	spec.Maps[stallMapWatched].MaxEntries = uint32(opts.MaxProcesses)
	// keys limits the records; stats has room for elements taken by the
	// losers of races to publish a key (stall.bpf.c, new_record).
	statsSize := opts.MaxRecords + opts.MaxRecords/4 + 256
	spec.Maps[stallMapStats].MaxEntries = uint32(statsSize)
	spec.Maps[stallMapKeys].MaxEntries = uint32(opts.MaxRecords)
	// Dead processes stay in procs: room for the live ones and for one
	// per record.
	spec.Maps[stallMapProcs].MaxEntries = uint32(opts.MaxProcesses + opts.MaxRecords)
	if err := spec.Variables[stallVarFollowChildren].Set(opts.FollowChildren); err != nil {
		return nil, loadError("set follow_children", err)
	}
	if err := spec.Variables[stallVarStatsSize].Set(uint32(statsSize)); err != nil {
		return nil, loadError("set stats_size", err)
	}
	if err := spec.LoadAndAssign(&t.objs, nil); err != nil {
		return nil, loadError("load BPF program", err)
	}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	// stall_fork always runs: it watches new threads, and new children
	// only with FollowChildren. stall_pair (snapshot.go) and stall_track
	// (track.go) run only on demand.
	progs := []*ebpf.Program{t.objs.StallSwitch, t.objs.StallExit, t.objs.StallExec, t.objs.StallFork}
	for _, p := range progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			return nil, loadError("attach BPF program", err)
		}
		t.links = append(t.links, l)
	}
	if t.mono, err = monotonicNow(); err != nil {
		return nil, err
	}
	t.start = time.Now()
	return t, nil
}

// loadError turns a cilium/ebpf error into one line, classified.
func loadError(what string, err error) error {
	msg := err.Error()
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		// The summary names the failing instruction; the cause is errno.
		msg = "verifier: " + ve.Error()
	}
	msg = strings.Join(strings.Fields(msg), " ") // never a multi-line log
	switch {
	case errors.Is(err, ebpf.ErrNotSupported):
		return unsupportedError("%s: kernel lacks a needed feature: %s", what, msg)
	case errors.Is(err, os.ErrPermission):
		return permissionError("%s: %s (needs root or CAP_BPF+CAP_PERFMON; kernel lockdown also refuses)", what, msg)
	}
	return fmt.Errorf("trace: %s: %s", what, msg)
}

// Watch adds a process to the watched set. pid may name any thread: the
// process (thread group) it belongs to is watched, with all its threads.
// With Options.FollowChildren, processes it forks from now on are watched
// too. Watching a process twice is harmless.
func (t *Tracer) Watch(pid int) error {
	tgid, err := threadGroup(pid)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	now, err := monotonicNow() // the process's start, if the program has none
	if err != nil {
		return err
	}
	already, err := t.addWatched(pid, tgid)
	if err != nil {
		return err
	}
	// A zombie, an exiting process (its last thread may be past
	// sched_process_exit already), or a process that exited after
	// threadGroup read it may never pass sched_process_exit again: it is
	// not left in the set, where a process reusing its pid would find it.
	// One the program put there itself leaves it at its exit.
	if !staying(tgid) {
		t.unwatch(tgid, already)
		return nil
	}
	t.noteProc(tgid, now)
	if err := t.trackThreads(tgid); err != nil {
		t.unwatch(tgid, already) // not half-watched: its new threads and children would be
		return err
	}
	// Waits in progress count from after the threads got their elements:
	// a thread that woke before that, and is about to sleep again when
	// /proc is read, then has an arrival after the seed's start, and its
	// seed is discarded (wait_end) instead of becoming a short false wait.
	if now, err = monotonicNow(); err != nil {
		return err
	}
	t.seedWaits(tgid, now)
	return nil
}

// addWatched puts tgid in the watched map; already says it was there
// (e.g. followed as a child).
func (t *Tracer) addWatched(pid, tgid int) (already bool, err error) {
	var one uint8
	already = t.objs.Watched.Lookup(uint32(tgid), &one) == nil
	if err := t.objs.Watched.Put(uint32(tgid), uint8(1)); err != nil {
		if errors.Is(err, syscall.E2BIG) { // a full hash map
			return already, fmt.Errorf("trace: watch pid %d: %w: already watching %d processes (Options.MaxProcesses)",
				pid, ErrLimit, t.opts.MaxProcesses)
		}
		return already, fmt.Errorf("trace: watch pid %d: %w", pid, err)
	}
	return already, nil
}

// unwatch takes back what addWatched did, unless tgid was there before.
func (t *Tracer) unwatch(tgid int, already bool) {
	if !already {
		t.objs.Watched.Delete(uint32(tgid))
	}
}

// noteProc records a watched process's start and name; one already
// followed as a child keeps its parent and start.
func (t *Tracer) noteProc(tgid int, start uint64) {
	pi := stallProcInfo{StartNs: start}
	for i, c := range []byte(procComm(tgid)) {
		if i < len(pi.Comm)-1 {
			pi.Comm[i] = int8(c)
		}
	}
	t.objs.Procs.Update(uint32(tgid), &pi, ebpf.UpdateNoExist) // full: no lifetime, no harm
}

// Watched returns the tgids watched now, sorted: those given to Watch
// and, with FollowChildren, their descendants; a process leaves the set
// when its last thread exits. Watched also drops from the set any
// process found to be a zombie or gone (one that exited while Watch
// added it), so a caller polling Watched sees the set empty once every
// watched process has exited.
func (t *Tracer) Watched() ([]int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	all, err := t.watchedTgids()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, tgid := range all {
		if !alive(tgid) {
			t.objs.Watched.Delete(uint32(tgid))
			continue
		}
		out = append(out, tgid)
	}
	slices.Sort(out)
	return out, nil
}

// watchedTgids lists the watched map as it is. t.mu must be held.
func (t *Tracer) watchedTgids() ([]int, error) {
	var (
		tgid uint32
		one  uint8
		out  []int
	)
	it := t.objs.Watched.Iterate()
	for it.Next(&tgid, &one) {
		out = append(out, int(tgid))
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("trace: read watch map: %w", err)
	}
	return out, nil
}

// Close detaches the programs and frees the maps. Later calls return
// ErrClosed; a second Close returns nil.
func (t *Tracer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	for _, l := range t.links {
		errs = append(errs, l.Close())
	}
	t.links = nil
	errs = append(errs, t.objs.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("trace: close: %w", err)
	}
	return nil
}
