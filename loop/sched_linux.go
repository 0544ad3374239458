package loop

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Sched selects how the loop thread is scheduled.
type Sched uint8

const (
	// SchedAuto switches the loop thread to SCHED_BATCH while it moves bulk
	// data and back to SCHED_NORMAL as soon as transfers turn small. A batch
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

// Thresholds of the auto policy: a transfer of at least bulkBytes counts as
// bulk; bulkRun bulk transfers in a row switch to batch, smallRun small ones
// switch back.
const (
	bulkBytes = 16 << 10
	bulkRun   = 4
	smallRun  = 2
)

// scheduler tracks the loop thread's policy. Loop goroutine only.
type scheduler struct {
	mode    Sched
	enabled bool // the thread started as SCHED_NORMAL, so we may change it
	batch   bool // currently SCHED_BATCH
	run     int  // consecutive transfers on the other side of the threshold
}

// start is called on the locked loop thread when Run begins.
func (s *scheduler) start() {
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

// Moved tells the loop that a handler just moved n bytes in one go. With
// SchedAuto it drives the switch between SCHED_NORMAL and SCHED_BATCH.
// Loop goroutine only; cheap enough to call after every transfer.
func (l *Loop) Moved(n int) {
	s := &l.sched
	if !s.enabled || s.mode != SchedAuto {
		return
	}
	bulk := n >= bulkBytes
	if bulk == s.batch {
		s.run = 0
		return
	}
	s.run++
	if (bulk && s.run >= bulkRun) || (!bulk && s.run >= smallRun) {
		s.set(bulk)
		s.run = 0
	}
}
