package report

import (
	"encoding/json"
	"time"

	"github.com/pipeloop/pipeloop/verdict"
)

// Schema names the format; SchemaVersion is its version (see the package
// doc for what may change within one version).
const (
	Schema        = "pipeloop-stats"
	SchemaVersion = 1
)

// Report is everything --stats prints, for one run.
type Report struct {
	Schema        string          `json:"schema"`         // always Schema
	SchemaVersion int             `json:"schema_version"` // always SchemaVersion
	Pipeloop      string          `json:"pipeloop"`       // pipeloop's version
	Mode          string          `json:"mode"`           // "stdin" (A | pipeloop | B) or "pipeline" (spawned stages)
	Start         time.Time       `json:"start"`
	WallNS        int64           `json:"wall_ns"`
	ExitStatus    int             `json:"exit_status"` // pipeloop's own exit status
	Links         []Link          `json:"links"`       // relayed pipes in order; link i joins stage i to stage i+1
	Stages        []Stage         `json:"stages"`      // spawned stages in order; empty in stdin mode
	Relay         Relay           `json:"relay"`
	Machine       Machine         `json:"machine"`
	Verdict       verdict.Verdict `json:"verdict"`
	// Stalls are the kernel's pipe-stall tables from --trace, in the trace
	// package's JSON form; absent without --trace.
	Stalls json.RawMessage `json:"stalls,omitempty"`
}

// Link is one relayed pipe's counters. Syscall counts include the calls
// that answered EAGAIN.
type Link struct {
	Index         int     `json:"index"` // 1-based
	From          string  `json:"from"`  // "stdin", "stage 1 (gzip -c)"
	To            string  `json:"to"`    // "stdout", "stage 2 (gzip -dc)"
	Mode          string  `json:"mode"`  // data path in use: "copy" or "splice"
	Bytes         uint64  `json:"bytes"` // delivered to the sink
	SpliceBytes   uint64  `json:"splice_bytes"`
	CopyBytes     uint64  `json:"copy_bytes"`
	LentBytes     uint64  `json:"lent_bytes"`  // of copy_bytes, ring pages lent to the pipe with vmsplice
	URingBytes    uint64  `json:"uring_bytes"` // of copy_bytes, small messages moved through io_uring
	Reads         uint64  `json:"reads"`
	Writes        uint64  `json:"writes"`
	Splices       uint64  `json:"splices"`
	Vmsplices     uint64  `json:"vmsplices"`
	ReadEAGAIN    uint64  `json:"read_eagain"`
	WriteEAGAIN   uint64  `json:"write_eagain"`
	SpliceEAGAIN  uint64  `json:"splice_eagain"`
	WallNS        int64   `json:"wall_ns"`
	FullNS        int64   `json:"full_ns"`  // holding data the sink would not take: downstream slow
	EmptyNS       int64   `json:"empty_ns"` // nothing to deliver: upstream slow
	FullFraction  float64 `json:"full_fraction"`
	EmptyFraction float64 `json:"empty_fraction"`
	RateBPS       float64 `json:"rate_bytes_per_second"` // bytes over wall time
	End           string  `json:"end"`                   // "eof", "reader_left", "error", "closed" or "open"
	DroppedBytes  uint64  `json:"dropped_bytes"`         // buffered when the reader left or an error hit
	Error         string  `json:"error,omitempty"`
	// With --rate-limit: the limit (bytes a second the link may take from
	// its source) and the time it held the link back.
	RateLimitBPS    int64   `json:"rate_limit_bytes_per_second,omitempty"`
	LimitedNS       int64   `json:"limited_ns,omitempty"`
	LimitedFraction float64 `json:"limited_fraction,omitempty"`
	// Lines is the count of '\n' bytes delivered, with --lines only.
	Lines *uint64 `json:"lines,omitempty"`
}

// Stage is one spawned stage.
type Stage struct {
	Index       int      `json:"index"`            // 1-based
	Command     string   `json:"command"`          // as given on the command line
	Args        []string `json:"args"`             // argv as executed
	Pid         int      `json:"pid"`              // 0 if it never started
	ExitStatus  int      `json:"exit_status"`      // shell style: code, 128+signal, 126/127; -1 if still running
	Signal      string   `json:"signal,omitempty"` // "SIGPIPE" when killed by a signal
	StartError  string   `json:"start_error,omitempty"`
	WallNS      int64    `json:"wall_ns"`
	UserNS      int64    `json:"user_ns"`
	SysNS       int64    `json:"sys_ns"`
	CPUFraction float64  `json:"cpu_fraction"` // (user+sys)/wall: 1 is one full core
	MaxRSSBytes int64    `json:"max_rss_bytes"`
	// Stalls are the stage's traced waits on pipes; absent without --trace.
	Stalls *Stalls `json:"stalls,omitempty"`
}

// Stalls are a stage's traced off-CPU waits on pipes.
type Stalls struct {
	ReadNS     int64 `json:"read_ns"`     // blocked reading an empty pipe
	WriteNS    int64 `json:"write_ns"`    // blocked writing a full pipe
	RunnableNS int64 `json:"runnable_ns"` // of read_ns + write_ns, woken and waiting for a CPU
}

// Relay is pipeloop's own cost.
type Relay struct {
	WallNS      int64 `json:"wall_ns"`
	UserNS      int64 `json:"user_ns"` // whole process (getrusage RUSAGE_SELF)
	SysNS       int64 `json:"sys_ns"`
	MaxRSSBytes int64 `json:"max_rss_bytes"`
	// The loop thread alone (RUSAGE_THREAD): the serial part, which
	// limits throughput when it nears one core.
	LoopUserNS      int64   `json:"loop_user_ns"`
	LoopSysNS       int64   `json:"loop_sys_ns"`
	LoopCPUFraction float64 `json:"loop_cpu_fraction"`
	Loop            Loop    `json:"loop"`
}

// Machine is what the whole machine did during the run.
type Machine struct {
	CPUs int `json:"cpus"` // CPUs pipeloop may run on
	// BusyFraction is the share of all CPUs' time that was not idle during
	// the run (from /proc/stat), 0 if unknown. Near 1, stages competed for
	// CPUs, and a stage's low CPU share may be time spent waiting for one.
	BusyFraction float64 `json:"busy_fraction"`
}

// Loop are the event loop's counters.
type Loop struct {
	EpollWaits uint64 `json:"epoll_waits"`
	Sleeps     uint64 `json:"sleeps"` // epoll_wait calls that could block
	Events     uint64 `json:"events"`
	Timers     uint64 `json:"timers"`
	Posted     uint64 `json:"posted"`
	Wakeups    uint64 `json:"wakeups"`
	Reaped     uint64 `json:"reaped"`
	MaxBatch   int    `json:"max_batch"`
}
