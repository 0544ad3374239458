//go:build linux && amd64

package trace_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
	"golang.org/x/sys/unix"
)

// A wait whose switch-in the program does not see (a switch from a task
// the kernel does not trace, e.g. a sandbox's own threads, reaches no
// probe) is still recorded. Such switches are simulated by detaching the
// sched_switch program for a moment.

// ...ending at the task's exit: a cat blocked reading is woken by EOF
// unseen and exits.
func TestMissedSwitchInThenExit(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	r, w, ino := pipe(t)
	cat := exec.Command("cat")
	cat.Stdin = r
	if err := cat.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Process.Kill(); cat.Wait() })
	pid := cat.Process.Pid
	if err := tr.Watch(pid); err != nil {
		t.Fatal(err)
	}
	first := awaitWait(t, tr, pid, 0, true) // seeded at Watch or seen
	w.Write([]byte("x"))                    // it ends; the next is seen to begin
	awaitWait(t, tr, pid, first, false)
	resume := pause(t, tr)
	time.Sleep(20 * time.Millisecond)
	w.Close()
	if err := cat.Wait(); err != nil {
		t.Fatal(err)
	}
	resume()
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := find(rep, pid, ino, trace.DirRead)
	if err != nil || rec.Count != 2 || rec.Total < 20*time.Millisecond {
		t.Errorf("cat's reads: %+v (%v); want 2 waits, the last of 20ms or more", rec, err)
	}
}

// ...ending at the task's next switch (a preemption, a switch-in after
// one, or a sleep that is no pipe wait): the shell is woken unseen and
// spins while the program is attached again, then sleeps. The wait ends
// where the shell was woken, not at the next switch seen. The program
// knows only the last arrival on a CPU: an attempt in which the shell
// also arrived again, unseen, before the program was back proves
// nothing and is made again.
func TestMissedSwitchInThenSleep(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	for attempt := 1; attempt <= 5; attempt++ {
		if missedThenSleep(t, tr) {
			return
		}
		t.Logf("attempt %d: the shell was switched in again while unseen", attempt)
	}
	t.Error("no attempt in five held the shell to one arrival while unseen")
}

// missedThenSleep makes one attempt of TestMissedSwitchInThenSleep and
// reports whether it was conclusive.
func missedThenSleep(t *testing.T, tr *trace.Tracer) bool {
	r, w, ino := pipe(t)
	spun := filepath.Join(t.TempDir(), "spun")
	sh := exec.Command("sh", "-c", `read a; read b; while [ ! -e "$1" ]; do :; done; sleep 0.01; read c || :`, "sh", spun)
	sh.Stdin = r
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	pid := sh.Process.Pid
	// Real-time, it runs as soon as it is woken and no other task
	// preempts its spin: one arrival while unseen, nearly always.
	fifo := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 1}
	if err := unix.SchedSetAttr(pid, &fifo, 0); err != nil {
		t.Fatal(os.NewSyscallError("sched_setattr", err))
	}
	if err := tr.Watch(pid); err != nil {
		t.Fatal(err)
	}
	first := awaitWait(t, tr, pid, 0, true) // read a
	w.Write([]byte("a\n"))
	start := awaitWait(t, tr, pid, first, false) // read b
	begun := time.Now()                          // read b's wait is older
	resume := pause(t, tr)
	before := arrivals(t, pid)
	w.Write([]byte("b\n"))
	time.Sleep(5 * time.Millisecond)
	resume()
	unseen := arrivals(t, pid) - before
	paused := time.Since(begun)       // read b's wait, had it run on to the first switch seen, is longer
	time.Sleep(10 * time.Millisecond) // spinning all along, seen
	if err := os.WriteFile(spun, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	awaitWait(t, tr, pid, start, false) // read c
	w.Close()
	if err := sh.Wait(); err != nil {
		t.Fatal(err)
	}
	if unseen != 1 {
		return false
	}
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := find(rep, pid, ino, trace.DirRead)
	if err != nil || rec.Count != 3 || rec.Max >= paused {
		t.Errorf("sh's reads: %+v (%v); want 3 waits, none of %v or more (the pause)", rec, err, paused)
	}
	return true
}

// arrivals returns how many times thread tid was put on a CPU
// (/proc/TID/schedstat, third field).
func arrivals(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", tid))
	if err != nil {
		t.Fatal(err)
	}
	var run, delay, n int
	if _, err := fmt.Sscan(string(b), &run, &delay, &n); err != nil {
		t.Fatalf("/proc/%d/schedstat %q: %v", tid, b, err)
	}
	return n
}

// awaitWait waits until thread tid has a pending wait other than the one
// that began at prev, one the program saw begin unless seeded is true
// (then a wait seeded at Watch counts too), and returns its start.
func awaitWait(t *testing.T, tr *trace.Tracer, tid int, prev uint64, seeded bool) uint64 {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if start, attach := trace.PendingWait(tr, tid); start != 0 && start != prev && (seeded || !attach) {
			return start
		}
	}
	t.Fatalf("thread %d: no pipe wait began in 2s", tid)
	return 0
}

// pause detaches the sched_switch program; the returned func (also run
// at cleanup) attaches it again.
func pause(t *testing.T, tr *trace.Tracer) func() {
	t.Helper()
	resume, err := trace.PauseSwitch(tr)
	if err != nil {
		t.Fatal(err)
	}
	done := false
	f := func() {
		if !done {
			done = true
			if err := resume(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(f)
	return f
}
