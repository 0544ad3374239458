//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/report"
	"github.com/pipeloop/pipeloop/verdict"
	"golang.org/x/sys/unix"
)

// reporter writes what --stats, --stats-json and --progress ask for.
type reporter struct {
	o        *options
	errw     io.Writer
	json     io.Writer // --stats-json destination; nil without the flag
	jsonFile *os.File  // to close, when json is a file
	start    time.Time
	end      time.Time       // when the loop stopped
	loopRU   unix.Rusage     // the loop thread's, taken on it as it stopped
	prog     *progress       // nil without --progress
	progJSON *progress       // nil without --progress-json
	usr1     chan os.Signal  // SIGUSR1, caught from the start (statssignal.go); nil if ignored
	progFile *os.File        // --progress-json's file, to close; nil for stderr
	input    *inputTotal     // the input's total for both; nil if unknown
	cpu0     report.CPUTimes // the machine's CPU times at start and as the loop stopped
	cpu1     report.CPUTimes

	// Set by --trace: stage stalls by pid and the trace tables as JSON.
	stalls     map[int]verdict.Stalls
	stallsJSON json.RawMessage
}

// newReporter opens --stats-json's file now, so a bad path is a usage
// error before anything runs. The file is close-on-exec: stages never
// inherit it.
func newReporter(o *options, std stdio) (*reporter, error) {
	rp := &reporter{o: o, errw: std.err, start: time.Now(), usr1: notifyStats()}
	rp.cpu0, _ = report.ReadCPUTimes() // zero if unknown: then so is the machine's busy share
	switch o.statsJSON {
	case "":
	case "-":
		rp.json = std.err
	default:
		f, err := os.Create(o.statsJSON)
		if err != nil {
			return nil, fmt.Errorf("--stats-json: %w", err)
		}
		rp.json, rp.jsonFile = f, f
	}
	if err := rp.openProgress(o, std); err != nil {
		return nil, err
	}
	return rp, nil
}

// watch starts --progress, reading the links through sample on the loop
// goroutine. Loop goroutine only, or before Run.
func (rp *reporter) watch(l *loop.Loop, sample func() []relay.LinkStats) {
	for _, p := range []*progress{rp.prog, rp.progJSON} {
		if p != nil {
			p.start(l, sample)
		}
	}
}

// stopping runs on the loop goroutine as the loop stops, with the links'
// final counters: it ends --progress (its last line is out when stopping
// returns) and takes the loop thread's CPU time.
func (rp *reporter) stopping(final []relay.LinkStats) {
	rp.end = time.Now()
	rp.cpu1, _ = report.ReadCPUTimes()
	unix.Getrusage(unix.RUSAGE_THREAD, &rp.loopRU)
	rp.stopProgress(final)
}

// finish writes the --stats and --stats-json reports and returns the exit
// status: code, or 1 when the JSON report could not be written.
func (rp *reporter) finish(code int, links []relay.LinkStats, stages []*relay.StageResult, ls loop.Stats) int {
	if !rp.o.stats && rp.json == nil {
		return code
	}
	run := report.Run{
		Pipeloop: version, Start: rp.start, End: rp.end, Links: links, Stages: stages, Loop: ls,
		LoopUsage: rp.loopRU, ExitStatus: code, CPUStart: rp.cpu0, CPUEnd: rp.cpu1, Stalls: rp.stalls, StallsJSON: rp.stallsJSON,
	}
	if run.End.IsZero() {
		run.End = time.Now()
	}
	unix.Getrusage(unix.RUSAGE_SELF, &run.SelfUsage)
	rep := report.New(run)
	if rp.o.stats {
		writeStats(rp.errw, links, stages, ls)
		fmt.Fprintf(rp.errw, "pipeloop: %v\n", rep.Verdict)
	}
	if rp.json != nil {
		err := rep.WriteJSON(rp.json)
		if rp.jsonFile != nil {
			if cerr := rp.jsonFile.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(rp.errw, "pipeloop: --stats-json: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// traced takes --trace's final snapshot into the reports: each stage's
// pipe stalls for the verdict (with its descendants' on its pipes), and the stall tables for --stats-json.
func (rp *reporter) traced(tr *tracing, names map[int]string) {
	if tr == nil || tr.last == nil {
		return
	}
	rp.stalls = tr.stageStalls(names)
	if b, err := json.Marshal(tr.last.JSON(names)); err == nil {
		rp.stallsJSON = b
	}
}
