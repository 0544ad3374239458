// Command floorhold attaches the tracing-overhead section's floor program
// (an empty tp_btf/sched_switch program, bench.AttachEmptySwitch), says
// "attached" and holds it until SIGINT or SIGTERM, so that a script can
// time any workload with the floor and without it
// (docs/bench/issue13/session7/floor.sh). Needs root.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pipeloop/pipeloop/test/bench"
)

func main() {
	e, err := bench.AttachEmptySwitch()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorhold:", err)
		os.Exit(1)
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	fmt.Println("attached")
	<-c
	if err := e.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "floorhold:", err)
		os.Exit(1)
	}
}
