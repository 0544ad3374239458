package verdict

import "time"

// Kind says where the bottleneck is.
type Kind string

const (
	KindStage      Kind = "stage"      // a spawned stage (Verdict.Stage)
	KindUpstream   Kind = "upstream"   // whatever writes pipeloop's stdin
	KindDownstream Kind = "downstream" // whatever reads pipeloop's stdout
	KindRelay      Kind = "relay"      // pipeloop itself
	KindLimit      Kind = "limit"      // the rate limit asked for (--rate-limit): the pace is as asked
	KindNone       Kind = "none"       // enough evidence, but no single place dominates
	KindUnknown    Kind = "unknown"    // too little evidence to judge
)

// Cause says why the named stage or pipeloop is slow.
type Cause string

const (
	CauseCPU   Cause = "cpu"     // computing: most of one core or more
	CauseOther Cause = "off-cpu" // mostly off CPU and not waiting on a relayed pipe: sleep, disk, network, locks
	CauseMixed Cause = "mixed"   // between the two
	// CauseContended: under a core while the machine's CPUs were all
	// busy: it may have been waiting for a CPU rather than on anything
	// else, and pipeloop cannot tell which.
	CauseContended Cause = "contended"
)

// Thresholds. They are conservative on purpose: a verdict that names the
// wrong stage is worse than one that says it cannot tell.
const (
	// MinWall is the shortest run judged at all.
	MinWall = 200 * time.Millisecond
	// Sits is the share of a link's wall time spent full (or empty) for
	// the link to count as sitting full (or empty).
	Sits = 2.0 / 3
	// CPUBound is the share of one core above which a stage is
	// compute-bound (on a busy machine a compute-bound stage gets less than
	// a whole core); OffCPU the share below which it is not computing much.
	CPUBound = 0.7
	OffCPU   = 0.25
	// BusyMachine is the share of all CPUs' time in use above which the
	// machine counts as saturated (Input.MachineBusy).
	BusyMachine = 0.9
	// RelayBusy is the share of one core pipeloop's loop thread must use,
	// with no link sitting full or empty, for pipeloop to be the limit.
	RelayBusy = 0.8
)

// Verdict is where the time went, in one line plus the evidence behind it.
type Verdict struct {
	Kind  Kind   `json:"kind"`
	Stage int    `json:"stage,omitempty"` // 1-based, for KindStage
	Name  string `json:"name,omitempty"`  // the stage's command; "stdin", "stdout" or "pipeloop"
	Cause Cause  `json:"cause,omitempty"` // for KindStage and KindRelay
	// CPU is the named stage's (or pipeloop's loop thread's) CPU time over
	// its wall time: 1 is one full core.
	CPU float64 `json:"cpu_fraction,omitempty"`
	// Summary is the verdict in one line, without the "bottleneck: " prefix.
	Summary string `json:"summary"`
	// Evidence lists the readings the verdict rests on, one per line.
	Evidence []string `json:"evidence"`
}

// String is the one-line form --stats prints.
func (v Verdict) String() string { return "bottleneck: " + v.Summary }
