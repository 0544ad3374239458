//go:build linux

package uring

import (
	"errors"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel ABI (include/uapi/linux/io_uring.h).
const (
	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13
	featSingleMmap    = 1 << 0
	featExtArg        = 1 << 8
	enterGetEvents    = 1 << 0
	enterExtArg       = 1 << 3
	offSQRing         = 0
	offCQRing         = 0x8000000
	offSQEs           = 0x10000000
	sqeSize           = 64
	cqeSize           = 16
)

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

// sqe is struct io_uring_sqe.
type sqe struct {
	opcode, flags     uint8
	ioprio            uint16
	fd                int32
	off, addr         uint64
	len, opFlags      uint32
	userData          uint64
	bufIndex, persona uint16
	spliceFDIn        int32
	addr3, pad        uint64
}

// cqe is struct io_uring_cqe.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// Ring is one io_uring instance. See the package doc for its rules.
type Ring struct {
	fd       int
	maps     [][]byte // what Close unmaps
	sqHead   *uint32
	sqTail   *uint32
	sqMask   uint32
	cqHead   *uint32
	cqTail   *uint32
	cqMask   uint32
	sqes     []sqe
	cqes     []cqe
	tail     uint32 // local SQ tail: queued, published to the kernel by Enter
	inflight int    // requests submitted or queued whose completion Reap has not seen
	// mem holds, per SQE slot, the memory its last request names: a Go
	// pointer the kernel reads or writes must be on the heap (a stack
	// moves when it grows), and storing it here makes every buffer passed
	// to Read or Write escape there.
	mem [][]byte
	// ts and arg are Enter's timeout, on the heap with the Ring for the
	// same reason: the kernel reads them through a pointer in arg.
	ts  unix.Timespec
	arg getEventsArg
}

// ErrNoExtArg is New's answer on a kernel without IORING_FEAT_EXT_ARG
// (before 5.11): Enter could not wait with a timeout.
var ErrNoExtArg = errors.New("io_uring: the kernel cannot wait with a timeout (no IORING_FEAT_EXT_ARG)")

// New makes a ring with room for entries requests (a power of two) queued
// at once. Call it on the thread that will use the ring.
func New(entries uint32) (*Ring, error) {
	// SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1) or nothing: completions
	// are then posted only while the owner waits in Enter, and cancel-any
	// (5.19), which Drain needs, is there.
	p := params{flags: setupSingleIssuer | setupDeferTaskrun}
	r0, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, os.NewSyscallError("io_uring_setup", errno)
	}
	fd := int(r0)
	if p.features&featExtArg == 0 {
		unix.Close(fd)
		return nil, ErrNoExtArg
	}
	r := &Ring{fd: fd}
	if err := r.mapRings(&p); err != nil {
		r.unmap()
		unix.Close(fd)
		return nil, err
	}
	return r, nil
}

// mapRings maps the submission and completion rings and the SQE array.
func (r *Ring) mapRings(p *params) error {
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*cqeSize)
	if p.features&featSingleMmap != 0 && cqSize > sqSize {
		sqSize = cqSize
	}
	prot, share := unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE
	sq, err := unix.Mmap(r.fd, offSQRing, sqSize, prot, share)
	if err != nil {
		return os.NewSyscallError("mmap io_uring sq ring", err)
	}
	r.maps = append(r.maps, sq)
	cq := sq
	if p.features&featSingleMmap == 0 {
		if cq, err = unix.Mmap(r.fd, offCQRing, cqSize, prot, share); err != nil {
			return os.NewSyscallError("mmap io_uring cq ring", err)
		}
		r.maps = append(r.maps, cq)
	}
	s, err := unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*sqeSize, prot, share)
	if err != nil {
		return os.NewSyscallError("mmap io_uring sqes", err)
	}
	r.maps = append(r.maps, s)
	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	r.sqHead, r.sqTail, r.sqMask = u32(sq, p.sqOff.head), u32(sq, p.sqOff.tail), *u32(sq, p.sqOff.ringMask)
	r.cqHead, r.cqTail, r.cqMask = u32(cq, p.cqOff.head), u32(cq, p.cqOff.tail), *u32(cq, p.cqOff.ringMask)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&s[0])), p.sqEntries)
	r.mem = make([][]byte, p.sqEntries)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	array := unsafe.Slice(u32(sq, p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i) // SQE i always sits in slot i
	}
	r.tail = atomic.LoadUint32(r.sqTail)
	return nil
}

func (r *Ring) unmap() {
	for _, m := range r.maps {
		unix.Munmap(m)
	}
	r.maps = nil
}

// Inflight is the number of requests whose completion has not been reaped.
func (r *Ring) Inflight() int { return r.inflight }

// Close cancels every request in flight, waits for their completions
// (passing them to f, which may be nil) and releases the ring. If they do
// not all complete (Drain's error) the ring stays mapped and open, and the
// caller must keep the requests' memory reachable.
func (r *Ring) Close(f func(tag uint64, res int32)) error {
	if r == nil || r.fd < 0 {
		return nil
	}
	if err := r.Drain(f); err != nil {
		// Requests are still in flight: unmapping or closing now could let
		// the kernel write into memory Go has reused. Keep it all.
		return err
	}
	r.unmap()
	err := unix.Close(r.fd)
	r.fd = -1
	if err != nil {
		return os.NewSyscallError("close io_uring", err)
	}
	return nil
}
