// Command gouring is crelay/uring.c in Go: one goroutine locked to its
// thread, raw io_uring syscalls through golang.org/x/sys/unix, a 64 KiB
// buffer. A read of stdin is in flight; when it completes with n bytes, one
// io_uring_enter submits the write of those bytes to stdout linked to the
// next read (the write with IOSQE_CQE_SKIP_SUCCESS, so the enter's wait
// ends on the read) and waits for it: one system call per hop. That enter
// blocks, so it goes through the runtime (unix.Syscall6, entersyscall and
// exitsyscall), as pipeloop's epoll_wait does; setup and mmap are the only
// other calls. A short write cancels the linked read; the rest is
// resubmitted with a new read linked to it.
//
// argv[1] picks the setup flags as uring.c does: defer (default), coop or
// plain, falling back in that order. With "raw" as argv[2] the waiting enter
// is unix.RawSyscall6 instead: the thread sleeps in the kernel without
// telling the runtime, so sysmon never retakes its P (the relay has no other
// goroutine to run; a signal ends the wait with EINTR and the loop enters
// again).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	opRead           = 22 // IORING_OP_READ
	opWrite          = 23 // IORING_OP_WRITE
	sqeIOLink        = 1 << 2
	sqeCQESkipOK     = 1 << 6
	setupCoop        = 1 << 8
	setupSingle      = 1 << 12
	setupDefer       = 1 << 13
	featSingleMmap   = 1 << 0
	enterGetEvents   = 1 << 0
	offSQRing        = 0
	offCQRing        = 0x8000000
	offSQEs          = 0x10000000
	tagRead          = 1
	tagWrite         = 2
	sqeSize, cqeSize = 64, 16
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
	opcode, flags      uint8
	ioprio             uint16
	fd                 int32
	off, addr          uint64
	len, rwFlags       uint32
	userData           uint64
	bufIndex, personal uint16
	spliceFDIn         int32
	addr3, pad         uint64
}

// cqe is struct io_uring_cqe.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

type ring struct {
	fd                     int
	sqHead, sqTail, sqMask *uint32
	cqHead, cqTail, cqMask *uint32
	sqes                   []sqe
	cqes                   []cqe
	tail                   uint32
	buf                    []byte
}

func main() {
	mode, raw := "defer", false
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if len(os.Args) > 2 {
		raw = os.Args[2] == "raw"
	}
	if err := run(mode, raw); err != nil {
		fmt.Fprintln(os.Stderr, "gouring:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func setup(mode string) (*ring, error) {
	flags := []uint32{setupSingle | setupDefer, setupSingle | setupCoop, 0}
	switch mode {
	case "defer":
	case "coop":
		flags = flags[1:]
	case "plain":
		flags = flags[2:]
	default:
		return nil, fmt.Errorf("unknown mode %s (defer, coop, plain)", mode)
	}
	var p params
	fd := -1
	for i, f := range flags {
		p = params{flags: f}
		r, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&p)), 0)
		if errno == 0 {
			fd = int(r)
			break
		}
		if errno != unix.EINVAL || i == len(flags)-1 {
			return nil, os.NewSyscallError("io_uring_setup", errno)
		}
	}
	if os.Getenv("URING_VERBOSE") != "" {
		fmt.Fprintf(os.Stderr, "gouring: setup flags %#x features %#x\n", p.flags, p.features)
	}
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*cqeSize)
	if p.features&featSingleMmap != 0 && cqSize > sqSize {
		sqSize = cqSize
	}
	prot, share := unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE
	sq, err := unix.Mmap(fd, offSQRing, sqSize, prot, share)
	if err != nil {
		return nil, os.NewSyscallError("mmap sq ring", err)
	}
	cq := sq
	if p.features&featSingleMmap == 0 {
		if cq, err = unix.Mmap(fd, offCQRing, cqSize, prot, share); err != nil {
			return nil, os.NewSyscallError("mmap cq ring", err)
		}
	}
	s, err := unix.Mmap(fd, offSQEs, int(p.sqEntries)*sqeSize, prot, share)
	if err != nil {
		return nil, os.NewSyscallError("mmap sqes", err)
	}
	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	r := &ring{
		fd:     fd,
		sqHead: u32(sq, p.sqOff.head), sqTail: u32(sq, p.sqOff.tail), sqMask: u32(sq, p.sqOff.ringMask),
		cqHead: u32(cq, p.cqOff.head), cqTail: u32(cq, p.cqOff.tail), cqMask: u32(cq, p.cqOff.ringMask),
		sqes: unsafe.Slice((*sqe)(unsafe.Pointer(&s[0])), p.sqEntries),
		cqes: unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries),
		buf:  make([]byte, 64<<10),
	}
	array := unsafe.Slice(u32(sq, p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i) // SQE i is always slot i
	}
	r.tail = atomic.LoadUint32(r.sqTail)
	return r, nil
}

func (r *ring) push(s sqe) {
	r.sqes[r.tail&*r.sqMask] = s
	r.tail++
	atomic.StoreUint32(r.sqTail, r.tail)
}

func (r *ring) queueRead() {
	r.push(sqe{opcode: opRead, fd: 0, addr: uint64(uintptr(unsafe.Pointer(&r.buf[0]))),
		len: uint32(len(r.buf)), off: ^uint64(0), userData: tagRead})
}

// queueWrite queues the write of buf[off:end] linked to the next read.
func (r *ring) queueWrite(off, end int) {
	r.push(sqe{opcode: opWrite, fd: 1, addr: uint64(uintptr(unsafe.Pointer(&r.buf[off]))),
		len: uint32(end - off), off: ^uint64(0), flags: sqeIOLink | sqeCQESkipOK, userData: tagWrite})
	r.queueRead()
}

func run(mode string, raw bool) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := setup(mode)
	if err != nil {
		return err
	}
	off, end := 0, 0 // buf[off:end] is being written
	cancelled := 0   // linked reads a short write cancelled
	r.queueRead()
	for {
		pending := r.tail - atomic.LoadUint32(r.sqHead)
		enter := unix.Syscall6
		if raw {
			enter = unix.RawSyscall6
		}
		_, _, errno := enter(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(pending), 1, enterGetEvents, 0, 0)
		if errno != 0 && errno != unix.EINTR && errno != unix.EAGAIN && errno != unix.EBUSY {
			return os.NewSyscallError("io_uring_enter", errno)
		}
		head := *r.cqHead
		for head != atomic.LoadUint32(r.cqTail) {
			c := r.cqes[head&*r.cqMask]
			head++
			res := int(c.res)
			if c.userData == tagRead {
				switch {
				case res == -int(unix.ECANCELED) && cancelled > 0:
					cancelled--
				case res == -int(unix.EINTR) || res == -int(unix.EAGAIN):
					r.queueRead()
				case res < 0:
					return fmt.Errorf("read: %w", unix.Errno(-res))
				case res == 0:
					return nil
				default:
					off, end = 0, res
					r.queueWrite(off, end)
				}
				continue
			}
			switch {
			case res == -int(unix.EINTR) || res == -int(unix.EAGAIN):
				cancelled++
				r.queueWrite(off, end)
			case res < 0:
				return fmt.Errorf("write: %w", unix.Errno(-res))
			default:
				if off += res; off < end {
					cancelled++ // the short write failed the link
					r.queueWrite(off, end)
				}
			}
		}
		atomic.StoreUint32(r.cqHead, head)
	}
}
