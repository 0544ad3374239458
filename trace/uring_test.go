//go:build linux

package trace_test

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"github.com/pipeloop/pipeloop/internal/uring"
)

// iosqeAsync is IOSQE_ASYNC (include/uapi/linux/io_uring.h): the request
// goes straight to an io_uring worker thread. On a pipe (a pollable file)
// the worker tries it without blocking and arms a poll, and the submitter
// completes it (Linux 6.18, io_wq_submit_work): the worker sleeps idle.
const iosqeAsync = 1 << 4

// childUringer relays stdin to stdout, reading through an io_uring and
// waiting for each read's completion in io_uring_enter (raw, so no other
// runtime thread takes its place). With async, every read is handed to an
// io_uring worker (IOSQE_ASYNC), the first of them, the wait for the
// start (fd 3), before the child reports ready: if the tracer watches it
// then, the worker exists at attach, with registers copied from its
// creator's io_uring_enter.
func childUringer(async bool) int {
	runtime.LockOSThread() // the ring's one issuer (SINGLE_ISSUER)
	r, err := uring.New(4)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uring:", err)
		return 1
	}
	var flags uint8
	if async {
		flags = iosqeAsync
	}
	// await waits for the completion of the read queued of fd into p,
	// queueing it again after a spurious failure.
	await := func(fd int, p []byte, raw bool) (int, error) {
		for {
			if err := r.Enter(-1, raw); err != nil && err != syscall.EINTR {
				return 0, err
			}
			res, got := int32(0), false
			r.Reap(func(_ uint64, n int32) { res, got = n, true })
			switch {
			case !got:
			case res == -int32(syscall.EINTR) || res == -int32(syscall.EAGAIN):
				r.Read(fd, p, flags, 1)
			case res < 0:
				return 0, syscall.Errno(-res)
			default:
				return int(res), nil
			}
		}
	}
	// The start (fd 3 reaches EOF), read through the ring: submitted (and
	// with async, its worker created) before this child reports ready.
	var one [1]byte
	r.Read(3, one[:], flags, 1)
	if err := r.Enter(0, true); err != nil {
		fmt.Fprintln(os.Stderr, "io_uring_enter:", err)
		return 1
	}
	syscall.Write(4, one[:])
	syscall.Close(4)
	// Not raw: sysmon's preemption signals would end a raw wait every
	// ~20 ms, and the test watches this one as a wait in progress.
	if _, err := await(3, one[:], false); err != nil {
		fmt.Fprintln(os.Stderr, "io_uring read fd 3:", err)
		return 1
	}
	m := startMeter()
	return copyOut(m, make([]byte, blockSize),
		func(p []byte) (int, error) {
			r.Read(0, p, flags, 1)
			return await(0, p, true)
		},
		func(p []byte) (int, error) { return syscall.Write(1, p) })
}
