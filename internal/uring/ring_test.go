package uring_test

import (
	"bytes"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pipeloop/pipeloop/internal/uring"
	"golang.org/x/sys/unix"
)

// newRing makes a ring on the test's goroutine, locked to its thread (the
// ring's single issuer), or skips where io_uring is unavailable.
func newRing(t *testing.T) *uring.Ring {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	r, err := uring.New(8)
	if err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(nil); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// pipe makes a nonblocking pipe, closed at cleanup.
func pipe(t *testing.T) (rd, wr int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

type completion struct {
	tag uint64
	res int32
}

// wait enters until n completions came, returning them.
func wait(t *testing.T, r *uring.Ring, n int) []completion {
	t.Helper()
	var got []completion
	for tries := 0; len(got) < n; tries++ {
		if tries == 100 {
			t.Fatalf("%d completions of %d after 100 waits: %v", len(got), n, got)
		}
		if err := r.Enter(100, false); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		r.Reap(func(tag uint64, res int32) { got = append(got, completion{tag, res}) })
	}
	return got
}

// TestPollLinkedRead: a poll linked to a read of a nonblocking pipe waits
// for data (a read alone answers EAGAIN), and the write linked before it
// posts nothing when it succeeds: the relay's chain.
func TestPollLinkedRead(t *testing.T) {
	r := newRing(t)
	src, in := pipe(t)
	out, dst := pipe(t)
	buf := make([]byte, 64)
	r.Poll(src, unix.POLLIN, uring.Link|uring.SkipSuccess, 1)
	r.Read(src, buf, 0, 2)
	if err := r.Enter(0, false); err != nil {
		t.Fatal(err)
	}
	if n := r.Reap(nil); n != 0 {
		t.Fatalf("%d completions before any data", n)
	}
	unix.Write(in, []byte("hello"))
	got := wait(t, r, 1)
	if len(got) != 1 || got[0] != (completion{2, 5}) || string(buf[:5]) != "hello" {
		t.Fatalf("got %v %q, want the read's 5 bytes", got, buf[:5])
	}
	r.Write(dst, buf[:5], uring.Link|uring.SkipSuccess, 3)
	r.Poll(src, unix.POLLIN, uring.Link|uring.SkipSuccess, 1)
	r.Read(src, buf, 0, 2)
	unix.Write(in, []byte("again"))
	got = wait(t, r, 1)
	if len(got) != 1 || got[0] != (completion{2, 5}) {
		t.Fatalf("got %v, want only the read's completion", got)
	}
	p := make([]byte, 16)
	if n, _ := unix.Read(out, p); string(p[:n]) != "hello" {
		t.Fatalf("sink holds %q, want hello", p[:n])
	}
	if r.Inflight() != 0 {
		t.Fatalf("Inflight %d, want 0", r.Inflight())
	}
}

// TestSkipChainPostsOnce: a write the pipe takes only in part fails the
// chain: its own completion is posted (SkipSuccess only hides success)
// and the poll and read linked after it are dropped without one — the
// read never runs, the source keeps its data, and nothing stays in flight.
func TestSkipChainPostsOnce(t *testing.T) {
	r := newRing(t)
	src, in := pipe(t)
	_, dst := pipe(t)
	if _, err := unix.FcntlInt(uintptr(dst), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 10000)
	buf := make([]byte, 64)
	r.Write(dst, big, uring.Link|uring.SkipSuccess, 3)
	r.Poll(src, unix.POLLIN, uring.Link|uring.SkipSuccess, 1)
	r.Read(src, buf, 0, 2)
	got := wait(t, r, 1)
	if got[0] != (completion{3, 4096}) {
		t.Fatalf("got %v, want the short write's 4096", got)
	}
	unix.Write(in, []byte("data"))
	if err := r.Enter(50, false); err != nil && err != unix.EINTR {
		t.Fatal(err)
	}
	if n := r.Reap(nil); n != 0 || r.Inflight() != 0 {
		t.Fatalf("%d more completions, %d in flight: want none", n, r.Inflight())
	}
	if n, _ := unix.Read(src, buf); n != 4 {
		t.Fatalf("the source holds %d bytes, want the 4 the dropped read never took", n)
	}
}

// TestCloseCancels: Close cancels a poll still armed and waits for its
// completion, so no request outlives the ring.
func TestCloseCancels(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := uring.New(8)
	if err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	src, _ := pipe(t)
	buf := make([]byte, 64)
	r.Poll(src, unix.POLLIN, uring.Link|uring.SkipSuccess, 1)
	r.Read(src, buf, 0, 2)
	if err := r.Enter(0, false); err != nil {
		t.Fatal(err)
	}
	var got []completion
	if err := r.Close(func(tag uint64, res int32) { got = append(got, completion{tag, res}) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (completion{1, -int32(unix.ECANCELED)}) {
		t.Fatalf("Close passed %v, want the poll's cancellation alone (the read is dropped with it)", got)
	}
}

// TestWaitsForPipes: a read of an empty pipe and a write into a full one
// wait in the kernel (io_uring polls the pipe), nonblocking description or
// not and spliced or not (splice clears a pipe file's FMODE_NOWAIT), with
// no io-wq worker thread: the relay's chain relies on it.
func TestWaitsForPipes(t *testing.T) {
	for _, spliced := range []bool{false, true} {
		r := newRing(t)
		src, in := pipe(t)
		out, dst := pipe(t)
		if _, err := unix.FcntlInt(uintptr(dst), unix.F_SETPIPE_SZ, 4096); err != nil {
			t.Fatal(err)
		}
		if spliced {
			unix.Write(in, []byte("s"))
			if _, err := unix.Splice(src, nil, dst, nil, 10, unix.SPLICE_F_NONBLOCK); err != nil {
				t.Fatal(err)
			}
			unix.Read(out, make([]byte, 10))
		}
		buf := make([]byte, 64)
		r.Read(src, buf, 0, 2)
		unix.Write(dst, make([]byte, 4096))
		r.Write(dst, []byte("x"), 0, 3)
		if err := r.Enter(0, false); err != nil {
			t.Fatal(err)
		}
		if n := r.Reap(nil); n != 0 || r.Inflight() != 2 {
			t.Fatalf("spliced %v: %d completions with the source empty and the sink full, %d in flight: want 0 and 2",
				spliced, n, r.Inflight())
		}
		if n := workers(t); n != 0 {
			t.Fatalf("spliced %v: %d io-wq workers: the requests were punted, not polled", spliced, n)
		}
		unix.Write(in, []byte("data"))
		unix.Read(out, make([]byte, 4096))
		got := wait(t, r, 2)
		if len(got) != 2 || !slices.Contains(got, completion{2, 4}) || !slices.Contains(got, completion{3, 1}) {
			t.Fatalf("spliced %v: got %v, want the read's 4 bytes and the write's 1", spliced, got)
		}
	}
}

// workers counts this process's io-wq worker threads (iou-wrk-…).
func workers(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if b, _ := os.ReadFile("/proc/self/task/" + e.Name() + "/comm"); strings.HasPrefix(string(b), "iou-wrk") {
			n++
		}
	}
	return n
}

// Unqueue takes back exactly the unsubmitted requests named, in order:
// none of theirs completes, Inflight drops by the completions they would
// have posted, and requests queued after still run.
func TestUnqueue(t *testing.T) {
	r := newRing(t)
	rd, wr := pipe(t)
	buf := make([]byte, 8)
	r.Write(wr, []byte("skip"), uring.Link|uring.SkipSuccess, 1)
	r.Read(rd, buf, 0, 2)
	if r.Unqueue(2) || r.Unqueue(2, 1) || r.Unqueue(1, 2, 3) {
		t.Fatal("Unqueue took requests other than exactly those queued")
	}
	if !r.Unqueue(1, 2) || r.Pending() || r.Inflight() != 0 {
		t.Fatalf("Unqueue(1, 2): pending %v, inflight %d; want nothing left", r.Pending(), r.Inflight())
	}
	r.Write(wr, []byte("ran"), 0, 3)
	got := wait(t, r, 1)
	if len(got) != 1 || got[0] != (completion{3, 3}) {
		t.Fatalf("completions %v; want only the write queued after Unqueue", got)
	}
	n, _ := unix.Read(rd, buf)
	if string(buf[:n]) != "ran" {
		t.Fatalf("pipe holds %q; want only %q: an unqueued request ran", buf[:n], "ran")
	}
}
