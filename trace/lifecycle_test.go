//go:build linux && amd64

package trace_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/pipeloop/pipeloop/trace"
	"golang.org/x/sys/unix"
)

// A thread that is not the leader and execs takes the leader's pid
// (de_thread) while the leader exits: the process stays watched, its
// waits after the exec are recorded under its tgid, and its life does not
// end at the old leader's exit.
func TestNonLeaderExecStaysWatched(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	c, pid, w, ino := startWatched(t, tr, "execthread")
	// Wait until the exec'd cat sleeps reading the empty pipe.
	deadline := time.Now().Add(5 * time.Second)
	for {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(comm)) == "cat" && threadState(pid, pid) == 'S' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child did not exec cat from a non-leader thread: %q", c.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	const blocked = 100 * time.Millisecond
	time.Sleep(blocked)
	if got, err := tr.Watched(); err != nil || !slices.Contains(got, pid) {
		t.Errorf("Watched() = %v, %v after a non-leader exec; want %d in it", got, err, pid)
	}
	if !trace.Tracked(tr, pid) {
		t.Errorf("the exec'd thread (now pid %d) is not tracked", pid)
	}
	w.Close() // EOF: cat exits
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child: %v: %s", err, c.stderr.String())
	}
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := find(rep, pid, ino, trace.DirRead)
	if err != nil || rec.Count == 0 || rec.Total < blocked*8/10 {
		t.Errorf("cat's read wait after the exec = %+v, %v; want at least %v under tgid %d (records %+v)", rec, err, blocked, pid, rep.Records)
	}
	if pi := rep.Procs[pid]; pi.Comm != "cat" || !pi.Exited || pi.Exit < blocked {
		t.Errorf("process %d = %+v; want named cat, exited after the wait, not at the old leader's exit", pid, pi)
	}
}

// childExecThread execs cat from a thread that is not the leader.
func childExecThread() int {
	awaitStart()
	cat, err := exec.LookPath("cat")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error)
	for range 64 {
		go func() {
			runtime.LockOSThread() // never unlocked: a thread not reused
			if unix.Gettid() == os.Getpid() {
				done <- nil
				return
			}
			done <- syscall.Exec(cat, []string{"cat"}, os.Environ())
		}()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "exec:", err)
			return 1
		}
	}
	fmt.Fprintln(os.Stderr, "no thread but the leader after 64 tries")
	return 1
}

// threadState returns the state letter of thread tid of process pid, or 0.
func threadState(pid, tid int) byte {
	s, _, _ := trace.ThreadStat(pid, tid)
	return s
}

// A process watched while it exits, after its last thread passed
// sched_process_exit (which on Linux 6.16+ fires before the address space
// is freed) but before it is a zombie, must not stay in the watched set:
// no later exit removes it, and an unrelated process reusing its pid
// would have its new threads watched.
func TestWatchDuringExitNotLeftWatched(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	g := newGroup(t)
	c := g.start("bigexit", nil, nil, "PIPELOOP_TRACE_MB=1024")
	pid := c.cmd.Process.Pid
	g.release()
	// The child touched its memory before it said ready; it exits now.
	// Watch it once all its threads are exiting, while one of them
	// still frees the memory.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids := tids(pid)
		exiting, running := 0, 0 // threads past PF_EXITING; threads not yet zombies
		for _, tid := range ids {
			s := threadState(pid, tid)
			if s != 'Z' && s != 0 {
				running++
			}
			if _, f, ok := trace.ThreadStat(pid, tid); ok && (f&trace.PFExiting != 0 || s == 'Z') {
				exiting++
			}
		}
		if running == 0 {
			t.Fatalf("process %d became a zombie before all its threads were seen exiting", pid)
		}
		if exiting == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not exit")
		}
		runtime.Gosched()
	}
	time.Sleep(time.Millisecond) // the last thread passes sched_process_exit
	if err := tr.Watch(pid); err != nil {
		t.Fatal(err)
	}
	inWindow := false
	for _, tid := range tids(pid) {
		if s := threadState(pid, tid); s != 'Z' && s != 0 {
			inWindow = true
		}
	}
	c.cmd.Wait()
	if !inWindow {
		t.Fatalf("Watch came after process %d was a zombie: the test did not hit the exit", pid)
	}
	if got := trace.WatchedMap(tr); slices.Contains(got, pid) {
		t.Errorf("watched map holds %d after it exited and was reaped: %v", pid, got)
	}
	// An unrelated process given the same pid (ns_last_pid) must not
	// have its threads watched.
	for range 5 {
		if os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0) != nil {
			return
		}
		g := newGroup(t)
		c := g.start("threads", nil, nil, "PIPELOOP_TRACE_THREADS=2")
		g.release()
		if c.cmd.Process.Pid != pid {
			c.wait(t)
			continue
		}
		for _, tid := range tids(pid) {
			if trace.Tracked(tr, tid) {
				t.Errorf("thread %d of an unrelated process that reused pid %d is watched", tid, pid)
			}
		}
		c.wait(t)
		return
	}
}

// childBigExit touches PIPELOOP_TRACE_MB MiB, says it is ready and exits
// when started: freeing the memory makes its exit slow.
func childBigExit() int {
	mem, err := unix.Mmap(-1, 0, envInt("PIPELOOP_TRACE_MB", 1024)<<20,
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = mem
	awaitStart()
	return 0
}

// Close frees the task storage map: no element the tracer gave a thread
// outlives it.
func TestCloseFreesTaskStorage(t *testing.T) {
	requireTracing(t)
	tr, err := trace.New(trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Watch(os.Getpid()); err != nil {
		tr.Close()
		t.Fatal(err)
	}
	id, err := trace.WaitsMapID(tr)
	if err != nil {
		tr.Close()
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		m, err := ebpf.NewMapFromID(ebpf.MapID(id))
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err == nil {
			m.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("waits map %d still exists 2s after Close (%v)", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With FollowChildren, many short-lived children each leave the watched
// set at their exit, and each got its wait element: none is dropped, and
// the watched map is empty once all have exited, though procs (which
// outlives them) fills up.
func TestShortLivedChildrenLeaveWatched(t *testing.T) {
	tr := newTracer(t, trace.Options{FollowChildren: true, MaxProcesses: 16, MaxRecords: 64})
	rep, sh := traceScript(t, tr, `for i in $(seq 150); do /bin/true; done`)
	if rep.Dropped.Children != 0 || rep.Dropped.Storage != 0 {
		t.Errorf("dropped %+v; want no child and no thread dropped (at most a few processes alive at once)", rep.Dropped)
	}
	for _, pi := range rep.Procs {
		if !pi.Exited {
			t.Errorf("process %+v not marked exited after the script ended", pi)
		}
	}
	if got := trace.WatchedMap(tr); len(got) != 0 {
		t.Errorf("watched map after shell %d and its children exited: %v; want empty", sh, got)
	}
}
