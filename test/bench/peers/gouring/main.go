// Command gouring is crelay/uring.c in Go: one goroutine locked to its
// thread, a 64 KiB buffer, and pipeloop's own minimal io_uring
// (internal/uring, SINGLE_ISSUER|DEFER_TASKRUN). A read of stdin is in
// flight; when it completes with n bytes, one io_uring_enter submits the
// write of those bytes to stdout linked to the next read (the write with
// SkipSuccess, so the enter's wait ends on the read) and waits for it: one
// system call per hop. That enter blocks, so it goes through the runtime
// (entersyscall and exitsyscall), as a Go program's blocking calls do. A
// short write fails the chain (its completion says how much went out, and
// the read is dropped); the rest is resubmitted with a new read.
//
// argv[1] is the setup, for parity with uring.c: only "defer" (the C relay
// also has coop and plain). With "raw" as argv[2] the waiting enter skips
// the runtime (RawSyscall6): the thread sleeps in the kernel without
// telling the runtime, so sysmon never retakes its P (the relay has no
// other goroutine to run; a signal ends the wait and the loop enters
// again).
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/pipeloop/pipeloop/internal/uring"
	"golang.org/x/sys/unix"
)

const (
	tagRead  = 1
	tagWrite = 2
)

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
}

func run(mode string, raw bool) error {
	if mode != "defer" {
		return fmt.Errorf("unknown mode %s (defer; uring.c also has coop and plain)", mode)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := uring.New(4)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	off, end := 0, 0 // buf[off:end] is being written
	queue := func() {
		if off < end {
			r.Write(1, buf[off:end], uring.Link|uring.SkipSuccess, tagWrite)
		}
		r.Read(0, buf, 0, tagRead)
	}
	queue()
	for {
		if err := r.Enter(-1, raw); err != nil && err != unix.EINTR {
			return err
		}
		var failed error
		done := false
		r.Reap(func(tag uint64, res int32) {
			switch {
			case tag == tagWrite && res >= 0: // short: the read was dropped with it
				off += int(res)
				queue()
			case res == -int32(unix.EINTR) || res == -int32(unix.EAGAIN):
				queue() // the chain ran into a signal or came back empty: again
			case res < 0:
				failed = fmt.Errorf("%s: %w", map[uint64]string{tagRead: "read", tagWrite: "write"}[tag], unix.Errno(-res))
			case res == 0:
				done = true
			default: // the read: the write before it went out in full
				off, end = 0, int(res)
				queue()
			}
		})
		if failed != nil || done {
			return failed
		}
	}
}
