//go:build linux

package relay

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// spawner forks the stages of a relay with Options.AsyncSpawn on a thread
// of its own, so that the loop thread never waits for a fork/exec:
// syscall.ForkExec (CLONE_VFORK) holds the calling thread until the child
// has exec'd, which on the loop thread stalled every established link for
// as long.
//
// The thread is the stages' parent for PR_SET_PDEATHSIG, which the kernel
// ties to the thread that forked: the goroutine stays locked to it and
// returns — ending the thread — only when Relay.Close releases it, after
// every stage it forked has been reaped. It runs SCHED_NORMAL, so stages
// start so (a child inherits its forking thread's policy).
//
// Jobs go in with submit (loop goroutine, never blocks) and come back,
// forked and with the children's ends of their pipes closed, through
// Relay.finishSpawns, run on the loop through a Notifier. Lock order: spawner.mu, then
// the loop's own.
type spawner struct {
	mu    sync.Mutex
	queue []*spawnJob // submitted, not yet forked
	done  []*spawnJob // forked (or skipped), not yet taken by the loop

	quit    atomic.Bool   // the relay is closing: fork nothing more
	wake    chan struct{} // cap 1: queue or quit changed
	exited  chan struct{} // closed once the last job is in done
	release chan struct{} // closed by Relay.Close once every stage is reaped
}

// spawnJob is one pipeline's stages to fork.
type spawnJob struct {
	p          *Pipeline
	paths      []string
	argv       [][]string
	env        []string
	dir        string
	child      []stdFDs // each stage's stdin and stdout
	stderr     int
	group      bool
	closeAfter []int    // the children's fds, closed once every stage is forked
	res        []forked // per stage, filled by forkStages
	skipped    bool     // the relay closed first: nothing was forked
}

// newSpawner starts the spawner thread; done runs on the loop goroutine
// when jobs are done. The thread signals it through a loop.Notifier, which
// never waits: Post could wait for room in a full queue while Relay.Close,
// on the loop thread, waits for this thread in stop.
func newSpawner(l *loop.Loop, done func()) *spawner {
	s := &spawner{wake: make(chan struct{}, 1), exited: make(chan struct{}), release: make(chan struct{})}
	go s.run(l.NewNotifier(done).Notify)
	return s
}

// submit queues j. Loop goroutine only.
func (s *spawner) submit(j *spawnJob) {
	s.mu.Lock()
	s.queue = append(s.queue, j)
	s.mu.Unlock()
	s.poke()
}

func (s *spawner) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take returns the jobs done so far. Loop goroutine only.
func (s *spawner) take() []*spawnJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	jobs := s.done
	s.done = nil
	return jobs
}

// stop makes the spawner skip the jobs still queued and waits until every
// job is in done.
func (s *spawner) stop() {
	s.quit.Store(true)
	s.poke()
	<-s.exited
}

func (s *spawner) run(notify func() error) {
	// Never unlocked: the thread must outlive the stages it forks, and
	// ends with this goroutine once Close has reaped them.
	runtime.LockOSThread()
	normalPolicy()
	for {
		<-s.wake
		s.mu.Lock()
		jobs := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, j := range jobs {
			if s.quit.Load() {
				j.skipped = true
			} else {
				forkStages(j)
			}
			closeFDs(j.closeAfter)
		}
		if len(jobs) > 0 {
			s.mu.Lock()
			s.done = append(s.done, jobs...)
			s.mu.Unlock()
			notify() // ErrClosed: the loop stopped, and Close takes them
		}
		if s.quit.Load() {
			s.mu.Lock()
			left := len(s.queue)
			s.mu.Unlock()
			if left == 0 {
				break
			}
			s.poke()
		}
	}
	close(s.exited)
	<-s.release
}

// normalPolicy puts the calling thread back to SCHED_NORMAL if it was
// created SCHED_BATCH (the runtime may clone it from the loop thread while
// that runs batch; see loop.Spawning).
func normalPolicy() {
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil || attr.Policy != unix.SCHED_BATCH {
		return
	}
	attr.Policy = unix.SCHED_NORMAL
	unix.SchedSetAttr(0, attr, 0)
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// finishSpawns hands the spawner's finished jobs to their pipelines.
// Loop goroutine only.
func (r *Relay) finishSpawns() {
	if r.spawner == nil {
		return
	}
	for _, j := range r.spawner.take() {
		j.p.spawned(j)
	}
}
