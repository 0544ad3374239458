package fdio

import (
	"os"

	"golang.org/x/sys/unix"
)

// Kind is what a file descriptor refers to, as far as moving bytes goes.
type Kind uint8

const (
	KindOther  Kind = iota // character device other than a terminal, etc.
	KindPipe               // pipe or FIFO: pollable, spliceable
	KindSocket             // socket: pollable, shutdown(SHUT_WR) at EOF
	KindFile               // regular file or block device: always ready, not pollable
	KindTTY                // terminal
)

var kindNames = [...]string{"device", "pipe", "socket", "file", "tty"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// KindOf classifies fd with fstat(2).
func KindOf(fd int) (Kind, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return KindOther, os.NewSyscallError("fstat", err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return KindPipe, nil
	case unix.S_IFSOCK:
		return KindSocket, nil
	case unix.S_IFREG, unix.S_IFBLK:
		return KindFile, nil
	case unix.S_IFCHR:
		if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			return KindTTY, nil
		}
	}
	return KindOther, nil
}
