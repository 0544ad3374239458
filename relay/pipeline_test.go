package relay_test

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pipeloop/pipeloop/internal/faultfd"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// runPipeline runs stages (each split on spaces, or a "sh -c" line when it
// starts with "sh:") with stdin and stdout on /dev/null, and returns the
// finished pipeline.
func runPipeline(t *testing.T, opts relay.Options, lines ...string) *relay.Pipeline {
	t.Helper()
	e := newEnv(t, opts)
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	var stages []relay.Stage
	for _, l := range lines {
		if sh, ok := strings.CutPrefix(l, "sh:"); ok {
			stages = append(stages, relay.Stage{Args: []string{"/bin/sh", "-c", sh}})
		} else {
			stages = append(stages, relay.Stage{Args: strings.Fields(l)})
		}
	}
	done := make(chan *relay.Pipeline, 1)
	e.do(func() {
		_, err = e.r.StartPipeline(relay.PipelineConfig{Stages: stages, Stdin: relay.Inherit(null), Stdout: relay.Inherit(null), Stderr: relay.Inherit(2),
			OnExit: func(p *relay.Pipeline) { done <- p }})
	})
	if err != nil {
		t.Fatalf("StartPipeline: %v", err)
	}
	return wait(t, done, "pipeline")
}

// TestPipelineExitCode: the status is bash's with pipefail: the rightmost
// failing stage's, 128+N for a signal, SIGPIPE from a stage whose reader
// finished early is not a failure, and a relay error alone makes it 1;
// alike with stages forked on the loop thread and on the spawner's.
func TestPipelineExitCode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stages []string
		want   int
	}{
		{"all succeed", []string{"true", "cat", "cat"}, 0},
		{"one fails", []string{"true", "false", "cat"}, 1},
		{"rightmost failing", []string{"sh:exit 3", "sh:exit 5", "cat"}, 5},
		{"last fails", []string{"cat", "sh:cat >/dev/null; exit 7"}, 7},
		{"reader finished early", []string{"yes", "head -c 10"}, 0},
		{"reader finished early, mid", []string{"yes", "head -c 100000", "head -c 10"}, 0},
		{"killed by signal", []string{"cat", "sh:kill -TERM $$"}, 143},
		{"SIGPIPE not from the reader", []string{"sh:kill -PIPE $$", "cat"}, 141},
		{"single stage", []string{"sh:exit 9"}, 9},
	} {
		for _, spawn := range []struct {
			name string
			opts relay.Options
		}{{"loop", relay.Options{}}, {"async", async}} {
			t.Run(tc.name+"/"+spawn.name, func(t *testing.T) {
				p := runPipeline(t, spawn.opts, tc.stages...)
				if got := p.ExitCode(); got != tc.want {
					var codes []int
					for _, s := range p.Stages() {
						codes = append(codes, s.ExitCode())
					}
					t.Fatalf("ExitCode() = %d, want %d; stages %v, errors %v", got, tc.want, codes, p.Errors())
				}
			})
		}
	}
}

// TestPipelineNotFound: a missing command fails StartPipeline with 127
// before anything runs.
func TestPipelineNotFound(t *testing.T) {
	e := newEnv(t, relay.Options{})
	var err error
	e.do(func() {
		_, err = e.r.StartPipeline(relay.PipelineConfig{Stages: []relay.Stage{
			{Args: []string{"cat"}}, {Args: []string{"pipeloop-no-such-command"}}}, Stdin: relay.Inherit(0), Stdout: relay.Inherit(1), Stderr: relay.Inherit(2)})
	})
	var se *relay.StartError
	if !errors.As(err, &se) || se.Code != 127 || se.Stage != 2 {
		t.Fatalf("StartPipeline: %v, want a StartError for stage 2 with code 127", err)
	}
}

// TestPipelineRelayError: a link that fails (here a write error injected
// into the relay) makes the status 1 when every stage succeeded, and the
// error names the stage and the system call.
func TestPipelineRelayError(t *testing.T) {
	inj := faultfd.MustNew(nil, faultfd.Config{Failures: []faultfd.Failure{
		{Ops: faultfd.Writes | faultfd.Splice, FD: -1, After: 1000, Err: unix.EIO}}})
	p := runPipeline(t, relay.WithOps(relay.Options{}, inj), "head -c 1000 /dev/zero", "sh:cat >/dev/null; sleep 0.1", "cat")
	if got := p.ExitCode(); got != 1 {
		t.Fatalf("ExitCode() = %d, want 1; errors %v", got, p.Errors())
	}
	errs := p.Errors()
	if len(errs) == 0 || !errors.Is(errs[0], unix.EIO) || !strings.Contains(errs[0].Error(), "stage 2") {
		t.Fatalf("errors %v, want EIO naming stage 2", errs)
	}
}

// TestPipelineRelayErrorSIGPIPE: when a link fails, the relay closes the
// pipe from the stage before it, which then dies of SIGPIPE. That SIGPIPE
// is the relay error's doing, not a failure of the stage: the status is
// the relay error's 1, as when the stage had exited on its own.
func TestPipelineRelayErrorSIGPIPE(t *testing.T) {
	inj := faultfd.MustNew(nil, faultfd.Config{Failures: []faultfd.Failure{
		{Ops: faultfd.Writes | faultfd.Splice, FD: -1, After: 1000, Err: unix.EIO}}})
	p := runPipeline(t, relay.WithOps(relay.Options{}, inj), "yes", "cat")
	if got := p.ExitCode(); got != 1 {
		t.Fatalf("ExitCode() = %d, want 1 (stage 1: %d); errors %v", got, p.Stages()[0].ExitCode(), p.Errors())
	}
}

// TestPipelineStdioDefault: Stdin, Stdout and Stderr left unset are
// /dev/null, never the daemon's fd 0 — which under inetd or socket
// activation is a client's socket, here a socketpair put on fd 0 for the
// length of StartPipeline.
func TestPipelineStdioDefault(t *testing.T) {
	e := newEnv(t, relay.Options{})
	s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	client := os.NewFile(uintptr(s[1]), "client")
	defer client.Close()
	client.Write([]byte("from the client\n"))
	unix.Shutdown(s[1], unix.SHUT_WR)

	saved, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil && err != unix.EBADF {
		t.Fatal(err)
	}
	restore := func() {
		if saved >= 0 {
			unix.Dup3(saved, 0, 0)
			unix.Close(saved)
			saved = -1
		} else {
			unix.Close(0)
		}
	}
	defer restore()
	if err := unix.Dup3(s[0], 0, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(s[0])
	done := make(chan *relay.Pipeline, 1)
	e.do(func() {
		_, err = e.r.StartPipeline(relay.PipelineConfig{
			Stages: []relay.Stage{{Args: []string{"sh", "-c", "cat; echo stdout; echo stderr >&2"}}},
			OnExit: func(p *relay.Pipeline) { done <- p },
		})
	})
	restore()
	if err != nil {
		t.Fatalf("StartPipeline: %v", err)
	}
	if p := wait(t, done, "pipeline"); p.ExitCode() != 0 {
		t.Errorf("exit %d, errors %v", p.ExitCode(), p.Errors())
	}
	if got, _ := io.ReadAll(client); len(got) != 0 {
		t.Errorf("the client on fd 0 got %q from the stage, want nothing", got)
	}
}

// TestPipelineStdioClosed: Inherit(Closed) starts the stage with that fd
// closed, as a shell's `>&-` does.
func TestPipelineStdioClosed(t *testing.T) {
	e := newEnv(t, relay.Options{})
	exited := make(chan int, 1)
	var err error
	e.do(func() {
		_, err = e.r.StartPipeline(relay.PipelineConfig{
			Stages: []relay.Stage{{Args: []string{"sh", "-c", "test -e /proc/self/fd/1 && exit 3; exit 0"}}},
			Stdout: relay.Inherit(relay.Closed), Stderr: relay.Inherit(2),
			OnExit: func(p *relay.Pipeline) { exited <- p.ExitCode() },
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if code := wait(t, exited, "pipeline"); code != 0 {
		t.Errorf("exit %d: the stage's stdout was open (3), want it closed", code)
	}
}

// TestPipelineStartFailsClean: when the pipes run out part way (the fd
// limit is lowered to leave room for a few), StartPipeline fails naming
// the stage the pipe was for, with EMFILE, and its one cleanup path
// leaves no fd open and nothing running (TestMain's leak check sees the
// processes), at each point of failure.
func TestPipelineStartFailsClean(t *testing.T) {
	e := newEnv(t, relay.Options{})
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	cfg := relay.PipelineConfig{Stdin: relay.Inherit(null), Stdout: relay.Inherit(null), Stderr: relay.Inherit(null)}
	for range 6 {
		cfg.Stages = append(cfg.Stages, relay.Stage{Args: []string{"cat"}})
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	pipeFDs := 2 * 2 * (len(cfg.Stages) - 1) // two pipes per link
	for room := range pipeFDs {
		var err error
		var before, after int
		e.do(func() {
			before = openFDs(t)
			fillers := fillHoles(t)
			low := lim
			low.Cur = uint64(fillers[len(fillers)-1] + 1 + room)
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
				t.Fatal(err)
			}
			_, err = e.r.StartPipeline(cfg)
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
			for _, fd := range fillers {
				unix.Close(fd)
			}
			after = openFDs(t)
		})
		if err == nil {
			t.Fatalf("room for %d fds: StartPipeline succeeded, want it to run out", room)
		}
		if !errors.Is(err, unix.EMFILE) || !strings.HasPrefix(err.Error(), "stage ") {
			t.Errorf("room for %d fds: %v, want EMFILE naming a stage", room, err)
		}
		if after != before {
			t.Errorf("room for %d fds: %d fds open after the failed start, %d before", room, after, before)
		}
	}
}

// fillHoles opens /dev/null until every fd below the highest open one is
// taken, so the next fd opened is the highest plus one; it returns the
// fds it opened, the highest last.
func fillHoles(t *testing.T) []int {
	high := 0
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil && n > high {
			high = n
		}
	}
	var fds []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
		if fd >= high {
			return fds
		}
	}
}

// openFDs counts this process's open fds.
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // the directory's own
}

// TestStageDefaultName: an unnamed stage is called by its Args joined, as
// Stage.Name documents ("cat -n", not "[cat -n]").
func TestStageDefaultName(t *testing.T) {
	p := runPipeline(t, relay.Options{}, "cat -n", "sh:exit 3")
	if got := p.Stages()[0].Name; got != "cat -n" {
		t.Errorf("stage 1 is called %q, want %q", got, "cat -n")
	}
	if got := p.Stages()[1].Name; got != "/bin/sh -c exit 3" {
		t.Errorf("stage 2 is called %q, want %q", got, "/bin/sh -c exit 3")
	}
}

// TestPipelineDir: a Dir the stages cannot enter is a chdir error from
// StartPipeline, as from os/exec's Start (not "cat: execve: no such file"
// with 127); a relative command with a slash is found in Dir, where it
// runs.
func TestPipelineDir(t *testing.T) {
	e := newEnv(t, relay.Options{})
	var err error
	e.do(func() {
		_, err = e.r.StartPipeline(relay.PipelineConfig{Stages: []relay.Stage{{Args: []string{"cat"}}}, Dir: "/no/such/dir"})
	})
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "chdir" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("StartPipeline with a missing Dir: %v, want a chdir *os.PathError (not exist)", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/hello.sh", []byte("#!/bin/sh\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	done := make(chan *relay.Pipeline, 1)
	e.do(func() {
		_, err = e.r.StartPipeline(relay.PipelineConfig{Stages: []relay.Stage{{Args: []string{"./hello.sh"}}}, Dir: dir,
			OnExit: func(p *relay.Pipeline) { done <- p }})
	})
	if err != nil {
		t.Fatalf("./hello.sh in Dir: %v", err)
	}
	if p := wait(t, done, "pipeline"); p.ExitCode() != 7 {
		t.Errorf("./hello.sh in Dir: exit %d, errors %v; want 7", p.ExitCode(), p.Errors())
	}
}
