//go:build linux

package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"syscall"
)

// RunConfig is a pipeline for Run: os/exec's Cmd, for a pipeline of
// stages served by the loop.
type RunConfig struct {
	Stages []Stage
	// Stdin is what stage 1 reads; nil is /dev/null. An *os.File or a
	// syscall.Conn (a net.Conn) is relayed by the loop from a duplicate
	// of its fd, with no goroutine; any other Reader is copied into a
	// pipe by a goroutine, as os/exec does.
	Stdin io.Reader
	// Stdout receives stage N's output, Stderr every stage's stderr; nil
	// is /dev/null. Stdout is bridged as Stdin is; a socket as Stdout is
	// shut down for writing after the last byte, so its peer sees end of
	// file. Stderr, when it is an fd in blocking mode (os.Stderr), is
	// handed to the stages as it is; otherwise a goroutine copies it.
	// When Stdout and Stderr are the same Writer (os/exec's
	// CombinedOutput), one goroutine writes it, as in os/exec.
	Stdout, Stderr io.Writer
	Env            []string // nil: the process's environment
	Dir            string
}

// Result is what became of a pipeline Run ran. Everything in it is a copy,
// safe to use from any goroutine.
type Result struct {
	ExitCode int           // as Pipeline.ExitCode: bash's pipefail status
	Stages   []StageResult // in order
	In, Out  LinkStats     // Stdin → stage 1 and stage N → Stdout; zero when nil
	Links    []LinkStats   // Links[i] joins stage i+1 to stage i+2
	Errors   []error       // as Pipeline.Errors
}

// ErrStdoutClosed is wrapped by Run's error when Stdout's reader went away
// before the pipeline's output ended: the last stage then dies of SIGPIPE,
// which Pipeline.ExitCode does not count, but the output never arrived.
var ErrStdoutClosed = errors.New("stdout's reader went away before the output ended")

// ExitError is Run's error for a pipeline that ran and failed: a non-zero
// ExitCode, or a link's error.
type ExitError struct {
	Pipeline string // "sort | uniq -c"
	Code     int
	Errors   []error // the links' errors, if any
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("%s: exit status %d", e.Pipeline, e.Code)
	for _, err := range e.Errors {
		s += "; " + err.Error()
	}
	return s
}

// Run starts a pipeline on r's loop and waits for it to finish, like
// os/exec's Cmd.Run. Unlike every method of Relay, it is called from any
// goroutine except the loop's (it blocks until the loop has done the
// work); that is why it is a function and not a method. It is the front
// door for code that is not an event handler — an http.Handler, a worker
// goroutine — while the stages, the pipes between them and the bytes
// through them are still served by the one loop thread:
//
//	res, err := relay.Run(req.Context(), r, relay.RunConfig{
//		Stages: []relay.Stage{{Args: []string{"sort"}}, {Args: []string{"uniq", "-c"}}},
//		Stdin:  req.Body, Stdout: w,
//	})
//
// When ctx ends before the loop started the pipeline (a loop not running
// yet, or busy), it is never started and Run returns ctx's error at once.
// When ctx ends before the pipeline, every stage's process group is sent
// SIGKILL (stages run with PipelineConfig.ProcessGroups, so what they
// started goes too), as exec.CommandContext kills its process, and Run
// returns once everything is reaped with an error wrapping ctx's.
//
// Run returns only when no stage runs, no fd it opened is open and no
// goroutine it started is left: like os/exec's Wait it waits for the
// copies to and from a Stdin, Stdout or Stderr that is not an fd. A copy
// from Stdin ends at the Reader's end or error, or with the pipeline (its
// next write fails); a Stdin whose Read blocks — a network body that
// never ends — holds Run until it returns (an http.Request's Body does
// when the request is over or its connection is closed). A stage's
// background child that keeps stderr open holds Run too; ctx ending
// kills it with the stage's group.
//
// Called on the loop goroutine, where it would wait forever for itself,
// Run returns ErrOnLoopThread at once: there, use StartPipeline.
//
// The error is nil when the pipeline succeeded; a *StartError when a
// stage could not be started; an *ExitError when it failed; the context's
// error when it was canceled; the Reader's or the Writer's error when a
// copy failed; an error wrapping ErrStdoutClosed when Stdout's reader left
// before the output ended (exit status 0: the last stage's SIGPIPE is not
// a failure, but the output did not arrive); an error wrapping os.ErrClosed when the loop has stopped
// (a loop that stops while the pipeline runs kills it, see Relay.Close).
// The Result is filled whenever the pipeline started.
func Run(ctx context.Context, r *Relay, cfg RunConfig) (res Result, err error) {
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if r == nil || r.l == nil {
		return res, errors.New("relay: Run on a Relay not made by relay.New")
	}
	if r.l.OnLoopThread() {
		return res, ErrOnLoopThread
	}
	var b bridges
	started := false
	defer func() {
		if !started {
			b.failed()
		}
	}()
	pc, err := b.config(cfg)
	if err != nil {
		return res, err
	}
	done := make(chan struct{})
	closed := false // the relay closed (its loop stopped) and killed the stages
	pc.OnExit = func(p *Pipeline) {
		res, closed = result(p), r.closed
		close(done)
	}
	p, err := startOn(ctx, r, pc)
	if err != nil {
		return res, err
	}
	started = true
	b.started()
	killed := false // ctx ended first; written on the loop before done closes
	stop := context.AfterFunc(ctx, func() {
		r.l.Post(func() {
			if !p.Done() {
				killed = true
				p.Signal(syscall.SIGKILL)
			}
		})
	})
	<-done
	stop()
	copyErr := b.wait()
	if closed && !killed {
		return res, fmt.Errorf("%s: %w", stageNames(cfg.Stages), errClosed)
	}
	return res, runErr(ctx, cfg, &res, killed, copyErr)
}

// Run's start, waited for by Run and done by the loop: pending until one
// side moves it on, the loop to starting, or Run to abandoned when ctx
// ends first — then the loop never starts the pipeline, and Run may close
// the bridges' fds at once.
const (
	runPending int32 = iota
	runStarting
	runAbandoned
)

// startOn starts pc on r's loop and waits for the start or for ctx, which
// a loop that is not running yet, or busy, would otherwise hold up.
func startOn(ctx context.Context, r *Relay, pc PipelineConfig) (*Pipeline, error) {
	type start struct {
		p   *Pipeline
		err error
	}
	var state atomic.Int32
	ch := make(chan start, 1)
	if err := r.l.Post(func() {
		if state.CompareAndSwap(runPending, runStarting) {
			p, err := r.StartPipeline(pc)
			ch <- start{p, err}
		}
	}); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	select {
	case s := <-ch:
		return s.p, s.err
	case <-ctx.Done():
		if state.CompareAndSwap(runPending, runAbandoned) {
			return nil, fmt.Errorf("%s: %w", stageNames(pc.Stages), context.Cause(ctx))
		}
		s := <-ch // the loop is starting it now; the kill follows
		return s.p, s.err
	}
}

// runErr is Run's error for a finished pipeline.
func runErr(ctx context.Context, cfg RunConfig, res *Result, killed bool, copyErr error) error {
	switch {
	case killed:
		return fmt.Errorf("%s: %w", stageNames(cfg.Stages), context.Cause(ctx))
	case res.ExitCode != 0 || linkFailed(res):
		return &ExitError{Pipeline: stageNames(cfg.Stages), Code: res.ExitCode, Errors: res.Errors}
	case copyErr != nil:
		return copyErr
	case res.Out.SinkClosed:
		return fmt.Errorf("%s: %w", stageNames(cfg.Stages), ErrStdoutClosed)
	}
	return nil
}

// result copies what Run returns out of a finished pipeline. Loop
// goroutine.
func result(p *Pipeline) Result {
	res := Result{ExitCode: p.ExitCode(), Errors: p.Errors()}
	for _, s := range p.Stages() {
		res.Stages = append(res.Stages, *s)
	}
	for _, k := range p.Links() {
		res.Links = append(res.Links, k.Stats())
	}
	if p.InLink() != nil {
		res.In = p.InLink().Stats()
	}
	if p.OutLink() != nil {
		res.Out = p.OutLink().Stats()
	}
	return res
}

func linkFailed(res *Result) bool {
	for _, e := range res.Errors {
		if _, start := e.(*StartError); !start {
			return true
		}
	}
	return false
}

func stageNames(stages []Stage) string {
	names := make([]string, len(stages))
	for i, s := range stages {
		names[i] = s.name()
	}
	return strings.Join(names, " | ")
}
