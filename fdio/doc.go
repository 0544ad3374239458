// Package fdio holds the nonblocking file-descriptor primitives pipeloop is
// built from: pipes created O_NONBLOCK|O_CLOEXEC, pipe sizing
// (F_GETPIPE_SZ/F_SETPIPE_SZ), a ring buffer filled with read/readv and
// drained with write/writev across its wrap, and splice(2) for zero-copy
// moves where one end is a pipe. A vmsplice ring (NewVmspliceRing) is a
// Ring in transparent huge pages drained into a pipe by lending it whole
// pages with vmsplice(2); its invariant is that a lent page is never
// written again — memory is recycled with madvise(MADV_DONTNEED) a huge
// page at a time, never reused in place (see vmsplice_linux.go). Reopen
// and SocketOps give nonblocking I/O on a blocking fd shared with other
// processes without changing the description they share.
//
// Contract:
//   - File descriptors are plain ints. Nothing here wraps them in *os.File:
//     (*os.File).Fd() silently switches a descriptor back to blocking mode.
//   - Every I/O call goes through an Ops value. Sys is the real system-call
//     implementation; tests substitute their own to inject faults
//     (EAGAIN, EINTR, short transfers, EPIPE, ENOSPC…). There is no
//     package-level mutable state.
//   - EINTR is retried inside the helpers. EAGAIN is returned to the caller
//     unchanged (errors.Is(err, unix.EAGAIN)) together with the bytes moved
//     before it, so a partial transfer is never lost or counted twice.
//   - End of file is reported as (0, io.EOF).
//   - Errors are *os.SyscallError values naming the system call.
//
// A Ring is not safe for concurrent use; a RingPool neither: both belong
// to the one goroutine running an event loop.
package fdio
