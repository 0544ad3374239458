// Package faultfd injects faults into the system calls that move a link's
// data. An Injector wraps an fdops.Ops (normally fdops.Sys) and, per call and
// at random from a seeded source, makes it fail with EINTR, answer EAGAIN,
// move fewer bytes than asked, or fail for good with a chosen errno
// (EPIPE, ECONNRESET, ENOSPC…) once enough bytes have passed. It records
// every fault it injected, so a test can say what the relay should have
// done about it.
//
// # What counts as a legitimate fault
//
// Every fault an Injector produces is something the kernel itself can
// answer, so a relay that loses, repeats or hangs under it has a real bug:
//
//   - EINTR: a signal arrived before anything moved. Nothing is
//     transferred (the kernel returns the byte count, not EINTR, once it
//     has moved something).
//   - Short transfers: a nonblocking read, write or splice may move any
//     number of bytes from 1 to the amount asked.
//   - Fatal errnos: the call moves nothing and fails; the condition
//     persists, so every later matching call fails the same way, as a
//     closed reader or a full disk would.
//   - EAGAIN is the delicate one. The kernel answers EAGAIN only when the
//     fd really is empty (or full), and pipeloop registers its fds
//     edge-triggered: after an EAGAIN it waits for the next edge and does
//     not try again before. An EAGAIN injected while data is waiting comes
//     with no later edge — the writer upstream may have written its last
//     byte already — so a correct relay would wait forever. That is not a
//     relay bug but an impossible kernel. An Injector therefore injects
//     EAGAIN only when the test supplies Config.Wake, which must arrange a
//     readiness event for the fd later (the relay tests re-arm the fd's
//     epoll registration with EPOLL_CTL_MOD, which queues an event when
//     the fd is ready — exactly the edge the kernel would have sent).
//     Fds that epoll cannot watch (regular files) never answer EAGAIN and
//     must not get injected EAGAINs either.
//
// Real EAGAINs still reach the relay in every test: tiny pipes, small
// socket buffers and slow readers produce them the honest way.
//
// # Cost
//
// An Injector is for tests. The production path calls fdops.Sys through the
// same Ops interface, so the seam itself costs one interface call per
// system call; BenchmarkSeam measures it.
//
// An Injector is safe for concurrent use, although a relay calls it from
// its loop goroutine only; the lock lets a test read the record at any time.
package faultfd
