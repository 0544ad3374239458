package report_test

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/report"
	"github.com/pipeloop/pipeloop/verdict"
	"golang.org/x/sys/unix"
)

func TestNew(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	tv := func(d time.Duration) unix.Timeval { return unix.NsecToTimeval(int64(d)) }
	var killed unix.WaitStatus = unix.WaitStatus(syscall.SIGPIPE) // signaled, no core
	run := report.Run{
		Pipeloop: "test", Start: t0, End: t0.Add(2 * time.Second),
		Links: []relay.LinkStats{{
			Src: "stage 1 (yes)", Dst: "stage 2 (gzip)", Mode: relay.ModeSplice, Bytes: 1000, SpliceBytes: 1000,
			TimeFull: sec(1.5), TimeEmpty: sec(0.1), Start: t0, End: t0.Add(2 * time.Second), SinkClosed: true,
		}},
		Stages: []*relay.StageResult{
			{Index: 1, Name: "yes", Args: []string{"yes"}, Pid: 10, Start: t0, End: t0.Add(2 * time.Second),
				State: &loop.ProcessState{Pid: 10, Status: killed}},
			{Index: 2, Name: "gzip", Args: []string{"gzip"}, Pid: 11, Start: t0, End: t0.Add(2 * time.Second),
				State: &loop.ProcessState{Pid: 11, Rusage: unix.Rusage{Utime: tv(sec(1.8)), Stime: tv(sec(0.1)), Maxrss: 2048}}},
		},
		LoopUsage: unix.Rusage{Stime: tv(sec(0.2))},
		CPUStart:  report.CPUTimes{Total: 1000, Idle: 800}, CPUEnd: report.CPUTimes{Total: 1400, Idle: 1000},
		Stalls:     map[int]verdict.Stalls{11: {Read: sec(0.05)}},
		StallsJSON: json.RawMessage(`{"processes":[]}`),
	}
	rep := report.New(run)
	l, st1, st2 := rep.Links[0], rep.Stages[0], rep.Stages[1]
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"mode", rep.Mode, "pipeline"},
		{"wall", rep.WallNS, int64(2 * time.Second)},
		{"link full fraction", l.FullFraction, 0.75},
		{"link end", l.End, "reader_left"},
		{"link rate", l.RateBPS, 500.0},
		{"stage 1 signal", st1.Signal, "SIGPIPE"},
		{"stage 1 status", st1.ExitStatus, 141},
		{"stage 2 CPU", st2.CPUFraction, 0.95},
		{"stage 2 RSS", st2.MaxRSSBytes, int64(2 << 20)},
		{"stage 2 stalls", *st2.Stalls, report.Stalls{ReadNS: int64(sec(0.05))}},
		{"stage 1 stalls", st1.Stalls == nil, true},
		{"loop CPU", rep.Relay.LoopCPUFraction, 0.1},
		{"machine busy", rep.Machine.BusyFraction, 0.5},
		{"stalls", string(rep.Stalls), `{"processes":[]}`},
		{"verdict", rep.Verdict.Kind, verdict.KindStage},
		{"verdict stage", rep.Verdict.Stage, 2},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}
