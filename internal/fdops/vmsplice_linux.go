package fdops

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A vmsplice ring is a Ring drained into a pipe with vmsplice(2): whole
// pages of the ring are passed to the pipe by reference instead of being
// copied into pages the pipe allocates. On a pipe-to-pipe copy that saves
// one of the four copies of every byte and the pipe's page allocation and
// memory-cgroup charge per 4 KiB, which is most of what a copy costs.
//
// The price is that a lent page belongs to the pipe (and to whatever the
// pipe's reader splices it on to: another pipe, a socket's send queue) for
// as long as they keep it, and nobody tells the ring when that ends. So a
// lent page is never written again. The ring's storage is anonymous memory
// in transparent huge pages, recycled one huge page (a "chunk") at a time:
// once the drain position has left a chunk that holds lent pages, the
// chunk is dropped with madvise(MADV_DONTNEED) — the pipe keeps its
// references to the old pages, which the kernel frees when the last one
// goes — and the next fill faults in a fresh zeroed huge page. Filling
// never enters a chunk that holds lent pages and has not been recycled.
//
// Only whole pages are lent. Bytes before the first page boundary and
// after the last are written with write(2), so a page is either lent
// entirely or never lent, and a sub-page message costs what it costs in a
// plain ring.

// vmState is the page-lending state of a vmsplice ring.
type vmState struct {
	mem   []byte // the whole mapping (buf is its chunk-aligned part)
	chunk uint64 // recycling unit: the transparent huge page size
	page  uint64 // the base page size
	lent  uint64 // bit i: buffer chunk i holds lent pages not yet recycled
	span  int    // most bytes the ring holds
	// err is the first recycling failure. The ring then stops lending,
	// never fills the chunk it could not recycle (its lent bit stays),
	// and RingPool.Put unmaps it instead of keeping it.
	err     error
	cleanup runtime.Cleanup // unmaps mem if the ring is dropped unreleased
	// Lending pays only while fresh memory is cheap (see refill): slow
	// counts refills in a row that cost more than lending saves, and
	// paused the bytes still to be written before lending is tried again.
	slow   int
	paused uint64
	pause  uint64 // the next pause: doubles while retries fail, up to maxPauseBytes
}

// VmspliceCount is what one VmspliceTo call did, for statistics.
type VmspliceCount struct {
	Writes    uint64 // write/writev calls (partial pages)
	Vmsplices uint64 // vmsplice calls
	Lent      uint64 // bytes passed by reference
	Short     bool   // the last call moved less than asked: a pipe sink is full
}

// maxChunks bounds a vmsplice ring's size in chunks (one bit each).
const maxChunks = 64

// maxChunk is the largest huge page a vmsplice ring uses as its chunk:
// every busy lending link keeps two chunks resident, so the 512 MiB huge
// pages of a 64 KiB-page kernel are out of the question.
const maxChunk = 4 << 20

// hugePageSize returns the transparent huge page size if the kernel lets
// this process use transparent huge pages with madvise(MADV_HUGEPAGE) and
// they are small enough to be a vmsplice ring's chunk.
func hugePageSize() (int, error) {
	const thp = "/sys/kernel/mm/transparent_hugepage/"
	b, err := os.ReadFile(thp + "enabled")
	if err != nil {
		return 0, fmt.Errorf("transparent huge pages: %w", err)
	}
	if strings.Contains(string(b), "[never]") {
		return 0, errors.New("transparent huge pages are disabled (" + thp + "enabled is never)")
	}
	size := 2 << 20
	if b, err := os.ReadFile(thp + "hpage_pmd_size"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 && n&(n-1) == 0 {
			size = n
		}
	}
	if size > maxChunk {
		return 0, fmt.Errorf("transparent huge pages of %d MiB are too large for vmsplice rings (at most %d MiB)", size>>20, maxChunk>>20)
	}
	return size, nil
}

// vmSize returns the memory of a vmsplice ring holding span bytes (span
// already rounded) in chunks of chunk bytes, and the span it will use: at
// least two base pages, so that a full ring always holds a whole page to
// lend.
func vmSize(span, chunk int) (size, used int, err error) {
	used = max(span, 2*os.Getpagesize())
	size = max(2*chunk, 2*used)
	if size/chunk > maxChunks {
		return 0, 0, fmt.Errorf("vmsplice ring: %d bytes need more than %d huge pages", used, maxChunks)
	}
	return size, used, nil
}

// VmspliceAvailable reports why NewVmspliceRing cannot work here, or nil.
func VmspliceAvailable() error {
	_, err := hugePageSize()
	return err
}

// NewVmspliceRing returns an empty vmsplice ring that holds at most span
// bytes (rounded as for NewRing), as a plain ring of that size would. Its
// memory is two chunks or twice the rounded span, whichever is larger, so
// // one chunk can fill while the other drains; Cap is that size. It needs
// transparent huge pages (see VmspliceAvailable); its memory is unmapped
// when the ring is garbage.
func NewVmspliceRing(span int) (*Ring, error) {
	span, err := RoundSize(span)
	if err != nil {
		return nil, err
	}
	chunk, err := hugePageSize()
	if err != nil {
		return nil, err
	}
	return newVmspliceRing(span, chunk)
}

// newVmspliceRing is NewVmspliceRing with the span rounded and the chunk
// size known.
func newVmspliceRing(span, chunk int) (*Ring, error) {
	size, span, err := vmSize(span, chunk)
	if err != nil {
		return nil, err
	}
	mem, err := unix.Mmap(-1, 0, size+chunk, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	off := (chunk - addrOf(mem)%chunk) % chunk
	buf := mem[off : off+size : off+size]
	if err := unix.Madvise(buf, unix.MADV_HUGEPAGE); err != nil {
		unix.Munmap(mem)
		return nil, os.NewSyscallError("madvise", err)
	}
	b := &Ring{buf: buf, mask: uint64(size - 1), vm: &vmState{
		mem: mem, chunk: uint64(chunk), page: uint64(os.Getpagesize()), span: span,
	}}
	b.vm.cleanup = runtime.AddCleanup(b, func(m []byte) { unix.Munmap(m) }, mem)
	return b, nil
}

// release unmaps a vmsplice ring's memory now rather than when the GC
// finds it: a pool dropping rings would otherwise leave megabytes mapped
// until the next collection, which an allocation-free relay rarely
// triggers. Pipes keep their own references to pages lent from it. The
// ring must not be used again.
func (b *Ring) release() {
	if b.vm == nil {
		return
	}
	b.vm.cleanup.Stop()
	unix.Munmap(b.vm.mem)
	b.buf, b.vm = nil, nil
}

// Vmsplices reports whether b is a vmsplice ring that can still lend pages.
func (b *Ring) Vmsplices() bool { return b.vm != nil && b.vm.err == nil }

// vmFree is Free for a vmsplice ring. The ring holds at most span bytes,
// like a plain ring of that size: the rest of its memory is there so that
// filling can move on while lent pages wait to be recycled. And the fill
// stops at the first chunk ahead of the one it is in that holds lent
// pages. (With the memory at least twice the span the fill cannot reach
// a chunk the drain position has not left, which is recycled on leaving;
// the fence is what keeps a chunk that failed to recycle out of reach.)
func (b *Ring) vmFree() int {
	free := uint64(b.vm.span - b.Len())
	if b.vm.lent == 0 {
		return int(free)
	}
	// From the chunk boundary at or after w: a chunk w is inside was clean
	// when w entered it, and bits set since are for pages behind r <= w.
	end := b.w + free
	for c := (b.w + b.vm.chunk - 1) &^ (b.vm.chunk - 1); c < end; c += b.vm.chunk {
		if b.vm.lent&b.chunkBit(c) != 0 {
			return int(c - b.w)
		}
	}
	return int(free)
}

// chunkBit is the lent bit of the buffer chunk holding position p.
func (b *Ring) chunkBit(p uint64) uint64 {
	return 1 << ((p & b.mask) / b.vm.chunk)
}

// vmRecycle drops every lent chunk the drain position left in moving
// from old to b.r, so the fill can use it again.
func (b *Ring) vmRecycle(old uint64) {
	vm := b.vm
	for c := old &^ (vm.chunk - 1); c+vm.chunk <= b.r; c += vm.chunk {
		bit := b.chunkBit(c)
		if vm.lent&bit == 0 {
			continue
		}
		i := c & b.mask
		if err := unix.Madvise(b.buf[i:i+vm.chunk], unix.MADV_DONTNEED); err != nil {
			// The chunk must not be written again: keep its bit, so the
			// fill stops short of it for good, and stop lending.
			if vm.err == nil {
				vm.err = os.NewSyscallError("madvise", err)
			}
			continue
		}
		vm.lent &^= bit
		vm.refill(b.buf[i : i+vm.chunk])
	}
}

// Lending saves a copy and the pipe's page allocations, about 200 µs per
// 2 MiB on the machine it was measured on; its cost is the fresh zeroed
// memory of every recycled chunk. That is cheap when the kernel hands back
// a huge page the pipe's reader has just freed on the same CPU (~15 µs per
// 2 MiB there), and expensive when the reader runs on another CPU and the
// page must come from the buddy allocator — in a VM, memory the host may
// have taken back (~700 µs, making lending 2× slower than writing). So
// each refill is timed: after refillSlowRuns refills in a row slower than
// refillSlowPerMiB, the ring writes for a while, then tries again: first
// for pauseBytes, twice as long after each retry that fails, up to
// maxPauseBytes. (Measured per 2 MiB refill: 42–71 µs with the reader on
// the same CPU, 0.7–4.9 ms with it on the other.)
const (
	refillSlowPerMiB = 60 * time.Microsecond
	refillSlowRuns   = 2
	pauseBytes       = 256 << 20
	maxPauseBytes    = 8 << 30
)

// refill faults in fresh memory for a recycled chunk now, with
// MADV_POPULATE_WRITE, rather than inside the next read (where the zeroing
// would hold the source pipe's lock), and judges by its cost whether
// lending still pays. Where MADV_POPULATE_WRITE is unknown (before Linux
// 5.14) the fill faults the chunk in and nothing is judged.
func (vm *vmState) refill(chunk []byte) {
	start := time.Now()
	if unix.Madvise(chunk, unix.MADV_POPULATE_WRITE) != nil {
		return
	}
	vm.judge(time.Since(start), len(chunk))
}

// judge takes the cost d of refilling n bytes into account.
func (vm *vmState) judge(d time.Duration, n int) {
	if vm.pause == 0 {
		vm.pause = pauseBytes
	}
	if d <= refillSlowPerMiB*time.Duration(n>>20) {
		vm.slow, vm.pause = 0, pauseBytes
		return
	}
	if vm.slow++; vm.slow >= refillSlowRuns {
		vm.slow, vm.paused = 0, vm.pause
		vm.pause = min(2*vm.pause, maxPauseBytes)
	}
}

// VmspliceTo drains the ring into the pipe fd: whole pages by vmsplice,
// partial pages at either end by write, retrying EINTR, until the ring is
// empty, the pipe is full or a call fails. When more is set (the caller
// expects more data soon) a trailing partial page stays in the ring to
// go out with what follows. It returns the bytes moved and, as WriteTo,
// nil once anything moved, else the error (unix.EAGAIN wrapped when the
// pipe is full). c counts the calls made. On a plain ring, or one that
// stopped lending, it is WriteTo.
func (b *Ring) VmspliceTo(ops Ops, fd int, more bool, c *VmspliceCount) (int, error) {
	ops = orSys(ops)
	c.Short = false
	if !b.Vmsplices() || b.vm.paused > 0 {
		want := b.Len()
		c.Writes++
		n, err := b.WriteTo(ops, fd)
		c.Short = n < want
		if b.vm != nil {
			b.vm.paused -= min(b.vm.paused, uint64(n))
		}
		return n, err
	}
	page := b.vm.page
	total := 0
	for !b.Empty() {
		var n, asked int
		var err error
		var call string
		head := -b.r & (page - 1) // bytes to the next page boundary
		whole := (b.w &^ (page - 1)) - b.r
		switch {
		case head != 0 && (uint64(b.Len()) >= head || !more):
			asked = int(min(head, uint64(b.Len())))
			call, n, err = b.writeSome(ops, fd, asked)
			c.Writes++
		case head == 0 && whole >= page:
			asked = int(whole)
			call, n, err = b.lend(ops, fd, asked)
			c.Vmsplices++
			if n > 0 {
				c.Lent += uint64(n)
			}
		case !more:
			asked = b.Len() // a trailing partial page
			call, n, err = b.writeSome(ops, fd, asked)
			c.Writes++
		default:
			return total, nil // hold the partial page for what follows
		}
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			b.Discard(n)
			total += n
			if n < asked {
				c.Short = true
				return total, nil
			}
			continue
		}
		if err == nil {
			err = unix.EAGAIN // no progress for a non-empty request
		}
		if total > 0 && err == unix.EAGAIN {
			c.Short = true
			return total, nil
		}
		if total > 0 {
			return total, nil // the error comes back on the next call
		}
		return 0, syscallError(call, err)
	}
	return total, nil
}

// lend passes the first n buffered bytes, whole pages, to the pipe fd and
// marks their chunks lent. The marks are set before the call: a page the
// kernel took must never be refilled, even if the call then reports an
// error.
func (b *Ring) lend(ops Ops, fd, n int) (string, int, error) {
	for p := b.r &^ (b.vm.chunk - 1); p < b.r+uint64(n); p += b.vm.chunk {
		b.vm.lent |= b.chunkBit(p)
	}
	m, err := ops.Vmsplice(fd, b.firstSpans(n), unix.SPLICE_F_NONBLOCK)
	b.clearIOV()
	return "vmsplice", m, err
}

// addrOf is the address of p's first byte, for alignment.
func addrOf(p []byte) int { return int(uintptr(unsafe.Pointer(&p[0]))) }
