package verdict

import "time"

// Input is the evidence for one run. Fractions are computed here, so the
// fields hold raw durations as measured.
type Input struct {
	// Wall is how long pipeloop relayed, from start to exit.
	Wall time.Duration
	// Links are the relayed pipes in pipeline order. With Stages, Links[i]
	// carries Stages[i]'s output to Stages[i+1]'s input (len(Stages)-1 of
	// them; stage 1 reads pipeloop's stdin and the last stage writes its
	// stdout directly). Without Stages, one link relays stdin to stdout.
	Links []Link
	// Stages are the spawned stages in order; empty in stdin mode.
	Stages []Stage
	// Relay is pipeloop's own cost.
	Relay Relay
	// MachineBusy is the share of all the machine's CPU time that was not
	// idle during the run; 0 if unknown. Near 1, a stage's low CPU share
	// may be time spent waiting for a CPU rather than for anything else.
	MachineBusy float64
}

// Link is one relayed pipe.
type Link struct {
	Bytes uint64        // bytes delivered
	Wall  time.Duration // how long the link ran
	Full  time.Duration // time holding data the downstream end would not take
	Empty time.Duration // time with nothing to deliver, waiting on the upstream end
	// Limited is the time a rate limit held the link back, RateLimit
	// that limit in bytes a second (0: none).
	Limited   time.Duration
	RateLimit int64
}

// Stage is one spawned process.
type Stage struct {
	Index int           // 1-based
	Name  string        // command line as the user wrote it
	Wall  time.Duration // from spawn to reaping
	CPU   time.Duration // user + system time (rusage)
	// Stalls is what the kernel saw the stage wait on; nil when not traced.
	Stalls *Stalls
}

// Stalls are a stage's off-CPU waits on pipes, as traced in the kernel
// (pipeloop --trace), summed over its threads.
type Stalls struct {
	Read  time.Duration // blocked reading an empty pipe
	Write time.Duration // blocked writing a full pipe
	// Runnable is the part of Read+Write from the wakeup to getting a
	// CPU: the pipe was ready, the CPU was not.
	Runnable time.Duration
}

// Relay is pipeloop's own use of the CPU.
type Relay struct {
	Wall time.Duration // how long the loop ran
	CPU  time.Duration // the loop thread's user + system time
}

// fraction is part/whole, 0 when whole is not positive.
func fraction(part, whole time.Duration) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}
