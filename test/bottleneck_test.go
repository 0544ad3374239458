package test_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/report"
	"github.com/pipeloop/pipeloop/verdict"
)

// Pipelines with a known bottleneck, each judged from a real run. The
// stages pace themselves with sleep (or burn CPU in gzip), so the verdict
// does not depend on how fast this machine is; each run takes a second or
// two.

// checkVerdict fails unless the verdict has the wanted kind and stage.
func checkVerdict(t *testing.T, res result, rep *report.Report, kind verdict.Kind, stage int, causes ...verdict.Cause) {
	t.Helper()
	v := rep.Verdict
	t.Logf("%v", v)
	for _, e := range v.Evidence {
		t.Logf("  %s", e)
	}
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	if v.Kind != kind || v.Stage != stage {
		t.Fatalf("verdict %q stage %d, want %q stage %d", v.Kind, v.Stage, kind, stage)
	}
	if len(causes) > 0 {
		for _, c := range causes {
			if v.Cause == c {
				return
			}
		}
		t.Errorf("cause %q, want one of %q", v.Cause, causes)
	}
}

// TestBottleneckCPUBound: gzip -9 on incompressible data between two cats.
func TestBottleneckCPUBound(t *testing.T) {
	f, _ := payload(t, 32<<20)
	res, rep := runStats(t, runOpts{stdin: f}, "cat", "gzip -9", "cat")
	// On a machine whose CPUs are all busy, gzip may get well under a core.
	checkVerdict(t, res, rep, verdict.KindStage, 2, verdict.CauseCPU, verdict.CauseMixed, verdict.CauseContended)
}

// slowProducer writes 64 KiB every 50 ms, 30 times (about 1.6 s), in one
// process, as slowConsumer reads.
const slowProducer = `perl -e '$| = 1; $z = "\0" x 65536; for (1 .. 30) { print $z; select(undef, undef, undef, 0.05) }'`

// slowConsumer reads 256 KiB every 50 ms until EOF, in one process
// (perl is in every Debian base system): a shell loop forking head and
// wc per read spent ~0.8 s of CPU on a busy machine, enough to make the
// consumer look partly CPU-bound ("mixed").
const slowConsumer = `perl -e 'while (read(STDIN, $b, 262144)) { select(undef, undef, undef, 0.05) }'`

func TestBottleneckSlowProducer(t *testing.T) {
	t.Parallel()
	res, rep := runStats(t, runOpts{}, slowProducer, "cat", "cat")
	checkVerdict(t, res, rep, verdict.KindStage, 1, verdict.CauseOther, verdict.CauseContended)
}

func TestBottleneckSlowConsumer(t *testing.T) {
	t.Parallel()
	res, rep := runStats(t, runOpts{}, "head -c 8M /dev/zero", "cat", slowConsumer)
	checkVerdict(t, res, rep, verdict.KindStage, 3, verdict.CauseOther, verdict.CauseContended)
}

// TestBottleneckBalanced: for a second the producer has nothing to say
// and the link waits on it; then it writes 8 MiB at once while the
// consumer sleeps for another second, and the link waits on the consumer.
// Each stage limits half the run: the verdict must not pick one. (The
// consumer starts its second when the producer starts writing, so a
// loaded machine that delays one stage does not tilt the halves much.)
func TestBottleneckBalanced(t *testing.T) {
	t.Parallel()
	mark := filepath.Join(t.TempDir(), "writing")
	res, rep := runStats(t, runOpts{},
		"sh -c 'head -c 16384 /dev/zero; sleep 1; touch "+mark+"; exec head -c 8M /dev/zero'",
		"sh -c 'until [ -e "+mark+" ]; do sleep 0.02; done; sleep 1; exec cat'")
	checkVerdict(t, res, rep, verdict.KindNone, 0)
	if res.n != 16384+8<<20 {
		t.Errorf("relayed %d bytes, want %d", res.n, 16384+8<<20)
	}
}

// slowReader yields n bytes in chunks of size, sleeping between them.
type slowReader struct {
	n, size int
	pause   time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	k := min(len(p), r.size, r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

// TestBottleneckStdin: `A | pipeloop | B` with a slow A, then a slow B.
func TestBottleneckStdin(t *testing.T) {
	t.Run("slow writer", func(t *testing.T) {
		t.Parallel()
		res, rep := runStats(t, runOpts{stdin: &slowReader{n: 1 << 20, size: 32 << 10, pause: 40 * time.Millisecond}})
		checkVerdict(t, res, rep, verdict.KindUpstream, 0)
	})
	t.Run("slow reader", func(t *testing.T) {
		t.Parallel()
		zero, err := os.Open("/dev/zero")
		if err != nil {
			t.Fatal(err)
		}
		defer zero.Close()
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { // read 64 KiB every 20 ms, 60 times, then leave
			defer close(done)
			defer pr.Close()
			buf := make([]byte, 64<<10)
			for range 60 {
				time.Sleep(20 * time.Millisecond)
				if _, err := io.ReadFull(pr, buf); err != nil {
					return
				}
			}
		}()
		res, rep := runStats(t, runOpts{stdin: zero, stdout: pw})
		pw.Close()
		<-done
		res.code = 0 // 141: the reader left, as planned
		checkVerdict(t, res, rep, verdict.KindDownstream, 0)
	})
}

// TestBottleneckRelay: /dev/zero to /dev/null, both always ready, so
// pipeloop's loop thread is the only limit. It runs until SIGTERM.
func TestBottleneckRelay(t *testing.T) {
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	null, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	path := filepath.Join(t.TempDir(), "stats.json")
	cmd := exec.Command(bin, "--stats-json", path, "--buffer", "8K")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdin, cmd.Stdout = zero, null
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	cmd.Wait()
	timer.Stop()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("pipeloop ended with %v, want killed by SIGTERM; stderr:\n%s", cmd.ProcessState, stderr.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no report: %v; stderr:\n%s", err, stderr.String())
	}
	rep := decodeReport(t, data)
	if rep.Verdict.Kind == verdict.KindNone && rep.Relay.LoopCPUFraction < verdict.RelayBusy && rep.Machine.BusyFraction >= 0.75 {
		// Other work (tests of other packages, say) took the CPU from the
		// loop thread: then the relay did not use a core, and the verdict
		// rightly does not claim it was the limit.
		t.Skipf("the loop thread got %.0f%% of a CPU on a machine %.0f%% busy: %v",
			100*rep.Relay.LoopCPUFraction, 100*rep.Machine.BusyFraction, rep.Verdict)
	}
	checkVerdict(t, result{}, rep, verdict.KindRelay, 0, verdict.CauseCPU)
}
