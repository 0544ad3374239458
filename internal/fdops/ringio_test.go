package fdops_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// TestRingIOFaults moves a stream through a ring with an Ops that injects
// EINTR, EAGAIN and short transfers on every kind of call, and checks that
// no byte is lost or duplicated, EINTR never surfaces, and EAGAIN leaves the
// ring as it was.
func TestRingIOFaults(t *testing.T) {
	for _, size := range []int{8192, 65536} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			src := testfd.Pattern(1<<20, uint64(size))
			ops := newFakeOps(src)
			ops.eof = true
			ops.room = 0
			rng := rand.New(rand.NewPCG(uint64(size), 1))
			var eintr, eagain, short int
			ops.next = func(string) fault {
				switch k := rng.IntN(10); {
				case k < 2:
					eintr++
					return fault{err: unix.EINTR}
				case k < 3:
					eagain++
					return fault{err: unix.EAGAIN}
				case k < 6:
					short++
					return fault{max: 1 + rng.IntN(fdio.PipeBuf+2)}
				}
				return fault{}
			}
			b := newRing(t, size)
			var readAgain, writeAgain int
			for eof := false; !eof || !b.Empty(); {
				if !eof && !b.Full() {
					before := b.Len()
					n, err := b.ReadFrom(ops, 0)
					switch {
					case err == io.EOF:
						if n != 0 {
							t.Fatalf("ReadFrom = %d, io.EOF; want 0", n)
						}
						eof = true
					case errors.Is(err, unix.EAGAIN):
						readAgain++
						if n != 0 || b.Len() != before {
							t.Fatalf("ReadFrom = %d, %v with Len %d -> %d; want 0 and no change", n, err, before, b.Len())
						}
					case err != nil:
						t.Fatalf("ReadFrom: %v", err)
					case n <= 0 || b.Len() != before+n:
						t.Fatalf("ReadFrom = %d, nil with Len %d -> %d", n, before, b.Len())
					}
				}
				// The sink takes a random amount each round, so the ring
				// holds a varying backlog and its contents wrap.
				ops.room = rng.IntN(2 * fdio.PipeBuf)
				for !b.Empty() {
					before := b.Len()
					n, err := b.WriteTo(ops, 1)
					if errors.Is(err, unix.EAGAIN) {
						writeAgain++
						if n != 0 || b.Len() != before {
							t.Fatalf("WriteTo = %d, %v with Len %d -> %d; want 0 and no change", n, err, before, b.Len())
						}
						break
					}
					if err != nil {
						t.Fatalf("WriteTo: %v", err)
					}
					if n <= 0 || b.Len() != before-n {
						t.Fatalf("WriteTo = %d, nil with Len %d -> %d", n, before, b.Len())
					}
				}
			}
			if got, want := sha256.Sum256(ops.dst.Bytes()), sha256.Sum256(src); got != want {
				t.Fatalf("sink got %d bytes with a different hash than the %d sent", ops.dst.Len(), len(src))
			}
			t.Logf("calls %v; injected EINTR %d, EAGAIN %d, short %d; EAGAIN seen read %d write %d",
				ops.calls, eintr, eagain, short, readAgain, writeAgain)
			for _, call := range []string{"read", "readv", "write", "writev"} {
				if ops.calls[call] == 0 {
					t.Errorf("no %s call was made: the test did not cover it", call)
				}
			}
			if eintr == 0 || eagain == 0 || short == 0 {
				t.Error("not every fault was injected")
			}
		})
	}
}

// TestRingIOErrors checks each error path of ReadFrom and WriteTo in
// isolation, for both the single-span call and the vectored one.
func TestRingIOErrors(t *testing.T) {
	type op int
	const (
		readFrom op = iota
		writeTo
	)
	for _, tc := range []struct {
		name   string
		op     op
		wrap   bool // place the ring so the transfer crosses the wrap
		faults []fault
		want   error // nil: a transfer
		call   string
	}{
		{"read EINTR retried", readFrom, false, []fault{{err: unix.EINTR}, {err: unix.EINTR}}, nil, "read"},
		{"readv EINTR retried", readFrom, true, []fault{{err: unix.EINTR}}, nil, "readv"},
		{"read EAGAIN", readFrom, false, []fault{{err: unix.EAGAIN}}, unix.EAGAIN, "read"},
		{"readv EAGAIN", readFrom, true, []fault{{err: unix.EAGAIN}}, unix.EAGAIN, "readv"},
		{"read EINTR then EAGAIN", readFrom, false, []fault{{err: unix.EINTR}, {err: unix.EAGAIN}}, unix.EAGAIN, "read"},
		{"read EIO", readFrom, false, []fault{{err: unix.EIO}}, unix.EIO, "read"},
		{"readv EBADF", readFrom, true, []fault{{err: unix.EBADF}}, unix.EBADF, "readv"},
		{"read short", readFrom, false, []fault{{max: 1}}, nil, "read"},
		{"write EINTR retried", writeTo, false, []fault{{err: unix.EINTR}, {err: unix.EINTR}}, nil, "write"},
		{"writev EINTR retried", writeTo, true, []fault{{err: unix.EINTR}}, nil, "writev"},
		{"write EAGAIN", writeTo, false, []fault{{err: unix.EAGAIN}}, unix.EAGAIN, "write"},
		{"writev EAGAIN", writeTo, true, []fault{{err: unix.EAGAIN}}, unix.EAGAIN, "writev"},
		{"write EPIPE", writeTo, false, []fault{{err: unix.EPIPE}}, unix.EPIPE, "write"},
		{"writev ENOSPC", writeTo, true, []fault{{err: unix.ENOSPC}}, unix.ENOSPC, "writev"},
		{"write short", writeTo, false, []fault{{max: 1}}, nil, "write"},
		{"writev short", writeTo, true, []fault{{max: 10}}, nil, "writev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const buffered = 300
			b := newRing(t, 8192)
			switch {
			case tc.wrap && tc.op == readFrom:
				b.SetPos(uint64(b.Cap() / 2)) // free space wraps
			case tc.wrap:
				b.SetPos(uint64(b.Cap() - buffered/2)) // buffered bytes wrap
			}
			old := testfd.Pattern(buffered, 1)
			b.Write(old)
			src := testfd.Pattern(1000, 2)
			ops := newFakeOps(src)
			faults := tc.faults
			ops.next = func(string) fault {
				if len(faults) == 0 {
					return fault{}
				}
				f := faults[0]
				faults = faults[1:]
				return f
			}
			var n int
			var err error
			if tc.op == readFrom {
				n, err = b.ReadFrom(ops, 0)
			} else {
				n, err = b.WriteTo(ops, 1)
			}
			want := len(tc.faults) // one call per fault…
			if tc.want == nil && tc.faults[len(tc.faults)-1].err != 0 {
				want++ // …and the call that finally transfers
			}
			if got := ops.calls[tc.call]; got != want || len(ops.calls) != 1 || len(faults) != 0 {
				t.Errorf("calls %v with %d faults left; want %d %s calls", ops.calls, len(faults), want, tc.call)
			}
			h, tl := b.Peek()
			content := append(h[:len(h):len(h)], tl...)
			if tc.want != nil {
				if n != 0 {
					t.Errorf("n = %d, want 0 with an error", n)
				}
				testfd.CheckSyscallError(t, err, tc.call, tc.want.(unix.Errno))
				if !bytes.Equal(content, old) {
					t.Errorf("a failed call changed the ring: %d bytes buffered, want the %d before", len(content), len(old))
				}
				return
			}
			if err != nil || n <= 0 {
				t.Fatalf("got (%d, %v), want a transfer", n, err)
			}
			if tc.op == readFrom {
				if want := append(old, src[:n]...); !bytes.Equal(content, want) {
					t.Errorf("ring holds the wrong bytes after reading %d", n)
				}
			} else {
				if !bytes.Equal(ops.dst.Bytes(), old[:n]) || !bytes.Equal(content, old[n:]) {
					t.Errorf("a write of %d bytes moved the wrong bytes", n)
				}
			}
		})
	}
}

// TestRingIOPipe moves n bytes through real pipes, source pipe -> ring ->
// destination pipe, starting from ring positions that make the transfers
// cross the wrap, for every size around PIPE_BUF and the capacity.
func TestRingIOPipe(t *testing.T) {
	for _, tc := range []struct{ size, n int }{
		{8192, 1}, {8192, 4095}, {8192, 4096}, {8192, 4097},
		{8192, 8191}, {8192, 8192}, {8192, 8193}, {8192, 3*8192 + 5},
		{16384, 4095}, {16384, 4096}, {16384, 4097}, {16384, 8191}, {16384, 8192}, {16384, 8193},
		{16384, 16383}, {16384, 16384}, {16384, 16385},
	} {
		size, n := tc.size, tc.n
		for _, pos := range []uint64{0, 4096, uint64(size - 1), uint64(size - 1000)} {
			t.Run(fmt.Sprintf("cap=%d/n=%d/pos=%d", size, n, pos), func(t *testing.T) {
				sr, sw := testfd.Pipe(t, true, false)
				dr, dw := testfd.Pipe(t, false, true)
				data := testfd.Pattern(n, uint64(n)+pos)
				testfd.WriteAll(t, sw, data) // a default pipe holds 64 KiB
				testfd.CloseFD(t, &sw)

				b := newRing(t, size)
				b.SetPos(pos)
				ops := &countingOps{}
				var out []byte
				for eof := false; !eof || !b.Empty(); {
					if !eof && !b.Full() {
						if _, err := b.ReadFrom(ops, sr); err == io.EOF {
							eof = true
						} else if err != nil {
							t.Fatalf("ReadFrom: %v", err)
						}
					}
					if !b.Empty() {
						m, err := b.WriteTo(ops, dw)
						if err != nil {
							t.Fatalf("WriteTo: %v", err)
						}
						out = append(out, testfd.ReadN(t, dr, m)...)
					}
				}
				if n, err := b.ReadFrom(ops, sr); n != 0 || err != io.EOF {
					t.Errorf("ReadFrom after EOF = %d, %v; want 0, io.EOF", n, err)
				}
				if got, want := sha256.Sum256(out), sha256.Sum256(data); got != want {
					t.Fatalf("%d bytes arrived with a different hash than the %d sent", len(out), n)
				}
				// A ring placed near its end must split the first fill.
				start := int(pos % uint64(size))
				if start > 0 && n > size-start && ops.readvs == 0 {
					t.Errorf("no readv across the wrap (reads %d)", ops.reads)
				}
				t.Logf("read %d readv %d write %d writev %d", ops.reads, ops.readvs, ops.writes, ops.writevs)
			})
		}
	}
}

// TestRingIOPipeVectored fills a wrapped ring from a real pipe with readv
// and drains it into another with writev.
func TestRingIOPipeVectored(t *testing.T) {
	sr, sw := testfd.Pipe(t, true, true)
	dr, dw := testfd.Pipe(t, true, true)
	b := newRing(t, 8192)
	b.SetPos(6000)
	head := testfd.Pattern(2000, 1)
	b.Write(head) // occupies [6000, 8000)
	more := testfd.Pattern(5000, 2)
	testfd.WriteAll(t, sw, more)

	ops := &countingOps{}
	n, err := b.ReadFrom(ops, sr)
	if err != nil || n != 5000 {
		t.Fatalf("ReadFrom = %d, %v; want 5000, nil", n, err)
	}
	if ops.readvs != 1 || ops.reads != 0 {
		t.Errorf("ReadFrom made %d readv and %d read calls, want one readv", ops.readvs, ops.reads)
	}
	if h, tl := b.Peek(); len(h) != 2192 || len(tl) != 4808 {
		t.Errorf("Peek() = %d+%d bytes, want 2192+4808", len(h), len(tl))
	}
	n, err = b.WriteTo(ops, dw)
	if err != nil || n != 7000 {
		t.Fatalf("WriteTo = %d, %v; want 7000, nil", n, err)
	}
	if ops.writevs != 1 || ops.writes != 0 {
		t.Errorf("WriteTo made %d writev and %d write calls, want one writev", ops.writevs, ops.writes)
	}
	if got, want := testfd.ReadN(t, dr, 7000), append(head, more...); !bytes.Equal(got, want) {
		t.Error("bytes differ after readv/writev across the wrap")
	}
	if !b.Empty() {
		t.Errorf("ring holds %d bytes after a full drain", b.Len())
	}
}

// TestRingIOPipeAgain checks EAGAIN from real nonblocking pipes: an empty
// source, and a full destination, with nothing lost in either case.
func TestRingIOPipeAgain(t *testing.T) {
	t.Run("empty source", func(t *testing.T) {
		r, _ := testfd.Pipe(t, true, false)
		b := newRing(t, 8192)
		n, err := b.ReadFrom(nil, r)
		if n != 0 {
			t.Errorf("n = %d, want 0", n)
		}
		testfd.CheckSyscallError(t, err, "read", unix.EAGAIN)
		b.SetPos(8000) // free space wraps: readv
		n, err = b.ReadFrom(nil, r)
		if n != 0 {
			t.Errorf("n = %d, want 0", n)
		}
		testfd.CheckSyscallError(t, err, "readv", unix.EAGAIN)
	})
	t.Run("full destination", func(t *testing.T) {
		r, w := testfd.Pipe(t, false, true)
		if _, err := fdio.SetPipeSize(w, fdio.PipeBuf); err != nil {
			t.Fatal(err)
		}
		testfd.WriteAll(t, w, make([]byte, fdio.PipeBuf)) // fill it
		b := newRing(t, 8192)
		b.SetPos(8000)
		data := testfd.Pattern(1000, 3)
		b.Write(data)
		n, err := b.WriteTo(nil, w)
		if n != 0 {
			t.Errorf("n = %d, want 0", n)
		}
		testfd.CheckSyscallError(t, err, "writev", unix.EAGAIN)
		if got, want := b.Len(), len(data); got != want {
			t.Fatalf("Len() = %d after EAGAIN, want %d", got, want)
		}
		testfd.ReadN(t, r, fdio.PipeBuf)
		if n, err := b.WriteTo(nil, w); n != len(data) || err != nil {
			t.Fatalf("WriteTo after the reader drained = %d, %v; want %d, nil", n, err, len(data))
		}
		if got := testfd.ReadN(t, r, len(data)); !bytes.Equal(got, data) {
			t.Error("bytes written after EAGAIN differ")
		}
	})
	t.Run("reader gone", func(t *testing.T) {
		r, w := testfd.Pipe(t, false, true)
		testfd.CloseFD(t, &r)
		b := newRing(t, 8192)
		b.Write([]byte("x"))
		// Go ignores SIGPIPE on fds other than 1 and 2, so write sees EPIPE.
		_, err := b.WriteTo(nil, w)
		testfd.CheckSyscallError(t, err, "write", unix.EPIPE)
		if b.Len() != 1 {
			t.Errorf("Len() = %d after EPIPE, want 1", b.Len())
		}
	})
}
