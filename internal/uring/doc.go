// Package uring is the little of io_uring(7) that pipeloop uses: one ring
// per loop thread, set up with IORING_SETUP_SINGLE_ISSUER and
// IORING_SETUP_DEFER_TASKRUN where the kernel has them, reads, writes,
// polls and cancels, and one io_uring_enter that submits what is queued
// and waits for a completion.
//
// # Contract
//
//   - One owner: a Ring is used by one goroutine locked to one OS thread
//     (SINGLE_ISSUER: every submit must come from the thread that made the
//     ring, and with DEFER_TASKRUN completions are only posted while that
//     thread waits in Enter).
//   - Memory: a read or write names Go memory by address. The caller keeps
//     that memory reachable, and does not reuse it, until the request's
//     completion has been seen (Reap) — a canceled request too: cancel is a
//     request like any other, and the canceled one still completes, with
//     -ECANCELED or with its result if it had already run.
//   - Close cancels what is in flight and waits for every completion
//     before it unmaps the rings (Drain), so no request outlives the
//     memory it names; if they do not complete it keeps the ring.
//   - Room: queue requests only after Reserve said there is room for them
//     (a chain is reserved whole, so it is never half queued).
//   - Errors name the system call: "io_uring_setup: operation not
//     permitted" where io_uring is disabled (sysctl kernel.io_uring_disabled,
//     seccomp); callers fall back to epoll.
package uring
