//go:build linux

package trace

// Options configures a Tracer.
type Options struct {
	// FollowChildren watches every process forked by a watched process
	// (from the moment New returns), recursively. Threads are always
	// followed: a watched process is a thread group.
	FollowChildren bool

	// MaxProcesses is how many processes can be watched at once (0:
	// DefaultMaxProcesses). Watch fails past it; a child forked while
	// the set is full is not watched and counts in Report.Dropped.
	MaxProcesses int

	// MaxRecords is how many (process, pipe, direction) records the
	// tracer keeps (0: DefaultMaxRecords). A wait on a new key once it
	// is full counts in Report.Dropped. Each record takes about 320
	// bytes of kernel memory, allocated by New.
	MaxRecords int
}

// Defaults for Options.MaxProcesses and Options.MaxRecords.
const (
	DefaultMaxProcesses = 4096
	DefaultMaxRecords   = 16384
)

// maxLimit bounds MaxProcesses and MaxRecords: the maps are preallocated.
const maxLimit = 1 << 22

// Dropped counts what the tracer could not record. Every path in the
// BPF program that loses a wait, a thread or a child adds to one of these.
type Dropped struct {
	Waits    uint64 // waits that ended when MaxRecords records were full
	Children uint64 // children of watched processes not watched: MaxProcesses reached
	Storage  uint64 // threads not watched (their waits not measured): no task storage could be allocated
	Procs    uint64 // children whose parent, start and name were not kept: table full
	// Attach counts threads asleep at Watch whose syscall /proc would not
	// show (no ptrace access: a tracer with CAP_BPF+CAP_PERFMON but not
	// root watching another user's process): if one was in a wait the
	// tracer measures, that wait's part before its next switch is not
	// counted (a thread asleep in anything else is counted too: /proc
	// cannot say which).
	Attach uint64
}

// Any reports whether anything was dropped.
func (d Dropped) Any() bool { return d != Dropped{} }
