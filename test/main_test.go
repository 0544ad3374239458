package test_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/leakcheck"
)

// bin is the pipeloop binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pipeloop-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "pipeloop")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/pipeloop")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pipeloop:", err)
		os.Exit(1)
	}
	// Fail the run if a test left an fd open or a child unreaped.
	code := leakcheck.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one finished run of the binary.
type result struct {
	code   int
	out    []byte // stdout, when captured
	sum    string // SHA-256 of stdout
	n      int64  // bytes on stdout
	stderr string
	wall   time.Duration
	state  *os.ProcessState
}

// runOpts configure a run.
type runOpts struct {
	stdin   io.Reader // nil: /dev/null
	stdout  *os.File  // nil: hashed through a pipe
	keepOut bool      // keep stdout bytes in result.out
	timeout time.Duration
	extra   []*os.File // passed to pipeloop as fds 3, 4…
	env     []string   // added to the environment (later entries win)
}

// run runs pipeloop with args and fails the test if it does not end in
// time (a hang is a failure, never a wait forever).
func run(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = o.stdin
	cmd.ExtraFiles = o.extra
	// A race-enabled binary otherwise sleeps 1 s at exit; a race it finds
	// makes it exit 66, which fails the test.
	cmd.Env = append(append(os.Environ(), "GORACE=atexit_sleep_ms=0"), o.env...)
	h := sha256.New()
	var n countWriter
	var keep bytes.Buffer
	if o.stdout != nil {
		cmd.Stdout = o.stdout
	} else if o.keepOut {
		cmd.Stdout = io.MultiWriter(h, &n, &keep)
	} else {
		cmd.Stdout = io.MultiWriter(h, &n)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	res := result{stderr: stderr.String(), wall: time.Since(start), state: cmd.ProcessState,
		sum: hex.EncodeToString(h.Sum(nil)), n: int64(n), out: keep.Bytes()}
	if ctx.Err() != nil {
		t.Fatalf("pipeloop %q did not finish within %v; stderr:\n%s", args, o.timeout, res.stderr)
	}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("pipeloop %q: %v", args, err)
		}
	}
	res.code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("pipeloop %q was killed by %v; stderr:\n%s", args, ws.Signal(), res.stderr)
	}
	return res
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// payload returns n random bytes in a temp file and their SHA-256.
func payload(t *testing.T, n int64) (*os.File, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "payload")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, n); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, hex.EncodeToString(h.Sum(nil))
}

// reopen returns a fresh read handle on f from offset 0.
func reopen(t *testing.T, f *os.File) *os.File {
	t.Helper()
	g, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// onlyLine checks that s is exactly one line containing every want.
func onlyLine(t *testing.T, s string, want ...string) {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Errorf("stderr is not exactly one line: %q", s)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("stderr %q does not mention %q", s, w)
		}
	}
}
