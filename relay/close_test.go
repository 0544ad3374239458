package relay_test

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// TestLoopStopEndsEverything: stopping the loop while a plain link, a
// transform link and two pipelines (one with links between its stages)
// are running ends them all before Run returns: every OnDone and OnExit
// runs, the transform's worker has returned, the stages were killed and
// reaped, and every fd the relay owned is closed. Afterwards the relay
// refuses new work.
func TestLoopStopEndsEverything(t *testing.T) {
	l, err := loop.New(loop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(l, relay.Options{})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	var owned []int // fds the relay owns
	var ours []*os.File
	defer func() {
		for _, f := range ours {
			f.Close()
		}
	}()
	pipe := func() (rd, wr int) {
		rd, wr, err := fdio.Pipe(true, true)
		if err != nil {
			t.Fatal(err)
		}
		return rd, wr
	}
	doneLinks := 0
	var links []*relay.Link
	var pipelines []*relay.Pipeline
	exited := 0
	setup := func() error {
		for _, xf := range []relay.Transformer{nil, upper} {
			inR, inW := pipe()
			outR, outW := pipe()
			ours = append(ours, os.NewFile(uintptr(inW), "in"), os.NewFile(uintptr(outR), "out"))
			owned = append(owned, inR, outW)
			k, err := r.NewLink(relay.LinkConfig{
				Src: relay.Endpoint{FD: inR, Owned: true}, Dst: relay.Endpoint{FD: outW, Owned: true},
				Transform: xf, OnDone: func(*relay.Link) { doneLinks++ }})
			if err != nil {
				return err
			}
			links = append(links, k)
		}
		inR, inW := pipe()
		ours = append(ours, os.NewFile(uintptr(inR), "stdin"))
		sock := relay.Endpoint{FD: inW, Name: "peer", Owned: true}
		owned = append(owned, inW)
		for _, cfg := range []relay.PipelineConfig{
			{Stages: []relay.Stage{{Args: []string{"sleep", "1000"}}}},
			{Stages: []relay.Stage{{Args: []string{"cat"}}, {Args: []string{"cat"}}, {Args: []string{"sleep", "1000"}}}, Out: &sock},
		} {
			cfg.OnExit = func(*relay.Pipeline) { exited++ }
			p, err := r.StartPipeline(cfg)
			if err != nil {
				return err
			}
			pipelines = append(pipelines, p)
		}
		return nil
	}
	ran := make(chan error, 1)
	setupErr := make(chan error, 1)
	l.Post(func() { setupErr <- setup() })
	go func() { ran <- l.Run(context.Background()) }()
	if err := <-setupErr; err != nil {
		l.Stop()
		<-ran
		t.Fatal(err)
	}
	l.Stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}

	if got, want := doneLinks, len(links); got != want {
		t.Errorf("OnDone ran for %d links, want %d", got, want)
	}
	if got, want := exited, len(pipelines); got != want {
		t.Errorf("OnExit ran for %d pipelines, want %d", got, want)
	}
	select {
	case <-relay.TransformExited(links[1]):
	default:
		t.Error("the transform's worker goroutine is still running")
	}
	for _, p := range pipelines {
		for _, st := range p.Stages() {
			if sig := st.KilledBy(); st.State == nil || (sig != syscall.SIGKILL && sig != syscall.SIGPIPE && st.ExitCode() != 0) {
				t.Errorf("stage %d (%s): state %v, killed by %v; want reaped", st.Index, st.Name, st.State, sig)
			}
			var ws unix.WaitStatus
			if _, err := unix.Wait4(st.Pid, &ws, unix.WNOHANG, nil); err != unix.ECHILD {
				t.Errorf("stage %d (%s) pid %d: wait4 answers %v, want ECHILD (reaped)", st.Index, st.Name, st.Pid, err)
			}
		}
	}
	for _, fd := range owned {
		if !closed(fd) {
			t.Errorf("owned fd %d still open", fd)
			unix.Close(fd)
		}
	}
	if _, err := r.NewLink(relay.LinkConfig{Src: relay.Endpoint{FD: 0}, Dst: relay.Endpoint{FD: 1}}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("NewLink after the loop stopped: %v, want an error wrapping os.ErrClosed", err)
	}
	if _, err := r.StartPipeline(relay.PipelineConfig{Stages: []relay.Stage{{Args: []string{"true"}}}}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("StartPipeline after the loop stopped: %v, want an error wrapping os.ErrClosed", err)
	}
}
