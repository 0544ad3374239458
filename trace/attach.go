//go:build linux && amd64

package trace

import (
	"errors"
	"io/fs"
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
// until it woke and slept again, so Watch looks at each thread once,
// after trackThreads gave it a fresh wait element (track.go): if /proc
// says it sleeps interruptibly in a syscall classify (in stall.bpf.c)
// would take, on a pipe, Watch writes that wait, with start = the moment
// of attach and attach = 1, into the thread's element of seeds. The
// thread's next switch (or its exit) takes the seed into its wait
// (adopt_seed), and the switch-in records it like any other wait,
// counted in Record.AtAttach.
//
// Invariant: a seed never replaces a wait the BPF program wrote (it goes
// to seeds, which only the loader writes), and it counts only if it was
// there at the thread's first switch after its element was made fresh:
// the thread had not run since then, so the sleep /proc showed is the one
// in progress since before attach. A seed written after that switch is
// ignored (the program saw the thread from then on), so no look at the
// thread's arrivals is needed. Before Linux 6.9 a pidfd reaches only
// thread group leaders: other threads get no seed.

// x86_64 syscall numbers, as in stall.bpf.c.
const (
	nrRead         = 0
	nrWrite        = 1
	nrPoll         = 7
	nrReadv        = 19
	nrWritev       = 20
	nrSelect       = 23
	nrSendfile     = 40
	nrEpollWait    = 232
	nrPselect6     = 270
	nrPpoll        = 271
	nrSplice       = 275
	nrTee          = 276
	nrVmsplice     = 278
	nrEpollPwait   = 281
	nrEpollPwait2  = 441
	nrIOUringEnter = 426
	nrPreadv2      = 327
	nrPwritev2     = 328

	ioringEnterGetEvents = 1 // io_uring_enter's flags: wait for completions
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
	fd, err := pidfdOpen(tid)
	if err != nil {
		return
	}
	defer syscall.Close(fd)
	var cur stallWait
	if t.objs.Waits.Lookup(int32(fd), &cur) != nil || cur.Fresh == 0 {
		return // not watched, or the program saw the thread since
	}
	if st, flags, _ := threadStat(tgid, tid); st != 'S' || flags&pfIOWorker != 0 {
		return // not asleep; or an io_uring worker, whose registers are its creator's (classify)
	}
	sc, err := os.ReadFile(dir + "syscall")
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			t.unread++ // no ptrace access: a wait in progress here is not seen
		}
		return
	}
	w, ok := inProgress(sc, dir, tgid)
	if !ok {
		return
	}
	w.Start, w.Tgid, w.Attach = now, uint32(tgid), 1
	w.RunDelay = runDelay(dir) // the runnable part counts from here, as for a wait the BPF program saw begin
	t.objs.Seeds.Update(int32(fd), &w, ebpf.UpdateNoExist)
}

// inProgress classifies the syscall the thread at dir sleeps in, as
// classify in stall.bpf.c does, and returns the wait's direction and
// pipe inode.
func inProgress(sc []byte, dir string, tgid int) (stallWait, bool) {
	f := strings.Fields(string(sc)) // "nr arg0 ... arg5 sp pc", "running" or "-1 sp pc"
	var a [4]int
	if len(f) < 1+len(a) {
		return stallWait{}, false
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil {
		return stallWait{}, false
	}
	for i := range a {
		v, err := strconv.ParseUint(strings.TrimPrefix(f[1+i], "0x"), 16, 64)
		if err != nil {
			return stallWait{}, false
		}
		a[i] = int(int32(v)) // fds are ints, and so are io_uring_enter's flags
	}
	fdDir := "/proc/" + strconv.Itoa(tgid) + "/fd/"
	ino := func(fd int) uint64 { return pipeIno(fdDir, fd) }
	pipeWait := func(d Direction, inode uint64) (stallWait, bool) {
		return stallWait{Dir: uint16(d), Inode: inode}, inode != 0
	}
	switch nr {
	case nrRead, nrReadv, nrPreadv2:
		return pipeWait(DirRead, ino(a[0]))
	case nrWrite, nrWritev, nrPwritev2:
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
		// The kernel function it sleeps in says which side it waits
		// for: pipe_wait_readable or pipe_wait_writable, or another
		// file's wait (a socket's), which is not a pipe stall.
		wchan, _ := os.ReadFile(dir + "wchan")
		switch {
		case !strings.HasPrefix(string(wchan), "pipe_wait"):
			return stallWait{}, false
		case strings.Contains(string(wchan), "writ"):
			return pipeWait(DirWrite, ino(out))
		}
		return pipeWait(DirRead, ino(in))
	case nrPoll, nrSelect, nrEpollWait, nrPselect6, nrPpoll, nrEpollPwait, nrEpollPwait2:
		return stallWait{Dir: uint16(DirPoll)}, true
	case nrIOUringEnter:
		return stallWait{Dir: uint16(DirPoll)}, a[3]&ioringEnterGetEvents != 0
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
