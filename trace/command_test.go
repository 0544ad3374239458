//go:build linux

package trace_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

func TestCommandUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string // substring of stdout
		inStderr string // substring of stderr
	}{
		{"help", []string{"--help"}, 0, "Usage: pipeloop trace --pid", ""},
		{"no pid", nil, 2, "", "pipeloop trace: --pid is required"},
		{"bad pid", []string{"--pid", "12,x"}, 2, "", `invalid pid "x"`},
		{"zero pid", []string{"--pid", "0"}, 2, "", `invalid pid "0"`},
		{"unknown flag", []string{"--pid", "1", "--bogus"}, 2, "", "unknown flag --bogus (try --help)"},
		{"argument", []string{"--pid", "1", "extra"}, 2, "", `unexpected argument "extra"`},
		{"negative duration", []string{"--pid", "1", "--duration", "-1s"}, 2, "", "--duration must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := trace.RunCommand(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit = %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.inStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.inStdout)
			}
			if !strings.Contains(stderr.String(), tt.inStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.inStderr)
			}
			if tt.code == 2 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("usage error is not one line: %q", stderr.String())
			}
		})
	}
}

// signalWriter collects output and closes started at the first write
// (RunCommand's "tracing N process(es)" line, written once it watches).
type signalWriter struct {
	mu      sync.Mutex
	buf     strings.Builder
	once    sync.Once
	started chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.started) })
	return w.buf.Write(p)
}

// pipeloop trace --pid SH --follow-children --json follows the stages a
// shell spawns after tracing started and stops when all have exited.
func TestCommandFollowsPipeline(t *testing.T) {
	requireTracing(t)
	sh := exec.Command("sh", "-c", "read go; dd if=/dev/zero bs=64k count=200 status=none | (sleep 0.2; dd of=/dev/null bs=64k status=none)")
	stdin, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer sh.Wait()
	defer stdin.Close()

	stderr := &signalWriter{started: make(chan struct{})}
	var stdout strings.Builder
	done := make(chan int)
	go func() {
		done <- trace.RunCommand(context.Background(),
			[]string{"--pid", strconv.Itoa(sh.Process.Pid), "--follow-children", "--json"}, &stdout, stderr)
	}()
	select {
	case <-stderr.started:
	case code := <-done:
		t.Fatalf("RunCommand returned %d early: %s", code, stderr.buf.String())
	}
	io.WriteString(stdin, "go\n")
	var code int
	select {
	case code = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("RunCommand did not return after the pipeline exited")
	}
	if code != 0 {
		t.Fatalf("exit = %d: %s", code, stderr.buf.String())
	}
	var rep trace.JSONReport
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("output is not a JSON report: %v\n%s", err, stdout.String())
	}
	var ddWriteNS int64
	for _, p := range rep.Processes {
		if p.Comm == "dd" {
			ddWriteNS += p.BlockedWriting.TotalNS
		}
	}
	if ddWriteNS < int64(150*time.Millisecond) {
		t.Errorf("dd blocked writing %v, want about 200ms:\n%s", time.Duration(ddWriteNS), stdout.String())
	}
}

// --duration ends tracing of a process that outlives it, and the table
// goes to stdout.
func TestCommandDuration(t *testing.T) {
	requireTracing(t)
	sleeper := exec.Command("sleep", "10")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Wait()
	defer sleeper.Process.Kill()
	var stdout, stderr strings.Builder
	start := time.Now()
	code := trace.RunCommand(context.Background(),
		[]string{"--pid", strconv.Itoa(sleeper.Process.Pid), "--duration", "200ms"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit = %d: %s", code, stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v with --duration 200ms", d)
	}
	if !strings.HasPrefix(stdout.String(), "pipe stalls over ") {
		t.Errorf("stdout = %q, want a table", stdout.String())
	}
}

func TestCommandNoSuchProcess(t *testing.T) {
	requireTracing(t)
	var stdout, stderr strings.Builder
	code := trace.RunCommand(context.Background(), []string{"--pid", strconv.Itoa(1 << 30)}, &stdout, &stderr)
	want := "pipeloop trace: watch pid 1073741824: no such process\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, stderr.String(), want)
	}
}

// zombie starts `sh -c 'sleep 0.2 & exec sleep 30'` and returns the pid of
// its first child once that child is a zombie (its parent, now sleep 30,
// never reaps it).
func zombie(t *testing.T) int {
	t.Helper()
	sh := exec.Command("sh", "-c", "sleep 0.2 & exec sleep 30")
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	pid := sh.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		kids, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
		if f := strings.Fields(string(kids)); len(f) == 1 {
			stat, _ := os.ReadFile("/proc/" + f[0] + "/stat")
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
				z, _ := strconv.Atoi(f[0])
				return z
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no zombie child appeared")
	return 0
}

// Tracing a zombie without --duration ends by itself: it has nothing left
// to watch.
func TestCommandZombieEnds(t *testing.T) {
	requireTracing(t)
	z := zombie(t)
	var stdout, stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- trace.RunCommand(context.Background(), []string{"--pid", strconv.Itoa(z)}, &stdout, &stderr)
	}()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit = %d: %s", code, stderr.String())
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("trace --pid %d (a zombie) did not end by itself", z)
	}
}

// One missing pid among others is reported and skipped, not fatal, and a
// watched process that never blocked still gets a row.
func TestCommandMissingPidSkipped(t *testing.T) {
	requireTracing(t)
	sleeper := exec.Command("sleep", "10")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Wait()
	defer sleeper.Process.Kill()
	pid := strconv.Itoa(sleeper.Process.Pid)
	var stdout, stderr strings.Builder
	code := trace.RunCommand(context.Background(),
		[]string{"--pid", pid + "," + strconv.Itoa(1<<30), "--duration", "200ms"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit = %d, want 0: %s", code, stderr.String())
	}
	if want := "pipeloop trace: watch pid 1073741824: no such process; not traced\n"; !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to start with %q", stderr.String(), want)
	}
	var row string
	for l := range strings.Lines(stdout.String()) {
		if strings.HasPrefix(l, pid+" ") {
			row = l
		}
	}
	if !strings.Contains(row, "sleep") || !strings.Contains(row, "never") {
		t.Errorf("no 'sleep never' row for watched pid %s:\n%s", pid, stdout.String())
	}
}
