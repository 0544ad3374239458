//go:build linux

package trace_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

// Command.Check rejects what no command line may ask for (cmd/pipeloop's
// tests cover the flags themselves).
func TestCommandCheck(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    trace.Command
		want string
	}{
		{"no pid", trace.Command{}, "--pid is required"},
		{"zero pid", trace.Command{PIDs: []int{1, 0}}, "invalid pid 0"},
		{"negative duration", trace.Command{PIDs: []int{1}, Duration: -time.Second}, "--duration must not be negative"},
		{"too many records", trace.Command{PIDs: []int{1}, MaxRecords: 1 << 30}, "--max-records must be in 1..4194304"},
		{"fine", trace.Command{PIDs: []int{1}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Check()
			if got := fmt.Sprint(err); (err != nil || tt.want != "") && got != tt.want {
				t.Errorf("Check() = %v, want %q", err, tt.want)
			}
			if err != nil {
				if runErr := tt.c.Run(context.Background(), io.Discard, io.Discard); runErr == nil || runErr.Error() != err.Error() {
					t.Errorf("Run = %v, want Check's %v", runErr, err)
				}
			}
		})
	}
}

// signalWriter collects output and closes started at the first write
// (Run's "tracing N process(es)" line, written once it watches).
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
	done := make(chan error)
	go func() {
		c := trace.Command{PIDs: []int{sh.Process.Pid}, FollowChildren: true, JSON: true}
		done <- c.Run(context.Background(), &stdout, stderr)
	}()
	select {
	case <-stderr.started:
	case err := <-done:
		t.Fatalf("Run returned %v early: %s", err, stderr.buf.String())
	}
	io.WriteString(stdin, "go\n")
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the pipeline exited")
	}
	if runErr != nil {
		t.Fatalf("Run: %v: %s", runErr, stderr.buf.String())
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
	live := sleeper(t)
	var stdout, stderr strings.Builder
	start := time.Now()
	c := trace.Command{PIDs: []int{live}, Duration: 200 * time.Millisecond}
	if err := c.Run(context.Background(), &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v: %s", err, stderr.String())
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
	c := trace.Command{PIDs: []int{1 << 30}}
	err := c.Run(context.Background(), &stdout, &stderr)
	want := "watch pid 1073741824: no such process"
	if err == nil || err.Error() != want || !errors.Is(err, syscall.ESRCH) || stderr.Len() != 0 {
		t.Errorf("Run = %v, stderr %q; want %q wrapping ESRCH, nothing on stderr", err, stderr.String(), want)
	}
}

// sleeper starts `sleep 10`, killed and reaped at the end of the test,
// and returns its pid.
func sleeper(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
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

// Tracing a zombie without --duration ends by itself, and says why: it
// has exited, as a missing pid has, and there is nothing to watch.
func TestCommandZombieEnds(t *testing.T) {
	requireTracing(t)
	z := zombie(t)
	var stdout, stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- trace.Command{PIDs: []int{z}}.Run(context.Background(), &stdout, &stderr)
	}()
	select {
	case err := <-done:
		want := fmt.Sprintf("watch pid %d: no such process: it has exited (a zombie)", z)
		if err == nil || err.Error() != want || !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("Run = %v (stderr %q), want %q wrapping ESRCH", err, stderr.String(), want)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("trace --pid %d (a zombie) did not end by itself", z)
	}
}

// A zombie among live pids is warned about (once) and skipped; a pid named
// twice is one process.
func TestCommandZombieAndDuplicate(t *testing.T) {
	requireTracing(t)
	z := zombie(t)
	live := sleeper(t)
	var stdout, stderr strings.Builder
	var warned []string
	c := trace.Command{PIDs: []int{live, z, live, z}, Duration: 100 * time.Millisecond,
		Warn: func(err error) { warned = append(warned, err.Error()) }}
	if err := c.Run(context.Background(), &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v: %s", err, stderr.String())
	}
	if want := []string{fmt.Sprintf("watch pid %d: no such process: it has exited (a zombie)", z)}; !slices.Equal(warned, want) {
		t.Errorf("warned %q, want %q", warned, want)
	}
	if want := "tracing 1 process(es); Ctrl-C to stop\n"; stderr.String() != want {
		t.Errorf("progress %q, want %q", stderr.String(), want)
	}
}

// One missing pid among others is reported and skipped, not fatal, and a
// watched process that never blocked still gets a row.
func TestCommandMissingPidSkipped(t *testing.T) {
	requireTracing(t)
	live := sleeper(t)
	pid := strconv.Itoa(live)
	var stdout, stderr strings.Builder
	var warned []string
	c := trace.Command{PIDs: []int{live, 1 << 30}, Duration: 200 * time.Millisecond,
		Warn: func(err error) { warned = append(warned, err.Error()) }}
	if err := c.Run(context.Background(), &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v: %s", err, stderr.String())
	}
	if want := []string{"watch pid 1073741824: no such process"}; !slices.Equal(warned, want) {
		t.Errorf("warned %q, want %q", warned, want)
	}
	if want := "tracing 1 process(es); Ctrl-C to stop\n"; stderr.String() != want {
		t.Errorf("progress %q, want %q", stderr.String(), want)
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
