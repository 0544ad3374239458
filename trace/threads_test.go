//go:build linux

package trace_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
	"golang.org/x/sys/unix"
)

// A thread a watched process starts after Watch is traced: the tracer
// marks new threads as the kernel creates them (stall_fork), not only the
// ones Watch found in /proc.
func TestThreadsStartedAfterWatch(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	r, w, ino := pipe(t)
	g := newGroup(t)
	writer := g.start("writer", nil, w, "PIPELOOP_TRACE_BLOCKS=200", "PIPELOOP_TRACE_SLEEP=1ms")
	reader := g.start("newthread", r, nil)
	r.Close()
	w.Close()
	pid := reader.cmd.Process.Pid
	before := tids(pid)
	if err := tr.Watch(pid); err != nil {
		t.Fatal(err)
	}
	g.release()
	writer.wait(t)
	wall, cpu := reader.wait(t)
	var tid int
	if i := strings.Index(reader.stderr.String(), "tid="); i < 0 {
		t.Fatalf("reader did not say its thread: %q", reader.stderr.String())
	} else if tid, _ = strconv.Atoi(strings.TrimSpace(reader.stderr.String()[i+4:])); slices.Contains(before, tid) {
		t.Fatalf("the reading thread %d existed at Watch (%v)", tid, before)
	}

	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := find(rep, pid, ino, trace.DirRead)
	if err != nil {
		t.Fatalf("no read stall of thread %d, started after Watch: %+v", tid, rep.Records)
	}
	t.Logf("thread %d (threads at Watch: %v): wall %v, cpu %v, read stall %v in %d waits", tid, before, wall, cpu, rec.Total, rec.Count)
	if rec.Total < (wall-cpu)/2 {
		t.Errorf("read stall %v is not most of the new thread's off-CPU time %v", rec.Total, wall-cpu)
	}
}

// A watched process's threads are tracked (have a wait element) while
// they live and not once they exit, so a zombie is not watched; watching
// a zombie tracks nothing.
func TestZombieLeavesNoMark(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	g := newGroup(t)
	c := g.start("threads", nil, nil, "PIPELOOP_TRACE_THREADS=4")
	pid := c.cmd.Process.Pid
	waitThreads(t, pid, 5)
	if err := tr.Watch(pid); err != nil {
		t.Fatal(err)
	}
	live := tids(pid)
	for _, tid := range live {
		if !trace.Tracked(tr, tid) {
			t.Errorf("live thread %d of watched %d is not tracked", tid, pid)
		}
	}
	g.release() // the child exits; not reaped yet, it is a zombie
	waitZombie(t, pid)
	for _, tid := range live {
		if trace.Tracked(tr, tid) {
			t.Errorf("thread %d of zombie %d is still tracked", tid, pid)
		}
	}
	if err := tr.Watch(pid); err != nil {
		t.Fatalf("Watch(zombie): %v", err)
	}
	if trace.Tracked(tr, pid) {
		t.Errorf("Watch(zombie %d) tracked it", pid)
	}
	c.wait(t)
}

// tids returns the thread ids of process pid.
func tids(pid int) []int {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	var out []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, tid)
		}
	}
	return out
}

func waitThreads(t *testing.T, pid, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(tids(pid)) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d has %d threads, want %d", pid, len(tids(pid)), n)
		}
	}
}

// waitZombie waits until process pid is a zombie whose other threads are
// gone too: the leader turns zombie while they may still be exiting.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		i := strings.LastIndexByte(string(b), ')')
		if i >= 0 && i+2 < len(b) && b[i+2] == 'Z' && slices.Equal(tids(pid), []int{pid}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not become a zombie: %q", pid, b)
		}
	}
}

// childNewThread waits for the start, then reads stdin to EOF on a thread
// created after the start: goroutines locked to threads that already
// existed are parked (on a channel, not a pipe) until one lands on a new
// thread. It prints the meter's line and "tid=N".
func childNewThread() int {
	awaitStart()
	old := tids(os.Getpid())
	park := make(chan struct{})
	defer close(park)
	for range 64 {
		ok := make(chan bool)
		code := make(chan int)
		go func() {
			runtime.LockOSThread()
			tid := unix.Gettid()
			if slices.Contains(old, tid) {
				ok <- false
				<-park
				return
			}
			ok <- true
			c := childIO(false)
			fmt.Fprintf(os.Stderr, "tid=%d\n", tid)
			code <- c
		}()
		if <-ok {
			return <-code
		}
	}
	fmt.Fprintln(os.Stderr, "no new thread after 64 tries")
	return 1
}

// childThreads holds PIPELOOP_TRACE_THREADS extra threads (locked
// goroutines) until the start, then exits.
func childThreads() int {
	n := envInt("PIPELOOP_TRACE_THREADS", 4)
	hold := make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread()
			<-hold
		}()
	}
	awaitStart()
	close(hold)
	fmt.Fprintln(os.Stderr, "wall_ns=0 cpu_ns=0")
	return 0
}
