//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// How often --progress draws: a few times a second on a terminal, where the
// line is redrawn in place; once a second otherwise, one line each time.
const (
	progressTTY   = 250 * time.Millisecond
	progressPlain = time.Second
)

// progress draws --progress on stderr, never on stdout.
//
// The loop takes a sample of the links' counters on a timer: a copy of a
// few numbers per link, no system call, no allocation beyond the sample.
// A goroutine formats and writes it, so a slow or stuck stderr never
// stalls the relay; a sample that finds the writer busy is dropped.
type progress struct {
	w       io.Writer
	tty     bool // redraw in place
	fd      int  // stderr's fd, for the terminal width; -1 if unknown
	every   time.Duration
	begin   time.Time
	timer   *loop.Timer
	sample  func() []relay.LinkStats
	ticks   int           // samples taken; loop goroutine only
	samples chan snapshot // loop → writer
	input   *inputTotal   // the input's total, for the share and ETA; nil if unknown
	json    bool          // --progress-json: report.Progress lines (progressjson.go)
	done    chan struct{} // closed when the writer has returned
}

// snapshot is what one sample saw.
type snapshot struct {
	at    time.Time
	links []linkCounters
	pipe  bool // links join stages (labels "1→2"), not stdin to stdout
	final bool
	// done of total input bytes (inputTotal); total 0 when unknown
	done, total int64
}

type linkCounters struct {
	src, dst    string
	bytes       uint64
	full, empty time.Duration
	lines       uint64
	countsLines bool
	limited     time.Duration
}

func newProgress(w io.Writer, begin time.Time) *progress {
	p := &progress{w: w, fd: -1, every: progressPlain, begin: begin}
	if sc, ok := w.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { p.fd = int(fd) })
		}
	}
	if p.fd >= 0 {
		if _, err := unix.IoctlGetTermios(p.fd, unix.TCGETS); err == nil {
			p.tty, p.every = true, progressTTY
		}
	}
	return p
}

// start arms the timer and the writer. Loop goroutine only, or before Run.
func (p *progress) start(l *loop.Loop, sample func() []relay.LinkStats) {
	p.sample = sample
	p.samples = make(chan snapshot, 1)
	p.done = make(chan struct{})
	go p.write()
	p.timer = l.AfterFunc(p.every, p.tick)
}

// tick runs on the loop goroutine.
func (p *progress) tick() {
	p.ticks++
	select {
	case p.samples <- p.snap(p.sample(), false):
	default: // the writer is behind: skip this one
	}
	p.timer.Reset(p.every)
}

// stop draws the final line from the links' final counters and waits for
// it to be written. Loop goroutine only.
func (p *progress) stop(final []relay.LinkStats) {
	if p.timer == nil {
		return
	}
	p.timer.Stop()
	if len(final) > 0 || p.ticks > 0 {
		// (A pipeline that never started, or one stage that was over
		// before the first tick, has nothing to show.)
		p.samples <- p.snap(final, true)
	}
	close(p.samples)
	<-p.done
	p.timer = nil
}

func (p *progress) snap(links []relay.LinkStats, final bool) snapshot {
	s := snapshot{at: time.Now(), final: final, links: make([]linkCounters, len(links))}
	for i, k := range links {
		s.links[i] = linkCounters{src: k.Src, dst: k.Dst, bytes: k.Bytes, full: k.TimeFull, empty: k.TimeEmpty, lines: k.Lines, countsLines: k.CountsLines, limited: k.TimeLimited}
		s.pipe = s.pipe || k.Src != "stdin"
	}
	if p.input != nil {
		s.done, s.total = p.input.done(links), p.input.total
	}
	return s
}

// write formats and writes snapshots until the channel closes.
func (p *progress) write() {
	defer close(p.done)
	prev := snapshot{at: p.begin}
	for s := range p.samples {
		if p.json {
			p.progressJSON(prev, s).WriteLine(p.w) // best effort, as the text
			prev = s
			continue
		}
		line := p.format(prev, s)
		if p.tty {
			if ws, err := unix.IoctlGetWinsize(p.fd, unix.TIOCGWINSZ); err == nil && ws.Col > 1 {
				line = cut(line, int(ws.Col)-1) // a wrapped line cannot be redrawn in place
			}
			line = "\r" + line + "\x1b[K"
		}
		if !p.tty || s.final {
			line += "\n"
		}
		io.WriteString(p.w, line) // best effort: a failed write only loses a line
		prev = s
	}
}

// format is one status line: elapsed time, then per link the bytes moved,
// the rate since the previous sample (the average on the final line) and,
// when the link spent most of that interval full or empty, which.
func (p *progress) format(prev, s snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pipeloop %s", clock(s.at.Sub(p.begin)))
	if s.final {
		b.WriteString(" done")
		prev = snapshot{at: p.begin}
	}
	if s.total > 0 {
		b.WriteString(" " + etaText(s.done, s.total, s.at.Sub(p.begin), s.final))
	}
	if len(s.links) == 0 {
		return b.String()
	}
	dt := s.at.Sub(prev.at)
	for i, k := range s.links {
		var was linkCounters
		if i < len(prev.links) {
			was = prev.links[i]
		}
		sep := "  "
		if i > 0 {
			sep = " | "
		}
		b.WriteString(sep)
		if s.pipe {
			fmt.Fprintf(&b, "%d→%d ", i+1, i+2)
		}
		fmt.Fprintf(&b, "%s %s/s", compact(float64(k.bytes)), compact(rate(k.bytes-was.bytes, dt)))
		if k.countsLines {
			b.WriteString(" " + linesText(k.lines, was.lines, dt))
		}
		if s.final {
			b.WriteString(" avg")
		}
		if dt > 0 {
			if f := float64(k.full-was.full) / float64(dt); f >= 0.5 {
				fmt.Fprintf(&b, " full %.0f%%", 100*min(f, 1))
			} else if e := float64(k.empty-was.empty) / float64(dt); e >= 0.5 {
				fmt.Fprintf(&b, " empty %.0f%%", 100*min(e, 1))
			}
		}
	}
	return b.String()
}

// compact formats a byte count in decimal units to three significant
// digits: 0B, 786kB, 1.61MB, 12.3GB.
func compact(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for b >= 999.5 && i < len(units)-1 {
		b /= 1000
		i++
	}
	switch {
	case i == 0 || b >= 99.95:
		return fmt.Sprintf("%.0f%s", b, units[i])
	case b >= 9.995:
		return fmt.Sprintf("%.1f%s", b, units[i])
	}
	return fmt.Sprintf("%.2f%s", b, units[i])
}

// clock formats d as m:ss, or h:mm:ss past an hour.
func clock(d time.Duration) string {
	s := int64(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// cut shortens s to at most n runes.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
