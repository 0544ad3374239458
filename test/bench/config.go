package bench

import (
	"fmt"
	"io"
	"time"
)

// Config says what one run of the benchmark measures and where it writes.
type Config struct {
	Preset         string   // name recorded in the report: full, quick, smoke or custom
	Blocks         []int    // dd block sizes in bytes
	Rounds         int      // rounds per block size (every method once per round and pin mode)
	Bytes          int64    // volume per cell at and above FullVolumeFrom
	FullVolumeFrom int      // smaller blocks move Bytes*B/FullVolumeFrom (rounded to whole blocks)
	Pins           []bool   // pin modes to run: false = unpinned, true = taskset -c 0
	Methods        []string // throughput methods to run; empty means all
	SkipThroughput bool     // run no throughput cells (e.g. to measure serve mode alone)
	LatTrips       int      // timed ping-pong round trips per latency sample
	LatWarmup      int      // untimed round trips first
	LatRounds      int      // latency rounds (0 skips latency)
	LatMethods     []string // latency methods; empty means all
	ScaleKs        []int    // streams per scale run (empty skips scale)
	ScaleBytes     int64    // bytes over all streams of one scale run
	ScaleRounds    int
	ServeRounds    int           // serve-mode rounds (0 skips serve mode)
	ServeClients   int           // concurrent clients of the short-connection cells
	ServeDuration  time.Duration // how long the short-connection clients run per cell
	ServeBulk      int64         // bytes echoed by a bulk cell
	TraceRounds    int           // tracing-overhead rounds (0 skips the section; traceoverhead.go)
	TraceBytes     int64         // bytes through dd | cat | dd per tracing-overhead transfer
	CellTimeout    time.Duration // a cell still running after this is killed and recorded as failed
	OutDir         string        // report.md, results.json and the charts go here ("" writes nothing)
	ChartFormat    string        // svg (default) or png
	Tools          Tools         // the programs under test
	Log            io.Writer     // progress lines; nil discards them
}

// Preset returns the named configuration; Tools, OutDir and Log are left
// for the caller to fill in.
//
// The volumes are sized for a 2-vCPU machine: full finishes in well under
// 30 minutes and quick in under 3. Blocks below FullVolumeFrom move
// proportionally less data, because their cells are bound by syscalls per
// byte (1 KiB through a Python select pump runs at a few hundred MB/s).
func Preset(name string) (Config, error) {
	all := []int{1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10}
	c := Config{
		Preset:         name,
		Pins:           []bool{false, true},
		FullVolumeFrom: 16 << 10,
		ChartFormat:    "svg",
		ServeClients:   8,
		CellTimeout:    2 * time.Minute,
		LatWarmup:      10000,
	}
	switch name {
	case "full":
		c.Blocks, c.Rounds, c.Bytes = all, 5, 1<<30
		c.FullVolumeFrom = 8 << 10 // 1K: 128 MiB, 2K: 256 MiB, 4K: 512 MiB
		c.LatTrips, c.LatRounds = 100000, 3
		c.ScaleKs, c.ScaleBytes, c.ScaleRounds = []int{1, 10, 100, 1000, 10000}, 1<<30, 3
		c.ServeRounds, c.ServeDuration, c.ServeBulk = 5, 2*time.Second, 64<<20
		c.TraceRounds, c.TraceBytes = 11, 4<<30
	case "quick":
		c.Blocks, c.Rounds, c.Bytes = []int{4 << 10, 64 << 10}, 5, 256<<20
		c.FullVolumeFrom = 4 << 10
		c.LatTrips, c.LatRounds = 20000, 1
		c.ScaleKs, c.ScaleBytes, c.ScaleRounds = []int{1, 10, 100, 1000, 10000}, 256<<20, 1
		c.ServeRounds, c.ServeDuration, c.ServeBulk = 3, time.Second, 16<<20
		c.TraceRounds, c.TraceBytes = 5, 1<<30
	case "smoke":
		c.Blocks, c.Rounds, c.Bytes = []int{4 << 10}, 1, 16<<20
		c.FullVolumeFrom = 4 << 10
		c.LatTrips, c.LatWarmup, c.LatRounds = 2000, 200, 1
		c.ScaleKs, c.ScaleBytes, c.ScaleRounds = []int{1, 100}, 16<<20, 1
		c.TraceRounds, c.TraceBytes = 1, 16<<20
	default:
		return Config{}, fmt.Errorf("unknown preset %q (want full, quick or smoke)", name)
	}
	return c, nil
}

// volume is the number of bytes a cell with block size b moves: Bytes, or
// proportionally less below FullVolumeFrom, always a whole number of blocks.
func (c *Config) volume(b int) int64 {
	v := c.Bytes
	if c.FullVolumeFrom > 0 && b < c.FullVolumeFrom {
		v = v * int64(b) / int64(c.FullVolumeFrom)
	}
	return max(1, v/int64(b)) * int64(b)
}

// cellVolume is volume(b) for method m, divided by m.VolumeDiv.
func (c *Config) cellVolume(b int, m Method) int64 {
	v := c.volume(b)
	if m.VolumeDiv > 1 {
		v = max(1, v/int64(m.VolumeDiv)/int64(b)) * int64(b)
	}
	return v
}

func (c *Config) validate() error {
	switch {
	case len(c.Blocks) == 0:
		return fmt.Errorf("config: no block sizes")
	case c.Rounds < 1:
		return fmt.Errorf("config: rounds %d < 1", c.Rounds)
	case c.Bytes < 1:
		return fmt.Errorf("config: bytes %d < 1", c.Bytes)
	case c.ChartFormat != "svg" && c.ChartFormat != "png":
		return fmt.Errorf("config: chart format %q (want svg or png)", c.ChartFormat)
	case len(c.Pins) == 0:
		return fmt.Errorf("config: no pin mode")
	case c.LatRounds > 0 && c.LatTrips < 1:
		return fmt.Errorf("config: latency trips %d < 1", c.LatTrips)
	case c.TraceRounds > 0 && c.TraceBytes < traceBlock:
		return fmt.Errorf("config: trace bytes %d < one %d-byte block", c.TraceBytes, traceBlock)
	case c.ServeRounds > 0 && (c.ServeClients < 1 || c.ServeDuration <= 0 || c.ServeBulk < 1):
		return fmt.Errorf("config: serve mode needs clients, a duration and a bulk size")
	}
	for _, b := range c.Blocks {
		if b < 1 {
			return fmt.Errorf("config: block size %d < 1", b)
		}
	}
	return nil
}
