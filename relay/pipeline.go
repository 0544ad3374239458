//go:build linux

package relay

import (
	"strings"
	"syscall"

	"github.com/pipeloop/pipeloop/loop"
)

// PipelineConfig describes a pipeline of stages joined by relayed pipes.
type PipelineConfig struct {
	Stages []Stage
	// Stdin is what stage 1 reads directly, Stdout what stage N writes
	// directly, Stderr every stage's stderr (no extra hop for any). Left
	// zero each is /dev/null, never fd 0; Inherit(fd) hands on an fd, and
	// Inherit(Closed) starts the stage with that fd closed.
	Stdin, Stdout, Stderr Stdio
	Env                   []string // nil: pipeloop's environment
	Dir                   string
	// In, when set, replaces Stdin: stage 1 reads a pipe the relay
	// creates, and a link relays In into it. Out likewise replaces Stdout
	// with a pipe relayed to Out. In and Out may be the same fd (a
	// connected socket: bytes from the peer reach stage 1, stage N's
	// output goes back to the peer, each direction shut down on its own at
	// EOF). The pipeline closes them only if Owned; otherwise they stay
	// open, and the caller closes them after OnExit. Use them when the fd
	// must not be handed to a child (a socket the loop keeps watching, a
	// connection whose bytes should be counted) or when the stages must be
	// terminated if the peer goes away.
	In, Out *Endpoint
	// OnExit runs on the loop goroutine when every stage has been reaped
	// and every link is done.
	OnExit func(*Pipeline)
	// OnStart, when set, runs on the loop goroutine once every stage has
	// been forked — Pids and each stage's StartErr are known from then on
	// — and before OnExit. It runs after StartPipeline returned, also
	// without Options.AsyncSpawn.
	OnStart func(*Pipeline)
	// OnLinkDone, when set, runs on the loop goroutine as each link of the
	// pipeline finishes, before OnExit: the place to notice early that the
	// peer behind In or Out went away (InLink with an error, OutLink with
	// SinkClosed) and terminate the stages.
	OnLinkDone func(*Pipeline, *Link)
	// ProcessGroups puts every stage in a process group of its own, and
	// makes Signal signal the group: a stage's own children (a shell
	// script's commands) are terminated with it instead of being left
	// running. Stages then no longer get a terminal's ^C directly.
	ProcessGroups bool
	// SignalDescendants makes Signal reach, besides each stage, the
	// stage's descendants that /proc lists at that moment (see
	// signalDescendants: best effort, never a recycled pid). It is for
	// stages that must stay in the caller's process group, the job of a
	// terminal's shell; with ProcessGroups the group reaches them anyway.
	SignalDescendants bool
	// InTransform and OutTransform, when set, run on the In and Out links
	// (see LinkConfig.Transform): e.g. decrypt what the peer sends before
	// stage 1 sees it, compress what stage N answers.
	InTransform, OutTransform Transformer
}

// Pipeline is a set of running stages and the links between them.
type Pipeline struct {
	r        *Relay
	stages   []*StageResult
	procs    []*loop.Process // nil for a stage that did not start
	links    []*Link         // links[i] carries stage i+1's stdout to stage i+2's stdin
	in, out  *Link           // PipelineConfig.In → stage 1, stage N → Out; nil unless asked for
	running  int             // stages not yet reaped
	open     int             // links not yet done
	onExit   func(*Pipeline)
	onStart  func(*Pipeline)  // nil once run
	spawning bool             // forked on the spawner thread, not yet back (Options.AsyncSpawn)
	pending  []syscall.Signal // Signal calls while spawning, delivered once back
	onLink   func(*Pipeline, *Link)
	groups   bool // each stage leads its own process group
	tree     bool // Signal reaches the stages' descendants too
	sweeper  *loop.Timer
	finished bool
}

// Done reports whether every stage was reaped and every link finished.
func (p *Pipeline) Done() bool { return p.finished }

// Stages returns the stages' results so far.
func (p *Pipeline) Stages() []*StageResult { return p.stages }

// Links returns the links; Links()[i] joins stage i+1 to stage i+2.
func (p *Pipeline) Links() []*Link { return p.links }

// InLink is the link from PipelineConfig.In to stage 1, OutLink the link
// from stage N to PipelineConfig.Out; nil when not asked for.
func (p *Pipeline) InLink() *Link  { return p.in }
func (p *Pipeline) OutLink() *Link { return p.out }

// allLinks is every link of the pipeline, In and Out included.
func (p *Pipeline) allLinks() []*Link {
	if p.in == nil && p.out == nil {
		return p.links
	}
	all := make([]*Link, 0, len(p.links)+2)
	if p.in != nil {
		all = append(all, p.in)
	}
	all = append(all, p.links...)
	if p.out != nil {
		all = append(all, p.out)
	}
	return all
}

// Pids returns the pids of the stages that started.
func (p *Pipeline) Pids() []int {
	var pids []int
	for _, s := range p.stages {
		if s.Pid > 0 {
			pids = append(pids, s.Pid)
		}
	}
	return pids
}

// ExitCode is the pipeline's status as bash reports it with `set -o
// pipefail`: 0 when every stage succeeded, else the status of the
// rightmost failing stage. A stage killed by SIGPIPE because the stage
// after it finished early, or because the link after it failed, is not a
// failure. If every stage succeeded but a link failed (an I/O error in the
// relay), the status is 1.
func (p *Pipeline) ExitCode() int {
	for i := len(p.stages) - 1; i >= 0; i-- {
		st := p.stages[i]
		code := st.ExitCode()
		if code == 0 {
			continue
		}
		if st.KilledBy() == syscall.SIGPIPE && i < len(p.links) &&
			(p.links[i].stats.SinkClosed || p.links[i].stats.Err != nil) {
			// The link closed this stage's pipe: its reader left, or the
			// relay failed (and that error decides the status below).
			continue
		}
		if st.KilledBy() == syscall.SIGPIPE && i == len(p.stages)-1 && p.out != nil && p.out.stats.SinkClosed {
			continue
		}
		return code
	}
	for _, k := range p.allLinks() {
		if k.stats.Err != nil {
			return 1
		}
	}
	return 0
}

// Errors returns the links' errors and the stages' start errors, in order.
func (p *Pipeline) Errors() []error {
	var errs []error
	if p.in != nil && p.in.stats.Err != nil {
		errs = append(errs, p.in.stats.Err)
	}
	for i, st := range p.stages {
		if st.StartErr != nil {
			errs = append(errs, st.StartErr)
		}
		if i < len(p.links) && p.links[i].stats.Err != nil {
			errs = append(errs, p.links[i].stats.Err)
		}
	}
	if p.out != nil && p.out.stats.Err != nil {
		errs = append(errs, p.out.stats.Err)
	}
	return errs
}

// String is the pipeline as a shell would write it.
func (p *Pipeline) String() string {
	names := make([]string, len(p.stages))
	for i, s := range p.stages {
		names[i] = s.Name
	}
	return strings.Join(names, " | ")
}
