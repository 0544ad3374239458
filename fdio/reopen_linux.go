//go:build linux

package fdio

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Reopen returns a new open file description of the file fd refers to,
// opened through /proc/self/fd with the same access mode, O_NONBLOCK and
// O_CLOEXEC (and O_NOCTTY, so a terminal never becomes pipeloop's
// controlling terminal).
//
// It is how pipeloop gets nonblocking I/O on a pipe, FIFO or terminal it
// shares with other processes without touching their view of it:
// O_NONBLOCK belongs to the open file description, so setting it on an
// inherited stdin or stdout would make every other process using that
// description (a shell's other jobs, a second writer into the same pipe)
// see EAGAIN, and a SIGKILL would leave it set. A private description has
// nothing to restore. It does not work for sockets (the kernel answers
// ENXIO): use SocketOps there. For a pipe's write end whose readers have
// all gone, the kernel answers ENXIO too.
//
// Of character devices only terminals are reopened, and not the master
// side of a pseudo-terminal: a new open of a pty master (/dev/ptmx)
// allocates another pty, of /dev/kmsg starts again at the log's oldest
// record, of a tun device makes another interface — another stream, not
// the same one. Reopen answers ErrNotReopenable for those.
//
// The caller owns the returned fd. The new description must refer to the
// same file (same device and inode), else Reopen fails.
func Reopen(fd int) (int, error) {
	if err := reopenable(fd); err != nil {
		return -1, err
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return -1, os.NewSyscallError("fcntl(F_GETFL)", err)
	}
	path := fmt.Sprintf("/proc/self/fd/%d", fd)
	flags := fl&(unix.O_ACCMODE|unix.O_APPEND) | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	nfd, err := unix.Open(path, flags, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var a, b unix.Stat_t
	errA, errB := unix.Fstat(fd, &a), unix.Fstat(nfd, &b)
	if errA != nil || errB != nil || a.Dev != b.Dev || a.Ino != b.Ino || a.Rdev != b.Rdev {
		unix.Close(nfd)
		return -1, &os.PathError{Op: "open", Path: path, Err: unix.ESTALE}
	}
	return nfd, nil
}

// ErrNotReopenable is Reopen's answer for a device whose new open would be
// a different stream (see Reopen).
var ErrNotReopenable = errors.New("a new open of this device would be another stream")

// reopenable refuses the character devices Reopen must not reopen.
func reopenable(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return nil
	}
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil || ptyMaster(uint64(st.Rdev)) { // uint32 on mips
		return ErrNotReopenable
	}
	return nil
}

// ptyMaster reports whether rdev is the master side of a pseudo-terminal:
// /dev/ptmx (5:2, also devpts' own ptmx) or a legacy BSD master (major 2).
func ptyMaster(rdev uint64) bool {
	major, minor := unix.Major(rdev), unix.Minor(rdev)
	return major == 5 && minor == 2 || major == 2
}
