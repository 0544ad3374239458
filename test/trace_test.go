package test_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTraceFlag: with --trace a fast producer into a slow consumer shows
// the producer blocked writing, named by its stage.
func TestTraceFlag(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("eBPF tracing needs root (CI runs as root)")
	}
	res := run(t, runOpts{}, "--trace", "head -c 64M /dev/zero", `sh -c "sleep 0.5; cat >/dev/null"`)
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	var line string
	for _, l := range strings.Split(res.stderr, "\n") {
		if strings.Contains(l, "stage 1 (head") {
			line = l
			break
		}
	}
	if !strings.Contains(line, "writing") {
		t.Fatalf("stage 1 not shown blocked writing; stderr:\n%s", res.stderr)
	}
	if strings.Contains(res.stderr, "untraced") {
		t.Fatalf("tracing did not start as root; stderr:\n%s", res.stderr)
	}
	// pipeloop's only blocking pipe reads are os/exec's wait for each
	// stage's exec: plumbing, not a stall of the pipeline.
	for _, l := range strings.Split(res.stderr, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "pipeloop" && strings.Contains(l, "reading") {
			t.Errorf("pipeloop's own spawn plumbing shown as a stall: %q", l)
		}
	}
}

// asNobody runs the binary as uid/gid 65534 and returns exit code and stderr.
func asNobody(t *testing.T, args ...string) (int, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to nobody")
	}
	dir, err := os.MkdirTemp("", "pipeloop-nobody") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "pipeloop")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("timed out")
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// TestTraceUnprivileged: without privilege --trace warns in one line and
// the pipeline still runs; `pipeloop trace` fails with one line.
func TestTraceUnprivileged(t *testing.T) {
	code, stderr := asNobody(t, "--trace", "echo hi", "cat")
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	onlyLine(t, stderr, "--trace", "CAP_BPF", "untraced")
	if strings.Contains(stderr, "--trace: trace:") {
		t.Errorf("doubled prefix: %s", stderr)
	}

	code, stderr = asNobody(t, "trace", "--pid", "1", "--duration", "100ms")
	if code == 0 {
		t.Fatalf("pipeloop trace succeeded as nobody; stderr: %s", stderr)
	}
	onlyLine(t, stderr, "CAP_BPF")
	if !strings.HasPrefix(stderr, "pipeloop trace: ") || strings.Contains(stderr, "trace: trace:") {
		t.Errorf("want one 'pipeloop trace: ' prefix: %s", stderr)
	}
}
