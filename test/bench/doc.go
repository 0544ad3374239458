// Package bench is the pipeloop benchmark harness: it measures pipeloop
// against a direct pipe, against other relays (dd, Python pumps modelled on
// the seed question, Go's io.Copy, pv, socat, mbuffer) and reports the
// results as Markdown, JSON and a chart.
//
// Throughput: every cell moves a fixed volume from `dd if=/dev/zero bs=B` to
// `dd of=/dev/null bs=B` through one method in the middle. The whole pipeline
// runs as `[taskset -c 0] sh -c SCRIPT`, a child of the harness, so the
// child's rusage (wait4 includes every reaped descendant) is the CPU time of
// every process in the pipeline. The middle process runs under a wrapper (the
// harness binary re-executed with WrapEnv set) that waits for it and records
// its own rusage: peak RSS (ru_maxrss of the middle and its reaped children)
// and CPU. The consumer dd's byte count is checked against the volume sent.
//
// Methods are interleaved round by round (A B C A B C …) within each block
// size, unpinned and pinned alternating inside a round, so slow drift on a
// shared machine spreads over all methods alike.
//
// Latency: 64-byte ping-pong between two processes over two pipes, either
// directly or with one relay instance of the method on each direction.
//
// Scale: one process on pipeloop's relay package serving K streams at once
// (peers/scale), for aggregate GB/s, CPU per GB and heap per idle link; each
// stream is a socket echoed back to a load generator in a child process, so
// the relay holds 1 fd per stream.
//
// Serve mode: `pipeloop serve … cat` against `socat TCP-LISTEN:…,fork
// EXEC:cat` on loopback, a fresh server per cell: short connections per
// second (8 clients, 64 bytes each, half-close, echo checked) and one bulk
// connection's echo (SHA-256 checked), with the servers' CPU from wait4.
//
// Targets: the performance targets of issue 3 are evaluated from the same
// run and reported as PASS or MISS with their margin, or, in a run too
// small to judge (fewer than 3 throughput rounds of 128 MiB at every block
// from 4K, or fewer than 20,000 latency round trips: make bench-smoke), as
// "too small to judge" with the ratio but no verdict.
//
// Run, the entry point, is not safe for concurrent use with itself: cells
// run one at a time by design.
package bench
