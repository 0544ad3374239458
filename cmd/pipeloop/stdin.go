//go:build linux

package main

import (
	"os"
	"syscall"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

// runStdin relays stdin to stdout through one link.
func runStdin(l *loop.Loop, r *relay.Relay, rp *reporter, std stdio, sigs <-chan os.Signal, tr *tracing) error {
	var k *relay.Link
	var linkErr error
	l.Post(func() {
		k, linkErr = r.NewLink(relay.LinkConfig{
			Src:    relay.Endpoint{FD: std.in, Name: "stdin", Owned: true, Shared: true},
			Dst:    relay.Endpoint{FD: std.out, Name: "stdout", Owned: true, Shared: true},
			OnDone: func(*relay.Link) { l.Stop() },
		})
		if linkErr != nil {
			l.Stop()
		}
	})
	fw := newSignalForwarder(sigs)
	go fw.run(l, func(sig syscall.Signal) {
		if k != nil {
			k.Close()
		}
		l.Stop()
	})
	rp.watch(l, func() []relay.LinkStats {
		if k == nil {
			return nil
		}
		return []relay.LinkStats{k.Stats()}
	})
	var st relay.LinkStats
	var loopStats loop.Stats
	err := runLoop(l, func() {
		var final []relay.LinkStats
		if k != nil {
			k.Close()
			st = k.Stats()
			final = append(final, st)
		}
		loopStats = l.Stats()
		rp.stopping(final)
	})
	killedBy := fw.stop()
	switch {
	case linkErr != nil:
		return linkErr
	case err != nil:
		return err
	}
	names := map[int]string{os.Getpid(): "pipeloop"}
	tr.report(std.err, names)
	rp.traced(tr, names)
	code := 0
	switch {
	case killedBy != 0:
		code = 128 + int(killedBy)
	case st.Err != nil:
		code = 1
	case st.SinkClosed:
		code = 128 + int(syscall.SIGPIPE)
	}
	code = rp.finish(code, []relay.LinkStats{st}, nil, loopStats)
	if killedBy != 0 {
		return stagesEnded(code, killedBy) // killed by a signal: die of it
	}
	return stagesEnded(code, 0, st.Err)
}
