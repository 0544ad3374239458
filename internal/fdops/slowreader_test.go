package fdops_test

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/testfd"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// TestRingWriteToSlowReader writes a stream with Ring.WriteTo into a
// nonblocking pipe shrunk to one page, read by a goroutine that reads odd
// amounts and sleeps between reads. The writer must see partial writes and
// EAGAIN, and every byte must arrive once, in order.
func TestRingWriteToSlowReader(t *testing.T) {
	const total = 512 << 10
	r, w := testfd.Pipe(t, false, true)
	got, err := fdio.SetPipeSize(w, fdio.PipeBuf)
	if err != nil {
		t.Fatal(err)
	}
	if got != fdio.PipeBuf {
		t.Fatalf("SetPipeSize(%d) = %d", fdio.PipeBuf, got)
	}

	type result struct {
		sum   [32]byte
		n     int
		err   error
		reads int
	}
	done := make(chan result, 1)
	go func() {
		h := sha256.New()
		buf := make([]byte, 3000) // not a divisor of the page size
		var res result
		for {
			n, err := unix.Read(r, buf[:1+res.reads*997%len(buf)])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				res.err = err
				break
			}
			if n == 0 {
				break
			}
			res.reads++
			res.n += n
			h.Write(buf[:n])
			if res.reads%4 == 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
		h.Sum(res.sum[:0])
		done <- res
	}()

	data := testfd.Pattern(total, 42)
	want := sha256.Sum256(data)
	b := newRing(t, 16384)
	ops := &countingOps{}
	var again int
	for src := data; len(src) > 0 || !b.Empty(); {
		// Top up from the source in odd-sized pieces so the ring's
		// contents keep crossing the wrap.
		if len(src) > 0 && b.Free() > 0 {
			n := b.Write(src[:min(len(src), 5000)])
			src = src[n:]
		}
		before := b.Len()
		n, err := b.WriteTo(ops, w)
		switch {
		case errors.Is(err, unix.EAGAIN):
			again++
			if b.Len() != before {
				t.Fatalf("EAGAIN changed Len from %d to %d", before, b.Len())
			}
			waitWritable(t, w)
		case err != nil:
			t.Fatalf("WriteTo: %v", err)
		case b.Len() != before-n:
			t.Fatalf("WriteTo = %d but Len went from %d to %d", n, before, b.Len())
		}
	}
	testfd.CloseFD(t, &w)

	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reader did not finish")
	}
	if res.err != nil {
		t.Fatalf("reader: %v", res.err)
	}
	if res.n != total || res.sum != want {
		t.Fatalf("reader got %d bytes (of %d) with a different hash", res.n, total)
	}
	t.Logf("writes %d writev %d partial %d EAGAIN %d; reader calls %d",
		ops.writes, ops.writevs, ops.partialWrites, again, res.reads)
	if ops.partialWrites == 0 {
		t.Error("no partial write observed: the test did not exercise them")
	}
	if ops.writevs == 0 {
		t.Error("no writev across the wrap observed")
	}
	if again == 0 {
		t.Error("no EAGAIN observed")
	}
}

// waitWritable blocks until fd is writable.
func waitWritable(t *testing.T, fd int) {
	t.Helper()
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		_, err := unix.Poll(pfd, 5000)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if pfd[0].Revents == 0 {
			t.Fatal("pipe not writable after 5s")
		}
		return
	}
}
