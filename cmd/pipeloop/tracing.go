//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"

	"github.com/pipeloop/pipeloop/internal/label"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/trace"
	"github.com/pipeloop/pipeloop/verdict"
)

// tracing is --trace: an eBPF tracer watching pipeloop and, through the
// fork hook, every stage it spawns. A nil *tracing does nothing, so the
// untraced path needs no branches.
type tracing struct {
	t      *trace.Tracer
	last   *trace.Report    // the final snapshot, for --stats-json
	bounds map[int]boundary // by stage pid, noted as the pipeline started
}

// boundary is the pipe inodes of a stage's stdin and stdout (0: not a
// pipe or unknown): a descendant's waits on them are the stage's.
type boundary struct{ in, out uint64 }

// noteStages records each stage's stdin and stdout pipes, read from
// /proc as soon as the pipeline has started (a stage that exits at once
// has none; only its descendants' waits are lost to the verdict).
func (tr *tracing) noteStages(p *relay.Pipeline) {
	if tr == nil {
		return
	}
	tr.bounds = make(map[int]boundary)
	for _, st := range p.Stages() {
		if st.Pid > 0 {
			tr.bounds[st.Pid] = boundary{in: pipeInode(st.Pid, 0), out: pipeInode(st.Pid, 1)}
		}
	}
}

// pipeInode returns the inode of process pid's fd if it is a pipe, else 0.
func pipeInode(pid, fd int) uint64 {
	var st syscall.Stat_t
	if syscall.Stat(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return 0
	}
	return st.Ino
}

// stageStalls returns each stage's pipe stalls for the verdict, by stage
// pid: its own waits and its descendants' on its stdin (reading) and
// stdout (writing) pipes. A wait on another pipe (cat | cat in a shell
// stage, a command substitution) is not the stage's. A stage whose pipes
// were not noted (/proc showed none: it exited at once, or its fds could
// not be read) has all its own waits.
func (tr *tracing) stageStalls(names map[int]string) map[int]verdict.Stalls {
	r := tr.last
	out := make(map[int]verdict.Stalls)
	for _, p := range r.ByProcess() {
		stage, ok := r.Stage(p.Tgid, names)
		b := tr.bounds[stage]
		noted := b.in != 0 || b.out != 0 // /proc showed a pipe at either end
		if !ok || (stage == p.Tgid && !noted) {
			s := out[p.Tgid]
			s.Read += p.Read.Total
			s.Write += p.Write.Total
			s.Runnable += p.Read.Runnable + p.Write.Runnable
			out[p.Tgid] = s
			continue
		}
		if !noted {
			continue
		}
		s := out[stage]
		for _, rec := range p.Pipes {
			switch {
			case rec.Dir == trace.DirRead && rec.Inode == b.in && b.in != 0:
				s.Read += rec.Total
				s.Runnable += rec.Runnable
			case rec.Dir == trace.DirWrite && rec.Inode == b.out && b.out != 0:
				s.Write += rec.Total
				s.Runnable += rec.Runnable
			}
		}
		out[stage] = s
	}
	return out
}

// startTracing loads the tracer if asked. Without privilege or support it
// warns in one line and returns nil: the pipeline runs untraced.
func startTracing(on bool, stderr io.Writer) *tracing {
	if !on {
		return nil
	}
	t, err := trace.New(trace.Options{FollowChildren: true})
	if err == nil {
		err = t.Watch(os.Getpid())
	}
	if err != nil {
		if t != nil {
			t.Close()
		}
		fmt.Fprintf(stderr, "pipeloop: --trace: %s; running untraced\n", trace.Message(err))
		return nil
	}
	return &tracing{t: t}
}

// report prints the stall table for the run, labelling processes by names.
func (tr *tracing) report(w io.Writer, names map[int]string) {
	if tr == nil {
		return
	}
	r, err := tr.t.Snapshot()
	if err != nil {
		fmt.Fprintf(w, "pipeloop: --trace: %s\n", trace.Message(err))
		return
	}
	r.Records = withoutSpawnPlumbing(r.Records, os.Getpid())
	tr.last = &r
	fmt.Fprintln(w, "pipeloop: pipe stalls (eBPF)")
	r.WriteTable(w, names)
}

// withoutSpawnPlumbing drops pipeloop's own read waits on pipes. The
// relay never blocks reading a pipe (every pipe it reads is nonblocking,
// a shared one through a private description): its only blocking pipe
// read is os/exec waiting on the close-on-exec pipe for each stage's
// exec, which is plumbing, not a stall of the pipeline.
func withoutSpawnPlumbing(recs []trace.Record, self int) []trace.Record {
	return slices.DeleteFunc(slices.Clone(recs), func(rec trace.Record) bool {
		return rec.Tgid == self && rec.Dir == trace.DirRead
	})
}

func (tr *tracing) close() {
	if tr != nil {
		tr.t.Close()
	}
}

// stageNames labels pipeloop and its stages for the stall table.
func stageNames(p *relay.Pipeline) map[int]string {
	names := map[int]string{os.Getpid(): "pipeloop"}
	for _, st := range p.Stages() {
		if st.Pid > 0 {
			names[st.Pid] = label.Stage(st.Index, st.Name)
		}
	}
	return names
}
