package relay_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/relay"
)

var async = relay.Options{AsyncSpawn: true}

// TestAsyncSpawnOnStart: with AsyncSpawn the pids are known at OnStart,
// which runs after StartPipeline returned and before OnExit; they are the
// stages' own (each prints $$); and the caller may close the fds it
// handed on with Inherit as soon as StartPipeline returns.
func TestAsyncSpawnOnStart(t *testing.T) {
	e := newEnv(t, async)
	r, w := testfd.Pipe(t, false, false)
	var order []string
	var pidsAtReturn, pidsAtStart []int
	done := make(chan *relay.Pipeline, 1)
	e.do(func() {
		p, err := e.r.StartPipeline(relay.PipelineConfig{
			Stages: []relay.Stage{{Args: []string{"sh", "-c", `echo $$; cat`}}, {Args: []string{"sh", "-c", `cat; echo $$`}}},
			Stdout: relay.Inherit(w), Stderr: relay.Inherit(2),
			OnStart: func(p *relay.Pipeline) { order = append(order, "start"); pidsAtStart = p.Pids() },
			OnExit:  func(p *relay.Pipeline) { order = append(order, "exit"); done <- p },
		})
		if err != nil {
			t.Errorf("StartPipeline: %v", err)
			return
		}
		pidsAtReturn = p.Pids()
		testfd.CloseFD(t, &w) // Inherit's contract: ours to close once StartPipeline returned
	})
	f := os.NewFile(uintptr(r), "r")
	r = -1 // f owns it
	defer f.Close()
	out, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	p := wait(t, done, "pipeline")
	var got []int
	for _, f := range strings.Fields(string(out)) {
		n, _ := strconv.Atoi(f)
		got = append(got, n)
	}
	e.do(func() {}) // order is written on the loop goroutine
	if len(pidsAtReturn) != 0 {
		t.Errorf("Pids() when StartPipeline returned = %v, want none yet", pidsAtReturn)
	}
	if !equalInts(pidsAtStart, got) || !equalInts(p.Pids(), got) {
		t.Errorf("Pids() at OnStart = %v, at OnExit = %v; the stages say %v", pidsAtStart, p.Pids(), got)
	}
	if strings.Join(order, ",") != "start,exit" {
		t.Errorf("callbacks ran %v, want start then exit", order)
	}
	if p.ExitCode() != 0 {
		t.Errorf("ExitCode() = %d, errors %v", p.ExitCode(), p.Errors())
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAsyncSpawnSignalEarly: Signal before the stages exist reaches them
// once they do; a stage waiting on its stdin forever (our pipe stays
// open) still ends, by that signal.
func TestAsyncSpawnSignalEarly(t *testing.T) {
	for _, groups := range []bool{false, true} {
		t.Run("groups="+strconv.FormatBool(groups), func(t *testing.T) {
			e := newEnv(t, async)
			r, _ := testfd.Pipe(t, false, false)
			done := make(chan *relay.Pipeline, 1)
			e.do(func() {
				p, err := e.r.StartPipeline(relay.PipelineConfig{
					Stages: []relay.Stage{{Args: []string{"cat"}}, {Args: []string{"cat"}}},
					Stdin:  relay.Inherit(r), Stderr: relay.Inherit(2), ProcessGroups: groups,
					OnExit: func(p *relay.Pipeline) { done <- p },
				})
				if err != nil {
					t.Errorf("StartPipeline: %v", err)
					return
				}
				p.Signal(syscall.SIGTERM) // the spawner cannot be back: this callback holds the loop
			})
			p := wait(t, done, "pipeline")
			for _, st := range p.Stages() {
				if st.Pid == 0 || st.KilledBy() != syscall.SIGTERM {
					t.Errorf("stage %d: pid %d, killed by %v, want SIGTERM (start error %v)", st.Index, st.Pid, st.KilledBy(), st.StartErr)
				}
			}
		})
	}
}

// TestAsyncSpawnExecFails: a stage the kernel refuses (ENOEXEC, a binary
// for no machine) reports 126 and the other stage runs; a missing command
// still fails StartPipeline before anything runs.
func TestAsyncSpawnExecFails(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("\x00\x01\x02 not a binary\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, async)
	done := make(chan *relay.Pipeline, 1)
	var missing error
	e.do(func() {
		_, missing = e.r.StartPipeline(relay.PipelineConfig{Stages: []relay.Stage{{Args: []string{"cat"}}, {Args: []string{"pipeloop-no-such-command"}}}})
		_, err := e.r.StartPipeline(relay.PipelineConfig{
			Stages: []relay.Stage{{Args: []string{bad}}, {Args: []string{"sh", "-c", "cat; exit 3"}}},
			OnExit: func(p *relay.Pipeline) { done <- p },
		})
		if err != nil {
			t.Errorf("StartPipeline: %v", err)
		}
	})
	var se *relay.StartError
	if !errors.As(missing, &se) || se.Code != 127 {
		t.Errorf("missing command: StartPipeline = %v, want a StartError 127", missing)
	}
	p := wait(t, done, "pipeline")
	st := p.Stages()
	if st[0].StartErr == nil || st[0].StartErr.Code != 126 || st[0].Pid != 0 {
		t.Errorf("stage 1: start error %v, pid %d, want 126 and no process", st[0].StartErr, st[0].Pid)
	}
	if st[1].Pid == 0 || st[1].ExitCode() != 3 {
		t.Errorf("stage 2: pid %d, exit %d, want it to run and exit 3", st[1].Pid, st[1].ExitCode())
	}
}

// TestAsyncSpawnCloseWhileSpawning: Relay.Close right after StartPipeline
// — the spawner possibly forking, the stages not yet watched — kills and
// reaps whatever was forked, runs OnStart and OnExit for every pipeline
// and leaves no process or fd behind (leakcheck).
func TestAsyncSpawnCloseWhileSpawning(t *testing.T) {
	e := newEnv(t, async)
	const n = 20
	var starts, exits int
	e.do(func() {
		for i := 0; i < n; i++ {
			_, err := e.r.StartPipeline(relay.PipelineConfig{
				Stages:  []relay.Stage{{Args: []string{"sleep", "1000"}}, {Args: []string{"sleep", "1000"}}},
				OnStart: func(*relay.Pipeline) { starts++ },
				OnExit: func(p *relay.Pipeline) {
					exits++
					for _, st := range p.Stages() {
						if st.StartErr == nil && st.KilledBy() != syscall.SIGKILL {
							t.Errorf("stage %d: exit %d, neither killed nor skipped", st.Index, st.ExitCode())
						}
					}
				},
			})
			if err != nil {
				t.Fatalf("StartPipeline: %v", err)
			}
		}
		e.r.Close()
		if starts != n || exits != n {
			t.Errorf("after Close: OnStart ran %d times, OnExit %d, want %d each", starts, exits, n)
		}
	})
}

// TestAsyncSpawnThreadLives: a stage forked by the spawner is not killed
// (PR_SET_PDEATHSIG) while the relay lives, however many pipelines came
// and went since.
func TestAsyncSpawnThreadLives(t *testing.T) {
	e := newEnv(t, async)
	r, w := testfd.Pipe(t, false, false)
	long := make(chan *relay.Pipeline, 1)
	e.do(func() {
		_, err := e.r.StartPipeline(relay.PipelineConfig{Stages: []relay.Stage{{Args: []string{"cat"}}},
			Stdin: relay.Inherit(r), OnExit: func(p *relay.Pipeline) { long <- p }})
		if err != nil {
			t.Fatalf("StartPipeline: %v", err)
		}
		testfd.CloseFD(t, &r)
	})
	for i := 0; i < 5; i++ {
		done := make(chan *relay.Pipeline, 1)
		e.do(func() {
			if _, err := e.r.StartPipeline(relay.PipelineConfig{Stages: []relay.Stage{{Args: []string{"true"}}},
				OnExit: func(p *relay.Pipeline) { done <- p }}); err != nil {
				t.Fatalf("StartPipeline: %v", err)
			}
		})
		wait(t, done, "short pipeline")
	}
	testfd.CloseFD(t, &w)
	p := wait(t, long, "long pipeline")
	if code := p.ExitCode(); code != 0 {
		t.Errorf("long stage: exit %d, want 0 (cat at EOF)", code)
	}
}
