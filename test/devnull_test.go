package test_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDevNullStdio: /dev/null given on purpose works as for cat — read-only
// or write-only as a shell opens it, read-write on one fd alone as Python's
// subprocess.DEVNULL and libuv's "ignore" open it, or on 0, 1 and 2 at once
// as daemon(3) leaves it.
//
// A stdin or stdout closed at exec (`<&-`, `>&-`) is not detected: the Go
// runtime puts a read-write /dev/null on a closed 0, 1 or 2 before any of
// pipeloop's code runs, and that cannot be told from the read-write
// /dev/null those callers give on purpose (an earlier attempt failed them).
func TestDevNullStdio(t *testing.T) {
	cases := []struct {
		name, redir string
		args        []string
		code        int
		stderr      string // a substring, case-insensitive; "" for none
	}{
		{"stdout read-write /dev/null", "1<>/dev/null", nil, 0, ""},
		{"stdin read-write /dev/null", "0<>/dev/null", nil, 0, ""},
		{"pipeline stdout read-write /dev/null", "1<>/dev/null", []string{"cat", "wc -c"}, 0, ""},
		{"stdin /dev/null", "</dev/null", nil, 0, ""},
		{"stdout /dev/null", ">/dev/null", []string{"cat"}, 0, ""},
		{"daemon stdio", "<>/dev/null >&0 2>&0", nil, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// sh applies the redirection and execs pipeloop in its place.
			cmd := exec.Command("sh", append([]string{"-c", `echo hi | { exec "$0" "$@" ` + tc.redir + `; }`, bin}, tc.args...)...)
			cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, _ := cmd.Output()
			if got := cmd.ProcessState.ExitCode(); got != tc.code {
				t.Errorf("exit %d, want %d; stderr: %q", got, tc.code, stderr.String())
			}
			if len(out) != 0 {
				t.Errorf("stdout %q, want nothing", out)
			}
			got := strings.ToLower(stderr.String())
			if tc.stderr == "" && got != "" || !strings.Contains(got, tc.stderr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
		})
	}
}
