package test_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestClosedStdio: pipeloop started with stdin or stdout closed (`<&-`,
// `>&-`) fails as a shell command does — "Bad file descriptor", status 1 —
// although the Go runtime puts /dev/null on the free descriptor before
// main (a C constructor looks first; cgo builds only). In pipeline mode
// the end stage gets the closed descriptor, as it would in a shell, and
// says so itself. /dev/null given on purpose works as for cat: read-only
// or write-only as a shell opens it, read-write on one fd alone as Python's
// subprocess.DEVNULL and libuv's "ignore" open it (an earlier detection
// from the fd's look after exec failed those), or on 0, 1 and 2 at once as
// daemon(3) leaves it.
func TestClosedStdio(t *testing.T) {
	cgo, err := exec.Command("go", "env", "CGO_ENABLED").Output()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, redir string
		args        []string
		code        int
		stderr      string // a substring, case-insensitive; "" for none
	}{
		{"stdout closed", ">&-", nil, 1, "pipeloop: stdout: bad file descriptor"},
		{"stdin closed", "<&-", nil, 1, "pipeloop: stdin: bad file descriptor"},
		{"pipeline stdout closed", ">&-", []string{"cat", "cat"}, 1, "bad file descriptor"},
		{"pipeline stdin closed", "<&-", []string{"cat", "cat"}, 1, "bad file descriptor"},
		{"stdout read-write /dev/null", "1<>/dev/null", nil, 0, ""},
		{"stdin read-write /dev/null", "0<>/dev/null", nil, 0, ""},
		{"pipeline stdout read-write /dev/null", "1<>/dev/null", []string{"cat", "wc -c"}, 0, ""},
		{"stdin /dev/null", "</dev/null", nil, 0, ""},
		{"stdout /dev/null", ">/dev/null", []string{"cat"}, 0, ""},
		{"daemon stdio", "<>/dev/null >&0 2>&0", nil, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code != 0 && strings.TrimSpace(string(cgo)) != "1" {
				t.Skip("built without cgo (no C compiler): closed stdio is not detected")
			}
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
