package test_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitText waits up to d for buf to hold want.
func waitText(t *testing.T, buf *syncBuffer, want string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(buf.String(), want) {
			return
		}
	}
	t.Fatalf("no %q within %v; got %q", want, d, buf.String())
}

// TestStatsSignal: SIGUSR1 makes a running pipeloop print the --stats
// tables on stderr, twice for two signals, and it goes on: the stages are
// not signalled and the bytes arrive intact with status 0. In stdin mode
// too.
func TestStatsSignal(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"pipeline", []string{"--rate-limit", "2M", "cat", "cat"}, []string{"pipeloop: links", "pipeloop: stages", "running"}},
		{"stdin", []string{"--rate-limit", "2M"}, []string{"pipeloop: links", "stdin", "stdout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 5 << 20 // 2.5 s at the limit
			in, sum := payload(t, n)
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
			var stderr syncBuffer
			h := newHashWriter()
			cmd.Stdin, cmd.Stdout, cmd.Stderr = in, h, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
			defer timer.Stop()
			waitCaught(t, cmd.Process.Pid, syscall.SIGUSR1)
			time.Sleep(300 * time.Millisecond) // some bytes moved
			cmd.Process.Signal(syscall.SIGUSR1)
			waitText(t, &stderr, "pipeloop: loop:", 5*time.Second)
			cmd.Process.Signal(syscall.SIGUSR1)
			for deadline := time.Now().Add(5 * time.Second); strings.Count(stderr.String(), "pipeloop: loop:") < 2 && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("pipeloop: %v; stderr:\n%s", err, stderr.String())
			}
			s := stderr.String()
			t.Logf("stderr:\n%s", s)
			if got := strings.Count(s, "pipeloop: loop:"); got != 2 {
				t.Errorf("%d tables for two SIGUSR1, want 2", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("stderr does not show %q", w)
				}
			}
			if h.n != n || h.sum() != sum {
				t.Errorf("got %d bytes (intact %v), want %d", h.n, h.sum() == sum, n)
			}
		})
	}
}

// hashWriter hashes and counts what is written to it.
type hashWriter struct {
	h hash.Hash
	n int64
}

func newHashWriter() *hashWriter { return &hashWriter{h: sha256.New()} }

func (w *hashWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}

func (w *hashWriter) sum() string { return hex.EncodeToString(w.h.Sum(nil)) }

// TestCtl: pipeloop ctl --pid reads a running pipeloop's stats and
// changes its rate limit while it runs: the consumer's clock sees the
// first rate, then the second, each within ±3 % over a second and more
// (the change lands at once, between two refills), and the bytes arrive
// intact. ctl names a pid where nothing listens.
func TestCtl(t *testing.T) {
	const r1, r2 = 4 << 20, 1 << 20
	var asked, changed time.Time // ctl started; ctl returned
	var statsOut string
	arr := rateRun(t, 3*r1/2+3*r2, func(pid int) {
		time.Sleep(1500 * time.Millisecond) // about 6 MiB at r1, of the file's 6+3
		asked = time.Now()
		out, err := exec.Command(bin, "ctl", "--pid", strconv.Itoa(pid), "--rate-limit", "1M").CombinedOutput()
		changed = time.Now()
		if err != nil {
			t.Errorf("pipeloop ctl --rate-limit: %v: %s", err, out)
		}
		out, err = exec.Command(bin, "ctl", "--pid", strconv.Itoa(pid)).CombinedOutput()
		if err != nil {
			t.Errorf("pipeloop ctl: %v: %s", err, out)
		}
		statsOut = string(out)
	}, "--rate-limit", "4M")
	if changed.IsZero() {
		t.Fatal("the run ended before the rate changed")
	}
	first := rateBetween(arr, arr[0].at, asked)
	second := rateBetween(arr, changed.Add(200*time.Millisecond), arr[len(arr)-1].at)
	t.Logf("before: %.0f B/s (limit %d); after: %.0f B/s (limit %d); ctl took %v; end %v after the change",
		first, r1, second, r2, changed.Sub(asked), arr[len(arr)-1].at.Sub(changed))
	for _, c := range []struct {
		got, want float64
	}{{first, r1}, {second, r2}} {
		if c.got < c.want*0.97 || c.got > c.want*1.03 {
			t.Errorf("rate %.0f B/s, want %.0f ±3%%", c.got, c.want)
		}
	}
	t.Logf("ctl stats:\n%s", statsOut)
	if !strings.Contains(statsOut, "pipeloop: links") || !strings.Contains(statsOut, "stdin") {
		t.Errorf("pipeloop ctl printed %q, want the --stats tables", statsOut)
	}
	res := run(t, runOpts{}, "ctl", "--pid", strconv.Itoa(os.Getpid()))
	if res.code != 1 {
		t.Errorf("ctl to a pid without pipeloop: exit %d, want 1", res.code)
	}
	onlyLine(t, res.stderr, "pipeloop ctl: pid", "no pipeloop listening")
}

// TestCtlOtherUser: a user other than pipeloop's (and not root) is
// refused by SO_PEERCRED: neither the stats nor the rate limit are
// served, and the run goes on at its rate to the end.
func TestCtlOtherUser(t *testing.T) {
	asNobody := nobody(t)
	nb := nobodyBin(t)
	var answers []string
	rateRun(t, 2<<20, func(pid int) {
		time.Sleep(300 * time.Millisecond)
		for _, req := range [][]string{{"--rate-limit", "0"}, {"--stats"}} {
			args := append(append(append([]string{}, asNobody...), nb, "ctl", "--pid", strconv.Itoa(pid)), req...)
			out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
			if err == nil {
				t.Errorf("ctl %v as uid 65534 succeeded: %s", req, out)
			}
			answers = append(answers, string(out))
		}
	}, "--rate-limit", "1M") // 2 s: room for two execs as nobody on a loaded machine
	for _, a := range answers {
		if !strings.Contains(a, "uid 65534 may not control a pipeloop of uid 0") {
			t.Errorf("answer %q, want a refusal naming the uids", a)
		}
	}
}

// waitCaught waits until pid catches sig (its bit in /proc/PID/status's
// SigCgt): a signal sent before would meet the default action.
func waitCaught(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			break
		}
		for _, line := range strings.Split(string(status), "\n") {
			if hex, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
				if err == nil && mask&(1<<(sig-1)) != 0 {
					return
				}
			}
		}
	}
	t.Fatalf("pid %d does not catch %v", pid, sig)
}
