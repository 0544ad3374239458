package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Results is everything one run measured; it is what results.json holds.
type Results struct {
	Preset    string            `json:"preset"`
	Started   time.Time         `json:"started"`
	Seconds   float64           `json:"seconds"` // wall time of the whole run
	Machine   Machine           `json:"machine"`
	Setup     Setup             `json:"setup"`
	Methods   []MethodInfo      `json:"methods"`
	Latencies []MethodInfo      `json:"latency_methods"`
	Skipped   []Skip            `json:"skipped,omitempty"`
	Samples   []Sample          `json:"throughput_samples"`
	LatSample []LatencySample   `json:"latency_samples"`
	Cells     []*CellSummary    `json:"throughput_summary"`
	LatCells  []*LatencySummary `json:"latency_summary"`
	Serve     ServeResults      `json:"serve"`
	// The tracing-overhead section (traceoverhead.go).
	TraceSamples []TraceSample   `json:"trace_samples,omitempty"`
	TraceSum     *TraceSummary   `json:"trace_summary,omitempty"`
	Targets      []Target        `json:"targets"`
	Scale        []ScaleSample   `json:"scale_samples"`
	ScaleSum     []*ScaleSummary `json:"scale_summary"`
	ScaleNote    string          `json:"scale_note,omitempty"`
}

// Setup records the parameters the numbers depend on.
type Setup struct {
	Blocks      []int         `json:"blocks"`
	Volumes     map[int]int64 `json:"volume_bytes"` // per block size
	Rounds      int           `json:"rounds"`
	Pins        []bool        `json:"pinned"`
	LatTrips    int           `json:"latency_trips"`
	LatWarmup   int           `json:"latency_warmup"`
	LatRounds   int           `json:"latency_rounds"`
	Pipeloop    string        `json:"pipeloop"`
	Chart       string        `json:"chart_format"`
	ScaleKs     []int         `json:"scale_k"`
	ScaleBytes  int64         `json:"scale_bytes"`
	ScaleRounds int           `json:"scale_rounds"`
}

// MethodInfo describes a method in the results.
type MethodInfo struct {
	Name  string `json:"name"`
	Role  Role   `json:"role"`
	Spawn bool   `json:"spawn,omitempty"`
	Desc  string `json:"desc"`
}

// Skip records a method that could not run and why.
type Skip struct {
	Method string `json:"method"`
	What   string `json:"what"` // throughput, latency or pinned
	Reason string `json:"reason"`
}

// Run measures everything cfg asks for and, if cfg.OutDir is set, writes
// the report, JSON and charts there.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	t := cfg.Tools
	if err := t.Resolve(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "pipeloop-bench-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	res := &Results{Preset: cfg.Preset, Started: time.Now().UTC(), Machine: probeMachine(ctx, &t)}
	res.Setup = Setup{Blocks: cfg.Blocks, Volumes: map[int]int64{}, Rounds: cfg.Rounds,
		LatTrips: cfg.LatTrips, LatWarmup: cfg.LatWarmup, LatRounds: cfg.LatRounds, Pipeloop: t.Pipeloop, Chart: cfg.ChartFormat,
		ScaleKs: cfg.ScaleKs, ScaleBytes: cfg.ScaleBytes, ScaleRounds: cfg.ScaleRounds}
	for _, b := range cfg.Blocks {
		res.Setup.Volumes[b] = cfg.volume(b)
	}
	pins := cfg.Pins
	if t.Taskset == "" && slices.Contains(pins, true) {
		pins = slices.DeleteFunc(slices.Clone(pins), func(p bool) bool { return p })
		res.Skipped = append(res.Skipped, Skip{"*", "pinned", "taskset not found: install util-linux"})
		fmt.Fprintln(log, "skip pinned cells: taskset not found")
	}
	if len(pins) == 0 {
		return nil, fmt.Errorf("no pin mode can run")
	}
	res.Setup.Pins = pins

	methods := available(selectMethods(Methods(), cfg.Methods), &t, "throughput", res, log)
	if cfg.SkipThroughput {
		methods = nil
	}
	latMethods := available(selectMethods(LatencyMethods(), cfg.LatMethods), &t, "latency", res, log)
	if t.PingPong == "" {
		latMethods = nil
	}
	for _, m := range methods {
		res.Methods = append(res.Methods, MethodInfo{m.Name, m.Role, m.Spawn, m.Desc})
	}
	for _, m := range latMethods {
		res.Latencies = append(res.Latencies, MethodInfo{m.Name, m.Role, m.Spawn, m.Desc})
	}

	for _, b := range cfg.Blocks {
		for r := range cfg.Rounds {
			for _, pinned := range pins {
				for _, m := range methods {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					c := cell{method: m, block: b, pinned: pinned, round: r, bytes: cfg.cellVolume(b, m),
						tools: &t, tmp: tmp, timeout: cfg.CellTimeout}
					s := c.run(ctx)
					res.Samples = append(res.Samples, s)
					logSample(log, s, cfg.Rounds)
				}
			}
		}
	}
	for r := range cfg.LatRounds {
		for _, pinned := range pins {
			for _, m := range latMethods {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				l := latencyRun{method: m, pinned: pinned, round: r, trips: cfg.LatTrips,
					warmup: cfg.LatWarmup, tools: &t, tmp: tmp, timeout: cfg.CellTimeout}
				s := l.run(ctx)
				res.LatSample = append(res.LatSample, s)
				logLatency(log, s, cfg.LatRounds)
			}
		}
	}
	if err := res.runScale(ctx, &cfg, &t, log); err != nil {
		return nil, err
	}
	if err := res.runServe(ctx, &cfg, &t, log); err != nil {
		return nil, err
	}
	if err := res.runTrace(ctx, &cfg, &t, log); err != nil {
		return nil, err
	}
	res.Machine.LoadEnd = readTrim("/proc/loadavg")
	res.finish(methods, latMethods)
	res.Seconds = time.Since(res.Started).Seconds()
	if cfg.OutDir != "" {
		if err := res.Write(cfg.OutDir); err != nil {
			return res, err
		}
	}
	return res, nil
}

// available drops the methods that cannot run here, recording why.
func available(ms []Method, t *Tools, what string, res *Results, log io.Writer) []Method {
	var out []Method
	for _, m := range ms {
		if why := m.unavailable(t); why != "" {
			res.Skipped = append(res.Skipped, Skip{m.Name, what, why})
			fmt.Fprintf(log, "skip %s %s: %s\n", what, m.Name, why)
			continue
		}
		out = append(out, m)
	}
	return out
}

// finish computes the summaries and targets from the samples.
func (res *Results) finish(methods, latMethods []Method) {
	roles := map[string]Role{}
	for _, m := range methods {
		roles[m.Name] = m.Role
	}
	cells := summarise(res.Samples, roles)
	res.Cells = res.Cells[:0]
	for _, b := range res.Setup.Blocks {
		for _, p := range res.Setup.Pins {
			for _, m := range methods {
				if cs := cells[CellKey{m.Name, b, p}]; cs != nil {
					res.Cells = append(res.Cells, cs)
				}
			}
		}
	}
	lat := summariseLatency(res.LatSample)
	res.LatCells = res.LatCells[:0]
	for _, p := range res.Setup.Pins {
		for _, m := range latMethods {
			if ls := lat[CellKey{Method: m.Name, Pinned: p}]; ls != nil {
				res.LatCells = append(res.LatCells, ls)
			}
		}
	}
	res.Targets = evaluateTargets(res)
	res.ScaleSum = summariseScale(res.Scale, res.Setup.ScaleKs)
}

// runScale runs the scale program for every K, rounds interleaved.
func (res *Results) runScale(ctx context.Context, cfg *Config, t *Tools, log io.Writer) error {
	switch {
	case len(cfg.ScaleKs) == 0 || cfg.ScaleRounds < 1:
		res.ScaleNote = "not run in this preset"
		return nil
	case t.Scale == "":
		res.ScaleNote = "not measured: " + orDash(t.ScaleErr)
		fmt.Fprintln(log, "skip scale:", res.ScaleNote)
		return nil
	}
	for r := range cfg.ScaleRounds {
		for _, k := range cfg.ScaleKs {
			if err := ctx.Err(); err != nil {
				return err
			}
			s := runScale(ctx, t.Scale, k, cfg.ScaleBytes, r, cfg.CellTimeout)
			res.Scale = append(res.Scale, s)
			status := fmt.Sprintf("%s %6.2f GB/s loop %.3f cpu-s heap/link %.0f B", s.Topology, s.GBps, s.LoopCPUSec, s.HeapPerLink)
			if s.K != k && s.Err == "" {
				status += fmt.Sprintf(" (measured K=%d: %s)", s.K, s.Note)
			}
			if s.Err != "" {
				status = "FAILED: " + s.Err
			}
			fmt.Fprintf(log, "scale r%d/%d K=%-6d %s\n", r+1, cfg.ScaleRounds, k, status)
		}
	}
	return nil
}

func logSample(w io.Writer, s Sample, rounds int) {
	status := fmt.Sprintf("%6.2f GB/s %5.2f cpu-s/GB", s.GBps, s.CPUPerGB())
	if s.Err != "" {
		status = "FAILED: " + s.Err
	}
	fmt.Fprintf(w, "%-5s r%d/%d %-8s %-18s %s\n", sizeName(s.Block), s.Round+1, rounds, pinName(s.Pinned), s.Method, status)
}

func logLatency(w io.Writer, s LatencySample, rounds int) {
	status := fmt.Sprintf("p50 %s p99 %s p99.9 %s max %s", us(s.P50NS), us(s.P99NS), us(s.P999NS), us(s.MaxNS))
	if s.Err != "" {
		status = "FAILED: " + s.Err
	}
	fmt.Fprintf(w, "lat   r%d/%d %-8s %-18s %s\n", s.Round+1, rounds, pinName(s.Pinned), s.Method, status)
}

func pinName(p bool) string {
	if p {
		return "pinned"
	}
	return "unpinned"
}

func sizeName(b int) string {
	switch {
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dM", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%dK", b>>10)
	}
	return fmt.Sprint(b)
}

func us(ns int64) string { return fmt.Sprintf("%.1fµs", float64(ns)/1e3) }
