//go:build linux

package trace_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/pipeloop/pipeloop/trace"
)

// TestStressChildWait runs `sleep 0.05 | READER` (as TestProcessLife
// runs `sleep 0.2 | cat`) PIPELOOP_TRACE_STRESS times, following the
// shell's children, and fails if a reader that slept in a read has no
// read wait. READER is this binary as blockread: it counts its reads
// during which its thread switched off the CPU voluntarily, so that a
// reader the loaded machine started only after sleep had exited (it
// never waits, and rightly has no wait) is told from a lost wait.
// Without the variable it is skipped: 1000 runs take about two minutes.
//
//	sudo PIPELOOP_TRACE_STRESS=1000 go test -count=1 -run TestStressChildWait -v ./trace
func TestStressChildWait(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PIPELOOP_TRACE_STRESS"))
	if n <= 0 {
		t.Skip("a stress run: set PIPELOOP_TRACE_STRESS to the number of runs")
	}
	var tr *trace.Tracer
	lost, unblocked := 0, 0
	for i := range n {
		if i%100 == 0 { // records and procs accumulate: a new tracer now and then
			if tr != nil {
				tr.Close()
			}
			tr = newTracer(t, trace.Options{FollowChildren: true})
		}
		reader, slept, waits := stressRun(t, tr)
		switch {
		case slept == 0:
			unblocked++
		case waits == 0:
			lost++
			t.Logf("run %d: reader %d slept in %d reads, has no read wait", i, reader, slept)
		}
	}
	t.Logf("runs %d: reader never slept %d, slept but no read wait %d", n, unblocked, lost)
	if lost > 0 {
		t.Errorf("%d of %d readers that slept in a read have no read wait", lost, n)
	}
}

// stressRun runs `sleep 0.05 | READER` watched by tr and returns the
// reader's tgid, how many of its reads slept and how many read waits
// the tracer recorded for it.
func stressRun(t *testing.T, tr *trace.Tracer) (reader, slept int, waits uint64) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(t.TempDir(), "slept")
	rep, shell := traceScript(t, tr, fmt.Sprintf("sleep 0.05 | %s=blockread PIPELOOP_TRACE_RESULT='%s' GORACE=atexit_sleep_ms=0 '%s'", childEnv, result, exe))
	b, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	if slept, err = strconv.Atoi(string(b)); err != nil {
		t.Fatalf("reader's result %q: %v", b, err)
	}
	for tgid, pi := range rep.Procs {
		if pi.Parent == shell && pi.Comm != "sleep" {
			reader = tgid
		}
	}
	for _, r := range rep.Records {
		if reader != 0 && r.Tgid == reader && r.Dir == trace.DirRead {
			waits += r.Count
		}
	}
	return reader, slept, waits
}

// childBlockRead reads stdin to EOF and writes to the file named by
// PIPELOOP_TRACE_RESULT how many of its reads slept: the thread's
// voluntary context switches (getrusage RUSAGE_THREAD) grew during them.
func childBlockRead() int {
	runtime.LockOSThread()
	slept := 0
	if code := copyOut(nil, make([]byte, 4096), func(p []byte) (int, error) {
		var before, after syscall.Rusage
		syscall.Getrusage(rusageThread, &before)
		n, err := syscall.Read(0, p)
		syscall.Getrusage(rusageThread, &after)
		if after.Nvcsw > before.Nvcsw {
			slept++
		}
		return n, err
	}, nil); code != 0 {
		return code
	}
	if err := os.WriteFile(os.Getenv("PIPELOOP_TRACE_RESULT"), []byte(strconv.Itoa(slept)), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
