package test_test

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pipeTo runs pipeloop with args writing into a pipe read by reader, and
// returns pipeloop's exit status, stderr and wall time.
func pipeTo(t *testing.T, stdin *os.File, reader *exec.Cmd, args ...string) (int, string, time.Duration, *os.ProcessState) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	reader.Stdin = pr
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdin, cmd.Stdout = stdin, pw
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("pipeloop %q did not end after its reader left", args)
	}
	wall := time.Since(start)
	reader.Wait()
	return cmd.ProcessState.ExitCode(), stderr.String(), wall, cmd.ProcessState
}

// TestReaderLeavesEarly: `pipeloop < big | head -c 10` ends promptly, with
// 141 like cat killed by SIGPIPE.
func TestReaderLeavesEarly(t *testing.T) {
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	big, _ := payload(t, 16<<20)
	for _, tc := range []struct {
		name string
		in   *os.File
		args []string
	}{
		{"dev-zero", zero, nil},
		{"file-copy", big, []string{"--mode", "copy"}},
		{"file-splice", big, []string{"--mode", "splice"}},
		{"spawned", zero, []string{"cat", "cat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr, wall, _ := pipeTo(t, tc.in, exec.Command("head", "-c", "10"), tc.args...)
			want := 141
			if code != want {
				t.Errorf("exit %d, want %d; stderr: %s", code, want, stderr)
			}
			t.Logf("ended %v after start", wall)
		})
	}
}

// TestFullDisk: stdout on /dev/full fails with ENOSPC named.
func TestFullDisk(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	defer full.Close()
	src, _ := payload(t, 1<<20)
	for _, mode := range []string{"auto", "copy", "splice"} {
		for _, feed := range []string{"file", "pipe"} {
			t.Run(mode+"/"+feed, func(t *testing.T) {
				o := runOpts{stdin: reopen(t, src), stdout: full}
				if feed == "pipe" {
					o.stdin = struct{ *os.File }{reopen(t, src)}
				}
				if mode == "splice" && feed == "file" {
					t.Skip("neither end is a pipe: splice mode is a usage error here")
				}
				res := run(t, o, "--mode", mode)
				if res.code != 1 {
					t.Fatalf("exit %d, want 1; stderr: %s", res.code, res.stderr)
				}
				if mode == "splice" {
					// /dev/full cannot be spliced to; forced splice says so.
					onlyLine(t, res.stderr, "stdout", "splice", "--mode")
					return
				}
				onlyLine(t, res.stderr, "stdout", "no space left on device")
			})
		}
	}
	t.Run("last stage", func(t *testing.T) {
		res := run(t, runOpts{stdin: reopen(t, src), stdout: full}, "cat", "cat")
		if res.code == 0 {
			t.Fatalf("exit 0 although the last stage could not write; stderr: %s", res.stderr)
		}
	})
}

// children lists the pids of pid's children (forked by any of its threads).
func children(pid int) []int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	var pids []int
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			pids = append(pids, n)
		}
	}
	return pids
}

// TestStdinModeSignal: a signal ends stdin mode, and pipeloop dies of it.
func TestStdinModeSignal(t *testing.T) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	pr, pw, _ := os.Pipe()
	defer pw.Close()
	cmd.Stdin = pr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("pipeloop did not exit after SIGTERM")
	}
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("pipeloop ended with %v, want killed by SIGTERM", cmd.ProcessState)
	}
}

// TestStagesSeeOnlyStdio: no fd of pipeloop's leaks into a stage.
func TestStagesSeeOnlyStdio(t *testing.T) {
	// pipeloop itself inherits an extra fd 3 (as from a careless parent);
	// stages must not. ls lists its own fds, plus the one it reads
	// /proc/self/fd with.
	extra, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	res := run(t, runOpts{keepOut: true, extra: []*os.File{extra}}, "cat", "ls -l /proc/self/fd", "cat")
	var got []string
	own := regexp.MustCompile(`-> /proc/[0-9]+/fd$`)
	for _, line := range strings.Split(string(res.out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[len(f)-2] != "->" || own.MatchString(line) {
			continue
		}
		got = append(got, f[len(f)-3])
	}
	if strings.Join(got, " ") != "0 1 2" {
		t.Fatalf("stage sees fds %v, want [0 1 2]:\n%s", got, res.out)
	}
}

// TestSlowConsumerMemory: 1 GiB from a fast producer into a consumer that
// starts a second late keeps pipeloop's max RSS under 64 MiB.
func TestSlowConsumerMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB transfer")
	}
	const limit = 64 << 20
	// Copy mode lends ring pages to the stages' pipes (--vmsplice): a lent
	// page stays alive until its reader is done with it, so that is where
	// memory could pile up if lending ignored the pipe.
	for name, flags := range map[string][]string{"spawned": nil, "spawned-copy": {"--mode", "copy"}} {
		t.Run(name, func(t *testing.T) { // default flags, then copy mode
			args := append(flags, "head -c 1G /dev/zero", "cat", `sh -c "sleep 1; cat"`)
			res := run(t, runOpts{}, args...)
			if res.code != 0 || res.n != 1<<30 {
				t.Fatalf("exit %d, %d bytes; stderr: %s", res.code, res.n, res.stderr)
			}
			rss := res.state.SysUsage().(*syscall.Rusage).Maxrss * 1024
			t.Logf("max RSS %d MiB (pipeloop and its stages)", rss>>20)
			if rss >= limit {
				t.Errorf("max RSS %d MiB, want < 64 MiB", rss>>20)
			}
		})
	}
	t.Run("stdin", func(t *testing.T) {
		producer := exec.Command("head", "-c", "1G", "/dev/zero")
		out, err := producer.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := producer.Start(); err != nil {
			t.Fatal(err)
		}
		code, stderr, _, st := pipeTo(t, out.(*os.File), exec.Command("sh", "-c", "sleep 1; cat >/dev/null"))
		producer.Wait()
		if code != 0 {
			t.Fatalf("exit %d; stderr: %s", code, stderr)
		}
		rss := st.SysUsage().(*syscall.Rusage).Maxrss * 1024
		t.Logf("max RSS %d MiB", rss>>20)
		if rss >= limit {
			t.Errorf("max RSS %d MiB, want < 64 MiB", rss>>20)
		}
	})
}

// skipIfIgnored skips a test of sig when this process was started with sig
// ignored (under nohup, or SIGINT in a background job): pipeloop and its
// stages inherit that and rightly keep ignoring it.
func skipIfIgnored(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if signal.Ignored(sig) {
		t.Skipf("%v is ignored in this environment (nohup or a background job); pipeloop keeps it ignored, as it should", sig)
	}
}
