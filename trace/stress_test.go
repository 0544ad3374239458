//go:build linux

package trace_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

// TestStressChildWait runs `sleep 0.05 | cat` (as TestProcessLife does)
// PIPELOOP_TRACE_STRESS times, following the shell's children, and
// fails if a cat, which certainly blocked reading for about 50ms, has no
// read wait or one of another length. Without the variable it is skipped:
// 1000 runs take about a minute.
//
//	sudo PIPELOOP_TRACE_STRESS=1000 go test -count=1 -run TestStressChildWait -v ./trace
func TestStressChildWait(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PIPELOOP_TRACE_STRESS"))
	if n <= 0 {
		t.Skip("a stress run: set PIPELOOP_TRACE_STRESS to the number of runs")
	}
	var tr *trace.Tracer
	lost, odd := 0, 0
	for i := range n {
		if i%100 == 0 { // records and procs accumulate: a new tracer now and then
			if tr != nil {
				tr.Close()
			}
			tr = newTracer(t, trace.Options{FollowChildren: true})
		}
		cat, read, ok := catRead(t, tr)
		switch {
		case !ok:
			lost++
			t.Logf("run %d: cat %d has no read wait", i, cat)
		case read < 30*time.Millisecond || read > time.Second:
			odd++
			t.Logf("run %d: cat %d blocked reading for %v, want about 50ms", i, cat, read)
		}
	}
	t.Logf("runs %d: no read wait %d, odd length %d", n, lost, odd)
	if lost+odd > 0 {
		t.Errorf("of %d cats, %d had no read wait, %d one of an odd length", n, lost, odd)
	}
}

// catRead runs `sleep 0.05 | cat` watched by tr and returns the cat's
// tgid and the time it blocked reading, if recorded.
func catRead(t *testing.T, tr *trace.Tracer) (cat int, read time.Duration, ok bool) {
	t.Helper()
	sh := startGated(t, "sleep 0.05 | cat")
	if err := tr.Watch(sh.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	sh.run(t)
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for tgid, pi := range rep.Procs {
		if pi.Parent == sh.cmd.Process.Pid && pi.Comm == "cat" {
			cat = tgid
		}
	}
	if cat == 0 {
		t.Fatalf("no cat forked by shell %d: %+v", sh.cmd.Process.Pid, rep.Procs)
	}
	for _, r := range rep.Records {
		if r.Tgid == cat && r.Dir == trace.DirRead {
			return cat, r.Total, true
		}
	}
	return cat, 0, false
}
