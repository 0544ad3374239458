//go:build linux

// Command pipeloop relays bytes between processes through one epoll event
// loop: stdin to stdout, or between the stages of a pipeline it spawns.
package main

import (
	"os"
)

func main() {
	// Signals are not a cancellation here: terminating signals are
	// forwarded to the stages and pipeloop ends as the pipeline did, dying
	// of the signal it received if the stages died of one, so run installs
	// its own handlers instead of NotifyContext.
	err := run(os.Args[1:], stdio{in: 0, out: 1, text: os.Stdout, err: os.Stderr})
	st := exitWith(os.Stderr, err)
	if st.signal != 0 {
		dieOf(st.signal)
	}
	os.Exit(st.code)
}
