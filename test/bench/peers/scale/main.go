// Command scale measures one pipeloop relay serving K independent streams.
//
//	scale -k K -bytes N [-topology echo|pipes] [-mode auto|copy|splice]
//
// The relay is built on pipeloop's loop and relay packages: K links on one
// loop.Loop, which runs on its own locked OS thread. Each stream carries
// N/K bytes, checked at the far end. Two topologies:
//
//   - echo (default): the load generator is a child process, this binary
//     re-executed with PIPELOOP_SCALE_GENERATOR=1. It makes K socketpairs and
//     passes one end of each to the relay process with SCM_RIGHTS. Each link's
//     source and sink are that one socket, so the relay echoes every stream
//     back; the generator writes a pseudo-random pattern, shuts down writing,
//     and compares the echo with the pattern byte for byte up to EOF. The
//     relay process holds 1 fd per stream, so K = 10,000 fits a 20,000-fd
//     limit. Unix sockets cannot be spliced: the links copy.
//   - pipes: in pipe → link → out pipe, with the load generator in the same
//     process on goroutines (Go's netpoller), writing zeros and counting
//     what comes out. 4 fds per stream.
//
// Each topology raises RLIMIT_NOFILE to fit (root may raise the hard limit
// too); where it cannot, it measures the largest K that fits and says so in
// "note".
//
// It prints one JSON object: aggregate GB/s (all bytes / wall time from the
// first write to the last EOF), the loop thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID read on the loop goroutine), the relay process's
// CPU (which includes the generator in the pipes topology), the generator
// process's CPU (echo), and the heap per idle link: HeapAlloc after
// creating K links with no data flowing, minus HeapAlloc before, over K
// (after a GC each time; idle links hold no ring, so this is the link's own
// bookkeeping). Kernel memory (pipes, sockets, epoll entries) is not in it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pipeloop/pipeloop/relay"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	k := fs.Int("k", 100, "number of streams")
	total := fs.Int64("bytes", 256<<20, "bytes over all streams")
	topology := fs.String("topology", TopologyEcho, "echo (generator in a child process, 1 fd per stream) or pipes (4 fds per stream, one process)")
	modeName := fs.String("mode", "auto", "relay mode: auto, copy or splice (splice: pipes only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *k < 1 || *total < int64(*k) {
		return fmt.Errorf("need -k >= 1 and -bytes >= k")
	}
	if os.Getenv(genEnv) != "" {
		return runGenerator(ctx, *k, *total/int64(*k))
	}
	mode, err := relay.ParseMode(*modeName)
	if err != nil {
		return err
	}
	var res Result
	switch *topology {
	case TopologyEcho:
		res, err = measureEcho(ctx, *k, *total, mode)
	case TopologyPipes:
		res, err = measurePipes(ctx, *k, *total, mode)
	default:
		return fmt.Errorf("unknown -topology %q: want %s or %s", *topology, TopologyEcho, TopologyPipes)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
