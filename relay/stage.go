//go:build linux

package relay

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/internal/label"
	"github.com/pipeloop/pipeloop/loop"
)

// Stage is one command of a pipeline. It is executed directly, never
// through a shell (use Args {"/bin/sh", "-c", line} for that).
type Stage struct {
	Args []string // argv; Args[0] is looked up in PATH unless it has a slash
	Name string   // how errors and stats call it, e.g. "gzip -d"; default: Args joined
}

// StartError is a stage that could not be started: Code is 127 when the
// command was not found and 126 when it could not be executed, as a shell
// reports them.
type StartError struct {
	Stage int    // 1-based
	Name  string // the stage's display name
	Code  int    // 126 or 127
	Err   error
}

func (e *StartError) Error() string {
	return label.Stage(e.Stage, e.Name) + ": " + e.Err.Error()
}

func (e *StartError) Unwrap() error { return e.Err }

// Resolve looks every stage's command up in PATH without starting anything,
// so a typo in stage 3 is reported before stage 1 has consumed any input.
// It returns the resolved paths.
func Resolve(stages []Stage) ([]string, error) { return resolveIn("", stages) }

// resolveIn resolves as Resolve does, a relative path with a slash
// ("./run.sh") against dir when one is set, where the stage will run.
func resolveIn(dir string, stages []Stage) ([]string, error) {
	paths := make([]string, len(stages))
	for i, s := range stages {
		if len(s.Args) == 0 || s.Args[0] == "" {
			return nil, &StartError{Stage: i + 1, Name: s.name(), Code: 127, Err: errors.New("empty command")}
		}
		cmd := s.Args[0]
		if dir != "" && strings.Contains(cmd, "/") && !filepath.IsAbs(cmd) {
			cmd = filepath.Join(dir, cmd)
		}
		p, err := exec.LookPath(cmd)
		if err != nil {
			code := 127
			var pe *os.PathError
			var ee *exec.Error
			switch {
			case errors.As(err, &ee) && errors.Is(ee.Err, exec.ErrNotFound):
				err = fmt.Errorf("%s: command not found", s.Args[0])
			case errors.As(err, &pe) && errors.Is(pe.Err, os.ErrNotExist):
				err = fmt.Errorf("%s: no such file or directory", s.Args[0])
			default:
				code = 126
				err = fmt.Errorf("%s: cannot execute: %w", s.Args[0], unwrapAll(err))
			}
			return nil, &StartError{Stage: i + 1, Name: s.name(), Code: code, Err: err}
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return nil, &StartError{Stage: i + 1, Name: s.name(), Code: 126,
				Err: fmt.Errorf("%s: is a directory", s.Args[0])}
		}
		paths[i] = p
	}
	return paths, nil
}

// checkDir reports a PipelineConfig.Dir the stages could not chdir to, as
// os/exec's Start does ("chdir /x: no such file or directory"), rather
// than as each stage's failed exec.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return &os.PathError{Op: "chdir", Path: dir, Err: errors.Unwrap(err)}
	}
	if !st.IsDir() {
		return &os.PathError{Op: "chdir", Path: dir, Err: syscall.ENOTDIR}
	}
	return nil
}

func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func (s Stage) name() string {
	if s.Name != "" {
		return s.Name
	}
	return strings.Join(s.Args, " ")
}

// StageResult is what became of one stage.
type StageResult struct {
	Index    int    // 1-based
	Name     string // display name
	Args     []string
	Pid      int
	Start    time.Time
	End      time.Time          // when it was reaped
	State    *loop.ProcessState // nil if it never started or is still running
	StartErr *StartError        // set when it could not be started
}

// ExitCode is the shell-style status: exit code, 128+signal, or the
// 126/127 of a start failure; -1 while running.
func (r *StageResult) ExitCode() int {
	switch {
	case r.StartErr != nil:
		return r.StartErr.Code
	case r.State != nil:
		return r.State.ExitCode()
	}
	return -1
}

// KilledBy reports the signal that killed the stage, or 0.
func (r *StageResult) KilledBy() syscall.Signal {
	if r.State != nil && r.State.Status.Signaled() {
		return r.State.Status.Signal()
	}
	return 0
}

// Wall is the stage's run time.
func (r *StageResult) Wall() time.Duration {
	if r.End.IsZero() {
		return time.Since(r.Start)
	}
	return r.End.Sub(r.Start)
}
