//go:build linux

package fdops

import "golang.org/x/sys/unix"

// Ops is the seam through which every data-moving system call passes.
// Implementations must behave like the kernel: return the number of bytes
// moved, and an errno (unix.Errno) on failure. Sys is the real thing.
type Ops interface {
	Read(fd int, p []byte) (int, error)
	Write(fd int, p []byte) (int, error)
	Readv(fd int, iov [][]byte) (int, error)
	Writev(fd int, iov [][]byte) (int, error)
	// Splice moves up to n bytes from in to out; flags as for splice(2).
	Splice(in, out, n, flags int) (int, error)
	// Vmsplice passes the pages of iov to the pipe fd by reference;
	// flags as for vmsplice(2).
	Vmsplice(fd int, iov [][]byte, flags int) (int, error)
}

// Sys implements Ops with the real system calls. Its zero value is ready.
type Sys struct{}

func (Sys) Read(fd int, p []byte) (int, error)       { return unix.Read(fd, p) }
func (Sys) Write(fd int, p []byte) (int, error)      { return unix.Write(fd, p) }
func (Sys) Readv(fd int, iov [][]byte) (int, error)  { return unix.Readv(fd, iov) }
func (Sys) Writev(fd int, iov [][]byte) (int, error) { return unix.Writev(fd, iov) }

func (Sys) Splice(in, out, n, flags int) (int, error) {
	m, err := unix.Splice(in, nil, out, nil, n, flags)
	return int(m), err
}

func (Sys) Vmsplice(fd int, iov [][]byte, flags int) (int, error) {
	var v [2]unix.Iovec
	if len(iov) > len(v) {
		return 0, unix.EINVAL // the ring never passes more than two spans
	}
	for i, p := range iov {
		if len(p) > 0 {
			v[i].Base = &p[0]
			v[i].SetLen(len(p))
		}
	}
	return unix.Vmsplice(fd, v[:len(iov)], flags)
}

// orSys returns ops, or Sys when ops is nil.
func orSys(ops Ops) Ops {
	if ops == nil {
		return Sys{}
	}
	return ops
}
