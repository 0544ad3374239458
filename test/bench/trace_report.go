package bench

import (
	"fmt"
	"math"
	"strings"
)

// The tracing-overhead section's summary, target and report
// (traceoverhead.go runs it).

// summariseTrace fills sum's statistics from the samples without errors.
func summariseTrace(sum *TraceSummary, samples []TraceSample) {
	var plain, traced, floor, attach, paired, floorPaired, plainCPU, tracedCPU, floorCPU []float64
	byRound := map[int][3]float64{} // plain, traced, floor seconds
	for _, s := range samples {
		if s.Err != "" {
			continue
		}
		p := byRound[s.Round]
		switch {
		case s.Traced:
			traced, attach = append(traced, s.Seconds), append(attach, s.AttachSeconds)
			tracedCPU = append(tracedCPU, s.CPUSeconds)
			p[1] = s.Seconds
		case s.Floor:
			floor, floorCPU = append(floor, s.Seconds), append(floorCPU, s.CPUSeconds)
			p[2] = s.Seconds
		default:
			plain, plainCPU = append(plain, s.Seconds), append(plainCPU, s.CPUSeconds)
			p[0] = s.Seconds
		}
		byRound[s.Round] = p
	}
	for _, p := range byRound {
		if p[0] > 0 && p[1] > 0 {
			paired = append(paired, p[1]/p[0])
		}
		if p[0] > 0 && p[2] > 0 {
			floorPaired = append(floorPaired, p[2]/p[0])
		}
	}
	sum.Plain, sum.Traced, sum.Attach, sum.Paired = stat(plain), stat(traced), stat(attach), stat(paired)
	sum.PlainCPU, sum.TracedCPU = stat(plainCPU), stat(tracedCPU)
	sum.Floor, sum.FloorCPU, sum.FloorPaired = stat(floor), stat(floorCPU), stat(floorPaired)
	if sum.Plain.Valid() && sum.Traced.Valid() {
		sum.Ratio = sum.Traced.Median / sum.Plain.Median
	}
	if sum.Plain.Valid() && sum.Floor.Valid() {
		sum.FloorRatio = sum.Floor.Median / sum.Plain.Median
	}
}

// traceTarget is issue 13's target: `pipeloop trace --pid` on all three
// stages of dd | cat | dd costs at most 3% wall time, pinned. ok is false
// when the section did not run in this preset.
func traceTarget(res *Results) (t Target, ok bool) {
	s := res.TraceSum
	if s == nil || s.Rounds < 1 {
		return Target{}, false
	}
	ratio := math.NaN()
	if s.Ratio > 0 {
		ratio = s.Ratio
	}
	detail := fmt.Sprintf("traced %s s, untraced %s s (medians, min–max) over %d rounds of %s; paired %s; an empty sched_switch program alone %s; attach %s s, not timed; load %s → %s",
		statStr(s.Traced, "%.3f"), statStr(s.Plain, "%.3f"), s.Rounds, bytesName(s.Bytes), pctStat(s.Paired),
		floorPct(s), statStr(s.Attach, "%.3f"), orDash(loadShort(s.LoadFrom)), orDash(loadShort(s.LoadTo)))
	if s.Note != "" {
		detail = s.Note
	}
	t = target("pinned: `pipeloop trace --pid` on the 3 stages of dd → cat → dd ≤ 1.03× untraced wall (attached before the clock starts)", "<=", 1.03, ratio, detail)
	const judgeTraceBytes = 1 << 30
	if s.Rounds < judgeRounds || s.Bytes < judgeTraceBytes {
		t = unjudged(t, fmt.Sprintf("%d round(s) of %s; a verdict needs ≥ %d rounds of ≥ %s", s.Rounds, bytesName(s.Bytes), judgeRounds, bytesName(judgeTraceBytes)))
	}
	return t, true
}

// floorPct renders the floor's overhead: the ratio of the medians as a
// percentage, or why it was not measured.
func floorPct(s *TraceSummary) string {
	if s.FloorNote != "" {
		return s.FloorNote
	}
	if s.FloorRatio <= 0 {
		return "—"
	}
	return fmt.Sprintf("%+.1f%% (paired %s)", 100*(s.FloorRatio-1), pctStat(s.FloorPaired))
}

// pctStat renders ratios as percentages over 1: "+1.2% (−0.5…+3.0%)".
func pctStat(s Stat) string {
	if !s.Valid() {
		return "—"
	}
	return fmt.Sprintf("%+.1f%% (%+.1f…%+.1f%%)", 100*(s.Median-1), 100*(s.Min-1), 100*(s.Max-1))
}

// loadShort is the three load averages of a /proc/loadavg line.
func loadShort(line string) string {
	f := strings.Fields(line)
	if len(f) < 3 {
		return line
	}
	return strings.Join(f[:3], " ")
}

// writeTrace renders the tracing-overhead section.
func (res *Results) writeTrace(p printf) {
	s := res.TraceSum
	if s == nil || s.Rounds < 1 {
		return
	}
	p("## Tracing overhead (`pipeloop trace --pid`)\n\n")
	if s.Note != "" {
		p("%s.\n\n", s.Note)
		return
	}
	p("dd if=/dev/zero bs=64K | cat | dd of=/dev/null bs=64K, %s per transfer, every stage pinned to CPU 0; each round runs it untraced, with an empty sched_switch program attached (the floor), and traced with `pipeloop trace --pid` on all three stages, in rotating order. ", bytesName(s.Bytes))
	p("The producer waits at a gate until the tracer says it is tracing, so loading and attaching the eBPF programs is not timed (shown apart); the clock runs from opening the gate to the last stage's exit. ")
	p("Load average %s at the start of the section, %s at its end.\n\n", orDash(loadShort(s.LoadFrom)), orDash(loadShort(s.LoadTo)))
	gb := func(st Stat) string {
		if !st.Valid() || st.Median <= 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", float64(s.Bytes)/st.Median/1e9)
	}
	p("| | seconds, median (min–max) | GB/s at the median | CPU seconds of the 3 stages, median (min–max) |\n|---|---|---|---|\n")
	p("| untraced | %s | %s | %s |\n| traced | %s | %s | %s |\n", statStr(s.Plain, "%.3f"), gb(s.Plain), statStr(s.PlainCPU, "%.3f"),
		statStr(s.Traced, "%.3f"), gb(s.Traced), statStr(s.TracedCPU, "%.3f"))
	p("| empty sched_switch program (the floor) | %s | %s | %s |\n", statStr(s.Floor, "%.3f"), gb(s.Floor), statStr(s.FloorCPU, "%.3f"))
	p("| attach (not timed) | %s | | |\n\n", statStr(s.Attach, "%.3f"))
	ratio := "—"
	if s.Ratio > 0 {
		ratio = fmt.Sprintf("%+.1f%%", 100*(s.Ratio-1))
	}
	cpu := "—"
	if s.PlainCPU.Valid() && s.TracedCPU.Valid() && s.PlainCPU.Median > 0 {
		cpu = fmt.Sprintf("%+.1f%%", 100*(s.TracedCPU.Median/s.PlainCPU.Median-1))
	}
	p("Overhead: %s wall (ratio of the medians; per round, traced over untraced: %s, median, min…max of %d rounds); %s CPU of the stages (ratio of the medians).\n\n", ratio, pctStat(s.Paired), s.Paired.N, cpu)
	p("The floor: an empty program on sched_switch, attached by the harness where `pipeloop trace` attaches its own, costs %s wall. It is what any eBPF tracer hooked on every context switch pays on this machine before its program does anything; the traced row's overhead above it is the tracer's own work.\n\n", floorPct(s))
}
