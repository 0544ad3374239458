package fdops_test

import (
	"fmt"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

// BenchmarkRingWriteRead copies chunks in and out of a 64 KiB ring that
// keeps a small backlog, so its positions advance and cross the wrap.
func BenchmarkRingWriteRead(b *testing.B) {
	for _, chunk := range []int{512, 4096, 16384} {
		b.Run(fmt.Sprint(chunk), func(b *testing.B) {
			r := newRing(b, 65536)
			r.Write(make([]byte, 1000))
			in, out := testfd.Pattern(chunk, 1), make([]byte, chunk)
			b.ReportAllocs()
			b.SetBytes(int64(chunk))
			for b.Loop() {
				r.Write(in)
				r.Read(out)
			}
		})
	}
}

// benchPipe returns a nonblocking pipe sized size; its ends are closed when
// the benchmark ends.
func benchPipe(b *testing.B, size int) (r, w int) {
	r, w = testfd.Pipe(b, true, true)
	if got, err := fdio.SetPipeSize(w, size); err != nil || got != size {
		b.Fatalf("SetPipeSize(%d) = %d, %v", size, got, err)
	}
	return r, w
}

// BenchmarkRingPipe moves a chunk per op: write into a source pipe,
// Ring.ReadFrom it, Ring.WriteTo a destination pipe, read it out. "contig"
// drains the ring each time (read and write); "wrap" keeps a backlog of
// 5000 bytes so fills and drains cross the wrap (readv and writev); the
// destination pipe holds one chunk, so WriteTo writes partially.
func BenchmarkRingPipe(b *testing.B) {
	for _, size := range []int{64 << 10, 256 << 10} {
		for _, backlog := range []int{0, 5000} {
			name := fmt.Sprintf("%dK/contig", size>>10)
			if backlog > 0 {
				name = fmt.Sprintf("%dK/wrap", size>>10)
			}
			b.Run(name, func(b *testing.B) {
				chunk := size / 2
				sr, sw := benchPipe(b, size)
				dr, dw := benchPipe(b, chunk)
				ring := newRing(b, size)
				ring.Write(make([]byte, backlog))
				in, out := testfd.Pattern(chunk, 1), make([]byte, chunk)
				ops := &countingOps{}
				b.ReportAllocs()
				b.SetBytes(int64(chunk))
				for b.Loop() {
					if n, err := unix.Write(sw, in); n != chunk {
						b.Fatalf("write = %d, %v", n, err)
					}
					for got := 0; got < chunk; {
						n, err := ring.ReadFrom(ops, sr)
						if err != nil {
							b.Fatal(err)
						}
						got += n
					}
					for put := 0; put < chunk; {
						n, err := ring.WriteTo(ops, dw)
						if err != nil {
							b.Fatal(err)
						}
						put += n
					}
					for got := 0; got < chunk; {
						n, err := unix.Read(dr, out[got:])
						if err != nil {
							b.Fatal(err)
						}
						got += n
					}
				}
				if backlog > 0 && (ops.readvs == 0 || ops.writevs == 0) {
					b.Errorf("readv %d writev %d: the wrap was not exercised", ops.readvs, ops.writevs)
				}
			})
		}
	}
}

// BenchmarkSplice moves a chunk per op: write into a pipe, splice it into a
// second pipe, read it out.
func BenchmarkSplice(b *testing.B) {
	for _, chunk := range []int{4096, 64 << 10} {
		b.Run(fmt.Sprint(chunk), func(b *testing.B) {
			sr, sw := benchPipe(b, 64<<10)
			dr, dw := benchPipe(b, 64<<10)
			in, out := testfd.Pattern(chunk, 1), make([]byte, chunk)
			b.ReportAllocs()
			b.SetBytes(int64(chunk))
			for b.Loop() {
				if n, err := unix.Write(sw, in); n != chunk {
					b.Fatalf("write = %d, %v", n, err)
				}
				for moved := 0; moved < chunk; {
					n, err := fdops.Splice(nil, sr, dw, chunk)
					if err != nil {
						b.Fatal(err)
					}
					moved += n
				}
				for got := 0; got < chunk; {
					n, err := unix.Read(dr, out[got:])
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
		})
	}
}

// BenchmarkAgain measures the EAGAIN paths. They are steady-state under the
// edge-triggered contract (every drain ends in EAGAIN), so they should not
// allocate either.
func BenchmarkAgain(b *testing.B) {
	b.Run("ReadFrom", func(b *testing.B) {
		r, _ := testfd.Pipe(b, true, true)
		ring := newRing(b, 65536)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ring.ReadFrom(nil, r); err == nil {
				b.Fatal("no EAGAIN")
			}
		}
	})
	b.Run("WriteTo", func(b *testing.B) {
		_, w := benchPipe(b, fdio.PipeBuf)
		testfd.WriteAll(b, w, make([]byte, fdio.PipeBuf))
		ring := newRing(b, 65536)
		ring.Write([]byte("x"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ring.WriteTo(nil, w); err == nil {
				b.Fatal("no EAGAIN")
			}
		}
	})
	b.Run("Splice", func(b *testing.B) {
		sr, _ := testfd.Pipe(b, true, true)
		_, dw := testfd.Pipe(b, true, true)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fdops.Splice(nil, sr, dw, 65536); err == nil {
				b.Fatal("no EAGAIN")
			}
		}
	})
}
