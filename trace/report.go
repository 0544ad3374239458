//go:build linux

package trace

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the report for people: one row per process and
// direction (the traced part of its life as offsets from the start,
// time blocked, % of that life, the part of that time it was runnable
// but waiting for a CPU, waits, longest wait), then one
// row per pipe with a log2 histogram of wait times. names maps a tgid to a
// label such as "stage 1 (dd)"; it may be nil. A process named in names
// that never waited, or given to Watch and never waited, gets a row
// saying so. A process forked by a labelled
// one (or by its descendants) is labelled "stage 1 (sh) › cat" and listed
// under it. A wait count marked "*"
// includes waits already in progress when the process was watched,
// counted from then; a note under the table says how many.
func (r Report) WriteTable(w io.Writer, names map[int]string) error {
	procs := r.withNamed(names)
	var atAttach uint64
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "pipe stalls over %s of wall time; %s\n", fmtDur(r.Wall), r.droppedText())
	fmt.Fprintln(tw, "PID\tPROCESS\tTRACED LIFE\tBLOCKED\tTIME\t%LIFE\tRUNNABLE\tWAITS\tMAX")
	for _, p := range procs {
		name := r.labelOf(p.Tgid, p.Comm, names, safeLabel)
		life, lived := r.lifeText(p.Tgid), r.Life(p.Tgid)
		rows := 0
		for _, d := range []Direction{DirWrite, DirRead, DirPoll} {
			s := p.Of(d)
			if s.Count == 0 {
				continue
			}
			atAttach += s.AtAttach
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				p.Tgid, name, life, blockedWord(d), fmtDur(s.Total), pct(s.Total, lived), fmtDur(s.Runnable), waits(s.Count, s.AtAttach), fmtDur(s.Max))
			name, life = "", ""
			rows++
		}
		if rows == 0 {
			fmt.Fprintf(tw, "%d\t%s\t%s\tnever\t0s\t0.0%%\t0s\t0\t-\n", p.Tgid, name, life)
		}
	}
	if len(r.Records) > 0 {
		fmt.Fprintln(tw, "\nPID\tPROCESS\tPIPE\tBLOCKED\tWAITS\tWAIT TIME HISTOGRAM (log2 buckets)")
		for _, p := range procs {
			name := r.labelOf(p.Tgid, p.Comm, names, safeLabel)
			for _, rec := range p.Pipes {
				pipe := fmt.Sprintf("pipe:[%d]", rec.Inode)
				if rec.Dir == DirPoll {
					pipe = "-"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", p.Tgid, name, pipe, blockedWord(rec.Dir), waits(rec.Count, rec.AtAttach), sparkline(rec.Hist))
				name = ""
			}
		}
	}
	if atAttach > 0 {
		fmt.Fprintf(tw, "\n* includes %d wait(s) already in progress when tracing attached, counted from then\n", atAttach)
	}
	return tw.Flush()
}

// waits prints a wait count, marked "*" if some were in progress at attach.
func waits(n, atAttach uint64) string {
	if atAttach > 0 {
		return fmt.Sprintf("%d*", n)
	}
	return fmt.Sprint(n)
}

// lifeText prints the traced part of a process's life as offsets from
// the start of the trace: "120ms–1.90s", "0s–" while it runs, "-" if
// unknown.
func (r Report) lifeText(tgid int) string {
	pi, ok := r.Procs[tgid]
	if !ok {
		return "-"
	}
	if !pi.Exited {
		return fmtDur(pi.Start) + "–"
	}
	return fmtDur(pi.Start) + "–" + fmtDur(pi.Exit)
}

// droppedText says what the tracer could not record, for the table.
func (r Report) droppedText() string {
	d := r.Dropped
	if !d.Any() {
		return "nothing dropped"
	}
	var parts []string
	if d.Waits > 0 {
		parts = append(parts, fmt.Sprintf("%d waits (record limit %d reached)", d.Waits, r.MaxRecords))
	}
	if d.Children > 0 {
		parts = append(parts, fmt.Sprintf("%d child processes not watched (process limit %d reached)", d.Children, r.MaxProcesses))
	}
	if d.Storage > 0 {
		parts = append(parts, fmt.Sprintf("%d threads not watched (no task storage)", d.Storage))
	}
	if d.Procs > 0 {
		parts = append(parts, fmt.Sprintf("%d children's parent and name (process table full)", d.Procs))
	}
	if d.Attach > 0 {
		parts = append(parts, fmt.Sprintf("%d threads asleep at attach not classified (their syscall unreadable in /proc: needs ptrace access)", d.Attach))
	}
	return "DROPPED " + strings.Join(parts, ", ")
}

func blockedWord(d Direction) string {
	switch d {
	case DirRead:
		return "reading"
	case DirWrite:
		return "writing"
	case DirPoll:
		return "in poll"
	}
	return d.String()
}

// withNamed returns the processes that waited, and those in names or
// given to Watch that did not, each stage followed by its descendants.
func (r Report) withNamed(names map[int]string) []Process {
	procs := r.ByProcess()
	seen := make(map[int]bool, len(procs))
	for _, p := range procs {
		seen[p.Tgid] = true
	}
	add := func(tgid int) {
		if !seen[tgid] {
			seen[tgid] = true
			procs = append(procs, Process{Tgid: tgid})
		}
	}
	for _, tgid := range sortedKeys(names) {
		add(tgid)
	}
	for tgid, pi := range r.Procs {
		if pi.Parent == 0 {
			add(tgid)
		}
	}
	return r.grouped(procs, names)
}

func pct(d, wall time.Duration) string {
	if wall <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(d)/float64(wall))
}

// fmtDur prints d with 3 significant digits: 812ns, 12.3µs, 4.56ms, 2.10s.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return trim3(float64(d)/1e3) + "µs"
	case d < time.Second:
		return trim3(float64(d)/1e6) + "ms"
	}
	return trim3(float64(d)/1e9) + "s"
}

func trim3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// sparkline draws the non-empty range of a log2 histogram, one character
// per power of two scaled to the fullest bucket, between the lower bound
// of its first bucket and the upper bound of its last:
// "16µs ▁█▂ 131µs".
func sparkline(hist []uint64) string {
	lo, hi := -1, -1
	var peak uint64
	for i, c := range hist {
		if c == 0 {
			continue
		}
		if lo < 0 {
			lo = i
		}
		hi = i
		peak = max(peak, c)
	}
	if lo < 0 {
		return "-"
	}
	const levels = "▁▂▃▄▅▆▇█"
	bars := []rune(levels)
	var b strings.Builder
	b.WriteString(fmtDur(time.Duration(1) << lo))
	b.WriteByte(' ')
	for _, c := range hist[lo : hi+1] {
		switch {
		case c == 0:
			b.WriteByte(' ')
		default:
			i := int((c*uint64(len(bars)) - 1) / peak) // 1..peak -> 0..7
			b.WriteRune(bars[min(i, len(bars)-1)])
		}
	}
	b.WriteByte(' ')
	if hi == len(hist)-1 {
		b.WriteString("+")
	} else {
		b.WriteString(fmtDur(time.Duration(1) << (hi + 1)))
	}
	return b.String()
}
