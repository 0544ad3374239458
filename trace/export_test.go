package trace

// Internals exported for the external trace_test package.
var (
	FmtDur       = fmtDur
	Sparkline    = sparkline
	ParseRelease = parseRelease
	MaxProcesses = maxProcesses
	ThreadStat   = threadStat // /proc's state and task flags of a thread
)

// PFExiting is PF_EXITING in ThreadStat's flags.
const PFExiting = pfExiting
