package report

import (
	"encoding/json"
	"io"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/verdict"
	"golang.org/x/sys/unix"
)

// Run is what one run of pipeloop leaves behind, as the relay and the loop
// counted it.
type Run struct {
	Pipeloop   string                 // version
	Start, End time.Time              // pipeloop's start and the loop's stop
	Links      []relay.LinkStats      // in order
	Stages     []*relay.StageResult   // nil in stdin mode
	Loop       loop.Stats             // the loop's counters
	LoopUsage  unix.Rusage            // RUSAGE_THREAD of the loop thread, taken on it as it stopped
	SelfUsage  unix.Rusage            // RUSAGE_SELF at the end
	ExitStatus int                    // pipeloop's exit status
	CPUStart   CPUTimes               // the machine's CPU times at Start (ReadCPUTimes)
	CPUEnd     CPUTimes               // and at End; zero if unknown
	Stalls     map[int]verdict.Stalls // traced waits by stage pid; nil without --trace
	StallsJSON json.RawMessage        // the trace tables; nil without --trace
}

// New builds the report of r and judges its bottleneck.
func New(r Run) *Report {
	rep := &Report{
		Schema: Schema, SchemaVersion: SchemaVersion, Pipeloop: r.Pipeloop,
		Mode: "stdin", Start: r.Start, WallNS: int64(r.End.Sub(r.Start)), ExitStatus: r.ExitStatus,
		Links: []Link{}, Stages: []Stage{}, Stalls: r.StallsJSON,
	}
	if r.Stages != nil {
		rep.Mode = "pipeline"
	}
	for i, s := range r.Links {
		rep.Links = append(rep.Links, newLink(i+1, s, r.End))
	}
	for _, st := range r.Stages {
		rep.Stages = append(rep.Stages, newStage(st, r.Stalls, r.End))
	}
	loopCPU := tv(r.LoopUsage.Utime) + tv(r.LoopUsage.Stime)
	rep.Relay = Relay{
		WallNS: rep.WallNS,
		UserNS: int64(tv(r.SelfUsage.Utime)), SysNS: int64(tv(r.SelfUsage.Stime)),
		MaxRSSBytes: int64(r.SelfUsage.Maxrss) * 1024, // int32 on 32-bit GOARCHes
		LoopUserNS:  int64(tv(r.LoopUsage.Utime)), LoopSysNS: int64(tv(r.LoopUsage.Stime)),
		LoopCPUFraction: fraction(loopCPU, time.Duration(rep.WallNS)),
		Loop: Loop{
			EpollWaits: r.Loop.Waits, Sleeps: r.Loop.Sleeps, Events: r.Loop.Events, Timers: r.Loop.Timers,
			Posted: r.Loop.Posted, Wakeups: r.Loop.Wakeups, Reaped: r.Loop.Reaped, MaxBatch: r.Loop.MaxBatch,
		},
	}
	rep.Machine = Machine{CPUs: cpus(), BusyFraction: round4(busy(r.CPUStart, r.CPUEnd))}
	rep.Verdict = verdict.Judge(rep.VerdictInput())
	return rep
}

// VerdictInput is the evidence in rep, for verdict.Judge.
func (rep *Report) VerdictInput() verdict.Input {
	in := verdict.Input{
		Wall:        time.Duration(rep.WallNS),
		MachineBusy: rep.Machine.BusyFraction,
		Relay: verdict.Relay{Wall: time.Duration(rep.Relay.WallNS),
			CPU: time.Duration(rep.Relay.LoopUserNS + rep.Relay.LoopSysNS)},
	}
	for _, l := range rep.Links {
		in.Links = append(in.Links, verdict.Link{Bytes: l.Bytes, Wall: time.Duration(l.WallNS),
			Full: time.Duration(l.FullNS), Empty: time.Duration(l.EmptyNS),
			Limited: time.Duration(l.LimitedNS), RateLimit: l.RateLimitBPS})
	}
	for _, st := range rep.Stages {
		vs := verdict.Stage{Index: st.Index, Name: st.Command, Wall: time.Duration(st.WallNS),
			CPU: time.Duration(st.UserNS + st.SysNS)}
		if st.Stalls != nil {
			vs.Stalls = &verdict.Stalls{Read: time.Duration(st.Stalls.ReadNS), Write: time.Duration(st.Stalls.WriteNS),
				Runnable: time.Duration(st.Stalls.RunnableNS)}
		}
		in.Stages = append(in.Stages, vs)
	}
	return in
}

// WriteJSON writes rep as indented JSON and a newline.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

func newLink(i int, s relay.LinkStats, end time.Time) Link {
	wall := s.Wall()
	if s.End.IsZero() {
		wall = end.Sub(s.Start)
	}
	l := Link{
		Index: i, From: s.Src, To: s.Dst, Mode: s.Mode.String(),
		Bytes: s.Bytes, SpliceBytes: s.SpliceBytes, CopyBytes: s.CopyBytes,
		LentBytes: s.LentBytes, URingBytes: s.URingBytes, Vmsplices: s.Vmsplices,
		Reads: s.Reads, Writes: s.Writes, Splices: s.Splices,
		ReadEAGAIN: s.ReadEAGAIN, WriteEAGAIN: s.WriteEAGAIN, SpliceEAGAIN: s.SpliceEAGAIN,
		WallNS: int64(wall), FullNS: int64(s.TimeFull), EmptyNS: int64(s.TimeEmpty),
		FullFraction: fraction(s.TimeFull, wall), EmptyFraction: fraction(s.TimeEmpty, wall),
		End: LinkEnd(s), DroppedBytes: s.Dropped,
		LimitedNS: int64(s.TimeLimited), LimitedFraction: fraction(s.TimeLimited, wall), RateLimitBPS: s.RateLimit,
	}
	if wall > 0 {
		l.RateBPS = float64(s.Bytes) / wall.Seconds()
	}
	if s.Err != nil {
		l.Error = s.Err.Error()
	}
	if s.CountsLines {
		l.Lines = &s.Lines
	}
	return l
}

// LinkEnd says how a link ended: "eof", "reader_left", "error", "closed"
// (closed early, by a signal or a sweep) or "open".
func LinkEnd(s relay.LinkStats) string {
	switch {
	case s.Err != nil:
		return "error"
	case s.SinkClosed:
		return "reader_left"
	case s.EOF:
		return "eof"
	case s.End.IsZero():
		return "open"
	}
	return "closed"
}

func newStage(st *relay.StageResult, stalls map[int]verdict.Stalls, end time.Time) Stage {
	wall := st.Wall()
	if st.End.IsZero() {
		wall = end.Sub(st.Start)
	}
	s := Stage{Index: st.Index, Command: st.Name, Args: append([]string{}, st.Args...), Pid: st.Pid,
		ExitStatus: st.ExitCode(), WallNS: int64(wall)}
	if st.StartErr != nil {
		s.StartError = st.StartErr.Error()
	}
	if sig := st.KilledBy(); sig != 0 {
		s.Signal = unix.SignalName(sig)
	}
	if st.State != nil {
		ru := st.State.Rusage
		s.UserNS, s.SysNS = int64(tv(ru.Utime)), int64(tv(ru.Stime))
		s.MaxRSSBytes = int64(ru.Maxrss) * 1024
		s.CPUFraction = fraction(time.Duration(s.UserNS+s.SysNS), wall)
	}
	if ts, ok := stalls[st.Pid]; ok && st.Pid > 0 {
		s.Stalls = &Stalls{ReadNS: int64(ts.Read), WriteNS: int64(ts.Write), RunnableNS: int64(ts.Runnable)}
	}
	return s
}

func tv(t unix.Timeval) time.Duration { return time.Duration(t.Nano()) }

// fraction is part/whole rounded to 4 places, 0 when whole is not positive.
func fraction(part, whole time.Duration) float64 {
	if whole <= 0 {
		return 0
	}
	return round4(float64(part) / float64(whole))
}

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }
