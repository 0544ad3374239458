//go:build linux

package trace_test

import (
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

// A thread is watched by the tracer that gave it a wait element, not by
// another one: a second tracer's program sees the thread's task storage
// (the first tracer's element) but no element of its own, and records
// nothing for it.
func TestOtherTracersThreadNotWatched(t *testing.T) {
	watching := newTracer(t, trace.Options{})
	other := newTracer(t, trace.Options{})
	reader, pid, w, ino := startWatched(t, watching, "reader")
	time.Sleep(100 * time.Millisecond) // the reader waits on the empty pipe
	w.Close()                          // EOF: it wakes and exits
	reader.wait(t)
	rep, err := watching.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := find(rep, pid, ino, trace.DirRead); err != nil || rec.Count == 0 {
		t.Fatalf("watching tracer: read wait = %+v, %v; want at least 1", rec, err)
	}
	rep, err = other.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range rep.Records {
		if rec.Tgid == pid {
			t.Errorf("the other tracer recorded %+v for a process only the first watches", rec)
		}
	}
}
