// Package trace measures pipe stalls with eBPF: which watched process
// waited on a full or an empty pipe (or in epoll/poll/select, or for
// io_uring completions), on which pipe, how often and for how long.
//
// # Use
//
//	t, err := trace.New(trace.Options{FollowChildren: true})
//	if err != nil { ... }            // one line, e.g. "trace: needs root or CAP_BPF+CAP_PERFMON (running as uid 1000)"
//	defer t.Close()
//	t.Watch(os.Getpid())             // before spawning, so children are followed
//	... run the pipeline ...
//	r, err := t.Snapshot()
//	r.WriteTable(os.Stderr, names)   // or r.JSON(names), r.ByProcess()
//
// Command.Run is `pipeloop trace --pid PID[,PID...]
// [--follow-children] [--duration D] [--json]` once cmd/pipeloop has
// parsed those flags into a Command.
//
// # Requirements
//
// Root, or CAP_BPF plus CAP_PERFMON (CAP_SYS_ADMIN also does); Linux 5.15
// or later with BTF (/sys/kernel/btf/vmlinux); linux/amd64. tracefs,
// kprobes and fentry are not needed: the program attaches to BTF
// tracepoints (tp_btf) only. Check reports the first missing requirement
// without loading anything. Errors from Check and New are a single line and
// wrap ErrPermission (which wraps os.ErrPermission) or ErrUnsupported
// (which wraps errors.ErrUnsupported), so errors.Is works. On other
// platforms the package builds and New returns ErrUnsupported.
//
// # What is measured
//
// A wait is the time a thread of a watched process spends off CPU after
// going to sleep interruptibly (not preempted) inside one of:
//
//	DirRead   read, readv, preadv2 on a pipe or FIFO; splice/tee from an
//	          empty pipe; vmsplice on a read end
//	DirWrite  write, writev, pwritev2 on a pipe or FIFO; splice/tee/
//	          sendfile into a pipe (into a full one, if the other file is
//	          not a pipe); vmsplice on a write end
//	DirPoll   epoll_wait, epoll_pwait, epoll_pwait2, poll, ppoll, select,
//	          pselect6; io_uring_enter with IORING_ENTER_GETEVENTS (no
//	          pipe: Inode 0)
//
// A splice between a pipe and another file (a socket) that waits on the
// other file is not a pipe stall and is not measured, nor is a sleep in
// open(2) of a FIFO waiting for its other end, nor the rest of a poll(2)
// the kernel resumes after a stop or a ptrace attach (restart_syscall:
// its registers no longer name poll).
//
// An io_uring worker thread (iou-wrk-*, iou-sqp-*: PF_IO_WORKER) is never
// measured: its saved registers are a copy of its creator's, not a
// syscall it is in (idle, it would look like a second thread in
// io_uring_enter), and a request it blocks in is not read. The thread
// that submitted the request waits for its completion in io_uring_enter,
// which is measured.
//
// It runs from the context switch away from the thread to the switch
// back, so it includes the scheduler delay after the wakeup; that delay,
// from the wakeup's enqueue to the switch back, is also summed apart as
// the scheduler itself measures it (run queue clock minus
// sched_info.last_queued, what /proc/PID/schedstat adds to run_delay) as
// Record.Runnable (woken, waiting for a CPU rather than for the pipe). A blocking
// call that sleeps several times (a 64 KiB write into a pipe being drained
// in pages) counts several waits. The time is summed per (process, pipe
// inode, direction) into a Record with count, total, max and a log2
// histogram. Pipe inodes match "pipe:[N]" in /proc/PID/fd. Times are
// summed over a process's threads, so a multi-threaded process can wait
// more than 100% of the wall time; in a Go program, idle runtime threads
// parked in the netpoller count as DirPoll.
//
// Invariants and limits:
//   - Only watched processes are recorded: those passed to Watch and, with
//     FollowChildren, processes they fork once watched (not those forked
//     before Watch). A process leaves the watched set when its last thread
//     exits, so a reused pid is not watched; its records stay in later
//     snapshots. A zombie or an exiting process given to Watch (its
//     threads all past PF_EXITING, procfs.go) is not added, and Watched
//     drops any process found dead, so Command.Run ends when none is left.
//   - A wait still in progress at Snapshot counts as if it ended then (it
//     is read from task storage by pidfd; before Linux 6.9, only for
//     thread group leaders). A wait ending while Snapshot reads the maps
//     may be missed by that snapshot, never counted twice.
//   - A wait ends at the switch back to its thread. Not every switch
//     reaches the tracepoint's programs (in a Firecracker sandbox, a switch
//     away from one of the sandbox's own threads never does): a wait whose
//     switch back was missed ends at the thread's last arrival on a CPU
//     (sched_info.last_arrival), recorded at its next switch seen or at its
//     exit, never lost. Until then Snapshot counts it as in progress.
//   - A wait already in progress when Watch adds its process (found from
//     /proc/PID/task/TID/syscall, stat and wchan, see attach.go) is
//     counted from that moment, marked in Record.AtAttach, "*" in the
//     table and at_attach in JSON. Its time before attach is unknown.
//   - Report.Procs keeps each watched process's parent (for a followed
//     child), name after its latest exec, and when its traced life began
//     and ended. WriteTable and JSON label a descendant of a labelled
//     process "stage 2 (sh) › cat" and list it under that stage.
//   - Records accumulate from New until Close; Snapshot does not reset.
//   - A record's key is (tgid, pipe inode number, direction), with no
//     device: FIFOs on two filesystems with the same inode number share a
//     record (pipes share one filesystem, pipefs). With FollowChildren, a
//     pid the kernel reuses for a new watched child during the trace adds
//     to the first process's records and replaces its name and life.
//   - Max may miss a value when two threads of one process end waits on the
//     same pipe at the same instant (counts and totals are atomic).
//   - The syscall is read from the thread's saved user registers: a sleep
//     that is not in a syscall (an interruptible page fault wait) could in
//     theory be misread; the fd must still resolve to a pipe.
//   - The program runs on every context switch of the machine while a
//     Tracer is open. A watched thread is one with a wait element in task
//     storage (track.go); a switch of tasks without any task storage costs
//     two loads from the tasks being switched before it returns; only
//     watched threads read the clock (once per switch), task storage and
//     their registers. There is no wakeup program. scripts/trace-bpf-stats.sh measures the cost per switch
//     (kernel.bpf_stats_enabled) and docs/trace-accuracy.md quotes it with
//     the end-to-end overhead.
//   - At most Options.MaxProcesses watched processes (default 4096) and
//     Options.MaxRecords (process, pipe, direction) records (default
//     16384). Watch past the first fails with ErrLimit; a child forked
//     past it, or a wait ending on a new key past the second, is counted
//     in Report.Dropped, which the table and JSON print. Nothing is lost
//     without a count. `pipeloop trace` sizes the process limit from the
//     number of --pid values (plus 65536 with --follow-children).
//
// A Tracer is safe for concurrent use. Close detaches everything; later
// calls return ErrClosed.
//
// # Files
//
// stall.bpf.c is the BPF program (C, //go:build ignore), with the kernel
// types it reads in stall_kernel.h, which tasks it watches in
// stall_watch.h, the syscall classification in
// stall_classify.h, the clocks of a wait in stall_clock.h and its
// recording in stall_record.h; track.go says which threads it watches
// and attach.go how waits in progress at attach are seeded. gen.go runs
// bpf2go to compile it into stall_x86_bpfel.o and the Go bindings in
// stall_x86_bpfel.go; both are committed, so building needs no clang.
// `go generate ./trace` (make generate) needs clang, llvm-strip and the
// libbpf headers (Debian: clang llvm libbpf-dev).
package trace
