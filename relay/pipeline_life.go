//go:build linux

package relay

import (
	"time"

	"github.com/pipeloop/pipeloop/loop"
)

// A pipeline's life after StartPipeline: stages are reaped, links finish,
// links left open by stray grandchildren are swept, and once every stage
// and link is done OnExit runs, after OnStart.

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
		if k.wait != waitNone && k.stats.Bytes == k.sweptAt {
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
