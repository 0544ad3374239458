package fdops_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

// fuzzOps is an in-memory fdops.Ops for FuzzRingModel: reads produce the
// next bytes of a counter sequence, writes append to out; limit caps each
// call (a short transfer), and limit 0 answers EAGAIN.
type fuzzOps struct {
	next  byte // next byte a read produces
	limit int
	out   []byte
}

func (o *fuzzOps) Read(fd int, p []byte) (int, error) { return o.Readv(fd, [][]byte{p}) }

func (o *fuzzOps) Readv(_ int, iov [][]byte) (int, error) {
	if o.limit == 0 {
		return -1, unix.EAGAIN
	}
	n := 0
	for _, p := range iov {
		for i := range p {
			if n == o.limit {
				return n, nil
			}
			p[i] = o.next
			o.next++
			n++
		}
	}
	return n, nil
}

func (o *fuzzOps) Write(fd int, p []byte) (int, error) { return o.Writev(fd, [][]byte{p}) }

func (o *fuzzOps) Writev(_ int, iov [][]byte) (int, error) {
	if o.limit == 0 {
		return -1, unix.EAGAIN
	}
	n := 0
	for _, p := range iov {
		m := min(len(p), o.limit-n)
		o.out = append(o.out, p[:m]...)
		n += m
	}
	return n, nil
}

func (o *fuzzOps) Splice(int, int, int, int) (int, error) { return -1, unix.EINVAL }

func (o *fuzzOps) Vmsplice(fd int, iov [][]byte, _ int) (int, error) { return o.Writev(fd, iov) }

// FuzzRingModel drives a Ring with a program decoded from the input —
// Write, Read, Space/Commit, Peek/Discard, Reset, ReadFrom and WriteTo
// with short transfers and EAGAIN — and checks it against a plain byte
// slice after every step.
func FuzzRingModel(f *testing.F) {
	f.Add(uint8(0), []byte{0, 0xff, 0xff, 1, 0x10, 0, 6, 0xff, 0xff, 7, 3, 0})
	f.Add(uint8(1), []byte{2, 0x20, 0, 3, 0x10, 0, 2, 0x30, 0, 7, 0xff, 0xff, 6, 0, 0})
	f.Add(uint8(2), []byte{6, 0, 0x40, 7, 0, 0x30, 6, 0, 0x40, 7, 0, 0x40, 4, 0, 0})
	f.Fuzz(func(t *testing.T, sizeSel uint8, prog []byte) {
		size := fdops.MinRing << (sizeSel % 3)
		b, err := fdops.NewRing(size)
		if err != nil {
			t.Fatal(err)
		}
		var model []byte // what the ring holds, in order
		ops := &fuzzOps{}
		var wrote int // ops.out bytes already matched against the model
		scratch := make([]byte, size)
		prog = prog[:min(len(prog), 3*64)] // 64 steps reach every state of the smallest ring
		for pc := 0; pc+2 < len(prog); pc += 3 {
			op, arg := prog[pc]%8, int(prog[pc+1])|int(prog[pc+2])<<8
			switch op {
			case 0: // Write
				p := scratch[:arg%(size+1)]
				for i := range p {
					p[i] = byte(pc + i)
				}
				n := b.Write(p)
				if want := min(len(p), size-len(model)); n != want {
					t.Fatalf("step %d: Write(%d) = %d, want %d", pc, len(p), n, want)
				}
				model = append(model, p[:n]...)
			case 1: // Read
				p := scratch[:arg%(size+1)]
				n := b.Read(p)
				if want := min(len(p), len(model)); n != want || !bytes.Equal(p[:n], model[:n]) {
					t.Fatalf("step %d: Read(%d) = %d %q, want %d", pc, len(p), n, p[:n], want)
				}
				model = model[n:]
			case 2: // Space + Commit
				h, tl := b.Space()
				k := arg % (len(h) + len(tl) + 1)
				var fill []byte
				for i := range k {
					c := byte(pc + i)
					if i < len(h) {
						h[i] = c
					} else {
						tl[i-len(h)] = c
					}
					fill = append(fill, c)
				}
				b.Commit(k)
				model = append(model, fill...)
			case 3: // Peek + Discard
				k := arg % (len(model) + 1)
				b.Discard(k)
				model = model[k:]
			case 4: // Reset
				b.Reset()
				model = model[:0]
			case 5: // no-op: only the checks below
			case 6: // ReadFrom
				if b.Full() {
					continue
				}
				ops.limit = arg % 0x1000
				start := ops.next
				n, err := b.ReadFrom(ops, 0)
				if ops.limit == 0 {
					if n != 0 || !errors.Is(err, unix.EAGAIN) {
						t.Fatalf("step %d: ReadFrom on EAGAIN = %d, %v", pc, n, err)
					}
					continue
				}
				if want := min(ops.limit, size-len(model)); n != want || err != nil {
					t.Fatalf("step %d: ReadFrom = %d, %v; want %d", pc, n, err, want)
				}
				for i := range n {
					model = append(model, start+byte(i))
				}
			case 7: // WriteTo
				if b.Empty() {
					continue
				}
				ops.limit = arg % 0x1000
				n, err := b.WriteTo(ops, 1)
				if ops.limit == 0 {
					if n != 0 || !errors.Is(err, unix.EAGAIN) {
						t.Fatalf("step %d: WriteTo on EAGAIN = %d, %v", pc, n, err)
					}
					continue
				}
				if want := min(ops.limit, len(model)); n != want || err != nil {
					t.Fatalf("step %d: WriteTo = %d, %v; want %d", pc, n, err, want)
				}
				if !bytes.Equal(ops.out[wrote:], model[:n]) {
					t.Fatalf("step %d: WriteTo wrote %q, want %q", pc, ops.out[wrote:], model[:n])
				}
				wrote = len(ops.out)
				model = model[n:]
			}
			fuzzCheckRing(t, pc, b, model)
		}
	})
}

// fuzzCheckRing compares every observer of b with model.
func fuzzCheckRing(t *testing.T, step int, b *fdops.Ring, model []byte) {
	t.Helper()
	if b.Len() != len(model) || b.Free() != b.Cap()-len(model) ||
		b.Empty() != (len(model) == 0) || b.Full() != (len(model) == b.Cap()) {
		t.Fatalf("step %d: Len %d Free %d Empty %v Full %v, model holds %d of %d",
			step, b.Len(), b.Free(), b.Empty(), b.Full(), len(model), b.Cap())
	}
	h, tl := b.Peek()
	if len(h)+len(tl) != len(model) || !bytes.Equal(h, model[:len(h)]) || !bytes.Equal(tl, model[len(h):]) {
		t.Fatalf("step %d: Peek = %q + %q, model %q", step, h, tl, model)
	}
	if len(tl) > 0 && len(h) == 0 {
		t.Fatalf("step %d: Peek has a tail without a head", step)
	}
	sh, st := b.Space()
	if len(sh)+len(st) != b.Free() || (len(st) > 0 && len(sh) == 0) {
		t.Fatalf("step %d: Space = %d + %d bytes, Free %d", step, len(sh), len(st), b.Free())
	}
}
