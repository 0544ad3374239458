//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
)

// How pipeloop ends. run and the subcommands return an error: nil for
// status 0, else an *exitError carrying the status and, when pipeloop
// itself has something to say, what went wrong. exitWith is the one place
// that prints it, so every message has one shape: "PROG: message", one
// line per error, PROG named once ("pipeloop", "pipeloop serve",
// "pipeloop trace"), and usage errors end in "(try --help)".

// exitError is how pipeloop ends when it does not end with status 0 and
// nothing to say.
type exitError struct {
	prog   string         // who speaks: "pipeloop", "pipeloop serve", "pipeloop trace"
	code   int            // the exit status
	signal syscall.Signal // if set, pipeloop dies of it instead (see dieOf)
	err    error          // what went wrong, printed on stderr; nil: the stages' status, said by nobody
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("%s: exit status %d", e.prog, e.code)
	}
	return fmt.Sprintf("%s: %v", e.prog, e.err)
}

func (e *exitError) Unwrap() error { return e.err }

// failure is prog's own failure err, ending with status code.
func failure(prog string, code int, err error) error {
	return &exitError{prog: prog, code: code, err: err}
}

// usageError is prog's usage error err (status 2), pointing to --help
// unless the message already says what to run instead (a usageHint).
func usageError(prog string, err error) error {
	var h usageHint
	if !errors.As(err, &h) {
		err = fmt.Errorf("%w (try --help)", err)
	}
	return failure(prog, 2, err)
}

// parsed ends a command whose flags did not parse into work to do: for
// --help (errHelp) the help text on std.text, else prog's usage error.
// done is false when err is nil and the command goes on.
func parsed(err error, prog, help string, std stdio) (done bool, _ error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, errHelp):
		_, err := io.WriteString(std.text, help)
		return true, err
	}
	return true, usageError(prog, err)
}

// stagesEnded is the stages' exit status, which pipeloop does not comment
// on (as bash does not), with errs pipeloop met while relaying; nil when
// both say nothing went wrong. A signal, if set, is the one pipeloop dies
// of.
func stagesEnded(code int, signal syscall.Signal, errs ...error) error {
	err := errors.Join(errs...)
	if code == 0 && signal == 0 && err == nil {
		return nil
	}
	return &exitError{prog: "pipeloop", code: code, signal: signal, err: err}
}

// exitWith prints what err says went wrong on w and returns how pipeloop
// ends. An error that is not an *exitError is pipeloop's relay error
// (status 1).
func exitWith(w io.Writer, err error) exitStatus {
	if err == nil {
		return exitStatus{}
	}
	var e *exitError
	if !errors.As(err, &e) {
		e = &exitError{prog: "pipeloop", code: 1, err: err}
	}
	if e.err != nil {
		var b strings.Builder
		for line := range strings.SplitSeq(e.err.Error(), "\n") {
			fmt.Fprintf(&b, "%s: %s\n", e.prog, line)
		}
		io.WriteString(w, b.String())
	}
	return exitStatus{code: e.code, signal: e.signal}
}

// exitStatus is how pipeloop ends: killed by signal if set, else with
// code.
type exitStatus struct {
	code   int
	signal syscall.Signal
}
