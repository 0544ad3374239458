// Command scale measures one pipeloop relay serving K independent streams.
//
//	scale -k K -bytes N [-mode auto|copy|splice]
//
// One process, built on pipeloop's loop and relay packages: K links, each
// from its own input pipe to its own output pipe, on one loop.Loop, which
// runs on its own locked OS thread. The load generator lives in the same
// process on other goroutines: for each stream one goroutine writes N/K
// bytes into the input pipe and one reads the output pipe to EOF (through
// Go's netpoller). So the process holds 4 fds per stream; it raises
// RLIMIT_NOFILE to fit (root may raise the hard limit too); where it cannot,
// it measures the largest K that fits and says so in "note".
//
// It prints one JSON object: aggregate GB/s (all bytes / wall time from the
// first write to the last EOF), the loop thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID read on the loop goroutine), the whole process's
// CPU (load generator included), and the heap per idle link: HeapAlloc after
// creating K links with no data flowing, minus HeapAlloc before, over K
// (after a GC each time; idle links hold no ring, so this is the link's own
// bookkeeping). Kernel memory (pipes, epoll entries) is not in it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
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
	mode := fs.String("mode", "auto", "relay mode: auto, copy or splice")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *k < 1 || *total < int64(*k) {
		return fmt.Errorf("need -k >= 1 and -bytes >= k")
	}
	res, err := measure(ctx, *k, *total, *mode)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
