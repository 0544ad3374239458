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

// A link's time is charged to what it waited for: the sink (full) or the
// source (empty). These runs end a wait in ways that do not say which one
// it was — the reader exits, the run is interrupted, the client socket is
// watched for both directions — and check the charge against the known
// answer. Stages pace themselves with sleep; each run takes about a second.

// waitShares returns link i's full and empty fractions (1-based i).
func waitShares(t *testing.T, rep *report.Report, i int) (full, empty float64) {
	t.Helper()
	if len(rep.Links) < i {
		t.Fatalf("%d links, want at least %d", len(rep.Links), i)
	}
	l := rep.Links[i-1]
	t.Logf("link %d: %d bytes, full %.0f%%, empty %.0f%% of %v, end %s", i, l.Bytes,
		100*l.FullFraction, 100*l.EmptyFraction, time.Duration(l.WallNS), l.End)
	return l.FullFraction, l.EmptyFraction
}

// TestWaitReaderLeftEmpty: stage 2 exits while stage 1 has said nothing
// yet. The link moved 0 bytes and held none: it waited on stage 1 the
// whole time, however the wait ended.
func TestWaitReaderLeftEmpty(t *testing.T) {
	t.Parallel()
	res, rep := runStats(t, runOpts{}, `sh -c "sleep 1; echo late"`, `sh -c "sleep 0.5; exit 0"`)
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	full, empty := waitShares(t, rep, 1)
	if full > 0.1 || empty < 0.8 {
		t.Errorf("link 1 full %.0f%%, empty %.0f%%; want empty nearly all the time", 100*full, 100*empty)
	}
	if v := rep.Verdict; v.Kind == verdict.KindStage && v.Stage == 2 {
		t.Errorf("verdict blames stage 2, which waited for input: %s", v.Summary)
	}
}

// runInterrupted runs pipeloop --stats-json with args, sends sig after d
// and returns the status a shell would report (128+N if killed by N) and the report.
func runInterrupted(t *testing.T, sig syscall.Signal, d time.Duration, args ...string) (int, *report.Report) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stats.json")
	cmd := exec.Command(bin, append([]string{"--stats-json", path}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	cmd.Process.Signal(sig)
	timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	cmd.Wait()
	timer.Stop()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no report: %v; stderr:\n%s", err, stderr.String())
	}
	return shellStatus(cmd.ProcessState), decodeReport(t, data)
}

// shellStatus is the status a shell reports for ps: the exit code, or
// 128+N for death by signal N.
func shellStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// TestWaitInterrupted: stage 2 never reads, so link 1 sits full behind
// it and link 2 sits empty, until SIGINT ends all three stages at once.
// Their deaths end both links' waits in either order.
func TestWaitInterrupted(t *testing.T) {
	t.Parallel()
	code, rep := runInterrupted(t, syscall.SIGINT, time.Second, "head -c 8M /dev/zero", "sleep 5", "cat")
	if want := 128 + int(syscall.SIGINT); code != want {
		t.Fatalf("exit %d, want %d", code, want)
	}
	if full, _ := waitShares(t, rep, 1); full < 0.8 {
		t.Errorf("link 1 full %.0f%%, want nearly all the time (stage 2 never reads)", 100*full)
	}
	if full, empty := waitShares(t, rep, 2); full > 0.1 || empty < 0.8 {
		t.Errorf("link 2 full %.0f%%, empty %.0f%%; want empty nearly all the time (stage 2 never writes)", 100*full, 100*empty)
	}
	checkVerdict(t, result{}, rep, verdict.KindStage, 2)
}

// TestServeWaits: in and out links of a connection share one watch on
// the client socket, whose events carry both directions' readiness. The
// client sends after 400 ms and the stage answers 300 ms after its EOF,
// so neither link ever holds data the other side would not take: no
// time is full, in either data path. An idle client likewise.
func TestServeWaits(t *testing.T) {
	for _, mode := range []string{"splice", "copy"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := startServe(t, "--mode", mode, "--idle-timeout", "600ms", "--shell", "cat >/dev/null; sleep 0.3; echo done")
			c := s.dial()
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			time.Sleep(400 * time.Millisecond)
			c.Write([]byte("hello"))
			c.CloseWrite()
			if got, err := io.ReadAll(c); err != nil || string(got) != "done\n" {
				t.Fatalf("got %q, %v; want \"done\\n\"", got, err)
			}
			idle := s.dial() // says nothing until the idle timeout ends it
			defer idle.Close()
			for i, end := range s.waitEvents("conn end", 2, 10*time.Second) {
				t.Logf("conn end %v", end)
				in, out := end["in_full"].(float64), end["out_full"].(float64)
				if limit := float64(50 * time.Millisecond); in > limit || out > limit {
					t.Errorf("connection %d: in_full %v, out_full %v; want about 0 (nothing was ever held)",
						i+1, time.Duration(in), time.Duration(out))
				}
			}
		})
	}
}
