package test_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// makeIn runs make with args in the repository root and returns its
// combined output; BIN (the build output) goes to a temp directory so the
// tree's bin/ is left alone.
func makeIn(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	args = append([]string{"-C", "..", "--no-print-directory", "BIN=" + filepath.Join(t.TempDir(), "pipeloop")}, args...)
	out, err := exec.Command("make", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("make %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// versionOf runs a built binary's --version.
func versionOf(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

// TestMakeInstall: `make install PREFIX=… DESTDIR=…` puts a working,
// version-stamped binary at DESTDIR/PREFIX/bin/pipeloop.
func TestMakeInstall(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"prefix", []string{"PREFIX=" + filepath.Join(dir, "usr")}, filepath.Join(dir, "usr", "bin", "pipeloop")},
		{"destdir", []string{"DESTDIR=" + filepath.Join(dir, "stage"), "PREFIX=/opt/pl"}, filepath.Join(dir, "stage", "opt", "pl", "bin", "pipeloop")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			makeIn(t, append([]string{"install"}, tc.args...)...)
			fi, err := os.Stat(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o755 {
				t.Errorf("%s has mode %v, want 0755", tc.want, fi.Mode().Perm())
			}
			if v := versionOf(t, tc.want); !strings.HasPrefix(v, "pipeloop ") || v == "pipeloop 0.1.0-dev" {
				t.Errorf("installed binary says %q, want the stamped version", v)
			}
		})
	}
}

// TestBenchBuildStamped: the binary `make bench*` builds carries the
// version, as the report records it.
func TestBenchBuildStamped(t *testing.T) {
	pl := filepath.Join(t.TempDir(), "pipeloop")
	makeIn(t, "bench-pipeloop", "BENCH_PIPELOOP="+pl)
	if v := versionOf(t, pl); !strings.HasPrefix(v, "pipeloop ") || v == "pipeloop 0.1.0-dev" {
		t.Errorf("bench binary says %q, want the stamped version", v)
	}
}
