//go:build linux && amd64

package trace

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

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
	tids   tidBits      // objs.Tids, mapped; nil after Close
	links  []link.Link  // attached programs, closed by Close
	closed bool
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
	spec.Maps[stallMapStats].MaxEntries = uint32(opts.MaxRecords)
	// Dead processes stay in procs: room for the live ones and for one
	// per record.
	spec.Maps[stallMapProcs].MaxEntries = uint32(opts.MaxProcesses + opts.MaxRecords)
	if err := spec.Variables[stallVarFollowChildren].Set(opts.FollowChildren); err != nil {
		return nil, loadError("set follow_children", err)
	}
	if err := spec.LoadAndAssign(&t.objs, nil); err != nil {
		return nil, loadError("load BPF program", err)
	}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if t.tids, err = mapTids(t.objs.Tids); err != nil {
		return nil, err
	}
	// stall_fork always runs: it marks new threads, and new children
	// only with FollowChildren.
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
	now, err := monotonicNow() // the moment of attach for waits in progress
	if err != nil {
		return err
	}
	if err := t.objs.Watched.Put(uint32(tgid), uint8(1)); err != nil {
		if errors.Is(err, syscall.E2BIG) { // a full hash map
			return fmt.Errorf("trace: watch pid %d: %w: already watching %d processes (Options.MaxProcesses)",
				pid, ErrLimit, t.opts.MaxProcesses)
		}
		return fmt.Errorf("trace: watch pid %d: %w", pid, err)
	}
	// A zombie, or a process that exited after threadGroup read it,
	// never passes sched_process_exit again: it is not left in the set.
	if !alive(tgid) {
		t.objs.Watched.Delete(uint32(tgid))
		return nil
	}
	// A process already followed as a child keeps its parent and start.
	pi := stallProcInfo{StartNs: now}
	for i, c := range []byte(procComm(tgid)) {
		if i < len(pi.Comm)-1 {
			pi.Comm[i] = int8(c)
		}
	}
	t.objs.Procs.Update(uint32(tgid), &pi, ebpf.UpdateNoExist) // full: no lifetime, no harm
	t.markThreads(tgid)
	t.seedWaits(tgid, now)
	return nil
}

// alive reports whether process tgid has a thread that is neither a
// zombie nor dead. A leader that exited before its other threads is a
// zombie while they run, so every thread is looked at.
func alive(tgid int) bool {
	dir := "/proc/" + strconv.Itoa(tgid) + "/task/"
	for _, tid := range threads(tgid) {
		stat, err := os.ReadFile(dir + strconv.Itoa(tid) + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) S ...": comm may hold spaces and parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
			if st := stat[i+2]; st != 'Z' && st != 'X' && st != 'x' {
				return true
			}
		}
	}
	return false
}

// threadGroup returns the tgid of the process that thread pid belongs to.
func threadGroup(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("trace: watch pid %d: invalid pid", pid)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("trace: watch pid %d: %w", pid, syscall.ESRCH)
		}
		return 0, fmt.Errorf("trace: watch pid %d: %w", pid, err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			if tgid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return tgid, nil
			}
		}
	}
	return 0, fmt.Errorf("trace: watch pid %d: no Tgid in /proc/%d/status", pid, pid)
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
	var (
		tgid uint32
		one  uint8
		out  []int
	)
	var gone []uint32
	it := t.objs.Watched.Iterate()
	for it.Next(&tgid, &one) {
		if !alive(int(tgid)) {
			gone = append(gone, tgid)
			continue
		}
		out = append(out, int(tgid))
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("trace: read watch map: %w", err)
	}
	for _, g := range gone {
		t.objs.Watched.Delete(g)
	}
	slices.Sort(out)
	return out, nil
}

// Snapshot reads the stall counters now. A wait still in progress counts
// as if it ended now, so a process blocked all along shows up. Snapshots
// are independent: the counters keep running.
func (t *Tracer) Snapshot() (Report, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return Report{}, ErrClosed
	}
	r := Report{Start: t.start, Wall: time.Since(t.start)}
	var (
		k stallStallKey
		v stallStallVal
	)
	it := t.objs.Stats.Iterate()
	for it.Next(&k, &v) {
		r.Records = append(r.Records, Record{
			Tgid:     int(k.Tgid),
			Comm:     commString(v.Comm),
			Inode:    k.Inode,
			Dir:      Direction(k.Dir),
			Count:    v.Count,
			Total:    time.Duration(v.TotalNs),
			Max:      time.Duration(v.MaxNs),
			AtAttach: v.AtAttach,
			Runnable: time.Duration(v.RunnableNs),
			Hist:     slices.Clone(v.Hist[:]),
		})
	}
	if err := it.Err(); err != nil {
		return Report{}, fmt.Errorf("trace: read stats map: %w", err)
	}
	procs, err := t.procs()
	if err != nil {
		return Report{}, err
	}
	r.Procs = procs
	d, err := t.dropped()
	if err != nil {
		return Report{}, err
	}
	r.Dropped = d
	r.MaxRecords = t.opts.MaxRecords
	r.MaxProcesses = t.opts.MaxProcesses
	// Read after stats: a wait ending in between is missed by this
	// snapshot rather than counted twice.
	if err := t.addInflight(&r); err != nil {
		return Report{}, err
	}
	r.sort()
	return r, nil
}

// procs reads what is known of the watched processes' lives.
func (t *Tracer) procs() (map[int]ProcInfo, error) {
	var (
		tgid uint32
		pi   stallProcInfo
	)
	out := make(map[int]ProcInfo)
	offset := func(ns uint64) time.Duration { return time.Duration(int64(ns - t.mono)) }
	it := t.objs.Procs.Iterate()
	for it.Next(&tgid, &pi) {
		out[int(tgid)] = ProcInfo{
			Parent: int(pi.Parent), Comm: commString(pi.Comm),
			Start: max(offset(pi.StartNs), 0), Exit: offset(pi.ExitNs), Exited: pi.ExitNs != 0,
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("trace: read procs map: %w", err)
	}
	return out, nil
}

// Indexes of the dropped map: DROP_* in stall.bpf.c.
const (
	dropWait = iota
	dropChild
	dropStorage
	dropProc
)

// dropped reads the BPF program's loss counters.
func (t *Tracer) dropped() (Dropped, error) {
	var d Dropped
	for i, p := range []*uint64{dropWait: &d.Waits, dropChild: &d.Children, dropStorage: &d.Storage, dropProc: &d.Procs} {
		if err := t.objs.Dropped.Lookup(uint32(i), p); err != nil {
			return Dropped{}, fmt.Errorf("trace: read dropped map: %w", err)
		}
	}
	return d, nil
}

// addInflight adds the waits in progress of the watched processes to r's
// records, as if they ended now. Task storage is looked up by pidfd: one
// per thread (PIDFD_THREAD, Linux 6.9+; older kernels give only the
// thread group leader's wait). Nothing extra runs in the BPF hot path.
// The runnable part of a wait in progress is not known until its
// switch-in (stall.bpf.c reads it from the scheduler then): it counts as
// blocked here.
func (t *Tracer) addInflight(r *Report) error {
	now, err := monotonicNow()
	if err != nil {
		return err
	}
	var (
		tgid uint32
		one  uint8
		tids []int
	)
	it := t.objs.Watched.Iterate()
	for it.Next(&tgid, &one) {
		tids = append(tids, threads(int(tgid))...)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("trace: read watch map: %w", err)
	}
	index := make(map[stallStallKey]int, len(r.Records))
	for i, rec := range r.Records {
		index[stallStallKey{Tgid: uint32(rec.Tgid), Dir: uint32(rec.Dir), Inode: rec.Inode}] = i
	}
	for _, tid := range tids {
		w, ok := t.pendingWait(tid)
		if !ok || w.Start == 0 || w.Start >= now {
			continue
		}
		d := time.Duration(now - w.Start)
		k := stallStallKey{Tgid: w.Tgid, Dir: uint32(w.Dir), Inode: w.Inode}
		i, ok := index[k]
		if !ok {
			i = len(r.Records)
			index[k] = i
			r.Records = append(r.Records, Record{
				Tgid: int(w.Tgid), Comm: procComm(int(w.Tgid)), Inode: w.Inode, Dir: Direction(w.Dir),
				Hist: make([]uint64, HistBuckets),
			})
		}
		rec := &r.Records[i]
		rec.Count++
		if w.Attach != 0 {
			rec.AtAttach++
		}
		rec.Total += d
		rec.Max = max(rec.Max, d)
		rec.Hist[min(bits.Len64(uint64(d))-1, HistBuckets-1)]++
	}
	return nil
}

// threads returns the thread ids of process tgid (none if it is gone).
func threads(tgid int) []int {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(tgid) + "/task")
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}

// pendingWait returns thread tid's wait from task storage, if any.
func (t *Tracer) pendingWait(tid int) (stallWait, bool) {
	fd, err := pidfdOpen(tid)
	if err != nil {
		return stallWait{}, false
	}
	defer syscall.Close(fd)
	var w stallWait
	if err := t.objs.Waits.Lookup(int32(fd), &w); err != nil {
		return stallWait{}, false
	}
	return w, true
}

// pidfdOpen returns a pidfd for thread tid: the key of task storage.
// Before Linux 6.9 (no PIDFD_THREAD) only a thread group leader has one.
func pidfdOpen(tid int) (int, error) {
	const (
		sysPidfdOpen = 434  // pidfd_open, same number on every architecture
		pidfdThread  = 0x80 // PIDFD_THREAD (O_EXCL), Linux 6.9+
	)
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(tid), pidfdThread, 0)
	if errno == syscall.EINVAL { // older kernel: leaders only
		fd, _, errno = syscall.Syscall(sysPidfdOpen, uintptr(tid), 0, 0)
	}
	if errno != 0 {
		return -1, os.NewSyscallError("pidfd_open", errno)
	}
	return int(fd), nil
}

// monotonicNow returns CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns.
func monotonicNow() (uint64, error) {
	var ts syscall.Timespec
	const clockMonotonic = 1
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, fmt.Errorf("trace: %w", os.NewSyscallError("clock_gettime", errno))
	}
	return uint64(ts.Nano()), nil
}

// procComm returns the name of process pid, or "" if it is gone.
func procComm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func commString(c [16]int8) string {
	b := make([]byte, 0, len(c))
	for _, ch := range c {
		if ch == 0 {
			break
		}
		b = append(b, byte(ch))
	}
	return string(b)
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
	errs = append(errs, t.tids.unmap(), t.objs.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("trace: close: %w", err)
	}
	return nil
}
