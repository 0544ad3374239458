//go:build !linux

package fdops

// pipeloop runs on Linux only (epoll, splice, vmsplice, pidfd, eBPF): on
// any other system the build stops here, naming the reason.
var _ = pipeloop_runs_on_linux_only
