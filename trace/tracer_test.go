//go:build linux

package trace_test

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

// A fast producer into a reader that sleeps 1 ms per 64 KiB read is
// blocked writing for most of its time, and the traced write stall equals
// its off-CPU time (wall minus CPU) within 10%. The reader is not watched
// and must not appear.
func TestWriteStallMatchesOffCPUTime(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	r, w, ino := pipe(t)
	const blocks = 2000
	g := newGroup(t)
	writer := g.start("writer", nil, w, "PIPELOOP_TRACE_BLOCKS=2000")
	reader := g.start("reader", r, nil, "PIPELOOP_TRACE_SLEEP=1ms")
	r.Close()
	w.Close()
	if err := tr.Watch(writer.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	g.release()
	wall, cpu := writer.wait(t)
	reader.wait(t)

	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	pid := writer.cmd.Process.Pid
	rec, err := find(rep, pid, ino, trace.DirWrite)
	if err != nil {
		t.Fatalf("no write stall for writer %d on pipe:[%d]; records: %+v", pid, ino, rep.Records)
	}
	offCPU := wall - cpu
	t.Logf("writer: wall %v, cpu %v, off-CPU %v; traced write stall %v in %d waits (max %v): %.1f%% of off-CPU",
		wall, cpu, offCPU, rec.Total, rec.Count, rec.Max, 100*float64(rec.Total)/float64(offCPU))
	if rec.Total < wall/2 {
		t.Errorf("write stall %v is not most of the writer's wall time %v", rec.Total, wall)
	}
	if diff := rec.Total - offCPU; diff > offCPU/10 || diff < -offCPU/10 {
		t.Errorf("write stall %v differs from off-CPU time %v by more than 10%%", rec.Total, offCPU)
	}
	if rec.Count < blocks/2 {
		t.Errorf("count = %d waits, want at least %d for %d blocks", rec.Count, blocks/2, blocks)
	}
	var sum uint64
	for _, c := range rec.Hist {
		sum += c
	}
	if len(rec.Hist) != trace.HistBuckets || sum != rec.Count {
		t.Errorf("histogram has %d buckets summing to %d, want %d summing to count %d", len(rec.Hist), sum, trace.HistBuckets, rec.Count)
	}
	if rec.Max <= 0 || rec.Max > rec.Total {
		t.Errorf("max = %v, want in (0, %v]", rec.Max, rec.Total)
	}
	for _, rec := range rep.Records {
		if rec.Tgid != pid {
			t.Errorf("unwatched process %d (%s) appears: %+v", rec.Tgid, rec.Comm, rec)
		}
	}
}

// A slow producer leaves the consumer blocked reading. The producer and an
// unrelated dd|dd pipeline running meanwhile are not watched and must not
// appear.
func TestReadStallOnlyWatched(t *testing.T) {
	tr := newTracer(t, trace.Options{FollowChildren: true})
	r, w, ino := pipe(t)
	g := newGroup(t)
	writer := g.start("writer", nil, w, "PIPELOOP_TRACE_BLOCKS=300", "PIPELOOP_TRACE_SLEEP=1ms")
	reader := g.start("reader", r, nil)
	r.Close()
	w.Close()
	if err := tr.Watch(reader.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	other := exec.Command("sh", "-c", "dd if=/dev/zero bs=64k count=3000 status=none | dd of=/dev/null bs=64k status=none")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	g.release()
	writer.wait(t)
	wall, cpu := reader.wait(t)
	if err := other.Wait(); err != nil {
		t.Fatal(err)
	}

	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	pid := reader.cmd.Process.Pid
	rec, err := find(rep, pid, ino, trace.DirRead)
	if err != nil {
		t.Fatalf("no read stall for reader %d on pipe:[%d]; records: %+v", pid, ino, rep.Records)
	}
	t.Logf("reader: wall %v, cpu %v; traced read stall %v in %d waits", wall, cpu, rec.Total, rec.Count)
	if rec.Total < wall/2 {
		t.Errorf("read stall %v is not most of the reader's wall time %v", rec.Total, wall)
	}
	if _, err := find(rep, pid, ino, trace.DirWrite); err == nil {
		t.Errorf("reader shows a write stall on the pipe it reads")
	}
	for _, rec := range rep.Records {
		if rec.Tgid != pid {
			t.Errorf("unwatched process %d (%s) appears: %+v", rec.Tgid, rec.Comm, rec)
		}
	}
}

// Watching ourselves, as `pipeloop --trace` does, picks up the pipeline
// stages we spawn (grandchildren via sh) only when following children.
func TestFollowChildren(t *testing.T) {
	for _, follow := range []bool{true, false} {
		t.Run(map[bool]string{true: "follow", false: "nofollow"}[follow], func(t *testing.T) {
			tr := newTracer(t, trace.Options{FollowChildren: follow})
			if err := tr.Watch(os.Getpid()); err != nil {
				t.Fatal(err)
			}
			sh := exec.Command("sh", "-c", "dd if=/dev/zero bs=64k count=200 status=none | (sleep 0.2; dd of=/dev/null bs=64k status=none)")
			if err := sh.Run(); err != nil {
				t.Fatal(err)
			}
			rep, err := tr.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			var ddWrite time.Duration
			for _, p := range rep.ByProcess() {
				if p.Tgid != os.Getpid() && !follow {
					t.Errorf("child %d (%s) appears without FollowChildren", p.Tgid, p.Comm)
				}
				if p.Comm == "dd" {
					ddWrite += p.Write.Total
				}
			}
			if follow && ddWrite < 150*time.Millisecond {
				t.Errorf("dd blocked writing %v, want about 200ms; records: %+v", ddWrite, rep.Records)
			}
			left, err := tr.Watched()
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 1 || left[0] != os.Getpid() {
				t.Errorf("watched after the pipeline exited = %v, want only [%d]", left, os.Getpid())
			}
		})
	}
}

func TestWatchErrors(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	if err := tr.Watch(0); err == nil {
		t.Error("Watch(0) succeeded")
	}
	if err := tr.Watch(1 << 30); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("Watch(no such pid) = %v, want ESRCH", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Watch(os.Getpid()); !errors.Is(err, trace.ErrClosed) {
		t.Errorf("Watch after Close = %v, want ErrClosed", err)
	}
	if _, err := tr.Snapshot(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Snapshot after Close = %v, want os.ErrClosed", err)
	}
}

// Without privilege, Check, New and `pipeloop trace` fail with one clear
// line; with CAP_BPF and CAP_PERFMON alone, tracing works. The test binary
// is copied where user nobody can run it.
func TestPrivilege(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to user nobody")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "trace-unpriv")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "trace.test")
	copyFile(t, exe, bin)
	asNobody := func(role string, caps ...uintptr) string {
		cmd := exec.Command(bin)
		cmd.Dir = "/"
		cmd.Env = append(os.Environ(), childEnv+"="+role, "GORACE=atexit_sleep_ms=0")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
			AmbientCaps: caps,
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s child as nobody: %v: %s", role, err, out)
		}
		return strings.TrimSpace(string(out))
	}

	t.Run("unprivileged", func(t *testing.T) {
		const msg = "trace: needs root or CAP_BPF+CAP_PERFMON (running as uid 65534)"
		want := strings.Join([]string{
			"check: " + msg + " [permission]",
			"new: " + msg + " [permission]",
			"command: " + strings.TrimPrefix(msg, "trace: ") + " [permission]", // for "pipeloop trace: needs root …"
		}, "\n")
		if got := asNobody("unpriv"); got != want {
			t.Errorf("as nobody:\n got %q\nwant %q", got, want)
		}
	})
	t.Run("CAP_BPF+CAP_PERFMON", func(t *testing.T) {
		const capPerfmon, capBPF = 38, 39
		if got := asNobody("caps", capBPF, capPerfmon); got != "ok" {
			t.Errorf("as nobody with CAP_BPF+CAP_PERFMON: %q, want ok", got)
		}
	})
	// Watching root's cat, asleep reading a pipe: without ptrace access
	// /proc does not show its syscall, so the wait in progress is not
	// counted; the report says so.
	t.Run("CAP_BPF+CAP_PERFMON, another user's waiting process", func(t *testing.T) {
		const capPerfmon, capBPF = 38, 39
		r, w, _ := pipe(t)
		cat := exec.Command("cat")
		cat.Stdin = r
		if err := cat.Start(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		defer func() { w.Close(); cat.Wait() }()
		blockedIn(t, cat.Process.Pid, 0) // read
		t.Setenv("PIPELOOP_TRACE_PID", strconv.Itoa(cat.Process.Pid))
		if got := asNobody("caps", capBPF, capPerfmon); got != "dropped at attach: 1" {
			t.Errorf("as nobody with CAP_BPF+CAP_PERFMON watching root's cat: %q, want \"dropped at attach: 1\"", got)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// A process blocked since before the snapshot shows up with the wait so
// far; once it ends, the completed wait replaces it.
func TestSnapshotIncludesWaitInProgress(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	reader, pid, w, ino := startWatched(t, tr, "reader")
	const blocked = 300 * time.Millisecond
	time.Sleep(blocked)

	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := find(rep, pid, ino, trace.DirRead)
	if err != nil {
		t.Fatalf("reader blocked on an empty pipe:[%d] is missing: %+v", ino, rep.Records)
	}
	if rec.Count != 1 || rec.Total < blocked*8/10 || rec.Total > rep.Wall || rec.Comm == "" {
		t.Errorf("wait in progress = %+v; want 1 wait of about %v by a named process", rec, blocked)
	}
	// Each Snapshot takes the clock pair anew (stall_pair, attached only
	// for it): the same wait, still in progress, has grown by the time
	// between the snapshots.
	time.Sleep(blocked)
	again, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	later, err := find(again, pid, ino, trace.DirRead)
	grown := later.Total - rec.Total
	if err != nil || later.Count != 1 || grown < blocked*8/10 || grown > again.Wall-rep.Wall+blocked/10 {
		t.Errorf("wait in progress at the second snapshot = %+v, %v; want 1 wait grown by about %v (grew %v)", later, err, blocked, grown)
	}

	w.Close() // EOF: the reader wakes and exits
	reader.wait(t)
	rep, err = tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	partial := rec.Total
	if rec, err = find(rep, pid, ino, trace.DirRead); err != nil || rec.Count != 1 || rec.Total < partial {
		t.Errorf("completed wait = %+v, %v; want 1 wait of at least %v", rec, err, partial)
	}
}

// A process splicing pipe to pipe waits on its output when the consumer
// is slow and on its input when the producer is slow; a process in
// epoll_wait, or in io_uring_enter for completions, waits in poll, with no
// pipe. A wait is counted once: the idle io_uring worker a read was
// handed to adds nothing (its registers are a copy of its creator's
// io_uring_enter, which would count its sleeps as a second wait in poll).
func TestSpliceAndPoll(t *testing.T) {
	tests := []struct {
		name      string
		role      string // watched middle process
		slowWrite bool   // the producer sleeps (else the consumer does)
		dir       trace.Direction
		onOutput  bool // the stall is on the output pipe (else the input; poll: none)
		// watchReady: watch the middle once it is ready, not before (its
		// io_uring worker then exists at attach)
		watchReady bool
	}{
		{"splice slow consumer", "splicer", false, trace.DirWrite, true, false},
		{"splice slow producer", "splicer", true, trace.DirRead, false, false},
		{"epoll slow producer", "poller", true, trace.DirPoll, false, false},
		{"preadv2 slow producer", "vcopier", true, trace.DirRead, false, false},
		{"pwritev2 slow consumer", "vcopier", false, trace.DirWrite, true, false},
		{"io_uring slow producer", "uringer", true, trace.DirPoll, false, false},
		{"io_uring worker slow producer", "uringer-async", true, trace.DirPoll, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracer(t, trace.Options{})
			in, toMiddle, inIno := pipe(t)
			fromMiddle, out, outIno := pipe(t)
			g := newGroup(t)
			writerEnv, readerEnv := []string{"PIPELOOP_TRACE_BLOCKS=200"}, []string{}
			if tt.slowWrite {
				writerEnv = append(writerEnv, "PIPELOOP_TRACE_SLEEP=1ms")
			} else {
				readerEnv = append(readerEnv, "PIPELOOP_TRACE_SLEEP=1ms")
			}
			writer := g.start("writer", nil, toMiddle, writerEnv...)
			middle := g.start(tt.role, in, out)
			reader := g.start("reader", fromMiddle, nil, readerEnv...)
			for _, f := range []*os.File{in, toMiddle, fromMiddle, out} {
				f.Close()
			}
			pid := middle.cmd.Process.Pid
			if tt.watchReady {
				g.ready()
				blockedIn(t, pid, 426) // io_uring_enter, for the start
			}
			if err := tr.Watch(pid); err != nil {
				t.Fatal(err)
			}
			g.release()
			writer.wait(t)
			wall, _ := middle.wait(t)
			reader.wait(t)

			rep, err := tr.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			ino := map[bool]uint64{true: outIno, false: inIno}[tt.onOutput]
			if tt.dir == trace.DirPoll {
				ino = 0
			}
			rec, err := find(rep, pid, ino, tt.dir)
			if err != nil {
				t.Fatalf("no %v stall on inode %d (in %d, out %d): %+v", tt.dir, ino, inIno, outIno, rep.Records)
			}
			t.Logf("%s blocked %v for %v of %v in %d waits", tt.role, tt.dir, rec.Total, wall, rec.Count)
			if rec.Total < wall/2 {
				t.Errorf("%v stall %v is not most of the %s's wall time %v: %+v", tt.dir, rec.Total, tt.role, wall, rep.Records)
			}
			if rec.Total > wall*3/2 {
				t.Errorf("%v stall %v is more than the %s's wall time %v: counted twice? %+v", tt.dir, rec.Total, tt.role, wall, rep.Records)
			}
			// Watched once ready, the middle was waiting for the start in
			// io_uring_enter: one wait in progress at attach, not two (its
			// worker, asleep, has a copy of those registers).
			if tt.watchReady && rec.AtAttach != 1 {
				t.Errorf("%d %v waits in progress at attach, want 1: %+v", rec.AtAttach, tt.dir, rep.Records)
			}
		})
	}
}
