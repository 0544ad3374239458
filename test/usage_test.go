package test_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFlagAfterStage: a flag written after a STAGE is a usage error that
// says where flags go, and so is `pipeloop help`; after "--" a command
// named like a flag, or help, runs.
func TestFlagAfterStage(t *testing.T) {
	// Commands named --stats and help, first on PATH.
	dir := t.TempDir()
	for _, name := range []string{"--stats", "help"} {
		script := "#!/bin/sh\necho ran " + name + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + dir + ":" + os.Getenv("PATH")}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string // substrings of a one-line stderr
		out    string
	}{
		{"flag after stage", []string{"cat", "--stats"}, 2,
			[]string{"stage 2 (--stats) is a flag", "flags go before the STAGEs", "pipeloop --stats STAGE...", "put -- before"}, ""},
		{"flag with value after stage", []string{"--shell", "cat", "true", "--buffer=1M"}, 2,
			[]string{"stage 3 (--buffer=1M) is a flag"}, ""},
		{"help after stage", []string{"cat", "--help"}, 2, []string{"stage 2 (--help) is a flag"}, ""},
		{"help alone", []string{"help"}, 2, []string{"pipeloop --help prints the usage", "pipeloop -- help runs"}, ""},
		{"help after dashes", []string{"--", "help"}, 0, nil, "ran help\n"},
		{"flag-named command after dashes", []string{"--", "true", "--stats"}, 0, nil, "ran --stats\n"},
		{"unknown flag-like stage runs", []string{"true", "--no-such-flag"}, 127, []string{"stage 2 (--no-such-flag)", "command not found"}, ""},
		{"help among stages runs", []string{"help", "cat"}, 0, nil, "ran help\n"},
		{"serve flag after stage", []string{"serve", "--listen", "127.0.0.1:0", "cat", "--log", "off"}, 2,
			[]string{"pipeloop serve: stage 2 (--log) is a flag", "pipeloop serve --log STAGE..."}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, runOpts{keepOut: true, env: env, timeout: 20 * time.Second}, tc.args...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", res.code, tc.code, res.stderr)
			}
			if tc.stderr != nil {
				onlyLine(t, res.stderr, tc.stderr...)
			}
			if got := string(res.out); got != tc.out {
				t.Errorf("stdout %q, want %q", got, tc.out)
			}
		})
	}
}
