package test_test

import (
	"os"
	"path/filepath"
	"strings"
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

// TestErrorVoice: every usage error is one line in one style — flags
// written --name, "(try --help)" at the end, the command named once — and
// a stage that fails without a word leaves stderr empty, as in bash, and
// as --help says.
func TestErrorVoice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string // the whole of stderr
	}{
		{"missing value", []string{"--stats-json"}, 2, "pipeloop: --stats-json needs a value (try --help)\n"},
		{"near miss", []string{"--stat", "cat"}, 2, "pipeloop: unknown flag --stat; did you mean --stats? (try --help)\n"},
		{"far miss", []string{"--frobnicate", "cat"}, 2, "pipeloop: unknown flag --frobnicate (try --help)\n"},
		{"bad value", []string{"--kill-grace", "soon", "cat"}, 2, "pipeloop: invalid value \"soon\" for --kill-grace: parse error (try --help)\n"},
		{"trace unknown flag", []string{"trace", "--bogus"}, 2, "pipeloop trace: unknown flag --bogus (try --help)\n"},
		{"trace near miss", []string{"trace", "--pid", "1", "--folow-children"}, 2,
			"pipeloop trace: unknown flag --folow-children; did you mean --follow-children? (try --help)\n"},
		{"trace no pid", []string{"trace"}, 2, "pipeloop trace: --pid is required (try --help)\n"},
		{"trace argument", []string{"trace", "--pid", "1", "extra"}, 2, "pipeloop trace: unexpected argument \"extra\" (try --help)\n"},
		{"trace bad pid", []string{"trace", "--pid", "1,x"}, 2, "pipeloop trace: invalid value \"1,x\" for --pid: invalid pid \"x\" (try --help)\n"},
		{"bad mode", []string{"--mode", "fast", "cat"}, 2,
			"pipeloop: invalid value \"fast\" for --mode: unknown mode \"fast\" (want auto, copy or splice) (try --help)\n"},
		{"serve bad sched", []string{"serve", "--listen", "127.0.0.1:0", "--sched", "x", "cat"}, 2,
			"pipeloop serve: invalid value \"x\" for --sched: unknown scheduling policy \"x\" (want auto, normal or batch) (try --help)\n"},
		{"serve stage not found", []string{"serve", "--listen", "127.0.0.1:0", "no-such-command-here"}, 127,
			"pipeloop serve: stage 1 (no-such-command-here): no-such-command-here: command not found\n"},
		{"stage not found", []string{"cat", "no-such-command-here"}, 127,
			"pipeloop: stage 2 (no-such-command-here): no-such-command-here: command not found\n"},
		{"unbalanced quote", []string{"cat 'x"}, 2, "pipeloop: stage 1 (cat 'x): unbalanced single quote\n"},
		{"serve no listen", []string{"serve", "cat"}, 2, "pipeloop serve: --listen ADDR is required (try --help)\n"},
		{"serve no stage", []string{"serve", "--listen", "127.0.0.1:0"}, 2, "pipeloop serve: at least one STAGE is required (try --help)\n"},
		{"serve missing value", []string{"serve", "--listen"}, 2, "pipeloop serve: --listen needs a value (try --help)\n"},
		{"serve cannot listen", []string{"serve", "--listen", "unix:/nonexistent-dir/x.sock", "cat"}, 1,
			"pipeloop serve: listen unix:/nonexistent-dir/x.sock: bind: no such file or directory\n"},
		{"serve metrics cannot listen", []string{"serve", "--listen", "127.0.0.1:0", "--log", "off", "--metrics", "unix:/nonexistent-dir/x.sock", "cat"}, 1,
			"pipeloop serve: --metrics: listen unix /nonexistent-dir/x.sock: bind: no such file or directory\n"},
		{"silent failing stage", []string{"cat", "false"}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, runOpts{timeout: 20 * time.Second}, tc.args...)
			if res.code != tc.code || res.stderr != tc.stderr {
				t.Fatalf("exit %d, stderr %q; want %d, %q", res.code, res.stderr, tc.code, tc.stderr)
			}
		})
	}
	// --help, serve --help and trace --help: one layout, from the same
	// opening to the same closing section.
	for _, cmd := range [][]string{{"--help"}, {"serve", "--help"}, {"trace", "--help"}} {
		res := run(t, runOpts{keepOut: true}, cmd...)
		out := string(res.out)
		prog := strings.TrimSpace("pipeloop " + strings.Join(cmd[:len(cmd)-1], " "))
		if res.code != 0 || res.stderr != "" || !strings.HasPrefix(out, prog+" ") || !strings.Contains(out, "\nUsage:\n  "+prog+" ") ||
			!strings.Contains(out, "\nFlags:\n  --") || !strings.Contains(out, "  --help             print this help and exit\n") ||
			!strings.Contains(out, "\nExit status: ") {
			t.Errorf("%q: exit %d, stderr %q, and not the common layout (%q, Usage:, Flags:, --help, Exit status:):\n%s",
				cmd, res.code, res.stderr, prog, out)
		}
	}
	help := run(t, runOpts{keepOut: true}, "--help")
	for _, want := range []string{"which pipeloop does not comment on, as bash does\nnot", "pipeloop's own failures are named on stderr"} {
		if !strings.Contains(string(help.out), want) {
			t.Errorf("--help does not say %q", want)
		}
	}
}
