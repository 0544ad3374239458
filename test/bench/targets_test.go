package bench

import (
	"math"
	"strings"
	"testing"
)

func TestTarget(t *testing.T) {
	tests := []struct {
		name       string
		op         string
		threshold  float64
		measured   float64
		wantStatus string
		wantMargin float64
	}{
		{"at least, passes", ">=", 0.85, 0.935, pass, 0.10},
		{"at least, misses", ">=", 1.1, 0.99, miss, -0.10},
		{"at most, passes", "<=", 0.6, 0.48, pass, 0.20},
		{"at most, misses", "<=", 1, 1.25, miss, -0.25},
		{"exactly at the line passes", ">=", 1, 1, pass, 0},
		{"not measured", ">=", 1, math.NaN(), notMeasured, 0},
		{"division by zero", "<=", 1, math.Inf(1), notMeasured, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := target("t", tt.op, tt.threshold, tt.measured, "")
			if got.Status != tt.wantStatus || math.Abs(got.Margin-tt.wantMargin) > 1e-9 {
				t.Errorf("target(%s %v, %v) = %s %+.3f, want %s %+.3f",
					tt.op, tt.threshold, tt.measured, got.Status, got.Margin, tt.wantStatus, tt.wantMargin)
			}
		})
	}
}

// quickRun is a run the size of make bench-quick, with made-up medians.
func quickRun() *Results {
	res := &Results{
		Setup: Setup{Blocks: []int{4 << 10, 64 << 10}, Pins: []bool{false, true}, // as make bench-quick
			Rounds: 5, Volumes: map[int]int64{4 << 10: 256 << 20, 64 << 10: 256 << 20}, LatTrips: 20000, LatRounds: 1},
		Methods: []MethodInfo{{Name: "direct", Role: Baseline}, {Name: "dd-chain", Role: Peer}, {Name: "pv", Role: Peer}, {Name: "pipeloop", Role: Pipeloop}, {Name: "pipeloop-copy", Role: Pipeloop}},
	}
	add := func(m string, b int, pinned bool, gbps, cpu float64) {
		res.Cells = append(res.Cells, &CellSummary{Method: m, Block: b, Pinned: pinned,
			GBps: Stat{N: 1, Median: gbps, Min: gbps, Max: gbps}, CPUPerGB: Stat{N: 1, Median: cpu, Min: cpu, Max: cpu}})
	}
	for _, pinned := range []bool{false, true} {
		add("direct", 64<<10, pinned, 2.0, 0.3)
		add("dd-chain", 64<<10, pinned, 1.0, 0.6)
		add("pv", 64<<10, pinned, 1.5, 0.4)
		add("pipeloop", 64<<10, pinned, 1.8, 0.35)
		add("pipeloop-copy", 64<<10, pinned, 1.2, 0.5)
		add("pv", 4<<10, pinned, 1.0, 0.9)
		add("pipeloop", 4<<10, pinned, 0.9, 1.0) // behind pv at 4K
	}
	res.LatCells = []*LatencySummary{
		{Method: "pipeloop", Pinned: true, P50NS: Stat{N: 1, Median: 10e3}, P99NS: Stat{N: 1, Median: 40e3}},
		{Method: "go-iocopy", Pinned: true, P50NS: Stat{N: 1, Median: 20e3}, P99NS: Stat{N: 1, Median: 30e3}},
		{Method: "c-blocking", Pinned: true, P50NS: Stat{N: 1, Median: 9.6e3}, P99NS: Stat{N: 1, Median: 19e3}},
		{Method: "go-epoll", Pinned: true, P50NS: Stat{N: 1, Median: 11e3}, P99NS: Stat{N: 1, Median: 35e3}},
	}
	return res
}

func TestEvaluateTargets(t *testing.T) {
	res := quickRun()
	got := map[string]string{}
	for _, tg := range evaluateTargets(res) {
		got[tg.Name] = tg.Status
	}
	want := map[string]string{
		"64K pinned: pipeloop ≥ 0.85× direct":                                                                        pass, // 0.9
		"64K pinned: pipeloop ≥ 0.95× direct":                                                                        miss, // 0.9
		"64K pinned: pipeloop --mode copy ≥ 1.1× dd-chain":                                                           pass, // 1.2
		"64K pinned: pipeloop --mode copy ≥ 1.3× dd-chain":                                                           miss, // 1.2
		"64K unpinned: pipeloop --mode copy ≥ 1.3× dd-chain":                                                         miss, // 1.2
		"latency pinned: pipeloop p50 ≤ 0.6× go-iocopy":                                                              pass, // 0.5
		"latency pinned: pipeloop p99 ≤ go-iocopy":                                                                   miss, // 1.33
		"latency pinned: pipeloop p50 ≤ 1.05× c-blocking":                                                            pass, // 10/9.6 = 1.04
		"latency pinned: pipeloop p99 ≤ 2.0× c-blocking":                                                             miss, // 40/19 = 2.1
		"latency pinned: pipeloop p50 ≤ go-epoll":                                                                    pass, // 10/11
		"latency pinned: pipeloop p99 ≤ go-epoll":                                                                    miss, // 40/35
		"pinned, every block ≥ 4K: pipeloop ahead of every peer (GB/s ratio to the fastest peer)":                    miss,
		"pinned, every block ≥ 4K: pipeloop lowest CPU per GB of all relays (leanest peer's CPU/GB over pipeloop's)": miss,
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %q, want %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d targets, want %d: %v", len(got), len(want), got)
	}
}

// A run below the judging threshold (make bench-smoke: 1 round of 16 MiB,
// 2,000 round trips) gets no PASS or MISS, only its ratios.
func TestTooSmallToJudge(t *testing.T) {
	tests := []struct {
		name           string
		setup          func(*Setup)
		wantTput       bool // throughput targets too small to judge
		wantLat        bool // latency targets too small to judge
		wantTputReason string
	}{
		{"bench-quick size is judged", func(*Setup) {}, false, false, ""},
		{"bench-smoke: 1 round of 16 MiB, 2,000 trips", func(s *Setup) {
			s.Blocks, s.Volumes, s.Rounds = []int{4 << 10}, map[int]int64{4 << 10: 16 << 20}, 1
			s.LatTrips, s.LatRounds = 2000, 1
		}, true, true, "1 round(s) of 16 MiB; a verdict needs ≥ 3 rounds of ≥ 128 MiB"},
		{"enough volume, too few rounds", func(s *Setup) { s.Rounds = 2 }, true, false, "2 round(s) of 256 MiB; a verdict needs ≥ 3 rounds of ≥ 128 MiB"},
		{"enough rounds, one block too small", func(s *Setup) { s.Volumes[4<<10] = 64 << 20 }, true, false, "5 round(s) of 64 MiB; a verdict needs ≥ 3 rounds of ≥ 128 MiB"},
		{"blocks below 4K do not count", func(s *Setup) {
			s.Blocks = append([]int{1 << 10}, s.Blocks...)
			s.Volumes[1<<10] = 16 << 20
		}, false, false, ""},
		{"at the line is judged", func(s *Setup) {
			s.Rounds, s.Volumes[4<<10], s.Volumes[64<<10] = 3, 128<<20, 128<<20
			s.LatTrips, s.LatRounds = 10000, 2
		}, false, false, ""},
		{"latency alone too small", func(s *Setup) { s.LatTrips = 19999 }, false, true, ""},
		{"latency not run", func(s *Setup) { s.LatRounds = 0 }, false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := quickRun()
			tt.setup(&res.Setup)
			tput, lat := tooSmallToJudge(res)
			if (tput != "") != tt.wantTput || (lat != "") != tt.wantLat {
				t.Fatalf("tooSmallToJudge = %q, %q; want throughput %v, latency %v", tput, lat, tt.wantTput, tt.wantLat)
			}
			if tt.wantTputReason != "" && tput != tt.wantTputReason {
				t.Errorf("throughput reason %q, want %q", tput, tt.wantTputReason)
			}
			for _, tg := range evaluateTargets(res) {
				small := tt.wantTput
				if strings.HasPrefix(tg.Name, "latency") {
					small = tt.wantLat
				}
				switch {
				case tg.Status == notMeasured:
				case small && tg.Status != tooSmall:
					t.Errorf("%s: %s, want %q", tg.Name, tg.Status, tooSmall)
				case small && !strings.Contains(tg.Detail, "too small to judge: "):
					t.Errorf("%s: detail %q does not say why", tg.Name, tg.Detail)
				case !small && tg.Status != pass && tg.Status != miss:
					t.Errorf("%s: %s, want a verdict", tg.Name, tg.Status)
				}
			}
		})
	}
}

// The ratio stays in a run too small to judge; only the verdict goes.
func TestUnjudgedKeepsTheRatio(t *testing.T) {
	got := unjudged(target("t", ">=", 1, 0.5, "a 1, b 2"), "1 round(s) of 16 MiB")
	if got.Status != tooSmall || got.Measured != 0.5 || got.Detail != "a 1, b 2 — too small to judge: 1 round(s) of 16 MiB" {
		t.Errorf("unjudged = %+v", got)
	}
	if nm := unjudged(target("t", ">=", 1, math.NaN(), ""), "small"); nm.Status != notMeasured {
		t.Errorf("not measured became %s", nm.Status)
	}
}

// The tracing-overhead summary pairs each round's transfers, leaves out
// failed ones, and its target is judged only from 3 rounds of 1 GiB.
func TestSummariseTrace(t *testing.T) {
	samples := []TraceSample{
		{Round: 0, Seconds: 2.0}, {Round: 0, Traced: true, Seconds: 2.04, AttachSeconds: 0.1},
		{Round: 1, Traced: true, Seconds: 2.2, AttachSeconds: 0.2}, {Round: 1, Seconds: 2.0},
		{Round: 2, Seconds: 2.1}, {Round: 2, Traced: true, Err: "boom"},
	}
	sum := &TraceSummary{Rounds: 3, Bytes: 4 << 30}
	summariseTrace(sum, samples)
	if sum.Plain.N != 3 || sum.Traced.N != 2 || sum.Paired.N != 2 {
		t.Fatalf("summary %+v: want 3 plain, 2 traced, 2 paired", sum)
	}
	if got, want := sum.Ratio, 2.12/2.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("ratio %v, want %v", got, want)
	}
	if got, want := sum.Paired.Median, (1.02+1.1)/2; math.Abs(got-want) > 1e-9 {
		t.Errorf("paired median %v, want %v", got, want)
	}
	res := &Results{TraceSum: sum}
	tg, ok := traceTarget(res)
	if !ok || tg.Status != miss {
		t.Errorf("target %+v, %t: want a MISS at +6%%", tg, ok)
	}
	sum.Bytes = 16 << 20
	if tg, _ = traceTarget(res); tg.Status != tooSmall {
		t.Errorf("16 MiB transfers: status %q, want %q", tg.Status, tooSmall)
	}
	if _, ok := traceTarget(&Results{TraceSum: &TraceSummary{}}); ok {
		t.Error("a section that did not run has a target")
	}
}

// TestLatencyTargetPairedDetail: the latency rows' detail gives the ratio
// within each pinned round as well as the medians' ratio the row judges;
// with drift between rounds the two differ (docs/bench/issue11/session7).
func TestLatencyTargetPairedDetail(t *testing.T) {
	res := quickRun()
	res.LatCells = []*LatencySummary{ // medians of the samples below
		{Method: "pipeloop", Pinned: true, P50NS: Stat{N: 3, Median: 72e3}, P99NS: Stat{N: 3, Median: 100e3}},
		{Method: "c-blocking", Pinned: true, P50NS: Stat{N: 3, Median: 80e3}, P99NS: Stat{N: 3, Median: 100e3}},
	}
	for r, p := range [][2]int64{{100e3, 90e3}, {70e3, 68e3}, {72e3, 80e3}} { // pipeloop, c-blocking
		res.LatSample = append(res.LatSample,
			LatencySample{Method: "pipeloop", Pinned: true, Round: r, P50NS: p[0], P99NS: 100e3},
			LatencySample{Method: "c-blocking", Pinned: true, Round: r, P50NS: p[1], P99NS: 100e3},
			LatencySample{Method: "pipeloop", Pinned: false, Round: r, P50NS: 1, P99NS: 1}) // unpinned: left out
	}
	res.LatSample = append(res.LatSample, LatencySample{Method: "pipeloop", Pinned: true, Round: 3, P50NS: 1}) // no anchor that round
	for _, tg := range evaluateTargets(res) {
		if tg.Name != "latency pinned: pipeloop p50 ≤ 1.05× c-blocking" {
			continue
		}
		if math.Abs(tg.Measured-0.9) > 1e-9 || !strings.Contains(tg.Detail, "paired per round 1.03 (0.90–1.11)") {
			t.Errorf("measured %v, detail %q; want 0.9 and paired per round 1.03 (0.90–1.11)", tg.Measured, tg.Detail)
		}
		return
	}
	t.Fatal("no p50 row against c-blocking")
}
