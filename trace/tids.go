//go:build linux && amd64

package trace

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// tidBits is the BPF program's tids bitmap (stall.bpf.c), mapped into
// this process: bit tid&63 of word tid>>6 is set while thread tid belongs
// to a watched process. The BPF programs set and clear bits with atomic
// instructions on the same memory, and so does Go (atomic.OrUint64,
// atomic.AndUint64), so no concurrent update is lost.
//
// Invariant: a marked tid is a live thread of a watched process, or one
// that exited in the few microseconds between markThreads's look at /proc
// and its mark. stall.bpf.c checks the tgid map before it creates a
// record, and unmarks a tid whose process is not watched, so such a stale
// bit never records an unwatched task.
type tidBits struct {
	mem []byte // the mmapped array; nil after unmap
}

// mapTids maps the tids array of m into memory.
func mapTids(m *ebpf.Map) (tidBits, error) {
	size := int(m.MaxEntries()) * int(m.ValueSize())
	b, err := unix.Mmap(m.FD(), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return tidBits{}, fmt.Errorf("trace: map the tids bitmap: %w", os.NewSyscallError("mmap", err))
	}
	return tidBits{mem: b}, nil
}

// word returns the word holding tid's bit, or nil if tid is out of range.
func (b tidBits) word(tid int) *uint64 {
	i := tid >> 6
	if tid < 0 || i >= len(b.mem)/8 {
		return nil
	}
	return (*uint64)(unsafe.Pointer(&b.mem[i*8]))
}

func (b tidBits) mark(tid int) {
	if w := b.word(tid); w != nil {
		atomic.OrUint64(w, 1<<(tid&63))
	}
}

func (b tidBits) unmark(tid int) {
	if w := b.word(tid); w != nil {
		atomic.AndUint64(w, ^uint64(1<<(tid&63)))
	}
}

func (b tidBits) marked(tid int) bool {
	w := b.word(tid)
	return w != nil && atomic.LoadUint64(w)&(1<<(tid&63)) != 0
}

// unmap releases the mapping. The map itself is closed with the others.
func (b *tidBits) unmap() error {
	if b.mem == nil {
		return nil
	}
	err := unix.Munmap(b.mem)
	b.mem = nil
	if err != nil {
		return os.NewSyscallError("munmap", err)
	}
	return nil
}

// markThreads marks the threads process tgid has now. The caller has put
// tgid in the watched map first: a thread cloned after the listing below
// is marked by stall_fork. A thread that is a zombie (a leader that
// exited before the other threads) or that exits before its mark lands is
// left unmarked: its exit already ran stall_exit, which would have
// unmarked it, and no later event would.
func (t *Tracer) markThreads(tgid int) {
	dir := "/proc/" + strconv.Itoa(tgid) + "/task/"
	for _, tid := range threads(tgid) {
		if !running(dir + strconv.Itoa(tid) + "/") {
			continue
		}
		t.tids.mark(tid)
		if !running(dir + strconv.Itoa(tid) + "/") {
			t.tids.unmark(tid)
		}
	}
}

// running reports whether the thread at dir (/proc/TGID/task/TID/) exists
// and is neither a zombie nor dead.
func running(dir string) bool {
	switch state(dir) {
	case 0, 'Z', 'X', 'x':
		return false
	}
	return true
}
