//go:build linux

package trace_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
	"golang.org/x/sys/unix"
)

// Waits on more keys than MaxRecords are counted as dropped, not lost
// silently: four cats each wait once on their own pipe with room for two
// records.
func TestDroppedWaitsCounted(t *testing.T) {
	tr := newTracer(t, trace.Options{FollowChildren: true, MaxRecords: 2})
	rep, _ := traceScript(t, tr, "for i in 1 2 3 4; do sleep 0.05 | cat; done")
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
	rep, _ := traceScript(t, tr, "sleep 0.2 & sleep 0.2 & sleep 0.2 & wait")
	other := exec.Command("sleep", "5")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
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
	err := tr.Watch(third.Process.Pid)
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

// The record limit is reached before a wait is dropped, even when waits
// on new keys race on both CPUs: each round, six threads of this process
// sleep in read on a fresh pipe and wake together at its EOF, so the
// first waits on the pipe's key end at the same moment on two CPUs. A
// loser of the race to create the key once took a record slot of its own
// that was never used: the tracer dropped waits with records to spare.
// The readers block SIGURG: the runtime's preemption signal, sent to a
// thread as its goroutine enters the system call (Go checks the status
// first, racily), would end a read's sleep and restart it, a second wait
// (2 of 320 runs with GOGC=1 saw 7 waits; none with asyncpreemptoff=1).
func TestRecordLimitUnderRaces(t *testing.T) {
	const limit, threads, rounds = 48, 6, 56
	tr := newTracer(t, trace.Options{MaxRecords: limit})
	if err := tr.Watch(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	mine := map[uint64]bool{}
	for range rounds {
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(p[0], &st); err != nil {
			t.Fatal(err)
		}
		mine[st.Ino] = true
		var wg sync.WaitGroup
		tids := make(chan int, threads)
		for range threads {
			wg.Go(func() {
				runtime.LockOSThread() // the thread ends with the goroutine, and its mask
				var urg unix.Sigset_t
				urg.Val[0] = 1 << (unix.SIGURG - 1)
				unix.PthreadSigmask(unix.SIG_BLOCK, &urg, nil)
				tids <- syscall.Gettid()
				var b [1]byte
				syscall.Read(p[0], b[:])
			})
		}
		for range threads {
			sleepingInRead(t, <-tids)
		}
		syscall.Close(p[1]) // EOF wakes them all
		wg.Wait()
		syscall.Close(p[0])
	}
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range rep.Records {
		if mine[rec.Inode] && rec.Count > threads {
			t.Errorf("pipe:[%d] has %d waits; %d threads waited once", rec.Inode, rec.Count, threads)
		}
	}
	// A wait in progress on a key without a record (this process's
	// netpoller, say) is reported too, so there may be more than limit.
	if rep.Dropped.Waits == 0 || len(rep.Records) < limit {
		t.Errorf("%d records (limit %d), %d waits dropped; want the limit reached before waits are dropped",
			len(rep.Records), limit, rep.Dropped.Waits)
	}
}

// sleepingInRead waits until thread tid of this process sleeps in read(2).
func sleepingInRead(t *testing.T, tid int) {
	t.Helper()
	task := "/proc/self/task/" + strconv.Itoa(tid)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Microsecond) {
		sc, _ := os.ReadFile(task + "/syscall")
		stat, _ := os.ReadFile(task + "/stat")
		i := bytes.LastIndexByte(stat, ')')
		if bytes.HasPrefix(sc, []byte(strconv.Itoa(syscall.SYS_READ)+" ")) && i > 0 && bytes.HasPrefix(stat[i+1:], []byte(" S")) {
			return
		}
	}
	t.Fatalf("thread %d never slept in read", tid)
}
