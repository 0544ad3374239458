package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The tracing-overhead section (issue 13): what `pipeloop trace --pid`
// costs the pipeline it watches. Each round times the same transfer twice,
// untraced and traced, in alternating order: dd if=/dev/zero | cat |
// dd of=/dev/null, 64 KiB blocks, every stage pinned to CPU 0.
//
// Fair method: the producer is held at a gate (`sh -c 'read _; exec dd
// …'`, so the pid stays the same), the tracer is started on all three
// pids, and the clock starts only when the tracer has said it is tracing
// and the gate opens, after the same settle time in both cases (see
// traceSettle); it stops when the last stage has exited. Loading
// and attaching the eBPF programs (~0.1 s) happens before the timed
// interval and is reported apart (AttachSeconds); the tracer's report,
// printed after the stages exit, is not timed either. The tracer itself is
// not pinned: it sleeps, polling every 100 ms for the stages to exit.

// TraceSample is one timed transfer of the tracing-overhead section.
type TraceSample struct {
	Traced  bool    `json:"traced"`
	Floor   bool    `json:"floor,omitempty"` // untraced, an empty sched_switch program attached (hookfloor.go)
	Round   int     `json:"round"`
	Bytes   int64   `json:"bytes"`   // bytes the consumer dd received
	Seconds float64 `json:"seconds"` // from opening the gate to the last stage's exit
	// CPU of the three stages (user + system, rusage): the BPF program
	// runs in the switching task's context, so its cost shows here, and
	// CPU time is less disturbed than wall time by a machine's other load.
	CPUSeconds    float64 `json:"cpu_s"`
	AttachSeconds float64 `json:"attach_s,omitempty"`
	Err           string  `json:"error,omitempty"`
}

// TraceSummary summarises the section.
type TraceSummary struct {
	Rounds    int     `json:"rounds"`
	Bytes     int64   `json:"bytes"`
	Plain     Stat    `json:"plain_s"`
	Traced    Stat    `json:"traced_s"`
	PlainCPU  Stat    `json:"plain_cpu_s"`
	TracedCPU Stat    `json:"traced_cpu_s"`
	Attach    Stat    `json:"attach_s"`
	Ratio     float64 `json:"ratio"`        // median traced / median plain
	Paired    Stat    `json:"paired_ratio"` // traced / plain within each round
	// The floor (hookfloor.go): the same with an empty sched_switch
	// program attached; FloorNote says why it was not measured.
	Floor       Stat    `json:"floor_s"`
	FloorCPU    Stat    `json:"floor_cpu_s"`
	FloorRatio  float64 `json:"floor_ratio,omitempty"` // median floor / median plain
	FloorPaired Stat    `json:"floor_paired_ratio"`
	FloorNote   string  `json:"floor_note,omitempty"`
	LoadFrom    string  `json:"loadavg_start"`
	LoadTo      string  `json:"loadavg_end"`
	Note        string  `json:"note,omitempty"` // why it did not run
}

// traceRun is one transfer of the section.
type traceRun struct {
	tools   *Tools
	traced  bool
	floor   bool
	round   int
	bytes   int64
	timeout time.Duration
}

const traceBlock = 64 << 10

// traceSettle is how long the stages wait at the gate, after the tracer
// has attached (traced) or at once (untraced), before the clock starts.
const traceSettle = time.Second

// runTrace runs the section: cfg.TraceRounds rounds of both transfers.
func (res *Results) runTrace(ctx context.Context, cfg *Config, t *Tools, log io.Writer) error {
	sum := &TraceSummary{Rounds: cfg.TraceRounds, Bytes: cfg.TraceBytes}
	res.TraceSum = sum
	switch {
	case cfg.TraceRounds < 1:
		sum.Note = "not run in this preset"
		return nil
	case os.Geteuid() != 0:
		sum.Note = "not measured: pipeloop trace needs root (or CAP_BPF+CAP_PERFMON)"
	case t.Taskset == "":
		sum.Note = "not measured: taskset not found (install util-linux)"
	case needPipeloop(t) != "":
		sum.Note = "not measured: " + needPipeloop(t)
	}
	if sum.Note != "" {
		fmt.Fprintln(log, "skip trace overhead:", sum.Note)
		return nil
	}
	sum.LoadFrom = readTrim("/proc/loadavg")
	kinds := []string{"plain", "floor", "traced"}
	if e, err := AttachEmptySwitch(); err != nil {
		sum.FloorNote = "not measured: " + err.Error()
		kinds = []string{"plain", "traced"}
		fmt.Fprintln(log, "skip trace overhead floor:", err)
	} else {
		e.Close()
	}
	for r := range cfg.TraceRounds {
		// Rotate which goes first, so that a drift in the machine's
		// load does not favour one.
		for i := range kinds {
			kind := kinds[(r+i)%len(kinds)]
			if err := ctx.Err(); err != nil {
				return err
			}
			tr := traceRun{tools: t, traced: kind == "traced", floor: kind == "floor", round: r, bytes: cfg.TraceBytes, timeout: cfg.CellTimeout}
			s := tr.run(ctx)
			res.TraceSamples = append(res.TraceSamples, s)
			status := fmt.Sprintf("%.3f s %6.2f GB/s", s.Seconds, float64(s.Bytes)/s.Seconds/1e9)
			if s.Traced {
				status += fmt.Sprintf(" (attach %.3f s, not timed)", s.AttachSeconds)
			}
			if s.Err != "" {
				status = "FAILED: " + s.Err
			}
			fmt.Fprintf(log, "trace r%d/%d %-8s %s\n", r+1, cfg.TraceRounds, kind, status)
		}
	}
	sum.LoadTo = readTrim("/proc/loadavg")
	summariseTrace(sum, res.TraceSamples)
	return nil
}

var tracingLine = regexp.MustCompile(`^tracing \d+ process`)

// run times one transfer. Failures are recorded in Err.
func (tr *traceRun) run(ctx context.Context) (s TraceSample) {
	s = TraceSample{Traced: tr.traced, Floor: tr.floor, Round: tr.round}
	ctx, cancel := context.WithTimeout(ctx, tr.timeout)
	defer cancel()
	p, err := startGatedPipeline(ctx, tr.tools.Taskset, tr.bytes)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer p.kill()
	var tracer *exec.Cmd
	var report lockedBuffer
	if tr.traced {
		t0 := time.Now()
		if tracer, err = startTracer(ctx, tr.tools.Pipeloop, p.pids(), &report); err != nil {
			s.Err = err.Error()
			return s
		}
		defer func() {
			tracer.Process.Kill()
			tracer.Wait()
		}()
		s.AttachSeconds = time.Since(t0).Seconds()
	}
	if tr.floor {
		e, err := AttachEmptySwitch()
		if err != nil {
			s.Err = err.Error()
			return s
		}
		defer e.Close()
	}
	// Both cases sleep at the gate for the same settle time before the
	// clock starts: a task just forked and one that slept are placed
	// differently by the scheduler, and without it the untraced transfer,
	// started at once, ran ~40% slower than the traced one beside other
	// load on CPU 0 (25 rounds at load average 17).
	time.Sleep(traceSettle)
	start := time.Now()
	if err := p.open(); err != nil {
		s.Err = err.Error()
		return s
	}
	err = p.wait()
	s.Seconds = time.Since(start).Seconds()
	s.Bytes = p.received()
	s.CPUSeconds = p.cpu()
	switch {
	case ctx.Err() != nil:
		s.Err = fmt.Sprintf("timed out after %v", tr.timeout)
	case err != nil:
		s.Err = err.Error()
	case s.Bytes != tr.bytes:
		s.Err = fmt.Sprintf("consumer got %d bytes, want %d", s.Bytes, tr.bytes)
	}
	if tracer != nil && s.Err == "" {
		// The trace ends by itself once the stages have exited.
		if err := tracer.Wait(); err != nil {
			s.Err = fmt.Sprintf("pipeloop trace: %v: %s", err, lastLines(report.String(), 3))
		} else if !strings.Contains(report.String(), "pipe stalls over") {
			s.Err = "pipeloop trace printed no report: " + lastLines(report.String(), 3)
		}
	}
	return s
}

// startTracer starts `pipeloop trace --pid` on pids and returns once it
// has said it is tracing (its stderr), with stdout and the rest of stderr
// going to out.
func startTracer(ctx context.Context, pipeloop string, pids []int, out *lockedBuffer) (*exec.Cmd, error) {
	list := make([]string, len(pids))
	for i, p := range pids {
		list[i] = strconv.Itoa(p)
	}
	cmd := exec.CommandContext(ctx, pipeloop, "trace", "--pid", strings.Join(list, ","))
	cmd.Stdout = out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pipeloop trace: %w", err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if tracingLine.MatchString(sc.Text()) {
			go io.Copy(out, stderr) // the rest, until it exits
			return cmd, nil
		}
		fmt.Fprintln(out, sc.Text())
	}
	cmd.Wait()
	return nil, fmt.Errorf("pipeloop trace did not start tracing: %s", lastLines(out.String(), 3))
}

// gatedPipeline is dd | cat | dd on CPU 0 whose producer waits at a gate.
type gatedPipeline struct {
	cmds   []*exec.Cmd
	gate   *os.File     // write end of the producer's stdin; a line opens it
	stderr lockedBuffer // of every stage
}

func startGatedPipeline(ctx context.Context, taskset string, bytes int64) (_ *gatedPipeline, err error) {
	p := &gatedPipeline{}
	var closeAfterStart []*os.File
	defer func() {
		for _, f := range closeAfterStart {
			f.Close()
		}
		if err != nil {
			p.kill()
		}
	}()
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	p.gate = gateW
	r1, w1, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	closeAfterStart = append(closeAfterStart, gateR, r1, w1, r2, w2)
	producer := fmt.Sprintf("read _; exec dd if=/dev/zero bs=%d count=%d status=none", traceBlock, bytes/traceBlock)
	stages := []struct {
		argv        []string
		stdin, stdo *os.File
	}{
		{[]string{"sh", "-c", producer}, gateR, w1},
		{[]string{"cat"}, r1, w2},
		{[]string{"dd", "of=/dev/null", fmt.Sprintf("bs=%d", traceBlock)}, r2, nil},
	}
	for _, st := range stages {
		cmd := exec.CommandContext(ctx, taskset, append([]string{"-c", "0"}, st.argv...)...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = st.stdin, st.stdo, &p.stderr
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", st.argv[0], err)
		}
		p.cmds = append(p.cmds, cmd)
	}
	return p, nil
}

// pids returns the stages' pids (taskset execs the stage in place, and
// the producer's sh execs dd).
func (p *gatedPipeline) pids() []int {
	out := make([]int, len(p.cmds))
	for i, c := range p.cmds {
		out[i] = c.Process.Pid
	}
	return out
}

func (p *gatedPipeline) open() error {
	defer p.gate.Close()
	if _, err := p.gate.WriteString("go\n"); err != nil {
		return fmt.Errorf("open the gate: write: %w", err)
	}
	return nil
}

// wait reaps every stage and returns the first failure.
func (p *gatedPipeline) wait() error {
	var first error
	for i, c := range p.cmds {
		if err := c.Wait(); err != nil && first == nil {
			first = fmt.Errorf("stage %d: %w: %s", i+1, err, lastLines(p.stderr.String(), 3))
		}
	}
	return first
}

// cpu returns the user and system time of the reaped stages, in seconds.
func (p *gatedPipeline) cpu() float64 {
	var sec float64
	for _, c := range p.cmds {
		if st := c.ProcessState; st != nil {
			sec += (st.UserTime() + st.SystemTime()).Seconds()
		}
	}
	return sec
}

// received returns what the consumer dd says it wrote.
func (p *gatedPipeline) received() int64 {
	if m := ddBytes.FindAllStringSubmatch(p.stderr.String(), -1); len(m) > 0 {
		n, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
		return n
	}
	return 0
}

// kill ends stages still running (after a failure); reaped stages are left.
func (p *gatedPipeline) kill() {
	p.gate.Close()
	for _, c := range p.cmds {
		if c.ProcessState == nil {
			c.Process.Signal(syscall.SIGKILL)
			c.Wait()
		}
	}
}
