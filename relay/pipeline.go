//go:build linux

package relay

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
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

// StartPipeline resolves every command (failing before anything runs if
// one cannot be found), creates the pipes, spawns the stages and starts the
// links. Loop goroutine only. On error nothing is left running.
//
// With Options.AsyncSpawn the stages are forked on the relay's spawner
// thread after StartPipeline returned: Pids, and a stage's StartErr, are
// known from PipelineConfig.OnStart on, and a Signal before then is
// delivered as soon as the stages exist.
func (r *Relay) StartPipeline(cfg PipelineConfig) (*Pipeline, error) {
	n := len(cfg.Stages)
	if r.closed {
		return nil, errClosed
	}
	if n == 0 {
		return nil, errors.New("pipeline has no stages")
	}
	paths, err := Resolve(cfg.Stages)
	if err != nil {
		return nil, err
	}
	std, err := openStdio(&cfg)
	if err != nil {
		return nil, err
	}
	defer std.close()
	if r.opts.AsyncSpawn {
		if err := std.keep(&cfg); err != nil {
			return nil, err
		}
	}
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}
	p := &Pipeline{r: r, onExit: cfg.OnExit, onStart: cfg.OnStart, onLink: cfg.OnLinkDone, groups: cfg.ProcessGroups, tree: cfg.SignalDescendants}
	for i, s := range cfg.Stages {
		p.stages = append(p.stages, &StageResult{Index: i + 1, Name: s.name(), Args: s.Args})
	}
	p.procs = make([]*loop.Process, n)

	child := make([]stdFDs, n)
	child[0].in, child[n-1].out = std.in, std.out
	var linkEnds [][2]int  // [read end from stage i, write end to stage i+1]
	var ours, theirs []int // every fd created here: our ends, the children's
	fail := func(err error) (*Pipeline, error) {
		closeFDs(ours)
		closeFDs(theirs)
		for _, pr := range p.procs {
			if pr != nil {
				pr.Signal(syscall.SIGKILL)
			}
		}
		return nil, err
	}
	for i := 0; i < n-1; i++ {
		outR, outW, err := fdio.Pipe(true, false) // stage i stdout -> us
		if err != nil {
			return fail(fmt.Errorf("stage %d (%s): %w", i+1, p.stages[i].Name, err))
		}
		ours, theirs = append(ours, outR), append(theirs, outW)
		inR, inW, err := fdio.Pipe(false, true) // us -> stage i+1 stdin
		if err != nil {
			return fail(fmt.Errorf("stage %d (%s): %w", i+2, p.stages[i+1].Name, err))
		}
		ours, theirs = append(ours, inW), append(theirs, inR)
		r.sizer.created(outR)
		r.sizer.created(inW)
		child[i].out, child[i+1].in = outW, inR
		linkEnds = append(linkEnds, [2]int{outR, inW})
	}
	inW, outR := -1, -1 // our ends of the In and Out pipes
	if cfg.In != nil {
		r0, w, err := fdio.Pipe(false, true) // In -> us -> stage 1 stdin
		if err != nil {
			return fail(fmt.Errorf("stage 1 (%s): %w", p.stages[0].Name, err))
		}
		ours, theirs = append(ours, w), append(theirs, r0)
		r.sizer.created(w)
		child[0].in, inW = r0, w
	}
	if cfg.Out != nil {
		r0, w, err := fdio.Pipe(true, false) // stage N stdout -> us -> Out
		if err != nil {
			return fail(fmt.Errorf("stage %d (%s): %w", n, p.stages[n-1].Name, err))
		}
		ours, theirs = append(ours, r0), append(theirs, w)
		r.sizer.created(r0)
		child[n-1].out, outR = w, r0
	}
	j := &spawnJob{p: p, paths: paths, env: env, dir: cfg.Dir, child: child, stderr: std.err, group: cfg.ProcessGroups}
	for _, s := range cfg.Stages {
		j.argv = append(j.argv, s.Args)
	}
	if r.opts.AsyncSpawn {
		// The spawner closes the children's ends (and our copies of
		// their stdio) once it has forked; from here on nothing fails.
		j.closeAfter = append(theirs, std.handOff()...)
		// The spawner reads argv and env later, on its thread: copies,
		// which the caller may not change under it.
		for i := range j.argv {
			j.argv[i] = slices.Clone(j.argv[i])
		}
		j.env = slices.Clone(j.env)
		p.spawning = true
		if r.spawner == nil {
			r.spawner = newSpawner(r.l, r.finishSpawnsFn)
		}
		r.spawner.submit(j)
	} else {
		// Stages start SCHED_NORMAL whatever the loop thread runs (see
		// loop.Spawning).
		r.l.Spawning(func() { forkStages(j) })
		// The children have their ends now; keep only ours.
		closeFDs(theirs)
		theirs = nil
		if err := p.watchStages(j); err != nil {
			return fail(err)
		}
		r.l.RunSoon(p.runOnStart)
	}
	for i, le := range linkEnds {
		k, err := r.NewLink(LinkConfig{
			Src:    Endpoint{FD: le[0], Name: fmt.Sprintf("stage %d (%s)", i+1, p.stages[i].Name), Owned: true, made: true},
			Dst:    Endpoint{FD: le[1], Name: fmt.Sprintf("stage %d (%s)", i+2, p.stages[i+1].Name), Owned: true, made: true},
			OnDone: p.linkDone,
		})
		if err != nil {
			// Cannot relay: make the pipeline end instead of hanging.
			unix.Close(le[0])
			unix.Close(le[1])
			p.Signal(syscall.SIGTERM)
			k = &Link{done: true, stats: LinkStats{Err: err, Start: time.Now(), End: time.Now()}}
			p.links = append(p.links, k)
			continue
		}
		r.sizer.adopt(k, le[0], le[1])
		p.links = append(p.links, k)
		p.open++
	}
	if cfg.In != nil {
		p.in = p.edgeLink(*cfg.In, Endpoint{FD: inW, Name: fmt.Sprintf("stage 1 (%s)", p.stages[0].Name), Owned: true, made: true}, cfg.InTransform)
		if !p.in.done {
			r.sizer.adopt(p.in, inW)
		}
	}
	if cfg.Out != nil {
		p.out = p.edgeLink(Endpoint{FD: outR, Name: fmt.Sprintf("stage %d (%s)", n, p.stages[n-1].Name), Owned: true, made: true}, *cfg.Out, cfg.OutTransform)
		if !p.out.done {
			r.sizer.adopt(p.out, outR)
		}
	}
	if !p.spawning && p.running == 0 && p.open == 0 {
		r.l.RunSoon(p.maybeFinish)
	}
	r.pipelines[p] = struct{}{} // until maybeFinish; Close ends it
	return p, nil
}

// edgeLink starts the link for PipelineConfig.In or Out. If it cannot be
// created the pipe end is closed, the stages are terminated (they would
// wait for input or output that never comes) and a finished link holding
// the error stands in for it.
func (p *Pipeline) edgeLink(src, dst Endpoint, xf Transformer) *Link {
	k, err := p.r.NewLink(LinkConfig{Src: src, Dst: dst, OnDone: p.linkDone, Transform: xf})
	if err != nil {
		for _, e := range []Endpoint{src, dst} {
			if e.Owned {
				p.r.closeOwned(e.FD)
			}
		}
		p.Signal(syscall.SIGTERM)
		return &Link{done: true, stats: LinkStats{Src: src.Name, Dst: dst.Name, Err: err, Start: time.Now(), End: time.Now()}}
	}
	p.open++
	return k
}

func (p *Pipeline) stageExited(i int, ps *loop.ProcessState) {
	st := p.stages[i]
	st.State, st.End = ps, ps.At
	p.running--
	if p.running == 0 && p.open > 0 {
		// Every stage is gone; a link still open is either draining the
		// last bytes or held open by a grandchild that kept a pipe end.
		// Sweep links that stop making progress.
		p.sweeper = p.r.l.AfterFunc(sweepEvery, p.sweep)
	}
	p.maybeFinish()
}

const sweepEvery = 100 * time.Millisecond

// sweep closes links that moved nothing since the last sweep once every
// stage has exited.
func (p *Pipeline) sweep() {
	for _, k := range p.allLinks() {
		if k.done {
			continue
		}
		if k == p.out && k.resolveWait() == waitFull {
			// Stage N's last output waiting for a slow peer: that is the
			// peer's pace, not a pipe held open by a stray grandchild.
			// (The owner of Out bounds it, e.g. with an idle timeout.)
			continue
		}
		if k.wait != waitNone && k.wait != waitLimit && k.stats.Bytes == k.sweptAt {
			k.Close()
			continue
		}
		k.sweptAt = k.stats.Bytes
	}
	if p.open > 0 {
		p.sweeper.Reset(sweepEvery)
	}
}

func (p *Pipeline) linkDone(k *Link) {
	p.r.sizer.release(k)
	p.open--
	if p.onLink != nil {
		p.onLink(p, k)
	}
	p.maybeFinish()
}

// spawned takes the spawner's result: the stages are watched, Signal
// calls made meanwhile are delivered, OnStart runs. Loop goroutine only.
func (p *Pipeline) spawned(j *spawnJob) {
	p.spawning = false
	if j.skipped {
		now := time.Now()
		for i, st := range p.stages {
			st.StartErr = &StartError{Stage: i + 1, Name: st.Name, Code: 126, Err: errClosed}
			st.Start, st.End = now, now
		}
	} else {
		p.watchStages(j) // a failure is the stage's StartErr
	}
	sigs := p.pending
	p.pending = nil
	for _, sig := range sigs {
		p.Signal(sig)
	}
	p.runOnStart()
	p.maybeFinish()
}

// runOnStart runs OnStart once.
func (p *Pipeline) runOnStart() {
	if f := p.onStart; f != nil {
		p.onStart = nil
		f(p)
	}
}

func (p *Pipeline) maybeFinish() {
	if p.finished || p.spawning || p.running > 0 || p.open > 0 {
		return
	}
	p.runOnStart() // OnStart always comes first
	if p.finished {
		return
	}
	p.finished = true
	delete(p.r.pipelines, p)
	if p.sweeper != nil {
		p.sweeper.Stop()
	}
	if p.onExit != nil {
		p.onExit(p)
	}
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
