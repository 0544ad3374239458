//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

// stdio are the descriptors pipeloop works on, and the writers it
// prints on: text (help, version, trace's report) and err.
type stdio struct {
	in, out   int
	text, err io.Writer
}

// run is the whole program. It returns nil when pipeloop should exit 0,
// else an error carrying the exit status (see exitWith).
func run(args []string, std stdio) error {
	if len(args) > 0 && args[0] == "serve" {
		return runServe(args[1:], std)
	}
	if len(args) > 0 && args[0] == "ctl" {
		return runCtl(args[1:], std)
	}
	if len(args) > 0 && args[0] == "trace" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer stop()
		return runTrace(ctx, args[1:], std)
	}
	return runRelay(args, std)
}

// runRelay is stdin mode and pipeline mode.
func runRelay(args []string, std stdio) error {
	o, err := parseFlags(args)
	if done, err := parsed(err, "pipeloop", usage, std); done {
		return err
	}
	if o.version {
		_, err := fmt.Fprintf(std.text, "pipeloop %s\n", version)
		return err
	}
	stages, err := parseStages(&o.relayFlags)
	if err != nil {
		return failure("pipeloop", 2, err)
	}

	// A stdin or stdout closed at exec is reported as a shell would; in
	// pipeline mode the end stage gets it closed, as in a shell, and
	// reports it itself.
	for _, end := range []struct {
		fd   *int
		name string
	}{{&std.in, "stdin"}, {&std.out, "stdout"}} {
		if !closedAtExec(*end.fd) {
			continue
		}
		if len(stages) == 0 {
			return fmt.Errorf("%s: Bad file descriptor", end.name)
		}
		*end.fd = relay.Closed
	}

	// Stages get exactly fds 0, 1 and 2, never what pipeloop inherited.
	if err := fdio.CloexecFrom(3); err != nil {
		return err
	}

	// pipeloop must not die of SIGPIPE: it sees EPIPE and handles it. A
	// handler (not SIG_IGN) is used so that exec resets it to the default
	// in the stages, which then die of SIGPIPE as in a shell pipeline.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	sigs := make(chan os.Signal, 4)
	notifyTerminating(sigs)
	defer signal.Stop(sigs)

	rp, err := newReporter(o, std)
	if err != nil {
		return failure("pipeloop", 2, err)
	}

	// Raw sleeps (loop.Options.RawWait): the relay's other goroutines
	// (signals, --progress) tolerate ~20 ms of delay on one P; serve's
	// metrics and logs keep the runtime's path.
	l, err := loop.New(loop.Options{BusyPoll: o.busyPoll, Sched: o.sched, RawWait: true})
	if err != nil {
		return err
	}
	ropts := o.relayOptions()
	o.pvFlags.apply(&ropts)
	ropts.Warn = func(msg string) { fmt.Fprintf(std.err, "pipeloop: %s\n", msg) }
	r, err := relay.New(l, ropts)
	if err != nil {
		l.Close()
		return failure("pipeloop", 2, err)
	}
	if size := r.PipeSize(); size > 0 {
		sizeStdPipes(std, size) // clamped to pipe-max-size
	}
	tr := startTracing(o.trace, std.err) // before any stage is spawned
	defer tr.close()
	if len(stages) == 0 {
		return runStdin(l, r, rp, std, sigs, tr)
	}
	return runPipeline(l, r, rp, stages, std, sigs, tr, o.killGrace)
}

// pipeSizeOpt maps the flag (0 = keep the kernel's) to relay.Options.
func pipeSizeOpt(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// sizeStdPipes grows pipeloop's own stdin and stdout when they are pipes.
// It is advisory: without privilege the kernel may refuse.
func sizeStdPipes(std stdio, size int) {
	for _, fd := range []int{std.in, std.out} {
		if k, err := fdio.KindOf(fd); err == nil && k == fdio.KindPipe {
			if cur, err := fdio.PipeSize(fd); err == nil && cur < size {
				fdio.SetPipeSize(fd, size)
			}
		}
	}
}

// forward delivers signals to fn on the loop goroutine until done closes.
func forward(l *loop.Loop, sigs <-chan os.Signal, done <-chan struct{}, fn func(syscall.Signal)) {
	for {
		select {
		case s := <-sigs:
			sig := s.(syscall.Signal)
			l.Post(func() { fn(sig) })
		case <-done:
			return
		}
	}
}

// runPipeline spawns the stages and relays between them.
//
// A terminating signal is passed on to the stages (see ownGroups for how
// far it reaches), SIGTERM with SIGKILL killGrace later for stages that
// outlive it, and pipeloop waits for the stages to end. Then, as bash
// does with a foreground job, the stages decide: if they died of a signal,
// pipeloop dies of the one it received (dieOf); if they handled it and
// exited, their status is pipeloop's.
func runPipeline(l *loop.Loop, r *relay.Relay, rp *reporter, stages []relay.Stage, std stdio, sigs <-chan os.Signal, tr *tracing, killGrace time.Duration) error {
	term := controllingTerminal()
	groups := ownGroups(term)
	var p *relay.Pipeline
	var startErr error
	l.Post(func() {
		p, startErr = r.StartPipeline(relay.PipelineConfig{
			Stages: stages, Stdin: relay.Inherit(std.in), Stdout: relay.Inherit(std.out), Stderr: relay.Inherit(2),
			ProcessGroups: groups, SignalDescendants: !groups,
			OnExit: func(*relay.Pipeline) { l.Stop() },
		})
		if startErr != nil {
			l.Stop()
			return
		}
		tr.noteStages(p)
	})
	fw := newSignalForwarder(sigs)
	var escalation *loop.Timer
	go fw.run(l, func(sig syscall.Signal) {
		if p == nil {
			return
		}
		if !groups && (sig == syscall.SIGINT || sig == syscall.SIGQUIT) && term.foreground() {
			return // the terminal sent it to every stage already
		}
		p.Signal(sig)
		if sig == syscall.SIGTERM && escalation == nil {
			escalation = l.AfterFunc(killGrace, func() { p.Signal(syscall.SIGKILL) })
		}
	})
	linkStats := func() []relay.LinkStats {
		var stats []relay.LinkStats
		if p != nil {
			for _, k := range p.Links() {
				stats = append(stats, k.Stats())
			}
		}
		return stats
	}
	rp.watch(l, linkStats)
	lv := startLive(&live{l: l, links: func() []*relay.Link { return pipelineLinks(p) },
		stages: func() []*relay.StageResult { return pipelineStages(p) }}, rp)
	defer lv.stop()
	var stats []relay.LinkStats
	var loopStats loop.Stats
	l.Post(func() {}) // ensure the loop wakes even if the pipeline ended at once
	err := runLoop(l, func() {
		stats = linkStats()
		loopStats = l.Stats()
		rp.stopping(stats)
	})
	got := fw.stop()
	if startErr != nil {
		var se *relay.StartError
		if errors.As(startErr, &se) {
			return failure("pipeloop", se.Code, startErr)
		}
		return startErr
	}
	if err != nil {
		p.Signal(syscall.SIGKILL)
		return err
	}
	names := stageNames(p)
	tr.report(std.err, names)
	rp.traced(tr, names)
	code := p.ExitCode()
	if dead := syscall.Signal(code - 128); got == 0 && code > 128 && catches(dead) && fw.await(dead, signalInFlight) {
		got = dead
	}
	code = rp.finish(code, stats, p.Stages(), loopStats)
	if got == 0 || code <= 128 {
		got = 0
	}
	return stagesEnded(code, got, p.Errors()...)
}

// signalInFlight is how long pipeloop waits, once the stages died of a
// signal it catches, for that signal to reach it too (see
// signalForwarder): it is most likely on its way, as when the terminal's
// ^C ends the stages and pipeloop at once.
const signalInFlight = 100 * time.Millisecond

// runLoop runs l until it stops; before returns is called on the loop
// goroutine just before Run returns, to collect what needs collecting.
func runLoop(l *loop.Loop, before func()) error {
	l.OnStop(before)
	l.Post(func() { threadRseqOff() }) // on the loop's thread; a failure costs only speed
	return l.Run(context.Background())
}
