//go:build linux

package main

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
)

// runText runs pipeloop's argument handling with buffers for its text
// and error writers (fds 0 and 1 are never touched: every case ends
// before anything is relayed) and returns what it printed and the status.
func runText(t *testing.T, args ...string) (text, stderr string, st exitStatus) {
	t.Helper()
	var out, errw strings.Builder
	st = exitWith(&errw, run(args, stdio{in: -1, out: -1, text: &out, err: &errw}))
	return out.String(), errw.String(), st
}

// TestHelpThroughStdio: help and version go to the injected text writer,
// never to the process's stdout, and end with status 0.
func TestHelpThroughStdio(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the text's start
	}{
		{[]string{"--help"}, usage},
		{[]string{"-h"}, usage},
		{[]string{"--version"}, "pipeloop " + version + "\n"},
		{[]string{"serve", "--help"}, serveUsage},
		{[]string{"trace", "--help"}, traceUsage},
	} {
		text, stderr, st := runText(t, tc.args...)
		if text != tc.want || stderr != "" || st != (exitStatus{}) {
			t.Errorf("%q: text %.40q…, stderr %q, %+v; want %.40q…, nothing, status 0", tc.args, text, stderr, st, tc.want)
		}
	}
}

// TestOneVoice: every usage error, whichever command parses it, is one
// line "PROG: message (try --help)" with status 2, PROG named once.
func TestOneVoice(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "pipeloop: unknown flag --bogus (try --help)\n"},
		{[]string{"--mode", "fast", "cat"}, `pipeloop: invalid value "fast" for --mode: unknown mode "fast" (want auto, copy or splice) (try --help)` + "\n"},
		{[]string{"--sched=x", "cat"}, `pipeloop: invalid value "x" for --sched: unknown scheduling policy "x" (want auto, normal or batch) (try --help)` + "\n"},
		{[]string{"serve", "--bogus"}, "pipeloop serve: unknown flag --bogus (try --help)\n"},
		{[]string{"serve", "--listen", ":0", "--mode", "x", "cat"}, `pipeloop serve: invalid value "x" for --mode: unknown mode "x" (want auto, copy or splice) (try --help)` + "\n"},
		{[]string{"trace", "--bogus"}, "pipeloop trace: unknown flag --bogus (try --help)\n"},
		{[]string{"trace", "--pid"}, "pipeloop trace: --pid needs a value (try --help)\n"},
		{[]string{"trace", "--pid", "12,x"}, `pipeloop trace: invalid value "12,x" for --pid: invalid pid "x" (try --help)` + "\n"},
		{[]string{"trace", "--pid", "1", "extra"}, `pipeloop trace: unexpected argument "extra" (try --help)` + "\n"},
		{[]string{"trace", "--pid", "1", "--duration", "-1s"}, "pipeloop trace: --duration must not be negative (try --help)\n"},
		{[]string{"trace", "--pid", "1", "--max-records", "0"}, "pipeloop trace: --max-records must be at least 1 (try --help)\n"},
		{[]string{"trace"}, "pipeloop trace: --pid is required (try --help)\n"},
	} {
		text, stderr, st := runText(t, tc.args...)
		if stderr != tc.want || text != "" || st != (exitStatus{code: 2}) {
			t.Errorf("%q: stderr %q, text %q, %+v; want %q, status 2", tc.args, stderr, text, st, tc.want)
		}
	}
}

// TestExitWith: the one place pipeloop's errors are printed.
func TestExitWith(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
		st   exitStatus
	}{
		{"success", nil, "", exitStatus{}},
		{"stages' status, said by nobody", stagesEnded(3, 0), "", exitStatus{code: 3}},
		{"all fine", stagesEnded(0, 0), "", exitStatus{}},
		{"killed", stagesEnded(130, syscall.SIGINT), "", exitStatus{code: 130, signal: syscall.SIGINT}},
		{"relay errors, a line each", stagesEnded(1, 0, errors.New("link 1: write: broken"), errors.New("stage 2 (x): gone")),
			"pipeloop: link 1: write: broken\npipeloop: stage 2 (x): gone\n", exitStatus{code: 1}},
		{"plain error", errors.New("epoll_create1: too many"), "pipeloop: epoll_create1: too many\n", exitStatus{code: 1}},
		{"hint without (try --help)", usageError("pipeloop", usageHint{"say it"}), "pipeloop: say it\n", exitStatus{code: 2}},
		{"subcommand", failure("pipeloop serve", 1, errors.New("listen: in use")), "pipeloop serve: listen: in use\n", exitStatus{code: 1}},
	} {
		var w strings.Builder
		if st := exitWith(&w, tc.err); st != tc.st || w.String() != tc.want {
			t.Errorf("%s: printed %q, %+v; want %q, %+v", tc.name, w.String(), st, tc.want, tc.st)
		}
	}
}

// TestTraceNoPidLeft: a trace whose every pid is gone ends with status 1
// and one "pipeloop trace:" line per pid (skipped without the privilege
// to load the tracer, which fails first with its own one line).
func TestTraceNoPidLeft(t *testing.T) {
	var out, errw strings.Builder
	err := runTrace(context.Background(), []string{"--pid", "1073741824,1073741823"}, stdio{text: &out, err: &errw})
	st := exitWith(&errw, err)
	if st.code != 1 || out.String() != "" {
		t.Fatalf("status %+v, text %q; want 1, nothing", st, out.String())
	}
	lines := strings.Split(strings.TrimSuffix(errw.String(), "\n"), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "pipeloop trace: ") || strings.HasPrefix(l, "pipeloop trace: trace:") {
			t.Errorf("line %q: want one \"pipeloop trace: \" prefix", l)
		}
	}
	if len(lines) == 2 && !strings.Contains(lines[1], "watch pid 1073741823: no such process") {
		t.Errorf("stderr %q: want a line per gone pid", errw.String())
	}
}
