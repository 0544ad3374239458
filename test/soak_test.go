package test_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The soak tests run only with PIPELOOP_SOAK=1 (scripts/soak.sh, make
// soak): thousands of short random pipelines, and gigabytes through a long
// one, checking bytes, fds and memory over time.
func soakEnabled(t *testing.T) {
	if os.Getenv("PIPELOOP_SOAK") == "" {
		t.Skip("soak test: set PIPELOOP_SOAK=1 (scripts/soak.sh)")
	}
}

func envInt(name string, def int64) int64 {
	if n, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil && n > 0 {
		return n
	}
	return def
}

// procStatus reads fields such as VmRSS and VmHWM (in KiB) of pid.
func procStatus(pid int, fields ...string) map[string]int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		for _, f := range fields {
			if v, ok := strings.CutPrefix(line, f+":"); ok {
				n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				out[f] = n
			}
		}
	}
	return out
}

// fdCount is the number of open fds of pid, or -1.
func fdCount(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// dataFDs counts pid's pipes, sockets and pidfds: what pipeloop opens per
// pipeline. The total also moves when the Go runtime opens its own
// netpoller (an eventpoll and an eventfd) the first time it needs a timer,
// which in a long run can be a minute in, when the scavenger first sleeps.
func dataFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if strings.HasPrefix(target, "pipe:") || strings.HasPrefix(target, "socket:") || target == "anon_inode:[pidfd]" {
			n++
		}
	}
	return n
}

// fdList describes pid's open fds ("3 -> pipe:[123]"), sorted.
func fdList(pid int) string {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return ""
	}
	var l []string
	for _, e := range ents {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		l = append(l, e.Name()+" -> "+target)
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}

// soakCase is one short random pipeline and what it must print.
type soakCase struct {
	args []string
	in   []byte
	want []byte
}

func newSoakCase(rng *rand.Rand) soakCase {
	in := make([]byte, rng.IntN(256<<10))
	for i := range in {
		in[i] = byte(rng.Uint32())
	}
	c := soakCase{in: in, want: in}
	c.args = []string{"--mode", []string{"auto", "copy", "splice"}[rng.IntN(3)],
		"--buffer", []string{"8K", "64K", "256K"}[rng.IntN(3)],
		"--pipe-size", []string{"0", "4K", "64K", "1M"}[rng.IntN(4)]}
	cats := func(n int) []string { return strings.Fields(strings.Repeat("cat ", n)) }
	switch rng.IntN(7) {
	case 0: // stdin mode
	case 1, 2:
		c.args = append(c.args, cats(2+rng.IntN(3))...)
	case 3:
		n := rng.IntN(len(in) + 1)
		c.args = append(c.args, "cat", "cat", "head -c "+strconv.Itoa(n))
		c.want = in[:n]
	case 4:
		c.args = append(c.args, "gzip -1", "cat", "gzip -dc")
	case 5:
		c.args = append(c.args, "cat", "tr a-z A-Z", "cat")
		c.want = make([]byte, len(in))
		for i, b := range in {
			if b >= 'a' && b <= 'z' {
				b -= 'a' - 'A'
			}
			c.want[i] = b
		}
	case 6:
		c.args = append(c.args, "--shell", "cat | cat", "cat")
	}
	return c
}

// TestSoakShortPipelines runs PIPELOOP_SOAK_RUNS (default 2000) short
// random pipelines, two at a time, and checks every output's SHA-256, the
// exit status, and that the test process's own fd count does not grow.
func TestSoakShortPipelines(t *testing.T) {
	soakEnabled(t)
	runs := envInt("PIPELOOP_SOAK_RUNS", 2000)
	self := os.Getpid()
	fdStart := fdCount(self)
	var done, failed, bytesIn atomic.Int64
	var maxHWM atomic.Int64 // VmHWM of pipeloop processes caught alive, KiB
	var mu sync.Mutex
	var errs []string
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(w); i < runs; i += 2 {
				rng := rand.New(rand.NewPCG(uint64(i), 11))
				c := newSoakCase(rng)
				if err := soakOne(c, &maxHWM); err != nil {
					failed.Add(1)
					mu.Lock()
					if len(errs) < 20 {
						errs = append(errs, fmt.Sprintf("run %d %q: %v", i, c.args, err))
					}
					mu.Unlock()
				}
				bytesIn.Add(int64(len(c.in)))
				if n := done.Add(1); n%500 == 0 {
					t.Logf("%d runs, %v, test process fds %d", n, time.Since(start).Round(time.Second), fdCount(self))
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	fdEnd := fdCount(self)
	t.Logf("SOAK short: %d runs (%d failed), %.1f MiB in, %v; test process fds %d at start, %d at end; max pipeloop VmHWM seen %d KiB",
		done.Load(), failed.Load(), float64(bytesIn.Load())/(1<<20), time.Since(start).Round(time.Second), fdStart, fdEnd, maxHWM.Load())
	if fdEnd > fdStart {
		t.Errorf("test process holds %d fds after the runs, %d before", fdEnd, fdStart)
	}
}

func soakOne(c soakCase, maxHWM *atomic.Int64) error {
	cmd := exec.Command(bin, c.args...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdin = bytes.NewReader(c.in)
	h := sha256.New()
	var n countWriter
	cmd.Stdout = io.MultiWriter(h, &n)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case <-waited:
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				return fmt.Errorf("exit %d; stderr: %s", code, stderr.String())
			}
			if sum := sha256.Sum256(c.want); !bytes.Equal(h.Sum(nil), sum[:]) {
				return fmt.Errorf("output: %d bytes, SHA-256 differs from the expected %d bytes", n, len(c.want))
			}
			return nil
		case <-deadline:
			cmd.Process.Kill()
			<-waited
			return fmt.Errorf("did not finish within 60s")
		case <-time.After(time.Millisecond):
			if v := procStatus(cmd.Process.Pid, "VmHWM")["VmHWM"]; v > maxHWM.Load() {
				maxHWM.Store(v) // racy max, good enough for a report
			}
		}
	}
}

// TestSoakLong pushes PIPELOOP_SOAK_BYTES (default 10 GiB) through
// pipeloop with three stages (two relayed links), checks every output byte
// against the input, and samples pipeloop's RSS and fd count every 500 ms.
func TestSoakLong(t *testing.T) {
	soakEnabled(t)
	const blockSize = 64 << 20
	total := envInt("PIPELOOP_SOAK_BYTES", 10<<30)
	reps := (total + blockSize - 1) / blockSize
	block := make([]byte, blockSize)
	rng := rand.New(rand.NewPCG(42, 43))
	for i := 0; i < len(block); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			block[i+j] = byte(v >> (8 * j))
		}
	}
	path := filepath.Join(t.TempDir(), "block")
	if err := os.WriteFile(path, block, 0o600); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("sh -c 'i=0; while [ $i -lt %d ]; do cat %s || exit; i=$((i+1)); done'", reps, path)
	cmd := exec.Command(bin, "--stats", "--shell", src, "cat", "cat")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid

	type sample struct {
		at       time.Duration
		rss, hwm int64
		fds      int
		data     int // pipes, sockets, pidfds
		bytes    int64
	}
	var got atomic.Int64
	var samples []sample
	var fdChanges []string // pipeloop's fd table each time it changed
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				st := procStatus(pid, "VmRSS", "VmHWM")
				if st == nil {
					continue
				}
				fds := fdList(pid)
				if n := len(fdChanges); n == 0 || fdChanges[n-1] != fds {
					fdChanges = append(fdChanges, fds)
				}
				samples = append(samples, sample{time.Since(start), st["VmRSS"], st["VmHWM"], fdCount(pid), dataFDs(pid), got.Load()})
			}
		}
	}()

	buf := make([]byte, 1<<20)
	var off int64 // offset within the stream
	var bad error
	for {
		n, err := out.Read(buf)
		for p := buf[:n]; len(p) > 0 && bad == nil; {
			o := int(off % blockSize)
			m := min(len(p), blockSize-o)
			if !bytes.Equal(p[:m], block[o:o+m]) {
				bad = fmt.Errorf("output differs from the input within bytes %d..%d", off, off+int64(m))
			}
			p, off = p[m:], off+int64(m)
		}
		got.Store(off)
		if err != nil || bad != nil {
			break
		}
	}
	if bad != nil {
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	wall := time.Since(start)
	close(stop)
	<-sampled
	if bad != nil {
		t.Fatal(bad)
	}
	if werr != nil {
		t.Fatalf("pipeloop: %v; stderr:\n%s", werr, stderr.String())
	}
	if want := reps * blockSize; off != want {
		t.Fatalf("got %d bytes, want %d", off, want)
	}
	var maxRSS, maxHWM int64
	fdMin, fdMax, dataMin, dataMax := 1<<30, 0, 1<<30, 0
	for _, s := range samples {
		maxRSS, maxHWM = max(maxRSS, s.rss), max(maxHWM, s.hwm)
		fdMin, fdMax = min(fdMin, s.fds), max(fdMax, s.fds)
		dataMin, dataMax = min(dataMin, s.data), max(dataMax, s.data)
	}
	step := max(1, len(samples)/10)
	for i := 0; i < len(samples); i += step {
		s := samples[i]
		t.Logf("  t=%5.1fs  %6.2f GiB  RSS %6d KiB  HWM %6d KiB  fds %d (pipes/sockets/pidfds %d)", s.at.Seconds(), float64(s.bytes)/(1<<30), s.rss, s.hwm, s.fds, s.data)
	}
	if len(samples) > 0 {
		first, last := samples[0], samples[len(samples)-1]
		t.Logf("SOAK long: %.2f GiB in %v (%.0f MiB/s), byte-exact; pipeloop RSS max %d KiB (first sample %d, last %d), VmHWM %d KiB; fds first %d, last %d, min %d, max %d (pipes/sockets/pidfds %d..%d); %d samples",
			float64(off)/(1<<30), wall.Round(time.Millisecond), float64(off)/(1<<20)/wall.Seconds(),
			maxRSS, first.rss, last.rss, maxHWM, first.fds, last.fds, fdMin, fdMax, dataMin, dataMax, len(samples))
		if dataMax != dataMin {
			t.Errorf("pipeloop's pipes, sockets and pidfds changed during the run: %d..%d; fd tables:\n%s", dataMin, dataMax, strings.Join(fdChanges, "\n"))
		}
		if len(fdChanges) > 1 {
			t.Logf("fd table changes (the Go runtime's netpoller, opened late, is expected):\n%s", strings.Join(fdChanges, "\n"))
		}
		if maxRSS > 64<<10 {
			t.Errorf("pipeloop RSS reached %d KiB, want < 64 MiB", maxRSS)
		}
	}
	t.Logf("stats:\n%s", stderr.String())
}
