package uring_test

import (
	"bytes"
	"runtime"
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
		r.Reap(func(tag uint64, res int32, more bool) { got = append(got, completion{tag, res}) })
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
	r.Poll(src, unix.POLLIN, false, uring.Link|uring.SkipSuccess, 1)
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
	r.Poll(src, unix.POLLIN, false, uring.Link|uring.SkipSuccess, 1)
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
	r.Poll(src, unix.POLLIN, false, uring.Link|uring.SkipSuccess, 1)
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
	r.Poll(src, unix.POLLIN, false, uring.Link|uring.SkipSuccess, 1)
	r.Read(src, buf, 0, 2)
	if err := r.Submit(); err != nil {
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
