package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/test/bench"
)

// TestMain lets the test binary act as the middle-process wrapper, as the
// benchrun binary does: cells re-execute it with bench.WrapEnv set.
func TestMain(m *testing.M) {
	if out := os.Getenv(bench.WrapEnv); out != "" {
		code, err := bench.RunWrapper(out, os.Args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the smoke preset end to end: every method that can run
// here must move its bytes, and the report, JSON and charts must be written.
// pipeloop is built from ./cmd/pipeloop when that exists; its methods are
// skipped (with the reason in the report) when it cannot be built.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dozens of pipelines; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build the peers")
	}
	// The cells re-execute this binary as their wrapper; under -race each
	// exit would otherwise sleep a second (GORACE atexit_sleep_ms).
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := bench.Preset("smoke")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := cfg.Tools.BuildPeers(ctx, repo, bin); err != nil {
		t.Fatal(err)
	}
	cfg.Tools.Pipeloop = buildPipeloop(ctx, t, repo, bin)
	cfg.OutDir = t.TempDir()
	var log strings.Builder
	cfg.Log = &log

	res, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	for _, s := range res.Skipped {
		t.Logf("skipped %s (%s): %s", s.Method, s.What, s.Reason)
	}
	if got := len(res.Samples); got < 2*2 { // direct and dd-chain at least, both pin modes
		t.Errorf("got %d throughput samples, want at least 4\n%s", got, log.String())
	}
	for _, s := range res.Samples {
		if s.Err != "" {
			t.Errorf("%s %d pinned=%t: %s", s.Method, s.Block, s.Pinned, s.Err)
		}
		if s.Middle != nil && s.Middle.UserSec+s.Middle.SysSec <= 0 && s.GBps < 0.5 {
			t.Errorf("%s: middle used no CPU", s.Method)
		}
	}
	for _, s := range res.Scale {
		if s.Err != "" {
			t.Errorf("scale K=%d: %s", s.Requested, s.Err)
		} else if s.Topology != bench.ScaleTopology {
			t.Errorf("scale K=%d: topology %q, want %q", s.Requested, s.Topology, bench.ScaleTopology)
		}
	}
	for _, s := range res.LatSample {
		if s.Err != "" {
			t.Errorf("latency %s pinned=%t: %s", s.Method, s.Pinned, s.Err)
		} else if s.P50NS <= 0 || s.P50NS > s.P99NS || s.P99NS > s.MaxNS {
			t.Errorf("latency %s: percentiles out of order: %+v", s.Method, s)
		}
	}
	if len(res.Targets) != 14 {
		t.Errorf("got %d targets, want 14", len(res.Targets))
	}
	// The tracing-overhead section: the transfers of its round (untraced,
	// the floor unless its program could not load, traced), traced with
	// the tracer attached before the clock started.
	if ts := res.TraceSum; ts == nil {
		t.Error("tracing overhead: no summary")
	} else {
		want := 3
		if ts.FloorNote != "" {
			want = 2
		}
		if ts.Note == "" && len(res.TraceSamples) != want {
			t.Errorf("tracing overhead: summary %+v, %d samples; want %d (untraced, floor, traced)", ts, len(res.TraceSamples), want)
		}
	}
	for _, s := range res.TraceSamples {
		if s.Err != "" || s.Bytes != cfg.TraceBytes || s.Traced != (s.AttachSeconds > 0) {
			t.Errorf("tracing overhead sample %+v; want %d bytes, attach time only when traced", s, cfg.TraceBytes)
		}
	}

	report, err := os.ReadFile(filepath.Join(cfg.OutDir, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Targets", "## Throughput by block size", "### 4K", "## Latency", "| direct |", "| 100 | echo |", "## Tracing overhead"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	data, err := os.ReadFile(filepath.Join(cfg.OutDir, bench.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var back bench.Results
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if len(back.Samples) != len(res.Samples) {
		t.Errorf("results.json has %d samples, want %d", len(back.Samples), len(res.Samples))
	}
	for _, f := range []string{"throughput-unpinned.svg", "throughput-pinned.svg"} {
		if st, err := os.Stat(filepath.Join(cfg.OutDir, f)); err != nil || st.Size() == 0 {
			t.Errorf("chart %s missing or empty: %v", f, err)
		}
	}
}

// buildPipeloop builds ./cmd/pipeloop into dir, or returns "" (its methods
// then skip with a reason) when the tree has no pipeloop command yet.
func buildPipeloop(ctx context.Context, t *testing.T, repo, dir string) string {
	if _, err := os.Stat(filepath.Join(repo, "cmd", "pipeloop")); err != nil {
		t.Log("no cmd/pipeloop in this tree: pipeloop methods are skipped")
		return ""
	}
	out := filepath.Join(dir, "pipeloop")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/pipeloop")
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build pipeloop: %v\n%s", err, b)
	}
	return out
}

// TestServe runs the serve-mode section alone, small: pipeloop serve (and
// socat, when installed) must echo every connection and the bulk bytes.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and hundreds of connections; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build pipeloop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := bench.Preset("quick")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SkipThroughput, cfg.LatRounds, cfg.ScaleKs = true, 0, nil
	cfg.ServeRounds, cfg.ServeDuration, cfg.ServeBulk = 1, 200*time.Millisecond, 4<<20
	cfg.Tools.Pipeloop = buildPipeloop(ctx, t, repo, t.TempDir())
	if cfg.Tools.Pipeloop == "" {
		t.Skip("no cmd/pipeloop in this tree")
	}
	cfg.OutDir = t.TempDir()
	var log strings.Builder
	cfg.Log = &log
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	want := 4 // conn-rate and bulk, pipeloop and socat
	if _, err := exec.LookPath("socat"); err != nil {
		want = 2
	}
	if got := len(res.Serve.Samples); got != want {
		t.Errorf("got %d serve samples, want %d\n%s", got, want, log.String())
	}
	for _, s := range res.Serve.Samples {
		if s.Err != "" || s.Rate <= 0 || s.Conns < 1 {
			t.Errorf("%s %s: %+v", s.Server, s.Kind, s)
		}
	}
	if len(res.Samples) != 0 {
		t.Errorf("got %d throughput samples with SkipThroughput", len(res.Samples))
	}
	report, err := os.ReadFile(filepath.Join(cfg.OutDir, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "| short connections | pipeloop |") {
		t.Errorf("report lacks the serve table:\n%s", report)
	}
}
