//go:build linux

package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"
)

// SIGUSR1 asks a running pipeloop for its --stats tables, as it asks dd
// for its counts: they are printed on stderr and pipeloop goes on. It is
// the one signal pipeloop catches that does not end it, and so the one
// a shell pipeline's ending signals (signals.go) leave out; it is not
// passed on to the stages. Ignored at start (SIG_IGN inherited), it stays
// ignored.
//
// notifyStats catches SIGUSR1 from now on, before anything starts, so
// that an early one is served once the relay runs instead of ending
// pipeloop; nil when SIGUSR1 is ignored.
func notifyStats() chan os.Signal {
	if signal.Ignored(syscall.SIGUSR1) {
		return nil
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	return c
}

// startStatsSignal serves the SIGUSR1s notifyStats catches on c.
//
// The tables are formatted on the loop goroutine (the counters live
// there) and written from this goroutine, so a stuck stderr never stalls
// the relay.
func startStatsSignal(v *live, errw io.Writer, c chan os.Signal) (stop func()) {
	if c == nil {
		return func() {}
	}
	quit := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-c:
				var table []byte
				if v.do(func() { table = v.table() }) == nil {
					errw.Write(table) // best effort, as --progress
				}
			case <-quit:
				return
			}
		}
	}()
	return func() {
		// Stay caught until pipeloop exits: a late SIGUSR1 must not end
		// it with the default action. The channel is full or drained;
		// Notify drops what does not fit.
		close(quit)
		<-stopped
	}
}
