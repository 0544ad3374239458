package loop

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Sched selects how the loop thread is scheduled.
type Sched uint8

const (
	// SchedAuto switches the loop thread to SCHED_BATCH while it moves bulk
	// data (over 100 MB/s) and back to SCHED_NORMAL as soon as it slows. A batch
	// thread does not preempt the task that woke it, so the writer upstream
	// fills the pipe further before the loop runs and each wake-up moves
	// more: on one CPU, dd | pipeloop | dd went from 0.75× to ~0.95× of a
	// direct pipe. Small transfers (request/response traffic) keep normal
	// wake-up preemption and its latency.
	SchedAuto   Sched = iota
	SchedNormal       // never change the thread's policy
	SchedBatch        // SCHED_BATCH for the whole run
)

var schedNames = [...]string{"auto", "normal", "batch"}

func (s Sched) String() string {
	if int(s) < len(schedNames) {
		return schedNames[s]
	}
	return fmt.Sprintf("sched(%d)", s)
}

// ParseSched parses "auto", "normal" or "batch".
func ParseSched(s string) (Sched, error) {
	for i, n := range schedNames {
		if s == n {
			return Sched(i), nil
		}
	}
	return 0, fmt.Errorf("unknown scheduling policy %q (want auto, normal or batch)", s)
}

// MarshalText and UnmarshalText make a Sched usable with flag.TextVar and
// encoding/json: the text is the name ParseSched reads.
func (s Sched) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText sets s from "auto", "normal" or "batch".
func (s *Sched) UnmarshalText(b []byte) error {
	v, err := ParseSched(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// The auto policy looks at the loop's throughput over short windows: a
// window that moved at least bulkRate counts as bulk. Two bulk windows in a
// row switch to batch; one slow window switches back. A rate, not the size
// of each transfer, tells bulk from chatter: a stream of 4 KiB writes at
// 1 GB/s is bulk, 64-byte request/response traffic never is.
const (
	window   = time.Millisecond
	bulkRate = 100 << 20 // bytes per second
	bulkRun  = 2
	// windowBytes is the least a bulk window moves: below it, and with
	// no bulk window counted or batch to leave, NoteTransfer reads no
	// clock (a window's end is then only noticed later, which changes
	// nothing: a slow window resets what is already reset).
	windowBytes = int(bulkRate * int64(window) / int64(time.Second)) // in int64: the product overflows a 32-bit int
)

// scheduler tracks the loop thread's policy. Loop goroutine only.
type scheduler struct {
	mode    Sched
	enabled bool      // the thread started as SCHED_NORMAL, so we may change it
	batch   bool      // currently SCHED_BATCH
	run     int       // consecutive bulk windows while normal
	start   time.Time // current window's start
	bytes   int       // moved in the current window
}

// start is called on the locked loop thread when Run begins.
func (s *scheduler) begin() {
	if s.mode == SchedNormal {
		return
	}
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil || attr.Policy != unix.SCHED_NORMAL {
		return // leave real-time or already-batch threads alone
	}
	s.enabled = true
	if s.mode == SchedBatch {
		s.set(true)
	}
}

// stop restores SCHED_NORMAL before the thread goes back to Go's pool.
func (s *scheduler) stop() {
	if s.batch {
		s.set(false)
	}
}

func (s *scheduler) set(batch bool) {
	policy := uint32(unix.SCHED_NORMAL)
	if batch {
		policy = unix.SCHED_BATCH
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: policy}
	if unix.SchedSetAttr(0, &attr, 0) == nil {
		s.batch = batch
	}
}

// NoteTransfer tells the loop that a handler just moved n bytes (a relay
// calls it once per pump). With SchedAuto it drives the switch between
// SCHED_NORMAL and SCHED_BATCH; otherwise it does nothing. Loop goroutine
// only; it uses Now only once a window could be bulk (windowBytes) or
// batch is on, and makes a system call only when the policy changes.
func (l *Loop) NoteTransfer(n int) {
	s := &l.sched
	if !s.enabled || s.mode != SchedAuto {
		return
	}
	s.bytes += n
	if !s.batch && s.run == 0 && s.bytes < windowBytes {
		return // no bulk window yet, whatever the clock says: none read
	}
	now := l.Now()
	el := now.Sub(s.start)
	if el < window {
		return
	}
	bulk := float64(s.bytes) >= bulkRate*el.Seconds()
	s.start, s.bytes = now, 0
	switch {
	case bulk && !s.batch:
		if s.run++; s.run >= bulkRun {
			s.set(true)
			s.run = 0
		}
	case !bulk:
		s.run = 0
		if s.batch {
			s.set(false)
		}
	}
}

// Spawning runs f — which forks the processes a handler starts — with the
// loop thread at SCHED_NORMAL, and restores SCHED_BATCH after it if that
// is what the thread ran: a child inherits its forking thread's policy,
// and the policy belongs to the loop thread, never to the processes it
// starts. (SCHED_FLAG_RESET_ON_FORK cannot do this: the kernel resets only
// real-time and deadline policies on fork and keeps SCHED_BATCH.) It costs
// two system calls while batch, none otherwise. Loop goroutine only.
func (l *Loop) Spawning(f func()) {
	l.mustOnLoop("Spawning")
	s := &l.sched
	if !s.batch {
		f()
		return
	}
	s.set(false)
	defer s.set(true)
	f()
}
