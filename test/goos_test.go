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
	if testing.Short() {
		t.Skip("cross-compiles the standard library for darwin")
	}
	t.Parallel()
	cmd := exec.Command("go", "build", "-o", os.DevNull, "../cmd/pipeloop")
	cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
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
	if testing.Short() {
		t.Skip("cross-compiles the standard library for linux/arm64")
	}
	t.Parallel()
	cmd := exec.Command("go", "build", "-o", os.DevNull, "../cmd/pipeloop")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("a linux/arm64 build failed: %v\n%s", err, out)
	}
}
