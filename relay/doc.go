// Package relay moves bytes between file descriptors on a loop.Loop, and
// spawns pipelines of processes joined by relayed pipes.
//
// A Relay belongs to one loop and holds what its links share: the ring
// pool, the epoll registrations (one per fd, shared by the link reading it
// and the link writing it, as for a socket relayed both ways) and the
// default options. A Link pumps one source fd into one sink fd.
//
// # Contract
//
//   - Backpressure: a link reads only while its ring has room and never
//     buffers more than one ring (Options.BufferSize, or LendSize for a
//     lending link) per link. An idle link holds no ring: it takes one from
//     the pool when data arrives and gives it back the moment the ring drains.
//   - Data paths: copy (read/readv into the ring, write/writev out of it)
//     and splice (zero-copy, when at least one end is a pipe). A copying
//     link whose sink is a pipe lends whole ring pages to it with vmsplice
//     instead of writing them (fdops.NewVmspliceRing; off with
//     Options.NoVmsplice, unavailable without transparent huge pages); it
//     holds back a trailing partial page only while the source still has
//     data, so no byte waits for a later event. ModeAuto
//     splices where it can and falls back to copy if the kernel answers
//     EINVAL, without losing or repeating a byte (splice moves nothing when
//     it fails). With Options.URing, a splicing link between two pipes
//     that carries small messages moves them through io_uring instead —
//     a read and the write of what it read, linked, one io_uring_enter per
//     message, the loop sleeping in that enter (uringlink.go) — and goes
//     back to splice when more than a small message is waiting; where
//     io_uring is unavailable links stay on epoll. A link that is alone on
//     its loop (no other link in the ring, no timer) and whose pipes are
//     pipeloop's own descriptions runs that chain in the loop's sleep
//     instead: a nonblocking write and a read(2) that sleeps, through the
//     Go runtime, while a helper goroutine watches the epoll fd and ends
//     the read (O_NONBLOCK, then SIGURG to the loop's thread) when
//     anything else wants the loop (blocking.go).
//   - End of input: the link drains what it holds, then shuts the sink down
//     — close(2) if the link owns it, shutdown(SHUT_WR) for a socket — so
//     the reader sees EOF exactly once.
//   - A sink whose reader went away (EPIPE, ECONNRESET, EPOLLERR on a pipe's
//     write end): the link closes its source too, so the writer upstream gets
//     SIGPIPE/EPIPE as it would in a shell pipeline. Bytes still buffered are
//     counted in LinkStats.Dropped.
//   - Pipe sizes (Options.PipeSize): clamped to /proc/sys/fs/pipe-max-size
//     with one warning (Options.Warn). Without CAP_SYS_RESOURCE or
//     CAP_SYS_ADMIN the kernel charges pipes to the user's budget
//     (pipe-user-pages-soft), shared with every program the user runs: the
//     pipes a pipeline creates then start at the kernel's default, a link
//     that sits full grows its pipes within Options.PipeBudget, and one
//     idle for a second shrinks them back (see pipeSizer).
//   - Stages' stdio: PipelineConfig.Stdin, Stdout and Stderr left unset
//     are /dev/null, as in os/exec, never the daemon's fd 0 (a client's
//     socket under inetd or socket activation); Inherit(fd) hands fd on.
//   - Shutdown: when the loop stops (or on Relay.Close) the relay kills
//     its stages (SIGKILL), closes its links, reaps the stages and waits
//     for transform workers, so OnDone and OnExit run for everything and
//     no process, owned fd or goroutine is left behind.
//   - Any other error ends the link; LinkStats.Err names the endpoint and the
//     failing system call: "stage 2 (gzip -d): write: no space left on device".
//   - Stages: started with the fds they are given as 0, 1 and 2
//     (PipelineConfig.Stdin etc.; Closed leaves one closed) and, as with
//     os/exec, any fd the program holds without close-on-exec (Go opens
//     every fd close-on-exec; fdio.CloexecFrom(3) marks the rest), always
//     SCHED_NORMAL (see loop.Spawning), and killed with SIGKILL if the
//     thread that forked them — the loop thread, or the spawner's with
//     Options.AsyncSpawn — ends, so a pipeloop killed with SIGKILL leaves
//     no stage behind. An executable the kernel
//     cannot run (ENOEXEC) is run with /bin/sh, as execvp(3) does.
//
// # Threading
//
// Everything here runs on the loop goroutine: create links and pipelines
// from a handler, a posted function or before loop.Run, and read their stats
// there too (a posted function is the way in from another goroutine).
// Callbacks (OnDone, OnExit, OnLinkDone) run on the loop goroutine, and
// never inside a call that caused them: Link.Close queues OnDone to run
// after the current callback (Relay.Close alone runs them before it
// returns, as the loop will run nothing later).
// The one exception is a link's Transformer, which runs on that link's
// worker goroutine and must touch nothing of the loop's (see below).
//
// The front door for every other goroutine is Run (a pipeline with an
// io.Reader and io.Writers, waited for as os/exec's Cmd.Run, canceled by
// a context). It is a function, not a method, because every method of
// Relay, Link, Proxy and Pipeline is for the loop goroutine; Run must not
// be called there (it would wait for the loop it blocks). NewProxy joins
// two sockets both ways with one completion.
//
// # Spawning
//
// Go's fork/exec (CLONE_VFORK) holds the forking thread until the child
// has exec'd. On the loop thread that is a stall of every established
// link per stage: with 500 new connections arriving at 1,000/s at `pipeloop
// serve … cat cat` on 2 vCPUs, an established connection's 64-byte echo
// took p50 122 ms, p99 227 ms as the loop fell behind; forking on a
// thread of its own, p50 0.5 ms, p99 8.3 ms, against a floor of 4.3 ms
// for the machine's load alone (at 200/s: p99 9.7 → 2.7 ms, max 61 →
// 6.5 ms; test/bench/cmd/spawnstall, docs/bench/issue12). Options.AsyncSpawn
// forks on a thread of the relay's own instead (see spawner): the loop
// creates the pipes and links, queues the fork and goes on; the stages'
// pids come back through a posted function, and PipelineConfig.OnStart
// runs then. The spawner thread is locked and lives until Relay.Close
// has reaped every stage it forked, as PR_SET_PDEATHSIG requires; Close
// skips the forks still queued (their stages get a StartError wrapping
// os.ErrClosed) and kills those done.
//
// Synchronous spawning stays the default, and is what pipeline mode and
// Run use: one pipeline started before any byte moves stalls nobody,
// and its pids are known when StartPipeline returns (--trace needs them
// before the first byte). `pipeloop serve`, where connections arrive
// while others stream, sets AsyncSpawn; server works either way, calling
// Config.OnStart once the pids are known.
//
// # Peers and transforms
//
// PipelineConfig.In and Out put an fd the loop keeps — typically one
// connected socket for both — in front of stage 1 and behind stage N, so
// a network daemon can run a pipeline per connection: see package server.
// LinkConfig.Transform runs an in-process transform on a worker goroutine
// with a bounded queue of chunks each way (reading, computing and writing
// each on their own thread); a slow transform backs up its own source and
// never the loop.
//
// # Readiness
//
// Every fd is registered once, edge-triggered, for both directions. The
// relay never changes the flags of an fd's open file description, which
// other processes may share (an inherited stdin or stdout): a blocking
// pipe, FIFO or terminal is used through a private nonblocking
// description of the same file, a blocking socket with MSG_DONTWAIT on
// every call (and never spliced). An fd shared by two links — a socket
// that is one link's source and another's sink — is closed once, when
// the last of them is done, if either owns it. A link
// keeps a ready flag per end and moves data until the kernel says EAGAIN,
// which is the invariant loop's edge-triggered mode requires. Files that
// epoll cannot watch (regular files, /dev/null) are always ready. Each pump
// does a bounded amount of work and then yields with loop.RunSoon, so one
// busy link cannot starve the others.
package relay
