package test_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/report"
	"golang.org/x/sys/unix"
)

// between is a pipeloop run between two pipes of the test's, driven the
// way a request/response peer drives it: the test writes its stdin (in)
// and reads its stdout (out), and reads its --stats-json at the end.
type between struct {
	cmd    *exec.Cmd
	in     *os.File // pipeloop's stdin: the test writes
	out    *os.File // pipeloop's stdout: the test reads
	stats  string
	stderr bytes.Buffer
}

// startBetween starts prog (bin, or a command prefix ending in a binary)
// with args and --stats-json in dir, on pipes owned by uid owner, with env
// added to the environment. The stderr is logged if the test fails.
func startBetween(t *testing.T, prog []string, dir string, owner int, env []string, args ...string) *between {
	t.Helper()
	b := &between{stats: filepath.Join(dir, "stats.json")}
	inR, in := pipeOf(t, owner)
	out, outW := pipeOf(t, owner)
	b.in, b.out = in, out
	b.cmd = exec.Command(prog[0], append(append(prog[1:], "--stats-json", b.stats), args...)...)
	b.cmd.Stdin, b.cmd.Stdout, b.cmd.Stderr = inR, outW, &b.stderr
	b.cmd.Env = append(append(os.Environ(), "GORACE=atexit_sleep_ms=0"), env...)
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pipeloop's stderr: %s", b.stderr.String())
		}
	})
	return b
}

// finish ends pipeloop's input, reads what it still writes and waits for
// it; it returns those bytes, how pipeloop ended and its report (the test
// fails if the report cannot be read).
func (b *between) finish(t *testing.T) (rest []byte, err error, r report.Report) {
	t.Helper()
	b.in.Close()
	rest, _ = io.ReadAll(b.out)
	err = b.cmd.Wait()
	data, rerr := os.ReadFile(b.stats)
	if rerr == nil {
		rerr = json.Unmarshal(data, &r)
	}
	if rerr != nil {
		t.Fatalf("stats: %v; pipeloop %v", rerr, err)
	}
	return rest, err, r
}

// pipeOf is os.Pipe with the pipe's inode owned by uid (its creator's
// fsuid), both ends closed at cleanup.
func pipeOf(t *testing.T, uid int) (r, w *os.File) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// setfsuid answers the previous fsuid, which x/sys/unix drops: this
	// test process's is its uid.
	unix.Setfsuid(uid)
	r, w, err := os.Pipe()
	unix.Setfsuid(os.Getuid())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// burst writes n random bytes into pipeloop at once and reads them back,
// failing the test unless they come back whole; they go to sum.
func (b *between) burst(t *testing.T, rng *rand.Rand, n int, sum io.Writer) {
	t.Helper()
	p := testfd.Pattern(n, rng.Uint64())
	go b.in.Write(p)
	got := make([]byte, n)
	if _, err := io.ReadFull(b.out, got); err != nil || !bytes.Equal(got, p) {
		t.Fatalf("a burst of %d bytes: %v, equal %v", n, err, bytes.Equal(got, p))
	}
	sum.Write(p)
}
