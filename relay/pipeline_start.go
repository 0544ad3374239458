//go:build linux

package relay

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/label"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// StartPipeline resolves every command (failing before anything runs if
// one cannot be found), creates the pipes, spawns the stages and starts the
// links. Loop goroutine only. On error nothing is left running.
//
// With Options.AsyncSpawn the stages are forked on the relay's spawner
// thread after StartPipeline returned: Pids, and a stage's StartErr, are
// known from PipelineConfig.OnStart on, and a Signal before then is
// delivered as soon as the stages exist.
//
// It goes in four steps, as os/exec's Cmd.Start does, with one cleanup
// path: plan (resolve the commands, the stdio, the Pipeline), pipes
// (every fd goes on the pipes' ours or theirs list at once), spawn (the
// children's ends are closed once forked) and wire (the links take our
// ends). Only plan, pipes and spawn can fail; the deferred cleanup then
// closes what the lists still hold and kills what was started. Wiring
// cannot fail: a link that cannot be created ends the pipeline instead.
func (r *Relay) StartPipeline(cfg PipelineConfig) (_ *Pipeline, err error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	r.l.AssertLoopThread("relay.StartPipeline")
	if len(cfg.Stages) == 0 {
		return nil, errors.New("pipeline has no stages")
	}
	if err := checkDir(cfg.Dir); err != nil {
		return nil, err
	}
	paths, err := resolveIn(cfg.Dir, cfg.Stages)
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
	p := r.newPipeline(&cfg)
	pp := newPipelinePipes(len(cfg.Stages), std)
	defer func() {
		if err != nil {
			pp.closeOnError()
			p.kill()
		}
	}()
	if err := pp.create(r, p, &cfg); err != nil {
		return nil, err
	}
	if err := p.spawn(newSpawnJob(p, &cfg, paths, pp, std), pp, &std); err != nil {
		return nil, err
	}
	p.wire(&cfg, pp)
	if !p.spawning && p.running == 0 && p.open == 0 {
		r.l.RunSoon(p.maybeFinish)
	}
	r.pipelines[p] = struct{}{} // until maybeFinish; Close ends it
	return p, nil
}

// newPipeline is the plan: a Pipeline with a result per stage, nothing
// started.
func (r *Relay) newPipeline(cfg *PipelineConfig) *Pipeline {
	p := &Pipeline{r: r, onExit: cfg.OnExit, onStart: cfg.OnStart, onLink: cfg.OnLinkDone,
		groups: cfg.ProcessGroups, tree: cfg.SignalDescendants}
	for i, s := range cfg.Stages {
		p.stages = append(p.stages, &StageResult{Index: i + 1, Name: s.name(), Args: s.Args})
	}
	p.procs = make([]*loop.Process, len(cfg.Stages))
	return p
}

// label names stage i (0-based) in errors and link ends.
func (p *Pipeline) label(i int) string { return label.Stage(i+1, p.stages[i].Name) }

// pipelinePipes are the pipes StartPipeline creates, kept as os/exec's
// Cmd.Start keeps its fds: every fd goes on ours (the relay's ends, which
// the links take over in wire) or theirs (the children's ends, closed
// once the stages are forked) as soon as it exists, so one path can close
// them all on error.
type pipelinePipes struct {
	child  []stdFDs // each stage's stdin and stdout
	links  [][2]int // links[i]: [read end from stage i+1, write end to stage i+2]
	inW    int      // our write end of the pipe to stage 1 (PipelineConfig.In), or -1
	outR   int      // our read end of the pipe from stage N (PipelineConfig.Out), or -1
	ours   []int
	theirs []int
}

// newPipelinePipes starts with stage 1 reading std's stdin and stage n
// writing std's stdout.
func newPipelinePipes(n int, std stdio) *pipelinePipes {
	pp := &pipelinePipes{child: make([]stdFDs, n), inW: -1, outR: -1}
	pp.child[0].in, pp.child[n-1].out = std.in, std.out
	return pp
}

// pipe creates a pipe whose end ourEnd (0 read, 1 write) is the relay's
// and nonblocking, and puts both ends on the lists. It returns the
// relay's end and the child's.
func (pp *pipelinePipes) pipe(r *Relay, ourEnd int) (ours, theirs int, err error) {
	rd, wr, err := fdio.Pipe(ourEnd == 0, ourEnd == 1)
	if err != nil {
		return -1, -1, err
	}
	ours, theirs = rd, wr
	if ourEnd == 1 {
		ours, theirs = wr, rd
	}
	pp.ours, pp.theirs = append(pp.ours, ours), append(pp.theirs, theirs)
	r.sizer.created(ours)
	return ours, theirs, nil
}

// create makes the pipes between the stages, and those to stage 1 and
// from stage N when cfg has In or Out. An error names the stage the pipe
// was for.
func (pp *pipelinePipes) create(r *Relay, p *Pipeline, cfg *PipelineConfig) error {
	n := len(cfg.Stages)
	for i := 0; i < n-1; i++ {
		outR, outW, err := pp.pipe(r, 0) // stage i+1's stdout -> us
		if err != nil {
			return fmt.Errorf("%s: %w", p.label(i), err)
		}
		inW, inR, err := pp.pipe(r, 1) // us -> stage i+2's stdin
		if err != nil {
			return fmt.Errorf("%s: %w", p.label(i+1), err)
		}
		pp.child[i].out, pp.child[i+1].in = outW, inR
		pp.links = append(pp.links, [2]int{outR, inW})
	}
	if cfg.In != nil {
		w, rd, err := pp.pipe(r, 1) // In -> us -> stage 1's stdin
		if err != nil {
			return fmt.Errorf("%s: %w", p.label(0), err)
		}
		pp.child[0].in, pp.inW = rd, w
	}
	if cfg.Out != nil {
		rd, w, err := pp.pipe(r, 0) // stage N's stdout -> us -> Out
		if err != nil {
			return fmt.Errorf("%s: %w", p.label(n-1), err)
		}
		pp.child[n-1].out, pp.outR = w, rd
	}
	return nil
}

// closeAfterStart closes the children's ends: the children have their
// copies.
func (pp *pipelinePipes) closeAfterStart() {
	closeFDs(pp.theirs)
	pp.theirs = nil
}

// closeOnError closes every fd the lists still hold.
func (pp *pipelinePipes) closeOnError() {
	closeFDs(pp.ours)
	pp.ours = nil
	pp.closeAfterStart()
}

// newSpawnJob is what forking p's stages needs.
func newSpawnJob(p *Pipeline, cfg *PipelineConfig, paths []string, pp *pipelinePipes, std stdio) *spawnJob {
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}
	j := &spawnJob{p: p, paths: paths, env: env, dir: cfg.Dir, child: pp.child, stderr: std.err, group: cfg.ProcessGroups}
	for _, s := range cfg.Stages {
		j.argv = append(j.argv, s.Args)
	}
	return j
}

// spawn forks the stages: here, watched before it returns, or with
// Options.AsyncSpawn on the spawner thread, which then owns the
// children's ends and our copies of their stdio and closes them once it
// has forked (from then on nothing fails).
func (p *Pipeline) spawn(j *spawnJob, pp *pipelinePipes, std *stdio) error {
	r := p.r
	if r.opts.AsyncSpawn {
		j.closeAfter = append(pp.theirs, std.handOff()...)
		pp.theirs = nil
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
		return nil
	}
	// Stages start SCHED_NORMAL whatever the loop thread runs (see
	// loop.Spawning).
	r.l.Spawning(func() { forkStages(j) })
	pp.closeAfterStart()
	if err := p.watchStages(j); err != nil {
		return err
	}
	r.l.RunSoon(p.runOnStart)
	return nil
}

// kill ends the stages started so far (StartPipeline failed).
func (p *Pipeline) kill() {
	for _, pr := range p.procs {
		if pr != nil {
			pr.Signal(syscall.SIGKILL)
		}
	}
}

// wire starts the links on our ends of the pipes, which they own from
// here on. A link that cannot be created makes the pipeline end instead
// of hanging: its ends are closed, the stages terminated, and a finished
// link holding the error stands in for it.
func (p *Pipeline) wire(cfg *PipelineConfig, pp *pipelinePipes) {
	r := p.r
	pp.ours = nil
	for i, le := range pp.links {
		k, err := r.NewLink(LinkConfig{
			Src:    Endpoint{FD: le[0], Name: p.label(i), Owned: true, made: true},
			Dst:    Endpoint{FD: le[1], Name: p.label(i + 1), Owned: true, made: true},
			OnDone: p.linkDone,
		})
		if err != nil {
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
		p.in = p.edgeLink(*cfg.In, Endpoint{FD: pp.inW, Name: p.label(0), Owned: true, made: true}, cfg.InTransform)
		if !p.in.done {
			r.sizer.adopt(p.in, pp.inW)
		}
	}
	if cfg.Out != nil {
		n := len(p.stages)
		p.out = p.edgeLink(Endpoint{FD: pp.outR, Name: p.label(n - 1), Owned: true, made: true}, *cfg.Out, cfg.OutTransform)
		if !p.out.done {
			r.sizer.adopt(p.out, pp.outR)
		}
	}
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
