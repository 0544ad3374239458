//go:build linux

package trace_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

// newTracer returns a loaded tracer, closed at the end of the test. It
// skips when not root (the only acceptable reason) and fails when the
// kernel says "unsupported": this kernel is expected to support tracing.
func newTracer(t testing.TB, opts trace.Options) *trace.Tracer {
	t.Helper()
	requireTracing(t)
	tr, err := trace.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tr
}

// requireTracing skips when not root or not on amd64, and fails when
// Check says anything else is missing.
func requireTracing(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root to load BPF programs (running as uid %d)", os.Geteuid())
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("the BPF program is built for amd64 only, not %s", runtime.GOARCH)
	}
	if err := trace.Check(); err != nil {
		t.Fatalf("Check as root: %v", err)
	}
}

// pipe returns a blocking pipe of 64 KiB (the default size) and its inode.
func pipe(t testing.TB) (r, w *os.File, ino uint64) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(os.NewSyscallError("pipe2", err))
	}
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[1]), fSetPipeSz, blockSize); errno != 0 {
		t.Fatal(os.NewSyscallError("fcntl F_SETPIPE_SZ", errno))
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(p[0], &st); err != nil {
		t.Fatal(os.NewSyscallError("fstat", err))
	}
	r, w = os.NewFile(uintptr(p[0]), "pipe-r"), os.NewFile(uintptr(p[1]), "pipe-w")
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w, st.Ino
}

// group starts re-executed test binaries in helper roles and releases
// them together: each child reports ready on fd 4, then waits on fd 3 for
// the start (see awaitStart), so that the parent can watch them first.
type group struct {
	t              testing.TB
	startR, startW *os.File // children read startR until the parent closes startW
	readyR, readyW *os.File // children write one byte to readyW when ready
	n              int      // children started
	isReady        bool     // ready has returned
}

func newGroup(t testing.TB) *group {
	g := &group{t: t}
	g.startR, g.startW, _ = pipe(t)
	g.readyR, g.readyW, _ = pipe(t)
	return g
}

// child is a re-executed test binary in a helper role.
type child struct {
	cmd    *exec.Cmd
	stderr strings.Builder
}

// start starts the test binary as role with stdin and stdout as given.
func (g *group) start(role string, stdin, stdout *os.File, env ...string) *child {
	t := g.t
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: exec.Command(exe)}
	// A -race binary sleeps 1s at exit by default, holding its pipe ends
	// open: that would show as a stall of its peers.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	c.cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + role, "GORACE=" + gorace}, env...)...)
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = stdin, stdout, &c.stderr
	c.cmd.ExtraFiles = []*os.File{g.startR, g.readyW}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.n++
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// startWatched starts the test binary as role with a fresh pipe's read end
// as stdin, has tr watch it and lets it start. It returns the child, its
// pid, the pipe's write end and the pipe's inode.
func startWatched(t testing.TB, tr *trace.Tracer, role string) (c *child, pid int, w *os.File, ino uint64) {
	t.Helper()
	r, w, ino := pipe(t)
	g := newGroup(t)
	c = g.start(role, r, nil)
	r.Close()
	pid = c.cmd.Process.Pid
	if err := tr.Watch(pid); err != nil {
		t.Fatal(err)
	}
	g.release()
	return c, pid, w, ino
}

// ready waits until every child is ready: each has done what it does
// before the start.
func (g *group) ready() {
	t := g.t
	t.Helper()
	if g.isReady {
		return
	}
	g.isReady = true
	g.startR.Close()
	g.readyW.Close()
	buf := make([]byte, g.n)
	if _, err := io.ReadFull(g.readyR, buf); err != nil {
		t.Fatalf("waiting for %d children to be ready: %v", g.n, err)
	}
}

// release waits until every child is ready and lets them all start.
func (g *group) release() {
	g.t.Helper()
	g.ready()
	g.startW.Close()
}

// wait waits for the child and returns the wall and CPU time it measured.
func (c *child) wait(t *testing.T) (wall, cpu time.Duration) {
	t.Helper()
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child %s: %v: %s", c.cmd.Env[len(os.Environ())], err, c.stderr.String())
	}
	var w, u int64
	if _, err := fmt.Sscanf(c.stderr.String(), "wall_ns=%d cpu_ns=%d", &w, &u); err != nil {
		t.Fatalf("child output %q: %v", c.stderr.String(), err)
	}
	return time.Duration(w), time.Duration(u)
}

// find returns the record of tgid on inode in direction d.
func find(r trace.Report, tgid int, ino uint64, d trace.Direction) (trace.Record, error) {
	for _, rec := range r.Records {
		if rec.Tgid == tgid && rec.Inode == ino && rec.Dir == d {
			return rec, nil
		}
	}
	return trace.Record{}, errors.New("no record")
}

// gated is `sh -c SCRIPT` held at a gate: started, but its script runs
// only once the gate opens (a `read go` on its stdin), so that a tracer
// can watch the shell before it forks anything.
type gated struct {
	cmd  *exec.Cmd
	gate io.WriteCloser
}

// startGated starts script behind a gate; the shell is reaped when the
// test ends if the test did not wait for it.
func startGated(t testing.TB, script string) *gated {
	t.Helper()
	cmd := exec.Command("sh", "-c", "read go; "+script)
	gate, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return &gated{cmd: cmd, gate: gate}
}

// traceScript runs script behind a gate with tr watching its shell from
// before it forks anything, and returns tr's snapshot once it finished,
// and the shell's pid.
func traceScript(t testing.TB, tr *trace.Tracer, script string) (trace.Report, int) {
	t.Helper()
	sh := startGated(t, script)
	if err := tr.Watch(sh.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	sh.run(t)
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return rep, sh.cmd.Process.Pid
}

// run opens the gate and waits for the script to finish.
func (g *gated) run(t testing.TB) {
	t.Helper()
	g.gate.Write([]byte("go\n"))
	g.gate.Close()
	if err := g.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
