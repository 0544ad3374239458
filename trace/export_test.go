package trace

// Internals exported for the external trace_test package.
var (
	FmtDur       = fmtDur
	Sparkline    = sparkline
	ParseRelease = parseRelease
	MaxProcesses = maxProcesses
	ThreadStat   = threadStat // /proc's state and task flags of a thread
)

// PFExiting and PFIOWorker are PF_EXITING and PF_IO_WORKER in
// ThreadStat's flags.
const (
	PFExiting  = pfExiting
	PFIOWorker = pfIOWorker
)
