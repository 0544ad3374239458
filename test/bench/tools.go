package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tools names the programs the benchmark runs. Empty paths are resolved by
// Resolve; a program that cannot be found makes its methods skip with a
// reason instead of failing the run.
type Tools struct {
	Pipeloop string // the pipeloop binary under test
	// PipeloopRef is another pipeloop build (benchrun -pipeloop-ref), measured
	// beside Pipeloop in the latency section as pipeloop-ref.
	PipeloopRef string
	Self        string // this harness's executable, re-run as the RSS wrapper (see WrapEnv)
	IOCopy      string // the go-iocopy peer (test/bench/peers/iocopy)
	PingPong    string // the latency ends (test/bench/peers/pingpong)
	GoEpoll     string // the minimal Go epoll relay (test/bench/peers/goepoll)
	GoUring     string // the minimal Go io_uring relay (test/bench/peers/gouring)
	CBlock      string // the minimal blocking C relay (test/bench/peers/crelay/blocking.c), compiled with cc
	CEpoll      string // the minimal epoll C relay (test/bench/peers/crelay/epoll.c), compiled with cc
	CUring      string // the minimal io_uring C relay (test/bench/peers/crelay/uring.c), compiled with cc
	CErr        string // why a C relay is missing, if BuildPeers could not compile it
	Scale       string // the scale program (test/bench/peers/scale), built on pipeloop's relay package
	PeersDir    string // directory holding pump_thread.py and pump_select.py
	Python      string // python3
	Taskset     string // taskset, for pinned cells
	ScaleErr    string // why Scale is missing, if BuildPeers could not build it
}

// InstallHint is printed when a Debian peer is missing.
const InstallHint = "install it with `make deps-bench` (apt-get install -y pv socat mbuffer)"

// BuildPeers builds the Go peers from the module rooted at repo into dir and
// fills in their paths. It needs the go command, which `make bench` has.
func (t *Tools) BuildPeers(ctx context.Context, repo, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator),
		"./test/bench/peers/iocopy", "./test/bench/peers/pingpong", "./test/bench/peers/goepoll",
		"./test/bench/peers/gouring")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build peers: %w\n%s", err, out)
	}
	t.IOCopy = filepath.Join(dir, "iocopy")
	t.PingPong = filepath.Join(dir, "pingpong")
	t.GoEpoll = filepath.Join(dir, "goepoll")
	t.GoUring = filepath.Join(dir, "gouring")
	t.BuildC(ctx, repo, dir)
	// The scale program needs pipeloop's relay package: build it on its own
	// so that a tree without it (or with a changed API) still benchmarks.
	cmd = exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), "./test/bench/peers/scale")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Scale = filepath.Join(dir, "scale")
	} else {
		t.ScaleErr = fmt.Sprintf("build test/bench/peers/scale: %v: %s", err, lastLines(string(out), 2))
	}
	if t.PeersDir == "" {
		t.PeersDir = filepath.Join(repo, "test", "bench", "peers")
	}
	return nil
}

// BuildC compiles the C relays of the latency benchmark with cc into dir
// (BuildPeers calls it; traceacc too). Without a compiler their methods
// are skipped, and CErr says why; a file that does not compile (uring.c on
// old kernel headers) skips only its own methods.
func (t *Tools) BuildC(ctx context.Context, repo, dir string) {
	cc := lookPath("cc")
	if cc == "" {
		t.CErr = "no C compiler (cc) on PATH: install one (apt-get install -y gcc) to measure the C relays"
		return
	}
	for _, c := range []struct {
		src string
		out *string
	}{{"blocking.c", &t.CBlock}, {"epoll.c", &t.CEpoll}, {"uring.c", &t.CUring}} {
		bin := filepath.Join(dir, "crelay-"+strings.TrimSuffix(c.src, ".c"))
		cmd := exec.CommandContext(ctx, cc, "-O2", "-o", bin, filepath.Join(repo, "test", "bench", "peers", "crelay", c.src))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.CErr = fmt.Sprintf("cc %s: %v: %s", c.src, err, lastLines(string(out), 2))
			continue
		}
		*c.out = bin
	}
}

// Resolve fills in the programs found on PATH and makes paths absolute,
// since cells run under sh -c in a temporary directory.
func (t *Tools) Resolve() error {
	if t.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find own executable: %w", err)
		}
		t.Self = self
	}
	if t.Python == "" {
		t.Python, _ = exec.LookPath("python3")
	}
	if t.Taskset == "" {
		t.Taskset, _ = exec.LookPath("taskset")
	}
	for _, p := range []*string{&t.Pipeloop, &t.PipeloopRef, &t.Self, &t.IOCopy, &t.PingPong, &t.GoEpoll, &t.GoUring, &t.CBlock, &t.CEpoll, &t.CUring, &t.Scale, &t.PeersDir} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", *p, err)
		}
		*p = abs
	}
	return nil
}

// missing returns why the program at path cannot run, or "" if it can.
func missing(path, what, hint string) string {
	if path == "" {
		return fmt.Sprintf("%s not found: %s", what, hint)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Sprintf("%s not found at %s: %s", what, path, hint)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Sprintf("%s at %s is not executable: %s", what, path, hint)
	}
	return ""
}

// lookPath is exec.LookPath returning "" when the program is absent.
func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}
