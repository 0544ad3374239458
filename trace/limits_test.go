//go:build linux

package trace_test

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/pipeloop/pipeloop/trace"
)

// Waits on more keys than MaxRecords are counted as dropped, not lost
// silently: four cats each wait once on their own pipe with room for two
// records.
func TestDroppedWaitsCounted(t *testing.T) {
	tr := newTracer(t, trace.Options{FollowChildren: true, MaxRecords: 2})
	sh := startGated(t, "for i in 1 2 3 4; do sleep 0.05 | cat; done")
	if err := tr.Watch(sh.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	sh.run(t)
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var recorded uint64
	for _, rec := range rep.Records {
		if rec.Comm == "cat" && rec.Dir == trace.DirRead {
			recorded += rec.Count
		}
	}
	if len(rep.Records) > 2 || rep.Dropped.Waits == 0 || recorded+rep.Dropped.Waits < 4 {
		t.Errorf("%d records (limit 2) with %d cat waits, dropped %+v; want at most 2 records and 4 waits recorded or dropped",
			len(rep.Records), recorded, rep.Dropped)
	}
	var table strings.Builder
	rep.WriteTable(&table, nil)
	if !strings.Contains(table.String(), "waits (record limit 2 reached)") {
		t.Errorf("table does not say waits were dropped:\n%s", table.String())
	}
	if j := rep.JSON(nil); j.Dropped.Waits != rep.Dropped.Waits || j.MaxRecords != 2 {
		t.Errorf("JSON dropped = %+v, max_records %d; want waits %d, 2", j.Dropped, j.MaxRecords, rep.Dropped.Waits)
	}
}

// Children forked while MaxProcesses processes are watched are counted
// as dropped, and Watch past the limit fails with ErrLimit.
func TestProcessLimit(t *testing.T) {
	tr := newTracer(t, trace.Options{FollowChildren: true, MaxProcesses: 2})
	sh := startGated(t, "sleep 0.2 & sleep 0.2 & sleep 0.2 & wait")
	other := exec.Command("sleep", "5")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	if err := tr.Watch(sh.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	sh.run(t)
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dropped.Children != 2 {
		t.Errorf("dropped children = %d, want 2 (three sleeps, room for sh and one)", rep.Dropped.Children)
	}
	if err := tr.Watch(other.Process.Pid); err != nil {
		t.Fatalf("Watch with room again: %v", err)
	}
	third := exec.Command("sleep", "5")
	if err := third.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { third.Process.Kill(); third.Wait() }()
	tr.Watch(1) // init never exits: the set is full now
	err = tr.Watch(third.Process.Pid)
	if !errors.Is(err, trace.ErrLimit) || !errors.Is(err, syscall.E2BIG) || !strings.Contains(err.Error(), "already watching 2 processes") {
		t.Errorf("Watch past the limit: %v; want ErrLimit saying the limit", err)
	}
}

// pipeloop trace sizes the watch map from the request: more than the old
// fixed 4096 pids fit.
func TestCommandSizesProcessLimit(t *testing.T) {
	for _, tt := range []struct {
		n       int
		follow  bool
		atLeast int
	}{{1, false, 4096}, {5000, false, 5000}, {5000, true, 5000 + 65536}} {
		if got := trace.MaxProcesses(tt.n, tt.follow); got < tt.atLeast {
			t.Errorf("maxProcesses(%d, %v) = %d, want at least %d", tt.n, tt.follow, got, tt.atLeast)
		}
	}
}
