package test_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// stream is an endless pseudo-random byte stream; two streams with the
// same seed produce the same bytes, so output can be checked against a
// regenerated copy of the input without storing either.
type stream struct{ r *rand.ChaCha8 }

func newLoadStream(seed uint64) *stream {
	var s [32]byte
	for i := range 4 {
		s[i] = byte(seed >> (8 * i))
	}
	return &stream{rand.NewChaCha8(s)}
}

func (s *stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// TestSignalsUnderLoad: SIGINT, SIGTERM or SIGHUP, sent to pipeloop or to
// its whole process group at a random moment while data flows (or before
// it starts), ends the run every time: within seconds, killed by the
// signal (or with status 128+signal), output a byte-exact prefix of the
// input, and no stage left behind.
func TestSignalsUnderLoad(t *testing.T) {
	runs := 24
	if testing.Short() {
		runs = 6
	}
	if n, err := strconv.Atoi(os.Getenv("PIPELOOP_SIGNAL_RUNS")); err == nil && n > 0 {
		runs = n
	}
	sigs := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}
	shapes := [][]string{
		nil, // stdin mode
		{"cat", "cat"},
		{"cat", "cat", "cat"},
		{"cat", "dd bs=64k status=none", "cat"},
	}
	for i := range runs {
		seed := uint64(i) + 1
		rng := rand.New(rand.NewPCG(seed, 7))
		sig := sigs[rng.IntN(len(sigs))]
		stages := shapes[rng.IntN(len(shapes))]
		args := []string{"--mode", []string{"auto", "copy", "splice"}[rng.IntN(3)],
			"--buffer", []string{"8K", "64K", "256K"}[rng.IntN(3)]}
		args = append(args, stages...)
		group := rng.IntN(2) == 0
		early := rng.IntN(6) == 0
		delay := time.Duration(rng.IntN(80)) * time.Millisecond
		how := "pid"
		if group {
			how = "group"
		}
		if early {
			how += "-early"
		}
		name := fmt.Sprintf("%d/%v/%s/stages=%d/%s/%s", seed, sig, how, len(stages), args[1], args[3])
		t.Run(name, func(t *testing.T) {
			skipIfIgnored(t, sig)
			signalRun(t, seed, sig, args, group, early, delay)
		})
	}
}

func signalRun(t *testing.T, seed uint64, sig syscall.Signal, args []string, group, early bool, delay time.Duration) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, so -pgid spares the test
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid

	// Writer: the stream until pipeloop's stdin goes away.
	go func() {
		io.Copy(stdin, newLoadStream(seed))
		stdin.Close()
	}()
	// Reader: compare with a second copy of the stream as bytes arrive.
	type readResult struct {
		n   int64
		err error
	}
	first := make(chan struct{})
	read := make(chan readResult, 1)
	go func() {
		want := newLoadStream(seed)
		buf, wbuf := make([]byte, 64<<10), make([]byte, 64<<10)
		var n int64
		for {
			m, err := stdout.Read(buf)
			if n == 0 && m > 0 {
				close(first)
			}
			want.Read(wbuf[:m])
			if !bytes.Equal(buf[:m], wbuf[:m]) {
				read <- readResult{n, fmt.Errorf("output differs from the input within bytes %d..%d", n, n+int64(m))}
				return
			}
			n += int64(m)
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
					err = nil
				}
				read <- readResult{n, err}
				return
			}
		}
	}()

	// Stage pids, collected while they run so none is missed.
	kids := map[int]bool{}
	collect := func() {
		for _, k := range children(pid) {
			kids[k] = true
		}
	}
	if !early {
		select {
		case <-first:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no output within 20s; stderr: %s", stderr.String())
		}
	}
	for end := time.Now().Add(delay); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		collect()
	}
	collect()
	target := pid
	if group {
		target = -pid
	}
	if err := syscall.Kill(target, sig); err != nil {
		t.Fatal(err)
	}

	rr := readResult{err: errors.New("no result")}
	select {
	case rr = <-read:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		syscall.Kill(-pid, syscall.SIGKILL)
		cmd.Wait()
		t.Fatalf("pipeloop %q still running (or its output still open) 20s after %v; stderr: %s", args, sig, stderr.String())
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case <-waited:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-waited
		t.Fatalf("pipeloop %q did not exit 20s after %v", args, sig)
	}
	if rr.err != nil {
		t.Errorf("after %d bytes: %v", rr.n, rr.err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled() && ws.Signal() == sig:
		// The stages died of it and so did pipeloop (or, early, the signal
		// beat pipeloop's handlers: it died before it spawned anything,
		// like any program would).
	case ws.Signaled():
		t.Errorf("pipeloop killed by %v (sent %v after %d bytes)", ws.Signal(), sig, rr.n)
	case ws.ExitStatus() != 128+int(sig):
		t.Errorf("exit %d, want %d (%v after %d bytes); stderr: %s", ws.ExitStatus(), 128+int(sig), sig, rr.n, stderr.String())
	}
	// Every stage was reaped by pipeloop before it exited.
	for k := range kids {
		if st, err := os.ReadFile("/proc/" + strconv.Itoa(k) + "/stat"); err == nil {
			t.Errorf("stage pid %d still exists after pipeloop exited: %s", k, st)
		}
	}
	t.Logf("%v after %d bytes (%v after start of flow); exit %v", sig, rr.n, delay, cmd.ProcessState)
}
