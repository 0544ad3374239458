// Command pipeloop relays bytes between processes through one epoll event
// loop: stdin to stdout, or between the stages of a pipeline it spawns.
package main

import (
	"os"
)

func main() {
	// Signals are not a cancellation here: SIGINT, SIGTERM and SIGHUP are
	// forwarded to the stages and pipeloop exits with the pipeline's
	// status, so run installs its own handlers instead of NotifyContext.
	os.Exit(run(os.Args[1:], stdio{in: 0, out: 1, err: os.Stderr}))
}
