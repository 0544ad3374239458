//go:build linux

package relay

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// errClosed is what NewLink and StartPipeline return once the relay has
// been closed.
var errClosed = fmt.Errorf("relay: %w", os.ErrClosed)

// ErrOnLoopThread is Run's answer on the loop goroutine, which Run would
// otherwise wait on forever: a handler starts a pipeline with
// StartPipeline instead.
var ErrOnLoopThread = errors.New("relay: Run called on the loop goroutine, which it would wait on forever (use StartPipeline there)")

// Close ends everything the relay runs, at once: every stage still
// running gets SIGKILL (its process group's, with ProcessGroups), every
// link is closed (OnDone runs), every stage is reaped (OnExit runs), the
// fds links owned are closed and the transforms' worker goroutines have
// returned — Close waits for a Transform call in progress to finish. The
// relay then refuses new links and pipelines (errors wrapping
// os.ErrClosed). Closing it again does nothing. With Options.AsyncSpawn,
// Close waits for a fork in progress; stages still queued are never
// forked (each gets a StartError wrapping os.ErrClosed), and the spawner
// thread ends once every stage it forked is reaped.
//
// New registers Close with loop.OnStop, so a stopped loop leaves no
// process, fd or goroutine of the relay's behind; call it earlier to end
// the relay's work with the loop still running. It is the abort path:
// stages get no chance to finish, which is why it kills rather than
// terminates. An orderly end is Pipeline.Signal(SIGTERM) and waiting for
// OnExit while the loop runs (server.Shutdown does that); a grace period
// here would hold the stopping loop's thread for its length, with no
// timer left to run.
//
// Loop goroutine only.
func (r *Relay) Close() {
	if r.l == nil { // a zero Relay has nothing to close
		return
	}
	r.l.AssertLoopThread("relay.Close")
	if r.closed {
		return
	}
	r.closed = true
	for p := range r.pipelines {
		p.Signal(syscall.SIGKILL)
	}
	if r.spawner != nil {
		// Stages queued are not forked; those forked meanwhile get the
		// SIGKILL just sent, and are watched and reaped as the others.
		r.spawner.stop()
		r.finishSpawns()
	}
	for len(r.links) > 0 { // an OnDone may close other links; none can start
		for k := range r.links {
			k.Close()
		}
	}
	if r.ringSl != nil {
		// Canceled chains complete here: the OnDone their links held back
		// runs now (ringFinal), before runDone.
		r.l.SetSleeper(nil)
		r.ringSl.close()
		r.ringSl, r.noRing = nil, true
	}
	r.runDone()
	for p := range r.pipelines {
		p.reap()
		p.maybeFinish()
	}
	for _, x := range r.stopped {
		<-x.exited
	}
	r.stopped = nil
	if r.spawner != nil {
		close(r.spawner.release) // every stage it forked is reaped: its thread may end
		r.spawner = nil
	}
}

// reap waits for every stage not yet reaped — Close has killed them —
// and reaps it through the loop's watch (so OnExit runs as on any exit).
// waitid with WNOWAIT waits for the exit without reaping, which the
// watch's wait4 then does.
func (p *Pipeline) reap() {
	for _, pr := range p.procs {
		if pr == nil {
			continue
		}
		if _, exited := pr.Exited(); exited {
			continue
		}
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, pr.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		pr.Reap()
	}
}

// workerStopped remembers the worker of a transform whose link ended, so
// that Close can wait for it; workers that have returned are forgotten.
func (r *Relay) workerStopped(x *xform) {
	live := r.stopped[:0]
	for _, y := range r.stopped {
		select {
		case <-y.exited:
		default:
			live = append(live, y)
		}
	}
	clear(r.stopped[len(live):])
	r.stopped = append(live, x)
}

// doneLater queues k's OnDone to run after the current callback (see
// Link.Close).
func (r *Relay) doneLater(k *Link) {
	if len(r.pendingDone) == 0 {
		r.l.RunSoon(r.runDoneFn)
	}
	r.pendingDone = append(r.pendingDone, k)
}

// runDone runs the OnDone callbacks doneLater queued, those queued
// meanwhile included.
func (r *Relay) runDone() {
	for len(r.pendingDone) > 0 {
		k := r.pendingDone[0]
		r.pendingDone[0] = nil
		r.pendingDone = r.pendingDone[1:]
		k.onDone(k)
	}
	r.pendingDone = nil
}
