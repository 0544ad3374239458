//go:build linux

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/report"
)

// progressJSON is --progress-json's line for snapshot s after prev, in
// the report.Progress schema. It runs on progress's writer goroutine.
func (p *progress) progressJSON(prev, s snapshot) *report.Progress {
	out := &report.Progress{
		Schema: report.ProgressSchema, SchemaVersion: report.ProgressSchemaVersion,
		Time: s.at, ElapsedNS: int64(s.at.Sub(p.begin)), Final: s.final,
		Links: make([]report.ProgressLink, len(s.links)),
	}
	if s.final {
		prev = snapshot{at: p.begin}
	}
	if s.total > 0 {
		done, total := s.done, s.total
		f := min(float64(done)/float64(total), 1)
		out.DoneBytes, out.TotalBytes, out.Fraction = &done, &total, &f
		if elapsed := s.at.Sub(p.begin); !s.final && done > 0 && elapsed > 0 {
			eta := int64(max(float64(elapsed)*float64(total-done)/float64(done), 0))
			out.ETANS = &eta
		}
	}
	dt := s.at.Sub(prev.at)
	for i, k := range s.links {
		var was linkCounters
		if i < len(prev.links) {
			was = prev.links[i]
		}
		l := report.ProgressLink{Index: i + 1, From: k.src, To: k.dst, Bytes: k.bytes, RateBPS: rate(k.bytes-was.bytes, dt)}
		if dt > 0 {
			l.FullFraction = min(float64(k.full-was.full)/float64(dt), 1)
			l.EmptyFraction = min(float64(k.empty-was.empty)/float64(dt), 1)
			l.LimitedFraction = min(float64(k.limited-was.limited)/float64(dt), 1)
		}
		if k.countsLines {
			lines, lps := k.lines, rate(k.lines-was.lines, dt)
			l.Lines, l.LinesPerSecond = &lines, &lps
		}
		out.Links[i] = l
	}
	return out
}

// newProgressJSON is --progress-json's writer: plain lines, once a second.
func newProgressJSON(w interface{ Write([]byte) (int, error) }, begin time.Time) *progress {
	return &progress{w: w, fd: -1, every: progressPlain, begin: begin, json: true}
}

// openProgress sets up --progress and --progress-json: the file opened
// now (close-on-exec, so no stage inherits it; a bad path is a usage
// error before anything runs) and the input's total both show.
func (rp *reporter) openProgress(o *options, std stdio) error {
	if !o.progress && o.progressJSON == "" {
		return nil
	}
	in, err := newInputTotal(std.in, o.size)
	if err != nil {
		return err
	}
	rp.input = in
	if o.progress {
		rp.prog = newProgress(std.err, rp.start)
		rp.prog.input = in
	}
	switch o.progressJSON {
	case "":
	case "-":
		rp.progJSON = newProgressJSON(std.err, rp.start)
	default:
		f, err := os.Create(o.progressJSON)
		if err != nil {
			in.close()
			return fmt.Errorf("--progress-json: %w", err)
		}
		rp.progFile = f
		rp.progJSON = newProgressJSON(f, rp.start)
	}
	if rp.progJSON != nil {
		rp.progJSON.input = in
	}
	return nil
}

// stopProgress writes both final lines and closes what openProgress
// opened. Loop goroutine.
func (rp *reporter) stopProgress(final []relay.LinkStats) {
	for _, p := range []*progress{rp.prog, rp.progJSON} {
		if p != nil {
			p.stop(final)
		}
	}
	rp.input.close()
	if rp.progFile != nil {
		rp.progFile.Close()
	}
}
