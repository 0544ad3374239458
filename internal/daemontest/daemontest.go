// Package daemontest runs the example daemons under test: each example's
// test binary re-executes itself as the daemon (its TestMain runs main
// when the daemon's environment variable says so), or runs the goroutine
// version built from the example's goroutines/ directory, and reads the
// address the daemon prints as "NAME: listening on ADDR".
package daemontest

import (
	"bufio"
	"cmp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// MainEnv is the environment variable that makes a test binary run the
// daemon's main instead of its tests: NAME_TEST_MAIN=1.
func MainEnv(name string) string { return strings.ToUpper(name) + "_TEST_MAIN" }

// RunMain runs main and exits when the test binary was re-executed as the
// daemon; otherwise it runs the tests. Call it from TestMain.
func RunMain(m *testing.M, name string, main func()) {
	if os.Getenv(MainEnv(name)) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Start runs the daemon — bin, or this test binary re-executed when bin
// is "" — with args and extra environment, and returns it with the
// address it listens on. The daemon is killed and reaped when the test
// ends.
func Start(t *testing.T, name, bin string, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(cmp.Or(bin, os.Args[0]), args...)
	cmd.Env = append(append(os.Environ(), MainEnv(name)+"=1", "GORACE=atexit_sleep_ms=0"), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), name+": listening on ")
	if err != nil || !ok {
		t.Fatalf("%s said %q, %v", name, line, err)
	}
	return cmd, addr
}

// GoroutineVersion builds goroutines/, the same daemon written with
// goroutines, so that the same test drives it: the comparison in the
// README is between two daemons that both work.
func GoroutineVersion(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "goroutines")
	if out, err := exec.Command("go", "build", "-o", bin, "./goroutines").CombinedOutput(); err != nil {
		t.Fatalf("build goroutines: %v\n%s", err, out)
	}
	return bin
}

// Impl names a subtest: the daemon under test is pipeloop's (the test
// binary, re-executed) or the goroutine version.
func Impl(bin string) string {
	if bin == "" {
		return "pipeloop"
	}
	return "goroutines"
}
