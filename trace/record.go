//go:build linux

package trace

import (
	"cmp"
	"slices"
	"time"
)

// Direction says what a process was blocked on.
type Direction uint8

// Values match DIR_* in stall.bpf.c.
const (
	DirRead  Direction = 1 // blocked reading an empty pipe
	DirWrite Direction = 2 // blocked writing a full pipe
	DirPoll  Direction = 3 // blocked in epoll_wait, poll, select and kin, or io_uring_enter for completions
)

// String returns "read", "write", "poll" (the JSON names).
func (d Direction) String() string {
	switch d {
	case DirRead:
		return "read"
	case DirWrite:
		return "write"
	case DirPoll:
		return "poll"
	}
	return "unknown"
}

// HistBuckets is the length of Record.Hist.
const HistBuckets = 32

// Record is the stall total of one process on one pipe in one direction.
type Record struct {
	Tgid  int       // process (thread group) id
	Comm  string    // process name at the record's first wait (ProcInfo.Comm follows exec)
	Inode uint64    // pipe inode as in /proc/PID/fd "pipe:[N]"; 0 for DirPoll
	Dir   Direction // what the process was blocked on
	Count uint64    // number of waits (sleeps); one blocking call may sleep many times
	// AtAttach is how many of Count were already in progress when the
	// process was watched: they are counted from that moment, not from
	// their unknown start.
	AtAttach uint64
	Total    time.Duration
	// Runnable is the part of Total from each wait's wakeup to its
	// switch-in: runnable, waiting for a CPU rather than for the pipe.
	// A wait still in progress at Snapshot adds none.
	Runnable time.Duration
	Max      time.Duration
	// Hist[i] counts waits of [2^i, 2^(i+1)) ns; the last bucket also
	// holds longer ones. Length HistBuckets.
	Hist []uint64
}

// Report is what a Tracer measured from New until Snapshot.
type Report struct {
	Start   time.Time     // when tracing began
	Wall    time.Duration // from Start to the snapshot
	Records []Record      // sorted by Tgid, Dir, Inode

	// Procs holds what is known of each watched process: those given to
	// Watch and, with FollowChildren, the descendants forked meanwhile.
	Procs map[int]ProcInfo

	Dropped      Dropped // what could not be recorded
	MaxRecords   int     // the tracer's Options.MaxRecords
	MaxProcesses int     // the tracer's Options.MaxProcesses
}

// sort orders the records by Tgid, Dir, Inode.
func (r *Report) sort() {
	slices.SortFunc(r.Records, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Tgid, b.Tgid), cmp.Compare(a.Dir, b.Dir), cmp.Compare(a.Inode, b.Inode))
	})
}

// Stall sums the waits of one process in one direction over all pipes.
type Stall struct {
	Count    uint64
	AtAttach uint64 // waits of Count in progress at attach (Record.AtAttach)
	Total    time.Duration
	Runnable time.Duration // of Total, woken and waiting for a CPU (Record.Runnable)
	Max      time.Duration
}

func (s *Stall) add(r Record) {
	s.Count += r.Count
	s.AtAttach += r.AtAttach
	s.Total += r.Total
	s.Runnable += r.Runnable
	s.Max = max(s.Max, r.Max)
}

// Process is the stall total of one process.
type Process struct {
	Tgid  int
	Comm  string
	Read  Stall    // blocked reading
	Write Stall    // blocked writing
	Poll  Stall    // blocked in a poll-family call
	Pipes []Record // this process's records, sorted by Dir, Inode
}

// Of returns the process's total for direction d.
func (p Process) Of(d Direction) Stall {
	switch d {
	case DirRead:
		return p.Read
	case DirWrite:
		return p.Write
	case DirPoll:
		return p.Poll
	}
	return Stall{}
}

// ByProcess aggregates the records per process, sorted by tgid.
func (r Report) ByProcess() []Process {
	r.Records = slices.Clone(r.Records)
	r.sort()
	var out []Process
	for _, rec := range r.Records {
		if len(out) == 0 || out[len(out)-1].Tgid != rec.Tgid {
			out = append(out, Process{Tgid: rec.Tgid})
		}
		p := &out[len(out)-1]
		if p.Comm == "" {
			p.Comm = rec.Comm
		}
		switch rec.Dir {
		case DirRead:
			p.Read.add(rec)
		case DirWrite:
			p.Write.add(rec)
		case DirPoll:
			p.Poll.add(rec)
		}
		p.Pipes = append(p.Pipes, rec)
	}
	return out
}

// Process returns the totals of process tgid (zero if it never waited).
func (r Report) Process(tgid int) Process {
	for _, p := range r.ByProcess() {
		if p.Tgid == tgid {
			return p
		}
	}
	return Process{Tgid: tgid}
}
