package bench

import (
	"math"
	"slices"
)

// Stat is the median and range of a set of samples.
type Stat struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Valid reports whether the Stat summarises at least one sample.
func (s Stat) Valid() bool { return s.N > 0 }

// stat summarises xs; NaN values are ignored.
func stat(xs []float64) Stat {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Stat{}
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Stat{N: len(v), Median: m, Min: v[0], Max: v[len(v)-1]}
}

// CellKey names one cell of the throughput table.
type CellKey struct {
	Method string
	Block  int
	Pinned bool
}

// CellSummary is the summary of one cell over its rounds.
type CellSummary struct {
	Method    string `json:"method"`
	Block     int    `json:"block"`
	Pinned    bool   `json:"pinned"`
	Bytes     int64  `json:"bytes"`
	GBps      Stat   `json:"gbps"`
	CPUPerGB  Stat   `json:"cpu_s_per_gb"`
	MiddleRSS Stat   `json:"middle_maxrss_kb"`
	// VsBestPeer is GB/s over the best peer's GB/s in the same round
	// (pipeloop methods only).
	VsBestPeer Stat     `json:"vs_best_peer,omitzero"`
	Failures   []string `json:"failures,omitempty"`
}

// summarise groups samples by cell; roles maps method names to their role.
func summarise(samples []Sample, roles map[string]Role) map[CellKey]*CellSummary {
	type roundKey struct {
		block  int
		pinned bool
		round  int
	}
	bestPeer := map[roundKey]float64{}
	for _, s := range samples {
		if s.Err == "" && roles[s.Method] == Peer {
			k := roundKey{s.Block, s.Pinned, s.Round}
			bestPeer[k] = max(bestPeer[k], s.GBps)
		}
	}
	type acc struct{ gbps, cpu, rss, vs []float64 }
	accs := map[CellKey]*acc{}
	out := map[CellKey]*CellSummary{}
	for _, s := range samples {
		k := CellKey{s.Method, s.Block, s.Pinned}
		cs, ok := out[k]
		if !ok {
			cs = &CellSummary{Method: s.Method, Block: s.Block, Pinned: s.Pinned}
			out[k] = cs
			accs[k] = &acc{}
		}
		if s.Err != "" {
			cs.Failures = append(cs.Failures, s.Err)
			continue
		}
		a := accs[k]
		cs.Bytes = s.Bytes
		a.gbps = append(a.gbps, s.GBps)
		a.cpu = append(a.cpu, s.CPUPerGB())
		if s.Middle != nil {
			a.rss = append(a.rss, float64(s.Middle.PeakRSSKB))
		}
		if bp := bestPeer[roundKey{s.Block, s.Pinned, s.Round}]; roles[s.Method] == Pipeloop && bp > 0 {
			a.vs = append(a.vs, s.GBps/bp)
		}
	}
	for k, cs := range out {
		a := accs[k]
		cs.GBps, cs.CPUPerGB, cs.MiddleRSS, cs.VsBestPeer = stat(a.gbps), stat(a.cpu), stat(a.rss), stat(a.vs)
	}
	return out
}
