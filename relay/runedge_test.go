package relay_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

// TestRunCombinedOutput: one Writer as Stdout and Stderr (os/exec's
// CombinedOutput) is written by one goroutine at a time, so no line is
// lost.
func TestRunCombinedOutput(t *testing.T) {
	e := newEnv(t, relay.Options{})
	var out bytes.Buffer
	const n = 20000
	_, err := relay.Run(context.Background(), e.r, relay.RunConfig{
		Stages: []relay.Stage{{Args: []string{"sh", "-c", `seq 20000; seq 20000 >&2`}}},
		Stdout: &out, Stderr: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "\n"); got != 2*n {
		t.Errorf("%d lines, want %d (stdout and stderr into one Writer)", got, 2*n)
	}
}

// TestRunStdoutReaderLeaves: when Stdout's reader goes away before the
// output ended, the last stage dies of SIGPIPE; the bytes never arrived,
// so Run says so (os/exec: "signal: broken pipe") instead of nil.
func TestRunStdoutReaderLeaves(t *testing.T) {
	e := newEnv(t, relay.Options{})
	ln, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.CopyN(io.Discard, c, 1<<20)
		c.Close() // leaves mid-output
	}()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := relay.Run(context.Background(), e.r, relay.RunConfig{
		Stages: stages("head -c 50000000 /dev/zero"),
		Stdout: c,
	})
	if !errors.Is(err, relay.ErrStdoutClosed) {
		t.Errorf("Run = %v (exit %d, %d bytes out), want an error wrapping ErrStdoutClosed", err, res.ExitCode, res.Out.Bytes)
	}
}

// TestRunContextBeforeStart: Run watches ctx while it waits for the loop
// to start the pipeline — a loop not running yet, or busy — and returns
// ctx's error in time; the start never happens later.
func TestRunContextBeforeStart(t *testing.T) {
	l, err := loop.New(loop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(l, relay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	ran := make(chan error, 1)
	go func() {
		_, err := relay.Run(ctx, r, relay.RunConfig{Stages: stages("echo started"), Stdin: strings.NewReader("x"), Stdout: &out})
		ran <- err
	}()
	select {
	case err := <-ran:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still waiting 10 s after its 100 ms context ended: the loop never ran")
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	l.Post(func() {
		if n := r.Links(); n != 0 {
			t.Errorf("%d links after an abandoned Run: the start happened anyway", n)
		}
		l.Stop()
	})
	if err := <-done; err != nil {
		t.Error(err)
	}
	if out.Len() != 0 {
		t.Errorf("the abandoned pipeline ran: %q", out.String())
	}
}

// TestRunLoopStops: a loop that stops while Run waits kills the pipeline,
// and Run says why with an error wrapping os.ErrClosed, not the stages'
// exit status 137.
func TestRunLoopStops(t *testing.T) {
	e := newEnv(t, relay.Options{})
	ran := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		_, err := relay.Run(context.Background(), e.r, relay.RunConfig{
			Stages: []relay.Stage{{Args: []string{"sh", "-c", "echo up; exec sleep 30"}}},
			Stdout: writerFunc(func(p []byte) (int, error) {
				select {
				case <-started:
				default:
					close(started)
				}
				return len(p), nil
			}),
		})
		ran <- err
	}()
	<-started
	e.l.Stop() // not e.stop, which wants no links left before the stop
	if err := <-e.ran; err != nil {
		t.Error(err)
	}
	e.ran = nil
	if err := <-ran; !errors.Is(err, os.ErrClosed) {
		t.Errorf("Run = %v, want an error wrapping os.ErrClosed", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
