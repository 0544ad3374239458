package main

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/trace"
)

// tracing is --trace: an eBPF tracer watching pipeloop and, through the
// fork hook, every stage it spawns. A nil *tracing does nothing, so the
// untraced path needs no branches.
type tracing struct {
	t    *trace.Tracer
	last *trace.Report // the final snapshot, for --stats-json
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
			names[st.Pid] = fmt.Sprintf("stage %d (%s)", st.Index, st.Name)
		}
	}
	return names
}
