package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// ScaleTopology is the scale program's topology the benchmark runs: each
// stream is one socket that the relay echoes back to a load generator in
// another process, so the relay process holds 1 fd per stream and
// K = 10,000 fits a 20,000-fd limit (see test/bench/peers/scale).
const ScaleTopology = "echo"

// ScaleSample is one run of the scale program (test/bench/peers/scale):
// one relay process serving K streams at once.
type ScaleSample struct {
	Round         int     `json:"round"`
	K             int     `json:"k"` // streams measured
	Requested     int     `json:"k_requested"`
	Topology      string  `json:"topology"`
	Mode          string  `json:"mode"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	GBps          float64 `json:"gbps"`
	LoopCPUSec    float64 `json:"loop_cpu_s"`
	ProcessCPUSec float64 `json:"process_cpu_s"`   // the relay process
	GenCPUSec     float64 `json:"generator_cpu_s"` // the generator process (echo)
	HeapPerLink   float64 `json:"heap_bytes_per_idle_link"`
	SetupSec      float64 `json:"setup_s"`
	Note          string  `json:"note,omitempty"`
	Err           string  `json:"error,omitempty"`
}

func runScale(ctx context.Context, prog string, k int, total int64, round int, timeout time.Duration) ScaleSample {
	s := ScaleSample{Round: round, Requested: k}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "-topology", ScaleTopology, "-k", strconv.Itoa(k), "-bytes", strconv.FormatInt(total, 10))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		s.Err = fmt.Sprintf("%v: %s", err, lastLines(stderr.String(), 3))
		return s
	}
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		s.Err = fmt.Sprintf("parse scale output: %v", err)
	}
	s.Round = round
	return s
}

// ScaleSummary is one K over its rounds.
type ScaleSummary struct {
	Requested   int      `json:"k_requested"`
	K           int      `json:"k"`
	Topology    string   `json:"topology"`
	GBps        Stat     `json:"gbps"`
	LoopCPUGB   Stat     `json:"loop_cpu_s_per_gb"`
	ProcCPUGB   Stat     `json:"process_cpu_s_per_gb"`
	GenCPUGB    Stat     `json:"generator_cpu_s_per_gb"`
	HeapPerLink Stat     `json:"heap_bytes_per_idle_link"`
	Note        string   `json:"note,omitempty"`
	Failures    []string `json:"failures,omitempty"`
}

func summariseScale(samples []ScaleSample, ks []int) []*ScaleSummary {
	var out []*ScaleSummary
	for _, k := range ks {
		ss := &ScaleSummary{Requested: k}
		var g, lc, pc, gc, h []float64
		for _, s := range samples {
			if s.Requested != k {
				continue
			}
			if s.Err != "" {
				ss.Failures = append(ss.Failures, s.Err)
				continue
			}
			ss.K, ss.Topology, ss.Note = s.K, s.Topology, s.Note
			gb := float64(s.Bytes) / 1e9
			g, lc, pc, h = append(g, s.GBps), append(lc, s.LoopCPUSec/gb), append(pc, s.ProcessCPUSec/gb), append(h, s.HeapPerLink)
			gc = append(gc, s.GenCPUSec/gb)
		}
		ss.GBps, ss.LoopCPUGB, ss.ProcCPUGB, ss.HeapPerLink = stat(g), stat(lc), stat(pc), stat(h)
		ss.GenCPUGB = stat(gc)
		out = append(out, ss)
	}
	return out
}
