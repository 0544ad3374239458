// Command goepoll is the floor of a Go event-loop relay, the design pipeloop
// is built on without any of pipeloop: one goroutine locked to its thread,
// level-triggered epoll, stdin and stdout O_NONBLOCK, a 64 KiB buffer and
// partial writes, through golang.org/x/sys/unix (so every system call goes
// through the runtime's entersyscall/exitsyscall, as pipeloop's do). It is
// crelay/epoll.c line for line.
package main

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "goepoll:", err)
		os.Exit(1)
	}
}

func run() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, fd := range []int{0, 1} {
		if err := unix.SetNonblock(fd, true); err != nil {
			return os.NewSyscallError("fcntl", err)
		}
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	watch := func(op, fd int, ev uint32) error {
		e := unix.EpollEvent{Events: ev, Fd: int32(fd)}
		return os.NewSyscallError("epoll_ctl", unix.EpollCtl(ep, op, fd, &e))
	}
	if err := watch(unix.EPOLL_CTL_ADD, 0, unix.EPOLLIN); err != nil {
		return err
	}
	if err := watch(unix.EPOLL_CTL_ADD, 1, 0); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	head, tail := 0, 0 // buf[head:tail] waits to be written
	eof, draining := false, false
	var evs [2]unix.EpollEvent
	for {
		_, err := unix.EpollWait(ep, evs[:], -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("epoll_wait", err)
		}
		if head == tail && !eof {
			n, err := unix.Read(0, buf)
			switch {
			case n > 0:
				head, tail = 0, n
			case err == nil:
				eof = true
			case err != unix.EAGAIN && err != unix.EINTR:
				return os.NewSyscallError("read", err)
			}
		}
		for head < tail {
			n, err := unix.Write(1, buf[head:tail])
			if err == unix.EAGAIN || err == unix.EINTR {
				break
			}
			if err != nil {
				return os.NewSyscallError("write", err)
			}
			head += n
		}
		if head == tail && eof {
			return nil
		}
		// Level-triggered: wait on exactly one end, and tell epoll only
		// when that end changes.
		if draining != (head < tail) {
			draining = head < tail
			in, out := uint32(unix.EPOLLIN), uint32(0)
			if draining {
				in, out = 0, unix.EPOLLOUT
			}
			if err := watch(unix.EPOLL_CTL_MOD, 0, in); err != nil {
				return err
			}
			if err := watch(unix.EPOLL_CTL_MOD, 1, out); err != nil {
				return err
			}
		}
	}
}
