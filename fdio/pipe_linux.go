package fdio

import (
	"os"

	"golang.org/x/sys/unix"
)

// PipeBuf is PIPE_BUF on Linux: writes of at most this many bytes to a pipe
// are atomic. A Ring must be strictly larger.
const PipeBuf = 4096

// Pipe returns a new pipe (read end, write end). Both ends are close-on-exec.
// Each end is its own open file description, so nonblockR and nonblockW set
// O_NONBLOCK independently: pipeloop keeps its own end nonblocking and hands
// the other, blocking, to a child process.
func Pipe(nonblockR, nonblockW bool) (r, w int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, -1, os.NewSyscallError("pipe2", err)
	}
	for i, nb := range [2]bool{nonblockR, nonblockW} {
		if !nb {
			continue
		}
		if err := SetNonblock(p[i], true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return -1, -1, err
		}
	}
	return p[0], p[1], nil
}

// SetNonblock sets or clears O_NONBLOCK on fd's open file description,
// which every process holding the description shares (see Reopen).
func SetNonblock(fd int, nonblocking bool) error {
	if err := unix.SetNonblock(fd, nonblocking); err != nil {
		return os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return nil
}

// IsNonblock reports whether O_NONBLOCK is set on fd.
func IsNonblock(fd int) (bool, error) {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return false, os.NewSyscallError("fcntl(F_GETFL)", err)
	}
	return fl&unix.O_NONBLOCK != 0, nil
}

// PipeSize returns the capacity of the pipe fd (F_GETPIPE_SZ).
func PipeSize(fd int) (int, error) {
	n, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		return 0, os.NewSyscallError("fcntl(F_GETPIPE_SZ)", err)
	}
	return n, nil
}

// SetPipeSize asks the kernel to resize the pipe fd to at least size bytes
// (F_SETPIPE_SZ) and returns the capacity it got, which the kernel rounds
// up to a power-of-two number of pages. Without CAP_SYS_RESOURCE the size is
// capped by /proc/sys/fs/pipe-max-size and the per-user page budget; EPERM
// then means "keep the current size", which callers may treat as advisory.
func SetPipeSize(fd, size int) (int, error) {
	n, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, size)
	if err != nil {
		return 0, os.NewSyscallError("fcntl(F_SETPIPE_SZ)", err)
	}
	return n, nil
}
