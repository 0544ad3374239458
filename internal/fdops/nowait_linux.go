//go:build linux

package fdops

import "golang.org/x/sys/unix"

// The Ops here move bytes on an fd whose open file description is blocking
// and shared with other processes (an inherited stdin or stdout) without
// ever touching the O_NONBLOCK that the others see: each call is
// nonblocking on its own. A pipe or terminal is better served by a private
// description (Reopen); these are for what cannot be reopened.

// SocketOps implements Ops for a socket whose open file description is
// blocking and shared with other processes (an inherited stdin or stdout):
// every call is nonblocking on its own (MSG_DONTWAIT), so the description's
// O_NONBLOCK, which the other processes see, is never touched. Splice
// answers EINVAL — splice(2) on a blocking socket may block whatever its
// flags say — so a link in auto mode copies instead; Vmsplice, which only
// ever targets a pipe, is the plain system call. Its zero value is ready.
type SocketOps struct{}

// dontWait is every SocketOps call's flags: nonblocking, and no SIGPIPE
// (a reader that left is an EPIPE, as on every other path).
const dontWait = unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL

func (SocketOps) Read(fd int, p []byte) (int, error) {
	n, _, err := unix.Recvfrom(fd, p, unix.MSG_DONTWAIT)
	return n, err
}

func (SocketOps) Readv(fd int, iov [][]byte) (int, error) {
	n, _, _, _, err := unix.RecvmsgBuffers(fd, iov, nil, unix.MSG_DONTWAIT)
	return n, err
}

func (SocketOps) Write(fd int, p []byte) (int, error) {
	return unix.SendmsgN(fd, p, nil, nil, dontWait)
}

func (SocketOps) Writev(fd int, iov [][]byte) (int, error) {
	return unix.SendmsgBuffers(fd, iov, nil, nil, dontWait)
}

func (SocketOps) Splice(in, out, n, flags int) (int, error) { return 0, unix.EINVAL }

func (SocketOps) Vmsplice(fd int, iov [][]byte, flags int) (int, error) {
	return Sys{}.Vmsplice(fd, iov, flags)
}

// PipeOps implements Ops for a pipe or FIFO that cannot be reopened (its
// inode belongs to another user, say): reads and writes pass RWF_NOWAIT to
// preadv2/pwritev2, which pipes honour since Linux 6.4. Older kernels
// answer EOPNOTSUPP, and so does a description that splice(2) or
// vmsplice(2) has been used on (they clear its FMODE_NOWAIT): so its
// users copy, never splice. Its zero value is ready.
type PipeOps struct{}

func (PipeOps) Read(fd int, p []byte) (int, error) {
	return unix.Preadv2(fd, [][]byte{p}, -1, unix.RWF_NOWAIT)
}

func (PipeOps) Readv(fd int, iov [][]byte) (int, error) {
	return unix.Preadv2(fd, iov, -1, unix.RWF_NOWAIT)
}

func (PipeOps) Write(fd int, p []byte) (int, error) {
	return unix.Pwritev2(fd, [][]byte{p}, -1, unix.RWF_NOWAIT)
}

func (PipeOps) Writev(fd int, iov [][]byte) (int, error) {
	return unix.Pwritev2(fd, iov, -1, unix.RWF_NOWAIT)
}

func (PipeOps) Splice(in, out, n, flags int) (int, error) { return Sys{}.Splice(in, out, n, flags) }

func (PipeOps) Vmsplice(fd int, iov [][]byte, flags int) (int, error) {
	return Sys{}.Vmsplice(fd, iov, flags)
}
