//go:build linux

package fdio

import "golang.org/x/sys/unix"

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
