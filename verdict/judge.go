package verdict

import (
	"fmt"
	"strings"
	"time"

	"github.com/pipeloop/pipeloop/internal/label"
)

// wait is what a link spent most of its time doing.
type wait uint8

const (
	unmeasured wait = iota // ran too briefly to say
	mixed                  // neither full nor empty most of the time
	sitsFull               // waiting for its downstream end
	sitsEmpty              // waiting for its upstream end
)

// link is a Link with its shares of wall time worked out.
type link struct {
	n           int // 1-based
	full, empty float64
	state       wait
}

func classify(ls []Link) []link {
	out := make([]link, len(ls))
	for i, l := range ls {
		k := link{n: i + 1, full: fraction(l.Full, l.Wall), empty: fraction(l.Empty, l.Wall)}
		switch {
		case l.Wall < MinWall:
			k.state = unmeasured
		case k.full >= Sits:
			k.state = sitsFull
		case k.empty >= Sits:
			k.state = sitsEmpty
		default:
			k.state = mixed
		}
		out[i] = k
	}
	return out
}

// Judge names the bottleneck of the run described by in.
func Judge(in Input) Verdict {
	if in.Wall < MinWall {
		return Verdict{Kind: KindUnknown, Evidence: []string{},
			Summary: fmt.Sprintf("not enough evidence: the run was too short to judge (%s)", short(in.Wall))}
	}
	links := classify(in.Links)
	if len(in.Stages) == 0 {
		return judgeStdin(in, links)
	}
	return judgePipeline(in, links)
}

// judgeStdin judges `A | pipeloop | B`: one link, no stages.
func judgeStdin(in Input, links []link) Verdict {
	if len(links) == 0 || links[0].state == unmeasured {
		return Verdict{Kind: KindUnknown, Evidence: []string{},
			Summary: "not enough evidence: nothing was relayed for long enough to judge"}
	}
	l := links[0]
	relayCPU := fraction(in.Relay.CPU, in.Relay.Wall)
	ev := []string{
		fmt.Sprintf("link stdin → stdout: full %s, empty %s of the time", pct(l.full), pct(l.empty)),
		relayEvidence(in.Relay),
	}
	if in.MachineBusy > 0 {
		ev = append(ev, fmt.Sprintf("the machine's CPUs were %s busy", pct(in.MachineBusy)))
	}
	switch {
	case l.state == sitsEmpty:
		return Verdict{Kind: KindUpstream, Name: "stdin", Evidence: ev,
			Summary: fmt.Sprintf("upstream (stdin): what writes into pipeloop is slow; the link sat empty %s of the time", pct(l.empty))}
	case l.state == sitsFull:
		return Verdict{Kind: KindDownstream, Name: "stdout", Evidence: ev,
			Summary: fmt.Sprintf("downstream (stdout): what reads pipeloop's output is slow; the link sat full %s of the time", pct(l.full))}
	case relayCPU >= RelayBusy:
		return relayVerdict(relayCPU, links, ev)
	}
	return Verdict{Kind: KindNone, Evidence: ev,
		Summary: fmt.Sprintf("no clear bottleneck: the link sat full %s and empty %s of the time, and pipeloop used %s of one core%s",
			pct(l.full), pct(l.empty), pct(relayCPU), busyNote(in.MachineBusy))}
}

// busyNote warns, after a verdict that names nothing, that every process
// may have been waiting for a CPU.
func busyNote(machine float64) string {
	if machine < BusyMachine {
		return ""
	}
	return fmt.Sprintf("; the machine's CPUs were %s busy, so everything here may have been waiting for a CPU", pct(machine))
}

// candidate is a place the evidence points at.
type candidate struct {
	kind  Kind
	stage int // 0-based index into Input.Stages, for KindStage
	why   []string
}

// judgePipeline judges spawned stages joined by relayed links.
func judgePipeline(in Input, links []link) Verdict {
	n := len(in.Stages)
	var ev []string
	for _, l := range links {
		if l.state != unmeasured {
			ev = append(ev, fmt.Sprintf("link %d (stage %d → stage %d): full %s, empty %s of the time",
				l.n, l.n, l.n+1, pct(l.full), pct(l.empty)))
		}
	}
	for _, st := range in.Stages {
		ev = append(ev, stageEvidence(st)...)
	}
	ev = append(ev, relayEvidence(in.Relay))
	if in.MachineBusy > 0 {
		ev = append(ev, fmt.Sprintf("the machine's CPUs were %s busy", pct(in.MachineBusy)))
	}

	var cands []candidate
	dominant := false // some link sits full or empty
	for _, l := range links {
		dominant = dominant || l.state == sitsFull || l.state == sitsEmpty
	}
	for k, st := range in.Stages {
		var inL, outL *link
		if k > 0 && k-1 < len(links) {
			inL = &links[k-1]
		}
		if k < n-1 && k < len(links) {
			outL = &links[k]
		}
		read, write := stallShares(st)
		starved := inL != nil && inL.state == sitsEmpty || read >= Sits
		held := outL != nil && outL.state == sitsFull || write >= Sits
		switch {
		case k == 0 && read >= Sits && !held:
			// Stage 1 reads pipeloop's stdin directly: blocked reading it,
			// the limit is upstream of pipeloop.
			cands = append(cands, candidate{kind: KindUpstream, stage: k,
				why: []string{fmt.Sprintf("stage 1 was blocked reading its input %s of the time", pct(read))}})
			continue
		case k == n-1 && write >= Sits && !starved:
			cands = append(cands, candidate{kind: KindDownstream, stage: k,
				why: []string{fmt.Sprintf("stage %d was blocked writing its output %s of the time", k+1, pct(write))}})
			continue
		case starved || held:
			continue
		}
		var pipes []string
		if inL != nil && inL.state == sitsFull {
			pipes = append(pipes, "its input pipe sat full "+pct(inL.full))
		}
		if outL != nil && outL.state == sitsEmpty {
			p := "its output pipe sat empty "
			if len(pipes) > 0 {
				p = "its output pipe empty "
			}
			pipes = append(pipes, p+pct(outL.empty))
		}
		var why []string
		if len(pipes) > 0 {
			why = append(why, strings.Join(pipes, " and ")+" of the time")
		}
		if len(why) > 0 || fraction(st.CPU, st.Wall) >= CPUBound && st.Wall >= MinWall {
			cands = append(cands, candidate{kind: KindStage, stage: k, why: why})
		}
	}
	relayCPU := fraction(in.Relay.CPU, in.Relay.Wall)
	if !dominant && len(links) > 0 && relayCPU >= RelayBusy {
		cands = append(cands, candidate{kind: KindRelay})
	}

	switch len(cands) {
	case 0:
		return noneVerdict(in, links, ev)
	case 1:
	default:
		var names []string
		for _, c := range cands {
			names = append(names, c.name(in))
		}
		return Verdict{Kind: KindNone, Evidence: ev,
			Summary: "no single bottleneck: the evidence points at " + joinAnd(names)}
	}
	c := cands[0]
	switch c.kind {
	case KindRelay:
		return relayVerdict(relayCPU, links, ev)
	case KindUpstream:
		return Verdict{Kind: KindUpstream, Name: "stdin", Evidence: ev,
			Summary: "upstream (stdin): what writes into pipeloop is slow; " + strings.Join(c.why, ", ")}
	case KindDownstream:
		return Verdict{Kind: KindDownstream, Name: "stdout", Evidence: ev,
			Summary: "downstream (stdout): what reads pipeloop's output is slow; " + strings.Join(c.why, ", ")}
	}
	st := in.Stages[c.stage]
	cpu := fraction(st.CPU, st.Wall)
	cause, why := stageCause(st, c.stage, n, cpu, in.MachineBusy)
	parts := append([]string{why}, c.why...)
	return Verdict{Kind: KindStage, Stage: st.Index, Name: st.Name, Cause: cause, CPU: round2(cpu), Evidence: ev,
		Summary: label.Stage(st.Index, trim(st.Name)) + ": " + strings.Join(parts, "; ")}
}

func (c candidate) name(in Input) string {
	switch c.kind {
	case KindStage:
		st := in.Stages[c.stage]
		return label.Stage(st.Index, trim(st.Name))
	case KindRelay:
		return "pipeloop itself"
	case KindUpstream:
		return "upstream (stdin)"
	case KindDownstream:
		return "downstream (stdout)"
	}
	return string(c.kind)
}

// stageCause says why a stage the links point at is slow.
func stageCause(st Stage, k, n int, cpu, machine float64) (Cause, string) {
	switch {
	case cpu >= CPUBound:
		return CauseCPU, fmt.Sprintf("CPU-bound, %s of one core", pct(cpu))
	case machine >= BusyMachine:
		return CauseContended, fmt.Sprintf("%s of one core, but the machine's CPUs were %s busy, so it may have been waiting for a CPU",
			pct(cpu), pct(machine))
	case cpu >= OffCPU:
		return CauseMixed, fmt.Sprintf("%s of one core: partly computing, partly waiting on something else or for a CPU", pct(cpu))
	}
	elsewhere := "sleep, disk, network or a lock"
	switch {
	case n == 1:
		elsewhere = "its input or output, sleep, disk or network"
	case k == 0:
		elsewhere = "its input, sleep, disk or network"
	case k == n-1:
		elsewhere = "its output, sleep, disk or network"
	}
	why := fmt.Sprintf("not CPU-bound (%s of one core): it waits on something pipeloop does not relay (%s)", pct(cpu), elsewhere)
	if st.Stalls != nil {
		r, w := stallShares(st)
		why += fmt.Sprintf("; the kernel saw it blocked on pipes %s of the time", pct(r+w))
	}
	return CauseOther, why
}

// noneVerdict explains why no place was named.
func noneVerdict(in Input, links []link, ev []string) Verdict {
	measured := false
	for _, l := range links {
		measured = measured || l.state != unmeasured
	}
	for _, st := range in.Stages {
		measured = measured || st.Stalls != nil
	}
	busy := 0.0
	for _, st := range in.Stages {
		busy = max(busy, fraction(st.CPU, st.Wall))
	}
	cpuNote := fmt.Sprintf("no stage used more than %s of one core", pct(busy))
	switch {
	case !measured && len(in.Stages) == 1:
		return Verdict{Kind: KindUnknown, Evidence: ev,
			Summary: fmt.Sprintf("not enough evidence: no relayed pipe to watch, and stage 1 (%s) used %s of one core",
				trim(in.Stages[0].Name), pct(busy))}
	case !measured:
		return Verdict{Kind: KindUnknown, Evidence: ev,
			Summary: "not enough evidence: no link ran long enough to judge, and " + cpuNote}
	}
	var ls []string
	for _, l := range links {
		if l.state != unmeasured {
			ls = append(ls, fmt.Sprintf("link %d sat full %s and empty %s of the time", l.n, pct(l.full), pct(l.empty)))
		}
	}
	ls = append(ls, cpuNote)
	return Verdict{Kind: KindNone, Evidence: ev, Summary: "no clear bottleneck: " + strings.Join(ls, "; ") + busyNote(in.MachineBusy)}
}

func relayVerdict(cpu float64, links []link, ev []string) Verdict {
	var full, empty float64
	for _, l := range links {
		full, empty = max(full, l.full), max(empty, l.empty)
	}
	return Verdict{Kind: KindRelay, Name: "pipeloop", Cause: CauseCPU, CPU: round2(cpu), Evidence: ev,
		Summary: fmt.Sprintf("pipeloop itself: its loop thread used %s of one core while no link sat full or empty (at most %s full, %s empty)",
			pct(cpu), pct(full), pct(empty))}
}

// stallShares are the shares of st's wall time it was blocked reading and
// writing pipes (0, 0 when not traced).
func stallShares(st Stage) (read, write float64) {
	if st.Stalls == nil {
		return 0, 0
	}
	return fraction(st.Stalls.Read, st.Wall), fraction(st.Stalls.Write, st.Wall)
}

func stageEvidence(st Stage) []string {
	ev := []string{fmt.Sprintf("%s: %s of one core (%s CPU in %s)",
		label.Stage(st.Index, trim(st.Name)), pct(fraction(st.CPU, st.Wall)), short(st.CPU), short(st.Wall))}
	if st.Stalls != nil {
		r, w := stallShares(st)
		ev = append(ev, fmt.Sprintf("stage %d blocked reading a pipe %s and writing one %s of the time (traced)",
			st.Index, pct(r), pct(w)))
		if st.Stalls.Runnable > 0 {
			ev = append(ev, fmt.Sprintf("stage %d was runnable but waiting for a CPU %s of the time, within those waits (traced)",
				st.Index, pct(fraction(st.Stalls.Runnable, st.Wall))))
		}
	}
	return ev
}

func relayEvidence(r Relay) string {
	return fmt.Sprintf("pipeloop's loop thread: %s of one core (%s CPU in %s)",
		pct(fraction(r.CPU, r.Wall)), short(r.CPU), short(r.Wall))
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// short rounds d for reading: 12ms, 1.52s.
func short(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// trim shortens a command line for a one-line summary.
func trim(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 40 {
		return string(r[:39]) + "…"
	}
	return s
}

func joinAnd(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
