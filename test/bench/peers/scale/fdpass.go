package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fdBatch is the fds passed per SCM_RIGHTS message; the kernel takes at
// most SCM_MAX_FD (253) in one.
const fdBatch = 250

// sendFDs passes fds over the SOCK_SEQPACKET socket ctl, fdBatch to a
// message. The sender still holds its copies.
func sendFDs(ctl int, fds []int) error {
	for len(fds) > 0 {
		n := min(len(fds), fdBatch)
		// One byte of data: a message of only ancillary data is not sent.
		if err := unix.Sendmsg(ctl, []byte{'F'}, unix.UnixRights(fds[:n]...), nil, 0); err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		fds = fds[n:]
	}
	return nil
}

// recvFDs receives k fds sent by sendFDs, close-on-exec. On error it
// closes those it got.
func recvFDs(ctl int, k int) (fds []int, err error) {
	fds = make([]int, 0, k)
	defer func() {
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			fds = nil
		}
	}()
	var b [1]byte
	oob := make([]byte, unix.CmsgSpace(fdBatch*4))
	for len(fds) < k {
		n, oobn, flags, _, err := unix.Recvmsg(ctl, b[:], oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fds, os.NewSyscallError("recvmsg", err)
		}
		if n == 0 {
			return fds, fmt.Errorf("generator hung up after %d of %d fds", len(fds), k)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return fds, fmt.Errorf("parse SCM_RIGHTS: %w", err)
		}
		for _, m := range msgs {
			got, err := unix.ParseUnixRights(&m)
			if err != nil {
				return fds, fmt.Errorf("parse SCM_RIGHTS: %w", err)
			}
			fds = append(fds, got...)
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return fds, fmt.Errorf("SCM_RIGHTS truncated after %d fds (RLIMIT_NOFILE?)", len(fds))
		}
	}
	if len(fds) != k {
		return fds, fmt.Errorf("got %d fds, want %d", len(fds), k)
	}
	return fds, nil
}
