package relay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/relay"
)

func stages(lines ...string) []relay.Stage {
	var s []relay.Stage
	for _, l := range lines {
		s = append(s, relay.Stage{Args: strings.Fields(l)})
	}
	return s
}

// TestRunReaderWriter: plain io.Reader and io.Writer are bridged through
// pipes, and the result comes back to the calling goroutine.
func TestRunReaderWriter(t *testing.T) {
	e := newEnv(t, relay.Options{})
	var out, errb bytes.Buffer
	res, err := relay.Run(context.Background(), e.r, relay.RunConfig{
		Stages: stages("sort", "uniq -c"),
		Stdin:  strings.NewReader("b\na\nb\n"),
		Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(strings.Fields(out.String()), " "), "1 a 2 b"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := res.In.Bytes, uint64(6); got != want {
		t.Errorf("In.Bytes: got %d, want %d", got, want)
	}
	if got, want := res.Out.Bytes, uint64(out.Len()); got != want {
		t.Errorf("Out.Bytes: got %d, want %d", got, want)
	}
	if len(res.Stages) != 2 || res.ExitCode != 0 || len(res.Links) != 1 {
		t.Errorf("result: %d stages, exit %d, %d links", len(res.Stages), res.ExitCode, len(res.Links))
	}
}

// TestRunFiles: *os.File ends are relayed from duplicates of their fds
// (no goroutine), byte-exact, and the caller's files stay open.
func TestRunFiles(t *testing.T) {
	e := newEnv(t, relay.Options{})
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	defer outR.Close()
	want := bytes.Repeat([]byte("0123456789abcdef\x00\xff"), 100000)
	go func() { inW.Write(want); inW.Close() }()
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(outR); got <- b }()
	_, err = relay.Run(context.Background(), e.r, relay.RunConfig{Stages: stages("cat", "cat"), Stdin: inR, Stdout: outW})
	if err != nil {
		t.Fatal(err)
	}
	outW.Close() // ours: the only writer left
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("got %d bytes, want %d, not equal", len(b), len(want))
	}
	if _, err := inR.Stat(); err != nil {
		t.Errorf("caller's stdin file: %v", err)
	}
}

// TestRunCancel: canceling the context kills the stages and their
// children (the stage's process group), and Run returns promptly with
// the context's error, its goroutines done.
func TestRunCancel(t *testing.T) {
	e := newEnv(t, relay.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	var errb bytes.Buffer
	// The background sleep holds stderr open: only a group kill ends Run.
	res, err := relay.Run(ctx, e.r, relay.RunConfig{
		Stages: []relay.Stage{{Args: []string{"sh", "-c", "sleep 30 & sleep 30"}}, {Args: []string{"cat"}}},
		Stdin:  blockingReader{ctx}, Stdout: io.Discard, Stderr: &errb,
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after cancel", d)
	}
	if got := res.Stages[0].KilledBy(); got.String() != "killed" {
		t.Errorf("stage 1 ended by %v, want SIGKILL", got)
	}
}

// blockingReader blocks until ctx ends, as a request body whose client
// went quiet does until the request is canceled.
type blockingReader struct{ ctx context.Context }

func (b blockingReader) Read([]byte) (int, error) {
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

// TestRunErrors: a failing stage is an *ExitError with its status, a
// missing command a *StartError, a failing Writer its own error, a
// canceled context starts nothing, and a stopped loop is os.ErrClosed.
func TestRunErrors(t *testing.T) {
	e := newEnv(t, relay.Options{})
	_, err := relay.Run(context.Background(), e.r, relay.RunConfig{
		Stages: []relay.Stage{{Args: []string{"cat"}}, {Args: []string{"sh", "-c", "exit 3"}}},
	})
	var ee *relay.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Errorf("exit 3: got %v, want *ExitError code 3", err)
	}
	_, err = relay.Run(context.Background(), e.r, relay.RunConfig{Stages: stages("no-such-command-xyz")})
	var se *relay.StartError
	if !errors.As(err, &se) || se.Code != 127 {
		t.Errorf("missing command: got %v, want *StartError 127", err)
	}
	bad := errors.New("client went away")
	_, err = relay.Run(context.Background(), e.r, relay.RunConfig{Stages: stages("yes"), Stdout: failWriter{bad}})
	if !errors.Is(err, bad) {
		t.Errorf("failing writer: got %v, want %v", err, bad)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = relay.Run(ctx, e.r, relay.RunConfig{Stages: stages("cat"), Stdin: strings.NewReader("x")}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled before: got %v", err)
	}
	e.do(func() {
		_, err := relay.Run(context.Background(), e.r, relay.RunConfig{Stages: stages("true")})
		if !errors.Is(err, relay.ErrOnLoopThread) {
			t.Errorf("on the loop goroutine: got %v, want ErrOnLoopThread", err)
		}
	})
	e.stop()
	_, err = relay.Run(context.Background(), e.r, relay.RunConfig{Stages: stages("cat"), Stdin: strings.NewReader("x"), Stdout: io.Discard})
	if !errors.Is(err, os.ErrClosed) {
		t.Errorf("stopped loop: got %v, want os.ErrClosed", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestRunConcurrent: many goroutines share one loop, each getting its
// own bytes back.
func TestRunConcurrent(t *testing.T) {
	e := newEnv(t, relay.Options{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			want := strings.Repeat(fmt.Sprintf("client %d\n", i), 1000*(i+1))
			var out bytes.Buffer
			_, err := relay.Run(context.Background(), e.r, relay.RunConfig{Stages: stages("cat"), Stdin: strings.NewReader(want), Stdout: &out})
			if err != nil || out.String() != want {
				t.Errorf("client %d: %v, %d bytes, want %d", i, err, out.Len(), len(want))
			}
		})
	}
	wg.Wait()
}

// TestRunConn: a net.Conn as both Stdin and Stdout is relayed from
// duplicates of its fd; the peer gets stage N's output, then end of file,
// and the caller's conn stays usable until it closes it.
func TestRunConn(t *testing.T) {
	e := newEnv(t, relay.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	want := bytes.Repeat([]byte("conn\x00\xff"), 200000)
	go func() { client.Write(want); client.(*net.TCPConn).CloseWrite() }()
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(client); got <- b }()
	res, err := relay.Run(context.Background(), e.r, relay.RunConfig{Stages: stages("cat"), Stdin: srv, Stdout: srv})
	if err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("peer got %d bytes, want %d", len(b), len(want))
	}
	if !res.Out.EOF || res.Out.Bytes != uint64(len(want)) {
		t.Errorf("Out: %+v", res.Out)
	}
}
