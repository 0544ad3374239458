//go:build linux

package trace_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

// blockedIn waits until a thread of process pid sleeps in syscall nr,
// whichever thread the Go runtime ran it on, and returns that thread. io_uring workers are
// skipped: their saved registers are a copy of their creator's
// io_uring_enter, so they show it without being in it.
func blockedIn(t testing.TB, pid, nr int) (tid int) {
	t.Helper()
	p := "/proc/" + strconv.Itoa(pid) + "/task/"
	for range 500 {
		tasks, _ := os.ReadDir(p)
		for _, task := range tasks {
			if tid, _ := strconv.Atoi(task.Name()); inSyscall(pid, tid, nr) {
				return tid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no thread of pid %d slept in syscall %d", pid, nr)
	return 0
}

// inSyscall reports whether thread tid of process pid, not an io_uring
// worker, is asleep (S) with syscall nr in /proc.
func inSyscall(pid, tid, nr int) bool {
	sc, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/syscall")
	f := strings.Fields(string(sc))
	st, flags, _ := trace.ThreadStat(pid, tid)
	return len(f) > 0 && f[0] == strconv.Itoa(nr) && st == 'S' && flags&trace.PFIOWorker == 0
}

// A reader blocked on an empty pipe since before Watch shows up, counted
// from the moment it was watched and marked as in progress at attach,
// both while it waits and once the wait ends.
func TestWaitInProgressAtAttach(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	r, w, ino := pipe(t)
	g := newGroup(t)
	reader := g.start("reader", r, nil)
	r.Close()
	pid := reader.cmd.Process.Pid
	g.release()
	blockedIn(t, pid, 0) // read
	time.Sleep(100 * time.Millisecond)

	watched := time.Now()
	if err := tr.Watch(pid); err != nil {
		t.Fatal(err)
	}
	const blocked = 200 * time.Millisecond
	time.Sleep(blocked)
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	since := time.Since(watched)
	rec, err := find(rep, pid, ino, trace.DirRead)
	if err != nil {
		t.Fatalf("reader blocked since before attach on pipe:[%d] is missing: %+v", ino, rep.Records)
	}
	if rec.Count != 1 || rec.AtAttach != 1 || rec.Total < blocked*8/10 || rec.Total > since {
		t.Errorf("wait in progress = %+v; want 1 wait at attach of %v..%v (from attach)", rec, blocked, since)
	}
	var table strings.Builder
	rep.WriteTable(&table, nil)
	if !strings.Contains(table.String(), "1*") || !strings.Contains(table.String(), "already in progress when tracing attached") {
		t.Errorf("table does not mark the wait in progress at attach:\n%s", table.String())
	}
	if p := rep.JSON(nil).Processes; len(p) == 0 || p[0].BlockedReading.AtAttach != 1 {
		t.Errorf("JSON does not mark the wait in progress at attach: %+v", p)
	}

	w.Close() // EOF: the reader wakes and exits
	reader.wait(t)
	rep, err = tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	partial := rec.Total
	if rec, err = find(rep, pid, ino, trace.DirRead); err != nil || rec.Count != 1 || rec.AtAttach != 1 || rec.Total < partial {
		t.Errorf("completed wait = %+v, %v; want 1 wait of at least %v", rec, err, partial)
	}
}
