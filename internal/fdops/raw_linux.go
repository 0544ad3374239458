//go:build linux

package fdops

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw implements Ops with raw system calls (unix.RawSyscall): the Go
// runtime is not told that the thread enters the kernel, so it skips
// entersyscall/exitsyscall and sysmon never sees the goroutine "in a
// system call" and hands its P to another thread.
//
// Contract: every fd passed to Raw must be nonblocking on its own open
// file description, one no other process can change — a private
// description (Reopen) or a pipe pipeloop made with O_NONBLOCK — so each
// call returns in bounded time. Never a regular file (a read from a slow
// disk or NFS blocks whatever O_NONBLOCK says), never a blocking socket
// or a description another process may switch back to blocking: a raw
// call that blocks holds the goroutine's P, and with it the garbage
// collector's stop-the-world and every other goroutine that needs that P.
// The relay decides where it holds (relay/watch.go).
//
// Readv and Writev take at most two spans (a Ring's wrap), Vmsplice too;
// more fall back to Sys. Its zero value is ready.
type Raw struct{}

func ptr(p []byte) uintptr {
	if len(p) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&p[0]))
}

// result converts a raw system call's return to Ops's convention, the
// kernel's as Sys returns it: -1 and the errno on failure.
func result(r uintptr, e unix.Errno) (int, error) {
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func (Raw) Read(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), ptr(p), uintptr(len(p)))
	return result(r, e)
}

func (Raw) Write(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), ptr(p), uintptr(len(p)))
	return result(r, e)
}

// iovecs fills v from iov; false if iov has more spans than v holds.
func iovecs(v *[2]unix.Iovec, iov [][]byte) bool {
	if len(iov) > len(v) {
		return false
	}
	for i, p := range iov {
		v[i] = unix.Iovec{}
		if len(p) > 0 {
			v[i].Base = &p[0]
			v[i].SetLen(len(p))
		}
	}
	return true
}

func (Raw) Readv(fd int, iov [][]byte) (int, error) {
	var v [2]unix.Iovec
	if !iovecs(&v, iov) {
		return Sys{}.Readv(fd, iov)
	}
	r, _, e := unix.RawSyscall(unix.SYS_READV, uintptr(fd), uintptr(unsafe.Pointer(&v[0])), uintptr(len(iov)))
	return result(r, e)
}

func (Raw) Writev(fd int, iov [][]byte) (int, error) {
	var v [2]unix.Iovec
	if !iovecs(&v, iov) {
		return Sys{}.Writev(fd, iov)
	}
	r, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&v[0])), uintptr(len(iov)))
	return result(r, e)
}

func (Raw) Splice(in, out, n, flags int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), uintptr(flags))
	return result(r, e)
}

func (Raw) Vmsplice(fd int, iov [][]byte, flags int) (int, error) {
	var v [2]unix.Iovec
	if !iovecs(&v, iov) {
		return 0, unix.EINVAL // as Sys: the ring never passes more than two spans
	}
	r, _, e := unix.RawSyscall6(unix.SYS_VMSPLICE, uintptr(fd), uintptr(unsafe.Pointer(&v[0])), uintptr(len(iov)), uintptr(flags), 0, 0)
	return result(r, e)
}
