//go:build linux

package trace

import (
	"slices"
	"time"
)

// Schema names the JSON format of JSONReport (pipeloop trace --json,
// and "stalls" in --stats-json); SchemaVersion is its version. Within a
// version fields are only added; anything else bumps it. README.md
// documents every field. Version 2: dropped.storage counts threads not
// watched for want of task storage (version 1 counted waits).
const (
	Schema        = "pipeloop-trace"
	SchemaVersion = 2
)

// JSONReport is the machine-readable form of a Report, for embedding in
// other JSON output. Field names are snake_case and stable.
type JSONReport struct {
	Schema        string        `json:"schema"`         // always Schema
	SchemaVersion int           `json:"schema_version"` // always SchemaVersion
	Start         time.Time     `json:"start"`
	WallNS        int64         `json:"wall_ns"`
	Processes     []JSONProcess `json:"processes"`
	// Dropped counts what was not recorded (see Dropped); MaxRecords
	// and MaxProcesses are the limits that caused it.
	Dropped      JSONDropped `json:"dropped"`
	MaxRecords   int         `json:"max_records"`
	MaxProcesses int         `json:"max_processes"`
}

// JSONDropped is Dropped.
type JSONDropped struct {
	Waits    uint64 `json:"waits"`
	Children uint64 `json:"children"`
	Storage  uint64 `json:"storage"`
	Procs    uint64 `json:"procs"`
	Attach   uint64 `json:"attach"`
}

// JSONProcess is one process's stalls. Fractions are of the report's
// wall time.
type JSONProcess struct {
	Tgid   int    `json:"tgid"`
	Comm   string `json:"comm"`
	Label  string `json:"label,omitempty"`
	Parent int    `json:"parent"`          // tgid that forked it while traced; 0 if given to Watch
	Stage  int    `json:"stage,omitempty"` // tgid of the nearest labelled ancestor (or itself)
	// The traced part of its life, from start_ns (fork, or when it was
	// watched) to exit_ns (its exit, or the end of the report if it
	// still runs), as offsets from the report's start; life_ns is the
	// difference. All three are 0 if unknown.
	StartNS        int64      `json:"start_ns"`
	ExitNS         int64      `json:"exit_ns"`
	Exited         bool       `json:"exited"`
	LifeNS         int64      `json:"life_ns"`
	BlockedWriting JSONStall  `json:"blocked_writing"`
	BlockedReading JSONStall  `json:"blocked_reading"`
	InPoll         JSONStall  `json:"in_poll"`
	Pipes          []JSONPipe `json:"pipes"`
}

// JSONStall is a total over one direction.
type JSONStall struct {
	Count        uint64  `json:"count"`
	AtAttach     uint64  `json:"at_attach"` // waits of count in progress at attach, counted from then
	TotalNS      int64   `json:"total_ns"`
	RunnableNS   int64   `json:"runnable_ns"` // of total_ns, woken and waiting for a CPU
	MaxNS        int64   `json:"max_ns"`
	WallFraction float64 `json:"wall_fraction"` // of the report's wall time
	LifeFraction float64 `json:"life_fraction"` // of the process's traced life
}

// JSONPipe is one pipe and direction of a process. HistLog2NS[i] counts
// waits of [2^i, 2^(i+1)) ns; trailing empty buckets are left out.
type JSONPipe struct {
	Inode      uint64   `json:"inode"` // 0 for direction "poll"
	Direction  string   `json:"direction"`
	Count      uint64   `json:"count"`
	AtAttach   uint64   `json:"at_attach"` // waits of count in progress at attach, counted from then
	TotalNS    int64    `json:"total_ns"`
	RunnableNS int64    `json:"runnable_ns"` // of total_ns, woken and waiting for a CPU
	MaxNS      int64    `json:"max_ns"`
	HistLog2NS []uint64 `json:"hist_log2_ns"`
}

// JSON returns the report in its JSON form; names are optional labels as
// for WriteTable. Processes listed in names that never waited appear with
// zero totals.
func (r Report) JSON(names map[int]string) JSONReport {
	out := JSONReport{Schema: Schema, SchemaVersion: SchemaVersion, Start: r.Start, WallNS: int64(r.Wall), Processes: []JSONProcess{},
		Dropped:    JSONDropped{Waits: r.Dropped.Waits, Children: r.Dropped.Children, Storage: r.Dropped.Storage, Procs: r.Dropped.Procs, Attach: r.Dropped.Attach},
		MaxRecords: r.MaxRecords, MaxProcesses: r.MaxProcesses,
	}
	stall := func(s Stall, life time.Duration) JSONStall {
		j := JSONStall{Count: s.Count, AtAttach: s.AtAttach, TotalNS: int64(s.Total), RunnableNS: int64(s.Runnable), MaxNS: int64(s.Max)}
		if r.Wall > 0 {
			j.WallFraction = float64(s.Total) / float64(r.Wall)
		}
		if life > 0 {
			j.LifeFraction = float64(s.Total) / float64(life)
		}
		return j
	}
	for _, p := range r.withNamed(names) {
		jp := JSONProcess{
			Tgid: p.Tgid, Comm: r.name(p.Tgid, p.Comm), Label: r.labelOf(p.Tgid, p.Comm, names, func(s string) string { return s }), Parent: r.Procs[p.Tgid].Parent,
			Pipes: []JSONPipe{},
		}
		life := r.Life(p.Tgid)
		jp.BlockedWriting, jp.BlockedReading, jp.InPoll = stall(p.Write, life), stall(p.Read, life), stall(p.Poll, life)
		if pi, ok := r.Procs[p.Tgid]; ok {
			jp.StartNS, jp.ExitNS, jp.Exited, jp.LifeNS = int64(pi.Start), int64(pi.Start+life), pi.Exited, int64(life)
		}
		if s, ok := r.Stage(p.Tgid, names); ok {
			jp.Stage = s
		}
		if _, ok := names[p.Tgid]; !ok && jp.Stage == 0 {
			jp.Label = "" // only labelled processes and their descendants have one
		}
		for _, rec := range p.Pipes {
			h := rec.Hist
			for len(h) > 0 && h[len(h)-1] == 0 {
				h = h[:len(h)-1]
			}
			jp.Pipes = append(jp.Pipes, JSONPipe{
				Inode: rec.Inode, Direction: rec.Dir.String(), Count: rec.Count, AtAttach: rec.AtAttach,
				TotalNS: int64(rec.Total), RunnableNS: int64(rec.Runnable), MaxNS: int64(rec.Max), HistLog2NS: slices.Clone(h),
			})
		}
		out.Processes = append(out.Processes, jp)
	}
	return out
}

func sortedKeys(m map[int]string) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
