package test_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestOtherGOOSSaysLinuxOnly: pipeloop is Linux only, and a build for any
// other system stops with one clear reason (the unsupported.go stub of
// each Linux-only package), not a page of undefined system calls.
func TestOtherGOOSSaysLinuxOnly(t *testing.T) {
	out, err := crossBuild(t, "darwin", "arm64")
	if err == nil {
		t.Fatal("a darwin build succeeded")
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(line, "pipeloop_runs_on_linux_only") {
			t.Errorf("a darwin build's error does not give the reason: %q\n%s", line, out)
		}
	}
}

// TestLinuxArm64Builds: on Linux other than amd64 pipeloop builds, and
// --trace reports "unsupported" at run time (README: the BPF object is
// amd64's). A file of package trace that uses an amd64-only helper breaks
// this build, not the amd64 one.
func TestLinuxArm64Builds(t *testing.T) {
	if out, err := crossBuild(t, "linux", "arm64"); err != nil {
		t.Fatalf("a linux/arm64 build failed: %v\n%s", err, out)
	}
}

// A 32-bit Linux build: the README promises every Linux GOARCH builds,
// and a constant that fits only a 64-bit int (loop's windowBytes,
// bulkRate × 1 ms in nanoseconds) broke 386, arm and mips.
func TestLinux386Builds(t *testing.T) {
	if out, err := crossBuild(t, "linux", "386"); err != nil {
		t.Fatalf("a linux/386 build failed: %v\n%s", err, out)
	}
}

// crossBuild builds cmd/pipeloop for goos/goarch (in parallel with other
// tests; skipped with -short: it cross-compiles the standard library).
func crossBuild(t *testing.T, goos, goarch string) ([]byte, error) {
	t.Helper()
	if testing.Short() {
		t.Skipf("cross-compiles the standard library for %s/%s", goos, goarch)
	}
	t.Parallel()
	cmd := exec.Command("go", "build", "-o", os.DevNull, "../cmd/pipeloop")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	return cmd.CombinedOutput()
}
