//go:build linux

package relay

import (
	"context"
	"fmt"
	"io"
	"strings"
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
// copy failed; an error wrapping os.ErrClosed when the loop has stopped
// (a loop that stops while the pipeline runs kills it, see Relay.Close).
// The Result is filled whenever the pipeline started.
func Run(ctx context.Context, r *Relay, cfg RunConfig) (res Result, err error) {
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if r.l.OnLoopThread() {
		return res, ErrOnLoopThread
	}
	pc := PipelineConfig{Stages: cfg.Stages, Env: cfg.Env, Dir: cfg.Dir, ProcessGroups: true}
	var b bridges
	started := false
	defer func() {
		if !started {
			b.failed()
		}
	}()
	if cfg.Stdin != nil {
		if pc.In, err = b.input(cfg.Stdin); err != nil {
			return res, err
		}
	}
	if cfg.Stdout != nil {
		if pc.Out, err = b.output(cfg.Stdout); err != nil {
			return res, err
		}
	}
	if cfg.Stderr != nil {
		if pc.Stderr, err = b.stderr(cfg.Stderr); err != nil {
			return res, err
		}
	}

	var p *Pipeline // loop goroutine only
	killed := false // ctx ended first; written on the loop before done closes
	done := make(chan struct{})
	pc.OnExit = func(p *Pipeline) {
		res = result(p)
		close(done)
	}
	startErr := make(chan error, 1)
	if err := r.l.Post(func() {
		var err error
		p, err = r.StartPipeline(pc)
		startErr <- err
	}); err != nil {
		return res, fmt.Errorf("relay: %w", err)
	}
	if err := <-startErr; err != nil {
		return res, err
	}
	started = true
	b.started()
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

	switch {
	case killed:
		return res, fmt.Errorf("%s: %w", stageNames(cfg.Stages), context.Cause(ctx))
	case res.ExitCode != 0 || linkFailed(&res):
		return res, &ExitError{Pipeline: stageNames(cfg.Stages), Code: res.ExitCode, Errors: res.Errors}
	}
	return res, copyErr
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
		names[i] = s.Name
		if names[i] == "" {
			names[i] = strings.Join(s.Args, " ")
		}
	}
	return strings.Join(names, " | ")
}
