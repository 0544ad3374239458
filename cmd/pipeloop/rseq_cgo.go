//go:build linux && cgo

package main

/*
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#endif

// pipeloop_rseq_off unregisters the calling thread's restartable
// sequences area, which glibc (2.35 and later) registers for every thread
// it starts: 0, or the errno. The length must be the one registered: 32
// (glibc's area) or, on a glibc that says otherwise, __rseq_size.
static int pipeloop_rseq_off(void) {
#if defined(RSEQ_SIG) && defined(__NR_rseq)
	if (__rseq_size == 0)
		return ENOENT; // glibc registered none (glibc.pthread.rseq=0)
	void *area = (char *)__builtin_thread_pointer() + __rseq_offset;
	unsigned lens[2] = {32, __rseq_size};
	for (int i = 0; i < 2; i++)
		if (syscall(__NR_rseq, area, lens[i], 1, RSEQ_SIG) == 0) // 1: RSEQ_FLAG_UNREGISTER
			return 0;
	return errno;
#else
	return ENOSYS;
#endif
}
*/
import "C"

import "syscall"

// threadRseqOff unregisters glibc's rseq area of the calling thread, which
// must be locked to it (the loop's).
//
// A cgo build (closedfd_cgo.go) starts its threads through glibc, which
// registers an rseq area for each; the kernel then updates that area
// (__rseq_handle_notify_resume) on every return to user mode after the
// thread was switched or migrated. Go never reads it, and the loop thread
// of a relay is switched in once a message: measured, that update was ~5
// % of a 64-byte message's round trip through two relays
// (docs/bench/issue11/session9). glibc's own reader, sched_getcpu, falls
// back to the system call once the kernel has marked the area
// unregistered. An error leaves the area as it was.
func threadRseqOff() error {
	if e := C.pipeloop_rseq_off(); e != 0 {
		return syscall.Errno(e)
	}
	return nil
}
