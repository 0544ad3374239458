// Package fdio is what a daemon author needs to hand file descriptors to
// pipeloop and size its pipes: pipes created O_CLOEXEC with each end's
// O_NONBLOCK chosen (Pipe), pipe sizing (PipeSize, SetPipeSize) within the
// system's limits (ReadPipeLimits), what kind of file an fd is (KindOf),
// a private nonblocking description of a shared pipe, FIFO or terminal
// (Reopen), and marking inherited fds close-on-exec (CloexecFrom).
//
// Contract:
//   - File descriptors are plain ints. Nothing here wraps them in *os.File:
//     (*os.File).Fd() silently switches a descriptor back to blocking mode.
//   - Nothing here changes a description another process may share, except
//     SetNonblock, which says so.
//   - Errors are *os.SyscallError values naming the system call.
//   - There is no package-level mutable state; every function is safe to
//     call from any goroutine.
//
// The transfer machinery built on these (the system-call seam, rings,
// splice and vmsplice) is internal to pipeloop: internal/fdops.
package fdio
