package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// LatencySample is one ping-pong run: percentiles of its timed round trips.
type LatencySample struct {
	Method string `json:"method"`
	Pinned bool   `json:"pinned"`
	Round  int    `json:"round"`
	Trips  int    `json:"trips"`
	Size   int    `json:"size"`
	MinNS  int64  `json:"min_ns"`
	P50NS  int64  `json:"p50_ns"`
	P90NS  int64  `json:"p90_ns"`
	P99NS  int64  `json:"p99_ns"`
	P999NS int64  `json:"p999_ns"`
	MaxNS  int64  `json:"max_ns"`
	MeanNS int64  `json:"mean_ns"`
	Err    string `json:"error,omitempty"`
}

// latencyRun is one ping-pong measurement.
//
// Topology, the same for every relay so that only the relay differs:
//
//	ping ──pipe──▶ relay ──pipe──▶ pong ──pipe──▶ relay ──pipe──▶ ping
//
// two instances of the method, one per direction, each in stdin mode.
// direct drops both relays: ping ──pipe──▶ pong ──pipe──▶ ping.
type latencyRun struct {
	method  Method
	pinned  bool
	round   int
	trips   int
	warmup  int
	tools   *Tools
	tmp     string
	timeout time.Duration
}

func (l *latencyRun) run(ctx context.Context) (s LatencySample) {
	s = LatencySample{Method: l.method.Name, Pinned: l.pinned, Round: l.round, Size: 64}
	out := filepath.Join(l.tmp, fmt.Sprintf("lat-%s-%t-%d.json", l.method.Name, l.pinned, l.round))
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()

	ping := []string{l.tools.PingPong, "ping", "-size", "64", "-n", fmt.Sprint(l.trips),
		"-warmup", fmt.Sprint(l.warmup), "-out", out}
	pong := []string{l.tools.PingPong, "pong", "-size", "64"}
	procs := [][]string{ping, pong}
	if l.method.middle != nil {
		relay := l.method.middle(l.tools, 64, "", "")
		procs = [][]string{ping, relay, pong, relay}
	}
	// Process i writes to pipe i, which process i+1 reads (the last feeds ping).
	n := len(procs)
	reads, writes := make([]*os.File, n), make([]*os.File, n)
	closeAll := func() {
		for i := range n {
			reads[i].Close()
			writes[i].Close()
		}
	}
	for i := range n {
		var fds [2]int
		if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
			closeAll()
			s.Err = fmt.Sprintf("pipe2: %v", err)
			return s
		}
		reads[i], writes[i] = os.NewFile(uintptr(fds[0]), "r"), os.NewFile(uintptr(fds[1]), "w")
	}
	var stderr lockedBuffer
	cmds := make([]*exec.Cmd, n)
	for i, argv := range procs {
		if l.pinned {
			argv = append([]string{l.tools.Taskset, "-c", "0"}, argv...)
		}
		c := exec.CommandContext(ctx, argv[0], argv[1:]...)
		c.Stdin, c.Stdout, c.Stderr = reads[(i+n-1)%n], writes[i], &stderr
		c.WaitDelay = 5 * time.Second
		if err := c.Start(); err != nil {
			closeAll()
			for _, started := range cmds[:i] {
				started.Process.Kill()
				started.Wait()
			}
			s.Err = fmt.Sprintf("start %s: %v", argv[0], err)
			return s
		}
		cmds[i] = c
	}
	closeAll()
	// After its last trip ping closes its stdout and waits for the EOF to
	// come round the ring, so every process exits on EOF, in ring order.
	var errs []string
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", procs[i][0], err))
		}
	}
	if ctx.Err() != nil {
		s.Err = fmt.Sprintf("timed out after %v", l.timeout)
		return s
	}
	if len(errs) > 0 {
		s.Err = fmt.Sprintf("%v: %s", errs, lastLines(stderr.String(), 3))
		return s
	}
	data, err := os.ReadFile(out)
	if err == nil {
		err = json.Unmarshal(data, &s)
		os.Remove(out)
	}
	if err != nil {
		s.Err = fmt.Sprintf("read ping summary: %v", err)
	}
	s.Method, s.Pinned, s.Round = l.method.Name, l.pinned, l.round
	return s
}

// LatencySummary is one latency cell over its rounds: the median across
// rounds of each percentile, and the worst max.
type LatencySummary struct {
	Method   string   `json:"method"`
	Pinned   bool     `json:"pinned"`
	Trips    int      `json:"trips"` // timed round trips per round
	Rounds   int      `json:"rounds"`
	P50NS    Stat     `json:"p50_ns"`
	P90NS    Stat     `json:"p90_ns"`
	P99NS    Stat     `json:"p99_ns"`
	P999NS   Stat     `json:"p999_ns"`
	MaxNS    Stat     `json:"max_ns"`
	Failures []string `json:"failures,omitempty"`
}

func summariseLatency(samples []LatencySample) map[CellKey]*LatencySummary {
	type acc struct{ p50, p90, p99, p999, mx []float64 }
	accs := map[CellKey]*acc{}
	out := map[CellKey]*LatencySummary{}
	for _, s := range samples {
		k := CellKey{Method: s.Method, Pinned: s.Pinned}
		ls, ok := out[k]
		if !ok {
			ls = &LatencySummary{Method: s.Method, Pinned: s.Pinned}
			out[k], accs[k] = ls, &acc{}
		}
		if s.Err != "" {
			ls.Failures = append(ls.Failures, s.Err)
			continue
		}
		a := accs[k]
		ls.Trips = s.Trips
		ls.Rounds++
		a.p50 = append(a.p50, float64(s.P50NS))
		a.p90 = append(a.p90, float64(s.P90NS))
		a.p99 = append(a.p99, float64(s.P99NS))
		a.p999 = append(a.p999, float64(s.P999NS))
		a.mx = append(a.mx, float64(s.MaxNS))
	}
	for k, ls := range out {
		a := accs[k]
		ls.P50NS, ls.P90NS, ls.P99NS, ls.P999NS, ls.MaxNS = stat(a.p50), stat(a.p90), stat(a.p99), stat(a.p999), stat(a.mx)
	}
	return out
}

// lockedBuffer is a bytes.Buffer that several processes' stderr copiers can
// write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
