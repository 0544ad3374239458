package test_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExitStatus checks each pipefail rule.
func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		want   int
		stderr []string // substrings of a one-line stderr, if any
	}{
		{"all succeed", []string{"true", "true"}, 0, nil},
		{"single failure", []string{"false"}, 1, nil},
		{"first fails", []string{"sh -c 'exit 3'", "cat"}, 3, nil},
		{"rightmost failure wins", []string{"sh -c 'exit 3'", "sh -c 'cat >/dev/null; exit 5'", "true"}, 5, nil},
		{"killed by signal", []string{"sh -c 'kill -TERM $$'"}, 143, nil},
		{"last killed", []string{"true", "sh -c 'kill -KILL $$'"}, 137, nil},
		{"sigpipe upstream is fine", []string{"yes", "head -n 1"}, 0, nil},
		{"sigpipe through a chain", []string{"yes", "cat", "cat", "head -c 10"}, 0, nil},
		{"not found", []string{"cat", "no-such-command-pipeloop"}, 127,
			[]string{"stage 2 (no-such-command-pipeloop)", "command not found"}},
		{"empty stage", []string{"cat", "  "}, 2, []string{"stage 2"}},
		{"unknown flag", []string{"--frobnicate", "cat"}, 2, []string{"--frobnicate"}},
		{"bad size", []string{"--buffer", "12Q", "cat"}, 2, []string{"12Q"}},
		{"size too small", []string{"--buffer", "4096", "cat"}, 2, []string{"4096"}},
		{"bad mode", []string{"--mode", "teleport"}, 2, []string{"teleport"}},
		{"unbalanced quote", []string{"cat 'oops"}, 2, []string{"stage 1", "unbalanced"}},
		{"shell syntax", []string{"sort | uniq"}, 2, []string{"stage 1", "--shell"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, runOpts{timeout: 20 * time.Second}, tc.args...)
			if res.code != tc.want {
				t.Fatalf("exit %d, want %d; stderr: %s", res.code, tc.want, res.stderr)
			}
			if tc.stderr != nil {
				onlyLine(t, res.stderr, tc.stderr...)
			}
		})
	}
}

// TestNotExecutable: a file without the execute bit exits 126.
func TestNotExecutable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := run(t, runOpts{}, "cat", p)
	if res.code != 126 {
		t.Fatalf("exit %d, want 126; stderr: %s", res.code, res.stderr)
	}
	onlyLine(t, res.stderr, "stage 2", p)
}

// TestMissingCommandStartsNothing: a missing command is found before any
// stage runs, so no input is consumed and no side effect happens.
func TestMissingCommandStartsNothing(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	res := run(t, runOpts{}, "touch "+marker, "no-such-command-pipeloop")
	if res.code != 127 {
		t.Fatalf("exit %d, want 127", res.code)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("stage 1 ran although stage 2 does not exist")
	}
}

// TestYesHead: `pipeloop yes 'head -n 1'` ends at once with status 0.
func TestYesHead(t *testing.T) {
	res := run(t, runOpts{keepOut: true, timeout: 10 * time.Second}, "yes", "head -n 1")
	if res.code != 0 || string(res.out) != "y\n" {
		t.Fatalf("exit %d, output %q; stderr: %s", res.code, res.out, res.stderr)
	}
	t.Logf("yes | head -n 1 took %v", res.wall)
	if res.wall > 2*time.Second {
		t.Errorf("took %v: the upstream stage was not stopped when the reader left", res.wall)
	}
}

// TestHelpAndVersion: --help goes to stdout with status 0, as does --version.
func TestHelpAndVersion(t *testing.T) {
	res := run(t, runOpts{keepOut: true}, "--help")
	if res.code != 0 || !strings.Contains(string(res.out), "Usage:") {
		t.Fatalf("--help: exit %d, output %q", res.code, res.out)
	}
	res = run(t, runOpts{keepOut: true}, "--version")
	if res.code != 0 || !strings.HasPrefix(string(res.out), "pipeloop ") {
		t.Fatalf("--version: exit %d, output %q", res.code, res.out)
	}
}

// TestReadmeUsage keeps the README's usage block identical to --help.
func TestReadmeUsage(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, runOpts{keepOut: true}, "--help")
	if !strings.Contains(string(readme), "```\n"+string(res.out)+"```\n") {
		t.Fatalf("README.md does not contain the current --help output in a code block; paste it:\n%s", res.out)
	}
}

// TestScriptWithoutShebang: an executable text file without "#!" runs with
// /bin/sh, as execvp(3) and shells run it; an executable binary the kernel
// cannot run is still 126.
func TestScriptWithoutShebang(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("echo \"$0 $1 $2\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res := run(t, runOpts{keepOut: true}, "cat", script+" a 'b c'")
	if got, want := string(res.out), script+" a b c\n"; res.code != 0 || got != want {
		t.Fatalf("exit %d, output %q, want 0 and %q; stderr: %s", res.code, got, want, res.stderr)
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("\x7fELF\x00\x00\x00\x00garbage\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res = run(t, runOpts{}, junk)
	if res.code != 126 {
		t.Fatalf("binary junk: exit %d, want 126; stderr: %s", res.code, res.stderr)
	}
	onlyLine(t, res.stderr, "stage 1", junk, "exec format error")
}

// TestStagesStartSchedOther: a stage spawned while the loop thread runs
// SCHED_BATCH (--sched batch) starts SCHED_OTHER: the policy is the loop
// thread's, never the stages'.
func TestStagesStartSchedOther(t *testing.T) {
	// Field 41 of /proc/PID/stat is the policy: 0 SCHED_OTHER, 3 SCHED_BATCH.
	res := run(t, runOpts{keepOut: true}, "--sched", "batch", "cut -d \" \" -f 41 /proc/self/stat")
	if got := string(res.out); res.code != 0 || got != "0\n" {
		t.Fatalf("exit %d, stage policy %q, want 0 (SCHED_OTHER); stderr: %s", res.code, got, res.stderr)
	}
}
