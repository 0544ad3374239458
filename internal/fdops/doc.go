// Package fdops holds the nonblocking transfer machinery the relay is built
// from: the system-call seam (Ops: Sys, Raw, PipeOps, SocketOps), a ring
// buffer filled with read/readv and drained with write/writev across its
// wrap, and splice(2) for zero-copy moves where one end is a pipe. A
// vmsplice ring (NewVmspliceRing) is a Ring in transparent huge pages
// drained into a pipe by lending it whole pages with vmsplice(2); its
// invariant is that a lent page is never written again — memory is
// recycled with madvise(MADV_DONTNEED) a huge page at a time, never reused
// in place (see vmsplice_linux.go).
//
// It is internal so the seam stays an implementation detail: the public
// fd helpers a daemon author uses are in package fdio.
//
// Contract:
//   - File descriptors are plain ints, never *os.File.
//   - Every I/O call goes through an Ops value. Sys is the real system-call
//     implementation; Raw skips the runtime's blocking-call path and is
//     only for fds that cannot block; PipeOps and SocketOps are nonblocking
//     per call (RWF_NOWAIT, MSG_DONTWAIT) on descriptions pipeloop shares.
//     Tests substitute their own Ops to inject faults (internal/faultfd).
//     There is no package-level mutable state.
//   - EINTR is retried inside the helpers. EAGAIN is returned to the caller
//     unchanged (errors.Is(err, unix.EAGAIN)) together with the bytes moved
//     before it, so a partial transfer is never lost or counted twice.
//   - End of file is reported as (0, io.EOF).
//   - Errors are *os.SyscallError values naming the system call.
//
// A Ring is not safe for concurrent use; a RingPool neither: both belong
// to the one goroutine running an event loop.
package fdops
