//go:build linux

package trace_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
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
	r, w, ino := pipe(t)
	g := newGroup(t)
	c := g.start("execthread", r, nil)
	r.Close()
	pid := c.cmd.Process.Pid
	if err := tr.Watch(pid); err != nil {
		t.Fatal(err)
	}
	g.release()
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
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return 0
	}
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2]
	}
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
