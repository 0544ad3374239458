package test_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// Pipe sizes and the per-user pipe budget (pipe(7)): pipeloop must not
// end up with pipes smaller than it would get without asking, nor spend
// the budget of every other program its user runs.

// pipeSizeStage is a stage printing the capacity of its stdin pipe.
const pipeSizeStage = `perl -e "print fcntl(STDIN, 1032, 0)"` // F_GETPIPE_SZ

func needPerl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl reads the pipe sizes here, and there is none")
	}
}

// TestPipeSizeClamped: a size above pipe-max-size is clamped to it, with
// one warning, where it used to leave every pipe at the kernel's 64 KiB.
func TestPipeSizeClamped(t *testing.T) {
	needPerl(t)
	t.Parallel()
	lim, err := fdio.ReadPipeLimits()
	if err != nil {
		t.Fatal(err)
	}
	ask := 4 * lim.Max
	want, warn := lim.Max, 1
	if lim.AboveMax {
		want, warn = ask, 0 // CAP_SYS_RESOURCE: the kernel grants it
	}
	if !lim.Unbudgeted {
		t.Skip("without CAP_SYS_ADMIN or CAP_SYS_RESOURCE pipes start small and grow when busy (TestPipeBudget)")
	}
	res := run(t, runOpts{keepOut: true}, "--pipe-size", strconv.Itoa(ask), "true", pipeSizeStage)
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	if got := string(res.out); got != strconv.Itoa(want) {
		t.Errorf("stage 2's pipe holds %s bytes, want %d", got, want)
	}
	if n := strings.Count(res.stderr, "pipe-max-size"); n != warn {
		t.Errorf("%d warnings about pipe-max-size, want %d; stderr:\n%s", n, warn, res.stderr)
	}
}

// nobody returns a command prefix that runs a program as uid and gid
// 65534, skipping the test when that cannot be done.
func nobody(t *testing.T) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run pipeloop as uid 65534 (setpriv)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv to run pipeloop as uid 65534")
	}
	return []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}
}

// nobodyBin is a copy of the binary uid 65534 may run (TestMain's
// directory is private).
func nobodyBin(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pipeloop-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Copied file to file (copy_file_range), not through a buffer: the
	// binary in memory would raise this process's RSS, which a child
	// started by vfork inherits as its max RSS (TestSlowConsumerMemory).
	src, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, "pipeloop")
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// pipeSizes returns the capacities of pid's pipes but its stdio, by
// opening each through /proc.
func pipeSizes(pid int) []int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	var sizes []int
	for _, e := range ents {
		if fd, _ := strconv.Atoi(e.Name()); fd <= 2 {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if l, err := os.Readlink(p); err != nil || !strings.HasPrefix(l, "pipe:") {
			continue
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // closed meanwhile
		}
		if n, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0); err == nil {
			sizes = append(sizes, n)
		}
		unix.Close(fd)
	}
	return sizes
}

// TestPipeBudget: 40 stages as an unprivileged user ask for 78 pipes of
// 1 MiB, more than the user's whole budget (pipe-user-pages-soft, 64 MiB).
// While zeros stream through, no pipe of pipeloop's is below the kernel's
// 64 KiB, busy ones have grown, and another program of the same user
// still gets a 64 KiB pipe and may grow it to 1 MiB. When the stream
// pauses the grown pipes shrink back. (Before: 64 pipes of 1 MiB and 14
// of 8 KiB, and the other program got 8 KiB and EPERM.)
func TestPipeBudget(t *testing.T) {
	as := nobody(t)
	needPerl(t)
	lim, err := fdio.ReadPipeLimits()
	if err != nil {
		t.Fatal(err)
	}
	if lim.UserSoft == 0 || lim.UserSoft > 64<<20 || lim.Max < 1<<20 {
		t.Skipf("pipe-user-pages-soft %d bytes, pipe-max-size %d: the 40 stages fit", lim.UserSoft, lim.Max)
	}
	t.Parallel()
	args := append(as, nobodyBin(t), "--pipe-size", "1M")
	for range 40 {
		args = append(args, "cat")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	pid := cmd.Process.Pid // setpriv execs pipeloop in place
	stream := make(chan struct{})
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		buf := make([]byte, 256<<10)
		for {
			select {
			case <-stream:
				return
			default:
			}
			if _, err := in.Write(buf); err != nil {
				return
			}
		}
	}()

	time.Sleep(time.Second) // 40 stages started, zeros flowing
	busy := pipeSizes(pid)
	probe := exec.Command(as[0], append(as[1:], "perl", "-e",
		`pipe(R, W) or die; $d = fcntl(W, 1032, 0); print $d, " ", (fcntl(W, 1031, 1048576) ? "ok" : "$!")`)...)
	out, err := probe.CombinedOutput()
	close(stream)
	<-streamed
	if err != nil {
		t.Fatalf("probe: %v: %s", err, out)
	}
	t.Logf("pipeloop's pipes while busy: %v; another program of uid 65534: %s", busy, out)
	grown := 0
	for _, n := range busy {
		if n < lim.Default {
			t.Errorf("a pipe of %d bytes, below the kernel's %d", n, lim.Default)
		}
		if n > lim.Default {
			grown++
		}
	}
	if grown == 0 {
		t.Errorf("no busy link's pipe grew beyond %d bytes", lim.Default)
	}
	if want := fmt.Sprintf("%d ok", lim.Default); string(out) != want {
		t.Errorf("another program of the same user: %q, want %q", out, want)
	}

	// The stream paused: grown pipes give their pages back.
	deadline := time.Now().Add(5 * time.Second)
	for {
		sizes := pipeSizes(pid)
		still := 0
		for _, n := range sizes {
			if n > lim.Default {
				still++
			}
		}
		if still == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("idle for 5 s, %d pipes still above %d bytes: %v", still, lim.Default, sizes)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	in.Close()
	timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	cmd.Wait()
	timer.Stop()
	waited = true
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if n := strings.Count(stderr.String(), "\n"); n > 1 {
		t.Errorf("%d lines on stderr, want at most one warning:\n%s", n, stderr.String())
	}
	t.Logf("stderr: %s", stderr.String())
}

// TestServePipeBudget: serve --pipe-size 1M as uid 65534 with 200
// connections open asks for 400 pipes of 1 MiB. None may end up below
// the kernel's 64 KiB, and another program of the same user still gets
// a 64 KiB pipe it may grow to 1 MiB. (Before: 64 pipes of 1 MiB, 336
// of 8 KiB, and the other program got 8 KiB and EPERM.)
func TestServePipeBudget(t *testing.T) {
	as := nobody(t)
	needPerl(t)
	lim, err := fdio.ReadPipeLimits()
	if err != nil {
		t.Fatal(err)
	}
	if lim.UserSoft == 0 || lim.UserSoft > 128<<20 || lim.Max < 1<<20 {
		t.Skipf("pipe-user-pages-soft %d bytes, pipe-max-size %d: 200 connections fit", lim.UserSoft, lim.Max)
	}
	t.Parallel()
	s := startServeAs(t, append(as, nobodyBin(t)), "--pipe-size", "1M", "cat")
	const conns = 200
	for range conns {
		c := s.dial()
		defer c.Close()
	}
	s.waitEvents("conn start", conns, 20*time.Second)
	sizes := pipeSizes(s.pid)
	probe := exec.Command(as[0], append(as[1:], "perl", "-e",
		`pipe(R, W) or die; $d = fcntl(W, 1032, 0); print $d, " ", (fcntl(W, 1031, 1048576) ? "ok" : "$!")`)...)
	out, err := probe.CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v: %s", err, out)
	}
	small := 0
	for _, n := range sizes {
		if n < lim.Default {
			small++
		}
	}
	t.Logf("%d pipes, %d below %d bytes; another program of uid 65534: %s", len(sizes), small, lim.Default, out)
	if len(sizes) < 2*conns {
		t.Errorf("%d pipes, want at least %d", len(sizes), 2*conns)
	}
	if small > 0 {
		t.Errorf("%d of pipeloop's pipes below the kernel's %d bytes", small, lim.Default)
	}
	if want := fmt.Sprintf("%d ok", lim.Default); string(out) != want {
		t.Errorf("another program of the same user: %q, want %q", out, want)
	}
}
