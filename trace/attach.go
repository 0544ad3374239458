//go:build linux && amd64

package trace

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
)

// Waits in progress at attach.
//
// The BPF program sees a wait begin at the switch-out into it. A thread
// already asleep on a pipe when its process is watched would be missed
// until it woke and slept again, so Watch looks at each thread once:
// if /proc says it sleeps interruptibly in a syscall classify (in
// stall.bpf.c) would take, on a pipe, Watch writes that wait into the
// thread's task storage with start = the moment of attach and attach = 1.
// The switch-in then records it like any other wait, counted in
// Record.AtAttach.
//
// Invariant: a seed never replaces a wait the BPF program wrote (it is
// written with BPF_NOEXIST), and a seed for a thread that ran between
// the look at /proc and the write is taken back: the thread's count of
// arrivals on a CPU (/proc/.../schedstat, third field) must be the same
// before and after. A thread that wakes in the few microseconds after
// that check still ends the seeded wait correctly at its switch-in.

// x86_64 syscall numbers, as in stall.bpf.c.
const (
	nrRead        = 0
	nrWrite       = 1
	nrPoll        = 7
	nrReadv       = 19
	nrWritev      = 20
	nrSelect      = 23
	nrSendfile    = 40
	nrEpollWait   = 232
	nrPselect6    = 270
	nrPpoll       = 271
	nrSplice      = 275
	nrTee         = 276
	nrVmsplice    = 278
	nrEpollPwait  = 281
	nrEpollPwait2 = 441
)

// seedWaits seeds the waits in progress of process tgid's threads, from
// now (CLOCK_MONOTONIC ns). Errors are ignored: a thread that cannot be
// read is one whose wait is not seen, as before.
func (t *Tracer) seedWaits(tgid int, now uint64) {
	for _, tid := range threads(tgid) {
		t.seedThread(tgid, tid, now)
	}
}

func (t *Tracer) seedThread(tgid, tid int, now uint64) {
	dir := "/proc/" + strconv.Itoa(tgid) + "/task/" + strconv.Itoa(tid) + "/"
	before, ok := arrivals(dir)
	if !ok || state(dir) != 'S' {
		return
	}
	w, ok := inProgress(dir, tgid)
	if !ok {
		return
	}
	w.Start, w.Tgid, w.Attach = now, uint32(tgid), 1
	w.RunDelay = runDelay(dir) // the runnable part counts from here, as for a wait the BPF program saw begin
	fd, err := pidfdOpen(tid)
	if err != nil {
		return
	}
	defer syscall.Close(fd)
	if err := t.objs.Waits.Update(int32(fd), &w, ebpf.UpdateNoExist); err != nil {
		return
	}
	if after, ok := arrivals(dir); !ok || after != before {
		// It ran meanwhile: the seed may describe a sleep that is over.
		var cur stallWait
		if t.objs.Waits.Lookup(int32(fd), &cur) == nil && cur == w {
			t.objs.Waits.Delete(int32(fd))
		}
	}
}

// inProgress classifies the syscall the thread at dir sleeps in, as
// classify in stall.bpf.c does, and returns the wait's direction and
// pipe inode.
func inProgress(dir string, tgid int) (stallWait, bool) {
	b, err := os.ReadFile(dir + "syscall")
	if err != nil {
		return stallWait{}, false
	}
	f := strings.Fields(string(b)) // "nr arg0 ... arg5 sp pc", "running" or "-1 sp pc"
	if len(f) < 4 {
		return stallWait{}, false
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil {
		return stallWait{}, false
	}
	var a [3]int
	for i := range a {
		v, err := strconv.ParseUint(strings.TrimPrefix(f[1+i], "0x"), 16, 64)
		if err != nil {
			return stallWait{}, false
		}
		a[i] = int(int32(v)) // fds are ints
	}
	fdDir := "/proc/" + strconv.Itoa(tgid) + "/fd/"
	ino := func(fd int) uint64 { return pipeIno(fdDir, fd) }
	pipeWait := func(d Direction, inode uint64) (stallWait, bool) {
		return stallWait{Dir: uint16(d), Inode: inode}, inode != 0
	}
	switch nr {
	case nrRead, nrReadv:
		return pipeWait(DirRead, ino(a[0]))
	case nrWrite, nrWritev:
		return pipeWait(DirWrite, ino(a[0]))
	case nrVmsplice:
		d := DirWrite
		if readOnly(tgid, a[0]) {
			d = DirRead
		}
		return pipeWait(d, ino(a[0]))
	case nrSplice, nrTee, nrSendfile:
		in, out := a[0], a[2]
		switch nr {
		case nrTee:
			out = a[1]
		case nrSendfile:
			in, out = a[1], a[0]
		}
		inIno, outIno := ino(in), ino(out)
		// With pipes on both sides, the kernel function it sleeps in
		// says which side it waits for.
		wchan, _ := os.ReadFile(dir + "wchan")
		if inIno != 0 && (outIno == 0 || !strings.Contains(string(wchan), "writ")) {
			return pipeWait(DirRead, inIno)
		}
		return pipeWait(DirWrite, outIno)
	case nrPoll, nrSelect, nrEpollWait, nrPselect6, nrPpoll, nrEpollPwait, nrEpollPwait2:
		return stallWait{Dir: uint16(DirPoll)}, true
	}
	return stallWait{}, false
}

// pipeIno returns the inode of fd if it is a pipe or FIFO, else 0.
func pipeIno(fdDir string, fd int) uint64 {
	if fd < 0 {
		return 0
	}
	var st syscall.Stat_t
	if syscall.Stat(fdDir+strconv.Itoa(fd), &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return 0
	}
	return st.Ino
}

// readOnly reports whether fd of process tgid was opened read-only.
func readOnly(tgid, fd int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tgid) + "/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return err == nil && flags&syscall.O_ACCMODE == syscall.O_RDONLY
		}
	}
	return false
}

// state returns the thread's state letter from dir/stat, or 0.
func state(dir string) byte {
	b, err := os.ReadFile(dir + "stat")
	if err != nil {
		return 0
	}
	// "tid (comm) S ...": comm may hold spaces and parentheses.
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2]
	}
	return 0
}

// runDelay returns the thread's sched_info.run_delay (ns queued, waiting
// for a CPU; /proc/.../schedstat, second field), or 0.
func runDelay(dir string) uint64 {
	b, err := os.ReadFile(dir + "schedstat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return 0
	}
	n, _ := strconv.ParseUint(f[1], 10, 64)
	return n
}

// arrivals returns how many times the thread at dir was put on a CPU.
func arrivals(dir string) (string, bool) {
	b, err := os.ReadFile(dir + "schedstat")
	if err != nil {
		return "", false
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return "", false
	}
	return f[2], true
}
