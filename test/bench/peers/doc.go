// Package peers holds the relays that pipeloop is measured against and the
// helper programs of the benchmark. It has no Go code of its own: each
// subdirectory is a main package, and the Python pumps sit beside this file.
//
//   - iocopy: the idiomatic Go relay (io.Copy), in stdin mode and spawn mode.
//   - pingpong: the two ends of the latency benchmark.
//   - goepoll: the minimal Go epoll relay, a latency anchor.
//   - crelay: the minimal C relays, blocking.c and epoll.c, latency anchors
//     that the harness compiles with cc (a directory of C files, no Go).
//   - pump_thread.py: a thread doing blocking reads and writes (the seed's
//     fast Python method).
//   - pump_select.py: select() with O_NONBLOCK, PIPE_BUF-sized or 64 KiB I/O
//     (the seed's slow Python method and its faster variant).
package peers
