//go:build linux

package trace_test

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

// Each wait splits into blocked and runnable: a SCHED_IDLE reader sharing
// its CPU with a busy hog is woken by every write but waits for the CPU
// (it cannot preempt the hog), and that shows as runnable time; a normal
// reader without the hog hardly waits.
func TestRunnableSplit(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	cpu := strconv.Itoa(runtime.NumCPU() - 1)
	run := func(hog bool) trace.Record {
		r, w, ino := pipe(t)
		g := newGroup(t)
		if hog {
			hr, hw, _ := pipe(t)
			g.start("hog", hr, nil, "PIPELOOP_TRACE_CPU="+cpu)
			hr.Close()
			defer hw.Close() // EOF stops the hog
		}
		writer := g.start("writer", nil, w, "PIPELOOP_TRACE_BLOCKS=40", "PIPELOOP_TRACE_SLEEP=10ms")
		// Alone, the reader is a normal thread, so other load on its CPU
		// delays it no more than usual; beside the hog it is SCHED_IDLE.
		reader := g.start("reader", r, nil, "PIPELOOP_TRACE_CPU="+cpu, "PIPELOOP_TRACE_IDLE="+map[bool]string{true: "1"}[hog])
		r.Close()
		w.Close()
		if err := tr.Watch(reader.cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		g.release()
		writer.wait(t)
		reader.wait(t)
		rep, err := tr.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		rec, err := find(rep, reader.cmd.Process.Pid, ino, trace.DirRead)
		if err != nil {
			// A reader starved beside the hog may find data at every
			// read and never block: a failed attempt, not a pass.
			t.Logf("no read stall for the reader (hog %t): %+v", hog, rep.Records)
		}
		return rec
	}
	// The split is the scheduler's doing, and other tests' load on the
	// same CPUs can blur one attempt (the calm reader then waits too):
	// the check must hold in one of three attempts, never loosened.
	for attempt := 1; ; attempt++ {
		calm, busy := run(false), run(true)
		t.Logf("attempt %d: reader alone: read stall %v, runnable %v in %d waits; beside a hog: %v, runnable %v in %d waits",
			attempt, calm.Total, calm.Runnable, calm.Count, busy.Total, busy.Runnable, busy.Count)
		for _, rec := range []trace.Record{calm, busy} {
			if rec.Runnable < 0 || rec.Runnable > rec.Total {
				t.Fatalf("runnable %v not within the wait total %v", rec.Runnable, rec.Total)
			}
		}
		if busy.Runnable >= 20*time.Millisecond && busy.Runnable >= 4*calm.Runnable {
			return
		}
		if attempt == 3 {
			t.Fatalf("beside a hog the reader waited %v for a CPU (alone %v); want at least 20ms and 4 times as much", busy.Runnable, calm.Runnable)
		}
	}
}
